"""Sentence embeddings in NumPy: the same vectors as the reference implementation."""

from __future__ import annotations

import json
import logging

import numpy as np

from indexer.ranking.encoder import ARTICLE_CHARS, DIMENSIONS, Encoder, article_text
from tests.conftest import FIXTURES


def test_vectors_match_the_reference_implementation(encoder):
    # Computed by sentence-transformers (torch) from the same model files; the fixture says
    # how. The last text is longer than the model reads: it is cut at 256 word pieces.
    reference = json.loads((FIXTURES / "minilm_reference.json").read_text())
    expected = np.array(reference["vectors"], dtype=np.float32)
    got = encoder.encode(reference["texts"])
    assert got.shape == (len(reference["texts"]), DIMENSIONS)
    assert np.abs(got - expected).max() < 1e-3
    assert (got * expected).sum(axis=1).min() > 0.99999


def test_a_text_gets_the_same_vector_alone_or_in_a_batch_of_other_lengths(encoder):
    texts = ["tendon", "How long does it take to heal a broken tendon",
             "Gastric cancer refers to a malignant tumor " * 20]
    together = encoder.encode(texts, batch_size=3)
    for text, vector in zip(texts, together, strict=True):
        assert np.abs(encoder.encode([text])[0] - vector).max() < 1e-5


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


def test_a_missing_model_means_no_encoder_and_a_warning(tmp_path, caplog):
    (tmp_path / "model.safetensors").write_bytes(b"not a model")
    with caplog.at_level(logging.WARNING):
        assert Encoder.load(tmp_path) is None
    assert "ranking by words alone" in caplog.text
