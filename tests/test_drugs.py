"""Medicines' names as readers type them: brand names, other spellings and misspellings
reach the article that names the medicine by its generic name."""

from __future__ import annotations

import logging

import pytest

from indexer.query import QueryBuilder
from indexer.text import drugs, synonyms
from indexer.text.analysis import term_for_word
from indexer.text.drugs import DrugIndex, DrugName, drug_names
from indexer.text.synonyms import DRUG_BRAND, DRUG_MISREAD, DRUG_NAME, SynonymTable


def _meant(text: str) -> set[tuple[str, str, str]]:
    return {(typed, exp.label, exp.origin) for typed, exp in SynonymTable.load().expand(text)}


def test_the_shipped_table_says_where_it_came_from_and_holds_consumer_medicines():
    header = (drugs.resources.files("indexer.text").joinpath(drugs.DATA_FILE)
              .read_text("utf-8").splitlines()[:7])
    assert any("drug-named-entity-recognition" in line and "MIT" in line for line in header)
    names = {row.name: row for row in drug_names()}
    assert len(names) > 5000
    assert names["singulair"].generic == "montelukast"
    assert names["flomax"].generic == "tamsulosin"
    assert names["keppra"] == DrugName("keppra", "levetiracetam", "brand")
    assert {row.kind for row in drug_names()} == {"brand", "common", "other"}


def test_a_brand_name_is_searched_as_its_generic_and_a_generic_as_its_brands():
    assert ("flomax", "tamsulosin", DRUG_NAME) in _meant("what is in flomax")
    assert ("Singulair", "montelukast", DRUG_NAME) in _meant("Singulair for allergies")
    assert ("fluoxetine", "prozac", DRUG_BRAND) in _meant("fluoxetine and alcohol")
    # Only well-known brands: an "other" name ("sarafem") is not added to every question.
    assert not any(label == "sarafem" for _, label, _ in _meant("fluoxetine"))


@pytest.mark.parametrize(("typed", "misread", "meant"), [
    ("singular 10 mg", "singular", {"singulair", "montelukast"}),  # a word before a dose
    ("singular 10mg at night", "singular", {"singulair", "montelukast"}),
    ("level iracetam side effects", "level iracetam", {"levetiracetam"}),  # a split name
    ("vit b12", "b12", {"b 12"}),  # a vitamin as "B-12" and "B 12" are indexed
    ("B-12 shots", "B 12", {"b12"}),
    ("vit b12", "vit", {"vitamin"}),
])
def test_misspelled_medicines_are_read_as_the_medicine(typed, misread, meant):
    found = {label for phrase, label, origin in _meant(typed)
             if phrase == misread and origin == DRUG_MISREAD}
    assert found == meant


@pytest.mark.parametrize("text", [
    "singular and plural",  # no dose after it
    "blood sugar level",  # "level" alone is no medicine
    "what level is normal",  # two English words never join into a medicine
    "hepatitis b vaccine",
    "What is (are) STING-associated vasculopathy",  # "are" + "sting" is no split "arestin"
    "D-2-hydroxyglutaric aciduria",  # a letter and a number are a vitamin after "vitamin"
])
def test_ordinary_words_are_not_read_as_medicines(text):
    assert not any(origin == DRUG_MISREAD for _, _, origin in _meant(text))


@pytest.mark.parametrize("text", [
    "exercise in the evening",  # "Evenity" stems to "even", as "evening" does
    "enlarged parietal foramina",  # "Pariet" and "parietal"
    "propionic acidemia",  # "Propion"
    "eat before bed",  # "Beforal"
])
def test_a_medicines_name_matches_as_written_not_by_its_stem(text):
    assert not any(origin.startswith("drugs:") for _, _, origin in _meant(text))


def test_a_medicine_named_by_another_name_weighs_as_the_readers_word():
    parsed = QueryBuilder(SynonymTable.load()).build("flomax dizziness")
    assert parsed.terms["tamsulosin"] == parsed.terms["flomax"] == 1.0
    assert "tamsulosin" in parsed.names  # an article titled Tamsulosin is one the reader named
    brands = QueryBuilder(SynonymTable.load()).build("fluoxetine dose")
    assert brands.terms["prozac"] < brands.terms[term_for_word("fluoxetine")]


@pytest.mark.parametrize(("question", "article"), [
    ("what is in flomax", "tamsulosin"),
    ("singular 10 mg", "montelukast"),
    ("level iracetam", "levetiracetam"),
    ("vit b12", "vitamin-b12"),
    ("Keppra and alcohol", "levetiracetam"),
    ("lipitor muscle pain", "atorvastatin"),
])
def test_brand_and_misspelled_names_find_the_generics_article_first(medicines_engine,
                                                                      question, article):
    page = medicines_engine.search(question)
    assert page.results and page.results[0].id == article
    assert not page.corrected  # a medicine's name is not "corrected" to another word


def test_a_misspelled_medicine_is_not_taken_for_a_typo_of_an_index_word(medicines_engine):
    # "iracetam" is no index word; the split name is levetiracetam, not a spelling fix.
    page = medicines_engine.search("level iracetam")
    assert page.suggestion is None
    assert ("level iracetam", "levetiracetam") in page.also_searched


def test_the_table_loads_fast_once_per_process():
    import time

    for cached in (drugs.drug_names, DrugIndex.shipped, synonyms._drug_entries):
        cached.cache_clear()
    started = time.perf_counter()
    SynonymTable.warm()
    # Generous for a shared machine: about 0.2 s on one free core.
    assert time.perf_counter() - started < 3.0
    table = SynonymTable.load()
    started = time.perf_counter()
    table.expand("what is in flomax")
    assert time.perf_counter() - started < 0.05


def test_a_missing_table_is_said_once_and_searches_go_on(monkeypatch, caplog):
    monkeypatch.setattr(drugs, "DATA_FILE", "data/no_such_table.tsv")
    drugs.drug_names.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="indexer.text.drugs"):
            assert drugs.drug_names() == ()
            assert drugs.drug_names() == ()
        assert sum("Drug name table unavailable" in r.message for r in caplog.records) == 1
        assert DrugIndex(drugs.drug_names()).misreadings(["singular", "10", "mg"]) == []
    finally:
        drugs.drug_names.cache_clear()
