"""Scale corpora for the speed benchmarks, made from the real texts of the shared data sets.

How a scale corpus is made (generator version GENERATOR_VERSION, default seed DEFAULT_SEED):

1. The sentence pool. Every document of the three real corpora (MedQuAD answers, MedQuAD x
   LiveQA answer passages, NFCorpus abstracts; 10,816 documents) is split into sentences:
   lines first, then at `. ! ?` followed by a capital or digit. NFCorpus text is stored
   lower-cased without punctuation, so it is cut into runs of 12-24 words instead. Sentences
   of fewer than three words are dropped. Each real document keeps its title and its
   sentences in order (NFCorpus has no titles: its first eight words, capitalised, are used).
2. One document. Document number n is drawn with its own random generator, seeded with the
   string "healthsearch-scale:<seed>:<n>", so any document (and so any shard) can be made
   again alone, and the first 10,000 documents of the 100k corpus are the 10k corpus. The
   generator picks a source data set in proportion to its real size (5,486 : 1,935 : 3,395),
   a topic document from it, and a target length: the byte length of a random real document
   of any source, clipped to 400..12,000 bytes (the real lengths have a mean of 2.5 KB, a
   median of 1.4 KB). The title is the topic document's title. The body starts with the
   topic's first sentence; each following sentence is, with probability 0.7, the topic's
   next sentence (while it has any), otherwise a random sentence of a random document of
   the same source; sentences are added until the target length is reached and grouped
   into paragraphs of 2-5 sentences separated by blank lines. The result reads as a real
   article on the topic with passages from related ones: realistic term statistics, a
   realistic length distribution (mean about 2.4 KB), real medical vocabulary. Its caveat:
   the vocabulary is bounded by the real corpus, so it grows less with scale than a real
   collection would.
3. Records and files. A record is {"id": "scale-0000042", "title", "text",
   "url": "https://example.org/articles/42"}. Documents are written as JSON Lines shards of
   SHARD_DOCS (1,000) documents, `shards/shard-00000.jsonl`, ... once, under the benchmark
   cache. A corpus of N documents is the folder `scale-<label>/` holding hard links to the
   first N / 1,000 shards (no copies).

Why sharded JSON Lines: the engine skips files whose bytes are unchanged, so an incremental
update after one article changed re-reads one 1,000-record shard, as a content pipeline that
exports in batches would present it, instead of re-parsing a 100k-record file (one file) or
hashing 100,000 files (one HTML file per article, which would mostly measure the file
system). The real corpora are JSON Lines too, so real and scale runs read the same format.

Run `python -m bench.scale --docs 100k` to make a corpus ahead of a benchmark run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.harness import CACHE, DATA, iter_jsonl, read_json, real_corpus_paths, rel, write_json

GENERATOR_VERSION = 1
DEFAULT_SEED = 20241125
SHARD_DOCS = 1_000
MIN_BYTES, MAX_BYTES = 400, 12_000
TOPIC_CONTINUE = 0.7
CORPUS_ROOT = CACHE / "corpus"
SHARDS = CORPUS_ROOT / "shards"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class RealDoc:
    """A real document reduced to what the generator needs: title and sentences in order."""

    title: str
    sentences: tuple[str, ...]


@dataclass
class Pool:
    """Real documents by source, their weights, and every real document's byte length."""

    sources: dict[str, list[RealDoc]]
    lengths: list[int]

    @property
    def names(self) -> list[str]:
        """Source names in a fixed order."""
        return sorted(self.sources)

    @property
    def weights(self) -> list[int]:
        """Documents per source (the real proportions)."""
        return [len(self.sources[n]) for n in self.names]


def parse_label(label: str) -> int:
    """'10k' -> 10000, '1m' -> 1000000, '2500' -> 2500."""
    text = label.strip().lower().replace("_", "").replace(",", "")
    mult = 1
    if text.endswith("k"):
        mult, text = 1_000, text[:-1]
    elif text.endswith("m"):
        mult, text = 1_000_000, text[:-1]
    return int(float(text) * mult)


def label_of(docs: int) -> str:
    """10000 -> '10k', 1000000 -> '1m'."""
    if docs % 1_000_000 == 0:
        return f"{docs // 1_000_000}m"
    if docs % 1_000 == 0:
        return f"{docs // 1_000}k"
    return str(docs)


