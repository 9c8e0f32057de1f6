"""Plan inventory: for the Yulin scenario, the expected resources by name (with a subset of attributes)
and the count of each type per stack. Regenerate after an intended change with

    DIZUO_REGENERATE_INVENTORY=1 pytest tests/stacks/test_plan_inventory.py

and review the diff of tests/stacks/inventory/yulin.yaml like any other change.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from dizuo.synth.engine import StackRun, unwrap

INVENTORY = Path(__file__).parent / "inventory" / "yulin.yaml"
REGENERATE = "DIZUO_REGENERATE_INVENTORY=1 pytest tests/stacks/test_plan_inventory.py"

# A few resources per stack, by logical name, and the attributes that matter about them.
WATCHED: dict[str, dict[str, list[str]]] = {
    "network": {
        "yl-management-sg": ["name", "description"],
        "yl-extranet-tcp-22-from-10-64-0-0-16": ["remoteIpPrefix", "portRangeMin", "protocol"],
        "yl-internet-tcp-443-from-anywhere": ["remoteIpPrefix", "portRangeMin"],
        "yl-ext-k8s-nodes-subnet": ["cidr", "gatewayIp", "name"],
        "yl-transit-subnet": ["cidr", "noGateway", "enableDhcp"],
        "yl-extranet-to-management-route": ["destinationCidr", "nextHop"],
        "yl-internet-router": ["externalNetworkId"],
        "yl-yl-gov-ingress": ["name", "fixedIps"],
    },
    "baseline": {
        "yl-gov-baseline-dizuo-auditadmin": ["metadata.name"],
        "yl-gov-baseline-dizuo-restricted-workloads-binding": ["spec.validationActions", "spec.policyName"],
        "yl-gov-baseline-dizuo-city-storage-classes": ["spec.validations"],
    },
    "cloud": {
        "yl-sjj-tyrz-ns": ["metadata.name", "metadata.labels"],
        "yl-sjj-tyrz-quota": ["spec.hard"],
        "yl-gaj-01-app": ["spec.template.spec.nodeSelector", "spec.replicas"],
        "yl-sjj-sjsh-declared-flows": ["spec.ingress"],
        "yl-sjj-sjsh-ingress": ["spec.rules", "spec.tls"],
    },
    "datapool": {
        "yl-datapool-rk-jcxx-pvc": ["metadata.labels", "spec.storageClassName", "spec.resources"],
        "yl-datapool-xl-sp-bucket": ["name", "versioning"],
        "yl-datapool-phase1-ceph-sc": ["reclaimPolicy", "provisioner"],
        "yl-datapool-yl-gov-dp-gaj-quota": ["spec.hard"],
        "yl-datapool-yl-gov-dp-gaj-limits": ["spec.limits"],
    },
}


def _get(inputs: dict[str, Any], dotted: str) -> Any:
    value: Any = inputs
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return unwrap(value)


def actual_inventory(runs: dict[str, StackRun]) -> dict[str, Any]:
    inventory: dict[str, Any] = {}
    for short, watched in WATCHED.items():
        run = runs[short]
        by_name = {r.name: r for r in run.resources}
        inventory[short] = {
            "counts": dict(sorted(Counter(r.type for r in run.resources).items())),
            "resources": {
                name: {attr: _get(by_name[name].inputs, attr) for attr in attrs} if name in by_name else None
                for name, attrs in watched.items()
            },
        }
    return inventory


def test_yulin_plan_matches_the_inventory(runs: dict[str, StackRun]) -> None:
    """The resources Yulin's stacks declare match the reviewed inventory: names, key attributes, counts."""
    actual = actual_inventory(runs)
    if os.environ.get("DIZUO_REGENERATE_INVENTORY"):
        INVENTORY.write_text(yaml.safe_dump(actual, allow_unicode=True, sort_keys=True, width=110), encoding="utf-8")
        pytest.skip(f"regenerated {INVENTORY}")
    expected = yaml.safe_load(INVENTORY.read_text(encoding="utf-8"))
    for short, body in expected.items():
        for name, attrs in body["resources"].items():
            assert attrs is not None, f"inventory lists {name} as missing"
            got = actual[short]["resources"].get(name)
            assert got is not None, f"{short}: resource {name} is no longer declared (regenerate: {REGENERATE})"
            for attr, value in attrs.items():
                assert got[attr] == value, (
                    f"{short}/{name}.{attr}:\n  expected {value!r}\n  actual   {got[attr]!r}\n"
                    f"(regenerate: {REGENERATE})"
                )
        assert actual[short]["counts"] == body["counts"], (
            f"{short}: counts per type differ\n  expected {body['counts']}\n  actual   {actual[short]['counts']}\n"
            f"(regenerate: {REGENERATE})"
        )
