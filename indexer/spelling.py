"""Did you mean: corrections for query words the index has never seen, drawn from the index's
own (unstemmed) vocabulary, closest edit first and then the most frequent word.

A word the index has never seen is not always a misspelling. A British or American spelling
is searched in its other spelling too (`spelling_variants`; the engine adds those the index
has), or else corrected to the American one ("diarrhoea"). A real English word
("concussion", "hives", "tired") is left as typed: its nearest index word ("conclusion",
"hiv", "time") is another word, not what the reader meant. So is a word the synonym table
knows (its expansions are searched instead), and a correction never turns "hypo-" into
"hyper-" or repeats a word the query already has. `python -m bench.spelling` measures this
against the index vocabulary alone.

The vocabulary of each segment is read once into memory, grouped by first letter and length,
and scanned with rapidfuzz's optimal-string-alignment distance: Whoosh's Levenshtein automaton
walking the on-disk term table took a third of a search's time.
"""

from __future__ import annotations

import functools
import gzip
import logging
import re
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
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
# A real word's best candidates tried in its context (see correct_word).
REAL_WORD_CANDIDATES = 3
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
    `SearchEngine.warm` reads it before a server takes requests."""
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


def correct_word(reader, word: str, vocabularies: Sequence[Vocabulary] | None = None,
                 lexicon: Collection[str] | None = None, avoid: Collection[str] = (),
                 fits: Callable[[str], bool] | None = None) -> str | None:
    """The best correction for one unknown word, or None.

    Its American spelling, if the index has it. Otherwise the index's words within two edits
    of it (with the same first letter), ranked by true edit distance (swaps count one), then
    by how many documents use them; never one whose index term is in `avoid` (the query's
    other words) or that flips a prefix (`flips_meaning`). A word of `lexicon` (real words;
    None: every word not in the index is a misspelling) is corrected only to a candidate that
    `fits` its place in the question ("brest cancer": "breast cancer" is in the index), among
    the best few; without `fits`, not at all. `vocabularies` (one per segment, cached by the
    caller) default to reading the segments.
    """
    word = word.lower()
    limit = max_edits(word)
    if limit == 0 or not word.isalpha():
        return None
    real = False
    if lexicon is not None:
        american = american_spelling(word)
        if american != word and is_known(reader, american):
            return american
        real = word in lexicon
        if real and fits is None:
            return None
    if vocabularies is None:
        vocabularies = [Vocabulary.of_segment(leaf) for leaf, _ in reader.leaf_readers()]
    candidates = {c for v in vocabularies for c in v.near(word, CANDIDATE_EDITS)} - {word}
    ranked: list[tuple[int, int, str]] = []
    for candidate in candidates:
        if flips_meaning(word, candidate) or stem_of(candidate) in avoid:
            continue
        # Compare stems too: "tendom" is one edit from "tendons" once both are stemmed.
        dist = min(edit_distance(word, candidate),
                   edit_distance(stem_of(word), stem_of(candidate)))
        if dist > limit:
            continue
        # How many documents use the word's index term (the spelling fields hold each word
        # once per segment, see indexer.writing).
        term = stem_of(candidate)
        freq = max(reader.doc_frequency(f, term) for f in ("title", "body"))
        ranked.append((dist, -freq, candidate))
    ranked.sort()
    if real:
        # A real word is kept unless a close word makes a phrase the index has; only the
        # best few are tried, each costing a phrase lookup.
        return next((c for _, _, c in ranked[:REAL_WORD_CANDIDATES] if fits(c)), None)
    return ranked[0][2] if ranked else None


def suggest(reader, words: list[str], vocabulary: Callable | None = None,
            lexicon: Callable[[], Collection[str]] | None = None, keep: Collection[str] = (),
            context: Callable[[list[str], int, str], bool] | None = None) -> dict[str, str]:
    """Corrections for the unknown words of a query: {typed word: correction}.

    `vocabulary(segment_reader)` gives a segment's Vocabulary (a cache's); by default the
    segments are read for each query that has an unknown word. `lexicon()` gives the real
    words (see correct_word), called only for an unknown word; words in `keep` (lowercased)
    are never corrected. `context(words, i, candidate)` says whether a candidate for the
    real word `words[i]` fits beside its neighbours.
    """
    fixes: dict[str, str] = {}
    vocabularies = terms = None
    tried = 0
    for i, word in enumerate(words):
        if word.lower() in fixes or word.lower() in keep or is_known(reader, word):
            continue
        tried += 1
        if tried > MAX_CORRECTIONS:
            break
        if vocabularies is None:  # read only once a word is unknown
            load = vocabulary or Vocabulary.of_segment
            vocabularies = [load(leaf) for leaf, _ in reader.leaf_readers()]
            terms = {stem_of(w.lower()) for w in words}
        fits = (lambda c, i=i: context(words, i, c)) if context else None
        fix = correct_word(reader, word, vocabularies, lexicon() if lexicon else None,
                           avoid=terms - {stem_of(word.lower())}, fits=fits)
        if fix:
            fixes[word.lower()] = fix
    return fixes
