"""The faster segment writer writes the index Whoosh's own writer would, with less work."""

from __future__ import annotations

import random

import pytest
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from indexer.storage import codec
from indexer.storage.codec import read_postings
from indexer.storage.schema import build_schema
from indexer.storage.writer import FastSegmentWriter, segment_codec

WORDS = ("gout tendon cramp calcium insomnia renal gastric tumour fever cough rash asthma "
         "diabetes insulin migraine nausea vitamin sleep pain swelling").split()


@pytest.fixture(autouse=True)
def _codec_fixes():
    """Whoosh's own writer writes as this engine's codec does (the fixes every way into an
    index installs), so the two writers' files can be compared byte for byte."""
    codec.install()


def _docs(n: int, seed: int = 1) -> list[dict]:
    rnd = random.Random(seed)
    return [{"id": f"d{i}", "title": " ".join(rnd.sample(WORDS, 2)),
             "body": " ".join(rnd.choice(WORDS) + rnd.choice(["", "s", "ing"])
                              for _ in range(rnd.randint(5, 60)))} for i in range(n)]


def _write(path, writer_class, docs, **kwargs):
    path.mkdir()
    ix = whoosh_index.create_in(str(path), build_schema())
    writer = writer_class(ix, **kwargs)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    return ix


def _postings(ix, fields=("title", "body")) -> dict:
    """(field, term) -> [(docnum, positions)], or [docnum] for a spelling field."""
    with ix.reader() as reader:
        return {(f, t): (list(reader.postings(f, t).all_ids()) if f.startswith("spell_")
                         else list(reader.postings(f, t).items_as("positions")))
                for f in fields for t in reader.lexicon(f)}


def _raw_terms(ix) -> dict:
    """(field, term) -> (term statistics, the bytes of its posting blocks), read from the
    segment's files as written (the file offset aside: it depends on what came before)."""
    from whoosh.codec.whoosh3 import W3TermInfo

    with ix.reader() as reader:
        terms = reader._terms
        names = {number: name for name, number in terms._fieldmap.items()}
        out = {}
        for key, value in terms._tindex.items():
            info = W3TermInfo.from_bytes(value)
            stats = {k: v for k, v in vars(info).items() if k != "_offset"}
            blocks = (b"" if info.is_inlined() else
                      bytes(terms._postfile.get(info._offset, info._length[0])))
            out[(names[int.from_bytes(key[:2], "big")], key[2:])] = (stats, blocks)
        return out


def _whooshs_own(path, docs):
    """The index Whoosh's own writer makes with the codec settings ours uses."""
    return _write(path, SegmentWriter, docs, codec=segment_codec())


def test_the_index_equals_whooshs_own(tmp_path):
    docs = _docs(300)
    ours = _write(tmp_path / "ours", FastSegmentWriter, docs)
    theirs = _whooshs_own(tmp_path / "theirs", docs)
    assert _postings(ours) == _postings(theirs)
    raw_ours, raw_theirs = _raw_terms(ours), _raw_terms(theirs)
    assert raw_ours.keys() == raw_theirs.keys()
    # Every term of every field but spelling is written byte for byte as Whoosh writes it.
    for key, value in raw_ours.items():
        if not key[0].startswith("spell_"):
            assert value == raw_theirs[key], key
    with ours.reader() as a, theirs.reader() as b:
        for field in ("spell_body", "spell_title"):
            assert set(a.lexicon(field)) == set(b.lexicon(field))


def test_posting_lists_longer_than_a_block_are_written_as_whoosh_writes_them(tmp_path):
    docs = _docs(300, seed=4)
    small = segment_codec(blocklimit=16)  # common words span many blocks
    ours = _write(tmp_path / "ours", FastSegmentWriter, docs, codec=small)
    theirs = _write(tmp_path / "theirs", SegmentWriter, docs, codec=segment_codec(blocklimit=16))
    assert _postings(ours) == _postings(theirs)
    raw_ours, raw_theirs = _raw_terms(ours), _raw_terms(theirs)
    assert max(len(blocks) for _, blocks in raw_ours.values()) > 0
    for key, value in raw_ours.items():
        if not key[0].startswith("spell_"):
            assert value == raw_theirs[key], key
    with ours.reader() as reader:
        assert reader.doc_frequency("body", "gout") > 16


