"""`python -m healthsearch` runs the command-line interface."""

from healthsearch.cli import main

main()
