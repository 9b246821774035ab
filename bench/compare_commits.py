"""Prove a restructuring behaviour-neutral: two commits' rankings (and speed) side by side.

    python -m bench.compare_commits 9512e52 HEAD
    python -m bench.compare_commits 9512e52 HEAD --out bench/results/compare.md
    python -m bench.compare_commits 9512e52 HEAD --speed --rounds 3 --speed-scales real,100k

Each commit is checked out as a detached git worktree in a temporary folder
(<tmp>/work/base, <tmp>/work/head, beside a link <tmp>/work/shared to the real shared data, so
each worktree's ../shared/data resolves as the main checkout's does) and run by
bench/compare_driver.py in a subprocess: this interpreter, PYTHONPATH = the worktree, working
directory = the worktree. The driver fails unless `indexer` and `bench` are imported from the
worktree (the venv's editable install points at the main checkout). Variables HEALTHSEARCH_*
are dropped, so both commits run their defaults.

Rankings: with each commit's own code, our index of each data set is built as `make eval`
builds it (bench.peers.our_index: 2 writer processes, article vectors on when the model is
installed, cached under the worktree's bench/cache), and every question of make eval's sets
(NFCorpus test and dev, the MedQuAD test sample and tune set, LiveQA; loaded by the commit's
bench.eval `_reported_sets` / `_tune_set`) is ranked with
SearchEngine(Settings(index_dir, cache_size=0)).rank(question, limit=100). Per set the table
shows how many questions have the same top-100 ids in the same order, whether every score
agrees within --rel-tol, the largest absolute score difference, and each commit's mean
nDCG@10 / MRR@10 / R@100 (the commit's bench.eval query_metrics / mean_metrics).

--speed, after the rankings, alternates the commits over --rounds rounds (the order swapped
every round), each measure in its own subprocess: a full words-only build of the real ~11k
corpus (the commit's CLI, `python -m healthsearch` else `python -m indexer`: index --rebuild
--workers 2 --no-vectors --json), and SearchEngine.search (cache off; warmed, then one
untimed pass) over 300 fixed distinct questions on that index and on each generated scale
corpus (bench.scale, made once by the base commit's code and read by both; each commit builds
its own index of it once, outside the rounds). Medians over rounds, and head / base ratios.

Only committed code is compared: `HEAD` is the last commit, not the working tree.
Exit status: 0 when every question's ids and scores agree, 1 when any differs, 2 when the
comparison could not run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).with_name("compare_driver.py")
REL_TOL = 1e-6
# Scores of exactly zero have no relative difference: below this they count as equal.
ABS_FLOOR = 1e-12
EXAMPLES = 5
SPEED_QUESTIONS = 300
BUILD_WORKERS = 2
ENV_PREFIX = "HEALTHSEARCH_"
RANK_TIMEOUT = 4 * 3600.0  # two embeddings of ~11k articles and ~4,750 questions, with margin
BUILD_TIMEOUT = 3600.0
SEARCH_TIMEOUT = 1800.0


class ComparisonError(RuntimeError):
    """The comparison could not run (a git, worktree or driver failure)."""


def log(msg: str) -> None:
    """Progress on standard error, with the time of day."""
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# -- worktrees ---------------------------------------------------------------------------------


@dataclass
class Commit:
    """One side of the comparison: its role, the name given, the full hash and its worktree."""

    role: str
    ref: str
    sha: str
    root: Path

    @property
    def title(self) -> str:
        """'base 9512e52 (9512e52cd6a1)' for headings."""
        return f"{self.role} `{self.ref}` ({self.sha[:12]})"


def git(repo: Path, *args: str) -> str:
    """Run git in the repository; its standard output, or ComparisonError with its message."""
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if proc.returncode:
        raise ComparisonError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


class Workspace:
    """A temporary folder holding the detached worktrees, the data link and the driver; the
    worktrees are removed (and the folder deleted) on exit, also after a failure."""

    def __init__(self, repo: Path):
        self.repo = repo
        self.commits: list[Commit] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="compare-commits-")).resolve()
        self.work = self.tmp / "work"
        self.out = self.tmp / "out"
        self.driver = self.tmp / "driver" / DRIVER.name

    def __enter__(self) -> Workspace:
        shared = (self.repo.parent / "shared").resolve()
        if not (shared / "data").is_dir():
            self._delete()
            raise ComparisonError(f"no shared data in {shared / 'data'} beside {self.repo}")
        self.work.mkdir()
        self.out.mkdir()
        # The bench code finds the data at <repo>/../shared/data: the same holds in a worktree.
        (self.work / "shared").symlink_to(shared, target_is_directory=True)
        # A copy outside the repository: the driver's folder becomes sys.path[0], and the
        # commits do not have the driver.
        self.driver.parent.mkdir()
        shutil.copy2(DRIVER, self.driver)
        return self

    def add(self, role: str, ref: str) -> Commit:
        """Check the commit out, detached, as <tmp>/work/<role>."""
        try:
            sha = git(self.repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except ComparisonError:
            raise ComparisonError(f"{ref!r} names no commit in {self.repo}") from None
        root = self.work / role
        git(self.repo, "worktree", "add", "--detach", str(root), sha)
        commit = Commit(role, ref, sha, root)
        self.commits.append(commit)
        log(f"{commit.title}: worktree {root}")
        return commit

    def __exit__(self, *exc: object) -> None:
        for commit in self.commits:
            try:
                git(self.repo, "worktree", "remove", "--force", str(commit.root))
            except ComparisonError as err:
                log(f"warning: {err} (run `git worktree prune` once the folder is gone)")
        self._delete()

    def _delete(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def commit_env(root: Path) -> dict[str, str]:
    """The environment of a commit's subprocess: its worktree alone on PYTHONPATH, and no
    HEALTHSEARCH_* settings (both commits run their defaults)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(ENV_PREFIX) and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root)
    return env


