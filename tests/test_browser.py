"""The site in a real headless Chromium, served by waitress in a subprocess, as readers use it.

Every test fails on a console error or an uncaught page error. Screenshots (desktop and
phone) are saved in the test's temporary folder.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LONG_WORD,
    MEDQUAD_SHAPED,
    PAGED_COUNT,
    PAGED_WORD,
    Server,
    build_index,
    chromium_missing_reason,
    write_paged_corpus,
)
from tests.conftest import SEED_QUESTION

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_missing_reason() is not None,
                       reason=chromium_missing_reason() or ""),
]

HAMSTRING = "Many people have experienced twitching hamstrings"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(shipped_index, tmp_path_factory):
    """Two live servers: the shipped corpus, and sixty generated articles for paging."""
    root = tmp_path_factory.mktemp("browser")
    write_paged_corpus(root / "paged-corpus")
    paged_index = build_index(root / "paged-corpus", root / "paged-index")
    started = [Server(shipped_index, root / "shipped.log").start(),
               Server(paged_index, root / "paged.log").start()]
    try:
        for server in started:
            server.wait_ready()
        yield {"shipped": started[0].url, "paged": started[1].url}
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="module")
def medquad_site(tmp_path_factory):
    """A live server over twelve MedQuAD-shaped records: same-titled pages from several
    publishers, questions as section headings, lists."""
    root = tmp_path_factory.mktemp("browser-medquad")
    server = Server(build_index(MEDQUAD_SHAPED, root / "index"), root / "server.log").start()
    try:
        yield server.wait_ready().url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def site(servers):
    """The address of the server over the shipped corpus."""
    return servers["shipped"]


@pytest.fixture(scope="module")
def paged_site(servers):
    """The address of the server over the sixty generated articles."""
    return servers["paged"]


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class BrowserErrors:
    """Console errors and uncaught page errors from the tabs of one test."""

    def __init__(self):
        self.seen: list[str] = []
        self.expected_failures: set[str] = set()

    def expect_error_status(self, url: str) -> None:
        """The test visits `url` knowing it answers 4xx: its "Failed to load" is not a fault."""
        self.expected_failures.add(url)

    def on_console(self, msg) -> None:
        """Record console errors."""
        if msg.type != "error":
            return
        where = msg.location.get("url", "")
        if where in self.expected_failures and msg.text.startswith("Failed to load resource"):
            return
        self.seen.append(f"console error: {msg.text} at {where}")

    def on_page_error(self, exc) -> None:
        """Record uncaught exceptions in page scripts."""
        self.seen.append(f"page error: {exc}")


def _watched_page(browser, errors: BrowserErrors, **context_options):
    context = browser.new_context(**context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", errors.on_console)
    page.on("pageerror", errors.on_page_error)
    return context, page


@pytest.fixture
def problems():
    """Console errors and page errors seen during the test; the test fails if there are any."""
    errors = BrowserErrors()
    yield errors
    assert errors.seen == [], "the browser reported errors:\n" + "\n".join(errors.seen)


@pytest.fixture
def page(browser, problems):
    """A desktop-sized tab whose console errors and page errors fail the test."""
    context, tab = _watched_page(browser, problems, viewport=DESKTOP)
    yield tab
    context.close()


@pytest.fixture
def phone(browser, problems):
    """A phone-sized tab (375×740, touch, mobile viewport) whose errors fail the test."""
    context, tab = _watched_page(browser, problems, viewport=PHONE, is_mobile=True,
                                 has_touch=True, device_scale_factor=2)
    yield tab
    context.close()


# -- helpers ---------------------------------------------------------------------------------


def expect():
    """Playwright's auto-waiting assertions."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


