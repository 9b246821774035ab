"""Reading while writing, and load: a real waitress server (`healthsearch serve`) on localhost.

- While clients search continuously, a full rebuild and then an incremental update run and
  swap in: no request fails, and the results switch to the new index without a restart.
- A bounded load test (32 clients for 20 s by default) prints its figures: requests, those
  shed by admission control (503 with Retry-After), errors (none allowed), latency
  percentiles and the server's memory before and after.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest

from indexer.build import index_corpus
from indexer.storage import IndexStore
from tests.conftest import ROOT
from tests.test_robust_crash import NEW_WORD, WORDS, doc_set, write_corpus

pytestmark = pytest.mark.slow

UPDATE_WORD = "zqupdate"
CLIENTS = 6
LOAD_CLIENTS = 32
LOAD_SECONDS = max(10.0, float(os.environ.get("HEALTHSEARCH_LOAD_SECONDS", "20")))
WARMUP_SECONDS = 5.0
REQUEST_TIMEOUT_S = 15
RUN_LIMIT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`healthsearch serve` in a subprocess, on a free localhost port, one process."""

    def __init__(self, index_dir: Path, threads: int = 8):
        self.port = free_port()
        # To a file, not a pipe: nobody reads a pipe while the test runs, and a full pipe
        # would block the server (waitress logs a line per queued request under load).
        self.log_path = index_dir.parent / f"server-{self.port}.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "healthsearch", "serve", "--host", "127.0.0.1", "--port",
             str(self.port), "--index-dir", str(index_dir), "--threads", str(threads),
             "--processes", "1"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = self.get("/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start: {self.log_path.read_text()}")
            time.sleep(0.1)

    def get(self, path: str, conn: http.client.HTTPConnection | None = None):
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port,
                                                  timeout=REQUEST_TIMEOUT_S)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            if own:
                conn.close()

    def get_with_headers(self, path: str, conn: http.client.HTTPConnection):
        """(status, headers with lower-case names) of a GET on `conn`."""
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}

    def rss(self) -> int:
        return psutil.Process(self.proc.pid).memory_info().rss

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def api(q: str, **params) -> str:
    return "/api/search?" + urlencode({"q": q, **params})


class Clients:
    """Threads searching continuously until stopped; every answer is recorded."""

    QUERIES = [NEW_WORD, UPDATE_WORD, "fever cough", "renal kidney", "tendon", "asthma"]

    def __init__(self, server: Server, count: int):
        self.server = server
        self.stop_event = threading.Event()
        self.failures: list[str] = []
        self.requests = 0
        # per thread: [(time, query, matched)] in the order that thread saw them (related
        # articles found by feedback are not counted: they depend on the whole index)
        self.seen: dict[int, list[tuple[float, str, int]]] = defaultdict(list)
        self.health: set[int] = set()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True)
                        for n in range(count)]
        for t in self.threads:
            t.start()

    def run(self, n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                          timeout=REQUEST_TIMEOUT_S)
        while not self.stop_event.is_set():
            q = rng.choice(self.QUERIES)
            kind = rng.random()
            try:
                if kind < 0.1:
                    status, body = self.server.get("/healthz", conn)
                    if status == 200:
                        with self.lock:
                            self.health.add(json.loads(body)["entries"])
                elif kind < 0.2:
                    status, body = self.server.get("/search?" + urlencode({"q": q}), conn)
                else:
                    status, body = self.server.get(api(q, per_page=50), conn)
                    if status == 200:
                        self.seen[n].append((time.monotonic(), q, json.loads(body)["matched"]))
                if status != 200:
                    raise AssertionError(f"status {status}: {body[:200]!r}")
            except Exception as exc:  # every kind of failure counts
                with self.lock:
                    self.failures.append(f"{q}: {type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                                  timeout=REQUEST_TIMEOUT_S)
            with self.lock:
                self.requests += 1
        conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=REQUEST_TIMEOUT_S + 5)

    def totals(self, q: str) -> set[int]:
        return {total for seen in self.seen.values() for _, query, total in seen if query == q}


