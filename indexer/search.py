"""The search API the web app and the CLI share: `SearchEngine.search()` -> `SearchPage`.

Searchers are kept per thread and reopened when the index changes (a rebuild swapped in, or an
incremental commit); results are cached by normalised query, page and index version, so a
re-index never serves stale results.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace

import numpy as np
from whoosh import query as q

from indexer.analysis import TOKEN_PATTERN, analyze, term_for_word
from indexer.config import Settings
from indexer.embedding import Encoder
from indexer.feedback import feedback_terms, is_navigational
from indexer.postings import PostingsCache
from indexer.query import ParsedQuery, QueryBuilder, clean_query_text
from indexer.ranking import (
    TITLE_MATCH_DEPTH,
    Ranked,
    RankingModel,
    fuse,
    named_titles,
    weighting,
)
from indexer.scoring import (
    Clause,
    QuestionScores,
    TopDocs,
    length_column,
    teaser_mask,
    tie_keys,
)
from indexer.snippets import highlight, highlight_paragraphs, make_snippet
from indexer.spelling import (
    MIN_WORD_LEN,
    Vocabulary,
    english_words,
    spelling_variants,
    suggest,
)
from indexer.store import IndexStore
from indexer.synonyms import SynonymTable
from indexer.vectors import VectorTable

MAX_PAGE = 100
# Feedback reads the opening of each top article: enough to say what it is about.
FEEDBACK_CHARS = 5000
# How long a thread waits for another answering the same question before answering it too.
PENDING_WAIT_S = 30.0
# Document frequencies remembered per searcher before starting over.
MAX_CACHED_FREQUENCIES = 100_000


@dataclass
class Result:
    """One hit on a results page."""

    id: str
    title: str
    url: str
    kind: str
    score: float
    snippet: str
    # Found only through words the best matches share (feedback), none of the reader's own.
    related: bool = False


@dataclass
class SearchPage:
    """One page of results and what the engine made of the query."""

    query: str
    understood: str
    total: int
    page: int
    per_page: int
    took_ms: float
    # Of `total`, how many the reader's words found; the others are related articles.
    matched: int = 0
    suggestion: str | None = None
    corrected: bool = False
    # No article had the words: `results` are the articles closest in meaning.
    by_meaning: bool = False
    message: str | None = None
    results: list[Result] = field(default_factory=list)

    @property
    def pages(self) -> int:
        """How many pages the results fill (capped at MAX_PAGE)."""
        return min(MAX_PAGE, max(1, math.ceil(self.total / self.per_page)))

    def as_json(self) -> dict:
        """The API's JSON form."""
        # Field by field: dataclasses.asdict deep-copies every string of every result.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["took_ms"] = round(self.took_ms, 2)
        data["results"] = [
            {**{f.name: getattr(r, f.name) for f in fields(r)}, "score": round(r.score, 4)}
            for r in self.results]
        return data


@dataclass
class Answer:
    """The ranked documents for a query, and the query that produced them."""

    parsed: ParsedQuery  # the query run: the typed one, or its spelling correction
    top: TopDocs
    typed: str
    suggestion: str | None = None
    corrected: bool = False
    # Found by meaning alone: no article had the words.
    by_meaning: bool = False


@dataclass
class ArticleView:
    """A stored article for the full-article page."""

    id: str
    title: str
    kind: str
    url: str
    description: str
    body: str
    paragraphs_html: list[str]
    title_html: str


