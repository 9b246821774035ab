"""Routes: the search page, results, articles, the JSON API, OpenSearch and health checks."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException, InternalServerError

from indexer.search import MAX_PAGE, SearchEngine
from indexer.search.pages import clamp_page
from indexer.storage import NoIndex

bp = Blueprint("search", __name__)
MAX_Q = 2000
MAX_SUGGEST_Q = 100
SAMPLE_COUNT = 5
SUGGEST_LIMIT = 8
PAGE_LINKS = 9
# The article page breaks a long paragraph into chunks of a few sentences, for reading.
CHUNK_CHARS = 600
# Sentence ends in highlighted HTML: the snippets module only ever wraps single words in
# <mark>, so whitespace after a full stop is never inside a tag.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“‘(<])")


def engine() -> SearchEngine:
    """The process-wide search engine."""
    return current_app.extensions["search_engine"]


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,12}")


def _whole_number(name: str) -> int | None:
    """The argument as an int, None when absent or empty, 400 when it is not a number."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not _WHOLE_NUMBER.fullmatch(raw):
        abort(400, description=f"{name} must be a whole number")
    return int(raw)


def _page_arg() -> int:
    """?page= for HTML pages: lenient, anything odd means the nearest sensible page."""
    raw = request.args.get("page", "").strip()
    if not _WHOLE_NUMBER.fullmatch(raw[:12]):
        return 1
    return clamp_page(int(raw[:12]))


def _exact_arg() -> bool:
    """?exact=1: search the words as typed, without spelling correction."""
    return request.args.get("exact", "").strip().lower() in ("1", "true", "yes", "on")


def _query_arg() -> str:
    return request.args.get("q", "")[:MAX_Q]


# Facets a reader may filter on: the address's parameter -> the engine's facet.
FILTER_ARGS = {"publisher": "publisher_name", "kind": "kind"}
KINDS = ("article", "teaser")
MAX_FILTER_CHARS = 120


def _filter_args() -> dict[str, str]:
    """?publisher= and ?kind=, as the engine's filters; 400 when one is malformed."""
    filters = {}
    for arg, facet in FILTER_ARGS.items():
        values = request.args.getlist(arg)
        if len(values) > 1:
            abort(400, description=f"Choose one {arg} at a time.")
        value = values[0].strip() if values else ""
        if not value:
            continue
        if len(value) > MAX_FILTER_CHARS or not value.isprintable():
            abort(400, description=f"That {arg} is not one this site has.")
        if arg == "kind" and value not in KINDS:
            abort(400, description=f"kind must be one of: {', '.join(KINDS)}.")
        filters[facet] = value
    return filters


def _search_args(q: str, exact: bool, filters: dict[str, str]) -> dict:
    """A results page's own arguments: the search, and the facets chosen."""
    args = {"q": q, "exact": 1} if exact else {"q": q}
    for arg, facet in FILTER_ARGS.items():
        if facet in filters:
            args[arg] = filters[facet]
    return args


def _samples() -> list[str]:
    try:
        return engine().sample_questions()[:SAMPLE_COUNT]
    except NoIndex:
        return []


@bp.app_template_global("external_url")
def _external_url(url: str) -> str | None:
    """The article's source address, only when it is a plain web link."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def readable_paragraphs(paragraphs_html: list[str]) -> list[Markup]:
    """The engine's highlighted paragraphs, long ones split into chunks of a few sentences."""
    out: list[Markup] = []
    for html in paragraphs_html:
        chunk = ""
        for sentence in _SENTENCE_END.split(html):
            if chunk and len(chunk) + len(sentence) > CHUNK_CHARS:
                out.append(Markup(chunk))
                chunk = ""
            chunk = f"{chunk} {sentence}" if chunk else sentence
        if chunk:
            out.append(Markup(chunk))
    return out


@bp.app_template_filter("url_breaks")
def url_breaks(url: str) -> Markup:
    """An address, escaped, with a break opportunity after each / . ? & = so that a long one
    wraps at its parts on a phone, not in the middle of a word."""
    return Markup(re.sub(r"([/.?&=])", r"\1<wbr>", str(escape(url))))


