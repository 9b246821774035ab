"""Array scoring of plain questions gives Whoosh's ranking, only faster."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from whoosh.scoring import bm25 as whoosh_bm25

from indexer.build import index_corpus
from indexer.config import Settings
from indexer.corpus.article import make_entry
from indexer.query import QueryBuilder
from indexer.query.types import Clause
from indexer.ranking import pipeline
from indexer.ranking.formulas import bm25, coordination_factors, named_by, named_titles
from indexer.ranking.lexical import QuestionScores, score_clauses
from indexer.ranking.model import RankingModel
from indexer.search import SearchEngine
from indexer.storage import IndexStore, PostingsCache, Snapshot
from indexer.storage.codec import column_values, read_postings
from tests.oracle import coordination, whoosh_searcher, whoosh_top

WORDS = ("gout tendon cramp calcium insomnia renal gastric tumour fever cough rash asthma "
         "diabetes insulin migraine nausea vitamin sleep pain swelling").split()


def _write_corpus(path, seed: int, n: int) -> None:
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        body = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 300)))
        title = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 4)))
        lines.append(json.dumps({"id": f"d{i}", "title": title, "text": body + "."}))
    # A teaser: scored a little below a full article that matches as well.
    lines.append(json.dumps({"id": "t", "title": "Gout and calcium",
                             "text": "Gout and calcium in the tendon cau..."}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _engine_over(tmp_path, docs: list[dict], **model) -> SearchEngine:
    """A search engine over a fresh index of `docs` (JSON Lines records)."""
    corpus = tmp_path / "c"
    corpus.mkdir(parents=True)
    (corpus / "c.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs),
                                    encoding="utf-8")
    index_corpus([corpus], IndexStore(tmp_path / "ix"))
    return SearchEngine(Settings(index_dir=tmp_path / "ix"), model=RankingModel(**model))


@pytest.fixture(scope="module")
def segmented_index(tmp_path_factory):
    """An index with two segments and deleted documents."""
    root = tmp_path_factory.mktemp("seg")
    corpus = root / "corpus"
    corpus.mkdir()
    _write_corpus(corpus / "a.jsonl", 1, 500)
    store = IndexStore(root / "index")
    index_corpus([corpus], store)
    rnd = random.Random(4)
    writer = store.open().writer()
    for doc_id in ("d5", "d6", "d7", "d300"):
        writer.delete(doc_id)
    for i in range(120):
        body = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(3, 200))) + "."
        writer.add(make_entry(id=f"n{i}", title=rnd.choice(WORDS), body=body,
                              source="n.jsonl"))
    writer.commit(merge=False)
    return root / "index"


def _snapshot(index, model: RankingModel | None = None) -> Snapshot:
    """A snapshot of the index's live generation, with a cache of its own."""
    model = model or RankingModel()
    return IndexStore(index).open().snapshot(PostingsCache(1 << 20), model.bm25)


QUERIES = ["gout", "gout tendon", "calcium insomnia renal", "fever cough rash asthma pain",
           "sleep sleep migraine", "vitamin swelling nausea diabetes insulin gastric tumour",
           "unknownword gout"]


def _arrays_and_whoosh(index, text: str):
    """(array scoring, Whoosh's Ranked query) of one query over `index`: both TopDocs-like."""
    # Whoosh's Ranked query counts matched words; the array scorer can do the same.
    builder, model = QueryBuilder(), RankingModel(coord_by_idf=False)
    parsed = builder.build(text)
    with whoosh_searcher(index, model) as searcher:
        assert len(searcher.leaf_searchers()) > 1, "the fixture should have several segments"
        assert searcher.reader().has_deletions(), "the fixture should have deletions"
        expected = whoosh_top(searcher, builder.whoosh_query(text), parsed.own, model, 50)
    got = QuestionScores(_snapshot(index, model), parsed.clauses, builder.field_boosts, model,
                         match=parsed.match if parsed.syntax else None).top(50)
    return parsed, got, expected


