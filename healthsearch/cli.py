"""`healthsearch`: a thin command line over the engine and the web layer (index, stats,
search, serve)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from healthsearch.progress import progress_for
from indexer.build import NothingToIndex, index_corpus
from indexer.config import QUEUE, THREADS, Replica, Settings, parse_replicas, read_cluster_file
from indexer.ranking.encoder import MODEL_NAME
from indexer.storage import IndexBusy, IndexStore, NoIndex
from indexer.storage.stats import index_stats

index_dir_option = click.option(
    "--index-dir", type=click.Path(path_type=Path), default=None,
    help="Index folder [env HEALTHSEARCH_INDEX_DIR; default ./var/index].",
)


def replica_options(command):
    """--replica (repeated) and --cluster-file: which read replicas a command is about."""
    command = click.option(
        "--cluster-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
        default=None, help="TOML file with a [[replica]] table (name, index_dir, url) per "
                           "replica [env HEALTHSEARCH_CLUSTER_FILE].")(command)
    return click.option(
        "--replica", "replica_specs", multiple=True, metavar="DIR[=URL]",
        help="A replica's index folder (local, or host:path over ssh) and the address it "
             "serves on; repeat for each [env HEALTHSEARCH_REPLICAS, comma-separated].",
    )(command)


def _replicas(settings: Settings, specs: tuple[str, ...], cluster_file: Path | None
              ) -> tuple[Replica, ...]:
    """Flags first, then the cluster file given, then the environment's."""
    if specs:
        return parse_replicas(specs)
    if cluster_file is not None:
        return read_cluster_file(cluster_file)
    return settings.replicas


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="healthsearch")
def cli() -> None:
    """Health-article search: index a corpus, search it, serve it on the web."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_dir_option
@click.option("--rebuild", is_flag=True, help="Build a fresh index and swap it in atomically.")
@click.option("--workers", type=click.IntRange(0, 16), default=None,
              help="Writer processes for full builds; 0 picks by corpus size and cores "
                   "[env HEALTHSEARCH_WORKERS; default 0].")
@click.option("--memory-mb", type=click.IntRange(8, 65536), default=None,
              help="Postings each writer process holds in memory before spilling to disk; "
                   "more is a little faster [env HEALTHSEARCH_WRITER_MEMORY_MB; default 64].")
@click.option("--max-file-size", "max_file_mb", type=click.FloatRange(0.001), default=None,
              help="Skip files (and JSON Lines records) larger than this many MB [default 20].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress (a bar on a terminal, otherwise a line every few seconds).")
@click.option("--strict", is_flag=True, help="Exit non-zero when anything was skipped.")
@click.option("--wait", is_flag=True, help="Wait for another running indexer instead of failing.")
@click.option("--vectors/--no-vectors", default=None,
              help="Keep a sentence vector per article, for ranking by meaning; only new or "
                   "changed articles are embedded [env HEALTHSEARCH_DENSE; default on].")
@click.option("--embed-workers", type=click.IntRange(0, 64), default=None,
              help="Processes embedding articles, each with its share of the cores "
                   "[env HEALTHSEARCH_EMBED_WORKERS; default 0: one per core when many "
                   "articles need a vector, one otherwise].")
@click.option("--embed-provider", type=click.Choice(["cpu", "cuda"]), default=None,
              help="Where the model runs: cpu, or cuda with onnxruntime-gpu and a GPU "
                   "[env HEALTHSEARCH_EMBED_PROVIDER; default cpu].")
@click.option("--publish", "then_publish", is_flag=True,
              help="Then publish the live generation to the replicas (see `publish`).")
@replica_options
def index(paths, index_dir, rebuild, workers, memory_mb, max_file_mb, as_json, quiet, strict,
          wait, vectors, embed_workers, embed_provider, then_publish, replica_specs,
          cluster_file) -> None:
    """Index PATHS (files or folders; default ./corpus), incrementally unless --rebuild."""
    settings = Settings().with_overrides(
        index_dir=index_dir, workers=workers, writer_memory_mb=memory_mb,
        max_file_bytes=int(max_file_mb * 1024 * 1024) if max_file_mb else None,
        dense=vectors, embed_workers=embed_workers, embed_provider=embed_provider,
    )
    roots = list(paths) or list(settings.corpus_paths)
    store = IndexStore(settings.index_dir)
    progress = progress_for(quiet)
    try:
        summary = index_corpus(roots, store, rebuild=rebuild, workers=settings.workers,
                               max_bytes=settings.max_file_bytes, progress=progress, wait=wait,
                               memory_mb=settings.writer_memory_mb,
                               encoder=_encoder(settings))
    except IndexBusy as exc:
        raise click.ClickException(str(exc)) from None
    except NothingToIndex as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write the index in {store.root}: {exc}") from None
    if summary.recovered_lock_pid is not None:
        click.echo(f"note: recovered a lock left by a killed indexer (pid "
                   f"{summary.recovered_lock_pid}); its unfinished work was discarded",
                   err=True)
    if as_json:
        click.echo(json.dumps(summary.as_json()))
    else:
        for skip in summary.skipped:
            click.echo(f"skipped: {skip.path}: {skip.reason}", err=True)
        how = "rebuilt" if summary.rebuilt else "updated"
        click.echo(
            f"{how} {store.root} ({summary.generation}): {summary.added} added, "
            f"{summary.updated} updated, {summary.deleted} deleted, {summary.unchanged} "
            f"unchanged, {summary.merged} teasers merged, {len(summary.skipped)} skipped "
            f"in {summary.words_seconds:.2f}s ({summary.docs_per_second:,.0f} docs/s)"
        )
        if summary.vectors is not None:
            v = summary.vectors
            rate = f" ({v.docs_per_second:,.0f} docs/s)" if v.embedded else ""
            lacking = f", {v.missing} without a vector (no model)" if v.missing else ""
            graph = (f"; nearest-neighbour graph of {v.graph_vectors:,} in "
                     f"{v.graph_seconds:.2f}s" if v.graph_vectors else "")
            click.echo(f"vectors: {v.embedded} embedded, {v.reused} reused{lacking} in "
                       f"{v.seconds:.2f}s{rate}{graph}")
    if then_publish:
        _publish(store, _replicas(settings, replica_specs, cluster_file), settings,
                 as_json=as_json, wait=True)
    if strict and summary.skipped:
        sys.exit(3)


@cli.command(name="publish")
@index_dir_option
@replica_options
@click.option("--links/--no-links", default=None,
              help="Hard-link files where a replica's folder is on this disk, else copy "
                   "[env HEALTHSEARCH_PUBLISH_LINKS; default on].")
@click.option("--kbps", type=click.IntRange(0), default=None,
              help="Cap the copy at this many KB/s, 0 for none [env HEALTHSEARCH_PUBLISH_KBPS].")
@click.option("--wait/--no-wait", default=True,
              help="Wait for a running indexer to finish (the default), or fail.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per replica.")
def publish_command(index_dir, replica_specs, cluster_file, links, kbps, wait, as_json) -> None:
    """Publish the live generation to every read replica: copy it (rsync), then switch the
    replica's CURRENT. A replica that misses one catches up on the next."""
    settings = Settings().with_overrides(index_dir=index_dir, publish_links=links,
                                         publish_kbps=kbps)
    _publish(IndexStore(settings.index_dir), _replicas(settings, replica_specs, cluster_file),
             settings, as_json=as_json, wait=wait)