class SearchEngine:
    """Searches one index folder. Thread-safe; one instance serves a whole process."""

    def __init__(self, settings: Settings | None = None, *, synonyms: SynonymTable | None = None,
                 builder: QueryBuilder | None = None, model: RankingModel | None = None):
        self.settings = settings or Settings()
        self.store = IndexStore(self.settings.index_dir, use_mmap=self.settings.mmap_index)
        if builder is None:
            if synonyms is None and self.settings.use_synonyms:
                synonyms = SynonymTable.load(self.settings.synonym_paths)
            builder = QueryBuilder(synonyms)
        self.builder = builder
        self.model = model or RankingModel()
        self.weighting_model = weighting(self.model.b, self.model.k1, self.model.title_b)
        self.postings = PostingsCache(self.settings.postings_cache_mb * 1024 * 1024)
        self._slots = threading.BoundedSemaphore(max(1, self.settings.searchers))
        self._idle: list[tuple] = []
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple, SearchPage] = OrderedDict()
        self._pending: dict[tuple, threading.Event] = {}
        self._df: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._encoder: Encoder | None = None
        self._encoder_loaded = False
        # Generation name -> (its vector file's stamp, its table): reread when the file changes.
        self._tables: dict[str, tuple[tuple, VectorTable | None]] = {}

    # -- searchers ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _borrow(self) -> Iterator:
        """A searcher of the live index for the duration of the block (see _borrow_named)."""
        with self._borrow_named() as (_, searcher):
            yield searcher

    @contextlib.contextmanager
    def _borrow_named(self) -> Iterator[tuple[str | None, object]]:
        """(live generation's name, a searcher of it) for the duration of the block.

        Searchers come from a small pool shared by all threads and are reopened when the live
        generation or its last commit changed. Few are needed (scoring is pure Python, so
        threads take turns on one core anyway) and each maps the whole index once more.
        """
        with self._slots:
            with self._lock:
                entry = self._idle.pop() if self._idle else None
            name = self.store.current_name()
            if entry is not None:
                try:
                    fresh = entry[0] == name and entry[1].up_to_date()
                except FileNotFoundError:
                    fresh = False
                if not fresh:
                    entry[1].close()
                    entry = None
            if entry is None:
                entry = (name, self.store.open().searcher(weighting=self.weighting_model))
            try:
                yield entry[0], entry[1]
            finally:
                with self._lock:
                    self._idle.append(entry)

    def warm(self) -> None:
        """Open a searcher and read what every question needs from each segment (field
        lengths, teaser marks, tie keys, spelling words) and the English word list, so the
        first readers of a freshly started server process do not pay for it."""
        with self._borrow() as searcher:
            for leaf, _ in searcher.leaf_searchers():
                reader = leaf.reader()
                for fieldname in self.builder.field_boosts:
                    length_column(reader, fieldname, self.postings)
                teaser_mask(reader, self.postings)
                tie_keys(reader, self.postings)
                self._vocabulary(reader)
        english_words()
        self._dense_table(self.store.current_name())

    def version(self) -> tuple:
        """What identifies the index's current contents (generation, commit, vectors)."""
        with self._borrow_named() as (name, searcher):
            return (name, searcher.reader().generation(), self.store.vectors_stamp(name))

    # -- searching ---------------------------------------------------------------------------

    def search(self, query: str, page: int = 1, per_page: int | None = None,
               correct: bool = True) -> SearchPage:
        """Rank the index for a reader's query and return one page of results with snippets.

        Never raises for any query text; page is clamped to 1..MAX_PAGE and per_page to
        1..max_per_page. When a word of the query is not in the index and its spelling
        correction finds results, those are returned with `corrected` set (unless `correct`
        is False: the words exactly as typed).
        """
        started = time.perf_counter()
        per_page = max(1, min(per_page or self.settings.per_page, self.settings.max_per_page))
        page = max(1, min(int(page), MAX_PAGE))
        # The query as the builder will clean it: a cached answer costs no parse.
        asked = (clean_query_text(query).lower(), page, per_page, correct)
        if self.settings.cache_size > 0:
            # A cached answer for the index as it is on disk now needs no searcher: readers
            # of popular questions do not queue behind those whose questions are computed.
            version = self.store.live_version()
            if version is not None:
                key = (*asked, *version)
                with self._lock:
                    cached = self._cache.get(key)
                    if cached is not None:
                        self._cache.move_to_end(key)
                if cached is not None:
                    return _replace_time(cached, started)
        with self._borrow_named() as (name, searcher):
            return self._search(name, searcher, asked, query, started)

    def _search(self, name: str | None, searcher, asked: tuple, query: str,
                started: float) -> SearchPage:
        _, page, per_page, correct = asked
        key = (*asked, name, searcher.reader().generation(), self.store.vectors_stamp(name))
        cached, pending, mine = self._cached(key)
        if pending is not None:
            # The same question is being answered by another thread (a burst of readers
            # after the same news): wait for its answer instead of computing it again.
            pending.wait(timeout=PENDING_WAIT_S)
            cached, _, mine = self._cached(key)
        if cached is not None:
            return _replace_time(cached, started)
        try:
            parsed = self.builder.build(query)
            answer = self._answer(searcher, parsed, page * per_page, correct, name)
            result = self._page(searcher, answer, page, per_page)
            if result.total == 0 and result.message is None:
                result.message = "No articles match. Check the spelling or try fewer words."
            result.took_ms = (time.perf_counter() - started) * 1000
            with self._lock:
                if self.settings.cache_size > 0:
                    self._cache[key] = result
                while len(self._cache) > self.settings.cache_size:
                    self._cache.popitem(last=False)
        finally:
            if mine is not None:
                with self._lock:
                    self._pending.pop(key, None)
                mine.set()
        return result

    def _cached(self, key: tuple) -> tuple[SearchPage | None, threading.Event | None,
                                           threading.Event | None]:
        """(cached page, event of another thread answering the same question, event this
        thread must set once it has answered): a miss with nobody answering makes this thread
        the one that answers."""
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached, None, None
            if self.settings.cache_size <= 0:
                return None, None, None
            pending = self._pending.get(key)
            if pending is not None:
                return None, pending, None
            mine = self._pending[key] = threading.Event()
            return None, None, mine

    def _answer(self, searcher, parsed: ParsedQuery, limit: int, correct: bool,
                name: str | None = None) -> Answer:
        """The best `limit` documents for what the reader typed, as the reader gets them.

        A word the index has never seen finds nothing: when its correction finds results,
        those are the answer (the reader can still ask for the words as typed).
        """
        parsed = self._with_spelling_variants(searcher, parsed)
        fixes = self._corrections(searcher, parsed) if parsed.words and correct else {}
        fixed_text = _apply_fixes(parsed.text, fixes) if fixes else None
        if fixed_text is not None:
            fixed = self._with_spelling_variants(searcher, self.builder.build(fixed_text))
            if not fixed.empty:
                top = self._top(searcher, fixed, limit, name)
                if top.total:
                    return Answer(fixed, top, typed=parsed.text, suggestion=fixed_text,
                                  corrected=True)
        top = self._top(searcher, parsed, limit, name) if not parsed.empty else TopDocs(0, [])
        if top.total == 0 and not parsed.syntax and _all_english(parsed.words):
            # No article has the reader's words ("itchy flaky scalp"): the articles closest
            # in meaning, if any is close enough. Only for words of the language: the model
            # reads "zqsecretleak" as "secret leak" and finds something close to anything.
            near = self._nearest_by_meaning(searcher, name, parsed.text)
            if near.total:
                return Answer(parsed, near, typed=parsed.text, suggestion=fixed_text,
                              by_meaning=True)
        return Answer(parsed, top, typed=parsed.text, suggestion=fixed_text)

    def _nearest_by_meaning(self, searcher, name: str | None, text: str) -> TopDocs:
        """The articles (at most model.meaning_results) whose vectors are closest to the
        question's, those at least model.meaning_min_cosine close; all flagged related."""
        table = self._dense_table(name)
        if table is None or not len(table):
            return TopDocs(0, [])
        hits = self._closest(searcher, table, self._dense_encoder().encode([text])[0],
                             self.model.meaning_results)
        return TopDocs(len(hits), hits, frozenset(d for d, _ in hits), matched=0)

    def _corrections(self, searcher, parsed: ParsedQuery, in_context: bool = True
                     ) -> dict[str, str]:
        """{typed word: correction} for the question's unknown words (`suggest`); with
        `in_context`, a real word is corrected where its neighbour says it is a typo."""
        # Words the synonym table knows are words, not typos: their expansions are searched
        # (and a word with another spelling in the index is searched in both).
        known = {w.lower() for phrase, _ in parsed.expansions
                 for w in TOKEN_PATTERN.findall(phrase)}
        context = functools.partial(_fits_beside, searcher) if in_context else None
        return suggest(searcher.reader(), parsed.words, self._vocabulary, english_words,
                       known, context)

    def _with_spelling_variants(self, searcher, parsed: ParsedQuery) -> ParsedQuery:
        """The question with the other spellings of its words that the index holds
        ("diarrhoea" also searches "diarrhea", "anemia" also "anaemia"): the same word, so
        with the same weight, and counting for the word the reader typed."""
        if parsed.syntax or not parsed.clauses:
            return parsed
        # Looked up in the segments' word lists (in memory), not the term index on disk: a
        # long question has hundreds of candidate spellings.
        vocabularies = [self._vocabulary(leaf) for leaf, _ in searcher.reader().leaf_readers()]
        weights = {c.terms[0]: c.weight for c in parsed.clauses if c.own and len(c.terms) == 1}
        clauses, terms, expansions = [], dict(parsed.terms), []
        for word in dict.fromkeys(w.lower() for w in parsed.words):
            term = term_for_word(word)
            if term not in weights:
                continue
            for variant in sorted(spelling_variants(word)):
                other = term_for_word(variant)
                if other and other not in terms and any(variant in v for v in vocabularies):
                    clauses.append(Clause((other,), weights[term], own=False, covers=(term,)))
                    terms[other] = weights[term]
                    expansions.append((word, variant))
        if not clauses:
            return parsed
        return replace(parsed, clauses=[*parsed.clauses, *clauses], terms=terms,
                       expansions=[*parsed.expansions, *expansions])

    def _vocabulary(self, segment) -> Vocabulary:
        # Segments never change: their spelling words are read once (with the postings).
        return self.postings.column(segment, "spelling", Vocabulary.of_segment)

    def _page(self, searcher, answer: Answer, page: int, per_page: int) -> SearchPage:
        parsed = answer.parsed
        out = SearchPage(query=answer.typed, understood=_understood(parsed),
                         total=answer.top.total, matched=answer.top.matched or 0,
                         page=page, per_page=per_page, took_ms=0.0,
                         suggestion=answer.suggestion, corrected=answer.corrected,
                         by_meaning=answer.by_meaning, message=parsed.message)
        if answer.corrected:
            out.message = f"Showing results for “{answer.suggestion}”."
        elif answer.by_meaning:
            out.message = "No article has these words. These are the closest in meaning."
        weights = {t: w * searcher.idf("body", t) for t, w in parsed.terms.items()}
        for docnum, score in answer.top.hits[(page - 1) * per_page:]:
            fields = searcher.stored_fields(docnum)
            out.results.append(Result(
                id=fields["id"],
                title=fields.get("title", ""),
                url=fields.get("url", ""),
                kind=fields.get("kind", "article"),
                score=score,
                related=docnum in answer.top.related,
                snippet=make_snippet(fields.get("body", ""), weights,
                                     teaser=fields.get("kind") == "teaser"),
            ))
        return out

    def _top(self, searcher, parsed: ParsedQuery, limit: int, name: str | None = None
             ) -> TopDocs:
        """The best `limit` documents and the number of matches, scored with arrays: plain
        questions widened by feedback and re-ranked by meaning, search syntax limited to what
        it matches. A query with nothing to score that way goes through Whoosh's matchers
        (same ranking model)."""
        if parsed.clauses:
            model = self.model
            scores = QuestionScores(searcher, parsed.clauses, self.builder.field_boosts,
                                    model, self.postings,
                                    match=parsed.query if parsed.syntax else None)
            # Search syntax says exactly what may match and how: no related articles added
            # to it, nor a re-ranking by meaning.
            table = None if parsed.syntax else self._dense_table(name)
            depth = max(limit, model.dense_depth) if table is not None else limit
            first = scores.top(max(depth, model.feedback_docs))
            # The title gate, feedback and the title bonus all read the best few articles:
            # each is read from disk once.
            stored = functools.cache(searcher.stored_fields)
            # A question naming the best article's whole title asks for that article: it is
            # neither widened nor re-ranked.
            asks_for_title = not parsed.syntax and self._names_best_title(
                stored, parsed, first)
            extra = [] if parsed.syntax or asks_for_title else self._feedback(
                searcher, stored, parsed, first)
            if extra:
                scores.add(extra)
                first = scores.top(depth)
            if table is not None and not asks_for_title:
                first = self._by_meaning(searcher, table, parsed.text, first, scores)
            if not parsed.syntax and model.title_match_bonus > 0:
                first = self._named_first(stored, parsed.text, first)
            return TopDocs(first.total, first.hits[:limit], first.related, first.matched)
        ranked = Ranked(parsed.query, parsed.own, power=self.model.coord_power,
                        teaser_factor=self.model.teaser_factor)
        # Whoosh's block-quality skipping can drop hits from its top N: score them all.
        results = searcher.search(ranked, limit=limit, terms=False, optimize=False)
        return TopDocs(len(results), [(hit.docnum, float(hit.score or 0.0)) for hit in results])

    def _named_first(self, stored, text: str, top: TopDocs) -> TopDocs:
        """`top` with the articles among the first TITLE_MATCH_DEPTH whose whole title the
        question holds word for word scored up by the title match bonus."""
        hits = top.hits[:TITLE_MATCH_DEPTH]
        named = named_titles([stored(docnum).get("title", "") for docnum, _ in hits], text)
        head = [(docnum, score * (1 + self.model.title_match_bonus) if bonus else score)
                for (docnum, score), bonus in zip(hits, named, strict=True)]
        # Stable: articles the bonus does not separate keep their order.
        head.sort(key=lambda hit: -hit[1])
        return TopDocs(top.total, head + top.hits[TITLE_MATCH_DEPTH:], top.related, top.matched)

    def _names_best_title(self, stored, parsed: ParsedQuery, first: TopDocs) -> bool:
        if not first.hits:
            return False
        own = {c.terms[0] for c in parsed.clauses if c.own and len(c.terms) == 1}
        title = stored(first.hits[0][0]).get("title", "")
        return is_navigational(analyze(title), own)

    def _feedback(self, searcher, stored, parsed: ParsedQuery, first: TopDocs
                  ) -> list[Clause]:
        """Clauses for the words the best first-pass articles share (indexer.feedback), or
        none: feedback off or nothing found."""
        model = self.model
        if model.feedback_weight <= 0 or not first.hits:
            return []
        hits = first.hits[: model.feedback_docs]
        texts = [stored(docnum) for docnum, _ in hits]
        n_docs = searcher.doc_count_all() or 1
        docs = [(analyze(f"{f.get('title', '')}\n{f.get('body', '')[:FEEDBACK_CHARS]}"), score)
                for f, (_, score) in zip(texts, hits, strict=True)]
        frequencies = self._frequencies(searcher)

        def doc_share(term: str) -> float:
            df = frequencies.get(term)
            if df is None:
                df = frequencies[term] = searcher.doc_frequency("body", term)
            return df / n_docs

        terms = feedback_terms(
            docs, exclude=set(parsed.terms), doc_share=doc_share,
            max_share=model.feedback_max_share, limit=model.feedback_terms)
        return [Clause((term,), model.feedback_weight * weight, own=False, feedback=True)
                for term, weight in terms]

    def _by_meaning(self, searcher, table: VectorTable, text: str, top: TopDocs,
                    scores: QuestionScores) -> TopDocs:
        """`top` joined by the articles closest in meaning (model.dense_candidates) and
        re-ranked by how close each article's vector is to the question's (ranking.fuse).
        A joining article the reader's words did not find is a related one."""
        encoder = self._dense_encoder()
        if encoder is None or not top.hits:
            return top
        question = encoder.encode([text])[0]
        hits, related, total = list(top.hits), set(top.related), top.total
        ids = searcher.reader().column_reader("id")
        hit_ids = [_as_text(ids[d]) for d, _ in hits]
        joining = self._closest(searcher, table, question, self.model.dense_candidates,
                                taken=set(hit_ids))
        if joining:
            docnums = [d for d, _ in joining]
            found, by_words = scores.scores_of(docnums)
            hits += [(d, float(s)) for d, s in zip(docnums, found, strict=True)]
            hit_ids += [_as_text(ids[d]) for d in docnums]
            related.update(d for d, w in zip(docnums, by_words, strict=True) if not w)
            total += int(np.count_nonzero(found == 0))
        if len(hits) < 2:
            return top
        cosines = table.cosines(hit_ids, question)
        fused = fuse(np.array([s for _, s in hits]), cosines, self.model.dense_weight)
        # Stable: documents the model cannot tell apart keep their order by words.
        order = np.argsort(-fused, kind="stable")
        return TopDocs(total, [(hits[i][0], float(fused[i])) for i in order],
                       frozenset(related), top.matched)

    def _closest(self, searcher, table: VectorTable, question: np.ndarray, k: int,
                 taken: frozenset[str] | set[str] = frozenset()) -> list[tuple[int, float]]:
        """(document number, cosine) of the k articles closest to the question, of those
        at least model.meaning_min_cosine close whose ids are not `taken`; closest first."""
        out: list[tuple[int, float]] = []
        if k <= 0:
            return out
        for row, cosine in table.nearest(question, k + len(taken)):
            if cosine < self.model.meaning_min_cosine or len(out) >= k:
                break
            if table.ids[row] in taken:
                continue
            # A vector may outlive its article by the moment between a commit and the
            # vectors' update.
            docnum = searcher.document_number(id=table.ids[row])
            if docnum is not None:
                out.append((docnum, cosine))
        return out

    def _dense_table(self, name: str | None) -> VectorTable | None:
        """The live generation's vectors when re-ranking by meaning is on and possible."""
        if self.model.dense_weight <= 0 or not self.settings.dense:
            return None
        # The model (120 MB) is loaded only once an index has vectors to compare with.
        table = self._vector_table(name or self.store.current_name())
        if table is None or self._dense_encoder() is None:
            return None
        return table

    def _dense_encoder(self) -> Encoder | None:
        if not self._encoder_loaded and self.settings.dense:
            with self._lock:
                if not self._encoder_loaded:
                    self._encoder = Encoder.load(self.settings.model_dir)
                    self._encoder_loaded = True
        return self._encoder

    def _vector_table(self, name: str | None) -> VectorTable | None:
        if name is None:
            return None
        stamp = self.store.vectors_stamp(name)
        found = self._tables.get(name)
        if found is not None and found[0] == stamp:
            return found[1]
        table = (VectorTable.read(self.store.root / name, dtype=np.float32) if stamp
                 else None)
        with self._lock:
            # Only the live generation's table is kept: one rebuilt away is dropped.
            self._tables = {name: (stamp, table)}
        return table

    def _frequencies(self, searcher) -> dict[str, int]:
        """Body document frequencies looked up through this searcher (feedback asks for the
        same common words again and again); they live as long as the searcher's view."""
        with self._lock:
            found = self._df.get(searcher)
            if found is None or len(found) > MAX_CACHED_FREQUENCIES:
                found = self._df[searcher] = {}
            return found

    def rank(self, query: str, limit: int = 100, correct: bool = True
             ) -> list[tuple[str, float]]:
        """(id, score) of the top `limit` hits, ranked as `search()` ranks them (spelling
        corrections included) but without snippets or paging: for relevance evaluation."""
        with self._borrow_named() as (name, searcher):
            answer = self._answer(searcher, self.builder.build(query), limit, correct, name)
            ids = searcher.reader().column_reader("id")
            return [(_as_text(ids[docnum]), score) for docnum, score in answer.top.hits]

    # -- articles, completions, samples ------------------------------------------------------

    def article(self, doc_id: str, highlight_query: str = "") -> ArticleView | None:
        """The stored article with this id, its text highlighted for the query; None if absent."""
        with self._borrow() as searcher:
            fields = searcher.document(id=doc_id)
        if not fields:
            return None
        terms = self.builder.build(highlight_query).terms if highlight_query else {}
        body = fields.get("body", "")
        return ArticleView(
            id=fields["id"], title=fields.get("title", ""), kind=fields.get("kind", "article"),
            url=fields.get("url", ""), description=fields.get("description", ""), body=body,
            paragraphs_html=highlight_paragraphs(body, terms),
            title_html=highlight(fields.get("title", ""), terms),
        )

    def complete(self, prefix: str, limit: int = 8) -> list[str]:
        """Up to `limit` completions of what was typed: titles first, then vocabulary words."""
        text = " ".join(prefix.lower().split())[:100]
        if len(text) < 2:
            return []
        with self._borrow() as searcher:
            return self._complete(searcher.reader(), text, limit)

    def _complete(self, reader, text: str, limit: int) -> list[str]:
        out: list[str] = []
        *head, last = text.split(" ")
        words = []
        for name in ("spell_title", "spell_body"):
            if name in reader.schema:
                words.extend(w.decode() if isinstance(w, bytes) else w
                             for w in reader.expand_prefix(name, last))
            if len(words) > 200:
                break
        ranked = sorted(set(words), key=lambda w: (-reader.doc_frequency("spell_body", w), w))
        for word in ranked[: limit * 2]:
            phrase = " ".join([*head, word])
            if phrase not in out and phrase != text:
                out.append(phrase)
            if len(out) >= limit:
                break
        return out[:limit]

    def sample_questions(self) -> list[str]:
        """Reader questions that came with the corpus (never indexed as documents)."""
        meta = self.store.read_meta()
        return [q for qs in meta.get("questions", {}).values() for q in qs]

    def doc_count(self) -> int:
        """Entries in the live index."""
        with self._borrow() as searcher:
            return searcher.doc_count()


