"""Building and updating the index: full rebuilds swapped in atomically, incremental updates
that write only what changed, and a summary of what happened."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing.util
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.article import ARTICLE, MERGE_KEY_CHARS, TEASER, Article
from indexer.config import WRITER_MEMORY_MB
from indexer.corpus import (
    MIN_MERGE_WORDS,
    Skip,
    SourceFile,
    discover,
    drop_duplicate_ids,
    duplicate_skip,
    read_corpus,
    teasers_to_merge,
)
from indexer.postings import column_values
from indexer.store import IndexStore
from indexer.vectors import VectorCounts, update_vectors
from indexer.writing import FastSegmentWriter, install_in_multiprocessing

if TYPE_CHECKING:
    from indexer.embedding import Encoder

# prctl(2) option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1
# Below this many entries a second writer process costs more (fork, pickling, a second
# segment) than it saves; above it two processes nearly double throughput (MedQuAD, 5,486
# articles: 118 -> 240 docs/s; NFCorpus, 3,395 abstracts: 358 -> 666 docs/s).
PARALLEL_MIN_ENTRIES = 1000


def auto_workers(entries: int, cpus: int | None = None) -> int:
    """Writer processes for a full build of `entries`: one per core, when it pays."""
    cpus = cpus or os.cpu_count() or 1
    return 1 if entries < PARALLEL_MIN_ENTRIES else max(1, min(cpus, 4))


class NothingToIndex(RuntimeError):
    """The corpus held no usable entry at all."""


class Progress:
    """Progress reporting hooks; this one does nothing (the CLI shows a bar)."""

    def phase(self, name: str, total: int) -> None:
        """A new phase of `total` steps starts."""

    def advance(self, steps: int = 1) -> None:
        """Steps of the current phase are done."""

    def close(self) -> None:
        """The run is over."""


@dataclass(frozen=True)
class IndexedEntry:
    """What the index knows of an entry without loading its stored text."""

    source: str
    hash: str
    kind: str
    merge_key: str


@dataclass
class Summary:
    """What an indexing run did."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    merged: int = 0
    skipped: list[Skip] = field(default_factory=list)
    seconds: float = 0.0
    rebuilt: bool = False
    generation: str = ""
    index_dir: str = ""
    recovered_lock_pid: int | None = None
    workers: int = 1
    # What bringing the article vectors up to date did (None: no encoder given).
    vectors: VectorCounts | None = None

    @property
    def written(self) -> int:
        """Entries written to the index in this run."""
        return self.added + self.updated + (self.unchanged if self.rebuilt else 0)

    @property
    def docs_per_second(self) -> float:
        """Entries written (or, when nothing was written, entries checked) per wall second."""
        count = self.written or self.unchanged
        return round(count / self.seconds, 1) if self.seconds > 0 else 0.0

    def as_json(self) -> dict:
        """The summary as the CLI's --json prints it."""
        return {
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "merged": self.merged,
            "skipped": [s.as_dict() for s in self.skipped],
            "seconds": round(self.seconds, 3),
            "docs_per_second": self.docs_per_second,
            "rebuilt": self.rebuilt,
            "generation": self.generation,
            "index_dir": self.index_dir,
            "workers": self.workers,
            "vectors": None if self.vectors is None else {
                "embedded": self.vectors.embedded, "reused": self.vectors.reused,
                "seconds": round(self.vectors.seconds, 3)},
        }


def indexed_entries(ix) -> dict[str, IndexedEntry]:
    """id -> IndexedEntry for every live document, read from columns (no stored bodies)."""
    out: dict[str, IndexedEntry] = {}
    names = ("source", "hash", "kind", "merge_key")
    with ix.reader() as reader:
        # Whole columns per segment: a lookup per document through the multi-segment reader
        # took 2.6 s of a 3.9 s one-article update of a 100k index.
        for segment, _ in reader.leaf_readers():
            deleted = segment.deleted_docs_set if segment.has_deletions() else ()
            columns = [column_values(segment, name) for name in ("id", *names)]
            for docnum, (doc_id, *values) in enumerate(zip(*columns, strict=True)):
                if docnum not in deleted:
                    entry = dict(zip(names, map(_text, values), strict=True))
                    # Indexes written before keys were cut hold longer ones.
                    entry["merge_key"] = entry["merge_key"][:MERGE_KEY_CHARS]
                    out[_text(doc_id)] = IndexedEntry(**entry)
    return out


