"""The YAML config files of the capacity commands (selectors, alert thresholds, working calendar).

Each is validated by a pydantic model, and a bad one raises :class:`ConfigError` whose lines name the
file, the key path and the bad value, in the declaration loader's format.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from dizuo.declaration.loader import Problem, problems_from_validation, read_yaml

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(Exception):
    """A configuration file is invalid; the message names the file, the key and the value."""

    @classmethod
    def of(cls, problems: list[Problem]) -> ConfigError:
        """One error listing every problem, one per line."""
        return cls("\n".join(str(p) for p in problems))


def load_model(path: Path, model: type[ModelT]) -> ModelT:
    """One YAML config file validated into ``model``; :class:`ConfigError` lists each problem as
    ``file: key.path: message: 'value'``."""
    document, problems = read_yaml(path, str(path))
    if document is None:
        raise ConfigError.of(problems)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise ConfigError.of(problems_from_validation(str(path), exc, model=model)) from None
