"""The web front end through Flask's test client: every route, every error path, the headers."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from indexer.config import Settings
from indexer.search import SearchEngine
from tests.browser_support import (
    LONG_ID,
    ODD_ID,
    PAGED_COUNT,
    PAGED_WORD,
    SCRIPT_TEXT,
    build_index,
    write_hostile_corpus,
    write_paged_corpus,
)
from tests.conftest import SEED_QUESTION
from webapp import create_app
from webapp.views import page_window

HAMSTRING = "Many people have experienced twitching hamstrings"
HAMSTRING_ID = "seed-digest/many-people-have-experienced-twitching-hamstrings-especially-when"
INSOMNIA_TEASER_ID = "seed-digest/many-people-suffer-from-insomnia-due-to-work"
DISCLAIMER = "Information, not medical advice."


# -- fixtures --------------------------------------------------------------------------------


def make_client(index_dir, engine=None):
    """A test client for an app over `index_dir` (ten results a page, whatever the env says)."""
    app = create_app(Settings(index_dir=index_dir, per_page=10), engine=engine)
    return app.test_client()


@pytest.fixture(scope="module")
def client(shipped_index, engine):
    """The site over the shipped corpus."""
    return make_client(shipped_index, engine)


@pytest.fixture(scope="module")
def paged_client(tmp_path_factory):
    """The site over sixty generated articles that all share one word."""
    root = tmp_path_factory.mktemp("paged")
    write_paged_corpus(root / "corpus")
    return make_client(build_index(root / "corpus", root / "index"))


@pytest.fixture(scope="module")
def hostile_client(tmp_path_factory):
    """The site over articles whose text, titles, ids and links contain markup and oddities."""
    root = tmp_path_factory.mktemp("hostile")
    write_hostile_corpus(root / "corpus")
    return make_client(build_index(root / "corpus", root / "index"))


@pytest.fixture
def no_index_client(tmp_path):
    """The site pointed at a folder with no index in it."""
    return make_client(tmp_path / "nothing-here")


class BrokenEngine(SearchEngine):
    """An engine whose every search fails, to see what readers get when something breaks."""

    def search(self, *args, **kwargs):
        raise RuntimeError("the disk caught fire")

    def article(self, *args, **kwargs):
        raise RuntimeError("the disk caught fire")


# -- helpers ---------------------------------------------------------------------------------


def html_of(response) -> str:
    """The body of an HTML response (asserting it is one)."""
    assert response.mimetype == "text/html", response.mimetype
    return response.get_data(as_text=True)


def main_of(html: str) -> str:
    """The <main> element's inner HTML."""
    match = re.search(r"<main\b[^>]*>(.*)</main>", html, re.S)
    assert match, "no <main> element"
    return match.group(1)


def title_of(html: str) -> str:
    """The <title> element's text, as written in the HTML."""
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


def box_value(html: str) -> str:
    """The search box's value attribute, as written in the HTML."""
    tag = re.search(r'<input id="q"[^>]*>', html, re.S).group(0)
    return re.search(r'value="([^"]*)"', tag).group(1)


def hits(html: str) -> list[str]:
    """The result items on a results page."""
    return re.findall(r'<li class="hit">(.*?)</li>', html, re.S)


def hit_links(html: str) -> list[str]:
    """The article links of the results, in order, unescaped."""
    return [h.replace("&amp;", "&") for h in re.findall(r'<h2><a href="([^"]+)"', html)]


def page_links(html: str) -> dict[str, str]:
    """Pagination links by their text (‹ Previous, 1, 2, ..., Next ›)."""
    nav = re.search(r'<nav class="pages".*?</nav>', html, re.S)
    if not nav:
        return {}
    return {text.strip(): href.replace("&amp;", "&")
            for href, text in re.findall(r'<a [^>]*href="([^"]+)"[^>]*>([^<]+)</a>', nav.group(0))}


def query_of(url: str) -> dict[str, str]:
    """A URL's query arguments (the first value of each)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class InlineCodeFinder(HTMLParser):
    """Collects what a strict Content-Security-Policy would block: inline scripts and styles."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            if "src" not in names:
                self.problems.append("inline <script>")
            self._in_script = True
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        self.problems.extend(f"{name} handler on <{tag}>" for name in names
                             if name.startswith("on"))
        for name, value in attrs:
            if name in ("href", "src", "action") and value and \
                    value.strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in <{tag} {name}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def inline_code(html: str) -> list[str]:
    """Inline scripts, styles, event handlers and javascript: URLs in the page."""
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.problems


# -- home ------------------------------------------------------------------------------------


def test_home_page_has_a_labelled_autofocused_search_box_in_a_search_landmark(client):
    """The box is labelled, focused on arrival and inside a <search> landmark with a form."""
    html = html_of(client.get("/"))
    search = re.search(r"<search>(.*?)</search>", html, re.S).group(1)
    assert '<form class="searchbox" action="/search" method="get">' in search
    assert '<label for="q"' in search
    tag = re.search(r'<input id="q"[^>]*>', search, re.S).group(0)
    assert 'name="q"' in tag and "autofocus" in tag


def test_search_box_is_an_accessible_combobox_with_a_live_region(client):
    """The type-ahead follows the ARIA combobox pattern and announces through a live region."""
    html = html_of(client.get("/"))
    tag = re.search(r'<input id="q"[^>]*>', html, re.S).group(0)
    for attribute in ('role="combobox"', 'aria-autocomplete="list"',
                      'aria-controls="q-suggestions"', 'aria-expanded="false"'):
        assert attribute in tag
    assert '<ul id="q-suggestions" role="listbox"' in html
    assert re.search(r'id="q-status"[^>]*aria-live="polite"', html)


