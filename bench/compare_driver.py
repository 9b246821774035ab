"""The per-commit half of `python -m bench.compare_commits`: runs inside one commit's worktree.

bench.compare_commits copies this file out of the repository and runs it with the worktree
first on PYTHONPATH and as the working directory, so every `indexer` and `bench` module it
imports is that commit's own. It uses only the names both sides of a restructuring keep:
`bench.eval` (`_reported_sets`, `_tune_set`, `query_metrics`, `mean_metrics`),
`bench.peers.our_index`, `bench.harness.real_corpus_paths`, `bench.scale`,
`indexer.search.SearchEngine` and `indexer.config.Settings`.

Commands (each checks first that `indexer` and `bench` are imported from --root):

    rank --out F --meta M      rank every question of make eval's sets; F = {set: {question
                               id: [[doc id, score], ...]}}, M = questions, metrics, errors
    questions --out F --n N    N distinct questions (round robin over MedQuAD tune, NFCorpus
                               dev and LiveQA) for the search timings
    paths --out F              the real corpus files (bench.harness.real_corpus_paths)
    scale --docs 100k --out F  make (once) the generated scale corpus; its folder
    cli -- ARGS...             run the commit's CLI (healthsearch, else indexer) in-process
    search-speed --index-dir D --questions F --out F
                               p50 / p95 ms and CPU per question of SearchEngine.search
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import runpy
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# The question sets `make eval` uses: the reported ones, then the tuning ones (full sets).
TUNE_SETS = ("nfcorpus-dev", "medquad-tune")
# Where the speed questions come from, in this order (round robin).
SPEED_SETS = ("medquad-tune", "nfcorpus-dev", "liveqa")
CLI_MODULES = ("healthsearch", "indexer")
LIMIT = 100


class DriverError(RuntimeError):
    """A commit lacks something the comparison needs, or imports the wrong code."""


def log(msg: str) -> None:
    """Progress on standard error, with the time of day."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _under(path: str | None, root: Path) -> bool:
    return path is not None and Path(path).resolve().is_relative_to(root)


def check_imports(root: Path) -> dict[str, str]:
    """Import `indexer` and `bench` and fail unless both come from the worktree `root` (the
    venv's editable install of the main checkout must not win)."""
    files = {}
    for name in ("indexer", "bench"):
        module = importlib.import_module(name)
        where = getattr(module, "__file__", None)
        if not _under(where, root):
            raise DriverError(f"{name} imported from {where}, not from the worktree {root}")
        files[name] = str(where)
    log(f"imports: indexer {files['indexer']}, bench {files['bench']}")
    return files


def _attr(module_name: str, name: str) -> Callable:
    """A function of this commit's code, or a clear failure naming what is missing."""
    module = importlib.import_module(module_name)
    if not hasattr(module, name):
        raise DriverError(f"this commit's {module_name} has no {name}(): the comparison "
                          f"needs it (see bench/compare_driver.py)")
    return getattr(module, name)


def eval_sets() -> list:
    """make eval's question sets, loaded by this commit's bench.eval: NFCorpus test, MedQuAD
    test sample, LiveQA (reported), then NFCorpus dev and MedQuAD tune (whole tuning sets)."""
    reported = _attr("bench.eval", "_reported_sets")
    tune_set = _attr("bench.eval", "_tune_set")
    return [*reported(), *(tune_set(name, 0) for name in TUNE_SETS)]


def _vectors_on() -> bool | None:
    """Whether the embedding model loads (then our_index stores article vectors); None when
    this commit keeps the encoder elsewhere."""
    try:
        from indexer.embedding import Encoder
    except ImportError:
        return None
    return Encoder.load() is not None


def rank(root: Path, out: Path, meta_out: Path) -> None:
    """Build (cached) our index of each set's corpus as make eval does and rank every
    question with SearchEngine.rank(text, limit=100), cache off."""
    files = check_imports(root)
    our_index = _attr("bench.peers", "our_index")
    query_metrics = _attr("bench.eval", "query_metrics")
    mean_metrics = _attr("bench.eval", "mean_metrics")
    from indexer.config import Settings
    from indexer.search import SearchEngine

    engines: dict[Path, object] = {}
    rankings: dict[str, dict[str, list[list]]] = {}
    meta: dict = {"files": files, "vectors": _vectors_on(), "sets": {}}
    only = [n for n in os.environ.get("COMPARE_SETS", "").split(",") if n]
    for ds in eval_sets():
        if only and ds.name not in only:
            continue
        started = time.perf_counter()
        index_dir = our_index(ds)
        built = time.perf_counter() - started
        if index_dir not in engines:
            engines[index_dir] = SearchEngine(Settings(index_dir=index_dir, cache_size=0))
        engine = engines[index_dir]
        ranked: dict[str, list[list]] = {}
        per_query = []
        errors: dict[str, str] = {}
        started = time.perf_counter()
        for qid, text in ds.queries.items():
            try:
                hits = engine.rank(text, limit=LIMIT)
            except Exception as exc:  # recorded, as eval counts it: one failure is a finding
                errors[qid] = f"{type(exc).__name__}: {exc}"[:200]
                hits = []
            ranked[qid] = [[str(doc_id), float(score)] for doc_id, score in hits]
            per_query.append(query_metrics([doc_id for doc_id, _ in ranked[qid]],
                                           ds.qrels[qid]))
        seconds = time.perf_counter() - started
        rankings[ds.name] = ranked
        meta["sets"][ds.name] = {
            "label": ds.label, "index": index_dir.name, "index_seconds": round(built, 1),
            "rank_seconds": round(seconds, 1), "questions": list(ds.queries.items()),
            "metrics": mean_metrics(per_query), "errors": errors}
        log(f"{ds.name}: {len(ranked)} questions ranked in {seconds:.0f}s "
            f"(index ready in {built:.0f}s), {len(errors)} errors")
    out.write_text(json.dumps(rankings), encoding="utf-8")
    meta_out.write_text(json.dumps(meta), encoding="utf-8")


