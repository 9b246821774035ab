"""An article page's structure from its highlighted paragraphs: section headings, lists as
lists, and long paragraphs in chunks of a few sentences for reading. Pure: HTML in, blocks
out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

HEADING = "heading"
SUBHEADING = "subheading"
PARAGRAPH = "paragraph"
LIST = "list"
# A long paragraph is shown in chunks of a few sentences, for reading.
CHUNK_CHARS = 600
# Sentence ends in highlighted HTML: the snippets module only ever wraps single words in
# tags, so whitespace after a full stop is never inside a tag.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“‘(<])")
# A list item's marker: "- " or "• " opening the paragraph or after a space (MedQuAD's lists
# are runs of "    - item" that the corpus reader folds into one paragraph).
_ITEM_MARK = re.compile(r"(?:^|\s)[-•]\s+(?=\S)")
# Text before the first marker that is a list's lead-in rather than prose with a dash in it:
# a line ending in a colon, or a short label such as "Key Points" before capitalised items.
LEAD_MAX_CHARS = 80
MIN_ITEMS = 2
# A paragraph that is a short capitalised line without end punctuation, followed by more
# text, is the source's own heading ("Measuring Blood Pressure"): MedQuAD keeps those as
# lines of their own.
SUBHEADING_MAX_WORDS = 8
_ENDS_PHRASE = re.compile(r"[.!?:;,…)\]\"”’'-]$")


@dataclass(frozen=True)
class Block:
    """One block of an article page: a heading or a sub-heading (`html` is its text), a
    paragraph (`html`), or a list (`html` is the lead-in, maybe empty; `items` the
    entries)."""

    kind: str
    html: str
    items: tuple[str, ...] = ()


def article_blocks(paragraphs_html: list[str],
                   headings: list[tuple[int, str]] | tuple = ()) -> list[Block]:
    """The page's blocks: each heading before the paragraph it heads, each paragraph as a
    list when it reads as one, else in chunks of about CHUNK_CHARS."""
    heading_at: dict[int, list[str]] = {}
    for number, text in headings:
        heading_at.setdefault(int(number), []).append(str(text))
    blocks: list[Block] = []
    for number, html in enumerate(paragraphs_html):
        blocks.extend(Block(HEADING, escape(text, quote=False))
                      for text in heading_at.get(number, ()))
        listed = as_list(html)
        if listed is not None:
            blocks.append(listed)
        elif number + 1 < len(paragraphs_html) and is_subheading(html):
            blocks.append(Block(SUBHEADING, html))
        else:
            blocks.extend(Block(PARAGRAPH, chunk) for chunk in chunks(html))
    return blocks


def is_subheading(html: str) -> bool:
    """A short capitalised line that does not end as a sentence or a phrase does."""
    text = _visible(html).strip()
    words = text.split()
    return (0 < len(words) <= SUBHEADING_MAX_WORDS and text[:1].isupper()
            and not _ENDS_PHRASE.search(text) and not text.isupper())


def as_list(html: str) -> Block | None:
    """A paragraph as a list block when it opens with an item marker, or has at least
    MIN_ITEMS of them after a lead-in (`LEAD_MAX_CHARS`, or a colon); None for prose."""
    marks = list(_ITEM_MARK.finditer(html))
    if not marks:
        return None
    lead = html[:marks[0].start()].strip()
    ends = [m.start() for m in marks[1:]] + [len(html)]
    items = tuple(item for item in (html[m.end():end].strip()
                                    for m, end in zip(marks, ends, strict=True)) if item)
    # Prose with dashes ("Type 2 diabetes - the most common form - is ...") goes on in
    # lower case; a label's items start as sentences do.
    labelled = len(_visible(lead)) <= LEAD_MAX_CHARS and all(
        _visible(item)[:1].isupper() or _visible(item)[:1].isdigit() for item in items)
    if lead and not (len(items) >= MIN_ITEMS and (lead.endswith(":") or labelled)):
        return None
    return Block(LIST, lead, items)


def chunks(html: str) -> list[str]:
    """A paragraph's HTML cut at sentence ends into pieces of about CHUNK_CHARS."""
    out: list[str] = []
    chunk = ""
    for sentence in _SENTENCE_END.split(html):
        if chunk and len(chunk) + len(sentence) > CHUNK_CHARS:
            out.append(chunk)
            chunk = ""
        chunk = f"{chunk} {sentence}" if chunk else sentence
    if chunk:
        out.append(chunk)
    return out


_TAG = re.compile(r"<[^>]*>")


def _visible(html: str) -> str:
    return _TAG.sub("", html)
