"""The search API the web app and the CLI share: `SearchEngine.search()` -> `SearchPage`.

The engine holds what a process shares between its threads: a pool of snapshots of the live
index (reopened when the index changes), the decoded postings, the result cache, the query
builder and ranking by meaning's model and vectors. The work itself is elsewhere: answering
(`indexer.search.answer`: spelling, then `indexer.ranking.pipeline`), pages
(`indexer.search.pages`), completion (`indexer.search.completion`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from indexer.config import Settings
from indexer.query.cleaning import clean_query_text
from indexer.query.parser import QueryBuilder
from indexer.ranking.budget import Budget
from indexer.ranking.meaning import Meaning
from indexer.ranking.model import RankingModel
from indexer.ranking.pipeline import RankingContext
from indexer.search.admission import Admission
from indexer.search.answer import answer
from indexer.search.cache import ResultCache
from indexer.search.collection import Collection, Topic, collection_of, topics
from indexer.search.completion import (
    Completion,
    complete,
    completions_of,
    normalise_prefix,
)
from indexer.search.pages import (
    FACETS,
    ArticleView,
    SearchPage,
    article_view,
    clamp_page,
    clamp_per_page,
    grouped_order,
    hits_wanted,
    marking,
    results_page,
)
from indexer.search.pool import SnapshotPool
from indexer.search.spelling import vocabulary
from indexer.storage import IndexStore, PostingsCache
from indexer.text.spelling import english_words
from indexer.text.synonyms import SynonymTable


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
        self.postings = PostingsCache(self.settings.postings_cache_mb * 1024 * 1024)
        self.meaning = Meaning(self.settings.dense, self.settings.model_dir,
                               lambda name: (self.store.vectors_path(name),
                                             self.store.vectors_stamp(name)))
        self.ranking = RankingContext(self.model, self.builder.field_boosts, self.meaning)
        self.pool = SnapshotPool(self.store, self.postings, self.model.bm25,
                                 self.settings.searchers)
        self.cache = ResultCache(self.settings.cache_size)
        # Uncached questions at once: one computed per searcher, `queue` more waiting.
        queue = self.settings.queue
        self.admission = Admission(self.settings.searchers + queue if queue > 0 else 0,
                                   self.settings.retry_after_s,
                                   grace=self.settings.queue_grace_ms / 1000)
        self._status: tuple[tuple, dict] | None = None
        self._status_lock = threading.Lock()
        self._warmed = False

    def warm(self) -> None:
        """Open a snapshot and read what every question needs from each segment (field
        lengths, teaser marks, tie keys, spelling words), the English word list, the
        medicines' names and the live generation's vectors, so the first readers of a
        freshly started server process do not pay for it."""
        with self.pool.borrow() as snapshot:
            for segment in snapshot.segments:
                for fieldname in self.builder.field_boosts:
                    segment.lengths(fieldname)
                segment.teasers()
                segment.tie_keys()
                vocabulary(segment)
            english_words()
            if self.builder.synonyms is not None and self.builder.synonyms.drugs:
                self.builder.synonyms.warm()
            self.ranking.vectors(snapshot)
            completions_of(snapshot)
            collection_of(snapshot)
        self._warmed = True

    def _warm_once(self) -> None:
        # What warm() reads is read once per process anyway; read before the first question
        # rather than inside it, where it would spend the question's time budget (a cold
        # engine's first answer came back partial: 0.8 s of CPU, most of it loading).
        if not self._warmed:
            self.warm()

    def version(self) -> tuple:
        """What identifies the index's current contents (generation, commit, vectors)."""
        with self.pool.borrow() as snapshot:
            return (snapshot.name, snapshot.commit, self.store.vectors_stamp(snapshot.name))

    def search(self, query: str, page: int = 1, per_page: int | None = None,
               correct: bool = True, filters: dict[str, str] | None = None) -> SearchPage:
        """Rank the index for a reader's query and return one page of results with snippets,
        one per subject, with the counts of each facet (`pages.FACETS`); `filters` keeps only
        the matches with these facet values ({"publisher_name": "NHLBI"}).

        Never raises for any query text; page is clamped to 1..MAX_PAGE and per_page to
        1..max_per_page. When a word of the query is not in the index and its spelling
        correction finds results, those are returned with `corrected` set (unless `correct`
        is False: the words exactly as typed).

        A question that must be computed is admitted only while fewer than searchers +
        queue are (`indexer.search.admission.Overloaded` otherwise), and ranked within the
        question's CPU budget (`partial` when it ran out). A cached answer needs neither.
        """
        self._warm_once()
        started = time.perf_counter()
        per_page = clamp_per_page(per_page, self.settings.per_page, self.settings.max_per_page)
        page = clamp_page(page)
        filters = {k: v for k, v in (filters or {}).items() if v}
        asked = self._asked(query, page, per_page, correct, filters)
        cached = self._cached(asked)
        if cached is not None:
            return replace(cached, took_ms=(time.perf_counter() - started) * 1000, cached=True)
        computed = []
        with self.admission.admit(), self.pool.borrow() as snapshot:
            key = (*asked, snapshot.name, snapshot.commit,
                   self.store.vectors_stamp(snapshot.name))

            def compute() -> SearchPage:
                computed.append(True)
                ms = self.settings.question_budget_ms
                budget = Budget(ms / 1000 if ms > 0 else None)
                parsed = self.builder.build(query)
                found = answer(snapshot, parsed, hits_wanted(page, per_page), correct,
                               self.builder, self.ranking, filters, FACETS, budget)
                result = results_page(snapshot, found, page, per_page, filters)
                result.took_ms = (time.perf_counter() - started) * 1000
                return result

            # A partial answer is kept too: the budget is CPU time, so asked again, the
            # question would be cut short at the same place.
            result = self.cache.get_or_compute(key, compute)
        return replace(result, took_ms=(time.perf_counter() - started) * 1000,
                       cached=not computed)

    def is_cached(self, query: str, page: int = 1, per_page: int | None = None,
                  correct: bool = True, filters: dict[str, str] | None = None) -> bool:
        """True when `search()` with these arguments would answer from the result cache,
        for the index as it is on disk now: cheap, and safe from any thread (the server asks
        it to serve such questions before those that must be computed)."""
        per_page = clamp_per_page(per_page, self.settings.per_page, self.settings.max_per_page)
        filters = {k: v for k, v in (filters or {}).items() if v}
        return self._cached(self._asked(query, clamp_page(page), per_page, correct,
                                        filters)) is not None

    @staticmethod
    def _asked(query: str, page: int, per_page: int, correct: bool,
               filters: dict[str, str]) -> tuple:
        # The query as the builder will clean it: a cached answer costs no parse.
        return (clean_query_text(query).lower(), page, per_page, correct,
                tuple(sorted(filters.items())))

    def _cached(self, asked: tuple) -> SearchPage | None:
        if self.cache.size <= 0:
            return None
        # A cached answer for the index as it is on disk now needs no snapshot: readers of
        # popular questions do not queue behind those whose questions are computed.
        version = self.store.live_version()
        return None if version is None else self.cache.get((*asked, *version))

    def rank(self, query: str, limit: int = 100, correct: bool = True,
             grouped: bool = False) -> list[tuple[str, float]]:
        """(id, score) of the top `limit` hits, ranked as `search()` ranks them (spelling
        corrections included) but without snippets or paging: for relevance evaluation.
        With `grouped`, in the order a reader meets them on results pages: each result's
        leading page, then the pages listed under it (`indexer.search.grouping`)."""
        with self.pool.borrow() as snapshot:
            found = answer(snapshot, self.builder.build(query), limit, correct, self.builder,
                           self.ranking)
            hits = found.top.hits
            if grouped:
                hits = grouped_order(snapshot, found)
            ids = snapshot.ids(d for d, _ in hits)
            return [(doc_id, score) for doc_id, (_, score) in zip(ids, hits, strict=True)]

    def article(self, doc_id: str, highlight_query: str = "") -> ArticleView | None:
        """The stored article with this id, its text highlighted for the query; None if absent."""
        with self.pool.borrow() as snapshot:
            stored = snapshot.document(doc_id)
            if not stored:
                return None
            marks = (marking(self.builder.build(highlight_query),
                             lambda t: snapshot.idf("body", t)) if highlight_query else None)
        return article_view(stored, marks)

    def complete(self, prefix: str, limit: int = 8) -> list[Completion]:
        """Up to `limit` completions of what was typed: the phrases of titles, most articles
        first, then the last word completed from the vocabulary."""
        text = normalise_prefix(prefix)
        if len(text) < 2:
            return []
        with self.pool.borrow() as snapshot:
            return complete(snapshot, text, limit)

    def sample_questions(self, limit: int = 5) -> list[str]:
        """Searches to suggest: the reader questions that came with the corpus (never indexed
        as documents), else the titles of the subjects the most pages are about."""
        meta = self.store.read_meta()
        questions = [q for qs in meta.get("questions", {}).values() for q in qs]
        if questions:
            return questions[:limit]
        with self.pool.borrow() as snapshot:
            found = collection_of(snapshot)
            return [snapshot.stored(found.subjects[key][1]).get("title") or key
                    for key in found.covered(limit)]

    def collection(self) -> Collection:
        """What the live index holds: articles, summaries, publishers and subjects."""
        with self.pool.borrow() as snapshot:
            return collection_of(snapshot)

    def topics(self, letter: str, page: int = 1) -> tuple[list[Topic], int]:
        """One page of the subjects under an index letter (`collection.topics`)."""
        with self.pool.borrow() as snapshot:
            return topics(snapshot, letter, page)

    def doc_count(self) -> int:
        """Entries in the live index."""
        with self.pool.borrow() as snapshot:
            return snapshot.doc_count()

    def status(self) -> dict:
        """What a monitor asks: the live generation and its commit, its entries, and whether
        questions are ranked by meaning, with how many articles have a vector. Kept per index
        version, so a monitor does not wait for a searcher while every one is busy."""
        version = self.store.live_version()
        with self._status_lock:
            if version is not None and self._status and self._status[0] == version:
                return self._status[1]
        with self.pool.borrow() as snapshot:
            table = self.meaning.table(snapshot.name) if self.settings.dense else None
            status = {"generation": snapshot.name, "commit": snapshot.commit,
                      "entries": snapshot.doc_count(),
                      "meaning": {"on": self.ranking.vectors(snapshot) is not None,
                                  "vectors": len(table) if table is not None else 0}}
            seen = (snapshot.name, snapshot.commit, self.store.vectors_stamp(snapshot.name))
        with self._status_lock:
            self._status = (seen, status)
        return status
