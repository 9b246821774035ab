"""Storage: the only package that knows Whoosh's internals.

- `generations`: the index folder: generations, CURRENT, the writer lock, and the one way
  to open a generation (`IndexStore.open`, which installs the codec's fixes first).
- `reader`: the read facade: `Index`, `Snapshot`, `SegmentView`, handing out arrays.
- `writer`: `IndexWriter` and the faster segment writer under it.
- `codec`: Whoosh's on-disk format as read and written here, and the fixes to Whoosh.
- `schema`: fields, the Whoosh analyzer, an article's stored fields.
- `arrays`: postings and columns as arrays, and their cache (pure NumPy).
- `vectors`: a generation's article vectors (pure NumPy).
- `neighbours`: the nearest-neighbour graph over a large generation's vectors (faiss).
- `stats`: what the live index holds.

Callers use `IndexStore`, `Index`, `Snapshot`, `SegmentView`, `IndexWriter`, `Postings`,
`PostingsCache`, `VectorTable` and `NeighbourGraph`; no Whoosh or faiss object crosses this
boundary.
"""

from indexer.storage.arrays import Postings, PostingsCache
from indexer.storage.generations import IndexBusy, IndexStore, LockInfo, NoIndex
from indexer.storage.neighbours import NeighbourGraph, graph_in_step, keeps_graph
from indexer.storage.reader import Index, SegmentView, Snapshot
from indexer.storage.vectors import VectorTable

__all__ = ["Index", "IndexBusy", "IndexStore", "LockInfo", "NeighbourGraph", "NoIndex",
           "Postings", "PostingsCache", "SegmentView", "Snapshot", "VectorTable",
           "graph_in_step", "keeps_graph"]