def _fits_beside(searcher, words: list[str], i: int, candidate: str) -> bool:
    """True when `candidate`, put in place of `words[i]`, stands right before or after the
    question's neighbouring word (stop words skipped, as the index skips them) somewhere in
    the index: "brest cancer" can be "breast cancer", "turner syndrome" not "turned
    syndrome"."""
    term = term_for_word(candidate)
    if term is None:
        return False
    before = next((t for w in reversed(words[:i]) if (t := term_for_word(w))), None)
    after = next((t for w in words[i + 1:] if (t := term_for_word(w))), None)
    for pair in ((before, term), (term, after)):
        if None in pair:
            continue
        for fieldname in ("title", "body"):
            if q.Phrase(fieldname, list(pair)).matcher(searcher).is_active():
                return True
    return False


def _all_english(words: list[str]) -> bool:
    """True when the searched words of MIN_WORD_LEN letters or more (the English list holds
    no shorter ones) are English words, and there is at least one."""
    long = [w.lower() for w in words if len(w) >= MIN_WORD_LEN and term_for_word(w)]
    return bool(long) and all(w in english_words() for w in long)


def _understood(parsed: ParsedQuery) -> str:
    own = [w for w in parsed.words if term_for_word(w) in parsed.terms]
    extra = [label for _, label in parsed.expansions]
    text = " ".join(dict.fromkeys(w.lower() for w in own))
    if extra:
        text += " (also: " + ", ".join(extra) + ")"
    return text


def _as_text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _apply_fixes(text: str, fixes: dict[str, str]) -> str:
    import re

    return re.sub(r"\w+", lambda m: fixes.get(m.group().lower(), m.group()), text)


def _replace_time(page: SearchPage, started: float) -> SearchPage:
    return replace(page, took_ms=(time.perf_counter() - started) * 1000)
