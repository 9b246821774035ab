"""Sentence embeddings on ONNX Runtime: close to the reference implementation's vectors, and
the same for a text whatever is embedded beside it."""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np
import pytest

from indexer.ranking.encoder import (
    ARTICLE_CHARS,
    DIMENSIONS,
    MAX_TOKENS,
    Encoder,
    ModelUnavailable,
    article_text,
    default_model_dir,
)
from tests.conftest import FIXTURES

# The int8 model's lowest cosine to sentence-transformers' vectors of the reference texts is
# 0.9915 on a CPU with AVX-512 VNNI (0.9933 and, on one with AVX2 only, 0.9900 for the export
# before SkipLayerNormalization was left unfused: ONNX Runtime's int8 kernels round
# differently); the fp32 export gives 0.9999998. What 8-bit weights cost.
MIN_REFERENCE_COSINE = 0.985


def test_vectors_agree_with_the_reference_implementation(encoder):
    # Computed by sentence-transformers (torch) from the same model files, cut where the
    # engine cuts; the fixture says how. The last text is longer than the model reads.
    reference = json.loads((FIXTURES / "minilm_reference.json").read_text())
    assert f"max_seq_length = {MAX_TOKENS}" in reference["produced_by"]
    expected = np.array(reference["vectors"], dtype=np.float32)
    got = encoder.encode(reference["texts"])
    assert got.shape == (len(reference["texts"]), DIMENSIONS)
    assert (got * expected).sum(axis=1).min() > MIN_REFERENCE_COSINE


def test_a_text_gets_the_same_vector_alone_or_among_others(encoder):
    texts = ["tendon", "How long does it take to heal a broken tendon",
             "Gastric cancer refers to a malignant tumor " * 20]
    together = encoder.encode(texts)
    for text, vector in zip(texts, together, strict=True):
        assert np.abs(encoder.encode([text])[0] - vector).max() < 1e-5
    # Batched, the int8 graph's activation scale is shared: why texts run one at a time.
    batched = encoder.encode(texts, batch_size=3)
    assert np.abs(batched - together).max() > 1e-3


def test_vectors_are_unit_length_and_similar_meanings_are_closer(encoder):
    question, near, far = encoder.encode(
        ["I can't sleep at night", "Insomnia: trouble falling asleep", "Dandruff shampoo"])
    assert np.allclose([np.linalg.norm(v) for v in (question, near, far)], 1.0, atol=1e-5)
    assert question @ near > question @ far + 0.2


def test_no_texts_give_no_vectors(encoder):
    assert encoder.encode([]).shape == (0, DIMENSIONS)


def test_an_article_is_embedded_from_its_title_and_opening():
    text = article_text("Gout", "Gout is arthritis. " * 500)
    assert text.startswith("Gout. Gout is arthritis.")
    assert len(text) == ARTICLE_CHARS
    assert article_text("", "Body only") == "Body only"


def test_a_missing_or_broken_model_means_no_encoder_and_one_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert Encoder.load(tmp_path) is None  # no model.onnx at all
    assert caplog.text.count("ranking by words alone") == 1 and "is missing" in caplog.text
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert Encoder.load(tmp_path) is None
    assert caplog.text.count("ranking by words alone") == 1 and str(tmp_path) in caplog.text
    with pytest.raises(ModelUnavailable, match="cannot read"):
        Encoder.open(tmp_path)


def test_the_shipped_model_carries_its_licence_and_provenance():
    folder = default_model_dir()
    assert "Apache License" in (folder / "LICENSE").read_text()
    info = json.loads((folder / "export_info.json").read_text())
    assert info["source_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    digest = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    assert digest == info["output_sha256"]["model.onnx"]


def test_embedding_in_several_processes_gives_the_same_vectors(encoder):
    from indexer.ranking.encoder import ParallelEncoder

    texts = [f"Article {i} on gout, tendons and sleep. " * (1 + i % 5) for i in range(9)]
    parallel = ParallelEncoder(None, workers=2)
    try:
        assert np.abs(parallel.encode(texts) - encoder.encode(texts)).max() < 1e-5
        assert parallel.encode([]).shape == (0, DIMENSIONS)
    finally:
        parallel.close()


def test_a_big_embedding_runs_one_process_per_core_and_a_small_one_in_one(monkeypatch):
    from indexer.ranking import encoder as module

    monkeypatch.setattr(module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    small = module.open_for(module.PARALLEL_FROM - 1)
    big = module.open_for(module.PARALLEL_FROM)
    try:
        assert isinstance(small, module.Encoder)
        assert isinstance(big, module.ParallelEncoder) and big.workers == 2
    finally:
        big.close()
    assert isinstance(module.open_for(10_000, workers=1), module.Encoder)
