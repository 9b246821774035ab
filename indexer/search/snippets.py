"""Snippets and highlighting: pure functions from text and weighted query terms to safe HTML.

Words are matched by their index term, so every form the query matched (tendon, tendons;
cramp, cramping; an expansion's medical word) is marked. All text is HTML-escaped.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from indexer.text.analysis import (
    CLITIC_SUFFIX,
    TOKEN_PATTERN,
    inflection_key,
    iter_words,
    term_for_word,
)

# A term's allowed word forms (inflection keys; `inflection_key`).
Forms = Mapping[str, frozenset[str]] | None
# term -> the tooltip of its marks ("kidney → renal": why a word the reader did not type is
# marked).
Notes = Mapping[str, str] | None
# On an article page, the occurrences of each word marked (the first ones).
ARTICLE_MARKS_PER_TERM = 3
MAX_CHARS = 300
MIN_CHARS = 160
MAX_FRAGMENTS = 3
OPENING_CHARS = 220
SEPARATOR = " … "

_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n+")
# The same boundaries, matched from the punctuation: a pattern that starts with a character
# class lets the regex engine skip ahead, half again as fast on long articles.
_BOUNDARY_FROM_STOP = re.compile(r"[.!?]\s+|\n+")


@dataclass(frozen=True)
class Span:
    """A stretch of the text [start, end) and the terms matched in it."""

    start: int
    end: int
    marks: tuple[tuple[int, int, str], ...]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or paragraph line, surrounding spaces excluded."""
    spans = []
    pos = 0
    for match in _BOUNDARY.finditer(text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    return [(s, e) for s, e in spans if e > s and text[s:e].strip()]


def _boundaries(text: str) -> tuple[list[int], list[int]]:
    """Where each sentence boundary starts (just after its punctuation) and ends (where the
    next sentence starts), listed at C speed."""
    starts, ends = [], []
    for match in _BOUNDARY_FROM_STOP.finditer(text):
        start = match.start()
        starts.append(start if text[start] == "\n" else start + 1)
        ends.append(match.end())
    return starts, ends


def _sentences_with_marks(text: str, marks: list[tuple[int, int, str]],
                          bounds: tuple[list[int], list[int]] | None = None) -> list[Span]:
    """The sentences (as `sentence_spans` cuts them) that hold marks, with their marks.

    Only the boundaries are listed (`bounds`, from `_boundaries`); sentences are cut out only
    where marks are, so a long article costs little more than a short one.
    """
    starts, ends = bounds or _boundaries(text)
    spans: list[Span] = []
    current: list[tuple[int, int, str]] = []
    index = -1
    for mark in marks:
        i = bisect_right(ends, mark[0])  # boundaries wholly before the mark
        if i != index and current:
            spans.append(_sentence(text, starts, ends, index, current))
            current = []
        index = i
        current.append(mark)
    if current:
        spans.append(_sentence(text, starts, ends, index, current))
    return spans


def _sentence(text: str, starts: list[int], ends: list[int], i: int,
              marks: list[tuple[int, int, str]]) -> Span:
    start = ends[i - 1] if i > 0 else 0
    end = starts[i] if i < len(starts) else len(text)
    return Span(start, end, tuple(marks))


def _marks(text: str, terms: dict[str, float], forms: Forms = None
           ) -> list[tuple[int, int, str]]:
    """(start, end, term) of each word of the text that analyses to one of the terms (and,
    for a term of `forms`, is an inflection of one of the words given for it)."""
    if not terms:
        return []
    if forms:
        return [m for m in _marks(text, terms)
                if m[2] not in forms or inflection_key(text[m[0]:m[1]]) in forms[m[2]]]
    if text.isascii():
        # Scan only words that start like a term (a C-speed regex), then confirm each by
        # analysing it: long articles are mostly words no query asked for.
        out = []
        pattern = _prefix_pattern(frozenset(terms))
        # Lower-cased once (same length: ASCII), the scan needs no case-insensitive matching,
        # which costs the regex engine a quarter of its speed.
        lowered = text.lower()
        pos = 0
        while match := pattern.search(lowered, pos):
            start = match.start()
            if start and text[start - 1] in ".'’" and not _starts_token(text, start):
                # The "s" of "tendon's" or the "g" of "e.g." belongs to the word before it;
                # a word may still start inside what this match spans ("allergy's's").
                pos = start + 1
                continue
            term = term_for_word(match.group())
            if term in terms:
                out.append((start, match.end(), term))
            pos = match.end()
        return out
    return [(s, e, t) for s, e, t in iter_words(text) if t in terms]


def _starts_token(text: str, start: int) -> bool:
    """True when the analyzer's tokenizer starts a word at `start` (after a dot or an
    apostrophe it may instead have glued the letters to the word before)."""
    # No token spans a character outside words, dots and apostrophes: tokenising from the
    # start of this run gives the same tokens as tokenising the whole text.
    i = start
    while i and (text[i - 1].isalnum() or text[i - 1] in "_.'’"):
        i -= 1
    for match in TOKEN_PATTERN.finditer(text, i):
        if match.end() > start:
            return match.start() == start
    return False


@lru_cache(maxsize=1024)
def _prefix_pattern(terms: frozenset[str]) -> re.Pattern:
    # Porter stems are prefixes of their words but for a final y -> i ("allergi"), so one
    # letter is dropped from longer stems.
    # Matched against lower-cased text.
    prefixes = sorted({(t[:-1] if len(t) > 3 else t).lower() for t in terms}, key=len,
                      reverse=True)
    alternatives = "|".join(re.escape(p) for p in prefixes)
    return re.compile(r"(?<!\w)(?:" + alternatives + r")\w*(?:\.?\w+)*" + CLITIC_SUFFIX)


def make_snippet(
    text: str,
    terms: dict[str, float],
    *,
    teaser: bool = False,
    max_chars: int = MAX_CHARS,
    forms: Forms = None,
    avoid: frozenset[str] = frozenset(),
    notes: Notes = None,
) -> str:
    """An HTML snippet of one to three sentence fragments around the most informative matches.

    `terms` maps index terms to weights (rarer and the reader's own words weigh more). Each
    sentence is scored by the weights of the terms it adds that earlier picks did not cover,
    a term repeated all over the article counting less than one that appears once, so the
    snippet shows why the article matched. With no match in the text (a title-only hit) the
    opening is shown; a teaser is shown whole. `forms` limits the words marked for a term
    to inflections of the reader's own word ("effects" marks "effect", not "effective").
    `notes` gives a mark its tooltip (a medical word a lay word was searched as: "kidney →
    renal"). `avoid` holds what snippets shown above said (`fragment_keys`): sentences
    holding one of those fragments are passed over when others match, so pages that share a
    passage show different ones.
    """
    if teaser:
        return highlight(text, terms, forms=forms, notes=notes)
    marks = _marks(text, terms, forms)
    if not marks:
        return _escape_plain(_opening(text))
    in_doc: dict[str, int] = {}
    for _, _, term in marks:
        in_doc[term] = in_doc.get(term, 0) + 1
    value = {t: terms[t] / (1.0 + math.log(n)) for t, n in in_doc.items()}

    bounds = _boundaries(text)
    spans = _sentences_with_marks(text, marks, bounds)
    if avoid:
        keys = [words_key(text[s.start:s.end]) for s in spans]  # once per sentence
        fresh = [s for s, key in zip(spans, keys, strict=True)
                 if not any(shown in key for shown in avoid)]
        spans = fresh or spans

    chosen: list[Span] = []
    covered: set[str] = set()
    used = 0
    while spans and len(chosen) < MAX_FRAGMENTS and used < MIN_CHARS:
        def gain(span: Span, covered: set[str] = covered) -> float:
            new = {t for _, _, t in span.marks} - covered
            # fsum: a set's order changes with the process's hash seed, and a float sum
            # in another order can break a tie the other way in another server process.
            return math.fsum(value[t] for t in new) + 0.01 * len(span.marks)

        best = max(spans, key=lambda s: (gain(s), -s.start))
        if chosen and not ({t for _, _, t in best.marks} - covered):
            break
        budget = max_chars - used - (len(SEPARATOR) if chosen else 0)
        if budget < 60:
            break
        best = _trim(text, best, budget)
        chosen.append(best)
        covered |= {t for _, _, t in best.marks}
        used += best.end - best.start + (len(SEPARATOR) if len(chosen) > 1 else 0)
        spans = [s for s in spans if s.end <= best.start or s.start >= best.end]

    if chosen and used < MIN_CHARS:
        chosen = _widen(text, chosen, marks, bounds, MIN_CHARS - used, max_chars - used)
    chosen.sort(key=lambda s: s.start)
    parts = []
    for span in chosen:
        html = _render(text, span, notes=notes)
        if span.start > 0 and not _starts_sentence(text, span.start):
            html = "…" + html
        if span.end < len(text) and not _ends_sentence(text, span.end):
            html += "…"
        parts.append(html)
    return " ".join(parts) if len(parts) == 1 else SEPARATOR.join(parts)


_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"\w+")