def _publish(store: IndexStore, replicas: tuple[Replica, ...], settings: Settings, *,
             as_json: bool, wait: bool) -> None:
    """Publish and report each replica's outcome; exit 1 when any replica failed."""
    from indexer.storage.publish import PublishError, publish

    if not replicas:
        raise click.ClickException("no replicas: name them with --replica, --cluster-file or "
                                   "HEALTHSEARCH_REPLICAS")
    try:
        outcomes = publish(store, replicas, links=settings.publish_links,
                           kbps=settings.publish_kbps, wait=wait)
    except (NoIndex, IndexBusy, PublishError) as exc:
        raise click.ClickException(str(exc)) from None
    for done in outcomes:
        if as_json:
            click.echo(json.dumps(done.as_json()))
        elif done.error:
            click.echo(f"{done.replica}: FAILED, still serves {done.previous or 'nothing'}: "
                       f"{done.error}", err=True)
        else:
            what = "now serves" if done.switched else "already served"
            click.echo(f"{done.replica}: {what} {done.generation} (commit {done.commit}); "
                       f"copied in {done.copy_seconds:.2f}s")
    if any(done.error for done in outcomes):
        sys.exit(1)


@cli.command()
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print as one JSON object.")
def stats(index_dir, as_json) -> None:
    """What the index holds."""
    settings = Settings().with_overrides(index_dir=index_dir)
    try:
        data = index_stats(IndexStore(settings.index_dir), MODEL_NAME)
    except NoIndex as exc:
        raise click.ClickException(str(exc)) from None
    data["meaning"] = _meaning_status(settings, data["vectors"])
    if as_json:
        click.echo(json.dumps(data))
        return
    for key, value in data.items():
        click.echo(f"{key:>12}: {', '.join(value) if isinstance(value, list) else value}")