def _assert_same_ranking(got, expected) -> None:
    total, hits = expected
    assert got.total == total
    assert [s for _, s in got.hits] == pytest.approx([s for _, s in hits], rel=1e-5)
    # Equal scores may come in either order; everything else in the same order.
    assert {d for d, _ in got.hits[:40]} - {d for d, _ in hits} == set()


@pytest.mark.parametrize("text", QUERIES)
def test_array_scoring_ranks_as_the_whoosh_query_does(segmented_index, text):
    parsed, got, expected = _arrays_and_whoosh(segmented_index, text)
    assert not parsed.syntax
    _assert_same_ranking(got, expected)


def test_deleted_documents_are_neither_counted_nor_returned(segmented_index):
    engine = SearchEngine(Settings(index_dir=segmented_index, cache_size=0))
    with whoosh_searcher(segmented_index) as searcher:
        deleted = set()
        for leaf, offset in searcher.leaf_searchers():
            deleted |= {offset + d for d in leaf.reader().deleted_docs_set}
    with engine.pool.borrow() as snapshot:
        parsed = engine.builder.build(" ".join(WORDS))
        top = score_clauses(snapshot, parsed.clauses, engine.builder.field_boosts,
                            engine.model, 10_000)
        assert deleted and not deleted & {d for d, _ in top.hits}
        assert top.total == snapshot.doc_count() == len(top.hits)


def test_a_teaser_scores_below_a_full_article_matching_as_well(tmp_path):
    engine = _engine_over(tmp_path, [
        {"id": "full", "title": "Gout", "text": "Gout in the toe hurts."},
        {"id": "teaser", "title": "Gout", "text": "Gout in the toe hurts a lo..."}])
    ranked = engine.rank("gout toe")
    assert [i for i, _ in ranked] == ["full", "teaser"]
    assert ranked[1][1] == pytest.approx(ranked[0][1] * RankingModel().teaser_factor)


def test_postings_arrays_hold_what_whoosh_matchers_walk(segmented_index):
    with whoosh_searcher(segmented_index) as searcher:
        for leaf, _ in searcher.leaf_searchers():
            reader = leaf.reader()
            for term in ("gout", "sleep", "asthma"):
                got = read_postings(reader, "body", term)
                if ("body", term.encode()) not in reader:  # e.g. the segment of teasers
                    assert not len(got.docs)
                    continue
                matcher = reader._terms.matcher("body", term.encode(),
                                                reader.schema["body"].format)
                ids, freqs = [], []
                while matcher.is_active():
                    ids.append(matcher.id())
                    freqs.append(matcher.weight())
                    matcher.next()
                assert got.docs.tolist() == ids
                assert got.freqs.tolist() == pytest.approx(freqs)
            assert not len(read_postings(reader, "body", "notaword").docs)


def test_postings_cache_stays_within_its_byte_budget(segmented_index):
    cache = PostingsCache(4096)
    snapshot = IndexStore(segmented_index).open().snapshot(cache, RankingModel().bm25)
    for segment in snapshot.segments:
        for term in WORDS:
            segment.postings("body", term)
    assert 0 < cache.nbytes <= 4096


def test_repeated_words_come_from_the_cache(segmented_index):
    engine = SearchEngine(Settings(index_dir=segmented_index, cache_size=0))
    engine.search("gout tendon")
    misses = engine.postings.misses
    engine.search("tendon gout")
    assert engine.postings.misses == misses and engine.postings.hits > 0


@given(tf=st.floats(0.5, 50), length=st.floats(1, 5000), avg=st.floats(1, 3000),
       idf=st.floats(0.1, 12), b=st.floats(0, 1), k1=st.floats(0.1, 3))
def test_bm25_arrays_equal_whooshs_formula(tf, length, avg, idf, b, k1):
    got = bm25(idf, np.array([tf]), np.array([length]), avg, b, k1)[0]
    assert got == pytest.approx(whoosh_bm25(idf, tf, length, avg, b, k1), rel=1e-9)


@given(matched=st.integers(0, 12), wanted=st.integers(2, 12), power=st.floats(0, 4))
def test_coordination_arrays_equal_the_scalar_form(matched, wanted, power):
    got = coordination_factors(np.array([float(matched)]), wanted, power)[0]
    assert got == pytest.approx(coordination(matched, wanted, power))


