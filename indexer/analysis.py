"""Text analysis shared by indexing, querying and snippets: one analyzer, used everywhere."""

from __future__ import annotations

import re
from functools import lru_cache

from whoosh.analysis import Analyzer, Token
from whoosh.lang.porter import stem as porter_stem
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

ELLIPSIS = re.compile(r"(?:\.\.\.|…)\s*$")
# The word glued to a closing ellipsis is cut off mid-word ("that o...", "work pres...").
TRAILING_FRAGMENT = re.compile(r"(\w+)(?:\.\.\.|…)\s*$", re.UNICODE)


# One character is a word: "type 2", "vitamin D", "protein S", "fragile X".
MIN_TOKEN = 1
MAX_TOKEN = 64


@lru_cache(maxsize=500_000)
def _normal(word: str) -> tuple[str, str] | None:
    """(folded word, stem) for a raw token, or None when it is a stop word or too short/long."""
    folded = word.lower()
    if "'" in folded or "’" in folded:
        folded = _CLITIC.sub("", folded)
    if not folded.isascii():
        folded = folded.translate(accent_map)
    if len(folded) < MIN_TOKEN or len(folded) > MAX_TOKEN or folded in STOP_WORDS:
        return None
    return folded, porter_stem(folded)


class HealthAnalyzer(Analyzer):
    """Tokenise, lowercase, fold accents, drop stop words, stem (Porter), in one pass.

    It produces exactly what Whoosh's RegexTokenizer | LowercaseFilter | CharsetFilter |
    StopFilter | StemFilter chain would, but without five layers of generators per token:
    analysis was half of indexing time. Accent folding lets "Sjogren" find "Sjögren".
    """

    is_morph = True

    def has_morph(self) -> bool:
        """Stemming changes word forms, so Whoosh keeps unstemmed words for spelling."""
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HealthAnalyzer)

    def __hash__(self) -> int:
        return hash(HealthAnalyzer)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 no_morph=False, nomorph=False, **kwargs):
        """Yield Whoosh tokens for `value` (one reused Token object, as Whoosh expects)."""
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        morph = not (no_morph or nomorph)
        if not tokenize:
            token.original = token.text = value
            token.boost, token.stopped = 1.0, False
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        pos = start_pos
        for match in TOKEN_PATTERN.finditer(value):
            word = match.group()
            normal = _normal(word)
            if normal is None:
                if removestops:
                    continue
                token.text, token.stopped = word.lower(), True
            else:
                token.text, token.stopped = (normal[1] if morph else normal[0]), False
            token.boost = 1.0
            if keeporiginal:
                token.original = word
            if positions:
                token.pos = pos
            pos += 1
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token


def build_analyzer() -> Analyzer:
    """The analyzer for titles and bodies, at index and at query time."""
    return HealthAnalyzer()


def is_teaser_text(text: str) -> bool:
    """True when a one-line entry ends in an ellipsis, the mark of a truncated teaser."""
    return bool(ELLIPSIS.search(text))


def strip_teaser_fragment(text: str) -> str:
    """The part of a teaser that is whole words: the ellipsis and the cut-off word glued to it go.

    "Gastric cancer refers to a malignant tumor that o..." -> "Gastric cancer refers to a
    malignant tumor that". A space before the ellipsis means the last word was whole.
    """
    stripped = TRAILING_FRAGMENT.sub("", text)
    if stripped == text:
        stripped = ELLIPSIS.sub("", text)
    return stripped.rstrip()


def term_for_word(word: str) -> str | None:
    """The index term a single word analyses to, or None for a stop word or a too-short word."""
    normal = _normal(word)
    return normal[1] if normal else None


def analyze(text: str) -> list[str]:
    """The index terms of a text, in order (stop words dropped): what the analyzer gives,
    without a token object per word."""
    out = []
    for word in TOKEN_PATTERN.findall(text):
        normal = _normal(word)
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
        normal = _normal(word)
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


