"""Routes: the search page, results, articles, the JSON API, OpenSearch and health checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qsl, quote, urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import PathConverter

from indexer.search import MAX_PAGE, SearchEngine, SearchPage
from indexer.search.admission import Overloaded
from indexer.search.collection import OTHER
from indexer.search.layout import article_blocks
from indexer.search.pages import clamp_page
from indexer.storage import NoIndex

bp = Blueprint("search", __name__)
MAX_Q = 2000
MAX_SUGGEST_Q = 100
SAMPLE_COUNT = 5
SUGGEST_LIMIT = 8
PAGE_LINKS = 9
# Every results page says which index generation (and commit) it was read from, so a page
# served by any replica behind a load balancer can be traced to one generation.
GENERATION_HEADER = "X-Index-Generation"


def engine() -> SearchEngine:
    """The process-wide search engine."""
    return current_app.extensions["search_engine"]


# Path segments a browser does not keep as they are: "." and ".." (even %2E-encoded) step
# up, and an empty one is merged away.
_DOT_SEGMENTS = (".", "..")


class ArticleId(PathConverter):
    """An article id in an address, percent-encoded. Its slashes stay (ids are file paths:
    "seed-digest/tendon") unless a part of it is "." or ".." or empty: then they are encoded
    too, so the id is one segment and "../../x" cannot climb out of /article/. (Incoming,
    the server has decoded the path: the id matches as a path either way.)"""

    def to_url(self, value: str) -> str:
        """The id, encoded for the path."""
        steps = any(part in ("", *_DOT_SEGMENTS) for part in value.split("/"))
        return quote(value, safe="" if steps else "/")


def _article_address(doc_id: str, **args) -> str:
    # An id that is all dots cannot be a path segment at all: it goes as ?id=.
    if doc_id in _DOT_SEGMENTS:
        return url_for("search.article", id=doc_id, **args)
    return url_for("search.article", doc_id=doc_id, **args)


@bp.before_app_request
def refuse_what_no_route_takes() -> None:
    """No route takes a request body: one sent with a GET is refused before it is read (the
    server refuses bodies over the cap for every method). Too many header fields: 431."""
    if request.method in ("GET", "HEAD") and (
            request.content_length or "chunked" in request.headers.get(
                "Transfer-Encoding", "").lower()):
        abort(400, description="This address takes no request body.")
    limit = current_app.config["SETTINGS"].max_header_fields
    if sum(1 for key in request.environ if key.startswith("HTTP_")) > limit:
        abort(431, description=f"Send at most {limit} header fields.")


def rate_limiter(app: Flask, limit: str) -> None:
    """Limit each client address's searches (Flask-Limiter, in this process's memory) to
    `limit` ("5/second;100/minute"); past it 429 with Retry-After."""
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://",
                      headers_enabled=True, retry_after="delta-seconds")
    # One allowance for all of a client's searches, pages and API alike.
    shared = limiter.shared_limit(limit, scope="searches")
    for endpoint in ("search.search_page", "search.api_search", "search.api_suggest"):
        app.view_functions[endpoint] = shared(app.view_functions[endpoint])


def _note(result: SearchPage) -> SearchPage:
    """Keep what the access log says of a search: cache hit or miss, results, partial."""
    g.cache = "hit" if result.cached else "miss"
    g.results, g.partial = result.total, result.partial
    return result


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,12}")


def _whole_number(name: str, args: MultiDict | None = None) -> int | None:
    """The argument as an int, None when absent or empty, 400 when it is not a number."""
    raw = (request.args if args is None else args).get(name, "").strip()
    if not raw:
        return None
    if not _WHOLE_NUMBER.fullmatch(raw):
        abort(400, description=f"{name} must be a whole number")
    return int(raw)


def _page_arg(args: MultiDict | None = None) -> int:
    """?page= for HTML pages: lenient, anything odd means the nearest sensible page."""
    raw = (request.args if args is None else args).get("page", "").strip()
    if not _WHOLE_NUMBER.fullmatch(raw[:12]):
        return 1
    return clamp_page(int(raw[:12]))


def _exact_arg(args: MultiDict | None = None) -> bool:
    """?exact=1: search the words as typed, without spelling correction."""
    raw = (request.args if args is None else args).get("exact", "")
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _query_arg() -> str:
    return request.args.get("q", "")[:MAX_Q]


# Facets a reader may filter on: the address's parameter -> the engine's facet.
FILTER_ARGS = {"publisher": "publisher_name", "kind": "kind"}
KINDS = ("article", "teaser")
MAX_FILTER_CHARS = 120


def _filter_args(args: MultiDict | None = None) -> dict[str, str]:
    """?publisher= and ?kind=, as the engine's filters; 400 when one is malformed."""
    filters = {}
    for arg, facet in FILTER_ARGS.items():
        values = (request.args if args is None else args).getlist(arg)
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