def words_key(text_or_html: str) -> str:
    """What a text or snippet says: its words, case-folded, without marks, tags or ellipses."""
    return " ".join(_WORD.findall(_TAG.sub(" ", text_or_html).casefold()))


def fragment_keys(snippet_html: str) -> frozenset[str]:
    """What each fragment of a snippet says (`words_key`), for `make_snippet(avoid=...)`."""
    parts = snippet_html.split("…")  # fragments are cut, and joined, by ellipses
    return frozenset(k for k in map(words_key, parts) if len(k) >= MIN_FRAGMENT_KEY)


# A fragment shorter than this (in characters of words) says too little to count as shared.
MIN_FRAGMENT_KEY = 20


def _widen(text: str, chosen: list[Span], marks: list[tuple[int, int, str]],
           bounds: tuple[list[int], list[int]], wanted: int, room: int) -> list[Span]:
    """Grow fragments by the sentences around them, within their paragraph, until `wanted`
    more characters are shown (at most `room`): one short sentence alone says little of the
    article. The best fragment grows first, forward before backward; a sentence too long
    for the room left is cut at a word."""
    spans = list(chosen)
    grew = True
    while wanted > 0 and grew:
        grew = False
        for k, span in enumerate(spans):
            for start, end in (_forward(text, span, bounds, room),
                               _backward(text, span, bounds, room)):
                added = (span.start - start) + (end - span.end)
                if added <= 0 or any(start <= other.end and end >= other.start
                                     for j, other in enumerate(spans) if j != k):
                    continue
                span = spans[k] = Span(start, end, tuple(
                    m for m in marks if m[0] >= start and m[1] <= end))
                wanted -= added
                room -= added
                grew = True
                break
            if wanted <= 0:
                break
    return spans


