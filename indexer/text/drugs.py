"""Names of medicines as readers type them: brand names, other spellings and common
misspellings, each with the generic name articles use. Pure: no index.

The table (`data/drug_names.tsv`) is made by tools/build_drug_names.py from the dictionary of
the PyPI package drug-named-entity-recognition (MIT; see the table's header for its sources).
It is read once per process, on first use (about 9,000 names); if it cannot be read, that is
said once and queries are searched without drug names.

Beyond the table's exact names, three misreadings of a medicine's name are recognised:

- a word right before a dose is a medicine ("singular 10 mg": Singulair, one edit away);
- two words that join into a medicine's name, give or take one edit, where one of them is no
  English word ("level iracetam": levetiracetam);
- a vitamin written with or without its hyphen or space ("B12", "B-12", "B 12"), and "vit"
  for vitamin.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from indexer.text.analysis import STOP_WORDS
from indexer.text.spelling import (
    MIN_WORD_LEN,
    Vocabulary,
    edit_distance,
    english_words,
    max_edits,
)

DATA_FILE = "data/drug_names.tsv"
# Kinds of name whose generic is also searched under them (generic -> brand): the package's
# marked brands and the names common enough to be in the English word list.
WELL_KNOWN = frozenset({"brand", "common"})
# A dose after a word: "10 mg", "10mg", "0.5 ml", "200 IU", "2 tablets".
_UNITS = r"(?:mg|mcg|µg|ug|g|ml|iu|units?|milligrams?|micrograms?|tablets?|tabs?|pills?|caps?)"
_DOSE_GLUED = re.compile(r"\d+(?:\.\d+)?" + _UNITS, re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_UNIT = re.compile(_UNITS, re.IGNORECASE)
# Vitamins named by a letter and a number, which articles write "B12", "B-12" or "B 12".
VITAMINS = frozenset("b1 b2 b3 b5 b6 b7 b9 b12 d2 d3 k1 k2".split())
# A split name joins into at least this many letters: shorter joins are ordinary words.
MIN_JOINED = 8
VITAMIN_ABBREVIATIONS = frozenset({"vit", "vits"})


@dataclass(frozen=True)
class DrugName:
    """A name readers use for a medicine and the generic name articles use."""

    name: str
    generic: str
    kind: str  # brand, common or other (see tools/build_drug_names.py)


@dataclass(frozen=True)
class Misreading:
    """Words of a query read as a medicine: where they start, how many, the typed words, the
    name meant, and why (dose, split or form)."""

    start: int
    length: int
    typed: str
    meant: tuple[str, ...]
    reason: str


@functools.cache
def drug_names() -> tuple[DrugName, ...]:
    """The shipped table, read once; empty (said once, in the log) when it cannot be read."""
    try:
        text = resources.files("indexer.text").joinpath(DATA_FILE).read_text("utf-8")
    except (OSError, UnicodeDecodeError, ModuleNotFoundError) as exc:
        logging.getLogger(__name__).warning(
            "Drug name table unavailable (%s: %s): brand names are searched as typed",
            type(exc).__name__, exc)
        return ()
    rows = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            rows.append(DrugName(parts[0], parts[1], parts[2]))
    return tuple(rows)


class DrugIndex:
    """The medicines' single-word names, for reading misspelled ones."""

    def __init__(self, names: Sequence[DrugName]):
        self.generic_of: dict[str, str] = {}
        for row in names:
            for name in (row.name, row.generic):
                if name.isalpha():
                    self.generic_of.setdefault(name, row.generic)
        self._vocabulary = Vocabulary.of_words(self.generic_of)

    @classmethod
    @functools.cache
    def shipped(cls) -> DrugIndex:
        """The index of the shipped table (built once per process)."""
        return cls(drug_names())

    def closest(self, word: str, edits: int) -> str | None:
        """The one medicine name within `edits` of the word (None: none, or several
        medicines equally close)."""
        word = word.lower()
        if word in self.generic_of or not word.isalpha():
            return word if word in self.generic_of else None
        found = [(edit_distance(word, c), c) for c in self._vocabulary.near(word, edits)]
        if not found:
            return None
        best = min(d for d, _ in found)
        names = {c for d, c in found if d == best}
        if len({self.generic_of[c] for c in names}) != 1:
            return None
        return min(names)

    def misreadings(self, raw: Sequence[str], taken: set[int] = frozenset()) -> list[Misreading]:
        """The medicine names the words `raw` (as typed, in order) misspell, for the words at
        positions not `taken` by another reading."""
        out: list[Misreading] = []
        used = set(taken)
        for i in range(len(raw)):
            if i in used:
                continue
            found = (self._dose(raw, i) or self._split(raw, i, used) or _form(raw, i, used))
            if found is not None:
                out.append(found)
                used.update(range(found.start, found.start + found.length))
        return out

    def _dose(self, raw: Sequence[str], i: int) -> Misreading | None:
        word = raw[i].lower()
        if word in self.generic_of or not word.isalpha() or not _before_dose(raw, i):
            return None
        name = self.closest(word, max_edits(word))
        if name is None:
            return None
        return Misreading(i, 1, raw[i], _meant(name, self.generic_of[name]), "dose")

    def _split(self, raw: Sequence[str], i: int, used: set[int]) -> Misreading | None:
        if i + 1 >= len(raw) or i + 1 in used:
            return None
        first, second = raw[i].lower(), raw[i + 1].lower()
        joined = first + second
        if len(joined) < MIN_JOINED or not joined.isalpha() or not _split_part(first) \
                or not _split_part(second):
            return None
        # One part is no English word: "level iracetam", not "are sting" or "hay fever".
        if all(len(w) < MIN_WORD_LEN or w in english_words() for w in (first, second)):
            return None
        name = self.closest(joined, 1)
        if name is None:
            return None
        return Misreading(i, 2, f"{raw[i]} {raw[i + 1]}", _meant(name, self.generic_of[name]),
                          "split")


