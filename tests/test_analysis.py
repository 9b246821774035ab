"""How text becomes index terms: the same analysis for articles, queries and snippets."""

from __future__ import annotations

from indexer.corpus.teasers import strip_teaser_fragment
from indexer.text.analysis import analyze


def test_one_character_words_are_indexed():
    assert analyze("type 2 diabetes") == ["type", "2", "diabet"]
    assert analyze("protein S deficiency")[:2] == ["protein", "s"]
    assert analyze("vitamin D") == ["vitamin", "d"]


def test_clitics_stay_with_their_word_and_carry_no_meaning():
    assert analyze("Still's disease") == analyze("Still disease")
    assert analyze("Alzheimer’s") == analyze("Alzheimer")
    assert analyze("can't sleep") == ["sleep"]
    assert analyze("it doesn't hurt") == ["hurt"]


def test_question_words_are_stop_words():
    assert analyze("How long does it take to heal a broken tendon") == \
        ["long", "take", "heal", "broken", "tendon"]


def test_accents_fold_so_plain_spelling_finds_them():
    assert analyze("Sjögren") == analyze("Sjogren")


def test_teaser_fragment_is_not_indexed():
    text = "Gastric cancer refers to a malignant tumor that o..."
    assert "o" not in analyze(strip_teaser_fragment(text))
    assert analyze(strip_teaser_fragment(text))[-1] == "tumor"


def test_analyze_gives_what_the_whoosh_analyzer_gives():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from indexer.storage.schema import build_analyzer

    analyzer = build_analyzer()

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.sampled_from(list("aeiostnrD2é'’. -\n")) | st.characters(),
                   max_size=80))
    def check(text):
        assert analyze(text) == [t.text for t in analyzer(text)]

    check()


def test_negations_are_stop_words_however_they_are_typed():
    from indexer.text.analysis import analyze

    assert analyze("I can't sleep") == analyze("I cannot sleep") == ["sleep"]
    assert analyze("dont doesnt wont") == []
    assert analyze("Cant syndrome")[0] == "cant"  # a disease's name
