"""Benchmarks and relevance evaluation (run on demand: make bench, make eval)."""
