"""Profiles of our engine for the lead to act on: pyinstrument for indexing, and a memory
probe of a serving process.

    python -m bench.profiling build --index-dir D --out P.txt PATH...       # full build, 1 writer
    python -m bench.profiling incremental --index-dir D --out P.txt FOLDER  # one run over FOLDER
    python -m bench.profiling memory --index-dir D --queries Q.json --out P.txt

Each writes text without machine paths and prints a JSON summary. The pyinstrument ones give
the call tree (Whoosh and engine frames shown) and the functions by own time; the memory
probe gives resident memory after each step of serving (engine created, one search, searches
from 8 threads as waitress would run them) and tracemalloc's largest Python allocation sites.
The search profile is made by `bench.peers_speed query --profile`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import psutil
from pyinstrument import Profiler

from bench.harness import clean_profile_text, write_profile

MB = 2**20
SINGLE = 12  # memory probe: searches in one thread, then
PER_THREAD = 2  # searches in each of the serving threads


def indexing(args: argparse.Namespace) -> dict:
    """Profile one full build (1 writer) or one incremental run."""
    from indexer.build import index_corpus
    from indexer.storage import IndexStore

    index_dir = Path(args.index_dir)
    if args.what == "build" and index_dir.exists():
        shutil.rmtree(index_dir)
    profiler = Profiler(interval=0.002)
    started = time.perf_counter()
    profiler.start()
    summary = index_corpus([Path(p) for p in args.paths], IndexStore(index_dir),
                           rebuild=args.what == "build", workers=1)
    profiler.stop()
    seconds = time.perf_counter() - started
    title = (f"{args.what} of {args.label or 'the corpus'}, 1 writer, "
             f"{summary.written} entries written, {summary.unchanged} unchanged, "
             f"{seconds:.1f} s under the profiler")
    write_profile(profiler, Path(args.out), title)
    data = summary.as_json()
    data.pop("index_dir", None)
    return {**data, "profiled_seconds": round(seconds, 2)}


def _mem() -> dict:
    info = psutil.Process().memory_info()
    return {"rss_mb": round(info.rss / MB, 1), "file_backed_mb": round(info.shared / MB, 1)}


def memory(args: argparse.Namespace) -> dict:
    """Resident memory at each step of serving, and the largest Python allocation sites."""
    steps: list[tuple[str, dict]] = []
    import indexer.search  # noqa: F401  (imports count as the baseline)
    from indexer.config import Settings
    from indexer.search import SearchEngine

    steps.append(("imports done", _mem()))
    queries = json.loads(Path(args.queries).read_text(encoding="utf-8"))["distinct"]
    tracemalloc.start(8)
    engine = SearchEngine(Settings(index_dir=Path(args.index_dir)).with_overrides(
        cache_size=1024))
    steps.append(("SearchEngine created", _mem()))
    engine.search(queries[0])
    steps.append(("1 search, 1 thread", _mem()))
    heavy: list[tuple[float, float, str]] = []
    for q in queries[1:1 + SINGLE]:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        engine.search(q)
        ms = (time.perf_counter() - t0) * 1000
        heavy.append(((tracemalloc.get_traced_memory()[1] - base) / MB, ms, q))
    steps.append((f"{SINGLE} more searches, 1 thread", _mem()))
    heavy.sort(reverse=True)

    def worker(chunk: list[str]) -> None:
        for q in chunk:
            engine.search(q)

    first = 1 + SINGLE
    threads = [threading.Thread(target=worker,
                                args=(queries[first + PER_THREAD * i:
                                              first + PER_THREAD * (i + 1)],))
               for i in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    steps.append((f"{PER_THREAD} searches in each of {args.threads} more threads", _mem()))
    snapshot = tracemalloc.take_snapshot()
    traced, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    by_line = snapshot.statistics("lineno")[:25]
    by_trace = snapshot.statistics("traceback")[:8]
    lines = [f"# Memory probe: our engine serving {args.label or 'an index'}", "",
             "Resident memory after each step (file-backed: pages of memory-mapped index "
             "files and shared libraries):", ""]
    lines += [f"- {name}: {m['rss_mb']} MB resident, {m['file_backed_mb']} MB file-backed"
              for name, m in steps]
    lines += ["", f"Python allocations traced since the engine was created: "
              f"{traced / MB:.1f} MB live, {peak / MB:.1f} MB peak.", "",
              "## Searches with the largest transient Python allocations (1 thread, of "
              f"{SINGLE})", ""]
    lines += [f"- {mb:.1f} MB peak above the baseline, {ms:.0f} ms (under tracemalloc): {q!r}"
              for mb, ms, q in heavy[:8]]
    lines += ["", "## Largest live Python allocations by line", ""]
    lines += [f"- {s.size / MB:8.2f} MB in {s.count:>8,} blocks: "
              f"{clean_profile_text(str(s.traceback[0]))}" for s in by_line]
    lines += ["", "## Largest live Python allocations by call stack", ""]
    for s in by_trace:
        lines.append(f"- {s.size / MB:.2f} MB in {s.count:,} blocks:")
        lines += [f"    {clean_profile_text(str(frame))}" for frame in s.traceback]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"steps": {name: m for name, m in steps}, "traced_live_mb": round(traced / MB, 1),
            "traced_peak_mb": round(peak / MB, 1),
            "largest_search_peak_mb": round(heavy[0][0], 1) if heavy else None}


def main(argv: list[str] | None = None) -> None:
    """Command line: one profile; prints a JSON summary."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("build", "incremental", "memory"))
    ap.add_argument("--index-dir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--queries", default="", help="memory: JSON file from bench.querylog")
    ap.add_argument("--threads", type=int, default=8, help="memory: serving threads")
    ap.add_argument("paths", nargs="*")
    args = ap.parse_intermixed_args(argv)
    if args.what == "memory":
        result = memory(args)
    else:
        if not args.paths:
            ap.error("give the corpus paths")
        result = indexing(args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
