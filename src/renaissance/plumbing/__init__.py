"""Plumbing shared by every study: process pools over models and resumable result tables."""
