"""Scores a question over the whole index at once, with NumPy: the ranking by words.

A plain question (every word optional, lay-word expansions weighing less) is a sum of BM25F
term weights times coordination and the teaser factor (`indexer.ranking.formulas`). Rather
than walking postings document by document, each term's postings come as arrays from storage
(`SegmentView.postings`, cached) and are added into one score per document, every matching
document counted exactly. Phrases (from multi-word expansions, or quoted) are few and rare:
storage finds their documents with Whoosh's phrase matcher (`SegmentView.phrase`), and they
are added the same way. tests/test_scoring.py checks this against Whoosh's own matchers.

Search syntax (AND, NOT, "phrases", title:word) is scored the same way: its words and phrases
are clauses, and which documents match at all is a boolean mask computed from the postings
(`match_mask`, over the parser's match tree). Whoosh's matchers would score every matching
document in Python: seconds for a question with a quoted phrase over 300,000 articles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from indexer.query.types import (
    AllOf,
    AnyOf,
    Clause,
    Everything,
    Match,
    Phrase,
    Term,
    Without,
)
from indexer.ranking.budget import Budget
from indexer.ranking.formulas import bm25, coordination_factors
from indexer.ranking.model import RankingModel
from indexer.storage import SegmentView, Snapshot


@dataclass
class TopDocs:
    """The best documents (index-wide document number, score) and how many matched."""

    total: int
    hits: list[tuple[int, float]]
    # Documents of `hits` that none of the reader's words found, only feedback words.
    related: frozenset[int] = frozenset()
    # How many of `total` the reader's words found (the rest are related articles).
    matched: int | None = None
    # When asked for: how many subjects the matches are about, and how many matches hold
    # each value of the counted columns ({column: {value: documents}}).
    subjects: int | None = None
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    # The question's time budget ran out: some phrases or the feedback were not scored.
    partial: bool = False

    def __post_init__(self) -> None:
        if self.matched is None:
            self.matched = self.total


def no_documents() -> TopDocs:
    """The answer that matched nothing."""
    return TopDocs(0, [])


def score_clauses(snapshot: Snapshot, clauses: Sequence[Clause],
                  field_boosts: Mapping[str, float], model: RankingModel, limit: int
                  ) -> TopDocs:
    """Rank every document of the snapshot for `clauses`; return the top `limit`."""
    return QuestionScores(snapshot, clauses, field_boosts, model).top(limit)


@dataclass
class _SegmentScores:
    segment: SegmentView
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

    @property
    def offset(self) -> int:
        return self.segment.offset

    def found(self, local: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Which of these documents (all of the segment's by default) count as found: by the
        question's words or by feedback, live, and allowed by search syntax."""
        found = self.hit[local] | self.by_feedback[local]
        if self.live is not None:
            found &= self.live[local]
        if self.allowed is not None:
            found &= self.allowed[local]
        return found


