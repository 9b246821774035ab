"""What readers type and what they get back, on the shipped corpus."""

from __future__ import annotations

import pytest

from indexer.config import Settings
from indexer.query import QueryBuilder
from indexer.query.cleaning import MAX_QUERY_CHARS, clean_query_text, uses_syntax
from indexer.query.types import AllOf, AnyOf
from indexer.search import SearchEngine
from indexer.text.spelling import edit_distance
from tests.conftest import SEED_QUESTION

HAMSTRING = "Many people have experienced twitching hamstrings"


def test_seed_question_finds_the_hamstring_cramp_article_with_tendon_marked(engine):
    page = engine.search(SEED_QUESTION)
    assert page.results[0].title.startswith(HAMSTRING)
    assert "<mark>tendons</mark>" in page.results[0].snippet


def test_every_word_is_optional_and_more_matches_rank_higher(engine):
    page = engine.search("calcium deficiency insomnia")
    titles = [r.title for r in page.results]
    assert titles[0].startswith(HAMSTRING)  # matches two words
    assert any("insomnia" in t for t in titles)  # matches one


def test_stemming_matches_word_forms(engine):
    for query in ("cramping", "cramped", "tendon"):
        assert engine.search(query).results[0].title.startswith(HAMSTRING), query


@pytest.mark.parametrize("typed, fixed", [("insomina", "insomnia"), ("tendom", "tendons"),
                                          ("hamartomma", "hamartoma")])
def test_misspelled_word_gets_a_suggestion_from_the_index(engine, typed, fixed):
    page = engine.search(typed)
    assert page.suggestion == fixed


def test_query_with_no_results_shows_the_corrected_results(engine):
    page = engine.search("insomina")
    assert page.corrected and page.total == 1
    assert "insomnia" in page.results[0].title


def test_correct_words_get_no_suggestion(engine):
    assert engine.search("calcium cramps").suggestion is None


@pytest.mark.parametrize("lay, medical_title", [
    ("stomach cancer", "Gastric cancer"),
    ("kidney", "Renal hamartoma"),
    ("can't sleep", "Many people suffer from insomnia"),
])
def test_lay_words_find_the_medical_article(engine, lay, medical_title):
    titles = [r.title for r in engine.search(lay).results]
    assert any(t.startswith(medical_title) for t in titles[:2]), titles


@pytest.mark.parametrize("lay", ["can't sleep", "cant sleep", "I cannot sleep", "trouble sleeping"])
def test_a_lay_phrase_finds_its_medical_article_first(engine, lay):
    # The phrase means insomnia; "sleeping" alone is in the hamstring-cramp article's title.
    assert engine.search(lay).results[0].title.startswith("Many people suffer from insomnia")


def test_expansion_words_weigh_less_than_the_readers_own(engine):
    page = engine.search("stomach cancer")
    assert page.results[0].title.startswith("Gastric cancer")
    # Marked, with a note of why: the reader typed "stomach".
    assert '<mark title="stomach cancer → gastric cancer">Gastric</mark>' in page.results[0].snippet


def test_full_article_is_preferred_over_a_teaser_that_matches_equally(tmp_path):
    from indexer.build import index_corpus
    from indexer.config import Settings
    from indexer.search import SearchEngine
    from indexer.storage import IndexStore

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text(
        '{"id": "teaser", "title": "Scurvy facts", "text": "Scurvy facts about vitamin..."}\n'
        '{"id": "article", "title": "Scurvy facts", "text": "Scurvy facts about vitamin C."}\n')
    index_corpus([corpus], IndexStore(tmp_path / "ix"))
    results = SearchEngine(Settings(index_dir=tmp_path / "ix")).search("scurvy facts").results
    # One subject: the article leads, the teaser is listed under it.
    assert [r.id for r in results] == ["article"]
    assert [s.id for s in results[0].also] == ["teaser"]


