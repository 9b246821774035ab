"""The relevance data sets of `make eval`: corpus, queries and graded judgments, read in place.

The data sets live beside the project in ../shared/data and are never copied in. Each loader
returns a `Dataset`; queries are kept in a fixed order so every run (and every system) sees
the same list.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
NFCORPUS = DATA / "nfcorpus"
MEDQUAD = DATA / "medquad"
LIVEQA = DATA / "medquad_liveqa"
MEDQUAD_SYNONYMS = DATA / "synonyms" / "medquad_focus_synonyms.tsv"

# The issue fixes the MedQuAD test sample: Random(0).sample(questions in file order, 2000).
MEDQUAD_SAMPLE = 2000
MEDQUAD_TEST_SEED = 0
MEDQUAD_TUNE_SEED = 1

Qrels = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Doc:
    """One corpus record as the peers index it."""

    id: str
    title: str
    text: str


@dataclass
class Dataset:
    """A corpus file, the queries to run (id -> text, in order) and their graded judgments."""

    name: str
    label: str
    corpus_path: Path
    queries: dict[str, str]
    qrels: Qrels
    _docs: list[Doc] | None = field(default=None, repr=False)

    @property
    def docs(self) -> list[Doc]:
        """The corpus records (read once, on first use)."""
        if self._docs is None:
            self._docs = list(read_docs(self.corpus_path))
        return self._docs

    def subset(self, n: int, seed: int = 0) -> Dataset:
        """The same corpus with a fixed random sample of n queries (all when n >= their count)."""
        if n >= len(self.queries):
            return self
        ids = random.Random(seed).sample(list(self.queries), n)
        keep = set(ids)
        queries = {q: t for q, t in self.queries.items() if q in keep}
        return Dataset(self.name, self.label, self.corpus_path, queries,
                       {q: self.qrels[q] for q in queries}, self._docs)


def available() -> bool:
    """True when the shared data sets are beside the project."""
    return all(p.exists() for p in (NFCORPUS, MEDQUAD, LIVEQA))


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(
        encoding="utf-8")


def read_jsonl(path: Path) -> Iterator[dict]:
    """The records of a JSON Lines file (gzipped or not)."""
    with _open_text(path) as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read_docs(path: Path) -> Iterator[Doc]:
    """Corpus records with text; records without text are skipped, as the engine skips them."""
    for rec in read_jsonl(path):
        text = rec.get("text") or ""
        if text.strip():
            yield Doc(str(rec.get("id", rec.get("_id"))), rec.get("title") or "", text)


def read_qrels(path: Path) -> Qrels:
    """query id -> {doc id: grade}, from a BEIR-style TSV with a header line."""
    qrels: Qrels = {}
    with path.open(encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t")
        next(rows, None)
        for row in rows:
            if len(row) >= 3:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    return qrels


def _judged(queries: dict[str, str], qrels: Qrels, name: str, label: str,
            corpus: Path) -> Dataset:
    ordered = {q: t for q, t in queries.items() if q in qrels}
    return Dataset(name, label, corpus, ordered, {q: qrels[q] for q in ordered})


def nfcorpus(split: str = "test") -> Dataset:
    """NFCorpus: test (323 queries) for reporting, dev (324) for tuning."""
    queries = {r["id"]: r["text"] for r in read_jsonl(NFCORPUS / "queries.jsonl")}
    qrels = read_qrels(NFCORPUS / "qrels" / f"{split}.tsv")
    return _judged(queries, qrels, f"nfcorpus-{split}", "NFCorpus" if split == "test"
                   else f"NFCorpus {split}", NFCORPUS / "corpus.jsonl")


def medquad_questions() -> list[tuple[str, str]]:
    """(id, text) of every MedQuAD question, in file order."""
    return [(r["id"], r["text"]) for r in read_jsonl(MEDQUAD / "queries.jsonl")]


def medquad(split: str = "test", n: int = MEDQUAD_SAMPLE) -> Dataset:
    """MedQuAD known-item search: each question's own document is the one relevant answer.

    test: the issue's fixed sample, Random(0).sample(questions, 2000). tune: Random(1) over
    the questions left after removing the test sample, so tuning never sees a test question.
    """
    questions = medquad_questions()
    test = random.Random(MEDQUAD_TEST_SEED).sample(questions, MEDQUAD_SAMPLE)
    if split == "test":
        chosen = test
    elif split == "tune":
        taken = {q for q, _ in test}
        rest = [item for item in questions if item[0] not in taken]
        chosen = random.Random(MEDQUAD_TUNE_SEED).sample(rest, n)
    else:
        raise ValueError(f"unknown MedQuAD split {split!r}")
    qrels = read_qrels(MEDQUAD / "qrels" / "test.tsv")
    return _judged(dict(chosen), qrels, f"medquad-{split}",
                   "MedQuAD" if split == "test" else "MedQuAD tune",
                   MEDQUAD / "corpus.jsonl.gz")


def medquad_askers() -> dict[str, set[str]]:
    """A question's words, lowercased (indexer.corpus.article.opening_key) -> the ids of every
    MedQuAD document (with an answer) asking it."""
    from indexer.corpus.article import opening_key

    askers: dict[str, set[str]] = {}
    for rec in read_jsonl(MEDQUAD / "corpus.jsonl.gz"):
        for question in rec.get("questions") or ():
            askers.setdefault(opening_key(question["question"]), set()).add(str(rec["id"]))
    return askers


def liveqa() -> Dataset:
    """TREC LiveQA medical questions re-ranking MedQuAD's judged answer pool (103 judged)."""
    queries = {r["id"]: r["text"] for r in read_jsonl(LIVEQA / "queries.jsonl")}
    return _judged(queries, read_qrels(LIVEQA / "qrels" / "test.tsv"), "liveqa", "LiveQA",
                   LIVEQA / "corpus.jsonl")


def reported_sets() -> list[Dataset]:
    """The three reported data sets, in table order."""
    return [nfcorpus("test"), medquad("test"), liveqa()]
