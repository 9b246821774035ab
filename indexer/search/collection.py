"""What the collection holds, for the home page: how many articles and summaries, from which
publishers, its most-covered subjects, and an A–Z index of its subjects' titles.

Read from the index's columns (kind, publisher_name, subject) once per snapshot; a subject's
title as written is read from its first page's stored fields only when its letter is shown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from indexer.corpus.teasers import TEASER
from indexer.storage import Snapshot

# "#" holds the subjects that start with a digit or any character outside A–Z.
OTHER = "#"
LETTERS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + (OTHER,)
# Subjects listed per page of a letter: a letter of a large corpus has thousands.
TOPICS_PER_PAGE = 200


@dataclass(frozen=True)
class Topic:
    """One subject of the index: its title, how many pages are about it, and the one page's
    id when a single page is."""

    title: str
    pages: int
    article: str | None


@dataclass(frozen=True)
class Collection:
    """Counts for the line that says what the collection is, and its subjects by letter."""

    articles: int
    teasers: int
    publishers: list[tuple[str, int]]  # (name, entries), most entries first
    subjects: dict[str, tuple[int, int]]  # subject key -> (pages, first docnum)

    def letters(self) -> dict[str, int]:
        """How many subjects start with each letter (every letter, empty ones as 0)."""
        counts = Counter(letter_of(key) for key in self.subjects)
        return {letter: counts.get(letter, 0) for letter in LETTERS}

    def covered(self, limit: int) -> list[str]:
        """The subject keys with the most pages (ties alphabetically), for sample searches:
        only subjects that more than one page is about."""
        ranked = sorted(((-n, key) for key, (n, _) in self.subjects.items() if n > 1))
        return [key for _, key in ranked[:limit]]


def letter_of(key: str) -> str:
    """The index letter of a subject key: its first letter, or OTHER."""
    first = key[:1].upper()
    return first if "A" <= first <= "Z" else OTHER


def collection_of(snapshot: Snapshot) -> Collection:
    """The snapshot's collection counts, computed once per snapshot."""
    return snapshot.memo("collection", lambda: _count(snapshot))


def _count(snapshot: Snapshot) -> Collection:
    kinds: Counter = Counter()
    publishers: Counter = Counter()
    subjects: dict[str, list[int]] = {}
    for segment in snapshot.segments:
        live = segment.live()
        docs = np.flatnonzero(live) if live is not None else np.arange(segment.size)
        for column, counter in (("kind", kinds), ("publisher_name", publishers)):
            codes, values = segment.codes(column)
            for code, n in enumerate(np.bincount(codes[docs], minlength=len(values))):
                if n and values[code]:
                    counter[values[code]] += int(n)
        codes, values = segment.codes("subject")
        present, first_at, counts = np.unique(codes[docs], return_index=True,
                                              return_counts=True)
        for code, at, n in zip(present, first_at, counts, strict=True):
            key = values[code]
            if key:
                found = subjects.setdefault(key, [0, int(docs[at]) + segment.offset])
                found[0] += int(n)
    return Collection(
        articles=sum(n for kind, n in kinds.items() if kind != TEASER),
        teasers=kinds.get(TEASER, 0),
        publishers=sorted(publishers.items(), key=lambda item: (-item[1], item[0])),
        subjects={key: (n, first) for key, (n, first) in subjects.items()},
    )


def topics(snapshot: Snapshot, letter: str, page: int = 1) -> tuple[list[Topic], int]:
    """One page of the subjects under `letter` (A–Z or OTHER), alphabetical, with each
    subject's title as its first page writes it; and how many pages of them there are."""
    found = collection_of(snapshot)
    keys = sorted(key for key in found.subjects if letter_of(key) == letter)
    pages = max(1, -(-len(keys) // TOPICS_PER_PAGE))
    page = min(max(page, 1), pages)
    shown = keys[(page - 1) * TOPICS_PER_PAGE:page * TOPICS_PER_PAGE]
    out = []
    for key in shown:
        n, first = found.subjects[key]
        stored = snapshot.stored(first)
        out.append(Topic(stored.get("title") or key, n, stored["id"] if n == 1 else None))
    return out, pages