def test_inlined_postings_read_back_as_written_and_old_segments_still_read():
    from pickle import dumps

    from whoosh.codec.whoosh3 import W3TermInfo

    info = W3TermInfo()
    info._weight, info._df, info._maxlength, info._maxweight = 3.5, 2, 12, 2.5
    info._minid, info._maxid = 4, 9
    info.set_inlined([4, 9], [1.0, 2.5], [b"\x00\x00\x00\x01a", b"b"])
    back = W3TermInfo.from_bytes(info.to_bytes())
    assert back.inlined_postings() == ((4, 9), (1.0, 2.5), (b"\x00\x00\x00\x01a", b"b"))
    assert (back.weight(), back.doc_frequency(), back.max_id()) == (3.5, 2, 9)
    # Whoosh's own encoding (pickle protocol 2), as segments written before hold it.
    head = info.to_bytes()[:W3TermInfo._struct.size]
    old = W3TermInfo.from_bytes(head + dumps(info._inlined, 2))
    assert old.inlined_postings() == back.inlined_postings()
    assert len(info.to_bytes()) < len(head + dumps(info._inlined, 2)) - 40


def _weights_and_arrays(ix) -> dict:
    """(field, term) -> (Whoosh's matcher weights, this engine's decoded postings)."""
    with ix.reader() as reader:
        segment = next(iter(reader.leaf_readers()))[0]
        out = {}
        for field in ("title", "body"):
            for term in segment.lexicon(field):
                matcher = segment.postings(field, term)
                weights = []
                while matcher.is_active():
                    weights.append(matcher.weight())
                    matcher.next()
                got = read_postings(segment, field, term.decode("utf-8"))
                out[(field, term)] = (weights, got.docs.tolist(), got.freqs.tolist())
        return out


def test_blocks_written_smaller_read_as_whooshs_own_blocks_do(tmp_path, monkeypatch):
    from whoosh.codec.whoosh3 import W3PostingsWriter

    from indexer.storage.codec import whoosh_write_block

    docs = _docs(300, seed=5)
    ours = _write(tmp_path / "ours", FastSegmentWriter, docs, codec=segment_codec(16))
    # A segment as Whoosh's block writer left it (pickle protocol 2), as older indexes hold.
    monkeypatch.setattr(W3PostingsWriter, "_write_block", whoosh_write_block)
    old = _write(tmp_path / "old", FastSegmentWriter, docs, codec=segment_codec(16))
    assert _postings(ours) == _postings(old)
    assert _weights_and_arrays(ours) == _weights_and_arrays(old)
    assert any(w > 1 for weights, _, _ in _weights_and_arrays(ours).values() for w in weights)

    def postings_bytes(ix):
        return sum(len(blocks) for _, blocks in _raw_terms(ix).values())

    assert postings_bytes(ours) < 0.8 * postings_bytes(old)


def test_each_spelling_word_is_posted_once_per_segment_on_its_first_document(tmp_path):
    docs = [{"id": "a", "title": "Gout", "body": "gout and cramps"},
            {"id": "b", "title": "Cramp", "body": "cramps again, and gout"}]
    ix = _write(tmp_path / "ix", FastSegmentWriter, docs)
    with ix.reader() as reader:
        assert list(reader.postings("spell_body", "cramps").all_ids()) == [0]
        assert list(reader.postings("spell_body", "again").all_ids()) == [1]
        assert list(reader.postings("spell_title", "cramp").all_ids()) == [1]


def test_a_spilled_pool_writes_the_same_index(tmp_path):
    docs = _docs(400, seed=2)
    (tmp_path / "spilled").mkdir()
    spilled = whoosh_index.create_in(str(tmp_path / "spilled"), build_schema())
    writer = FastSegmentWriter(spilled)
    writer.pool.limit = 20_000  # bytes: a run every few documents, merged back at commit
    for doc in docs:
        writer.add_document(**doc)
    assert len(writer.pool.runs) > 10
    writer.commit()
    in_memory = _write(tmp_path / "memory", FastSegmentWriter, docs, limitmb=512)
    theirs = _whooshs_own(tmp_path / "theirs", docs)
    assert _postings(spilled, ("title", "body", "spell_body")) == _postings(
        in_memory, ("title", "body", "spell_body"))
    raw_spilled, raw_theirs = _raw_terms(spilled), _raw_terms(theirs)
    for key, value in raw_spilled.items():
        if not key[0].startswith("spell_"):
            assert value == raw_theirs[key], key


