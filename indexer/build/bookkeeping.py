"""What both ways of indexing (a rebuild, an update) keep track of: what the index already
holds (`indexed_entries`), what a run did (`Summary`, `count_change`), the generation's
build.json (`next_meta`), which files to read again next time (`troubled_sources`), and the
refusal of a corpus with nothing usable in it (`require_entries`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from indexer.corpus.article import MERGE_KEY_CHARS, Article
from indexer.corpus.reading import CorpusRead, Skip
from indexer.storage import Index


class NothingToIndex(RuntimeError):
    """The corpus held no usable entry at all."""


@dataclass(frozen=True)
class IndexedEntry:
    """What the index knows of an entry without loading its stored text."""

    source: str
    hash: str
    kind: str
    merge_key: str


@dataclass
class VectorCounts:
    """What bringing a generation's vectors up to date did."""

    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    # Articles left without a vector: the model could not be loaded.
    missing: int = 0
    # Vectors in the generation's nearest-neighbour graph (0: it has none) and the seconds
    # spent bringing it up to date (not counted in `seconds`).
    graph_vectors: int = 0
    graph_seconds: float = 0.0

    @property
    def docs_per_second(self) -> float:
        """Articles embedded per second of the whole step."""
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict:
        """The counts as the CLI's --json prints them."""
        return {"embedded": self.embedded, "reused": self.reused, "missing": self.missing,
                "seconds": round(self.seconds, 3),
                "docs_per_second": round(self.docs_per_second, 1),
                "graph": {"vectors": self.graph_vectors,
                          "seconds": round(self.graph_seconds, 3)}}


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
    # When the run started (time.perf_counter), and how long its words took: reading,
    # indexing and committing, before any embedding.
    started: float = 0.0
    words_seconds: float = 0.0

    def words_done(self) -> None:
        """The words are in: what follows is embedding."""
        self.words_seconds = time.perf_counter() - self.started

    @property
    def written(self) -> int:
        """Entries written to the index in this run."""
        return self.added + self.updated + (self.unchanged if self.rebuilt else 0)

    @property
    def docs_per_second(self) -> float:
        """Entries written (or, when nothing was written, entries checked) per second of the
        words' part of the run (embedding has its own rate, in `vectors`)."""
        count = self.written or self.unchanged
        seconds = self.words_seconds or self.seconds
        return round(count / seconds, 1) if seconds > 0 else 0.0

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
            "words_seconds": round(self.words_seconds or self.seconds, 3),
            "docs_per_second": self.docs_per_second,
            "rebuilt": self.rebuilt,
            "generation": self.generation,
            "index_dir": self.index_dir,
            "workers": self.workers,
            "vectors": None if self.vectors is None else self.vectors.as_json(),
        }


def indexed_entries(index: Index) -> dict[str, IndexedEntry]:
    """id -> IndexedEntry for every live document, read from columns (no stored bodies)."""
    out: dict[str, IndexedEntry] = {}
    for doc_id, source, content, kind, key in index.rows(("source", "hash", "kind",
                                                          "merge_key")):
        # Indexes written before keys were cut hold longer ones.
        out[doc_id] = IndexedEntry(source, content, kind, key[:MERGE_KEY_CHARS])
    return out


def count_change(summary: Summary, old: IndexedEntry | None, entry: Article) -> bool:
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


def under(path: str, roots: list[str]) -> bool:
    """True when `path` is one of the roots or inside one."""
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def require_entries(found: bool, state: dict[str, IndexedEntry], roots: list[str],
                    named: Iterable[Path]) -> None:
    """Raise NothingToIndex when neither the roots gave an entry nor does the index hold any
    from elsewhere (an update of one folder of a corpus of several is fine)."""
    if not found and not any(not under(e.source, roots) for e in state.values()):
        raise NothingToIndex("no usable entry found in " + ", ".join(map(str, named)))


def troubled_sources(skips: Iterable[Skip], merged_from: Iterable[str]) -> list[str]:
    """Files to read again next time, whatever their bytes: those that gave anything but one
    indexed entry per record. A merged teaser or a duplicate may come back when the other
    file changes."""
    return sorted({s.path.split(":")[0] for s in skips} | set(merged_from))


def next_meta(old: dict | None, roots: list[str], got: CorpusRead, troubled: list[str]
              ) -> dict:
    """A generation's build.json after reading the corpus under `roots`: when it was built,
    from which folders, each file's hash, the sample questions, the files to read again.
    `old` is the live generation's (an update keeps what it says of other folders); None for
    a rebuild."""
    sources = {str(s.path): s.source_hash for s in got.read + got.passed}
    if old is None:
        corpus, questions = roots, got.questions
    else:
        passed = {str(s.path) for s in got.passed}
        corpus = sorted(set(old.get("corpus", [])) | set(roots))
        sources = {**{p: h for p, h in old.get("sources", {}).items() if not under(p, roots)},
                   **sources}
        questions = {**{p: q for p, q in old.get("questions", {}).items()
                        if not under(p, roots) or p in passed},
                     **got.questions}
    return {
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus": corpus,
        "sources": sources,
        "questions": questions,
        "reparse_sources": troubled,
    }
