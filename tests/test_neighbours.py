"""The nearest-neighbour graph over a large generation's vectors: it finds what comparing every
vector finds, stays right while it lags its table, and is kept in step by the indexer without
being read or written for a small update."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.build import Progress, index_corpus
from indexer.config import Settings
from indexer.ranking.encoder import MODEL_NAME
from indexer.search import SearchEngine
from indexer.storage import IndexStore, NeighbourGraph, VectorTable, graph_in_step
from indexer.storage import neighbours as graphs
from indexer.storage.neighbours import NEIGHBOURS, labels_of


def clustered(n: int, seed: int = 0, dims: int = 384) -> np.ndarray:
    """Unit vectors in clusters, as sentence embeddings of articles on a few subjects are."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(2, n // 40), dims))
    x = centres[rng.integers(0, len(centres), n)] + 0.7 * rng.standard_normal((n, dims))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)


def table(n: int, seed: int = 0, prefix: str = "a") -> VectorTable:
    ids = [f"{prefix}{i:05d}" for i in range(n)]
    return VectorTable(ids, [f"hash of {i}" for i in ids], clustered(n, seed), MODEL_NAME)


@pytest.fixture
def small_graphs(monkeypatch):
    """Graphs kept from 500 vectors, so that small tables have one."""
    monkeypatch.setattr(graphs, "GRAPH_FROM", 500)


def searched(tmp_path, t: VectorTable) -> VectorTable:
    t.write(tmp_path)
    got = VectorTable.read_for_search(tmp_path, MODEL_NAME)
    assert got is not None
    return got


def near(t: VectorTable, n: int, seed: int = 1, matrix: np.ndarray | None = None) -> np.ndarray:
    """Questions close to some of the table's articles, as those whose neighbours join a
    ranking are (at least 0.4 close); for one far from every article the graph is
    approximate, and no neighbour of it would join."""
    rows = t.matrix if matrix is None else matrix
    rng = np.random.default_rng(seed)
    q = rows[rng.integers(0, len(rows), n)].astype(np.float32)
    q += 0.08 * rng.standard_normal(q.shape).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def test_the_graph_finds_the_articles_comparing_every_vector_finds(tmp_path, small_graphs):
    t = table(3000)
    t.linked = graph_in_step(tmp_path, t.labels(), t.matrix, None)
    exact = VectorTable.read(tmp_path, MODEL_NAME) or t
    t = searched(tmp_path, t)
    assert t.graph is not None and len(t.matrix) == 0  # the graph's vectors serve
    found = same = 0
    for q in near(exact, 50):
        truth = exact.nearest_exactly(q, 20)
        approx = t.nearest(q, 20)
        assert [c for _, c in approx] == sorted((c for _, c in approx), reverse=True)
        found += len({r for r, _ in approx} & {r for r, _ in truth})
        same += len(truth)
        # The cosines are the table's own: the graph holds the same float16 vectors.
        by_row = dict(truth)
        assert all(abs(c - by_row[r]) < 1e-3 for r, c in approx if r in by_row)
        rows = [r for r, _ in truth]
        assert np.allclose(t.cosines([exact.ids[r] for r in rows], q),
                           exact.cosines([exact.ids[r] for r in rows], q), atol=1e-3)
    assert found / same >= 0.98


def test_below_the_threshold_a_generation_keeps_no_graph_and_compares_every_vector(tmp_path):
    t = table(300)
    assert len(graph_in_step(tmp_path, t.labels(), t.matrix, None)) == 0
    assert not (tmp_path / NEIGHBOURS).exists()
    t = searched(tmp_path, t)
    assert t.graph is None and t.matrix.dtype == np.float32
    q = near(t, 1)[0]
    assert t.nearest(q, 5) == t.nearest_exactly(q, 5)


def edited(old: VectorTable, row: int, deleted: int) -> tuple[VectorTable, np.ndarray]:
    """`old` with article `row` edited (a new hash, a new vector) and `deleted` gone."""
    matrix = old.matrix.copy()
    matrix[row] = clustered(1, seed=9)[0]
    hashes = list(old.hashes)
    hashes[row] = f"hash of the edited {old.ids[row]}"
    keep = [i for i in range(len(old)) if i != deleted]
    return VectorTable([old.ids[i] for i in keep], [hashes[i] for i in keep], matrix[keep],
                       MODEL_NAME), matrix


def test_a_small_update_leaves_the_graph_alone_and_search_stays_right(tmp_path, small_graphs):
    old = table(1000)
    old.linked = graph_in_step(tmp_path, old.labels(), old.matrix, None)
    stamp = (tmp_path / NEIGHBOURS).stat().st_mtime_ns
    new, matrix = edited(old, 7, deleted=8)
    new.linked = graph_in_step(tmp_path, new.labels(), new.matrix, old.linked)
    assert (tmp_path / NEIGHBOURS).stat().st_mtime_ns == stamp  # neither read nor written
    assert np.array_equal(new.linked, old.linked)
    t = searched(tmp_path, new)
    assert t.graph is not None and "a00008" not in t.rows
    # Asked with the edited article's old vector, the graph's closest is that stale vector:
    # it is passed over, never reported as the article.
    for row, cosine in t.nearest(old.matrix[7].astype(np.float32), 10):
        assert abs(cosine - float(new.matrix[row].astype(np.float32)
                                  @ old.matrix[7].astype(np.float32))) < 2e-3
    # The edited article, which the graph lacks, is found by its new vector all the same.
    assert t.nearest(matrix[7].astype(np.float32), 1)[0][0] == t.rows["a00007"]
    assert abs(t.cosines(["a00007"], matrix[7].astype(np.float32))[0] - 1.0) < 2e-3


