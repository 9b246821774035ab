"""What ranking by meaning costs: the sentence-embedding model's speed and memory, and
search() with and without the re-ranking, side by side in one run.

    python -m bench.dense

- encoder: articles embedded per second (the first 400 NFCorpus abstracts and the first 400
  MedQuAD answers, as the indexer embeds them: one text per run, one ONNX Runtime thread per
  core; beside batches of 32 and a 256-word-piece opening, neither shipped; and one process
  per core, as `index --embed-workers N` runs, against the default one process) and one
  question's encoding CPU with one thread, as a server process runs it (LiveQA questions;
  MedQuAD tune questions);
- search(): CPU per question with one BLAS thread (as served) on the harness's LiveQA and
  MedQuAD indexes (their vectors built by bench.peers.our_index), the result cache off, by
  words alone, re-ranked by meaning, and re-ranked with the articles closest in meaning
  joining (as shipped), in alternating rounds, medians and p95 of each;
- closest in meaning: CPU of finding the articles closest to a question among 100,000
  random vectors (VectorTable.nearest), as each search joining them does, the table held
  as float16 (as stored) and as float32 (as the search engine reads it), alternating;
- memory: resident memory of a fresh process before and after loading the model, and after
  reading a table of 100,000 random vectors as the search engine reads it (what a 100k
  index's vectors would hold);
- meaning threshold: each tuning question (the first 600 MedQuAD tune questions, all 324
  NFCorpus dev ones) against its whole collection's vectors, and 107 strings that are no
  health question: the share of questions whose closest article reaches
  ranking.MEANING_MIN_COSINE, and the closest cosine the other strings reach;
- serving: `healthsearch serve` (1 process, 4 threads, result cache off) on the harness's
  MedQuAD index with the re-ranking off and on (HEALTHSEARCH_DENSE), alternating rounds,
  16 clients replaying LiveQA's and 400 MedQuAD tune questions for 15 s
  (bench.http_load, its own process): req/s, latency, the server's RSS after warm-up and
  at its peak.

    python -m bench.dense --scale 100k

- at a generated scale (bench/scale.py), an index built by words with a random vector per
  article: search() CPU by words alone, re-ranked, and as shipped; an update editing one
  article with vectors (really embedded) and without, alternating (`scale_figures`).
"""

from __future__ import annotations

