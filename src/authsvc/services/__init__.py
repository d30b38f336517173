"""Plain service functions: keyword-only dependencies, typed returns, domain exceptions, no Flask.

Who commits, one rule:

- Helpers never commit. They add, flush and lock inside the caller's transaction
  (``sessions.start``, ``sessions.revoke``, ``blocklist.block``, ``accounts.new_credentials``, ...).
- Each public service function is one unit of work: it commits once, at its end, so a reader sees
  the transaction boundary without opening the functions it calls.
- Audit events (``audit.record``) are written in the transaction of the change they report, just
  before its commit; their log lines follow that commit. A refusal that changes nothing (a wrong
  password) rolls back, records its event and commits that alone. So a commit that fails leaves no
  row or line claiming a change that did not happen (``tests/api/test_commit_boundaries.py``).
"""
