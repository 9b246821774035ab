"""Cleaning what a reader typed, and telling search syntax from a plain question. Pure."""

from __future__ import annotations

import re
import unicodedata

from indexer.storage.schema import QUERY_FIELDS

MAX_QUERY_CHARS = 500

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
# Search syntax other than quotes: +word, -word, AND, OR, NOT, title:word.
_OPERATORS = re.compile(
    r'(?:^|\s)[-+]["\w]|\b(?:AND|OR|NOT)\b|\b(?:' + "|".join(QUERY_FIELDS) + r"):\S"
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


# Words a question or a request starts with ("can I take ...", "what does ... mean").
QUESTION_WORDS = frozenset("""what whats how why when where which who whom whose is are was
    were am can could does do did should would will may might must has have had shall i my
    please tell any""".split())
# More words than this outside the quotes make a sentence, not a list of keywords: "EPA
# dioxin limit has National Chicken Council worried products could be declared "unfit"".
MAX_KEYWORDS_BESIDE_QUOTES = 4
_WORDS = re.compile(r"\w+(?:['’]\w+)?")


def uses_syntax(text: str) -> bool:
    """True when the reader typed search syntax: AND/OR/NOT, +word, -word, title:word, or
    quotes in a query that does not read as a question (`quotes_are_syntax`)."""
    text = words_not_operators(text)
    return bool(_OPERATORS.search(text)) or ('"' in text and quotes_are_syntax(text))


def quotes_are_syntax(text: str) -> bool:
    """True when the quotes of a query without other operators ask for an exact phrase.

    Quotes typed inside a natural question are punctuation, as a reader means them: "can I
    take "fluoxetine" with food?" and "what does "PRN" mean" are questions whose every word is
    optional (and expanded, like any other word), never a required phrase. A query reads as a
    question when it has a question mark outside its quotes, when its first word is a
    question word (QUESTION_WORDS: what, how, can, is, does, should, ...), or when it has more
    than MAX_KEYWORDS_BESIDE_QUOTES words outside its quotes (a sentence). Otherwise, as in
    `"heart attack" symptoms` or `"Crab" lice`, the quoted words are a phrase every result
    has. With other search syntax (AND, OR, NOT, +word, -word, title:word) quotes are always
    a phrase: the reader writes search syntax.
    """
    outside = QUOTED.sub(" ", text)
    if "?" in outside:
        return False
    words = _WORDS.findall(outside)
    first = _WORDS.search(text)
    if first is not None and first.group().lower() in QUESTION_WORDS:
        return False
    return len(words) <= MAX_KEYWORDS_BESIDE_QUOTES


_REQUIRING = re.compile(r'"|\bAND\b|' + WORD_START.format(r"\+") + r"|\b(?:"
                        + "|".join(QUERY_FIELDS) + r"):(?=\S)")


def loosened_text(text: str) -> str | None:
    """A looser reading of a query's search syntax, for when it finds nothing: its phrases
    as loose words, AND as a space, +word as word, title:word as word, so that any of its
    words may match; words it excludes (-word, NOT word) stay excluded. None when nothing in
    it requires anything."""
    text = words_not_operators(text)
    parts, last = [], 0
    for m in EXCLUSION.finditer(text):
        parts.append(_REQUIRING.sub(" ", text[last:m.start()]))
        parts.append(m.group())
        last = m.end()
    parts.append(_REQUIRING.sub(" ", text[last:]))
    looser = " ".join("".join(parts).split())
    return looser if looser != " ".join(text.split()) and looser.strip() else None


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
