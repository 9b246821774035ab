"""Never an empty page where a looser reading finds articles: search syntax that finds nothing
is read as any of its words, words that find nothing are read for their meaning, and the
page says which (indexer.search.answer)."""

from __future__ import annotations

import pytest

from indexer.config import Settings
from indexer.query.cleaning import loosened_text
from indexer.search import SearchEngine
from indexer.search.answer import readable
from indexer.search.pages import BY_MEANING, LOOSENED
from tests.test_web import html_of, make_client

# Short questions readers ask about a medicine by its brand name; the fixture's articles name
# each medicine only by its generic name.
BRAND_QUESTIONS = [
    ("what is in flomax", "tamsulosin"),
    ("keppra", "levetiracetam"),
    ("lasix", "furosemide"),
    ("xanax", "alprazolam"),
    ("ambien", "zolpidem"),
    ("is zoloft", "sertraline"),
]


@pytest.fixture(scope="module")
def words_only(medicines_engine) -> SearchEngine:
    """The same index searched without the synonym and medicine tables, by words alone."""
    return SearchEngine(Settings(index_dir=medicines_engine.settings.index_dir,
                                 use_synonyms=False, dense=False))


@pytest.mark.parametrize(("question", "generic"), BRAND_QUESTIONS)
def test_short_brand_name_questions_that_found_nothing_find_their_medicine(
        medicines_engine, words_only, question, generic):
    assert words_only.search(question).total == 0  # no article has the brand name
    page = medicines_engine.search(question)
    assert page.total and page.results[0].id == generic


@pytest.mark.parametrize(("question", "generic"), BRAND_QUESTIONS[2:])
def test_without_the_medicine_table_a_brand_name_is_read_for_its_meaning(
        medicines_engine, question, generic):
    # The model knows these four brands (not "flomax" or "keppra": their questions find
    # nothing by meaning alone, only through the table).
    by_meaning = SearchEngine(Settings(index_dir=medicines_engine.settings.index_dir,
                                       use_synonyms=False))
    page = by_meaning.search(question)
    assert page.by_meaning and page.message == BY_MEANING
    assert page.results[0].id == generic


def test_a_medicines_name_is_a_word_the_model_may_read_and_a_made_up_word_is_not():
    assert readable(["xanax"]) and readable(["what", "is", "in", "flomax"])
    assert not readable(["zqsecretleak"]) and not readable(["flomax", "zqsecretleak"])


def test_a_phrase_no_article_has_is_read_as_its_words_and_the_page_says_so(medicines_engine):
    page = medicines_engine.search('"alcohol fluoxetine"')
    assert page.loosened and not page.by_meaning
    assert page.results[0].id == "fluoxetine"
    assert page.message == LOOSENED
    data = page.as_json()
    assert data["loosened"] is True and data["message"] == LOOSENED


def test_a_phrase_an_article_has_is_not_loosened(medicines_engine):
    page = medicines_engine.search('"blood thinner"')
    assert page.results[0].id == "warfarin" and not page.loosened and page.message is None


def test_required_words_are_loosened_and_exclusions_kept(medicines_engine):
    page = medicines_engine.search("alcohol AND xyzzyq -fluoxetine")
    assert page.loosened and page.total
    assert "fluoxetine" not in {r.id for r in page.results}
    assert loosened_text("+alcohol +xyzzyq") == "alcohol xyzzyq"
    assert loosened_text("cancer -lung") is None  # nothing required: nothing to loosen


def test_made_up_words_still_find_nothing(medicines_engine):
    page = medicines_engine.search("zqsecretleak")
    assert page.total == 0 and not page.loosened and not page.by_meaning


def test_the_results_page_shows_the_loosened_notice(medicines_engine):
    client = make_client(medicines_engine.settings.index_dir, medicines_engine)
    html = html_of(client.get("/search", query_string={"q": '"alcohol fluoxetine"'}))
    assert 'class="notice loosened"' in html and "showing articles with some of them" in html
