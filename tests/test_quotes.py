"""Quotes typed inside a natural question are punctuation; in keywords or beside other search
syntax they are an exact phrase (indexer.query.cleaning.quotes_are_syntax)."""

from __future__ import annotations

import pytest

from bench.quotes import questions
from indexer.query import QueryBuilder
from indexer.query.cleaning import uses_syntax
from indexer.text.synonyms import SynonymTable


@pytest.mark.parametrize("question", [
    'can I take "fluoxetine" with food?',  # a question mark
    'what does "PRN" mean',  # a question word first
    'How to prevent Parasites - Lice - Pubic "Crab" Lice ?',
    'my doctor said "water pill" for swelling, which one is it',  # a sentence
    'Is "dutched" cocoa OK',
])
def test_quotes_in_a_question_are_punctuation(question):
    assert not uses_syntax(question)
    assert not QueryBuilder().build(question).syntax


@pytest.mark.parametrize("query", [
    '"heart attack"',
    '"heart attack" symptoms',
    'Parasites - Lice - Pubic "Crab" Lice',  # keywords: four words beside the quotes
    'what is "heart attack" -angina',  # other syntax: the reader writes search syntax
    'can I take "fluoxetine" AND alcohol',
    'title:"heart attack"',
])
def test_quotes_in_keywords_or_beside_other_syntax_are_a_phrase(query):
    assert uses_syntax(query)
    assert QueryBuilder().build(query).syntax


def test_a_quoted_word_in_a_question_is_expanded_like_any_other_word():
    table = SynonymTable.load()
    parsed = QueryBuilder(table).build('my doctor said take "flomax" what is it')
    assert ("flomax", "tamsulosin") in parsed.expansions
    keywords = QueryBuilder(table).build('"water pill" furosemide')
    assert keywords.syntax and ("water pill", "diuretics") not in keywords.expansions


@pytest.mark.parametrize(("question", "answer"), questions())
def test_a_quoted_question_ranks_its_answer_as_the_unquoted_question_does(
        medicines_engine, question, answer):
    quoted = medicines_engine.rank(question, limit=10)
    unquoted = medicines_engine.rank(question.replace('"', ""), limit=10)
    assert quoted[0][0] == unquoted[0][0] == answer
    # The same words, the same stages; only the meaning model sees the quote characters.
    assert quoted[0][1] == pytest.approx(unquoted[0][1], rel=0.02)
