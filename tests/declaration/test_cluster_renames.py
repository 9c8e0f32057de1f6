"""A cluster's former name (renamed_from) stands for one deployed cluster, as a zone's does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from declarations import city_copy, cluster_renamed
from dizuo.cli import app
from dizuo.declaration import load
from dizuo.exit_codes import FAILED

from .conftest import Edit


def _dmz_was_gov(doc: Any) -> None:
    doc["clusters"][1]["renamed_from"] = "yl-gov"


def _gov_was_itself(doc: Any) -> None:
    doc["clusters"][0]["renamed_from"] = "yl-gov"


def _both_were_one(doc: Any) -> None:
    for cluster in doc["clusters"]:
        cluster["renamed_from"] = "yl-old"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (_dmz_was_gov, "clusters.yaml: clusters[1].renamed_from: 'yl-gov' is the name of clusters[0] now"),
        (_gov_was_itself, "clusters.yaml: clusters[0].renamed_from: 'yl-gov' is the name of this cluster now"),
        (_both_were_one, "clusters.yaml: clusters[1].renamed_from: 'yl-old' is also the former name of clusters[0]"),
    ],
)
def test_a_former_name_must_stand_for_one_deployed_cluster(
    city: Path, edit: Edit, change: Callable[[Any], None], said: str
) -> None:
    """A cluster's renamed_from becomes an alias of what the stacks name after it: one that is a cluster's name now, or
    that two clusters give, is refused by `validate` naming the file, the key and the value, worded as for zones
    (Pulumi would refuse the alias at `dizuo up`, after the stacks before it had run)."""
    edit("clusters.yaml", change)
    result = CliRunner().invoke(app, ["validate", str(city)])
    assert result.exit_code == FAILED, result.output
    assert said in " ".join(result.output.split()), result.output


def test_former_cluster_names_map_each_renamed_cluster_to_its_former_name_only(tmp_path: Path) -> None:
    """The stacks alias what they named after a cluster through former_cluster_names: yl-gov renamed yl-egov maps
    yl-egov to yl-gov, and the clusters never renamed are not in it (an alias to a name they never had)."""
    renamed = load(city_copy(tmp_path / "city", cluster_renamed("yl-gov", "yl-egov")))
    assert renamed.former_cluster_names() == {"yl-egov": "yl-gov"}
    assert load(city_copy(tmp_path / "as-deployed")).former_cluster_names() == {}