@cli.command()
@click.argument("query")
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the results page as JSON.")
@click.option("--limit", type=click.IntRange(1, 50), default=None, help="Results per page.")
@click.option("--page", type=click.IntRange(1, 100), default=1, help="Page number.")
def search(query, index_dir, as_json, limit, page) -> None:
    """Search the index for QUERY."""
    from indexer.search import SearchEngine

    settings = Settings().with_overrides(index_dir=index_dir)
    try:
        result = SearchEngine(settings).search(query, page=page, per_page=limit)
    except NoIndex as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    noun = "result" if result.total == 1 else "results"
    click.echo(f"{result.total} {noun} for “{result.query}” ({result.took_ms:.1f} ms)")
    if result.message:
        click.echo(result.message)
    if result.suggestion and not result.corrected:
        click.echo(f"Did you mean: {result.suggestion}")
    start = (result.page - 1) * result.per_page
    for n, hit in enumerate(result.results, start=start + 1):
        label = " [teaser]" if hit.kind == "teaser" else ""
        click.echo(f"\n{n}. {hit.title}{label}  ({hit.id}, score {hit.score:.2f})")
        click.echo("   " + _terminal_snippet(hit.snippet))


def _terminal_snippet(html: str) -> str:
    from html import unescape

    bold = "\x1b[1m" if sys.stdout.isatty() else "["
    plain = "\x1b[0m" if sys.stdout.isatty() else "]"
    return unescape(html.replace("<mark>", bold).replace("</mark>", plain))


@cli.command()
@index_dir_option
@click.option("--host", default=None,
              help="Address to listen on [env HEALTHSEARCH_HOST; default 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port [env HEALTHSEARCH_PORT; default 8000].")
@click.option("--threads", type=click.IntRange(1, 256), default=None,
              help=f"Threads per process; keep more than searchers + queue, for what needs "
                   f"no computing [env HEALTHSEARCH_THREADS; default {THREADS}].")
@click.option("--processes", type=click.IntRange(0, 32), default=None,
              help="Server processes sharing the port; 0 = one per core "
                   "[env HEALTHSEARCH_PROCESSES; default 1; make serve: 0].")
@click.option("--read-only", is_flag=True, default=None,
              help="A read replica: never build an index, serve what is published to it "
                   "(/healthz answers 503 until then) [env HEALTHSEARCH_READ_ONLY=1].")
@click.option("--queue", type=click.IntRange(0, 1024), default=None,
              help="Uncached questions a process holds waiting for a searcher; past it 503 "
                   f"with Retry-After; 0 = no limit [env HEALTHSEARCH_QUEUE; default {QUEUE}].")
@click.option("--access-log", default=None, metavar="PATH|-",
              help="One JSON line per request (question, status, ms, cache hit) to a file, "
                   "or - for standard error [env HEALTHSEARCH_ACCESS_LOG; default none].")
@click.option("--base-url", default=None, metavar="URL",
              help="The site's public address, for the OpenSearch description "
                   "[env HEALTHSEARCH_BASE_URL; default none: relative addresses].")
def serve(index_dir, host, port, threads, processes, read_only, queue, access_log,
          base_url) -> None:
    """Serve the search site under waitress (building the index first if there is none,
    unless --read-only), with its limits: request bodies, headers, slow clients, connections,
    questions being computed (see HEALTHSEARCH_* in indexer/config.py)."""
    from webapp.server import run

    settings = Settings().with_overrides(index_dir=index_dir, host=host, port=port,
                                         threads=threads, processes=processes,
                                         read_only=read_only, queue=queue,
                                         access_log=access_log, base_url=base_url)
    store = IndexStore(settings.index_dir)
    if not store.exists() and not settings.read_only:
        paths = ", ".join(map(str, settings.corpus_paths))
        click.echo(f"no index in {store.root}: indexing {paths}", err=True)
        summary = index_corpus(settings.corpus_paths, store, max_bytes=settings.max_file_bytes,
                               encoder=_encoder(settings))
        click.echo(f"indexed {summary.added} entries", err=True)
    count = settings.processes or os.cpu_count() or 1
    admitted = settings.searchers + settings.queue
    if settings.queue and settings.threads <= admitted:
        click.echo(f"note: {settings.threads} threads, {admitted} questions admitted at once: "
                   "cached answers may wait behind computed ones", err=True)
    click.echo(f"serving {store.root} on http://{settings.host}:{settings.port}/ "
               f"({count} process{'es' if count > 1 else ''} x {settings.threads} threads)",
               err=True)
    try:
        run(settings, processes=count)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None


