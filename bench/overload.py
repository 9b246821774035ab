"""Overload: clients sending distinct, expensive questions (many phrases of common words)
as fast as they are answered, while one reader asks questions whose answers are cached and
a monitor asks /healthz.

    python -m bench.overload                       # 16, 64 and 128 clients, 20 s each
    python -m bench.overload --clients 64 --duration 10 --processes 1
    python -m bench.overload --order both          # cheap requests first beside arrival order

The load comes from `bench.http_load` in its own process; the probe (cached answers and
/healthz, one at a time, every 50 ms) from this one. Prints, per client count: requests
answered (served), refused with 503 and Retry-After (shed) and their share, other errors,
and p95 of the computed answers, the cached answers and /healthz. With `--order both`, two
servers differing only in the order their threads take requests (HEALTHSEARCH_CHEAP_FIRST)
are measured in turn, round by round, so that the machine's load falls on both alike.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote_plus

from bench.harness import free_port, latency_summary
from bench.http_load import probe
from bench.run import load_phase, server_command, wait_ready

# Made-up words (never stop words, never corrected): each is in most articles, so a phrase
# of two of them makes Whoosh check positions in most documents, in Python.
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "gu", "ze"]
CACHED = ["zqcached kidney", "zqcached fever", "zqcached tendon"]
PROBE_EVERY_S = 0.05


def common_words(count: int = 60, seed: int = 7) -> list[str]:
    """`count` distinct made-up words."""
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(3)))
    return sorted(words)


def write_phrase_corpus(folder: Path, docs: int = 3000, words_per_doc: int = 150,
                        seed: int = 11) -> Path:
    """A JSON Lines corpus where every word is common, and three articles the cached
    questions find."""
    rng = random.Random(seed)
    vocabulary = common_words()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "phrases.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(docs):
            words = [rng.choice(vocabulary) for _ in range(words_per_doc)]
            f.write(json.dumps({"id": f"p-{i}", "title": " ".join(words[:4]),
                                "text": " ".join(words) + "."}) + "\n")
        for q in CACHED:
            f.write(json.dumps({"id": q.replace(" ", "-"), "title": q.title(),
                                "text": f"An article about {q}."}) + "\n")
    return path


def expensive_questions(count: int, phrases: int = 8, seed: int = 3) -> list[str]:
    """`count` distinct questions of `phrases` quoted pairs of common words each."""
    rng = random.Random(seed)
    vocabulary = common_words()
    out: set[str] = set()
    while len(out) < count:
        out.add(" ".join(f'"{rng.choice(vocabulary)} {rng.choice(vocabulary)}"'
                         for _ in range(phrases)))
    return sorted(out)


def build_index(root: Path, docs: int) -> Path:
    """An index of the phrase corpus under `root` (words only: no vectors)."""
    corpus = root / "corpus"
    write_phrase_corpus(corpus, docs)
    index_dir = root / "index"
    subprocess.run([sys.executable, "-m", "healthsearch", "index", str(corpus),
                    "--index-dir", str(index_dir), "--quiet", "--no-vectors"],
                   check=True, capture_output=True, timeout=600)
    return index_dir


class Prober:
    """One reader asking cached questions and a monitor asking /healthz, in turn, until
    stopped: their latencies and any answer that was not a 200."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cached: list[float] = []
        self.health: list[float] = []
        self.errors: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(PROBE_EVERY_S):
            n += 1
            path = (f"/api/search?q={quote_plus(CACHED[n % len(CACHED)])}" if n % 2
                    else "/healthz")
            got = probe("127.0.0.1", self.port, [path], timeout=30)
            for kind, times in got["errors"].items():
                self.errors[kind] = self.errors.get(kind, 0) + times
            if got["ok"]:
                (self.cached if n % 2 else self.health).append(got["mean_ms"])

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=40)


def overload_round(port: int, queries_file: str, clients: int, duration: float,
                   offset: int = 0, honour_retry_after: bool = False) -> dict:
    """One load phase of `clients` clients, probed meanwhile: the figures of the round.
    With `honour_retry_after`, a refused client waits as told before asking again;
    otherwise it asks again at once."""
    with Prober(port) as prober:
        load = load_phase(port, queries_file, "expensive", clients, duration, offset,
                          extra=["--honour-retry-after"] if honour_retry_after else [])
    answered = load["ok"] + load["shed"]
    return {
        "clients": clients, "retry": "as told" if honour_retry_after else "at once",
        "served": load["ok"], "shed": load["shed"],
        "shed_share": round(load["shed"] / answered, 3) if answered else 0.0,
        "errors": load["errors"], "error_kinds": load["error_kinds"],
        "computed_p95_ms": load.get("p95_ms"),
        "cached": latency_summary(prober.cached), "healthz": latency_summary(prober.health),
        "probe_errors": prober.errors, "next_offset": load["next_offset"],
    }