def args_of(url: str) -> dict[str, str]:
    """A URL's query arguments."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def focused(page, selector: str) -> bool:
    """Whether the focused element matches the CSS selector."""
    return page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)",
                         selector)


def wait_for_focus(page, selector: str) -> None:
    """Wait (up to the page's timeout) until `selector` has the focus: autofocus and fragment
    links move it during the next rendering step, not at once."""
    page.wait_for_function(
        "s => !!document.activeElement && document.activeElement.matches(s)", arg=selector)


def open_home(page, url: str) -> None:
    """Open the home page and wait for the search box to take the focus by itself."""
    page.goto(url + "/")
    wait_for_focus(page, "#q")


def tab_to(page, selector: str, limit: int = 40) -> int:
    """Press Tab until the focus is on `selector`; how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if focused(page, selector):
            return presses
    reached = page.evaluate("document.activeElement && document.activeElement.outerHTML")
    raise AssertionError(f"{limit} presses of Tab never reached {selector}: the focus is on "
                         f"{(reached or 'nothing')[:120]} at {page.url}")


def focus_ring_visible(page) -> bool:
    """Whether the focused element draws a visible outline."""
    return page.evaluate("""() => {
        const s = getComputedStyle(document.activeElement);
        return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
    }""")


def no_horizontal_scroll(page, width: int) -> bool:
    """Whether the page fits a viewport `width` pixels wide. (A mobile browser widens its
    layout viewport to fit content that overflows, so innerWidth alone would not tell.)"""
    return page.evaluate("w => window.innerWidth === w && "
                         "document.documentElement.scrollWidth <= window.innerWidth", width)


# -- scenarios -------------------------------------------------------------------------------


def test_typed_question_submitted_with_enter_finds_the_hamstring_article(page, site, tmp_path):
    """Type the sample question, press Enter: the cramp article is first with "tendons" marked;
    open it, see the highlight, go back to the same results."""
    check = expect()
    open_home(page, site)  # the search box takes the focus by itself
    page.keyboard.type(SEED_QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?"))
    assert args_of(page.url)["q"] == SEED_QUESTION
    first = page.locator("li.hit").first
    check(first.locator("h2 a")).to_have_text(re.compile("^" + HAMSTRING))
    check(first.locator("mark", has_text="tendons")).to_be_visible()
    check(page.locator("#q")).to_have_value(SEED_QUESTION)
    check(page).to_have_title(f"{SEED_QUESTION} – Health article search")
    check(page.locator("p.count")).to_contain_text(re.compile(r"1 article\s+in"))
    page.screenshot(path=tmp_path / "desktop-results.png", full_page=True)

    first.locator("h2 a").click()
    page.wait_for_url(re.compile(r"/article/"))
    check(page.locator("article h1")).to_contain_text(HAMSTRING)
    check(page.locator("article .body mark", has_text="tendons")).to_be_visible()
    check(page.locator("p.back a")).to_have_text("‹ Back to results")
    page.screenshot(path=tmp_path / "desktop-article.png", full_page=True)

    page.go_back()
    page.wait_for_url(re.compile(r"/search\?"))
    check(page.locator("li.hit").first.locator("h2 a")).to_have_text(re.compile("^" + HAMSTRING))

    page.locator("li.hit h2 a").first.click()
    page.locator("p.back a").click()
    page.wait_for_url(re.compile(r"/search\?"))
    assert args_of(page.url) == {"q": SEED_QUESTION, "page": "1"}


def test_misspelling_leads_to_the_corrected_results_and_the_correction(page, site):
    """"insomina" shows the insomnia results with links to the right spelling and to the words
    as typed."""
    check = expect()
    page.goto(site + "/")
    page.locator("#q").fill("insomina")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=insomina"))
    notice = page.locator("p.notice")
    check(notice).to_contain_text("Showing results for insomnia")
    check(page.locator("li.hit mark", has_text="insomnia")).to_be_visible()
    check(page.locator("li.hit .badge")).to_have_text("summary only")

    notice.locator("a.suggestion", has_text="insomnia").click()
    page.wait_for_url(re.compile(r"q=insomnia$"))
    check(page.locator("#q")).to_have_value("insomnia")
    check(page.locator("p.notice")).to_have_count(0)
    check(page.locator("li.hit")).to_have_count(1)

    page.go_back()
    page.locator("p.notice a.exact", has_text="insomina").click()
    page.wait_for_url(re.compile(r"exact=1"))
    check(page.locator("#q")).to_have_value("insomina")
    check(page.locator("section.empty h2")).to_have_text("No articles found")
    check(page.locator("section.samples a")).to_have_text([SEED_QUESTION])


def test_paging_through_a_larger_index_with_next_and_page_links(page, paged_site, tmp_path):
    """Next and numbered links walk all six pages; every article appears once."""
    check = expect()
    page.goto(paged_site + "/")
    page.locator("#q").fill(PAGED_WORD)
    page.locator("button[type=submit]").click()
    check(page.locator("p.count")).to_contain_text(f"About {PAGED_COUNT} articles")
    titles = []
    for number in range(1, 7):
        check(page.locator("nav.pages a[aria-current=page]")).to_have_text(str(number))
        check(page.locator("li.hit")).to_have_count(10)
        check(page.locator("ol.results")).to_have_attribute("start", str((number - 1) * 10 + 1))
        titles += page.locator("li.hit h2 a").all_inner_texts()
        if number == 1:
            page.screenshot(path=tmp_path / "desktop-paged.png", full_page=True)
        if number < 6:
            page.locator("nav.pages a[rel=next]").click()
            page.wait_for_url(re.compile(rf"page={number + 1}"))
    check(page.locator("nav.pages a[rel=next]")).to_have_count(0)
    assert len(titles) == PAGED_COUNT == len(set(titles))

    page.locator("nav.pages a", has_text=re.compile(r"^2$")).click()
    page.wait_for_url(re.compile(r"page=2"))
    check(page.locator("p.count")).to_contain_text("page 2 of")
    page.locator("nav.pages a[rel=prev]").click()
    page.wait_for_url(re.compile(r"page=1"))
    check(page.locator("nav.pages a[rel=prev]")).to_have_count(0)


def test_keyboard_alone_searches_pages_and_opens_a_result(page, paged_site):
    """With only the keyboard: search from the focused box, Tab to the results and the
    pagination, Enter to follow; the focus is always visible."""
    check = expect()
    open_home(page, paged_site)
    page.keyboard.type(PAGED_WORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?"))

    presses = tab_to(page, "a.skip")
    assert presses == 1, "the skip link should come first"
    check(page.locator("a.skip")).to_be_in_viewport()
    page.keyboard.press("Enter")
    wait_for_focus(page, "main")
    tab_to(page, "li.hit h2 a", limit=1)  # skipping lands right before the first result
    assert focus_ring_visible(page)

    page.goto(paged_site + f"/search?q={PAGED_WORD}")
    tab_to(page, "#q")
    assert focus_ring_visible(page)
    tab_to(page, "nav.pages a[rel=next]")
    assert focus_ring_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"page=2"))

    tab_to(page, "li.hit h2 a")
    title = page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/article/"))
    check(page.locator("article h1")).to_have_text(title)
    tab_to(page, "p.back a")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"page=2"))