def split_sentences(text: str, *, preprocessed: bool) -> list[str]:
    """Sentences of a real text; preprocessed (punctuation-free) text is cut into 12-24 words."""
    if preprocessed:
        words = text.split()
        out, i, size = [], 0, 12
        while i < len(words):
            out.append(" ".join(words[i:i + size]))
            i += size
            size = 12 + (size * 7 + 5) % 13  # a fixed cycle of run lengths in 12..24
        return [s for s in out if len(s.split()) >= 3]
    out = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        out.extend(s.strip() for s in _SENTENCE_END.split(line))
    return [s for s in out if len(s.split()) >= 3]


def load_pool(data: Path = DATA) -> Pool:
    """The sentence pool from the real corpora, by source."""
    sources: dict[str, list[RealDoc]] = {}
    lengths: list[int] = []
    for path in real_corpus_paths(data):
        name = path.parent.name
        preprocessed = name == "nfcorpus"
        docs = []
        for rec in iter_jsonl(path):
            text = rec.get("text") or ""
            if not text.strip():
                continue
            lengths.append(len(text.encode("utf-8")))
            sentences = split_sentences(text, preprocessed=preprocessed)
            if not sentences:
                continue
            title = " ".join((rec.get("title") or "").split())
            if not title:
                title = " ".join(text.split()[:8])
                title = title[:1].upper() + title[1:]
            docs.append(RealDoc(title, tuple(sentences)))
        sources[name] = docs
    return Pool(sources, lengths)


def make_doc(pool: Pool, n: int, seed: int = DEFAULT_SEED) -> dict:
    """Document number n of the scale corpus (see the module docstring)."""
    rng = random.Random(f"healthsearch-scale:{seed}:{n}")
    names = pool.names
    source = pool.sources[rng.choices(names, weights=pool.weights)[0]]
    topic = rng.choice(source)
    target = min(MAX_BYTES, max(MIN_BYTES, rng.choice(pool.lengths)))
    sentences = [topic.sentences[0]]
    size = len(sentences[0]) + 1
    nxt = 1
    while size < target and len(sentences) < 400:
        if nxt < len(topic.sentences) and rng.random() < TOPIC_CONTINUE:
            sentence = topic.sentences[nxt]
            nxt += 1
        else:
            sentence = rng.choice(rng.choice(source).sentences)
        sentences.append(sentence)
        size += len(sentence) + 1
    paragraphs, i = [], 0
    while i < len(sentences):
        k = rng.randint(2, 5)
        paragraphs.append(" ".join(sentences[i:i + k]))
        i += k
    return {
        "id": f"scale-{n:07d}",
        "title": topic.title,
        "text": "\n\n".join(paragraphs),
        "url": f"https://example.org/articles/{n}",
    }


def shard_path(k: int) -> Path:
    """The file of shard number k."""
    return SHARDS / f"shard-{k:05d}.jsonl"


def shard_lines(pool: Pool, k: int, seed: int = DEFAULT_SEED) -> Iterator[str]:
    """The JSON lines of shard k."""
    for n in range(k * SHARD_DOCS, (k + 1) * SHARD_DOCS):
        yield json.dumps(make_doc(pool, n, seed), ensure_ascii=False) + "\n"


def _write_shard(pool: Pool, k: int, seed: int) -> int:
    path = shard_path(k)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for line in shard_lines(pool, k, seed):
            f.write(line)
    os.replace(tmp, path)
    return path.stat().st_size


