"""The engines of the speed comparison, in-process: ours and three peers, each doing the same
work per query (top 10 with highlighted snippets, plus the total number of matches).

- `ours`: `SearchEngine.search()` of this repository.
- `whoosh-tutorial`: Whoosh as its tutorial builds it: title and body as `TEXT(stored=True)`
  (the default StandardAnalyzer: no stemming), one `ix.writer()` with default settings,
  `QueryParser("body", schema)` with its defaults (every word required, `?` and `*` are
  wildcards), a searcher opened per request, `hit.highlights("body")` with default settings
  and `len(results)` for the total.
- `fts5`: SQLite FTS5 (`porter unicode61` tokenizer), ranked by `bm25()` with the title
  weighted 2, `snippet()` for the snippet and `count(*)` for the total. The reader's words
  are quoted and OR-ed (FTS5's own syntax would reject most questions), Whoosh's default stop
  words left out; one connection per thread.
- `tantivy`: tantivy's Python bindings, `en_stem` tokenizer, `parse_query_lenient` over title
  and body (OR by default), `SnippetGenerator` for the snippet, `count=True` for the total.

Peers read the corpus's JSON Lines with the standard library (id, title, text), as a small
app would. Command line (one process per measurement, so memory and caches are separate):

    python -m bench.peers_speed build --engine fts5 --index-dir D PATH...
    python -m bench.peers_speed query --engine ours --index-dir D --queries Q.json --set distinct
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from bench.harness import iter_docs, latency_summary, tree_rss, write_profile

PEERS = ("whoosh-tutorial", "fts5", "tantivy")
ENGINES = ("ours", *PEERS)
FTS5_MAX_TERMS = 32
_WORD = re.compile(r"\w+", re.UNICODE)


class SpeedEngine(Protocol):
    """What the benchmark asks of an engine."""

    name: str

    def search(self, query: str) -> tuple[int, list[dict]]:
        """(total matches, top 10 as {id, title, snippet, score})."""
        ...


# -- ours ------------------------------------------------------------------------------------


class Ours:
    """This repository's engine through its public search API."""

    name = "ours"

    def __init__(self, index_dir: Path, *, cache: bool):
        from indexer.config import Settings
        from indexer.search import SearchEngine

        settings = Settings(index_dir=Path(index_dir))
        if not cache:
            settings = settings.with_overrides(cache_size=0)
        self.engine = SearchEngine(settings)

    def search(self, query: str) -> tuple[int, list[dict]]:
        """One results page, as the web app asks for it."""
        page = self.engine.search(query)
        return page.total, [{"id": r.id, "title": r.title, "snippet": r.snippet,
                             "score": r.score} for r in page.results]


# -- Whoosh as in its tutorial -----------------------------------------------------------------


def build_whoosh_tutorial(docs: Iterable[dict], index_dir: Path) -> int:
    """The tutorial's index: default TEXT fields, one writer, one commit."""
    from whoosh import index
    from whoosh.fields import ID, TEXT, Schema

    schema = Schema(id=ID(stored=True, unique=True), title=TEXT(stored=True),
                    body=TEXT(stored=True))
    index_dir.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(index_dir), schema)
    writer = ix.writer()
    count = 0
    for doc in docs:
        writer.add_document(id=doc["id"], title=doc["title"], body=doc["text"])
        count += 1
    writer.commit()
    return count


class WhooshTutorial:
    """Searching as the Whoosh tutorial does: a searcher per request, default highlights."""

    name = "whoosh-tutorial"

    def __init__(self, index_dir: Path):
        from whoosh import index
        from whoosh.qparser import QueryParser

        self.ix = index.open_dir(str(index_dir))
        self.parser = QueryParser("body", self.ix.schema)

    def search(self, query: str) -> tuple[int, list[dict]]:
        """Parse with the default parser, search, highlight, count."""
        q = self.parser.parse(query)
        with self.ix.searcher() as searcher:
            results = searcher.search(q, limit=10)
            hits = [{"id": hit["id"], "title": hit["title"],
                     "snippet": hit.highlights("body"), "score": hit.score}
                    for hit in results]
            return len(results), hits


# -- SQLite FTS5 -------------------------------------------------------------------------------