def test_search_box_is_focused_only_on_the_home_page(client):
    """Results and articles keep the reader's place: no autofocus there."""
    for url in (f"/search?q={SEED_QUESTION}", f"/article/{HAMSTRING_ID}"):
        tag = re.search(r'<input id="q"[^>]*>', html_of(client.get(url)), re.S).group(0)
        assert "autofocus" not in tag, url


def test_home_page_lists_the_corpus_sample_questions_as_search_links(client):
    """The sample question that came with the corpus is one click from its results."""
    html = html_of(client.get("/"))
    link = f'<a href="/search?q={SEED_QUESTION.replace(" ", "+")}">{SEED_QUESTION}</a>'
    assert link in html


@pytest.mark.parametrize("q", ["", "   ", "\t"])
def test_blank_search_shows_the_home_page(client, q):
    """Submitting an empty box is not an error: it shows the search page again."""
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200
    assert "Find health articles" in html_of(response)


# -- results ---------------------------------------------------------------------------------


def test_seed_question_lists_the_hamstring_article_first_with_tendons_marked(client):
    """The sample question's answer is the first result, its snippet marking the matched word."""
    html = html_of(client.get("/search", query_string={"q": SEED_QUESTION}))
    first = hits(html)[0]
    assert HAMSTRING in first
    assert "<mark>tendons</mark>" in first


def test_results_show_the_count_and_the_time_taken(client):
    """The count line says how many results (articles, one per subject) and how many
    milliseconds."""
    html = html_of(client.get("/search", query_string={"q": SEED_QUESTION}))
    count = re.search(r'<p class="count">(.*?)</p>', html, re.S).group(1)
    assert re.fullmatch(r"1 article\s+in (\d+|under 1) ms", " ".join(count.split()))


def test_query_is_escaped_in_the_search_box_and_the_title(client):
    """What was typed comes back in the box and the title as text, never as markup."""
    q = '"><script>alert(1)</script> tendon & <b>x</b>'
    html = html_of(client.get("/search", query_string={"q": q}))
    assert box_value(html) == str(escape(q))
    assert title_of(html) == f"{escape(q)} – Health article search"
    assert "<script>alert(1)" not in html and "<b>x</b>" not in html


def test_misspelling_shows_corrected_results_and_a_link_to_the_correction(client):
    """A misspelt word is corrected: its results are shown, with links to both spellings."""
    html = html_of(client.get("/search", query_string={"q": "insomina"}))
    notice = re.search(r'<p class="notice">(.*?)</p>', html, re.S).group(1)
    assert "Showing results for" in notice
    assert '<a href="/search?q=insomnia" class="suggestion">insomnia</a>' in notice
    assert '<a href="/search?q=insomina&amp;exact=1" class="exact">insomina</a>' in notice
    assert "<mark>insomnia</mark>" in hits(html)[0]
    assert box_value(html) == "insomina"


def test_search_instead_for_the_words_as_typed_turns_correction_off(client):
    """exact=1 searches the typed words: no correction, so a lone misspelling finds nothing."""
    html = html_of(client.get("/search", query_string={"q": "insomina", "exact": "1"}))
    assert 'class="notice"' not in html and "No articles found" in html
    mixed = html_of(client.get("/search", query_string={"q": "insomina tendon", "exact": "1"}))
    assert 'class="notice"' not in mixed and len(hits(mixed)) == 1
    assert query_of(hit_links(mixed)[0]) == {"q": "insomina tendon", "exact": "1", "page": "1"}


def test_partly_misspelled_query_is_corrected_too(client):
    """One misspelt word among good ones: the corrected query's results are shown."""
    html = html_of(client.get("/search", query_string={"q": "insomina tendon"}))
    assert '<a href="/search?q=insomnia+tendon" class="suggestion">insomnia tendon</a>' in html
    assert len(hits(html)) == 2


class SuggestingEngine(SearchEngine):
    """The real engine's results for the words as typed, plus a suggestion it did not apply."""

    def search(self, query, page=1, per_page=None, correct=True, filters=None):
        result = super().search(query, page=page, per_page=per_page, correct=False,
                                filters=filters)
        return replace(result, suggestion="hamstring cramps", corrected=False)


def test_suggestion_that_was_not_applied_is_offered_as_did_you_mean(shipped_index):
    """When the engine suggests a spelling but keeps the typed words, the page asks."""
    suggesting = make_client(shipped_index, SuggestingEngine(Settings(index_dir=shipped_index)))
    html = html_of(suggesting.get("/search", query_string={"q": "hamstrng cramps"}))
    notice = re.search(r'<p class="notice">(.*?)</p>', html, re.S).group(1)
    assert "Did you mean" in notice
    assert '<a href="/search?q=hamstring+cramps" class="suggestion">hamstring cramps</a>' in notice
    assert HAMSTRING in hits(html)[0]


def test_correctly_spelled_query_has_no_did_you_mean(client):
    """No correction is offered for words the index knows."""
    html = html_of(client.get("/search", query_string={"q": "calcium cramps"}))
    assert "Did you mean" not in html and 'class="suggestion"' not in html


