"""What the engine makes of a reader's query: the words and phrases to score (`Clause`), and,
for search syntax, which documents may match at all (a tree of `Term`, `Phrase`, `AllOf`,
`AnyOf`, `Without` and `Everything`). Pure data: the parser builds them, the ranking reads
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Clause:
    """One part of a plain question: a word, or a phrase, and how much it weighs."""

    terms: tuple[str, ...]
    weight: float = 1.0
    own: bool = True  # the reader's own word (counts for coordination), not an expansion
    # For an expansion: the reader's words it stands for ("gastric" for "stomach"), so that a
    # document with the medical word is not held down for lacking the lay one.
    covers: tuple[str, ...] = ()
    # A word the engine added on its own (feedback): the documents it alone finds are
    # related articles, not matches of the reader's words.
    feedback: bool = False
    # Only these fields (title:word); empty: every searched field.
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Term:
    """Documents holding an index term in a field."""

    fieldname: str
    text: str


@dataclass(frozen=True)
class Phrase:
    """Documents holding index terms side by side in a field."""

    fieldname: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class AllOf:
    """Documents every part matches (AND)."""

    parts: tuple[Match, ...]


@dataclass(frozen=True)
class AnyOf:
    """Documents some part matches (OR)."""

    parts: tuple[Match, ...]


@dataclass(frozen=True)
class Without:
    """Documents `keep` matches and `drop` does not (a AND NOT b; NOT b alone keeps
    `Everything`)."""

    keep: Match
    drop: Match


@dataclass(frozen=True)
class Everything:
    """Every document."""


Match = Term | Phrase | AllOf | AnyOf | Without | Everything


@dataclass
class ParsedQuery:
    """A reader's query as the engine understood it.

    `clauses` are the words and phrases to score. With search syntax (`syntax`), `match`
    says which documents may match (AND, NOT, phrases, fields) and `clauses` score those.
    `empty`: nothing searchable is left (only stop words, or nothing at all).
    """

    text: str
    empty: bool = True
    match: Match | None = None
    terms: dict[str, float] = field(default_factory=dict)
    clauses: list[Clause] = field(default_factory=list)
    own: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    expansions: list[tuple[str, str]] = field(default_factory=list)
    # What lay phrases the reader typed name in medical words ("can't sleep": insomnia):
    # an article with that title is one the reader named.
    names: list[str] = field(default_factory=list)
    syntax: bool = False
    message: str | None = None
