"""A bounded HTTP load generator for localhost: N concurrent keep-alive clients replay a query
list against `GET <path>?q=` for at most `duration` seconds and `max_requests` requests.

Run as its own process, so the server's figures are not shared with the client's:

    python -m bench.http_load --port 8000 --queries Q.json --set log --clients 8 --duration 25

Every non-200 answer, timeout or connection error counts as an error. Prints one JSON line:
requests, errors (by kind), req/s over the measured window, latency percentiles. With
--record FILE, also one JSON line per answer: when, the question, the status, and what the
page says it was read from (generation, commit, total, result ids) and which replica answered
(behind a load balancer), so that a test can check every page against its generation.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote_plus

from bench.harness import latency_summary

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def run_load(host: str, port: int, path: str, queries: list[str], *, clients: int,
             duration: float, max_requests: int, offset: int = 0,
             timeout: float = 30.0, record: Callable[[dict], None] | None = None) -> dict:
    """Drive the server with `clients` threads until the time or request budget is spent;
    `record` is handed what each answer said (see `answer_record`)."""
    if host not in LOCAL_HOSTS:
        raise ValueError("the load generator only targets localhost")
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + duration
    last_done = [started]

    def client() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        while time.perf_counter() < deadline:
            n = next(counter)
            if n >= max_requests:
                break
            q = queries[(offset + n) % len(queries)]
            url = f"{path}?q={quote_plus(q)}"
            t0 = time.perf_counter()
            kind = ""
            try:
                conn.request("GET", url)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or not body:
                    kind = f"HTTP {resp.status}"
                if record is not None:
                    record(answer_record(time.time(), q, resp, body))
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                kind = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            t1 = time.perf_counter()
            with lock:
                if kind:
                    errors[kind] += 1
                else:
                    latencies.append((t1 - t0) * 1000)
                last_done[0] = max(last_done[0], t1)
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + timeout + 10)
    elapsed = max(last_done[0] - started, 1e-9)
    done = len(latencies) + sum(errors.values())
    return {
        "clients": clients,
        "elapsed_s": round(elapsed, 2),
        "requests": done,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "req_per_s": round(len(latencies) / elapsed, 2),
        **latency_summary(latencies),
        "next_offset": offset + done,
        "hung_clients": sum(t.is_alive() for t in threads),
    }


def answer_record(when: float, q: str, resp: http.client.HTTPResponse, body: bytes) -> dict:
    """What one answer said: status, the replica that answered (HAProxy's X-Replica), and
    from a JSON results page its generation, commit, total and result ids."""
    out = {"t": round(when, 3), "q": q, "status": resp.status,
           "replica": resp.getheader("x-replica"),
           "header": resp.getheader("x-index-generation")}
    try:
        page = json.loads(body)
    except ValueError:
        return out
    if isinstance(page, dict):
        out.update(generation=page.get("generation"), commit=page.get("commit"),
                   total=page.get("total"),
                   ids=[r.get("id") for r in page.get("results", [])])
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: one bounded load phase; prints one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/api/search")
    ap.add_argument("--queries", required=True, help="JSON file from bench.querylog")
    ap.add_argument("--set", choices=("distinct", "log", "warmup"), default="log")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=25.0)
    ap.add_argument("--max-requests", type=int, default=100_000)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--record", help="write what each answer said here, one JSON line each")
    args = ap.parse_args(argv)
    queries = json.loads(Path(args.queries).read_text(encoding="utf-8"))[args.set]
    out = open(args.record, "w", encoding="utf-8") if args.record else None  # noqa: SIM115
    lock = threading.Lock()

    def record(line: dict) -> None:
        with lock:
            out.write(json.dumps(line) + "\n")

    try:
        result = run_load(args.host, args.port, args.path, queries, clients=args.clients,
                          duration=args.duration, max_requests=args.max_requests,
                          offset=args.offset, timeout=args.timeout,
                          record=record if out else None)
    finally:
        if out:
            out.close()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
