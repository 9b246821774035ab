"""The Whoosh fixes read segment files exactly as Whoosh's own file objects do."""

from __future__ import annotations

import io
import pickle

from hypothesis import given
from hypothesis import strategies as st
from whoosh.filedb.structfile import BufferFile

from indexer.whoosh_fixes import _ViewFile

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
    payload = pickle.dumps({"postings": list(range(50))})
    backing = bytearray(b"\x00\x00\x00\x07" + payload)
    f = BufferFile(memoryview(backing))
    assert f.read_int() == 7
    assert f.read_pickle() == {"postings": list(range(50))}
    assert not isinstance(f.file, io.BytesIO)
    backing[4:5] = b"\x80"  # a view, not a copy: changes to the map show through
    f.seek(4)
    assert f.read(1) == b"\x80"
