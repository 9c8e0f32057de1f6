"""The city declaration: typed model, loader with located errors, JSON Schema, Ansible inventory."""

from dizuo.declaration.loader import DeclarationError, Problem, load
from dizuo.declaration.model import Declaration

__all__ = ["Declaration", "DeclarationError", "Problem", "load"]