def test_teaser_results_are_labelled(client):
    """A teaser hit carries a visible "summary only" label; a full article does not."""
    teaser = hits(html_of(client.get("/search", query_string={"q": "insomnia"})))[0]
    assert '<span class="badge"' in teaser and ">summary only</span>" in teaser
    article = hits(html_of(client.get("/search", query_string={"q": "hamstring"})))[0]
    assert 'class="badge"' not in article


def test_result_links_carry_the_query_to_the_article(client):
    """Each result links to its article with the query and page, for highlighting and back."""
    link = hit_links(html_of(client.get("/search", query_string={"q": "tendon"})))[0]
    assert urlsplit(link).path == f"/article/{HAMSTRING_ID}"
    assert query_of(link) == {"q": "tendon", "page": "1"}


def test_no_results_page_offers_tips_and_sample_questions(client):
    """An empty result is a page of help: the engine's message, tips and sample questions."""
    response = client.get("/search", query_string={"q": "zzxqv"})
    assert response.status_code == 200
    main = main_of(html_of(response))
    assert "No articles found" in main and 'class="count"' not in main
    assert "Use fewer or more general words." in main
    assert "Try a question" in main and SEED_QUESTION in main
    assert "<ol" not in main


def test_words_no_article_has_show_the_closest_in_meaning_and_say_so(client):
    """When no article has the words, the closest in meaning are listed, with a notice."""
    main = main_of(html_of(client.get("/search", query_string={"q": "itchy flaky scalp"})))
    assert "No article has these words. These are the closest in meaning." in main
    first = hits(main)[0]
    assert "Dandruff" in first and ">related subject</span>" in first


def test_query_of_only_common_words_explains_itself(client):
    """A query the engine cannot search on says why instead of showing nothing."""
    main = main_of(html_of(client.get("/search", query_string={"q": "the of and"})))
    assert "too common" in main


@pytest.mark.parametrize("page", ["abc", "-3", "0", "1.5", "", "١", "+-5", "--1", "1_0"])
def test_odd_page_numbers_show_the_first_page(client, page):
    """A page number that is not a positive whole number means page 1."""
    response = client.get("/search", query_string={"q": "tendon", "page": page})
    assert response.status_code == 200
    html = html_of(response)
    assert '<ol class="results" start="1">' in html and len(hits(html)) == 1


@pytest.mark.parametrize("page", ["2", "100", "99999", "9" * 50])
def test_page_past_the_last_redirects_to_the_last_page(client, page):
    """Asking for page 99999 of a one-page result leads to that one page."""
    response = client.get("/search", query_string={"q": "tendon", "page": page})
    assert response.status_code == 302
    assert query_of(response.headers["Location"]) == {"q": "tendon", "page": "1"}


def test_pages_of_a_larger_index_link_to_each_other(paged_client):
    """Page 1 has next but no previous, a middle page both, the last page no next."""
    first = html_of(paged_client.get("/search", query_string={"q": PAGED_WORD}))
    assert f"About {PAGED_COUNT} articles" in first and "page 1 of 6" in first
    links = page_links(first)
    assert "‹ Previous" not in links
    assert query_of(links["Next ›"])["page"] == "2"
    assert [k for k in links if k.isdigit()] == ["1", "2", "3", "4", "5", "6"]
    assert 'aria-current="page"' in first and len(hits(first)) == 10

    middle = html_of(paged_client.get("/search", query_string={"q": PAGED_WORD, "page": 3}))
    links = page_links(middle)
    assert query_of(links["‹ Previous"])["page"] == "2"
    assert query_of(links["Next ›"])["page"] == "4"
    assert '<ol class="results" start="21">' in middle and "page 3 of 6" in middle

    last = html_of(paged_client.get("/search", query_string={"q": PAGED_WORD, "page": 6}))
    assert "Next ›" not in page_links(last) and len(hits(last)) == 10
    assert "page 6 of 6" in last and "<ol class=\"results\" start=\"51\">" in last


@pytest.mark.parametrize("page, pages, expected", [
    (1, 1, [1]), (1, 6, [1, 2, 3, 4, 5, 6]), (1, 100, list(range(1, 10))),
    (50, 100, list(range(46, 55))), (100, 100, list(range(92, 101))), (3, 9, list(range(1, 10))),
])
def test_page_links_show_nine_numbers_around_the_current_page(page, pages, expected):
    """The numbered links stay nine wide, centred where they can be, never past the ends."""
    assert list(page_window(page, pages)) == expected


def test_exact_search_keeps_exact_in_its_page_links(paged_client):
    """Paging through a search for the words as typed keeps it that way."""
    html = html_of(paged_client.get("/search", query_string={"q": PAGED_WORD, "exact": "1"}))
    assert query_of(page_links(html)["Next ›"]) == {"q": PAGED_WORD, "exact": "1", "page": "2"}


def test_pages_of_a_larger_index_show_every_article_once(paged_client):
    """Following the pages from first to last visits each matching article exactly once."""
    seen = []
    for page in range(1, 7):
        html = html_of(paged_client.get("/search", query_string={"q": PAGED_WORD, "page": page}))
        seen += hit_links(html)
    paths = [urlsplit(link).path for link in seen]
    assert len(paths) == PAGED_COUNT and len(set(paths)) == PAGED_COUNT


def test_too_long_query_gets_a_400_page(client):
    """A query longer than the box allows (only possible by editing the URL) is refused."""
    response = client.get("/search", query_string={"q": "tendon " * 400})
    assert response.status_code == 400
    html = html_of(response)
    assert "400 Bad Request" in html and "too long" in html and DISCLAIMER in html


