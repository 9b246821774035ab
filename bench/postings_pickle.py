"""Posting blocks pickled as Whoosh does (protocol 2) and as this engine does (protocol 3,
no memo, whole-number weights as ints): size and decoding time over one index's blocks.

    python -m bench.postings_pickle INDEX_DIR [--field body]

Every block of every posting list of the field is read from the index, decoded, pickled
both ways and compressed at the level the index used; then each version is decompressed and
unpickled in full, as a search decodes a posting list. Prints one line per encoding.
"""

from __future__ import annotations

import argparse
import pickle
import time
import zlib
from collections.abc import Iterator

from whoosh.codec.whoosh3 import W3LeafMatcher

from indexer.storage import IndexStore
from indexer.storage.codec import _whole_weights, open_index, postings_pickle
from indexer.storage.schema import build_schema


def raw_blocks(index_dir: str, field: str) -> Iterator[tuple[bytes, int]]:
    """(stored bytes, zlib level) of every posting block of `field` in the index."""
    ix = open_index(IndexStore(index_dir).current_path(), build_schema(), use_mmap=True)
    with ix.reader() as reader:
        for segment, _ in reader.leaf_readers():
            if field not in segment.indexed_field_names():
                continue
            for term in segment.lexicon(field):
                m = segment._terms.matcher(field, term, segment.schema[field].format)
                if not isinstance(m, W3LeafMatcher):
                    continue  # inlined in the term index: not a block
                while True:
                    yield bytes(m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset)), \
                        m._compression
                    if m._lastblock:
                        break
                    m._goto(m._nextoffset)


def _whooshs(data: tuple, shared: dict) -> bytes:
    # As Whoosh's writer pickles a block: weights are floats (an array of them), and the
    # positions of one-position postings are one shared object each (indexer.storage.schema encodes
    # them once), which protocol 2's memo writes once per block.
    ids, weights, values = data
    if isinstance(weights, tuple):
        weights = tuple(map(float, weights))
    if values:
        values = tuple(shared.setdefault(v, v) for v in values)
    return pickle.dumps((ids, weights, values), 2)


def _ours(data: tuple) -> bytes:
    ids, weights, values = data
    if isinstance(weights, tuple):
        weights = _whole_weights(weights)
    return postings_pickle((ids, weights, values))


def compare(index_dir: str, field: str = "body") -> dict[str, dict[str, float]]:
    """Per encoding: blocks, raw and compressed MB, and seconds to decompress and unpickle
    them all."""
    blocks = [(pickle.loads(zlib.decompress(raw) if level else raw), level or 3)
              for raw, level in raw_blocks(index_dir, field)]
    out = {}
    shared: dict[bytes, bytes] = {}
    for name, dump in (("protocol 2 (Whoosh)", lambda d: _whooshs(d, shared)),
                       ("protocol 3, no memo (ours)", _ours)):
        plain = [(dump(data), level) for data, level in blocks]
        packed = [zlib.compress(p, level) for p, level in plain]
        started = time.perf_counter()
        for p in packed:
            pickle.loads(zlib.decompress(p))
        out[name] = {"blocks": len(packed), "raw_mb": sum(len(p) for p, _ in plain) / 1e6,
                     "compressed_mb": sum(map(len, packed)) / 1e6,
                     "decode_s": time.perf_counter() - started}
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the comparison for one index."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir")
    parser.add_argument("--field", default="body")
    opts = parser.parse_args(argv)
    for name, r in compare(opts.index_dir, opts.field).items():
        print(f"{name}: {r['blocks']:,} blocks, raw {r['raw_mb']:.2f} MB, compressed "
              f"{r['compressed_mb']:.2f} MB, decompress + unpickle {r['decode_s']:.3f} s")


if __name__ == "__main__":
    main()
