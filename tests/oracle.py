"""The oracle the engine's array scoring is held against: Whoosh's own matchers, with the
engine's coordination (counted in matched words) and teaser factor as a wrapping query, and
Whoosh's own searchers and readers of an index folder. Test code only: the engine itself
scores with arrays (indexer.ranking.lexical) and never holds a Whoosh object above storage.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from whoosh import scoring
from whoosh.matching import NullMatcher, WrappingMatcher
from whoosh.query import WrappingQuery

from indexer.ranking.model import COORD_POWER, TEASER_FACTOR, RankingModel
from indexer.storage import IndexStore
from indexer.storage.codec import open_index
from indexer.storage.schema import build_schema


def whoosh_index(index_dir: Path | str, use_mmap: bool = True):
    """The live generation of an index folder as a Whoosh FileIndex."""
    return open_index(IndexStore(index_dir).current_path(), build_schema(), use_mmap)


@contextlib.contextmanager
def whoosh_searcher(index_dir: Path | str, model: RankingModel | None = None
                    ) -> Iterator[object]:
    """A Whoosh searcher of the live generation, weighting by the model's BM25F."""
    model = model or RankingModel()
    weighting = scoring.BM25F(B=model.b, K1=model.k1, title_B=model.title_b)
    with whoosh_index(index_dir).searcher(weighting=weighting) as searcher:
        yield searcher


def coordination(matched: int, wanted: int, power: float = COORD_POWER) -> float:
    """The share of the reader's words a document matches, counted in words, raised to
    `power` (1 when all)."""
    if wanted <= 1 or power == 0:
        return 1.0
    return (min(matched, wanted) / wanted) ** power


class Ranked(WrappingQuery):
    """Wraps a query so its scores get coordination and the teaser factor."""

    def __init__(self, child, own_terms=frozenset(), power: float = COORD_POWER,
                 teaser_factor: float = TEASER_FACTOR):
        super().__init__(child)
        self.own_terms = frozenset(own_terms)
        self.power = power
        self.teaser_factor = teaser_factor

    def _rewrap(self, child):
        return self.__class__(child, self.own_terms, self.power, self.teaser_factor)

    def __eq__(self, other):
        return (isinstance(other, Ranked) and self.child == other.child
                and self.own_terms == other.own_terms and self.power == other.power
                and self.teaser_factor == other.teaser_factor)

    def __hash__(self):
        return hash((self.child, self.own_terms, self.power, self.teaser_factor))

    def matcher(self, searcher, context=None):
        if context is not None and self.own_terms and self.power:
            # Counting matched words needs matchers that keep track of the current document.
            context = context.set(needs_current=True)
        child = self.child.matcher(searcher, context)
        if child is NullMatcher or not child.is_active():
            return child
        reader = searcher.reader()
        kinds = reader.column_reader("kind") if "kind" in reader.schema else None
        own = frozenset(t.encode("utf-8") for t in self.own_terms)
        return RankedMatcher(child, own, self.power, self.teaser_factor, kinds)


class RankedMatcher(WrappingMatcher):
    """Multiplies the child's score by coordination and, for teasers, the teaser factor."""

    def __init__(self, child, own, power, teaser_factor, kinds):
        super().__init__(child)
        self.own, self.power, self.teaser_factor, self.kinds = own, power, teaser_factor, kinds

    def _replacement(self, newchild):
        return self.__class__(newchild, self.own, self.power, self.teaser_factor, self.kinds)

    def score(self):
        score = self.child.score()
        if self.own and self.power:
            matched = {text for _, text in self.child.matching_terms()}
            score *= coordination(len(matched & self.own), len(self.own), self.power)
        if self.kinds is not None and self.teaser_factor != 1.0:
            kind = self.kinds[self.child.id()]
            if kind in ("teaser", b"teaser"):
                score *= self.teaser_factor
        return score


def whoosh_top(searcher, query, own, model: RankingModel, limit: int
               ) -> tuple[int, list[tuple[int, float]]]:
    """(matches, the best `limit` (document number, score)) of a Whoosh query, ranked by
    Whoosh's matchers wrapped in `Ranked`."""
    ranked = Ranked(query, own, power=model.coord_power, teaser_factor=model.teaser_factor)
    results = searcher.search(ranked, limit=limit, optimize=False)
    # len(results) undercounts once a limit is set (a Whoosh 2.7 quirk): count the matches.
    total = sum(1 for _ in searcher.docs_for_query(query))
    return total, [(hit.docnum, hit.score) for hit in results]
