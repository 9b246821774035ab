"""Shared plumbing for the speed benchmarks: where things live, reading JSON Lines corpora,
percentiles, process memory, running a measured child process, and machine facts.

Nothing here imports the engine, so the peers' processes stay free of it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
CACHE = BENCH / "cache"
RESULTS = BENCH / "results"
# The shared public data sets live beside the repository; never copied into it.
DATA = Path(os.environ.get("HEALTHSEARCH_BENCH_DATA", REPO.parent / "shared" / "data"))

REAL_CORPUS_FILES = (
    "nfcorpus/corpus.jsonl",
    "medquad/corpus.jsonl.gz",
    "medquad_liveqa/corpus.jsonl",
)
JSONL_NAMES = (".jsonl", ".jsonl.gz")


def rel(path: Path | str) -> str:
    """A path as shown in committed results: relative to the repository root when possible."""
    path = Path(path)
    try:
        return os.path.relpath(path, REPO)
    except ValueError:
        return str(path)


def real_corpus_paths(data: Path = DATA) -> list[Path]:
    """The three real corpus files (NFCorpus, MedQuAD, MedQuAD x LiveQA); raises if absent."""
    paths = [data / name for name in REAL_CORPUS_FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError("shared data sets missing: " + ", ".join(missing))
    return paths


def jsonl_files(paths: Iterable[Path]) -> list[Path]:
    """The JSON Lines files among the given files and folders (folders searched, sorted)."""
    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*")
                              if p.is_file() and p.name.endswith(JSONL_NAMES)))
        else:
            out.append(path)
    return out


def iter_jsonl(path: Path) -> Iterator[dict]:
    """Records of one JSON Lines file (gzip when it ends in .gz); blank lines skipped."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def iter_docs(paths: Iterable[Path]) -> Iterator[dict]:
    """{id, title, text} of every record with an id and text, as a peer reads a corpus."""
    for path in jsonl_files(paths):
        for rec in iter_jsonl(path):
            rid = rec.get("id", rec.get("_id"))
            text = rec.get("text", rec.get("body"))
            if rid is None or not isinstance(text, str) or not text.strip():
                continue
            title = rec.get("title")
            yield {"id": str(rid), "title": title if isinstance(title, str) else "",
                   "text": text}


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (nearest rank on sorted values, linear between ranks)."""
    if not values:
        return float("nan")
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * pct / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def latency_summary(ms: Sequence[float]) -> dict:
    """n, p50, p95, p99, mean and max of latencies in milliseconds."""
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(sum(ms) / len(ms), 3),
        "max_ms": round(max(ms), 3),
    }


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (0 when it is gone)."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


class RssSampler:
    """Samples a process tree's resident memory in a background thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)


@dataclass
class ChildRun:
    """A finished child process: exit status, output, wall seconds, peak tree RSS."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_bytes: int
    cpu_s: float = 0.0

    def json(self) -> dict:
        """The last line of stdout parsed as JSON (the children print one object)."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if not lines:
            raise RuntimeError(f"no output; stderr: {self.stderr[-2000:]}")
        return json.loads(lines[-1])


def run_measured(cmd: Sequence[str], *, timeout: float, cwd: Path = REPO,
                 env: dict | None = None) -> ChildRun:
    """Run a command to completion, sampling its process tree's memory; bounded by timeout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, cwd=cwd,
                                env={**os.environ, **(env or {})})
        with RssSampler(proc.pid) as sampler:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # User + system CPU of the child and the processes it waited for (its workers).
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        out.seek(0)
        err.seek(0)
        return ChildRun(proc.returncode, out.read(), err.read(), wall, sampler.peak, cpu)


def dir_bytes(path: Path) -> int:
    """Bytes of every file under a folder."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def source_fingerprint(*paths: Path) -> str:
    """A short digest of source files' bytes: a cached index is stale once its code changed."""
    h = hashlib.sha1()
    for root in paths:
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for f in files:
            h.update(str(f.relative_to(REPO) if f.is_relative_to(REPO) else f.name).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def package_version(name: str) -> str:
    """An installed distribution's version, or '?'."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def machine_info() -> dict:
    """Cores, CPU model, memory, OS and the versions that matter to the figures."""
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sqlite3

    return {
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "versions": {
            "whoosh-reloaded": package_version("whoosh-reloaded"),
            "tantivy": package_version("tantivy"),
            "sqlite": sqlite3.sqlite_version,
            "flask": package_version("flask"),
            "waitress": package_version("waitress"),
        },
    }


def free_port() -> int:
    """A TCP port on localhost that is free right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_json(path: Path, data: object) -> None:
    """Write JSON atomically (a killed run leaves the previous file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    """A JSON file's content, or None when absent or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


PROFILE_OPTIONS = {"show_regex": r".*(whoosh|indexer|bench)/.*", "filter_threshold": 0.005}


def clean_profile_text(text: str) -> str:
    """Profile text without machine paths: repository, site-packages and stdlib prefixes."""
    text = text.replace(str(REPO) + os.sep, "")
    text = re.sub(r"\S*site-packages/", "", text)
    return re.sub(r"\S*/lib/python3\.\d+/", "", text)


def own_time_table(root, limit: int = 40) -> str:
    """Functions by own time (and by inclusive time, recursion counted once) from a
    pyinstrument frame tree: where the time goes, whatever the call path."""
    own: dict[str, float] = {}
    inclusive: dict[str, float] = {}
    total = root.time if root is not None else 0.0

    def name(frame) -> str:
        func = f"{frame.class_name}.{frame.function}" if frame.class_name else frame.function
        return f"{func}  {frame.file_path_short}:{frame.line_no}"

    stack = [(root, frozenset())] if root is not None else []
    while stack:
        frame, above = stack.pop()
        key = name(frame)
        real = [c for c in frame.children if not c.is_synthetic]
        own[key] = own.get(key, 0.0) + frame.time - sum(c.time for c in real)
        if key not in above:
            inclusive[key] = inclusive.get(key, 0.0) + frame.time
        stack.extend((c, above | {key}) for c in real)
    lines = [f"{'own s':>8} {'own %':>6} {'incl s':>8} {'incl %':>6}  function"]
    for key, t in sorted(own.items(), key=lambda kv: -kv[1])[:limit]:
        lines.append(f"{t:8.3f} {100 * t / total:6.1f} {inclusive[key]:8.3f} "
                     f"{100 * inclusive[key] / total:6.1f}  {key}")
    return clean_profile_text("\n".join(lines))


def write_profile(profiler, out: Path, title: str) -> None:
    """A pyinstrument profile as text: the call tree (Whoosh and engine frames shown), then
    the functions by own time."""
    tree = profiler.output_text(unicode=False, color=False, processor_options=PROFILE_OPTIONS)
    root = profiler.last_session.root_frame() if profiler.last_session else None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# pyinstrument profile: {title}\n\n## Call tree\n\n"
                   f"{clean_profile_text(tree)}\n\n## Functions by own time (wall clock, "
                   f"all frames)\n\n{own_time_table(root)}\n", encoding="utf-8")
