"""Security-group rules of the network stack survive the edits the declaration invites."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dizuo.synth.engine import Registered, StackRun

from .conftest import city_copy, run_tiers

RULE = "openstack:networking/secGroupRule:SecGroupRule"


def _rules(run: StackRun) -> dict[str, Registered]:
    return {r.urn: r for r in run.of_type(RULE)}


def test_a_rule_whose_description_changed_is_deleted_before_its_replacement_is_created(tmp_path: Path) -> None:
    """Editing a flow's description or a zone's title replaces its rules (every field of a Neutron rule forces a new
    one), and Neutron refuses the replacement while the old rule, equal but for its description, is still there: the
    old rule goes first, or every `dizuo up` from then on fails with 409 SecurityGroupRuleExists."""

    def reworded(network: dict[str, Any]) -> None:
        network["zones"][0]["title"] = "政务外网 (市级)"
        network["flows"][0]["description"] = "互联网区前置服务经 API 网关访问政务外网后端 (改写)"

    before = _rules(run_tiers(city_copy(tmp_path / "before"), "0-network")["0-network"])
    after = _rules(run_tiers(city_copy(tmp_path / "after", {"network.yaml": reworded}), "0-network")["0-network"])
    assert set(after) == set(before), "a reworded description renamed a rule"
    replaced = [urn for urn in after if after[urn].inputs != before[urn].inputs]
    assert replaced, "the edit changed no rule: the test edits the wrong entries"
    for urn in replaced:
        old, new = before[urn].inputs, after[urn].inputs
        changed = {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
        assert changed == {"description"}, f"{urn}: {changed}"
    created_first = [r.name for r in after.values() if not r.delete_before_replace]
    assert created_first == [], f"replaced by creating the new rule first, which Neutron refuses: {created_first}"
