"""Article vectors of an index generation: one table beside the Whoosh files (vectors.npz),
by article id, with the content hash each vector was computed from and the model that made
it. `indexer.build.vectors` keeps it in step with the articles; the search engine compares
questions with it, through the generation's nearest-neighbour graph when it has one
(`indexer.storage.neighbours`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.storage.neighbours import NeighbourGraph, labels_of

VECTORS = "vectors.npz"
# Rows converted to float32 at a time when a question is compared with the whole table.
NEAREST_BLOCK = 8192


@dataclass
class VectorTable:
    """Unit vectors (float16 on disk) of the articles of one generation, by article id."""

    ids: list[str]
    hashes: list[str]  # each article's content hash when its vector was computed
    matrix: np.ndarray
    model: str  # the name of the model that made the vectors
    rows: dict[str, int] = field(init=False, repr=False)
    # The generation's nearest-neighbour graph, when one is attached (read_for_search).
    graph: NeighbourGraph | None = field(init=False, default=None, repr=False)
    # The rows in the order of their labels, and those labels: a graph's label to its row.
    _label_order: np.ndarray | None = field(init=False, default=None, repr=False)
    _sorted_labels: np.ndarray | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.rows = {doc_id: i for i, doc_id in enumerate(self.ids)}

    def labels(self) -> np.ndarray:
        """Each row's label in a nearest-neighbour graph (from its content hash)."""
        return labels_of(self.hashes)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def read(cls, path: Path, model: str, dtype: type = np.float16) -> VectorTable | None:
        """The table in `path` (a file or a generation folder), or None when there is none or
        it is unreadable or was made by another model than `model`. Searching reads it as
        float32: a question compared with float16 rows pays for converting all of them each
        time."""
        if path.is_dir():
            path = path / VECTORS
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["model"]) != model:
                    return None
                return cls([str(i) for i in data["ids"]], [str(h) for h in data["hashes"]],
                           data["vectors"].astype(dtype, copy=False), model)
        except (OSError, ValueError, KeyError):
            return None

    @classmethod
    def read_for_search(cls, path: Path, model: str) -> VectorTable | None:
        """The table of a generation folder as a search process holds it: with the
        generation's nearest-neighbour graph attached when it has one holding every row (the
        rows stay float16: only those of a question's hits are converted), else as float32,
        every row compared with each question. faiss runs one thread here."""
        table = cls.read(path, model)
        if table is None:
            return None
        graph = NeighbourGraph.read(path, threads=1) if len(table) else None
        labels = table.labels()
        if graph is not None and graph.covers(labels):
            table.graph = graph
            order = np.argsort(labels, kind="stable")
            table._label_order, table._sorted_labels = order, labels[order]
        else:
            table.matrix = table.matrix.astype(np.float32)
        return table

    def write(self, gen_path: Path) -> None:
        """Replace the generation's table atomically (readers see the old or the new one)."""
        path = gen_path / VECTORS
        tmp = path.with_name(f".{VECTORS}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, model=np.array(self.model), ids=np.array(self.ids, dtype=np.str_),
                     hashes=np.array(self.hashes, dtype=np.str_),
                     vectors=self.matrix.astype(np.float16, copy=False))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine) of the k articles closest to the query vector, closest first: found
        through the graph when one is attached, else by comparing every row (equal cosines
        in row order)."""
        if self.graph is not None:
            return self._nearest_in_graph(query, k)
        return self.nearest_exactly(query, k)

    def _nearest_in_graph(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        # The graph may hold stale vectors (of articles since changed or deleted), passed
        # over: ask for more until k current ones are found or the graph is exhausted.
        if k <= 0:
            return []
        want = k
        while True:
            labels, cosines = self.graph.search(query, want + max(8, want // 4))
            where = np.searchsorted(self._sorted_labels, labels)
            where[where >= len(self._sorted_labels)] = 0
            current = self._sorted_labels[where] == labels
            rows = self._label_order[where[current]]
            if len(rows) >= k or len(labels) >= len(self.graph):
                return [(int(r), float(c)) for r, c in zip(rows[:k], cosines[current][:k],
                                                           strict=True)]
            want *= 2

    def nearest_exactly(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine) of the k articles closest to the query vector, every row compared,
        closest first (equal cosines in row order). A float16 table is converted a block at
        a time: a whole 100k table at once would be a 150 MB float32 copy per question."""
        out = np.empty(len(self.ids), dtype=np.float32)
        for start in range(0, len(out), NEAREST_BLOCK):
            block = self.matrix[start:start + NEAREST_BLOCK]
            out[start:start + len(block)] = block.astype(np.float32, copy=False) @ query
        k = min(k, len(out))
        if k <= 0:
            return []
        top = np.argpartition(-out, k - 1)[:k] if k < len(out) else np.arange(len(out))
        top = top[np.lexsort((top, -out[top]))]
        return [(int(row), float(out[row])) for row in top]

    @staticmethod
    def count(path: Path, model: str) -> int:
        """How many vectors of `model` the table in `path` (a generation folder) holds,
        reading only its ids; 0 when there is no readable table."""
        try:
            with np.load(path / VECTORS, allow_pickle=False) as data:
                return len(data["ids"]) if str(data["model"]) == model else 0
        except (OSError, ValueError, KeyError):
            return 0

    def cosines(self, doc_ids: Iterable[str], query: np.ndarray) -> np.ndarray:
        """Cosine of each article with the query vector; NaN for articles with no vector."""
        rows = np.array([self.rows.get(i, -1) for i in doc_ids], dtype=np.int64)
        out = np.full(len(rows), np.nan, dtype=np.float32)
        found = rows >= 0
        if found.any():
            out[found] = self.matrix[rows[found]].astype(np.float32, copy=False) @ query
        return out


