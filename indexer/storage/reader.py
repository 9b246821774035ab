"""The read side of a generation, and the only objects above the storage package that stand
for an index: `Index` (a generation opened), `Snapshot` (one consistent view of it, for one
question at a time) and `SegmentView` (one immutable segment of that view).

They hand out arrays, not per-document calls: a term's postings, a field's lengths, which
documents are teasers or deleted, the key that orders ties, a phrase's documents, each for a
whole segment at once and cached while the segment lives (`indexer.storage.arrays`). Stored
fields, ids, document frequencies and idf come from the snapshot. Nothing outside this
package holds a Whoosh searcher, reader or leaf.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from whoosh import query as q
from whoosh import scoring
from whoosh.index import FileIndex

from indexer.corpus.teasers import TEASER
from indexer.storage import codec
from indexer.storage.arrays import Postings, PostingsCache
from indexer.storage.schema import SPELLING_FIELDS

# Up to this many stored documents are looked up one by one by id; more are read in one pass.
LOOKUP_DOCS = 1000
# Document frequencies a snapshot remembers before starting over (feedback asks for the same
# common words again and again).
MAX_CACHED_FREQUENCIES = 100_000


def _text(value: bytes | str) -> str:
    # Columns are bytes; source paths are written with surrogateescape (file names need not
    # be UTF-8): read back the same way.
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


class Index:
    """One generation's index, opened: snapshots to search, rows of its columns to compare
    with the corpus, stored documents, counts, and writers (`indexer.storage.writer`)."""

    def __init__(self, ix: FileIndex, path: Path) -> None:
        self._ix = ix
        self.path = path

    @property
    def name(self) -> str:
        """The generation's name (its folder's)."""
        return self.path.name

    def snapshot(self, cache: PostingsCache, bm25: tuple[float, float, float]) -> Snapshot:
        """A view of the index as it is now, scoring phrases with BM25F of (b, k1, title b)."""
        b, k1, title_b = bm25
        return Snapshot(self._ix.searcher(weighting=scoring.BM25F(B=b, K1=k1, title_B=title_b)),
                        self.name, cache)

    def writer(self, workers: int = 1, memory_mb: int = 64):
        """An `IndexWriter` into this generation (`workers` writer processes)."""
        from indexer.storage.writer import IndexWriter

        return IndexWriter(self._ix, workers=workers, memory_mb=memory_mb)

    def rows(self, names: Sequence[str], raw: bool = False) -> Iterator[tuple]:
        """(id, *values of the named columns) of every live document, read a whole column of
        a segment at a time (a lookup per document through the multi-segment reader took 2.6
        s of a 3.9 s one-article update of a 100k index); values as text, or as the stored
        bytes with `raw`."""
        with self._ix.reader() as reader:
            for segment, _ in reader.leaf_readers():
                if not segment.doc_count_all():
                    continue  # an empty index has no columns to read
                deleted = segment.deleted_docs_set if segment.has_deletions() else ()
                columns = [codec.column_values(segment, name) for name in ("id", *names)]
                for docnum, values in enumerate(zip(*columns, strict=True)):
                    if docnum not in deleted:
                        yield values if raw else tuple(map(_text, values))

    def stored(self, ids: Sequence[str]) -> Iterator[dict]:
        """The stored fields of the live documents with these ids (in no set order)."""
        with self._ix.searcher() as searcher:
            if len(ids) <= LOOKUP_DOCS:
                for doc_id in ids:
                    fields = searcher.document(id=doc_id)
                    if fields:
                        yield fields
                return
            wanted = set(ids)
            for fields in searcher.all_stored_fields():
                if fields["id"] in wanted:
                    yield fields

    def counts(self) -> dict[str, int]:
        """Live entries, entries of each kind, distinct title and body terms, segments."""
        with self._ix.searcher() as searcher:
            reader = searcher.reader()
            kinds = reader.column_reader("kind")
            counts = {"article": 0, TEASER: 0}
            for docnum in reader.all_doc_ids():
                kind = _text(kinds[docnum])
                counts[kind] = counts.get(kind, 0) + 1
            terms = len({text for field in ("title", "body") for text in reader.lexicon(field)})
            return {"entries": reader.doc_count(), **counts, "terms": terms,
                    "segments": codec.segment_count(self._ix)}


class Snapshot:
    """One consistent view of a generation for one question at a time (not thread-safe):
    index-wide statistics, stored fields, ids, and its segments' arrays."""

    def __init__(self, searcher, name: str, cache: PostingsCache) -> None:
        self._searcher = searcher
        self.name = name
        self.cache = cache
        reader = searcher.reader()
        # The commit this view shows: with the generation's name, it identifies the contents.
        self.commit: int = reader.generation()
        self._ids = None
        self._frequencies: dict[tuple[str, str], int] = {}
        self._memo: dict[str, object] = {}
        scope = (self.commit, reader.doc_count_all())
        self.segments = [SegmentView(leaf, offset, cache, scope)
                         for leaf, offset in searcher.leaf_searchers()]

    def memo(self, name: str, compute: Callable[[], object]):
        """A value computed once for this view of the index (`compute()` the first time)."""
        found = self._memo.get(name)
        if found is None:
            found = self._memo[name] = compute()
        return found

    def is_current(self) -> bool:
        """True while no commit has changed the generation since this view was opened."""
        try:
            return self._searcher.up_to_date()
        except FileNotFoundError:
            return False

    def close(self) -> None:
        """Release the view's files."""
        self._searcher.close()

    def doc_count(self) -> int:
        """Live documents."""
        return self._searcher.doc_count()

    def doc_count_all(self) -> int:
        """Documents, deleted ones included (document numbers run below this)."""
        return self._searcher.doc_count_all()

    def idf(self, fieldname: str, term: str) -> float:
        """The term's inverse document frequency in a field, as BM25F computes it."""
        return self._searcher.idf(fieldname, term)

    def avg_length(self, fieldname: str) -> float:
        """The mean length of a field over all documents (0 when there are none)."""
        return self._searcher.avg_field_length(fieldname)

    def doc_frequency(self, fieldname: str, term: str) -> int:
        """How many documents hold the term in the field."""
        return self._searcher.doc_frequency(fieldname, term)

    def remembered_doc_frequency(self, fieldname: str, term: str) -> int:
        """`doc_frequency`, remembered for this view's life (up to MAX_CACHED_FREQUENCIES)."""
        key = (fieldname, term)
        found = self._frequencies.get(key)
        if found is None:
            if len(self._frequencies) > MAX_CACHED_FREQUENCIES:
                self._frequencies = {}
            found = self._frequencies[key] = self._searcher.doc_frequency(fieldname, term)
        return found

    def stored(self, docnum: int) -> dict:
        """The stored fields of a document."""
        return self._searcher.stored_fields(docnum)

    def document(self, doc_id: str) -> dict | None:
        """The stored fields of the live document with this id, or None."""
        return self._searcher.document(id=doc_id)

    def docnum(self, doc_id: str) -> int | None:
        """The document number of the live document with this id, or None."""
        return self._searcher.document_number(id=doc_id)

    def ids(self, docnums: Iterable[int]) -> list[str]:
        """The ids of these documents (from the id column, no stored fields read)."""
        if self._ids is None:
            self._ids = self._searcher.reader().column_reader("id")
        ids = self._ids
        return [_text(ids[d]) for d in docnums]

    def has_phrase(self, fieldname: str, words: Sequence[str]) -> bool:
        """True when some document holds these index terms side by side in the field."""
        return q.Phrase(fieldname, list(words)).matcher(self._searcher).is_active()

    def phrase_count(self, fieldname: str, words: Sequence[str]) -> int:
        """How many documents (deleted ones included) hold these index terms side by side in
        the field (from each segment's cached phrase documents)."""
        return sum(len(segment.phrase(fieldname, tuple(words)).docs)
                   for segment in self.segments)

    def has_field(self, fieldname: str) -> bool:
        """True when the schema has the field."""
        return fieldname in self._searcher.reader().schema

    def prefix_words(self, fieldname: str, prefix: str) -> Iterator[str]:
        """The field's terms (or spelling words) that start with the prefix, in term order."""
        for word in self._searcher.reader().expand_prefix(fieldname, prefix):
            yield word.decode() if isinstance(word, bytes) else word


