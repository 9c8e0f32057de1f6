"""A tier-1 stack reading a contract its lower tier published for an older declaration or by an older dizuo."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from dizuo.contracts import SYSADMIN_GROUP, SYSADMIN_WORKLOADS, ContractError, stack_reference_name
from dizuo.synth.engine import StackRun

from .conftest import YULIN, run_tiers

NETWORK = stack_reference_name("dizuo-network", "yulin-prod")
BASELINE = stack_reference_name("dizuo-baseline", "yulin-prod")


@pytest.fixture(scope="module")
def published() -> dict[str, dict]:
    """What Yulin's tier-0 stacks publish."""
    runs = run_tiers(YULIN, "0-baseline", "0-network")
    return {BASELINE: runs["0-baseline"].exports, NETWORK: runs["0-network"].exports}


def _cloud(upstream: dict[str, dict]) -> StackRun:
    return run_tiers(YULIN, "1-cloud", upstream=upstream)["1-cloud"]


def _refuses(upstream: dict[str, dict], reference: str, lacks: str, only: str, stack: str = "1-cloud") -> None:
    with pytest.raises(ContractError) as caught:
        run_tiers(YULIN, stack, upstream=upstream)
    said = str(caught.value)
    assert f"stack {reference}: its published contract has no {lacks}" in said
    assert f"run `dizuo up --stack yulin-prod --only {only}` first" in said


def test_a_zone_the_network_stack_has_not_published_yet_says_which_stack_to_update_first(
    published: dict[str, dict],
) -> None:
    """`dizuo preview` after a zone was added reads the network contract published before it: the cloud stack stops
    with an error naming the stack, the zone and the command that publishes it, not a StopIteration from a lambda."""
    before_the_zone = copy.deepcopy(published)
    contract = before_the_zone[NETWORK]["contract"]
    contract["zones"] = [z for z in contract["zones"] if z["name"] != "internet"]
    _refuses(before_the_zone, NETWORK, "zone 'internet'", "network")


def test_a_baseline_contract_from_before_the_sysadmin_fields_still_reads(published: dict[str, dict]) -> None:
    """A baseline contract published by a dizuo from before `sysadmin_workloads_role` and `sysadmin_group` existed is
    read with the names every baseline publishes them under: the cloud stack binds the sysadmin role as it will."""
    old = copy.deepcopy(published)
    for key in ("sysadmin_workloads_role", "sysadmin_group"):
        old[BASELINE]["contract"].pop(key)
    bindings = [
        rb.inputs
        for rb in _cloud(old).of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
        if rb.inputs["roleRef"]["name"] == SYSADMIN_WORKLOADS
    ]
    assert bindings, "no namespace binds the sysadmin's workload role"
    assert all(b["subjects"][0]["name"] == SYSADMIN_GROUP for b in bindings)


def test_a_baseline_contract_lacking_a_field_without_default_names_it(published: dict[str, dict]) -> None:
    """A field with no safe default missing from the baseline contract is a ContractError naming the stack, the field
    and the command, not a KeyError."""
    old = copy.deepcopy(published)
    old[BASELINE]["contract"].pop("department_admin_role")
    _refuses(old, BASELINE, "field 'department_admin_role'", "baseline")


def test_a_baseline_from_before_the_storage_class_policy_bound_dataset_owners_stops_the_data_pool(
    published: dict[str, dict],
) -> None:
    """An owner's quota has no storage total: only the baseline's storage-class policy, bound to its namespace, caps a
    claim on another class. A baseline published before it was (`dizuo up --only datapool` first) stops the data-pool
    stack with the command that updates the baseline, instead of leaving the owner's claims unbounded."""
    assert published[BASELINE]["contract"]["storage_class_policy"] == "dizuo-city-storage-classes"
    datapool = run_tiers(YULIN, "1-datapool", upstream=published)["1-datapool"]
    quotas = datapool.of_type("kubernetes:core/v1:ResourceQuota")
    assert quotas
    assert {q.inputs["metadata"]["annotations"]["dizuo.io/storage-class-policy"] for q in quotas} == {
        "dizuo-city-storage-classes"
    }
    old = copy.deepcopy(published)
    old[BASELINE]["contract"].pop("storage_class_policy")
    _refuses(old, BASELINE, "field 'storage_class_policy'", "baseline", stack="1-datapool")


def test_the_contract_publishes_what_it_did(published: dict[str, dict]) -> None:
    """Where a contract was read from is no part of what a stack publishes: the exported keys are the fields."""
    assert set(published[NETWORK]["contract"]) == {"zones"}
    assert "read_from" not in published[BASELINE]["contract"]


def test_stack_folders_are_what_only_takes() -> None:
    """The stack named in a ContractError's command is a folder `dizuo up --only` knows."""
    from dizuo.contracts import BaselineContract, NetworkContract  # noqa: PLC0415

    folders = {p.name.split("-", 1)[1] for p in (Path(__file__).parents[2] / "stacks").glob("0-*")}
    assert {NetworkContract.STACK, BaselineContract.STACK} <= folders
