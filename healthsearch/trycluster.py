"""`healthsearch cluster up`: N read replicas and HAProxy on one machine, for trying the
cluster out. The primary's live generation is published to each replica's folder, each
replica is a `healthsearch serve --read-only` on its own port, HAProxy listens where a single
server would; Ctrl-C (or SIGTERM) stops them all."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from healthsearch.haproxy import haproxy_config
from healthsearch.replicas import cluster_status
from indexer.config import Replica, Settings
from indexer.storage import IndexStore
from indexer.storage.publish import publish

HAPROXY = "haproxy"
START_LIMIT_S = 90


def local_replicas(folder: Path, count: int, base_port: int) -> list[Replica]:
    """Replicas r1..rN with index folders under `folder`, on localhost ports from base_port."""
    return [Replica(f"r{n}", str(folder / f"r{n}" / "index"), f"http://127.0.0.1:{base_port + n}")
            for n in range(1, count + 1)]


def cluster_file_text(replicas: list[Replica]) -> str:
    """The replicas as a cluster file (TOML), for `publish` and `cluster status`."""
    return "".join(f'[[replica]]\nname = "{r.name}"\nindex_dir = "{r.index_dir}"\n'
                   f'url = "{r.url}"\n\n' for r in replicas)


def run_local(settings: Settings, folder: Path, count: int, base_port: int,
              echo: Callable[[str], None]) -> int:
    """Publish, start the replicas and HAProxy, and wait until stopped; the exit code."""
    if shutil.which(HAPROXY) is None:
        echo("haproxy is not installed (`make haproxy-deps` installs Debian's, as root)")
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    replicas = local_replicas(folder, count, base_port)
    (folder / "cluster.toml").write_text(cluster_file_text(replicas))
    config = folder / "haproxy.cfg"
    config.write_text(haproxy_config(replicas, settings.host, settings.port))
    for done in publish(IndexStore(settings.index_dir), replicas):
        echo(f"published {done.generation} to {done.replica} in {done.copy_seconds:.2f}s"
             + (f": {done.error}" if done.error else ""))
    children: list[subprocess.Popen] = []
    stopping = []

    def stop(signum=None, frame=None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for r in replicas:
            log = open(folder / f"{r.name}.log", "w")  # noqa: SIM115 (kept for the child)
            children.append(subprocess.Popen(
                [sys.executable, "-m", "healthsearch", "serve", "--read-only", "--index-dir",
                 r.index_dir, "--host", "127.0.0.1", "--port", r.url.rsplit(":", 1)[1],
                 "--processes", "1"], stdout=log, stderr=log))
        if not _wait_healthy(replicas, children, stopping):
            echo("the replicas did not all start: see the logs in " + str(folder))
            return 1
        # Started once the replicas answer, so that its first checks find them up.
        children.append(subprocess.Popen([HAPROXY, "-db", "-f", str(config)]))
        echo(f"{count} replicas behind HAProxy on http://{settings.host}:{settings.port}/ "
             f"(config {config}); publish with `healthsearch publish --cluster-file "
             f"{folder / 'cluster.toml'}`; Ctrl-C stops")
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.5)
        return 0 if stopping else 1
    finally:
        _stop_all(children)


def _wait_healthy(replicas: list[Replica], children: list[subprocess.Popen],
                  stopping: list) -> bool:
    deadline = time.monotonic() + START_LIMIT_S
    while time.monotonic() < deadline and not stopping:
        if any(c.poll() is not None for c in children):
            return False
        if all(s["healthy"] for s in cluster_status(replicas, timeout=1.0)):
            return True
        time.sleep(0.3)
    return False


def _stop_all(children: list[subprocess.Popen]) -> None:
    """HAProxy first (no new requests), then the replicas; each given 10 s to go."""
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
    for child in reversed(children):
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
