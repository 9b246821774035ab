"""From a parsed question to the documents a reader gets: the spelling stage, the ranking
pipeline, and the answer by meaning when no article has the words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from indexer.query.parser import QueryBuilder
from indexer.query.types import ParsedQuery
from indexer.ranking import pipeline
from indexer.ranking.budget import Budget
from indexer.ranking.lexical import no_documents
from indexer.ranking.pipeline import RankingContext
from indexer.search.pages import Answer
from indexer.search.spelling import (
    all_english,
    apply_fixes,
    corrections,
    with_spelling_variants,
)
from indexer.storage import Snapshot


def answer(snapshot: Snapshot, parsed: ParsedQuery, limit: int, correct: bool,
           builder: QueryBuilder, ctx: RankingContext,
           filters: Mapping[str, str] | None = None, facets: Sequence[str] = (),
           budget: Budget | None = None) -> Answer:
    """The best `limit` documents for what the reader typed, as the reader gets them (with
    `filters`, `facets` and the time `budget` as `pipeline.rank` takes them).

    A word the index has never seen finds nothing: when its correction (unless `correct` is
    False) finds results, those are the answer, and the reader can still ask for the words
    as typed. When no article has the reader's words, the articles closest in meaning are.
    """
    parsed = with_spelling_variants(snapshot, parsed)
    fixes = corrections(snapshot, parsed) if parsed.words and correct else {}
    fixed_text = apply_fixes(parsed.text, fixes) if fixes else None
    if fixed_text is not None:
        fixed = with_spelling_variants(snapshot, builder.build(fixed_text))
        if not fixed.empty:
            top = pipeline.rank(snapshot, fixed, limit, ctx, filters, facets, budget)
            if top.total:
                return Answer(fixed, top, typed=parsed.text, suggestion=fixed_text,
                              corrected=True)
    top = (pipeline.rank(snapshot, parsed, limit, ctx, filters, facets, budget)
           if not parsed.empty
           else no_documents())
    if top.total == 0 and not parsed.syntax and not filters and all_english(parsed.words):
        # No article has the reader's words ("itchy flaky scalp"): the articles closest in
        # meaning, if any is close enough. Only for words of the language: the model reads
        # "zqsecretleak" as "secret leak" and finds something close to anything.
        near = pipeline.nearest_by_meaning(snapshot, parsed.text, ctx)
        if near.total:
            return Answer(parsed, near, typed=parsed.text, suggestion=fixed_text,
                          by_meaning=True)
    return Answer(parsed, top, typed=parsed.text, suggestion=fixed_text)
