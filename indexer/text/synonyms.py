"""Lay and medical words: a synonym table that expands a reader's query at search time.

Keys are matched on the query's words as typed (stemmed, stop words kept, so "can't sleep"
is a phrase of its own); expansions are the analysed terms of the other wording, searched as
a phrase when they have several words.

Medicines' names (`indexer.text.drugs`) are part of the table: a brand name or another
spelling is also searched as the generic name ("flomax": tamsulosin), a generic as its
well-known brands ("fluoxetine": prozac), and a misspelled name as the medicine it names
("singular 10 mg": Singulair, montelukast).
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from indexer.text.analysis import TOKEN_PATTERN, analyze, stem
from indexer.text.drugs import WELL_KNOWN, DrugIndex, drug_names
from indexer.text.spelling import english_words

MAX_KEY_WORDS = 5
MAX_EXPANSION_TERMS = 4


ACRONYM = re.compile(r"[A-Z][A-Z0-9]{1,5}")
ACRONYM_KEY = "="  # marks a key to match as written, in capitals


def is_acronym(text: str) -> bool:
    """True for a short all-capitals word such as "COPD" or "ACG1A"."""
    return bool(ACRONYM.fullmatch(text.strip()))


# Where a pair came from, for a medicine's name (`Expansion.origin`): a name to its generic,
# a generic to a well-known brand, and a misspelled name to the medicine it names.
DRUG_NAME = "drugs:name"
DRUG_BRAND = "drugs:brand"
DRUG_MISREAD = "drugs:misread"


# Negations typed with or without the apostrophe ("can't", "cant", "cannot"), and
# possessives ("athlete's foot", "athletes foot"): readers drop apostrophes.
_NEGATION = re.compile(r"\b(can|won|don|doesn|didn|isn|aren|wasn|weren|couldn|shouldn|wouldn"
                       r"|haven|hasn|hadn)'?t\b|\b(can)not\b", re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?<=\w)'s\b", re.IGNORECASE)


def negations_in(text: str) -> set[str]:
    """The negations of a text, lower-cased, however they are typed ("cant", "can't",
    "cannot")."""
    return {m.group().lower() for m in _NEGATION.finditer(text.replace("’", "'"))}


def _without_apostrophes(text: str) -> str:
    text = _POSSESSIVE.sub("", text.replace("’", "'"))
    return _NEGATION.sub(lambda m: f"{m.group(1) or m.group(2)} not", text)


def surface_key(text: str) -> tuple[str, ...]:
    """The words of a text for matching synonym keys: lowercased, stemmed, stop words kept,
    a negation as "not" however it is typed ("can't", "cant", "cannot" -> "can", "not") and
    possessives without their "'s"."""
    return tuple(stem(w.lower()) for w in TOKEN_PATTERN.findall(_without_apostrophes(text)))


def exact_key(text: str) -> tuple[str, ...]:
    """The words of a text as written, lower-cased: how a medicine's name is matched."""
    return tuple(w.lower() for w in TOKEN_PATTERN.findall(_without_apostrophes(text)))


@dataclass(frozen=True)
class Expansion:
    """Another wording for a phrase the reader typed, and where that pair came from."""

    terms: tuple[str, ...]
    label: str
    origin: str

    @property
    def lay(self) -> bool:
        """True for the curated lay-to-medical list, False for a medical synonym table."""
        return not self.origin.startswith("medquad") and not self.drug

    @property
    def drug(self) -> bool:
        """True for another name of the same medicine (brand, generic, misspelling)."""
        return self.origin.startswith("drugs:")

    @property
    def names_medicine(self) -> bool:
        """True when the expansion is the medicine the reader's words name (a brand's
        generic, or what a misspelling means), not a brand added to a generic."""
        return self.drug and self.origin != DRUG_BRAND


