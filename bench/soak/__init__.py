"""The soak (issue 19): gunicorn with the production config on PostgreSQL and Redis under a bounded mixed
load, faults injected at known times, invariants checked at the end. ``uv run python -m bench.soak``."""
