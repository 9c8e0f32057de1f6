"""Names the network stack joins from zone, flow and ingress names never come out alike for two entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from dizuo.cli import app
from dizuo.exit_codes import FAILED

from .conftest import Edit


def _zones_whose_routes_share_a_name(doc: Any) -> None:
    """Zones `extranet-to-internet` (linked to the management zone) and `internet-to-management` (linked to the
    extranet): both routers' routes are called extranet-to-internet-to-management-route."""
    for name, octet in (("extranet-to-internet", 65), ("internet-to-management", 66)):
        doc["zones"].append(
            {
                "name": name,
                "kind": "dedicated",
                "title": name,
                "cidr": f"10.{octet}.0.0/16",
                "subnets": [{"name": f"{name}-a", "cidr": f"10.{octet}.1.0/24"}],
            }
        )
        doc["transit"]["routers"][name] = f"10.60.255.{octet - 60}"
    doc["flows"] += [
        {"name": "odd-a", "source": "extranet-to-internet", "destination": "management", "ports": [514]},
        {"name": "odd-b", "source": "extranet", "destination": "internet-to-management", "ports": [514]},
    ]


def test_two_zone_pairs_whose_routes_would_share_a_name_are_refused_naming_both(city: Path, edit: Edit) -> None:
    """Routes between zones are named after the zones, whose names hold hyphens: two zone pairs spelling one route
    name alike are refused by `validate`, naming both entries, instead of synth failing on a duplicate URN."""
    edit("network.yaml", _zones_whose_routes_share_a_name)
    flows = len(yaml.safe_load((city / "network.yaml").read_text(encoding="utf-8"))["flows"])
    result = CliRunner().invoke(app, ["validate", str(city)])
    assert result.exit_code == FAILED, result.output
    assert "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert (
        f"network.yaml: flows[{flows - 2}]: 'odd-a' linking 'management' and 'extranet-to-internet' makes the router "
        f"route yl-extranet-to-internet-to-management-route, as flows[{flows - 1}] ('odd-b' linking 'extranet' and "
        "'internet-to-management') does: two resources cannot share a name"
    ) in said, result.output


def _same_port_twice(doc: Any) -> None:
    doc["flows"].append(
        {"name": "ext-to-mgmt-syslog", "source": "extranet", "destination": "management", "ports": [6514, 6515]}
    )
    province = next(i for i in doc["ingress"] if i["name"] == "province-extranet")
    doc["ingress"].append({**province, "name": "province-api", "ports": [8443]})


def test_two_entries_making_one_neutron_rule_or_route_are_refused_naming_both(city: Path, edit: Edit) -> None:
    """A second flow opening a port the zones already share, or a second ingress source of one range through one next
    hop, has a name of its own but makes the same Neutron rule or route: Neutron refuses the second (and a shared route
    would go with either entry), so `validate` refuses it, naming both entries."""
    edit("network.yaml", _same_port_twice)
    document = yaml.safe_load((city / "network.yaml").read_text(encoding="utf-8"))
    flows, ingress = len(document["flows"]), len(document["ingress"])
    logs = next(i for i, f in enumerate(document["flows"]) if f["name"] == "ext-to-mgmt-logs")
    province = next(i for i, f in enumerate(document["ingress"]) if f["name"] == "province-extranet")
    result = CliRunner().invoke(app, ["validate", str(city)])
    assert result.exit_code == FAILED, result.output
    said = " ".join(result.output.split())
    assert (
        f"network.yaml: flows[{flows - 1}].ports[0]: 'ext-to-mgmt-syslog' opens tcp 6514 from zone 'extranet' "
        f"(10.61.0.0/16) into zone 'management', as flows[{logs}].ports[0] ('ext-to-mgmt-logs') does: Neutron refuses "
        "a second rule alike (409 SecurityGroupRuleExists"
    ) in said, result.output
    assert (
        f"network.yaml: ingress[{ingress - 1}].via: 'province-api' routes 172.16.0.0/12 via 10.61.0.2 on the router of "
        f"zone 'extranet', as ingress[{province}].via ('province-extranet') does: a router holds a route once"
    ) in said, result.output
    assert "6515" not in said, "a port only one entry opens is no duplicate"
    assert said.count("error") == 2, result.output


def _former_names_that_stand_for_no_one_entry(doc: Any) -> None:
    """ext-app says it was ext-data, which is a subnet's name now; ded-police and ded-tax both say they were ded-old;
    the internet zone says it was the management zone."""
    subnets = {s["name"]: s for z in doc["zones"] for s in z["subnets"]}
    subnets["ext-app"]["renamed_from"] = "ext-data"
    subnets["ded-police"]["renamed_from"] = "ded-old"
    subnets["ded-tax"]["renamed_from"] = "ded-old"
    doc["zones"][1]["renamed_from"] = "management"


def test_a_former_name_must_stand_for_one_deployed_zone_or_subnet(city: Path, edit: Edit) -> None:
    """A zone's or subnet's renamed_from becomes an alias of its resources in the network stack: one that is another
    entry's name now, or that two entries give, is refused by `validate` naming the key and the value (Pulumi would
    refuse the alias at `dizuo up`, after the stacks before it had run)."""
    edit("network.yaml", _former_names_that_stand_for_no_one_entry)
    result = CliRunner().invoke(app, ["validate", str(city)])
    assert result.exit_code == FAILED, result.output
    said = " ".join(result.output.split())
    assert (
        "network.yaml: zones[0].subnets[0].renamed_from: 'ext-data' is the name of zones[0].subnets[1] now"
    ) in said, result.output
    assert (
        "network.yaml: zones[2].subnets[1].renamed_from: 'ded-old' is also the former name of zones[2].subnets[0]"
    ) in said, result.output
    assert "network.yaml: zones[1].renamed_from: 'management' is the name of zones[3] now" in said, result.output


def test_a_subnet_renamed_from_its_former_name_is_valid(city: Path, edit: Edit) -> None:
    """Renaming a subnet and saying its former name is a declaration `validate` accepts."""

    def renamed(doc: Any) -> None:
        subnet = doc["zones"][0]["subnets"][0]
        subnet["renamed_from"], subnet["name"] = subnet["name"], "ext-apps"

    edit("network.yaml", renamed)
    result = CliRunner().invoke(app, ["validate", str(city)])
    assert result.exit_code == 0, result.output
