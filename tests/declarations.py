"""Declarations changed for tests: copies of Yulin's folder with files edited, and declarations changed in memory for
tests of what reads one (not of loading it)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from dizuo.declaration.model import Declaration

YULIN = Path(__file__).resolve().parents[1] / "inventories" / "yulin"


def with_cluster_renamed(declaration: Declaration, old: str, new: str) -> Declaration:
    """``declaration`` with cluster ``old`` renamed ``new`` as clusters.yaml says it (``renamed_from: old``), and its
    systems declared in ``new``."""
    clusters = tuple(
        c.model_copy(update={"name": new, "renamed_from": old}) if c.name == old else c for c in declaration.clusters
    )
    systems = tuple(s.model_copy(update={"cluster": new}) if s.cluster == old else s for s in declaration.systems)
    return declaration.model_copy(update={"clusters": clusters, "systems": systems})


def city_copy(folder: Path, edits: dict[str, Callable[[dict[str, Any]], None]] | None = None) -> Path:
    """A copy of Yulin's declaration in ``folder``, each file of ``edits`` changed by its function (comments go)."""
    shutil.copytree(YULIN, folder)
    for file, edit in (edits or {}).items():
        document = yaml.safe_load((folder / file).read_text(encoding="utf-8"))
        edit(document)
        (folder / file).write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


def zone_renamed(old: str, new: str) -> dict[str, Callable[[dict[str, Any]], None]]:
    """Edits renaming zone ``old`` to ``new`` everywhere the declaration names it, saying its former name."""

    def network(doc: dict[str, Any]) -> None:
        zone = next(z for z in doc["zones"] if z["name"] == old)
        zone["name"], zone["renamed_from"] = new, old
        doc["transit"]["routers"] = {new if k == old else k: v for k, v in doc["transit"]["routers"].items()}
        for entry in (*doc["flows"], *doc["ingress"]):
            for end in ("source", "destination"):
                if entry.get(end) == old:
                    entry[end] = new

    def zoned(key: str) -> Callable[[dict[str, Any]], None]:
        def rename(doc: dict[str, Any]) -> None:
            for item in doc[key]:
                if item.get("zone") == old:
                    item["zone"] = new

        return rename

    return {
        "network.yaml": network,
        "clusters.yaml": zoned("clusters"),
        "hosts.yaml": zoned("hosts"),
        "systems.yaml": zoned("systems"),
    }


def cluster_renamed(old: str, new: str) -> dict[str, Callable[[dict[str, Any]], None]]:
    """Edits renaming cluster ``old`` to ``new`` everywhere the declaration names it, saying its former name."""

    def clusters(doc: dict[str, Any]) -> None:
        cluster = next(c for c in doc["clusters"] if c["name"] == old)
        cluster["name"], cluster["renamed_from"] = new, old

    def systems(doc: dict[str, Any]) -> None:
        for system in doc["systems"]:
            if system["cluster"] == old:
                system["cluster"] = new

    def city(doc: dict[str, Any]) -> None:
        if doc.get("migration", {}).get("cluster") == old:
            doc["migration"]["cluster"] = new

    return {"clusters.yaml": clusters, "systems.yaml": systems, "city.yaml": city}
