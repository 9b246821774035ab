"""The systems `make eval` compares: our engine and four peers, each behind one interface.

`System.open(dataset)` indexes (or loads a cached index of) the data set's corpus and returns
a ranker: query text -> doc ids, best first, at most `limit`. Each peer is set up the way
its documentation's first example does it, with an English stemmer where it has one, so the
comparison is with what a developer would get out of the box.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.datasets import Dataset

Ranker = Callable[[str], list[str]]

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "cache"
LIMIT = 100
KEEP_CACHED = 3  # cached indexes kept per system and corpus (other versions may run)
WORD = re.compile(r"\w+", re.UNICODE)

# The engine sources that decide what goes into an index (terms, fields, titles, records):
# a change to any of them, or to Whoosh, invalidates the cached indexes.
ENGINE_SOURCES = ("text/analysis.py", "storage/schema.py", "corpus/article.py",
                  "corpus/teasers.py", "corpus/formats.py")


def _tokens(text: str) -> list[str]:
    """Lowercased words of a query, for peers whose query syntax must not see punctuation."""
    return [w.lower() for w in WORD.findall(text)]


def engine_hash() -> str:
    """A short hash of the engine's analysis/schema/record sources and the Whoosh version."""
    import whoosh

    h = hashlib.sha256(".".join(map(str, whoosh.__version__)).encode())
    for name in ENGINE_SOURCES:
        h.update(name.encode())
        h.update((ROOT / "indexer" / name).read_bytes())
    return h.hexdigest()[:12]


def _corpus_key(ds: Dataset) -> str:
    stat = ds.corpus_path.stat()
    ident = f"{ds.corpus_path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
    return f"{ds.corpus_path.parent.name}-{hashlib.sha256(ident.encode()).hexdigest()[:8]}"


