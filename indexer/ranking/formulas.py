"""The ranking's formulas, as pure functions over numbers and arrays: BM25's term weight,
coordination, the fusion of scores by words with closeness in meaning, and which titles a
question names word for word."""

from __future__ import annotations

import re

import numpy as np

_TITLE_WORD = re.compile(r"[\w']+")


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


def bm25(idf: float, freqs: np.ndarray, lengths: np.ndarray, avg_length: float, b: float,
         k1: float) -> np.ndarray:
    """BM25's per-document weight of one term, as Whoosh's BM25F computes it."""
    norm = k1 * ((1.0 - b) + b * lengths / (avg_length or 1.0))
    return idf * (freqs * (k1 + 1.0)) / (freqs + norm)


def coordination_factors(matched: np.ndarray, wanted: float, power: float) -> np.ndarray:
    """Coordination for many documents: the share of the reader's words each one matches
    (`matched`: its matched words' weights, out of `wanted`), raised to `power`; 1 when it
    matches them all, and 1 for every document when there is nothing to share."""
    if wanted <= 0 or power == 0:
        return np.ones_like(matched, dtype=np.float64)
    return (np.minimum(matched, wanted) / wanted) ** power
