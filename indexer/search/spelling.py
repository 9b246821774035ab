"""Did you mean: corrections for query words the index has never seen, drawn from the index's
own (unstemmed) vocabulary, closest edit first and then the most frequent word; and the other
spellings of the question's words that the index holds.

A word the index has never seen is not always a misspelling. A British or American spelling
is searched in its other spelling too (`with_spelling_variants`), or else corrected to the
American one ("diarrhoea"). A real English word ("concussion", "hives", "tired") is left as
typed: its nearest index word ("conclusion", "hiv", "time") is another word, not what the
reader meant, unless the word beside it says it is a typo ("brest cancer": the index has
"breast cancer"). So is a word the synonym table knows (its expansions are searched
instead), and a correction never turns "hypo-" into "hyper-" or repeats a word the query
already has. `python -m bench.spelling` measures this against the index vocabulary alone.

The words of each segment are read once into memory (`vocabulary`, cached while the segment
lives); the pure parts (distances, variants, the English word list) are
`indexer.text.spelling`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from indexer.query.types import Clause, ParsedQuery
from indexer.storage import SegmentView, Snapshot
from indexer.text.analysis import TOKEN_PATTERN, term_for_word
from indexer.text.spelling import (
    MIN_WORD_LEN,
    Vocabulary,
    american_spelling,
    edit_distance,
    english_words,
    flips_meaning,
    max_edits,
    spelling_variants,
    stem_of,
)

# Each unknown word costs a scan of part of the vocabulary: a query of many made-up words must
# not cost seconds.
MAX_CORRECTIONS = 6
# Candidates are gathered this far from the typed word; the stems may then be closer.
CANDIDATE_EDITS = 2
# A real word's best candidates tried in its context (see correct_word).
REAL_WORD_CANDIDATES = 3
_WORD = re.compile(r"\w+")


def vocabulary(segment: SegmentView) -> Vocabulary:
    """A segment's spelling words (read once: segments never change)."""
    return segment.cached("spelling", lambda s: Vocabulary.of_words(s.spelling_words()))


def is_known(snapshot: Snapshot, word: str) -> bool:
    """True when the word's index term occurs in a title or a body."""
    term = term_for_word(word)
    if term is None:
        return True
    return any(snapshot.doc_frequency(f, term) > 0 for f in ("title", "body"))


def correct_word(snapshot: Snapshot, word: str,
                 vocabularies: Sequence[Vocabulary] | None = None,
                 lexicon: Collection[str] | None = None, avoid: Collection[str] = (),
                 fits: Callable[[str], int] | None = None) -> str | None:
    """The best correction for one unknown word, or None.

    Its American spelling, if the index has it. Otherwise the index's words within two edits
    of it (with the same first letter), ranked by true edit distance (swaps count one), then
    by how many documents use them; never one whose index term is in `avoid` (the query's
    other words) or that flips a prefix (`flips_meaning`). A word of `lexicon` (real words;
    None: every word not in the index is a misspelling) is corrected only to a candidate that
    `fits` its place in the question ("brest cancer": "breast cancer" is in the index), among
    the best few; without `fits`, not at all. Any other word, among its closest candidates,
    is corrected to the one that `fits` most often (how many documents hold it beside the
    word next to it). `vocabularies` (one per segment) default to
    the segments' cached ones.
    """
    word = word.lower()
    limit = max_edits(word)
    if limit == 0 or not word.isalpha():
        return None
    real = False
    if lexicon is not None:
        american = american_spelling(word)
        if american != word and is_known(snapshot, american):
            return american
        real = word in lexicon
        if real and fits is None:
            return None
    if vocabularies is None:
        vocabularies = [vocabulary(segment) for segment in snapshot.segments]
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
        # once per segment, see indexer.storage.writer).
        term = stem_of(candidate)
        freq = max(snapshot.doc_frequency(f, term) for f in ("title", "body"))
        ranked.append((dist, -freq, candidate))
    ranked.sort()
    if real:
        # A real word is kept unless a close word makes a phrase the index has (the one
        # most documents hold, of the best few: each costs a phrase lookup).
        counts = [(fits(c), c) for _, _, c in ranked[:REAL_WORD_CANDIDATES]]
        best = max(counts, key=lambda fit: fit[0], default=(0, None))  # first of equals
        return best[1] if best[0] > 0 else None
    if not ranked:
        return None
    if fits is not None:
        # Of the closest candidates, one that makes a phrase with the word beside it wins
        # over a more used one that does not: "brest cancer" is "breast cancer", though
        # "best" is the more common word one edit away.
        closest = [c for d, _, c in ranked[:REAL_WORD_CANDIDATES] if d == ranked[0][0]]
        if len(closest) > 1:
            # max keeps the first (the more used word) among equal counts.
            return max(closest, key=fits)
    return ranked[0][2]