# -- articles --------------------------------------------------------------------------------


def test_article_page_highlights_the_search_words_and_links_back(client):
    """Coming from a search, the article marks its words and links back to the same page."""
    response = client.get(f"/article/{HAMSTRING_ID}", query_string={"q": "tendon", "page": 1})
    html = html_of(response)
    main = main_of(html)
    assert "<mark>tendons</mark>" in main
    back = re.search(r'<p class="back"><a href="([^"]+)">', main).group(1).replace("&amp;", "&")
    assert urlsplit(back).path == "/search"
    assert query_of(back) == {"q": "tendon", "page": "1"}
    assert title_of(html).startswith(HAMSTRING)


def test_article_without_a_query_has_no_marks_and_no_back_link(client):
    """Opened directly, the article is plain text with no back link."""
    main = main_of(html_of(client.get(f"/article/{HAMSTRING_ID}")))
    assert "<mark>" not in main and 'class="back"' not in main
    assert "calcium deficiency" in main


def test_back_link_page_number_is_sanitised(client):
    """Whatever is passed as ?page= the back link carries only a page number."""
    html = html_of(client.get(f"/article/{HAMSTRING_ID}",
                              query_string={"q": "tendon", "page": "javascript:alert(1)"}))
    back = re.search(r'<p class="back"><a href="([^"]+)">', html).group(1).replace("&amp;", "&")
    assert query_of(back)["page"] == "1"


def test_teaser_article_says_it_is_only_the_opening(client):
    """A teaser's page says plainly that the rest of the article is not here."""
    main = main_of(html_of(client.get(f"/article/{INSOMNIA_TEASER_ID}",
                                      query_string={"q": "insomnia"})))
    assert "This is only the opening of an article" in main and "<mark>insomnia</mark>" in main
    full = main_of(html_of(client.get(f"/article/{HAMSTRING_ID}")))
    assert "only the opening" not in full


def test_long_article_paragraph_is_split_into_readable_chunks(hostile_client):
    """A wall of text is shown as several paragraphs of whole sentences, words intact."""
    main = main_of(html_of(hostile_client.get(f"/article/{LONG_ID}",
                                              query_string={"q": "potassium"})))
    body = re.search(r'<div class="body">(.*?)</div>', main, re.S).group(1)
    paragraphs = re.findall(r"<p>(.*?)</p>", body, re.S)
    assert len(paragraphs) > 2
    assert all(p.startswith("Sentence ") and p.endswith("well.") for p in paragraphs)
    # The first three occurrences are marked, each after an anchor to step to, not all 40.
    assert body.count("<mark>potassium</mark>") == 3
    assert [f'<span class="match" id="match-{n}"></span><mark>' in body for n in (1, 2, 3)] \
        == [True] * 3
    assert 'href="#match-3"' in main


@pytest.mark.parametrize("path", [
    "/article/no-such-article",
    "/article/../../etc/passwd",
    "/article/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/article/..%2F..%2Fpyproject.toml",
    "/article/%00",
    "/article/%FF%FE",
    "/article/" + "a" * 3000,
    "/article/seed-digest",
    "/article/seed-digest/",
    f"/article/{HAMSTRING_ID}/",
    f"/article/{HAMSTRING_ID.upper()}",
    "/article/<script>",
])
def test_unknown_or_odd_article_addresses_are_404_pages(client, path):
    """Unknown ids, path traversal and odd bytes get the friendly 404 page, not a file."""
    response = client.get(path)
    assert response.status_code == 404
    html = html_of(response)
    assert "404 Not Found" in html and "There is no article with that address." in html
    assert "<script>" not in main_of(html)


def test_article_route_without_an_id_is_a_404_page(client):
    """/article/ with nothing after it is not an article."""
    assert client.get("/article/").status_code == 404


# -- JSON API --------------------------------------------------------------------------------


def test_api_search_returns_the_documented_json_shape(client):
    """query, total, matched, page, per_page, took_ms, suggestion and results with seven
    fields each."""
    response = client.get("/api/search", query_string={"q": SEED_QUESTION})
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = response.get_json()
    assert {"query", "total", "matched", "page", "per_page", "took_ms", "suggestion",
            "results"} <= set(data)
    assert data["query"] == SEED_QUESTION and data["total"] == data["matched"] == 1
    assert data["page"] == 1 and data["per_page"] == 10
    assert isinstance(data["took_ms"], float) and data["took_ms"] >= 0
    assert data["suggestion"] is None
    [hit] = data["results"]
    assert set(hit) == {"id", "title", "url", "kind", "score", "snippet", "related",
                        "publisher", "publisher_full", "date", "also"}
    assert hit["id"] == HAMSTRING_ID and hit["kind"] == "article" and hit["related"] is False
    assert hit["title"].startswith(HAMSTRING) and hit["score"] > 0
    assert "<mark>tendons</mark>" in hit["snippet"]


def test_api_search_reports_the_spelling_correction(client):
    """A corrected search says what it searched for instead."""
    data = client.get("/api/search", query_string={"q": "insomina"}).get_json()
    assert data["suggestion"] == "insomnia" and data["corrected"] is True
    assert data["results"][0]["id"] == INSOMNIA_TEASER_ID
    assert data["results"][0]["kind"] == "teaser"


