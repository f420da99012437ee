"""Servers that the tests (and the benchmarks) start for themselves and remove at the end."""