def run_driver(ws: Workspace, commit: Commit, command: str, *args: str,
               capture: bool = False, timeout: float | None = None
               ) -> subprocess.CompletedProcess:
    """Run one driver command with the commit's code; its progress goes to our stderr."""
    cmd = [sys.executable, str(ws.driver), command, "--root", str(commit.root), *args]
    try:
        proc = subprocess.run(cmd, cwd=commit.root, env=commit_env(commit.root), text=True,
                              stdout=subprocess.PIPE if capture else None, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ComparisonError(f"{commit.title}: driver {command} timed out") from exc
    if proc.returncode:
        raise ComparisonError(f"{commit.title}: driver {command} failed (exit "
                              f"{proc.returncode}); its error is above")
    return proc


def read_json(path: Path) -> object:
    """A JSON file's content."""
    return json.loads(path.read_text(encoding="utf-8"))


# -- rankings ----------------------------------------------------------------------------------


def rank_commit(ws: Workspace, commit: Commit) -> tuple[dict, dict]:
    """The commit's rankings {set: {question id: [[id, score], ...]}} and their metadata."""
    out = ws.out / f"{commit.role}.rankings.json"
    meta = ws.out / f"{commit.role}.meta.json"
    started = time.perf_counter()
    log(f"{commit.title}: building indexes and ranking make eval's questions")
    run_driver(ws, commit, "rank", "--out", str(out), "--meta", str(meta),
               timeout=RANK_TIMEOUT)
    log(f"{commit.title}: rankings done in {time.perf_counter() - started:.0f}s")
    return read_json(out), read_json(meta)


def share_vectors(base: Commit, head: Commit) -> int:
    """Copy the base's kept article vectors (bench/cache/vectors-*) into the head's cache.
    bench.peers reuses a vector only for the same text under the same model-code hash, so
    the head embeds whatever its own code would embed differently."""
    copied = 0
    for folder in sorted((base.root / "bench" / "cache").glob("vectors-*")):
        target = head.root / "bench" / "cache" / folder.name
        if folder.is_dir() and not target.exists():
            shutil.copytree(folder, target)
            copied += 1
    return copied


@dataclass
class SetComparison:
    """One question set compared between the commits."""

    name: str
    label: str
    questions: int
    identical: int = 0
    scores_ok: int = 0
    max_abs_diff: float = 0.0
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    differing: list[dict] = field(default_factory=list)


def _scores_close(a: float, b: float, rel_tol: float) -> bool:
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=ABS_FLOOR)


