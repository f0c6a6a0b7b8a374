"""Benchmarks: `python -m bench [--quick]` prints one JSON object per line ({"name", "value", "unit", ...})."""
