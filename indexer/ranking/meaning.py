"""Ranking by meaning: the sentence-embedding model and each generation's article vectors,
loaded when first needed, and the articles closest in meaning to a question.

The model (120 MB) is loaded only once an index has vectors to compare with, and only once
per process; a generation's table is read again only when its file changes, and only the
live generation's table is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.ranking.encoder import MODEL_NAME, Encoder
from indexer.storage import Snapshot, VectorTable


@dataclass(frozen=True)
class Vectors:
    """What ranking one question by meaning needs: the live generation's article vectors
    and the model that encodes the question the same way."""

    table: VectorTable
    encoder: Encoder

    def encode(self, text: str) -> np.ndarray:
        """The question's unit vector."""
        return self.encoder.encode([text])[0]


class Meaning:
    """The model and the vector tables of one index folder, shared by a process's threads.

    `vectors(name)` is None when ranking by meaning is off, when the generation has no
    vectors, or when the model cannot be loaded (said once, by `Encoder.load`).
    """

    def __init__(self, enabled: bool, model_dir: Path | None,
                 locate: Callable[[str], tuple[Path, tuple]]) -> None:
        """`locate(name)` gives a generation's vector file and its stamp (what identifies
        the file as it is on disk now; () when there is none)."""
        self.enabled = enabled
        self.model_dir = model_dir
        self._locate = locate
        self._lock = threading.Lock()
        self._encoder: Encoder | None = None
        self._encoder_loaded = False
        # Generation name -> (its vector file's stamp, its table): reread when the file changes.
        self._tables: dict[str, tuple[tuple, VectorTable | None]] = {}

    @property
    def encoder_loaded(self) -> bool:
        """True once loading the model was tried (whether it loaded or not)."""
        return self._encoder_loaded

    def vectors(self, name: str | None) -> Vectors | None:
        """The generation's vectors and the model, when ranking by meaning is possible."""
        if not self.enabled or name is None:
            return None
        table = self.table(name)
        if table is None:
            return None
        encoder = self.encoder()
        return Vectors(table, encoder) if encoder is not None else None

    def encoder(self) -> Encoder | None:
        """The model, loaded on first use (None when it cannot be)."""
        if not self._encoder_loaded and self.enabled:
            with self._lock:
                if not self._encoder_loaded:
                    # One thread: a server process answers one question per core.
                    self._encoder = Encoder.load(self.model_dir, threads=1)
                    self._encoder_loaded = True
        return self._encoder

    def table(self, name: str) -> VectorTable | None:
        """The generation's vector table as searched, with its nearest-neighbour graph when
        it has one (None when it has no table)."""
        path, stamp = self._locate(name)
        found = self._tables.get(name)
        if found is not None and found[0] == stamp:
            return found[1]
        table = VectorTable.read_for_search(path.parent, MODEL_NAME) if stamp else None
        with self._lock:
            # Only the live generation's table is kept: one rebuilt away is dropped.
            self._tables = {name: (stamp, table)}
        return table


def closest(snapshot: Snapshot, table: VectorTable, question: np.ndarray, k: int,
            min_cosine: float, taken: frozenset[str] | set[str] = frozenset()
            ) -> list[tuple[int, float]]:
    """(document number, cosine) of the k articles closest to the question, of those at
    least `min_cosine` close whose ids are not `taken`; closest first."""
    out: list[tuple[int, float]] = []
    if k <= 0:
        return out
    for row, cosine in table.nearest(question, k + len(taken)):
        if cosine < min_cosine or len(out) >= k:
            break
        if table.ids[row] in taken:
            continue
        # A vector may outlive its article by the moment between a commit and the vectors'
        # update.
        docnum = snapshot.docnum(table.ids[row])
        if docnum is not None:
            out.append((docnum, cosine))
    return out
