"""Pseudo-relevance feedback widens topical questions and leaves requests for one article be."""

from __future__ import annotations

import pytest

from indexer.ranking.feedback import feedback_terms, is_navigational
from tests.test_scoring import _engine_over


def test_words_shared_by_the_best_articles_are_chosen_heaviest_first():
    docs = [(["calcium", "bone", "bean", "calcium"], 3.0),
            (["calcium", "bone", "osteoporosis"], 2.0),
            (["weather"], 0.5)]
    terms = feedback_terms(docs, exclude={"bean", "bone"}, doc_share=lambda t: 0.01,
                           max_share=0.1, limit=2)
    assert [t for t, _ in terms] == ["calcium", "osteoporosis"]
    assert terms[0][1] == 1.0 and 0 < terms[1][1] < 1.0


def test_query_words_and_too_common_words_are_not_added():
    docs = [(["bean", "food", "calcium"], 1.0)]
    common = {"food": 0.5}
    terms = feedback_terms(docs, exclude={"bean"}, doc_share=lambda t: common.get(t, 0.01),
                           max_share=0.1, limit=10)
    assert [t for t, _ in terms] == ["calcium"]


@pytest.mark.parametrize("docs", [[], [([], 1.0)], [(["calcium"], 0.0)]])
def test_nothing_to_learn_from_gives_no_words(docs):
    assert feedback_terms(docs, exclude=(), doc_share=lambda t: 0.0, max_share=0.1,
                          limit=5) == []


def test_a_question_naming_a_whole_title_is_navigational():
    assert is_navigational(["gaucher", "diseas"], ["symptom", "gaucher", "diseas"])
    assert not is_navigational(["bean", "bone", "health"], ["bean", "help", "bone"])
    assert not is_navigational([], ["bean"])  # no title: nothing was named


def _beans_corpus() -> list[dict]:
    # Two articles say "beans" and "bones"; two more about the same subject never say
    # "beans" but share its vocabulary (calcium, osteoporosis, legumes), in under 5% of all
    # the articles (more common words are not added).
    docs = [
        {"id": "b1", "title": "Eating for strength",
         "text": "Beans help bones: calcium and legumes against osteoporosis."},
        {"id": "b2", "title": "Kitchen notes",
         "text": "Beans for bones, calcium from legumes, less osteoporosis."},
        {"id": "c1", "title": "Minerals",
         "text": "Calcium from legumes slows osteoporosis in older women."},
        {"id": "c2", "title": "Ageing",
         "text": "Osteoporosis, calcium and legumes in the diet."},
    ]
    docs += [{"id": f"n{i}", "title": f"Unrelated {i}", "text": f"Weather report number {i}."}
             for i in range(100)]
    return docs


def test_feedback_finds_articles_on_the_subject_that_lack_the_query_words(tmp_path):
    with_feedback = _engine_over(tmp_path / "on", _beans_corpus(), feedback_weight=0.3)
    without = _engine_over(tmp_path / "off", _beans_corpus(), feedback_weight=0.0)
    found = [i for i, _ in with_feedback.rank("how beans help bones")]
    assert set(found[:2]) == {"b1", "b2"}  # the reader's own words still come first
    assert {"c1", "c2"} <= set(found)
    assert not {"c1", "c2"} & {i for i, _ in without.rank("how beans help bones")}


def test_feedback_words_are_not_marked_in_snippets(tmp_path):
    engine = _engine_over(tmp_path, _beans_corpus(), feedback_weight=0.3)
    page = engine.search("beans bones")
    assert page.results and "<mark>calcium" not in " ".join(r.snippet for r in page.results)


def test_a_question_naming_the_best_articles_title_is_not_widened(tmp_path):
    docs = _beans_corpus() + [{"id": "t", "title": "Beans and bones",
                               "text": "Beans and bones, and calcium."}]
    engine = _engine_over(tmp_path, docs, feedback_weight=0.3)
    found = {i for i, _ in engine.rank("beans and bones")}
    assert "t" in found and not {"c1", "c2"} & found
