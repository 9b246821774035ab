"""Answers kept per question, page and index version, and one answer computed at a time for
the same question: a burst of readers asking it at once waits for one answer."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

# How long a thread waits for another answering the same question before answering it too.
PENDING_WAIT_S = 30.0


class ResultCache:
    """A least-recently-used cache of answers, thread-safe, with in-flight de-duplication.
    A size of 0 turns both off."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._pending: dict[Hashable, threading.Event] = {}

    def get(self, key: Hashable):
        """The cached answer under `key`, or None."""
        if self.size <= 0:
            return None
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def get_or_compute(self, key: Hashable, compute: Callable[[], object]):
        """The cached answer under `key`; otherwise the one another thread is computing
        (waited for, up to PENDING_WAIT_S); otherwise `compute()`, kept for next time."""
        found, pending, mine = self._claim(key)
        if pending is not None:
            pending.wait(timeout=PENDING_WAIT_S)
            found, _, mine = self._claim(key)
        if found is not None:
            return found
        try:
            found = compute()
            self._put(key, found)
        finally:
            if mine is not None:
                with self._lock:
                    self._pending.pop(key, None)
                mine.set()
        return found

    def _claim(self, key: Hashable) -> tuple[object | None, threading.Event | None,
                                             threading.Event | None]:
        """(cached answer, event of another thread answering the same question, event this
        thread must set once it has answered): a miss with nobody answering makes this
        thread the one that answers."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found, None, None
            if self.size <= 0:
                return None, None, None
            pending = self._pending.get(key)
            if pending is not None:
                return None, pending, None
            mine = self._pending[key] = threading.Event()
            return None, None, mine

    def _put(self, key: Hashable, value: object) -> None:
        with self._lock:
            if self.size > 0:
                self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