def _forward(text: str, span: Span, bounds: tuple[list[int], list[int]], room: int
             ) -> tuple[int, int]:
    """The span reaching to the end of the sentence after it (or of its own, if it stops
    inside one); the span itself when a paragraph ends there or nothing fits."""
    starts, ends = bounds
    i = bisect_left(starts, span.end)
    if i < len(starts) and starts[i] == span.end:
        if "\n" in text[starts[i]:ends[i]]:
            return span.start, span.end
        begin, stop = ends[i], (starts[i + 1] if i + 1 < len(starts) else len(text))
    else:
        begin, stop = span.end, (starts[i] if i < len(starts) else len(text))
    if stop - span.end > room:
        stop = text.rfind(" ", begin, span.end + room + 1)
        if stop <= begin:
            return span.start, span.end
    return span.start, stop


def _backward(text: str, span: Span, bounds: tuple[list[int], list[int]], room: int
              ) -> tuple[int, int]:
    """The span reaching back to the start of the sentence before it (or of its own); the
    span itself when a paragraph starts there or nothing fits."""
    starts, ends = bounds
    i = bisect_right(ends, span.start) - 1
    if i >= 0 and ends[i] == span.start:
        if "\n" in text[starts[i]:ends[i]]:
            return span.start, span.end
        begin, stop = (ends[i - 1] if i > 0 else 0), starts[i]
    else:
        begin, stop = (ends[i] if i >= 0 else 0), span.start
    if span.start - begin > room:
        space = text.find(" ", span.start - room, stop)
        if space < 0 or space + 1 >= stop:
            return span.start, span.end
        begin = space + 1
    return begin, span.end


