"""The nearest-neighbour graph against comparing every vector, on an index's real vectors.

    python -m bench.neighbours INDEX_DIR [INDEX_DIR ...] [--breadth N]

For the live generation of each index (built with vectors, as `healthsearch index` builds
it; `make bench` leaves its indexes under bench/cache/indexes/), whatever its size:

- build: the seconds to build a graph of its vectors from scratch, as the indexer does from
  20,000 articles (all cores);
- recall: for the tuning questions (300 of MedQuAD tune's and NFCorpus dev's, encoded as a
  server encodes them; the breadth is chosen on these, never on test questions), the share
  of the articles found by comparing every vector that the graph finds too, among the
  closest k a search asks for (the articles joining a ranking and the best by words they
  must not repeat), and among those of them at least as close as an article must be to
  join (ranking.MEANING_MIN_COSINE);
- speed: thread CPU of one question's search, every vector compared (float32, as a search
  process holds a table without a graph) against the graph (float16 rows), alternating
  rounds, one thread each (as served): p50 and p95; the graph search run as served, with
  no vector unlinked;
- memory: what the rows take in a search process either way (float32 rows; the graph);
- rankings: the top 10 that `SearchEngine.rank` gives each question (the questions' text)
  with a graph and with every vector compared (two hard-linked copies of the index, one
  given a graph of its vectors): the share of questions whose top 10 is the same, in the
  same order, and the mean share of the top 10 the two have in common.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROUNDS = 3


def _quantiles(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50_ms": round(ms[len(ms) // 2], 3), "p95_ms": round(ms[int(len(ms) * 0.95)], 3)}


def questions() -> list[str]:
    """The questions searched: 300 of MedQuAD tune's and NFCorpus dev's, the tuning sets the
    graph's breadth is chosen on (never the reported test questions)."""
    from bench import datasets as data

    return [*data.medquad("tune").subset(300, seed=2).queries.values(),
            *data.nfcorpus("dev").queries.values()]


def figures(index_dir: Path, vectors: np.ndarray) -> dict:
    """The build, recall, speed and memory figures of one index (see the module's doc)."""
    import faiss
    from threadpoolctl import threadpool_limits

    from indexer.ranking.encoder import MODEL_NAME
    from indexer.ranking.model import DENSE_CANDIDATES, DENSE_DEPTH, MEANING_MIN_COSINE
    from indexer.storage import IndexStore, NeighbourGraph, VectorTable
    from indexer.storage.neighbours import NEIGHBOURS

    gen = IndexStore(index_dir).current_path()
    table = VectorTable.read(gen, MODEL_NAME)
    if table is None:
        return {"error": f"no vector table in {gen}"}
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))  # as the indexer builds it
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        graph = NeighbourGraph.build(table.labels(), table.matrix)
        build_s = time.perf_counter() - started
        graph.write(Path(tmp))
        graph_file_bytes = (Path(tmp) / NEIGHBOURS).stat().st_size
        table.write(Path(tmp))
        exact = VectorTable.read(Path(tmp), MODEL_NAME, dtype=np.float32)
        linked = VectorTable.read_for_search(Path(tmp), MODEL_NAME)  # one faiss thread
    k = DENSE_CANDIDATES + DENSE_DEPTH
    found = wanted = close_found = close_wanted = 0
    for q in vectors:
        truth = exact.nearest_exactly(q, k)
        got = {row for row, _ in linked.nearest(q, k)}
        found += sum(row in got for row, _ in truth)
        wanted += len(truth)
        close = [row for row, cosine in truth if cosine >= MEANING_MIN_COSINE]
        close_found += sum(row in got for row in close)
        close_wanted += len(close)
    times: dict[str, list[float]] = {"every vector": [], "graph": []}
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(ROUNDS):
            for name, table_ in (("every vector", exact), ("graph", linked)):
                for q in vectors:
                    started = time.thread_time()
                    table_.nearest(q, k)
                    times[name].append((time.thread_time() - started) * 1000)
    return {
        "articles": len(table), "questions": len(vectors), "k": k,
        "graph_build_s": round(build_s, 2),
        "recall": round(found / max(wanted, 1), 4),
        f"recall of those at least {MEANING_MIN_COSINE} close": round(
            close_found / max(close_wanted, 1), 4),
        "closest per question (articles at least that close)": round(
            close_wanted / len(vectors), 1),
        "cpu": {name: _quantiles(ms) for name, ms in times.items()},
        "memory_mb": {"every vector (float32 rows)": round(exact.matrix.nbytes / 2**20, 1),
                      # The graph as faiss writes it (its float16 vectors and links):
                      # what a search process holds instead of the table's rows.
                      "graph": round(graph_file_bytes / 2**20, 1)},
    }


def same_rankings(index_dir: Path, texts: list[str], limit: int = 10) -> dict:
    """The share of `texts` whose top `limit` is the same with a graph of the index's
    vectors (whatever its size) as with every vector compared: two copies of the index by
    hard links, one given a graph, the other none."""
    from indexer.config import Settings
    from indexer.ranking.encoder import MODEL_NAME
    from indexer.search import SearchEngine
    from indexer.storage import IndexStore, NeighbourGraph, VectorTable
    from indexer.storage.neighbours import NEIGHBOURS

    with tempfile.TemporaryDirectory() as tmp:
        copies = [Path(tmp) / "graph", Path(tmp) / "every-vector"]
        for copy in copies:
            for path in sorted(index_dir.rglob("*")):
                target = copy / path.relative_to(index_dir)
                if path.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                elif path.name != NEIGHBOURS and not path.name.endswith(".lock"):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.link(path, target)
        gen = IndexStore(copies[0]).current_path()
        table = VectorTable.read(gen, MODEL_NAME)
        NeighbourGraph.build(table.labels(), table.matrix).write(gen)
        engines = [SearchEngine(Settings(index_dir=d, cache_size=0)) for d in copies]
        same = overlap = 0
        for text in texts:
            linked, exact = ([i for i, _ in e.rank(text, limit=limit)] for e in engines)
            same += linked == exact
            overlap += (len(set(linked) & set(exact)) / len(exact) if exact
                        else float(not linked))
    return {"questions": len(texts), "same top 10": round(same / len(texts), 4),
            "mean overlap of the top 10": round(overlap / len(texts), 4)}


def main(argv: list[str] | None = None) -> int:
    """Print the figures of each index as JSON."""
    from bench import datasets as data
    from indexer.ranking.encoder import Encoder

    parser = argparse.ArgumentParser(prog="python -m bench.neighbours", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index_dirs", nargs="+", type=Path)
    parser.add_argument("--breadth", type=int, default=None,
                        help="candidates per neighbour asked for (neighbours."
                             "BREADTH_PER_RESULT, the shipped value by default)")
    args = parser.parse_args(argv)
    if args.breadth:
        from indexer.storage import neighbours

        neighbours.BREADTH_PER_RESULT = args.breadth
    if not data.available():
        print("skipped: the shared data sets are not beside the project", file=sys.stderr)
        return 0
    texts = questions()
    vectors = Encoder.open(threads=1).encode(texts)
    print(json.dumps({str(d): {**figures(d, vectors), "rankings": same_rankings(d, texts)}
                      for d in args.index_dirs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
