"""Search: the `SearchEngine` the web layer and the CLI share (`engine`), answering a question
(`answer`, `spelling`), the pages a reader gets (`pages`, `snippets`), type-ahead
(`completion`), and what the engine keeps between questions (`pool`, `cache`)."""

from indexer.search.engine import SearchEngine
from indexer.search.pages import MAX_PAGE, ArticleView, Result, SearchPage

__all__ = ["MAX_PAGE", "ArticleView", "Result", "SearchEngine", "SearchPage"]