class SegmentView:
    """One immutable segment of a snapshot: its documents are numbered from `offset` in the
    snapshot. Every array is cached for the segment's life."""

    def __init__(self, leaf, offset: int, cache: PostingsCache, scope: tuple) -> None:
        self._leaf = leaf
        self._reader = leaf.reader()
        self.offset = offset
        self.size: int = self._reader.doc_count_all()
        self.key = codec.segment_key(self._reader)
        self._cache = cache
        # Phrase scores depend on index-wide statistics: cached for this commit only.
        self._scope = scope

    def postings(self, fieldname: str, term: str) -> Postings:
        """A term's postings in a field (deleted documents included)."""
        reader = self._reader
        return self._cache.get(self.key, (fieldname, term),
                               lambda: codec.read_postings(reader, fieldname, term))

    def phrase(self, fieldname: str, words: tuple[str, ...]) -> Postings:
        """The documents holding the index terms side by side in a field, with the phrase's
        BM25F score at weight 1 in place of frequencies (Whoosh checks positions document by
        document in Python: cached)."""
        leaf = self._leaf
        return self._cache.get(
            self.key, (fieldname, "phrase", *self._scope, words),
            lambda: codec.walk_matcher(q.Phrase(fieldname, list(words)).matcher(leaf),
                                       lambda m: m.score()))

    def lengths(self, fieldname: str) -> np.ndarray:
        """Every document's length in a field."""
        reader = self._reader
        return self._cache.column(self.key, f"len:{fieldname}",
                                  lambda: codec.field_lengths(reader, fieldname))

    def teasers(self) -> np.ndarray:
        """Which documents are teasers."""
        reader = self._reader
        return self._cache.column(self.key, "teaser",
                                  lambda: codec.column_equals(reader, "kind", TEASER))

    def tie_keys(self) -> np.ndarray:
        """Each document's place among equal scores (see codec.id_order_keys)."""
        reader = self._reader
        return self._cache.column(self.key, "tie", lambda: codec.id_order_keys(reader))

    def subjects(self) -> np.ndarray:
        """A number per document naming the subject its title names (0: not known, an index
        written before subjects were kept)."""
        reader = self._reader
        return self._cache.column(self.key, "subject",
                                  lambda: codec.column_digests(reader, "subject"))

    def codes(self, column: str) -> tuple[np.ndarray, list[str]]:
        """Each document's value in a column (kind, publisher_name) as a number into the
        segment's distinct values."""
        reader = self._reader
        return self._cache.column(self.key, f"codes:{column}",
                                  lambda: codec.column_codes(reader, column))

    def live(self) -> np.ndarray | None:
        """False where a document is deleted; None when the segment has no deletions."""
        return codec.live_mask(self._reader)

    def spelling_words(self) -> Iterator[str]:
        """The unstemmed words of the segment's titles and bodies (each field's in order)."""
        for fieldname in SPELLING_FIELDS:
            if fieldname not in self._reader.schema:
                continue
            for raw in self._reader.lexicon(fieldname):
                yield raw.decode("utf-8") if isinstance(raw, bytes) else raw

    def cached(self, name: str, compute: Callable[[SegmentView], object]):
        """A value computed once from this segment (`compute(self)`), kept as long as the
        segment's arrays are."""
        return self._cache.column(self.key, name, lambda: compute(self))
