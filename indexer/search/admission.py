"""Admission control: a bound on the questions a process computes or holds waiting at once.

A question whose answer is cached costs almost nothing; one that must be computed can take a
searcher for a second. Past the bound a question is refused at once (`Overloaded`, a 503
with Retry-After on the web) rather than queued behind the others, so the server's threads
beyond the bound stay free for cached answers and health checks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Overloaded(Exception):
    """Too many questions are being computed: ask again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many questions are being answered: try again shortly")
        self.retry_after = retry_after


class Admission:
    """At most `limit` holders at once (0: no limit); the one past it gets `Overloaded`."""

    def __init__(self, limit: int, retry_after: int = 2) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self._slots = threading.BoundedSemaphore(limit) if limit > 0 else None
        self._lock = threading.Lock()
        self.refused = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place for the block, or raise `Overloaded` at once when none is free."""
        if self._slots is None:
            yield
            return
        if not self._slots.acquire(blocking=False):
            with self._lock:
                self.refused += 1
            raise Overloaded(self.retry_after)
        try:
            yield
        finally:
            self._slots.release()
