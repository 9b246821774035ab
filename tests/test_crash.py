"""A rebuild killed with SIGKILL mid-way leaves the previous index serving."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

from indexer.build import index_corpus
from indexer.config import Settings
from indexer.ranking.encoder import MODEL_NAME
from indexer.search import SearchEngine
from indexer.storage import IndexStore
from indexer.storage.stats import index_stats
from tests.conftest import ROOT

WORDS = ("asthma bronchitis cough fever migraine insulin diabetes tendon cramp calcium "
         "kidney renal gastric ulcer insomnia anxiety rash eczema fracture sprain").split()


def write_corpus(path, n, seed=7, tag=""):
    rng = random.Random(seed)
    with path.open("w") as f:
        for i in range(n):
            body = " ".join(rng.choice(WORDS) for _ in range(150))
            f.write(json.dumps({"id": f"doc{i}", "title": f"Doc {i} {tag}",
                                "text": f"{body} {tag}"}) + "\n")


def snapshot(index_dir):
    engine = SearchEngine(Settings(index_dir=index_dir))
    return [[r.id for r in engine.search(q, per_page=20).results] for q in ("asthma", "renal")]


def test_sigkill_during_rebuild_leaves_the_old_index_searchable(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, 300)
    store = IndexStore(tmp_path / "index")
    index_corpus([corpus], store)
    before = snapshot(store.root)
    live = store.current_name()

    write_corpus(corpus, 4000, seed=8, tag="v2")
    proc = subprocess.Popen(
        [sys.executable, "-m", "healthsearch", "index", str(corpus), "--rebuild", "--quiet",
         "--no-vectors", "--index-dir", str(store.root)], cwd=ROOT)
    # Kill once the new generation exists and is being written, well before it can finish.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(store.root.glob("gen-*"))) < 2:
        time.sleep(0.01)
    time.sleep(0.3)
    assert proc.poll() is None, "the rebuild finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    assert store.current_name() == live
    assert snapshot(store.root) == before
    assert index_stats(store, MODEL_NAME)["entries"] == 300

    summary = index_corpus([corpus], store, rebuild=True)
    assert summary.recovered_lock_pid == proc.pid
    assert index_stats(store, MODEL_NAME)["entries"] == 4000
