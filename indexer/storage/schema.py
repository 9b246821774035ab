"""The Whoosh schema: what is indexed, stored for display, and kept in columns for updates;
the analyzer Whoosh runs (this engine's one analysis, `indexer.text.analysis`); and an
article's fields as the index stores them."""

from __future__ import annotations

from functools import lru_cache
from pickle import dumps

from whoosh import columns
from whoosh.analysis import Analyzer, Token
from whoosh.fields import COLUMN, ID, STORED, TEXT, Schema
from whoosh.system import pack_uint

from indexer.corpus.article import Article, subject_key
from indexer.corpus.publishers import publisher_of
from indexer.text.analysis import TOKEN_PATTERN, index_terms, normal_form

# Fields a reader may name in a query ("title:cancer"); any other "word:" is plain text.
QUERY_FIELDS = ("title", "body")
# The unstemmed words of each searched field, kept for "did you mean" (Whoosh's
# spelling=True side fields).
SPELLING_FIELDS = ("spell_body", "spell_title")


class HealthAnalyzer(Analyzer):
    """Tokenise, lowercase, fold accents, drop stop words, stem (Porter), in one pass: the
    analysis of `indexer.text.analysis` as Whoosh tokens.

    It produces exactly what Whoosh's RegexTokenizer | LowercaseFilter | CharsetFilter |
    StopFilter | StemFilter chain would, but without five layers of generators per token:
    analysis was half of indexing time. Accent folding lets "Sjogren" find "Sjögren".
    """

    is_morph = True

    def has_morph(self) -> bool:
        """Stemming changes word forms, so Whoosh keeps unstemmed words for spelling."""
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HealthAnalyzer)

    def __hash__(self) -> int:
        return hash(HealthAnalyzer)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 no_morph=False, nomorph=False, **kwargs):
        """Yield Whoosh tokens for `value` (one reused Token object, as Whoosh expects)."""
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        morph = not (no_morph or nomorph)
        if not tokenize:
            token.original = token.text = value
            token.boost, token.stopped = 1.0, False
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        pos = start_pos
        for match in TOKEN_PATTERN.finditer(value):
            word = match.group()
            normal = normal_form(word)
            if normal is None:
                if removestops:
                    continue
                token.text, token.stopped = word.lower(), True
            else:
                token.text, token.stopped = (normal[1] if morph else normal[0]), False
            token.boost = 1.0
            if keeporiginal:
                token.original = word
            if positions:
                token.pos = pos
            pos += 1
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token


def build_analyzer() -> Analyzer:
    """The analyzer for titles and bodies, at index and at query time."""
    return HealthAnalyzer()


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
        publisher=STORED(),
        date=STORED(),
        headings=STORED(),
        source=COLUMN(columns.VarBytesColumn()),
        hash=COLUMN(columns.VarBytesColumn()),
        merge_key=COLUMN(columns.VarBytesColumn()),
        # Per document, for results pages: the subject its title names (same-subject pages
        # are shown as one result) and its publisher's name (a facet).
        subject=COLUMN(columns.VarBytesColumn()),
        publisher_name=COLUMN(columns.VarBytesColumn()),
    )


def document_fields(entry: Article) -> dict:
    """The index fields of one entry: the body is indexed without a teaser's cut-off word but
    stored whole for display."""
    fields = {
        "id": entry.id,
        "title": entry.title,
        "body": entry.indexed_body,
        "_stored_body": entry.body,
        "kind": entry.kind,
        "url": entry.url,
        "description": entry.description,
        "publisher": entry.publisher,
        "date": entry.date,
        "source": entry.source.encode("utf-8", "surrogateescape"),
        "hash": entry.content_hash.encode(),
        "merge_key": entry.merge_key.encode("utf-8"),
        "subject": subject_key(entry.title).encode("utf-8"),
        "publisher_name": publisher_name(entry).encode("utf-8"),
    }
    if entry.headings:  # most entries have none: nothing stored for them
        fields["headings"] = [list(heading) for heading in entry.headings]
    return fields


def publisher_name(entry: Article) -> str:
    """The short name of an entry's publisher ("" when it has none)."""
    found = publisher_of(entry.publisher, entry.url)
    return found.name if found else ""
