"""What a reader gets back: a page of results (`SearchPage`, one JSON shape for the API and the
CLI), an article (`ArticleView`), and the one rule that keeps page numbers in range."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, fields

from indexer.corpus.article import subject_key
from indexer.corpus.publishers import publisher_of
from indexer.corpus.teasers import TEASER
from indexer.query.parser import ASPECT_WORDS
from indexer.query.types import ParsedQuery
from indexer.ranking.lexical import TopDocs
from indexer.search.grouping import group_hits, reading_order
from indexer.search.snippets import (
    fragment_keys,
    highlight,
    highlight_paragraphs,
    make_snippet,
    words_key,
)
from indexer.storage import Snapshot
from indexer.text.analysis import analyze, inflection_key, term_for_word

# Pages a results list may run to: deeper pages are neither linked nor computed.
MAX_PAGE = 100
# Hits ranked per result asked for: same-subject siblings take places the grouping frees.
HITS_PER_RESULT = 3
# The columns a results page counts its matches by, and lets the reader filter on.
FACETS = ("publisher_name", "kind")


def hits_wanted(page: int, per_page: int) -> int:
    """How many ranked hits fill the first `page` pages once grouped."""
    return page * per_page * HITS_PER_RESULT + per_page


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
    # Who published it (short and full name; "" when unknown) and when (YYYY-MM-DD or "").
    publisher: str = ""
    publisher_full: str = ""
    date: str = ""
    # Pages on the same subject (or saying the same), listed under this one.
    also: list[Sibling] = field(default_factory=list)


@dataclass
class Sibling:
    """A page shown under a result: the same subject, from another page or publisher."""

    id: str
    title: str
    url: str
    publisher: str
    publisher_full: str


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
    # No article had all the words the query's search syntax required (a phrase, AND,
    # +word): `results` have some of them.
    loosened: bool = False
    message: str | None = None
    results: list[Result] = field(default_factory=list)
    # Documents that matched (`total` counts results: same-subject pages are one).
    documents: int = 0
    # How many of the matches hold each value of a facet ({facet: {value: count}}), and
    # the facets the reader chose ({facet: value}).
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    filters: dict[str, str] = field(default_factory=dict)
    # What the reader's words were also searched as: (as typed, other wording), "kidney" ->
    # "renal", so the page can say why a word the reader did not type is marked.
    also_searched: list[tuple[str, str]] = field(default_factory=list)
    # The generation and commit the whole page was read from (one snapshot): behind a load
    # balancer, what tells which index a replica answered from.
    generation: str = ""
    commit: int = -1
    # The question's time budget ran out: some of its phrases, or the words its best
    # matches share, were left out of the ranking.
    partial: bool = False
    # Answered from the result cache (or by another reader's computing of the same
    # question), not computed for this request.
    cached: bool = False

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
            {**{f.name: getattr(r, f.name) for f in fields(r)}, "score": round(r.score, 4),
             "also": [{f.name: getattr(s, f.name) for f in fields(s)} for s in r.also]}
            for r in self.results]
        return data


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
    # Found by a looser reading of search syntax that found nothing (any of its words).
    loosened: bool = False


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
    publisher: str = ""
    publisher_full: str = ""
    date: str = ""
    # (paragraph number, heading): the section headings the corpus gave (never indexed).
    headings: tuple[tuple[int, str], ...] = ()


NO_MATCH = "No articles match. Check the spelling or try fewer words."
LOOSENED = "No article has all your words; showing articles with some of them."
BY_MEANING = "No article has these words. These are the closest in meaning."


def results_page(snapshot: Snapshot, answer: Answer, page: int, per_page: int,
                 filters: dict[str, str] | None = None) -> SearchPage:
    """One page of an answer, one result per subject (`indexer.search.grouping`): each
    leading hit's stored fields and its snippet for the query's words (weighted by rarity),
    the pages listed under it, the counts, and the message that explains the page."""
    parsed, top = answer.parsed, answer.top
    stored, snippets = _readers(snapshot, parsed)
    groups = group_hits(top.hits, lambda d: stored(d).get("title", ""), snippets,
                        wanted=page * per_page)
    shown = groups[(page - 1) * per_page: page * per_page]
    # The ranked hits past the last group wanted make results of their own subjects; when
    # not every match was ranked, the list holds about a result per subject of the matches
    # (counted when the index keeps subjects), no more than there are documents.
    placed = {d for g in groups for d, _ in g.hits}
    ranked = len(groups) + len({subject_key(stored(d).get("title", "")) or d
                                for d, _ in top.hits if d not in placed})
    total = ranked if len(top.hits) >= top.total else max(
        ranked, min(top.subjects or top.total, top.total))
    out = SearchPage(query=answer.typed, understood=understood(parsed), total=total,
                     matched=top.matched or 0, documents=top.total, page=page,
                     per_page=per_page, took_ms=0.0, suggestion=answer.suggestion,
                     corrected=answer.corrected, by_meaning=answer.by_meaning,
                     loosened=answer.loosened, message=parsed.message, facets=top.facets,
                     filters=dict(filters or {}), also_searched=list(parsed.expansions),
                     generation=snapshot.name, commit=snapshot.commit, partial=top.partial)
    if answer.corrected:
        out.message = f"Showing results for “{answer.suggestion}”."
    elif answer.by_meaning:
        out.message = BY_MEANING
    elif answer.loosened:
        out.message = LOOSENED
    said: dict[str, str] = {}
    for group in shown:
        docnum, score = group.leader
        fields_ = stored(docnum)
        snippet = _fresh_snippet(docnum, snippets, said)
        out.results.append(Result(
            id=fields_["id"],
            title=fields_.get("title", ""),
            url=fields_.get("url", ""),
            kind=fields_.get("kind", "article"),
            score=score,
            related=docnum in top.related,
            snippet=snippet,
            also=[_sibling(stored(d)) for d, _ in group.hits[1:]],
            **provenance(fields_),
        ))
    if out.total == 0 and out.message is None:
        out.message = NO_MATCH
    return out


def _fresh_snippet(docnum: int, snippets, said: dict[str, str]) -> str:
    """A result's snippet, made again without the passages of the page's earlier snippets
    when it would repeat one of them (pages of two subjects that share a passage); `said`
    gathers the page's snippets by what they say (`words_key`)."""
    snippet = snippets(docnum)
    if words_key(snippet) in said:
        avoid = frozenset().union(*(fragment_keys(s) for s in said.values()))
        snippet = snippets(docnum, avoid=avoid)
    said[words_key(snippet)] = snippet
    return snippet