def test_type_ahead_lists_completions_and_arrow_down_enter_searches_one(page, site, tmp_path):
    """Typing shows a listbox of completions, announced; ArrowDown picks, Enter searches."""
    check = expect()
    open_home(page, site)
    box = page.locator("#q")
    listbox = page.locator("#q-suggestions")
    page.keyboard.type("hams", delay=30)
    check(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    check(options).to_have_count(2)
    assert sorted(options.all_inner_texts()) == ["hamstring", "hamstrings"]
    check(box).to_have_attribute("aria-expanded", "true")
    check(page.locator("#q-status")).to_contain_text("2 suggestions")
    page.screenshot(path=tmp_path / "desktop-type-ahead.png")

    page.keyboard.press("ArrowDown")
    check(options.first).to_have_attribute("aria-selected", "true")
    check(box).to_have_attribute("aria-activedescendant", options.first.get_attribute("id"))
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    check(options.first).to_have_attribute("aria-selected", "true")
    check(options.nth(1)).to_have_attribute("aria-selected", "false")
    chosen = options.first.inner_text()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?"))
    assert args_of(page.url)["q"] == chosen
    check(page.locator("li.hit").first.locator("h2 a")).to_have_text(re.compile("^" + HAMSTRING))


def test_type_ahead_closes_with_escape_and_enter_then_searches_what_was_typed(page, site):
    """Escape closes the list; Enter with nothing picked searches the typed words."""
    check = expect()
    open_home(page, site)
    page.keyboard.type("calc", delay=30)
    check(page.locator("#q-suggestions")).to_be_visible()
    page.keyboard.press("Escape")
    check(page.locator("#q-suggestions")).to_be_hidden()
    check(page.locator("#q")).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=calc$"))


def test_clicking_a_suggestion_searches_it(page, site):
    """A suggestion can be picked with the mouse too."""
    check = expect()
    open_home(page, site)
    page.keyboard.type("insom", delay=30)
    page.locator("#q-suggestions [role=option]", has_text="insomnia").click()
    page.wait_for_url(re.compile(r"q=insomnia$"))
    check(page.locator("li.hit mark", has_text="insomnia")).to_be_visible()


def test_search_works_without_javascript(browser, site, problems):
    """Progressive enhancement: with scripts off the form still searches and links work."""
    check = expect()
    context, page = _watched_page(browser, problems, viewport=DESKTOP, java_script_enabled=False)
    try:
        page.goto(site + "/")
        page.locator("#q").fill(SEED_QUESTION)
        page.locator("#q").press("Enter")
        page.wait_for_url(re.compile(r"/search\?"))
        check(page.locator("li.hit mark", has_text="tendons")).to_be_visible()
        page.locator("li.hit h2 a").first.click()
        check(page.locator("article .body mark").first).to_be_visible()
    finally:
        context.close()


def test_phone_layout_fits_the_screen_without_horizontal_scroll(phone, problems, site, paged_site,
                                                                tmp_path):
    """At 375 px wide every kind of page fits: no sideways scrolling, the box and button show."""
    check = expect()
    urls = [
        site + "/",
        site + "/search?q=" + SEED_QUESTION,
        site + "/search?q=insomina",
        site + "/search?q=" + LONG_WORD,
        site + "/article/seed-digest/many-people-have-experienced-twitching-hamstrings"
               "-especially-when?q=tendon",
        site + "/no/such/page",
        paged_site + f"/search?q={PAGED_WORD}&page=3",
        paged_site + f"/search?q={LONG_WORD}",
        paged_site + f"/article/note-01?q={LONG_WORD}",
    ]
    problems.expect_error_status(site + "/no/such/page")
    for url in urls:
        phone.goto(url)
        assert no_horizontal_scroll(phone, PHONE["width"]), url
        box = phone.locator("#q").bounding_box()
        button = phone.locator("button[type=submit]").bounding_box()
        assert box["x"] >= 0 and button["x"] + button["width"] <= PHONE["width"], url
        check(phone.locator("footer.site")).to_contain_text("not medical advice")
    check(phone.locator("article .body")).to_contain_text(LONG_WORD)  # the last page visited
    phone.goto(site + "/search?q=" + SEED_QUESTION)
    phone.screenshot(path=tmp_path / "phone-results.png", full_page=True)
    phone.goto(site + "/")
    phone.screenshot(path=tmp_path / "phone-home.png", full_page=True)
    phone.goto(paged_site + f"/search?q={PAGED_WORD}&page=3")
    phone.screenshot(path=tmp_path / "phone-paged.png", full_page=True)


def test_desktop_pages_fit_and_keep_the_footer_at_the_bottom(page, site, tmp_path):
    """On a wide screen the short home page fills the window with the footer at the bottom."""
    page.goto(site + "/")
    assert no_horizontal_scroll(page, DESKTOP["width"])
    footer = page.locator("footer.site").bounding_box()
    assert abs(footer["y"] + footer["height"] - DESKTOP["height"]) <= 1
    page.screenshot(path=tmp_path / "desktop-home.png", full_page=True)


# -- a multi-source corpus ---------------------------------------------------------------


def test_same_subject_pages_show_as_one_result_with_the_other_publishers_linked(
        page, medquad_site, tmp_path):
    """Three publishers' "High Blood Pressure" pages are one result, the others under it."""
    check = expect()
    page.goto(medquad_site + "/search?q=high+blood+pressure")
    hits = page.locator("li.hit")
    titles = hits.locator("h2 a").all_inner_texts()
    assert titles.count("High Blood Pressure") == 1
    first = hits.first
    check(first.locator("h2 a")).to_have_text("High Blood Pressure")
    also = first.locator("p.also a")
    check(also).to_have_count(2)
    leader = first.locator(".meta a.publisher").inner_text()
    assert sorted([leader, *also.all_inner_texts()]) == ["MedlinePlus", "NHLBI",
                                                          "NIHSeniorHealth"]
    page.screenshot(path=tmp_path / "desktop-grouped-results.png", full_page=True)
    also.first.click()
    page.wait_for_url(re.compile(r"/article/"))
    check(page.locator("article h1")).to_have_text("High Blood Pressure")


def test_each_result_names_its_publisher_and_links_the_source(page, medquad_site):
    """The publisher's name links to the original page, opened without the opener."""
    page.goto(medquad_site + "/search?q=heart+attack")
    link = page.locator("li.hit").first.locator(".meta a.publisher")
    assert link.inner_text() in {"NHLBI", "CDC"}
    assert re.match(r"https://www\.(nhlbi\.nih|cdc)\.gov/", link.get_attribute("href"))
    assert "noopener" in link.get_attribute("rel")


def test_type_ahead_offers_phrases_by_keyboard_and_a_title_opens_its_article(
        page, medquad_site, tmp_path):
    """"heart a" completes to "heart attack" (ArrowDown, Enter: two pages, so a search);
    clicking "insomnia", one article's title, opens that article."""
    check = expect()
    open_home(page, medquad_site)
    page.keyboard.type("heart a", delay=30)
    options = page.locator("#q-suggestions [role=option]")
    check(options.first).to_have_text("heart attack")
    page.screenshot(path=tmp_path / "desktop-phrase-type-ahead.png")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?"))
    assert args_of(page.url)["q"] == "heart attack"

    open_home(page, medquad_site)
    page.keyboard.type("insom", delay=30)
    option = page.locator("#q-suggestions [role=option]", has_text="insomnia")
    check(option).to_contain_text("article")
    option.click()
    page.wait_for_url(re.compile(r"/article/MPlusHealthTopics-0007"))
    check(page.locator("article h1")).to_have_text("Insomnia")


@pytest.mark.parametrize("scripts", [True, False], ids=["with-js", "without-js"])
def test_a_publisher_facet_narrows_the_results_and_can_be_cleared(
        browser, problems, medquad_site, scripts):
    """The facets are plain links: they work the same with scripts off."""
    check = expect()
    context, page = _watched_page(browser, problems, viewport=DESKTOP,
                                  java_script_enabled=scripts)
    try:
        page.goto(medquad_site + "/search?q=blood")
        facet = page.locator("nav.facets a", has_text="NHLBI")
        count = int(re.search(r"\((\d+)\)", facet.locator("xpath=..").inner_text()).group(1))
        facet.click()
        page.wait_for_url(re.compile(r"publisher=NHLBI"))
        publishers = page.locator("li.hit .meta .publisher").all_inner_texts()
        assert publishers and set(publishers) == {"NHLBI"}
        assert len(publishers) == count
        page.locator("nav.facets a.clear").first.click()
        page.wait_for_url(re.compile(r"^(?!.*publisher=)"))
        check(page.locator("li.hit").first).to_be_visible()
    finally:
        context.close()


def test_the_home_page_says_what_it_holds_and_browses_subjects_a_to_z(page, medquad_site,
                                                                      tmp_path):
    """The collection line, searches drawn from the titles, and the A–Z index."""
    check = expect()
    page.goto(medquad_site + "/")
    check(page.locator("p.collection")).to_contain_text("12 articles from")
    check(page.locator(".samples a").first).to_have_text("High Blood Pressure")
    page.screenshot(path=tmp_path / "desktop-home-index.png", full_page=True)
    page.locator("nav.letters a", has_text="H").click()
    page.wait_for_url(re.compile(r"/topics/h$"))
    check(page.locator("ul.topics li")).to_have_count(2)
    page.locator("ul.topics a", has_text="High Blood Pressure").click()
    page.wait_for_url(re.compile(r"/search\?q=High"))
    check(page.locator("li.hit").first.locator("h2 a")).to_have_text("High Blood Pressure")


def test_an_article_keeps_its_headings_and_lists_and_fits_a_phone(phone, medquad_site,
                                                                  tmp_path):
    """Questions are headings, lists are lists, and the long source address wraps."""
    check = expect()
    phone.goto(medquad_site + "/article/NHLBI-0001?q=blood+pressure")
    check(phone.locator("article .body h2")).to_have_count(3)
    check(phone.locator("article .body ul")).to_have_count(2)
    check(phone.locator("article .body li")).to_have_count(6)
    assert no_horizontal_scroll(phone, PHONE["width"])
    source = phone.locator("p.source a").bounding_box()
    assert source["x"] + source["width"] <= PHONE["width"]
    phone.screenshot(path=tmp_path / "phone-article.png", full_page=True)
