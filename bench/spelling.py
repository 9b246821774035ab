"""Did-you-mean quality on the shared data sets: the shipped engine (`search()`'s suggestion)
side by side with corrections drawn from the index vocabulary alone (what the engine did
before 2026-12-02, but for the hypo-/hyper- guard, which both have).

    python -m bench.spelling

On the MedQuAD and NFCorpus indexes (the harness's own, see bench.peers.our_index):
- typos: words of the tuning questions (MedQuAD tune, NFCorpus dev) that the index knows,
  each given one random edit (a swap, a deletion, an insertion or a substitution,
  Random(7)); a typo is fixed when its correction has the original word's index term;
- real words: the other data set's question words (5 letters or more) this index lacks; a
  correction of one is a reader's word turned into another word;
- lay words of the curated synonym table this index lacks (their expansions find the
  article); and British spellings of medical words;
- real-word errors: a question word replaced by an English word one edit away that the
  index lacks ("brest cancer"), restored only where the context check finds the corrected
  pair in the index.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAY_TABLE = "indexer/text/data/lay_terms.tsv"
BRITISH = ("diarrhoea anaemia haemorrhage tumour oesophagus paediatric oedema leukaemia "
           "oestrogen haemoglobin haematoma orthopaedic gynaecology coeliac dyspnoea apnoea "
           "foetus anaesthesia haemophilia behaviour").split()
SAMPLE = 600


def one_edit(word: str, rng: random.Random) -> str:
    """The word with one random edit: a swap, a deletion, an insertion or a substitution."""
    i = rng.randrange(len(word))
    kind = rng.choice(("swap", "delete", "insert", "substitute"))
    letters = "abcdefghijklmnopqrstuvwxyz"
    if kind == "swap" and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "delete":
        return word[:i] + word[i + 1:]
    if kind == "insert":
        return word[:i] + rng.choice(letters) + word[i:]
    return word[:i] + rng.choice(letters.replace(word[i], "")) + word[i + 1:]


def question_words(texts: Sequence[str]) -> list[str]:
    """The distinct words (5 letters or more, not stop words) of some questions, sorted."""
    from indexer.text.analysis import TOKEN_PATTERN, term_for_word

    return sorted({w.lower() for t in texts for w in TOKEN_PATTERN.findall(t)
                   if len(w) >= 5 and w.isalpha() and term_for_word(w)})


def measure(engine, own_questions: Sequence[str], other_questions: Sequence[str],
            lay_words: Sequence[str]) -> dict[str, dict[str, object]]:
    """Each policy's figures on one index: {policy: {figure: value}}.

    A policy gives, for a word, its correction (or None) and the other spelling it is also
    searched in (or None): a typo counts as fixed by either when it leads to the original
    word; a real word counts as changed only when it is corrected.
    """
    from indexer.search.spelling import is_known, suggest, with_spelling_variants
    from indexer.text.analysis import term_for_word
    from indexer.text.spelling import spelling_variants

    with engine.pool.borrow() as snapshot:

        def index_only(word: str) -> tuple[str | None, str | None]:
            return suggest(snapshot, [word]).get(word), None

        def shipped(word: str) -> tuple[str | None, str | None]:
            parsed = with_spelling_variants(snapshot, engine.builder.build(word))
            variants = [v for w, v in parsed.expansions
                        if w == word.lower() and v in spelling_variants(word)]
            return (engine.search(word, per_page=1).suggestion,
                    variants[0] if variants else None)

        policies: dict[str, Callable[[str], tuple[str | None, str | None]]] = {
            "index vocabulary only": index_only, "shipped": shipped}
        known_words = [w for w in question_words(own_questions) if is_known(snapshot, w)]
        rng = random.Random(7)
        typos = []
        for word in rng.sample(known_words, min(SAMPLE, len(known_words))):
            typo = one_edit(word, rng)
            if not is_known(snapshot, typo):
                typos.append((word, typo))
        real = [w for w in question_words(other_questions) if not is_known(snapshot, w)]
        lay = [w for w in lay_words if not all(is_known(snapshot, x) for x in w.split())]
        british = [w for w in BRITISH if not is_known(snapshot, w)]
        out: dict[str, dict[str, object]] = {}
        for name, fix in policies.items():
            fixed = wrong = 0
            for word, typo in typos:
                got = next((x for x in fix(typo) if x is not None), None)
                if got is not None:
                    if term_for_word(got) == term_for_word(word):
                        fixed += 1
                    else:
                        wrong += 1
            changed = {w: got for w in real if (got := fix(w)[0])}
            lay_changed = {w: got for w in lay
                           for x in w.split() if not is_known(snapshot, x) and (got := fix(x)[0])}
            british_fixed = sum(1 for w in british if _american(w) in fix(w))
            out[name] = {"typos": len(typos), "fixed": fixed, "wrong": wrong,
                         "real": len(real), "real changed": changed,
                         "lay": len(lay), "lay changed": lay_changed,
                         "british": len(british), "british fixed": british_fixed}
        return out


def real_word_errors(engine, own_questions: Sequence[str], other_questions: Sequence[str],
                     limit: int = 300) -> dict[str, dict[str, int]]:
    """Real-word errors in context, with and without the context check: questions with one
    word (known to the index) replaced by an English word one edit away that the index lacks
    ("breast" -> "brest"), Random(3); restored when the suggestion brings the word's index
    term back. And how many of the other data set's questions, as asked, get a correction."""
    from indexer.search.spelling import (
        apply_fixes,
        corrections,
        is_known,
        with_spelling_variants,
    )
    from indexer.text.analysis import TOKEN_PATTERN, term_for_word
    from indexer.text.spelling import edit_distance, english_word_texts

    english: dict[tuple[str, int], list[str]] = {}
    for word in english_word_texts():
        english.setdefault((word[:1], len(word)), []).append(word)
    with engine.pool.borrow() as snapshot:

        def without_context(text: str) -> str | None:
            parsed = with_spelling_variants(snapshot, engine.builder.build(text))
            fixes = corrections(snapshot, parsed, in_context=False)
            return apply_fixes(parsed.text, fixes) if fixes else None

        def shipped(text: str) -> str | None:
            return engine.search(text, per_page=1).suggestion

        rng = random.Random(3)
        cases = []
        for text in own_questions:
            words = TOKEN_PATTERN.findall(text)
            places = [i for i, w in enumerate(words)
                      if len(w) >= 5 and w.isalpha() and term_for_word(w) and is_known(snapshot, w)]
            rng.shuffle(places)
            for i in places:
                word = words[i].lower()
                near = [x for n in (len(word) - 1, len(word), len(word) + 1)
                        for x in english.get((word[:1], n), ())
                        if x != word and edit_distance(x, word) == 1 and not is_known(snapshot, x)]
                if near:
                    cases.append((word, " ".join([*words[:i], rng.choice(near), *words[i + 1:]])))
                    break
            if len(cases) >= limit:
                break
        out = {}
        for name, fix in (("without context", without_context), ("shipped", shipped)):
            restored = wrong = 0
            for word, text in cases:
                got = fix(text)
                if got is None:
                    continue
                pairs = zip(TOKEN_PATTERN.findall(got), TOKEN_PATTERN.findall(text), strict=False)
                changed = [a for a, b in pairs if a.lower() != b.lower()]
                if changed and term_for_word(changed[0]) == term_for_word(word):
                    restored += 1
                else:
                    wrong += 1
            corrected = sum(1 for text in other_questions if fix(text))
            out[name] = {"cases": len(cases), "restored": restored, "wrong": wrong,
                         "other corrected": corrected, "other": len(other_questions)}
        return out