def build_fts5(docs: Iterable[dict], index_dir: Path) -> int:
    """One FTS5 table filled in one transaction, then optimised (merged to one b-tree)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / "fts.sqlite"
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    con.execute("CREATE VIRTUAL TABLE docs USING fts5("
                "id UNINDEXED, title, body, tokenize='porter unicode61')")
    count = 0

    def rows():
        nonlocal count
        for doc in docs:
            count += 1
            yield doc["id"], doc["title"], doc["text"]

    with con:
        con.executemany("INSERT INTO docs(id, title, body) VALUES (?, ?, ?)", rows())
    with con:
        con.execute("INSERT INTO docs(docs) VALUES ('optimize')")
    con.close()
    return count


def fts5_match(query: str) -> str:
    """The reader's words quoted and OR-ed; stop words left out; '' when nothing is left."""
    from whoosh.analysis import STOP_WORDS

    words: list[str] = []
    for word in _WORD.findall(query.lower()):
        if word not in STOP_WORDS and word not in words:
            words.append(word)
    return " OR ".join(f'"{w}"' for w in words[:FTS5_MAX_TERMS])


class Fts5:
    """FTS5 with bm25() and snippet(); one connection per thread."""

    name = "fts5"

    def __init__(self, index_dir: Path):
        self.path = Path(index_dir) / "fts.sqlite"
        if not self.path.is_file():
            raise FileNotFoundError(self.path)
        self.local = threading.local()

    def _con(self) -> sqlite3.Connection:
        con = getattr(self.local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            self.local.con = con
        return con

    def search(self, query: str) -> tuple[int, list[dict]]:
        """Top 10 by bm25 with snippets, and the count of all matches."""
        match = fts5_match(query)
        if not match:
            return 0, []
        con = self._con()
        rows = con.execute(
            "SELECT id, title, snippet(docs, 2, '<mark>', '</mark>', '…', 32), "
            "bm25(docs, 0.0, 2.0, 1.0) AS score FROM docs WHERE docs MATCH ? "
            "ORDER BY score LIMIT 10", (match,)).fetchall()
        total = con.execute("SELECT count(*) FROM docs WHERE docs MATCH ?",
                            (match,)).fetchone()[0]
        return total, [{"id": r[0], "title": r[1], "snippet": r[2], "score": -r[3]}
                       for r in rows]


# -- tantivy ---------------------------------------------------------------------------------


def _tantivy_schema():
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", stored=True, tokenizer_name="en_stem")
    sb.add_text_field("body", stored=True, tokenizer_name="en_stem")
    return sb.build()


def build_tantivy(docs: Iterable[dict], index_dir: Path) -> int:
    """A tantivy index written by its (multi-threaded) writer, merges awaited."""
    import tantivy

    index_dir.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(_tantivy_schema(), path=str(index_dir))
    writer = index.writer(heap_size=256 * 1024 * 1024)
    count = 0
    for doc in docs:
        writer.add_document(tantivy.Document(id=doc["id"], title=doc["title"], body=doc["text"]))
        count += 1
    writer.commit()
    writer.wait_merging_threads()
    return count


class Tantivy:
    """tantivy with its lenient query parser and SnippetGenerator."""

    name = "tantivy"

    def __init__(self, index_dir: Path):
        import tantivy

        self.tantivy = tantivy
        self.index = tantivy.Index.open(str(index_dir))
        self.schema = self.index.schema

    def search(self, query: str) -> tuple[int, list[dict]]:
        """Top 10 with snippets from the body, and the count."""
        q, _errors = self.index.parse_query_lenient(query, ["title", "body"])
        searcher = self.index.searcher()
        result = searcher.search(q, 10, count=True)
        gen = self.tantivy.SnippetGenerator.create(searcher, q, self.schema, "body")
        hits = []
        for score, address in result.hits:
            doc = searcher.doc(address)
            hits.append({"id": doc.get_first("id"), "title": doc.get_first("title"),
                         "snippet": gen.snippet_from_doc(doc).to_html(), "score": score})
        return result.count, hits


# -- factory and command line ----------------------------------------------------------------

BUILDERS = {
    "whoosh-tutorial": build_whoosh_tutorial,
    "fts5": build_fts5,
    "tantivy": build_tantivy,
}


def open_engine(name: str, index_dir: Path, *, cache: bool = False) -> SpeedEngine:
    """An engine over an existing index; `cache` only applies to ours (peers have none)."""
    if name == "ours":
        return Ours(index_dir, cache=cache)
    if name == "whoosh-tutorial":
        return WhooshTutorial(index_dir)
    if name == "fts5":
        return Fts5(index_dir)
    if name == "tantivy":
        return Tantivy(index_dir)
    raise ValueError(f"unknown engine {name!r}")


def build_main(args: argparse.Namespace) -> dict:
    """Build a peer's index from JSON Lines; the figures as one dict."""
    index_dir = Path(args.index_dir)
    if index_dir.exists():
        shutil.rmtree(index_dir)
    started = time.perf_counter()
    count = BUILDERS[args.engine](iter_docs(Path(p) for p in args.paths), index_dir)
    seconds = time.perf_counter() - started
    return {"engine": args.engine, "docs": count, "seconds": round(seconds, 3),
            "docs_per_second": round(count / seconds, 1)}


def measure(engine: SpeedEngine, queries: list[str], warmup: list[str], *,
            max_queries: int, max_seconds: float, profiler=None) -> dict:
    """Warm up, then time engine.search() on each query in order, bounded in count and time."""
    for q in warmup:
        engine.search(q)
    latencies: list[float] = []
    cpu: list[float] = []
    errors: list[str] = []
    zero = 0
    deadline = time.perf_counter() + max_seconds
    if profiler is not None:
        profiler.start()
    for q in queries[:max_queries]:
        if time.perf_counter() > deadline:
            break
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            total, _hits = engine.search(q)
        except Exception as exc:  # a peer failing on a query is a figure, not a crash
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
            total = 0
        cpu.append((time.thread_time() - c0) * 1000)
        latencies.append((time.perf_counter() - t0) * 1000)
        zero += total == 0
    if profiler is not None:
        profiler.stop()
    # CPU time of the searching thread: what a query costs whatever else the machine runs.
    cpu_figures = latency_summary(cpu)
    return {**latency_summary(latencies),
            **{f"cpu_{k}": v for k, v in cpu_figures.items() if k != "n"},
            "errors": len(errors), "error_samples": errors[:3], "zero_hits": zero,
            "bounded_by_time": len(latencies) < min(max_queries, len(queries))}


def query_main(args: argparse.Namespace) -> dict:
    """Time one engine on one query set in this process; the figures as one dict."""
    data = json.loads(Path(args.queries).read_text(encoding="utf-8"))
    queries = data[args.set]
    engine = open_engine(args.engine, Path(args.index_dir), cache=args.set == "log")
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
    figures = measure(engine, queries, data["warmup"], max_queries=args.max_queries,
                      max_seconds=args.max_seconds, profiler=profiler)
    figures.update(engine=args.engine, set=args.set, rss_mb=round(tree_rss(os.getpid()) / 2**20))
    if profiler is not None:
        write_profile(profiler, Path(args.profile),
                      f"{args.engine} search(), {figures['n']} questions of the '{args.set}' "
                      f"set, result cache {'on' if args.set == 'log' else 'off'}")
    return figures


def main(argv: list[str] | None = None) -> None:
    """Command line: `build` a peer's index or time a `query` set; prints one JSON line."""
    ap = argparse.ArgumentParser(description="Speed-benchmark engines (one per process).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a peer's index from JSON Lines files or folders")
    b.add_argument("--engine", choices=list(BUILDERS), required=True)
    b.add_argument("--index-dir", required=True)
    b.add_argument("paths", nargs="+")
    q = sub.add_parser("query", help="time an engine on a query set")
    q.add_argument("--engine", choices=ENGINES, required=True)
    q.add_argument("--index-dir", required=True)
    q.add_argument("--queries", required=True, help="JSON file from bench.querylog")
    q.add_argument("--set", choices=("distinct", "log"), default="distinct")
    q.add_argument("--max-queries", type=int, default=500)
    q.add_argument("--max-seconds", type=float, default=90.0)
    q.add_argument("--profile", default="", help="write a pyinstrument profile here")
    args = ap.parse_args(argv)
    result = build_main(args) if args.cmd == "build" else query_main(args)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
