"""From what a reader typed to a `ParsedQuery`: plain questions, search syntax for those who
use it (parsed with Whoosh's query parser, its public API only, then turned into this
engine's own match tree), lay-word expansion, and limits that keep hostile input cheap.
Needs no index."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from whoosh import query as q
from whoosh.fields import Schema
from whoosh.qparser import MultifieldParser, OrGroup, plugins

from indexer.query.cleaning import (
    EXCLUSION,
    NOT_SYNTAX,
    QUOTED,
    WORD_START,
    balance,
    clean_query_text,
    uses_syntax,
    words_not_operators,
)
from indexer.query.types import (
    AllOf,
    AnyOf,
    Clause,
    Everything,
    Match,
    ParsedQuery,
    Phrase,
    Term,
    Without,
)
from indexer.storage.schema import QUERY_FIELDS, build_schema
from indexer.text.analysis import TOKEN_PATTERN, analyze
from indexer.text.synonyms import SynonymTable, negations_in, surface_key

MAX_TERMS = 48
# Chosen by bench.eval --tune (2.0 until the title match bonus of indexer.ranking.model came).
TITLE_BOOST = 1.5
EXPANSION_WEIGHT = 0.4
# A lay phrase of several words ("can't sleep", "heart attack") names one medical concept: its
# expansion weighs as much as the reader's own words. A single lay word ("stomach" ->
# gastric), or another medical name from a synonym table, is a looser match. Neutral on
# NFCorpus dev and MedQuAD tune (bench/eval.py).
PHRASE_WEIGHT = 1.0
# A medicine the reader named by another name (a brand's generic, "flomax" -> tamsulosin, or
# what a misspelling means) is the reader's word: it weighs as much. A generic's brands
# ("fluoxetine" -> prozac) weigh as other expansions. Against 0.4, within noise on the
# tuning sets (NFCorpus dev nDCG@10 .3515 / .3519, MedQuAD tune MRR@10 .9318 both; measured
# 2026-12-03 with bench.eval's Ours on _tune_set, builder QueryBuilder(drug_weight=...)).
DRUG_WEIGHT = 1.0
# Words that frame a health question rather than name its subject ("what are the symptoms of
# gout", "how many people are affected by ...", "what research is being done for ...", "is
# coffee bad for you"): the subject decides which article answers, so they weigh this much
# of a subject word, in the score and in coordination. Chosen on NFCorpus dev and MedQuAD
# tune (bench/eval.py).
ASPECT_WEIGHT = 0.3
ASPECT_WORDS = frozenset(analyze(
    "symptoms signs causes caused treatment treatments treat diagnose diagnosis diagnosed "
    "outlook prognosis prevent prevention risk complications stages inherited inheritance "
    "genetic changes research clinical trials information people many affected "
    "bad good safe healthy harmful dangerous benefits side effects"))


def syntax_clauses(query: q.Query, field_boosts: dict[str, float]) -> list[Clause]:
    """The words and phrases a parsed query looks for (not those it excludes), as clauses to
    score: one per word or phrase, limited to the fields it names."""
    fields: dict[tuple[str, ...], set[str]] = {}
    for leaf in _positive_leaves(query):
        if leaf.fieldname not in field_boosts:
            continue
        words = (leaf.text,) if isinstance(leaf, q.Term) else tuple(leaf.words)
        fields.setdefault(words, set()).add(leaf.fieldname)
    # Every word typed weighs as in a plain question (title:word weighs as a title match).
    return [Clause(words, 1.0, fields=() if len(names) == len(field_boosts)
                   else tuple(sorted(names)))
            for words, names in fields.items()]


def _positive_leaves(query: q.Query) -> list[q.Term | q.Phrase]:
    if isinstance(query, q.Not):
        return []
    if isinstance(query, q.AndNot):
        return _positive_leaves(query.a)
    if isinstance(query, q.Term | q.Phrase):
        return [query]
    return [leaf for child in query.children() for leaf in _positive_leaves(child)]


class QueryBuilder:
    """Turns text into a ParsedQuery. Built once; safe to share between threads."""

    def __init__(self, synonyms: SynonymTable | None = None, schema: Schema | None = None,
                 title_boost: float = TITLE_BOOST, expansion_weight: float = EXPANSION_WEIGHT,
                 aspect_weight: float = ASPECT_WEIGHT, phrase_weight: float = PHRASE_WEIGHT,
                 drug_weight: float = DRUG_WEIGHT):
        self.synonyms = synonyms
        self.title_boost = title_boost
        self.expansion_weight = expansion_weight
        self.aspect_weight = aspect_weight
        self.phrase_weight = phrase_weight
        self.drug_weight = drug_weight
        schema = schema or build_schema()
        # The parser sees only the fields a reader may name, so "Re:" or "Beans:" stay text.
        self._parser_schema = Schema(**{name: schema[name] for name in QUERY_FIELDS})
        parser = MultifieldParser(
            list(QUERY_FIELDS), self._parser_schema,
            fieldboosts={"title": title_boost}, group=OrGroup,
        )
        for plugin in (plugins.WildcardPlugin, plugins.RangePlugin, plugins.BoostPlugin,
                       plugins.EveryPlugin, plugins.SingleQuotePlugin):
            parser.remove_plugin_class(plugin)
        # + and - are operators only at the start of a word: "Lennox-Gastaut", "Parasites -
        # Lice" and "a + b" are text.
        parser.add_plugin(plugins.PlusMinusPlugin(plusexpr=WORD_START.format(r"\+"),
                                                  minusexpr=WORD_START.format("-")))
        self._parser = parser

    @property
    def field_boosts(self) -> dict[str, float]:
        """How much a match in each searched field weighs."""
        return {"title": self.title_boost, "body": 1.0}

    def build(self, raw: str) -> ParsedQuery:
        """Parse a reader's query; never raises."""
        return self._build(raw)[0]

    def whoosh_query(self, raw: str) -> q.Query | None:
        """The same query as one Whoosh query, with its boosts (None: nothing to search):
        what Whoosh's own matchers would run, for tests that hold the engine's ranking
        against Whoosh's."""
        return self._build(raw)[1]

    def _build(self, raw: str) -> tuple[ParsedQuery, q.Query | None]:
        text = clean_query_text(raw)
        words = [w for w in TOKEN_PATTERN.findall(text)]
        parsed = ParsedQuery(text=text, words=words)
        if not text:
            parsed.message = "Type a few words to search."
            return parsed, None
        analysed = analyze(text)
        terms = _distinct(analysed)[:MAX_TERMS]
        parsed.terms = {t: 1.0 for t in terms}
        base: q.Query | None = None
        negatives: list[q.Query] = []
        if uses_syntax(text):
            base = self._parse_syntax(words_not_operators(text))
            if base is not None:
                base, negatives = _split_negatives(base)
            if base is None and EXCLUSION.search(text) and not EXCLUSION.sub(" ", text).strip():
                parsed.message = "Add a word to look for, not only words to leave out."
                return parsed, None
            parsed.syntax = base is not None
            if base is not None:
                parsed.terms = {t: 1.0 for t in _positive_terms(base)}
                parsed.clauses = syntax_clauses(base, self.field_boosts)
        if base is None:
            # A word the reader repeats weighs more, as in BM25 (query term frequency):
            # long questions repeat what they are about ("Noonan syndrome ... Noonan").
            counts = Counter(analysed)
            weights = {t: counts[t] * (self.aspect_weight if t in ASPECT_WORDS else 1.0)
                       for t in terms}
            base = self._plain(weights)
            parsed.clauses = [Clause((t,), w) for t, w in weights.items()]
        if base is None:
            parsed.message = (
                "Those words are too common to search on: try a more specific word."
                if words else "Type a few words to search."
            )
            return parsed, None
        clauses = [base, *self._expand(parsed, text)]
        combined = q.Or(clauses) if len(clauses) > 1 else base
        if negatives:
            # Exclusions apply to everything, expansions included: with every word optional,
            # a NOT inside an OR would otherwise match every document without the word.
            combined = q.AndNot(combined, q.Or(negatives))
        parsed.own = [t for t, w in parsed.terms.items() if w >= 1.0]
        parsed.empty = False
        if parsed.syntax:
            parsed.match = to_match(combined)
        return parsed, combined

    def _expand(self, parsed: ParsedQuery, text: str) -> list[q.Query]:
        """Add the other wordings of the question's phrases (the synonym table's) to
        `parsed`; returns them as Whoosh queries."""
        added: list[q.Query] = []
        if self.synonyms is None:
            return added
        # Negations inside a lay phrase the reader typed ("cant sleep" -> insomnia): the
        # phrase names the condition, and the negation alone is no word to search on
        # ("cant" is an index word where a corpus lost its apostrophes).
        negated: set[str] = set()
        # Quoted phrases of search syntax are meant exactly, and excluded words are not
        # looked for; in a question, quotes are punctuation (cleaning.quotes_are_syntax).
        source = QUOTED.sub(" ", EXCLUSION.sub(" ", text)) if parsed.syntax else text
        for phrase, exp in self.synonyms.expand(source):
            if all(t in parsed.terms for t in exp.terms):
                continue
            weight = (self.drug_weight if exp.names_medicine
                      else self.phrase_weight if exp.lay and len(phrase.split()) > 1
                      else self.expansion_weight)
            # Words the other wording shares with the reader's ("breast" in "breast cancer"
            # -> "breast carcinoma") are searched already: the expansion weighs by the share
            # of words it adds, or "breast" would count twice.
            said = analyze(phrase)
            weight *= sum(t not in said for t in exp.terms) / len(exp.terms)
            added.append(self._expansion(exp.terms, weight))
            if parsed.clauses:
                covers = tuple(t for t in said if parsed.terms.get(t) == 1.0)
                parsed.clauses.append(Clause(exp.terms, weight, own=False, covers=covers))
            parsed.expansions.append((phrase, exp.label))
            for t in exp.terms:
                parsed.terms.setdefault(t, weight)
            if (exp.lay and len(phrase.split()) > 1) or exp.names_medicine:
                parsed.names.append(exp.label)
                if "not" in surface_key(phrase):  # a negation, however typed
                    negated.update(analyze(" ".join(negations_in(text))))
            if len(added) >= MAX_TERMS // 2:
                break
        if negated and not parsed.syntax:
            parsed.clauses = [replace(c, covers=tuple(t for t in c.covers if t not in negated))
                              for c in parsed.clauses
                              if not (c.own and len(c.terms) == 1 and c.terms[0] in negated)]
            for t in negated:
                parsed.terms.pop(t, None)
        return added

    def _plain(self, weights: dict[str, float]) -> q.Query | None:
        if not weights:
            return None
        return q.Or([self._term_clause(t, w) for t, w in weights.items()])

    def _parse_syntax(self, text: str) -> q.Query | None:
        cleaned = balance(NOT_SYNTAX.sub(" ", text))
        try:
            parsed = self._parser.parse(cleaned)
        except Exception:  # the parser's errors are not a documented set: fall back
            return None
        if parsed is None or parsed is q.NullQuery:
            return None
        parsed = parsed.normalize()
        leaves = list(parsed.leaves()) if hasattr(parsed, "leaves") else []
        if len(leaves) > MAX_TERMS * 2 or parsed is q.NullQuery:
            return None
        try:
            to_match(parsed)
        except ValueError:  # a kind of query this engine cannot match: read as a question
            return None
        return parsed

    def _expansion(self, terms: tuple[str, ...], weight: float) -> q.Query:
        if len(terms) == 1:
            return self._term_clause(terms[0], weight)
        return q.Or([
            q.Phrase("title", list(terms), boost=self.title_boost * weight),
            q.Phrase("body", list(terms), boost=weight),
        ])

    def _term_clause(self, term: str, weight: float = 1.0) -> q.Query:
        return q.Or([q.Term("title", term, boost=self.title_boost * weight),
                     q.Term("body", term, boost=weight)])


