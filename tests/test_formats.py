"""Reading each corpus format into article records: pure functions, no index."""

from __future__ import annotations

import gzip
import json

import pytest

from indexer.corpus.article import TEASER, derive_title, make_entry
from indexer.corpus.formats import (
    FormatError,
    parse_digest,
    parse_health_xml,
    parse_html,
    parse_jsonl,
)
from indexer.corpus.reading import SourceFile, read_file
from tests.conftest import CORPUS, DATA, FIXTURES, SEED_QUESTION, need


def test_html_title_comes_from_h1_and_body_drops_page_furniture():
    entry = parse_html((FIXTURES / "page.html").read_bytes(), id="shin", source="page.html")
    assert entry.title == "Shin splints & tibial stress"
    assert "pain along the tibia — the large front bone" in entry.body
    for furniture in ("tracking", "Home", "Advertisement", "Subscribe", "Copyright",
                      "document.write", "editor's note", "color: red"):
        assert furniture not in entry.body
    assert entry.description == "What causes shin splints & how to treat them."
    assert entry.url == "https://example.org/shin-splints"


def test_html_keeps_paragraph_and_list_boundaries():
    entry = parse_html((FIXTURES / "page.html").read_bytes(), id="shin", source="page.html")
    paragraphs = entry.body.split("\n\n")
    assert "They are common in runners and dancers." in paragraphs
    assert "Rest" in paragraphs and "Ice" in paragraphs


def test_html_title_falls_back_to_og_title_then_title_tag():
    og = b'<html><head><meta property="og:title" content="OG title"><title>T</title></head>' \
         b"<body><p>Text here.</p></body></html>"
    assert parse_html(og, id="a", source="a").title == "OG title"
    plain = b"<html><head><title>Only title</title></head><body><p>Text.</p></body></html>"
    assert parse_html(plain, id="b", source="b").title == "Only title"


def test_windows_1252_file_is_decoded_not_crashed_on():
    entry = parse_html((FIXTURES / "cp1252.html").read_bytes(), id="c", source="c")
    assert entry.title == "Café au lait spots"
    assert "birthmarks – naïve parents" in entry.body


def test_html_of_only_scripts_is_rejected_with_a_reason():
    with pytest.raises(FormatError, match="no article text"):
        parse_html(b"<html><script>x()</script><style>p{}</style></html>", id="s", source="s")


def test_seed_digest_gives_one_article_fifteen_teasers_and_the_question():
    digest = parse_digest((CORPUS / "seed-digest.txt").read_text(), id_prefix="seed",
                          source="seed-digest.txt")
    kinds = [e.kind for e in digest.entries]
    assert kinds.count("article") == 1 and kinds.count("teaser") == 15
    assert digest.questions == [SEED_QUESTION]
    article = next(e for e in digest.entries if e.kind == "article")
    assert not article.body.endswith("|")
    assert "hamstrings" in article.title
    assert len({e.id for e in digest.entries}) == 16


def test_question_lines_are_not_entries():
    digest = parse_digest(">>: what is gout\nGout is a kind of arthritis that cau...\n",
                          id_prefix="d", source="d")
    assert [e.body for e in digest.entries] == ["Gout is a kind of arthritis that cau…"]
    assert all("what is gout" not in e.body for e in digest.entries)


def test_teaser_title_is_its_opening_sentence():
    assert derive_title("Renal hamartoma is a relatively common disease. I...") == \
        "Renal hamartoma is a relatively common disease"
    entry = make_entry(id="t", title=None, body="Many people suffer from insomnia due to work "
                       "pres...", source="s")
    assert entry.kind == TEASER
    assert entry.title == "Many people suffer from insomnia due to work"


def test_teaser_indexed_body_leaves_out_the_cut_off_fragment():
    entry = make_entry(id="t", title=None, body="Gastric cancer refers to a malignant tumor "
                       "that o...", source="s")
    assert entry.indexed_body == "Gastric cancer refers to a malignant tumor that"
    assert entry.body.endswith("that o…")


def test_plain_text_file_is_one_article_with_its_first_line_as_title():
    digest = parse_digest("Gout\n\nGout is a form of arthritis.\nIt hurts.\n", id_prefix="g",
                          source="g.txt")
    assert len(digest.entries) == 1
    assert digest.entries[0].title == "Gout"
    assert digest.entries[0].body == "Gout is a form of arthritis. It hurts."


