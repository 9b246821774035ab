"""One result per subject: ranked hits grouped the way a reader should see them.

Several publishers often have a page on one subject ("High Blood Pressure" from
NIHSeniorHealth, NHLBI and MedlinePlus), and sibling pages of one publisher repeat the same
sentences. A reader wants one result for the subject, with the others listed under it. Two
hits are one result when

- their titles name the same subject (`indexer.corpus.article.subject_key`: the same words,
  whatever the case, accents and punctuation), or
- their titles name one subject's variants ("Familial hemiplegic migraine", "... type 2":
  one title is the other's, or both are one base title, once a trailing type, number or
  letter is set aside), and they would show the same snippet (the same words, marks and
  ellipses aside): a sibling page that says what the result above it says adds nothing.
  Pages with unrelated titles stay apart, whatever their snippets.

The best-ranked hit of a group leads it; the group takes the leader's place. Pure: the
caller hands in how to read a hit's title and snippet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from indexer.corpus.article import subject_key
from indexer.search.snippets import words_key

Hit = tuple[int, float]


@dataclass
class Group:
    """The hits shown as one result: the leader, then its siblings, best first."""

    hits: list[Hit] = field(default_factory=list)

    @property
    def leader(self) -> Hit:
        """The best-ranked hit of the group."""
        return self.hits[0]


_DESIGNATOR = re.compile(r"(?:\s+(?:type|subtype|form|group|class|[ivx]+|\d+|[a-z]))+$")


def base_subject(subject: str) -> str:
    """A subject without its trailing designators ("familial hemiplegic migraine type 2" ->
    "familial hemiplegic migraine")."""
    return _DESIGNATOR.sub("", subject) or subject


def variants_of_one_subject(a: str, b: str) -> bool:
    """True when two subjects (subject keys) are variants of one: one starts with the other's
    words, or both have one base."""
    a_base, b_base = base_subject(a), base_subject(b)
    return (a_base == b_base or f"{a} ".startswith(f"{b} ") or f"{b} ".startswith(f"{a} ")
            or f"{a_base} ".startswith(f"{b_base} ") or f"{b_base} ".startswith(f"{a_base} "))


def snippet_key(snippet_html: str) -> str:
    """What a snippet says: its words, case-folded, without marks, tags or ellipses."""
    return words_key(snippet_html)


def group_hits(hits: Sequence[Hit], title_of: Callable[[int], str],
               snippet_of: Callable[[int], str] | None = None,
               wanted: int | None = None) -> list[Group]:
    """`hits` (document number, score), best first, as groups in the order of their
    leaders: hits whose titles name one subject join the first of them, and (with
    `snippet_of`) a would-be leader whose snippet says what an earlier leader's says joins
    that leader's group. Once `wanted` groups are formed (None: no limit), a later hit only
    joins a group of its subject; the others are left out."""
    groups: list[Group] = []
    by_subject: dict[str, Group] = {}
    # Snippet -> the groups (and their leaders' subjects) whose leader shows it.
    by_snippet: dict[str, list[tuple[str, Group]]] = {}
    for hit in hits:
        subject = subject_key(title_of(hit[0]))
        group = by_subject.get(subject) if subject else None
        full = wanted is not None and len(groups) >= wanted
        if group is None and full:
            continue  # past the last group wanted: only its subjects' siblings still join
        if group is None:
            said = snippet_key(snippet_of(hit[0])) if snippet_of is not None else ""
            group = next((g for other, g in by_snippet.get(said, ())
                          if subject and variants_of_one_subject(subject, other)), None)
            if group is None:
                group = Group()
                groups.append(group)
                if said:
                    by_snippet.setdefault(said, []).append((subject, group))
        if subject:
            by_subject.setdefault(subject, group)
        group.hits.append(hit)
    return groups


def reading_order(groups: Sequence[Group]) -> list[Hit]:
    """The hits as a reader meets them: each group's leader, then its siblings."""
    return [hit for group in groups for hit in group.hits]
