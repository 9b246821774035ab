"""Relevance figures on the shared data sets, our engine side by side with peers (`make eval`).

    python -m bench.eval                 # the report: NFCorpus test, MedQuAD, LiveQA
    python -m bench.eval --tune          # grid-search the engine on NFCorpus dev + MedQuAD tune
    python -m bench.eval --per-query F   # also dump every query's metrics as JSON, for analysis

Metrics follow trec_eval: nDCG@10 with linear gains (the grade) and log2 discounts, MRR@10
and Recall@100 counting a document relevant when its grade is at least 1. A query whose
judgments hold no relevant document scores 0 (it still counts in the mean), as in BEIR.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import sys
import time
import traceback
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
METRICS = ("nDCG@10", "MRR@10", "R@100")

# The targets for our engine (test figures).
TARGETS = {("NFCorpus", "nDCG@10"): 0.34, ("MedQuAD", "MRR@10"): 0.93,
           ("LiveQA", "nDCG@10"): 0.50}


# -- metrics (pure) ------------------------------------------------------------------------


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains in rank order: sum of g / log2(rank + 1)."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with the grades as gains; 0 when no judged document has a positive grade."""
    ideal = dcg(sorted((g for g in judged.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    got = dcg([max(judged.get(d, 0), 0) for d in ranked[:k]])
    return got / ideal


def mrr_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = 10,
             level: int = 1) -> float:
    """1 / rank of the first document graded at least `level` within the top k, else 0."""
    for i, d in enumerate(ranked[:k]):
        if judged.get(d, 0) >= level:
            return 1.0 / (i + 1)
    return 0.0


def recall_at_k(ranked: Sequence[str], judged: Mapping[str, int], k: int = 100,
                level: int = 1) -> float:
    """Share of the documents graded at least `level` found in the top k; 0 when none."""
    relevant = {d for d, g in judged.items() if g >= level}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def query_metrics(ranked: Sequence[str], judged: Mapping[str, int]) -> dict[str, float]:
    """The three reported metrics of one ranked list."""
    return {"nDCG@10": ndcg_at_k(ranked, judged), "MRR@10": mrr_at_k(ranked, judged),
            "R@100": recall_at_k(ranked, judged)}


def mean_metrics(per_query: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over queries (0 for no query)."""
    n = len(per_query)
    return {m: (sum(q[m] for q in per_query) / n if n else 0.0) for m in METRICS}


# -- running systems -----------------------------------------------------------------------


@dataclass
class Run:
    """One system on one data set: mean metrics, errors, timings and per-query figures."""

    system: str
    dataset: str
    metrics: dict[str, float]
    queries: int
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    index_seconds: float = 0.0
    ms_per_query: float = 0.0
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)
    rankings: dict[str, list[str]] = field(default_factory=dict)


def evaluate(ranker, ds, system: str, index_seconds: float = 0.0,
             keep_rankings: bool = False) -> Run:
    """Run every query of the data set through a ranker; an exception counts as an error
    (and an empty result list), never stops the run."""
    per_query: dict[str, dict[str, float]] = {}
    rankings: dict[str, list[str]] = {}
    errors: Counter[str] = Counter()
    started = time.perf_counter()
    for qid, text in ds.queries.items():
        try:
            ranked = list(ranker(text))
        except Exception as exc:  # counted and shown: the harness must see every failure
            errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
            ranked = []
        per_query[qid] = query_metrics(ranked, ds.qrels[qid])
        if keep_rankings:
            rankings[qid] = ranked[:100]
    elapsed = time.perf_counter() - started
    return Run(system, ds.label, mean_metrics(list(per_query.values())), len(per_query),
               sum(errors.values()), dict(errors), index_seconds,
               1000 * elapsed / max(1, len(per_query)), per_query, rankings)


def run_system(system, ds, keep_rankings: bool = False) -> Run:
    """Open (index) a system on a data set and evaluate it; a failure to index is reported as
    every query failing."""
    started = time.perf_counter()
    try:
        ranker = system.open(ds)
    except Exception as exc:
        traceback.print_exc()
        kind = f"index failed: {type(exc).__name__}: {exc}"[:120]
        return Run(system.name, ds.label, dict.fromkeys(METRICS, 0.0), len(ds.queries),
                   len(ds.queries), {kind: len(ds.queries)})
    return evaluate(ranker, ds, system.name, time.perf_counter() - started, keep_rankings)


# -- report --------------------------------------------------------------------------------


def table(runs: Sequence[Run], datasets: Sequence[str]) -> str:
    """The markdown table: one row per system, three metric columns per data set, errors."""
    systems = list(dict.fromkeys(r.system for r in runs))
    by = {(r.system, r.dataset): r for r in runs}
    head = ["system"] + [f"{d} {m}" for d in datasets for m in METRICS] + ["errors"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in systems:
        cells = [s]
        errors = 0
        for d in datasets:
            run = by.get((s, d))
            for m in METRICS:
                cells.append(f"{run.metrics[m]:.3f}" if run else "–")
            errors += run.errors if run else 0
        cells.append(str(errors))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def timing_table(runs: Sequence[Run]) -> str:
    """Index/open seconds and milliseconds per query, per system and data set."""
    lines = ["| system | data set | queries | index/open s | ms/query | errors |",
             "|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r.system} | {r.dataset} | {r.queries} | {r.index_seconds:.1f} | "
                     f"{r.ms_per_query:.1f} | {r.errors} |")
    return "\n".join(lines)


def verdict(runs: Sequence[Run], ours: str, datasets: Sequence[str]) -> list[str]:
    """Lines saying where our engine meets the targets and leads every peer."""
    by = {(r.system, r.dataset): r for r in runs}
    out = []
    for (d, m), target in TARGETS.items():
        run = by.get((ours, d))
        if run:
            ok = run.metrics[m] >= target
            out.append(f"target {d} {m} >= {target:.2f}: {run.metrics[m]:.3f} "
                       f"{'met' if ok else 'NOT met'}")
    behind = []
    for d in datasets:
        mine = by.get((ours, d))
        if mine is None:
            continue
        for m in METRICS:
            best = max(((r.metrics[m], r.system) for r in runs
                        if r.dataset == d and r.system not in (ours, UNGROUPED)),
                       default=None)
            if best and mine.metrics[m] <= best[0]:
                behind.append(f"{d} {m} ({mine.metrics[m]:.3f} vs {best[1]} {best[0]:.3f})")
    if not any(r.system not in (ours, UNGROUPED) for r in runs):
        return out  # no peer ran: nothing to lead
    out.append("leads every peer on every column" if not behind
               else "does not lead on: " + "; ".join(behind))
    return out


def paired_bootstrap(ours: Mapping[str, float], peer: Mapping[str, float],
                     samples: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ours - peer over the queries both ran, and its 95% bootstrap interval
    (queries resampled with replacement, the same queries for both systems)."""
    import numpy as np

    qids = sorted(set(ours) & set(peer))
    if not qids:
        return 0.0, 0.0, 0.0
    diffs = np.array([ours[q] - peer[q] for q in qids])
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), size=(samples, len(diffs)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diffs.mean()), float(low), float(high)


def lead_intervals(runs: Sequence[Run], ours: str, datasets: Sequence[str]) -> list[str]:
    """Per data set and target metric: ours minus the best peer, with its 95% interval, and
    whether the lead (or the gap) is larger than chance on these questions."""
    by = {(r.system, r.dataset): r for r in runs}
    out = []
    for (d, m), _ in TARGETS.items():
        mine = by.get((ours, d))
        peers = [r for r in runs if r.dataset == d and r.system not in (ours, UNGROUPED)]
        if mine is None or not peers:
            continue
        best = max(peers, key=lambda r: r.metrics[m])
        diff, low, high = paired_bootstrap(
            {q: v[m] for q, v in mine.per_query.items()},
            {q: v[m] for q, v in best.per_query.items()})
        verdict_ = ("significant" if low > 0 or high < 0 else "within chance")
        out.append(f"{d} {m}: ours - {best.system} = {diff:+.4f}, 95% interval "
                   f"[{low:+.4f}, {high:+.4f}] (paired bootstrap over queries: {verdict_})")
    return out


def tied_known_item_ceiling(askers_per_question: Sequence[int], k: int = 10) -> float:
    """The best mean MRR@k of a known-item search where each question is asked word for word
    by `n` documents (its own among them) that nothing but chance can order: a ranking that
    puts those n first, in random order, finds the right one at rank i with chance 1/n."""
    if not askers_per_question:
        return 0.0
    return sum(sum(1 / i for i in range(1, min(n, k) + 1)) / n
               for n in askers_per_question) / len(askers_per_question)


def medquad_ceiling_line(ds) -> str:
    """How many of a MedQuAD sample's questions several documents ask verbatim, and the MRR@10
    no ranking can beat on them but by luck; how many name no subject, and the R@100 no
    ranking can beat."""
    from bench.datasets import medquad_askers, read_jsonl
    from indexer.corpus.article import opening_key

    askers = medquad_askers()
    counts = [max(1, len(askers.get(opening_key(text), ()))) for text in ds.queries.values()]
    shared = sum(1 for n in counts if n > 1)
    # A page without a title asks its questions about nothing ("Who is at risk for ? ?").
    untitled = {str(r["id"]) for r in read_jsonl(ds.corpus_path) if not r.get("title", "").strip()}
    blank = sum(1 for judged in ds.qrels.values() if set(judged) & untitled)
    return (f"{ds.label}: {shared:,} of {len(counts):,} questions are asked word for word by "
            f"2 or more documents (mostly one disease's pages from different sources), and only "
            f"the question's own page counts: a ranking perfect but for their order scores "
            f"MRR@10 {tied_known_item_ceiling(counts):.3f} at best. {blank:,} name no subject "
            f"(their page has no title): R@100 is {1 - blank / len(counts):.4f} at best.")


def write_results(runs: Sequence[Run], datasets: Sequence[str], extra: dict,
                  stem: str = "eval") -> Path:
    """Write bench/results/<stem>-<date>.md and .json; returns the markdown path."""
    from bench.peers import Ours

    RESULTS.mkdir(parents=True, exist_ok=True)
    today = dt.date.today().isoformat()
    md_path = RESULTS / f"{stem}-{today}.md"
    ours = Ours.name
    md = [f"# Relevance evaluation, {today}", "",
          f"{os.cpu_count()} cores, Python {platform.python_version()}, command "
          f"`{' '.join(['python -m bench.eval', *extra.get('argv', [])])}` "
          f"({extra.get('jobs', 1)} worker processes; timings are noisy on a shared machine).",
          "", table(runs, datasets), "",
          *[f"- {line}" for line in verdict(runs, ours, datasets)
            if any(r.system == ours for r in runs)],
          *[f"- {line}" for line in lead_intervals(runs, ours, datasets)],
          "", "## Timings", "", timing_table(runs), ""]
    errors = [(r.system, r.dataset, k, n) for r in runs for k, n in r.error_kinds.items()]
    if errors:
        md += ["## Errors", ""] + [f"- {s} on {d}: {n} x {k}" for s, d, k, n in errors] + [""]
    md += ["## Notes", "", *[f"- {n}" for n in extra.get("notes", [])], ""]
    md_path.write_text("\n".join(md), encoding="utf-8")
    data = {
        "date": today, "cores": os.cpu_count(), "python": platform.python_version(),
        **{k: v for k, v in extra.items() if k != "notes"},
        "runs": [{"system": r.system, "dataset": r.dataset, "queries": r.queries,
                  "metrics": {m: round(v, 4) for m, v in r.metrics.items()},
                  "errors": r.errors, "error_kinds": r.error_kinds,
                  "index_seconds": round(r.index_seconds, 2),
                  "ms_per_query": round(r.ms_per_query, 2)} for r in runs],
    }
    md_path.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return md_path


NOTES = [
    "NFCorpus: 323 test queries (graded 1-2) over 3,395 docs whose text is the original "
    "release's preprocessed form (lowercased, stop words and punctuation removed, no titles).",
    "MedQuAD: known-item search, each question's own document is the one relevant answer; "
    "2,000 questions = random.Random(0).sample(queries in file order, 2000).",
    "LiveQA: 103 judged TREC 2017 LiveQA medical questions re-ranking the 1,935-passage "
    "judged pool; grades 0-3 are the gains, grade >= 1 counts as relevant for MRR and recall.",
    "Peers: tutorial Whoosh = TEXT() title/body, QueryParser('body') (AND, wildcards on), "
    "default BM25F; FTS5 = porter unicode61, the query's words quoted and OR'd, bm25(); "
    "tantivy = en_stem tokenizer, default BM25, words OR'd over title and body; bm25s = "
    "Lucene BM25 k1=1.5 b=0.75, English stop words, Snowball stemmer.",
    "Our engine: indexed with the real build path (index_corpus, 2 workers), ranked with "
    "SearchEngine.rank(query, limit=100) and its shipped defaults.",
]


def _reported_sets(medquad_n: int | None = None, names: Sequence[str] | None = None,
                   tune_sets: bool = False) -> list:
    from bench import datasets as data

    # --tune-sets: the questions constants are chosen on, for before/after figures of a
    # relevance change; the reported test questions are never tuned on.
    sets = ([_tune_set("nfcorpus-dev", 0), _tune_set("medquad-tune", 0)] if tune_sets
            else data.reported_sets())
    if medquad_n:
        sets = [ds.subset(medquad_n) if ds.name.startswith("medquad") else ds for ds in sets]
    if names:
        sets = [ds for ds in sets if any(n.lower() in ds.name for n in names)]
    return sets


# The engine's hits as ranked, before results pages group them (--ungrouped).
UNGROUPED = "ours, hits as ranked"


def _systems(ungrouped: bool = False) -> list:
    from bench.peers import Ours, all_systems

    systems = all_systems()
    return [*systems, Ours(name=UNGROUPED, grouped=False)] if ungrouped else systems


def _report_task(task: tuple[int, str, int | None, bool, bool, bool]) -> Run:
    """One system on one data set (runs in a worker process; everything is loaded there)."""
    system_index, ds_name, medquad_n, keep, tune_sets, ungrouped = task
    ds = next(d for d in _reported_sets(medquad_n, tune_sets=tune_sets) if d.name == ds_name)
    return run_system(_systems(ungrouped)[system_index], ds, keep_rankings=keep)


def report(argv: Sequence[str], dataset_names: Sequence[str] | None = None,
           system_names: Sequence[str] | None = None, per_query: Path | None = None,
           medquad_n: int | None = None, jobs: int = 2, tune_sets: bool = False,
           ungrouped: bool = False) -> list[Run]:
    """Evaluate every system on every reported data set (or the tuning sets) and print/write
    the table; with `ungrouped`, our hits as ranked too, beside them as results pages order
    them.

    With jobs > 1 the (system, data set) pairs run in that many worker processes, slowest
    first: the figures are the same, the per-query timings noisier.
    """
    from bench.peers import Ours, TutorialWhoosh

    sets = _reported_sets(medquad_n, dataset_names, tune_sets)
    systems = _systems(ungrouped)
    chosen = [i for i, s in enumerate(systems)
              if not system_names or any(n.lower() in s.name.lower() for n in system_names)]
    # Whoosh-based systems on MedQuAD take longest: start them first.
    slow = (TutorialWhoosh.name, Ours.name, UNGROUPED)
    tasks = sorted(((i, ds.name, medquad_n, per_query is not None, tune_sets, ungrouped)
                    for ds in sets for i in chosen),
                   key=lambda t: (not t[1].startswith("medquad"), systems[t[0]].name not in slow))

    def show(run: Run) -> None:
        print(f"{run.dataset:9} {run.system:22} "
              + " ".join(f"{m} {run.metrics[m]:.3f}" for m in METRICS)
              + f"  errors {run.errors}  index {run.index_seconds:.1f}s "
                f"{run.ms_per_query:.1f} ms/q", file=sys.stderr, flush=True)

    runs: list[Run] = []
    if jobs > 1 and len(tasks) > 1:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # Named through the module so worker processes can unpickle it under any start method.
        from bench.eval import _report_task as task_fn

        with ProcessPoolExecutor(min(jobs, len(tasks))) as pool:
            for future in as_completed([pool.submit(task_fn, t) for t in tasks]):
                runs.append(future.result())
                show(runs[-1])
    else:
        for task in tasks:
            runs.append(_report_task(task))
            show(runs[-1])
    # Rows in system order (peers first, ours last), columns in data set order.
    order = {s.name: i for i, s in enumerate(systems)}
    labels = [ds.label for ds in sets]
    runs.sort(key=lambda r: (order[r.system], labels.index(r.dataset)))
    print(table(runs, labels))
    print()
    ours = Ours.name
    if any(r.system == ours for r in runs):
        for line in [*verdict(runs, ours, labels), *lead_intervals(runs, ours, labels)]:
            print(line)
    for r in runs:
        for kind, n in r.error_kinds.items():
            print(f"errors: {r.system} on {r.dataset}: {n} x {kind}")
    notes = list(NOTES)
    for ds in sets:
        if ds.name.startswith("medquad"):
            notes.append(medquad_ceiling_line(ds))
            print(notes[-1])
    # A partial run (some data sets, systems or questions) must not replace the full report.
    partial = bool(dataset_names or system_names or medquad_n)
    stem = "eval-tune-sets" if tune_sets else "eval-partial" if partial else "eval"
    path = write_results(runs, labels, {"argv": list(argv), "jobs": jobs, "notes": notes},
                         stem=stem)
    print(f"\nwritten: {path.relative_to(ROOT)} and {path.with_suffix('.json').name}")
    if per_query is not None:
        dump = {f"{r.system}|{r.dataset}": {"per_query": r.per_query, "rankings": r.rankings}
                for r in runs}
        per_query.write_text(json.dumps(dump), encoding="utf-8")
    return runs


# -- tuning --------------------------------------------------------------------------------

# Values tried for each constant; coordinate descent walks them one constant at a time.
TUNE_GRID: dict[str, list] = {
    # Below 1.5 an entry matching one of three words outranks one matching two on the shipped
    # corpus, which the product promises (tests/test_search.py); dev figures rise down to 0.5.
    "coord_power": [1.5, 2.0, 2.5, 3.0],
    "title_boost": [1.0, 1.5, 2.0, 3.0, 4.0],
    "b": [0.3, 0.45, 0.6, 0.75, 0.9],
    "k1": [0.6, 0.9, 1.2, 1.5, 2.0],
    "title_b": [0.0, 0.25, 0.5, 0.75, 1.0],
    "synonyms": ["none", "curated", "curated+medquad"],
    "expansion_weight": [0.2, 0.4, 0.6, 0.8],
    "coord_by_idf": [False, True],
    "coord_max_terms": [4, 6, 8, 12, 1000],
    "feedback_weight": [0.0, 0.15, 0.3, 0.5],
    "feedback_max_share": [0.05, 0.1, 0.2],
    "aspect_weight": [1.0, 0.7, 0.5, 0.3, 0.15],
    "phrase_weight": [0.4, 0.7, 1.0],
    "drug_weight": [0.4, 0.7, 1.0],
    "dense_weight": [0.0, 0.3, 0.5, 0.65, 0.8, 0.9],
    "title_match_bonus": [0.0, 0.1, 0.3, 0.5],
    "dense_candidates": [0, 10, 20, 50, 100],
}
TUNE_MEDQUAD_COARSE = 500  # MedQuAD tune questions per coarse step (all 2,000 to confirm)
TUNE_ROUNDS = 2


def engine_defaults() -> dict:
    """The engine's current constants, in TUNE_GRID's terms."""
    from indexer.config import Settings
    from indexer.query import parser as query
    from indexer.ranking import model as ranking

    settings = Settings()
    return {"coord_power": ranking.COORD_POWER, "title_boost": query.TITLE_BOOST,
            "b": ranking.BM25_B, "k1": ranking.BM25_K1, "title_b": ranking.TITLE_B,
            "synonyms": ("none" if not settings.use_synonyms else
                         "curated+medquad" if settings.synonym_paths else "curated"),
            "expansion_weight": query.EXPANSION_WEIGHT,
            "coord_by_idf": ranking.COORD_BY_IDF, "coord_max_terms": ranking.COORD_MAX_TERMS,
            "feedback_weight": ranking.FEEDBACK_WEIGHT,
            "feedback_max_share": ranking.FEEDBACK_MAX_SHARE,
            "aspect_weight": query.ASPECT_WEIGHT, "phrase_weight": query.PHRASE_WEIGHT,
            "drug_weight": query.DRUG_WEIGHT,
            "dense_weight": ranking.DENSE_WEIGHT,
            "title_match_bonus": ranking.TITLE_MATCH_BONUS,
            "dense_candidates": ranking.DENSE_CANDIDATES}


_SYNONYMS: dict[str, object] = {}


def synonym_table(kind: str):
    """The synonym table of a tuning option: none, curated, or curated + MedQuAD's table."""
    from bench.datasets import MEDQUAD_SYNONYMS
    from indexer.text.synonyms import SynonymTable

    if kind == "none":
        return None
    if kind not in _SYNONYMS:
        paths = (MEDQUAD_SYNONYMS,) if kind == "curated+medquad" else ()
        _SYNONYMS[kind] = SynonymTable.load(paths)
    return _SYNONYMS[kind]


def variant_factory(config: Mapping):
    """A SearchEngine factory (index dir -> engine) with the given constants."""
    from indexer.config import Settings
    from indexer.query import QueryBuilder
    from indexer.query import parser as query
    from indexer.ranking.model import MEANING_MIN_COSINE, RankingModel
    from indexer.search import SearchEngine

    def make(index_dir: Path):
        builder = QueryBuilder(synonym_table(config["synonyms"]),
                               title_boost=config["title_boost"],
                               expansion_weight=config["expansion_weight"],
                               aspect_weight=config.get("aspect_weight", 1.0),
                               phrase_weight=config.get("phrase_weight", 0.4),
                               drug_weight=config.get("drug_weight", query.DRUG_WEIGHT))
        model = RankingModel(b=config["b"], k1=config["k1"], title_b=config["title_b"],
                             coord_power=config["coord_power"],
                             coord_by_idf=config.get("coord_by_idf", False),
                             coord_max_terms=config.get("coord_max_terms", 1000),
                             feedback_weight=config.get("feedback_weight", 0.0),
                             feedback_max_share=config.get("feedback_max_share", 0.1),
                             dense_weight=config.get("dense_weight", 0.0),
                             title_match_bonus=config.get("title_match_bonus", 0.0),
                             dense_candidates=config.get("dense_candidates", 0),
                             meaning_min_cosine=config.get("meaning_min_cosine",
                                                               MEANING_MIN_COSINE))
        return SearchEngine(Settings(index_dir=index_dir), builder=builder, model=model)

    return make


_TUNE_SETS: dict[tuple[str, int], object] = {}


def _tune_set(name: str, n: int):
    from bench import datasets as data

    if (name, n) not in _TUNE_SETS:
        ds = data.nfcorpus("dev") if name == "nfcorpus-dev" else data.medquad("tune")
        _TUNE_SETS[(name, n)] = ds.subset(n, seed=2) if n else ds
    return _TUNE_SETS[(name, n)]


def _tune_task(task: tuple[str, int, tuple]) -> tuple[str, int, tuple, dict[str, float]]:
    """Evaluate one configuration on one tuning set (runs in a worker process)."""
    from bench.peers import Ours

    name, n, items = task
    ds = _tune_set(name, n)
    ranker = Ours(variant_factory(dict(items))).open(ds)
    return name, n, items, evaluate(ranker, ds, "variant").metrics


# What each tuning set is judged on: the metric of the target for that data set.
TUNE_METRIC = {"nfcorpus-dev": "nDCG@10", "medquad-tune": "MRR@10"}
# A change of constant must gain this much objective (a relative share of the best peer's
# figure) to be taken: smaller differences are noise on a few hundred questions.
TUNE_MARGIN = 0.002
# Where evaluations of configurations are kept between runs (keyed by the ranking sources).
TUNE_CACHE_NAME = "tune-scores.json"
# The packages whose code (and data) decide a ranking, besides the index's own sources.
RANKING_PACKAGES = ("query", "ranking", "search", "storage", "text")


def ranking_hash() -> str:
    """A short hash of everything that decides a ranking: the index's sources and the query
    and scoring sources."""
    import hashlib

    from bench.peers import engine_hash

    h = hashlib.sha256(engine_hash().encode())
    for package in RANKING_PACKAGES:
        for path in sorted((ROOT / "indexer" / package).rglob("*")):
            if path.suffix in (".py", ".tsv"):
                h.update(str(path.relative_to(ROOT)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:12]


def peer_references(medquad_ns: Sequence[int]) -> dict[tuple[str, int], tuple[str, float]]:
    """The best peer's figure on each tuning set: the objective is relative to it."""
    from bench.peers import Bm25s, Fts5, Tantivy

    refs = {}
    for name, n in [("nfcorpus-dev", 0)] + [("medquad-tune", m) for m in medquad_ns]:
        ds = _tune_set(name, n)
        best = max((evaluate(p.open(ds), ds, p.name).metrics[TUNE_METRIC[name]], p.name)
                   for p in (Fts5(), Tantivy(), Bm25s()))
        refs[(name, n)] = (best[1], best[0])
    return refs


class Tuner:
    """Coordinate descent over TUNE_GRID with every evaluation cached on disk (and run two at
    a time). The objective is the mean, over NFCorpus dev and MedQuAD tune, of our figure
    divided by the best peer's on the same questions: each data set counts by how far we are
    from leading it, whatever its scale."""

    def __init__(self, refs: Mapping[tuple[str, int], tuple[str, float]], jobs: int = 2,
                 medquad_n: int = TUNE_MEDQUAD_COARSE):
        from bench.peers import CACHE

        self.refs = refs
        self.jobs = jobs
        self.medquad_n = medquad_n
        self.cache_path = CACHE / TUNE_CACHE_NAME
        self.version = ranking_hash()
        self.seen = self._load()
        self.pool = None
        if jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(jobs)

    def _load(self) -> dict[str, dict[str, float]]:
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data.get(self.version, {})

    def _save(self) -> None:
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        data = {self.version: {**data.get(self.version, {}), **self.seen}}  # old versions go
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=0, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.cache_path)

    def close(self) -> None:
        """Stop the worker processes."""
        if self.pool is not None:
            self.pool.shutdown()

    @staticmethod
    def _key(name: str, n: int, items: tuple) -> str:
        return json.dumps([name, n, [list(i) for i in items]])

    def scores(self, configs: Sequence[Mapping], medquad_n: int | None = None
               ) -> list[dict[str, dict[str, float]]]:
        """Dev figures ({set: metrics}) of each configuration, evaluating what is not cached."""
        n = self.medquad_n if medquad_n is None else medquad_n
        wanted = [(name, n_, tuple(sorted(c.items()))) for c in configs
                  for name, n_ in (("nfcorpus-dev", 0), ("medquad-tune", n))]
        tasks = [t for t in dict.fromkeys(wanted) if self._key(*t) not in self.seen]
        if tasks:
            # Named through the module so worker processes can unpickle it under any start
            # method.
            from bench.eval import _tune_task as task_fn

            results = (self.pool.map(task_fn, tasks) if self.pool is not None
                       else map(task_fn, tasks))
            for name, n_, items, metrics in results:
                self.seen[self._key(name, n_, items)] = metrics
            self._save()
        return [{name: self.seen[self._key(name, n_, items)]
                 for name, n_, items in wanted[2 * i: 2 * i + 2]} for i in range(len(configs))]

    def objective(self, scores: Mapping[str, Mapping[str, float]], medquad_n: int | None = None
                  ) -> float:
        """Mean of our figure / the best peer's, over the tuning sets (1.0 = level)."""
        n = self.medquad_n if medquad_n is None else medquad_n
        parts = [scores[name][metric] / self.refs[(name, 0 if name == "nfcorpus-dev" else n)][1]
                 for name, metric in TUNE_METRIC.items()]
        return sum(parts) / len(parts)

    def descend(self, start: Mapping, log) -> dict:
        """Coordinate descent from `start`: each constant in turn takes its best value."""
        best = dict(start)
        best_score = self.objective(self.scores([best])[0])
        log(f"start {_fmt_config(best)} -> {best_score:.4f}")
        for round_ in range(TUNE_ROUNDS):
            changed = False
            for param, values in TUNE_GRID.items():
                configs = [{**best, param: v} for v in values]
                results = self.scores(configs)
                for c, r in zip(configs, results, strict=True):
                    log(f"  round {round_ + 1} {param}={c[param]}: {_fmt_scores(r)} "
                        f"objective {self.objective(r):.4f}")
                top = max(range(len(configs)), key=lambda i: self.objective(results[i]))
                # Small gains keep the current value: a change must earn its place.
                if self.objective(results[top]) > best_score + TUNE_MARGIN:
                    best, best_score, changed = configs[top], self.objective(results[top]), True
                    log(f"  -> {param}={best[param]} ({best_score:.4f})")
            if not changed:
                break
        return best


def _fmt_config(c: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in c.items())


def _fmt_scores(r: Mapping[str, Mapping[str, float]]) -> str:
    nf, mq = r["nfcorpus-dev"], r["medquad-tune"]
    return (f"NFCorpus dev nDCG@10 {nf['nDCG@10']:.4f} MRR@10 {nf['MRR@10']:.4f}; "
            f"MedQuAD tune MRR@10 {mq['MRR@10']:.4f} R@100 {mq.get('R@100', 0):.4f}")


def tune(argv: Sequence[str], jobs: int = 2, medquad_n: int = TUNE_MEDQUAD_COARSE) -> dict:
    """Grid-search the engine's constants on NFCorpus dev and MedQuAD tune questions (a
    Random(1) sample disjoint from the test sample), confirm on all 2,000 tune questions,
    and write bench/results/tune-<date>.md. Returns the chosen configuration."""
    from bench.peers import our_index

    lines: list[str] = []

    def log(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    started = time.perf_counter()
    for name in ("nfcorpus-dev", "medquad-tune"):
        our_index(_tune_set(name, 0))
    refs = peer_references([medquad_n, 0])
    for (name, n), (peer, value) in refs.items():
        log(f"best peer on {name}{f' ({n} questions)' if n else ''}: {peer} "
            f"{TUNE_METRIC[name]} {value:.4f}")
    tuner = Tuner(refs, jobs, medquad_n)
    try:
        defaults = engine_defaults()
        log(f"coarse search: NFCorpus dev (324 queries) + {medquad_n} MedQuAD tune questions")
        best = tuner.descend(defaults, log)
        # Confirm on all tune questions: the defaults, the choice, and the choice with each
        # synonym option, so the synonym default is decided on the full figures.
        finalists = [defaults, best] + [{**best, "synonyms": s}
                                        for s in TUNE_GRID["synonyms"]]
        finalists = [dict(t) for t in dict.fromkeys(tuple(c.items()) for c in finalists)]
        log(f"confirm: NFCorpus dev + all {len(_tune_set('medquad-tune', 0).queries)} "
            "MedQuAD tune questions")
        confirmed = tuner.scores(finalists, medquad_n=0)
        for c, r in zip(finalists, confirmed, strict=True):
            log(f"  {_fmt_config(c)}: {_fmt_scores(r)} "
                f"objective {tuner.objective(r, medquad_n=0):.4f}")
        # The descent's choice stands unless another finalist beats it by the margin.
        objectives = [tuner.objective(r, medquad_n=0) for r in confirmed]
        top = max(range(len(finalists)), key=lambda i: objectives[i])
        incumbent = finalists.index(best)
        chosen = (finalists[top] if objectives[top] > objectives[incumbent] + TUNE_MARGIN
                  else best)
    finally:
        tuner.close()
    log(f"chosen: {_fmt_config(chosen)} ({time.perf_counter() - started:.0f} s)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"tune-{dt.date.today().isoformat()}.md"
    path.write_text("\n".join([
        f"# Tuning, {dt.date.today().isoformat()}", "",
        f"{os.cpu_count()} cores; `python -m bench.eval {' '.join(argv)}`. Objective: mean of "
        "NFCorpus dev nDCG@10 and MedQuAD tune MRR@10, each divided by the best peer's "
        "figure on the same questions (tune questions: a Random(1) sample disjoint from the "
        f"test sample). A change must gain {TUNE_MARGIN} to be taken. NFCorpus test is never "
        "used.", "", "```", *lines, "```", ""]), encoding="utf-8")
    print(f"written: {path.relative_to(ROOT)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tune", action="store_true",
                        help="grid-search the engine's constants on NFCorpus dev and MedQuAD "
                             "tune questions (never on test)")
    parser.add_argument("--datasets", nargs="*", help="only these (nfcorpus, medquad, liveqa)")
    parser.add_argument("--systems", nargs="*", help="only systems whose name contains these")
    parser.add_argument("--medquad-n", type=int, help="fewer MedQuAD questions (quick looks)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="worker processes (1 for clean per-query timings)")
    parser.add_argument("--per-query", type=Path, help="write per-query metrics and rankings")
    parser.add_argument("--tune-sets", action="store_true",
                        help="report on the tuning questions (NFCorpus dev, MedQuAD tune) "
                             "instead of the test sets: before/after figures of a change")
    parser.add_argument("--ungrouped", action="store_true",
                        help=f"also report our hits as ranked, before results pages group "
                             f"them ('{UNGROUPED}')")
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    from bench import datasets as data

    if not data.available():
        print(f"skipped: the shared data sets are not in {data.DATA.relative_to(ROOT.parent)} "
              "beside the project", file=sys.stderr)
        return 0
    if args.tune:
        tune(argv, jobs=args.jobs)
        return 0
    report(argv, args.datasets, args.systems, args.per_query, args.medquad_n, args.jobs,
           args.tune_sets, args.ungrouped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
