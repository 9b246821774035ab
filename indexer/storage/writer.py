"""Writing a generation: `IndexWriter` (add, update, delete, commit, in one writer process or
several), and under it a faster Whoosh segment writer: the same segments, written with less
Python work and less memory.

Profiled on 10k-100k article builds (bench/results/*-profile-build-*.txt), Whoosh's writer
spent its time and memory in four places this module changes:

- The posting pool. Whoosh holds a tuple per posting (about 200 bytes), sorts them all, and
  when its pool is full pickles them one by one to a run on disk, to unpickle and merge them
  again one by one: most of a 100k build. Here each term keeps its document numbers,
  weights and values in arrays and a list (about 30 bytes a posting); documents come in
  order, so nothing is sorted but the terms, and spilled runs are merged a term at a time
  (100k scale articles, 2 writers: 974 -> about 1,500 documents/s, a quarter of the memory).
- Spelling words. With `spelling=True` Whoosh posts every distinct word of every document
  to the spelling fields (all at document 0): as many postings again as the body itself,
  for a vocabulary that only needs each word once. Here each word is posted once per
  segment, on the first document that has it.
- Bookkeeping on every posting: type assertions, a size estimate from eight terms, and four
  method calls to put each posting in its block when the segment is written.
- One-document posting lists are kept in the term index instead of a block of their own
  (INLINE_LIMIT): a third of a segment's terms.
- Posting lists are cut into blocks of BLOCK_LIMIT postings, not 128: each block is pickled
  and compressed on its own, and this engine never skips blocks (100k: index 0.82x the size,
  bench/results/2026-12-02-index-size.md).

The segment format is Whoosh's own (the version is pinned): any Whoosh reader opens it, and
tests/test_writing.py checks it byte for byte against Whoosh's own writer (both pickling
posting blocks as indexer.storage.codec does, and that test reads Whoosh's own blocks too).
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import marshal
import multiprocessing.util
import os
import signal
from array import array
from functools import partial
from itertools import groupby, islice
from operator import itemgetter

import numpy as np
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter
from whoosh.index import FileIndex
from whoosh.system import pack_uint
from whoosh.writing import PostingPool, SegmentWriter

from indexer.corpus.article import Article
from indexer.storage import codec
from indexer.storage.codec import field_length_column
from indexer.storage.schema import SPELLING_FIELDS as _SPELLING_FIELDS
from indexer.storage.schema import document_fields

SPELLING_FIELDS = frozenset(_SPELLING_FIELDS)
# prctl(2) option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
# Terms per marshalled block of a spilled run: large enough that marshal runs at C speed,
# small enough that merging many runs holds little of each in memory (100k scale corpus,
# 1 writer of 16 MB, about 30 runs: 2,000 terms a block peaked at 259 MB, 200 at 156 MB).
RUN_BLOCK = 200
# Memory of one posting in the pool without its value (a document number, a weight, a list
# slot), and of one term's lists; calibrated against resident memory on the 10k corpus.
POSTING_OVERHEAD = 20
TERM_OVERHEAD = 500
# Below this many postings a term's length statistics are cheaper in Python than in numpy.
SMALL_TERM = 32
ONE = pack_uint(1)
# Posting lists shorter than this live in the term index, not in a block of the postings
# file of their own (Whoosh's default, 1, inlines none): a one-document block costs about 90
# bytes, and a third of the terms of a segment (spelling words, rare words) have one.
INLINE_LIMIT = 2
# Postings per block of a posting list (Whoosh's default is 128). Each block is pickled and
# compressed on its own, so small blocks pay a header and a fresh zlib dictionary each; this
# engine reads whole posting lists into arrays (indexer.storage.codec), never skipping blocks.
# 10k scale articles, one segment: postings file 26.6 -> 22.4 MB (1,024: 23.1 MB).
BLOCK_LIMIT = 4096
_FIELD_AND_TERM = itemgetter(0, 1)


class FastPostingPool(PostingPool):
    """Whoosh's posting pool, kept as one posting list per term, with spelling words posted
    once.

    Whoosh's pool holds a tuple per posting (about 200 bytes) and sorts and merges them one
    by one; here a term's document numbers, weights and values go into arrays and a list as
    they come (about 30 bytes a posting), so a pool of the same size holds six times as many
    postings, and a spilled run is merged back a term at a time, not a posting at a time.
    Documents are added in increasing document number, so each list is already in order.

    Whoosh posts every spelling word of every document at document 0; here each is posted
    once, on the first document that has it (see also FastSegmentWriter.add_reader). Runs
    are this pool's own format: it serves a writer that finishes its own segment (MpWriter
    with multisegment=True), not Whoosh's run merging.
    """

    def __init__(self, tempstore, segment, limitmb: int = 128, **kwargs) -> None:
        super().__init__(tempstore, segment, limitmb=limitmb, **kwargs)
        # fieldname -> term bytes -> (docnums, weights, values)
        self._terms: dict[str, dict[bytes, tuple[array, array, list]]] = {}
        self._spelled: dict[str, set[str]] = {}
        self._single_values: dict[bytes, bytes] = {}

    def add(self, item: tuple) -> None:
        """Add one (fieldname, term bytes, docnum, weight, value bytes) posting."""
        fieldname, text, docnum, weight, value = item
        if fieldname in SPELLING_FIELDS:
            # Whoosh posts spelling words at document 0 with the value of the field's last
            # posting (positions of some other word): the format (Frequency) holds 1.
            self.add_spelling(fieldname, docnum, [text.decode("utf-8")])
            return
        self.add_field(fieldname, docnum, [(text, 1, weight, value)])

    def add_field(self, fieldname: str, docnum: int, items, boost: float = 1.0) -> int:
        """Add one document's (term bytes, frequency, weight, value) postings of a field;
        returns the sum of the frequencies (the field's length in the document)."""
        terms = self._terms.get(fieldname)
        if terms is None:
            terms = self._terms[fieldname] = {}
            self.fieldnames.add(fieldname)
        get = terms.get
        size = length = 0
        for text, freq, weight, value in items:
            postings = get(text)
            if postings is None:
                postings = terms[text] = (array("I"), array("d"), [])
                size += TERM_OVERHEAD + len(text)
            postings[0].append(docnum)
            postings[1].append(weight * boost)
            postings[2].append(value)
            size += POSTING_OVERHEAD + len(value or b"")
            length += freq
        self._grew(size)
        return length

    def add_spelling(self, fieldname: str, docnum: int, words) -> None:
        """Post the words of a spelling field that this segment has not seen yet."""
        spelled = self._spelled.setdefault(fieldname, set())
        fresh = set(words).difference(spelled)
        if fresh:
            spelled |= fresh
            self.add_field(fieldname, docnum,
                           [(w.encode("utf-8"), 1, 1, ONE) for w in sorted(fresh)])

    def _grew(self, size: int) -> None:
        self.currentsize += size
        if self.currentsize > self.limit:
            self.save()

    def _sorted_terms(self):
        for fieldname in sorted(self._terms):
            terms = self._terms[fieldname]
            for text in sorted(terms):
                docs, weights, values = terms[text]
                yield fieldname, text, docs, weights, values

    def save(self) -> None:
        """Write the terms held so far to a run on disk, in term order."""
        if self._terms:
            path, f = self._new_run()
            self._write_run(f, ((field, text, docs.tobytes(), weights.tobytes(), values)
                                for field, text, docs, weights, values
                                in self._sorted_terms()))
            self._add_run(path)
            self._terms = {}
        self.currentsize = 0

    def _write_run(self, f, items) -> None:
        items = iter(items)
        while block := list(islice(items, RUN_BLOCK)):
            marshal.dump(block, f)
        f.close()

    def _read_run(self, path):
        shared = self._single_values.setdefault
        f = self._open_run(path)
        try:
            while True:
                try:
                    block = marshal.load(f)
                except EOFError:
                    return
                for field, text, docs, weights, values in block:
                    # One object per single-position value again, as in memory (the
                    # schema encodes them once): Whoosh pickles a block's repeats once.
                    values = [shared(v, v) if v and v[:4] == ONE else v for v in values]
                    yield field, text, _array("I", docs), _array("d", weights), values
        finally:
            f.close()
            self._remove_run(path)

    def iter_terms(self):
        """(fieldname, term bytes, docnums, weights, values) for every term, in term order:
        from memory, or merged from the runs (later runs hold later documents)."""
        if not self.runs:
            yield from self._sorted_terms()
            return
        self.save()
        runs, self.runs = self.runs, []
        merged = heapq.merge(*(self._read_run(path) for path in runs), key=_FIELD_AND_TERM)
        for key, group in groupby(merged, key=_FIELD_AND_TERM):
            parts = list(group)
            _, _, docs, weights, values = parts[0]
            for _, _, more_docs, more_weights, more_values in parts[1:]:
                docs += more_docs
                weights += more_weights
                values += more_values
            yield (*key, docs, weights, values)

    def iter_postings(self):
        """Whoosh's view: one (fieldname, term, docnum, weight, value) tuple per posting."""
        for field, text, docs, weights, values in self.iter_terms():
            for docnum, weight, value in zip(docs, weights, values, strict=True):
                yield field, text, docnum, weight, value

    def reduce_to(self, target, k):
        """Whoosh's run merging for MpWriter without multisegment: not this pool's format."""
        raise NotImplementedError("FastPostingPool serves writers that finish their segment")


def _array(typecode: str, data: bytes) -> array:
    out = array(typecode)
    out.frombytes(data)
    return out


def add_postings(fieldwriter, schema, lengths, items) -> None:
    """Whoosh's FieldWriter.add_postings for its W3 codec, for a stream of posting tuples
    sorted by term (what Whoosh's merges hand it)."""
    add_terms(fieldwriter, schema, lengths, _posting_lists(items))


def _posting_lists(items):
    for (fieldname, text), group in groupby(items, key=_FIELD_AND_TERM):
        postings = list(group)
        yield (fieldname, text, [p[2] for p in postings], [p[3] for p in postings],
               [p[4] for p in postings])


def add_terms(fieldwriter, schema, lengths, terms) -> None:
    """Write (fieldname, term, docnums, weights, values) posting lists, sorted by term.

    Whoosh hands each posting through four method calls and type checks into the block
    buffer; here a term's postings go in by the block, with the same block boundaries and
    block statistics, so the files are byte for byte the same.
    """
    current = None
    column = None
    for fieldname, btext, docs, weights, values in terms:
        if fieldname != current:
            if current is not None:
                fieldwriter.finish_field()
            fieldwriter.start_field(fieldname, schema[fieldname])
            current = fieldname
            column = field_length_column(lengths, fieldname) if lengths else None
            if column is not None:
                column = np.array([n or 0 for n in column], dtype=np.int64)
        if fieldname in SPELLING_FIELDS:
            weights = [1] * len(docs)  # as Whoosh posts them: an int, pickled in 2 bytes
        fieldwriter.start_term(btext)
        _add_term_postings(fieldwriter._postwriter, docs, weights, values, column)
        fieldwriter.finish_term()
    if current is not None:
        fieldwriter.finish_field()


def _add_term_postings(postwriter, docs, weights, values, column) -> None:
    limit = postwriter._blocklimit
    for start in range(0, len(docs), limit):
        end = start + limit
        if len(postwriter._ids) >= limit:
            postwriter._write_block()
        chunk = docs[start:end]
        chunk_weights = weights[start:end]
        postwriter._ids.extend(chunk)
        postwriter._weights.fromlist(list(chunk_weights))
        postwriter._maxweight = max(postwriter._maxweight, max(chunk_weights))
        postwriter._values.extend([v for v in values[start:end] if v])
        if column is None:
            continue
        if len(chunk) < SMALL_TERM:
            found = [n for n in (column[d] for d in chunk) if n]
            if not found:
                continue
            low, high = min(found), max(found)
        else:
            found = column[np.frombuffer(chunk, dtype=np.uint32)
                           if isinstance(chunk, array) else chunk]
            found = found[found > 0]
            if not found.size:
                continue
            low, high = int(found.min()), int(found.max())
        if postwriter._minlength is None or low < postwriter._minlength:
            postwriter._minlength = low
        postwriter._maxlength = max(postwriter._maxlength, high)


def segment_codec(blocklimit: int = BLOCK_LIMIT) -> W3Codec:
    """Whoosh's W3 codec as this engine writes segments: long blocks, short lists inlined."""
    return W3Codec(blocklimit=blocklimit, inlinelimit=INLINE_LIMIT)


class FastSegmentWriter(SegmentWriter):
    """Whoosh's SegmentWriter with a FastPostingPool.

    The base class is called by name, not through super(): Whoosh's MpWriter calls
    `SegmentWriter.__init__(self)` on itself through the same module name that
    `install_in_multiprocessing` points here.
    """

    def __init__(self, ix, limitmb: int = 128, **kwargs) -> None:
        codec.install()
        kwargs.setdefault("codec", segment_codec())
        SegmentWriter.__init__(self, ix, limitmb=limitmb, **kwargs)
        self.pool = FastPostingPool(self._tempstorage, self.newsegment, limitmb=limitmb)
        if isinstance(self.fieldwriter, W3FieldWriter):
            self.fieldwriter.add_postings = partial(add_postings, self.fieldwriter)

    def add_document(self, **fields) -> None:
        """Add one document: Whoosh's SegmentWriter.add_document, with each field's postings
        handed to the pool at once and spelling words posted once per segment. Term vectors
        are not supported (the schema has none)."""
        self._check_state()
        perdocwriter, schema, pool, docnum = self.perdocwriter, self.schema, self.pool, self.docnum
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                if field.vector:
                    raise ValueError(f"{fieldname}: term vectors are not supported")
                length = 0
                if field.indexed:
                    boost = self._field_boost(fields, fieldname, docboost)
                    length = pool.add_field(fieldname, docnum, field.index(value), boost)
                    if not field.scorable:
                        length = 0
                if field.separate_spelling():
                    pool.add_spelling(field.spelling_fieldname(fieldname), docnum,
                                      field.spellable_words(value))
                stored = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, stored if field.stored else None,
                                       length)
                if field.column_type and stored is not None:
                    perdocwriter.add_column_value(fieldname, field.column_type,
                                                  field.to_column_value(stored))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self) -> None:
        # Whoosh's _flush_segment, with the pool's posting lists written a term at a time.
        if not isinstance(self.fieldwriter, W3FieldWriter):
            SegmentWriter._flush_segment(self)
            return
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.codec.length_stats else None
        add_terms(self.fieldwriter, self.schema, lengths, self.pool.iter_terms())
        self.fieldwriter.close()
        if lengths:
            lengths.close()

    def add_reader(self, reader) -> None:
        """Copy a segment being merged (see Whoosh's SegmentWriter.add_reader).

        A spelling word is posted on one document only; if that document was deleted, its
        posting is not copied, though others may use the word: every word of the old
        segment's vocabulary is kept, on the first document copied.
        """
        first = self.docnum
        SegmentWriter.add_reader(self, reader)
        if self.docnum == first:
            return  # every document of it was deleted
        for fieldname in SPELLING_FIELDS & set(reader.indexed_field_names()):
            for word in reader.lexicon(fieldname):
                self.pool.add((fieldname, word, first, 1, ONE))  # known words are skipped


