"""Pure parsers, one per corpus format: bytes or lines in, article records out, no index needed.

Each parser raises `FormatError` for input it cannot use; per-record problems in multi-record
files are returned as `RecordError`s so the good records of the same file still count.
"""

from __future__ import annotations

import codecs
import json
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from bs4 import (
    BeautifulSoup,
    CData,
    Comment,
    Doctype,
    NavigableString,
    ProcessingInstruction,
    Tag,
    UnicodeDammit,
    XMLParsedAsHTMLWarning,
)
from lxml import etree

from indexer.corpus.article import (
    Article,
    make_entry,
    normalize_text,
    question_heading,
    slugify,
)
from indexer.corpus.teasers import ARTICLE, TEASER, is_teaser_text

QUESTION_PREFIX = ">>:"
NOT_TEXT = (Comment, Doctype, ProcessingInstruction)
# Elements that hold page furniture, not article text.
NON_CONTENT = (
    "script", "style", "nav", "header", "footer", "aside", "form", "noscript",
    "template", "iframe", "svg", "button", "select", "object", "embed", "canvas",
)
BLOCKS = (
    "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "br", "tr", "table",
    "blockquote", "pre", "dd", "dt", "dl", "section", "article", "main", "figure",
    "figcaption", "hr", "td", "th",
)


# Where a record names its publisher and its date: JSON Lines keys and MedQuAD-style XML
# attributes, first found wins ("source" is MedQuAD's publisher code), and HTML meta tags.
RECORD_PUBLISHER_KEYS = ("publisher", "source")
RECORD_DATE_KEYS = ("date", "updated", "modified", "last_reviewed", "published")
PUBLISHER_META = ("publisher", "dcterms.publisher", "DC.publisher")
DATE_PROPERTIES = ("article:modified_time", "article:published_time")
DATE_META = ("dcterms.modified", "dcterms.date", "DC.date", "date", "citation_publication_date")


class FormatError(ValueError):
    """The input cannot be read as its format: the reason is the message."""


@dataclass(frozen=True)
class RecordError:
    """One bad record inside an otherwise readable multi-record file."""

    where: str
    reason: str


@dataclass(frozen=True)
class Digest:
    """What a digest text file holds: entries to index and sample reader questions (not indexed)."""

    entries: list[Article]
    questions: list[str]


_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode_bytes(data: bytes, *, is_html: bool = False) -> str:
    """Text from bytes of unknown encoding: a BOM or a declared charset first, then UTF-8,
    then detection (UnicodeDammit), with Windows-1252 as the last resort."""
    # A byte-order mark decides. (UnicodeDammit strips it but still tries UTF-8 first, and
    # UTF-16 text of ASCII letters is valid UTF-8 full of NULs.)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding, errors="replace")
    dammit = UnicodeDammit(data, ["utf-8"], is_html=is_html)
    if dammit.unicode_markup is not None and not dammit.contains_replacement_characters:
        return dammit.unicode_markup
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("windows-1252", errors="replace")


