"""Pseudo-relevance feedback: the words the best first-pass articles share, added to the query.

A topical question ("How beans help our bones") names a subject in few words; the articles
that answer it best use words the reader did not type ("calcium", "osteoporosis"). Taking the
words that the top few articles of a first pass have in common (relevance model RM1: each
word's share of an article's text, weighted by the article's score) and adding them with a
small weight finds more of those articles (NFCorpus dev nDCG@10 +0.011, Recall@100 +0.05;
bench/results/tune-*.md).

A question that names an article's whole title ("What are the symptoms of Gaucher disease?",
"stomach cancer") is a request for that article, not for a subject: expanding it only pulls
in its neighbours, so it is left as typed.

Pure functions: the engine hands in analysed texts and statistics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence


def is_navigational(title_terms: Collection[str], query_terms: Collection[str]) -> bool:
    """True when the query contains every word of the best article's title: it asks for that
    article (a known item), not for a subject to widen."""
    return bool(title_terms) and set(title_terms) <= set(query_terms)


def feedback_terms(docs: Sequence[tuple[Sequence[str], float]], exclude: Collection[str],
                   doc_share: Callable[[str], float], max_share: float, limit: int
                   ) -> list[tuple[str, float]]:
    """The `limit` words best shared by the first-pass articles, as (term, weight), heaviest
    first, weights scaled so the heaviest is 1.

    `docs` holds each article's analysed terms and its first-pass score. A word's weight is
    the sum over articles of its share of the article's words times the article's share of
    the scores (RM1). Words of the query (`exclude`) and words in more than `max_share` of all
    documents (`doc_share(term)`, too common to say anything) are left out.
    """
    total = sum(max(score, 0.0) for _, score in docs)
    if total <= 0 or limit <= 0:
        return []
    weights: Counter[str] = Counter()
    for terms, score in docs:
        if not terms or score <= 0:
            continue
        scale = score / total / len(terms)
        for term, n in Counter(terms).items():
            weights[term] += n * scale
    chosen: list[tuple[str, float]] = []
    for term, weight in weights.most_common():
        if term in exclude or len(term) < 2 or doc_share(term) > max_share:
            continue
        chosen.append((term, weight))
        if len(chosen) == limit:
            break
    if not chosen:
        return []
    top = chosen[0][1]
    return [(term, weight / top) for term, weight in chosen]
