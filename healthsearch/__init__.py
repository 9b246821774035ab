"""The `healthsearch` command: the command line on top of the engine (`indexer`) and the web
layer (`webapp`)."""
