"""Publishing generations to read replicas (indexer.storage.publish) and naming the replicas
(indexer.config): each replica folder only ever names a complete generation, files are hard
links on a shared disk, a replica that missed a publish catches up on the next one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from indexer.build import index_corpus
from indexer.config import Replica, Settings, parse_replicas, read_cluster_file
from indexer.search import SearchEngine
from indexer.storage import IndexStore
from indexer.storage.publish import is_remote, publish, replica_current
from tests.conftest import CORPUS, ROOT

pytestmark = pytest.mark.skipif(shutil.which("rsync") is None,
                                reason="rsync is not installed (`make cluster-deps`)")


def _answers(index_dir, q: str) -> int:
    return SearchEngine(Settings(index_dir=index_dir, dense=False)).search(q).total


@pytest.fixture
def primary(tmp_path) -> IndexStore:
    store = IndexStore(tmp_path / "primary")
    index_corpus([CORPUS], store, workers=1)
    return store


def test_a_replica_gets_a_complete_copy_of_hard_links_and_serves_it(primary, tmp_path):
    replicas = parse_replicas([str(tmp_path / "r1"), str(tmp_path / "r2")])
    outcomes = publish(primary, replicas)
    assert [(o.replica, o.generation, o.switched, o.error) for o in outcomes] == [
        ("r1", "gen-000001", True, ""), ("r2", "gen-000001", True, "")]
    for r in replicas:
        copy = IndexStore(r.index_dir)
        assert copy.current_name() == "gen-000001"
        source = primary.current_path()
        for path in source.iterdir():
            if path.is_file() and not path.name.endswith("WRITELOCK"):
                assert os.path.samefile(path, copy.current_path() / path.name)
        assert _answers(r.index_dir, "tendon") == _answers(primary.root, "tendon") > 0
    # Publishing again changes nothing.
    assert [o.switched for o in publish(primary, replicas)] == [False, False]


def test_copies_when_asked_and_a_rebuild_switches_every_replica_keeping_one_before(
        primary, tmp_path):
    replicas = parse_replicas([str(tmp_path / "r1")])
    publish(primary, replicas, links=False)
    copy = IndexStore(tmp_path / "r1")
    some = next(p for p in primary.current_path().glob("*.seg"))
    assert not os.path.samefile(some, copy.current_path() / some.name)
    for _ in range(2):
        index_corpus([CORPUS], primary, rebuild=True, workers=1)
        [done] = publish(primary, replicas, links=False)
        assert done.switched and done.previous == f"gen-{int(done.generation[-6:]) - 1:06d}"
    # The replaced generation stays (readers may hold it); older ones go.
    assert sorted(p.name for p in copy.root.iterdir()) == ["CURRENT", "gen-000002", "gen-000003"]


def test_an_incremental_commit_is_published_into_the_same_generation(primary, tmp_path):
    replicas = parse_replicas([str(tmp_path / "r1")])
    publish(primary, replicas)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "new.txt").write_text("Zqpublished\n\nA zqpublished article on fever.\n")
    index_corpus([CORPUS, extra], primary, workers=1)
    [done] = publish(primary, replicas)
    assert (done.generation, done.switched) == ("gen-000001", False)
    assert done.commit == primary.live_version()[1] == \
        IndexStore(tmp_path / "r1").live_version()[1]
    assert _answers(tmp_path / "r1", "zqpublished") == 1
    names = {p.name for p in primary.current_path().iterdir()} - {"MAIN_WRITELOCK"}
    assert {p.name for p in IndexStore(tmp_path / "r1").current_path().iterdir()} == names


def test_a_replica_that_missed_a_publish_catches_up_on_the_next(primary, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the replica's folder should be")
    replicas = (Replica("r1", str(tmp_path / "r1")), Replica("r2", str(blocked / "index")))
    first = publish(primary, replicas)
    assert first[0].switched and not first[0].error
    assert first[1].error and not first[1].switched
    blocked.unlink()
    index_corpus([CORPUS], primary, rebuild=True, workers=1)
    second = publish(primary, replicas)
    assert [(o.generation, o.switched, o.error) for o in second] == [
        ("gen-000002", True, ""), ("gen-000002", True, "")]
    assert replica_current(str(blocked / "index")) == "gen-000002"


def test_a_publish_killed_mid_copy_leaves_every_replica_on_its_complete_generation(
        primary, tmp_path):
    replicas = parse_replicas([str(tmp_path / "r1")])
    publish(primary, replicas)
    index_corpus([CORPUS], primary, rebuild=True, workers=1)
    # A slow copy (no hard links, 20 KB/s), killed with its rsync before it ends.
    proc = subprocess.Popen(
        [sys.executable, "-m", "healthsearch", "publish", "--index-dir", str(primary.root),
         "--replica", str(tmp_path / "r1"), "--no-links", "--kbps", "20"],
        cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    partial = tmp_path / "r1" / "gen-000002"
    try:
        deadline = time.monotonic() + 30
        while not (partial.is_dir() and any(partial.iterdir())) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    copy = IndexStore(tmp_path / "r1")
    assert copy.current_name() == "gen-000001"
    assert _answers(copy.root, "tendon") > 0
    # The next publish completes it.
    [done] = publish(primary, replicas)
    assert done.switched and copy.current_name() == "gen-000002"
    assert _answers(copy.root, "tendon") == _answers(primary.root, "tendon")


def test_replicas_are_named_by_flag_environment_or_cluster_file(tmp_path, monkeypatch):
    assert parse_replicas(["var/r1=http://127.0.0.1:8101/", " host:/srv/index "]) == (
        Replica("r1", "var/r1", "http://127.0.0.1:8101"), Replica("r2", "host:/srv/index", ""))
    monkeypatch.setenv("HEALTHSEARCH_REPLICAS", "a=http://127.0.0.1:1,b=http://127.0.0.1:2")
    assert [r.index_dir for r in Settings().replicas] == ["a", "b"]
    toml = tmp_path / "cluster.toml"
    toml.write_text('[[replica]]\nname = "east"\nindex_dir = "/srv/east"\n'
                    'url = "http://127.0.0.1:9001"\n\n[[replica]]\nindex_dir = "h:/x"\n')
    assert read_cluster_file(toml) == (Replica("east", "/srv/east", "http://127.0.0.1:9001"),
                                       Replica("r2", "h:/x", ""))
    monkeypatch.delenv("HEALTHSEARCH_REPLICAS")
    monkeypatch.setenv("HEALTHSEARCH_CLUSTER_FILE", str(toml))
    assert Settings().replicas[0].name == "east"
    assert is_remote("host:/srv/index") and is_remote("user@host:index")
    assert not is_remote("/srv/index") and not is_remote("var/a:b")