def _american(word: str) -> str:
    from indexer.text.spelling import american_spelling

    return american_spelling(word)


def main(argv: Sequence[str] | None = None) -> int:
    """Print each policy's figures on the MedQuAD and NFCorpus indexes."""
    from bench import datasets as data
    from bench.peers import our_index
    from indexer.config import Settings
    from indexer.search import SearchEngine

    if not data.available():
        print("skipped: the shared data sets are not beside the project", file=sys.stderr)
        return 0
    lines = (ROOT / LAY_TABLE).read_text(encoding="utf-8").splitlines()
    lay_words = [line.split("\t")[0] for line in lines
                 if line.strip() and not line.startswith("#")]
    medquad, nfcorpus = data.medquad("tune"), data.nfcorpus("dev")
    for ds, other in ((medquad, nfcorpus), (nfcorpus, medquad)):
        engine = SearchEngine(Settings(index_dir=our_index(ds)))
        figures = measure(engine, list(ds.queries.values()), list(other.queries.values()),
                          lay_words)
        print(f"\n## {ds.label} index (typos of its questions; real words of {other.label})")
        for name, f in figures.items():
            print(f"- {name}: typos fixed {f['fixed']} / {f['typos']}, wrongly corrected "
                  f"{f['wrong']}; real words changed {len(f['real changed'])} / {f['real']}; "
                  f"lay words changed {len(f['lay changed'])} / {f['lay']}; British "
                  f"spellings leading to the American {f['british fixed']} / {f['british']}")
        for name, f in real_word_errors(engine, list(ds.queries.values()),
                                        list(other.queries.values())).items():
            print(f"- {name}: real-word errors in context restored {f['restored']} / "
                  f"{f['cases']}, wrongly corrected {f['wrong']}; {other.label} questions "
                  f"given a correction {f['other corrected']} / {f['other']}")
        for name, f in figures.items():
            sample = ", ".join(f"{w}->{c}" for w, c in list(f["real changed"].items())[:12])
            print(f"  {name}, real words changed (first 12): {sample}")
            lay = ", ".join(f"{w}->{c}" for w, c in f["lay changed"].items())
            print(f"  {name}, lay words changed: {lay or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