def article_view(stored: dict, marks: Marking | None = None) -> ArticleView:
    """The full-article page's view of a stored article, highlighted as `marks` says."""
    marks = marks or Marking({}, {})
    body = stored.get("body", "")
    return ArticleView(
        id=stored["id"], title=stored.get("title", ""), kind=stored.get("kind", "article"),
        url=stored.get("url", ""), description=stored.get("description", ""), body=body,
        paragraphs_html=highlight_paragraphs(body, marks.weights, forms=marks.forms,
                                             notes=marks.notes),
        title_html=highlight(stored.get("title", ""), marks.weights, forms=marks.forms,
                             notes=marks.notes),
        headings=tuple((int(n), str(h)) for n, h in stored.get("headings") or ()),
        **provenance(stored),
    )


def grouped_order(snapshot: Snapshot, answer: Answer) -> list[tuple[int, float]]:
    """An answer's hits in the order results pages show them: each result's leading page,
    then the pages listed under it."""
    stored, snippets = _readers(snapshot, answer.parsed)
    return reading_order(group_hits(answer.top.hits, lambda d: stored(d).get("title", ""),
                                    snippets))


def _readers(snapshot: Snapshot, parsed: ParsedQuery):
    """A hit's stored fields and its snippet for the question's words (weighted by rarity),
    each read or made once."""
    stored = functools.cache(snapshot.stored)
    marks = marking(parsed, lambda t: snapshot.idf("body", t))

    @functools.cache
    def snippet(docnum: int, avoid: frozenset[str] = frozenset()) -> str:
        return make_snippet(stored(docnum).get("body", ""), marks.weights,
                            teaser=stored(docnum).get("kind") == TEASER, forms=marks.forms,
                            avoid=avoid, notes=marks.notes)

    return stored, snippet


@dataclass(frozen=True)
class Marking:
    """Which words of an article a question marks: its informative terms with their weights
    (rarity), and for the reader's own words only their inflections."""

    weights: dict[str, float]
    forms: dict[str, frozenset[str]]
    # The tooltip of a term another wording brought in: "cant sleep → insomnia".
    notes: dict[str, str] = field(default_factory=dict)


# Words readers wrap a question in, searched but not worth marking ("how long does it take
# to heal", "what are the symptoms of"): they say nothing of why an article matched.
UNMARKED = frozenset(analyze("take long get make help need know tell mean happen work go "
                             "come feel much often way lot thing time best")) | ASPECT_WORDS
# A term is marked only when it weighs at least this share of the question's heaviest one.
MIN_MARK_SHARE = 0.25


def marking(parsed: ParsedQuery, idf) -> Marking:
    """What to mark for a parsed question; `idf(term)` gives a term's rarity."""
    weights = {t: w * idf(t) for t, w in parsed.terms.items() if t not in UNMARKED}
    heaviest = max(weights.values(), default=0.0)
    weights = {t: w for t, w in weights.items() if w >= MIN_MARK_SHARE * heaviest}
    forms: dict[str, set[str]] = {}
    for word in parsed.words:
        term = term_for_word(word)
        if term in weights:
            forms.setdefault(term, set()).add(inflection_key(word))
    notes = {}
    for typed, label in parsed.expansions:
        for term in analyze(label):
            if term in weights and term not in forms:
                notes.setdefault(term, f"{typed} → {label}")
    return Marking(weights, {t: frozenset(f) for t, f in forms.items()}, notes)


def _sibling(stored: dict) -> Sibling:
    found = provenance(stored)
    return Sibling(id=stored["id"], title=stored.get("title", ""), url=stored.get("url", ""),
                   publisher=found["publisher"], publisher_full=found["publisher_full"])


def provenance(stored: dict) -> dict[str, str]:
    """The publisher (short and full name) and date of a stored entry, for display."""
    found = publisher_of(stored.get("publisher", ""), stored.get("url", ""))
    return {"publisher": found.name if found else "",
            "publisher_full": found.full_name if found else "",
            "date": stored.get("date", "")}


def understood(parsed: ParsedQuery) -> str:
    """What the engine searched for: the reader's own words, and what it added."""
    own = [w for w in parsed.words if term_for_word(w) in parsed.terms]
    extra = [label for _, label in parsed.expansions]
    text = " ".join(dict.fromkeys(w.lower() for w in own))
    if extra:
        text += " (also: " + ", ".join(extra) + ")"
    return text
