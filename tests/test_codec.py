"""The codec's fixes to Whoosh: installed only when an index is opened, and reading segment
files exactly as Whoosh's own file objects do."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st
from whoosh.filedb.structfile import BufferFile

from indexer.storage import codec
from indexer.storage.codec import _ViewFile
from tests.conftest import ROOT

ops = st.lists(st.one_of(
    st.tuples(st.just("read"), st.integers(-1, 40)),
    st.tuples(st.just("readline"), st.integers(-1, 40)),
    st.tuples(st.just("seek"), st.integers(0, 80)),
    st.tuples(st.just("tell"), st.just(0)),
), max_size=30)


@given(data=st.binary(max_size=64), steps=ops)
def test_view_file_reads_like_bytesio(data, steps):
    ours, theirs = _ViewFile(memoryview(data)), io.BytesIO(data)
    for op, arg in steps:
        if op == "tell":
            assert ours.tell() == theirs.tell()
        elif op == "seek":
            assert ours.seek(arg) == theirs.seek(arg)
        else:
            assert getattr(ours, op)(arg) == getattr(theirs, op)(arg)


def test_buffer_file_reads_from_the_map_without_copying_it():
    codec.install()
    payload = pickle.dumps({"postings": list(range(50))})
    backing = bytearray(b"\x00\x00\x00\x07" + payload)
    f = BufferFile(memoryview(backing))
    assert f.read_int() == 7
    assert f.read_pickle() == {"postings": list(range(50))}
    assert not isinstance(f.file, io.BytesIO)
    backing[4:5] = b"\x80"  # a view, not a copy: changes to the map show through
    f.seek(4)
    assert f.read(1) == b"\x80"


# Every module of the engine, and what each fix replaces in Whoosh.
_PATCH_CHECK = """
import importlib, pkgutil
import indexer
for module in pkgutil.walk_packages(indexer.__path__, "indexer."):
    importlib.import_module(module.name)
from whoosh import multiproc
from whoosh.codec import whoosh3
from whoosh.filedb import filetables, structfile
def fixed():
    return [whoosh3.W3PerDocReader.__dict__.get("_healthsearch_fixed", False),
            structfile.BufferFile.__dict__.get("_healthsearch_fixed", False),
            filetables.HashWriter.__dict__.get("_healthsearch_fixed", False),
            whoosh3.W3PostingsWriter._write_block.__module__ != "whoosh.codec.whoosh3",
            whoosh3.W3TermInfo.to_bytes.__module__ != "whoosh.codec.whoosh3",
            hasattr(whoosh3.W3TermInfo, "set_inline"),
            multiproc.SegmentWriter.__module__ != "whoosh.writing"]
print(fixed())
from indexer.storage import codec
codec.install()
print(fixed()[:6])
"""


def test_importing_the_engine_changes_nothing_in_whoosh_until_an_index_is_opened():
    out = subprocess.run([sys.executable, "-c", _PATCH_CHECK], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True).stdout.splitlines()
    assert out == [str([False] * 7), str([True] * 6)]
