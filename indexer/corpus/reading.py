"""Reading a corpus from disk: find the files, read each with its format's parser, and report
every file or record that cannot be used with its path and reason, never stopping the rest."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from indexer.corpus.article import Article
from indexer.corpus.formats import (
    FormatError,
    RecordError,
    decode_bytes,
    looks_binary,
    parse_digest,
    parse_health_xml,
    parse_html,
    parse_jsonl,
)

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
XML_SUFFIXES = (".xml",)
TEXT_SUFFIXES = (".txt",)
SUPPORTED = HTML_SUFFIXES + JSONL_SUFFIXES + XML_SUFFIXES + TEXT_SUFFIXES


@dataclass(frozen=True)
class Skip:
    """A file or record that was not indexed, and why."""

    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """The JSON form used in summaries."""
        return {"path": self.path, "reason": self.reason}


@dataclass
class SourceFile:
    """One file of the corpus: where it is, the id prefix of its entries, the hash of its bytes."""

    path: Path
    id_prefix: str
    source_hash: str = ""


@dataclass
class FileResult:
    """What reading one file gave."""

    entries: list[Article] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)


def suffix_of(path: Path) -> str:
    """The corpus suffix of a path (".jsonl.gz" counts as one), lowercased."""
    name = path.name.lower()
    for suffix in SUPPORTED:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def discover(roots: Iterable[Path]) -> tuple[list[SourceFile], list[Skip]]:
    """Every supported file under the given files and folders, in a stable order.

    Hidden files and folders are passed over; symlinked folders are not followed (no loops).
    A symbolic link to a file is followed once: to a file inside the roots it is read under
    its own name unless that file is read anyway; one pointing outside the roots (a corpus
    folder is not always trusted content: a link to /etc/passwd) is skipped with its reason,
    and so is a link to a folder outside. A folder that cannot be listed, or a named path
    that does not exist, is reported.
    """
    files: list[SourceFile] = []
    skips: list[Skip] = []
    seen: set[str] = set()
    roots = [Path(root) for root in roots]
    inside = _within([os.path.realpath(root) for root in roots])
    links: list[tuple[Path, Path]] = []
    for root in roots:
        if root.is_file():
            if suffix_of(root) not in SUPPORTED:
                skips.append(Skip(str(root), f"unsupported file type {suffix_of(root)!r}"))
                continue
            _add(files, seen, root, root.parent)
            continue
        if not root.is_dir():
            skips.append(Skip(str(root), "no such file or folder"))
            continue

        def on_error(exc: OSError) -> None:
            skips.append(Skip(str(exc.filename), f"cannot list folder ({exc.strerror})"))

        for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in dirnames:
                path = Path(dirpath) / name
                if path.is_symlink() and not inside(os.path.realpath(path)):
                    skips.append(Skip(str(path), OUTSIDE))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if name.startswith(".") or suffix_of(path) not in SUPPORTED:
                    continue
                if path.is_symlink():
                    links.append((path, root))
                else:
                    _add(files, seen, path, root)
    # Links last: a file that is also linked to is read once, under its own name.
    for path, root in links:
        if inside(os.path.realpath(path)):
            _add(files, seen, path, root)
        else:
            skips.append(Skip(str(path), OUTSIDE))
    return files, skips


OUTSIDE = "symbolic link pointing outside the corpus folders: not followed"


def _within(folders: list[str]) -> Callable[[str], bool]:
    """Whether a resolved path is one of the folders or inside one."""

    def inside(path: str) -> bool:
        return any(path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
                   for folder in folders)

    return inside


def _add(files: list[SourceFile], seen: set[str], path: Path, root: Path) -> None:
    # The same file reached twice (a link to it, or a root inside another) is read once.
    key = os.path.realpath(path)
    if key in seen:
        return
    seen.add(key)
    rel = os.path.relpath(path, root)
    stem = rel[: -len(suffix_of(path))] if rel.lower().endswith(suffix_of(path)) else rel
    # A file name that is not UTF-8 gives U+FFFD in the id: ids must be writable text.
    stem = os.fsencode(stem).decode("utf-8", "replace")
    files.append(SourceFile(Path(os.path.abspath(path)), stem.replace(os.sep, "/")))


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing a file past the size cap before reading it."""
    size = path.stat().st_size
    if size == 0:
        raise FormatError("empty file")
    if size > max_bytes:
        raise FormatError(
            f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB size cap"
        )
    return path.read_bytes()


