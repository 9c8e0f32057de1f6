"""The data pool's owner namespaces, named after cluster and owner joined with hyphens, never come out alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def test_two_cluster_owner_pairs_whose_namespaces_share_a_name_are_refused_naming_both(city: Path, edit: Edit) -> None:
    """An owner's namespace is named ``<component>-<cluster>-dp-<owner>``, and both codes hold hyphens: two (cluster,
    owner) pairs spelling it alike are refused by `validate` once, naming both datasets, not left to synth's duplicate
    URN error, which names neither."""
    edit("clusters.yaml", _dmz_cluster_renamed)
    edit("systems.yaml", _dmz_systems_moved)
    edit("departments.yaml", _department_with_a_joined_code)
    edit("datasets.yaml", _datasets_on_both_clusters)
    datasets = len(yaml.safe_load((city / "datasets.yaml").read_text(encoding="utf-8"))["datasets"])
    result = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "400"})
    assert result.exit_code == FAILED, result.output
    assert "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert (
        f"datasets.yaml: datasets[{datasets - 2}].owner: owner 'gaj' on cluster 'yl-gov-dp-sjj' (storage pool "
        "'dmz-ceph') makes the data-pool namespace resource yl-datapool-yl-gov-dp-sjj-dp-gaj, as "
        f"datasets[{datasets - 3}] (owner 'sjj-dp-gaj' on cluster 'yl-gov') does: two resources cannot share a name"
    ) in said, result.output
    assert f"1 problem(s) in {city}" in said, result.output