def test_api_search_with_exact_searches_the_words_as_typed(client):
    """exact=1 turns the correction off: "insomina" alone then finds nothing."""
    data = client.get("/api/search", query_string={"q": "insomina", "exact": "1"}).get_json()
    assert data["corrected"] is False and data["total"] == 0 and data["results"] == []


def test_api_search_with_a_blank_query_has_no_results_and_a_message(client):
    """An empty q is a valid search for nothing, explained."""
    data = client.get("/api/search", query_string={"q": ""}).get_json()
    assert data["total"] == 0 and data["results"] == [] and data["message"]


@pytest.mark.parametrize("per_page, expected", [("500", 50), ("51", 50), ("50", 50),
                                                ("7", 7), ("1", 1)])
def test_api_search_per_page_is_capped_at_50(paged_client, per_page, expected):
    """per_page above 50 is served as 50, smaller values as asked."""
    data = paged_client.get("/api/search",
                            query_string={"q": PAGED_WORD, "per_page": per_page}).get_json()
    assert data["per_page"] == expected and len(data["results"]) == expected
    assert data["total"] == PAGED_COUNT


def test_api_search_pages_do_not_overlap(paged_client):
    """Pages of 25 cover the sixty results without repeats."""
    ids = []
    for page in (1, 2, 3):
        data = paged_client.get("/api/search", query_string={
            "q": PAGED_WORD, "page": page, "per_page": 25}).get_json()
        assert data["page"] == page
        ids += [r["id"] for r in data["results"]]
    assert len(ids) == PAGED_COUNT == len(set(ids))


def test_api_search_page_past_the_last_has_no_results(paged_client):
    """Page 4 of sixty results at 25 a page is empty, not a repeat of page 3."""
    data = paged_client.get("/api/search", query_string={
        "q": PAGED_WORD, "page": 4, "per_page": 25}).get_json()
    assert data["page"] == 4 and data["total"] == PAGED_COUNT and data["results"] == []


@pytest.mark.parametrize("query_string, message", [
    ({}, "q is required"),
    ({"q": "x" * 2001}, "longer than 2000"),
    ({"q": "tendon", "page": "0"}, "page must be between 1 and 100"),
    ({"q": "tendon", "page": "-1"}, "page must be between 1 and 100"),
    ({"q": "tendon", "page": "101"}, "page must be between 1 and 100"),
    ({"q": "tendon", "page": "abc"}, "page must be a whole number"),
    ({"q": "tendon", "page": "1.5"}, "page must be a whole number"),
    ({"q": "tendon", "page": "1e3"}, "page must be a whole number"),
    ({"q": "tendon", "page": "+-5"}, "page must be a whole number"),
    ({"q": "tendon", "page": "1_0"}, "page must be a whole number"),
    ({"q": "tendon", "page": "١"}, "page must be a whole number"),
    ({"q": "tendon", "page": "9" * 5000}, "page must be a whole number"),
    ({"q": "tendon", "per_page": "0"}, "per_page must be at least 1"),
    ({"q": "tendon", "per_page": "-5"}, "per_page must be at least 1"),
    ({"q": "tendon", "per_page": "ten"}, "per_page must be a whole number"),
])
def test_api_search_bad_parameters_are_400_json(client, query_string, message):
    """Bad parameters get a JSON 400 saying what is wrong."""
    response = client.get("/api/search", query_string=query_string)
    assert response.status_code == 400 and response.mimetype == "application/json"
    data = response.get_json()
    assert data["status"] == 400 and data["error"] == "Bad Request"
    assert message in data["message"]


def test_api_suggest_completes_the_last_word(client):
    """Type-ahead completes the word being typed from the index's vocabulary."""
    data = client.get("/api/suggest", query_string={"q": "hams"}).get_json()
    assert data["query"] == "hams"
    assert {"hamstring", "hamstrings"} <= set(data["suggestions"])


def test_api_suggest_keeps_the_words_before_the_last(client):
    """Earlier words stay as typed; only the last is completed."""
    suggestions = client.get("/api/suggest", query_string={"q": "gastric ca"}).get_json()[
        "suggestions"]
    assert "gastric cancer" in suggestions and len(suggestions) <= 8


@pytest.mark.parametrize("q", ["", "h", "zzzqqq", "x" * 5000, "<script>", "\x00"])
def test_api_suggest_with_odd_input_returns_an_empty_list(client, q):
    """Short, unknown, huge or hostile prefixes give a 200 with no suggestions."""
    response = client.get("/api/suggest", query_string={"q": q})
    assert response.status_code == 200
    data = response.get_json()
    assert data["suggestions"] == [] and len(data["query"]) <= 100


def test_api_unknown_path_is_a_json_404(client):
    """Under /api/ even a wrong address answers in JSON."""
    response = client.get("/api/nothing")
    assert response.status_code == 404 and response.get_json()["status"] == 404


def test_api_wrong_method_is_a_json_405(client):
    """POST to a GET-only API is a JSON 405."""
    response = client.post("/api/search", data={"q": "tendon"})
    assert response.status_code == 405 and response.get_json()["status"] == 405


# -- other routes ----------------------------------------------------------------------------


