"""The order of the ranking stages, and each stage as a public function.

`rank` runs them for one parsed question:

1. `QuestionScores`: every document scored by the question's words (`indexer.ranking.lexical`),
   deep enough for the stages after it.
2. `names_best_title`: a question that names the best article's whole title asks for that
   article; it is neither widened (3) nor re-ranked by meaning (4).
3. `feedback_clauses`: a topical question is widened by the words the best first-pass
   articles share, scored on top of the first pass.
4. `rerank_by_meaning`: the best by words, joined by the articles closest in meaning, are
   re-ranked with how close each article's vector is to the question's.
5. `favour_named_titles`: among the best few, an article whose whole title the question holds
   word for word scores up.

Search syntax says exactly what may match and how: it gets neither feedback (3) nor meaning
(4), nor the title bonus (5). `nearest_by_meaning` is the answer when no article has the
words at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.query.types import Clause, ParsedQuery
from indexer.ranking.budget import Budget
from indexer.ranking.feedback import feedback_terms, is_navigational
from indexer.ranking.formulas import fuse, named_titles
from indexer.ranking.lexical import QuestionScores, TopDocs, no_documents
from indexer.ranking.meaning import Meaning, Vectors, closest
from indexer.ranking.model import TITLE_MATCH_DEPTH, RankingModel
from indexer.storage import Snapshot
from indexer.text.analysis import analyze

# Feedback reads the opening of each top article: enough to say what it is about.
FEEDBACK_CHARS = 5000

Stored = Callable[[int], dict]


@dataclass(frozen=True)
class RankingContext:
    """What every stage reads: the model's constants, the fields' boosts, and the model and
    vectors of ranking by meaning (None: by words alone)."""

    model: RankingModel
    field_boosts: Mapping[str, float]
    meaning: Meaning | None = None

    def vectors(self, snapshot: Snapshot) -> Vectors | None:
        """The snapshot's generation's vectors, when ranking by meaning is on and possible."""
        if self.meaning is None or self.model.dense_weight <= 0:
            return None
        return self.meaning.vectors(snapshot.name)


def rank(snapshot: Snapshot, parsed: ParsedQuery, limit: int, ctx: RankingContext,
         filters: Mapping[str, str] | None = None, facets: Sequence[str] = (),
         budget: Budget | None = None) -> TopDocs:
    """The best `limit` documents for a parsed question, and the number of matches; with
    `filters` ({column: value}) only the documents holding those values; with `facets`
    (columns), how many subjects the matches are about and how many hold each value. Once
    `budget` is spent, phrases not yet matched and the feedback are skipped and the answer
    is flagged `partial`."""
    if not parsed.clauses:
        return no_documents()
    model = ctx.model
    budget = budget or Budget()
    scores = QuestionScores(snapshot, parsed.clauses, ctx.field_boosts, model,
                            match=parsed.match if parsed.syntax else None, filters=filters,
                            budget=budget)
    vectors = None if parsed.syntax else ctx.vectors(snapshot)
    depth = max(limit, model.dense_depth) if vectors is not None else limit
    first = scores.top(max(depth, model.feedback_docs))
    # The title gate, feedback and the title bonus all read the best few articles: each is
    # read from disk once.
    stored = functools.cache(snapshot.stored)
    asks_for_title = not parsed.syntax and names_best_title(stored, parsed, first)
    extra = ([] if parsed.syntax or asks_for_title or budget.spent()
             else feedback_clauses(snapshot, stored, parsed, first, model))
    if extra:
        scores.add(extra)
        first = scores.top(depth)
    if vectors is not None and not asks_for_title:
        first = rerank_by_meaning(snapshot, vectors, parsed.text, first, scores, model)
    if not parsed.syntax and model.title_match_bonus > 0:
        first = favour_named_titles(stored, [parsed.text, *parsed.names], first, model)
    top = TopDocs(first.total, first.hits[:limit], first.related, first.matched,
                  partial=budget.cut)
    if facets:
        top.subjects, top.facets = scores.counts(facets)
    return top


def names_best_title(stored: Stored, parsed: ParsedQuery, first: TopDocs) -> bool:
    """True when the question holds every word of the best article's title (its single
    own words)."""
    if not first.hits:
        return False
    own = {c.terms[0] for c in parsed.clauses if c.own and len(c.terms) == 1}
    title = stored(first.hits[0][0]).get("title", "")
    return is_navigational(analyze(title), own)


def feedback_clauses(snapshot: Snapshot, stored: Stored, parsed: ParsedQuery,
                     first: TopDocs, model: RankingModel) -> list[Clause]:
    """Clauses for the words the best first-pass articles share (indexer.ranking.feedback),
    or none: feedback off or nothing found."""
    if model.feedback_weight <= 0 or not first.hits:
        return []
    hits = first.hits[: model.feedback_docs]
    texts = [stored(docnum) for docnum, _ in hits]
    n_docs = snapshot.doc_count_all() or 1
    docs = [(analyze(f"{f.get('title', '')}\n{f.get('body', '')[:FEEDBACK_CHARS]}"), score)
            for f, (_, score) in zip(texts, hits, strict=True)]

    def doc_share(term: str) -> float:
        return snapshot.remembered_doc_frequency("body", term) / n_docs

    terms = feedback_terms(
        docs, exclude=set(parsed.terms), doc_share=doc_share,
        max_share=model.feedback_max_share, limit=model.feedback_terms)
    return [Clause((term,), model.feedback_weight * weight, own=False, feedback=True)
            for term, weight in terms]


def rerank_by_meaning(snapshot: Snapshot, vectors: Vectors, text: str, top: TopDocs,
                      scores: QuestionScores, model: RankingModel) -> TopDocs:
    """`top` joined by the articles closest in meaning (model.dense_candidates) and re-ranked
    by how close each article's vector is to the question's (formulas.fuse). A joining
    article the reader's words did not find is a related one."""
    if not top.hits:
        return top
    question = vectors.encode(text)
    hits, related, total = list(top.hits), set(top.related), top.total
    hit_ids = snapshot.ids(d for d, _ in hits)
    joining = closest(snapshot, vectors.table, question, model.dense_candidates,
                      model.meaning_min_cosine, taken=set(hit_ids))
    if joining:
        docnums = [d for d, _ in joining]
        found, by_words = scores.scores_of(docnums)
        hits += [(d, float(s)) for d, s in zip(docnums, found, strict=True)]
        hit_ids += snapshot.ids(docnums)
        related.update(d for d, w in zip(docnums, by_words, strict=True) if not w)
        total += int(np.count_nonzero(found == 0))
    if len(hits) < 2:
        return top
    cosines = vectors.table.cosines(hit_ids, question)
    fused = fuse(np.array([s for _, s in hits]), cosines, model.dense_weight)
    # Stable: documents the model cannot tell apart keep their order by words.
    order = np.argsort(-fused, kind="stable")
    return TopDocs(total, [(hits[i][0], float(fused[i])) for i in order],
                   frozenset(related), top.matched)