def test_past_the_unlinked_allowance_the_graph_is_extended(tmp_path, small_graphs,
                                                           monkeypatch):
    monkeypatch.setattr(graphs, "MAX_UNLINKED", 10)
    old = table(1000)
    old.linked = graph_in_step(tmp_path, old.labels(), old.matrix, None)
    more = table(1050)  # the same 1,000 articles and 50 new ones
    more.matrix[:1000] = old.matrix
    more.linked = graph_in_step(tmp_path, more.labels(), more.matrix, old.linked)
    assert len(more.linked) == 1050 and set(more.linked) == set(more.labels())
    assert len(NeighbourGraph.read(tmp_path)) == 1050


def test_once_a_quarter_of_the_graph_is_stale_it_is_built_again(tmp_path, small_graphs):
    first = table(1000)
    first.linked = graph_in_step(tmp_path, first.labels(), first.matrix, None)
    changed = table(1000, seed=3, prefix="b")  # every article replaced
    linked = graph_in_step(tmp_path, changed.labels(), changed.matrix, first.linked)
    assert len(linked) == 1000 and set(linked) == set(changed.labels())
    assert len(NeighbourGraph.read(tmp_path)) == 1000


def test_a_lost_graph_is_built_again_whatever_the_table_recorded(tmp_path, small_graphs):
    t = table(600)
    t.linked = graph_in_step(tmp_path, t.labels(), t.matrix, None)
    (tmp_path / NEIGHBOURS).unlink()
    assert len(graph_in_step(tmp_path, t.labels(), t.matrix, t.linked)) == 600
    assert (tmp_path / NEIGHBOURS).is_file()


def test_an_unreadable_graph_is_ignored(tmp_path, small_graphs):
    t = table(600)
    (tmp_path / NEIGHBOURS).write_bytes(b"not a graph")
    got = searched(tmp_path, t)
    assert got.graph is None
    q = near(got, 1)[0]
    assert got.nearest(q, 3) == got.nearest_exactly(q, 3)


def test_labels_are_stable_and_distinct():
    hashes = [f"{i:040x}" for i in range(20000)]
    labels = labels_of(hashes)
    assert len(set(labels.tolist())) == len(hashes) and (labels >= 0).all()
    assert labels_of(hashes[:3]).tolist() == labels[:3].tolist()


def test_the_indexer_keeps_the_graph_in_step_and_search_uses_it(tmp_path, corpus_dir,
                                                                 encoder, monkeypatch):
    monkeypatch.setattr(graphs, "GRAPH_FROM", 5)
    store = IndexStore(tmp_path / "index")
    summary = index_corpus([corpus_dir], store, encoder=encoder)
    gen = store.current_path()
    assert (gen / NEIGHBOURS).is_file()
    assert summary.vectors.graph_vectors == summary.vectors.embedded
    stamp = (gen / NEIGHBOURS).stat().st_mtime_ns
    again = index_corpus([corpus_dir], store, encoder=encoder)  # nothing changed
    assert again.vectors.embedded == 0 and (gen / NEIGHBOURS).stat().st_mtime_ns == stamp
    # A new article: embedded, left out of the graph (too few to add), found all the same.
    (corpus_dir / "scalp.txt").write_text("Scalp psoriasis\n\nRed, itchy, scaly patches on "
                                          "the scalp that flake like dandruff.\n")
    third = index_corpus([corpus_dir], store, encoder=encoder)
    assert third.vectors.embedded == 1 and (gen / NEIGHBOURS).stat().st_mtime_ns == stamp
    engine = SearchEngine(Settings(index_dir=store.root))
    table = engine.meaning.table(store.current_name())
    assert table is not None and table.graph is not None and len(table._linked.unlinked) == 1
    titles = [r.title for r in engine.search("itchy flaky scalp").results]
    assert titles[0].startswith("Dandruff") or titles[0] == "Scalp psoriasis"
    assert "Scalp psoriasis" in titles


class PhaseRecorder(Progress):
    """Records each phase's name, total and unit, and the steps advanced in it."""

    def __init__(self) -> None:
        self.phases: list[list] = []

    def phase(self, name: str, total: int | None, unit: str = "doc") -> None:
        self.phases.append([name, total, unit, 0])

    def advance(self, steps: int = 1) -> None:
        self.phases[-1][3] += steps


def test_linking_the_graph_reports_its_vectors_and_an_unchanged_run_reports_none(
        tmp_path, corpus_dir, encoder, monkeypatch):
    monkeypatch.setattr(graphs, "GRAPH_FROM", 5)
    store = IndexStore(tmp_path / "index")
    first = PhaseRecorder()
    summary = index_corpus([corpus_dir], store, encoder=encoder, progress=first)
    n = summary.vectors.graph_vectors
    assert ["linking neighbours", n, "vector", n] in first.phases
    again = PhaseRecorder()
    index_corpus([corpus_dir], store, encoder=encoder, progress=again)
    assert not [p for p in again.phases if p[0] == "linking neighbours"]
