"""A faster Whoosh segment writer: the same segments, written with less Python work.

Profiled on a 30,000-article build (bench/results/*-profile-build-*.txt), Whoosh's writer
spent its time in three places this module changes:

- Spelling words. With `spelling=True` Whoosh posts every distinct word of every document
  to the spelling fields (all at document 0): as many postings again as the body itself,
  sorted, spilled to disk and written like real ones, for a vocabulary that only needs each
  word once. Here each word is posted once per segment, on the first document that has it
  (a build of 10,000 articles: 436 -> about 700 documents/s).
- The external sort. Whoosh pickles each posting on its own when its pool spills to disk and
  unpickles it again to merge: nearly half of a large build. Runs are marshalled here in
  blocks of many postings.
- Bookkeeping on every posting: type assertions, a size estimate from eight terms, and four
  method calls to put each posting in its block when the segment is written.

The segment format is Whoosh's own (the version is pinned): any Whoosh reader opens it.
"""

from __future__ import annotations

import marshal
from functools import partial
from itertools import groupby, islice
from operator import itemgetter

from whoosh.codec.whoosh3 import W3FieldWriter
from whoosh.system import pack_uint
from whoosh.writing import PostingPool, SegmentWriter

from indexer.whoosh_fixes import field_length_column

SPELLING_FIELDS = frozenset({"spell_title", "spell_body"})
# Postings per marshalled block of a spilled run: large enough that marshal runs at C speed,
# small enough that merging many runs holds little of each in memory.
RUN_BLOCK = 20_000
# Whoosh's own estimate of a posting's memory, without the variable parts.
POSTING_OVERHEAD = 150
ONE = pack_uint(1)
_FIELD_AND_TERM = itemgetter(0, 1)


class FastPostingPool(PostingPool):
    """Whoosh's posting pool, with spelling words posted once and runs marshalled in blocks.

    `docnum` is set by the writer while it adds a document: Whoosh posts spelling words at
    document 0, and they are moved to the first document that has them (see also
    FastSegmentWriter.add_reader).
    """

    def __init__(self, tempstore, segment, limitmb: int = 128, **kwargs) -> None:
        super().__init__(tempstore, segment, limitmb=limitmb, **kwargs)
        self.docnum: int | None = None
        self._spelled: set[tuple[str, bytes]] = set()

    def add(self, item: tuple) -> None:
        """Add one (fieldname, term bytes, docnum, weight, value bytes) posting."""
        fieldname, text = item[0], item[1]
        if fieldname in SPELLING_FIELDS:
            key = (fieldname, text)
            if key in self._spelled:
                return
            self._spelled.add(key)
            # Whoosh hands the value of the field's last posting along (positions of some
            # other word); a spelling field's format (Frequency) holds the frequency, 1.
            item = (fieldname, text, item[2] if self.docnum is None else self.docnum,
                    1, ONE)
        self.fieldnames.add(fieldname)
        self.currentsize += POSTING_OVERHEAD + 3 * len(text) + len(item[4] or b"")
        if self.currentsize > self.limit:
            self.save()
        self.current.append(item)

    def _write_run(self, f, items) -> None:
        items = iter(items)
        while block := list(islice(items, RUN_BLOCK)):
            marshal.dump(block, f)
        f.close()

    def _read_run(self, path):
        f = self._open_run(path)
        try:
            while True:
                try:
                    block = marshal.load(f)
                except EOFError:
                    return
                yield from block
        finally:
            f.close()
            self._remove_run(path)


def add_postings(fieldwriter, schema, lengths, items) -> None:
    """Whoosh's FieldWriter.add_postings for its W3 codec, a term at a time.

    Whoosh hands each posting through four method calls and type checks into the block
    buffer; here a term's postings go in by the block, with the same block boundaries and
    block statistics, so the files are byte for byte the same. `items` come sorted from the
    pool.
    """
    current = None
    column = None
    for (fieldname, btext), group in groupby(items, key=_FIELD_AND_TERM):
        if fieldname != current:
            if current is not None:
                fieldwriter.finish_field()
            fieldwriter.start_field(fieldname, schema[fieldname])
            current = fieldname
            column = field_length_column(lengths, fieldname) if lengths else None
        fieldwriter.start_term(btext)
        _add_term_postings(fieldwriter._postwriter, list(group), column)
        fieldwriter.finish_term()
    if current is not None:
        fieldwriter.finish_field()


def _add_term_postings(postwriter, postings: list[tuple], column) -> None:
    limit = postwriter._blocklimit
    for start in range(0, len(postings), limit):
        chunk = postings[start:start + limit]
        if len(postwriter._ids) >= limit:
            postwriter._write_block()
        docs = [p[2] for p in chunk]
        weights = [p[3] for p in chunk]
        postwriter._ids.extend(docs)
        postwriter._weights.extend(weights)
        postwriter._maxweight = max(postwriter._maxweight, max(weights))
        postwriter._values.extend([p[4] for p in chunk if p[4]])
        if column is not None:
            found = [n for n in (column[d] for d in docs) if n]
            if found:
                low = min(found)
                if postwriter._minlength is None or low < postwriter._minlength:
                    postwriter._minlength = low
                postwriter._maxlength = max(postwriter._maxlength, max(found))


class FastSegmentWriter(SegmentWriter):
    """Whoosh's SegmentWriter with a FastPostingPool.

    The base class is called by name, not through super(): Whoosh's MpWriter calls
    `SegmentWriter.__init__(self)` on itself through the same module name that
    `install_in_multiprocessing` points here.
    """

    def __init__(self, ix, *args, limitmb: int = 128, **kwargs) -> None:
        SegmentWriter.__init__(self, ix, *args, limitmb=limitmb, **kwargs)
        self.pool = FastPostingPool(self._tempstorage, self.newsegment, limitmb=limitmb)
        if isinstance(self.fieldwriter, W3FieldWriter):
            self.fieldwriter.add_postings = partial(add_postings, self.fieldwriter)

    def add_document(self, **fields) -> None:
        """Add one document (see Whoosh's SegmentWriter.add_document)."""
        self.pool.docnum = self.docnum
        try:
            SegmentWriter.add_document(self, **fields)
        finally:
            self.pool.docnum = None


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
