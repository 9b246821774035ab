"""Did you mean: corrections for query words the index has never seen, drawn from the index's
own (unstemmed) vocabulary, closest edit first and then the most frequent word."""

from __future__ import annotations

from indexer.analysis import term_for_word

SPELL_FIELDS = ("spell_body", "spell_title")
MIN_WORD_LEN = 5
# Each unknown word costs an automaton walk over the vocabulary: a query of many made-up
# words must not cost seconds.
MAX_CORRECTIONS = 6


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): a swap of two letters is one
    edit, as readers make it ("insomina")."""
    if a == b:
        return 0
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


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


def correct_word(reader, word: str) -> str | None:
    """The best correction for one unknown word, or None.

    Candidates come from Whoosh's Levenshtein automaton over the spelling fields; they are
    ranked by true edit distance (swaps count one), then by how many documents use them.
    """
    word = word.lower()
    limit = max_edits(word)
    if limit == 0 or not word.isalpha():
        return None
    best: tuple[int, int, str] | None = None
    for field in SPELL_FIELDS:
        if field not in reader.schema:
            continue
        for candidate in reader.terms_within(field, word, 2, prefix=1):
            if candidate == word:
                continue
            # Compare stems too: "tendom" is one edit from "tendons" once both are stemmed.
            dist = min(edit_distance(word, candidate),
                       edit_distance(stem_of(word), stem_of(candidate)))
            if dist > limit:
                continue
            freq = reader.doc_frequency(field, candidate)
            key = (dist, -freq, candidate)
            if best is None or key < best:
                best = key
    return best[2] if best else None


def suggest(reader, words: list[str]) -> dict[str, str]:
    """Corrections for the unknown words of a query: {typed word: correction}."""
    fixes: dict[str, str] = {}
    tried = 0
    for word in words:
        if word.lower() in fixes or is_known(reader, word):
            continue
        tried += 1
        if tried > MAX_CORRECTIONS:
            break
        fix = correct_word(reader, word)
        if fix:
            fixes[word.lower()] = fix
    return fixes
