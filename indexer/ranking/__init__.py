"""Ranking: the model and its constants (`model`), the formulas (`formulas`), the ranking by
words (`lexical`), feedback (`feedback`), meaning (`encoder`, `meaning`), and the order of
the stages (`pipeline`)."""
