"""Small Flask apps serving each peer over HTTP, for the end-to-end comparison.

Each app answers `GET /api/search?q=` with JSON (query, total, results with id, title,
snippet, score), as our `/api/search` does, and `GET /healthz`. Served by waitress with the
same thread count as our server:

    python -m bench.peer_apps --engine fts5 --index-dir D --port 8101 --threads 8
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flask import Flask, jsonify, request

from bench.peers_speed import PEERS, SpeedEngine, open_engine


def create_peer_app(engine: SpeedEngine) -> Flask:
    """A Flask app over one peer engine."""
    app = Flask(f"peer-{engine.name}")

    @app.get("/api/search")
    def api_search():
        q = request.args.get("q", "")[:2000]
        total, hits = engine.search(q)
        return jsonify({"query": q, "total": total, "results": hits})

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "engine": engine.name})

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve one peer under waitress on localhost."""
    from waitress import serve

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", choices=PEERS, required=True)
    ap.add_argument("--index-dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=8)
    args = ap.parse_args(argv)
    app = create_peer_app(open_engine(args.engine, Path(args.index_dir)))
    serve(app, host=args.host, port=args.port, threads=args.threads, ident=args.engine)


if __name__ == "__main__":
    main()
