"""Where the index lives on disk: generations, the CURRENT pointer, the writer lock, and the
one way to open a generation (`IndexStore.open`).

Layout of the index folder:
    CURRENT          name of the generation readers open (replaced atomically)
    gen-000007/      a Whoosh index, plus build.json (when, from what, sample questions)
                     and vectors.npz (its articles' sentence vectors, indexer.storage.vectors),
                     from 20,000 articles neighbours.faiss (their nearest-neighbour graph)
    indexer.lock     held with flock by the one running indexer; holds its pid

A full rebuild writes a new generation beside the live one and swaps CURRENT with an atomic
rename, so readers never see a half-built index. Incremental updates commit into the live
generation, relying on Whoosh's own atomic table-of-contents rename.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import multiprocessing.util
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from indexer.storage import codec
from indexer.storage.neighbours import NEIGHBOURS
from indexer.storage.reader import Index
from indexer.storage.schema import build_schema
from indexer.storage.vectors import VECTORS

CURRENT = "CURRENT"
LOCK = "indexer.lock"
META = "build.json"
GEN_PATTERN = re.compile(r"^gen-(\d{6})$")
# Where a writer keeps its temporary files (inside the generation folder).
WHOOSH_SCRATCH = f"{codec.INDEX_NAME}.tmp"


class IndexBusy(RuntimeError):
    """Another live indexer holds the writer lock."""


class NoIndex(RuntimeError):
    """There is no index in the folder yet."""


@dataclass(frozen=True)
class LockInfo:
    """What acquiring the writer lock found: a stale lock left by a killed run, if any."""

    recovered_from_pid: int | None


class IndexStore:
    """One index folder: open the live generation, create and swap in new ones, lock writers."""

    def __init__(self, root: Path | str, use_mmap: bool = True):
        self.root = Path(root)
        # Whoosh maps whole segment files by default. The indexer keeps that (its column
        # scans are faster mapped); a server passes False (Settings.mmap_index), since every
        # mapped page it touches counts in its resident memory.
        self.use_mmap = use_mmap

    # -- reading -------------------------------------------------------------------------

    def current_name(self) -> str | None:
        """The name of the live generation, or None when nothing was ever built."""
        try:
            name = (self.root / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        return name if GEN_PATTERN.match(name) else None

    def live_version(self) -> tuple[str, int, tuple] | None:
        """(live generation's name, its last commit's number, its vectors' stamp) as they are
        on disk now, without opening the index: what a searcher opened now would see. None:
        no index."""
        name = self.current_name()
        if name is None:
            return None
        try:
            commit = codec.latest_commit(self.root / name)
        except FileNotFoundError:
            return None
        return (name, commit, self.vectors_stamp(name)) if commit >= 0 else None

    def vectors_path(self, name: str) -> Path:
        """Where a generation keeps its article vectors."""
        return self.root / name / VECTORS

    def vectors_stamp(self, name: str | None) -> tuple:
        """What identifies the vector table of a generation, and its nearest-neighbour graph,
        as they are on disk now; () when it has no table."""
        if name is None:
            return ()
        try:
            st = os.stat(self.root / name / VECTORS)
        except OSError:
            return ()
        try:
            graph = os.stat(self.root / name / NEIGHBOURS)
            linked = (graph.st_ino, graph.st_mtime_ns, graph.st_size)
        except OSError:
            linked = ()
        return (st.st_ino, st.st_mtime_ns, st.st_size, *linked)

    def current_path(self) -> Path:
        """The live generation's folder; raises NoIndex when there is none."""
        name = self.current_name()
        if name is None or not (self.root / name).is_dir():
            raise NoIndex(f"no index in {self.root}: run `healthsearch index` first")
        return self.root / name

    def exists(self) -> bool:
        """True when a live generation exists."""
        try:
            self.current_path()
        except NoIndex:
            return False
        return True

    def open(self, gen_path: Path | None = None, retries: int = 20) -> Index:
        """Open a generation: the live one, or the one in `gen_path` (being built).

        A reader can race a writer: CURRENT may name a generation just replaced, or a commit
        may remove a segment between listing and opening. Both pass in milliseconds, so retry.
        """
        delay = 0.005
        for attempt in range(retries):
            try:
                path = gen_path or self.current_path()
                return Index(codec.open_index(path, build_schema(), self.use_mmap), path)
            except (FileNotFoundError, NoIndex) as exc:
                if isinstance(exc, NoIndex) and not (self.root / CURRENT).exists():
                    raise
                if attempt == retries - 1:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        raise AssertionError("unreachable")

    def read_meta(self, gen_path: Path | None = None) -> dict:
        """The build.json of a generation (the live one by default); {} when absent."""
        try:
            path = (gen_path or self.current_path()) / META
            return json.loads(path.read_text())
        except (FileNotFoundError, NoIndex, ValueError):
            return {}

    # -- writing -------------------------------------------------------------------------

    def new_generation(self) -> Path:
        """Create an empty Whoosh index in a fresh generation folder (not yet live)."""
        self.root.mkdir(parents=True, exist_ok=True)
        numbers = [int(m.group(1)) for p in self.root.iterdir()
                   if (m := GEN_PATTERN.match(p.name))]
        path = self.root / f"gen-{max(numbers, default=0) + 1:06d}"
        path.mkdir()
        codec.create_index(path, build_schema())
        return path

    def write_meta(self, gen_path: Path, meta: dict) -> None:
        """Replace a generation's build.json atomically."""
        _atomic_write(gen_path / META, json.dumps(meta, indent=1, sort_keys=True))

    def swap_in(self, gen_path: Path) -> None:
        """Make a generation live with one atomic rename, then drop generations older than
        the one it replaces (that one stays for readers still holding it)."""
        previous = self.current_name()
        _atomic_write(self.root / CURRENT, gen_path.name + "\n")
        keep = {gen_path.name, previous}
        for path in self._generations():
            if path.name not in keep and path.name < gen_path.name:
                shutil.rmtree(path, ignore_errors=True)

    def remove_generation(self, gen_path: Path) -> None:
        """Delete a generation that was never made live (a rebuild that failed)."""
        if gen_path.name != self.current_name():
            shutil.rmtree(gen_path, ignore_errors=True)

    def remove_unfinished(self) -> list[str]:
        """Delete generations newer than the live one: half-built by a run that was killed.

        Also the killed run's scratch folder in the live generation (Whoosh's sorting runs of
        an update, possibly large), which only a later commit would otherwise clear.
        """
        live = self.current_name() or ""
        removed = []
        for path in self._generations():
            if path.name > live:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        if live and (self.root / live / WHOOSH_SCRATCH).is_dir():
            shutil.rmtree(self.root / live / WHOOSH_SCRATCH, ignore_errors=True)
            removed.append(f"{live}/{WHOOSH_SCRATCH}")
        return removed

    def size_bytes(self) -> int:
        """Bytes on disk of the live generation."""
        return sum(p.stat().st_size for p in self.current_path().rglob("*") if p.is_file())

    def _generations(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and GEN_PATTERN.match(p.name))

    @contextlib.contextmanager
    def writer_lock(self, wait: bool = False) -> Iterator[LockInfo]:
        """Hold the one-writer lock for the duration of the block.

        The lock is an flock, which the kernel releases when its holder dies, so a lock file
        that still names a pid but is not held was left by a killed run: it is taken over and
        the run's half-built generations are removed. A live holder is never overridden:
        IndexBusy is raised (or, with wait=True, we wait for it).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                raise IndexBusy(
                    f"another indexer (pid {holder}) is writing {self.root}; "
                    "wait for it to finish, or pass --wait"
                ) from None
            stale = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            stale_pid = int(stale) if stale.isdigit() else None
            if stale_pid is not None:
                self.remove_unfinished()
            # Writer processes forked while the lock is held (Whoosh's multiprocess writer)
            # share its open file; if they kept it, a killed indexer's lock would live on in
            # them. They close their copy, so the lock dies with the indexer that took it.
            held = _HeldLock(fd)
            multiprocessing.util.register_after_fork(held, _HeldLock.close_in_child)
            try:
                yield LockInfo(recovered_from_pid=stale_pid)
            finally:
                held.fd = -1
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class _HeldLock:
    """The writer lock's descriptor while it is held, for processes forked meanwhile."""

    def __init__(self, fd: int):
        self.fd = fd

    def close_in_child(self) -> None:
        """Run in a forked child: drop the child's copy of the lock."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
