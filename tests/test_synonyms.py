"""The synonym table: lay phrases and medical names a query is expanded with."""

from __future__ import annotations

from indexer.text.synonyms import SynonymTable


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


def test_apostrophes_may_be_left_out_of_a_lay_phrase():
    table = SynonymTable.load()
    for typed in ("can't sleep", "cant sleep", "can’t sleep", "I cannot sleep"):
        assert "insomnia" in _labels(table, typed), typed
    for typed in ("athlete's foot", "athletes foot"):
        assert "tinea pedis" in _labels(table, typed), typed
    assert "insomnia" not in _labels(table, "can sleep")


def test_an_expansion_names_the_words_as_the_reader_typed_them():
    table = SynonymTable.load()
    assert [phrase for phrase, _ in table.expand("Shingles and piles")] == ["Shingles", "piles"]


def test_a_wording_that_only_adds_words_is_not_an_expansion():
    table = SynonymTable.load()
    assert _labels(table, "diabetes") == set()  # "diabetes mellitus" names something narrower
    assert _labels(table, "sugar diabetes") == {"diabetes mellitus"}
    assert "tinea pedis" in _labels(table, "athlete's foot")
