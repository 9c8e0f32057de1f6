"""The data pool's owner namespaces, named after cluster and owner joined with hyphens, never come out alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dizuo.cli import app
from dizuo.exit_codes import FAILED

from .conftest import Edit

# Cluster yl-gov with owner sjj-dp-gaj and cluster yl-gov-dp-sjj with owner gaj: both namespaces' Pulumi resources are
# called <stack>-yl-gov-dp-sjj-dp-gaj.
JOINED_CLUSTER = "yl-gov-dp-sjj"
JOINED_OWNER = "sjj-dp-gaj"


def _dmz_cluster_renamed(doc: Any) -> None:
    next(c for c in doc["clusters"] if c["name"] == "yl-dmz")["name"] = JOINED_CLUSTER


def _dmz_systems_moved(doc: Any) -> None:
    for system in doc["systems"]:
        if system.get("cluster") == "yl-dmz":
            system["cluster"] = JOINED_CLUSTER


def _department_with_a_joined_code(doc: Any) -> None:
    sjj = next(d for d in doc["departments"] if d["code"] == "sjj")
    doc["departments"].append(
        {**sjj, "code": JOINED_OWNER, "name": "数据共享专班", "quota": {"cpu": 8, "memory_gib": 32, "storage_gib": 64}}
    )


def _datasets_on_both_clusters(doc: Any) -> None:
    common = {"classification": "一般", "retention_days": 365, "size_gib": 1, "records": 1, "refresh_days": 7}
    doc["datasets"] += [
        {"code": "joined-a", "name": "甲", "owner": JOINED_OWNER, "storage_pool": "datapool-ceph", **common},
        {"code": "joined-b", "name": "乙", "owner": "gaj", "storage_pool": "dmz-ceph", **common},
        {"code": "joined-c", "name": "丙", "owner": "gaj", "storage_pool": "dmz-ceph", **common},
    ]


def _refused(city: Path) -> str:
    """What `dizuo validate` says of ``city``, on one line, having refused it."""
    result = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "400"})
    assert result.exit_code == FAILED, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


def _dmz_cluster_formerly_joined(doc: Any) -> None:
    next(c for c in doc["clusters"] if c["name"] == "yl-dmz")["renamed_from"] = JOINED_CLUSTER


# The two datasets that collide are the last but two (owner sjj-dp-gaj on yl-gov) and the last but one (gaj).
JOINED_NAMES = [
    pytest.param(
        {"clusters.yaml": _dmz_cluster_renamed, "systems.yaml": _dmz_systems_moved},
        "datasets[{b}].owner: owner 'gaj' on cluster 'yl-gov-dp-sjj' (storage pool 'dmz-ceph') makes the data-pool "
        "namespace resource yl-datapool-yl-gov-dp-sjj-dp-gaj, as datasets[{a}] (owner 'sjj-dp-gaj' on cluster "
        "'yl-gov') does: two resources cannot share a name",
        id="two names",
    ),
    pytest.param(
        {"clusters.yaml": _dmz_cluster_formerly_joined},
        "datasets[{b}].owner: owner 'gaj' on cluster 'yl-dmz' (storage pool 'dmz-ceph') aliases (cluster "
        "renamed_from 'yl-gov-dp-sjj') the data-pool namespace resource yl-datapool-yl-gov-dp-sjj-dp-gaj, which "
        "datasets[{a}] (owner 'sjj-dp-gaj' on cluster 'yl-gov') makes: Pulumi would take one deployed resource for "
        "two namespaces",
        id="a former name and a name",
    ),
]


@pytest.mark.parametrize(("cluster_edits", "expected"), JOINED_NAMES)
def test_two_cluster_owner_pairs_whose_namespaces_share_a_name_are_refused_naming_both(
    city: Path, edit: Edit, cluster_edits: dict[str, Callable[[Any], None]], expected: str
) -> None:
    """An owner's namespace is named ``<component>-<cluster>-dp-<owner>``, and both codes hold hyphens; a renamed
    cluster's also keep their former names (``<former>-dp-<owner>``) as aliases: two (cluster, owner) pairs spelling
    one name alike (Pulumi would refuse them or adopt the wrong namespace) are refused by `validate` once, naming both
    datasets, not left to synth's duplicate URN error, which names neither."""
    for file, change in cluster_edits.items():
        edit(file, change)
    edit("departments.yaml", _department_with_a_joined_code)
    edit("datasets.yaml", _datasets_on_both_clusters)
    datasets = len(yaml.safe_load((city / "datasets.yaml").read_text(encoding="utf-8"))["datasets"])
    result = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "400"})
    assert result.exit_code == FAILED, result.output
    assert "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert "datasets.yaml: " + expected.format(a=datasets - 3, b=datasets - 2) in said, result.output
    assert f"1 problem(s) in {city}" in said, result.output
