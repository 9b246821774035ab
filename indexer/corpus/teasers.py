"""Every rule about truncated teaser entries, in one place.

A teaser is a one-line opening that ends in an ellipsis ("Gastric cancer refers to a
malignant tumor that o..."). It is a real, searchable entry, but its last word, glued to
the ellipsis, was cut off mid-word: a fragment, not a word. So a teaser is

- recognised by its closing ellipsis (`is_teaser_text`, `is_teaser_body`);
- shown with one typographic ellipsis, whatever the source used (`display_form`);
- indexed and embedded without its cut-off fragment (`searchable_text`);
- merged into the full article it opens, when the corpus has that article
  (`teasers_to_merge`).

How much a teaser scores against a full article is a ranking constant
(`indexer.ranking.model.TEASER_FACTOR`); snippets show a teaser whole.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable

# The two kinds of entry.
ARTICLE = "article"
TEASER = "teaser"

ELLIPSIS = re.compile(r"(?:\.\.\.|…)\s*$")
# The word glued to a closing ellipsis is cut off mid-word ("that o...", "work pres...").
TRAILING_FRAGMENT = re.compile(r"(\w+)(?:\.\.\.|…)\s*$", re.UNICODE)
# A teaser merges into an article only when it holds at least this many whole words.
MIN_MERGE_WORDS = 4


def is_teaser_text(text: str) -> bool:
    """True when a one-line entry ends in an ellipsis, the mark of a truncated teaser."""
    return bool(ELLIPSIS.search(text))


def is_teaser_body(body: str) -> bool:
    """True when a normalised body is a teaser: one paragraph ending in an ellipsis."""
    return "\n" not in body and is_teaser_text(body)


def strip_teaser_fragment(text: str) -> str:
    """The part of a teaser that is whole words: the ellipsis and the cut-off word glued to it go.

    "Gastric cancer refers to a malignant tumor that o..." -> "Gastric cancer refers to a
    malignant tumor that". A space before the ellipsis means the last word was whole.
    """
    stripped = TRAILING_FRAGMENT.sub("", text)
    if stripped == text:
        stripped = ELLIPSIS.sub("", text)
    return stripped.rstrip()


def display_form(body: str) -> str:
    """A teaser's body as shown: ending in one typographic ellipsis, whatever the source used."""
    body = ELLIPSIS.sub("…", body)
    return body if body.endswith("…") else body + "…"


def searchable_text(body: str, kind: str) -> str:
    """The text of an entry that is indexed and embedded: a teaser's cut-off last fragment is
    not a word and is left out; an article's body is searched whole."""
    return strip_teaser_fragment(body) if kind == TEASER else body


def teasers_to_merge(
    teasers: Iterable[tuple[str, str]], article_keys: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """Which teasers open a full article: {teaser id: article id}.

    Both arguments are (id, merge key) pairs; a teaser merges when its whole words (at least
    MIN_MERGE_WORDS) are the opening words of an article.
    """
    ordered = sorted((key, aid) for aid, key in article_keys)
    keys = [k for k, _ in ordered]
    merged: dict[str, str] = {}
    for tid, tkey in teasers:
        if len(tkey.split()) < MIN_MERGE_WORDS:
            continue
        i = bisect.bisect_left(keys, tkey)
        if i < len(keys) and keys[i].startswith(tkey):
            merged[tid] = ordered[i][1]
    return merged


def may_merge(merge_key: str) -> bool:
    """True when a teaser's key holds enough words to be merged into an article at all."""
    return len(merge_key.split()) >= MIN_MERGE_WORDS
