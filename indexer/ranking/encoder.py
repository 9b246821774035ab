"""Sentence embeddings of questions and articles: all-MiniLM-L6-v2 on ONNX Runtime.

The model ships with the engine (`indexer/ranking/minilm/`): the original weights (Apache-2.0;
LICENSE, NOTICE and the model card beside them) exported once to one ONNX graph whose output
is the sentence embedding (mean of the tokens' vectors, unit length), fused by ONNX Runtime's
transformer optimizer and quantised to int8 by its own `quantize_dynamic` (weights per
channel). `tools/export_minilm.py` makes it; `export_info.json` records how, with versions
and checksums. Compared with sentence-transformers' own vectors of the same texts
(tests/fixtures/minilm_reference.json, cut at the same 128 word pieces), the lowest cosine is
0.99.

No deep-learning framework is needed: ONNX Runtime runs the graph, `tokenizers` cuts the word
pieces.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Word pieces of a text the model reads; the rest is cut. 128 is the length the model was
# trained at (its model card: "the sequence length was limited to 128 tokens"), though its
# sentence_bert_config.json lets it read 256. Against 256 it embeds 2.2 times as many
# articles a second, and the tuning sets do not tell the two apart: NFCorpus dev nDCG@10
# -.0043 [-.0107, +.0018], MedQuAD tune MRR@10 +.0008 [.0000, +.0018], paired bootstrap
# (bench/results/2026-12-06-encoder.md).
MAX_TOKENS = 128
# Names the vectors a table holds: a table made by another model, another export of it or
# another cut is embedded again rather than compared with these.
MODEL_NAME = f"all-MiniLM-L6-v2/onnx-int8-v2/{MAX_TOKENS}"
DIMENSIONS = 384
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
# An article is embedded from its title and opening: 128 word pieces are 500 to 900
# characters of prose, so more text would only cost tokenizing.
ARTICLE_CHARS = 2000
# Texts run one at a time. The int8 graph quantises its activations per run, with one scale
# for the whole batch, so a text batched with others gets another vector (cosine 0.989 to its
# own, alone): one at a time, an article's vector is the same whatever is embedded beside it,
# and the same as a question's would be. Batches would not be faster either: one text of 128
# word pieces is already a 128-row product (bench.dense, "batch 32").
BATCH_SIZE = 1


# ONNX Runtime's own fusions kept from the graph at load: their CPU kernels are slower than
# the operators they replace (tools/export_minilm.py, UNFUSED, leaves them out of the export).
UNFUSED = ("SkipLayerNormFusion", "BiasGeluFusion")


class ModelUnavailable(RuntimeError):
    """The sentence-embedding model cannot be loaded; the message says why."""


def default_model_dir() -> Path:
    """The model shipped with the engine."""
    return Path(__file__).resolve().parent / "minilm"


def article_text(title: str, body: str) -> str:
    """The text an article is embedded from: its title, then the opening of its body."""
    title = title.strip()
    text = f"{title}. {body}" if title else body
    return text[:ARTICLE_CHARS]


class Encoder:
    """Turns texts into unit-length 384-dimension vectors (cosine = dot product)."""

    def __init__(self, model_dir: Path, threads: int = 0, provider: str = "cpu") -> None:
        """The model in `model_dir`, run by `threads` threads (0: one per core) on ONNX
        Runtime's CPU provider, or its CUDA provider with `provider="cuda"` where one is
        installed (falling back to the CPU)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        if provider == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(model_dir / MODEL_FILE), options,
                                                providers=providers,
                                                disabled_optimizers=list(UNFUSED))
        except Exception as exc:  # ONNX Runtime's load errors are not one documented type
            raise ValueError(f"{MODEL_FILE}: {exc}") from None
        self.output = self.session.get_outputs()[0].name
        # The tokenizer file carries its own truncation and padding: this engine sets both.
        self.tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        self.info = _read_info(model_dir)

    @classmethod
    def open(cls, model_dir: Path | None = None, threads: int = 0,
             provider: str = "cpu") -> Encoder:
        """The encoder of `model_dir` (the shipped model by default); raises
        ModelUnavailable, saying why, when the model cannot be read."""
        model_dir = Path(model_dir) if model_dir else default_model_dir()
        if not (model_dir / MODEL_FILE).is_file():
            raise ModelUnavailable(f"no sentence-embedding model in {model_dir} "
                                   f"({MODEL_FILE} is missing)")
        try:
            return cls(model_dir, threads, provider)
        except Exception as exc:  # a broken file, an unreadable tokenizer, no runtime
            raise ModelUnavailable(f"cannot read the sentence-embedding model in {model_dir} "
                                   f"({exc})") from None

    @classmethod
    def load(cls, model_dir: Path | None = None, threads: int = 0,
             provider: str = "cpu") -> Encoder | None:
        """`open`, or None with one warning saying why: search then ranks by words alone."""
        try:
            return cls.open(model_dir, threads, provider)
        except ModelUnavailable as exc:
            log.warning("%s: ranking by words alone", exc)
            return None

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors, in the order of `texts`."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            out[chunk] = self._run([encodings[i].ids for i in chunk])
        return out

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        length = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.int64)
        for row, token_ids in enumerate(batch):
            ids[row, :len(token_ids)] = token_ids
            mask[row, :len(token_ids)] = 1
        return self.session.run([self.output], {"input_ids": ids, "attention_mask": mask})[0]