def valid_text(text: str) -> str:
    """Text that can be written as UTF-8: lone surrogates (JSON's "\\ud800", or a file name in
    an unknown encoding) become U+FFFD instead of failing the whole index write later."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def safe_url(url: str) -> str:
    """The source link of an entry, kept only when it is an absolute http(s) URL: the site shows
    it as a link, so a "javascript:" or "data:" URL from the corpus must not get through."""
    url = url.strip()
    try:
        scheme, netloc = urlsplit(url)[:2]
    except ValueError:
        return ""
    return url if scheme.lower() in ("http", "https") and netloc else ""


# What text in any language holds next to none of: control characters, code points no
# character is assigned to or kept for private use, halves of surrogate pairs, and the
# replacement character a decoder leaves for bytes that are not text.
_NOT_TEXT = {"Cc", "Cn", "Co", "Cs"}
_TEXT_CONTROLS = "\t\n\r\f\v"
# Random bytes read as UTF-16 give about a quarter of such characters; text, none.
MAX_NOT_TEXT_SHARE = 0.05


def looks_binary(data: bytes) -> bool:
    """NUL bytes or mostly non-text bytes mark a binary file; after a byte-order mark (UTF-8,
    16 or 32 text, where NULs are expected) the decoded text is checked instead: a BOM in
    front of random bytes does not make them text."""
    head = data[:8192]
    if any(head.startswith(bom) for bom, _ in _BOMS):
        # The head may end inside a character: the decoder replaces that one, no more.
        text = decode_bytes(head)
        odd = sum(1 for ch in text if ch == "\ufffd" or (
            ch not in _TEXT_CONTROLS and unicodedata.category(ch) in _NOT_TEXT))
        return bool(text) and odd / len(text) > MAX_NOT_TEXT_SHARE
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return bool(head) and controls / len(head) > 0.1


# -- HTML ------------------------------------------------------------------------------------


def parse_html(data: bytes, *, id: str, source: str, source_hash: str = "") -> Article:
    """An article from an HTML page: title from h1, og:title or <title>; body from the main
    content without page furniture, paragraphs kept; encoding detected when not UTF-8."""
    if looks_binary(data):
        raise FormatError("binary content, not HTML")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(decode_bytes(data, is_html=True), "lxml")
    description = _meta(soup, name="description") or _meta(soup, prop="og:description")
    url = _meta(soup, prop="og:url") or _link(soup, "canonical")
    publisher = next((v for v in (_meta(soup, name=n) for n in PUBLISHER_META) if v), "") \
        or _meta(soup, prop="og:site_name")
    date = next((v for v in (_meta(soup, prop=p) for p in DATE_PROPERTIES) if v), "") \
        or next((v for v in (_meta(soup, name=n) for n in DATE_META) if v), "")
    h1 = soup.find("h1")
    title = h1.get_text(" ", strip=True) if h1 else ""
    title = title or _meta(soup, prop="og:title")
    if not title and soup.title:
        title = soup.title.get_text(" ", strip=True)
    for node in soup.find_all(string=lambda s: isinstance(s, NOT_TEXT)):
        node.extract()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    for tag in root.find_all(NON_CONTENT):
        if not tag.decomposed:  # not already gone with a NON_CONTENT tag around it
            tag.decompose()
    if h1 is not None and h1.parent is not None:
        h1.decompose()
    body = _text_with_breaks(root)
    entry = make_entry(
        id=id, title=title, body=body, source=source, url=safe_url(url),
        description=description,
        kind=ARTICLE, source_hash=source_hash, publisher=publisher, date=date,
    )
    if not entry.body.strip():
        raise FormatError("no article text (only markup, scripts or styles)")
    return entry


def _text_with_breaks(root: Tag) -> str:
    """The text of a tree with a paragraph break around each block element.

    One pass with an explicit stack: no recursion, and no tree edits (inserting strings beside
    each block costs time in proportion to the depth, quadratic on deeply nested pages).
    """
    types = getattr(root, "interesting_string_types", None) or (NavigableString, CData)
    parts: list[str] = []
    stack = [(root, iter(root.contents))]
    while stack:
        tag, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if tag.name in BLOCKS:
                parts.append("\n\n")
        elif isinstance(child, Tag):
            if child.name in BLOCKS:
                parts.append("\n\n")
            stack.append((child, iter(child.contents)))
        elif isinstance(child, NavigableString) and (
                type(child) is types if isinstance(types, type) else type(child) in types):
            parts.append(str(child))
    return "".join(parts)


def _meta(soup: BeautifulSoup, *, name: str | None = None, prop: str | None = None) -> str:
    tag = soup.find("meta", attrs={"name": name} if name else {"property": prop})
    content = tag.get("content") if tag else None
    return content.strip() if isinstance(content, str) else ""


def _first_text(record: dict, keys: tuple[str, ...]) -> str:
    """The first of `keys` whose value in a record is text."""
    return next((v for k in keys if isinstance(v := record.get(k), str) and v.strip()), "")


def _link(soup: BeautifulSoup, rel: str) -> str:
    tag = soup.find("link", rel=rel)
    href = tag.get("href") if tag else None
    return href.strip() if isinstance(href, str) else ""


# -- JSON Lines ------------------------------------------------------------------------------


def parse_jsonl(
    lines: Iterable[str], *, source: str, source_hash: str = ""
) -> Iterator[Article | RecordError]:
    """Records from JSON Lines: `id` or `_id`, `title`, `text` (or `body`), optional `url`.

    A bad line yields a RecordError naming its line number; the other lines still count.
    """
    for number, line in enumerate(lines, start=1):
        # A byte-order mark (first line of a file saved by some editors) is not JSON.
        line = line.strip().lstrip("\ufeff")
        if not line:
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield RecordError(where, f"invalid JSON ({getattr(exc, 'msg', exc)})")
            continue
        except RecursionError:
            yield RecordError(where, "JSON nested too deeply")
            continue
        if not isinstance(record, dict):
            yield RecordError(where, "not a JSON object")
            continue
        record = {key: valid_text(value) if isinstance(value, str) else value
                  for key, value in record.items()}
        rid = record.get("id", record.get("_id"))
        text = record.get("text", record.get("body"))
        if rid is None or str(rid).strip() == "":
            yield RecordError(where, "no id or _id")
            continue
        if not isinstance(text, str):
            yield RecordError(where, "no text")
            continue
        title = record.get("title")
        url = record.get("url")
        entry = make_entry(
            id=str(rid).strip(),
            title=title if isinstance(title, str) else "",
            body=text,
            sections=record_sections(record, text),
            source=source,
            url=safe_url(url) if isinstance(url, str) else "",
            source_hash=source_hash,
            publisher=_first_text(record, RECORD_PUBLISHER_KEYS),
            date=_first_text(record, RECORD_DATE_KEYS),
        )
        # Blank once normalised (control characters are not blank to str.strip).
        if not entry.body.strip():
            yield RecordError(where, "no text")
            continue
        yield entry


def record_sections(record: dict, text: str) -> list[tuple[str, str]] | None:
    """A record's text as (question, answer) sections when it lists its `questions` (MedQuAD:
    answers joined by blank lines, one per question, in order), else None. A count that does
    not match leaves the text without headings rather than heading the wrong answers."""
    questions = record.get("questions")
    if not isinstance(questions, list) or not questions:
        return None
    asked = [q.get("question") if isinstance(q, dict) else q for q in questions]
    if not all(isinstance(q, str) for q in asked):
        return None
    answers = normalize_text(text).split("\n\n")
    if len(answers) != len(asked):
        return None
    return [(question_heading(q), a) for q, a in zip(asked, answers, strict=True)]


# -- MedQuAD-style XML -----------------------------------------------------------------------


def parse_health_xml(data: bytes, *, id: str, source: str, source_hash: str = "") -> Article:
    """An article from a MedQuAD-style XML document: focus as title, Q&A pairs as body."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FormatError(f"malformed XML ({exc})") from None
    if root.tag != "Document":
        raise FormatError(f"unknown XML document type <{root.tag}>")
    focus = (root.findtext("Focus") or "").strip()
    # Each question heads its answer on the article page; like the JSON Lines records of the
    # same corpus, the questions are not indexed.
    sections = []
    for pair in root.iter("QAPair"):
        question = (pair.findtext("Question") or "").strip()
        answer = (pair.findtext("Answer") or "").strip()
        if answer:
            sections.append((question_heading(question), answer))
    if not sections:
        raise FormatError("no answer text (answers removed at source)")
    doc_id = root.get("id") or id
    return make_entry(
        id=f"{root.get('source', 'xml')}-{doc_id}" if root.get("source") else id,
        title=focus,
        body="",
        sections=sections,
        source=source,
        url=safe_url(root.get("url", "")),
        kind=ARTICLE,
        source_hash=source_hash,
        publisher=root.get("publisher") or root.get("source") or "",
        date=next((root.get(k) for k in RECORD_DATE_KEYS if root.get(k)), ""),
    )


