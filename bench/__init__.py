"""Benchmarks: ``uv run python -m bench`` (see docs/benchmarks.md)."""
