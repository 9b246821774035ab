"""healthsearch engine: reading the corpus, analysis, index building, querying and snippets."""

__version__ = "0.1.0"
