"""Type-ahead: completions of what a reader has typed so far."""

from __future__ import annotations

from indexer.storage import Snapshot

# Spelling words gathered before ranking them (enough for a page of completions).
MAX_CANDIDATES = 200


def normalise_prefix(prefix: str) -> str:
    """What was typed, lower-cased, spaces folded, at most 100 characters."""
    return " ".join(prefix.lower().split())[:100]


def complete(snapshot: Snapshot, text: str, limit: int) -> list[str]:
    """Up to `limit` completions of `text` (normalised): its last word completed from the
    titles' and bodies' words, the most used first, after the words typed before it."""
    out: list[str] = []
    *head, last = text.split(" ")
    words = []
    for name in ("spell_title", "spell_body"):
        if snapshot.has_field(name):
            words.extend(snapshot.prefix_words(name, last))
        if len(words) > MAX_CANDIDATES:
            break
    ranked = sorted(set(words), key=lambda w: (-snapshot.doc_frequency("spell_body", w), w))
    for word in ranked[: limit * 2]:
        phrase = " ".join([*head, word])
        if phrase not in out and phrase != text:
            out.append(phrase)
        if len(out) >= limit:
            break
    return out[:limit]
