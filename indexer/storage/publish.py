"""Publishing the live generation to read replicas: each replica's index folder gets a copy
of the generation folder, then its CURRENT is switched to it, so a replica only ever serves
a complete generation.

Copies are made by rsync, to a local folder or to `host:path` over ssh (rsync's own remote
shell; RSYNC_RSH chooses another), in two phases across all replicas:

1. copy: the generation folder, in two passes. The first brings every file except those
   that make a state visible (Whoosh's table of contents, the vectors, build.json); the
   second brings those and drops files the source no longer has. Where a replica's folder
   is on the primary's disk, unchanged files are hard links instead of copies.
2. switch: CURRENT is replaced by rsync, which writes a temporary file and renames it into
   place (atomic); then generations older than the one replaced are removed.

The switches follow one another in milliseconds once every copy is done, so the replicas
change generation together. A replica whose copy fails keeps serving its own complete
generation, and the next publish brings it up to date. The primary holds its writer lock
throughout: no indexer commits into the generation while it is copied. Replicas never write.

A generation updated in place (an incremental commit on the primary) is published into the
replica's folder of the same name: new segment files arrive first, the table of contents
that names them last, as Whoosh commits on the primary itself.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.config import Replica
from indexer.storage import codec
from indexer.storage.generations import CURRENT, GEN_PATTERN, META, WHOOSH_SCRATCH, IndexStore
from indexer.storage.vectors import VECTORS

RSYNC = "rsync"
# Never published: Whoosh's writer lock and a writer's scratch folder.
NOT_PUBLISHED = (f"{codec.INDEX_NAME}_WRITELOCK", f"/{WHOOSH_SCRATCH}/", ".*.tmp")
# Written in the second pass: what makes a commit visible, and what goes with it.
VISIBLE_LAST = ("*.toc", f"/{VECTORS}", f"/{META}")
# rsync's exit code when a file asked for does not exist (a replica with no CURRENT yet).
RSYNC_PARTIAL = 23


class PublishError(RuntimeError):
    """rsync failed for a replica."""


@dataclass
class Published:
    """What publishing did for one replica."""

    replica: str
    target: str
    generation: str
    commit: int
    previous: str | None = None
    copied: bool = False
    switched: bool = False
    copy_seconds: float = 0.0
    error: str = ""

    def as_json(self) -> dict:
        """The outcome as JSON."""
        return dict(self.__dict__, copy_seconds=round(self.copy_seconds, 3))


def is_remote(target: str) -> bool:
    """True for rsync's `host:path` (a colon before any slash), False for a local folder."""
    head = target.split("/", 1)[0]
    return ":" in head


def publish(store: IndexStore, replicas: Sequence[Replica], *, links: bool = True,
            kbps: int = 0, wait: bool = True,
            on_copied: Callable[[Published], None] | None = None) -> list[Published]:
    """Publish the live generation to every replica's index folder; one outcome each, in
    order. Raises NoIndex when there is nothing to publish and IndexBusy
    when an indexer is writing (unless `wait`)."""
    if shutil.which(RSYNC) is None:
        raise PublishError("rsync is not installed: publishing copies generations with it")
    with store.writer_lock(wait=wait):
        source = store.current_path()
        commit = codec.latest_commit(source)
        outcomes = []
        for replica in replicas:
            target = replica.index_dir
            done = Published(replica.name, target, source.name, commit)
            started = time.perf_counter()
            try:
                done.previous = replica_current(target)
                _copy(source, target, done.previous, links=links, kbps=kbps)
                done.copied = True
            except PublishError as exc:
                done.error = str(exc)
            done.copy_seconds = time.perf_counter() - started
            if on_copied is not None:
                on_copied(done)
            outcomes.append(done)
        for done in outcomes:
            if done.copied and not done.error:
                try:
                    _switch(done.target, done.generation, done.previous)
                    done.switched = done.previous != done.generation
                except PublishError as exc:
                    done.error = str(exc)
    return outcomes


def replica_current(target: str) -> str | None:
    """The generation a replica's CURRENT names now; None when it has none yet."""
    with tempfile.TemporaryDirectory(prefix="publish-") as tmp:
        code, err = _rsync([f"{_slash(target)}{CURRENT}", f"{tmp}/{CURRENT}"],
                           allowed=(RSYNC_PARTIAL,))
        if code == RSYNC_PARTIAL:
            if "No such file" in err or "does not exist" in err:
                return None
            raise PublishError(f"cannot read {target}/{CURRENT}: {err.strip()}")
        name = (Path(tmp) / CURRENT).read_text().strip()
    return name if GEN_PATTERN.match(name) else None


def _copy(source: Path, target: str, previous: str | None, *, links: bool, kbps: int) -> None:
    """Bring the replica's folder of this generation to the source's state (phase 1)."""
    dest = f"{_slash(target)}{source.name}/"
    common = ["--mkpath", *(f"--exclude={p}" for p in NOT_PUBLISHED)]
    if kbps > 0:
        common.append(f"--bwlimit={kbps}")
    if links and not is_remote(target):
        common.append(f"--link-dest={source.resolve()}")
    if previous and previous != source.name:
        # Relative to the destination: the replica's own copy of the generation it serves.
        common.append(f"--link-dest=../{previous}")
    src = f"{source}/"
    _rsync([*common, *(f"--exclude={p}" for p in VISIBLE_LAST), src, dest])
    _rsync([*common, "--delete-after", src, dest])


def _switch(target: str, generation: str, previous: str | None) -> None:
    """Point the replica's CURRENT at the generation (atomic), then drop older ones."""
    with tempfile.TemporaryDirectory(prefix="publish-") as tmp:
        if previous != generation:
            pointer = Path(tmp) / CURRENT
            pointer.write_text(generation + "\n")
            # --ignore-times: two names are the same size, and may share a modification time.
            _rsync(["--ignore-times", str(pointer), f"{_slash(target)}{CURRENT}"])
        keep = {generation, previous} - {None}
        empty = Path(tmp) / "empty"
        empty.mkdir()
        _rsync(["--recursive", "--delete", *(f"--filter=protect /{k}/" for k in sorted(keep)),
                "--include=/gen-*/***", "--exclude=*", f"{empty}/", _slash(target)])


def _slash(target: str) -> str:
    return target if target.endswith("/") else target + "/"


def _rsync(args: list[str], allowed: tuple[int, ...] = ()) -> tuple[int, str]:
    """Run rsync in archive mode; PublishError unless it succeeds (or exits with `allowed`)."""
    proc = subprocess.run([RSYNC, "--archive", *args], capture_output=True, text=True)
    if proc.returncode != 0 and proc.returncode not in allowed:
        raise PublishError(f"rsync exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return proc.returncode, proc.stderr
