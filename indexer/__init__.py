"""healthsearch engine. Data flows one way through its packages:

    corpus -> text -> storage -> query -> ranking -> search
                                   build (corpus -> storage, with ranking's encoder)

- `corpus`: finding and reading article files, the article record, teaser rules.
- `text`: analysis (words to index terms), synonyms, spelling as pure functions.
- `storage`: the only package that knows Whoosh's internals: generations, the codec, the
  segment writer, and a read facade that hands out arrays.
- `query`: what a reader typed, parsed into clauses to score and a match tree.
- `ranking`: the model and its constants, the formulas, the ranking by words, feedback,
  meaning, and the pipeline that orders the stages.
- `search`: `SearchEngine` (the API the web layer and the CLI share), spelling, pages.
- `build`: `index_corpus`, full rebuilds and incremental updates, article vectors.
- `config`: every setting, with environment-variable fallbacks.

The command line (`healthsearch`) and the web layer (`webapp`) sit on top; nothing here
imports either.
"""

__version__ = "0.1.0"
