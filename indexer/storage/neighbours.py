"""A generation's nearest-neighbour graph over its article vectors (HNSW, by faiss), so that a
question finds the articles closest in meaning without being compared with every vector.

Comparing a question with every one of 100,000 vectors takes 11 ms of one core, as long as
the rest of the question's ranking; the graph answers in well under a millisecond and finds
the same closest articles (`python -m bench.neighbours`). Below GRAPH_FROM articles the
comparison with every vector is cheap, and no graph is kept.

The graph lives beside the vector table (neighbours.faiss) and is derived from it: each
vector is labelled by the content hash of its article (`label_of`), so a graph that is older
than its table still gives right answers (a changed or deleted article's old vector has a
label the table no longer holds, and is passed over), and one that lacks some of the
table's vectors is not used (`covers`). An update adds the new vectors to the graph; once a
quarter of its vectors are stale it is built again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

NEIGHBOURS = "neighbours.faiss"
# From how many articles a generation keeps a graph: below, comparing a question with every
# vector costs under 2.5 ms (bench.dense, "closest among 100k vectors": 11 ms at 100,000).
GRAPH_FROM = 20_000
# HNSW's links per vector and its search breadth while building (faiss's defaults are 32 and
# 40): at 100,000 articles, recall@20 of 1.000 at a build of 20 s on 2 cores.
LINKS = 32
BUILD_BREADTH = 80
# The least breadth of a search; a search for more neighbours than this looks that wide.
SEARCH_BREADTH = 64
# Stale vectors (of changed or deleted articles) a graph may carry before it is built again.
MAX_STALE_SHARE = 0.25


def keeps_graph(count: int) -> bool:
    """True when a generation of `count` vectors keeps a nearest-neighbour graph."""
    return count >= GRAPH_FROM


def label_of(content_hash: str) -> int:
    """The graph's label of an article's vector: 63 bits of a digest of its content hash."""
    digest = hashlib.blake2b(content_hash.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") >> 1


def labels_of(hashes: list[str]) -> np.ndarray:
    """label_of each content hash, as int64."""
    return np.fromiter((label_of(h) for h in hashes), dtype=np.int64, count=len(hashes))


class NeighbourGraph:
    """An HNSW graph of unit vectors, each under a label; similarity is the dot product."""

    def __init__(self, index) -> None:
        import faiss

        self._index = index  # faiss.IndexIDMap2 over an IndexHNSWSQ (float16 vectors)
        self._hnsw = faiss.downcast_index(index.index)
        self.labels = faiss.vector_to_array(index.id_map).astype(np.int64, copy=False)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @classmethod
    def build(cls, labels: np.ndarray, matrix: np.ndarray) -> NeighbourGraph:
        """A graph of `matrix`'s rows (unit vectors) under `labels`."""
        import faiss

        hnsw = faiss.IndexHNSWSQ(matrix.shape[1], faiss.ScalarQuantizer.QT_fp16, LINKS,
                                 faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = BUILD_BREADTH
        index = faiss.IndexIDMap2(hnsw)
        rows = np.ascontiguousarray(matrix, dtype=np.float32)
        index.train(rows)  # float16 storage learns nothing, but faiss asks for it
        if len(rows):
            index.add_with_ids(rows, np.ascontiguousarray(labels, dtype=np.int64))
        return cls(index)

    def covers(self, labels: np.ndarray) -> bool:
        """True when the graph holds a vector under each of `labels`."""
        return bool(np.isin(labels, self.labels).all())

    def add(self, labels: np.ndarray, matrix: np.ndarray) -> None:
        """Add `matrix`'s rows under `labels`."""
        if len(labels):
            self._index.add_with_ids(np.ascontiguousarray(matrix, dtype=np.float32),
                                     np.ascontiguousarray(labels, dtype=np.int64))
            self.labels = np.concatenate([self.labels, labels.astype(np.int64)])

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(labels, similarities) of the k vectors closest to `query`, closest first (fewer
        when the graph holds fewer)."""
        import faiss

        k = min(k, len(self))
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(SEARCH_BREADTH, k)
        found, positions = self._hnsw.search(
            np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1), k, params=params)
        keep = positions[0] >= 0
        return self.labels[positions[0][keep]], found[0][keep]

    @classmethod
    def read(cls, gen_path: Path, threads: int = 0) -> NeighbourGraph | None:
        """The generation's graph, or None when it has none (or it is unreadable). `threads`
        caps faiss's threads in this process (0: leave them be); a server searches with 1."""
        import faiss

        if threads > 0:
            faiss.omp_set_num_threads(threads)
        path = gen_path / NEIGHBOURS
        if not path.is_file():
            return None
        try:
            return cls(faiss.read_index(str(path)))
        except (RuntimeError, ValueError, AttributeError):  # faiss reports a bad file so
            return None

    def write(self, gen_path: Path) -> None:
        """Replace the generation's graph atomically."""
        import faiss

        path = gen_path / NEIGHBOURS
        tmp = path.with_name(f".{NEIGHBOURS}.{os.getpid()}.tmp")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @staticmethod
    def remove(gen_path: Path) -> None:
        """Drop the generation's graph, if it has one."""
        (gen_path / NEIGHBOURS).unlink(missing_ok=True)


def graph_in_step(gen_path: Path, labels: np.ndarray, matrix: np.ndarray,
                  earlier: NeighbourGraph | None) -> NeighbourGraph | None:
    """A graph of the table (`labels` and `matrix` rows) for the generation, written there:
    `earlier` (the generation's own, or the one it replaces) with the vectors it lacks added,
    or built anew when there is none or a quarter of it would be stale; none at all below
    GRAPH_FROM vectors (any old one removed)."""
    if not keeps_graph(len(labels)):
        NeighbourGraph.remove(gen_path)
        return None
    graph, changed = earlier, False
    if graph is not None:
        missing = ~np.isin(labels, graph.labels)
        stale = len(graph) - int(np.count_nonzero(np.isin(graph.labels, labels)))
        if stale / (len(graph) + int(np.count_nonzero(missing))) > MAX_STALE_SHARE:
            graph = None
        elif missing.any():
            graph.add(labels[missing], matrix[missing])
            changed = True
    if graph is None:
        graph, changed = NeighbourGraph.build(labels, matrix), True
    if changed or not (gen_path / NEIGHBOURS).is_file():
        graph.write(gen_path)
    return graph