def test_a_document_matching_more_words_outranks_one_matching_fewer():
    # Pure: same BM25 sum, coordination decides.
    factors = coordination_factors(np.array([1.0, 2.0, 3.0]), 3, 1.5)
    assert factors[0] < factors[1] < factors[2] == 1.0


def test_a_phrase_expansion_finds_the_medical_wording(tmp_path):
    engine = _engine_over(tmp_path, [
        {"id": "mi", "title": "After a myocardial infarction",
         "text": "Rehabilitation after myocardial infarction takes weeks."},
        {"id": "other", "title": "Infarction types",
         "text": "An infarction in the myocardial wall, or elsewhere."}])
    parsed = engine.builder.build("heart attack")
    phrases = [c for c in parsed.clauses if len(c.terms) > 1]
    # A lay phrase names the concept: its medical wording weighs as the reader's words do;
    # a single lay word's expansion ("stomach" -> gastric) weighs less.
    assert phrases and all(not c.own and c.weight == 1.0 for c in phrases)
    single = [c for c in engine.builder.build("stomach").clauses if not c.own]
    assert single and all(c.weight < 1.0 for c in single)
    page = engine.search("heart attack", correct=False)
    # Only the exact phrase matches: words of the phrase apart do not.
    assert [r.id for r in page.results] == ["mi"]


def test_a_medical_word_counts_for_the_lay_word_it_stands_for(tmp_path):
    docs = [{"id": "gastric", "title": "Gastric polyp", "text": "A gastric polyp grows."},
            {"id": "polyp", "title": "Polyps", "text": "A polyp of the colon grows slowly."}]
    docs += [{"id": f"n{i}", "title": f"Note {i}", "text": "Notes on the stomach."}
             for i in range(5)]
    engine = _engine_over(tmp_path, docs)
    parsed = engine.builder.build("stomach polyp")
    assert any(c.covers == ("stomach",) for c in parsed.clauses if not c.own)
    # "gastric" stands for "stomach": the gastric polyp matches both of the reader's words.
    assert engine.search("stomach polyp").results[0].id == "gastric"


def test_missing_a_common_word_costs_less_than_missing_a_rare_one(tmp_path):
    docs = [{"id": "rare", "title": "Note", "text": "Hamartoma found."},
            {"id": "common", "title": "Note", "text": "Kidney swelling noted."}]
    docs += [{"id": f"k{i}", "title": "Note", "text": "Kidney notes."} for i in range(9)]
    docs += [{"id": f"s{i}", "title": "Note", "text": "Swelling listed."} for i in range(29)]
    assert RankingModel().coord_by_idf
    by_idf = _engine_over(tmp_path / "idf", docs)
    by_count = _engine_over(tmp_path / "count", docs, coord_by_idf=False)
    # "rare" lacks two common words, "common" lacks the one rare word: by idf, the document
    # with the word that says most about the question comes first; by count it would not.
    assert by_idf.rank("hamartoma kidney swelling")[0][0] == "rare"
    assert by_count.rank("hamartoma kidney swelling")[0][0] == "common"


@pytest.mark.parametrize("text", QUERIES[:-1])
def test_feedback_words_scored_on_top_rank_as_scoring_everything_again(segmented_index, text):
    builder, model = QueryBuilder(), RankingModel()
    extra = [Clause(("cramp",), 0.3, own=False, feedback=True),
             Clause(("nausea",), 0.1, own=False, feedback=True)]
    parsed = builder.build(text)
    scores = QuestionScores(_snapshot(segmented_index), parsed.clauses, builder.field_boosts,
                            model)
    scores.add(extra)
    got = scores.top(60)
    expected = score_clauses(_snapshot(segmented_index), [*parsed.clauses, *extra],
                             builder.field_boosts, model, 60)
    assert (got.total, got.matched, got.related) == (
        expected.total, expected.matched, expected.related)
    assert [d for d, _ in got.hits] == [d for d, _ in expected.hits]
    assert [s for _, s in got.hits] == pytest.approx([s for _, s in expected.hits], rel=1e-12)


