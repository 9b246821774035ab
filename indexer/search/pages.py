"""What a reader gets back: a page of results (`SearchPage`, one JSON shape for the API and the
CLI), an article (`ArticleView`), and the one rule that keeps page numbers in range."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from indexer.corpus.teasers import TEASER
from indexer.query.types import ParsedQuery
from indexer.ranking.lexical import TopDocs
from indexer.search.snippets import highlight, highlight_paragraphs, make_snippet
from indexer.storage import Snapshot
from indexer.text.analysis import term_for_word

# Pages a results list may run to: deeper pages are neither linked nor computed.
MAX_PAGE = 100


def clamp_page(page: int) -> int:
    """A page number within 1..MAX_PAGE."""
    return max(1, min(int(page), MAX_PAGE))


def clamp_per_page(per_page: int | None, default: int, most: int) -> int:
    """Results per page within 1..`most` (`default` when not given)."""
    return max(1, min(per_page or default, most))


@dataclass
class Result:
    """One hit on a results page."""

    id: str
    title: str
    url: str
    kind: str
    score: float
    snippet: str
    # Found only through words the best matches share (feedback) or by meaning, none of the
    # reader's own.
    related: bool = False


@dataclass
class SearchPage:
    """One page of results and what the engine made of the query."""

    query: str
    understood: str
    total: int
    page: int
    per_page: int
    took_ms: float
    # Of `total`, how many the reader's words found; the others are related articles.
    matched: int = 0
    suggestion: str | None = None
    corrected: bool = False
    # No article had the words: `results` are the articles closest in meaning.
    by_meaning: bool = False
    message: str | None = None
    results: list[Result] = field(default_factory=list)

    @property
    def pages(self) -> int:
        """How many pages the results fill (capped at MAX_PAGE)."""
        return min(MAX_PAGE, max(1, math.ceil(self.total / self.per_page)))

    def as_json(self) -> dict:
        """The page as JSON: every field, `pages`, and each result's fields."""
        # Field by field: dataclasses.asdict deep-copies every string of every result.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["took_ms"] = round(self.took_ms, 2)
        data["pages"] = self.pages
        data["results"] = [
            {**{f.name: getattr(r, f.name) for f in fields(r)}, "score": round(r.score, 4)}
            for r in self.results]
        return data

    def timed(self, took_ms: float) -> SearchPage:
        """The same page, answered in `took_ms`."""
        return replace(self, took_ms=took_ms)


@dataclass
class Answer:
    """The ranked documents for a query, and the query that produced them."""

    parsed: ParsedQuery  # the query run: the typed one, or its spelling correction
    top: TopDocs
    typed: str
    suggestion: str | None = None
    corrected: bool = False
    # Found by meaning alone: no article had the words.
    by_meaning: bool = False


@dataclass
class ArticleView:
    """A stored article for the full-article page."""

    id: str
    title: str
    kind: str
    url: str
    description: str
    body: str
    paragraphs_html: list[str]
    title_html: str


NO_MATCH = "No articles match. Check the spelling or try fewer words."


def results_page(snapshot: Snapshot, answer: Answer, page: int, per_page: int) -> SearchPage:
    """One page of an answer: each hit's stored fields and its snippet for the query's words
    (weighted by rarity), and the message that explains the page."""
    parsed = answer.parsed
    out = SearchPage(query=answer.typed, understood=understood(parsed),
                     total=answer.top.total, matched=answer.top.matched or 0,
                     page=page, per_page=per_page, took_ms=0.0,
                     suggestion=answer.suggestion, corrected=answer.corrected,
                     by_meaning=answer.by_meaning, message=parsed.message)
    if answer.corrected:
        out.message = f"Showing results for “{answer.suggestion}”."
    elif answer.by_meaning:
        out.message = "No article has these words. These are the closest in meaning."
    weights = {t: w * snapshot.idf("body", t) for t, w in parsed.terms.items()}
    for docnum, score in answer.top.hits[(page - 1) * per_page:]:
        stored = snapshot.stored(docnum)
        out.results.append(Result(
            id=stored["id"],
            title=stored.get("title", ""),
            url=stored.get("url", ""),
            kind=stored.get("kind", "article"),
            score=score,
            related=docnum in answer.top.related,
            snippet=make_snippet(stored.get("body", ""), weights,
                                 teaser=stored.get("kind") == TEASER),
        ))
    if out.total == 0 and out.message is None:
        out.message = NO_MATCH
    return out


def article_view(stored: dict, terms: dict[str, float]) -> ArticleView:
    """The full-article page's view of a stored article, highlighted for `terms`."""
    body = stored.get("body", "")
    return ArticleView(
        id=stored["id"], title=stored.get("title", ""), kind=stored.get("kind", "article"),
        url=stored.get("url", ""), description=stored.get("description", ""), body=body,
        paragraphs_html=highlight_paragraphs(body, terms),
        title_html=highlight(stored.get("title", ""), terms),
    )


def understood(parsed: ParsedQuery) -> str:
    """What the engine searched for: the reader's own words, and what it added."""
    own = [w for w in parsed.words if term_for_word(w) in parsed.terms]
    extra = [label for _, label in parsed.expansions]
    text = " ".join(dict.fromkeys(w.lower() for w in own))
    if extra:
        text += " (also: " + ", ".join(extra) + ")"
    return text