def compare_question(base: list | None, head: list | None, rel_tol: float
                     ) -> tuple[bool, bool, float, int | None]:
    """(same ids in the same order, scores within rel_tol, largest absolute score difference,
    first differing rank or None) of one question's two rankings. Scores are compared rank
    by rank when the ids agree, else document by document on the ids both returned."""
    if base is None or head is None:
        return False, False, math.inf, 0
    base_ids = [d for d, _ in base]
    head_ids = [d for d, _ in head]
    if base_ids == head_ids:
        pairs = [(a, b) for (_, a), (_, b) in zip(base, head, strict=True)]
        first = None
    else:
        head_score = dict(head)
        pairs = [(a, head_score[d]) for d, a in base if d in head_score]
        first = next((i for i, (a, b) in enumerate(zip(base_ids, head_ids, strict=False))
                      if a != b), min(len(base_ids), len(head_ids)))
    diff = max((abs(a - b) for a, b in pairs), default=0.0)
    close = all(_scores_close(a, b, rel_tol) for a, b in pairs)
    return first is None, close, diff, first


def compare_set(name: str, base: tuple[dict, dict], head: tuple[dict, dict],
                rel_tol: float) -> SetComparison:
    """Compare one set: rankings question by question, and each commit's mean metrics."""
    (base_rank, base_meta), (head_rank, head_meta) = base, head
    info = base_meta["sets"][name]
    texts = dict(info["questions"])
    result = SetComparison(name, info["label"], len(texts))
    for role, meta in (("base", base_meta), ("head", head_meta)):
        result.metrics[role] = meta["sets"][name]["metrics"]
        result.errors[role] = len(meta["sets"][name]["errors"])
    for qid, text in texts.items():
        a, b = base_rank[name].get(qid), head_rank[name].get(qid)
        same, close, diff, first = compare_question(a, b, rel_tol)
        result.identical += same
        result.scores_ok += same and close
        result.max_abs_diff = max(result.max_abs_diff, diff)
        if not (same and close):
            result.differing.append({
                "set": name, "id": qid, "text": text, "first_rank": first, "max_diff": diff,
                "base": [d for d, _ in (a or [])][:5], "head": [d for d, _ in (b or [])][:5]})
    return result


def set_problems(base_meta: dict, head_meta: dict) -> list[str]:
    """Why the two commits' rankings cannot be compared set by set: a set only one has, or a
    set whose questions (ids, texts, order) differ."""
    problems = []
    base_sets, head_sets = base_meta["sets"], head_meta["sets"]
    for name in sorted(set(base_sets) ^ set(head_sets)):
        problems.append(f"set {name} is ranked by "
                        f"{'base' if name in base_sets else 'head'} only")
    for name in base_sets:
        if name in head_sets and base_sets[name]["questions"] != head_sets[name]["questions"]:
            problems.append(f"set {name}: the commits load different questions")
    return problems


def _pair(metrics: dict[str, dict[str, float]], key: str) -> str:
    base, head = metrics["base"].get(key), metrics["head"].get(key)
    cell = " / ".join("–" if v is None else f"{v:.4f}" for v in (base, head))
    return cell + ("" if base == head else " ≠")


def _under_work(path: Path) -> str:
    """A worktree file's path from the worktree's folder on ("base/indexer/__init__.py")."""
    parts = path.parts
    return "/".join(parts[parts.index("work") + 1:]) if "work" in parts else str(path)


