"""Type-ahead speed: `SearchEngine.complete()` in-process, at scale.

    python -m bench.typeahead                       # the generated 100k corpus
    python -m bench.typeahead --docs 10k
    python -m bench.typeahead --index-dir var/index # any index already built

What is timed: one call of `complete(prefix, limit=8)` per prefix, as /api/suggest makes it,
on a warmed engine (`SearchEngine.warm()` reads the completions table of the snapshot first;
that one-off cost, with the other tables a question needs, is reported apart as "warm").
The prefixes are what readers type on the way to a title: for each of --prefixes titles
drawn (seeded) from MedQuAD and LiveQA, one cut at a random length from 2 characters to the
whole title, most of them mid-word, plus the issue's own examples ("heart a", "high bl",
"diab"). A words-only index of the scale corpus (bench/scale.py) is built once under the
benchmark cache; the target is p95 <= 10 ms at 100k.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time
from pathlib import Path

from bench import scale as scalegen
from bench.harness import CACHE, DATA, iter_jsonl, percentile, rel, write_json

RESULTS = Path(__file__).resolve().parent / "results"
EXAMPLES = ["heart a", "high bl", "diab", "brest", "cant sl", "stomach c", "migr"]
TARGET_P95_MS = 10.0


def reader_prefixes(count: int, seed: int = 7) -> list[str]:
    """What readers type on the way to a title: one random cut of each of `count` titles of
    the real corpora (MedQuAD, LiveQA passages), plus EXAMPLES."""
    titles = sorted({" ".join(str(r.get("title", "")).lower().split())
                     for name in ("medquad/corpus.jsonl.gz", "medquad_liveqa/corpus.jsonl")
                     for r in iter_jsonl(DATA / name)} - {""})
    rng = random.Random(seed)
    picked = rng.sample(titles, min(count, len(titles)))
    return EXAMPLES + [t[:rng.randint(2, len(t))] for t in picked if len(t) >= 2]


def scale_index(docs: int) -> Path:
    """A words-only index of the generated corpus of `docs` documents (built once)."""
    from indexer.build import index_corpus
    from indexer.storage import IndexStore

    label = scalegen.label_of(docs)
    index_dir = CACHE / "typeahead" / label / "index"
    store = IndexStore(index_dir)
    if store.current_name() is None:
        folder = scalegen.ensure_corpus(docs)
        started = time.perf_counter()
        index_corpus([folder], store, workers=2)
        print(f"built {rel(index_dir)} in {time.perf_counter() - started:.0f}s")
    return index_dir


def measure(index_dir: Path, prefixes: list[str], rounds: int) -> dict:
    """Per-call milliseconds of complete() over the prefixes, `rounds` passes (after warm())."""
    from indexer.config import Settings
    from indexer.search import SearchEngine

    engine = SearchEngine(Settings(index_dir=index_dir, cache_size=0))
    started = time.perf_counter()
    engine.warm()
    warm_s = time.perf_counter() - started
    engine.complete("he")  # one untimed call
    ms: list[float] = []
    for _ in range(rounds):
        for prefix in prefixes:
            t0 = time.perf_counter()
            engine.complete(prefix, limit=8)
            ms.append((time.perf_counter() - t0) * 1000)
    examples = {p: [c.text for c in engine.complete(p, limit=3)] for p in EXAMPLES}
    return {"docs": engine.doc_count(), "calls": len(ms), "warm_s": round(warm_s, 2),
            "p50_ms": round(statistics.median(ms), 3), "p95_ms": round(percentile(ms, 95), 3),
            "p99_ms": round(percentile(ms, 99), 3), "max_ms": round(max(ms), 2),
            "examples": examples}


def main(argv: list[str] | None = None) -> None:
    """Command line entry point: print the figures and keep them under bench/results."""
    parser = argparse.ArgumentParser(prog="python -m bench.typeahead", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=scalegen.parse_label, default=100_000,
                        help="size of the generated corpus (default 100k)")
    parser.add_argument("--index-dir", type=Path, help="time this index instead")
    parser.add_argument("--prefixes", type=int, default=1000, help="titles cut (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over them (default 3)")
    args = parser.parse_args(argv)
    index_dir = args.index_dir or scale_index(args.docs)
    found = measure(index_dir, reader_prefixes(args.prefixes), args.rounds)
    label = "index" if args.index_dir else scalegen.label_of(args.docs)
    found.update({"index": rel(index_dir), "target_p95_ms": TARGET_P95_MS,
                  "date": dt.date.today().isoformat()})
    print(json.dumps(found, indent=2))
    print(f"type-ahead at {found['docs']:,} documents: p50 {found['p50_ms']} ms, "
          f"p95 {found['p95_ms']} ms (target <= {TARGET_P95_MS:g}), p99 {found['p99_ms']} ms, "
          f"warm() {found['warm_s']} s")
    write_json(RESULTS / f"{found['date']}-typeahead-{label}.json", found)


if __name__ == "__main__":
    main()