def _text(value: bytes | str) -> str:
    # source is written with surrogateescape (file names need not be UTF-8): read it back so.
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


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
    encoder: Encoder | None = None,
) -> Summary:
    """Bring the index in line with the corpus under `roots`.

    Incremental by default: new and changed entries are written, entries whose source under
    the roots is gone are deleted, files whose bytes are unchanged are not even parsed. With
    `rebuild`, or when there is no index yet, a fresh generation is built beside the live one
    and swapped in atomically, by `workers` processes (0: as many as pay, see auto_workers),
    each holding up to `memory_mb` of postings before it spills to disk.
    With an `encoder`, the generation's article vectors are brought up to date too (before a
    rebuild is swapped in; right after an update's commit), embedding only what changed.
    Raises NothingToIndex when no usable entry was found.
    """
    progress = progress or Progress()
    roots = [Path(r) for r in roots]
    started = time.perf_counter()
    summary = Summary(index_dir=str(store.root), workers=workers or 1)
    with store.writer_lock(wait=wait) as lock:
        summary.recovered_lock_pid = lock.recovered_from_pid
        live = store.open() if store.exists() else None
        state = indexed_entries(live) if live is not None else {}
        meta = store.read_meta() if live is not None else {}
        rebuild = rebuild or live is None
        summary.rebuilt = rebuild

        root_paths = [os.path.abspath(r) for r in roots]
        old_sources: dict[str, str] = meta.get("sources", {})
        reparse = set(meta.get("reparse_sources", []))

        def unchanged(source: SourceFile) -> bool:
            path = str(source.path)
            return (path not in reparse
                    and old_sources.get(path) == source.source_hash)

        files, discover_skips = discover(roots)
        if rebuild:
            _rebuild(store, roots, files, discover_skips, state, workers, max_bytes, progress,
                     summary, memory_mb, encoder)
            progress.close()
            summary.seconds = time.perf_counter() - started
            return summary
        progress.phase("reading", len(files))
        got = read_corpus(roots, max_bytes, unchanged=unchanged,
                          progress=lambda _: progress.advance(), files=files)
        skips = discover_skips + got.skips
        passed = {str(s.path) for s in got.passed}
        kept_old = {i: e for i, e in state.items() if e.source in passed}

        # An id already taken by an entry of an unchanged file stays with that file.
        fresh: list[Article] = []
        for entry in got.entries:
            if entry.id in kept_old:
                skips.append(duplicate_skip(entry, kept_old[entry.id].source))
            else:
                fresh.append(entry)
        fresh, dup_skips = drop_duplicate_ids(fresh)
        skips += dup_skips

        merged = teasers_to_merge(
            [(e.id, e.merge_key) for e in fresh if e.kind == TEASER]
            + [(i, e.merge_key) for i, e in kept_old.items() if e.kind == TEASER],
            [(e.id, e.merge_key) for e in fresh if e.kind == ARTICLE]
            + [(i, e.merge_key) for i, e in kept_old.items() if e.kind == ARTICLE],
        )
        summary.merged = len(merged)
        fresh = [e for e in fresh if e.id not in merged]
        final_ids = {e.id for e in fresh} | {i for i in kept_old if i not in merged}
        summary.skipped = skips

        if not final_ids and not _has_entries_outside(state, root_paths):
            raise NothingToIndex(
                "no usable entry found in " + ", ".join(str(r) for r in roots)
            )

        to_write: list[Article] = []
        for entry in fresh:
            if _count_change(summary, state.get(entry.id), entry):
                to_write.append(entry)
        summary.unchanged += sum(1 for i in kept_old if i not in merged)
        to_delete = [i for i, e in state.items() if _under(e.source, root_paths)
                     and i not in final_ids]
        summary.deleted = len(to_delete)

        # Files that gave anything but one indexed entry per record are read again next time:
        # a merged teaser or a duplicate may come back when the other file changes.
        troubled = {s.path.split(":")[0] for s in skips} | {
            e.source for e in got.entries if e.id in merged}
        new_meta = {
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "corpus": sorted(set(meta.get("corpus", [])) | set(root_paths)),
            "sources": {
                **{p: h for p, h in old_sources.items() if not _under(p, root_paths)},
                **{str(s.path): s.source_hash for s in got.read + got.passed},
            },
            "questions": {
                **{p: q for p, q in meta.get("questions", {}).items()
                   if not _under(p, root_paths) or p in passed},
                **got.questions,
            },
            "reparse_sources": sorted(troubled),
        }

        gen = store.current_path()
        if to_write or to_delete:
            _update(live, to_write, to_delete, progress, memory_mb)
        if to_write or to_delete or new_meta["sources"] != old_sources:
            store.write_meta(gen, {**new_meta, "generation": gen.name})
        summary.generation = gen.name
        if encoder is not None:
            deleted = set(to_delete)
            hashes = {i: e.hash for i, e in state.items() if i not in deleted}
            hashes.update((e.id, e.content_hash) for e in to_write)
            summary.vectors = update_vectors(gen, hashes, encoder, progress=progress)
        progress.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _rebuild(store: IndexStore, roots: list[Path], files: list[SourceFile],
             discover_skips: list[Skip], state: dict[str, IndexedEntry], workers: int,
             max_bytes: int, progress: Progress, summary: Summary, memory_mb: int,
             encoder: Encoder | None = None) -> None:
    """A fresh generation of everything under the roots, swapped in when complete.

    Articles go to the writer processes as they are read, so reading and parsing the corpus
    overlap with indexing and the corpus is never held in memory whole. Only teasers wait
    for the end: once the articles are committed, one that opens an article is merged into
    it and the others are written (articles' keys are read back from the new generation,
    not held while it streams: 300k articles' keys were 75 MB). The first entry of an id
    wins, as in an incremental update.
    """
    root_paths = [os.path.abspath(r) for r in roots]
    gen = store.new_generation()
    sink = _StreamingWriter(_open_dir(gen), workers, memory_mb)
    seen: dict[str, str] = {}  # id -> source file
    teasers: list[Article] = []
    skips = list(discover_skips)

    def write(entry: Article) -> None:
        _count_change(summary, state.get(entry.id), entry)
        sink.add(entry)

    def emit(entry: Article) -> None:
        if entry.id in seen:
            skips.append(duplicate_skip(entry, seen[entry.id]))
            return
        seen[entry.id] = entry.source
        if entry.kind == TEASER:
            teasers.append(entry)
        else:
            write(entry)

    try:
        progress.phase("reading and indexing", len(files))
        got = read_corpus(roots, max_bytes, files=files, emit=emit,
                          progress=lambda _: progress.advance())
        skips += got.skips
        summary.skipped = skips
        if not seen and not _has_entries_outside(state, root_paths):
            raise NothingToIndex("no usable entry found in " + ", ".join(map(str, roots)))
        # Every id is known by now, and the commit's peak is the build's: 3.3 MB of ids at
        # 40k articles under tracemalloc, held for nothing through the commit.
        seen.clear()
        summary.workers = sink.commit()
        built = _open_dir(gen)
        merged = teasers_to_merge([(t.id, t.merge_key) for t in teasers],
                                  _articles_teasers_may_open(built, teasers))
        summary.merged = len(merged)
        rest = [t for t in teasers if t.id not in merged]
        for teaser in rest:
            _count_change(summary, state.get(teaser.id), teaser)
        if rest:
            _update(built, rest, [], Progress(), memory_mb)
        if encoder is not None:
            hashes = {i: e.hash for i, e in indexed_entries(_open_dir(gen)).items()}
            live = [store.current_path()] if store.exists() else []
            summary.vectors = update_vectors(gen, hashes, encoder, reuse_from=live,
                                             progress=progress)
    except BaseException:
        sink.cancel()
        store.remove_generation(gen)
        raise
    troubled = {s.path.split(":")[0] for s in skips} | {
        t.source for t in teasers if t.id in merged}
    store.write_meta(gen, {
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus": root_paths,
        "sources": {str(s.path): s.source_hash for s in got.read + got.passed},
        "questions": got.questions,
        "reparse_sources": sorted(troubled),
        "generation": gen.name,
    })
    store.swap_in(gen)
    summary.generation = gen.name


