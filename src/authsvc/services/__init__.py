"""Plain service functions: keyword-only dependencies, typed returns, domain exceptions, no Flask."""
