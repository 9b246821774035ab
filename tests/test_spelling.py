"""Did you mean: misspellings are corrected, real words are not turned into other words."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.build import index_corpus
from indexer.config import Settings
from indexer.search import SearchEngine
from indexer.search.spelling import suggest
from indexer.storage import IndexStore
from indexer.text.spelling import (
    WordList,
    american_spelling,
    english_words,
    flips_meaning,
    spelling_variants,
)

ARTICLES = {
    "urticaria": ("Urticaria", "Urticaria is an itchy rash of raised welts."),
    "hiv": ("HIV", "HIV infection weakens the immune system."),
    "essay": ("Writing an essay", "In conclusion, the conclusion sums the essay up."),
    "diarrhea": ("Diarrhea", "Diarrhea is loose, watery stool."),
    "polyps": ("Hyperplastic polyps", "Hyperplastic polyps of the colon are common."),
    "insomnia": ("Insomnia", "Insomnia is trouble falling asleep at night."),
    "clock": ("Body clock", "The time of day you sleep sets the body clock."),
    "anaemia": ("Anaemia in pregnancy", "Anaemia is common in pregnancy."),
    "anemia": ("Anemia", "Anemia means too few red blood cells."),
    "breast": ("Breast cancer", "Breast cancer is the most common cancer in women."),
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> SearchEngine:
    root = tmp_path_factory.mktemp("spelling")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "articles.jsonl").write_text("".join(
        json.dumps({"id": key, "title": title, "text": text}) + "\n"
        for key, (title, text) in ARTICLES.items()), encoding="utf-8")
    index_corpus([corpus], IndexStore(root / "index"))
    return SearchEngine(Settings(index_dir=root / "index"))


def index_only(engine: SearchEngine, word: str) -> str | None:
    """What a correction drawn from the index vocabulary alone makes of a word."""
    with engine.pool.borrow() as snapshot:
        return suggest(snapshot, [word]).get(word)


def test_a_misspelling_is_still_corrected_from_the_index(engine):
    page = engine.search("insomina")
    assert page.suggestion == "insomnia" and page.corrected
    assert page.results[0].title == "Insomnia"


def test_a_british_spelling_finds_the_american_one_without_a_correction(engine):
    page = engine.search("diarrhoea")
    assert page.suggestion is None and not page.corrected
    assert page.results[0].title == "Diarrhea"
    assert page.understood == "diarrhoea (also: diarrhea)"
    with engine.pool.borrow() as snapshot:  # where no variant is searched, it is the correction
        assert suggest(snapshot, ["diarrhoea"], lexicon=english_words) == {
            "diarrhoea": "diarrhea"}


@pytest.mark.parametrize("typed", ["anemia", "anaemia", "Anaemia"])
def test_a_word_is_searched_in_both_its_spellings(engine, typed):
    page = engine.search(typed)
    assert {r.id for r in page.results} == {"anemia", "anaemia"}
    assert page.suggestion is None
    assert all("<mark" in r.snippet for r in page.results)  # the other spelling with a note


@pytest.mark.parametrize("word, variant", [
    ("diarrhea", "diarrhoea"), ("diarrhoea", "diarrhea"), ("tumor", "tumour"),
    ("centre", "center"), ("center", "centre"), ("esthetic", "aesthetic"),
    ("organization", "organisation"), ("catalog", "catalogue"), ("fetus", "foetus"),
])
def test_spelling_variants(word, variant):
    assert variant in spelling_variants(word)


def test_short_words_have_no_spelling_variants():
    assert spelling_variants("ear") == set() and spelling_variants("x-ray") == set()


def test_a_real_word_the_index_lacks_is_not_turned_into_another_word(engine):
    assert index_only(engine, "concussion") == "conclusion"  # what the index alone suggests
    page = engine.search("concussion")
    assert page.suggestion is None and not page.corrected and page.total == 0


def test_a_lay_word_finds_its_medical_article_instead_of_being_corrected(engine):
    assert index_only(engine, "hives") == "hiv"
    page = engine.search("hives")
    assert page.suggestion is None
    assert page.results[0].title == "Urticaria"


def test_a_real_word_is_corrected_where_its_neighbour_says_it_is_a_typo(engine):
    # "brest" is an English word (a city), but "breast cancer" is in the index.
    assert "brest" in english_words()
    page = engine.search("brest cancer")
    assert page.suggestion == "breast cancer" and page.corrected
    assert page.results[0].title == "Breast cancer"
    assert engine.search("brest").suggestion is None  # alone, nothing says it is a typo
    # "conclusion symptoms" is not in the index: "concussion" stays.
    assert engine.search("concussion symptoms").suggestion is None


def test_a_correction_never_swaps_hypo_for_hyper(engine):
    assert flips_meaning("hypoplastic", "hyperplastic")
    assert not flips_meaning("hyperplastc", "hyperplastic")
    page = engine.search("hypoplastic polyps")
    assert page.suggestion is None
    assert engine.search("hyperplastc polyps").suggestion == "hyperplastic polyps"


def test_a_correction_never_repeats_a_word_of_the_query(engine):
    # "tiime" alone becomes "time"; beside "time" it would only repeat it.
    assert engine.search("tiime of sleep").suggestion == "time of sleep"
    assert engine.search("tiime time").suggestion is None


@pytest.mark.parametrize("british, american", [
    ("haemorrhage", "hemorrhage"), ("tumour", "tumor"), ("oesophagus", "esophagus"),
    ("centre", "center"), ("paralysed", "paralyzed"), ("anaemia", "anemia"),
    ("catalogue", "catalog"), ("insomnia", "insomnia"), ("more", "more"),
])
def test_american_spelling(british, american):
    assert american_spelling(british) == american


def test_the_english_word_list_knows_words_and_not_misspellings():
    words = english_words()
    assert all(w in words for w in ("tired", "concussion", "shingles", "diarrhoea"))
    assert "insomina" not in words and "tendom" not in words
    assert len(words) > 100_000


@given(st.sets(st.text(min_size=1, max_size=12), max_size=50), st.text(max_size=12))
def test_a_word_list_holds_exactly_its_words(words, other):
    listed = WordList.of(words)
    assert all(w in listed for w in words)
    assert (other in listed) == (other in words)  # 64-bit hashes: no collision at this size


def test_without_the_word_list_searches_still_answer(engine, monkeypatch, caplog):
    import indexer.text.spelling as spelling

    def missing(package):
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(spelling.resources, "files", missing)
    spelling.english_words.cache_clear()
    try:
        assert len(spelling.english_words()) == 0
        assert "English word list unavailable" in caplog.text
        assert engine.search("insomina").suggestion == "insomnia"
        assert engine.search("concussion").total == 0
    finally:
        monkeypatch.undo()
        spelling.english_words.cache_clear()
    assert "tired" in spelling.english_words()