def test_a_word_finds_its_own_article_before_longer_names_that_contain_it(tmp_path):
    """"diabetes" is not expanded to "diabetes mellitus": that would rank every article
    named "... diabetes mellitus" above the one named "Diabetes"."""
    from indexer.build import index_corpus
    from indexer.config import Settings
    from indexer.search import SearchEngine
    from indexer.storage import IndexStore

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text(
        '{"id": "general", "title": "Diabetes", "text": "Diabetes means high blood sugar. '
        'Diabetes mellitus is its full name."}\n'
        '{"id": "neonatal", "title": "Neonatal diabetes mellitus", "text": "Neonatal '
        'diabetes mellitus is a rare diabetes mellitus of newborns."}\n')
    index_corpus([corpus], IndexStore(tmp_path / "ix"))
    page = SearchEngine(Settings(index_dir=tmp_path / "ix")).search("diabetes")
    assert [r.id for r in page.results] == ["general", "neonatal"]
    assert page.understood == "diabetes"


def test_words_an_expansion_shares_with_the_question_count_once(tmp_path):
    """"breast cancer" -> "breast carcinoma" adds one word, so it weighs half: "breast" is
    not counted twice for an entry that says "breast carcinoma" but never "cancer"."""
    import json

    from indexer.build import index_corpus
    from indexer.config import Settings
    from indexer.search import SearchEngine
    from indexer.storage import IndexStore

    docs = [{"id": "article", "title": "Breast cancer",
             "text": "Breast cancer is a cancer that starts in the breast."},
            {"id": "abstract", "title": "Lung inflammation after radiotherapy of breast "
             "carcinoma", "text": "Radiotherapy of a breast carcinoma can inflame the lung."}]
    docs += [{"id": f"n{i}", "title": f"Cancer note {i}", "text": "A note on cancer care."}
             for i in range(8)]
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    index_corpus([corpus], IndexStore(tmp_path / "ix"))
    ids = [r.id for r in SearchEngine(Settings(index_dir=tmp_path / "ix")).search(
        "breast cancer").results]
    assert ids[:2] == ["article", "abstract"]


def test_phrases_and_exclusions(engine):
    assert engine.search('"leg cramps"').results[0].title.startswith(HAMSTRING)
    # No article has the phrase: its words, loosely, with the page saying so.
    loose = engine.search('"cramps leg"')
    assert loose.loosened and loose.results[0].title.startswith(HAMSTRING)
    assert loose.message == "No article has all your words; showing articles with some of them."
    assert not engine.search('"leg cramps"').loosened
    assert engine.search("cancer -lung").total == 1
    assert engine.search("cramps NOT calcium").total == 0
    assert [r.kind for r in engine.search("title:cancer").results] == ["teaser", "teaser"]


@pytest.mark.parametrize(("text", "searched"), [
    # A title's dashes beside quotes: "Lice" and "Pubic" are looked for, not excluded (as a
    # question, "How to prevent ... ?", its quotes are punctuation: test_quotes.py).
    ('Parasites - Lice - Pubic "Crab" Lice', {"lice", "pubic", "crab"}),
    ('"crab" Lennox-Gastaut syndrome', {"lennox", "gastaut"}),  # a hyphenated word
    ('"crab" fever + cough', {"fever", "cough"}),
])
def test_a_dash_or_plus_not_at_the_start_of_a_word_is_text_not_an_operator(text, searched):
    built = QueryBuilder().build(text)
    assert built.syntax  # the quotes
    whoosh = str(QueryBuilder().whoosh_query(text))
    assert "NOT" not in whoosh and "MAYBE" not in whoosh
    assert searched <= set(built.terms)


def test_a_dash_or_plus_at_the_start_of_a_word_is_still_an_operator():
    assert "ANDNOT" in str(QueryBuilder().whoosh_query('"crab" lice -pubic'))
    assert "ANDMAYBE" in str(QueryBuilder().whoosh_query('"crab" lice +pubic'))


def test_question_marks_and_stars_are_punctuation_not_wildcards(engine):
    assert engine.search("What causes leg cramps?").results[0].title.startswith(HAMSTRING)
    assert engine.search("cramp*").results[0].title.startswith(HAMSTRING)


