"""Names the network stack joins from zone, flow and ingress names never come out alike for two entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from dizuo.cli import app
from dizuo.exit_codes import FAILED

from .conftest import Edit, add_dedicated_zone


def _tax_zone_and_flows(doc: Any) -> None:
    add_dedicated_zone(doc, "dedicated-tax", "税务专网", "dtax-app", "10.60.255.5")
    doc["flows"] += [
        {"name": "tax-sync", "source": "extranet", "destination": "dedicated", "ports": [8443]},
        {"name": "sync", "source": "extranet", "destination": "dedicated-tax", "ports": [8443]},
    ]


def _ingress_named_like_a_zone_route(doc: Any) -> None:
    doc["ingress"].append(
        {
            "name": "to-management",
            "cidr": "192.168.100.0/24",
            "destination": "extranet",
            "protocol": "tcp",
            "ports": [443],
            "via": "10.61.0.2",
        }
    )


def test_two_flows_whose_rules_would_share_a_name_are_refused_naming_both(city: Path, edit: Edit) -> None:
    """Flow `tax-sync` into zone `dedicated` and flow `sync` into zone `dedicated-tax` both make the security-group rule
    yl-dedicated-tax-sync-tcp-8443: `validate` refuses it, naming both entries, instead of synth failing on a duplicate
    URN."""
    edit("network.yaml", _tax_zone_and_flows)
    flows = len(yaml.safe_load((city / "network.yaml").read_text(encoding="utf-8"))["flows"])
    result = CliRunner().invoke(app, ["validate", str(city)])
    assert result.exit_code == FAILED, result.output
    assert "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert (
        f"network.yaml: flows[{flows - 1}].name: 'sync' into zone 'dedicated-tax' makes the security-group rule "
        f"yl-dedicated-tax-sync-tcp-8443, as flows[{flows - 2}].name ('tax-sync' into zone 'dedicated') does"
    ) in said, result.output


def test_an_ingress_route_named_like_a_route_between_zones_is_refused(city: Path, edit: Edit) -> None:
    """An ingress source `to-management` into the extranet would name its route like the extranet's route to the
    management zone: `validate` refuses it."""
    edit("network.yaml", _ingress_named_like_a_zone_route)
    result = CliRunner().invoke(app, ["validate", str(city)])
    assert result.exit_code == FAILED, result.output
    said = " ".join(result.output.split())
    assert (
        "makes the router route yl-extranet-to-management-route, as ingress[2].name ('to-management' into zone "
        "'extranet') does"
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
