"""`python -m dizuo` runs the CLI."""

from dizuo.cli import main

main()
