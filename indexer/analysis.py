"""Text analysis shared by indexing, querying and snippets: one analyzer, used everywhere."""

from __future__ import annotations

import re
from functools import lru_cache

from whoosh.analysis import (
    Analyzer,
    CharsetFilter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.lang.porter import stem as porter_stem
from whoosh.support.charset import accent_map

# Whoosh's own tokenizer pattern: words, keeping dotted forms like "U.S." together.
TOKEN_PATTERN = re.compile(r"\w+(?:\.?\w+)*", re.UNICODE)

# Whoosh's stop list plus the question and auxiliary words readers wrap around a query
# ("how long does it take ..."); they carry no topic and only add noise to BM25.
STOP_WORDS = frozenset(
    """a an and are as at be by can for from have if in is it may not of on or tbd that the
    this to us we when will with yet you your i me my our they them their he she his her its
    am was were been being has had having do does did doing how what which who whom whose why
    where there here than then so such into about also would could should shall might must
    these those any some very just""".split()
)

ELLIPSIS = re.compile(r"(?:\.\.\.|…)\s*$")
# The word glued to a closing ellipsis is cut off mid-word ("that o...", "work pres...").
TRAILING_FRAGMENT = re.compile(r"(\w+)(?:\.\.\.|…)\s*$", re.UNICODE)


def build_analyzer() -> Analyzer:
    """The analyzer for titles and bodies: tokenise, fold accents, lowercase, drop stop words, stem.

    Stemming is Porter's (as Whoosh's StemmingAnalyzer); accent folding lets "Sjogren" find
    "Sjögren".
    """
    return (
        RegexTokenizer(TOKEN_PATTERN)
        | LowercaseFilter()
        | CharsetFilter(accent_map)
        | StopFilter(stoplist=STOP_WORDS, minsize=2)
        | StemFilter(stemfn=porter_stem, cachesize=100_000)
    )


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


@lru_cache(maxsize=200_000)
def term_for_word(word: str) -> str | None:
    """The index term a single word analyses to, or None for a stop word or a too-short word."""
    tokens = [t.text for t in _ANALYZER(word)]
    return tokens[0] if tokens else None


def analyze(text: str) -> list[str]:
    """The index terms of a text, in order (stop words dropped)."""
    return [t.text for t in _ANALYZER(text)]


def iter_words(text: str):
    """Yield (start, end, term) for each word in the text that survives analysis."""
    for match in TOKEN_PATTERN.finditer(text):
        term = term_for_word(match.group())
        if term is not None:
            yield match.start(), match.end(), term


_ANALYZER = build_analyzer()