def speed_questions(root: Path, out: Path, n: int) -> None:
    """The first n distinct question texts, taken in turn from MedQuAD tune, NFCorpus dev and
    LiveQA (deterministic: the sets keep their order)."""
    check_imports(root)
    by_name = {ds.name: list(ds.queries.values()) for ds in eval_sets()}
    missing = [s for s in SPEED_SETS if s not in by_name]
    if missing:
        raise DriverError(f"no question set named {', '.join(missing)} in this commit")
    chosen: dict[str, None] = {}
    for row in range(max(len(by_name[s]) for s in SPEED_SETS)):
        for name in SPEED_SETS:
            if row < len(by_name[name]) and len(chosen) < n:
                chosen.setdefault(by_name[name][row].strip())
    if len(chosen) < n:
        raise DriverError(f"only {len(chosen)} distinct questions, {n} wanted")
    out.write_text(json.dumps(list(chosen)), encoding="utf-8")


def corpus_paths(root: Path, out: Path) -> None:
    """The real ~11k corpus (NFCorpus + MedQuAD + LiveQA) as this commit's harness finds it."""
    check_imports(root)
    paths = _attr("bench.harness", "real_corpus_paths")()
    out.write_text(json.dumps([str(p) for p in paths]), encoding="utf-8")


def scale_corpus(root: Path, docs: str, out: Path) -> None:
    """Make the generated scale corpus once, with this commit's bench.scale (as bench.run
    does: scale.ensure_corpus); writes {folder, docs}."""
    check_imports(root)
    parse_label = _attr("bench.scale", "parse_label")
    ensure_corpus = _attr("bench.scale", "ensure_corpus")
    count = parse_label(docs)
    folder = ensure_corpus(count, log=log)
    out.write_text(json.dumps({"folder": str(folder), "docs": count}), encoding="utf-8")


def run_cli(root: Path, argv: Sequence[str]) -> None:
    """Run this commit's command line in this process (so the import check covers it):
    `python -m healthsearch` when the commit has it, else `python -m indexer`."""
    check_imports(root)
    for name in CLI_MODULES:
        spec = importlib.util.find_spec(name)
        # Only the worktree's module counts: the venv may map a name to the main checkout.
        if spec is None or not _under(spec.origin, root):
            continue
        if importlib.util.find_spec(f"{name}.__main__") is None:
            continue
        log(f"cli: python -m {name} ({spec.origin})")
        sys.argv = [name, *argv]
        runpy.run_module(name, run_name="__main__", alter_sys=True)
        return
    raise DriverError(f"no command line module ({', '.join(CLI_MODULES)}) in {root}")


def search_speed(root: Path, index_dir: Path, questions: Path, out: Path) -> None:
    """Time SearchEngine.search over the questions (cache off), after warming the engine and
    one untimed pass: p50 / p95 wall ms, and process CPU ms per question."""
    check_imports(root)
    from indexer.config import Settings
    from indexer.search import SearchEngine

    texts = json.loads(questions.read_text(encoding="utf-8"))
    engine = SearchEngine(Settings(index_dir=index_dir, cache_size=0))
    warm = getattr(engine, "warm", None)
    if callable(warm):
        warm()
    for text in texts:
        engine.search(text)
    ms: list[float] = []
    cpu_start = time.process_time()
    for text in texts:
        started = time.perf_counter()
        engine.search(text)
        ms.append(1000 * (time.perf_counter() - started))
    cpu_ms = 1000 * (time.process_time() - cpu_start) / len(texts)
    ms.sort()
    out.write_text(json.dumps({"n": len(ms), "p50_ms": _percentile(ms, 50),
                               "p95_ms": _percentile(ms, 95), "cpu_ms": cpu_ms}),
                   encoding="utf-8")


def _percentile(data: Sequence[float], pct: float) -> float:
    """The pct-th percentile of sorted values, linear between ranks (as bench.harness)."""
    pos = (len(data) - 1) * pct / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point (one command per call)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after "--" belongs to the commit's command line, never to this parser.
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="compare_driver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("command", choices=("rank", "questions", "paths", "scale", "cli",
                                            "search-speed"))
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="the commit's worktree (default: the working directory)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--meta", type=Path)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--docs", default="100k")
    parser.add_argument("--index-dir", type=Path)
    parser.add_argument("--questions", type=Path)
    args = parser.parse_args(own)
    root = args.root.resolve()
    if args.command == "cli":
        run_cli(root, rest)
        return 0
    if args.out is None:
        parser.error("--out is required")
    if args.command == "rank":
        rank(root, args.out, args.meta or args.out.with_suffix(".meta.json"))
    elif args.command == "questions":
        speed_questions(root, args.out, args.n)
    elif args.command == "paths":
        corpus_paths(root, args.out)
    elif args.command == "scale":
        scale_corpus(root, args.docs, args.out)
    else:
        search_speed(root, args.index_dir, args.questions, args.out)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DriverError as exc:
        print(f"compare_driver: error: {exc}", file=sys.stderr)
        sys.exit(3)