def _cached_dir(kind: str, ds: Dataset, key: str, build: Callable[[Path], None]) -> Path:
    """A cached index folder: built into a temporary sibling, then renamed into place, so a
    killed run never leaves a half-built index that a later run would trust."""
    final = CACHE / f"{kind}-{_corpus_key(ds)}-{key}"
    if final.is_dir():
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=CACHE))
    try:
        build(tmp)
        os.replace(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(final)
    return final


def _prune(final: Path, keep: int = KEEP_CACHED) -> None:
    """Drop cached indexes of the same system and corpus beyond the newest `keep`, once they
    are a day old: each engine change leaves one behind, and a long run may still read one."""
    prefix = final.name[: final.name.rfind("-") + 1]
    older = sorted((p for p in CACHE.glob(prefix + "*") if p.is_dir() and p != final),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    for path in older[keep - 1:]:
        if time.time() - path.stat().st_mtime > 86_400:
            shutil.rmtree(path, ignore_errors=True)


def our_index(ds: Dataset, workers: int = 2) -> Path:
    """Our engine's index of the data set, built with the real build path (cached), with its
    article vectors when the embedding model is installed."""
    from indexer.build import index_corpus
    from indexer.ranking.encoder import Encoder
    from indexer.storage import IndexStore

    encoder = Encoder.load()

    def build(path: Path) -> None:
        store = IndexStore(path)
        index_corpus([ds.corpus_path], store, workers=workers)
        if encoder is not None:
            _add_vectors(ds, store, encoder)

    key = engine_hash() + ("-v" + vectors_hash() if encoder is not None else "")
    return _cached_dir("ours", ds, key, build)


def vectors_hash() -> str:
    """A short hash of the sources that decide an article's vector: the model's code and
    the text embedded (not how the vectors are searched)."""
    import inspect

    from indexer.build import vectors

    h = hashlib.sha256((ROOT / "indexer" / "ranking" / "encoder.py").read_bytes())
    h.update((ROOT / "indexer" / "ranking" / "minilm" / "export_info.json").read_bytes())
    h.update(inspect.getsource(vectors.embedded_text).encode())
    return h.hexdigest()[:8]


def _add_vectors(ds: Dataset, store, encoder) -> None:
    """Vectors for a cached index, reusing those of earlier builds of the same corpus by the
    same model code: embedding a data set takes minutes, rebuilding its index seconds."""
    from indexer.build import indexed_entries
    from indexer.build.vectors import update_vectors
    from indexer.ranking.encoder import MODEL_NAME
    from indexer.storage import VectorTable

    keep = CACHE / f"vectors-{_corpus_key(ds)}-{vectors_hash()}"
    gen = store.current_path()
    hashes = {i: e.hash for i, e in indexed_entries(store.open()).items()}
    counts = update_vectors(store.open(), hashes, encoder, reuse_from=[keep])
    if counts.embedded:
        print(f"  {ds.name}: embedded {counts.embedded} articles in {counts.seconds:.1f}s "
              f"({counts.docs_per_second:.1f} docs/s)", flush=True)
        keep.mkdir(parents=True, exist_ok=True)
        table = VectorTable.read(gen, MODEL_NAME)
        if table is not None:
            table.write(keep)


class System:
    """A system under evaluation."""

    name = "system"

    def open(self, ds: Dataset) -> Ranker:
        """Index the data set's corpus (or load a cached index) and return its ranker."""
        raise NotImplementedError


class Ours(System):
    """Our engine as shipped: `SearchEngine.rank()` with its default settings, its hits in
    the order results pages show them (each result's leading page, then the same-subject
    pages listed under it); `grouped=False` for the ranking alone (the tuner's)."""

    name = "ours (healthsearch)"

    def __init__(self, engine_factory: Callable[[Path], object] | None = None,
                 name: str | None = None, grouped: bool = True):
        self.engine_factory = engine_factory
        self.grouped = grouped
        if name:
            self.name = name

    def open(self, ds: Dataset) -> Ranker:
        """The engine over the cached index; `engine_factory` makes tuned variants."""
        from indexer.config import Settings
        from indexer.search import SearchEngine

        index_dir = our_index(ds)
        if self.engine_factory is not None:
            engine = self.engine_factory(index_dir)
        else:
            engine = SearchEngine(Settings(index_dir=index_dir))
        return lambda query: [doc_id for doc_id, _ in engine.rank(query, limit=LIMIT,
                                                                  grouped=self.grouped)]


class TutorialWhoosh(System):
    """Whoosh as its tutorial sets it up: `TEXT()` fields, `QueryParser("body")` (every word
    required, wildcards on), the default BM25F searcher."""

    name = "tutorial Whoosh"

    def open(self, ds: Dataset) -> Ranker:
        """Index title/body with Whoosh's defaults (cached) and parse queries as typed."""
        import whoosh
        from whoosh import index
        from whoosh.fields import ID, TEXT, Schema
        from whoosh.qparser import QueryParser

        schema = Schema(id=ID(stored=True), title=TEXT(), body=TEXT())

        def build(path: Path) -> None:
            ix = index.create_in(str(path), schema)
            writer = ix.writer(limitmb=256)
            for doc in ds.docs:
                writer.add_document(id=doc.id, title=doc.title, body=doc.text)
            writer.commit()

        version = "whoosh" + ".".join(map(str, whoosh.__version__))
        ix = index.open_dir(str(_cached_dir("tutorial", ds, version, build)))
        searcher = ix.searcher()
        parser = QueryParser("body", ix.schema)

        def rank(query: str) -> list[str]:
            hits = searcher.search(parser.parse(query), limit=LIMIT)
            return [hit["id"] for hit in hits]

        return rank


class Fts5(System):
    """SQLite FTS5 with `bm25()`, the porter tokenizer, the query's words OR'd and quoted."""

    name = "SQLite FTS5 bm25"

    def open(self, ds: Dataset) -> Ranker:
        """An in-memory FTS5 table of id (unindexed), title and body."""
        db = sqlite3.connect(":memory:", check_same_thread=False)
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, "
                   "tokenize='porter unicode61')")
        db.executemany("INSERT INTO docs VALUES (?, ?, ?)",
                       ((d.id, d.title, d.text) for d in ds.docs))
        db.commit()

        def rank(query: str) -> list[str]:
            # Each word as a quoted string: FTS5 reads bare AND/OR/NOT, -, :, * as syntax.
            words = list(dict.fromkeys(_tokens(query)))
            if not words:
                return []
            match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
            rows = db.execute("SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) "
                              "LIMIT ?", (match, LIMIT))
            return [r[0] for r in rows]

        return rank


class Tantivy(System):
    """tantivy's default BM25 over title and body with its English stemming tokenizer; the
    query's words are OR'd (the parser's default) after stripping its syntax characters."""

    name = "tantivy BM25"

    def open(self, ds: Dataset) -> Ranker:
        """A tantivy index in a temporary folder (fast to build, so not cached)."""
        import tantivy

        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        builder.add_text_field("title", tokenizer_name="en_stem")
        builder.add_text_field("body", tokenizer_name="en_stem")
        schema = builder.build()
        folder = tempfile.mkdtemp(prefix="eval-tantivy-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        index = tantivy.Index(schema, path=folder)
        writer = index.writer(heap_size=128_000_000, num_threads=1)  # one segment: ties stay put
        for doc in ds.docs:
            writer.add_document(tantivy.Document(id=doc.id, title=doc.title, body=doc.text))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        searcher = index.searcher()

        def rank(query: str) -> list[str]:
            # Lowercased words only: no field names, operators, quotes or wildcards reach
            # the parser, so it cannot fail on what a reader typed.
            words = _tokens(query)
            if not words:
                return []
            parsed = index.parse_query(" ".join(words), ["title", "body"])
            hits = searcher.search(parsed, LIMIT).hits
            return [searcher.doc(addr)["id"][0] for _, addr in hits]

        return rank


class Bm25s(System):
    """bm25s (Lucene's BM25 variant, k1=1.5, b=0.75) with its English stop words and the
    Snowball English stemmer; title and text are one field."""

    name = "bm25s (Lucene BM25)"

    def open(self, ds: Dataset) -> Ranker:
        """A bm25s index in memory."""
        import bm25s
        import Stemmer

        stemmer = Stemmer.Stemmer("english")
        ids = [d.id for d in ds.docs]
        corpus = [f"{d.title}\n{d.text}" if d.title else d.text for d in ds.docs]
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer,
                                       show_progress=False), show_progress=False)
        k = min(LIMIT, len(ids))

        def rank(query: str) -> list[str]:
            tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer,
                                    return_ids=False, show_progress=False)
            docs, scores = retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
            # Documents with no query word come back with score 0: they were not found.
            return [ids[i] for i, s in zip(docs[0], scores[0], strict=True) if s > 0]

        return rank


def all_systems() -> list[System]:
    """The systems of the report, peers first and our engine last."""
    return [TutorialWhoosh(), Fts5(), Tantivy(), Bm25s(), Ours()]