def test_unknown_field_prefix_is_text():
    built = QueryBuilder().build("Beans: NDC# calcium")
    assert not built.syntax and {"bean", "ndc", "calcium"} <= set(built.terms)
    assert not uses_syntax("Still's disease") and not uses_syntax("Beans: good for you?")


@pytest.mark.parametrize("hostile", [
    '"unbalanced', "((((", "))", "AND", "OR OR", "NOT", "-", "*", "~", "title:", "kind:article",
    "\x00\x01\x02", "the of and", "a" * 10_000, "cancer" + " cancer" * 3000, "title:(", '"" ""',
    "<script>alert(1)</script>", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ✓", "body:body:body:", "*:*", "cancer^100",
    "[a TO z]", "{a TO z}", "cancer~2", "(cancer OR) AND", "NOT NOT NOT cancer",
])
def test_hostile_queries_never_raise(engine, hostile):
    page = engine.search(hostile)
    assert page.total >= 0
    assert page.total == 0 or page.results


def test_stop_words_only_query_gives_a_message_not_an_error(engine):
    page = engine.search("the of and")
    assert page.total == 0 and "common" in page.message


def test_query_text_is_cleaned_and_capped():
    assert clean_query_text("a\x00b\tc\u200b d") == "a b c d"
    assert len(clean_query_text("word " * 1000)) <= MAX_QUERY_CHARS


def test_paging(engine):
    first = engine.search("cancer people", per_page=2, page=1)
    second = engine.search("cancer people", per_page=2, page=2)
    assert first.total == second.total > 2
    assert not {r.id for r in first.results} & {r.id for r in second.results}


def test_edit_distance_counts_a_swap_as_one():
    assert edit_distance("insomina", "insomnia") == 1
    assert edit_distance("diabtes", "diabetes") == 1
    assert edit_distance("diabtes", "dates") > edit_distance("diabtes", "diabetes")


def test_searcher_sees_an_incremental_update_without_restart(tmp_path):
    from indexer.build import index_corpus
    from indexer.config import Settings
    from indexer.search import SearchEngine
    from indexer.storage import IndexStore

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Gout\n\nGout is arthritis.\n")
    store = IndexStore(tmp_path / "ix")
    index_corpus([corpus], store)
    engine = SearchEngine(Settings(index_dir=store.root))
    assert engine.search("scurvy").total == 0
    (corpus / "b.txt").write_text("Scurvy\n\nScurvy is a lack of vitamin C.\n")
    index_corpus([corpus], store)
    assert engine.search("scurvy").total == 1
    index_corpus([corpus], store, rebuild=True)
    assert engine.search("scurvy").total == 1


def test_a_page_past_the_end_is_empty_not_a_repeat(engine):
    page = engine.search("tendon", page=5)
    assert page.page == 5 and page.total == 1 and page.results == []


