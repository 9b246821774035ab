"""Text analysis: words to index terms (`analysis`), lay and medical wordings (`synonyms`),
and spelling as pure functions of words (`spelling`). Needs no index."""