def rankings_report(base: Commit, head: Commit, sets: list[SetComparison],
                    metas: dict[str, dict], problems: list[str], rel_tol: float) -> str:
    """The markdown section: what ran, one table row per set, the verdict and examples."""
    metric_names = list(sets[0].metrics["base"]) if sets else []
    lines = [f"## Rankings: {base.title} vs {head.title}", ""]
    for commit in (base, head):
        meta = metas[commit.role]
        vectors = {True: "article vectors on", False: "article vectors OFF (no model)",
                   None: "article vectors: not checked"}[meta.get("vectors")]
        lines.append(f"- {commit.role}: `indexer` from "
                     f"`{_under_work(Path(meta['files']['indexer']))}`, "
                     f"{vectors}")
    lines += ["- every question of make eval's sets ranked by "
              "`SearchEngine(Settings(index_dir, cache_size=0)).rank(question, limit=100)` on "
              "`bench.peers.our_index(ds)`; metrics by each commit's `bench.eval`", ""]
    head_row = ["set", "questions", "identical top-100 ids", f"scores within {rel_tol:g} rel.",
                "max abs score diff", *(f"{m} base / head" for m in metric_names),
                "errors base / head"]
    lines += ["| " + " | ".join(head_row) + " |", "|" + "---|" * len(head_row)]
    for s in sets:
        lines.append("| " + " | ".join([
            f"{s.label} ({s.name})", str(s.questions), f"{s.identical} / {s.questions}",
            f"{s.scores_ok} / {s.questions}", f"{s.max_abs_diff:.3g}",
            *(_pair(s.metrics, m) for m in metric_names),
            f"{s.errors['base']} / {s.errors['head']}"]) + " |")
    total = sum(s.questions for s in sets)
    same = sum(s.scores_ok for s in sets)
    lines.append("")
    if same == total and not problems:
        lines.append(f"**Identical**: all {total:,} questions return the same top-100 ids in "
                     f"the same order, every score within {rel_tol:g} (relative).")
    else:
        lines.append(f"**DIFFERENT**: {total - same:,} of {total:,} questions differ in ids or "
                     f"scores.")
    lines += [f"- problem: {p}" for p in problems]
    examples = [d for s in sets for d in s.differing][:EXAMPLES]
    if examples:
        lines += ["", f"Examples (up to {EXAMPLES}):", ""]
        for d in examples:
            text = d["text"] if len(d["text"]) <= 90 else d["text"][:87] + "..."
            lines.append(f"- {d['set']} {d['id']} \"{text}\": first differing rank "
                         f"{d['first_rank'] + 1 if d['first_rank'] is not None else '–'}, "
                         f"max score diff {d['max_diff']:.3g}; base top 5 {d['base']}, "
                         f"head top 5 {d['head']}")
    errors = [(c.role, name, qid, msg) for c in (base, head)
              for name, info in metas[c.role]["sets"].items()
              for qid, msg in info["errors"].items()][:EXAMPLES]
    lines += [f"- {role} error on {name} {qid}: {msg}" for role, name, qid, msg in errors]
    return "\n".join(lines)


def compare_kept_rankings(folder: Path, base: Commit, head: Commit, rel_tol: float
                          ) -> tuple[str, bool]:
    """Compare rankings kept by an earlier run's --json-dir (base/head .rankings.json and
    .meta.json) without ranking again; (markdown section, True when all agree)."""
    runs = {role: (read_json(folder / f"{role}.rankings.json"),
                   read_json(folder / f"{role}.meta.json")) for role in ("base", "head")}
    return _compare_runs(runs, base, head, rel_tol)


def _compare_runs(runs: dict, base: Commit, head: Commit, rel_tol: float) -> tuple[str, bool]:
    metas = {role: meta for role, (_, meta) in runs.items()}
    problems = set_problems(metas["base"], metas["head"])
    names = [n for n in metas["base"]["sets"] if n in metas["head"]["sets"]]
    sets = [compare_set(n, runs["base"], runs["head"], rel_tol) for n in names]
    ok = not problems and all(s.scores_ok == s.questions for s in sets)
    return rankings_report(base, head, sets, metas, problems, rel_tol), ok


def compare_rankings(ws: Workspace, base: Commit, head: Commit, rel_tol: float,
                     reuse_vectors: bool, json_dir: Path | None) -> tuple[str, bool]:
    """Rank with both commits and compare; (markdown section, True when all agree)."""
    runs = {"base": rank_commit(ws, base)}
    if reuse_vectors:
        log(f"{head.title}: reusing the base's article vectors "
            f"({share_vectors(base, head)} kept tables copied)")
    runs["head"] = rank_commit(ws, head)
    if json_dir is not None:
        json_dir.mkdir(parents=True, exist_ok=True)
        for path in ws.out.glob("*.json"):
            shutil.copy2(path, json_dir / path.name)
    return _compare_runs(runs, base, head, rel_tol)


# -- speed -------------------------------------------------------------------------------------


@dataclass
class Speed:
    """Measurements per commit role and measure name, one value per round."""

    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # measure names, first-seen order

    def add(self, role: str, measure: str, value: float) -> None:
        """Record one measurement."""
        if measure not in self.order:
            self.order.append(measure)
        self.values.setdefault(role, {}).setdefault(measure, []).append(value)


