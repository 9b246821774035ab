"""Building and updating the index: full rebuilds swapped in atomically, incremental updates
that write only what changed (`indexer.build.plan`), and a summary of what happened."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.build.bookkeeping import (
    IndexedEntry,
    Summary,
    count_change,
    indexed_entries,
    next_meta,
    require_entries,
    troubled_sources,
)
from indexer.build.plan import plan_update
from indexer.build.progress import Progress
from indexer.build.vectors import update_vectors
from indexer.config import WRITER_MEMORY_MB
from indexer.corpus.article import Article
from indexer.corpus.reading import Skip, SourceFile, discover, duplicate_skip, read_corpus
from indexer.corpus.teasers import TEASER, may_merge, teasers_to_merge
from indexer.storage import Index, IndexStore

if TYPE_CHECKING:
    from indexer.ranking.encoder import Encoder

    # The model, or what loads it when some article needs a vector (None: it cannot be).
    EncoderSource = Encoder | Callable[[], Encoder | None]

# Below this many entries a second writer process costs more (fork, pickling, a second
# segment) than it saves; above it two processes nearly double throughput (MedQuAD, 5,486
# articles: 118 -> 240 docs/s; NFCorpus, 3,395 abstracts: 358 -> 666 docs/s).
PARALLEL_MIN_ENTRIES = 1000


def auto_workers(entries: int, cpus: int | None = None) -> int:
    """Writer processes for a full build of `entries`: one per core, when it pays."""
    cpus = cpus or os.cpu_count() or 1
    return 1 if entries < PARALLEL_MIN_ENTRIES else max(1, min(cpus, 4))


def index_corpus(
    roots: Iterable[Path],
    store: IndexStore,
    *,
    rebuild: bool = False,
    workers: int = 0,
    max_bytes: int = 20 * 1024 * 1024,
    progress: Progress | None = None,
    wait: bool = False,
    memory_mb: int = WRITER_MEMORY_MB,
    encoder: EncoderSource | None = None,
) -> Summary:
    """Bring the index in line with the corpus under `roots`.

    Incremental by default: new and changed entries are written, entries whose source under
    the roots is gone are deleted, files whose bytes are unchanged are not even parsed. With
    `rebuild`, or when there is no index yet, a fresh generation is built beside the live one
    and swapped in atomically, by `workers` processes (0: as many as pay, see auto_workers),
    each holding up to `memory_mb` of postings before it spills to disk.
    With an `encoder` (the model, or a function that loads it: called only when some article
    needs a vector), the generation's article vectors are brought up to date too (before a
    rebuild is swapped in; right after an update's commit), embedding only what changed.
    Raises NothingToIndex when no usable entry was found.
    """
    progress = progress or Progress()
    roots = [Path(r) for r in roots]
    started = time.perf_counter()
    summary = Summary(index_dir=str(store.root), workers=workers or 1, started=started)
    with store.writer_lock(wait=wait) as lock:
        summary.recovered_lock_pid = lock.recovered_from_pid
        live = store.open() if store.exists() else None
        state = indexed_entries(live) if live is not None else {}
        summary.rebuilt = rebuild or live is None
        files, discover_skips = discover(roots)
        job = _Job(store, roots, state, files, discover_skips, max_bytes, progress, summary,
                   memory_mb, encoder)
        if summary.rebuilt:
            job.rebuild(workers)
        else:
            job.update(live)
        progress.close()
    summary.seconds = time.perf_counter() - started
    return summary


class _Job:
    """One indexing run under the writer lock: the corpus found under the roots, what the
    index held, and where to report."""

    def __init__(self, store: IndexStore, roots: list[Path], state: dict[str, IndexedEntry],
                 files: list[SourceFile], discover_skips: list[Skip], max_bytes: int,
                 progress: Progress, summary: Summary, memory_mb: int,
                 encoder: EncoderSource | None) -> None:
        self.store, self.roots, self.state = store, roots, state
        self.root_paths = [os.path.abspath(r) for r in roots]
        self.files, self.discover_skips = files, discover_skips
        self.max_bytes, self.progress, self.summary = max_bytes, progress, summary
        self.memory_mb, self.encoder = memory_mb, encoder

    def update(self, live: Index) -> None:
        """An incremental commit into the live generation of what changed."""
        store, summary, progress = self.store, self.summary, self.progress
        meta = store.read_meta()
        old_sources: dict[str, str] = meta.get("sources", {})
        reparse = set(meta.get("reparse_sources", []))

        def unchanged(source: SourceFile) -> bool:
            path = str(source.path)
            return path not in reparse and old_sources.get(path) == source.source_hash

        progress.phase("reading", len(self.files), "file")
        got = read_corpus(self.roots, self.max_bytes, unchanged=unchanged,
                          progress=lambda _: progress.advance(), files=self.files)
        plan = plan_update(self.state, got, self.discover_skips, self.root_paths, summary)
        require_entries(bool(plan.final_ids), self.state, self.root_paths, self.roots)
        new_meta = next_meta(meta, self.root_paths, got,
                             troubled_sources(plan.skips, plan.merged_from))
        gen = store.current_path()
        if plan.write or plan.delete:
            _commit(live, plan.write, plan.delete, progress, self.memory_mb)
        if plan.write or plan.delete or new_meta["sources"] != old_sources:
            store.write_meta(gen, {**new_meta, "generation": gen.name})
        summary.generation = gen.name
        summary.words_done()
        if self.encoder is not None:
            deleted = set(plan.delete)
            hashes = {i: e.hash for i, e in self.state.items() if i not in deleted}
            hashes.update((e.id, e.content_hash) for e in plan.write)
            summary.vectors = update_vectors(store.open(gen), hashes, self.encoder,
                                             progress=progress)

    def rebuild(self, workers: int) -> None:
        """A fresh generation of everything under the roots, swapped in when complete.

        Articles go to the writer processes as they are read, so reading and parsing the
        corpus overlap with indexing and the corpus is never held in memory whole. Only
        teasers wait for the end: once the articles are committed, one that opens an article
        is merged into it and the others are written (articles' keys are read back from the
        new generation, not held while it streams: 300k articles' keys were 75 MB). The
        first entry of an id wins, as in an incremental update.
        """
        store, summary, progress = self.store, self.summary, self.progress
        gen = store.new_generation()
        sink = _StreamingWriter(store.open(gen), workers, self.memory_mb)
        seen: dict[str, str] = {}  # id -> source file
        teasers: list[Article] = []
        skips = list(self.discover_skips)

        def emit(entry: Article) -> None:
            if entry.id in seen:
                skips.append(duplicate_skip(entry, seen[entry.id]))
                return
            seen[entry.id] = entry.source
            if entry.kind == TEASER:
                teasers.append(entry)
            else:
                count_change(summary, self.state.get(entry.id), entry)
                sink.add(entry)
                progress.advance()

        try:
            # Articles are counted as they are written: the corpus is read as it is indexed,
            # and one JSON Lines file may hold all of it.
            progress.phase("indexing", None)
            got = read_corpus(self.roots, self.max_bytes, files=self.files, emit=emit)
            skips += got.skips
            summary.skipped = skips
            require_entries(bool(seen), self.state, self.root_paths, self.roots)
            # Every id is known by now, and the commit's peak is the build's: 3.3 MB of ids
            # at 40k articles under tracemalloc, held for nothing through the commit.
            seen.clear()
            summary.workers = sink.commit()
            built = store.open(gen)
            merged = teasers_to_merge([(t.id, t.merge_key) for t in teasers],
                                      _articles_teasers_may_open(built, teasers))
            summary.merged = len(merged)
            rest = [t for t in teasers if t.id not in merged]
            for teaser in rest:
                count_change(summary, self.state.get(teaser.id), teaser)
            if rest:
                _commit(built, rest, [], Progress(), self.memory_mb)
            summary.words_done()
            if self.encoder is not None:
                built = store.open(gen)
                live = [store.current_path()] if store.exists() else []
                summary.vectors = update_vectors(
                    built, {i: e.hash for i, e in indexed_entries(built).items()},
                    self.encoder, reuse_from=live, progress=progress)
        except BaseException:
            sink.cancel()
            store.remove_generation(gen)
            raise
        merged_from = [t.source for t in teasers if t.id in merged]
        store.write_meta(gen, {**next_meta(None, self.root_paths, got,
                                           troubled_sources(skips, merged_from)),
                               "generation": gen.name})
        store.swap_in(gen)
        summary.generation = gen.name


class _StreamingWriter:
    """Entries written as they come. With `workers` 0 (decide), the first
    PARALLEL_MIN_ENTRIES wait until it is known whether the build is big enough for several
    writer processes."""

    def __init__(self, index: Index, workers: int, memory_mb: int) -> None:
        self.index, self.workers, self.memory_mb = index, workers, memory_mb
        self.buffer: list[Article] = []
        self.writer = None

    def add(self, entry: Article) -> None:
        """Write one entry (or keep it until the writer is chosen)."""
        if self.writer is None:
            self.buffer.append(entry)
            if self.workers or len(self.buffer) >= PARALLEL_MIN_ENTRIES:
                self._start(self.workers or auto_workers(PARALLEL_MIN_ENTRIES))
            return
        self.writer.add(entry)

    def _start(self, workers: int) -> None:
        self.workers = workers
        self.writer = self.index.writer(workers=workers, memory_mb=self.memory_mb)
        buffered, self.buffer = self.buffer, []
        for entry in buffered:
            self.writer.add(entry)

    def commit(self) -> int:
        """Finish writing; the number of writer processes used."""
        if self.writer is None:  # nothing written yet, or a small build deciding its writers
            self._start(1)
        self.writer.commit()
        return self.workers

    def cancel(self) -> None:
        """Drop what was written (the generation is removed by the caller)."""
        if self.writer is not None:
            self.writer.cancel()


def _articles_teasers_may_open(index: Index, teasers: list[Article]) -> list[tuple[str, str]]:
    """(id, merge key) of the indexed articles whose key starts as some teaser's does: the
    candidates teasers_to_merge needs, read from the columns without holding every key."""
    keys = [t.merge_key.encode("utf-8") for t in teasers if may_merge(t.merge_key)]
    if not keys:
        return []
    cut = min(map(len, keys))
    wanted = {key[:cut] for key in keys}
    return [(doc_id.decode("utf-8", "surrogateescape"), key.decode("utf-8", "surrogateescape"))
            for doc_id, key in index.rows(("merge_key",), raw=True) if key[:cut] in wanted]


def _commit(index: Index, entries: list[Article], deletes: list[str], progress: Progress,
            memory_mb: int) -> None:
    """An incremental commit: one writer process (rebuilds stream through _StreamingWriter,
    with several)."""
    progress.phase("indexing", len(entries) + len(deletes))
    writer = index.writer(memory_mb=memory_mb)
    try:
        for doc_id in deletes:
            writer.delete(doc_id)
            progress.advance()
        for entry in entries:
            writer.update(entry)
            progress.advance()
    except BaseException:
        writer.cancel()
        raise
    writer.commit()
