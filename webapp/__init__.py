"""The web layer: an app factory over the engine's search API (no Whoosh here)."""

from __future__ import annotations

import secrets
import time

from flask import Flask, g, request

from indexer.config import Settings
from indexer.search import SearchEngine
from webapp.access_log import access_line, open_access_log

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
# On every response: the app's own, and the server's error replies (webapp.server).
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


def create_app(settings: Settings | None = None, engine: SearchEngine | None = None) -> Flask:
    """Build the Flask app for one index: the engine is created once and shared by requests."""
    settings = settings or Settings()
    app = Flask(__name__)
    # "/article/%2F0" must reach the article view (and its 404), not a slash-merging redirect.
    app.url_map.merge_slashes = False
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=secrets.token_hex(16),
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    app.extensions["search_engine"] = engine or SearchEngine(settings)

    from webapp.views import ArticleId, bp, rate_limiter

    app.url_map.converters["article_id"] = ArticleId
    app.register_blueprint(bp)
    if settings.rate_limit:
        rate_limiter(app, settings.rate_limit)
    _log_requests(app, settings.access_log)

    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            if name == "Content-Security-Policy":
                response.headers.setdefault(name, value)
            else:
                response.headers[name] = value
        return response

    return app


def _log_requests(app: Flask, target: str) -> None:
    """An access-log line per request to `target` (see webapp.access_log), when set."""
    log = open_access_log(target)
    if log is None:
        return

    @app.before_request
    def started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def logged(response):
        began = g.get("started")
        log.info(access_line(
            client=request.remote_addr, method=request.method, path=request.path,
            q=request.args.get("q"), status=response.status_code,
            ms=(time.perf_counter() - began) * 1000 if began else 0.0,
            size=response.calculate_content_length(), cache=g.get("cache"),
            results=g.get("results"), partial=g.get("partial"),
            agent=request.headers.get("User-Agent")))
        return response