def build_index(ws: Workspace, commit: Commit, paths: Sequence[str], index_dir: Path
                ) -> dict[str, float]:
    """A fresh words-only build with the commit's CLI; docs/s by the CLI's own seconds, wall
    and CPU seconds of the whole process tree."""
    shutil.rmtree(index_dir, ignore_errors=True)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = run_driver(ws, commit, "cli", "--", "index", *paths, "--index-dir", str(index_dir),
                      "--rebuild", "--workers", str(BUILD_WORKERS), "--no-vectors", "--json",
                      capture=True, timeout=BUILD_TIMEOUT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The CLI prints one JSON object, last; anything before it is not ours to parse.
    summary = json.loads([line for line in proc.stdout.splitlines() if line.strip()][-1])
    docs = sum(summary.get(k, 0) for k in ("added", "updated", "unchanged"))
    seconds = summary.get("seconds") or wall
    return {"docs": docs, "docs_per_s": docs / seconds, "wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}


def search_speed(ws: Workspace, commit: Commit, index_dir: Path, questions: Path
                 ) -> dict[str, float]:
    """p50 / p95 ms and CPU ms per question of the commit's SearchEngine.search."""
    out = ws.out / f"speed-{commit.role}.json"
    run_driver(ws, commit, "search-speed", "--index-dir", str(index_dir), "--questions",
               str(questions), "--out", str(out), timeout=SEARCH_TIMEOUT)
    return read_json(out)


def measure_speed(ws: Workspace, base: Commit, head: Commit, scales: Sequence[str],
                  rounds: int) -> tuple[Speed, dict[str, int]]:
    """The speed figures of both commits, alternating them over the rounds; also the corpus
    sizes by scale."""
    speed = Speed()
    commits = (base, head)
    questions = ws.out / "speed-questions.json"
    run_driver(ws, base, "questions", "--out", str(questions), "--n", str(SPEED_QUESTIONS))
    sizes: dict[str, int] = {}
    real_paths: dict[str, list[str]] = {}
    if "real" in scales:
        for commit in commits:
            out = ws.out / f"paths-{commit.role}.json"
            run_driver(ws, commit, "paths", "--out", str(out))
            real_paths[commit.role] = read_json(out)
    index_of = {(c.role, s): ws.tmp / "speed" / c.role / s / "index" for c in commits
                for s in scales}
    # Scale corpora: generated once by the base's bench.scale; each commit indexes it once.
    for label in (s for s in scales if s != "real"):
        out = ws.out / f"scale-{label}.json"
        log(f"{label}: generating the corpus with the base's bench.scale (once)")
        run_driver(ws, base, "scale", "--docs", label, "--out", str(out))
        folder = read_json(out)["folder"]
        for commit in commits:
            log(f"{label}: {commit.title}: building its words-only index (once)")
            built = build_index(ws, commit, [folder], index_of[(commit.role, label)])
            sizes[label] = int(built["docs"])
            speed.add(commit.role, f"{label}: build docs/s (one build, not in rounds)",
                      built["docs_per_s"])
    for round_ in range(rounds):
        # Each round swaps the order, so neither commit always runs first.
        for commit in commits if round_ % 2 == 0 else commits[::-1]:
            if "real" in scales:
                log(f"round {round_ + 1}: {commit.title}: real corpus build")
                built = build_index(ws, commit, real_paths[commit.role],
                                    index_of[(commit.role, "real")])
                sizes["real"] = int(built["docs"])
                speed.add(commit.role, "real: build docs/s", built["docs_per_s"])
                speed.add(commit.role, "real: build wall s", built["wall_s"])
                speed.add(commit.role, "real: build CPU s", built["cpu_s"])
            for label in scales:
                log(f"round {round_ + 1}: {commit.title}: search on {label}")
                got = search_speed(ws, commit, index_of[(commit.role, label)], questions)
                speed.add(commit.role, f"{label}: search p50 ms", got["p50_ms"])
                speed.add(commit.role, f"{label}: search p95 ms", got["p95_ms"])
                speed.add(commit.role, f"{label}: search CPU ms / question", got["cpu_ms"])
    return speed, sizes


def speed_report(base: Commit, head: Commit, speed: Speed, sizes: dict[str, int], rounds: int,
                 load: tuple[float, float]) -> str:
    """The markdown section: medians over rounds, the head / base ratio, every round's values."""
    lines = [f"## Speed: {base.title} vs {head.title}", "",
             f"{rounds} round(s), commits alternated; {SPEED_QUESTIONS} distinct questions "
             f"(round robin over MedQuAD tune, NFCorpus dev, LiveQA), `search()` with the cache "
             f"off after warm-up; builds words only, {BUILD_WORKERS} workers. Corpora: "
             + ", ".join(f"{k} {v:,} docs" for k, v in sizes.items())
             + f". Load average {load[0]:.2f} at start, {load[1]:.2f} at end (shared machine: "
               "wall figures are noisy, CPU figures less so).", "",
             "| measure | base (median) | head (median) | head / base | base per round | "
             "head per round |", "|---|---|---|---|---|---|"]
    for measure in speed.order:
        a, b = speed.values["base"][measure], speed.values["head"][measure]
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = f"{mb / ma:.3f}" if ma else "–"
        lines.append(f"| {measure} | {ma:.2f} | {mb:.2f} | {ratio} | "
                     f"{', '.join(f'{v:.2f}' for v in a)} | {', '.join(f'{v:.2f}' for v in b)} |")
    lines += ["", "docs/s: a ratio above 1 means the head builds faster; ms and s: above 1 "
              "means the head is slower."]
    return "\n".join(lines)


# -- command line ------------------------------------------------------------------------------


def parse_scales(text: str) -> list[str]:
    """'real,100k' -> ['real', '100k'] (order kept, duplicates dropped)."""
    scales = list(dict.fromkeys(s.strip().lower() for s in text.split(",") if s.strip()))
    if not scales:
        raise argparse.ArgumentTypeError("no scale given")
    return scales


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; the exit status says whether the rankings agree."""
    parser = argparse.ArgumentParser(prog="python -m bench.compare_commits", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="the commit before the change (any commit-ish)")
    parser.add_argument("head", help="the commit after it")
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument("--rel-tol", type=float, default=REL_TOL,
                        help=f"relative score tolerance (default {REL_TOL:g})")
    parser.add_argument("--json-dir", type=Path,
                        help="keep both commits' rankings and metadata (JSON) in this folder")
    parser.add_argument("--reuse-vectors", action="store_true",
                        help="let the head reuse the base's article vectors for texts the "
                             "base embedded (same model-code hash only); saves one embedding "
                             "of ~11k articles, but the head's encoder then runs on questions "
                             "only")
    parser.add_argument("--sets", default="",
                        help="comma-separated set names to rank (default: all of make "
                             "eval's), e.g. liveqa: a quicker look at one set")
    parser.add_argument("--rankings-from", type=Path, metavar="DIR",
                        help="compare the rankings an earlier run kept with --json-dir "
                             "instead of ranking again (the worktrees' paths are that run's)")
    parser.add_argument("--no-rankings", action="store_true",
                        help="skip the rankings (with --speed: speed only, exit 0)")
    parser.add_argument("--speed", action="store_true", help="also measure build and search "
                        "speed side by side")
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds (default 3)")
    parser.add_argument("--speed-scales", type=parse_scales, default=["real", "100k"],
                        help="comma-separated: real and/or generated sizes such as 100k "
                             "(default real,100k)")
    parser.add_argument("--repo", type=Path, default=REPO, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sets:
        # Read by the driver in each commit's process (compare_driver.rank).
        os.environ["COMPARE_SETS"] = args.sets
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    dropped = sorted(k for k in os.environ if k.startswith(ENV_PREFIX))
    if dropped:
        log(f"not passed to the commits (both run their defaults): {', '.join(dropped)}")
    started = time.perf_counter()
    shown = " ".join(sys.argv[1:] if argv is None else argv)
    sections = [f"# Commit comparison, {dt.date.today().isoformat()}", "",
                f"`python -m bench.compare_commits {shown}`, {os.cpu_count()} cores, "
                f"Python {sys.version.split()[0]}."]
    ok = True
    try:
        with Workspace(args.repo.resolve()) as ws:
            base, head = ws.add("base", args.base), ws.add("head", args.head)
            if args.rankings_from is not None:
                kept = {c.role: replace(c, root=args.rankings_from.parent / "work" / c.role)
                        for c in (base, head)}
                section, ok = compare_kept_rankings(args.rankings_from, kept["base"],
                                                    kept["head"], args.rel_tol)
                sections += ["", section]
            elif not args.no_rankings:
                section, ok = compare_rankings(ws, base, head, args.rel_tol,
                                               args.reuse_vectors, args.json_dir)
                sections += ["", section]
            if args.speed:
                load_start = os.getloadavg()[0]
                speed, sizes = measure_speed(ws, base, head, args.speed_scales, args.rounds)
                sections += ["", speed_report(base, head, speed, sizes, args.rounds,
                                              (load_start, os.getloadavg()[0]))]
    except ComparisonError as exc:
        print(f"compare_commits: error: {exc}", file=sys.stderr)
        return 2
    sections += ["", f"Total time {time.perf_counter() - started:.0f} s.", ""]
    report = "\n".join(sections)
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
        log(f"written: {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
