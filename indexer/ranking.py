"""Ranking on top of BM25F: the weighting model, and score adjustments Whoosh lacks.

- Coordination: a document matching more of the reader's words ranks above one matching
  fewer, even when one rare word in a very short entry scores high on its own.
- Teasers: a truncated teaser scores a little below a full article that matches as well.
- Meaning: the best matches by words are re-ranked with how close each article's sentence
  embedding is to the question's (`fuse`), so an article that answers the question in other
  words rises above one that only repeats them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from whoosh import scoring
from whoosh.matching import NullMatcher, WrappingMatcher
from whoosh.query import WrappingQuery

_TITLE_WORD = re.compile(r"[\w']+")

# Chosen on NFCorpus dev and MedQuAD (bench/eval.py); never on NFCorpus test.
# b 0.75 -> 0.3 with the re-ranking by meaning and the title match bonus: tune sets
# NFCorpus dev / MedQuAD tune .3398 / .9247 -> .3419 / .9281 (with title boost 1.5).
BM25_B = 0.3
BM25_K1 = 1.2
TITLE_B = 1.0
COORD_POWER = 1.5
TEASER_FACTOR = 0.85
# Coordination by the share of the query's idf a document matches, not by a count of words:
# missing "symptoms" costs less than missing "hamartoma".
COORD_BY_IDF = True
# Coordination only for questions of at most this many words: in a long question most words
# are incidental, and a document matching fewer but better words should not be held down.
COORD_MAX_TERMS = 1000
# Pseudo-relevance feedback (indexer.feedback): words shared by the best first-pass articles,
# added with this weight (0: off) to questions that do not name a whole title.
FEEDBACK_WEIGHT = 0.3
FEEDBACK_DOCS = 10
FEEDBACK_TERMS = 10
# Words in more than this share of all documents are too common to add (0.1 until the
# re-ranking by meaning came: with it, 0.05 gains NFCorpus dev .3380 -> .3398).
FEEDBACK_MAX_SHARE = 0.05
# Re-ranking by meaning: the best DENSE_DEPTH documents by words are re-scored as
# (1 - w) x score / best score + w x cosine(question, article), for questions that do not
# name the best article's whole title (those ask for that article).
DENSE_WEIGHT = 0.8
DENSE_DEPTH = 100
# Those re-ranked are joined by the DENSE_CANDIDATES articles closest in meaning (of those at
# least MEANING_MIN_COSINE close) that the words ranked lower or did not find: an article
# that answers in other words can be found, not only moved up (0: off). NFCorpus dev R@100
# .2884 / .2975 / .2990 / .2992 at 0 / 10 / 20 / 50, nDCG@10 .3418 -> .3421 from 10 on;
# MedQuAD tune unchanged (bench/results/2026-12-02-hybrid.md).
DENSE_CANDIDATES = 20
# When no article has the question's words, the articles at least this close in meaning are
# shown instead (at most MEANING_RESULTS). Matched against their whole collection, the best
# cosine is at least 0.4 for all of 600 MedQuAD tune questions and 70% of NFCorpus dev's,
# and at most 0.361 for 107 strings that are no health question (random letters, "cheap
# flights to paris"): `python -m bench.dense`, "meaning threshold".
MEANING_MIN_COSINE = 0.4
MEANING_RESULTS = 20
# Among the best TITLE_MATCH_DEPTH, an article whose whole title the reader typed, word for
# word ("What is (are) Parkinson's Disease?" names "Parkinson's Disease", not "Parkinson
# disease"), scores this much more (x 1.3): of pages on one subject from several sources,
# the one the reader named comes first. Of two named titles, one part of the other, only the
# longer counts (`named_titles`). bench.eval --tune, round 1 (500 MedQuAD tune questions):
# MRR@10 .9254 / .9333 / .9352 / .9352 at 0 / 0.1 / 0.3 / 0.5, NFCorpus dev unchanged
# (bench/results/tune-2026-12-02.md).
TITLE_MATCH_BONUS = 0.3
TITLE_MATCH_DEPTH = 10


@dataclass(frozen=True)
class RankingModel:
    """Every constant of the ranking (BM25F, coordination, teasers, feedback) in one value."""

    b: float = BM25_B
    k1: float = BM25_K1
    title_b: float = TITLE_B
    coord_power: float = COORD_POWER
    coord_by_idf: bool = COORD_BY_IDF
    coord_max_terms: int = COORD_MAX_TERMS
    teaser_factor: float = TEASER_FACTOR
    feedback_weight: float = FEEDBACK_WEIGHT
    feedback_docs: int = FEEDBACK_DOCS
    feedback_terms: int = FEEDBACK_TERMS
    feedback_max_share: float = FEEDBACK_MAX_SHARE
    dense_weight: float = DENSE_WEIGHT
    dense_depth: int = DENSE_DEPTH
    dense_candidates: int = DENSE_CANDIDATES
    meaning_min_cosine: float = MEANING_MIN_COSINE
    meaning_results: int = MEANING_RESULTS
    title_match_bonus: float = TITLE_MATCH_BONUS

    def field_b(self, fieldname: str) -> float:
        """BM25's length normalisation for a field (titles get their own)."""
        return self.title_b if fieldname == "title" else self.b