# Answers in a row that must come from the cache before a question counts as cached in every
# process: the kernel hands each new connection to either process, not in turn, and one
# process missing a question's answer turns the probe's cached question into a computed
# one (a first round once saw 16 refused).
WARM_IN_A_ROW = 40


def warm(port: int, most: int = 1000) -> None:
    """Put the cached questions' answers in every process's cache: each asked on new
    connections until WARM_IN_A_ROW answers in a row say they came from the cache (at most
    `most` times)."""
    for q in CACHED:
        in_a_row = 0
        for _ in range(most):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", f"/api/search?q={quote_plus(q)}")
                cached = json.loads(conn.getresponse().read()).get("cached", False)
            finally:
                conn.close()
            in_a_row = in_a_row + 1 if cached else 0
            if in_a_row >= WARM_IN_A_ROW:
                break


# The order a server's threads take requests in: cheap ones first (the default), or as they
# came (waitress's own).
ORDERS = {"cheap-first": "1", "arrival": "0"}


def start_server(index_dir: Path, log: Path, threads: int, processes: int,
                 order: str) -> tuple[subprocess.Popen, int]:
    """A server of the phrase index taking requests in `order`, ready and warmed: the
    process and its port."""
    port = free_port()
    env = {**os.environ, "HEALTHSEARCH_CHEAP_FIRST": ORDERS[order]}
    with log.open("w") as f:
        proc = subprocess.Popen(server_command("ours", index_dir, port, threads, processes),
                                stdout=subprocess.DEVNULL, stderr=f, env=env)
    wait_ready(port, proc)
    warm(port)
    return proc, port


def main(argv: list[str] | None = None) -> None:
    """Command line: serve a phrase corpus, overload it at each client count, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", default="16,64,128")
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--processes", type=int, default=2, help="as make serve on 2 cores")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--retry", choices=("both", "at-once", "as-told"), default="both",
                    help="refused clients ask again at once, or after Retry-After, or both")
    ap.add_argument("--order", choices=("both", *ORDERS), default="cheap-first",
                    help="the order the server's threads take requests in, or both in turn")
    args = ap.parse_args(argv)
    modes = {"both": (False, True), "at-once": (False,), "as-told": (True,)}[args.retry]
    orders = list(ORDERS) if args.order == "both" else [args.order]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        index_dir = build_index(root, args.docs)
        queries = root / "queries.json"
        queries.write_text(json.dumps({"expensive": expensive_questions(20000)}))
        servers: dict[str, tuple[subprocess.Popen, int]] = {}
        try:
            for order in orders:
                servers[order] = start_server(index_dir, root / f"{order}.log", args.threads,
                                              args.processes, order)
            offset = 0
            for clients in (int(c) for c in args.clients.split(",")):
                for honour in modes:
                    for order, (_proc, port) in servers.items():
                        row = overload_round(port, str(queries), clients, args.duration,
                                             offset, honour)
                        offset = row.pop("next_offset")
                        row["order"] = order
                        row["load_average"] = round(os.getloadavg()[0], 2)
                        print(format_row(row), flush=True)
                        print(json.dumps(row), flush=True)
        finally:
            for proc, _port in servers.values():
                proc.terminate()
                proc.wait(timeout=30)


def format_row(row: dict) -> str:
    """One round as a line a reader takes in at once."""
    order = f" [{row['order']}]" if "order" in row else ""
    return (f"{row['clients']:>4} clients, retrying {row['retry']}{order}: "
            f"served {row['served']}, "
            f"shed {row['shed']} "
            f"({row['shed_share']:.0%}), errors {row['errors']}; p95 computed "
            f"{row['computed_p95_ms']} ms, cached {row['cached'].get('p95_ms')} ms, "
            f"/healthz {row['healthz'].get('p95_ms')} ms"
            + (f"; load average {row['load_average']}" if 'load_average' in row else ""))


if __name__ == "__main__":
    main()