def test_a_word_the_reader_repeats_weighs_more():
    parsed = QueryBuilder().build("Noonan syndrome. What is known of Noonan syndrome and kidneys?")
    weights = {c.terms[0]: c.weight for c in parsed.clauses if c.own}
    assert weights["noonan"] == weights["syndrome"] == 2.0 and weights["kidnei"] == 1.0


# question -> (its subject's term, its framing terms, the articles (id: title, text), the
# filler text of notes and their number, best with framing weighed less, best without)
FRAMED_QUESTIONS = {
    "What research (or clinical trials) is being done for gout?": (
        "gout", ("research", "trial"), {
            "trials": ("Clinical trials", "Research in clinical trials, and how trials work."),
            "gout": ("Gout", "Gout is a form of arthritis. Research on gout continues.")},
        ("Research notes.", 20), "gout", "trials"),
    # Words judging the subject frame a question too.
    "Is coffee bad for you?": ("coffe", ("bad",), {
        "coffee": ("Coffee and health", "Coffee is drunk every day. Coffee holds caffeine."),
        "taste": ("Taste disorders", "With a taste disorder, coffee may taste bad.")},
        ("Notes on coffee.", 3), "coffee", "taste"),
}


@pytest.mark.parametrize("question", FRAMED_QUESTIONS)
def test_the_subject_of_a_question_outweighs_the_words_framing_it(tmp_path, question):
    subject, framing, articles, (note, notes), best, best_unframed = FRAMED_QUESTIONS[question]
    docs = [{"id": key, "title": title, "text": text} for key, (title, text) in articles.items()]
    docs += [{"id": f"n{i}", "title": f"Note {i}", "text": note} for i in range(notes)]
    engine = _engine_over(tmp_path, docs)
    weights = {c.terms[0]: c.weight for c in engine.builder.build(question).clauses if c.own}
    assert weights[subject] == 1.0 and all(weights[t] < 1.0 for t in framing)
    assert engine.rank(question)[0][0] == best
    # Weighed like the subject, the framing words would pick the other article.
    engine.builder = QueryBuilder(aspect_weight=1.0)
    assert engine.rank(question)[0][0] == best_unframed


SYNTAX_QUERIES = ['"gout tendon" fever', "gout AND tendon", "gout -tendon", "calcium NOT sleep",
                  'insomnia AND "sleep pain"', "gout NOT (fever OR cough)", "(gout OR fever) -rash"]


@pytest.mark.parametrize("text", SYNTAX_QUERIES)
def test_search_syntax_is_scored_with_arrays_as_whoosh_scores_it(segmented_index, text):
    parsed, got, expected = _arrays_and_whoosh(segmented_index, text)
    assert parsed.syntax and parsed.clauses
    _assert_same_ranking(got, expected)


def test_a_field_restricted_word_matches_only_in_that_field(segmented_index):
    engine = SearchEngine(Settings(index_dir=segmented_index, cache_size=0))
    with whoosh_searcher(segmented_index) as searcher:
        expected = sum(1 for _ in searcher.docs_for_query(engine.builder.whoosh_query(
            "title:gout")))
    with engine.pool.borrow() as snapshot:
        titles = {snapshot.stored(d)["title"] for d, _ in pipeline.rank(
            snapshot, engine.builder.build("title:gout"), 1000, engine.ranking).hits}
    assert engine.search("title:gout").documents == expected > 0
    assert all("gout" in title.lower() for title in titles)


def test_phrase_matches_are_cached_per_segment(segmented_index):
    engine = SearchEngine(Settings(index_dir=segmented_index, cache_size=0))
    first = engine.search('"gout tendon"')
    misses = engine.postings.misses
    again = engine.search('"gout tendon"')
    assert engine.postings.misses == misses
    assert [r.id for r in again.results] == [r.id for r in first.results] and first.total


def test_columns_read_in_one_piece_hold_what_whoosh_reads_per_document(segmented_index):
    with whoosh_searcher(segmented_index) as searcher:
        for leaf, _ in searcher.leaf_searchers():
            reader = leaf.reader()
            for name in ("id", "kind", "source", "hash"):
                assert column_values(reader, name) == list(
                    reader.column_reader(name, translate=False))


