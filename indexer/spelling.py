"""Did you mean: corrections for query words the index has never seen, drawn from the index's
own (unstemmed) vocabulary, closest edit first and then the most frequent word.

The vocabulary of each segment is read once into memory, grouped by first letter and length,
and scanned with rapidfuzz's optimal-string-alignment distance: Whoosh's Levenshtein automaton
walking the on-disk term table took a third of a search's time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from indexer.analysis import term_for_word

SPELL_FIELDS = ("spell_body", "spell_title")
MIN_WORD_LEN = 5
# Each unknown word costs a scan of part of the vocabulary: a query of many made-up words must
# not cost seconds.
MAX_CORRECTIONS = 6
# Candidates are gathered this far from the typed word; the stems may then be closer.
CANDIDATE_EDITS = 2


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): a swap of two letters is one
    edit, as readers make it ("insomina")."""
    return OSA.distance(a, b)


def stem_of(word: str) -> str:
    """The word's index term, or the word itself for a stop word."""
    return term_for_word(word) or word


def max_edits(word: str) -> int:
    """How far a correction may be from the word: short words are too ambiguous to correct."""
    if len(word) < MIN_WORD_LEN:
        return 0
    return 1 if len(word) < 8 else 2


def is_known(reader, word: str) -> bool:
    """True when the word's index term occurs in a title or a body."""
    term = term_for_word(word)
    if term is None:
        return True
    return any(reader.doc_frequency(f, term) > 0 for f in ("title", "body"))


@dataclass(frozen=True)
class Vocabulary:
    """One segment's unstemmed words, grouped by first letter and length: the candidates a
    correction is drawn from. Segments never change, so it is built once per segment."""

    words: dict[tuple[str, int], list[str]]

    @classmethod
    def of_segment(cls, reader) -> Vocabulary:
        """The spelling words of one segment reader."""
        words: dict[tuple[str, int], list[str]] = {}
        for field in SPELL_FIELDS:
            if field not in reader.schema:
                continue
            for raw in reader.lexicon(field):
                word = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                words.setdefault((word[:1], len(word)), []).append(word)
        return cls({k: sorted(set(v)) for k, v in words.items()})

    def near(self, word: str, max_dist: int) -> list[str]:
        """Words within `max_dist` edits (swaps count one) sharing the first letter."""
        out: list[str] = []
        for length in range(len(word) - max_dist, len(word) + max_dist + 1):
            bucket = self.words.get((word[:1], length))
            if bucket:
                out.extend(match for match, _, _ in process.extract(
                    word, bucket, scorer=OSA.distance, score_cutoff=max_dist, limit=None))
        return out


def correct_word(reader, word: str, vocabularies: Sequence[Vocabulary] | None = None
                 ) -> str | None:
    """The best correction for one unknown word, or None.

    Candidates are the index's words within two edits of it (with the same first letter),
    ranked by true edit distance (swaps count one), then by how many documents use them.
    `vocabularies` (one per segment, cached by the caller) default to reading the segments.
    """
    word = word.lower()
    limit = max_edits(word)
    if limit == 0 or not word.isalpha():
        return None
    if vocabularies is None:
        vocabularies = [Vocabulary.of_segment(leaf) for leaf, _ in reader.leaf_readers()]
    candidates = {c for v in vocabularies for c in v.near(word, CANDIDATE_EDITS)} - {word}
    best: tuple[int, int, str] | None = None
    for candidate in candidates:
        # Compare stems too: "tendom" is one edit from "tendons" once both are stemmed.
        dist = min(edit_distance(word, candidate),
                   edit_distance(stem_of(word), stem_of(candidate)))
        if dist > limit:
            continue
        # How many documents use the word's index term (the spelling fields hold each word
        # once per segment, see indexer.writing).
        term = stem_of(candidate)
        freq = max(reader.doc_frequency(f, term) for f in ("title", "body"))
        key = (dist, -freq, candidate)
        if best is None or key < best:
            best = key
    return best[2] if best else None


def suggest(reader, words: list[str], vocabulary: Callable | None = None) -> dict[str, str]:
    """Corrections for the unknown words of a query: {typed word: correction}.

    `vocabulary(segment_reader)` gives a segment's Vocabulary (a cache's); by default the
    segments are read for each query that has an unknown word.
    """
    fixes: dict[str, str] = {}
    vocabularies = None
    tried = 0
    for word in words:
        if word.lower() in fixes or is_known(reader, word):
            continue
        tried += 1
        if tried > MAX_CORRECTIONS:
            break
        if vocabularies is None:
            load = vocabulary or Vocabulary.of_segment
            vocabularies = [load(leaf) for leaf, _ in reader.leaf_readers()]
        fix = correct_word(reader, word, vocabularies)
        if fix:
            fixes[word.lower()] = fix
    return fixes
