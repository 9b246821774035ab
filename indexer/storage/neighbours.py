"""A generation's nearest-neighbour graph over its article vectors (HNSW, by faiss), so that a
question finds the articles closest in meaning without being compared with every vector.

Comparing a question with every one of 100,000 vectors takes 11 ms of one core, as long as
the rest of the question's ranking; the graph answers in well under a millisecond and finds
the same closest articles (`python -m bench.neighbours`). Below GRAPH_FROM articles the
comparison with every vector is cheap, and no graph is kept.

The graph lives beside the vector table (neighbours.faiss) and is derived from it. Each
vector is labelled by its article's content hash (`label_of`), so a graph may lag its table
and still give right answers:

- a changed or deleted article's old vector has a label the table no longer holds, and is
  passed over (a stale vector);
- a new or changed article's vector the graph lacks (an unlinked one) is compared with each
  question directly, as every vector is without a graph.

So an update of a few articles does not touch the graph; once MAX_UNLINKED vectors are
unlinked they are added to it, and once a quarter of it is stale it is built again. The table
records the labels the graph held when it was written (`VectorTable.linked`), so an update
decides without reading the graph.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

NEIGHBOURS = "neighbours.faiss"
# From how many articles a generation keeps a graph: below, comparing a question with every
# vector costs under 2.5 ms (bench.dense, "closest among 100k vectors": 11 ms at 100,000).
GRAPH_FROM = 20_000
# HNSW's links per vector and its search breadth while building (faiss's defaults are 32 and
# 40): at 100,000 articles, built in 7.4 s on 2 cores (bench.neighbours).
LINKS = 32
BUILD_BREADTH = 80
# A search's breadth: this many candidates for each neighbour asked for (at least 64). At
# 100,000 articles, asked for 120: recall .925 at 1x (0.37 ms), .968 at 2x (0.63 ms), .980
# at 3x (0.85 ms), .986 at 4x (1.16 ms), against 9.5 ms comparing every vector
# (bench/results/2026-12-06-neighbours.md).
BREADTH_PER_RESULT = 3
SEARCH_BREADTH = 64
# Vectors the graph may lack before an update adds them: each question is compared with
# them one by one (2,000 rows: about 0.2 ms), and an update of fewer articles than this
# neither reads nor rewrites the graph (0.3 s each at 100,000 articles).
MAX_UNLINKED = 2000
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
    """An HNSW graph of unit vectors (kept as float16), each under a label; similarity is the
    dot product. Vectors are addressed by label, or by position (the order they were added)."""

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

    def add(self, labels: np.ndarray, matrix: np.ndarray) -> None:
        """Add `matrix`'s rows under `labels`."""
        if len(labels):
            self._index.add_with_ids(np.ascontiguousarray(matrix, dtype=np.float32),
                                     np.ascontiguousarray(labels, dtype=np.int64))
            self.labels = np.concatenate([self.labels, labels.astype(np.int64)])

    def positions_of(self, labels: np.ndarray) -> np.ndarray:
        """The position of the vector under each label; -1 where the graph has none."""
        if not len(self.labels):
            return np.full(len(labels), -1, dtype=np.int64)
        order = np.argsort(self.labels, kind="stable")
        held = self.labels[order]
        where = np.searchsorted(held, labels)
        where[where >= len(held)] = 0
        return np.where(held[where] == labels, order[where], -1)

    def vectors(self, positions: np.ndarray) -> np.ndarray:
        """(len(positions), dims) float32: the vectors at those positions, as the graph
        holds them (the float16 the table stores)."""
        return self._hnsw.reconstruct_batch(np.ascontiguousarray(positions, dtype=np.int64))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, similarities) of the k vectors closest to `query`, closest first
        (fewer when the graph holds fewer)."""
        import faiss

        k = min(k, len(self))
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(SEARCH_BREADTH, BREADTH_PER_RESULT * k)
        found, positions = self._hnsw.search(
            np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1), k, params=params)
        keep = positions[0] >= 0
        return positions[0][keep], found[0][keep]

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
        except (RuntimeError, ValueError, AttributeError):  # how faiss reports a bad file
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


def _fits(labels: np.ndarray, linked: np.ndarray) -> bool:
    """True when a graph holding `linked` serves a table of `labels` as it is: few enough
    of the table's vectors unlinked, few enough of its own stale."""
    unlinked = int(np.count_nonzero(~np.isin(labels, linked)))
    stale = len(linked) - int(np.count_nonzero(np.isin(linked, labels)))
    return unlinked <= MAX_UNLINKED and stale <= MAX_STALE_SHARE * max(len(linked), 1)


def graph_in_step(gen_path: Path, labels: np.ndarray, matrix: np.ndarray,
                  linked: np.ndarray | None, earlier: tuple[Path, ...] = (),
                  announce: Callable[[], None] | None = None) -> np.ndarray:
    """Bring the generation's graph in step with its table (`labels`, `matrix` rows); the
    labels the graph holds afterwards, for the table to record.

    `linked` is what the table recorded the graph held (None: nothing recorded). When that
    still fits (see MAX_UNLINKED, MAX_STALE_SHARE) the graph is neither read nor written.
    Otherwise the graph itself is read (the generation's own, else the first of `earlier`,
    those it replaces) and the vectors it lacks added, or it is built anew when there is
    none or a quarter of it would be stale (`announce` is called first). Below GRAPH_FROM
    vectors there is no graph.
    """
    if not keeps_graph(len(labels)):
        NeighbourGraph.remove(gen_path)
        return np.empty(0, dtype=np.int64)
    own = (gen_path / NEIGHBOURS).is_file()
    if own and linked is not None and _fits(labels, linked):
        return linked
    if announce is not None:
        announce()
    graph = None
    for path in ((gen_path,) if own else ()) + tuple(earlier):
        graph = NeighbourGraph.read(path)
        if graph is not None:
            break
    if graph is not None:
        missing = ~np.isin(labels, graph.labels)
        stale = len(graph) - int(np.count_nonzero(np.isin(graph.labels, labels)))
        if stale > MAX_STALE_SHARE * (len(graph) + int(np.count_nonzero(missing))):
            graph = None
        else:
            graph.add(labels[missing], matrix[missing])
    if graph is None:
        graph = NeighbourGraph.build(labels, matrix)
    graph.write(gen_path)
    return graph.labels
