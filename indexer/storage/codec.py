"""Whoosh 2.7's on-disk format as this engine reads and writes it: opening and creating a
generation's index, posting blocks decoded into arrays, columns and field lengths read in
one piece, posting blocks and term infos pickled smaller, and the fixes to Whoosh's own
code that all of this needs.

The fixes replace Whoosh methods process-wide, so they are installed explicitly, once, by
`install()`, which every way into an index calls first (`open_index`, `create_index` and
the segment writer): nothing is patched by importing this module. They are:

- The per-document reader caches a field's length column only when the column exists; for
  fields without lengths (the unscored spelling fields) it stats the missing file again for
  every posting written at commit and every length looked up when scoring. Segment files
  never change once written, so remembering "no such column" is safe (1,000 MedQuAD
  articles: about a third of commit time went to those stat calls). Lengths are decoded
  once per field (`field_length_column`), not read by a seek and a read per posting.
- The posting writer cannot inline short posting lists into the term index (a misnamed
  method); `indexer.storage.writer` does, so the method gets its name.
- Postings, inlined or in blocks, are pickled with protocol 3: protocol 2 spells each bytes
  value (a posting's positions) as a call to `_codecs.encode(..., "latin1")`, about 60
  bytes of a one-document list's 97, and a call for `loads` to make on every posting it
  reads. With no memo and whole-number weights as ints, a one-document list takes 38 bytes
  (10k scale articles: term index 10.3 -> 7.3 MB) and the body's posting blocks 10.0 MB
  instead of 20.7, decoded in 0.19 s instead of 0.7 (`python -m bench.postings_pickle`).
- Whoosh copies every file of a memory-mapped segment onto the heap when it opens it (see
  `_install_view_files`), and its hash file writer holds each key's hash and position as a
  tuple until it closes (see `PackedBucket`).

Reads Whoosh 2.7's block layout (the version is pinned in pyproject.toml); a posting list in
any other shape is read through the public matcher interface instead.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Callable
from hashlib import blake2b
from io import BytesIO
from pathlib import Path
from pickle import Pickler, loads

import numpy as np
from whoosh.codec import whoosh3
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.columns import VarBytesColumn
from whoosh.fields import Schema
from whoosh.filedb import filetables, structfile
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC, EmptyIndexError, FileIndex
from whoosh.system import pack_int, pack_long
from whoosh.util.numeric import byte_to_length, length_to_byte

from indexer.storage.arrays import EMPTY, Postings

# The name Whoosh gives the index inside a generation folder (its files are MAIN_*.seg and
# _MAIN_<n>.toc; a writer's scratch files go to MAIN.tmp).
INDEX_NAME = "MAIN"
# Field lengths are stored as one byte per document; this table decodes them all at once.
_LENGTH_OF_BYTE = np.array([byte_to_length(i) for i in range(256)], dtype=np.float32)


# -- opening -----------------------------------------------------------------------------------


def open_index(path: Path, schema: Schema, use_mmap: bool) -> FileIndex:
    """The Whoosh index of a generation folder (fixes installed first). Raises
    FileNotFoundError when the folder holds no index, or a file vanished while opening it."""
    install()
    try:
        return FileStorage(str(path), supports_mmap=use_mmap).open_index(schema=schema)
    except EmptyIndexError as exc:
        raise FileNotFoundError(f"no index in {path}: {exc}") from None


def create_index(path: Path, schema: Schema) -> None:
    """An empty Whoosh index in an existing, empty generation folder."""
    install()
    FileStorage(str(path)).create_index(schema)


def latest_commit(path: Path) -> int:
    """The number of the generation folder's last commit, read from its table-of-contents
    file names (no index opened); -1 when it has none. Raises FileNotFoundError."""
    return TOC._latest_generation(FileStorage(str(path), supports_mmap=False), INDEX_NAME)


def segment_count(ix: FileIndex) -> int:
    """How many segments an index holds."""
    return len(ix._segments())


# -- reading arrays ----------------------------------------------------------------------------


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
    return walk_matcher(matcher, lambda m: m.weight())


def walk_matcher(matcher, value: Callable) -> Postings:
    """The documents a Whoosh matcher walks, one at a time in Python, with `value(matcher)`
    of each (its weight, or its score) in place of frequencies."""
    docs, values = [], []
    while matcher.is_active():
        docs.append(matcher.id())
        values.append(value(matcher))
        matcher.next()
    return Postings(np.array(docs, dtype=np.int32), np.array(values, dtype=np.float32))


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


def column_codes(reader, fieldname: str) -> tuple[np.ndarray, list[str]]:
    """Every document's value in a column of one segment as a number (int32) into the
    column's distinct values (text); all 0 into [""] when the segment has no such column."""
    n = reader.doc_count_all()
    if fieldname not in reader.schema or not reader.has_column(fieldname) or not n:
        return np.zeros(n, dtype=np.int32), [""]
    values = column_values(reader, fieldname)
    distinct, codes = np.unique(np.array(values, dtype=object), return_inverse=True)
    return codes.astype(np.int32), [v.decode("utf-8", "replace") for v in distinct]


