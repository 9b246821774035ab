"""Snippet lengths against the issue's 160 to 300 characters, on the shared data sets.

    python -m bench.snippets

For the first 150 MedQuAD tune questions and the first 150 NFCorpus dev questions, on the
harness's own indexes (bench.peers.our_index), every snippet of the first page is measured
as plain text (marks removed). Teasers show their whole text and are left out; articles
shorter than 160 characters cannot reach it and are counted apart.
"""

from __future__ import annotations

import re
import statistics
import sys
from collections.abc import Sequence

QUESTIONS = 150
MIN_CHARS, MAX_CHARS = 160, 300
_TAG = re.compile(r"<[^>]+>")


def snippet_lengths(engine, questions: Sequence[str]) -> tuple[list[int], int]:
    """(plain-text length of each full article's snippet, how many articles were shorter
    than MIN_CHARS) over the first page of each question."""
    lengths, short_articles = [], 0
    for question in questions:
        for result in engine.search(question).results:
            if result.kind == "teaser":
                continue
            article = engine.article(result.id)
            if article is not None and len(article.body) < MIN_CHARS:
                short_articles += 1
                continue
            lengths.append(len(_TAG.sub("", result.snippet)))
    return lengths, short_articles


def main(argv: Sequence[str] | None = None) -> int:
    """Print the length figures for each data set."""
    from bench import datasets as data
    from bench.peers import our_index
    from indexer.config import Settings
    from indexer.search import SearchEngine

    if not data.available():
        print("skipped: the shared data sets are not beside the project", file=sys.stderr)
        return 0
    for ds in (data.medquad("tune"), data.nfcorpus("dev")):
        engine = SearchEngine(Settings(index_dir=our_index(ds), cache_size=0))
        lengths, short = snippet_lengths(engine, list(ds.queries.values())[:QUESTIONS])
        lengths.sort()
        under = sum(n < MIN_CHARS for n in lengths)
        over = sum(n > MAX_CHARS for n in lengths)
        print(f"{ds.label}: {len(lengths)} snippets of full articles; under {MIN_CHARS} "
              f"characters {under}, over {MAX_CHARS} {over} (separators and ellipses "
              f"included); median {statistics.median(lengths):.0f}, min {lengths[0]}, "
              f"max {lengths[-1]}; {short} articles shorter than {MIN_CHARS} left out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
