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
