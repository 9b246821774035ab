"""What a reader typed, made into something to rank: `cleaning` (pure: normalising the text,
telling search syntax from a question), `types` (pure: `Clause`, `ParsedQuery`, the match
tree of search syntax) and `parser` (`QueryBuilder`, on Whoosh's query parser)."""

from indexer.query.parser import QueryBuilder
from indexer.query.types import Clause, ParsedQuery

__all__ = ["Clause", "ParsedQuery", "QueryBuilder"]