def install_in_multiprocessing() -> None:
    """Make the writer processes of Whoosh's MpWriter use FastSegmentWriter (they make their
    writer from the module's `SegmentWriter` name)."""
    from whoosh import multiproc

    multiproc.SegmentWriter = FastSegmentWriter


class IndexWriter:
    """Writes entries into one generation: added, updated or deleted, then committed (or
    cancelled), by one writer process or `workers` forked ones (Whoosh's MpWriter, each
    finishing a segment of its own), each holding up to `memory_mb` of postings before it
    spills to disk."""

    def __init__(self, ix: FileIndex, workers: int = 1, memory_mb: int = 64) -> None:
        self.workers = max(1, workers)
        if self.workers > 1:
            from whoosh.multiproc import MpWriter

            # While it lives, writer processes die with us.
            self._guard = _ParentGuard()
            install_in_multiprocessing()
            self._writer = MpWriter(ix, procs=self.workers, multisegment=True,
                                    limitmb=memory_mb)
        else:
            self._writer = FastSegmentWriter(ix, limitmb=memory_mb)

    def add(self, entry: Article) -> None:
        """Add an entry (its id must not be in the index yet)."""
        self._writer.add_document(**document_fields(entry))

    def update(self, entry: Article) -> None:
        """Add an entry, replacing the one with the same id, if any."""
        self._writer.update_document(**document_fields(entry))

    def delete(self, doc_id: str) -> None:
        """Delete the entry with this id, if any."""
        self._writer.delete_by_term("id", doc_id)

    def commit(self, merge: bool = True) -> None:
        """Write everything out atomically; with `merge`, small segments may be merged."""
        if merge:
            self._writer.commit()
        else:
            self._writer.commit(merge=False)

    def cancel(self) -> None:
        """Drop what was written since the writer was made."""
        with contextlib.suppress(Exception):
            self._writer.cancel()


class _ParentGuard:
    """Makes the writer processes forked while it lives end with the indexer that forked them.

    Without it, an indexer killed mid-build (SIGKILL, the OOM killer) leaves its writer
    processes behind, blocked for ever on their job queue.
    """

    def __init__(self):
        self.pid = os.getpid()
        multiprocessing.util.register_after_fork(self, _ParentGuard.in_child)

    def in_child(self) -> None:
        """Run in each forked child: ask the kernel for SIGKILL when the parent dies (Linux),
        and go at once if it already has."""
        with contextlib.suppress(Exception):  # no prctl (not Linux): nothing to ask for
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != self.pid:
            os._exit(1)