def _distinct(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _positive_terms(query: q.Query) -> list[str]:
    """The terms a query looks for, not those it excludes, in order."""
    if isinstance(query, q.Not):
        return []
    if isinstance(query, q.AndNot):
        return _positive_terms(query.a)
    if isinstance(query, q.Term):
        return [query.text] if query.fieldname in QUERY_FIELDS else []
    if isinstance(query, q.Phrase):
        return list(query.words)
    out: list[str] = []
    for child in query.children():
        out.extend(t for t in _positive_terms(child) if t not in out)
    return out


def _split_negatives(query: q.Query) -> tuple[q.Query | None, list[q.Query]]:
    """(what the query looks for, what it excludes) for NOT x, -x and a AND NOT b."""
    if isinstance(query, q.Not):
        return None, [query.query]
    if isinstance(query, q.AndNot):
        positive, negatives = _split_negatives(query.a)
        return positive, [query.b, *negatives]
    if isinstance(query, q.And | q.Or):
        keep, negatives = [], []
        for child in query.subqueries:
            positive, more = _split_negatives(child)
            negatives.extend(more)
            if positive is not None:
                keep.append(positive)
        if not keep:
            return None, negatives
        return (keep[0] if len(keep) == 1 else type(query)(keep)), negatives
    return query, []


def to_match(query: q.Query) -> Match:
    """The documents a parsed Whoosh query matches, as this engine's match tree. Raises
    ValueError for a kind of query the parser here never makes (wildcards, ranges, fuzzy
    terms: their plugins are removed)."""
    if isinstance(query, q.Term):
        return Term(query.fieldname, query.text)
    if isinstance(query, q.Phrase):
        if query.slop != 1:
            raise ValueError("sloppy phrases are not searched")
        return Phrase(query.fieldname, tuple(query.words))
    if isinstance(query, q.AndNot):
        return Without(to_match(query.a), to_match(query.b))
    if isinstance(query, q.Not):
        return Without(Everything(), to_match(query.query))
    if isinstance(query, q.AndMaybe):  # +a b: b is scored where a matches, never required
        return to_match(query.a)
    if isinstance(query, q.Require):
        return AllOf((to_match(query.a), to_match(query.b)))
    if isinstance(query, q.And):
        return AllOf(tuple(to_match(sub) for sub in query.subqueries))
    if type(query) is q.Or and not query.minmatch:
        return AnyOf(tuple(to_match(sub) for sub in query.subqueries))
    raise ValueError(f"cannot match a {type(query).__name__} query")
