"""A bounded HTTP load generator for localhost: N concurrent keep-alive clients replay a query
list against `GET <path>?q=` for at most `duration` seconds and `max_requests` requests.

Run as its own process, so the server's figures are not shared with the client's:

    python -m bench.http_load --port 8000 --queries Q.json --set log --clients 8 --duration 25

Every non-200 answer, timeout or connection error counts as an error, except a 503 with
Retry-After: the server shedding load, counted as `shed`. Prints one JSON line: requests,
shed, errors (by kind), req/s over the measured window, latency percentiles of the answers.
With --record FILE, also one JSON line per answer: when, the question, the status, and what
the page says it was read from (generation, commit, total, result ids) and which replica
answered (behind a load balancer), so that a test can check every page against its
generation.

`SlowClients` holds many connections that send their headers a line at a time and never
finish (a slowloris), and `probe` times fresh requests meanwhile; from the command line, for
any server on localhost:

    python -m bench.http_load --port 8000 --slow-clients 1000 --probe /healthz
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import socket
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
             timeout: float = 30.0, record: Callable[[dict], None] | None = None,
             honour_retry_after: bool = False) -> dict:
    """Drive the server with `clients` threads until the time or request budget is spent;
    `record` is handed what each answer said (see `answer_record`); with
    `honour_retry_after`, a client refused with a 503 waits as long as it is told."""
    if host not in LOCAL_HOSTS:
        raise ValueError("the load generator only targets localhost")
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    shed = [0]
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
                if resp.status == 503 and resp.getheader("retry-after"):
                    kind = "shed"
                    if honour_retry_after:
                        time.sleep(min(float(resp.getheader("retry-after")),
                                       max(0.0, deadline - time.perf_counter())))
                elif resp.status != 200 or not body:
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
                if kind == "shed":
                    shed[0] += 1
                elif kind:
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
    done = len(latencies) + shed[0] + sum(errors.values())
    return {
        "clients": clients,
        "elapsed_s": round(elapsed, 2),
        "requests": done,
        "ok": len(latencies),
        "shed": shed[0],
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "req_per_s": round(len(latencies) / elapsed, 2),
        **latency_summary(latencies),
        "next_offset": offset + done,
        "hung_clients": sum(t.is_alive() for t in threads),
    }


def answer_record(when: float, q: str, resp: http.client.HTTPResponse, body: bytes) -> dict:
    """What one answer said: status, the replica that answered (HAProxy's X-Replica), and
    from a JSON results page its generation, commit, total, result ids and whether its
    ranking was cut short by the question's time budget (`partial`)."""
    out = {"t": round(when, 3), "q": q, "status": resp.status,
           "replica": resp.getheader("x-replica"),
           "header": resp.getheader("x-index-generation")}
    try:
        page = json.loads(body)
    except ValueError:
        return out
    if isinstance(page, dict):
        out.update(generation=page.get("generation"), commit=page.get("commit"),
                   total=page.get("total"), partial=bool(page.get("partial")),
                   ids=[r.get("id") for r in page.get("results", [])])
    return out


class SlowClients:
    """`count` connections to localhost that each send a request line and then one header
    line every `interval` seconds, never ending the headers: what a slowloris does. Use as a
    context manager; `open()` says how many the server has not closed yet."""

    def __init__(self, host: str, port: int, count: int, interval: float = 5.0,
                 path: str = "/healthz") -> None:
        if host not in LOCAL_HOSTS:
            raise ValueError("slow clients only target localhost")
        self.host, self.port, self.count, self.interval = host, port, count, interval
        self.path = path
        self.socks: list[socket.socket] = []
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> SlowClients:
        for _ in range(self.count):
            try:
                sock = socket.create_connection((self.host, self.port), timeout=5)
                sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n".encode())
            except OSError:
                self.refused += 1
                continue
            sock.setblocking(False)
            self.socks.append(sock)
        self._thread.start()
        return self

    def _trickle(self) -> None:
        n = 0
        while not self._stop.wait(self.interval):
            n += 1
            for sock in self.socks:
                # Closed by the server, or its buffer is full: both fine.
                with contextlib.suppress(OSError):
                    sock.send(f"X-Slow-{n}: {n}\r\n".encode())

    def open(self) -> int:
        """How many of the connections the server still holds open: nothing to read yet (an
        answer, end of file or an error means the server is done with it)."""
        held = 0
        for sock in self.socks:
            try:
                sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                held += 1
            except OSError:
                pass
        return held

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        for sock in self.socks:
            sock.close()


def probe(host: str, port: int, paths: list[str], *, timeout: float = 10.0) -> dict:
    """Each path requested once on a fresh connection, one after the other: latencies of the
    answers that were 200 and what went wrong with the others."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    for path in paths:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        t0 = time.perf_counter()
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                latencies.append((time.perf_counter() - t0) * 1000)
            else:
                errors[f"HTTP {resp.status}"] += 1
        except (OSError, http.client.HTTPException) as exc:
            errors[type(exc).__name__] += 1
        finally:
            conn.close()
    return {"ok": len(latencies), "errors": dict(errors), **latency_summary(latencies)}


def main(argv: list[str] | None = None) -> None:
    """Command line: one bounded load phase; prints one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/api/search")
    ap.add_argument("--queries", help="JSON file from bench.querylog")
    ap.add_argument("--set", default="log", help="which list of the file: distinct, log, "
                    "warmup (bench.querylog) or any other the file holds")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--duration", type=float, default=25.0)
    ap.add_argument("--max-requests", type=int, default=100_000)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--record", help="write what each answer said here, one JSON line each")
    ap.add_argument("--honour-retry-after", action="store_true",
                    help="a client refused with 503 waits the Retry-After it is given")
    ap.add_argument("--slow-clients", type=int, default=0,
                    help="instead of load: hold this many slow connections (a header line "
                         "every 2 s) and time 20 requests for each --probe path meanwhile")
    ap.add_argument("--probe", action="append", default=[], help="a path to time")
    args = ap.parse_args(argv)
    if args.slow_clients:
        paths = (args.probe or ["/healthz"]) * 20
        with SlowClients(args.host, args.port, args.slow_clients, interval=2.0) as slow:
            time.sleep(3)
            timed = probe(args.host, args.port, paths, timeout=5)
            held = slow.open()
        sys.stdout.write(json.dumps({"slow_clients": args.slow_clients, "held": held,
                                     "refused": slow.refused, **timed}) + "\n")
        return
    if not args.queries:
        ap.error("--queries is required for a load phase")
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
                          record=record if out else None,
                          honour_retry_after=args.honour_retry_after)
    finally:
        if out:
            out.close()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
