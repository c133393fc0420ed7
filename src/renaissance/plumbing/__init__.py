"""Plumbing shared by every study: process pools over models, a private local Ray
instance and resumable result tables."""