def hash_file(path: Path) -> str:
    """SHA-1 of a file's bytes, read in blocks."""
    h = hashlib.sha1()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_file(source: SourceFile, max_bytes: int) -> FileResult:
    """Read one corpus file into entries; any failure becomes a Skip naming the file."""
    path, suffix = source.path, suffix_of(source.path)
    where = str(path)
    result = FileResult()
    try:
        if suffix in JSONL_SUFFIXES:
            _read_jsonl(source, max_bytes, result)
            return result
        data = read_bytes(path, max_bytes)
        if suffix in HTML_SUFFIXES:
            result.entries.append(parse_html(data, id=source.id_prefix, source=where,
                                             source_hash=source.source_hash))
        elif suffix in XML_SUFFIXES:
            if looks_binary(data):
                raise FormatError("binary content, not XML")
            result.entries.append(parse_health_xml(data, id=source.id_prefix, source=where,
                                                   source_hash=source.source_hash))
        else:
            if looks_binary(data):
                raise FormatError("binary content, not text")
            digest = parse_digest(decode_bytes(data), id_prefix=source.id_prefix, source=where,
                                  source_hash=source.source_hash)
            if not digest.entries:
                raise FormatError("no entries (blank or only sample questions)")
            result.entries.extend(digest.entries)
            result.questions.extend(digest.questions)
    except FormatError as exc:
        result.skips.append(Skip(where, str(exc)))
    except OSError as exc:
        result.skips.append(Skip(where, f"cannot read ({exc.strerror or exc})"))
    except RecursionError:
        result.skips.append(Skip(where, "markup nested too deeply to parse"))
    return result


def _read_jsonl(source: SourceFile, max_bytes: int, result: FileResult) -> None:
    path, where = source.path, str(source.path)
    if path.stat().st_size == 0:
        raise FormatError("empty file")
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as raw:
        lines = _bounded_lines(io.BufferedReader(raw) if opener is gzip.open else raw,
                               max_bytes, where, result)
        try:
            for item in parse_jsonl(lines, source=where, source_hash=source.source_hash):
                if isinstance(item, RecordError):
                    result.skips.append(Skip(item.where, item.reason))
                else:
                    result.entries.append(item)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            result.skips.append(Skip(where, f"truncated or corrupt compressed file ({exc})"))
    if not result.entries and not result.skips:
        raise FormatError("no records")


def _bounded_lines(raw, max_bytes: int, where: str, result: FileResult) -> Iterator[str]:
    # A record longer than the cap is skipped on its own; the lines after it still count.
    # Lines are read at most a cap's worth at a time, so a file (or a gzip bomb) with no line
    # breaks never has to fit in memory.
    number = 0
    while line := raw.readline(max_bytes + 1):
        number += 1
        if len(line) > max_bytes:
            while not line.endswith(b"\n") and (line := raw.readline(1 << 20)):
                pass
            result.skips.append(Skip(f"{where}:{number}", "record over the size cap"))
            yield ""
            continue
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            yield decode_bytes(line)


def duplicate_skip(entry: Article, first_source: str) -> Skip:
    """The skip of an entry whose id an entry of `first_source` already took."""
    return Skip(entry.source, f"duplicate id {entry.id!r}, already read from {first_source}")


def drop_duplicate_ids(entries: list[Article]) -> tuple[list[Article], list[Skip]]:
    """Keep the first entry of each id; later ones are reported with where the first came from."""
    first: dict[str, Article] = {}
    kept: list[Article] = []
    skips: list[Skip] = []
    for entry in entries:
        if entry.id in first:
            skips.append(duplicate_skip(entry, first[entry.id].source))
            continue
        first[entry.id] = entry
        kept.append(entry)
    return kept, skips


@dataclass
class CorpusRead:
    """What reading the corpus gave: entries of the files parsed, and the rest."""

    entries: list[Article] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    questions: dict[str, list[str]] = field(default_factory=dict)
    read: list[SourceFile] = field(default_factory=list)
    passed: list[SourceFile] = field(default_factory=list)


def read_corpus(
    roots: Iterable[Path],
    max_bytes: int,
    *,
    unchanged: Callable[[SourceFile], bool] = lambda source: False,
    progress: Callable[[SourceFile], None] = lambda source: None,
    files: list[SourceFile] | None = None,
    emit: Callable[[Article], None] | None = None,
) -> CorpusRead:
    """Read every file under the roots (or the given files).

    A file for which `unchanged` says True (its bytes hash as when it was last indexed) is
    passed over, not parsed; the caller keeps what it already has from it. With `emit`,
    entries go to it as they are read instead of into the result.
    """
    out = CorpusRead()
    if files is None:
        files, out.skips = discover(roots)
    for source in files:
        progress(source)
        try:
            # Opening a named pipe blocks for ever and a device (a link to /dev/zero) never
            # ends: only regular files are read.
            if not stat.S_ISREG(os.stat(source.path).st_mode):
                out.skips.append(Skip(str(source.path), "not a regular file"))
                continue
            source.source_hash = hash_file(source.path)
        except OSError as exc:
            out.skips.append(Skip(str(source.path), f"cannot read ({exc.strerror or exc})"))
            continue
        if unchanged(source):
            out.passed.append(source)
            continue
        result = read_file(source, max_bytes)
        out.read.append(source)
        if emit is None:
            out.entries.extend(result.entries)
        else:
            for entry in result.entries:
                emit(entry)
        out.skips.extend(result.skips)
        if result.questions:
            out.questions[str(source.path)] = result.questions
    return out

