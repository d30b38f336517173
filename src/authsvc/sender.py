"""The background sender: one thread per serving process that delivers the outbox.

A commit that queued mail rings ``wake`` and the thread starts its attempt at once, neither waiting
for another request nor holding this one. Otherwise it looks again when the earliest waiting
message is due, and at least every ``POLL`` seconds (rows other processes or ``flask mail send``
left, leases of crashed senders). A failing database or SMTP server only delays it.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from datetime import datetime

from authsvc.models import utcnow

log = logging.getLogger("authsvc.mail")
POLL = 10.0  # seconds between looks when nothing is due sooner
DATABASE_RETRY = 5.0


class OutboxSender:
    """``deliver`` is one pass over the outbox returning when the next message is due (or ``None``)."""

    def __init__(self, deliver: Callable[[], datetime | None], *, name: str = "authsvc-mail") -> None:
        self._deliver = deliver
        self._name = name
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        _SENDERS.add(self)

    def start(self) -> None:
        """Start the thread (again in a forked child, whose parent's thread did not come along)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Deliver now: called after a commit that queued mail."""
        self._wanted.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end after its current pass, and wait for it (tests, shutdown)."""
        self._stopping.set()
        self._wanted.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    @property
    def running(self) -> bool:
        """Is this process's thread alive (a forked child starts its own)."""
        return self._thread is not None and self._thread.is_alive()

    def _after_fork(self) -> None:
        was_running = self._thread is not None
        self._thread = None
        self._lock = threading.Lock()
        if was_running and not self._stopping.is_set():
            self.start()

    def _run(self) -> None:
        wait = 0.0  # a first pass at start: what an earlier process left
        while not self._stopping.is_set():
            self._wanted.wait(wait)
            self._wanted.clear()
            if self._stopping.is_set():
                return
            wait = self._pass()

    def _pass(self) -> float:
        try:
            due = self._deliver()
        except Exception as error:  # the database is down, or a bug: never let the thread die
            log.warning(
                "mail sender: outbox unreadable (%s); trying again in %.0f s",
                type(error).__name__,
                DATABASE_RETRY,
            )
            return DATABASE_RETRY
        if due is None:
            return POLL
        return min(POLL, max(0.0, (due - utcnow()).total_seconds()))


# Every sender of this process, for the one fork hook: a sender of an app that is gone drops out.
_SENDERS: weakref.WeakSet[OutboxSender] = weakref.WeakSet()


def _restart_after_fork() -> None:
    for sender in list(_SENDERS):
        sender._after_fork()


os.register_at_fork(after_in_child=_restart_after_fork)
