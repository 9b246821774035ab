"""Building the index from the corpus: `index_corpus` (`apply`: rebuild or update under the
writer lock), the update's plan (`plan`), what both keep track of (`bookkeeping`), the
article vectors (`vectors`) and progress hooks (`progress`)."""

from indexer.build.apply import auto_workers, index_corpus
from indexer.build.bookkeeping import NothingToIndex, Summary, VectorCounts, indexed_entries
from indexer.build.progress import Progress

__all__ = ["NothingToIndex", "Progress", "Summary", "VectorCounts", "auto_workers",
           "index_corpus", "indexed_entries"]
