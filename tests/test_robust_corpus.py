"""Broken corpus files cost nothing else: every good entry is indexed exactly once, every bad
file or record is reported with its path and reason, and the run finishes.

The adversarial files are written by `tests/adversarial.py` into a temporary folder.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.build import indexed_entries
from indexer.config import Settings
from indexer.corpus.formats import (
    FormatError,
    RecordError,
    decode_bytes,
    parse_html,
    parse_jsonl,
    safe_url,
)
from indexer.corpus.reading import SUPPORTED, SourceFile, read_file
from indexer.search import SearchEngine
from indexer.storage import IndexStore
from tests.adversarial import write_adversarial_corpus
from tests.conftest import ROOT

RUN_LIMIT_S = 120  # a run that has not finished by then is hung


def run_index(corpus: Path, index_dir: Path, max_bytes: int, *extra: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "healthsearch", "index", str(corpus), "--index-dir", str(index_dir),
         "--max-file-size", f"{max_bytes / (1024 * 1024):.9f}", "--json", "--quiet",
         "--workers", "1", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_LIMIT_S)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory):
    """The adversarial folder, indexed once from the command line: (manifest, index, summary)."""
    root = tmp_path_factory.mktemp("adversarial")
    manifest = write_adversarial_corpus(root / "corpus")
    started = time.monotonic()
    summary = run_index(root / "corpus", root / "index", manifest.max_bytes)
    summary["wall_seconds"] = time.monotonic() - started
    return manifest, root / "index", summary


def test_every_bad_file_and_record_is_reported_with_its_path_and_reason(adversarial):
    manifest, _, summary = adversarial
    reported = {s["path"]: s["reason"] for s in summary["skipped"]}
    for rel, pattern in manifest.bad.items():
        path = manifest.path(rel)
        assert path in reported, f"{rel} not reported"
        assert re.search(pattern, reported[path]), (rel, reported[path])
    expected = {manifest.path(rel) for rel in manifest.bad}
    assert set(reported) == expected, f"unexpected skips: {set(reported) - expected}"


def test_every_good_entry_is_indexed_exactly_once(adversarial):
    manifest, index_dir, summary = adversarial
    engine = SearchEngine(Settings(index_dir=index_dir))
    for doc_id, marker in manifest.good.items():
        page = engine.search(marker)
        # Exactly one entry has the marker (others may follow as related articles).
        assert [r.id for r in page.results if not r.related] == [doc_id], (marker, page.results)
        assert page.results[0].id == doc_id
        assert page.matched == 1
    ids = set(indexed_entries(IndexStore(index_dir).open()))
    assert set(manifest.good) <= ids
    # Only records of the cut gzip stream may be beyond the manifest (how many survive the
    # cut depends on compression).
    assert {i for i in ids - set(manifest.good) if not i.startswith("gz-")} == set()
    assert summary["added"] == len(ids)


def test_nothing_from_unusable_content_reaches_the_index(adversarial):
    manifest, index_dir, _ = adversarial
    engine = SearchEngine(Settings(index_dir=index_dir))
    for word in manifest.secrets:
        assert engine.search(word).total == 0, word
    article = engine.article("rec-js")
    assert article is not None and article.url == ""  # the javascript: link was dropped


def test_decoded_text_is_right_whatever_the_encoding(adversarial):
    _, index_dir, _ = adversarial
    engine = SearchEngine(Settings(index_dir=index_dir))
    assert engine.article("cp1252").title == "Café au lait spots"
    assert "“birthmarks” – naïve" in engine.article("cp1252").body
    assert engine.article("utf16-le").title == "Mumps"
    assert engine.article("utf16-be").title == "Rubella"
    assert "\x00" not in engine.article("utf16-le").body
    assert engine.article("utf8-bom").title == "Shingles"
    assert "café" in engine.article("rec-latin1").body
    assert "\ufffd" in engine.article("rec-surrogate").body  # the lone half, replaced


def test_the_run_finishes_quickly(adversarial):
    # 100,000 nested <div>s, a named pipe and a link to /dev/zero included.
    _, _, summary = adversarial
    assert summary["wall_seconds"] < 60, summary["wall_seconds"]


def test_a_second_run_writes_nothing_and_reports_the_same(adversarial, tmp_path):
    manifest, index_dir, first = adversarial
    again = run_index(manifest.root, index_dir, manifest.max_bytes)
    assert (again["added"], again["updated"], again["deleted"]) == (0, 0, 0)
    assert again["unchanged"] == first["added"]
    assert {s["path"] for s in again["skipped"]} == {s["path"] for s in first["skipped"]}


def test_a_strict_run_fails_and_names_what_it_skipped(adversarial):
    manifest, index_dir, _ = adversarial
    out = subprocess.run(
        [sys.executable, "-m", "healthsearch", "index", str(manifest.root), "--index-dir",
         str(index_dir), "--quiet", "--strict", "--workers", "1", "--max-file-size",
         f"{manifest.max_bytes / (1024 * 1024):.9f}"],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_LIMIT_S)
    assert out.returncode == 3
    assert "named-pipe.html: not a regular file" in out.stderr
    assert "records.jsonl:7: JSON nested too deeply" in out.stderr


# -- the fixes, one by one ------------------------------------------------------------------


def test_random_bytes_after_a_bom_are_skipped_as_binary(tmp_path):
    # They once became an article titled with replacement characters: the binary check
    # skipped any file with a byte-order mark.
    noise = bytes(range(1, 256)) * 16
    for name, bom, kind in (("le.txt", codecs.BOM_UTF16_LE, "text"),
                            ("be.txt", codecs.BOM_UTF16_BE, "text"),
                            ("u8.txt", codecs.BOM_UTF8, "text"),
                            ("u8.html", codecs.BOM_UTF8, "HTML"),
                            ("le.xml", codecs.BOM_UTF16_LE, "XML")):
        path = tmp_path / name
        path.write_bytes(bom + noise)
        result = read_file(SourceFile(path, name), 1 << 20)
        assert result.entries == [], name
        assert [s.reason for s in result.skips] == [f"binary content, not {kind}"], name
    # Text after a BOM is still text, in any script.
    path = tmp_path / "text.txt"
    text = "Mumps\n\nСвинка, 流行性腮腺炎.\n"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert [e.title for e in read_file(SourceFile(path, "text"), 1 << 20).entries] == ["Mumps"]


def test_a_symlink_out_of_the_corpus_is_skipped_and_one_inside_is_read_once(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    (outside / "passwd.txt").write_text("root\n\nzqpasswd x:0:0:root.\n")
    (corpus / "real.txt").write_text("Real\n\nzqreal an article.\n")
    os.symlink(outside / "passwd.txt", corpus / "passwd.txt")
    os.symlink(outside, corpus / "elsewhere")
    os.symlink("real.txt", corpus / "again.txt")  # inside: the file is read once
    index_dir = tmp_path / "index"
    summary = run_index(corpus, index_dir, 1 << 20)
    reasons = {s["path"]: s["reason"] for s in summary["skipped"]}
    assert set(reasons) == {str(corpus / "passwd.txt"), str(corpus / "elsewhere")}
    assert all("outside the corpus" in r for r in reasons.values())
    assert summary["added"] == 1
    engine = SearchEngine(Settings(index_dir=index_dir))
    assert engine.search("zqpasswd").total == 0
    assert [r.id for r in engine.search("zqreal").results] == ["real"]


def test_a_bom_decides_the_encoding_even_for_plain_ascii():
    text = "Mumps swell the glands."
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
                       (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32-le")):
        assert decode_bytes(bom + text.encode(codec)) == text, codec


def test_bad_json_lines_are_reported_one_by_one_and_the_rest_still_count():
    lines = [
        "\ufeff" + json.dumps({"id": "bom", "text": "after a BOM"}),
        '{"id": "big", "text": "x", "n": 1' + "0" * 5000 + "}",  # int too long to convert
        '{"id": "deep", "text": "x", "n": ' + "[" * 50_000 + "]" * 50_000 + "}",
        '{"id": "half", "text": "lone \\udc80 half"}',
        json.dumps({"id": "last", "text": "still read"}),
    ]
    out = list(parse_jsonl(lines, source="f.jsonl"))
    assert [getattr(x, "id", None) for x in out] == ["bom", None, None, "half", "last"]
    assert isinstance(out[1], RecordError) and out[1].where == "f.jsonl:2"
    assert isinstance(out[2], RecordError) and "nested too deeply" in out[2].reason
    out[3].body.encode("utf-8")  # writable: no lone surrogate left


def test_deeply_nested_html_is_read_in_linear_time():
    def page(depth: int) -> bytes:
        return ("<body>" + "<div>" * depth + "deep text" + "</div>" * depth + "</body>").encode()

    started = time.perf_counter()
    entry = parse_html(page(30_000), id="deep", source="deep.html")
    assert entry.body == "deep text"
    assert time.perf_counter() - started < 5  # was quadratic: about 80 s


@pytest.mark.parametrize("url, kept", [
    ("https://example.org/a", True), ("http://example.org", True),
    ("javascript:alert(1)", False), (" JavaScript:alert(1)", False), ("java\tscript:x", False),
    ("data:text/html,x", False), ("/relative/path", False), ("//example.org/x", False),
    ("http://[::1", False), ("vbscript:x", False), ("", False),
])
def test_only_absolute_web_links_are_kept_as_source_urls(url, kept):
    assert (safe_url(url) != "") is kept


def test_a_gzip_bomb_without_line_breaks_is_skipped_in_bounded_memory(tmp_path):
    # 96 MB of zeros with no line break, compressed to about 100 kB, between two good records.
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(json.dumps({"id": "before", "text": "first"}).encode() + b"\n")
        block = b"0" * (1 << 20)
        for _ in range(96):
            f.write(block)
        f.write(b"\n" + json.dumps({"id": "after", "text": "last"}).encode() + b"\n")
    script = textwrap.dedent(f"""
        import json, resource
        from pathlib import Path
        from indexer.corpus.reading import SourceFile, read_file
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = read_file(SourceFile(Path({str(path)!r}), "bomb"), 1 << 20)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"ids": [e.id for e in result.entries],
                          "skips": [[s.path, s.reason] for s in result.skips],
                          "growth_kb": after - before}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=RUN_LIMIT_S)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["ids"] == ["before", "after"]
    assert got["skips"] == [[f"{path}:2", "record over the size cap"]]
    assert got["growth_kb"] < 48 * 1024, f"peak memory grew by {got['growth_kb'] // 1024} MB"


