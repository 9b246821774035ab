"""One result per subject: same-subject pages and pages saying the same are shown as one."""

from __future__ import annotations

from indexer.corpus.article import subject_key
from indexer.search.grouping import group_hits, reading_order, snippet_key

TITLES = {1: "High Blood Pressure", 2: "Familial hemiplegic migraine", 3: "high blood pressure",
          4: "High Blood Pressure (Hypertension)", 5: "HIGH BLOOD-PRESSURE",
          6: "Familial hemiplegic migraine type 2", 7: "Headache"}


def _groups(hits, snippets=None, wanted=None):
    found = group_hits([(d, 1.0 / (i + 1)) for i, d in enumerate(hits)], TITLES.get,
                       snippets.get if snippets else None, wanted)
    return [[d for d, _ in g.hits] for g in found]


def test_titles_naming_one_subject_are_one_result_led_by_the_best_ranked():
    assert subject_key("HIGH BLOOD-PRESSURE") == subject_key("High blood pressure")
    assert subject_key("Sjögren syndrome") == subject_key("Sjogren Syndrome")
    assert _groups([3, 2, 1, 5, 4]) == [[3, 1, 5], [2], [4]]


def test_a_variant_page_saying_what_a_result_above_says_joins_it():
    snippets = {1: "Blood <mark>pressure</mark> is…", 2: "A migraine is pain.",
                6: "A <mark>migraine</mark> is pain…", 4: "Hypertension means…",
                7: "A migraine is pain."}
    assert snippet_key(snippets[6]) == snippet_key(snippets[2])
    # "... type 2" is a variant of the migraine above; "Headache" says the same but is
    # another subject: it stays a result of its own.
    assert _groups([1, 2, 6, 4, 7], snippets) == [[1], [2, 6], [4], [7]]


def test_past_the_groups_wanted_only_siblings_of_those_groups_join():
    assert _groups([1, 2, 7, 3, 4], wanted=2) == [[1, 3], [2]]


def test_the_reading_order_is_each_leader_then_its_siblings():
    groups = group_hits([(1, 3.0), (2, 2.0), (3, 1.0)], TITLES.get)
    assert reading_order(groups) == [(1, 3.0), (3, 1.0), (2, 2.0)]
