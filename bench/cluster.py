"""Read replicas behind HAProxy on this machine: req/s and p95 with 1, 2 and 3 replicas, and
how long publishing a generation takes, for the real ~11k corpus and a generated 100k one.

    python -m bench.cluster                       # real ~11k, 1/2/3 replicas, publish times
    python -m bench.cluster --scales real,100k    # and the 100k scale corpus (bench/scale.py)
    python -m bench.cluster --scales 100k --publish-only

Caveat: every replica, HAProxy and the load generator share this machine's cores, so more
replicas cannot add cores here; the figures show what the balancer costs and that
throughput holds, not how a cluster of machines scales. The indexes hold words only (no
article vectors), like bench.run's.

Publishing is timed to three fresh replica folders on this disk, once with hard links (the
default where replicas share a disk) and once copying every byte (--no-links, what another
disk or machine costs, less the network): copy and switch, in process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench import scale as scalegen
from bench.harness import CACHE, REPO, dir_bytes, free_port, machine_info, real_corpus_paths
from bench.querylog import cached_sets
from bench.run import PY, load_phase
from healthsearch.replicas import cluster_status
from healthsearch.trycluster import LocalCluster
from indexer.config import Replica, Settings
from indexer.storage import IndexStore
from indexer.storage.publish import publish

WORK = CACHE / "cluster"
PUBLISH_REPLICAS = 3


def corpus_paths(label: str) -> list[Path]:
    """The corpus files of a scale: "real" (the shipped ~11k) or a generated size."""
    if label == "real":
        return real_corpus_paths()
    return [scalegen.ensure_corpus(scalegen.parse_label(label))]


def primary_index(label: str, rebuild: bool) -> tuple[Path, float | None]:
    """The scale's words-only index (built once, kept under the bench cache); its folder and
    the build's seconds when it was built now."""
    index_dir = WORK / label / "primary"
    if IndexStore(index_dir).exists() and not rebuild:
        return index_dir, None
    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([PY, "-m", "healthsearch", "index", *map(str, corpus_paths(label)),
                    "--rebuild", "--no-vectors", "--quiet", "--index-dir", str(index_dir)],
                   cwd=REPO, check=True)
    return index_dir, time.perf_counter() - started


def publish_seconds(index_dir: Path, links: bool) -> float:
    """Publishing to fresh replica folders (indexer.storage.publish), start to end, in this
    process: what `healthsearch publish` costs less its interpreter's start."""
    with tempfile.TemporaryDirectory(prefix="publish-", dir=WORK) as tmp:
        replicas = [Replica(f"r{n}", f"{tmp}/r{n}/index") for n in range(1, PUBLISH_REPLICAS + 1)]
        started = time.perf_counter()
        outcomes = publish(IndexStore(index_dir), replicas, links=links)
        seconds = time.perf_counter() - started
        failed = [o.error for o in outcomes if o.error]
        if failed:
            raise RuntimeError(f"publish failed: {failed}")
        return seconds


def serving(index_dir: Path, replicas: int, queries: str, clients: int,
            duration: float) -> dict:
    """One load phase through HAProxy in front of `replicas` replicas (after a warm-up)."""
    port = free_port()
    settings = Settings(index_dir=index_dir, host="127.0.0.1", port=port)
    folder = WORK / "serving" / f"n{replicas}"
    shutil.rmtree(folder, ignore_errors=True)
    cluster = LocalCluster(settings, folder, replicas, base_port=_free_base(replicas))
    try:
        cluster.start()
        time.sleep(1.5)  # HAProxy's first checks
        load_phase(port, queries, "warmup", clients, 5.0, 0)
        out = {"load_average": round(os.getloadavg()[0], 2)}
        out["balanced"] = load_phase(port, queries, "log", clients, duration, 0)
        if replicas == 1:  # the same server without HAProxy: what the balancer costs
            direct = int(cluster.replicas[0].url.rsplit(":", 1)[1])
            out["direct"] = load_phase(direct, queries, "log", clients, duration, 0)
        out["replicas_healthy"] = sum(s["healthy"] for s in cluster_status(cluster.replicas))
        return out
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> None:
    """Print one JSON object per figure, then a table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", default="real", help="comma-separated: real, 100k, ...")
    ap.add_argument("--replicas", default="1,2,3")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--publish-only", action="store_true", help="no serving phases")
    ap.add_argument("--rebuild", action="store_true", help="build the indexes again")
    args = ap.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    print(json.dumps({"machine": info}))
    rows = []
    for label in [s.strip() for s in args.scales.split(",") if s.strip()]:
        index_dir, build_s = primary_index(label, args.rebuild)
        store = IndexStore(index_dir)
        row = {"scale": label, "entries": _entries(index_dir),
               "index_mb": round(dir_bytes(store.current_path()) / 1e6, 1),
               "build_s": round(build_s, 1) if build_s else None,
               "publish_links_s": round(publish_seconds(index_dir, links=True), 2),
               "publish_copy_s": round(publish_seconds(index_dir, links=False), 2)}
        print(json.dumps(row))
        rows.append(row)
        if args.publish_only or label != "real" and len(args.scales.split(",")) > 1:
            continue  # serving is measured on the first scale only, unless asked alone
        queries = cached_sets()[1]
        for n in [int(x) for x in args.replicas.split(",")]:
            out = serving(index_dir, n, queries, args.clients, args.duration)
            for how in ("balanced", "direct"):
                if how not in out:
                    continue
                line = {"scale": label, "replicas": n, "how": how,
                        "req_per_s": out[how]["req_per_s"], "p50_ms": out[how].get("p50_ms"),
                        "p95_ms": out[how].get("p95_ms"), "errors": out[how]["errors"],
                        "clients": args.clients, "load_average": out["load_average"],
                        "replicas_healthy": out["replicas_healthy"]}
                print(json.dumps(line))
                rows.append(line)
    _table(rows, info)


def _free_base(count: int) -> int:
    """A base port whose next `count` ports are all free now."""
    for base in range(21000, 31000, 10):
        try:
            for n in range(1, count + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + n))
        except OSError:
            continue
        return base
    raise RuntimeError("no free ports for the replicas")


def _entries(index_dir: Path) -> int:
    from indexer.search import SearchEngine

    return SearchEngine(Settings(index_dir=index_dir, dense=False)).doc_count()


def _table(rows: list[dict], info: dict) -> None:
    print(f"\n{info.get('usable_cores', '?')} cores shared by every replica, HAProxy and the "
          f"load generator: more replicas add no cores here (load average at the start "
          f"{info.get('load_average_at_start')}).")
    for r in rows:
        if "replicas" in r:
            via = "through HAProxy" if r["how"] == "balanced" else "direct, no HAProxy"
            print(f"  {r['scale']:>5}  {r['replicas']} replica(s) {via}: {r['req_per_s']:7.1f} "
                  f"req/s, p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms, {r['errors']} "
                  f"errors ({r['clients']} clients, load average {r['load_average']})")
        else:
            print(f"  {r['scale']:>5}  {r['entries']:,} entries, {r['index_mb']} MB: publish "
                  f"to {PUBLISH_REPLICAS} replicas {r['publish_links_s']}s with hard links, "
                  f"{r['publish_copy_s']}s copying")


if __name__ == "__main__":
    main()
