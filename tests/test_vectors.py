"""Article vectors: kept in step with the index, computed only for what changed, and used to
re-rank the best matches by meaning."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.build import index_corpus, indexed_entries
from indexer.build import vectors as building
from indexer.build.vectors import stored_texts, update_vectors
from indexer.config import Settings
from indexer.ranking.encoder import MODEL_NAME
from indexer.ranking.formulas import fuse
from indexer.ranking.model import RankingModel
from indexer.search import SearchEngine
from indexer.storage import IndexStore, VectorTable
from indexer.storage import vectors as stored
from tests.conftest import CORPUS


def table_of(store: IndexStore) -> VectorTable:
    table = VectorTable.read(store.current_path(), MODEL_NAME)
    assert table is not None
    return table


# -- fusing scores ----------------------------------------------------------------------------

def test_fusing_with_weight_zero_keeps_the_order_by_words():
    scores = np.array([3.0, 2.0, 1.0])
    fused = fuse(scores, np.array([0.1, 0.5, 0.9]), 0.0)
    assert list(np.argsort(-fused)) == [0, 1, 2]


def test_fusing_lets_a_close_meaning_overtake_a_slightly_better_word_match():
    fused = fuse(np.array([3.0, 2.9]), np.array([0.1, 0.6]), 0.8)
    assert fused[1] > fused[0]


def test_an_article_without_a_vector_takes_the_mean_cosine():
    fused = fuse(np.array([2.0, 2.0, 2.0]), np.array([0.2, np.nan, 0.6]), 0.5)
    assert fused[1] == pytest.approx((fused[0] + fused[2]) / 2)


def test_no_vectors_at_all_leave_the_scores_as_they_are():
    scores = np.array([2.0, 1.0])
    assert list(fuse(scores, np.array([np.nan, np.nan]), 0.8)) == [2.0, 1.0]


# -- keeping vectors in step with the index ---------------------------------------------------

def test_every_indexed_entry_gets_a_vector(store, encoder):
    summary = index_corpus([CORPUS], store, encoder=encoder)
    assert (summary.vectors.embedded, summary.vectors.reused) == (16, 0)
    table = table_of(store)
    assert sorted(table.ids) == sorted(indexed_entries(store.open()))
    assert table.matrix.shape == (16, 384)


def test_an_update_embeds_only_new_and_changed_articles(corpus_dir, store, encoder):
    index_corpus([corpus_dir], store, encoder=encoder)
    (corpus_dir / "gout.txt").write_text("Gout\n\nGout is arthritis caused by uric acid.\n")
    summary = index_corpus([corpus_dir], store, encoder=encoder)
    assert (summary.vectors.embedded, summary.vectors.reused) == (1, 16)

    (corpus_dir / "gout.txt").write_text("Gout\n\nGout is arthritis from urate crystals.\n")
    summary = index_corpus([corpus_dir], store, encoder=encoder)
    assert (summary.vectors.embedded, summary.vectors.reused) == (1, 16)
    gout = table_of(store).matrix[table_of(store).rows["gout"]].astype(np.float32)
    expected = encoder.encode(["Gout. Gout is arthritis from urate crystals."])[0]
    assert float(gout @ expected) > 0.999

    (corpus_dir / "gout.txt").unlink()
    summary = index_corpus([corpus_dir], store, encoder=encoder)
    assert summary.vectors.embedded == 0
    assert "gout" not in table_of(store).rows


def test_a_run_that_changes_nothing_rewrites_nothing(store, encoder):
    index_corpus([CORPUS], store, encoder=encoder)
    stamp = store.vectors_stamp(store.current_name())
    summary = index_corpus([CORPUS], store, encoder=encoder)
    assert (summary.vectors.embedded, summary.vectors.reused) == (0, 16)
    assert store.vectors_stamp(store.current_name()) == stamp


def test_a_rebuild_reuses_the_vectors_of_unchanged_articles(store, encoder):
    index_corpus([CORPUS], store, encoder=encoder)
    summary = index_corpus([CORPUS], store, rebuild=True, encoder=encoder)
    assert (summary.vectors.embedded, summary.vectors.reused) == (0, 16)
    assert len(table_of(store)) == 16


def test_an_index_built_without_vectors_gets_them_on_the_next_run(store, encoder):
    index_corpus([CORPUS], store)
    assert VectorTable.read(store.current_path(), MODEL_NAME) is None
    summary = index_corpus([CORPUS], store, encoder=encoder)
    assert summary.vectors.embedded == 16


def test_teaser_fragment_is_not_embedded(store):
    index_corpus([CORPUS], store)
    teaser = "seed-digest/gastric-cancer-refers-to-a-malignant-tumor-that"
    assert stored_texts(store.open(), [teaser])[teaser].endswith("a malignant tumor that")


class _FailingEncoder:
    """The real encoder, failing on its `fail_at`-th call, like a killed run."""

    def __init__(self, encoder, fail_at: int):
        self.encoder, self.calls, self.fail_at = encoder, 0, fail_at

    def encode(self, texts):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        return self.encoder.encode(texts)


def test_embedding_killed_midway_resumes_from_its_last_save(store, encoder, monkeypatch):
    index_corpus([CORPUS], store)
    monkeypatch.setattr(building, "CHUNK_DOCS", 2)
    monkeypatch.setattr(building, "CHECKPOINT_SECONDS", 0.0)  # a save after every chunk
    hashes = {i: e.hash for i, e in indexed_entries(store.open()).items()}
    with pytest.raises(KeyboardInterrupt):
        update_vectors(store.open(), hashes, _FailingEncoder(encoder, fail_at=6))
    assert len(table_of(store)) == 10  # the five chunks of 2 articles before the kill
    counts = update_vectors(store.open(), hashes, encoder)
    assert (counts.embedded, counts.reused) == (6, 10)
    assert sorted(table_of(store).ids) == sorted(hashes)


# -- ranking by meaning -----------------------------------------------------------------------

NEAR_TIE = {
    # Both match "pain" once and nothing else of the questions below.
    "back.txt": "Back strain\n\nLifting heavy boxes can strain the muscles of the lower back "
                "and cause pain for days.\n",
    "molar.txt": "Dental decay\n\nDecay in a molar can cause pain when you chew or drink "
                 "something cold or sweet.\n",
}


def indexed_with_vectors(tmp_path, encoder, files: dict[str, str]) -> IndexStore:
    """A store indexing these files ({name: text}) with their vectors."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / name).write_text(text)
    store = IndexStore(tmp_path / "ix")
    index_corpus([corpus], store, encoder=encoder)
    return store


