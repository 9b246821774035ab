"""Type-ahead: the phrases readers mean, completed from what they have typed so far.

Candidates are the subjects the articles' titles name ("high blood pressure", "heart
attack"), and the runs of two to four words inside them ("blood pressure") that the titles of
several subjects share, never starting or ending with a stop word. Each weighs the number of
articles whose title holds it, so the phrase most articles are about comes first ("heart
attack" before "heart arrhythmia", never "heart a1c"). A subject that one article is about
leads straight to that article. A single word being typed is also completed from the
titles' and bodies' words (alphabetic words only, the most used first).

The candidates are read from the index's subject column, once per snapshot of the index.
"""

from __future__ import annotations

import heapq
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from itertools import islice

import numpy as np

from indexer.storage import Snapshot
from indexer.text.analysis import STOP_WORDS, term_for_word

# Words gathered before ranking them (enough for a page of completions; each costs a
# document frequency lookup).
MAX_CANDIDATES = 60
MAX_PHRASE_WORDS = 4
_WORD = re.compile(r"[^\W\d_]{2,}")  # a word of letters, two or more
# Subject keys drop apostrophes ("alzheimer s disease"): shown as titles write them.
_POSSESSIVE = re.compile(r"(\w) s\b")
_RUN_WORD = re.compile(r"[^\W\d_]{2,}(?:'s)?")
# In an index of GLUE_CHECK_DOCS pages or more, a word of the bodies offered alone must be in
# MIN_BODY_WORD_DOCS of them: there, words in one page only are mostly two glued together
# where the corpus lost a space or an apostrophe (MedQuAD: "asthmathat", "diabetesan"). A
# small collection's rare words are real ones.
MIN_BODY_WORD_DOCS = 2
GLUE_CHECK_DOCS = 1000


@dataclass(frozen=True)
class Completion:
    """One suggestion: the text, and the article it is the title of (when one article is
    about it)."""

    text: str
    article: str | None = None


def normalise_prefix(prefix: str) -> str:
    """What was typed, lower-cased, spaces folded, at most 100 characters."""
    return " ".join(prefix.lower().split())[:100]


