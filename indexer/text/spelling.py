"""Spelling, as pure functions of words: edit distance, British and American variants, the
English word list, opposite prefixes, and a vocabulary to draw corrections from.

The did-you-mean itself, which asks the index how common each candidate is, is
`indexer.search.spelling`. A vocabulary (a segment's spelling words) is grouped by first
letter and length and scanned with rapidfuzz's optimal-string-alignment distance: Whoosh's
Levenshtein automaton walking the on-disk term table took a third of a search's time.
"""

from __future__ import annotations

import functools
import gzip
import logging
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from indexer.text.analysis import term_for_word

MIN_WORD_LEN = 5
# British spellings and their American forms, tried in turn on a word the index lacks.
_AMERICAN = tuple((re.compile(pattern), replacement) for pattern, replacement in (
    (r"ae", "e"), (r"oe", "e"), (r"our\b", "or"), (r"(?<=[^aeiou])re\b", "er"),
    (r"ogue\b", "og"), (r"yse(d|s)?\b", r"yze\1"), (r"is(e|ed|es|ing|ation)\b", r"iz\1")))
# The other way (an American ending made British), for `spelling_variants`; "ae" and "oe"
# are tried at every "e".
_BRITISH = tuple((re.compile(pattern), replacement) for pattern, replacement in (
    (r"or\b", "our"), (r"(?<=[^aeiou])er\b", "re"), (r"og\b", "ogue"),
    (r"yz(e|ed|es)?\b", r"ys\1"), (r"iz(e|ed|es|ing|ation)\b", r"is\1")))
# A key of the word list's JSON object ("word": count) long enough to be corrected; one with
# an escape in it (none in pyspellchecker 0.9) is left out.
_JSON_KEY = re.compile(r'"([^"\\\n]{' + str(MIN_WORD_LEN) + r',})"\s*:')
# Prefixes that say the opposite of each other: one edit apart, never a typo's correction.
_OPPOSITE_PREFIXES = (("hypo", "hyper"), ("micro", "macro"), ("intra", "inter"))


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


@dataclass(frozen=True)
class WordList:
    """A set of words kept as a sorted array of their hashes: 1.2 MB for 155,000 words, where
    a Python set of them takes 20 MB in every server process. Python's string hash is salted
    per process, so a list is only valid in the process that made it (and its forks)."""

    hashes: np.ndarray

    @classmethod
    def of(cls, words: Iterable[str]) -> WordList:
        """The list of these words."""
        return cls(np.unique(np.fromiter(map(hash, words), dtype=np.int64)))

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        key = hash(word)
        i = int(np.searchsorted(self.hashes, key))
        return i < len(self.hashes) and int(self.hashes[i]) == key

    def __len__(self) -> int:
        return len(self.hashes)


def english_word_texts() -> Iterator[str]:
    """The words of pyspellchecker's English word-frequency list of MIN_WORD_LEN letters or
    more, as text (see english_words); raises OSError and the like when it is unreadable."""
    data = resources.files("spellchecker").joinpath("resources", "en.json.gz")
    # The words are yielded one at a time as they are found in the file's text: holding
    # them all at once (a dict from json.load, or a list) leaves 15 MB behind in every
    # server process, memory freed in small pieces that the allocator keeps.
    text = gzip.decompress(data.read_bytes()).decode("utf-8")
    return (m.group(1) for m in _JSON_KEY.finditer(text))


@functools.cache
def english_words() -> WordList:
    """The words of pyspellchecker's English word-frequency list long enough to be corrected
    (about 155,000). Read once per process, on the first unknown word (0.1 s);
    `indexer.search` warms it before a server takes requests."""
    try:
        words = english_word_texts()
    except (ImportError, OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        # Without the list every unknown word is taken for a misspelling, as before it was
        # used: worse suggestions, but searches still answer.
        logging.getLogger(__name__).warning("English word list unavailable (%s): %s",
                                            type(exc).__name__, exc)
        return WordList.of(())
    return WordList.of(words)


def american_spelling(word: str) -> str:
    """The word with British spellings made American ("haemorrhage" -> "hemorrhage",
    "tumour" -> "tumor"); unchanged when it has none."""
    for pattern, replacement in _AMERICAN:
        word = pattern.sub(replacement, word)
    return word


def spelling_variants(word: str) -> set[str]:
    """The word's other spellings, British or American ("diarrhoea" <-> "diarrhea", "tumour"
    <-> "tumor", "centre" <-> "center"): candidates, most of them not words, that the caller
    keeps only where its index has them. Words shorter than MIN_WORD_LEN have none."""
    word = word.lower()
    if len(word) < MIN_WORD_LEN or not word.isalpha():
        return set()
    british = {word[:i] + vowel + word[i:] for i, letter in enumerate(word) if letter == "e"
               for vowel in "ao"}
    for pattern, replacement in _BRITISH:
        british.add(pattern.sub(replacement, word))
    variants = {c for c in british if american_spelling(c) == word}
    variants.add(american_spelling(word))
    return variants - {word}


def flips_meaning(word: str, candidate: str) -> bool:
    """True when the candidate swaps a prefix for its opposite ("hypoplastic" ->
    "hyperplastic"): one edit apart, but the other condition."""
    return any(word.startswith(a) and candidate.startswith(b)
               for pair in _OPPOSITE_PREFIXES for a, b in (pair, pair[::-1]))


@dataclass(frozen=True)
class Vocabulary:
    """One segment's unstemmed words, grouped by first letter and length: the candidates a
    correction is drawn from. Segments never change, so it is built once per segment."""

    words: dict[tuple[str, int], list[str]]

    @classmethod
    def of_words(cls, words: Iterable[str]) -> Vocabulary:
        """The vocabulary of these words (a segment's spelling words)."""
        grouped: dict[tuple[str, int], list[str]] = {}
        for word in words:
            grouped.setdefault((word[:1], len(word)), []).append(word)
        return cls({k: sorted(set(v)) for k, v in grouped.items()})

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        bucket = self.words.get((word[:1], len(word)))
        if not bucket:
            return False
        i = bisect_left(bucket, word)
        return i < len(bucket) and bucket[i] == word

    def near(self, word: str, max_dist: int) -> list[str]:
        """Words within `max_dist` edits (swaps count one) sharing the first letter."""
        out: list[str] = []
        for length in range(len(word) - max_dist, len(word) + max_dist + 1):
            bucket = self.words.get((word[:1], length))
            if bucket:
                out.extend(match for match, _, _ in process.extract(
                    word, bucket, scorer=OSA.distance, score_cutoff=max_dist, limit=None))
        return out


