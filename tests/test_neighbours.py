"""The nearest-neighbour graph over a large generation's vectors: it finds what comparing every
vector finds, stays right while it lags its table, and is kept in step by the indexer."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.build import index_corpus
from indexer.config import Settings
from indexer.ranking.encoder import MODEL_NAME
from indexer.search import SearchEngine
from indexer.storage import IndexStore, NeighbourGraph, VectorTable, graph_in_step
from indexer.storage import neighbours as graphs
from indexer.storage.neighbours import NEIGHBOURS, labels_of
from tests.conftest import CORPUS


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


def test_the_graph_finds_the_articles_comparing_every_vector_finds(tmp_path, small_graphs):
    t = table(3000)
    graph_in_step(tmp_path, t.labels(), t.matrix, None)
    t = searched(tmp_path, t)
    assert t.graph is not None
    # Questions close to some articles, as those whose neighbours join a ranking are (at
    # least 0.4 close); for one far from every article the graph is approximate, and no
    # neighbour of it would join.
    rng = np.random.default_rng(1)
    questions = t.matrix[rng.integers(0, len(t), 50)] + 0.08 * rng.standard_normal((50, 384))
    questions /= np.linalg.norm(questions, axis=1, keepdims=True)
    found = same = 0
    for q in questions.astype(np.float32):
        exact = t.nearest_exactly(q, 20)
        approx = t.nearest(q, 20)
        assert [c for _, c in approx] == sorted((c for _, c in approx), reverse=True)
        found += len({r for r, _ in approx} & {r for r, _ in exact})
        same += len(exact)
        # The cosines are the table's own: the graph holds the same float16 vectors.
        by_row = dict(exact)
        assert all(abs(c - by_row[r]) < 1e-3 for r, c in approx if r in by_row)
    assert found / same >= 0.98


def test_below_the_threshold_a_generation_keeps_no_graph_and_compares_every_vector(tmp_path):
    t = table(300)
    assert graph_in_step(tmp_path, t.labels(), t.matrix, None) is None
    assert not (tmp_path / NEIGHBOURS).exists()
    t = searched(tmp_path, t)
    assert t.graph is None and t.matrix.dtype == np.float32
    q = clustered(1, seed=5)[0].astype(np.float32)
    assert t.nearest(q, 5) == t.nearest_exactly(q, 5)


def test_a_graph_lagging_its_table_passes_over_stale_vectors(tmp_path, small_graphs):
    old = table(1000)
    graph = graph_in_step(tmp_path, old.labels(), old.matrix, None)
    # Article a00007 is edited (a new hash, a new vector), a00008 deleted.
    new_matrix = old.matrix.copy()
    new_matrix[7] = clustered(1, seed=9)[0]
    keep = [i for i in range(1000) if i != 8]
    hashes = list(old.hashes)
    hashes[7] = "hash of the edited a00007"
    new = VectorTable([old.ids[i] for i in keep], [hashes[i] for i in keep],
                      new_matrix[keep], MODEL_NAME)
    graph = graph_in_step(tmp_path, new.labels(), new.matrix, graph)
    assert len(graph) == 1001  # the edited article's new vector added; nothing rebuilt
    t = searched(tmp_path, new)
    assert t.graph is not None
    # Asked with the edited article's old vector, the graph's closest is that stale vector:
    # it is passed over, never reported as the article.
    assert "a00008" not in t.rows
    found = t.nearest(old.matrix[7].astype(np.float32), 10)
    assert len(found) == 10
    for row, cosine in found:
        assert abs(cosine - float(t.matrix[row].astype(np.float32) @ old.matrix[7]
                                  .astype(np.float32))) < 2e-3
    # The edited article is found by its new vector.
    assert t.nearest(new_matrix[7].astype(np.float32), 1)[0][0] == t.rows["a00007"]


def test_once_a_quarter_of_the_graph_is_stale_it_is_built_again(tmp_path, small_graphs):
    first = table(1000)
    graph = graph_in_step(tmp_path, first.labels(), first.matrix, None)
    changed = table(1000, seed=3, prefix="b")  # every article replaced
    rebuilt = graph_in_step(tmp_path, changed.labels(), changed.matrix, graph)
    assert len(rebuilt) == 1000
    assert set(rebuilt.labels) == set(changed.labels())


def test_a_graph_missing_some_of_the_tables_vectors_is_not_used(tmp_path, small_graphs):
    t = table(1000)
    labels = t.labels()
    graph = NeighbourGraph.build(labels[:900], t.matrix[:900].astype(np.float32))
    graph.write(tmp_path)
    got = searched(tmp_path, t)
    assert got.graph is None and got.matrix.dtype == np.float32


def test_an_unreadable_graph_is_ignored(tmp_path, small_graphs):
    t = table(600)
    (tmp_path / NEIGHBOURS).write_bytes(b"not a graph")
    got = searched(tmp_path, t)
    assert got.graph is None
    q = clustered(1, seed=2)[0].astype(np.float32)
    assert got.nearest(q, 3) == got.nearest_exactly(q, 3)


def test_labels_are_stable_and_distinct():
    hashes = [f"{i:040x}" for i in range(20000)]
    labels = labels_of(hashes)
    assert len(set(labels.tolist())) == len(hashes) and (labels >= 0).all()
    assert labels_of(hashes[:3]).tolist() == labels[:3].tolist()


def test_the_indexer_keeps_the_graph_in_step_and_search_uses_it(tmp_path, encoder,
                                                                 monkeypatch):
    monkeypatch.setattr(graphs, "GRAPH_FROM", 5)
    index_dir = tmp_path / "index"
    store = IndexStore(index_dir)
    summary = index_corpus([CORPUS], store, encoder=encoder)
    gen = store.current_path()
    assert (gen / NEIGHBOURS).is_file()
    assert summary.vectors.graph_vectors == summary.vectors.embedded
    stamp = (gen / NEIGHBOURS).stat().st_mtime_ns
    again = index_corpus([CORPUS], store, encoder=encoder)  # nothing changed
    assert again.vectors.embedded == 0 and (gen / NEIGHBOURS).stat().st_mtime_ns == stamp
    engine = SearchEngine(Settings(index_dir=index_dir))
    page = engine.search("itchy flaky scalp")
    table = engine.meaning.table(store.current_name())
    assert table is not None and table.graph is not None
    assert page.by_meaning and page.results[0].title.startswith("Dandruff")
