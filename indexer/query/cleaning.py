"""Cleaning what a reader typed, and telling search syntax from a plain question. Pure."""

from __future__ import annotations

import re
import unicodedata

from indexer.storage.schema import QUERY_FIELDS

MAX_QUERY_CHARS = 500

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_SYNTAX = re.compile(
    r'"|(?:^|\s)[-+]\w|\b(?:AND|OR|NOT)\b|\b(?:' + "|".join(QUERY_FIELDS) + r"):\S"
)
# A word or phrase the reader leaves out: -word, -"a phrase", NOT word.
EXCLUSION = re.compile(r'(?:^|\s)-(?:"[^"]*"?|\S+)|\bNOT\s+(?:"[^"]*"?|\S+)')
# Quoted phrases are meant exactly: they get no synonym expansion.
QUOTED = re.compile(r'"[^"]*"?')
_OPERATOR = re.compile(r"\b(?:AND|OR|NOT)\b")
# Characters Whoosh would read as wildcards, fuzziness or boosts: punctuation in a question.
NOT_SYNTAX = re.compile(r"[?*~^{}\[\]<>=]")
# An operator character where a word starts: after a space or an opening parenthesis (or
# first), with a word after it.
WORD_START = r"(?:(?<=[\s(])|^){}(?=[^\s)])"


def clean_query_text(text: str) -> str:
    """Normalise what was typed: NFC, control characters gone, spaces folded, length capped."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]
    return text


def uses_syntax(text: str) -> bool:
    """True when the reader typed search syntax: quotes, AND/OR/NOT, -word, title:word."""
    return bool(_SYNTAX.search(words_not_operators(text)))


def words_not_operators(text: str) -> str:
    """The text with AND, OR and NOT made words when it has no lower-case letter."""
    # A question typed in capitals ("CAN LIPNODES AND OR LIVER CANCER BE DETECTED") means its
    # AND and OR as words: operators need lower-case words around them.
    if any(c.islower() for c in text):
        return text
    return _OPERATOR.sub(lambda m: m.group().lower(), text)


def balance(text: str) -> str:
    """The text with an unpaired last quote dropped and parentheses balanced."""
    if text.count('"') % 2:
        i = text.rfind('"')
        text = text[:i] + " " + text[i + 1:]
    out, depth = [], 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                continue
            depth -= 1
        out.append(ch)
    return "".join(out) + ")" * depth
