"""What is in the live index: counts, vocabulary, segments, size, provenance."""

from __future__ import annotations

from indexer.store import IndexStore
from indexer.vectors import VectorTable


def index_stats(store: IndexStore) -> dict:
    """Entries, articles, teasers, distinct terms, segments, articles with a vector, size on
    disk, build time, corpus."""
    ix = store.open()
    meta = store.read_meta()
    with ix.searcher() as searcher:
        reader = searcher.reader()
        kinds = reader.column_reader("kind")
        counts = {"article": 0, "teaser": 0}
        for docnum in reader.all_doc_ids():
            kind = kinds[docnum]
            kind = kind.decode() if isinstance(kind, bytes) else kind
            counts[kind] = counts.get(kind, 0) + 1
        terms = len({text for field in ("title", "body") for text in reader.lexicon(field)})
        segments = len(ix._segments())
        entries = reader.doc_count()
    return {
        "entries": entries,
        "articles": counts.get("article", 0),
        "teasers": counts.get("teaser", 0),
        "terms": terms,
        "segments": segments,
        "vectors": VectorTable.count(store.current_path()),
        "size_bytes": store.size_bytes(),
        "built_at": meta.get("built_at"),
        "corpus": meta.get("corpus", []),
        "generation": store.current_name(),
        "index_dir": str(store.root),
    }
