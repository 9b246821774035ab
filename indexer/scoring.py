"""Scores a plain question over the whole index at once, with numpy.

A plain question (every word optional, lay-word expansions weighing less) is a sum of BM25F
term weights times coordination and the teaser factor (see `indexer.ranking`). Rather than
walking Whoosh's matchers document by document, each term's postings are read as arrays
(`indexer.postings`, cached) and added into one score per document: the same ranking as the
Whoosh query `QueryBuilder` builds (tests/test_scoring.py compares them), every matching
document counted exactly, at a fraction of the cost. Phrases (from multi-word expansions)
are few and rare, so they go through Whoosh's phrase matcher and are added the same way.

Search syntax (AND, NOT, "phrases", title:word) is scored the same way: its words and phrases
are clauses, and which documents match at all is a boolean mask computed from the postings
(`match_mask`). Whoosh's matchers would score every matching document in Python: seconds for
a question with a quoted phrase over 300,000 articles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from whoosh import query as q

from indexer.postings import (
    Postings,
    PostingsCache,
    column_equals,
    field_lengths,
    id_order_keys,
    live_mask,
)
from indexer.ranking import RankingModel, bm25, coordination_factors


@dataclass(frozen=True)
class Clause:
    """One part of a plain question: a word, or a phrase, and how much it weighs."""

    terms: tuple[str, ...]
    weight: float = 1.0
    own: bool = True  # the reader's own word (counts for coordination), not an expansion
    # For an expansion: the reader's words it stands for ("gastric" for "stomach"), so that a
    # document with the medical word is not held down for lacking the lay one.
    covers: tuple[str, ...] = ()
    # A word the engine added on its own (feedback): the documents it alone finds are
    # related articles, not matches of the reader's words.
    feedback: bool = False
    # Only these fields (title:word); empty: every searched field.
    fields: tuple[str, ...] = ()


@dataclass
class TopDocs:
    """The best documents (index-wide document number, score) and how many matched."""

    total: int
    hits: list[tuple[int, float]]
    # Documents of `hits` that none of the reader's words found, only feedback words.
    related: frozenset[int] = frozenset()
    # How many of `total` the reader's words found (the rest are related articles).
    matched: int | None = None

    def __post_init__(self) -> None:
        if self.matched is None:
            self.matched = self.total


def score_clauses(searcher, clauses: Sequence[Clause], field_boosts: Mapping[str, float],
                  model: RankingModel, cache: PostingsCache, limit: int) -> TopDocs:
    """Rank every document of `searcher`'s index for `clauses`; return the top `limit`."""
    return QuestionScores(searcher, clauses, field_boosts, model, cache).top(limit)


@dataclass
class _SegmentScores:
    leaf: object
    offset: int
    sums: np.ndarray  # the clauses' weighted BM25, before coordination and the teaser factor
    # Per document, the share of the reader's words it matches (weighted), out of `wanted`
    # (None: no coordination); and which documents are teasers (None: teasers are not
    # scored down).
    share: np.ndarray | None
    wanted: float
    teasers: np.ndarray | None
    hit: np.ndarray  # found by the reader's words or their expansions
    by_feedback: np.ndarray  # found by feedback words
    live: np.ndarray | None  # None: no deletions
    allowed: np.ndarray | None  # what search syntax lets match (None: anything found)


