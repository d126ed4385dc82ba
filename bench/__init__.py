"""Benchmarks: `python -m bench` (or `make bench`). Prints ratios measured in one run."""