class Completions:
    """The phrases of one snapshot's titles, sorted, with their weights."""

    def __init__(self, weights: Counter, articles: dict[str, str],
                 pairs: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.phrases = sorted(weights)
        self.weights = np.array([weights[p] for p in self.phrases], dtype=np.int64)
        self.articles = articles
        # Every two words that stand side by side in some title.
        self.pairs = pairs

    @classmethod
    def of(cls, snapshot: Snapshot) -> Completions:
        """The completions of a snapshot's subjects (its documents' title words)."""
        subjects: Counter = Counter()
        first_doc: dict[str, int] = {}
        for segment in snapshot.segments:
            codes, values = segment.codes("subject")
            live = segment.live()
            docs = np.flatnonzero(live) if live is not None else np.arange(segment.size)
            counts = np.bincount(codes[docs], minlength=len(values))
            for code in np.flatnonzero(counts):
                subject = _POSSESSIVE.sub(r"\1's", values[code])
                if subject:
                    subjects[subject] += int(counts[code])
                    if subject not in first_doc:
                        at = docs[np.argmax(codes[docs] == code)]
                        first_doc[subject] = int(at) + segment.offset
        weights: Counter = Counter()
        shared: Counter = Counter()  # runs: how many subjects hold each
        # A one-word subject ("diabetes") weighs every title that has its word, as a run
        # weighs every title that holds it: typing "diabe" offers it before its phrases.
        one_word = {s for s in subjects if " " not in s}
        for subject, n in subjects.items():
            weights[subject] += n
            for phrase in runs_of(subject):
                weights[phrase] += n
                shared[phrase] += 1
            for word in one_word.intersection(subject.split()) - {subject}:
                weights[word] += n
        for phrase, holders in shared.items():
            if holders < 2 and phrase not in subjects:
                del weights[phrase]  # one title's words, not a phrase readers use
        # A run that mostly comes before the same next word is that longer phrase begun:
        # "high blood" is "high blood pressure" in most titles that have it.
        heaviest: dict[str, int] = {}  # phrase -> the weight of its heaviest one-word-longer
        for phrase, weight in weights.items():
            head = phrase.rsplit(" ", 1)[0]
            if head != phrase:
                heaviest[head] = max(heaviest.get(head, 0), weight)
        for phrase in [p for p in weights if p not in subjects]:
            if heaviest.get(phrase, 0) * 2 >= weights[phrase]:
                del weights[phrase]
        singles = [s for s, n in subjects.items() if n == 1]
        ids = snapshot.ids(first_doc[s] for s in singles)
        pairs = frozenset(pair for subject in subjects
                          for pair in zip(subject.split(), subject.split()[1:], strict=False))
        return cls(weights, dict(zip(singles, ids, strict=True)), pairs)

    def complete(self, text: str, limit: int) -> list[Completion]:
        """Up to `limit` phrases starting as `text` does, most articles first."""
        lo = bisect_left(self.phrases, text)
        hi = bisect_right(self.phrases, text + "\uffff")
        if lo >= hi:
            return []
        best = heapq.nsmallest(limit, range(lo, hi),
                               key=lambda i: (-self.weights[i], len(self.phrases[i]), i))
        return [Completion(self.phrases[i], self.articles.get(self.phrases[i])) for i in best]


def runs_of(subject: str) -> set[str]:
    """The subject's runs of 2 to MAX_PHRASE_WORDS words (itself aside) that neither start
    nor end with a stop word, starting with a word of letters."""
    words = subject.split()
    out = set()
    for size in range(2, min(MAX_PHRASE_WORDS, len(words)) + 1):
        for start in range(0, len(words) - size + 1):
            run = words[start:start + size]
            if run[0] in STOP_WORDS or run[-1] in STOP_WORDS:
                continue
            if all(_RUN_WORD.fullmatch(w) or w.isdigit() for w in run) and \
                    _RUN_WORD.fullmatch(run[0]):
                out.add(" ".join(run))
    out.discard(subject)
    return out


def completions_of(snapshot: Snapshot) -> Completions:
    """The snapshot's completions, read once per snapshot."""
    return snapshot.memo("completions", lambda: Completions.of(snapshot))


def complete(snapshot: Snapshot, text: str, limit: int) -> list[Completion]:
    """Up to `limit` completions of `text` (normalised): phrases first, then the last word
    completed from the vocabulary."""
    completions = completions_of(snapshot)
    found = completions.complete(text, limit)
    seen = {c.text for c in found}
    *head, last = text.split(" ")
    # Earlier words with the last one completed: only words some title has side by side,
    # not words glued together ("gastric cancer", never "gastric calf").
    fields = ("spell_title",) if head else ("spell_title", "spell_body")
    for word in _complete_last_word(snapshot, last, limit, fields):
        phrase = " ".join([*head, word])
        if len(found) >= limit:
            break
        if phrase not in seen and phrase != text and (
                not head or (head[-1], word) in completions.pairs):
            found.append(Completion(phrase))
            seen.add(phrase)
    return found[:limit]


def _complete_last_word(snapshot: Snapshot, word: str, limit: int,
                        fields: tuple[str, ...]) -> list[str]:
    words: dict[str, str] = {}  # word -> the field it was found in first
    for name in fields:
        if snapshot.has_field(name):
            for w in islice((w for w in snapshot.prefix_words(name, word)
                             if _WORD.fullmatch(w)), MAX_CANDIDATES - len(words)):
                words.setdefault(w, name)
        if len(words) >= MAX_CANDIDATES:
            break
    # The most used first: how many bodies hold the word's index term.
    used = {w: snapshot.remembered_doc_frequency("body", term_for_word(w) or w) for w in words}
    least = MIN_BODY_WORD_DOCS if snapshot.doc_count() >= GLUE_CHECK_DOCS else 1
    ranked = sorted((w for w, name in words.items() if name == "spell_title" or used[w] >= least),
                    key=lambda w: (-used[w], w))
    return ranked[:limit]