def wait_until(condition, limit: float = 20) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def run_indexer(corpus: Path, index_dir: Path, *flags: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "healthsearch", "index", str(corpus), "--index-dir", str(index_dir),
         "--quiet", "--no-vectors", *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_LIMIT_S)
    assert out.returncode == 0, out.stderr


def count_hits(server: Server, q: str) -> int:
    """How many entries have the word (related articles found by feedback not counted)."""
    status, body = server.get(api(q))
    assert status == 200
    return json.loads(body)["matched"]


def test_searching_continues_through_a_rebuild_and_an_update(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 1)
    index_dir = tmp_path / "index"
    index_corpus([corpus], IndexStore(index_dir), workers=1)
    v1_count = len(doc_set(index_dir))
    server = Server(index_dir)
    clients = None
    try:
        assert count_hits(server, NEW_WORD) == 0
        clients = Clients(server, CLIENTS)
        time.sleep(1)

        # A full rebuild over a changed corpus, swapped in under the readers.
        write_corpus(corpus, 2)
        started = time.monotonic()
        run_indexer(corpus, index_dir, "--rebuild", "--workers", "2")
        rebuild_s = time.monotonic() - started
        v2 = doc_set(index_dir)
        expected_new = count_new_word_docs(corpus)
        switch_s = wait_until(lambda: count_hits(server, NEW_WORD) == expected_new)
        time.sleep(0.5)

        # An incremental update: a new file with a new word, a page deleted.
        (corpus / "update.txt").write_text(f"Update\n\nA {UPDATE_WORD} article on fever.\n")
        (corpus / "page2.html").unlink()
        started = time.monotonic()
        run_indexer(corpus, index_dir)
        update_s = time.monotonic() - started
        update_switch_s = wait_until(lambda: count_hits(server, UPDATE_WORD) == 1)
        time.sleep(1)
    finally:
        if clients is not None:
            clients.stop()
        server.stop()

    v3_count = len(doc_set(index_dir))
    with capsys.disabled():
        print(f"\n  reading while writing: {clients.requests} requests from {CLIENTS} clients, "
              f"{len(clients.failures)} failed; rebuild {rebuild_s:.1f}s (new words found "
              f"{switch_s:.2f}s after it ended), update {update_s:.1f}s "
              f"(+{update_switch_s:.2f}s); entries seen by /healthz: {sorted(clients.health)}")
    assert not clients.failures, clients.failures[:10]
    assert clients.requests > 50
    # Every answer was the old state or the new one, never something in between...
    assert clients.totals(NEW_WORD) <= {0, expected_new}
    assert clients.totals(UPDATE_WORD) <= {0, 1}
    assert clients.health <= {v1_count, len(v2), v3_count}
    assert v3_count == len(v2)  # one added, one deleted
    # ... and once a reader saw the new state it never went back to the old one.
    for seen in clients.seen.values():
        for word in (NEW_WORD, UPDATE_WORD):
            totals = [total for _, q, total in seen if q == word]
            first_new = next((i for i, t in enumerate(totals) if t), len(totals))
            assert all(totals[first_new:]), f"{word}: went back to the old index"
    # Both switches were seen by the clients themselves, without a restart.
    assert expected_new in clients.totals(NEW_WORD) and 1 in clients.totals(UPDATE_WORD)


def count_new_word_docs(corpus: Path) -> int:
    count = 0
    for line in (corpus / "big.jsonl").read_text().splitlines():
        count += NEW_WORD in json.loads(line)["text"]
    for page in corpus.glob("page*.html"):
        count += NEW_WORD in page.read_text()
    return count