def favour_named_titles(stored: Stored, texts: Sequence[str], top: TopDocs,
                        model: RankingModel) -> TopDocs:
    """`top` with the articles among the first TITLE_MATCH_DEPTH whose whole title the
    question holds word for word (or what a lay phrase of it names: "can't sleep" names
    Insomnia) scored up by the title match bonus."""
    hits = top.hits[:TITLE_MATCH_DEPTH]
    titles = [stored(docnum).get("title", "") for docnum, _ in hits]
    named = [any(found) for found in zip(*(named_titles(titles, t) for t in texts),
                                         strict=True)]
    head = [(docnum, score * (1 + model.title_match_bonus) if bonus else score)
            for (docnum, score), bonus in zip(hits, named, strict=True)]
    # Stable: articles the bonus does not separate keep their order.
    head.sort(key=lambda hit: -hit[1])
    return TopDocs(top.total, head + top.hits[TITLE_MATCH_DEPTH:], top.related, top.matched)


def nearest_by_meaning(snapshot: Snapshot, text: str, ctx: RankingContext) -> TopDocs:
    """The articles (at most model.meaning_results) whose vectors are closest to the
    question's, those at least model.meaning_min_cosine close; all flagged related. For a
    question no article has the words of."""
    vectors = ctx.vectors(snapshot)
    if vectors is None or not len(vectors.table):
        return no_documents()
    model = ctx.model
    hits = closest(snapshot, vectors.table, vectors.encode(text), model.meaning_results,
                   model.meaning_min_cosine)
    return TopDocs(len(hits), hits, frozenset(d for d, _ in hits), matched=0)