@dataclass
class SynonymTable:
    """Phrase -> other wordings, built from one or more sources."""

    entries: dict[tuple[str, ...], set[Expansion]] = field(default_factory=dict)
    # With the medicines' names (`add_drugs`): their entries and misspellings are read on
    # the first query, once per process.
    drugs: bool = False

    def add(self, phrase: str, other: str, origin: str, exact: bool = False) -> None:
        """Record that `other` may stand for `phrase` in a query.

        An acronym ("AAA", "COPD") is matched only where the reader wrote it in capitals:
        lower-cased, many are everyday words ("AR" is what "are" stems to). With `exact`,
        the phrase is matched as written, lower-cased but not stemmed (`exact_key`).
        """
        key = (exact_key(phrase) if exact else (ACRONYM_KEY + phrase.strip(),)
               if is_acronym(phrase) else surface_key(phrase))
        terms = tuple(analyze(other))
        if not key or not terms or len(key) > MAX_KEY_WORDS or len(terms) > MAX_EXPANSION_TERMS:
            return
        if set(terms) >= set(analyze(phrase)):
            # Every word of the phrase is in the other wording: it names something narrower
            # ("diabetes" -> "diabetes mellitus"), and would only pull longer names ahead of
            # the article about the phrase itself.
            return
        self.entries.setdefault(key, set()).add(Expansion(terms, other.strip(), origin))

    def __len__(self) -> int:
        drugs = sum(len(v) for v in _drug_entries().values()) if self.drugs else 0
        return sum(len(v) for v in self.entries.values()) + drugs

    def _lookup(self, key: tuple[str, ...], exact: tuple[str, ...]
                ) -> set[Expansion] | frozenset[Expansion]:
        found = self.entries.get(key, frozenset())
        if self.drugs:
            drugs = _drug_entries().get(exact)
            if drugs:
                found = found | drugs
        return found

    def expand(self, text: str) -> list[tuple[str, Expansion]]:
        """The expansions for a query: (matched phrase as typed, expansion), longest phrases
        first, each word of the query used by one phrase at most; then the medicines' names
        the other words misspell."""
        typed = TOKEN_PATTERN.findall(text)
        # Each word as matched ("cant" -> "can", "not"), and the typed word it came from.
        raw: list[str] = []
        origin: list[int] = []
        for k, token in enumerate(typed):
            parts = TOKEN_PATTERN.findall(_without_apostrophes(token))
            raw.extend(parts)
            origin.extend([k] * len(parts))
        words = tuple(stem(w.lower()) for w in raw)
        lower = tuple(w.lower() for w in raw)
        out: list[tuple[str, Expansion]] = []
        used: set[int] = set()
        i = 0
        while i < len(words):
            for n in range(min(MAX_KEY_WORDS, len(words) - i), 0, -1):
                key = words[i:i + n]
                phrase = " ".join(typed[origin[i]:origin[i + n - 1] + 1])
                if n == 1 and is_acronym(raw[i]) and (ACRONYM_KEY + raw[i],) in self.entries:
                    key, phrase = (ACRONYM_KEY + raw[i],), raw[i]
                found = self._lookup(key, lower[i:i + n])
                if found:
                    out.extend((phrase, exp) for exp in sorted(found, key=lambda e: e.terms))
                    used.update(range(i, i + n))
                    i += n
                    break
            else:
                i += 1
        if self.drugs:
            for found in DrugIndex.shipped().misreadings(raw, used):
                for name in found.meant:
                    terms = tuple(analyze(name))
                    if terms:
                        out.append((found.typed, Expansion(terms, name, DRUG_MISREAD)))
        return out

    def add_drugs(self) -> None:
        """Add the medicines' names: each name to its generic, each generic to its
        well-known brands (the shipped table, `indexer.text.drugs`), and misspelled names
        to the medicines they name."""
        self.drugs = True

    @staticmethod
    def warm() -> None:
        """Read the medicines' names (and the English words that tell a split name from two
        words) now, not on a reader's first query (0.3 s)."""
        _drug_entries()
        DrugIndex.shipped()
        english_words()

    @classmethod
    def load(cls, paths: Iterable[Path] = (), curated: bool = True,
             drugs: bool | None = None) -> SynonymTable:
        """The curated lay-to-medical list shipped with the engine and the medicines' names
        (`drugs`; by default with the curated list), plus any MedQuAD-style synonym tables
        (term, |-separated synonyms, ...) found at `paths`."""
        table = cls()
        if curated if drugs is None else drugs:
            table.add_drugs()
        if curated:
            text = resources.files("indexer.text").joinpath("data/lay_terms.tsv").read_text("utf-8")
            for row in csv.reader(text.splitlines(), delimiter="\t"):
                if not row or row[0].startswith("#") or len(row) < 2:
                    continue
                origin = row[2] if len(row) > 2 else "curated"
                for medical in row[1].split("|"):
                    table.add(row[0], medical, origin)
                    # The other way for a lay phrase of several words, searched as a phrase:
                    # "halitosis" also finds an article that says "bad breath".
                    if len(analyze(row[0])) > 1 and not negations_in(row[0]):
                        table.add(medical, row[0], origin)
        for path in paths:
            path = Path(path)
            if not path.is_file():
                continue
            with path.open(encoding="utf-8") as f:
                reader = csv.reader(f, delimiter="\t")
                next(reader, None)
                for row in reader:
                    if len(row) < 2:
                        continue
                    origin = f"medquad:{row[3]}" if len(row) > 3 else "medquad"
                    for synonym in row[1].split("|"):
                        # An acronym is a key (matched in capitals), never an expansion: as
                        # a lower-case word it finds unrelated text ("AE", "SS", "AU").
                        if not is_acronym(row[0]):
                            table.add(synonym, row[0], origin)
                        if not is_acronym(synonym):
                            table.add(row[0], synonym, origin)
        return table


@functools.cache
def _drug_entries() -> dict[tuple[str, ...], frozenset[Expansion]]:
    """The medicines' names as table entries, made once per process (9,000 names)."""
    table = SynonymTable()
    for row in drug_names():
        # As written, not stemmed: stemmed, brands are everyday words ("Evenity" and
        # "evening" both stem to "even", "Pariet" and "parietal" to "pariet").
        table.add(row.name, row.generic, DRUG_NAME, exact=True)
        if row.kind in WELL_KNOWN:
            table.add(row.generic, row.name, DRUG_BRAND, exact=True)
    return {key: frozenset(v) for key, v in table.entries.items()}