class QuestionScores:
    """A question (plain, or search syntax limited by `match`) scored over every document of
    an index, kept so that words the engine adds (feedback) are scored on top without scoring
    the question again.

    A document's score is coordination x teaser factor x the sum of its clauses' weights; the
    factors depend only on the reader's words, so added clauses only add to the sums.
    """

    def __init__(self, snapshot: Snapshot, clauses: Sequence[Clause],
                 field_boosts: Mapping[str, float], model: RankingModel,
                 match: Match | None = None,
                 filters: Mapping[str, str] | None = None,
                 budget: Budget | None = None) -> None:
        """Score `clauses` over every document; with `match` (the match tree of search
        syntax), only the documents it matches count, and with `filters` ({column: value},
        a reader's choice of publisher or kind) only those holding each value. Once
        `budget` is spent, the phrases not yet matched are left out (`budget.cut`)."""
        self.snapshot, self.field_boosts, self.model = snapshot, field_boosts, model
        self.budget = budget or Budget()
        own = {t: c.weight for c in clauses if c.own for t in c.terms}
        coord_weights = _coordination_weights(snapshot, own, model)
        self.segments = [self._score_segment(segment, clauses, coord_weights, match,
                                             filters or {})
                         for segment in snapshot.segments]

    def add(self, clauses: Sequence[Clause]) -> None:
        """Score more clauses into the documents' sums; they must not count for
        coordination (the engine's own words: not the reader's, covering none of them)."""
        assert all(not c.own and not c.covers for c in clauses)
        for seg in self.segments:
            for clause in clauses:
                found = seg.by_feedback if clause.feedback else seg.hit
                self._add_clause(seg.segment, clause, seg.sums, found, None)

    def top(self, limit: int) -> TopDocs:
        """The best `limit` documents, how many matched, and which only through feedback."""
        all_scores, all_docnums, all_related = [], [], []
        total = matched = 0
        for seg in self.segments:
            # Only the documents found are ranked: selecting among a whole segment's worth of
            # equal non-scores is what made partitioning slow.
            found = np.flatnonzero(seg.found())
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
            found = seg.found(local)
            local, inside = local[found], inside[found]
            seg_scores = seg.sums[local].copy()
            factor = self._factor(seg, local)
            if factor is not None:
                seg_scores *= factor
            scores[inside] = seg_scores
            by_words[inside] = seg.hit[local]
        return scores, by_words

    def _ties(self, docnums: np.ndarray) -> np.ndarray:
        """The tie keys (`SegmentView.tie_keys`) of index-wide document numbers."""
        keys = np.zeros(len(docnums), dtype=np.uint64)
        for seg in self.segments:
            n = len(seg.sums)
            inside = (docnums >= seg.offset) & (docnums < seg.offset + n)
            if inside.any():
                keys[inside] = seg.segment.tie_keys()[docnums[inside] - seg.offset]
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

    def counts(self, columns: Sequence[str]) -> tuple[int, dict[str, dict[str, int]]]:
        """Of the documents found: how many subjects they are about (distinct titles; a
        document of an index that keeps no subjects counts as its own), and how many hold
        each value of each column ({column: {value: documents}})."""
        keys, unknown = [], 0
        tallies: dict[str, dict[str, int]] = {c: {} for c in columns}
        for seg in self.segments:
            found = np.flatnonzero(seg.found())
            subjects = seg.segment.subjects()[found]
            unknown += int(np.count_nonzero(subjects == 0))
            keys.append(subjects[subjects != 0])
            for column in columns:
                codes, values = seg.segment.codes(column)
                for code, n in enumerate(np.bincount(codes[found], minlength=len(values))):
                    if n and values[code]:
                        tally = tallies[column]
                        tally[values[code]] = tally.get(values[code], 0) + int(n)
        distinct = len(np.unique(np.concatenate(keys))) if keys else 0
        return distinct + unknown, tallies

    def _score_segment(self, segment: SegmentView, clauses: Sequence[Clause],
                       coord_weights: Mapping[str, float] | None, match: Match | None,
                       filters: Mapping[str, str]) -> _SegmentScores:
        n = segment.size
        sums = np.zeros(n, dtype=np.float64)
        hit = np.zeros(n, dtype=bool)
        by_feedback = np.zeros(n, dtype=bool)
        # Per reader's word: which documents match it (or an expansion standing for it).
        matched: dict[str, np.ndarray] = {}
        for clause in clauses:
            counted = [t for t in (clause.terms if clause.own else clause.covers)
                       if coord_weights and t in coord_weights]
            in_term = np.zeros(n, dtype=bool) if counted else None
            self._add_clause(segment, clause, sums, by_feedback if clause.feedback else hit,
                             in_term)
            for t in counted:
                matched[t] = in_term | matched[t] if t in matched else in_term
        share, wanted = None, 0.0
        if coord_weights:
            share = np.zeros(n, dtype=np.float64)
            for t, mask in matched.items():
                share += mask * coord_weights[t]
            wanted = sum(coord_weights.values())
        teasers = segment.teasers() if self.model.teaser_factor != 1.0 else None
        allowed = match_mask(segment, match, self.budget) if match is not None else None
        for column, value in filters.items():
            codes, values = segment.codes(column)
            wanted = codes == values.index(value) if value in values else np.zeros(n, bool)
            allowed = wanted if allowed is None else allowed & wanted
        return _SegmentScores(segment, sums, share, wanted, teasers, hit, by_feedback,
                              segment.live(), allowed)

    def _add_clause(self, segment: SegmentView, clause: Clause, sums: np.ndarray,
                    found: np.ndarray, in_term: np.ndarray | None) -> None:
        phrase = len(clause.terms) > 1
        for fieldname, boost in self.field_boosts.items():
            if clause.fields and fieldname not in clause.fields:
                continue
            if phrase:
                # Whoosh checks a phrase's positions document by document, in Python: the
                # one stage whose cost grows with the question, so the one the budget stops.
                if self.budget.spent():
                    return
                postings = segment.phrase(fieldname, clause.terms)
                if not len(postings.docs):
                    continue
                weights = postings.freqs.astype(np.float64)
            else:
                term = clause.terms[0]
                postings = segment.postings(fieldname, term)
                if not len(postings.docs):
                    continue
                weights = bm25(self.snapshot.idf(fieldname, term), postings.freqs,
                               segment.lengths(fieldname)[postings.docs],
                               self.snapshot.avg_length(fieldname) or 1.0,
                               self.model.field_b(fieldname), self.model.k1)
            sums[postings.docs] += (boost * clause.weight) * weights
            found[postings.docs] = True
            if in_term is not None:
                in_term[postings.docs] = True


