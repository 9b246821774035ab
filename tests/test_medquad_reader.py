"""What a new reader meets on a real multi-source corpus: MedQuAD, 5,486 NIH pages from nine
publishers (skipped, with the reason, where the shared data sets are absent).

The index is built by words alone (`--no-vectors`): every case here is about words (grouping,
snippets, spelling, lay phrases, type-ahead), and it builds in seconds where embedding would
take minutes of the suite. Ranking by meaning is measured on this corpus by `make eval`.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from indexer.build import index_corpus
from indexer.config import Settings
from indexer.corpus.article import subject_key
from indexer.search import SearchEngine
from indexer.search.grouping import snippet_key
from indexer.storage import IndexStore
from tests.conftest import DATA, need

# Questions a new reader types first, from the report behind this work and its kind.
COMMON_QUESTIONS = [
    "high blood pressure", "side effects of metformin", "what causes migraine",
    "brest cancer", "cant sleep", "diabetes", "heart attack symptoms", "stroke",
    "asthma in children", "kidney disease", "is alzheimer's inherited", "breast cancer",
]


@pytest.fixture(scope="module")
def medquad(tmp_path_factory) -> SearchEngine:
    """A search engine over the MedQuAD corpus, as `healthsearch index --no-vectors` builds."""
    corpus = need(DATA / "medquad" / "corpus.jsonl.gz")
    index_dir = tmp_path_factory.mktemp("medquad") / "index"
    index_corpus([corpus], IndexStore(index_dir))  # no encoder: words alone
    return SearchEngine(Settings(index_dir=index_dir, cache_size=0))


@pytest.mark.parametrize("question", COMMON_QUESTIONS)
def test_no_two_of_the_top_ten_share_a_subject_or_a_snippet(medquad, question):
    results = medquad.search(question, per_page=10).results
    assert len(results) == 10
    subjects = Counter(subject_key(r.title) for r in results)
    snippets = Counter(snippet_key(r.snippet) for r in results)
    assert subjects.most_common(1)[0][1] == 1, subjects
    assert snippets.most_common(1)[0][1] == 1, snippets


def test_same_subject_pages_are_one_result_with_the_other_publishers_under_it(medquad):
    first = medquad.search("high blood pressure", per_page=10).results[0]
    assert first.title == "High Blood Pressure"
    assert len(first.also) >= 1
    publishers = {first.publisher, *(s.publisher for s in first.also)}
    assert len(publishers) == 1 + len(first.also)  # each page from a different publisher


def test_a_misspelt_word_is_corrected_by_the_word_beside_it(medquad):
    page = medquad.search("brest cancer")
    assert page.corrected and page.suggestion == "breast cancer"
    assert page.results[0].title == "Breast Cancer"


def test_a_lay_phrase_without_its_apostrophe_finds_the_medical_subject(medquad):
    # MedQuAD's text has lost its apostrophes, so "cant" is an indexed word there.
    assert medquad.search("cant sleep").results[0].title == "Insomnia"


@pytest.mark.parametrize(("typed", "meant"), [
    ("heart a", "heart attack"), ("high bl", "high blood pressure"),
    ("breast c", "breast cancer"), ("diabe", "diabetes"), ("alzheimer's d", "alzheimer's disease"),
])
def test_type_ahead_completes_to_the_phrase_readers_mean(medquad, typed, meant):
    assert medquad.complete(typed)[0].text == meant


@pytest.mark.parametrize("typed", ["diab", "heart a", "high bl", "canc", "blood p"])
def test_type_ahead_never_offers_glued_tokens(medquad, typed):
    for completion in medquad.complete(typed):
        assert re.fullmatch(r"[a-z][a-z0-9' -]*", completion.text), completion.text
        assert completion.text.startswith(typed)


@pytest.mark.parametrize(("typed", "glued"), [("asth", "asthmathat"), ("diab", "diabetes.3"),
                                              ("diab", "diabetesan")])
def test_type_ahead_leaves_out_words_a_corpus_ran_together(medquad, typed, glued):
    # MedQuAD's text lost spaces and apostrophes here and there: such a "word" is in one
    # page, where a real word is in many.
    assert glued not in [c.text for c in medquad.complete(typed)]


def test_the_home_page_counts_come_from_the_corpus(medquad):
    collection = medquad.collection()
    assert collection.articles == 5486 and collection.teasers == 0
    assert [name for name, _ in collection.publishers[:2]] == [
        "GARD", "Genetics Home Reference"]
    assert sum(n for _, n in collection.publishers) == 5486
    assert medquad.sample_questions()  # drawn from titles: MedQuAD has no sample lines


def test_an_article_keeps_its_questions_as_headings(medquad):
    # NIHSeniorHealth's "High Blood Pressure": 19 questions, one answer each.
    view = medquad.article("SeniorHealth-0000036")
    assert view.title == "High Blood Pressure"
    assert len(view.headings) == 19
    assert view.headings[:2] == ((0, "What is High Blood Pressure?"),
                                 (1, "What causes High Blood Pressure?"))
    assert all(h.endswith("?") and "(are)" not in h for _, h in view.headings)
