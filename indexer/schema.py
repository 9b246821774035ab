"""The Whoosh schema: what is indexed, stored for display, and kept in columns for updates."""

from __future__ import annotations

from whoosh import columns
from whoosh.fields import COLUMN, ID, STORED, TEXT, Schema

from indexer.analysis import build_analyzer

# Fields a reader may name in a query ("title:cancer"); any other "word:" is plain text.
QUERY_FIELDS = ("title", "body")


def build_schema() -> Schema:
    """The index schema.

    title and body share one analyzer (the query side uses it too); `spelling=True` keeps the
    unstemmed words in side fields for "did you mean". id, kind, source, content hash and
    merge key are columns, so an incremental run reads them without unpickling every body.
    """
    analyzer = build_analyzer()
    return Schema(
        id=ID(unique=True, stored=True, sortable=True),
        title=TEXT(analyzer=analyzer, stored=True, spelling=True),
        body=TEXT(analyzer=analyzer, stored=True, spelling=True),
        kind=ID(stored=True, sortable=True),
        url=STORED(),
        description=STORED(),
        source=COLUMN(columns.VarBytesColumn()),
        hash=COLUMN(columns.VarBytesColumn()),
        merge_key=COLUMN(columns.VarBytesColumn()),
    )
