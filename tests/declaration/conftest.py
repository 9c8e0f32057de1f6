"""Fixtures for declaration tests: a writable copy of the Yulin declaration."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

YULIN = Path(__file__).resolve().parents[2] / "inventories" / "yulin"


@pytest.fixture
def city(tmp_path: Path) -> Path:
    """A copy of the Yulin declaration that a test may break."""
    target = tmp_path / "yulin"
    shutil.copytree(YULIN, target)
    return target


Edit = Callable[[str, Callable[[Any], None]], None]


@pytest.fixture
def edit(city: Path) -> Edit:
    """``edit("systems.yaml", lambda doc: ...)``: change one file of the copy in place."""

    def apply(file: str, change: Callable[[Any], None]) -> None:
        path = city / file
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(document)
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")

    return apply