def _read_info(model_dir: Path) -> dict:
    try:
        return json.loads((model_dir / "export_info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# From how many articles to embed a build runs one process per core rather than one process
# with a thread per core (`--embed-workers 0`, the default): ONNX Runtime's threads share a
# run of one short text poorly, and separate processes embed more per second
# (`python -m bench.dense`, "embedding processes"), but each loads the model, about a second
# of start: an update of a few articles is quicker in one process.
PARALLEL_FROM = 500


def open_for(count: int, model_dir: Path | None = None, workers: int = 0,
             provider: str = "cpu") -> Encoder | ParallelEncoder:
    """The encoder that embeds `count` articles soonest: `workers` processes (0: one per core
    from PARALLEL_FROM articles on, one below), each with its share of the cores.
    Raises ModelUnavailable, with the reason, when the model cannot be loaded."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    if workers <= 0:
        workers = cores if count >= PARALLEL_FROM else 1
    if workers == 1:
        return Encoder.open(model_dir, provider=provider)
    return ParallelEncoder(model_dir, workers, threads=max(1, cores // workers),
                           provider=provider)


class ParallelEncoder:
    """An encoder run in `workers` processes of `threads` threads each (for big builds on
    many cores): each process loads its own copy of the model once, and a call's texts are
    shared out among them in order. The vectors are the same as one encoder's."""

    def __init__(self, model_dir: Path | None, workers: int, threads: int = 1,
                 provider: str = "cpu") -> None:
        import multiprocessing

        Encoder.open(model_dir, threads, provider)  # fails here, clearly, if it cannot load
        self._pool = multiprocessing.get_context("spawn").Pool(
            workers, initializer=_start_worker, initargs=(model_dir, threads, provider))
        self.workers = workers

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors, in the order of `texts`."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        step = -(-len(texts) // self.workers)
        parts = [list(texts[i:i + step]) for i in range(0, len(texts), step)]
        return np.concatenate(self._pool.map(_encode_in_worker, parts))

    def close(self) -> None:
        """Stop the worker processes."""
        self._pool.terminate()


_WORKER_ENCODER: Encoder | None = None


def _start_worker(model_dir: Path | None, threads: int, provider: str) -> None:
    global _WORKER_ENCODER
    _WORKER_ENCODER = Encoder.open(model_dir, threads, provider)


def _encode_in_worker(texts: list[str]) -> np.ndarray:
    return _WORKER_ENCODER.encode(texts)
