"""All configuration in one place: defaults, overridden by environment variables, then by flags."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

ENV_PREFIX = "HEALTHSEARCH_"
# Postings an index writer process holds (indexer.storage.writer's estimate, MB) before it spills a
# sorted run to disk. Runs are merged back a term at a time, so spilling costs little. The
# 100k scale corpus, 1 writer, before run blocks shrank to 200 terms, at 32 / 64 / 128 /
# 1024 MB: 749 / 793 / 792 / 886 docs/s, peak RSS 203 / 193 / 282 / 841 MB
# (bench/results/2026-12-01-build-pool.md).
WRITER_MEMORY_MB = 64
# Waitress threads per server process (see Settings.threads for why so few).
THREADS = 8
# Questions whose answer is not cached that a server process takes at once: computed (one per
# searcher) or waiting for a searcher. Past it a question is refused with 503 and Retry-After,
# so the threads beyond it stay free for cached answers, /healthz and static files. With 1,
# 64 clients of expensive questions got their answers sooner (p95 1.0-1.2 s against 3.5-4.9
# s with 4, bench.overload), but 6 readers searching through a rebuild were refused.
QUEUE = 4


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def _default_synonym_paths() -> tuple[Path, ...]:
    # The MedQuAD synonym table is read where the shared data sets live, never copied in.
    raw = _env("SYNONYMS", "")
    if raw:
        return tuple(Path(p) for p in raw.split(os.pathsep) if p)
    return ()


@dataclass(frozen=True)
class Replica:
    """One read replica: where its index folder is (a local path, or `host:path` reached by
    rsync over ssh) and the address it serves on (for health checks and the load balancer)."""

    name: str
    index_dir: str
    url: str = ""


def parse_replicas(specs: list[str] | tuple[str, ...]) -> tuple[Replica, ...]:
    """Replicas from `DIR` or `DIR=URL` specs (flags, or HEALTHSEARCH_REPLICAS split at
    commas), named r1, r2, ... in order."""
    out = []
    for n, spec in enumerate((s.strip() for s in specs if s.strip()), start=1):
        index_dir, _, url = spec.partition("=")
        out.append(Replica(f"r{n}", index_dir.strip(), url.strip().rstrip("/")))
    return tuple(out)


def read_cluster_file(path: Path) -> tuple[Replica, ...]:
    """Replicas from a TOML file: one [[replica]] table each, with index_dir, url and an
    optional name."""
    with open(path, "rb") as f:
        tables = tomllib.load(f).get("replica", [])
    return tuple(Replica(str(t.get("name") or f"r{n}"), str(t["index_dir"]),
                         str(t.get("url", "")).rstrip("/"))
                 for n, t in enumerate(tables, start=1))


def _default_replicas() -> tuple[Replica, ...]:
    # Named one by one in HEALTHSEARCH_REPLICAS, else listed in HEALTHSEARCH_CLUSTER_FILE.
    raw = _env("REPLICAS", "")
    if raw:
        return parse_replicas(raw.split(","))
    path = _env("CLUSTER_FILE", "")
    return read_cluster_file(Path(path)) if path else ()


@dataclass(frozen=True)
class Settings:
    """Every knob of the engine, the CLI and the web app."""

    index_dir: Path = field(default_factory=lambda: Path(_env("INDEX_DIR", "var/index")))
    corpus_paths: tuple[Path, ...] = field(
        default_factory=lambda: tuple(
            Path(p) for p in _env("CORPUS", "corpus").split(os.pathsep) if p
        )
    )
    max_file_bytes: int = field(
        default_factory=lambda: int(_env("MAX_FILE_BYTES", str(20 * 1024 * 1024)))
    )
    # 0 means "as many as pay off" (see indexer.build.apply.auto_workers).
    workers: int = field(default_factory=lambda: int(_env("WORKERS", "0")))
    # Postings an index writer process holds before it spills a sorted run to disk (MB, per
    # writer); see WRITER_MEMORY_MB above for what it trades.
    writer_memory_mb: int = field(
        default_factory=lambda: int(_env("WRITER_MEMORY_MB", str(WRITER_MEMORY_MB))))
    per_page: int = field(default_factory=lambda: int(_env("PER_PAGE", "10")))
    max_per_page: int = 50
    synonym_paths: tuple[Path, ...] = field(default_factory=_default_synonym_paths)
    use_synonyms: bool = field(default_factory=lambda: _env("USE_SYNONYMS", "1") != "0")
    # Searchers per process, shared by its threads (each maps the index once).
    searchers: int = field(default_factory=lambda: int(_env("SEARCHERS", "2")))
    cache_size: int = field(default_factory=lambda: int(_env("CACHE_SIZE", "1024")))
    # Decoded postings kept per process (MB): words readers ask about again are not re-read.
    postings_cache_mb: int = field(
        default_factory=lambda: int(_env("POSTINGS_CACHE_MB", "64")))
    # Re-rank the best matches by meaning (sentence embeddings; indexer.ranking.encoder) when the
    # model is installed. The indexer then keeps a vector per article; off, it keeps none.
    dense: bool = field(default_factory=lambda: _env("DENSE", "1") != "0")
    # The embedding model's folder (default: the model shipped with the engine).
    model_dir: Path | None = field(
        default_factory=lambda: Path(p) if (p := _env("MODEL_DIR", "")) else None)
    # Processes embedding articles during indexing (0: by how many need a vector, see
    # encoder.open_for; 1: one process, a thread per core; more: a share of the cores each).
    embed_workers: int = field(default_factory=lambda: int(_env("EMBED_WORKERS", "0")))
    # ONNX Runtime's execution provider for embedding: "cpu", or "cuda" where a GPU and
    # onnxruntime-gpu are installed (it falls back to the CPU otherwise).
    embed_provider: str = field(default_factory=lambda: _env("EMBED_PROVIDER", "cpu"))
    # Map index files into memory (Whoosh's default) rather than read them through the OS's
    # page cache: as fast here, but every page touched then counts as the server's own.
    mmap_index: bool = field(default_factory=lambda: _env("MMAP_INDEX", "0") == "1")
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("PORT", "8000")))
    # Waitress threads per server process. Searching is Python work that holds the GIL, so
    # computing more questions at once only shares one core more ways (100k scale corpus, 2
    # processes, replayed log, 32 clients: p95 74-85 ms with 4 threads, 120-121 ms with 8,
    # before admission control). Admission (`queue` below) now caps the questions computed
    # or waiting at searchers + queue; the threads past that answer what needs no
    # computing, so there must be more threads than that.
    threads: int = field(default_factory=lambda: int(_env("THREADS", str(THREADS))))
    # Uncached questions that may wait for a searcher beyond the `searchers` being computed;
    # past it 503 with Retry-After (0: no limit, the behaviour before admission control).
    queue: int = field(default_factory=lambda: int(_env("QUEUE", str(QUEUE))))
    # A question finding the queue full waits this long (ms) for a place before it is
    # refused, unless such a wait failed that recently: a burst of cheap questions frees
    # places in milliseconds and is answered; a sustained overload is refused at once.
    queue_grace_ms: int = field(default_factory=lambda: int(_env("QUEUE_GRACE_MS", "100")))
    # How often (ms) a thread computing a question hands the GIL to one that waits for it
    # (Python's default: 5): shorter, a cached answer waits less behind computed ones (64
    # clients of expensive questions, one process: cached p95 231 -> 173 ms, computed 2.4
    # -> 1.7 s, going from 5 to 1).
    switch_interval_ms: float = field(
        default_factory=lambda: float(_env("SWITCH_INTERVAL_MS", "1")))
    # Requests that need no question computed (a cached answer, /healthz, a static file,
    # an article) are taken by the server's threads before those that do; 0: in arrival
    # order, waitress's own (see bench.overload for the two side by side).
    cheap_first: bool = field(default_factory=lambda: _env("CHEAP_FIRST", "1") == "1")
    # Seconds a client refused for overload (or for its rate) is told to wait.
    retry_after_s: int = field(default_factory=lambda: int(_env("RETRY_AFTER", "2")))
    # CPU budget of one question (ms; 0: none). Past it the phrase matcher and feedback
    # stop and the ranking is flagged partial rather than waited for. Ordinary questions
    # take 5-50 ms; ones of many phrases took up to 1.15 s.
    question_budget_ms: int = field(
        default_factory=lambda: int(_env("QUESTION_BUDGET_MS", "250")))
    # Searches one client address may make, in Flask-Limiter's notation ("5/second;100/minute";
    # empty: no limit); past it 429 with Retry-After. Per process, in memory.
    rate_limit: str = field(default_factory=lambda: _env("RATE_LIMIT", ""))
    # Limits set at the server, before the app sees a request: a body over max_body_bytes
    # is refused as soon as its length is known (the routes take no body: the app refuses
    # any), and no body is ever spooled to disk; headers past max_header_bytes get 431.
    # 32 KiB holds the longest question the site takes (2,000 characters, percent-encoded).
    max_body_bytes: int = field(default_factory=lambda: int(_env("MAX_BODY_BYTES", "65536")))
    max_header_bytes: int = field(
        default_factory=lambda: int(_env("MAX_HEADER_BYTES", "32768")))
    max_header_fields: int = field(default_factory=lambda: int(_env("MAX_HEADER_FIELDS", "100")))
    # A connection idle this long is closed (s), and one that has not sent a whole request
    # this long after its first byte too, however slowly it trickles (a slowloris).
    client_timeout_s: int = field(default_factory=lambda: int(_env("CLIENT_TIMEOUT", "10")))
    request_timeout_s: int = field(default_factory=lambda: int(_env("REQUEST_TIMEOUT", "15")))
    # Open connections per server process. Waitress holds a waiting connection in its
    # poll() loop, not in a thread: 1,000 slow sockets cost little.
    connection_limit: int = field(
        default_factory=lambda: int(_env("CONNECTION_LIMIT", "4096")))
    # The site's public address ("https://health.example.org"), for the OpenSearch
    # description; empty: addresses relative to the request's own path, never its Host.
    base_url: str = field(default_factory=lambda: _env("BASE_URL", ""))
    # One JSON line per request: "-" standard error, a path a file, "" none.
    access_log: str = field(default_factory=lambda: _env("ACCESS_LOG", ""))
    # Server processes sharing the port (0: one per core).
    processes: int = field(default_factory=lambda: int(_env("PROCESSES", "1")))
    # C allocator arenas a server process may use (0: glibc's default, up to 8 per core).
    malloc_arenas: int = field(default_factory=lambda: int(_env("MALLOC_ARENAS", "2")))
    # A read replica's server: it never builds an index, only serves what is published to it.
    read_only: bool = field(default_factory=lambda: _env("READ_ONLY", "0") == "1")
    # Read replicas the primary publishes each generation to (`healthsearch publish`).
    replicas: tuple[Replica, ...] = field(default_factory=_default_replicas)
    # Publishing: hard-link files where a replica's folder is on the primary's disk (else
    # they are copied), and cap the copy's bandwidth (KB/s, 0: none) so that publishing does
    # not starve a replica's own disk reads.
    publish_links: bool = field(default_factory=lambda: _env("PUBLISH_LINKS", "1") != "0")
    publish_kbps: int = field(default_factory=lambda: int(_env("PUBLISH_KBPS", "0")))

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with the given fields replaced; `None` values (flags not given) are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