def test_opensearch_description_points_at_the_search_page(client):
    """Browsers can add the site as a search engine; the description is linked from pages."""
    response = client.get("/opensearch.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/opensearchdescription+xml"
    xml = response.get_data(as_text=True)
    assert "<ShortName>" in xml
    # No base URL configured: the request's own path, never the Host header.
    assert 'template="/search?q={searchTerms}"' in xml
    assert 'type="application/opensearchdescription+xml"' in html_of(client.get("/"))
    hostile = client.get("/opensearch.xml", headers={"Host": "evil.example.com"})
    assert "evil.example.com" not in hostile.get_data(as_text=True)


def test_opensearch_description_uses_the_configured_base_url(shipped_index, engine):
    settings = Settings(index_dir=shipped_index, base_url="https://health.example.org/")
    client = create_app(settings, engine=engine).test_client()
    xml = client.get("/opensearch.xml", headers={"Host": "evil.example.com"}).get_data(
        as_text=True)
    assert 'template="https://health.example.org/search?q={searchTerms}"' in xml
    assert 'template="https://health.example.org/api/search?q={searchTerms}"' in xml
    assert "evil.example.com" not in xml


def test_results_say_which_generation_the_whole_page_was_read_from(client):
    """Behind a load balancer a page must be traceable to one index: the JSON says which
    generation and commit, and so does a header, on the API and on the HTML page alike."""
    health = client.get("/healthz").get_json()
    expected = f"{health['generation']}/{health['commit']}"
    api = client.get("/api/search?q=tendon")
    assert (api.get_json()["generation"], api.get_json()["commit"]) == (
        health["generation"], health["commit"])
    assert api.headers["X-Index-Generation"] == expected
    assert client.get("/search?q=tendon").headers["X-Index-Generation"] == expected


def test_healthz_reports_the_entries_and_whether_ranking_by_meaning_is_on(client, tmp_path):
    """The health check says ok, which generation (and commit) serves, how many entries are
    searchable, and whether questions are ranked by meaning (and how many articles have a
    vector)."""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body.pop("commit"), int)
    assert body == {"status": "ok", "generation": "gen-000001", "entries": 16,
                    "meaning": {"on": True, "vectors": 16}}
    from indexer.build import index_corpus
    from indexer.storage import IndexStore
    from tests.conftest import CORPUS

    index_corpus([CORPUS], IndexStore(tmp_path / "words"))  # no encoder: no vectors
    words_only = make_client(tmp_path / "words").get("/healthz").get_json()
    assert words_only["meaning"] == {"on": False, "vectors": 0} and words_only["entries"] == 16


def test_favicon_redirects_to_the_svg_icon(client):
    """/favicon.ico is not a 404 (browsers ask for it); the icon itself is served."""
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/static/favicon.svg")
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


def test_unknown_page_is_a_friendly_404_with_the_search_box(client):
    """A wrong address gets a page with the search box, sample questions and a way home."""
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = html_of(response)
    assert "404 Not Found" in html and 'id="q"' in html
    assert "Start a new search" in html and SEED_QUESTION in html


def test_wrong_method_is_a_405_page_that_says_what_is_allowed(client):
    """POST to a page is refused with an Allow header listing GET."""
    response = client.post("/search", data={"q": "tendon"})
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "405 Method Not Allowed" in html_of(response)


def test_missing_index_makes_pages_say_search_is_not_ready(no_index_client):
    """Before the first index run, pages say so (503) and the API and health check agree."""
    assert no_index_client.get("/").status_code == 200
    response = no_index_client.get("/search", query_string={"q": "tendon"})
    assert response.status_code == 503
    assert "Search is not ready" in html_of(response)
    assert no_index_client.get("/api/search?q=tendon").get_json()["status"] == 503
    assert no_index_client.get("/healthz").status_code == 503


def test_engine_failure_is_a_plain_500_without_a_traceback(shipped_index):
    """When the engine raises, readers get an apology page and the API a JSON error."""
    broken = make_client(shipped_index, BrokenEngine(Settings(index_dir=shipped_index)))
    response = broken.get("/search", query_string={"q": "tendon"})
    assert response.status_code == 500
    html = html_of(response)
    assert "Something went wrong" in html and DISCLAIMER in html
    assert "Traceback" not in html and "caught fire" not in html
    api = broken.get("/api/search", query_string={"q": "tendon"})
    assert api.status_code == 500 and "caught fire" not in api.get_data(as_text=True)
    assert api.get_json()["status"] == 500


# -- security --------------------------------------------------------------------------------

EVERY_KIND_OF_RESPONSE = [
    "/", f"/search?q={SEED_QUESTION}", "/search?q=zzxqv", "/search?q=tendon&page=5",
    f"/article/{HAMSTRING_ID}?q=tendon", "/article/nope", "/api/search?q=tendon",
    "/api/search", "/api/suggest?q=ham", "/api/nope", "/opensearch.xml", "/healthz",
    "/static/style.css", "/static/suggest.js", "/static/nope.css", "/favicon.ico", "/nope",
    "/search?q=" + "x" * 2001,
]


@pytest.mark.parametrize("url", EVERY_KIND_OF_RESPONSE)
def test_every_response_carries_the_security_headers(client, url):
    """Pages, API answers, static files, redirects and errors all carry the headers."""
    headers = client.get(url).headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "DENY"


def test_csp_allows_scripts_and_styles_only_from_the_site(client):
    """The policy names script-src and style-src as 'self' alone."""
    csp = client.get("/").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"


PAGES = ["/", f"/search?q={SEED_QUESTION}", "/search?q=insomina", "/search?q=insomina+tendon",
         "/search?q=zzxqv", f"/article/{HAMSTRING_ID}?q=tendon",
         f"/article/{INSOMNIA_TEASER_ID}?q=insomnia", "/nope", "/search?q=" + "x" * 2001]


