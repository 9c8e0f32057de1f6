"""Renaming a cluster in clusters.yaml renames what the stacks named after it in place, never replaces it."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from declarations import city_copy, cluster_renamed
from dizuo.declaration import load
from dizuo.synth.engine import StackRun
from dizuo.synth.synth import SynthError, synth

from .conftest import ROOT, run_tiers

STACKS = ("0-network", "0-baseline", "1-cloud", "1-datapool")
PORT = "openstack:networking/port:Port"


def _claimed(run: StackRun) -> Counter[str]:
    """Each URN a stack's resources take from the state: their own and their aliases'."""
    return Counter([r.urn for r in run.resources] + [a for r in run.resources for a in r.aliases])


def _urn(provider: str) -> str:
    """The provider's URN in a provider reference (``<urn>::<id>``)."""
    return provider.rsplit("::", 1)[0]


def test_a_cluster_renamed_with_its_former_name_keeps_every_resource_named_after_it(tmp_path: Path) -> None:
    """yl-gov renamed yl-egov with `renamed_from`: every resource of every stack named after it (its protected ingress
    port, the Kubernetes providers, its baseline and the baseline's objects, the data-pool namespaces and what fences
    them) carries as alias the URN the old declaration gave it, so `pulumi up` renames each in place; no deployed
    resource is left unclaimed (deleted, or replaced by a new one) and no URN is claimed twice."""
    before = run_tiers(city_copy(tmp_path / "before"), *STACKS)
    after = run_tiers(city_copy(tmp_path / "after", cluster_renamed("yl-gov", "yl-egov")), *STACKS)
    for stack in STACKS:
        old, new = before[stack], after[stack]
        claimed = _claimed(new)
        lost = sorted(r.name for r in old.resources if claimed[r.urn] == 0)
        assert lost == [], f"{stack}: deployed resources the renamed declaration no longer claims (replaced): {lost}"
        twice = sorted(urn for urn, count in claimed.items() if count > 1)
        assert twice == [], f"{stack}: URNs two resources claim (name or alias), which Pulumi refuses: {twice}"
        # Each resource named after the cluster lists the URN it had under the former name among its aliases (a
        # Kubernetes resource's own, to its kind's other API versions, beside it).
        old_urns = {r.name: r.urn for r in old.resources}
        renamed = {r.name: r for r in new.resources if "yl-egov" in r.name}
        assert renamed, f"{stack}: no resource is named after the cluster: the test misses what it renames"
        unaliased = sorted(
            name for name, r in renamed.items() if old_urns.get(name.replace("yl-egov", "yl-gov")) not in r.aliases
        )
        assert unaliased == [], f"{stack}: resources named after the cluster without an alias to their URN: {unaliased}"
        # A resource made through another provider than the deployed one is replaced: the renamed cluster's provider
        # must be the deployed one under its former name.
        deployed = {r.urn: r for r in old.resources}
        names_of = {r.urn: {r.urn, *r.aliases} for r in new.resources}
        moved = []
        for r in new.resources:
            was = next((deployed[u] for u in (r.urn, *r.aliases) if u in deployed), None)
            if r.provider and was is not None and was.provider:
                provider = _urn(r.provider)
                if _urn(was.provider) not in names_of.get(provider, {provider}):
                    moved.append(r.name)
        assert moved == [], f"{stack}: resources made through a provider that is not the deployed one: {moved}"
    # Named after the cluster as zones' are: the port's Neutron name follows the new name, which Neutron edits in place.
    ports = {r.name: r for r in after["0-network"].of_type(PORT)}
    assert ports["yl-yl-egov-ingress"].inputs["name"] == "yl-yl-egov-ingress"
    assert ports["yl-yl-egov-ingress"].protect, "the ingress port stays protected under its new name"


def test_a_cluster_renamed_without_its_former_name_loses_its_resources(tmp_path: Path) -> None:
    """The same rename without `renamed_from` leaves the network stack's deployed ingress port unclaimed (Pulumi would
    delete it, and fails on it, the port being protected): what the former name is there for."""
    edits = cluster_renamed("yl-gov", "yl-egov")
    renaming = edits["clusters.yaml"]

    def without_former_name(doc: dict[str, Any]) -> None:
        renaming(doc)
        for cluster in doc["clusters"]:
            cluster.pop("renamed_from", None)

    before = run_tiers(city_copy(tmp_path / "before"), "0-network")["0-network"]
    city = city_copy(tmp_path / "after", {**edits, "clusters.yaml": without_former_name})
    after = run_tiers(city, "0-network")["0-network"]
    claimed = _claimed(after)
    lost = sorted(r.name for r in before.resources if claimed[r.urn] == 0)
    assert lost == ["yl-yl-gov-ingress"], lost


def test_openstack_json_names_a_renamed_clusters_ingress_port_by_the_urn_pulumi_finds_it_under(tmp_path: Path) -> None:
    """With yl-gov renamed yl-egov (renamed_from), the synthesised network/openstack.json says its ingress port is the
    deployed one: it lists as alias the engine URN the port had under the former name."""
    city = city_copy(tmp_path / "city", cluster_renamed("yl-gov", "yl-egov"))
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-network", stacks / "0-network", ignore=shutil.ignore_patterns("__pycache__"))
    run = synth(load(city), city, tmp_path / "build", stacks).runs["network"]
    written = {r["name"]: r for r in json.loads((tmp_path / "build" / "network" / "openstack.json").read_text())}
    port = written["yl-yl-egov-ingress"]
    assert port["aliases"] == [
        f"urn:pulumi:{run.stack}::{run.project}::dizuo:network:CityNetwork${PORT}::yl-yl-gov-ingress"
    ], port
    assert port["protect"] is True, port


def test_a_renamed_clusters_kubeconfig_left_under_its_former_name_is_refused_naming_the_key(tmp_path: Path) -> None:
    """With yl-gov renamed yl-egov and its kubeconfig still under dizuo:kubeconfig-yl-gov, the provider would read
    dizuo:kubeconfig-yl-egov, find none and take ~/.kube/config: the stack refuses to run, naming the config file and
    the key to move, and synth writes nothing."""
    city = city_copy(tmp_path / "city", cluster_renamed("yl-gov", "yl-egov"))
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-baseline", stacks / "0-baseline", ignore=shutil.ignore_patterns("__pycache__"))
    config_file = stacks / "0-baseline" / "Pulumi.yulin-prod.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["config"]["dizuo:kubeconfig-yl-gov"] = "apiVersion: v1"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(SynthError) as caught:
        synth(load(city), city, tmp_path / "build", stacks)
    said = " ".join(caught.value.errors)
    assert f"{config_file.resolve()}: config.dizuo:kubeconfig-yl-gov: the kubeconfig of cluster 'yl-gov'" in said, said
    assert "`pulumi config set --secret dizuo:kubeconfig-yl-egov <kubeconfig>`" in said, said
    assert not (tmp_path / "build").exists()
