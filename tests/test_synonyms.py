"""The synonym table: lay phrases and medical names a query is expanded with."""

from __future__ import annotations

from indexer.synonyms import SynonymTable


def _labels(table: SynonymTable, text: str) -> set[str]:
    return {exp.label for _, exp in table.expand(text)}


def test_the_curated_list_ships_with_the_engine_and_says_where_each_pair_came_from():
    table = SynonymTable.load()
    assert len(table) > 150
    assert {"gastric cancer", "stomach carcinoma"} <= {e.label for e in table.entries[
        ("stomach", "cancer")]}
    assert all(e.origin for entries in table.entries.values() for e in entries)
    assert all(e.lay for entries in table.entries.values() for e in entries)


def test_an_acronym_matches_only_where_the_reader_wrote_it_in_capitals(tmp_path):
    path = tmp_path / "synonyms.tsv"
    path.write_text("term\tsynonyms\tcuis\tsources\n"
                    "Androgen receptor deficiency\tAR\tC1\tGARD\n"
                    "Abdominal aortic aneurysm\tAAA|Aortic aneurysm, abdominal\tC2\tGARD\n",
                    encoding="utf-8")
    table = SynonymTable.load([path], curated=False)
    assert "Androgen receptor deficiency" in _labels(table, "What is AR ?")
    # "are" stems to "ar": a lower-case word must not fire the acronym.
    assert _labels(table, "What are the symptoms ?") == set()
    assert "Abdominal aortic aneurysm" in _labels(table, "AAA repair")
    # An acronym is never an expansion: as a word it would find unrelated text.
    assert "AAA" not in _labels(table, "abdominal aortic aneurysm")
    assert all(not e.lay for entries in table.entries.values() for e in entries)


def test_longest_phrase_wins_and_each_word_is_used_once():
    table = SynonymTable.load()
    phrases = [phrase for phrase, _ in table.expand("stomach cancer")]
    assert phrases and set(phrases) == {"stomach cancer"}