@pytest.fixture
def near_tie(tmp_path, encoder) -> IndexStore:
    return indexed_with_vectors(tmp_path, encoder, NEAR_TIE)


def ranked(store: IndexStore, question: str, weight: float) -> list[str]:
    engine = SearchEngine(Settings(index_dir=store.root),
                          model=RankingModel(dense_weight=weight))
    return [doc_id for doc_id, _ in engine.rank(question)]


def test_meaning_puts_the_article_that_answers_first(near_tie):
    question = "pain after moving furniture"
    assert ranked(near_tie, question, 0.0)[0] == "molar"  # by words: a near tie on "pain"
    assert ranked(near_tie, question, 0.8)[0] == "back"
    assert ranked(near_tie, "pain in my jaw when eating ice cream", 0.8)[0] == "molar"


def test_without_vectors_the_ranking_is_by_words(near_tie):
    question = "pain after moving furniture"
    by_words = ranked(near_tie, question, 0.0)
    (near_tie.current_path() / "vectors.npz").unlink()
    assert ranked(near_tie, question, 0.8) == by_words


def test_search_syntax_is_ranked_by_words_alone(near_tie):
    question = "pain OR furniture"
    assert ranked(near_tie, question, 0.8) == ranked(near_tie, question, 0.0) != ["back", "molar"]


def test_new_vectors_are_used_at_once_not_after_the_cache_expires(near_tie):
    engine = SearchEngine(Settings(index_dir=near_tie.root))
    question = "pain after moving furniture"
    before = engine.search(question)
    (near_tie.current_path() / "vectors.npz").unlink()
    after = engine.search(question)
    assert [r.score for r in after.results] != [r.score for r in before.results]


# -- articles found by meaning alone join those found by words ----------------------------------

AWAKE = {**NEAR_TIE,
         # No word of "pain that keeps me awake" (cosine 0.50 to it), nor of the other's (0.22).
         "insomnia.txt": "Insomnia\n\nInsomnia is trouble falling asleep or staying asleep "
                         "through the night.\n",
         "sunburn.txt": "Sunburn\n\nToo much ultraviolet light reddens and blisters the "
                        "skin.\n"}


@pytest.fixture
def awake(tmp_path, encoder) -> IndexStore:
    return indexed_with_vectors(tmp_path, encoder, AWAKE)


def joined(store: IndexStore, candidates: int, min_cosine: float = 0.4):
    model = RankingModel(dense_candidates=candidates, meaning_min_cosine=min_cosine)
    return SearchEngine(Settings(index_dir=store.root), model=model).search(
        "pain that keeps me awake")


