"""Helpers for tests, benchmarks and the demo: synthetic audformat datasets with real audio."""
