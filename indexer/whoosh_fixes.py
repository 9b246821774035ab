"""A fix for a Whoosh 2.7 hot spot, applied once on import by the modules that open indexes.

Whoosh's per-document reader caches a field's length column only when the column exists; for
fields without lengths (the unscored spelling fields) it stats the missing file again for every
posting written at commit and every length looked up when scoring. Segment files never change
once written, so remembering "no such column" is safe. Measured on 1,000 MedQuAD articles:
about a third of commit time went to those stat calls.
"""

from __future__ import annotations

from whoosh.codec import whoosh3

_MISSING = object()


def _install() -> None:
    reader_class = whoosh3.W3PerDocReader
    if getattr(reader_class, "_healthsearch_fixed", False):
        return
    original = reader_class._cached_reader

    def _cached_reader(self, fieldname, column):
        missing = self.__dict__.setdefault("_healthsearch_missing", set())
        if fieldname in missing:
            return None
        reader = original(self, fieldname, column)
        if reader is None:
            missing.add(fieldname)
        return reader

    reader_class._cached_reader = _cached_reader
    reader_class._healthsearch_fixed = True


_install()
