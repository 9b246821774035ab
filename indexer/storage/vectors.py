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
    # The labels the generation's nearest-neighbour graph held when the table was written
    # (None: not recorded); see indexer.storage.neighbours.
    linked: np.ndarray | None = None
    rows: dict[str, int] = field(init=False, repr=False)
    # Set by read_for_search when the generation has a graph: the rows as searched.
    _linked: _LinkedRows | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.rows = {doc_id: i for i, doc_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def labels(self) -> np.ndarray:
        """Each row's label in a nearest-neighbour graph (from its content hash)."""
        return labels_of(self.hashes)

    @property
    def graph(self) -> NeighbourGraph | None:
        """The generation's graph, when the table is searched through one."""
        return self._linked.graph if self._linked is not None else None

    @classmethod
    def read(cls, path: Path, model: str, dtype: type = np.float16) -> VectorTable | None:
        """The table in `path` (a file or a generation folder), or None when there is none or
        it is unreadable or was made by another model than `model`."""
        if path.is_dir():
            path = path / VECTORS
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["model"]) != model:
                    return None
                linked = data["linked"].astype(np.int64) if "linked" in data.files else None
                return cls([str(i) for i in data["ids"]], [str(h) for h in data["hashes"]],
                           data["vectors"].astype(dtype, copy=False), model, linked)
        except (OSError, ValueError, KeyError):
            return None

    @classmethod
    def read_for_search(cls, path: Path, model: str) -> VectorTable | None:
        """The table of a generation folder as a search process holds it. With the
        generation's nearest-neighbour graph, a question is compared with the rows the graph
        lacks and searched for in the graph, whose vectors serve for the rest (the table's
        own rows are not kept); without one, every row is compared with each question, the
        rows held as float32 (converting float16 rows costs more than the comparison).
        faiss runs one thread here."""
        table = cls.read(path, model)
        if table is None:
            return None
        graph = NeighbourGraph.read(path, threads=1) if len(table) else None
        if graph is not None:
            table._linked = _LinkedRows(graph, table.labels(), table.matrix)
            table.matrix = np.empty((0, table.matrix.shape[1]), dtype=np.float16)
        else:
            table.matrix = table.matrix.astype(np.float32)
        return table

    def write(self, gen_path: Path) -> None:
        """Replace the generation's table atomically (readers see the old or the new one)."""
        path = gen_path / VECTORS
        tmp = path.with_name(f".{VECTORS}.{os.getpid()}.tmp")
        extra = {} if self.linked is None else {"linked": self.linked.astype(np.int64)}
        with open(tmp, "wb") as f:
            np.savez(f, model=np.array(self.model), ids=np.array(self.ids, dtype=np.str_),
                     hashes=np.array(self.hashes, dtype=np.str_),
                     vectors=self.matrix.astype(np.float16, copy=False), **extra)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine) of the k articles closest to the query vector, closest first: through
        the graph when the table is searched through one, else every row compared (equal
        cosines in row order)."""
        if self._linked is not None:
            return self._linked.nearest(query, k)
        return self.nearest_exactly(query, k)

    def nearest_exactly(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine) of the k articles closest to the query vector, every row compared,
        closest first (equal cosines in row order). A float16 table is converted a block at
        a time: a whole 100k table at once would be a 150 MB float32 copy per question."""
        return _closest_rows(self.matrix, np.arange(len(self.matrix)), query, k)

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
            vectors = (self._linked.vectors(rows[found]) if self._linked is not None
                       else self.matrix[rows[found]].astype(np.float32, copy=False))
            out[found] = vectors @ query
        return out


def _closest_rows(matrix: np.ndarray, rows: np.ndarray, query: np.ndarray, k: int
                  ) -> list[tuple[int, float]]:
    """(row, cosine) of the k rows of `matrix` (named by `rows`) closest to the query,
    closest first, equal cosines in row order; converted to float32 a block at a time."""
    out = np.empty(len(matrix), dtype=np.float32)
    for start in range(0, len(out), NEAREST_BLOCK):
        block = matrix[start:start + NEAREST_BLOCK]
        out[start:start + len(block)] = block.astype(np.float32, copy=False) @ query
    k = min(k, len(out))
    if k <= 0:
        return []
    top = np.argpartition(-out, k - 1)[:k] if k < len(out) else np.arange(len(out))
    top = top[np.lexsort((rows[top], -out[top]))]
    return [(int(rows[i]), float(out[i])) for i in top]


class _LinkedRows:
    """A table's rows as a search process holds them with its generation's graph: the rows
    the graph holds (by their label) are its vectors, and the few it lacks (unlinked: added or
    changed since it was last extended) are kept apart and compared one by one."""

    def __init__(self, graph: NeighbourGraph, labels: np.ndarray, matrix: np.ndarray) -> None:
        self.graph = graph
        self.position = graph.positions_of(labels)  # each row's place in the graph, or -1
        held = np.flatnonzero(self.position >= 0)
        # Each graph position's row; -1 for a stale vector (its article changed or deleted).
        self.row_at = np.full(len(graph), -1, dtype=np.int64)
        self.row_at[self.position[held]] = held
        self.unlinked = np.flatnonzero(self.position < 0)
        self.unlinked_matrix = matrix[self.unlinked].astype(np.float32)
        self.unlinked_at = np.full(len(labels), -1, dtype=np.int64)
        self.unlinked_at[self.unlinked] = np.arange(len(self.unlinked))

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), dims) float32: the vectors of those rows."""
        out = np.empty((len(rows), self.unlinked_matrix.shape[1]), dtype=np.float32)
        positions = self.position[rows]
        held = positions >= 0
        if held.any():
            out[held] = self.graph.vectors(positions[held])
        if not held.all():
            out[~held] = self.unlinked_matrix[self.unlinked_at[rows[~held]]]
        return out

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine) of the k rows closest to the query, closest first: the graph's
        closest current vectors (stale ones passed over: more are asked for until k current
        ones are found or the graph is exhausted) with the unlinked rows' closest."""
        if k <= 0:
            return []
        want = k
        while True:
            positions, cosines = self.graph.search(query, want + max(8, want // 4))
            rows = self.row_at[positions]
            current = rows >= 0
            if current.sum() >= k or len(positions) >= len(self.graph):
                break
            want *= 2
        found = list(zip(rows[current].tolist(), cosines[current].tolist(), strict=True))
        found += _closest_rows(self.unlinked_matrix, self.unlinked, query, k)
        found.sort(key=lambda hit: (-hit[1], hit[0]))
        return found[:k]