def id_order_keys(reader) -> np.ndarray:
    """A number per document of one segment derived from its id alone (the first 8 bytes of
    its BLAKE2 digest): equal scores are ordered by it, so the order of tied documents does
    not depend on where the build put them."""
    return column_digests(reader, "id")


def column_digests(reader, fieldname: str) -> np.ndarray:
    """A number per document of one segment drawn from its value in a column (the first 8
    bytes of the value's BLAKE2 digest); all 0 when the segment has no such column."""
    n = reader.doc_count_all()
    if fieldname not in reader.schema or not reader.has_column(fieldname):
        return np.zeros(n, dtype=np.uint64)
    digests = b"".join(blake2b(v if isinstance(v, bytes) else str(v).encode("utf-8"),
                               digest_size=8).digest() for v in column_values(reader, fieldname))
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def live_mask(reader) -> np.ndarray | None:
    """A boolean per document, False where deleted; None when the segment has no deletions."""
    if not reader.has_deletions():
        return None
    mask = np.ones(reader.doc_count_all(), dtype=bool)
    deleted = np.fromiter(reader.deleted_docs_set, dtype=np.int64)
    mask[deleted[deleted < len(mask)]] = False
    return mask


# -- writing, and the fixes to Whoosh ---------------------------------------------------------


def install() -> None:
    """Install every fix to Whoosh this engine relies on (idempotent)."""
    _install_reader_fixes()
    _install_view_files()
    _install_packed_buckets()


def _install_reader_fixes() -> None:
    reader_class = whoosh3.W3PerDocReader
    if getattr(reader_class, "_healthsearch_fixed", False):
        return
    original = reader_class._cached_reader

    def _cached_reader(self, fieldname, column):
        missing = self.__dict__.setdefault("_healthsearch_missing", set())
        if fieldname in missing:
            return None
        reader = original(self, fieldname, column)
        if reader is None:
            missing.add(fieldname)
        return reader

    def doc_field_length(self, docnum, fieldname, default=0):
        # Whoosh reads the length column through a seek and a read for every posting it
        # writes at commit (a tenth of build time); decode the column once per field.
        column = field_length_column(self, fieldname)
        if column is None:
            return default
        if docnum > self._doccount:
            raise IndexError(f"Asked for docnum {docnum!r} of {self._doccount}")
        return column[docnum]

    reader_class._cached_reader = _cached_reader
    reader_class.doc_field_length = doc_field_length
    reader_class._healthsearch_fixed = True
    # The posting writer inlines short posting lists through a method the term info class
    # names set_inlined (a typo dead behind the default inline limit of 1).
    if not hasattr(whoosh3.W3TermInfo, "set_inline"):
        whoosh3.W3TermInfo.set_inline = whoosh3.W3TermInfo.set_inlined
    whoosh3.W3TermInfo.to_bytes = term_info_bytes
    whoosh3.W3PostingsWriter._write_block = write_block


# Protocol 3 is the first to pickle bytes as bytes; Whoosh's `loads` reads any protocol, so
# segments written before this change still open.
POSTINGS_PICKLE_PROTOCOL = 3
# Whoosh's own block writer, kept to show that segments it wrote still read.
whoosh_write_block = whoosh3.W3PostingsWriter._write_block


def term_info_bytes(self) -> bytes:
    """W3TermInfo.to_bytes: the same layout, with inlined postings pickled smaller (protocol
    3, no memo, whole-number weights as ints)."""
    minid = 0xFFFFFFFF if self._minid is None else self._minid
    maxid = 0xFFFFFFFF if self._maxid is None else self._maxid
    minlength = 0 if self._minlength is None else length_to_byte(self._minlength)
    head = self._struct.pack(self._inlined is not None, self._weight, self._df, minlength,
                             length_to_byte(self._maxlength), self._maxweight, minid, maxid)
    if self._inlined is None:
        return head + pack_long(self._offset) + pack_int(self._length)
    ids, weights, values = self._inlined
    return head + postings_pickle((ids, _whole_weights(weights), values))


def write_block(self, last: bool = False) -> None:
    """W3PostingsWriter._write_block: the same block layout, with its postings pickled
    smaller and faster to read (protocol 3, no memo, whole-number weights as ints).

    Protocol 2 spells each posting's positions (a bytes value) as a `_codecs.encode` call,
    which `loads` makes for every posting of every block it reads (see the module docstring
    for the sizes and times).
    """
    if not self._blockcount:
        self._postfile.write(whoosh3.WHOOSH3_HEADER_MAGIC)
    self._terminfo.add_block(self)
    weights = self._mini_weights()
    if isinstance(weights, tuple):  # None and a single float mean "all the same": kept as is
        weights = _whole_weights(weights)
    databytes = postings_pickle((self._mini_ids(), weights, self._mini_values()))
    comp = self._compression
    if comp:
        databytes = zlib.compress(databytes, comp)
    ids = self._ids
    infobytes = whoosh3.dumps((len(ids), ids[-1], self._maxweight, comp,
                               length_to_byte(self._minlength),
                               length_to_byte(self._maxlength)), 2)
    postfile = self._postfile
    blocklength = len(infobytes) + len(databytes)
    postfile.write_int(-blocklength if last else blocklength)  # negative: the last block
    postfile.write(infobytes)
    postfile.write(databytes)
    self._blockcount += 1
    self._new_block()


