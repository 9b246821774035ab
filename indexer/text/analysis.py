"""Text analysis shared by indexing, querying and snippets: one analysis, used everywhere.

Pure functions from text to index terms. The stemmer and the accent table are Whoosh's
language support (`whoosh.lang.porter`, `whoosh.support.charset`), imported here and
nowhere else outside the storage package: every term in an index was made by them, and
another Porter implementation stems differently (Snowball's "porter" gives another stem for
6,984 of 181,184 words of the shared corpora and the English word list: "isolated" is
"isolat" here, "isol" there). The Whoosh analyzer the schema needs wraps these functions
(`indexer.storage.schema.HealthAnalyzer`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from whoosh.lang.porter import stem
from whoosh.support.charset import accent_map

# Whoosh's own tokenizer pattern (words, keeping dotted forms like "U.S." together), plus an
# English clitic glued to its word: "Still's", "can't", "they're" are one token each.
# Case-insensitive: "ALZHEIMER'S" and "DON'T" are one token each too.
CLITIC_SUFFIX = r"(?:['’](?i:s|t|d|ll|m|re|ve)\b)?"
TOKEN_PATTERN = re.compile(r"\w+(?:\.?\w+)*" + CLITIC_SUFFIX, re.UNICODE)
# The clitic goes before stemming: "Alzheimer's" is "alzheimer", "can't" the stop word "can".
_CLITIC = re.compile(r"['’](?:s|t|d|ll|m|re|ve)$")

# Whoosh's stop list plus the question and auxiliary words readers wrap around a query
# ("how long does it take ..."); they carry no topic and only add noise to BM25. Negations
# are stop words however they are typed: "can't" is "can", "cannot" and "dont" are stop
# words too. Not "cant": it names Cant syndrome.
STOP_WORDS = frozenset(
    """a an and are as at be by can for from have if in is it may not of on or tbd that the
    this to us we when will with yet you your i me my our they them their he she his her its
    am was were been being has had having do does did doing how what which who whom whose why
    where there here than then so such into about also would could should shall might must
    these those any some very just don doesn didn isn aren wasn weren haven hasn hadn couldn
    shouldn wouldn won cannot dont doesnt didnt isnt arent wasnt werent havent hasnt
    hadnt couldnt shouldnt wouldnt wont""".split()
)

# One character is a word: "type 2", "vitamin D", "protein S", "fragile X".
MIN_TOKEN = 1
MAX_TOKEN = 64


@lru_cache(maxsize=500_000)
def normal_form(word: str) -> tuple[str, str] | None:
    """(folded word, stem) for a raw token, or None when it is a stop word or too short/long."""
    folded = word.lower()
    if "'" in folded or "’" in folded:
        folded = _CLITIC.sub("", folded)
    if not folded.isascii():
        folded = folded.translate(accent_map)
    if len(folded) < MIN_TOKEN or len(folded) > MAX_TOKEN or folded in STOP_WORDS:
        return None
    return folded, stem(folded)


def term_for_word(word: str) -> str | None:
    """The index term a single word analyses to, or None for a stop word or a too-short word."""
    normal = normal_form(word)
    return normal[1] if normal else None


def analyze(text: str) -> list[str]:
    """The index terms of a text, in order (stop words dropped): what the analyzer gives,
    without a token object per word."""
    out = []
    for word in TOKEN_PATTERN.findall(text):
        normal = normal_form(word)
        if normal is not None:
            out.append(normal[1])
    return out


def index_terms(text: str) -> tuple[dict[str, list[int]], set[str]]:
    """One pass over a text for indexing: each index term with its positions (as the analyzer
    numbers them: stop words dropped and not counted), and the unstemmed words (for spelling).
    """
    postings: dict[str, list[int]] = {}
    words: set[str] = set()
    pos = 0
    for word in TOKEN_PATTERN.findall(text):
        normal = normal_form(word)
        if normal is None:
            continue
        folded, term = normal
        words.add(folded)
        positions = postings.get(term)
        if positions is None:
            postings[term] = [pos]
        else:
            positions.append(pos)
        pos += 1
    return postings, words


def iter_words(text: str):
    """Yield (start, end, term) for each word in the text that survives analysis."""
    for match in TOKEN_PATTERN.finditer(text):
        term = term_for_word(match.group())
        if term is not None:
            yield match.start(), match.end(), term




_INFLECTIONS = ((re.compile(r"ies$"), "y"), (re.compile(r"(ss|[sxz]|[cs]h)es$"), r"\1"),
                (re.compile(r"(?<=[^s])s$"), ""), (re.compile(r"ied$"), "y"),
                (re.compile(r"(?<=..)(ed|ing)$"), ""), (re.compile(r"(.)\1$"), r"\1"),
                (re.compile(r"e$"), ""))


def inflection_key(word: str) -> str:
    """What the inflections of one word share, and its derivations do not: the word
    lower-cased without a possessive, plural, past or -ing ending ("effects", "effect" ->
    "effect"; "effective" stays "effective"; "cramping", "cramps" -> "cramp"). Porter's
    stem joins words of other meanings ("effect", "effective"); this only joins forms of
    one word, for marking what the reader typed."""
    word = _CLITIC.sub("", word.lower().replace("’", "'"))
    for pattern, replacement in _INFLECTIONS:
        word = pattern.sub(replacement, word, count=1)
    return word
