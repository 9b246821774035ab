"""Postings and per-document columns of immutable segments as NumPy arrays, and the cache
that keeps them.

Whoosh walks postings one document at a time in Python; scoring a question of 15 words over
100,000 articles that way takes a second. Decoding a term's postings block by block into
arrays (`indexer.storage.codec`) costs a few microseconds per block, and segments never
change once written, so decoded arrays stay valid until their segment is merged away: they
are kept in a least-recently-used cache bounded in bytes, shared by every searcher of the
process. Pure NumPy: a segment is named by the key its reader gives (`segment_key`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Per-document arrays kept: a few generations' worth of segments (older ones were merged or
# swapped away).
MAX_COLUMNS = 256


@dataclass(frozen=True)
class Postings:
    """One term's (or phrase's) postings in one segment: document numbers and frequencies
    (for a phrase, its score at weight 1)."""

    docs: np.ndarray  # int32, ascending, deleted documents included
    freqs: np.ndarray  # float32

    @property
    def nbytes(self) -> int:
        """Memory the arrays hold."""
        return self.docs.nbytes + self.freqs.nbytes


EMPTY = Postings(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))


class PostingsCache:
    """Decoded postings and columns of immutable segments, least recently used out first.

    Thread-safe; decoding happens outside the lock (two threads may decode the same list
    once each; both results are equal).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, max_bytes)
        self._items: OrderedDict[tuple, Postings] = OrderedDict()
        self._bytes = 0
        self._columns: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, segment: tuple, key: tuple, compute: Callable[[], Postings]) -> Postings:
        """Postings-shaped arrays of one segment under `key`, or `compute()` on a miss."""
        key = (segment, *key)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        found = compute()
        if found.nbytes > self.max_bytes // 4:
            return found  # one huge list would flush everything else
        with self._lock:
            if key not in self._items:
                self._items[key] = found
                self._bytes += found.nbytes
                while self._bytes > self.max_bytes and self._items:
                    _, old = self._items.popitem(last=False)
                    self._bytes -= old.nbytes
        return found

    def column(self, segment: tuple, name: str, compute: Callable[[], object]):
        """A per-document array (or any value computed once per segment) of one segment
        under `name`: `compute()` on a miss."""
        key = (segment, name)
        with self._lock:
            found = self._columns.get(key)
            if found is not None:
                self._columns.move_to_end(key)
                return found
        found = compute()
        with self._lock:
            self._columns[key] = found
            while len(self._columns) > MAX_COLUMNS:
                self._columns.popitem(last=False)
        return found

    @property
    def nbytes(self) -> int:
        """Bytes held by cached postings."""
        return self._bytes
