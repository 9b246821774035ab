"""The article record every corpus format is read into, and the pure helpers that shape it."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from indexer.corpus.teasers import (
    ARTICLE,
    TEASER,
    display_form,
    is_teaser_body,
    is_teaser_text,
    searchable_text,
    strip_teaser_fragment,
)

_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200b\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
TITLE_MAX = 100
# A publisher's name is a name, not a paragraph.
PUBLISHER_MAX = 120


@dataclass(frozen=True)
class Article:
    """One searchable entry: a full article or a truncated teaser."""

    id: str
    title: str
    body: str
    kind: str = ARTICLE
    source: str = ""
    url: str = ""
    description: str = ""
    source_hash: str = ""
    # Who published it and when, as the record says (either may be empty).
    publisher: str = ""
    date: str = ""
    # Section headings shown above body paragraphs, as (paragraph number, heading): stored
    # for the article page, never indexed (MedQuAD's questions head its answers).
    headings: tuple[tuple[int, str], ...] = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def content_hash(self) -> str:
        """A digest of everything indexed about this entry: unchanged hash, nothing to rewrite.
        (Publisher and date count only when the record has them, so the hashes of records
        without them are what they were before either was read.)"""
        h = hashlib.sha1()
        parts = [self.id, self.title, self.body, self.kind, self.url, self.description]
        if self.publisher or self.date:
            parts += [self.publisher, self.date]
        if self.headings:
            parts += [f"{number}:{heading}" for number, heading in self.headings]
        for part in parts:
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x1f")
        return h.hexdigest()

    @property
    def indexed_body(self) -> str:
        """The body as indexed: a teaser's cut-off last fragment is not a word and is left out."""
        return searchable_text(self.body, self.kind)

    @property
    def merge_key(self) -> str:
        """Normalised opening words, to find a teaser that is the start of a full article:
        at most MERGE_KEY_CHARS of them, for teasers and articles alike."""
        text = self.indexed_body if self.kind == TEASER else self.body[:MERGE_KEY_CHARS * 4]
        return opening_key(text)[:MERGE_KEY_CHARS]


# A teaser merges into the article whose opening it is. Keys are cut to this many characters:
# an identical opening of that length names the same article, and every article's key is
# kept in the index and in memory during a build (400 characters were 7% of a 10k index).
MERGE_KEY_CHARS = 160


def subject_key(title: str) -> str:
    """What makes two titles name one subject: the same words, whatever their case, accents,
    punctuation and spacing ("High Blood Pressure", "High blood pressure")."""
    folded = unicodedata.normalize("NFKD", title.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", folded))


def opening_key(text: str) -> str:
    """Lowercased words joined by single spaces: punctuation and spacing do not matter."""
    return " ".join(re.findall(r"\w+", text.lower()))


def normalize_text(text: str) -> str:
    """NFC, no control characters, runs of spaces folded, paragraphs kept as blank lines."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text).replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = []
    for para in _BLANK_LINES.split(text):
        lines = [_SPACES.sub(" ", line).strip() for line in para.split("\n")]
        joined = " ".join(line for line in lines if line)
        if joined:
            paragraphs.append(joined)
    return "\n\n".join(paragraphs)


def derive_title(text: str) -> str:
    """A readable title from an entry's opening words: its first sentence, cut at a word.

    "Renal hamartoma is a relatively common disease. I..." -> "Renal hamartoma is a relatively
    common disease".
    """
    text = strip_teaser_fragment(text) if is_teaser_text(text) else text
    text = text.strip()
    first = _SENTENCE_END.split(text, maxsplit=1)[0].strip()
    if len(first) > TITLE_MAX:
        cut = first[:TITLE_MAX].rsplit(" ", 1)[0]
        first = cut.rstrip(",;:-") + "…"
    return first.rstrip(" .,;:") or "Untitled"


def slugify(text: str, max_words: int = 8) -> str:
    """A URL-safe id part from text: ascii words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())[:max_words]
    return "-".join(words) or "entry"


def make_entry(
    *,
    id: str,
    title: str | None,
    body: str,
    source: str,
    url: str = "",
    description: str = "",
    kind: str | None = None,
    source_hash: str = "",
    publisher: str = "",
    date: str = "",
    sections: list[tuple[str, str]] | None = None,
    extra: dict | None = None,
) -> Article:
    """Build an article record, normalising text, deriving a missing title and detecting teasers.

    A one-paragraph entry ending in an ellipsis is a teaser unless `kind` says otherwise. A
    date is kept as YYYY-MM-DD when it reads as one (ISO 8601), and dropped otherwise. With
    `sections` ((heading, text) pairs), the body is their texts and the headings are kept
    apart, each before the first paragraph of its text (`join_sections`).
    """
    headings: tuple[tuple[int, str], ...] = ()
    if sections:
        body, headings = join_sections(sections)
    body = normalize_text(body)
    if kind is None:
        kind = TEASER if is_teaser_body(body) else ARTICLE
    if kind == TEASER:
        body = display_form(body)
    title = normalize_text(title or "").replace("\n", " ")
    return Article(
        id=id,
        title=title or derive_title(body),
        body=body,
        kind=kind,
        source=source,
        url=url.strip(),
        description=normalize_text(description).replace("\n", " "),
        source_hash=source_hash,
        publisher=" ".join(normalize_text(publisher).split())[:PUBLISHER_MAX],
        date=iso_date(date),
        headings=headings,
        extra=extra or {},
    )


def join_sections(sections: list[tuple[str, str]]) -> tuple[str, tuple[tuple[int, str], ...]]:
    """A body made of (heading, text) sections, and each non-empty heading with the number of
    the body paragraph it heads (paragraphs counted as `normalize_text` keeps them)."""
    texts: list[str] = []
    headings: list[tuple[int, str]] = []
    for heading, text in sections:
        text = normalize_text(text)
        if not text:
            continue
        heading = " ".join(normalize_text(heading).split())[:HEADING_MAX]
        if heading:
            headings.append((sum(t.count("\n\n") + 1 for t in texts), heading))
        texts.append(text)
    return "\n\n".join(texts), tuple(headings)


# A heading is a line, not a paragraph.
HEADING_MAX = 200
_TEMPLATE_PLURAL = re.compile(r"\s*\((?:are|is|s)\)", re.IGNORECASE)
_SPACED_QUESTION = re.compile(r"[\s?]*\?[\s?]*$")


def question_heading(question: str) -> str:
    """A question as a section heading: MedQuAD's template marks dropped ("What is (are)
    Gout ?" reads "What is Gout?")."""
    text = " ".join(_TEMPLATE_PLURAL.sub("", question).split())
    return _SPACED_QUESTION.sub("?", text) if "?" in text else text


def iso_date(text: str) -> str:
    """The calendar date an ISO 8601 date or timestamp names, as YYYY-MM-DD; "" when the
    text is no such date."""
    text = text.strip()
    if not text:
        return ""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        return ""
