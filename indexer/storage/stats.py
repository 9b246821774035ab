"""What is in the live index: counts, vocabulary, segments, size, provenance."""

from __future__ import annotations

from indexer.storage.generations import IndexStore
from indexer.storage.vectors import VectorTable


def index_stats(store: IndexStore, model: str) -> dict:
    """Entries, articles, teasers, distinct terms, segments, articles with a vector of
    `model`, size on disk, build time, corpus."""
    counts = store.open().counts()
    meta = store.read_meta()
    return {
        "entries": counts["entries"],
        "articles": counts.get("article", 0),
        "teasers": counts.get("teaser", 0),
        "terms": counts["terms"],
        "segments": counts["segments"],
        "vectors": VectorTable.count(store.current_path(), model),
        "size_bytes": store.size_bytes(),
        "built_at": meta.get("built_at"),
        "corpus": meta.get("corpus", []),
        "generation": store.current_name(),
        "index_dir": str(store.root),
    }
