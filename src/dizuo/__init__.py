"""dizuo (底座): a city government's digital foundation declared as code, and kept healthy."""

__version__ = "0.1.0"
