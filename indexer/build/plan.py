"""What an incremental update must do: the corpus as read, compared with what the index holds.
Pure: no index is opened here."""

from __future__ import annotations

from dataclasses import dataclass

from indexer.build.bookkeeping import IndexedEntry, Summary, count_change, under
from indexer.corpus.article import Article
from indexer.corpus.reading import CorpusRead, Skip, drop_duplicate_ids, duplicate_skip
from indexer.corpus.teasers import ARTICLE, TEASER, teasers_to_merge


@dataclass
class UpdatePlan:
    """Entries to write (new or changed), ids to delete, and what the reading found."""

    write: list[Article]
    delete: list[str]
    skips: list[Skip]
    # {teaser id: article id} of teasers merged into the article they open.
    merged: dict[str, str]
    # Entries of the corpus that will be in the index (kept or written).
    final_ids: set[str]
    # Files to read again next time (see bookkeeping.troubled_sources).
    merged_from: set[str]


def plan_update(state: dict[str, IndexedEntry], got: CorpusRead, skips: list[Skip],
                roots: list[str], summary: Summary) -> UpdatePlan:
    """Compare the entries read from the files under `roots` (those of unchanged files were
    passed over: the index keeps them) with `state`, the index's entries, counting each in
    `summary` as added, updated, unchanged or deleted."""
    skips = skips + got.skips
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

    write = [entry for entry in fresh if count_change(summary, state.get(entry.id), entry)]
    summary.unchanged += sum(1 for i in kept_old if i not in merged)
    delete = [i for i, e in state.items() if under(e.source, roots) and i not in final_ids]
    summary.deleted = len(delete)
    return UpdatePlan(write, delete, skips, merged, final_ids,
                      {e.source for e in got.entries if e.id in merged})
