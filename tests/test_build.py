"""Building and updating the index: counts, incremental runs, teasers, broken input, locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from indexer.build import NothingToIndex, index_corpus
from indexer.config import Settings
from indexer.ranking.encoder import MODEL_NAME
from indexer.search import SearchEngine
from indexer.storage import IndexBusy, IndexStore
from indexer.storage.stats import index_stats
from tests.conftest import CORPUS, ROOT


def search_ids(index_dir, query):
    return [r.id for r in SearchEngine(Settings(index_dir=index_dir)).search(query).results]


def test_shipped_corpus_indexes_one_article_and_fifteen_teasers(store):
    summary = index_corpus([CORPUS], store)
    assert (summary.added, summary.skipped) == (16, [])
    stats = index_stats(store, MODEL_NAME)
    assert (stats["entries"], stats["articles"], stats["teasers"]) == (16, 1, 15)


def test_second_run_over_the_same_corpus_writes_nothing(store):
    index_corpus([CORPUS], store)
    gen = store.current_path()
    before = sorted((p.name, p.stat().st_mtime_ns) for p in gen.iterdir())
    summary = index_corpus([CORPUS], store)
    assert (summary.added, summary.updated, summary.deleted, summary.unchanged) == (0, 0, 0, 16)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in gen.iterdir()) == before


def test_incremental_add_change_delete(corpus_dir, store):
    (corpus_dir / "gout.txt").write_text("Gout\n\nGout is arthritis caused by uric acid.\n")
    index_corpus([corpus_dir], store)
    assert search_ids(store.root, "uric acid")[0] == "gout"

    (corpus_dir / "gout.txt").write_text("Gout\n\nGout is arthritis from urate crystals.\n")
    (corpus_dir / "asthma.txt").write_text("Asthma\n\nAsthma narrows the airways.\n")
    summary = index_corpus([corpus_dir], store)
    assert (summary.added, summary.updated, summary.deleted) == (1, 1, 0)
    assert search_ids(store.root, "urate crystals") == ["gout"]
    assert search_ids(store.root, "uric") == []

    (corpus_dir / "gout.txt").unlink()
    summary = index_corpus([corpus_dir], store)
    assert (summary.added, summary.updated, summary.deleted) == (0, 0, 1)
    assert search_ids(store.root, "urate") == []
    assert index_stats(store, MODEL_NAME)["entries"] == 17


def test_removing_a_teaser_line_deletes_only_that_teaser(corpus_dir, store):
    index_corpus([corpus_dir], store)
    digest = corpus_dir / "seed-digest.txt"
    digest.write_text("".join(line for line in digest.read_text().splitlines(True)
                              if not line.startswith("Dandruff")))
    summary = index_corpus([corpus_dir], store)
    assert (summary.deleted, summary.unchanged, summary.added) == (1, 15, 0)


def test_teaser_fragment_is_not_indexed(engine):
    assert engine.search("pres").total == 0
    hits = engine.search("insomnia work").results
    assert hits[0].title == "Many people suffer from insomnia due to work"
    assert engine.search("hamartoma").total == 1


def test_teaser_that_opens_a_full_article_is_merged_into_it(tmp_path, store):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "digest.txt").write_text(
        "Gastric cancer refers to a malignant tumor that o...\n"
        "Dandruff is a very annoying problem, because if t...\n")
    (corpus / "gastric.html").write_text(
        "<html><body><h1>Gastric cancer</h1><p>Gastric cancer refers to a malignant tumor "
        "that originates in the stomach lining.</p></body></html>")
    summary = index_corpus([corpus], store)
    assert summary.merged == 1
    stats = index_stats(store, MODEL_NAME)
    assert (stats["articles"], stats["teasers"]) == (1, 1)
    assert search_ids(store.root, "gastric cancer") == ["gastric"]

    # The article goes; the teaser comes back on the next incremental run.
    (corpus / "gastric.html").unlink()
    index_corpus([corpus], store)
    assert index_stats(store, MODEL_NAME)["teasers"] == 2


def test_a_teaser_longer_than_the_merge_key_merges_into_an_article_added_later(tmp_path,
                                                                                store):
    from indexer.corpus.article import MERGE_KEY_CHARS

    opening = ("Gout is a form of inflammatory arthritis that develops in some people who "
               "have high levels of uric acid in the blood, and the acid can form needle-like "
               "crystals in a joint and cause sudden, severe episodes of pain, tenderness, "
               "warmth and swelling")
    assert len(opening) > MERGE_KEY_CHARS + 60
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "digest.txt").write_text(opening + " in the big t...\n")
    index_corpus([corpus], store)
    assert index_stats(store, MODEL_NAME)["teasers"] == 1
    (corpus / "gout.html").write_text(
        f"<html><body><h1>Gout</h1><p>{opening} in the big toe.</p></body></html>")
    summary = index_corpus([corpus], store)  # incremental: keys read back from the index
    assert summary.merged == 1
    stats = index_stats(store, MODEL_NAME)
    assert (stats["articles"], stats["teasers"]) == (1, 0)


def test_broken_files_are_skipped_with_reasons_and_the_rest_indexed(tmp_path, store):
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    (corpus / "good.html").write_text("<html><body><h1>Good</h1><p>Measles spreads.</p></body>"
                                      "</html>")
    (corpus / "mumps.txt").write_text("Mumps\n\nMumps swells the glands.\n")
    (corpus / "binary.html").write_bytes(bytes(range(256)) * 10)
    (corpus / "empty.html").write_bytes(b"")
    (corpus / "scripts.html").write_text("<html><script>a()</script></html>")
    (corpus / "huge.txt").write_text("word " * 300_000)
    (corpus / "bad.xml").write_text("<Document><Focus>x</Document>")
    (corpus / "records.jsonl").write_text('{"id": "r1", "text": "Rubella rash."}\nnot json\n')
    summary = index_corpus([corpus], store, max_bytes=1_000_000)
    reasons = {os.path.basename(s.path): s.reason for s in summary.skipped}
    assert set(reasons) == {"binary.html", "empty.html", "scripts.html", "huge.txt", "bad.xml",
                            "records.jsonl:2"}
    assert "binary" in reasons["binary.html"] and "empty" in reasons["empty.html"]
    assert "size cap" in reasons["huge.txt"] and "invalid JSON" in reasons["records.jsonl:2"]
    assert summary.added == 3
    assert search_ids(store.root, "measles mumps rubella")
    assert index_stats(store, MODEL_NAME)["entries"] == 3


def test_duplicate_ids_across_files_are_indexed_once(tmp_path, store):
    corpus = tmp_path / "dup"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text('{"id": "same", "text": "Alpha text."}\n')
    (corpus / "b.jsonl").write_text('{"id": "same", "text": "Beta text."}\n')
    summary = index_corpus([corpus], store)
    assert summary.added == 1
    assert any("duplicate id 'same'" in s.reason for s in summary.skipped)


def test_nothing_usable_is_an_error(tmp_path, store):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "empty.txt").write_text("")
    with pytest.raises(NothingToIndex):
        index_corpus([tmp_path / "e"], store)


def test_rebuild_swaps_in_a_new_generation_and_keeps_the_previous(store):
    index_corpus([CORPUS], store)
    first = store.current_name()
    summary = index_corpus([CORPUS], store, rebuild=True)
    assert summary.rebuilt and store.current_name() != first
    assert (store.root / first).is_dir()  # readers still holding it keep working
    index_corpus([CORPUS], store, rebuild=True)
    assert not (store.root / first).exists()


def test_two_workers_build_the_same_index(tmp_path):
    one, two = IndexStore(tmp_path / "one"), IndexStore(tmp_path / "two")
    index_corpus([CORPUS], one, workers=1)
    index_corpus([CORPUS], two, workers=2)
    assert index_stats(one, MODEL_NAME)["entries"] == index_stats(two, MODEL_NAME)["entries"] == 16
    assert search_ids(one.root, "calcium cramps") == search_ids(two.root, "calcium cramps")


def test_a_live_indexer_lock_is_never_broken(store):
    with store.writer_lock(), pytest.raises(IndexBusy, match="another indexer"):
        index_corpus([CORPUS], store)


def test_a_lock_left_by_a_killed_run_is_recovered(store):
    index_corpus([CORPUS], store)
    (store.root / "indexer.lock").write_text("999999")
    half_built = store.root / "gen-000009"
    half_built.mkdir()
    summary = index_corpus([CORPUS], store)
    assert summary.recovered_lock_pid == 999999
    assert not half_built.exists()


def test_a_writer_that_spills_every_document_to_disk_gives_the_same_answers(tmp_path):
    # memory_mb=0: the writer's pool is written out as a sorted run after every field.
    spilled, in_memory = IndexStore(tmp_path / "spilled"), IndexStore(tmp_path / "memory")
    index_corpus([CORPUS], spilled, memory_mb=0)
    index_corpus([CORPUS], in_memory)
    for query in ("How long does it take to heal a broken tendon", "stomach cancer",
                  "insomina", '"gastric cancer"'):
        pages = [SearchEngine(Settings(index_dir=s.root)).search(query)
                 for s in (spilled, in_memory)]
        assert [(r.id, r.score, r.snippet) for r in pages[0].results] == [
            (r.id, r.score, r.snippet) for r in pages[1].results]
        assert pages[0].suggestion == pages[1].suggestion


def test_cli_memory_flag_sets_the_writer_pool(tmp_path):
    out = run_cli("index", str(CORPUS), "--index-dir", str(tmp_path / "ix"), "--memory-mb",
                  "8", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == 16
    out = run_cli("index", str(CORPUS), "--index-dir", str(tmp_path / "ix"), "--memory-mb",
                  "1")
    assert out.returncode != 0 and "--memory-mb" in out.stderr


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "healthsearch", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_cli_index_json_summary_and_stats(tmp_path):
    out = run_cli("index", str(CORPUS), "--index-dir", str(tmp_path / "ix"), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert {"added", "updated", "deleted", "unchanged", "skipped", "seconds",
            "docs_per_second"} <= set(summary)
    assert summary["added"] == 16
    stats = json.loads(run_cli("stats", "--json", "--index-dir", str(tmp_path / "ix")).stdout)
    assert {"entries", "articles", "teasers", "terms", "segments", "size_bytes", "built_at",
            "corpus"} <= set(stats)
    assert (stats["articles"], stats["teasers"]) == (1, 15)


def test_cli_index_keeps_vectors_unless_told_not_to(tmp_path):
    out = run_cli("index", str(CORPUS), "--index-dir", str(tmp_path / "ix"))
    assert out.returncode == 0, out.stderr
    assert "vectors: 16 embedded, 0 reused" in out.stdout
    out = run_cli("index", str(CORPUS), "--index-dir", str(tmp_path / "ix"), "--json")
    assert json.loads(out.stdout)["vectors"]["reused"] == 16
    stats = json.loads(run_cli("stats", "--json", "--index-dir", str(tmp_path / "ix")).stdout)
    assert stats["vectors"] == stats["entries"] == 16 and stats["meaning"] == "on"
    out = run_cli("index", str(CORPUS), "--index-dir", str(tmp_path / "words"), "--json",
                  "--no-vectors")
    assert json.loads(out.stdout)["vectors"] is None
    assert not list((tmp_path / "words").glob("gen-*/vectors.npz"))
    stats = json.loads(run_cli("stats", "--json", "--index-dir", str(tmp_path / "words")).stdout)
    assert stats["vectors"] == 0 and stats["meaning"].startswith("off")


def test_the_summary_gives_the_words_and_the_embedding_their_own_rates(tmp_path):
    out = run_cli("index", str(CORPUS), "--index-dir", str(tmp_path / "ix"), "--json")
    summary = json.loads(out.stdout)
    vectors = summary["vectors"]
    # The words' rate counts the words' time, not the embedding's.
    assert summary["words_seconds"] < summary["seconds"]
    assert summary["docs_per_second"] == pytest.approx(16 / summary["words_seconds"], rel=0.05)
    assert vectors["embedded"] == 16 and vectors["docs_per_second"] == pytest.approx(
        16 / vectors["seconds"], rel=0.05)


def test_progress_is_written_as_lines_when_standard_error_is_not_a_terminal(tmp_path):
    out = run_cli("index", str(CORPUS), "--index-dir", str(tmp_path / "ix"), "--json")
    assert out.returncode == 0, out.stderr
    json.loads(out.stdout)  # the summary alone on standard output
    lines = out.stderr.splitlines()
    assert any(line.startswith("indexing: ") and "done in" in line for line in lines)
    assert any(line.startswith("embedding: 16/16 docs (100%)") for line in lines)
    assert "\r" not in out.stderr
    quiet = run_cli("index", str(CORPUS), "--index-dir", str(tmp_path / "ix2"), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_an_unusable_model_is_said_in_one_line_and_the_words_are_still_indexed(tmp_path):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not a model")
    env = {**os.environ, "HEALTHSEARCH_MODEL_DIR": str(broken)}
    out = subprocess.run([sys.executable, "-m", "healthsearch", "index", str(CORPUS),
                          "--index-dir", str(tmp_path / "ix"), "--quiet"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    notes = [line for line in out.stderr.splitlines() if line]
    assert len(notes) == 1 and str(broken) in notes[0] and "ranks by words alone" in notes[0]
    assert "16 added" in out.stdout and "16 without a vector (no model)" in out.stdout
    stats = subprocess.run([sys.executable, "-m", "healthsearch", "stats", "--json",
                            "--index-dir", str(tmp_path / "ix")], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert json.loads(stats.stdout)["meaning"].startswith("off")


def test_a_run_with_nothing_to_embed_never_loads_the_model(store, encoder, monkeypatch):
    index_corpus([CORPUS], store, encoder=encoder)
    loads = []
    summary = index_corpus([CORPUS], store, encoder=lambda count: loads.append(count) or encoder)
    assert loads == [] and (summary.vectors.embedded, summary.vectors.reused) == (0, 16)


def test_cli_defaults_to_corpus_and_strict_fails_on_skips(tmp_path):
    out = run_cli("index", "--index-dir", str(tmp_path / "ix"), "--quiet")
    assert out.returncode == 0 and "16 added" in out.stdout
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ok.txt").write_text("Fine\n\nA fine article.\n")
    (bad / "empty.txt").write_text("")
    out = run_cli("index", str(bad), "--index-dir", str(tmp_path / "ix2"), "--strict")
    assert out.returncode != 0 and "empty.txt: empty file" in out.stderr
    out = run_cli("index", str(tmp_path / "nothing"), "--index-dir", str(tmp_path / "ix3"))
    assert out.returncode != 0 and "no usable entry" in out.stderr


def test_cli_search_prints_results_and_json(tmp_path):
    run_cli("index", "--index-dir", str(tmp_path / "ix"), "--quiet")
    out = run_cli("search", "stomach cancer", "--index-dir", str(tmp_path / "ix"), "--json")
    page = json.loads(out.stdout)
    assert page["results"][0]["title"].startswith("Gastric cancer")
    text = run_cli("search", "insomina", "--index-dir", str(tmp_path / "ix")).stdout
    assert "insomnia" in text.lower()


def test_a_rebuild_writes_articles_while_the_corpus_is_still_being_read(tmp_path, store,
                                                                         monkeypatch):
    import indexer.build.apply as build
    import indexer.corpus.reading as reading

    corpus = tmp_path / "many"
    corpus.mkdir()
    for i in range(5):
        (corpus / f"f{i}.jsonl").write_text(f'{{"id": "d{i}", "text": "Article {i} text."}}\n')

    files_read = []
    read_file = reading.read_file

    def counting_read_file(*args, **kwargs):
        files_read.append(1)
        return read_file(*args, **kwargs)

    written_after = []
    add = build._StreamingWriter.add

    def recording_add(self, entry):
        written_after.append(len(files_read))
        add(self, entry)

    monkeypatch.setattr(reading, "read_file", counting_read_file)
    monkeypatch.setattr(build._StreamingWriter, "add", recording_add)
    index_corpus([corpus], store, rebuild=True, workers=1)
    # Each article goes to the writer as soon as its file is read, not after the whole corpus.
    assert written_after == [1, 2, 3, 4, 5]
    assert index_stats(store, MODEL_NAME)["entries"] == 5


def test_a_rebuild_that_finds_nothing_leaves_no_generation_behind(tmp_path, store):
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "empty.txt").write_text("")
    with pytest.raises(NothingToIndex):
        index_corpus([tmp_path / "e"], store, rebuild=True)
    assert not [p for p in store.root.iterdir() if p.name.startswith("gen-")]


def test_a_rebuild_reads_back_only_the_articles_a_teaser_may_open(tmp_path, store):
    from indexer.build.apply import _articles_teasers_may_open
    from indexer.corpus.reading import read_corpus

    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "digest.txt").write_text("Gastric cancer refers to a malignant tumor that o...\n")
    for name, text in (("gastric", "Gastric cancer refers to a malignant tumor that starts in "
                        "the stomach lining."), ("renal", "Renal hamartoma is common."),
                       ("gastritis", "Gastritis is an inflammation of the stomach lining.")):
        (corpus / f"{name}.html").write_text(f"<html><body><h1>{name}</h1><p>{text}</p>"
                                             "</body></html>")
    summary = index_corpus([corpus], store, rebuild=True, workers=1)
    assert summary.merged == 1 and summary.added == 3
    teasers = [e for e in read_corpus([corpus], 1 << 20).entries if e.kind == "teaser"]
    candidates = _articles_teasers_may_open(store.open(store.current_path()), teasers)
    assert [doc_id for doc_id, _ in candidates] == ["gastric"]
    assert candidates[0][1].startswith(teasers[0].merge_key)


def test_a_long_lived_engine_never_answers_from_an_index_replaced_since(corpus_dir, store):
    gout = corpus_dir / "gout.txt"
    gout.write_text("Gout\n\nGout is arthritis caused by uric acid.\n")
    index_corpus([corpus_dir], store)
    engine = SearchEngine(Settings(index_dir=store.root))  # result cache on
    assert engine.search("urate").total == 0
    assert engine.search("urate").total == 0  # now from the cache

    gout.write_text("Gout\n\nGout is arthritis from urate crystals.\n")
    index_corpus([corpus_dir], store)  # an incremental commit into the live generation
    assert store.live_version() == engine.version()
    assert [r.id for r in engine.search("urate").results] == ["gout"]

    gout.write_text("Gout\n\nGout is arthritis caused by uric acid.\n")
    index_corpus([corpus_dir], store, rebuild=True)  # a new generation swapped in
    assert store.live_version() == engine.version()
    assert engine.search("urate").total == 0


def test_a_cached_answer_does_not_wait_for_a_busy_searcher(engine):
    import contextlib
    import threading

    first = engine.search("insomnia")
    with contextlib.ExitStack() as busy:
        for _ in range(engine.settings.searchers):
            # Every snapshot borrowed, as by slow questions being computed.
            busy.enter_context(engine.pool.borrow())
        answers = []
        reader = threading.Thread(target=lambda: answers.append(engine.search("insomnia")))
        reader.start()
        reader.join(timeout=10)
        assert answers and answers[0].results == first.results


def test_equal_scores_keep_one_order_however_the_index_was_built(tmp_path):
    text = "Gout\n\nGout is arthritis caused by uric acid crystals in a joint.\n"
    names = ["alpha", "mike", "zulu"]
    at_once, one_by_one = tmp_path / "at-once", tmp_path / "one-by-one"
    for folder in (at_once, one_by_one):
        folder.mkdir()
    for name in names:
        (at_once / f"{name}.txt").write_text(text)
    store_a = IndexStore(tmp_path / "index-a")
    index_corpus([at_once], store_a)
    # The same articles added one commit at a time, last name first: other segments, other
    # document numbers.
    store_b = IndexStore(tmp_path / "index-b")
    for name in reversed(names):
        (one_by_one / f"{name}.txt").write_text(text)
        index_corpus([one_by_one], store_b)
    ranked = [SearchEngine(Settings(index_dir=s.root)).rank("uric acid gout")
              for s in (store_a, store_b)]
    assert len({score for _, score in ranked[0]}) == 1  # a three-way tie
    assert ranked[0] == ranked[1]
