"""The Whoosh schema: what is indexed, stored for display, and kept in columns for updates."""

from __future__ import annotations

from functools import lru_cache
from pickle import dumps

from whoosh import columns
from whoosh.fields import COLUMN, ID, STORED, TEXT, Schema
from whoosh.system import pack_uint

from indexer.analysis import build_analyzer, index_terms

# Fields a reader may name in a query ("title:cancer"); any other "word:" is plain text.
QUERY_FIELDS = ("title", "body")


class HealthText(TEXT):
    """A TEXT field that analyses each value once for both its index terms (with positions)
    and its spelling words: Whoosh runs the analyzer twice, and a third of indexing time was
    analysis. The postings are exactly those of TEXT with the same analyzer."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._last: tuple[str, set[str]] | None = None

    def index(self, value, **kwargs):
        """(term bytes, frequency, weight, encoded positions) for each term of the value."""
        if not isinstance(value, str):
            return super().index(value, **kwargs)
        postings, words = index_terms(value)
        # Whoosh asks for the same value's spelling words right after (SegmentWriter).
        self._last = (value, words)
        boost = self.format.field_boost
        return [(term.encode("utf-8"), len(positions), len(positions) * boost,
                 encode_positions(positions)) for term, positions in postings.items()]

    def spellable_words(self, value):
        """The value's unstemmed words, sorted, from the pass `index` made when it can."""
        last, self._last = self._last, None
        if last is not None and last[0] is value:
            return iter(sorted(last[1]))
        return super().spellable_words(value)

    def __getstate__(self) -> dict:
        # The schema is pickled into the index's table of contents: not the last value.
        state = dict(self.__dict__)
        state["_last"] = None
        return state


def encode_positions(positions: list[int]) -> bytes:
    """Whoosh's Positions encoding (a count, then the pickled gaps), without its loop."""
    if len(positions) == 1:
        return _single_position(positions[0])
    gaps = [b - a for a, b in zip([0, *positions], positions, strict=False)]
    return pack_uint(len(gaps)) + dumps(gaps, 2)


@lru_cache(maxsize=65536)
def _single_position(position: int) -> bytes:
    # Most words of an article occur once: their encodings repeat from article to article.
    return pack_uint(1) + dumps([position], 2)


def build_schema() -> Schema:
    """The index schema.

    title and body share one analyzer (the query side uses it too); `spelling=True` keeps the
    unstemmed words in side fields for "did you mean". id, kind, source, content hash and
    merge key are columns, so an incremental run reads them without unpickling every body.
    """
    analyzer = build_analyzer()
    return Schema(
        id=ID(unique=True, stored=True, sortable=True),
        title=HealthText(analyzer=analyzer, stored=True, spelling=True),
        body=HealthText(analyzer=analyzer, stored=True, spelling=True),
        kind=ID(stored=True, sortable=True),
        url=STORED(),
        description=STORED(),
        source=COLUMN(columns.VarBytesColumn()),
        hash=COLUMN(columns.VarBytesColumn()),
        merge_key=COLUMN(columns.VarBytesColumn()),
    )