# -- Plain text and the digest format --------------------------------------------------------


def parse_digest(text: str, *, id_prefix: str, source: str, source_hash: str = "") -> Digest:
    """Entries from a plain-text file.

    A file with one entry per line (the seed digest format) gives one entry per line: long
    paragraphs are articles (a trailing " |" is a separator), lines ending in an ellipsis are
    teasers, lines starting with ">>:" are sample reader questions and are not indexed. Any
    other text file is one article, its first line the title when it is short.
    """
    questions: list[str] = []
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            lines.append("")
            continue
        if line.startswith(QUESTION_PREFIX):
            question = line[len(QUESTION_PREFIX):].strip()
            if question:
                questions.append(question)
            continue
        lines.append(re.sub(r"\s*\|\s*$", "", line))
    nonblank = [line for line in lines if line]
    if not nonblank:
        return Digest([], questions)
    is_digest = bool(questions) or any(is_teaser_text(line) for line in nonblank)
    if not is_digest:
        title, body = _title_and_body(lines)
        entry = make_entry(id=id_prefix, title=title, body=body, source=source,
                           kind=ARTICLE, source_hash=source_hash)
        # Control characters are not blank to str.strip but are to the normalised body.
        return Digest([entry] if entry.body.strip() else [], questions)
    entries = []
    seen: set[str] = set()
    for line in nonblank:
        kind = TEASER if is_teaser_text(line) else ARTICLE
        entry = make_entry(id="", title=None, body=line, source=source, kind=kind,
                           source_hash=source_hash)
        if not entry.body.strip():
            continue
        base = f"{id_prefix}/{slugify(entry.title)}"
        eid, n = base, 2
        while eid in seen:
            eid, n = f"{base}-{n}", n + 1
        seen.add(eid)
        entries.append(_with_id(entry, eid))
    return Digest(entries, questions)


def _title_and_body(lines: list[str]) -> tuple[str | None, str]:
    first = next(i for i, line in enumerate(lines) if line)
    rest = lines[first + 1:]
    if len(lines[first]) <= 120 and any(rest) and not lines[first].endswith((".", "…")):
        return lines[first], "\n".join(rest)
    return None, "\n".join(lines)


def _with_id(entry: Article, new_id: str) -> Article:
    from dataclasses import replace

    return replace(entry, id=new_id)