import functools
import gc
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _quantiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {"p50_ms": round(values[len(values) // 2], 2),
            "p95_ms": round(values[int(len(values) * 0.95)], 2)}


def embedding_speed(encoder, docs: list[str]) -> dict:
    """Articles per second as the indexer embeds them (one text per run, one ONNX Runtime
    thread per core), beside sorted batches of 32 (faster, but an int8 batch shares one
    activation scale: not shipped) and a longer opening (256 word pieces, what the model's
    configuration allows, against the 128 it was trained at: not shipped); and the CPU per
    article."""
    out = {}
    limit = encoder.tokenizer.truncation["max_length"]
    for name, batch, tokens in (("shipped", 1, limit), ("batch 32", 32, limit),
                                ("256 word pieces", 1, 256)):
        encoder.tokenizer.enable_truncation(max_length=tokens)
        started, cpu = time.perf_counter(), time.process_time()
        encoder.encode(docs, batch_size=batch)
        wall = time.perf_counter() - started
        out[name] = {"docs_per_s": round(len(docs) / wall, 1),
                     "cpu_ms_per_doc": round((time.process_time() - cpu) * 1000 / len(docs), 1)}
    encoder.tokenizer.enable_truncation(max_length=limit)
    return out


def embedding_processes(docs: list[str], rounds: int = 2) -> dict:
    """Articles per second in one process with a thread per core (the default) against one
    process per core with one thread each (`index --embed-workers N`, for big builds),
    alternating rounds, medians; the workers' start (each loads the model) not counted."""
    import os

    from indexer.ranking.encoder import Encoder, ParallelEncoder

    cores = len(os.sched_getaffinity(0))
    variants = {"1 process, a thread per core": Encoder.open(),
                f"{cores} processes, 1 thread each": ParallelEncoder(None, cores, threads=1)}
    rates: dict[str, list[float]] = {name: [] for name in variants}
    try:
        variants[next(reversed(variants))].encode(docs[:cores])  # every worker is up
        for _ in range(rounds):
            for name, encoder in variants.items():
                started = time.perf_counter()
                encoder.encode(docs)
                rates[name].append(len(docs) / (time.perf_counter() - started))
    finally:
        variants[next(reversed(variants))].close()
    return {name: {"docs_per_s": round(sorted(r)[len(r) // 2], 1)} for name, r in rates.items()}


def _cpu_per_call(variants: dict[str, Callable[[Any], object]], items: Sequence,
                  rounds: int = ROUNDS) -> dict[str, dict[str, float]]:
    """Thread CPU of each variant called on each item, one BLAS thread (as a server process
    has it), the variants in alternating rounds: {variant: p50 and p95 in ms}."""
    from threadpoolctl import threadpool_limits

    times: dict[str, list[float]] = {name: [] for name in variants}
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(rounds):
            for name, call in variants.items():
                for item in items:
                    started = time.thread_time()
                    call(item)
                    times[name].append((time.thread_time() - started) * 1000)
    return {name: _quantiles(values) for name, values in times.items()}


def question_cpu(encoder, questions: list[str]) -> dict:
    """CPU to encode one question (the encoder given runs one thread, as served)."""
    return _cpu_per_call({"encode": lambda text: encoder.encode([text])}, questions,
                         rounds=1)["encode"]


def search_figures(index_dir: Path, questions: list[str]) -> dict:
    """Thread CPU per search() by words alone, re-ranked by meaning without and with the
    articles closest in meaning joining (as shipped), alternating rounds, one BLAS thread."""
    from indexer.config import Settings
    from indexer.ranking.model import RankingModel
    from indexer.search import SearchEngine

    engines = {
        "words only": SearchEngine(Settings(index_dir=index_dir, cache_size=0),
                                   model=RankingModel(dense_weight=0.0)),
        "re-ranked only": SearchEngine(Settings(index_dir=index_dir, cache_size=0),
                                       model=RankingModel(dense_candidates=0)),
        "with meaning": SearchEngine(Settings(index_dir=index_dir, cache_size=0)),
    }
    for engine in engines.values():
        engine.warm()
        for text in questions[:20]:
            engine.search(text)
    return _cpu_per_call({name: engine.search for name, engine in engines.items()},
                         questions)


def serving_figures(index_dir: Path, questions: list[str], rounds: int = 2,
                    duration: float = 15.0, clients: int = 16) -> dict:
    """The server with the re-ranking off and on, alternating rounds (see the module doc)."""
    from bench.harness import RssSampler, free_port, tree_rss

    queries = Path(tempfile.mkstemp(suffix=".json")[1])
    queries.write_text(json.dumps({"log": questions}), encoding="utf-8")
    out: dict[str, list[dict]] = {"words only": [], "with meaning": []}
    try:
        for _ in range(rounds):
            for name, dense in (("words only", "0"), ("with meaning", "1")):
                port = free_port()
                env = {**os.environ, "HEALTHSEARCH_DENSE": dense,
                       "HEALTHSEARCH_CACHE_SIZE": "0"}
                server = subprocess.Popen(
                    [sys.executable, "-m", "healthsearch", "serve", "--index-dir", str(index_dir),
                     "--port", str(port), "--processes", "1", "--threads", "4"],
                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    _wait_healthy(port)
                    warm = tree_rss(server.pid)
                    with RssSampler(server.pid) as sampler:
                        load = subprocess.run(
                            [sys.executable, "-m", "bench.http_load", "--port", str(port),
                             "--queries", str(queries), "--clients", str(clients),
                             "--duration", str(duration)],
                            cwd=ROOT, capture_output=True, text=True, check=True)
                    row = json.loads(load.stdout.strip().splitlines()[-1])
                    out[name].append({
                        "req_per_s": row["req_per_s"], "errors": row["errors"],
                        "p50_ms": row.get("p50_ms"), "p95_ms": row.get("p95_ms"),
                        "rss_warm_mb": round(warm / 2**20), "rss_peak_mb":
                        round(max(sampler.peak, warm) / 2**20)})
                finally:
                    server.terminate()
                    server.wait(timeout=30)
    finally:
        queries.unlink()
    return out


def _wait_healthy(port: int, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def not_health_questions() -> list[str]:
    """100 random strings of letters (Random(0)) and 7 everyday searches."""
    import random
    import string

    rng = random.Random(0)
    letters = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 10)))
               for _ in range(100)]
    return letters + ["asdf qwerty", "hello world", "football scores today",
                      "cheap flights to paris", "python list comprehension",
                      "weather tomorrow", "buy iphone"]


def threshold_figures(encoder, sets: list) -> dict:
    """How the closest article's cosine compares with MEANING_MIN_COSINE (module doc)."""
    import numpy as np

    from bench.peers import our_index
    from indexer.ranking.encoder import MODEL_NAME
    from indexer.ranking.model import MEANING_MIN_COSINE
    from indexer.storage import IndexStore, VectorTable

    out: dict[str, object] = {"min_cosine": MEANING_MIN_COSINE}
    junk = encoder.encode(not_health_questions())
    for ds, n in sets:
        table = VectorTable.read(IndexStore(our_index(ds)).current_path(), MODEL_NAME)
        matrix = table.matrix.astype(np.float32)
        questions = encoder.encode(list(ds.queries.values())[:n])
        best = (questions @ matrix.T).max(axis=1)
        out[f"{ds.name}: share reaching it"] = round(
            float((best >= MEANING_MIN_COSINE).mean()), 3)
        out[f"{ds.name}: questions"] = len(best)
        out[f"not health questions, closest in {ds.name}"] = round(
            float((junk @ matrix.T).max()), 3)
    return out


def nearest_figures(n: int = 100_000, questions: int = 50) -> dict:
    """Thread CPU of finding the articles closest to a question among n random vectors
    (VectorTable.nearest, as a search joining ranking.DENSE_CANDIDATES of them asks it),
    float16 and float32 tables in alternating rounds, one BLAS thread."""
    import numpy as np

    from indexer.ranking.encoder import DIMENSIONS, MODEL_NAME
    from indexer.ranking.model import DENSE_CANDIDATES, DENSE_DEPTH
    from indexer.storage import VectorTable

    rng = np.random.default_rng(1)
    ids, hashes = [f"doc-{i}" for i in range(n)], ["0" * 40] * n
    matrix = rng.standard_normal((n, DIMENSIONS)).astype(np.float16)
    # As stored (float16), and as the search engine reads it (float32).
    tables = {"float16": VectorTable(ids, hashes, matrix, MODEL_NAME),
              "float32": VectorTable(ids, hashes, matrix.astype(np.float32), MODEL_NAME)}
    queries = rng.standard_normal((questions, DIMENSIONS)).astype(np.float32)
    k = DENSE_CANDIDATES + DENSE_DEPTH
    return {"articles": n, **_cpu_per_call(
        {name: functools.partial(table.nearest, k=k) for name, table in tables.items()},
        queries)}


def memory_figures() -> dict:
    """RSS of this process around loading the model and a 100k-article vector table (read
    as the search engine reads it)."""
    import numpy as np

    from indexer.ranking.encoder import DIMENSIONS, MODEL_NAME, Encoder
    from indexer.storage import VectorTable

    gc.collect()
    before = _rss_mb()
    encoder = Encoder.open(threads=1)
    encoder.encode(["warm up the model"])
    with_model = _rss_mb()
    rng = np.random.default_rng(0)
    n = 100_000
    with tempfile.TemporaryDirectory() as tmp:
        VectorTable([f"doc-{i}" for i in range(n)], ["0" * 40] * n,
                    rng.standard_normal((n, DIMENSIONS)).astype(np.float16),
                    MODEL_NAME).write(Path(tmp))
        gc.collect()
        before_table = _rss_mb()
        # Read as the search engine reads it.
        table = VectorTable.read(Path(tmp), MODEL_NAME, dtype=np.float32)
        with_table = _rss_mb()
    del table
    return {"rss_before_mb": round(before, 1), "rss_with_model_mb": round(with_model, 1),
            "rss_with_100k_table_mb": round(with_table, 1),
            "100k_table_mb": round(with_table - before_table, 1)}


def _timed_update(store, folder: Path, number: int, revision: int, encoder) -> dict:
    """Edit one article of a scale corpus folder and update the index (with vectors when
    `encoder` is given, as `healthsearch index` does): wall seconds and what it did."""
    from bench import scale as scalegen
    from indexer.build import index_corpus

    scalegen.change_docs(folder, [number], revision)
    started = time.perf_counter()
    summary = index_corpus([folder], store, encoder=encoder)
    seconds = time.perf_counter() - started
    embedded = summary.vectors.embedded if summary.vectors is not None else 0
    return {"seconds": round(seconds, 2), "updated": summary.updated, "embedded": embedded}


def scale_figures(docs: int, questions: dict[str, list[str]], rounds: int = 3) -> dict:
    """At a generated scale (bench/scale.py): an index of `docs` articles built by words and
    given a random unit vector per article. Embedding them all would take hours; what is
    measured is cost, not relevance (random vectors are never 0.4 close to a question, so
    none joins: the search for the closest is paid, the fusing of 20 more is not). Then:
    search() CPU by words alone, re-ranked and as shipped, for each set of questions; and
    an update that edits one
    article, of a copy of the index with vectors (the article really embedded) and of one
    without, in alternating rounds."""
    import numpy as np

    from bench import scale as scalegen
    from indexer.build import index_corpus, indexed_entries
    from indexer.ranking.encoder import DIMENSIONS, MODEL_NAME, Encoder
    from indexer.storage import IndexStore, VectorTable

    scalegen.ensure_corpus(docs, log=lambda msg: print(msg, file=sys.stderr))
    encoder = Encoder.open()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders = {name: root / name / "corpus" for name in ("with vectors", "words only")}
        for folder in folders.values():
            scalegen.link_shards(folder, docs // scalegen.SHARD_DOCS)
        # Each index is built from its own folder: the index keeps the paths it read.
        stores = {name: IndexStore(root / name / "ix") for name in folders}
        started = time.perf_counter()
        for name, store in stores.items():
            index_corpus([folders[name]], store)
        build_seconds = (time.perf_counter() - started) / len(stores)
        with_vectors = stores["with vectors"]
        hashes = {i: e.hash for i, e in indexed_entries(with_vectors.open()).items()}
        ids = sorted(hashes)
        matrix = np.random.default_rng(5).standard_normal((len(ids), DIMENSIONS))
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        VectorTable(ids, [hashes[i] for i in ids], matrix.astype(np.float16), MODEL_NAME).write(
            with_vectors.current_path())
        search = {name: search_figures(with_vectors.root, texts)
                  for name, texts in questions.items()}
        updates: dict[str, list[dict]] = {name: [] for name in stores}
        for revision in range(1, rounds + 1):
            for name, store in stores.items():
                updates[name].append(_timed_update(
                    store, folders[name], docs // 2 + revision, revision,
                    encoder if name == "with vectors" else None))
    return {"articles": docs, "words build seconds": round(build_seconds, 1),
            "search": search, "update one article": updates}


def main(argv: list[str] | None = None) -> int:
    """Print the figures as JSON."""
    import argparse

    from bench import datasets as data
    from bench.harness import iter_jsonl
    from bench.peers import our_index
    from indexer.ranking.encoder import Encoder, article_text

    parser = argparse.ArgumentParser(prog="python -m bench.dense", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", metavar="LABEL",
                        help="only the figures at a generated scale (e.g. 100k)")
    args = parser.parse_args(argv)
    if not data.available():
        print("skipped: the shared data sets are not beside the project", file=sys.stderr)
        return 0
    if args.scale:
        from bench import scale as scalegen

        questions = {"liveqa": list(data.liveqa().queries.values()),
                     "medquad-tune": list(data.medquad("tune").subset(300, seed=2)
                                          .queries.values())}
        figures = {f"scale {args.scale}": scale_figures(scalegen.parse_label(args.scale),
                                                         questions)}
        print(json.dumps(figures, indent=1))
        return 0
    figures: dict[str, object] = {"memory": memory_figures()}
    encoder = Encoder.open()  # as the indexer runs it: one thread per core
    served_encoder = Encoder.open(threads=1)  # as a server process runs it
    liveqa = data.liveqa()
    medquad_tune = data.medquad("tune")
    medquad = medquad_tune.subset(300, seed=2)
    for ds in (data.nfcorpus("dev"), medquad):
        docs = [article_text(d.get("title", ""), d.get("text", ""))
                for d in itertools.islice(iter_jsonl(ds.corpus_path), 400)]
        figures[f"embedding {ds.name}"] = embedding_speed(encoder, docs)
    figures["embedding processes medquad-tune"] = embedding_processes(docs)
    for ds in (liveqa, medquad):
        figures[f"question encoding {ds.name}"] = question_cpu(
            served_encoder, list(ds.queries.values()))
    figures["closest among 100k vectors"] = nearest_figures()
    for ds in (liveqa, medquad):
        figures[f"search {ds.name}"] = search_figures(our_index(ds),
                                                      list(ds.queries.values()))
    figures["meaning threshold"] = threshold_figures(
        encoder, [(medquad_tune, 600), (data.nfcorpus("dev"), 324)])
    served = list(liveqa.queries.values()) + list(
        medquad_tune.subset(400, seed=3).queries.values())
    figures["serving medquad index"] = serving_figures(our_index(medquad), served)
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
