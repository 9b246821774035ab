"""From a parsed question to the documents a reader gets: the spelling stage, the ranking
pipeline, and, when the words as typed find nothing, a looser reading.

A reader never gets an empty page where a looser reading finds articles. In turn:

1. the words as typed (or their spelling correction, when a word is not in the index and
   the correction finds something);
2. search syntax that finds nothing (a phrase, AND, +word, title:word) is read loosely:
   any of its words may match (`loosened_text`; words it excludes stay excluded), and the
   page says so (`Answer.loosened`);
3. words that find nothing at all: the articles closest in meaning (`Answer.by_meaning`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from indexer.query.cleaning import loosened_text
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
from indexer.text.drugs import DrugIndex


def answer(snapshot: Snapshot, parsed: ParsedQuery, limit: int, correct: bool,
           builder: QueryBuilder, ctx: RankingContext,
           filters: Mapping[str, str] | None = None, facets: Sequence[str] = (),
           budget: Budget | None = None) -> Answer:
    """The best `limit` documents for what the reader typed, as the reader gets them (with
    `filters`, `facets` and the time `budget` as `pipeline.rank` takes them).

    A word the index has never seen finds nothing: when its correction (unless `correct` is
    False) finds results, those are the answer, and the reader can still ask for the words
    as typed. Search syntax that finds nothing is read loosely; when no article has any of
    the reader's words, the articles closest in meaning are the answer.
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
    if top.total == 0 and parsed.syntax:
        looser_text = loosened_text(parsed.text)
        looser = builder.build(looser_text) if looser_text else None
        if looser is not None and not looser.empty:
            looser = with_spelling_variants(snapshot, looser)
            found = pipeline.rank(snapshot, looser, limit, ctx, filters, facets)
            if found.total:
                return Answer(looser, found, typed=parsed.text, suggestion=fixed_text,
                              loosened=True)
            parsed = looser
    if top.total == 0 and not parsed.syntax and not filters and readable(parsed.words):
        # No article has the reader's words ("itchy flaky scalp"): the articles closest in
        # meaning, if any is close enough.
        near = pipeline.nearest_by_meaning(snapshot, parsed.text, ctx)
        if near.total:
            return Answer(parsed, near, typed=parsed.text, suggestion=fixed_text,
                          by_meaning=True)
    return Answer(parsed, top, typed=parsed.text, suggestion=fixed_text)


def readable(words: list[str]) -> bool:
    """True when the model can read the words for their meaning: each long word is English
    or a medicine's name ("flomax"), and there is one. The model reads made-up words
    ("zqsecretleak" as "secret leak") and finds something close to anything."""
    return all_english(words, also=DrugIndex.shipped().generic_of)
