"""Query sets for the speed benchmarks: real reader questions from the shared data sets.

Sources: MedQuAD `queries.jsonl` (16,407 template-like consumer questions, "What causes
Acromegaly ?"), NFCorpus `queries.jsonl` (3,237 short titles, "Breast Cancer Cells Feed on
Cholesterol") and MedQuAD x LiveQA `queries.jsonl` (104 long, messy real consumer messages).
Texts are de-duplicated (case and spaces folded) and shuffled with a fixed seed.

Three sets, all seeded and repeatable:

- `distinct`: questions that each occur once, for uncached figures; drawn 50 % MedQuAD,
  35 % NFCorpus, 15 % LiveQA (all 104 LiveQA questions appear once the set is large enough).
- `log`: a replayed query log with Zipf-like popularity. A pool of POOL_SIZE questions
  (same mix, disjoint from `distinct`) is ranked at random; each log entry is the question
  of rank r with probability proportional to 1 / r ** ZIPF_S. Popular questions repeat, as
  in a real search log, so a result cache helps as much as it would in production.
- `warmup`: a few questions outside both sets, run before any timing.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
from collections import Counter
from dataclasses import dataclass

from bench.harness import CACHE, DATA, iter_jsonl, read_json, write_json

SEED = 5
MIX = {"medquad": 0.50, "nfcorpus": 0.35, "medquad_liveqa": 0.15}
POOL_SIZE = 5_000
ZIPF_S = 1.0
WARMUP = 30
QUERY_FILES = {name: DATA / name / "queries.jsonl" for name in MIX}


@dataclass
class QuerySets:
    """The three query sets and how they were made."""

    distinct: list[str]
    log: list[str]
    warmup: list[str]
    meta: dict

    def as_json(self) -> dict:
        """What is cached and handed to the measuring processes."""
        return {"distinct": self.distinct, "log": self.log, "warmup": self.warmup,
                "meta": self.meta}


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def load_questions() -> dict[str, list[str]]:
    """De-duplicated question texts per data set, in a seeded random order."""
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for name, path in QUERY_FILES.items():
        texts = []
        for rec in iter_jsonl(path):
            text = " ".join(str(rec.get("text", "")).split())
            if text and _norm(text) not in seen:
                seen.add(_norm(text))
                texts.append(text)
        random.Random(f"{SEED}:{name}").shuffle(texts)
        out[name] = texts
    return out


def _mixed(pools: dict[str, list[str]], count: int, rng: random.Random) -> list[str]:
    """`count` questions taken from the pools' fronts in the MIX proportions (popped)."""
    names = list(MIX)
    weights = [MIX[n] for n in names]
    out: list[str] = []
    while len(out) < count and any(pools[n] for n in names):
        name = rng.choices(names, weights=weights)[0]
        if pools[name]:
            out.append(pools[name].pop())
    return out


def zipf_log(pool: list[str], length: int, rng: random.Random, s: float = ZIPF_S) -> list[str]:
    """A log of `length` entries: the question of rank r with probability ~ 1 / r ** s."""
    cum = list(itertools.accumulate(1.0 / (r ** s) for r in range(1, len(pool) + 1)))
    total = cum[-1]
    return [pool[bisect.bisect_left(cum, rng.random() * total)] for _ in range(length)]


def make_sets(distinct: int = 600, log_length: int = 4_000) -> QuerySets:
    """Build the distinct, log and warm-up sets (see the module docstring)."""
    rng = random.Random(SEED)
    pools = {k: list(v) for k, v in load_questions().items()}
    sizes = {k: len(v) for k, v in pools.items()}
    warm = _mixed(pools, WARMUP, rng)
    dist = _mixed(pools, distinct, rng)
    pool = _mixed(pools, POOL_SIZE, rng)
    log = zipf_log(pool, log_length, rng)
    counts = Counter(log)
    meta = {
        "seed": SEED, "mix": MIX, "zipf_s": ZIPF_S, "pool_size": len(pool),
        "distinct_questions_available": sizes,
        "distinct": len(dist), "log_length": len(log), "log_distinct": len(counts),
        "log_repeat_share": round(1 - len(counts) / max(len(log), 1), 3),
        "log_top10_share": round(sum(c for _, c in counts.most_common(10)) / len(log), 3),
        "distinct_mean_chars": round(sum(map(len, dist)) / max(len(dist), 1), 1),
    }
    return QuerySets(dist, log, warm, meta)


def cached_sets(distinct: int = 600, log_length: int = 4_000) -> tuple[QuerySets, str]:
    """The query sets, made once and kept in the benchmark cache; returns them and the file."""
    path = CACHE / "queries" / f"queries-s{SEED}-d{distinct}-l{log_length}.json"
    data = read_json(path)
    if data is None:
        data = make_sets(distinct, log_length).as_json()
        write_json(path, data)
    return QuerySets(data["distinct"], data["log"], data["warmup"], data["meta"]), str(path)


def main(argv: list[str] | None = None) -> None:
    """Print how the sets look."""
    ap = argparse.ArgumentParser(description="Show the benchmark query sets.")
    ap.add_argument("--distinct", type=int, default=600)
    ap.add_argument("--log-length", type=int, default=4_000)
    args = ap.parse_args(argv)
    sets, path = cached_sets(args.distinct, args.log_length)
    print(path)
    for key, value in sets.meta.items():
        print(f"{key:>30}: {value}")
    print("first distinct:", sets.distinct[:5])
    print("most common in log:", Counter(sets.log).most_common(5))


if __name__ == "__main__":
    main()