def write_load_corpus(folder: Path, docs: int = 2000) -> None:
    """Articles of 100 words, mostly from a large vocabulary: a health word is in a few percent
    of them, as in a real corpus (not in nearly all, which would measure only scoring)."""
    rng = random.Random(42)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "gu", "ze"]
    vocabulary = sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
                         for _ in range(3000)})
    folder.mkdir(parents=True)
    with (folder / "load.jsonl").open("w") as f:
        for i in range(docs):
            words = [rng.choice(WORDS) if rng.random() < 0.02 else rng.choice(vocabulary)
                     for _ in range(100)]
            sentences = ". ".join(" ".join(words[j:j + 10]).capitalize() for j in range(0, 100, 10))
            f.write(json.dumps({"id": f"load-{i}", "title": " ".join(words[:5]).capitalize(),
                                "text": sentences + "."}) + "\n")


def test_load_32_clients_no_errors_bounded_latency_and_memory(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    write_load_corpus(corpus)
    index_dir = tmp_path / "index"
    index_corpus([corpus], IndexStore(index_dir), workers=1)
    server = Server(index_dir)
    latencies: list[float] = []
    errors: list[str] = []
    shed = [0]
    lock = threading.Lock()
    stop = threading.Event()
    rng_words = WORDS + ["fevr", "kidny", "insomina", "what helps a cough", '"renal kidney"']

    def client(n: int) -> None:
        rng = random.Random(1000 + n)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT_S)
        mine: list[float] = []
        while not stop.is_set():
            # Two words from a small vocabulary and a page: many distinct queries, so both
            # cached and uncached answers are measured.
            q = f"{rng.choice(rng_words)} {rng.choice(rng_words)}"
            path = api(q, page=rng.randint(1, 3)) if rng.random() < 0.85 else \
                "/search?" + urlencode({"q": q})
            started = time.perf_counter()
            try:
                status, headers = server.get_with_headers(path, conn)
                if status == 503 and headers.get("retry-after"):
                    # Admission control shedding the questions past the queue: by design,
                    # not an error (32 clients asking at once saturate one process).
                    with lock:
                        shed[0] += 1
                    continue
                if status != 200:
                    raise AssertionError(f"status {status}")
            except Exception as exc:
                with lock:
                    errors.append(f"{path}: {type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port,
                                                  timeout=REQUEST_TIMEOUT_S)
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)

    try:
        for q in ("fever", "renal kidney", "tendon"):  # warm up: imports, first searchers
            server.get(api(q))
        rss_before = server.rss()
        threads = [threading.Thread(target=client, args=(n,), daemon=True)
                   for n in range(LOAD_CLIENTS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        # Memory grows while caches fill (results cache, a searcher per thread), then stays:
        # both the growth from idle and the growth after warming up are bounded.
        time.sleep(WARMUP_SECONDS)
        rss_warm = server.rss()
        time.sleep(LOAD_SECONDS - WARMUP_SECONDS)
        stop.set()
        for t in threads:
            t.join(timeout=REQUEST_TIMEOUT_S + 5)
        elapsed = time.monotonic() - started
        rss_after = server.rss()
    finally:
        server.stop()

    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(len(latencies) * 0.95)] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    growth_mb = (rss_after - rss_before) / 1e6
    steady_mb = (rss_after - rss_warm) / 1e6
    with capsys.disabled():
        print(f"\n  load: {LOAD_CLIENTS} clients for {elapsed:.0f}s on localhost: "
              f"{len(latencies)} requests answered ({len(latencies) / elapsed:.0f}/s), "
              f"{shed[0]} shed with 503 and Retry-After "
              f"({shed[0] / max(1, shed[0] + len(latencies)):.0%}), "
              f"{len(errors)} errors; latency of the answered p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
              f"p99 {p99:.0f} ms, max {latencies[-1] * 1000:.0f} ms; server RSS idle "
              f"{rss_before / 1e6:.0f} MB, after {WARMUP_SECONDS:.0f}s "
              f"{rss_warm / 1e6:.0f} MB, at the end {rss_after / 1e6:.0f} MB "
              f"({growth_mb:+.0f} MB from idle, {steady_mb:+.0f} MB after warming up)")
    assert not errors, errors[:10]
    assert len(latencies) > LOAD_SECONDS * 10
    assert growth_mb < 100
    assert steady_mb < 40
    assert p95 < 5000
