"""Security-group rules of the network stack survive the edits the declaration invites."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from declarations import city_copy
from dizuo.cli import app
from dizuo.network.shapes import former_rule_names, rule_name
from dizuo.synth.engine import Registered, StackRun

from .conftest import ROOT, YULIN, replaced_rules, run_tiers

RULE = "openstack:networking/secGroupRule:SecGroupRule"
ROUTE = "openstack:networking/routerRoute:RouterRoute"
# Yulin's network stack as dizuo 0.1.0 named its resources, rules and ingress routes after their entries.
DEPLOYED_0_1_0 = Path(__file__).parent / "inventory" / "yulin-network-0.1.0.urns"


def _rules(run: StackRun) -> dict[str, Registered]:
    return {r.urn: r for r in run.of_type(RULE)}


def test_a_reworded_flow_description_replaces_no_rule(tmp_path: Path) -> None:
    """Editing a flow's description replaces none of its rules: Neutron edits no rule (the description forces a new
    one too), and no replacement keeps the flow open (created first, it is refused with 409 SecurityGroupRuleExists
    beside the old one alike; deleted first, the flow stops until the new one is made), so each rule keeps the
    description it was made with. Should a rule be replaced all the same, the old one goes first."""

    def reworded(network: dict[str, Any]) -> None:
        network["flows"][0]["description"] = "互联网区前置服务经 API 网关访问政务外网后端 (改写)"

    before = _rules(run_tiers(city_copy(tmp_path / "before"), "0-network")["0-network"])
    after = _rules(run_tiers(city_copy(tmp_path / "after", {"network.yaml": reworded}), "0-network")["0-network"])
    assert set(after) == set(before), "a reworded description renamed a rule"
    reworded_rules = [urn for urn in after if after[urn].inputs != before[urn].inputs]
    assert reworded_rules, "the edit changed no rule: the test edits the wrong entries"
    replaced = replaced_rules(before, after)
    assert replaced == {}, (
        f"rules a reworded flow description replaces (the flow stops or the update fails): {replaced}"
    )
    created_first = [r.name for r in after.values() if not r.delete_before_replace]
    assert created_first == [], f"replaced by creating the new rule first, which Neutron refuses: {created_first}"


def test_a_zone_title_edit_replaces_no_rule(tmp_path: Path) -> None:
    """A zone's title reworded in network.yaml changes no security-group rule: Neutron edits no rule, so a changed
    input replaces it, the old rule deleted first, and with the within-zone rule the zone's members (Kubernetes nodes
    and their API server) lost each other until the new one was made. The within-zone rules made up to dizuo 0.1.0,
    whose description carries the title, keep it rather than be replaced once on the first update."""

    def retitled(network: dict[str, Any]) -> None:
        for zone in network["zones"]:
            zone["title"] = f"{zone['title']} (市级, 改名)"

    before = _rules(run_tiers(city_copy(tmp_path / "before"), "0-network")["0-network"])
    after = _rules(run_tiers(city_copy(tmp_path / "after", {"network.yaml": retitled}), "0-network")["0-network"])
    assert set(after) == set(before), "a zone title edit renamed a rule"
    replaced = sorted(after[urn].name for urn in after if after[urn].inputs != before[urn].inputs)
    assert replaced == [], f"rules a zone title edit replaces (their zone's traffic stops meanwhile): {replaced}"
    within = sorted(r.name for r in after.values() if r.name.endswith("-within"))
    assert within == [f"yl-{zone}-within" for zone in ("dedicated", "extranet", "internet", "management")], within
    kept = [r.name for r in after.values() if r.name.endswith("-within") and r.ignore_changes != ("description",)]
    assert kept == [], f"within-zone rules a deployed 0.1.0 description would replace: {kept}"


def _renamed(network: dict[str, Any]) -> None:
    """A flow and an ingress source (the one routed via the provincial line) renamed, nothing else changed."""
    flow = next(f for f in network["flows"] if f["name"] == "inet-to-ext-api")
    flow["name"] = "inet-to-ext-gateway"
    province = next(i for i in network["ingress"] if i["name"] == "province-extranet")
    province["name"] = "province-backbone"


def test_renaming_a_flow_or_an_ingress_source_keeps_every_rule_and_route(tmp_path: Path) -> None:
    """A renamed flow or ingress source keeps its rules and route, none replaced: named after the entry, each rule was
    a new resource, which Pulumi creates before deleting the old one, and Neutron refuses it (409
    SecurityGroupRuleExists) as it refuses a second route alike on a router, so `dizuo up` failed; and a rule whose
    description names the entry was replaced, the old one deleted first, so the flow stopped for a moment."""
    before = run_tiers(city_copy(tmp_path / "before"), "0-network")["0-network"]
    after = run_tiers(city_copy(tmp_path / "after", {"network.yaml": _renamed}), "0-network")["0-network"]
    for kind in (RULE, ROUTE):
        old = {r.urn: r for r in before.of_type(kind)}
        new = {r.urn: r for r in after.of_type(kind)}
        assert sorted(new) == sorted(old), f"renaming an entry renamed (replaced) {kind} resources"
    old_rules, new_rules = _rules(before), _rules(after)
    reworded = [urn for urn in new_rules if new_rules[urn].inputs != old_rules[urn].inputs]
    assert len(reworded) == 3, f"the renamed flow opens 2 ports and the ingress source 1: {reworded}"
    replaced = replaced_rules(old_rules, new_rules)
    assert replaced == {}, f"rules a rename replaces (the flow stops meanwhile): {replaced}"
    routes = {r.urn: r.inputs for r in before.of_type(ROUTE)}
    assert {r.urn: r.inputs for r in after.of_type(ROUTE)} == routes, "a renamed ingress source changed its route"


def test_a_stack_deployed_with_rules_named_after_their_entries_finds_each_under_its_new_name(
    runs: dict[str, StackRun],
) -> None:
    """Every resource of Yulin's network stack as dizuo 0.1.0 named it (rules and the ingress route after their flow
    or ingress source) is one resource of the program now, by its name or an alias: `pulumi up` on a stack deployed
    then renames them, instead of replacing every rule (which Neutron refuses while the old one is there)."""
    network = runs["network"]
    deployed = [
        line for line in DEPLOYED_0_1_0.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")
    ]
    claimed = Counter([r.urn for r in network.resources] + [a for r in network.resources for a in r.aliases])
    lost = [urn for urn in deployed if claimed[urn] == 0]
    assert lost == [], f"deployed resources the program no longer declares (Pulumi would delete them): {lost}"
    twice = sorted(urn for urn, count in claimed.items() if count > 1)
    assert twice == [], f"URNs two resources claim (name or alias), which Pulumi refuses: {twice}"
    renamed = [r.name for r in network.of_type(RULE) + network.of_type(ROUTE) if r.aliases]
    assert len(renamed) == len(set(deployed) - {r.urn for r in network.resources}), renamed


def test_released_on_a_renamed_flow_or_ingress_source_releases_nothing(tmp_path: Path) -> None:
    """`dizuo released` for a rename of a flow and of the ingress source whose next hop a protected port holds finds
    no protected resource released: the rename needs no `pulumi state unprotect`."""
    changed = city_copy(tmp_path / "changed", {"network.yaml": _renamed})
    result = CliRunner().invoke(
        app,
        [
            *("released", "--stack", "yulin-prod", "--stacks", str(ROOT / "stacks")),
            *(str(YULIN), str(changed), "--backend", f"file://{tmp_path / 'state'}"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "no protected resource is released" in result.stderr


def _entries_alike_by_their_former_names(network: dict[str, Any]) -> None:
    """Flow `tax-sync` into zone `dedicated` and flow `sync` into a zone `dedicated-tax` (both rules were called
    dedicated-tax-sync-tcp-8443 up to 0.1.0); an ingress source `to-management` into the extranet (its route was
    called like the extranet's route to the management zone)."""
    network["zones"].append(
        {
            "name": "dedicated-tax",
            "kind": "dedicated",
            "title": "税务专网",
            "cidr": "10.65.0.0/16",
            "subnets": [{"name": "dtax-app", "cidr": "10.65.1.0/24"}],
        }
    )
    network["transit"]["routers"]["dedicated-tax"] = "10.60.255.5"
    network["flows"] += [
        {"name": "tax-sync", "source": "extranet", "destination": "dedicated", "ports": [8443]},
        {"name": "sync", "source": "extranet", "destination": "dedicated-tax", "ports": [8443]},
    ]
    province = next(i for i in network["ingress"] if i["name"] == "province-extranet")
    network["ingress"].append({**province, "name": "to-management", "cidr": "192.168.100.0/24"})


def test_entries_whose_former_names_were_alike_are_valid_and_claim_no_former_name(tmp_path: Path) -> None:
    """Entries whose rules or routes dizuo 0.1.0 named alike (so no stack can hold them) validate now, and none of
    their resources takes a shared former name, or another resource's name, as its alias: Pulumi refuses two resources
    claiming one URN."""
    city = city_copy(tmp_path / "city", {"network.yaml": _entries_alike_by_their_former_names})
    result = CliRunner().invoke(app, ["validate", str(city)])
    assert result.exit_code == 0, result.output
    network = run_tiers(city, "0-network")["0-network"]
    claimed = Counter([r.urn for r in network.resources] + [a for r in network.resources for a in r.aliases])
    twice = sorted(urn for urn, count in claimed.items() if count > 1)
    assert twice == [], f"URNs two resources claim (name or alias), which Pulumi refuses: {twice}"
    shared = "yl-dedicated-tax-sync-tcp-8443"
    assert not [r.name for r in network.of_type(RULE) if any(a.endswith(f"::{shared}") for a in r.aliases)]


def test_every_description_fits_neutron_however_long_a_zone_title_is(tmp_path: Path) -> None:
    """Neutron refuses a description past 255 characters: a zone title that long (the declaration bounds none) still
    makes a network, router, security group and rules whose descriptions it accepts, instead of failing `dizuo up`."""

    def long_title(network: dict[str, Any]) -> None:
        network["zones"][0]["title"] = "省级政务外网接入区" * 30  # 270 characters

    run = run_tiers(city_copy(tmp_path / "city", {"network.yaml": long_title}), "0-network")["0-network"]
    described = [r for r in run.resources if "description" in r.inputs]
    assert any(r.inputs["description"].startswith("省级政务外网接入区") for r in described)
    too_long = {r.name: len(r.inputs["description"]) for r in described if len(r.inputs["description"]) > 255}
    assert not too_long, f"descriptions Neutron refuses (characters): {too_long}"


def test_a_rule_s_former_names_are_its_zone_s_former_name_and_its_range_in_digits() -> None:
    """A rule's aliases: its name under its zone's former name, and for a rule from anywhere its name in digits
    (under both zone names), never its own name (Pulumi takes an alias to a resource's own name for another one)."""
    assert rule_name("internet", "tcp", 443, "0.0.0.0/0") == "internet-tcp-443-from-anywhere"
    assert rule_name("extranet", "udp", None, "172.16.0.0/12") == "extranet-udp-all-from-172-16-0-0-12"
    assert former_rule_names("extranet", "tcp", 443, "172.16.0.0/12", None) == set()
    assert former_rule_names("extranet", "tcp", 443, "172.16.0.0/12", "ext") == {"ext-tcp-443-from-172-16-0-0-12"}
    assert former_rule_names("internet", "tcp", 80, "0.0.0.0/0", None) == {"internet-tcp-80-from-0-0-0-0-0"}
    assert former_rule_names("dmz", "tcp", 80, "0.0.0.0/0", "internet") == {
        "dmz-tcp-80-from-0-0-0-0-0",
        "internet-tcp-80-from-anywhere",
        "internet-tcp-80-from-0-0-0-0-0",
    }
