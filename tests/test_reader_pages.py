"""The pages a reader meets on a multi-source corpus without sample questions: the home page
(what the collection is, searches drawn from it, an A–Z index), the subject index, and article
pages that keep their sections and lists."""

from __future__ import annotations

import re

import pytest

from indexer.search.layout import (
    HEADING,
    LIST,
    PARAGRAPH,
    SUBHEADING,
    article_blocks,
    as_list,
)
from tests.browser_support import MEDQUAD_SHAPED, build_index
from tests.test_web import make_client


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """The site over twelve MedQuAD-shaped records from nine publishers."""
    root = tmp_path_factory.mktemp("medquad-shaped")
    return make_client(build_index(MEDQUAD_SHAPED, root / "index"))


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# -- the home page ---------------------------------------------------------------------------


def test_the_home_page_says_what_the_collection_is(client):
    page = text_of(client.get("/").get_data(as_text=True))
    assert "12 articles from CDC, MedlinePlus, NHLBI" in page
    assert "and 3 more publishers" in page


def test_without_sample_questions_the_home_page_suggests_the_most_covered_subjects(client):
    html = client.get("/").get_data(as_text=True)
    samples = re.search(r'<section class="samples".*?</section>', html, re.S).group()
    # Three publishers wrote about high blood pressure, two about heart attacks.
    assert re.findall(r'<a href="/search\?q=([^"]+)"', samples) == [
        "High+Blood+Pressure", "Heart+Attack"]


def test_the_home_page_links_each_letter_that_has_subjects(client):
    html = client.get("/").get_data(as_text=True)
    assert '<a href="/topics/h" title="2 subjects">H</a>' in html
    assert '<span aria-disabled="true">E</span>' in html  # no subject starts with E


# -- the subject index -----------------------------------------------------------------------


def test_a_letter_lists_its_subjects_linking_one_page_to_it_and_several_to_a_search(client):
    html = client.get("/topics/h").get_data(as_text=True)
    topics = re.search(r'<ul class="topics">.*?</ul>', html, re.S).group()
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', topics) == [
        ("/search?q=Heart+Attack", "Heart Attack"),
        ("/search?q=High+Blood+Pressure", "High Blood Pressure"),
    ]
    assert "(3 pages)" in topics
    single = client.get("/topics/i").get_data(as_text=True)
    assert '<a href="/article/MPlusHealthTopics-0007">Insomnia</a>' in single


@pytest.mark.parametrize("letter", ["zz", "1", "%C3%A9", ".."])
def test_a_letter_that_is_not_one_is_not_found(client, letter):
    assert client.get(f"/topics/{letter}").status_code == 404


def test_the_other_letter_has_a_page_even_when_empty(client):
    response = client.get("/topics/other")
    assert response.status_code == 200
    assert "No subjects start with #" in text_of(response.get_data(as_text=True))


# -- article pages ---------------------------------------------------------------------------


def test_an_article_shows_its_questions_as_headings_and_its_lists_as_lists(client):
    html = client.get("/article/NHLBI-0001").get_data(as_text=True)
    body = re.search(r'<div class="body">(.*?)</div>', html, re.S).group(1)
    assert re.findall(r"<h2>([^<]+)</h2>", body) == [
        "What is High Blood Pressure?", "What are the symptoms of High Blood Pressure?",
        "What are the treatments for High Blood Pressure?"]
    assert '<p class="lead">Treatment may include:</p>' in body
    assert re.findall(r"<li>([^<]+)</li>", body)[-3:] == [
        "Healthy lifestyle changes, such as eating less salt", "Medicines called diuretics",
        "Beta blockers and ACE inhibitors"]
    assert " - " not in text_of(body)


def test_the_headings_are_not_searched(client):
    # The phrase is in a heading of NHLBI-0001 only: no article has it, so the page falls
    # back to a looser reading. A phrase of its text is found as typed.
    heading = client.get('/api/search?q="treatments for high blood pressure"&exact=1').get_json()
    assert heading["loosened"]
    text = client.get('/api/search?q="treatment may include"&exact=1').get_json()
    assert not text["loosened"] and [r["id"] for r in text["results"]] == ["NHLBI-0001"]


def test_the_source_is_named_and_linked_at_the_top_of_an_article(client):
    html = client.get("/article/CDC-0005").get_data(as_text=True)
    top = html[html.index("<h1>"):html.index('<div class="body">')]
    assert re.search(r'<a class="publisher" href="https://www.cdc.gov/[^"]*" '
                     r'rel="noopener nofollow"[^>]*>CDC</a>', top)


# -- the layout, without a server ------------------------------------------------------------


def test_a_label_before_dashed_capitalised_items_is_a_list():
    block = as_list("Key Points - Gout is arthritis. - It can run in families.")
    assert block.kind == LIST and block.html == "Key Points"
    assert block.items == ("Gout is arthritis.", "It can run in families.")


def test_a_paragraph_that_opens_with_a_dash_is_a_list():
    assert as_list("- having a dry mouth - crying without tears").items == (
        "having a dry mouth", "crying without tears")


@pytest.mark.parametrize("prose", [
    "Type 2 diabetes - the most common form - is rising.",
    "It is a well-known cause of pain.",
    "Blood pressure is 140/90 - or higher - in most adults who have this condition.",
])
def test_prose_with_dashes_stays_a_paragraph(prose):
    assert as_list(prose) is None


def test_headings_go_before_the_paragraph_they_head_and_are_escaped():
    blocks = article_blocks(["One.", "Two."], [(1, "Is <b> safe?")])
    assert [(b.kind, b.html) for b in blocks] == [
        (PARAGRAPH, "One."), (HEADING, "Is &lt;b&gt; safe?"), (PARAGRAPH, "Two.")]


@pytest.mark.parametrize(("line", "heading"), [
    ("Measuring Blood Pressure", True), ("Causes of <mark>Diabetes</mark>", True),
    ("Espaol is a word.", False), ("Symptoms include:", False), ("NOTE", False),
    ("Blood pressure is the force of blood pushing against the walls", False),
])
def test_a_short_line_before_more_text_is_a_subheading(line, heading):
    blocks = article_blocks([line, "More text follows here."])
    assert (blocks[0].kind == SUBHEADING) is heading


def test_a_short_last_line_is_not_a_subheading():
    assert article_blocks(["Text first.", "Contact Us"])[-1].kind == PARAGRAPH


def test_a_long_paragraph_is_cut_at_sentence_ends():
    sentence = "This sentence is about forty characters. "
    blocks = article_blocks([(sentence * 40).strip()])
    assert len(blocks) > 1
    assert all(b.kind == PARAGRAPH and b.html.endswith(".") for b in blocks)


def test_a_chosen_facet_offers_a_link_back_to_all_its_values(client):
    html = client.get("/search?q=blood&publisher=NHLBI").get_data(as_text=True)
    clear = re.search(r'<a class="clear" href="([^"]+)">Any publisher</a>', html)
    assert clear and clear.group(1) == "/search?q=blood"


def test_a_word_searched_for_a_lay_phrase_says_why_it_is_marked(client):
    found = client.get("/api/search?q=cant+sleep").get_json()
    assert found["results"][0]["id"] == "MPlusHealthTopics-0007"
    snippet = found["results"][0]["snippet"]
    assert '<mark title="cant sleep → insomnia">' in snippet
    # The reader's own word is marked without a note.
    assert "<mark>sleep" in snippet
