"""Adversarial corpus files, made by the tests themselves (nothing binary is checked in).

`write_adversarial_corpus(folder, max_bytes)` fills a folder with files meant to break a corpus
reader and returns a `Manifest` of what a correct run does with them:

- `good`: entry id -> a marker word that occurs in that entry only. Each must be indexed
  exactly once and be findable by its marker.
- `bad`: path (relative to the folder; "file:N" for line N of a JSON Lines file) -> a regular
  expression its skip reason must match. Each must be reported, with its path and reason.
- `secrets`: words that must never reach the index (the content of an external XML entity).

To look at the files by hand:

    python -m tests.adversarial OUTDIR [--max-bytes N]
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import gzip
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAX_BYTES = 2 * 1024 * 1024  # room for 100,000 nested <div>s
NEST_DEPTH = 100_000


@dataclass
class Manifest:
    """What a correct indexing run makes of the adversarial folder."""

    root: Path
    max_bytes: int
    good: dict[str, str] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def path(self, rel: str) -> str:
        """The absolute path (as the indexer reports it) of a relative manifest path."""
        name, _, line = rel.partition(":")
        full = os.path.abspath(self.root / name)
        return f"{full}:{line}" if line else full


def _html(title: str, body: str) -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>" \
           f"<p>{body}</p></body></html>"


def write_adversarial_corpus(root: Path, max_bytes: int = DEFAULT_MAX_BYTES, *,
                             nest_depth: int = NEST_DEPTH, seed: int = 6) -> Manifest:
    """Write the adversarial files into `root` (created if needed) and describe them."""
    rng = random.Random(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    m = Manifest(root=root, max_bytes=max_bytes)

    def good(name: str, data: bytes | str, doc_id: str, marker: str) -> None:
        _write(root / name, data)
        m.good[doc_id] = marker

    def bad(name: str, data: bytes | str | None, reason: str) -> None:
        if data is not None:
            _write(root / name, data)
        m.bad[name] = reason

    # -- readable files in awkward encodings: all indexed -----------------------------------
    good("plain.html", _html("Measles", "Measles zqplain spreads by coughing."), "plain",
         "zqplain")
    good("invalid-utf8.html",
         b"<html><body><h1>Broken bytes</h1><p>zqbadbytes fever \xff\xfe\xc3( chills</p>"
         b"</body></html>", "invalid-utf8", "zqbadbytes")
    # UTF-16 of plain ASCII letters is also valid UTF-8 (full of NULs): only the BOM tells.
    good("utf16-le.txt", codecs.BOM_UTF16_LE + "Mumps\n\nzqutfsixteen swollen glands.\n"
         .encode("utf-16-le"), "utf16-le", "zqutfsixteen")
    good("utf16-be.html", codecs.BOM_UTF16_BE + _html("Rubella", "zqutfsixbe rash")
         .encode("utf-16-be"), "utf16-be", "zqutfsixbe")
    good("utf8-bom.txt", codecs.BOM_UTF8 + b"Shingles\n\nzqutfeightbom nerve pain.\n",
         "utf8-bom", "zqutfeightbom")
    good("cp1252.txt", "Café au lait spots\n\nzqwindows “birthmarks” – naïve.\n"
         .encode("cp1252"), "cp1252", "zqwindows")
    deep = "<html><body>" + "<div>" * nest_depth + "zqdeepnest text at the bottom." \
        + "</div>" * nest_depth + "</body></html>"
    good("deep-nesting.html", deep, "deep-nesting", "zqdeepnest")
    xxe = ('<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY leak SYSTEM '
           f'"file://{os.path.abspath(root / "secret.dat")}">]>'
           '<Document id="1" source="xxe"><Focus>Gout</Focus><QAPairs><QAPair>'
           "<Question>What is gout?</Question><Answer>zqxmlentity uric acid &leak;</Answer>"
           "</QAPair></QAPairs></Document>")
    # The entity's target has an unsupported suffix, so only an XML reader resolving entities
    # could bring its word into the index.
    _write(root / "secret.dat", "zqsecretleak\n")
    m.secrets.append("zqsecretleak")
    good("external-entity.xml", xxe, "xxe-1", "zqxmlentity")

    # -- JSON Lines: good records count, bad records are reported by line ------------------
    big = "x" * (max_bytes + 10)
    lines: list[bytes] = [
        codecs.BOM_UTF8 + _j({"id": "rec-bom", "text": "zqrecbom first line after a BOM"}),
        b"this is not json",                                                  # 2
        b"[1, 2, 3]",                                                         # 3
        _j({"text": "zqnoid a record without an id"}),                        # 4
        _j({"id": "rec-notext"}),                                             # 5
        b'{"id": "rec-surrogate", "text": "zqlonesurrogate \\ud800 lone half"}',  # 6
        b'{"id": "rec-deep", "text": "x", "n": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        b'{"id": "rec-bignum", "text": "x", "n": 1' + b"0" * 5000 + b"}",     # 8
        _j({"id": "rec-huge", "text": big}),                                  # 9
        b'{"id": "rec-latin1", "text": "zqlatinone caf\xe9 au lait"}',        # 10
        _j({"_id": "rec-underscore", "text": "zqunderscore id"}),             # 11
        b"",                                                                  # 12 (blank)
        _j({"id": 12345, "text": "zqnumericid"}) + b"\r",                     # 13
        _j({"id": "rec-nul", "title": "Nul\u0000title", "text": "zqnulchar \u0000 x"}),  # 14
        _j({"id": "rec-js", "text": "zqjsurl x", "url": "javascript:alert(1)"}),  # 15
        _j({"id": "rec-last", "text": "zqlastrecord the line after all the bad ones"}),
    ]
    _write(root / "records.jsonl", b"\n".join(lines) + b"\n")
    for doc_id, marker in (("rec-bom", "zqrecbom"), ("rec-surrogate", "zqlonesurrogate"),
                           ("rec-latin1", "zqlatinone"), ("rec-underscore", "zqunderscore"),
                           ("12345", "zqnumericid"), ("rec-nul", "zqnulchar"),
                           ("rec-js", "zqjsurl"), ("rec-last", "zqlastrecord")):
        m.good[doc_id] = marker
    m.bad.update({
        "records.jsonl:2": "invalid JSON", "records.jsonl:3": "not a JSON object",
        "records.jsonl:4": "no id", "records.jsonl:5": "no text",
        "records.jsonl:7": "nested too deeply", "records.jsonl:8": "invalid JSON",
        "records.jsonl:9": "size cap",
    })

    # A gzip stream cut short: the records before the cut still count.
    whole = gzip.compress(b"".join(
        _j({"id": f"gz-{i}", "text": f"zqgzip{i} {'word ' * 200}"}) + b"\n" for i in range(40)))
    _write(root / "truncated.jsonl.gz", whole[: len(whole) * 2 // 3])
    for i in range(3):  # the first few records are certainly before the cut
        m.good[f"gz-{i}"] = f"zqgzip{i}"
    m.bad["truncated.jsonl.gz"] = "truncated or corrupt"
    m.notes.append("truncated.jsonl.gz: records past gz-2 may or may not be readable")

    # Duplicate ids across files: the first file (in sorted order) keeps it.
    good("dup-a.jsonl", _j({"id": "dup", "text": "zqdupfirst the first"}) + b"\n", "dup",
         "zqdupfirst")
    bad("dup-b.jsonl", _j({"id": "dup", "text": "zqdupsecond the second"}) + b"\n",
        r"duplicate id 'dup', already read from .*dup-a\.jsonl")
    m.secrets.append("zqdupsecond")

    # -- files that hold nothing usable: each reported ------------------------------------
    noise = bytes(rng.randrange(256) for _ in range(4096)) + b"\x00" * 16
    bad("binary.html", noise, "binary")
    bad("binary.txt", noise, "binary")
    bad("binary.xml", noise, "binary")
    # A byte-order mark in front of random bytes does not make them text (without NULs:
    # only the decoded text tells).
    random_bytes = bytes(rng.choice(range(1, 256)) for _ in range(4096))
    bad("bom-random.txt", codecs.BOM_UTF16_LE + random_bytes, "binary")
    bad("bom8-random.html", codecs.BOM_UTF8 + random_bytes, "binary")
    bad("empty.html", b"", "empty")
    bad("empty.jsonl", b"", "empty")
    bad("over-cap.txt", "Big\n\n" + "word " * (max_bytes // 5 + 10), "size cap")
    bad("script-only.html", "<html><head><script>var zqscript = 1;</script></head>"
        "<body><script>document.write('zqscript')</script></body></html>", "no article text")
    bad("style-only.html", "<html><head><style>p{color:red}</style></head><body>"
        "<style>.zqstyle{}</style></body></html>", "no article text")
    bad("comment-only.html", "<html><body><!-- zqcomment --></body></html>", "no article text")
    bad("cdata-only.html", "<html><body><![CDATA[ zqcdata ]]></body></html>", "no article text")
    bad("whitespace.txt", " \n\t\n   \n", "no entries")
    bad("questions-only.txt", ">>: How do I sleep better?\n>>: Why do I cough?\n", "no entries")
    bad("malformed.xml", "<Document><Focus>Gout</Document>", "malformed XML")
    laughs = '<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY a "zqlaugh">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    ) + ']><Document><Focus>Laughs</Focus><QAPairs><QAPair><Question>q</Question>' \
        '<Answer>&j;</Answer></QAPair></QAPairs></Document>'
    bad("billion-laughs.xml", laughs, "XML|answer")
    m.secrets.extend(["zqscript", "zqstyle", "zqcomment", "zqcdata", "zqlaugh"])

    # -- things that are not plain readable files -------------------------------------------
    os.symlink("loop-b.html", root / "loop-a.html")
    os.symlink("loop-a.html", root / "loop-b.html")
    m.bad["loop-a.html"] = m.bad["loop-b.html"] = "cannot read"
    os.symlink("no-such-target.html", root / "dangling.html")
    m.bad["dangling.html"] = "cannot read"
    os.symlink(".", root / "self-loop")  # a folder linking to itself: never followed
    os.mkfifo(root / "named-pipe.html")  # opening it would block for ever
    m.bad["named-pipe.html"] = "not a regular file"
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", root / "endless.txt")  # reading it never ends
        m.bad["endless.txt"] = "outside the corpus"
    # A corpus folder is not always trusted: a link out of it is not followed...
    outside = root.parent / f"{root.name}-outside"
    outside.mkdir(exist_ok=True)
    _write(outside / "secret.txt", "Secret\n\nzqoutsidelink a file beside the corpus.\n")
    os.symlink(outside / "secret.txt", root / "link-out.txt")
    m.bad["link-out.txt"] = "outside the corpus"
    os.symlink(outside, root / "folder-out")
    m.bad["folder-out"] = "outside the corpus"
    m.secrets.append("zqoutsidelink")
    # ... and one inside it is followed once: a link to a file read anyway adds nothing, a
    # link to a file in a hidden folder is read under its own name.
    os.symlink("utf8-bom.txt", root / "link-in.txt")
    (root / ".hidden").mkdir()
    _write(root / ".hidden" / "kept.txt", "Kept\n\nzqlinkedin a linked file.\n")
    os.symlink(".hidden/kept.txt", root / "link-hidden.txt")
    m.good["link-hidden"] = "zqlinkedin"
    unreadable = root / "unreadable.html"
    _write(unreadable, _html("Locked", "zqlocked"))
    unreadable.chmod(0)
    if os.geteuid() == 0:
        # root reads it anyway: then it is simply a good file.
        m.good["unreadable"] = "zqlocked"
        m.notes.append("unreadable.html: running as root, so chmod 000 does not stop reading")
    else:
        m.bad["unreadable.html"] = "cannot read"
    with contextlib.suppress(OSError, UnicodeError):  # file systems that insist on UTF-8
        name = os.fsencode(root) + b"/latin1-caf\xe9.txt"
        with open(name, "wb") as f:
            f.write(b"Latin-1 file name\n\nzqlatinname the name is not UTF-8.\n")
        m.good["latin1-caf\ufffd"] = "zqlatinname"
    return m


def _j(record: dict) -> bytes:
    return json.dumps(record).encode()


def _write(path: Path, data: bytes | str) -> None:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                        help="the size cap the files are made for (index with the same cap)")
    args = parser.parse_args()
    m = write_adversarial_corpus(args.outdir, args.max_bytes)
    print(f"wrote {args.outdir}: {len(m.good)} good entries, {len(m.bad)} bad files or records")
    print(f"index it with --max-file-size {args.max_bytes / (1024 * 1024):.6f}")


if __name__ == "__main__":
    main()
