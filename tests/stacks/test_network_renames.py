"""Renaming a subnet in network.yaml renames the deployed one in place, never replaces it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from declarations import city_copy, zone_renamed
from dizuo.synth.engine import Registered, StackRun

from .conftest import YULIN, replaced_rules, run_tiers

SUBNET = "openstack:networking/subnet:Subnet"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
ROUTE = "openstack:networking/routerRoute:RouterRoute"
PORT = "openstack:networking/port:Port"
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


def test_a_zone_renamed_with_its_former_name_keeps_every_resource_of_the_network_stack(tmp_path: Path) -> None:
    """The extranet renamed `gov-extranet` with `renamed_from`: its network, router, security group, rules, routes
    (between zones, and the provincial line's ingress route) and transit port are the deployed ones under their former
    names (aliases), none replaced: a new transit port would ask for the router's pinned address the old one holds, new
    rules are refused by Neutron beside the old ones alike, and replacing a rule the old one first stops its traffic.
    What changes is edited in place (names, tags) or is the description of a rule of a flow, which names the zone and
    is left as the rule was made."""
    before = run_tiers(city_copy(tmp_path / "before"), "0-network")["0-network"]
    city = city_copy(tmp_path / "after", zone_renamed("extranet", "gov-extranet"))
    after = run_tiers(city, "0-network")["0-network"]
    claimed = Counter([r.urn for r in after.resources] + [a for r in after.resources for a in r.aliases])
    lost = sorted(r.name for r in before.resources if claimed[r.urn] == 0)
    assert lost == [], f"deployed resources the renamed declaration no longer claims (replaced or deleted): {lost}"
    twice = sorted(urn for urn, count in claimed.items() if count > 1)
    assert twice == [], f"URNs two resources claim (name or alias), which Pulumi refuses: {twice}"
    old = {r.urn: r for r in before.resources}
    renamed = {
        r.name: next(old[a] for a in r.aliases if a in old) for r in after.resources if set(r.aliases) & set(old)
    }
    expected = {
        "yl-gov-extranet-net",
        "yl-gov-extranet-sg",
        "yl-gov-extranet-within",
        "yl-gov-extranet-transit-port",
        "yl-dedicated-to-gov-extranet-route",
        "yl-gov-extranet-172-16-0-0-12-via-10-61-0-2-route",
    }
    assert expected <= set(renamed), sorted(expected - set(renamed))
    # Neutron edits no route in place, nor does a port move to another address: what Pulumi would replace them for
    # must be the deployed resource's (IDs aside, which the mock engine makes from names). Rules: below.
    replaced_for = {
        ROUTE: ("destinationCidr", "nextHop"),
        PORT: ("fixedIps",),
    }
    checked = 0
    for r in after.resources:
        if r.name in renamed and r.type in replaced_for:
            was, checked = renamed[r.name], checked + 1
            ips = [ip.get("ipAddress") for ip in r.inputs.get("fixedIps", [])]
            assert ips == [ip.get("ipAddress") for ip in was.inputs.get("fixedIps", [])], r.name
            moved = [
                k
                for k in replaced_for[r.type]
                if k != "fixedIps" and k not in r.ignore_changes and was.inputs.get(k) != r.inputs.get(k)
            ]
            assert moved == [], f"{r.name}: {moved} changed, which replaces it"
    # A route each way between the extranet and each of the 3 other zones, the provincial line's, the transit port.
    assert checked == 2 * 3 + 1 + 1, sorted(renamed)
    # Every rule, those of the flows from the zone into others too (kept under their names, their descriptions naming
    # the zone), keeps all but the description it was made with, which it ignores. IDs aside: the mock engine makes
    # them from names, a rename in place keeps them.
    old_rules, new_rules = {r.urn: r for r in before.of_type(RULE)}, {r.urn: r for r in after.of_type(RULE)}
    replaced = replaced_rules(old_rules, new_rules, ids=frozenset({"securityGroupId", "remoteGroupId"}))
    assert replaced == {}, f"rules the zone rename replaces (their traffic stops meanwhile): {replaced}"
    reworded_elsewhere = [
        r.name
        for urn, r in new_rules.items()
        if urn in old_rules and r.inputs["description"] != old_rules[urn].inputs["description"]
    ]
    assert reworded_elsewhere, "no rule outside the renamed zone names it: the test misses the flows from it"


def test_the_within_zone_rule_names_nothing_a_rename_changes() -> None:
    """The rule letting a zone's members reach each other says the same in every zone and names no zone, so that one
    made after a zone rename reads as one made before: Neutron keeps a rule's description as it was made (changing it
    means replacing the rule, which cuts the members off from each other meanwhile), and a description naming the
    zone's former code would mislead whoever reads the renamed zone's group."""
    network = run_tiers(YULIN, "0-network")["0-network"]
    within = {r.name: r.inputs["description"] for r in network.of_type(RULE) if r.name.endswith("-within")}
    assert len(within) == 4, sorted(within)
    zones = ("extranet", "dedicated", "internet", "management")
    naming = {rule: text for rule, text in within.items() if any(zone in text for zone in zones)}
    assert naming == {}, f"within-zone rules whose description names a zone: {naming}"
    assert len(set(within.values())) == 1, within


def test_a_rule_from_anywhere_says_so_and_keeps_the_rule_deployed_under_its_digits(tmp_path: Path) -> None:
    """A rule admitting every address is named `...-from-anywhere`, which a reader of a preview cannot take for a rule
    from some range as `...-from-0-0-0-0-0` could be, and finds the rule deployed under that former name (an alias),
    its zone renamed too: as a new resource it would be made before the old one goes, and Neutron refuses it beside
    the old one alike (409 SecurityGroupRuleExists)."""
    before = run_tiers(city_copy(tmp_path / "before"), "0-network")["0-network"]
    world = sorted(r.name for r in before.of_type(RULE) if r.inputs.get("remoteIpPrefix") == "0.0.0.0/0")
    assert world == ["yl-internet-tcp-443-from-anywhere", "yl-internet-tcp-80-from-anywhere"], world
    # The stack as deployed before rules from anywhere said so.
    deployed = [r.urn.replace("-from-anywhere", "-from-0-0-0-0-0") for r in before.resources]
    for city in (city_copy(tmp_path / "same"), city_copy(tmp_path / "renamed", zone_renamed("internet", "dmz"))):
        after = run_tiers(city, "0-network")["0-network"]
        claimed = Counter([r.urn for r in after.resources] + [a for r in after.resources for a in r.aliases])
        lost = sorted(urn.rsplit("::", 1)[1] for urn in deployed if claimed[urn] == 0)
        assert lost == [], f"{city.name}: deployed resources no longer claimed (replaced or deleted): {lost}"
        twice = sorted(urn for urn, count in claimed.items() if count > 1)
        assert twice == [], f"{city.name}: URNs two resources claim (name or alias), which Pulumi refuses: {twice}"