def suggest(snapshot: Snapshot, words: list[str],
            vocabulary: Callable[[SegmentView], Vocabulary] = vocabulary,
            lexicon: Callable[[], Collection[str]] | None = None, keep: Collection[str] = (),
            context: Callable[[list[str], int, str], int] | None = None) -> dict[str, str]:
    """Corrections for the unknown words of a query: {typed word: correction}.

    `vocabulary(segment)` gives a segment's Vocabulary (by default the segment's cached
    one), read only once a word is unknown. `lexicon()` gives the real
    words (see correct_word), called only for an unknown word; words in `keep` (lowercased)
    are never corrected. `context(words, i, candidate)` says whether a candidate for the
    real word `words[i]` fits beside its neighbours.
    """
    fixes: dict[str, str] = {}
    vocabularies = terms = None
    tried = 0
    for i, word in enumerate(words):
        if word.lower() in fixes or word.lower() in keep or is_known(snapshot, word):
            continue
        tried += 1
        if tried > MAX_CORRECTIONS:
            break
        if vocabularies is None:  # read only once a word is unknown
            vocabularies = [vocabulary(segment) for segment in snapshot.segments]
            terms = {stem_of(w.lower()) for w in words}
        fits = (lambda c, i=i: context(words, i, c)) if context else None
        fix = correct_word(snapshot, word, vocabularies, lexicon() if lexicon else None,
                           avoid=terms - {stem_of(word.lower())}, fits=fits)
        if fix:
            fixes[word.lower()] = fix
    return fixes


def corrections(snapshot: Snapshot, parsed: ParsedQuery, in_context: bool = True
                ) -> dict[str, str]:
    """{typed word: correction} for the question's unknown words (`suggest`); with
    `in_context`, a real word is corrected where its neighbour says it is a typo."""
    # Words the synonym table knows are words, not typos: their expansions are searched
    # (and a word with another spelling in the index is searched in both).
    known = {w.lower() for phrase, _ in parsed.expansions
             for w in TOKEN_PATTERN.findall(phrase)}
    context = functools.partial(fits_beside, snapshot) if in_context else None
    return suggest(snapshot, parsed.words, vocabulary, english_words, known, context)


def with_spelling_variants(snapshot: Snapshot, parsed: ParsedQuery) -> ParsedQuery:
    """The question with the other spellings of its words that the index holds ("diarrhoea"
    also searches "diarrhea", "anemia" also "anaemia"): the same word, so with the same
    weight, and counting for the word the reader typed."""
    if parsed.syntax or not parsed.clauses:
        return parsed
    # Looked up in the segments' word lists (in memory), not the term index on disk: a long
    # question has hundreds of candidate spellings.
    vocabularies = [vocabulary(segment) for segment in snapshot.segments]
    weights = {c.terms[0]: c.weight for c in parsed.clauses if c.own and len(c.terms) == 1}
    clauses, terms, expansions = [], dict(parsed.terms), []
    for word in dict.fromkeys(w.lower() for w in parsed.words):
        term = term_for_word(word)
        if term not in weights:
            continue
        for variant in sorted(spelling_variants(word)):
            other = term_for_word(variant)
            if other and other not in terms and any(variant in v for v in vocabularies):
                clauses.append(Clause((other,), weights[term], own=False, covers=(term,)))
                terms[other] = weights[term]
                expansions.append((word, variant))
    if not clauses:
        return parsed
    return replace(parsed, clauses=[*parsed.clauses, *clauses], terms=terms,
                   expansions=[*parsed.expansions, *expansions])


def fits_beside(snapshot: Snapshot, words: list[str], i: int, candidate: str) -> int:
    """How many documents hold `candidate`, put in place of `words[i]`, right before or after
    the question's neighbouring word (stop words skipped, as the index skips them); 0 when
    none does: "brest cancer" can be "breast cancer", "turner syndrome" not "turned
    syndrome"."""
    term = term_for_word(candidate)
    if term is None:
        return 0
    before = next((t for w in reversed(words[:i]) if (t := term_for_word(w))), None)
    after = next((t for w in words[i + 1:] if (t := term_for_word(w))), None)
    return max((snapshot.phrase_count(fieldname, pair) for pair in ((before, term),
                                                                    (term, after))
                if None not in pair for fieldname in ("title", "body")), default=0)


def all_english(words: list[str], also: Collection[str] = ()) -> bool:
    """True when the searched words of MIN_WORD_LEN letters or more (the English list holds
    no shorter ones) are English words, or words of `also`, and there is at least one."""
    long = [w.lower() for w in words if len(w) >= MIN_WORD_LEN and term_for_word(w)]
    return bool(long) and all(w in english_words() or w in also for w in long)


def apply_fixes(text: str, fixes: dict[str, str]) -> str:
    """The text with each corrected word replaced (words matched case-insensitively)."""
    return _WORD.sub(lambda m: fixes.get(m.group().lower(), m.group()), text)