class _StreamingWriter:
    """Entries written as they come. With `workers` 0 (decide), the first
    PARALLEL_MIN_ENTRIES wait until it is known whether the build is big enough for several
    writer processes."""

    def __init__(self, ix, workers: int, memory_mb: int) -> None:
        self.ix, self.workers, self.memory_mb = ix, workers, memory_mb
        self.buffer: list[Article] = []
        self.writer = None
        self._guard = None

    def add(self, entry: Article) -> None:
        """Write one entry (or keep it until the writer is chosen)."""
        if self.writer is None:
            self.buffer.append(entry)
            if self.workers or len(self.buffer) >= PARALLEL_MIN_ENTRIES:
                self._start(self.workers or auto_workers(PARALLEL_MIN_ENTRIES))
            return
        self.writer.add_document(**document_fields(entry))

    def _start(self, workers: int) -> None:
        self.workers = workers
        self._guard = _ParentGuard()  # while it lives, writer processes die with us
        if workers > 1:
            from whoosh.multiproc import MpWriter

            install_in_multiprocessing()
            self.writer = MpWriter(self.ix, procs=workers, multisegment=True,
                                   limitmb=self.memory_mb)
        else:
            self.writer = FastSegmentWriter(self.ix, limitmb=self.memory_mb)
        buffered, self.buffer = self.buffer, []
        for entry in buffered:
            self.writer.add_document(**document_fields(entry))

    def commit(self) -> int:
        """Finish writing; the number of writer processes used."""
        if self.writer is None:  # nothing written yet, or a small build deciding its writers
            self._start(1)
        self.writer.commit()
        return self.workers

    def cancel(self) -> None:
        """Drop what was written (the generation is removed by the caller)."""
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.cancel()