def ensure_shards(count: int, seed: int = DEFAULT_SEED, *, log=print) -> dict:
    """Make sure shards 0..count-1 exist for this generator version and seed; returns the
    manifest. Shards made by another version or seed are all made again."""
    manifest_path = SHARDS / "manifest.json"
    manifest = read_json(manifest_path) or {}
    if (manifest.get("generator_version") != GENERATOR_VERSION
            or manifest.get("seed") != seed or manifest.get("shard_docs") != SHARD_DOCS):
        if SHARDS.exists():
            shutil.rmtree(SHARDS)
        manifest = {"generator_version": GENERATOR_VERSION, "seed": seed,
                    "shard_docs": SHARD_DOCS, "shards": {}}
    SHARDS.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = manifest.setdefault("shards", {})
    todo = [k for k in range(count)
            if not shard_path(k).is_file() or shard_path(k).stat().st_size != sizes.get(
                shard_path(k).name)]
    if todo:
        started = time.perf_counter()
        log(f"generating {len(todo)} shards of {SHARD_DOCS} documents (seed {seed})")
        pool = load_pool()
        for i, k in enumerate(todo, 1):
            sizes[shard_path(k).name] = _write_shard(pool, k, seed)
            if i % 25 == 0 or i == len(todo):
                log(f"  {i}/{len(todo)} shards, {time.perf_counter() - started:.0f}s")
                write_json(manifest_path, manifest)
        write_json(manifest_path, manifest)
    return manifest


def ensure_corpus(docs: int, seed: int = DEFAULT_SEED, *, log=print) -> Path:
    """The folder of the scale corpus of `docs` documents (a multiple of SHARD_DOCS), made
    once: hard links to the first docs/SHARD_DOCS shards."""
    if docs % SHARD_DOCS:
        raise ValueError(f"scale corpora come in multiples of {SHARD_DOCS} documents")
    count = docs // SHARD_DOCS
    ensure_shards(count, seed, log=log)
    folder = CORPUS_ROOT / f"scale-{label_of(docs)}"
    link_shards(folder, count)
    return folder


def link_shards(folder: Path, count: int) -> None:
    """Make `folder` hold exactly hard links to shards 0..count-1 (replacing stale files)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {shard_path(k).name: shard_path(k) for k in range(count)}
    for existing in folder.iterdir():
        if existing.name not in wanted:
            existing.unlink()
    for name, src in wanted.items():
        dst = folder / name
        try:
            if dst.stat().st_ino == src.stat().st_ino:
                continue
            dst.unlink()
        except FileNotFoundError:
            pass
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)


def change_docs(folder: Path, numbers: list[int], revision: int) -> int:
    """Edit documents in place in a corpus folder, as an editor would: each named document's
    text gains a closing paragraph. Each touched shard is rewritten to a new file renamed
    over the old one, so a hard-linked original shard is never modified. Returns the count."""
    by_shard: dict[int, set[int]] = {}
    for n in numbers:
        by_shard.setdefault(n // SHARD_DOCS, set()).add(n % SHARD_DOCS)
    changed = 0
    for k, rows in sorted(by_shard.items()):
        path = folder / shard_path(k).name
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        for row in sorted(rows):
            rec = json.loads(lines[row])
            rec["text"] += (f"\n\nReviewed in revision {revision}: the information on "
                            f"{rec['title']} was checked again by the editors.")
            lines[row] = json.dumps(rec, ensure_ascii=False) + "\n"
            changed += 1
        tmp = folder / f".{path.name}.tmp"
        tmp.write_text("".join(lines), encoding="utf-8")
        os.replace(tmp, path)
    return changed


def describe(folder: Path) -> dict:
    """Documents, bytes and mean text length of a corpus folder (read from its files)."""
    docs = 0
    text_bytes = 0
    file_bytes = 0
    files = sorted(folder.glob("*.jsonl"))
    for path in files:
        file_bytes += path.stat().st_size
        for rec in iter_jsonl(path):
            docs += 1
            text_bytes += len(rec["text"].encode("utf-8"))
    return {"docs": docs, "files": len(files), "file_mb": round(file_bytes / 1e6, 1),
            "mean_text_bytes": round(text_bytes / max(docs, 1))}


def main(argv: list[str] | None = None) -> None:
    """Command line: make scale corpora ahead of a benchmark run."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", default="10k,100k", help="comma-separated sizes, e.g. 10k,100k,300k")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--describe", action="store_true", help="also count documents and bytes")
    args = ap.parse_args(argv)
    for label in args.docs.split(","):
        folder = ensure_corpus(parse_label(label), args.seed)
        line = f"{label}: {rel(folder)}"
        if args.describe:
            line += f" {describe(folder)}"
        print(line)


if __name__ == "__main__":
    main()
