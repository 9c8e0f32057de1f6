"""`python -m dizuo` runs the CLI as the `dizuo` console script does."""

from dizuo.entry import run

run()