def _articles_teasers_may_open(ix, teasers: list[Article]) -> list[tuple[str, str]]:
    """(id, merge key) of the indexed articles whose key starts as some teaser's does: the
    candidates teasers_to_merge needs, read from the columns without holding every key."""
    keys = [t.merge_key.encode("utf-8") for t in teasers
            if len(t.merge_key.split()) >= MIN_MERGE_WORDS]
    if not keys:
        return []
    cut = min(map(len, keys))
    wanted = {key[:cut] for key in keys}
    out: list[tuple[str, str]] = []
    with ix.reader() as reader:
        for segment, _ in reader.leaf_readers():
            if not segment.doc_count_all():
                continue  # no articles: an empty index has no columns to read
            ids = column_values(segment, "id")
            for doc_id, key in zip(ids, column_values(segment, "merge_key"), strict=True):
                if key[:cut] in wanted:
                    out.append((_text(doc_id), _text(key)))
    return out


def _has_entries_outside(state: dict[str, IndexedEntry], roots: list[str]) -> bool:
    return any(not _under(e.source, roots) for e in state.values())


def _open_dir(path: Path):
    from whoosh import index as whoosh_index

    from indexer.schema import build_schema

    return whoosh_index.open_dir(str(path), schema=build_schema())


def document_fields(entry: Article) -> dict:
    """The Whoosh fields of one entry: the body is indexed without a teaser's cut-off word but
    stored whole for display."""
    return {
        "id": entry.id,
        "title": entry.title,
        "body": entry.indexed_body,
        "_stored_body": entry.body,
        "kind": entry.kind,
        "url": entry.url,
        "description": entry.description,
        "source": entry.source.encode("utf-8", "surrogateescape"),
        "hash": entry.content_hash.encode(),
        "merge_key": entry.merge_key.encode("utf-8"),
    }


def _count_change(summary: Summary, old: IndexedEntry | None, entry: Article) -> bool:
    """Count an entry read from the corpus as added, updated or unchanged against what the
    index held; True unless unchanged."""
    if old is None:
        summary.added += 1
    elif old.hash != entry.content_hash or old.source != entry.source:
        summary.updated += 1
    else:
        summary.unchanged += 1
        return False
    return True


def _update(ix, entries: list[Article], deletes: list[str], progress: Progress,
            memory_mb: int) -> None:
    """An incremental commit to the live index: one writer process (rebuilds stream through
    _StreamingWriter, with several)."""
    progress.phase("indexing", len(entries) + len(deletes))
    writer = FastSegmentWriter(ix, limitmb=memory_mb)
    try:
        for doc_id in deletes:
            writer.delete_by_term("id", doc_id)
            progress.advance()
        for entry in entries:
            writer.update_document(**document_fields(entry))
            progress.advance()
    except BaseException:
        writer.cancel()
        raise
    writer.commit()


class _ParentGuard:
    """Makes the writer processes forked while it lives end with the indexer that forked them.

    Without it, an indexer killed mid-build (SIGKILL, the OOM killer) leaves its writer
    processes behind, blocked for ever on their job queue.
    """

    def __init__(self):
        self.pid = os.getpid()
        multiprocessing.util.register_after_fork(self, _ParentGuard.in_child)

    def in_child(self) -> None:
        """Run in each forked child: ask the kernel for SIGKILL when the parent dies (Linux),
        and go at once if it already has."""
        with contextlib.suppress(Exception):  # no prctl (not Linux): nothing to ask for
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != self.pid:
            os._exit(1)
