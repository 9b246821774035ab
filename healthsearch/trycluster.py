"""`healthsearch cluster up`: N read replicas and HAProxy on one machine, for trying the
cluster out (and for bench.cluster). The primary's live generation is published to each
replica's folder, each replica is a `healthsearch serve --read-only` on its own port, HAProxy
listens where a single server would; Ctrl-C (or SIGTERM) stops them all."""

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
from indexer.storage.publish import Published, publish

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


class LocalCluster:
    """N replicas of the primary's index on localhost ports, and HAProxy in front of them."""

    def __init__(self, settings: Settings, folder: Path, count: int, base_port: int,
                 threads: int | None = None):
        self.settings, self.folder = settings, folder
        self.replicas = local_replicas(folder, count, base_port)
        self.threads = threads or settings.threads
        self.children: list[subprocess.Popen] = []
        self.config = folder / "haproxy.cfg"
        self.cluster_file = folder / "cluster.toml"

    def start(self, stopping: Callable[[], bool] = lambda: False) -> list[Published]:
        """Publish to every replica, start them, then HAProxy once they answer; raises
        RuntimeError when they do not all come up."""
        if shutil.which(HAPROXY) is None:
            raise RuntimeError("haproxy is not installed (`make cluster-deps` installs "
                               "Debian's, as root)")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.cluster_file.write_text(cluster_file_text(self.replicas))
        self.config.write_text(haproxy_config(self.replicas, self.settings.host,
                                              self.settings.port))
        published = publish(IndexStore(self.settings.index_dir), self.replicas)
        for r in self.replicas:
            log = open(self.folder / f"{r.name}.log", "w")  # noqa: SIM115 (the child's)
            self.children.append(subprocess.Popen(
                [sys.executable, "-m", "healthsearch", "serve", "--read-only", "--index-dir",
                 r.index_dir, "--host", "127.0.0.1", "--port", r.url.rsplit(":", 1)[1],
                 "--processes", "1", "--threads", str(self.threads)],
                stdout=log, stderr=log))
        if not self._wait_healthy(stopping):
            raise RuntimeError(f"the replicas did not all start: see the logs in {self.folder}")
        # Started once the replicas answer, so that its first checks find them up.
        self.children.append(subprocess.Popen(
            [HAPROXY, "-db", "-f", str(self.config)], stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "haproxy.log", "w")))  # noqa: SIM115 (the child's)
        return published

    def running(self) -> bool:
        """True while every replica and HAProxy still run."""
        return bool(self.children) and all(c.poll() is None for c in self.children)

    def stop(self) -> None:
        """HAProxy first (no new requests), then the replicas; each given 10 s to go."""
        for child in reversed(self.children):
            if child.poll() is None:
                child.terminate()
        for child in reversed(self.children):
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()

    def _wait_healthy(self, stopping: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + START_LIMIT_S
        while time.monotonic() < deadline and not stopping():
            if any(c.poll() is not None for c in self.children):
                return False
            if all(s["healthy"] for s in cluster_status(self.replicas, timeout=1.0)):
                return True
            time.sleep(0.3)
        return False


def run_local(settings: Settings, folder: Path, count: int, base_port: int,
              echo: Callable[[str], None]) -> int:
    """Start the cluster and wait until stopped (SIGINT, SIGTERM); the exit code."""
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.append(signum))
    cluster = LocalCluster(settings, folder, count, base_port)
    try:
        for done in cluster.start(lambda: bool(stopping)):
            echo(f"published {done.generation} to {done.replica} in {done.copy_seconds:.2f}s"
                 + (f": {done.error}" if done.error else ""))
        echo(f"{count} replicas behind HAProxy on http://{settings.host}:{settings.port}/ "
             f"(config {cluster.config}); publish with `healthsearch publish --cluster-file "
             f"{cluster.cluster_file}`; Ctrl-C stops")
        while not stopping and cluster.running():
            time.sleep(0.5)
        return 0 if stopping else 1
    except RuntimeError as exc:
        echo(str(exc))
        return 0 if stopping else 1
    finally:
        cluster.stop()