SEARCH_PATHS = ("/search", "/api/search")


def computing_check(app: Flask) -> Callable[[str, str], bool]:
    """A check the server runs before a request reaches the app: True when path?query is a
    search whose answer must be computed, False for everything else (a cached answer,
    /healthz, a static file, an article, a request the app refuses at once). It reads the
    arguments as the search views do; a wrong guess only changes which request a thread
    takes first."""
    settings = app.config["SETTINGS"]
    search_engine = app.extensions["search_engine"]

    def needs_computing(path: str, query: str) -> bool:
        if path not in SEARCH_PATHS:
            return False
        args = MultiDict(parse_qsl(query, keep_blank_values=True))
        q = args.get("q", "")
        if not q.strip() or len(q) > MAX_Q:
            return False  # the home page, or a 400
        try:
            filters = _filter_args(args)
            if path == "/search":
                page, per_page = _page_arg(args), settings.per_page
            else:
                page, per_page = _whole_number("page", args) or 1, _whole_number("per_page", args)
        except HTTPException:
            return False
        return not search_engine.is_cached(q, page=page, per_page=per_page,
                                           correct=not _exact_arg(args), filters=filters)

    return needs_computing


def _search_args(q: str, exact: bool, filters: dict[str, str]) -> dict:
    """A results page's own arguments: the search, and the facets chosen."""
    args = {"q": q, "exact": 1} if exact else {"q": q}
    for arg, facet in FILTER_ARGS.items():
        if facet in filters:
            args[arg] = filters[facet]
    return args


def _samples() -> list[str]:
    try:
        return engine().sample_questions(SAMPLE_COUNT)
    except NoIndex:
        return []


# The index letter "#" (subjects that start with a digit or a sign) in addresses.
OTHER_SLUG = "other"


def _home_page():
    """The search box, sample searches, what the collection is, and its A–Z index."""
    try:
        collection = engine().collection()
    except NoIndex:
        collection = None
    return render_template("home.html", samples=_samples(), collection=collection,
                           letters=_letter_links(collection))


def _letter_links(collection, chosen: str | None = None) -> list[dict]:
    """The A–Z index: each letter, its subject count, and its address when it has any."""
    if collection is None:
        return []
    return [{"letter": letter, "count": n, "chosen": letter == chosen,
             "url": url_for("search.topics_page",
                            letter=OTHER_SLUG if letter == OTHER else letter.lower())
             if n else None} for letter, n in collection.letters().items()]