# -- any bytes at all -----------------------------------------------------------------------

markupish = st.lists(st.sampled_from([
    "<div>", "</div>", "<p>", "<h1>", "</h1>", "<script>", "</script>", "<!--", "-->",
    "<![CDATA[", "]]>", "<meta charset='utf-16'>", "<?xml version='1.0'?>", "<Document>",
    "<Focus>", "<QAPair>", "<Answer>", "</Answer>", "&", "&#0;", "&#xD800;", "\x00", "\ufeff",
    '{"id": "a", "text": "b"}', "\n", "...", ">>: q", "text", "é", "\udc80",
]), max_size=40).map("".join)
file_bytes = st.one_of(
    st.binary(max_size=400),
    markupish.map(lambda s: s.encode("utf-8", "surrogateescape")),
    markupish.map(lambda s: s.encode("utf-16", "surrogatepass")),
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=file_bytes, suffix=st.sampled_from(SUPPORTED))
def test_reading_any_bytes_under_any_supported_name_never_raises(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{suffix}"
        path.write_bytes(data)
        result = read_file(SourceFile(path, "f"), 4096)
    for skip in result.skips:
        assert skip.path.startswith(str(path)) and skip.reason
    for entry in result.entries:
        assert entry.id and entry.body.strip()
        for text in (entry.id, entry.title, entry.body, entry.url):
            text.encode("utf-8")  # all of it can be written to the index
    assert result.entries or result.skips  # a file gives entries or says why not


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.one_of(
    st.text(max_size=60),
    st.dictionaries(st.sampled_from(["id", "_id", "text", "body", "title", "url"]),
                    st.one_of(st.text(max_size=20), st.integers(), st.none(), st.booleans(),
                              st.lists(st.integers(), max_size=2)), max_size=6)
    .map(json.dumps)), max_size=20))
