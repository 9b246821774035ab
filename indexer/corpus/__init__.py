"""The corpus: finding and reading article files (`reading`), one pure parser per format
(`formats`), the article record (`article`) and every teaser rule (`teasers`).

Knows nothing of the index: no Whoosh, no NumPy.
"""
