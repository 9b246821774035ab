"""A small pool of snapshots of the live index, shared by a process's threads and reopened
when the index changes (a rebuild swapped in, or an incremental commit)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from indexer.storage import IndexStore, PostingsCache, Snapshot


class SnapshotPool:
    """At most `size` snapshots at once. Few are needed (scoring is pure Python, so threads
    take turns on one core anyway) and each maps the whole index once more."""

    def __init__(self, store: IndexStore, cache: PostingsCache,
                 bm25: tuple[float, float, float], size: int) -> None:
        self.store, self.cache, self.bm25 = store, cache, bm25
        self._slots = threading.BoundedSemaphore(max(1, size))
        self._idle: list[Snapshot] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Snapshot]:
        """A snapshot of the live generation as it is now, for the duration of the block."""
        with self._slots:
            with self._lock:
                snapshot = self._idle.pop() if self._idle else None
            if snapshot is not None and not (snapshot.name == self.store.current_name()
                                             and snapshot.is_current()):
                snapshot.close()
                snapshot = None
            if snapshot is None:
                snapshot = self.store.open().snapshot(self.cache, self.bm25)
            try:
                yield snapshot
            finally:
                with self._lock:
                    self._idle.append(snapshot)
