"""Routes: the search page, results, articles, the JSON API, OpenSearch and health checks."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from indexer.search import MAX_PAGE, SearchEngine
from indexer.store import NoIndex

bp = Blueprint("search", __name__)
MAX_Q = 2000
SAMPLE_COUNT = 5


def engine() -> SearchEngine:
    """The process-wide search engine."""
    return current_app.extensions["search_engine"]


def _int_arg(name: str, default: int, low: int, high: int, *, strict: bool) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        if strict:
            abort(400, description=f"{name} must be a whole number")
        return default
    if strict and not low <= value <= high:
        abort(400, description=f"{name} must be between {low} and {high}")
    return max(low, min(value, high))


def _query_arg() -> str:
    q = request.args.get("q", "")
    return q[:MAX_Q]


def _samples() -> list[str]:
    try:
        return engine().sample_questions()[:SAMPLE_COUNT]
    except NoIndex:
        return []


@bp.get("/")
def home():
    """The search box and a few sample questions."""
    return render_template("home.html", samples=_samples())


@bp.get("/search")
def search_page():
    """Ranked results for ?q=, with pages, a did-you-mean and a helpful empty state."""
    q = _query_arg()
    if not q.strip():
        return render_template("home.html", samples=_samples())
    page = _int_arg("page", 1, 1, MAX_PAGE, strict=False)
    settings = current_app.config["SETTINGS"]
    result = engine().search(q, page=page, per_page=settings.per_page)
    first = (result.page - 1) * result.per_page + 1
    window = range(max(1, result.page - 4), min(result.pages, result.page + 4) + 1)
    return render_template(
        "results.html", q=q, result=result, first=first, window=window,
        samples=_samples() if not result.total else [],
    )


@bp.get("/article/<path:doc_id>")
def article(doc_id: str):
    """The full article, with the words of the search that led here highlighted."""
    q = _query_arg()
    view = engine().article(doc_id, highlight_query=q)
    if view is None:
        abort(404, description="There is no article with that address.")
    back = url_for("search.search_page", q=q, page=request.args.get("page", 1)) if q else None
    return render_template("article.html", article=view, q=q, back=back)


@bp.get("/api/search")
def api_search():
    """JSON results: query, total, page, per_page, took_ms, suggestion, results."""
    q = request.args.get("q")
    if q is None:
        abort(400, description="q is required")
    if len(q) > MAX_Q:
        abort(400, description=f"q is longer than {MAX_Q} characters")
    settings = current_app.config["SETTINGS"]
    page = _int_arg("page", 1, 1, MAX_PAGE, strict=True)
    per_page = _int_arg("per_page", settings.per_page, 1, settings.max_per_page, strict=False)
    result = engine().search(q, page=page, per_page=per_page)
    data = result.as_json()
    data.pop("understood", None)
    return jsonify({
        "query": data["query"], "total": data["total"], "page": data["page"],
        "per_page": data["per_page"], "took_ms": data["took_ms"],
        "suggestion": data["suggestion"], "corrected": data["corrected"],
        "message": data["message"], "results": data["results"],
    })


@bp.get("/api/suggest")
def api_suggest():
    """Up to 8 completions for type-ahead."""
    q = request.args.get("q", "")[:100]
    return jsonify({"query": q, "suggestions": engine().complete(q, limit=8)})


@bp.get("/opensearch.xml")
def opensearch():
    """OpenSearch description so browsers can add the site as a search engine."""
    xml = render_template("opensearch.xml")
    return current_app.response_class(xml, mimetype="application/opensearchdescription+xml")


@bp.get("/healthz")
def healthz():
    """For monitors: 200 with the entry count when the index opens, 503 otherwise."""
    try:
        count = engine().doc_count()
    except NoIndex:
        return jsonify({"status": "no index"}), 503
    return jsonify({"status": "ok", "entries": count})


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """JSON errors under /api/, friendly pages elsewhere."""
    if request.path.startswith("/api/"):
        return jsonify({"error": exc.name, "message": exc.description, "status": exc.code}), \
            exc.code
    return render_template("error.html", error=exc, samples=[]), exc.code


@bp.app_errorhandler(NoIndex)
def no_index(exc: NoIndex):
    """The index is missing: say so instead of failing."""
    if request.path.startswith("/api/"):
        return jsonify({"error": "Service Unavailable", "message": str(exc), "status": 503}), 503
    return render_template("error.html", error=None, message=str(exc), samples=[]), 503
