"""Whoosh posting lists and per-document columns as numpy arrays, cached per segment.

Whoosh walks postings one document at a time in Python; scoring a question of 15 words over
100,000 articles that way takes a second. Decoding a term's postings block by block into
arrays costs a few microseconds per block of 128 documents, and segments never change once
written, so decoded arrays stay valid until their segment is merged away: they are kept in a
least-recently-used cache bounded in bytes, shared by every searcher of the process.

Reads Whoosh 2.7's on-disk block layout (the version is pinned in pyproject.toml); a posting
list in any other shape is read through the public matcher interface instead.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from hashlib import blake2b
from pickle import loads

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.columns import VarBytesColumn
from whoosh.util.numeric import byte_to_length

# Field lengths are stored as one byte per document; this table decodes them all at once.
_LENGTH_OF_BYTE = np.array([byte_to_length(i) for i in range(256)], dtype=np.float32)


@dataclass(frozen=True)
class Postings:
    """One term's postings in one segment: document numbers and term frequencies."""

    docs: np.ndarray  # int32, ascending, deleted documents included
    freqs: np.ndarray  # float32

    @property
    def nbytes(self) -> int:
        """Memory the arrays hold."""
        return self.docs.nbytes + self.freqs.nbytes


EMPTY = Postings(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))


def segment_key(reader) -> tuple:
    """What identifies a segment's immutable contents (its random id and size)."""
    segment = reader.segment()
    return (segment.segment_id(), reader.doc_count_all())


def read_postings(reader, fieldname: str, term: str) -> Postings:
    """All postings of `term` in `fieldname` of one segment reader, deletions included."""
    tbytes = term.encode("utf-8")
    if (fieldname, tbytes) not in reader:
        return EMPTY
    matcher = reader._terms.matcher(fieldname, tbytes, reader.schema[fieldname].format)
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        return _read_blocks(matcher)
    docs, freqs = [], []
    while matcher.is_active():
        docs.append(matcher.id())
        freqs.append(matcher.weight())
        matcher.next()
    return Postings(np.array(docs, dtype=np.int32), np.array(freqs, dtype=np.float32))


def _read_blocks(m: W3LeafMatcher) -> Postings:
    doc_parts, freq_parts = [], []
    postfile = m._postfile
    while True:
        raw = postfile.get(m._dataoffset, m._nextoffset - m._dataoffset)
        ids, weights = loads(zlib.decompress(raw) if m._compression else raw)[:2]
        # Document numbers are delta-encoded from 0 within each block.
        doc_parts.append(np.cumsum(np.array(ids, dtype=np.int64)))
        n = m._blocklength
        if weights is None:
            freq_parts.append(np.ones(n, dtype=np.float32))
        elif isinstance(weights, float):
            freq_parts.append(np.full(n, weights, dtype=np.float32))
        else:
            freq_parts.append(np.array(weights, dtype=np.float32))
        if m._lastblock:
            break
        m._goto(m._nextoffset)
    return Postings(np.concatenate(doc_parts).astype(np.int32), np.concatenate(freq_parts))


def field_lengths(reader, fieldname: str) -> np.ndarray:
    """Every document's length in `fieldname` (as Whoosh's scorer sees it), one segment."""
    n = reader.doc_count_all()
    lenfield = f"_{fieldname}_len"
    perdoc = reader._perdoc
    if not perdoc.has_column(lenfield):
        return np.zeros(n, dtype=np.float32)
    column = perdoc.column_reader(lenfield, LENGTHS_COLUMN)
    encoded = np.fromiter(iter(column), dtype=np.uint8, count=n)
    return _LENGTH_OF_BYTE[encoded]


def column_values(reader, fieldname: str) -> list:
    """Every document's raw value in a column of one segment, in document order.

    Whoosh reads a variable-length column one document at a time (a seek and a read each:
    4 of the 7.7 s of a one-article update of a 300k index); its values lie end to end, so
    they are read in one piece and sliced.
    """
    column = reader.column_reader(fieldname, translate=False)
    if not isinstance(column, VarBytesColumn.Reader):
        return list(column)
    lengths = column._lengths
    offsets = column._offsets
    size = (offsets[-1] + lengths[-1]) if len(lengths) else 0
    data = bytes(column._dbfile.get(column._basepos, size)) if size else b""
    return [data[o:o + n] for o, n in zip(offsets, lengths, strict=True)]


def column_equals(reader, fieldname: str, value: str) -> np.ndarray:
    """A boolean per document: does its `fieldname` column hold `value`? One segment."""
    n = reader.doc_count_all()
    if fieldname not in reader.schema or not reader.has_column(fieldname):
        return np.zeros(n, dtype=bool)
    wanted = value.encode("utf-8")
    return np.fromiter((v == wanted for v in column_values(reader, fieldname)),
                       dtype=bool, count=n)


def id_order_keys(reader) -> np.ndarray:
    """A number per document of one segment derived from its id alone (the first 8 bytes of
    its BLAKE2 digest): equal scores are ordered by it, so the order of tied documents does
    not depend on where the build put them."""
    n = reader.doc_count_all()
    if "id" not in reader.schema or not reader.has_column("id"):
        return np.zeros(n, dtype=np.uint64)
    digests = b"".join(blake2b(v if isinstance(v, bytes) else str(v).encode("utf-8"),
                               digest_size=8).digest() for v in column_values(reader, "id"))
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def live_mask(reader) -> np.ndarray | None:
    """A boolean per document, False where deleted; None when the segment has no deletions."""
    if not reader.has_deletions():
        return None
    mask = np.ones(reader.doc_count_all(), dtype=bool)
    deleted = np.fromiter(reader.deleted_docs_set, dtype=np.int64)
    mask[deleted[deleted < len(mask)]] = False
    return mask


class PostingsCache:
    """Decoded postings and columns of immutable segments, least recently used out first.

    Thread-safe; decoding happens outside the lock (two threads may decode the same list
    once each; both results are equal).
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, max_bytes)
        self._items: OrderedDict[tuple, Postings] = OrderedDict()
        self._bytes = 0
        self._columns: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def postings(self, reader, fieldname: str, term: str) -> Postings:
        """A term's postings in one segment, from the cache or decoded now."""
        return self.get(reader, (fieldname, term),
                        lambda: read_postings(reader, fieldname, term))

    def get(self, reader, key: tuple, compute) -> Postings:
        """Postings-shaped arrays of one segment under `key`, or `compute()` on a miss."""
        key = (segment_key(reader), *key)
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

    def column(self, reader, name: str, compute) -> np.ndarray:
        """A per-document array of one segment (`compute(reader)` on a miss)."""
        key = (segment_key(reader), name)
        with self._lock:
            found = self._columns.get(key)
            if found is not None:
                self._columns.move_to_end(key)
                return found
        found = compute(reader)
        with self._lock:
            self._columns[key] = found
            # A few generations' worth of segments: older ones were merged or swapped away.
            while len(self._columns) > 256:
                self._columns.popitem(last=False)
        return found

    @property
    def nbytes(self) -> int:
        """Bytes held by cached postings."""
        return self._bytes
