"""The ranking model: every constant of the ranking in one value (`RankingModel`), each with
where it came from.

- BM25F over title and body, with a gentler length normalisation for titles.
- Coordination: a document matching more of the reader's words ranks above one matching
  fewer, even when one rare word in a very short entry scores high on its own.
- Teasers: a truncated teaser scores a little below a full article that matches as well.
- Feedback: topical questions widened by the words the best first-pass articles share.
- Meaning: the best matches by words are re-ranked with how close each article's sentence
  embedding is to the question's, so an article that answers the question in other words
  rises above one that only repeats them.
- The article the reader named: a title typed word for word scores up.

The formulas are `indexer.ranking.formulas`; the order of the stages is
`indexer.ranking.pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass

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
# Pseudo-relevance feedback (indexer.ranking.feedback): words shared by the best first-pass
# articles, added with this weight (0: off) to questions that do not name a whole title.
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
    """Every constant of the ranking (BM25F, coordination, teasers, feedback, meaning, the
    named title) in one value."""

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

    @property
    def bm25(self) -> tuple[float, float, float]:
        """(b, k1, title b): BM25F's parameters, as storage scores phrases with them."""
        return (self.b, self.k1, self.title_b)
