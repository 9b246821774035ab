"""Article vectors of an index generation: one table beside the Whoosh files, kept in step
with the articles by embedding only those that are new or whose text changed.

A vector is keyed by the article's content hash (the one the indexer already keeps to skip
unchanged entries), so a rebuild or an update reuses every vector whose article did not
change, from its own generation or the one it replaces: only new or edited articles cost the
model's time, and an update that changed nothing reads no stored text.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.analysis import strip_teaser_fragment
from indexer.article import TEASER
from indexer.embedding import DIMENSIONS, MODEL_NAME, Encoder, article_text
from indexer.store import VECTORS

if TYPE_CHECKING:
    from indexer.build import Progress

# Articles embedded between two saves of the table: a killed run loses at most this much work.
CHECKPOINT_DOCS = 2000
# Articles handed to the model at once (the progress bar moves per chunk).
CHUNK_DOCS = 64
# Rows converted to float32 at a time when a question is compared with the whole table.
NEAREST_BLOCK = 8192
# Up to this many texts are looked up one by one; more are read in one pass over the index.
LOOKUP_DOCS = 1000


@dataclass
class VectorTable:
    """Unit vectors (float16 on disk) of the articles of one generation, by article id."""

    ids: list[str]
    hashes: list[str]  # each article's content hash when its vector was computed
    matrix: np.ndarray
    model: str = MODEL_NAME
    rows: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rows = {doc_id: i for i, doc_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def read(cls, path: Path, dtype: type = np.float16) -> VectorTable | None:
        """The table in `path` (a file or a generation folder), or None when there is none or
        it is unreadable or was made by another model. Searching reads it as float32: a
        question compared with float16 rows pays for converting all of them each time."""
        if path.is_dir():
            path = path / VECTORS
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["model"]) != MODEL_NAME:
                    return None
                return cls([str(i) for i in data["ids"]], [str(h) for h in data["hashes"]],
                           data["vectors"].astype(dtype, copy=False))
        except (OSError, ValueError, KeyError):
            return None

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
        """(row, cosine) of the k articles closest to the query vector, closest first (equal
        cosines in row order). A float16 table is converted a block at a time: a whole 100k
        table at once would be a 150 MB float32 copy per question."""
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
    def count(path: Path) -> int:
        """How many vectors the table in `path` (a generation folder) holds, reading only its
        ids; 0 when there is no readable table."""
        try:
            with np.load(path / VECTORS, allow_pickle=False) as data:
                return len(data["ids"]) if str(data["model"]) == MODEL_NAME else 0
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


@dataclass
class VectorCounts:
    """What bringing a generation's vectors up to date did."""

    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0

    @property
    def docs_per_second(self) -> float:
        """Articles embedded per second of the whole step."""
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


def stored_texts(ix, ids: list[str]) -> dict[str, str]:
    """{id: text to embed} of the given entries of a Whoosh index."""
    def text(fields: dict) -> str:
        body = fields.get("body", "")
        # A teaser's cut-off last word is a fragment, not a word: not embedded either.
        if fields.get("kind") == TEASER:
            body = strip_teaser_fragment(body)
        return article_text(fields.get("title", ""), body)

    with ix.searcher() as searcher:
        if len(ids) <= LOOKUP_DOCS:
            found = (searcher.document(id=i) for i in ids)
            return {f["id"]: text(f) for f in found if f}
        wanted = set(ids)
        return {f["id"]: text(f) for f in searcher.all_stored_fields() if f["id"] in wanted}


def update_vectors(gen_path: Path, hashes: dict[str, str], encoder: Encoder,
                   reuse_from: Iterable[Path] = (), progress: Progress | None = None
                   ) -> VectorCounts:
    """Give the generation in `gen_path` a vector for each of its entries (`hashes`: {id:
    content hash}): reused where a table (the generation's own, or those in `reuse_from`) has
    one for the same content, computed from the stored text otherwise. The table is saved
    every CHECKPOINT_DOCS articles, so a killed run resumes about where it stopped."""
    started = time.perf_counter()
    known: dict[str, np.ndarray] = {}
    own = VectorTable.read(gen_path)
    for table in (own, *(VectorTable.read(p) for p in reuse_from)):
        if table is not None:
            for i, content in enumerate(table.hashes):
                known.setdefault(content, table.matrix[i])
    ids = sorted(hashes)
    contents = [hashes[i] for i in ids]
    matrix = np.zeros((len(ids), DIMENSIONS), dtype=np.float16)
    missing = []
    for row, content in enumerate(contents):
        vector = known.get(content)
        if vector is None:
            missing.append(row)
        else:
            matrix[row] = vector
    known.clear()
    counts = VectorCounts(reused=len(ids) - len(missing))
    done = np.ones(len(ids), dtype=bool)
    done[missing] = False
    if missing:
        texts = stored_texts(_open(gen_path), [ids[row] for row in missing])
        if progress:
            progress.phase("embedding", len(missing))
    for start in range(0, len(missing), CHUNK_DOCS):
        chunk = missing[start:start + CHUNK_DOCS]
        matrix[chunk] = encoder.encode([texts.get(ids[row], "") for row in chunk])
        done[chunk] = True
        counts.embedded += len(chunk)
        if progress:
            progress.advance(len(chunk))
        if counts.embedded % CHECKPOINT_DOCS < CHUNK_DOCS and start + CHUNK_DOCS < len(missing):
            _table_of(ids, contents, matrix, done).write(gen_path)
    # Nothing embedded, but entries may have been deleted: rewrite when the table differs.
    if missing or own is None or own.ids != ids or own.hashes != contents:
        _table_of(ids, contents, matrix, done).write(gen_path)
    counts.seconds = time.perf_counter() - started
    return counts


def _table_of(ids: list[str], hashes: list[str], matrix: np.ndarray,
              done: np.ndarray) -> VectorTable:
    rows = np.flatnonzero(done)
    return VectorTable([ids[i] for i in rows], [hashes[i] for i in rows], matrix[rows])


def _open(gen_path: Path):
    from whoosh.filedb.filestore import FileStorage

    from indexer.schema import build_schema

    return FileStorage(str(gen_path)).open_index(schema=build_schema())