@bp.app_template_global()
def search_url(args: dict, **extra) -> str:
    """A results-page address: the search's own arguments (q, exact) first, then `extra`."""
    return url_for("search.search_page", **args, **extra)


@bp.app_template_global()
def article_url(doc_id: str, args: dict, **extra) -> str:
    """An article's address, carrying the search that led to it."""
    return url_for("search.article", doc_id=doc_id, **args, **extra)


def page_window(page: int, pages: int, width: int = PAGE_LINKS) -> range:
    """The page numbers to link: `width` of them around the current page, within 1..pages."""
    start = max(1, min(page - width // 2, pages - width + 1))
    return range(start, min(pages, start + width - 1) + 1)


@bp.get("/")
def home():
    """The search box and a few sample questions."""
    return render_template("home.html", samples=_samples())


@bp.get("/search")
def search_page():
    """Ranked results for ?q=, with pages, a did-you-mean and a helpful empty state."""
    raw = request.args.get("q", "")
    if len(raw) > MAX_Q:
        abort(400, description=f"That search is too long: use at most {MAX_Q:,} characters.")
    q = raw
    if not q.strip():
        return render_template("home.html", samples=_samples())
    page = _page_arg()
    exact = _exact_arg()
    filters = _filter_args()
    args = _search_args(q, exact, filters)
    settings = current_app.config["SETTINGS"]
    result = engine().search(q, page=page, per_page=settings.per_page, correct=not exact,
                             filters=filters)
    if result.total and page > result.pages:
        return redirect(search_url(args, page=result.pages))
    first = (result.page - 1) * result.per_page + 1
    window = page_window(result.page, result.pages)
    return render_template(
        "results.html", q=q, args=args, result=result, first=first, window=window,
        samples=_samples() if not result.total else [], facets=_facet_links(result, args),
    )


FACET_LABELS = {"publisher_name": "Publisher", "kind": "Kind"}
KIND_LABELS = {"article": "Full articles", "teaser": "Summaries only"}


def _facet_links(result, args: dict) -> list[dict]:
    """Each facet with its values, counts and the address that chooses (or clears) each."""
    arg_of = {facet: arg for arg, facet in FILTER_ARGS.items()}
    out = []
    for facet, counts in result.facets.items():
        arg = arg_of[facet]
        chosen = result.filters.get(facet)
        base = {k: v for k, v in args.items() if k != arg}
        values = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if len(values) < 2 and not chosen:
            continue  # one value for every match: nothing to choose between
        out.append({
            "label": FACET_LABELS[facet], "chosen": chosen,
            "clear": search_url(base) if chosen else None,
            "options": [{"label": KIND_LABELS.get(value, value) if facet == "kind" else value,
                        "count": count, "chosen": value == chosen,
                        "url": search_url({**base, arg: value})} for value, count in values],
        })
    return out


@bp.get("/article/<path:doc_id>")
def article(doc_id: str):
    """The full article, with the words of the search that led here highlighted."""
    q = _query_arg()
    view = engine().article(doc_id, highlight_query=q)
    if view is None:
        abort(404, description="There is no article with that address.")
    args = {"q": q, "exact": 1} if _exact_arg() else {"q": q}
    back = search_url(args, page=_page_arg()) if q.strip() else None
    return render_template(
        "article.html", article=view, q=q, back=back,
        paragraphs=readable_paragraphs(view.paragraphs_html),
        source_url=_external_url(view.url),
        marked=sum(p.count('<span class="match"') for p in view.paragraphs_html),
    )


@bp.get("/api/search")
def api_search():
    """JSON results: the page as `SearchPage.as_json` gives it (query, understood, total,
    matched, page, per_page, pages, took_ms, suggestion, corrected, by_meaning, loosened,
    message, results).

    `corrected`: the results are for `suggestion`, not the words as typed (pass exact=1 to
    turn that off); `loosened`: no article had all the words the query's syntax required
    (a phrase, AND, +word), the results have some of them; `by_meaning`: no article had the
    words, the results are the closest in meaning; `message`: why there are no results, or
    why these; `matched`: how many of `total` the query's words found (the rest, flagged
    `related`, share the best matches' words or are close in meaning instead).
    """
    q = request.args.get("q")
    if q is None:
        abort(400, description="q is required")
    if len(q) > MAX_Q:
        abort(400, description=f"q is longer than {MAX_Q} characters")
    page = _whole_number("page")
    if page is None:
        page = 1
    if not 1 <= page <= MAX_PAGE:
        abort(400, description=f"page must be between 1 and {MAX_PAGE}")
    per_page = _whole_number("per_page")
    if per_page is not None and per_page < 1:
        abort(400, description="per_page must be at least 1")
    result = engine().search(q, page=page, per_page=per_page, correct=not _exact_arg(),
                             filters=_filter_args())
    return jsonify(result.as_json())


@bp.get("/api/suggest")
def api_suggest():
    """Up to 8 completions for type-ahead: `suggestions` (the texts) and `items` (each text
    with the address of the article it is the title of, when one article is about it)."""
    q = request.args.get("q", "")[:MAX_SUGGEST_Q]
    found = engine().complete(q, limit=SUGGEST_LIMIT)
    return jsonify({"query": q, "suggestions": [c.text for c in found],
                    "items": [{"text": c.text,
                               "article": url_for("search.article", doc_id=c.article)
                               if c.article else None} for c in found]})


@bp.get("/opensearch.xml")
def opensearch():
    """OpenSearch description so browsers can add the site as a search engine."""
    xml = render_template("opensearch.xml")
    return current_app.response_class(xml, mimetype="application/opensearchdescription+xml")


@bp.get("/favicon.ico")
def favicon():
    """Browsers and feed readers ask for /favicon.ico: point them at the SVG icon."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/healthz")
def healthz():
    """For monitors: 200 with the live generation, its entry count and whether ranking by
    meaning is on (with how many articles have a vector) when the index opens, 503
    otherwise."""
    try:
        status = engine().status()
    except NoIndex:
        return jsonify({"status": "no index"}), 503
    return jsonify({"status": "ok", **status})


FRIENDLY = {
    400: "The address of this page is not right.",
    404: "There is nothing at this address. Try a search instead.",
    405: "This page cannot be used that way: follow a link or use the search box.",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _error_page(code: int, heading: str, message: str):
    samples = _samples() if code == 404 else []
    return render_template("error.html", code=code, heading=heading, message=message,
                           samples=samples), code


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """JSON errors under /api/, friendly pages elsewhere."""
    code = exc.code or 500
    if _wants_json():
        return jsonify({"error": exc.name, "message": exc.description, "status": code}), code
    # Our own abort() messages are written for readers; werkzeug's defaults are not.
    own = exc.description and exc.description != type(exc).description
    message = exc.description if own else FRIENDLY.get(code, exc.description or "")
    body, status = _error_page(code, f"{code} {exc.name}", message)
    headers = {}
    if code == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return body, status, headers


@bp.app_errorhandler(NoIndex)
def no_index(exc: NoIndex):
    """The index is missing: say so instead of failing."""
    if _wants_json():
        return jsonify({"error": "Service Unavailable", "message": str(exc), "status": 503}), 503
    return _error_page(503, "Search is not ready", "The search index is being prepared. "
                       "Please try again in a few minutes.")


@bp.app_errorhandler(Exception)
def unexpected_error(exc: Exception):
    """Anything else: log it, and answer with a plain error page or JSON, never a traceback."""
    current_app.logger.exception("unhandled error on %s", request.path)
    error = InternalServerError()
    if _wants_json():
        return jsonify({"error": error.name, "message": "Something went wrong on our side.",
                        "status": 500}), 500
    return _error_page(500, "Something went wrong",
                       "Something went wrong on our side. Please try again.")
