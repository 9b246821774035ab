"""Quotes typed inside a question: the answer's rank and score with and without them.

    python -m bench.quotes

Indexes tests/fixtures/medicines.jsonl (with article vectors, as `healthsearch index` does)
and ranks each question of tests/fixtures/quoted_questions.tsv three ways: without its
quotes, with them as the engine reads them now (`indexer.query.cleaning.quotes_are_syntax`:
punctuation in a question), and with them read as a required exact phrase, as every quote
was read before that rule (and without the looser reading that now follows a phrase that
finds nothing). Prints one row per question and the mean reciprocal rank of each. Scores
compare only within a column: a question whose words hold an article's whole title is not
re-ranked by meaning (indexer.ranking.pipeline), so its score is on another scale.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"


def questions() -> list[tuple[str, str]]:
    """(question with quotes, id of the article that answers it)."""
    rows = []
    for line in (FIXTURES / "quoted_questions.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            question, answer = line.split("\t")
            rows.append((question, answer))
    return rows


def rank_of(rank: Callable[[str], list[tuple[str, float]]], question: str,
            answer: str) -> tuple[int | None, float]:
    """The answer's rank (1 = first; None: not found) and score for a question."""
    for i, (doc_id, score) in enumerate(rank(question), start=1):
        if doc_id == answer:
            return i, score
    return None, 0.0


def main() -> int:
    """Print the table."""
    from indexer.build import index_corpus
    from indexer.config import Settings
    from indexer.query import cleaning, parser
    from indexer.ranking.encoder import Encoder
    from indexer.search import SearchEngine, answer
    from indexer.storage import IndexStore

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        index_corpus([FIXTURES / "medicines.jsonl"], IndexStore(index_dir),
                     encoder=Encoder.load())
        engine = SearchEngine(Settings(index_dir=index_dir, cache_size=0))

        def rank(text: str) -> list[tuple[str, float]]:
            return engine.rank(text, limit=30)

        def every_quote_is_syntax(text: str) -> bool:
            return '"' in text or cleaning.uses_syntax(text)

        rows, sums = [], [0.0, 0.0, 0.0]
        for question, answer_id in questions():
            plain = rank_of(rank, question.replace('"', ""), answer_id)
            now = rank_of(rank, question, answer_id)
            with (mock.patch.object(parser, "uses_syntax", every_quote_is_syntax),
                  mock.patch.object(answer, "loosened_text", lambda text: None)):
                before = rank_of(rank, question, answer_id)
            for i, (r, _) in enumerate((plain, now, before)):
                sums[i] += 1 / r if r else 0.0
            rows.append((question, plain, now, before))
    print("| question | without quotes | with quotes (now) | quotes as a phrase (before) |")
    print("|---|---|---|---|")
    for question, *found in rows:
        cells = [f"{r or '–'} ({s:.3f})" for r, s in found]
        print(f"| {question} | " + " | ".join(cells) + " |")
    n = len(rows)
    print(f"\nMRR over {n} questions: without quotes {sums[0] / n:.3f}, with quotes now "
          f"{sums[1] / n:.3f}, quotes as a phrase {sums[2] / n:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