@pytest.mark.parametrize("url", PAGES)
def test_pages_have_no_inline_script_or_style(client, url):
    """Nothing a strict CSP would block: no inline scripts, styles or event handlers."""
    assert inline_code(html_of(client.get(url))) == []


@pytest.mark.parametrize("url", PAGES)
def test_every_page_carries_the_medical_disclaimer(client, url):
    """Results, articles and error pages all say this is information, not medical advice."""
    html = html_of(client.get(url))
    footer = re.search(r'<footer class="site">(.*?)</footer>', html, re.S).group(1)
    assert DISCLAIMER in footer and "emergency" in footer


def test_markup_in_article_text_is_escaped_in_results_and_on_the_article_page(hostile_client):
    """An article whose text contains <script> shows it as text, never as a tag."""
    results = html_of(hostile_client.get("/search", query_string={"q": "alert selenium"}))
    article = html_of(hostile_client.get("/article/script-in-body",
                                         query_string={"q": "script"}))
    for html in (results, article):
        assert SCRIPT_TEXT not in html and "<b>bold</b>" not in html
        assert inline_code(html) == []
    assert re.search(r'&lt;(<span class="match" id="match-\d+"></span>)?<mark>script</mark>'
                     r'&gt;alert\(1\)&lt;/(<span class="match" id="match-\d+"></span>)?'
                     r'<mark>script</mark>&gt;', article)
    assert "&lt;b&gt;bold&lt;/b&gt;" in article


def test_markup_in_titles_is_escaped(hostile_client):
    """A title with an <img onerror> tag is shown as text in results, article and <title>."""
    results = html_of(hostile_client.get("/search", query_string={"q": "zinc"}))
    article = html_of(hostile_client.get("/article/markup-title", query_string={"q": "zinc"}))
    for html in (results, article):
        assert "<img" not in html and "&lt;img src=x onerror=alert(3)&gt;" in html
        assert inline_code(html) == []
    assert title_of(article).startswith("&lt;img")


def test_only_web_links_are_linked_as_the_article_source(hostile_client):
    """A javascript: source URL is not made a link; an https one is."""
    bad = html_of(hostile_client.get("/article/script-in-body"))
    assert 'class="source"' not in bad and "javascript:" not in bad
    good = html_of(hostile_client.get("/article/web-source"))
    assert '<a href="https://example.org/iodine" rel="noopener nofollow">' in good


def test_article_with_an_odd_id_opens_from_its_result_link(hostile_client):
    """An id with spaces, a slash, ? & and # is linked so that following the link opens it."""
    link = hit_links(html_of(hostile_client.get("/search", query_string={"q": "magnesium"})))[0]
    parts = urlsplit(link)
    assert "#" not in link
    response = hostile_client.get(parts.path, query_string=parts.query)
    assert response.status_code == 200
    assert "Magnesium with an odd address" in html_of(response)
    assert unquote(parts.path) == f"/article/{ODD_ID}"


HOSTILE_QUERIES = [
    "\x00", "*", "?", "AND", "OR NOT", '"', "((((", ")", "title:foo", "body:*", "%", "%00",
    "😀🩺", "مرحبا بالعالم", SCRIPT_TEXT, "' OR 1=1 --", "{{7*7}}", "{% raw %}", "\\", "tendon~",
    "tendon^5", "[a TO z]", "-tendon", "+tendon", "tend*", "a\u0301\u0301\u0301", "NOT",
    "x" * 100 + " " + "y" * 100, "tendon " * 280, "\u202etendon", "../../etc/passwd",
    "javascript:alert(1)", "\r\nSet-Cookie: x=1",
]


@pytest.mark.parametrize("q", HOSTILE_QUERIES)
def test_hostile_queries_never_fail(client, q):
    """Syntax, control characters, huge and foreign input: every route answers, none fails."""
    for url in ("/search", "/api/search", "/api/suggest", f"/article/{HAMSTRING_ID}"):
        response = client.get(url, query_string={"q": q})
        assert response.status_code == 200, (url, response.status_code)
        assert "Set-Cookie" not in response.headers
    html = html_of(client.get("/search", query_string={"q": q}))
    assert html.count("<script") == 1 and inline_code(html) == []


@pytest.mark.parametrize("raw", ["q=%ED%A0%80", "q=%FF%FE", "q=%C0%AF", "q=%", "q=%zz",
                                 "q=tendon&q=cramp", "q=tendon&page=%FF", "page=2"])
def test_malformed_query_strings_never_fail(client, raw):
    """Invalid UTF-8 and broken percent-escapes in the address are handled like any text."""
    for url in ("/search", "/api/search", "/api/suggest"):
        response = client.get(f"{url}?{raw}")
        assert response.status_code in (200, 400), (url, response.status_code)


@settings(max_examples=60, deadline=None)
@given(q=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=80)
       .filter(lambda s: s.strip()))
def test_any_typed_text_is_echoed_escaped_and_never_fails(client, q):
    """Whatever is typed, the results page is a 200 with the text escaped in the box."""
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200
    html = html_of(response)
    assert box_value(html) == str(escape(q))
    assert html.count("<script") == 1
    api = client.get("/api/search", query_string={"q": q})
    assert api.status_code == 200
    assert {"query", "total", "results"} <= set(api.get_json())


NUMBERISH = st.one_of(st.from_regex(r"[ +-]{0,3}[0-9]{0,13}[._e١]?[0-9]{0,3}", fullmatch=True),
                      st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20))


