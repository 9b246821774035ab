"""Admission control: a bound on the questions a process computes or holds waiting at once.

A question whose answer is cached costs almost nothing; one that must be computed can take a
searcher for a second. Past the bound a question is refused (`Overloaded`, a 503 with
Retry-After on the web) rather than queued behind the others, so the server's threads beyond
the bound stay free for cached answers and health checks.

A question that finds every place taken may wait `grace` seconds for one: cheap questions
free a place within milliseconds, so a burst of them is answered. Once such a wait has
failed, the questions finding no place in the next `grace` seconds are refused at once,
without waiting: under a sustained overload of expensive questions the refusals cost
nothing and hold no thread (the idea of CoDel, which drops once queueing delay stays high).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Overloaded(Exception):
    """Too many questions are being computed: ask again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many questions are being answered: try again shortly")
        self.retry_after = retry_after


class Admission:
    """At most `limit` holders at once (0: no limit). One that finds no place waits up to
    `grace` seconds for one, unless such a wait failed less than `grace` ago; otherwise, or
    when none frees in time, it gets `Overloaded`."""

    def __init__(self, limit: int, retry_after: int = 2, grace: float = 0.0) -> None:
        self.limit, self.retry_after, self.grace = limit, retry_after, grace
        self._slots = threading.BoundedSemaphore(limit) if limit > 0 else None
        self._lock = threading.Lock()
        self._failed_at = -math.inf
        self.refused = 0

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a place for the block, or raise `Overloaded` when none is to be had."""
        if self._slots is None:
            yield
            return
        if not self._slots.acquire(blocking=False) and not self._wait_for_place():
            with self._lock:
                self.refused += 1
            raise Overloaded(self.retry_after)
        try:
            yield
        finally:
            self._slots.release()

    def _wait_for_place(self) -> bool:
        with self._lock:
            if self.grace <= 0 or time.monotonic() - self._failed_at < self.grace:
                return False
        if self._slots.acquire(timeout=self.grace):
            return True
        with self._lock:
            self._failed_at = time.monotonic()
        return False
