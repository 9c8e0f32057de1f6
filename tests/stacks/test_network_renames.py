"""Renaming a subnet in network.yaml renames the deployed one in place, never replaces it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dizuo.synth.engine import Registered, StackRun

from .conftest import city_copy, run_tiers

SUBNET = "openstack:networking/subnet:Subnet"
INTERFACE = "openstack:networking/routerInterface:RouterInterface"


def _renamed_uplink(network: dict[str, Any]) -> None:
    """The extranet's uplink subnet (where the provincial line's router, a reserved next hop, lives) renamed."""
    uplink = next(s for s in network["zones"][0]["subnets"] if s["name"] == "ext-uplink")
    uplink["name"] = "ext-province-line"
    uplink["renamed_from"] = "ext-uplink"


def _by_name(run: StackRun, kind: str) -> dict[str, Registered]:
    return {r.name: r for r in run.of_type(kind)}


def test_a_subnet_renamed_with_its_former_name_is_the_deployed_subnet_renamed_in_place(tmp_path: Path) -> None:
    """A subnet renamed with `renamed_from` takes the deployed subnet and its router interface by their former
    names (aliases), so Pulumi renames the subnet in place: as a new resource it would be made before the old one
    goes, and Neutron refuses a second subnet of one range on a network ("overlaps with another subnet"). Only its
    name changes; no other resource of the stack is renamed."""
    before = run_tiers(city_copy(tmp_path / "before"), "0-network")["0-network"]
    after = run_tiers(city_copy(tmp_path / "after", {"network.yaml": _renamed_uplink}), "0-network")["0-network"]
    old_subnets, new_subnets = _by_name(before, SUBNET), _by_name(after, SUBNET)
    renamed, former = new_subnets["yl-ext-province-line-subnet"], old_subnets["yl-ext-uplink-subnet"]
    assert renamed.aliases == (former.urn,), renamed.aliases
    changed = {k for k in former.inputs.keys() | renamed.inputs.keys() if former.inputs.get(k) != renamed.inputs.get(k)}
    assert changed == {"name"}, f"a rename changes the subnet's {sorted(changed)}, some of which Neutron cannot edit"
    assert renamed.inputs["name"] == "yl-ext-province-line"
    interface = _by_name(after, INTERFACE)["yl-ext-province-line-rif"]
    assert interface.aliases == (_by_name(before, INTERFACE)["yl-ext-uplink-rif"].urn,), interface.aliases
    claimed = {r.urn for r in after.resources} | {a for r in after.resources for a in r.aliases}
    lost = sorted(r.name for r in before.resources if r.urn not in claimed)
    assert lost == [], f"deployed resources the renamed declaration no longer claims (replaced or deleted): {lost}"
    aliased = sorted(r.name for r in after.resources if r.aliases and r.type in (SUBNET, INTERFACE))
    assert aliased == ["yl-ext-province-line-rif", "yl-ext-province-line-subnet"], aliased