def _split_part(word: str) -> bool:
    """True for a word that may be half of a split name: three letters or more, no stop
    word ("methadone i" is no split name)."""
    return len(word) >= 3 and word not in STOP_WORDS


def _meant(name: str, generic: str) -> tuple[str, ...]:
    return (name,) if name == generic else (name, generic)


def _before_dose(raw: Sequence[str], i: int) -> bool:
    """True when the word after raw[i] is a dose ("10mg", or "10" then "mg")."""
    if i + 1 >= len(raw):
        return False
    after = raw[i + 1]
    if _DOSE_GLUED.fullmatch(after):
        return True
    return bool(_NUMBER.fullmatch(after) and i + 2 < len(raw) and _UNIT.fullmatch(raw[i + 2]))


def _form(raw: Sequence[str], i: int, used: set[int]) -> Misreading | None:
    """A vitamin's other written form: "b12" is also "b 12" (as "B-12" is indexed), "B-12"
    is also "b12"; "vit" is vitamin."""
    word = raw[i].lower()
    if word in VITAMIN_ABBREVIATIONS:
        return Misreading(i, 1, raw[i], ("vitamin",), "form")
    if word in VITAMINS:
        return Misreading(i, 1, raw[i], (f"{word[0]} {word[1:]}",), "form")
    # A letter and a number apart ("B-12", "D 3") name a vitamin after "vitamin", or for
    # the B vitamins alone: "D-2-hydroxyglutaric aciduria" is no vitamin.
    after_vitamin = i > 0 and raw[i - 1].lower() in {"vitamin", *VITAMIN_ABBREVIATIONS}
    if (i + 1 < len(raw) and i + 1 not in used and word + raw[i + 1] in VITAMINS
            and (word == "b" or after_vitamin)):
        return Misreading(i, 2, f"{raw[i]} {raw[i + 1]}", (word + raw[i + 1],), "form")
    return None