def test_completions_do_not_depend_on_the_process_hash_seed(shipped_index):
    import os
    import subprocess
    import sys

    code = ("import sys; from indexer.search import SearchEngine; from indexer.config import "
            "Settings; print(SearchEngine(Settings(index_dir=sys.argv[1])).complete('hams'))")
    outputs = {
        subprocess.run([sys.executable, "-c", code, str(shipped_index)], capture_output=True,
                       text=True, env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout
        for seed in ("1", "2", "3", "5")
    }
    assert len(outputs) == 1 and "hamstring" in outputs.pop()


def test_every_matching_document_is_counted_and_the_rarer_word_ranks_first(tmp_path):
    from indexer.build import index_corpus
    from indexer.config import Settings
    from indexer.search import SearchEngine
    from indexer.storage import IndexStore

    corpus = tmp_path / "c"
    corpus.mkdir()
    lines = [f'{{"id": "d{i}", "title": "Note {i}", "text": "Symptoms listed in note {i}."}}'
             for i in range(40)]
    lines.append('{"id": "gout", "title": "Gout", "text": "Gout symptoms: a hot, swollen toe."}')
    lines.append('{"id": "gout2", "title": "Gout diet", "text": "Gout and purines."}')
    (corpus / "c.jsonl").write_text("\n".join(lines) + "\n")
    index_corpus([corpus], IndexStore(tmp_path / "ix"))
    engine = SearchEngine(Settings(index_dir=tmp_path / "ix", cache_size=0))
    page = engine.search("gout symptoms")
    assert [r.id for r in page.results[:2]] == ["gout", "gout2"]
    assert page.total == 42
    assert engine.search("symptoms").total == 41
    assert len(engine.search("gout symptoms", page=5, per_page=10).results) == 2
    past_the_end = engine.search("gout symptoms", page=6, per_page=10)
    assert past_the_end.results == [] and past_the_end.total == 42


def test_vocabulary_finds_words_within_two_edits_with_the_same_first_letter():
    from indexer.text.spelling import Vocabulary

    vocabulary = Vocabulary({("i", 8): ["insomnia", "insuline"], ("i", 9): ["insomniac"],
                             ("a", 8): ["asomnia"], ("i", 4): ["inso"]})
    assert set(vocabulary.near("insomina", 1)) == {"insomnia"}  # a swap is one edit
    assert set(vocabulary.near("insomina", 2)) == {"insomnia", "insomniac"}
    assert vocabulary.near("xyz", 2) == []


def test_corrections_come_from_every_segment(tmp_path):
    import json

    from indexer.build import index_corpus
    from indexer.config import Settings
    from indexer.search import SearchEngine
    from indexer.storage import IndexStore

    corpus = tmp_path / "c"
    corpus.mkdir()
    store = IndexStore(tmp_path / "ix")
    (corpus / "a.jsonl").write_text(json.dumps({"id": "a", "title": "Asthma", "text": "Asthma."})
                                    + "\n")
    index_corpus([corpus], store)
    # An incremental run writes a second segment with the only "hamartoma".
    (corpus / "b.jsonl").write_text(json.dumps({"id": "b", "title": "Renal hamartoma",
                                                "text": "A hamartoma."}) + "\n")
    index_corpus([corpus], store)
    engine = SearchEngine(Settings(index_dir=tmp_path / "ix"))
    with engine.pool.borrow() as snapshot:
        assert len(snapshot.segments) == 2
    assert engine.search("hamartomma").suggestion == "hamartoma"
    assert engine.search("asthmma").suggestion == "asthma"


def test_warming_reads_every_segments_columns_and_vocabulary_before_the_first_search(
        shipped_index):
    from indexer.config import Settings
    from indexer.search import SearchEngine

    engine = SearchEngine(Settings(index_dir=shipped_index))
    assert not engine.postings._columns
    engine.warm()
    names = {key[1] for key in engine.postings._columns}
    assert {"len:title", "len:body", "teaser", "spelling"} <= names
    assert engine.search("insomina").suggestion == "insomnia"


def test_a_question_in_capitals_means_its_and_and_or_as_words():
    assert not uses_syntax("CAN LIPNODES AND OR LIVER CANCER BE DETECTED IN A UPPER GI")
    assert uses_syntax("lipnodes AND liver") and uses_syntax("cancer NOT liver")
    # Quotes still make a phrase in keywords; AND and OR between capitals are stop words,
    # not operators.
    shouted = QueryBuilder().build('"LIVER CANCER" AND OR LIPNODES')
    assert shouted.syntax and isinstance(shouted.match, AnyOf)
    assert isinstance(QueryBuilder().build('can "liver cancer" AND lipnodes').match, AllOf)


def test_readers_asking_the_same_question_at_once_share_one_answer(shipped_index,
                                                                   monkeypatch):
    import threading
    import time

    from indexer.config import Settings
    from indexer.search import SearchEngine

    engine = SearchEngine(Settings(index_dir=shipped_index))
    answered = []
    from indexer.search import engine as engine_module

    answer = engine_module.answer

    def slow_answer(*args, **kwargs):
        answered.append(1)
        time.sleep(0.3)  # long enough for every reader to ask while the first is answering
        return answer(*args, **kwargs)

    monkeypatch.setattr(engine_module, "answer", slow_answer)
    pages = []
    readers = [threading.Thread(target=lambda: pages.append(engine.search("leg cramps")))
               for _ in range(4)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert len(answered) == 1
    assert len(pages) == 4 and len({tuple(r.id for r in p.results) for p in pages}) == 1


def test_a_spent_time_budget_skips_phrases_and_feedback_and_flags_the_ranking(engine):
    from indexer.ranking import pipeline
    from indexer.ranking.budget import Budget
    from indexer.ranking.lexical import QuestionScores

    parsed = engine.builder.build('"calcium deficiency" cramps')
    with engine.pool.borrow() as snapshot:
        whole = pipeline.rank(snapshot, parsed, 10, engine.ranking, budget=Budget(None))
        cut = pipeline.rank(snapshot, parsed, 10, engine.ranking, budget=Budget(0))
        by_words = QuestionScores(snapshot, parsed.clauses, engine.ranking.field_boosts,
                                  engine.model, match=parsed.match)
        without = QuestionScores(snapshot, parsed.clauses, engine.ranking.field_boosts,
                                 engine.model, match=parsed.match, budget=Budget(0))
        best = by_words.top(1).hits[0][0]
        assert by_words.scores_of([best])[0] > without.scores_of([best])[0]
    assert not whole.partial and cut.partial


def test_past_the_queue_a_computed_question_is_refused_at_once_and_cached_ones_answer(
        shipped_index, monkeypatch):
    import threading
    import time

    from indexer.config import Settings
    from indexer.search import SearchEngine
    from indexer.search import engine as engine_module
    from indexer.search.admission import Overloaded

    # One searcher and one place in the queue: two uncached questions at once, no more.
    engine = SearchEngine(Settings(index_dir=shipped_index, searchers=1, queue=1,
                                   retry_after_s=3))
    engine.search("tendon")  # cached from now on
    answer = engine_module.answer
    release = threading.Event()

    def held_answer(*args, **kwargs):
        release.wait(10)
        return answer(*args, **kwargs)

    monkeypatch.setattr(engine_module, "answer", held_answer)
    busy = [threading.Thread(target=engine.search, args=(q,)) for q in ("cramps", "heal")]
    for thread in busy:
        thread.start()
    deadline = time.monotonic() + 5
    while engine.cache._pending == {} and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # the second is waiting for the searcher
    started = time.monotonic()
    with pytest.raises(Overloaded) as refused:
        engine.search("leg pain")
    assert time.monotonic() - started < 0.5 and refused.value.retry_after == 3
    assert engine.search("tendon").cached  # a cached answer needs no place in the queue
    release.set()
    for thread in busy:
        thread.join(10)
    assert not engine.search("leg pain").cached  # admitted again once the others are done


def test_a_spent_budget_lets_a_phrase_of_search_syntax_stand_for_its_words(engine):
    from indexer.ranking.budget import Budget
    from indexer.ranking.lexical import match_mask

    # The seed article says "calcium deficiency", never the other way round.
    parsed = engine.builder.build('"deficiency calcium"')
    with engine.pool.borrow() as snapshot:
        exact = [match_mask(seg, parsed.match).any() for seg in snapshot.segments]
        budget = Budget(0)
        loose = [match_mask(seg, parsed.match, budget).any() for seg in snapshot.segments]
    assert not any(exact) and any(loose) and budget.cut


def test_a_fresh_engines_first_answer_is_not_cut_short_by_its_loading(shipped_index):
    # What every question needs (word lists, medicines' names, per-segment arrays) is read
    # before the first question, not inside its time budget.
    fresh = SearchEngine(Settings(index_dir=shipped_index, cache_size=0))
    page = fresh.search(SEED_QUESTION)
    assert not page.partial
    assert page.results[0].title == fresh.search(SEED_QUESTION).results[0].title