def test_an_article_close_in_meaning_joins_though_it_lacks_the_words(awake):
    assert {r.id for r in joined(awake, 0).results} == {"back", "molar"}
    page = joined(awake, 10)
    assert [r.id for r in page.results][2:] == ["insomnia"]
    assert [r.related for r in page.results] == [False, False, True]
    assert (page.total, page.matched) == (3, 2)


def test_articles_not_close_enough_in_meaning_do_not_join(awake):
    assert {r.id for r in joined(awake, 10, min_cosine=0.55).results} == {"back", "molar"}


def test_at_most_the_set_number_of_articles_join(awake):
    assert len(joined(awake, 1, min_cosine=0.0).results) == 3
    assert len(joined(awake, 2, min_cosine=0.0).results) == 4


def test_a_question_naming_a_title_gets_no_articles_by_meaning(awake):
    model = RankingModel(dense_candidates=10, meaning_min_cosine=0.0)
    page = SearchEngine(Settings(index_dir=awake.root), model=model).search("sunburn")
    assert [r.id for r in page.results] == ["sunburn"]


# -- when no article has the words ------------------------------------------------------------

def test_a_question_no_article_has_the_words_of_gets_the_closest_in_meaning(engine):
    page = engine.search("itchy flaky scalp")
    assert page.by_meaning and page.matched == 0
    assert page.results[0].title.startswith("Dandruff")
    assert all(r.related for r in page.results)
    assert page.message == "No article has these words. These are the closest in meaning."


@pytest.mark.parametrize("text", ["cheap flights to paris", "weather tomorrow", "qwxzv",
                                  "zqsecretleak"])
def test_what_is_no_health_question_finds_nothing_by_meaning_either(engine, text):
    page = engine.search(text)
    assert (page.total, page.by_meaning) == (0, False)


def test_an_index_without_vectors_never_loads_the_model(tmp_path):
    store = IndexStore(tmp_path / "ix")
    index_corpus([CORPUS], store)
    engine = SearchEngine(Settings(index_dir=store.root))
    engine.warm()
    assert engine.search("itchy flaky scalp").total == 0
    assert engine.search("pain after moving furniture").total
    assert not engine.meaning.encoder_loaded


def test_search_syntax_that_matches_nothing_falls_back_to_the_answer_by_meaning(engine):
    # Neither the phrase nor its words are in any article: rather than an empty page, the
    # articles closest in meaning, flagged as such.
    page = engine.search('"itchy flaky scalp"')
    assert page.by_meaning and page.results[0].title.startswith("Dandruff")


def test_nearest_is_the_closest_first_whatever_the_blocks(monkeypatch):
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((50, 384)).astype(np.float16)
    table = VectorTable([f"d{i}" for i in range(50)], ["h"] * 50, matrix, MODEL_NAME)
    query = matrix[12].astype(np.float32)
    expected = list(np.argsort(-(matrix.astype(np.float32) @ query), kind="stable"))
    monkeypatch.setattr(stored, "NEAREST_BLOCK", 7)  # blocks that do not divide the table
    assert [row for row, _ in table.nearest(query, 10)] == expected[:10]
    assert [row for row, _ in table.nearest(query, 500)] == expected


def test_nearest_puts_equally_close_articles_in_row_order():
    matrix = np.random.default_rng(4).standard_normal((50, 384)).astype(np.float16)
    matrix[[4, 30, 41]] = matrix[12]
    table = VectorTable([f"d{i}" for i in range(50)], ["h"] * 50, matrix, MODEL_NAME)
    query = matrix[12].astype(np.float32)
    assert [row for row, _ in table.nearest(query, 4)] == [4, 12, 30, 41]


def test_embedding_saves_on_a_clock_not_after_every_chunk(store, encoder, monkeypatch):
    index_corpus([CORPUS], store)
    monkeypatch.setattr(building, "CHUNK_DOCS", 2)
    hashes = {i: e.hash for i, e in indexed_entries(store.open()).items()}
    writes = []
    write = VectorTable.write
    monkeypatch.setattr(VectorTable, "write", lambda self, path: writes.append(len(self))
                        or write(self, path))
    update_vectors(store.open(), hashes, encoder)
    # Eight chunks in well under CHECKPOINT_SECONDS: one save, at the end.
    assert writes == [16]


def test_stats_counts_the_vectors_without_reading_them(store, encoder):
    index_corpus([CORPUS], store, encoder=encoder)
    assert VectorTable.count(store.current_path(), MODEL_NAME) == 16
    assert VectorTable.count(store.root, MODEL_NAME) == 0  # no table there