def test_every_nonblank_json_line_gives_an_entry_or_a_reason(lines):
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    out = list(parse_jsonl(lines, source="s"))
    assert len(out) == sum(1 for line in lines if line.strip().lstrip("\ufeff"))
    for item in out:
        if isinstance(item, RecordError):
            assert item.where.startswith("s:") and item.reason


def test_html_that_is_only_markup_is_a_format_error_not_a_crash():
    for data in (b"<html></html>", b"<!-- x -->", b"<![CDATA[x]]>", b"<script>x</script>",
                 b"\xef\xbb\xbf", b"<div " * 10_000, b"<style>" * 10_000):
        with pytest.raises(FormatError):
            parse_html(data, id="x", source="x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_reported(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "ok.txt").write_text("Fine\n\nA fine article.\n")
    locked = tmp_path / "c" / "locked.txt"
    locked.write_text("Locked\n\nNever read.\n")
    locked.chmod(0)
    summary = run_index(tmp_path / "c", tmp_path / "ix", 1 << 20)
    assert summary["added"] == 1
    assert summary["skipped"] == [{"path": str(locked),
                                   "reason": "cannot read (Permission denied)"}]


@pytest.mark.parametrize(("name", "data"), [
    ("f.txt", b"\xff\xfe\x01\x00\x00\x00"), ("f.txt", b"\x01\x02\n\x03\n"),
    ("f.txt", b"Gout ...\n\x01\x7f\n"),
    ("f.jsonl", b'{"id": "a", "text": "\\u0001\\u0000"}\n{"id": "b", "text": "Gout"}\n')])
def test_lines_of_control_characters_give_no_blank_entry(tmp_path, name, data):
    # Found by the property test above: U+0001 U+0000 after a UTF-16 BOM is not blank to
    # str.strip, but is once the body is normalised, and gave an article with no text.
    path = tmp_path / name
    path.write_bytes(data)
    result = read_file(SourceFile(path, "f"), 4096)
    assert all(entry.body.strip() for entry in result.entries)
    assert result.entries or [s.reason for s in result.skips]
    if data.startswith(b"\xff\xfe"):
        # Decoded, it is control characters alone: binary, checked after the BOM too.
        assert [s.reason for s in result.skips] == ["binary content, not text"]
    if data.startswith(b"Gout"):
        assert [e.kind for e in result.entries] == ["teaser"]
    if name.endswith(".jsonl"):
        assert [e.id for e in result.entries] == ["b"]
        assert [s.reason for s in result.skips] == ["no text"]