def title_words(text: str) -> str:
    """A title or question as its words, case-folded and space-separated, padded with spaces
    (so " a b " in " x a b y " means the words a b appear together)."""
    words = _TITLE_WORD.findall(text.replace("\u2019", "'"))
    return " " + " ".join(w.casefold() for w in words) + " "


def named_by(title: str, question: str) -> bool:
    """True when the question holds the whole title, word for word (see TITLE_MATCH_BONUS)."""
    words = title_words(title)
    return words.strip() != "" and words in title_words(question)


def named_titles(titles: list[str], question: str) -> list[bool]:
    """Which of these titles the question names (`named_by`), leaving out a title that is
    part of a longer one it also names: "Joubert syndrome 2" names "Joubert syndrome 2",
    not "Joubert syndrome"."""
    words = [title_words(t) if named_by(t, question) else None for t in titles]
    named = {w for w in words if w is not None}
    return [w is not None and not any(w != other and w in other for other in named)
            for w in words]


def fuse(scores: np.ndarray, cosines: np.ndarray, weight: float) -> np.ndarray:
    """Scores of documents re-ranked by meaning: (1 - weight) x score / best score + weight x
    cosine. A document with no vector (NaN) takes the mean cosine of the others, so it
    neither gains nor loses against them for lack of one."""
    scores = np.asarray(scores, dtype=np.float64)
    cosines = np.asarray(cosines, dtype=np.float64)
    best = scores.max() if len(scores) else 0.0
    known = ~np.isnan(cosines)
    if best <= 0 or not known.any():
        return scores
    filled = np.where(known, cosines, cosines[known].mean())
    return (1 - weight) * scores / best + weight * filled


def weighting(b: float = BM25_B, k1: float = BM25_K1, title_b: float = TITLE_B):
    """BM25F with the tuned parameters (a gentler length normalisation for titles)."""
    return scoring.BM25F(B=b, K1=k1, title_B=title_b)


def bm25(idf: float, freqs: np.ndarray, lengths: np.ndarray, avg_length: float, b: float,
         k1: float) -> np.ndarray:
    """BM25's per-document weight of one term, as Whoosh's BM25F computes it."""
    norm = k1 * ((1.0 - b) + b * lengths / (avg_length or 1.0))
    return idf * (freqs * (k1 + 1.0)) / (freqs + norm)


def coordination_factors(matched: np.ndarray, wanted: float, power: float) -> np.ndarray:
    """`coordination` for many documents: `matched` holds each one's matched count (or idf)."""
    if wanted <= 0 or power == 0:
        return np.ones_like(matched, dtype=np.float64)
    return (np.minimum(matched, wanted) / wanted) ** power


def coordination(matched: int, wanted: int, power: float = COORD_POWER) -> float:
    """The share of the reader's words a document matches, raised to `power` (1 when all)."""
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
    """Multiplies the child's score by coordination and, for teasers, the teaser factor.

    Both factors are at most 1, so the child's quality bounds stay valid upper bounds and
    Whoosh's block skipping keeps working.
    """

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