def test_jsonl_reads_id_or__id_and_reports_bad_lines():
    lines = [
        json.dumps({"id": "a1", "title": "Asthma", "text": "Asthma narrows the airways."}),
        "{not json",
        json.dumps({"_id": "b2", "title": "", "text": "Bronchitis inflames the bronchi."}),
        json.dumps({"title": "no id", "text": "x"}),
        json.dumps({"id": "c3", "text": ""}),
        json.dumps([1, 2]),
    ]
    items = list(parse_jsonl(lines, source="f.jsonl"))
    entries = [i for i in items if hasattr(i, "body")]
    errors = [i for i in items if not hasattr(i, "body")]
    assert [e.id for e in entries] == ["a1", "b2"]
    assert entries[1].title == "Bronchitis inflames the bronchi"
    assert [e.where for e in errors] == ["f.jsonl:2", "f.jsonl:4", "f.jsonl:5", "f.jsonl:6"]
    assert "invalid JSON" in errors[0].reason


def test_gzipped_jsonl_file_is_read(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps({"id": "z", "title": "Zinc", "text": "Zinc is a mineral."}) + "\n")
    result = read_file(SourceFile(path, "c"), 10**6)
    assert [e.id for e in result.entries] == ["z"] and not result.skips


def test_truncated_gzip_keeps_the_records_before_the_break(tmp_path):
    path = tmp_path / "t.jsonl.gz"
    rows = "".join(json.dumps({"id": f"d{i}", "text": f"Disease number {i} " * 50}) + "\n"
                   for i in range(200))
    data = gzip.compress(rows.encode())
    path.write_bytes(data[: len(data) // 2])
    result = read_file(SourceFile(path, "t"), 10**7)
    assert 0 < len(result.entries) < 200
    assert any("truncated" in s.reason for s in result.skips)


def test_medquad_xml_focus_is_title_answers_are_body_and_questions_head_them():
    path = need(DATA / "medquad" / "xml_sample" / "1_CancerGov_QA" / "0000001_4.xml")
    entry = parse_health_xml(path.read_bytes(), id="x", source=str(path))
    assert entry.title == "Chronic Myelogenous Leukemia"
    assert entry.id == "CancerGov-0000001_4"
    assert entry.url.startswith("https://www.cancer.gov/")
    assert "bone marrow makes too many white blood cells" in entry.body
    # The questions are headings for the page, not indexed text.
    assert "What is (are)" not in entry.body
    assert entry.headings[0] == (0, "What is Chronic Myelogenous Leukemia?")
    paragraphs = entry.body.split("\n\n")
    assert all(0 <= n < len(paragraphs) for n, _ in entry.headings)


def test_a_jsonl_record_with_one_question_per_answer_gets_them_as_headings():
    record = {"id": "GHR-1", "title": "Gout", "text": "Gout is arthritis.\n\nIt runs in families.",
              "questions": [{"question": "What is (are) Gout ?"},
                            {"question": "Is Gout inherited ? ?"}]}
    [entry] = parse_jsonl([json.dumps(record)], source="x.jsonl")
    assert entry.body == "Gout is arthritis.\n\nIt runs in families."
    assert entry.headings == ((0, "What is Gout?"), (1, "Is Gout inherited?"))


def test_a_jsonl_record_whose_questions_do_not_match_its_answers_gets_no_headings():
    record = {"id": "GHR-2", "title": "Gout", "text": "One answer only.",
              "questions": [{"question": "What is Gout?"}, {"question": "Who gets it?"}]}
    [entry] = parse_jsonl([json.dumps(record)], source="x.jsonl")
    assert entry.headings == ()


def test_medquad_xml_without_answers_is_skipped_with_reason():
    path = need(DATA / "medquad" / "xml_sample" / "10_MPlus_ADAM_QA" / "0000005.xml")
    with pytest.raises(FormatError, match="no answer text"):
        parse_health_xml(path.read_bytes(), id="x", source=str(path))


def test_malformed_xml_is_a_format_error():
    with pytest.raises(FormatError, match="malformed XML"):
        parse_health_xml(b"<Document><Focus>x</Document>", id="x", source="x")
