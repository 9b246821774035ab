"""Shared fixtures: the shipped corpus, temporary corpora and indexes, an engine, a web client."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from indexer.build import index_corpus
from indexer.config import Settings
from indexer.ranking.encoder import Encoder
from indexer.search import SearchEngine
from indexer.storage import IndexStore

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
SEED_QUESTION = "How long does it take to heal a broken tendon"


def need(path: Path) -> Path:
    """Skip the test, saying why, when a shared data set is not beside the project."""
    if not path.exists():
        pytest.skip(f"{path} is not available (the shared data sets live beside the project)")
    return path


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The sentence-embedding model shipped with the engine."""
    return Encoder.open()


@pytest.fixture(scope="session")
def shipped_index(tmp_path_factory, encoder) -> Path:
    """An index of the shipped ./corpus, with its article vectors, as `healthsearch index`
    builds it; built once per session."""
    index_dir = tmp_path_factory.mktemp("shipped") / "index"
    index_corpus([CORPUS], IndexStore(index_dir), encoder=encoder)
    return index_dir


@pytest.fixture(scope="session")
def engine(shipped_index) -> SearchEngine:
    """A search engine over the shipped corpus."""
    return SearchEngine(Settings(index_dir=shipped_index))


@pytest.fixture(scope="session")
def medicines_engine(tmp_path_factory, encoder) -> SearchEngine:
    """A search engine over tests/fixtures/medicines.jsonl: short articles on 24 medicines,
    each named only by its generic name, and four on other subjects; with article vectors."""
    index_dir = tmp_path_factory.mktemp("medicines") / "index"
    index_corpus([FIXTURES / "medicines.jsonl"], IndexStore(index_dir), encoder=encoder)
    return SearchEngine(Settings(index_dir=index_dir))


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    """A writable copy of the shipped corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def store(tmp_path) -> IndexStore:
    """An empty index folder."""
    return IndexStore(tmp_path / "index")


# CI runs the same property-test examples every time (a red CI must be reproducible);
# local runs keep exploring new ones.
from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
