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
from indexer.storage import Index, NeighbourGraph, VectorTable, graph_in_step, keeps_graph

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
    table = _table_of(ids, contents, matrix, done)
    # The graph first: a reader of a new table finds a graph that holds it.
    _graph_in_step(table, gen_path, reuse_from, counts, progress)
    if missing or own is None or own.ids != rows or own.hashes != [hashes[i] for i in rows]:
        table.write(gen_path)
    counts.seconds = time.perf_counter() - started - counts.graph_seconds
    return counts


def _graph_in_step(table: VectorTable, gen_path: Path, reuse_from: Iterable[Path],
                   counts: VectorCounts, progress: Progress | None) -> None:
    """Bring the generation's nearest-neighbour graph in step with `table` (nothing is
    written when it is), starting from its own graph or that of the generation it replaces
    (`reuse_from`)."""
    started = time.perf_counter()
    earlier = None
    if keeps_graph(len(table)):
        for path in (gen_path, *reuse_from):
            earlier = NeighbourGraph.read(path)
            if earlier is not None:
                break
        if progress and (earlier is None or not earlier.covers(table.labels())):
            progress.phase("linking neighbours", None)
    graph = graph_in_step(gen_path, table.labels(), table.matrix, earlier)
    counts.graph_vectors = len(graph) if graph is not None else 0
    counts.graph_seconds = time.perf_counter() - started


def _table_of(ids: list[str], hashes: list[str], matrix: np.ndarray,
              done: np.ndarray) -> VectorTable:
    rows = np.flatnonzero(done)
    return VectorTable([ids[i] for i in rows], [hashes[i] for i in rows], matrix[rows],
                       MODEL_NAME)