def match_mask(segment: SegmentView, match: Match, budget: Budget | None = None
               ) -> np.ndarray:
    """Which documents of one segment a match tree matches, deletions included: words and
    phrases from their (cached) postings, AND / OR / NOT as array operations. Once `budget`
    is spent, a phrase not yet matched stands for the documents holding all its words, in
    any order (`budget.cut`)."""
    if isinstance(match, Term):
        mask = np.zeros(segment.size, dtype=bool)
        mask[segment.postings(match.fieldname, match.text).docs] = True
        return mask
    if isinstance(match, Phrase):
        mask = np.zeros(segment.size, dtype=bool)
        if budget is not None and budget.spent():
            mask[:] = True
            for word in match.words:
                within = np.zeros(segment.size, dtype=bool)
                within[segment.postings(match.fieldname, word).docs] = True
                mask &= within
        else:
            mask[segment.phrase(match.fieldname, match.words).docs] = True
        return mask
    if isinstance(match, Without):
        return match_mask(segment, match.keep, budget) & ~match_mask(segment, match.drop,
                                                                      budget)
    if isinstance(match, Everything):
        return np.ones(segment.size, dtype=bool)
    if isinstance(match, AllOf | AnyOf) and match.parts:
        masks = [match_mask(segment, part, budget) for part in match.parts]
        combine = np.logical_and if isinstance(match, AllOf) else np.logical_or
        return combine.reduce(masks) if len(masks) > 1 else masks[0]
    return np.zeros(segment.size, dtype=bool)  # AND or OR of nothing: matches nothing


def _coordination_weights(snapshot: Snapshot, own: Mapping[str, float], model: RankingModel
                          ) -> dict[str, float] | None:
    """How much each of the reader's words counts in coordination: its idf (or 1), times its
    weight in the question when that is below 1 (a word framing the question counts less; a
    repeated word counts once)."""
    if len(own) <= 1 or not model.coord_power or len(own) > model.coord_max_terms:
        return None
    if model.coord_by_idf:
        return {t: snapshot.idf("body", t) * min(1.0, w) for t, w in own.items()}
    return {t: min(1.0, w) for t, w in own.items()}