@bp.app_template_global("external_url")
def _external_url(url: str) -> str | None:
    """The article's source address, only when it is a plain web link."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


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
    return _article_address(doc_id, **args, **extra)


def page_window(page: int, pages: int, width: int = PAGE_LINKS) -> range:
    """The page numbers to link: `width` of them around the current page, within 1..pages."""
    start = max(1, min(page - width // 2, pages - width + 1))
    return range(start, min(pages, start + width - 1) + 1)


@bp.get("/")
def home():
    """The search box, sample searches, what the collection holds and its A–Z index."""
    return _home_page()


@bp.get("/topics/<letter>")
def topics_page(letter: str):
    """The subjects under one letter of the A–Z index, each linked to its article (one
    page about it) or to the search for it (several)."""
    slug = letter.strip().lower()
    if slug == OTHER_SLUG:
        chosen = OTHER
    elif len(slug) == 1 and "a" <= slug <= "z":
        chosen = slug.upper()
    else:
        abort(404, description="The A–Z index has a page for each letter from A to Z.")
    page = _page_arg()
    found, pages = engine().topics(chosen, page)
    return render_template("topics.html", letter=chosen, topics=found, page=min(page, pages),
                           pages=pages, letters=_letter_links(engine().collection(), chosen))


@bp.get("/search")
def search_page():
    """Ranked results for ?q=, with pages, a did-you-mean and a helpful empty state."""
    raw = request.args.get("q", "")
    if len(raw) > MAX_Q:
        abort(400, description=f"That search is too long: use at most {MAX_Q:,} characters.")
    q = raw
    if not q.strip():
        return _home_page()
    page = _page_arg()
    exact = _exact_arg()
    filters = _filter_args()
    args = _search_args(q, exact, filters)
    settings = current_app.config["SETTINGS"]
    result = _note(engine().search(q, page=page, per_page=settings.per_page,
                                   correct=not exact, filters=filters))
    if result.total and page > result.pages:
        return redirect(search_url(args, page=result.pages))
    first = (result.page - 1) * result.per_page + 1
    window = page_window(result.page, result.pages)
    html = render_template(
        "results.html", q=q, args=args, result=result, first=first, window=window,
        samples=_samples() if not result.total else [], facets=_facet_links(result, args),
    )
    return html, 200, {GENERATION_HEADER: _generation_of(result)}


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
            "clear_url": search_url(base) if chosen else None,
            "options": [{"label": KIND_LABELS.get(value, value) if facet == "kind" else value,
                        "count": count, "chosen": value == chosen,
                        "url": search_url({**base, arg: value})} for value, count in values],
        })
    return out


@bp.get("/article", defaults={"doc_id": None})
@bp.get("/article/<article_id:doc_id>")
def article(doc_id: str | None):
    """The full article, with the words of the search that led here highlighted (the id in
    the path, or as ?id= for an id a path cannot hold)."""
    if doc_id is None:
        doc_id = request.args.get("id", "")
    q = _query_arg()
    view = engine().article(doc_id, highlight_query=q)
    if view is None:
        abort(404, description="There is no article with that address.")
    args = {"q": q, "exact": 1} if _exact_arg() else {"q": q}
    back = search_url(args, page=_page_arg()) if q.strip() else None
    return render_template(
        "article.html", article=view, q=q, back=back,
        blocks=article_blocks(view.paragraphs_html, view.headings),
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
    result = _note(engine().search(q, page=page, per_page=per_page,
                                   correct=not _exact_arg(), filters=_filter_args()))
    return jsonify(result.as_json()), 200, {GENERATION_HEADER: _generation_of(result)}


def _generation_of(result) -> str:
    """The header's value: which generation and commit the whole page was read from."""
    return f"{result.generation}/{result.commit}"


@bp.get("/api/suggest")
def api_suggest():
    """Up to 8 completions for type-ahead: `suggestions` (the texts) and `items` (each text
    with the address of the article it is the title of, when one article is about it)."""
    q = request.args.get("q", "")[:MAX_SUGGEST_Q]
    found = engine().complete(q, limit=SUGGEST_LIMIT)
    return jsonify({"query": q, "suggestions": [c.text for c in found],
                    "items": [{"text": c.text,
                               "article": _article_address(c.article) if c.article else None}
                              for c in found]})


@bp.get("/opensearch.xml")
def opensearch():
    """OpenSearch description so browsers can add the site as a search engine: addresses
    from the configured base URL, or relative to this path; never from the Host header,
    which any client sets."""
    base = current_app.config["SETTINGS"].base_url.rstrip("/")
    xml = render_template("opensearch.xml", base=base)
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


@bp.app_errorhandler(Overloaded)
def overloaded(exc: Overloaded):
    """Too many questions being computed: 503 with Retry-After, at once."""
    headers = {"Retry-After": str(exc.retry_after)}
    g.cache = "shed"
    if _wants_json():
        return jsonify({"error": "Service Unavailable", "message": str(exc), "status": 503,
                        "retry_after": exc.retry_after}), 503, headers
    body, status = _error_page(503, "Too many searches at once",
                               "The site is answering many searches right now. Please try "
                               f"again in {exc.retry_after} seconds.")
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
