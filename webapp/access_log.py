"""The access log: one JSON object a line per request (time, client, method, path, the
question, status, milliseconds, bytes, whether the answer came from the cache, how many
results, whether the ranking was cut short), on standard error or appended to a file."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

# A question longer than this is cut in the log (the site takes up to 2,000 characters).
MAX_LOGGED_Q = 500


def open_access_log(target: str) -> logging.Logger | None:
    """A logger writing lines to `target`: "-" for standard error, otherwise a file path
    (appended to, reopened when a log rotator moves it); None for "" (no log)."""
    if not target:
        return None
    # Not registered with logging's manager: each app has its own, and nothing else's
    # configuration reaches it.
    logger = logging.Logger("healthsearch.access", logging.INFO)
    if target == "-":
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    else:
        from logging.handlers import WatchedFileHandler

        handler = WatchedFileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger


def access_line(*, client: str | None, method: str, path: str, q: str | None, status: int,
                ms: float, size: int | None, cache: str | None, results: int | None,
                partial: bool | None, agent: str | None) -> str:
    """One request as a JSON line (no newline)."""
    return json.dumps({
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "client": client, "method": method, "path": path,
        "q": q[:MAX_LOGGED_Q] if q is not None else None,
        "status": status, "ms": round(ms, 2), "bytes": size, "cache": cache,
        "results": results, "partial": partial, "agent": agent,
    }, ensure_ascii=False)