def test_the_pool_holds_a_posting_list_per_term_not_a_tuple_per_posting(tmp_path):
    docs = _docs(200, seed=3)
    (tmp_path / "ix").mkdir()
    writer = FastSegmentWriter(whoosh_index.create_in(str(tmp_path / "ix"), build_schema()))
    for doc in docs:
        writer.add_document(**doc)
    terms = writer.pool._terms
    with_gout = terms["body"][b"gout"][0]
    assert list(with_gout) == sorted(with_gout) and len(with_gout) > 100
    writer.cancel()


def test_the_vocabulary_survives_deleting_the_first_document_and_merging(tmp_path):
    docs = [{"id": "first", "title": "Note", "body": "insomnia"},
            {"id": "second", "title": "Note", "body": "insomnia and asthma"}]
    ix = _write(tmp_path / "ix", FastSegmentWriter, docs)
    writer = FastSegmentWriter(ix)
    writer.delete_by_term("id", "first")
    writer.add_document(id="third", title="Note", body="fever")
    writer.commit(optimize=True)  # one segment: the old one merged without its first document
    with ix.reader() as reader:
        assert {b"insomnia", b"asthma", b"fever"} <= set(reader.lexicon("spell_body"))


def test_a_word_in_one_document_lives_in_the_term_index_and_is_found(tmp_path):
    docs = [{"id": "a", "title": "Gout", "body": "gout and tophi"},
            {"id": "b", "title": "Gout", "body": "gout again"}]
    ix = _write(tmp_path / "ix", FastSegmentWriter, docs)
    with ix.reader() as reader:
        assert reader.term_info("body", "tophi")._inlined is not None  # no postings block
        assert reader.term_info("body", "gout")._inlined is None
        assert list(reader.postings("body", "tophi").all_ids()) == [0]
    with ix.searcher() as searcher:
        from whoosh.query import Term
        assert [hit["id"] for hit in searcher.search(Term("body", "tophi"))] == ["a"]


def test_one_pass_text_field_indexes_as_whooshs_text_field_does():
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from whoosh.fields import TEXT

    from indexer.storage.schema import HealthText, build_analyzer

    ours = HealthText(analyzer=build_analyzer(), stored=True, spelling=True)
    theirs = TEXT(analyzer=build_analyzer(), stored=True, spelling=True)
    words = st.sampled_from(["Gout", "gout", "the", "tendons", "tendon", "Still's", "can't",
                             "U.S.", "x", "café", "Sjögren", "2", "and", "of", "re-use"])

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(words, st.sampled_from([" ", ". ", ", ", "\n", "-"])),
                    max_size=40))
    def check(parts):
        text = "".join(w + s for w, s in parts)
        assert sorted(ours.index(text)) == sorted(theirs.index(text))
        assert list(ours.spellable_words(text)) == list(theirs.spellable_words(text))

    check()


def test_positions_are_encoded_as_whoosh_encodes_them():
    from whoosh.formats import Positions

    from indexer.storage.schema import encode_positions

    for positions in ([0], [3], [0, 1, 2], [5, 9, 200, 70000]):
        assert encode_positions(positions) == Positions().encode(positions)


def test_hash_files_written_with_packed_buckets_equal_whooshs_own():
    from whoosh.filedb.filestore import RamStorage
    from whoosh.filedb.filetables import OrderedHashReader, OrderedHashWriter

    from indexer.storage.codec import PackedBucket

    storage = RamStorage()

    def write(name: str, packed: bool) -> bytes:
        writer = OrderedHashWriter(storage.create_file(name))
        assert isinstance(writer.buckets[0], PackedBucket)
        if not packed:
            writer.buckets = [[] for _ in range(256)]  # Whoosh's own lists of tuples
        for n in range(3000):
            writer.add(f"key{n:05d}".encode(), f"value {n}".encode())
        writer.close()
        return storage.files[name]

    assert write("packed", True) == write("tuples", False)
    reader = OrderedHashReader.open(storage, "packed")
    assert reader[b"key01234"] == b"value 1234"
    assert reader.closest_key(b"key01234x") == b"key01235"
