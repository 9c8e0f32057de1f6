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


def add_dedicated_zone(network: dict[str, Any], name: str, title: str, subnet: str, router: str, at: int = -1) -> None:
    """Add to network.yaml's document a dedicated zone 10.65.0.0/16 with one subnet 10.65.1.0/24 and its router's
    address on the transit network; at ``at`` in the list of zones (default: last)."""
    zone = {
        "name": name,
        "kind": "dedicated",
        "title": title,
        "cidr": "10.65.0.0/16",
        "subnets": [{"name": subnet, "cidr": "10.65.1.0/24"}],
    }
    network["zones"].insert(len(network["zones"]) if at == -1 else at, zone)
    network["transit"]["routers"][name] = router
