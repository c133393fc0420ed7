"""Analyses over many states and parameter sets: the dynamic landscape of sampled steady states,
separating metabolite ranges, maps, and the integration of measured Km."""
