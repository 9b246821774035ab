"""The web layer: an app factory over the engine's search API (no Whoosh here)."""

from __future__ import annotations

import secrets

from flask import Flask

from indexer.config import Settings
from indexer.search import SearchEngine

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


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
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.extensions["search_engine"] = engine or SearchEngine(settings)

    from webapp.views import bp

    app.register_blueprint(bp)

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    return app