class QuestionScores:
    """A question (plain, or search syntax limited by `match`) scored over every document of
    an index, kept so that words the engine adds (feedback) are scored on top without scoring
    the question again.

    A document's score is coordination x teaser factor x the sum of its clauses' weights; the
    factors depend only on the reader's words, so added clauses only add to the sums.
    """

    def __init__(self, searcher, clauses: Sequence[Clause], field_boosts: Mapping[str, float],
                 model: RankingModel, cache: PostingsCache, match: q.Query | None = None
                 ) -> None:
        """Score `clauses` over every document; with `match` (a query of search syntax), only
        the documents it matches count."""
        self.searcher, self.field_boosts, self.model, self.cache = (
            searcher, field_boosts, model, cache)
        own = {t: c.weight for c in clauses if c.own for t in c.terms}
        coord_weights = _coordination_weights(searcher, own, model)
        self.segments = [self._score_segment(leaf, offset, clauses, coord_weights, match)
                         for leaf, offset in searcher.leaf_searchers()]

    def add(self, clauses: Sequence[Clause]) -> None:
        """Score more clauses into the documents' sums; they must not count for
        coordination (the engine's own words: not the reader's, covering none of them)."""
        assert all(not c.own and not c.covers for c in clauses)
        for seg in self.segments:
            reader = seg.leaf.reader()
            for clause in clauses:
                found = seg.by_feedback if clause.feedback else seg.hit
                self._add_clause(seg.leaf, reader, clause, seg.sums, found, None)

    def top(self, limit: int) -> TopDocs:
        """The best `limit` documents, how many matched, and which only through feedback."""
        all_scores, all_docnums, all_related = [], [], []
        total = matched = 0
        for seg in self.segments:
            hit = seg.hit | seg.by_feedback
            if seg.live is not None:
                hit &= seg.live
            if seg.allowed is not None:
                hit &= seg.allowed
            # Only the documents found are ranked: selecting among a whole segment's worth of
            # equal non-scores is what made partitioning slow.
            found = np.flatnonzero(hit)
            related = ~seg.hit[found]  # found, but not by the reader's words: by feedback
            total += len(found)
            matched += len(found) - int(np.count_nonzero(related))
            scores = seg.sums[found]
            factor = self._factor(seg, found)
            if factor is not None:
                scores *= factor
            all_scores.append(scores)
            all_docnums.append(found + seg.offset)
            all_related.append(related)
        if total == 0 or limit <= 0:
            return TopDocs(total, [], matched=matched)
        scores, docnums, related = (
            (parts[0] if len(parts) == 1 else np.concatenate(parts))
            for parts in (all_scores, all_docnums, all_related))
        k = min(limit, total)
        # The k best. Equal scores are ordered by a key drawn from the document's id (then
        # its number, should two keys collide): the same order whatever the build did, and
        # a total order, so that a page and the next never share or skip a document.
        kth = np.partition(scores, total - k)[total - k]
        above = np.flatnonzero(scores > kth)
        tied = np.flatnonzero(scores == kth)
        if len(tied) > k - len(above):
            tied = tied[np.lexsort((docnums[tied], self._ties(docnums[tied])))
                        [: k - len(above)]]
        top = np.concatenate([above, tied])
        top = top[np.lexsort((docnums[top], self._ties(docnums[top]), -scores[top]))]
        return TopDocs(total, [(int(docnums[i]), float(scores[i])) for i in top],
                       frozenset(int(docnums[i]) for i in top if related[i]), matched)

    def scores_of(self, docnums: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The scores `top` gives these index-wide document numbers (0 for a document the
        question did not find), and which of them the reader's words found."""
        docnums = np.asarray(docnums, dtype=np.int64)
        scores = np.zeros(len(docnums), dtype=np.float64)
        by_words = np.zeros(len(docnums), dtype=bool)
        for seg in self.segments:
            inside = np.flatnonzero((docnums >= seg.offset)
                                    & (docnums < seg.offset + len(seg.sums)))
            if not len(inside):
                continue
            local = docnums[inside] - seg.offset
            found = seg.hit[local] | seg.by_feedback[local]
            if seg.live is not None:
                found &= seg.live[local]
            if seg.allowed is not None:
                found &= seg.allowed[local]
            local, inside = local[found], inside[found]
            seg_scores = seg.sums[local].copy()
            factor = self._factor(seg, local)
            if factor is not None:
                seg_scores *= factor
            scores[inside] = seg_scores
            by_words[inside] = seg.hit[local]
        return scores, by_words

    def _ties(self, docnums: np.ndarray) -> np.ndarray:
        """The tie keys (`tie_keys`) of index-wide document numbers, read only for these."""
        keys = np.zeros(len(docnums), dtype=np.uint64)
        for seg in self.segments:
            n = len(seg.sums)
            inside = (docnums >= seg.offset) & (docnums < seg.offset + n)
            if inside.any():
                keys[inside] = tie_keys(seg.leaf.reader(), self.cache)[docnums[inside]
                                                                       - seg.offset]
        return keys

    def _factor(self, seg: _SegmentScores, found: np.ndarray) -> np.ndarray | None:
        """Coordination times the teaser factor for the documents `found` (None: all 1).
        Computed for those only: the power is costly, and most documents are not found."""
        factor = None
        if seg.share is not None:
            factor = coordination_factors(seg.share[found], seg.wanted, self.model.coord_power)
        if seg.teasers is not None:
            teasers = seg.teasers[found]
            if teasers.any():
                factor = np.ones(len(found), dtype=np.float64) if factor is None else factor
                factor[teasers] *= self.model.teaser_factor
        return factor

    def _score_segment(self, leaf, offset: int, clauses, coord_weights, match
                       ) -> _SegmentScores:
        model, cache = self.model, self.cache
        reader = leaf.reader()
        n = reader.doc_count_all()
        sums = np.zeros(n, dtype=np.float64)
        hit = np.zeros(n, dtype=bool)
        by_feedback = np.zeros(n, dtype=bool)
        # Per reader's word: which documents match it (or an expansion standing for it).
        matched: dict[str, np.ndarray] = {}
        for clause in clauses:
            counted = [t for t in (clause.terms if clause.own else clause.covers)
                       if coord_weights and t in coord_weights]
            in_term = np.zeros(n, dtype=bool) if counted else None
            self._add_clause(leaf, reader, clause, sums,
                             by_feedback if clause.feedback else hit, in_term)
            for t in counted:
                matched[t] = in_term | matched[t] if t in matched else in_term
        share, wanted = None, 0.0
        if coord_weights:
            share = np.zeros(n, dtype=np.float64)
            for t, mask in matched.items():
                share += mask * coord_weights[t]
            wanted = sum(coord_weights.values())
        teasers = teaser_mask(reader, cache) if model.teaser_factor != 1.0 else None
        allowed = (match_mask(self.searcher, leaf, match, cache) if match is not None
                   else None)
        return _SegmentScores(leaf, offset, sums, share, wanted, teasers, hit, by_feedback,
                              live_mask(reader), allowed)

    def _add_clause(self, leaf, reader, clause: Clause, sums, found, in_term) -> None:
        if len(clause.terms) > 1:
            _add_phrase(self.searcher, leaf, clause, self.field_boosts, self.cache, sums, found,
                        in_term)
        else:
            _add_term(self.searcher, reader, clause, self.field_boosts, self.model, self.cache,
                      sums, found, in_term)


def match_mask(searcher, leaf, query: q.Query, cache: PostingsCache) -> np.ndarray:
    """Which documents of one segment (`leaf` of `searcher`) a query matches, deletions
    included: words and phrases from their (cached) postings, AND / OR / NOT as array
    operations, anything else through Whoosh's matcher for that query alone."""
    reader = leaf.reader()
    n = reader.doc_count_all()
    if isinstance(query, q.Term):
        mask = np.zeros(n, dtype=bool)
        if query.fieldname in reader.schema and isinstance(query.text, str):
            mask[cache.postings(reader, query.fieldname, query.text).docs] = True
        return mask
    if isinstance(query, q.Phrase) and query.slop == 1:
        mask = np.zeros(n, dtype=bool)
        mask[phrase_postings(searcher, leaf, query.fieldname, tuple(query.words), cache).docs] \
            = True
        return mask
    if isinstance(query, q.AndNot):
        return (match_mask(searcher, leaf, query.a, cache)
                & ~match_mask(searcher, leaf, query.b, cache))
    if isinstance(query, q.Not):
        return ~match_mask(searcher, leaf, query.query, cache)
    if (isinstance(query, q.And) or (type(query) is q.Or and not query.minmatch)) \
            and query.subqueries:
        masks = [match_mask(searcher, leaf, sub, cache) for sub in query.subqueries]
        combine = np.logical_and if isinstance(query, q.And) else np.logical_or
        return combine.reduce(masks) if len(masks) > 1 else masks[0]
    mask = np.zeros(n, dtype=bool)
    ids = np.fromiter(query.matcher(leaf).all_ids(), dtype=np.int64)
    mask[ids] = True
    return mask


def length_column(reader, fieldname: str, cache: PostingsCache) -> np.ndarray:
    """Every document's length in a field of one segment (cached: segments never change)."""
    return cache.column(reader, f"len:{fieldname}", lambda r: field_lengths(r, fieldname))


def tie_keys(reader, cache: PostingsCache) -> np.ndarray:
    """Each document's place among equal scores in one segment (cached; see id_order_keys)."""
    return cache.column(reader, "tie", id_order_keys)


def teaser_mask(reader, cache: PostingsCache) -> np.ndarray:
    """Which documents of one segment are teasers (cached)."""
    return cache.column(reader, "teaser", lambda r: column_equals(r, "kind", "teaser"))


def _coordination_weights(searcher, own: Mapping[str, float], model: RankingModel
                          ) -> dict[str, float] | None:
    """How much each of the reader's words counts in coordination: its idf (or 1), times its
    weight in the question when that is below 1 (a word framing the question counts less; a
    repeated word counts once)."""
    if len(own) <= 1 or not model.coord_power or len(own) > model.coord_max_terms:
        return None
    if model.coord_by_idf:
        return {t: searcher.idf("body", t) * min(1.0, w) for t, w in own.items()}
    return {t: min(1.0, w) for t, w in own.items()}


def _add_term(top_searcher, reader, clause, field_boosts, model, cache, scores, hit, in_term):
    term = clause.terms[0]
    for fieldname, boost in field_boosts.items():
        if clause.fields and fieldname not in clause.fields:
            continue
        postings = cache.postings(reader, fieldname, term)
        if not len(postings.docs):
            continue
        lengths = length_column(reader, fieldname, cache)
        weights = bm25(top_searcher.idf(fieldname, term), postings.freqs,
                       lengths[postings.docs], top_searcher.avg_field_length(fieldname) or 1.0,
                       model.field_b(fieldname), model.k1)
        scores[postings.docs] += (boost * clause.weight) * weights
        hit[postings.docs] = True
        if in_term is not None:
            in_term[postings.docs] = True


def phrase_postings(searcher, leaf, fieldname: str, words: tuple[str, ...],
                    cache: PostingsCache) -> Postings:
    """The documents of one segment (`leaf` of `searcher`) holding a phrase in a field, with
    its Whoosh score at weight 1 in place of frequencies. Cached: Whoosh checks positions
    document by document in Python. The score depends on index-wide statistics, so the key
    holds the index's generation."""
    top = searcher.reader()
    key = (fieldname, "phrase", top.generation(), top.doc_count_all(), words)
    return cache.get(leaf.reader(), key, lambda: _walk_phrase(leaf, fieldname, words))


def _walk_phrase(leaf, fieldname: str, words: tuple[str, ...]) -> Postings:
    matcher = q.Phrase(fieldname, list(words)).matcher(leaf)
    docs, values = [], []
    while matcher.is_active():
        docs.append(matcher.id())
        values.append(matcher.score())
        matcher.next()
    return Postings(np.array(docs, dtype=np.int32), np.array(values, dtype=np.float32))


def _add_phrase(searcher, leaf, clause: Clause, field_boosts, cache: PostingsCache,
                scores: np.ndarray, hit: np.ndarray, in_term: np.ndarray | None) -> None:
    for fieldname, boost in field_boosts.items():
        if clause.fields and fieldname not in clause.fields:
            continue
        found = phrase_postings(searcher, leaf, fieldname, clause.terms, cache)
        if not len(found.docs):
            continue
        scores[found.docs] += (boost * clause.weight) * found.freqs.astype(np.float64)
        hit[found.docs] = True
        if in_term is not None:
            in_term[found.docs] = True
