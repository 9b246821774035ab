"""Keeping a generation's article vectors in step with its articles, embedding only those
that are new or whose text changed.

A vector is keyed by the article's content hash (the one the indexer already keeps to skip
unchanged entries), so a rebuild or an update reuses every vector whose article did not
change, from its own generation or the one it replaces: only new or edited articles cost the
model's time, and an update that changed nothing reads no stored text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from indexer.build.bookkeeping import VectorCounts
from indexer.build.progress import Progress
from indexer.corpus.teasers import searchable_text
from indexer.ranking.encoder import DIMENSIONS, MODEL_NAME, Encoder, article_text
from indexer.storage import Index, VectorTable, graph_in_step

# Seconds of embedding between two saves of the table: a killed run loses at most about this
# much work (a save of a 100k table takes about half a second).
CHECKPOINT_SECONDS = 30.0
# Articles handed to the model at once (the progress bar moves per chunk).
CHUNK_DOCS = 64


def embedded_text(stored: dict) -> str:
    """The text an entry is embedded from: its title and the opening of its body, without a
    teaser's cut-off last word (a fragment, not a word)."""
    body = searchable_text(stored.get("body", ""), stored.get("kind", ""))
    return article_text(stored.get("title", ""), body)


def stored_texts(index: Index, ids: list[str]) -> dict[str, str]:
    """{id: text to embed} of the given entries of an index."""
    return {stored["id"]: embedded_text(stored) for stored in index.stored(ids)}


def update_vectors(index: Index, hashes: dict[str, str],
                   encoder: Encoder | Callable[[int], Encoder | None],
                   reuse_from: Iterable[Path] = (), progress: Progress | None = None
                   ) -> VectorCounts:
    """Give the generation of `index` a vector for each of its entries (`hashes`: {id:
    content hash}): reused where a table (the generation's own, or those in `reuse_from`) has
    one for the same content, computed from the stored text otherwise. `encoder` is the model
    or what loads it for a number of articles, called only when some article needs a vector
    (with how many); when it cannot be loaded,
    those articles are counted as missing. The table is saved every CHECKPOINT_SECONDS of
    embedding, so a killed run resumes about where it stopped."""
    started = time.perf_counter()
    gen_path = index.path
    known: dict[str, np.ndarray] = {}
    own = VectorTable.read(gen_path, MODEL_NAME)
    for table in (own, *(VectorTable.read(p, MODEL_NAME) for p in reuse_from)):
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
    model = None
    if missing:
        model = encoder(len(missing)) if callable(encoder) else encoder
        if model is None:  # it cannot be loaded: those articles stay without a vector
            counts.missing, missing = len(missing), []
    if missing:
        texts = stored_texts(index, [ids[row] for row in missing])
        if progress:
            progress.phase("embedding", len(missing))
    saved = time.perf_counter()
    for start in range(0, len(missing), CHUNK_DOCS):
        chunk = missing[start:start + CHUNK_DOCS]
        matrix[chunk] = model.encode([texts.get(ids[row], "") for row in chunk])
        done[chunk] = True
        counts.embedded += len(chunk)
        if progress:
            progress.advance(len(chunk))
        if (time.perf_counter() - saved >= CHECKPOINT_SECONDS
                and start + CHUNK_DOCS < len(missing)):
            _table_of(ids, contents, matrix, done).write(gen_path)
            saved = time.perf_counter()
    # Nothing embedded, but entries may have been deleted: rewrite when the table differs.
    rows = [ids[i] for i in np.flatnonzero(done)]
    counts.seconds = time.perf_counter() - started
    table = _table_of(ids, contents, matrix, done)
    # The graph first, then the table recording what the graph holds.
    table.linked = _graph_in_step(table, gen_path, own, reuse_from, counts, progress)
    if (missing or own is None or own.ids != rows or own.hashes != [hashes[i] for i in rows]
            or not _same(own.linked, table.linked)):
        table.write(gen_path)
    counts.seconds = time.perf_counter() - started - counts.graph_seconds
    return counts


def _graph_in_step(table: VectorTable, gen_path: Path, own: VectorTable | None,
                   reuse_from: Iterable[Path], counts: VectorCounts,
                   progress: Progress | None) -> np.ndarray:
    """Bring the generation's nearest-neighbour graph in step with `table` (untouched while
    it still fits, see indexer.storage.neighbours); the labels it holds."""
    started = time.perf_counter()
    announced = []

    def announce() -> None:
        # faiss links the vectors in one call: the phase starts at 0 and ends at all of them.
        announced.append(True)
        if progress is not None:
            progress.phase("linking neighbours", len(table.matrix), unit="vector")

    linked = graph_in_step(
        gen_path, table.labels(), table.matrix, own.linked if own is not None else None,
        tuple(reuse_from), announce=announce)
    if announced and progress is not None:
        progress.advance(len(table.matrix))
        progress.close()
    counts.graph_vectors = len(linked)
    counts.graph_seconds = time.perf_counter() - started
    return linked


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None) == (b is None) and (a is None or np.array_equal(a, b))


def _table_of(ids: list[str], hashes: list[str], matrix: np.ndarray,
              done: np.ndarray) -> VectorTable:
    rows = np.flatnonzero(done)
    return VectorTable([ids[i] for i in rows], [hashes[i] for i in rows], matrix[rows],
                       MODEL_NAME)