# -- the article the reader named -------------------------------------------------------------

def test_a_question_names_a_title_only_when_it_holds_all_its_words_in_order():
    assert named_by("Parkinson's Disease", "What is (are) Parkinson's disease ?")
    assert named_by("Parkinson’s disease", "what is parkinson's disease")  # curly apostrophe
    assert not named_by("Parkinson disease", "What is (are) Parkinson's Disease ?")
    assert not named_by("Disease Parkinson's", "What is Parkinson's Disease ?")
    assert not named_by("", "anything")


def test_of_two_pages_on_one_subject_the_one_the_reader_named_comes_first(tmp_path):
    # Two sources' pages on one disease: the longer one scores a little higher by words.
    docs = [
        {"id": "other-source", "title": "Parkinson disease",
         "text": "Parkinson disease is a brain disorder. Parkinson disease causes tremor, "
                 "stiffness and slow movement."},
        {"id": "named", "title": "Parkinson's Disease",
         "text": "Parkinson's disease is a brain disorder that leads to shaking."},
    ]
    assert first_without_and_with_the_bonus(
        tmp_path, docs, "What is (are) Parkinson's Disease ?") == ("other-source", "named")


def first_without_and_with_the_bonus(tmp_path, docs: list[dict], question: str
                                     ) -> tuple[str, str]:
    """The first article for the question among `docs` (and 20 unrelated ones), without
    the title match bonus and with it."""
    docs = docs + [{"id": f"n{i}", "title": f"Other {i}", "text": f"Weather report {i}."}
                   for i in range(20)]
    return (_engine_over(tmp_path / "off", docs, title_match_bonus=0.0).rank(question)[0][0],
            _engine_over(tmp_path / "on", docs).rank(question)[0][0])


def test_of_two_named_titles_one_inside_the_other_only_the_longer_counts():
    titles = ["Joubert syndrome", "Joubert syndrome 2", "Clinical Trials", "Other"]
    question = "What are the clinical trials for Joubert syndrome 2 ?"
    assert named_titles(titles, question) == [False, True, True, False]
    # Named alone, the shorter title counts.
    assert named_titles(titles[:1], question) == [True]
    assert named_titles(["Asthma", "asthma"], "What is asthma?") == [True, True]


def test_the_reader_who_names_a_subtype_gets_the_subtype_first(tmp_path):
    # The general page scores higher by words; both titles are in the question.
    docs = [
        {"id": "general", "title": "Joubert syndrome",
         "text": "Joubert syndrome is a disorder of brain development. Joubert syndrome "
                 "signs and symptoms vary and include weak muscle tone. Type 2 is the "
                 "most common of the Joubert syndrome types."},
        {"id": "subtype", "title": "Joubert syndrome 2",
         "text": "Joubert syndrome 2 is one type of the disorder, its symptoms caused by one "
                 "gene, passed on by both parents, and seen in some families more than "
                 "others."},
    ]
    assert first_without_and_with_the_bonus(
        tmp_path, docs, "What are the symptoms of Joubert syndrome 2 ?") == ("general", "subtype")


@pytest.mark.parametrize("text", QUERIES[:-1])
def test_scores_of_any_document_are_those_its_rank_gives_it(segmented_index, text):
    builder, model = QueryBuilder(), RankingModel()
    snapshot = _snapshot(segmented_index)
    parsed = builder.build(text)
    scores = QuestionScores(snapshot, parsed.clauses, builder.field_boosts, model)
    scores.add([Clause(("cramp",), 0.3, own=False, feedback=True)])
    everything = scores.top(snapshot.doc_count_all())
    ranked = dict(everything.hits)
    docnums = list(range(snapshot.doc_count_all()))
    got, by_words = scores.scores_of(docnums)
    # Deleted and unmatched documents score 0; the rest as ranked, words or feedback.
    assert got == pytest.approx([ranked.get(d, 0.0) for d in docnums], rel=1e-12)
    assert set(np.flatnonzero(by_words)) == set(ranked) - everything.related