@settings(max_examples=100, deadline=None)
@given(page=NUMBERISH, per_page=NUMBERISH)
def test_any_page_parameters_get_an_answer_never_a_failure(client, page, per_page):
    """Whatever page and per_page say, pages answer 200 or a redirect, the API 200 or 400."""
    html = client.get("/search", query_string={"q": "tendon", "page": page})
    assert html.status_code in (200, 302)
    api = client.get("/api/search", query_string={"q": "tendon", "page": page,
                                                  "per_page": per_page})
    assert api.status_code in (200, 400)
    assert api.mimetype == "application/json"


def test_the_server_caps_the_c_allocators_arenas_where_glibc_allocates(monkeypatch):
    import platform

    from indexer.config import Settings
    from webapp.server import limit_malloc_arenas

    assert Settings().malloc_arenas == 2
    monkeypatch.setenv("HEALTHSEARCH_MALLOC_ARENAS", "0")
    assert Settings().malloc_arenas == 0
    assert limit_malloc_arenas(0) is False  # 0 leaves the allocator's default
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("the arena cap is glibc's mallopt")
    assert limit_malloc_arenas(2) is True


# -- limits, overload, ids, access log -------------------------------------------------------


def test_a_get_with_a_body_or_too_many_header_fields_is_refused(client):
    assert client.get("/healthz", data=b"x" * 10).status_code == 400
    assert client.get("/api/search?q=tendon", data=b"{}").get_json()["status"] == 400
    many = {f"X-Field-{n}": "1" for n in range(120)}
    assert client.get("/healthz", headers=many).status_code == 431
    assert client.get("/healthz", headers=dict(list(many.items())[:50])).status_code == 200


class OverloadedEngine(SearchEngine):
    """An engine that has no place left for a question to be computed."""

    def search(self, *args, **kwargs):
        from indexer.search.admission import Overloaded

        raise Overloaded(retry_after=7)


def test_an_overloaded_search_is_a_503_with_retry_after(shipped_index):
    client = make_client(shipped_index, OverloadedEngine(Settings(index_dir=shipped_index)))
    api = client.get("/api/search?q=tendon")
    assert api.status_code == 503 and api.headers["Retry-After"] == "7"
    assert api.get_json()["retry_after"] == 7
    page = client.get("/search?q=tendon")
    assert page.status_code == 503 and page.headers["Retry-After"] == "7"
    assert "try again in 7 seconds" in html_of(page)
    assert client.get("/healthz").status_code == 200  # needs no search


def test_a_partial_ranking_is_flagged_on_the_page_and_in_the_api(shipped_index,
                                                                monkeypatch):
    import indexer.search.engine as engine_module
    from indexer.ranking.budget import Budget

    client = make_client(shipped_index, SearchEngine(Settings(index_dir=shipped_index)))
    q = {"q": '"calcium deficiency" cramps'}
    assert client.get("/api/search", query_string=q).get_json()["partial"] is False
    # A budget spent before the question starts: its phrase is not matched.
    monkeypatch.setattr(engine_module, "Budget", lambda seconds=None: Budget(0))
    q = {"q": '"calcium supplementation" cramps'}
    assert client.get("/api/search", query_string=q).get_json()["partial"] is True
    page = " ".join(html_of(client.get("/search", query_string=q)).split())
    assert "this search was ranked in part" in page


def test_ids_that_would_climb_out_of_the_article_path_are_encoded(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = [{"id": i, "title": f"Dots {n}", "text": f"zqdots{n} an article with an odd id."}
               for n, i in enumerate(["../../x", "..", "a/./b", "plain/id"])]
    (corpus / "dots.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    client = make_client(build_index(corpus, tmp_path / "index"))
    from urllib.parse import urljoin

    for n in range(len(records)):
        page = client.get("/search", query_string={"q": f"zqdots{n}"})
        link = hit_links(html_of(page))[0]
        # Resolved as a browser resolves it, the link stays under /article and opens it.
        resolved = urlsplit(urljoin("http://localhost/search?q=x", link))
        assert resolved.path.startswith("/article"), link
        article = client.get(resolved.path + "?" + resolved.query)
        assert article.status_code == 200 and f"Dots {n}" in html_of(article), link
    assert hit_links(html_of(client.get("/search", query_string={"q": "zqdots3"})))[0] \
        .startswith("/article/plain/id?")  # ordinary ids keep their readable slashes


def test_the_access_log_has_a_json_line_per_request(shipped_index, engine, tmp_path):
    log = tmp_path / "access.log"
    client = create_app(Settings(index_dir=shipped_index, access_log=str(log)),
                        engine=engine).test_client()
    client.get("/api/search", query_string={"q": "zqnothing here"})
    client.get("/api/search", query_string={"q": "zqnothing here"})
    client.get("/healthz")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["path"], e["status"], e["cache"]) for e in lines] == [
        ("/api/search", 200, "miss"), ("/api/search", 200, "hit"), ("/healthz", 200, None)]
    assert lines[0]["q"] == "zqnothing here" and lines[0]["results"] == 0
    assert all(e["ms"] >= 0 and e["time"].endswith("+00:00") for e in lines)


def test_a_site_can_limit_each_clients_searches(shipped_index, engine):
    client = create_app(Settings(index_dir=shipped_index, rate_limit="3/minute"),
                        engine=engine).test_client()
    statuses = [client.get("/api/search?q=tendon").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = client.get("/search?q=tendon")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert client.get("/healthz").status_code == 200  # only searches are limited