@cli.group()
def cluster() -> None:
    """Read replicas behind HAProxy: their status, HAProxy's configuration, a local try-out."""


@cluster.command(name="status")
@replica_options
@click.option("--json", "as_json", is_flag=True, help="Print as one JSON list.")
def cluster_status_command(replica_specs, cluster_file, as_json) -> None:
    """Each replica's generation, article count and health, from its /healthz; exits 1 when
    a replica is unhealthy or they serve different generations."""
    from healthsearch.replicas import cluster_status

    replicas = _replicas(Settings(), replica_specs, cluster_file)
    if not replicas:
        raise click.ClickException("no replicas: name them with --replica DIR=URL, "
                                   "--cluster-file or HEALTHSEARCH_REPLICAS")
    rows = cluster_status(replicas)
    if as_json:
        click.echo(json.dumps(rows))
    else:
        for row in rows:
            state = "healthy" if row["healthy"] else f"DOWN ({row['error']})"
            served = (f"{row['generation']} commit {row['commit']}, {row['entries']:,} entries"
                      if row["healthy"] else "-")
            click.echo(f"{row['name']:>4}  {row['url']:<28} {state:<10} {served}")
    versions = {(r["generation"], r["commit"]) for r in rows}
    if not all(r["healthy"] for r in rows) or len(versions) > 1:
        sys.exit(1)


@cluster.command(name="haproxy-config")
@replica_options
@click.option("--host", default=None, help="Where HAProxy listens [env HEALTHSEARCH_HOST].")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="HAProxy's port [env HEALTHSEARCH_PORT; default 8000].")
def haproxy_config_command(replica_specs, cluster_file, host, port) -> None:
    """Print HAProxy's configuration for the replicas (health checks on /healthz, retries)."""
    from healthsearch.haproxy import haproxy_config

    settings = Settings().with_overrides(host=host, port=port)
    try:
        click.echo(haproxy_config(_replicas(settings, replica_specs, cluster_file),
                                  settings.host, settings.port), nl=False)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@cluster.command(name="up")
@index_dir_option
@click.option("--replicas", "count", type=click.IntRange(1, 16), default=3,
              help="How many replicas [default 3].")
@click.option("--folder", type=click.Path(path_type=Path), default=Path("var/cluster"),
              help="Where the replicas' folders, logs and haproxy.cfg go [default var/cluster].")
@click.option("--base-port", type=click.IntRange(1024, 65000), default=8100,
              help="Replica n serves on base-port + n [default 8100].")
@click.option("--host", default=None, help="Where HAProxy listens [default 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="HAProxy's port [default 8000].")
def cluster_up(index_dir, count, folder, base_port, host, port) -> None:
    """Try it out on one machine: publish the live generation to N replicas, serve each on
    its own port and HAProxy in front, until Ctrl-C."""
    from healthsearch.trycluster import run_local

    settings = Settings().with_overrides(index_dir=index_dir, host=host, port=port)
    store = IndexStore(settings.index_dir)
    if not store.exists():
        paths = ", ".join(map(str, settings.corpus_paths))
        click.echo(f"no index in {store.root}: indexing {paths}", err=True)
        index_corpus(settings.corpus_paths, store, max_bytes=settings.max_file_bytes,
                     encoder=_encoder(settings))
    sys.exit(run_local(settings, folder, count, base_port, lambda m: click.echo(m, err=True)))


def _encoder(settings: Settings):
    """What loads the sentence-embedding model when some article needs a vector (None:
    vectors are off). Loaded once; when it cannot be, one line says so."""
    if not settings.dense:
        return None
    from indexer.ranking.encoder import ModelUnavailable, open_for

    loaded: list = []

    def load(count: int):
        if not loaded:
            try:
                loaded.append(open_for(count, settings.model_dir, settings.embed_workers,
                                       settings.embed_provider))
            except ModelUnavailable as exc:
                click.echo(f"note: {exc}: articles get no vectors, and search ranks by words "
                           "alone", err=True)
                loaded.append(None)
        return loaded[0]

    return load


def _meaning_status(settings: Settings, vectors: int) -> str:
    """Whether search ranks by meaning over this index, and if not, why."""
    if not settings.dense:
        return "off (HEALTHSEARCH_DENSE=0)"
    if not vectors:
        return "off: no article has a vector (run `healthsearch index`)"
    from indexer.ranking.encoder import Encoder, ModelUnavailable

    try:
        Encoder.open(settings.model_dir)
    except ModelUnavailable as exc:
        return f"off: {exc}"
    return "on"


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="healthsearch")