def postings_pickle(data: tuple) -> bytes:
    """A tuple of postings (ids, weights, values) pickled as this engine writes them."""
    buffer = BytesIO()
    pickler = Pickler(buffer, POSTINGS_PICKLE_PROTOCOL)
    pickler.fast = True  # no memo: these tuples hold no shared or recursive objects
    pickler.dump(data)
    return buffer.getvalue()


def _whole_weights(weights) -> tuple:
    # A float weight pickles in 9 bytes, a small int in 2; term frequencies are whole numbers.
    return tuple(int(w) if float(w).is_integer() else w for w in weights)


def field_length_column(perdoc_reader, fieldname: str) -> list[int | None] | None:
    """Every document's length in a field of a segment being written or read (None where
    Whoosh keeps none), decoded once per reader; None when the field has no lengths."""
    lengths = perdoc_reader.__dict__.setdefault("_healthsearch_lengths", {})
    column = lengths.get(fieldname)
    if column is None:
        reader = perdoc_reader._cached_reader(whoosh3._lenfield(fieldname),
                                              whoosh3.LENGTHS_COLUMN)
        column = lengths[fieldname] = (
            False if reader is None else [byte_to_length(b) if b else None for b in reader])
    return column or None


class _ViewFile:
    """A read-only file over a memoryview of the mapped segment: reads copy only what they
    return (BytesIO would copy the whole view up front)."""

    __slots__ = ("_view", "_pos", "closed")

    def __init__(self, view) -> None:
        self._view = view if isinstance(view, memoryview) else memoryview(view)
        self._pos = 0
        self.closed = False

    def read(self, n: int | None = -1) -> bytes:
        start = self._pos
        if start >= len(self._view):
            return b""
        end = len(self._view) if n is None or n < 0 else min(len(self._view), start + n)
        self._pos = end
        return self._view[start:end].tobytes()

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, limit: int | None = -1) -> bytes:
        view, start = self._view, self._pos
        if start >= len(view):
            return b""
        end = len(view) if limit is None or limit < 0 else min(len(view), start + limit)
        i = start
        while i < end:
            i += 1
            if view[i - 1] == 10:
                break
        self._pos = i
        return view[start:i].tobytes()

    def __iter__(self):
        while line := self.readline():
            yield line

    def seek(self, pos: int, whence: int = 0) -> int:
        base = 0 if whence == 0 else self._pos if whence == 1 else len(self._view)
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _install_view_files() -> None:
    # Whoosh opens each file of a memory-mapped compound segment as BytesIO(view), which
    # copies the file onto the heap: a searcher of a 100k-document index held 850 MB of
    # copies, once more per searcher. Reading straight from the map keeps them shared pages.
    cls = structfile.BufferFile
    if getattr(cls, "_healthsearch_fixed", False):
        return

    def __init__(self, buf, name=None, onclose=None):
        self._buf = buf
        self._name = name
        self.file = _ViewFile(buf)
        self.onclose = onclose
        self.is_real = False
        self.is_closed = False

    cls.__init__ = __init__
    cls._healthsearch_fixed = True


class PackedBucket:
    """One of a hash file writer's 256 buckets of (hash, file position) pairs, in two arrays.

    Whoosh keeps a tuple of two ints per key until the file is closed: 15.6 MB for 128k keys
    under tracemalloc (40k scale articles). Every article's id is a key of the term index, so
    a 300k-article segment has 393k keys, about 48 MB at that rate; here they take 12 bytes
    each.
    """

    __slots__ = ("hashes", "positions")

    def __init__(self) -> None:
        self.hashes = array("I")  # Whoosh's hashes are 32 bits
        self.positions = array("q")

    def append(self, entry: tuple[int, int]) -> None:
        """Add one (hash, position) pair."""
        hashval, position = entry
        self.hashes.append(hashval)
        self.positions.append(position)

    def __len__(self) -> int:
        return len(self.hashes)

    def __iter__(self):
        return zip(self.hashes, self.positions, strict=True)


def _install_packed_buckets() -> None:
    cls = filetables.HashWriter
    if getattr(cls, "_healthsearch_fixed", False):
        return
    original = cls.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.buckets = [PackedBucket() for _ in range(256)]

    cls.__init__ = __init__
    cls._healthsearch_fixed = True