def highlight(text: str, terms: dict[str, float], *, forms: Forms = None,
              notes: Notes = None) -> str:
    """The whole text, escaped, with every matched word in <mark>."""
    return _render(text, Span(0, len(text), tuple(_marks(text, terms, forms))), notes=notes)


def highlight_paragraphs(text: str, terms: dict[str, float], *, forms: Forms = None,
                         per_term: int = ARTICLE_MARKS_PER_TERM,
                         notes: Notes = None) -> list[str]:
    """The text's paragraphs, each escaped, with the first `per_term` occurrences of each
    term marked, each after an anchor numbered in reading order (id="match-1", "match-2",
    ..., so a reader can step from one to the next): for the full-article page, where
    marking every occurrence would mark dozens of words a screen."""
    seen: dict[str, int] = {}
    number = 0
    out = []
    for paragraph in (p for p in text.split("\n\n") if p.strip()):
        kept = []
        for mark in _marks(paragraph, terms, forms):
            seen[mark[2]] = seen.get(mark[2], 0) + 1
            if seen[mark[2]] <= per_term:
                kept.append(mark)
        numbers = list(range(number + 1, number + 1 + len(kept)))
        number += len(kept)
        out.append(_render(paragraph, Span(0, len(paragraph), tuple(kept)), numbers,
                           notes=notes))
    return out


def _render(text: str, span: Span, numbers: list[int] | None = None,
            notes: Notes = None) -> str:
    out = []
    pos = span.start
    count = 0
    for start, end, term in span.marks:
        if start < pos or end > span.end:
            continue
        out.append(escape(text[pos:start]))
        if numbers is not None:  # an anchor to step to, before the mark
            out.append(f'<span class="match" id="match-{numbers[count]}"></span>')
        count += 1
        note = notes.get(term) if notes else None
        opening = f'<mark title="{escape(note, quote=True)}">' if note else "<mark>"
        out.append(f"{opening}{escape(text[start:end])}</mark>")
        pos = end
    out.append(escape(text[pos:span.end]))
    return "".join(out)


def _trim(text: str, span: Span, budget: int) -> Span:
    """Cut a long sentence down to the budget, keeping its densest run of matches."""
    if span.end - span.start <= budget:
        return span
    # Sliding window over the marks (in text order): the start whose window holds most.
    marks = span.marks
    best_start, best_count = marks[0][0], 0
    right = 0
    for left, (s_left, _, _) in enumerate(marks):
        right = max(right, left)
        while right < len(marks) and marks[right][1] <= s_left + budget:
            right += 1
        if right - left > best_count:
            best_start, best_count = s_left, right - left
    start = max(span.start, best_start - budget // 4)
    if start > span.start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < best_start else start
    end = min(span.end, start + budget)
    if end < span.end:
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    marks = tuple(m for m in span.marks if m[0] >= start and m[1] <= end)
    return Span(start, end, marks)


def _starts_sentence(text: str, pos: int) -> bool:
    if pos and text[pos - 1] == "\n":
        return True
    i = pos
    while i and text[i - 1].isspace():
        i -= 1
    return i == 0 or text[i - 1] in ".!?"


def _ends_sentence(text: str, pos: int) -> bool:
    return text[pos - 1] in ".!?" or text[pos:pos + 1] == "\n"


def _opening(text: str) -> str:
    if len(text) <= OPENING_CHARS:
        return text
    cut = text[:OPENING_CHARS]
    stop = max(cut.rfind(". "), cut.rfind("\n"))
    if stop >= MIN_CHARS // 2:
        return cut[:stop + 1].strip()
    return cut.rsplit(" ", 1)[0] + "…"


def _escape_plain(text: str) -> str:
    return escape(text).replace("\n", " ")
