"""What each read replica serves, asked over HTTP: its /healthz (generation, commit, entries)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from indexer.config import Replica

HEALTH_TIMEOUT_S = 3.0


def replica_health(replica: Replica, timeout: float = HEALTH_TIMEOUT_S) -> dict:
    """One replica's answer to /healthz: `healthy`, and the generation, commit and entries it
    serves, or `error` saying why it could not tell."""
    out = {"name": replica.name, "url": replica.url, "index_dir": replica.index_dir,
           "healthy": False, "generation": None, "commit": None, "entries": None, "error": ""}
    if not replica.url:
        out["error"] = "no address given for this replica"
        return out
    try:
        with urllib.request.urlopen(f"{replica.url}/healthz", timeout=timeout) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 503: up, but no index
        body = _json_or_empty(exc.read())
        out["error"] = f"HTTP {exc.code}: {body.get('status', exc.reason)}"
        return out
    except (OSError, ValueError) as exc:
        out["error"] = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        return out
    out.update(healthy=body.get("status") == "ok", generation=body.get("generation"),
               commit=body.get("commit"), entries=body.get("entries"))
    return out


def cluster_status(replicas: Sequence[Replica], timeout: float = HEALTH_TIMEOUT_S) -> list[dict]:
    """Every replica's health, asked at once (a dead one costs one timeout, not one each)."""
    if not replicas:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(replicas))) as pool:
        return list(pool.map(lambda r: replica_health(r, timeout), replicas))


def _json_or_empty(raw: bytes) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
