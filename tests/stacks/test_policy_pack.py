"""The 等保 policy pack: each rule catches what it should, Yulin passes all of them, synth refuses violations."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pulumi_kubernetes as k8s
import pulumi_openstack as openstack
import pytest
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from declarations import city_copy
from dizuo.baseline import policies as pol
from dizuo.baseline.catalogue import CheckKind, Scope, packaged
from dizuo.declaration import Declaration, load
from dizuo.naming import label
from dizuo.synth.engine import StackRun, run_stack, unwrap
from dizuo.synth.synth import SynthError, _policy_violations, synth

from .conftest import ROOT, YULIN, one_file_stack, run_tiers

# A namespace's quota as the pack requires one: hard limits on its pods' CPU and memory (and more).
CAPPING_QUOTA: dict[str, Any] = {"hard": {"requests.cpu": "2", "requests.memory": "4Gi", "pods": "10"}}


def violations(rule_name: str, resource_type: str, props: dict[str, Any], protect: bool = False) -> list[str]:
    """What ``rule_name`` says of one resource (a stack rule: of a stack holding that resource alone)."""
    rule = next(r for r in pol.RULES if r.name == rule_name)
    found: list[str] = []
    if rule.validate_stack is not None:
        resource = pol.Declared(resource_type, "res", "urn:test", props, protect)
        rule.validate_stack(
            StackValidationArgs(pol._policy_resources([resource])), lambda m, _urn=None: found.append(m)
        )
        return found
    assert rule.validate is not None
    args = ResourceValidationArgs(resource_type, props, "urn:test", "res", pol._options(protect), None)
    rule.validate(args, lambda message, _urn=None: found.append(message))
    return found


def ns(labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "x", "labels": labels}}


CASES = [
    # rule, type, props, protect, violates
    (  # OpenStack reads a rule with neither a prefix nor a remote group as "from anywhere"
        "management-ports-not-public",
        pol.SECURITY_GROUP_RULE,
        {"direction": "ingress", "portRangeMin": 22, "portRangeMax": 22},
        False,
        True,
    ),
    (  # from the members of a group known by its ID alone: an unknown peer (see the remote group test)
        "management-ports-not-public",
        pol.SECURITY_GROUP_RULE,
        {"direction": "ingress", "remoteGroupId": "sg-mgmt", "portRangeMin": 22, "portRangeMax": 22},
        False,
        True,
    ),
    (
        "management-ports-not-public",
        pol.SECURITY_GROUP_RULE,
        {"direction": "ingress", "remoteIpPrefix": "0.0.0.0/0", "portRangeMin": 22, "portRangeMax": 22},
        False,
        True,
    ),
    (
        "management-ports-not-public",
        pol.SECURITY_GROUP_RULE,
        {"direction": "ingress", "remoteIpPrefix": "0.0.0.0/0", "portRangeMin": 20, "portRangeMax": 30},
        False,
        True,
    ),
    (
        "management-ports-not-public",
        pol.SECURITY_GROUP_RULE,
        {"direction": "ingress", "remoteIpPrefix": "0.0.0.0/0"},
        False,
        True,
    ),
    *(  # the OpenStack provider documents 0 for a bound as the full range 1:65535
        (
            "management-ports-not-public",
            pol.SECURITY_GROUP_RULE,
            {"direction": "ingress", "protocol": "tcp", "remoteIpPrefix": "0.0.0.0/0", **ports},
            False,
            True,
        )
        for ports in (
            {"portRangeMin": 0, "portRangeMax": 0},
            {"portRangeMin": 0, "portRangeMax": 443},
            {"portRangeMin": 443, "portRangeMax": 0},
            {"portRangeMin": 443},
            {"portRangeMax": 443},
            {"portRangeMin": 1, "portRangeMax": 65535},
        )
    ),
    (
        "management-ports-not-public",
        pol.SECURITY_GROUP_RULE,
        {"direction": "ingress", "remoteIpPrefix": "0.0.0.0/0", "portRangeMin": 443, "portRangeMax": 443},
        False,
        False,
    ),
    (  # a range that stops short of every management port
        "management-ports-not-public",
        pol.SECURITY_GROUP_RULE,
        {"direction": "ingress", "remoteIpPrefix": "0.0.0.0/0", "portRangeMin": 80, "portRangeMax": 2378},
        False,
        False,
    ),
    (
        "management-ports-not-public",
        pol.SECURITY_GROUP_RULE,
        {"direction": "ingress", "remoteIpPrefix": "10.64.0.0/16", "portRangeMin": 22, "portRangeMax": 22},
        False,
        False,
    ),
    *(  # ICMP (by name or number) carries no ports: an echo rule from anywhere reaches no management port
        (
            "management-ports-not-public",
            pol.SECURITY_GROUP_RULE,
            {"direction": "ingress", "protocol": protocol, "remoteIpPrefix": "0.0.0.0/0"},
            False,
            False,
        )
        for protocol in ("icmp", "ICMP", "1", "ipv6-icmp")
    ),
    (  # every protocol, written as Neutron's "any"
        "management-ports-not-public",
        pol.SECURITY_GROUP_RULE,
        {"direction": "ingress", "protocol": "any", "remoteIpPrefix": "0.0.0.0/0"},
        False,
        True,
    ),
    (  # a prefix that is no address range is reported, not a crash of the policy pack
        "management-ports-not-public",
        pol.SECURITY_GROUP_RULE,
        {"direction": "ingress", "remoteIpPrefix": "10.0.0.0/33", "portRangeMin": 22, "portRangeMax": 22},
        False,
        True,
    ),
    *(  # a patch of an Ingress: the redirect off or a rule for any host is wrong whatever the object holds
        ("ingress-over-tls", f"{pol.INGRESS}Patch", props, False, violates)
        for props, violates in (
            ({"metadata": {"name": "i", "annotations": {pol.SSL_REDIRECT: "false"}}}, True),
            ({"metadata": {"name": "i"}, "spec": {"rules": [{"http": {}}]}}, True),
            # a host whose certificate the object (not the patch) lists
            ({"metadata": {"name": "i"}, "spec": {"rules": [{"host": "a.yl.gov.cn"}]}}, False),
            ({"metadata": {"name": "i", "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "8m"}}}, False),
        )
    ),
    ("data-holders-protected", pol.PVC, {"metadata": {"name": "rk"}}, False, True),
    ("data-holders-protected", pol.PVC, {"metadata": {"name": "rk"}}, True, False),
    ("data-holders-protected", pol.NAMESPACE, ns({"dizuo.io/owner": "gaj"}), False, True),
    ("data-holders-protected", pol.NAMESPACE, ns({"dizuo.io/system": "gaj-01"}), False, False),
    ("storage-classes-retain", pol.STORAGE_CLASS, {"reclaimPolicy": "Delete"}, False, True),
    ("storage-classes-retain", pol.STORAGE_CLASS, {}, False, True),
    ("storage-classes-retain", pol.STORAGE_CLASS, {"reclaimPolicy": "Retain"}, False, False),
    ("datasets-owned-and-classified", pol.PVC, ns({"dizuo.io/dataset": "rk-jcxx"}), True, True),
    ("namespaces-enforce-pod-security", pol.NAMESPACE, ns({"dizuo.io/managed": "true"}), False, True),
    (
        "namespaces-enforce-pod-security",
        pol.NAMESPACE,
        ns(
            {
                "dizuo.io/managed": "true",
                "dizuo.io/protection-level": "3",
                "pod-security.kubernetes.io/enforce": "baseline",
            }
        ),
        False,
        True,
    ),
    (
        "namespaces-enforce-pod-security",
        pol.NAMESPACE,
        ns(
            {
                "dizuo.io/managed": "true",
                "dizuo.io/protection-level": "2",
                "pod-security.kubernetes.io/enforce": "baseline",
            }
        ),
        False,
        False,
    ),
    (
        "workloads-unprivileged",
        pol.WORKLOADS[0],
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "securityContext": {"privileged": True}}]}}}},
        False,
        True,
    ),
    (
        "workloads-unprivileged",
        pol.WORKLOADS[0],
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "a", "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True}}
                        ]
                    }
                }
            }
        },
        False,
        False,
    ),
]


def ingress(tls_hosts: list[str], host: str | None = "a.yl.gov.cn", **annotations: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"http": {"paths": [{"path": "/", "pathType": "Prefix"}]}}
    if host is not None:
        rule["host"] = host
    return {
        "metadata": {"name": "a", "annotations": annotations},
        "spec": {"tls": [{"hosts": tls_hosts}], "rules": [rule]},
    }


CASES += [
    ("ingress-over-tls", pol.INGRESS, ingress(["a.yl.gov.cn"]), False, False),
    ("ingress-over-tls", pol.INGRESS, ingress([]), False, True),
    ("ingress-over-tls", pol.INGRESS, ingress(["b.yl.gov.cn"]), False, True),
    ("ingress-over-tls", pol.INGRESS, ingress(["a.yl.gov.cn"], host=None), False, True),
    ("ingress-over-tls", pol.INGRESS, {"spec": {"defaultBackend": {"service": {"name": "a"}}}}, False, True),
    (
        "ingress-over-tls",
        pol.INGRESS,
        ingress(["a.yl.gov.cn"], **{"nginx.ingress.kubernetes.io/ssl-redirect": "false"}),
        False,
        True,
    ),
    *(
        (
            "ingress-over-tls",
            pol.INGRESS,
            ingress(["a.yl.gov.cn"], **{"nginx.ingress.kubernetes.io/ssl-redirect": off}),
            False,
            True,
        )
        for off in ("0", "f", "F", "FALSE")  # Go's strconv.ParseBool, as ingress-nginx reads it
    ),
    *(  # force-ssl-redirect only ever adds a redirect
        ("ingress-over-tls", pol.INGRESS, ingress(["a.yl.gov.cn"], **{key: value}), False, False)
        for key, value in (
            ("nginx.ingress.kubernetes.io/force-ssl-redirect", "true"),
            ("nginx.ingress.kubernetes.io/force-ssl-redirect", "false"),
            ("nginx.ingress.kubernetes.io/ssl-redirect", "true"),
        )
    ),
]


@pytest.mark.parametrize(("rule", "rtype", "props", "protect", "violates"), CASES)
def test_each_rule_catches_what_it_should(rule: str, rtype: str, props: dict, protect: bool, violates: bool) -> None:
    """A rule reports a violation exactly when its requirement is broken."""
    found = violations(rule, rtype, props, protect)
    assert bool(found) == violates, f"{rule} on {props}: {found}"


# A container that breaks nothing, and the pod spec of each kind that makes pods, written out by hand (not read
# from the policy module) so a wrong path there shows here.
SAFE_SECURITY = {"allowPrivilegeEscalation": False, "runAsNonRoot": True}
PRIVILEGED = {**SAFE_SECURITY, "privileged": True}


def container(name: str, security: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "image": "registry.yl.gov.cn/app:1", "securityContext": security or SAFE_SECURITY}


WORKLOAD_KINDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "kubernetes:apps/v1:Deployment": lambda pod: {"spec": {"template": {"spec": pod}}},
    "kubernetes:apps/v1:StatefulSet": lambda pod: {"spec": {"template": {"spec": pod}}},
    "kubernetes:apps/v1:DaemonSet": lambda pod: {"spec": {"template": {"spec": pod}}},
    "kubernetes:apps/v1:ReplicaSet": lambda pod: {"spec": {"template": {"spec": pod}}},
    "kubernetes:core/v1:ReplicationController": lambda pod: {"spec": {"template": {"spec": pod}}},
    "kubernetes:batch/v1:Job": lambda pod: {"spec": {"template": {"spec": pod}}},
    "kubernetes:batch/v1:CronJob": lambda pod: {
        "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}
    },
    "kubernetes:core/v1:Pod": lambda pod: {"spec": pod},
}


def workload_violations(kind: str, pod: dict[str, Any]) -> list[str]:
    """What the whole pack (as synth runs it) says of one workload of ``kind`` with pod spec ``pod``."""
    declared = pol.Declared(kind, "app", f"urn:test::{kind}::app", WORKLOAD_KINDS[kind](pod), protect=False)
    return [v.message for v in pol.evaluate([declared]) if v.policy == "workloads-unprivileged"]


@pytest.mark.parametrize("kind", sorted(WORKLOAD_KINDS))
def test_every_kind_of_workload_is_checked(kind: str) -> None:
    """A privileged container is reported whatever kind makes its pod (Job, CronJob, bare Pod...); a safe one is not."""
    assert workload_violations(kind, {"containers": [container("app")]}) == []
    found = workload_violations(kind, {"containers": [container("app", PRIVILEGED)]})
    assert found == ["app/app: privileged container"], f"{kind}: {found}"


@pytest.mark.parametrize("field", ["initContainers", "ephemeralContainers"])
def test_init_and_ephemeral_containers_are_checked(field: str) -> None:
    """A privileged init or ephemeral container is reported like an app container, named with its field."""
    pod = {"containers": [container("app")], field: [container("setup", PRIVILEGED)]}
    found = workload_violations("kubernetes:apps/v1:Deployment", pod)
    assert found == [f"app/setup ({field}): privileged container"], found


@pytest.mark.parametrize(
    ("host_field", "namespace"), [("hostNetwork", "network"), ("hostPID", "process"), ("hostIPC", "IPC")]
)
def test_sharing_any_host_namespace_is_reported(host_field: str, namespace: str) -> None:
    """A pod sharing the node's network, process or IPC namespace is reported, naming the namespace."""
    found = workload_violations("kubernetes:apps/v1:Deployment", {host_field: True, "containers": [container("app")]})
    assert found == [f"app: shares the node's namespaces: {namespace}"], found


@pytest.mark.parametrize(
    ("pod", "reported"),
    [
        (
            {"volumes": [{"name": "root", "hostPath": {"path": "/"}}], "containers": [container("app")]},
            ["app: volume root mounts the node's / (hostPath)"],
        ),
        (
            {
                "containers": [
                    container("app", {**SAFE_SECURITY, "capabilities": {"add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}})
                ]
            },
            ["app/app: adds capabilities ['SYS_ADMIN'] (only NET_BIND_SERVICE may be added)"],
        ),
        (
            {
                "initContainers": [container("setup", {**SAFE_SECURITY, "capabilities": {"add": ["NET_ADMIN"]}})],
                "containers": [],
            },
            ["app/setup (initContainers): adds capabilities ['NET_ADMIN'] (only NET_BIND_SERVICE may be added)"],
        ),
        (
            {
                "containers": [
                    container("app", {**SAFE_SECURITY, "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}})
                ]
            },
            [],
        ),
        ({"volumes": [{"name": "tmp", "emptyDir": {}}], "containers": [container("app")]}, []),
    ],
)
def test_what_the_admission_policy_refuses_the_pack_refuses(pod: dict[str, Any], reported: list[str]) -> None:
    """A hostPath volume, or a capability added but NET_BIND_SERVICE, is refused by the baseline's admission policy in
    every managed namespace: the pack reports it too, so synth never writes a workload whose pods could not start
    there (and no stack runs one with such rights elsewhere)."""
    assert workload_violations("kubernetes:apps/v1:Deployment", pod) == reported


@pytest.mark.parametrize(
    ("pod_security", "container_security", "reported"),
    [
        (  # the container's runAsNonRoot: false and runAsUser: 0 win over the pod's runAsNonRoot: true
            {"runAsNonRoot": True},
            {"allowPrivilegeEscalation": False, "runAsNonRoot": False, "runAsUser": 0},
            "app/app: runs as root (runAsUser 0)",
        ),
        (  # the container's runAsNonRoot: false wins over the pod's true: the image's USER, maybe root, decides
            {"runAsNonRoot": True},
            {"allowPrivilegeEscalation": False, "runAsNonRoot": False},
            "app/app: may run as root (runAsNonRoot is not true)",
        ),
        (  # a root user set for the whole pod is root in a container that does not set its own
            {"runAsNonRoot": True, "runAsUser": 0},
            {"allowPrivilegeEscalation": False},
            "app/app: runs as root (runAsUser 0)",
        ),
        ({"runAsNonRoot": True, "runAsUser": 10001}, {"allowPrivilegeEscalation": False}, None),
        ({}, {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 10001}, None),
    ],
)
def test_a_container_runs_as_its_effective_user(
    pod_security: dict[str, Any], container_security: dict[str, Any], reported: str | None
) -> None:
    """Root is judged on the effective securityContext: the pod's settings, overridden by the container's own."""
    pod = {"securityContext": pod_security, "containers": [container("app", container_security)]}
    found = workload_violations("kubernetes:apps/v1:Deployment", pod)
    assert found == ([reported] if reported else []), found


PATCH_KINDS = sorted(f"{kind}Patch" for kind in WORKLOAD_KINDS)


def patch_violations(kind: str, pod: dict[str, Any]) -> list[str]:
    """What the pack says of a patch of ``kind`` setting pod spec ``pod``, laid out as the kind it patches."""
    declared = pol.Declared(
        kind, "app", f"urn:test::{kind}::app", WORKLOAD_KINDS[kind.removesuffix("Patch")](pod), False
    )
    return [v.message for v in pol.evaluate([declared]) if v.policy == "workloads-unprivileged"]


@pytest.mark.parametrize("kind", PATCH_KINDS)
def test_a_patch_of_any_workload_is_judged_by_what_it_sets(kind: str) -> None:
    """A patch (DeploymentPatch, JobPatch...) that makes a container privileged, escalating or root, or shares a host
    namespace, is reported; one that sets only an image is not (what it omits keeps the object's values)."""
    assert patch_violations(kind, {"containers": [{"name": "app", "image": "registry.yl.gov.cn/app:2"}]}) == []
    assert patch_violations(kind, {"containers": [{"name": "app", "securityContext": {"privileged": True}}]}) == [
        "app/app: privileged container"
    ]
    escalating = {"allowPrivilegeEscalation": True, "runAsNonRoot": False}
    assert patch_violations(kind, {"initContainers": [{"name": "setup", "securityContext": escalating}]}) == [
        "app/setup (initContainers): allowPrivilegeEscalation is not false",
        "app/setup (initContainers): may run as root (runAsNonRoot is not true)",
    ]
    root_pod = {"securityContext": {"runAsUser": 0}, "containers": [{"name": "app", "image": "app:2"}]}
    assert patch_violations(kind, root_pod) == ["app/app: runs as root (runAsUser 0)"]
    assert patch_violations(kind, {"hostPID": True}) == ["app: shares the node's namespaces: process"]


@pytest.mark.parametrize(
    ("labels", "reported"),
    [
        ({"pod-security.kubernetes.io/enforce": "privileged"}, ["nsp: Pod Security enforce level is 'privileged'"]),
        (
            {"pod-security.kubernetes.io/enforce": "baseline", "dizuo.io/protection-level": "3"},
            ["nsp: a level-3 system must enforce 'restricted', not 'baseline'"],
        ),
        (
            {"dizuo.io/managed": "false"},
            ["nsp: takes the namespace out of dizuo's management (dizuo.io/managed: 'false')"],
        ),
        ({"pod-security.kubernetes.io/enforce": "restricted"}, []),
        ({"team": "gis"}, []),  # a label that touches no rule
    ],
)
def test_a_namespace_patch_cannot_weaken_pod_security(labels: dict[str, str], reported: list[str]) -> None:
    """A NamespacePatch may label any namespace, a managed one too: it may not set a Pod Security level weaker than
    baseline (restricted beside a level-3 label), nor take the namespace out of dizuo's management."""
    declared = pol.Declared(pol.NAMESPACE_PATCH, "nsp", "urn:test::nsp", ns(labels), protect=False)
    found = [v.message for v in pol.evaluate([declared]) if v.policy == "namespaces-enforce-pod-security"]
    assert found == reported


@pytest.mark.parametrize(
    ("labels", "reported"),
    [
        (
            {"dizuo.io/system": "sjj-tyrz", "pod-security.kubernetes.io/enforce": "privileged"},
            [
                "ns: a tenant's namespace (dizuo.io/system: 'sjj-tyrz') outside dizuo's management (dizuo.io/managed:"
                " None, not 'true')",
                "ns: Pod Security enforce level is 'privileged'",
            ],
        ),
        (
            {"dizuo.io/owner": "sjj", "dizuo.io/managed": "false", "pod-security.kubernetes.io/enforce": "restricted"},
            [
                "ns: a tenant's namespace (dizuo.io/owner: 'sjj') outside dizuo's management"
                " (dizuo.io/managed: 'false', not 'true')"
            ],
        ),
        (
            {
                "dizuo.io/system": "gaj-01",
                "dizuo.io/protection-level": "3",
                "pod-security.kubernetes.io/enforce": "baseline",
            },
            [
                "ns: a tenant's namespace (dizuo.io/system: 'gaj-01') outside dizuo's management (dizuo.io/managed:"
                " None, not 'true')",
                "ns: a level-3 system must enforce 'restricted', not 'baseline'",
            ],
        ),
        ({"team": "gis", "pod-security.kubernetes.io/enforce": "privileged"}, []),  # not a tenant's: not dizuo's
    ],
)
def test_a_tenant_namespace_is_managed_and_enforces_pod_security(labels: dict[str, str], reported: list[str]) -> None:
    """A system's or dataset owner's namespace (the ones that must have quota and default-deny) left without
    dizuo.io/managed: 'true' escapes the admission policy bound to managed namespaces and, before, this rule too: it is
    reported, and its Pod Security level is judged all the same."""
    declared = pol.Declared(pol.NAMESPACE, "ns", "urn:test::ns", ns(labels), protect=True)
    found = [v.message for v in pol.evaluate([declared]) if v.policy == "namespaces-enforce-pod-security"]
    assert found == reported


def test_patches_a_program_declares_are_checked(tmp_path: Path) -> None:
    """A DeploymentPatch making a container privileged, a NamespacePatch lowering Pod Security and an IngressPatch
    turning the redirect to HTTPS off, declared by a real program, fail the pack; a patch that only changes an image
    passes."""

    def program() -> None:
        k8s.apps.v1.DeploymentPatch(
            "privileged",
            metadata={"name": "app", "namespace": "sjj-tyrz"},
            spec={"template": {"spec": {"containers": [{"name": "app", "securityContext": {"privileged": True}}]}}},
        )
        k8s.apps.v1.DeploymentPatch(
            "new-image",
            metadata={"name": "app", "namespace": "sjj-tyrz"},
            spec={"template": {"spec": {"containers": [{"name": "app", "image": "registry.yl.gov.cn/app:2"}]}}},
        )
        k8s.core.v1.NamespacePatch(
            "lowered", metadata={"name": "sjj-tyrz", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}
        )
        k8s.networking.v1.IngressPatch(
            "plain-http",
            metadata={"name": "sjj-tyrz", "namespace": "sjj-tyrz", "annotations": {pol.SSL_REDIRECT: "false"}},
        )

    (tmp_path / "Pulumi.yaml").write_text("name: dizuo-patch\nruntime: python\n", encoding="utf-8")
    run = run_stack(tmp_path, "dev", {}, set(), {}, program=program)
    assert sorted(str(v) for v in _policy_violations(run)) == [
        "[DZ-AC-09 namespaces-enforce-pod-security] lowered: Pod Security enforce level is 'privileged'",
        "[DZ-AC-09 workloads-unprivileged] privileged/app: privileged container",
        f"[DZ-CT-01 ingress-over-tls] Ingress sjj-tyrz turns the redirect to HTTPS off ({pol.SSL_REDIRECT}: false)",
    ]


# Provider references as the engine records them ("<provider URN>::<provider id>"), one per cluster.
PROVIDER = "urn:pulumi:yulin-prod::dizuo-datapool::pulumi:pulumi:Stack$pulumi:providers:kubernetes::{0}::{0}-id"
GOV = PROVIDER.format("datapool-yl-gov")
DMZ = PROVIDER.format("datapool-yl-dmz")


def tenant(namespace: str, provider: str, quota: bool = True, default_deny: bool = True) -> list[pol.Declared]:
    """A dataset owner's namespace declared through ``provider``, with its quota and default-deny if asked."""
    cluster = provider.rsplit("::", 2)[-2]
    declared = [
        pol.Declared(
            pol.NAMESPACE,
            f"{cluster}-{namespace}",
            f"urn:{cluster}:ns:{namespace}",
            {"metadata": {"name": namespace, "labels": {"dizuo.io/owner": "sjj"}}},
            protect=True,
            provider=provider,
        )
    ]
    if quota:
        declared.append(
            pol.Declared(
                "kubernetes:core/v1:ResourceQuota",
                f"{cluster}-{namespace}-quota",
                f"urn:{cluster}:quota:{namespace}",
                {"metadata": {"name": "quota", "namespace": namespace}, "spec": CAPPING_QUOTA},
                protect=False,
                provider=provider,
            )
        )
    if default_deny:
        declared.append(
            pol.Declared(
                "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                f"{cluster}-{namespace}-deny",
                f"urn:{cluster}:deny:{namespace}",
                {
                    "metadata": {"name": "default-deny", "namespace": namespace},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                },
                protect=False,
                provider=provider,
            )
        )
    return declared


def quota_violations(resources: list[pol.Declared]) -> list[str]:
    return [v.message for v in pol.evaluate(resources) if v.policy == "namespaces-quota-and-default-deny"]


def test_a_namespace_without_quota_or_default_deny_is_reported() -> None:
    """A dataset namespace lacking its ResourceQuota and default-deny NetworkPolicy is reported for each."""
    found = quota_violations(tenant("dp-sjj", GOV, quota=False, default_deny=False))
    assert found == [
        "namespace dp-sjj (provider datapool-yl-gov) has no default-deny",
        "namespace dp-sjj (provider datapool-yl-gov) has no quota",
    ], found


def test_a_namespace_needs_quota_and_default_deny_in_each_cluster_it_is_declared_in() -> None:
    """The quota and default-deny of dp-sjj in one cluster do not cover the dp-sjj of another cluster."""
    found = quota_violations(tenant("dp-sjj", GOV) + tenant("dp-sjj", DMZ, quota=False, default_deny=False))
    assert found == [
        "namespace dp-sjj (provider datapool-yl-dmz) has no default-deny",
        "namespace dp-sjj (provider datapool-yl-dmz) has no quota",
    ], found
    assert quota_violations(tenant("dp-sjj", GOV) + tenant("dp-sjj", DMZ)) == []


def test_synth_checks_a_namespace_in_each_cluster_it_is_declared_in() -> None:
    """`dizuo synth` runs the pack with each resource's provider: dp-sjj's quota in one cluster does not cover it in
    another there either."""
    declared = tenant("dp-sjj", GOV) + tenant("dp-sjj", DMZ, quota=False, default_deny=False)
    run = SimpleNamespace(
        resources=[
            SimpleNamespace(
                custom=True,
                type=d.type,
                name=d.name,
                urn=d.urn,
                inputs=d.props,
                protect=d.protect,
                provider=d.provider,
                property_dependencies={},
            )
            for d in declared
        ]
    )
    found = [v.message for v in _policy_violations(run) if v.policy == "namespaces-quota-and-default-deny"]
    assert found == [
        "namespace dp-sjj (provider datapool-yl-dmz) has no default-deny",
        "namespace dp-sjj (provider datapool-yl-dmz) has no quota",
    ], found


def analyze_stack(
    resources: list[tuple[str, str, dict[str, Any]]],
    policy: str = "namespaces-quota-and-default-deny",
    takes: dict[str, dict[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """(enforcement level, message) of each diagnostic the pack's stack policy ``policy`` gives when pulumi-policy's
    own analyzer server runs it, as `pulumi preview --policy-pack` does: properties go through its deserializer and its
    unknown-checking proxy, so an unknown sentinel is an unknown value exactly as in a preview. ``takes``: by resource
    name, the input that takes an output of another resource, by that resource's name (the engine's
    propertyDependencies)."""

    def urn(name: str) -> str:
        rtype = next(t for t, n, _ in resources if n == name)
        return f"urn:pulumi:dev::p::{rtype}::{name}"

    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=rtype,
                name=name,
                urn=urn(name),
                properties=json_format.ParseDict(props, struct_pb2.Struct()),
                propertyDependencies={
                    key: analyzer_pb2.AnalyzerPropertyDependencies(urns=[urn(other)])
                    for key, other in (takes or {}).get(name, {}).items()
                },
            )
            for rtype, name, props in resources
        ]
    )
    # The servicer is pulumi-policy's private class behind `serve`; it is the code a preview runs.
    servicer = _PolicyAnalyzerServicer("dizuo", "0.1.0", pol.policies(), EnforcementLevel.MANDATORY)
    response = servicer.AnalyzeStack(request, None)
    levels = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory"}
    return [
        (levels[d.enforcementLevel], d.message.rsplit("\n", 1)[-1])  # a violation's message follows the description
        for d in response.diagnostics
        if d.policyName == policy
    ]


def beside_two_systems(*resources: tuple[str, str, dict[str, Any]]) -> list[tuple[str, str]]:
    """What the analyzer says of the system namespaces sjj-tyrz and gaj-01 declared with ``resources``."""
    namespaces = [
        (pol.NAMESPACE, code, {"metadata": {"name": code, "labels": {"dizuo.io/system": code}}})
        for code in ("sjj-tyrz", "gaj-01")
    ]
    return analyze_stack([*namespaces, *resources])


def in_namespace(rtype: str, namespace: str, spec: Any) -> tuple[str, str, dict[str, Any]]:
    return (rtype, f"{rtype}-{namespace}", {"metadata": {"name": "x", "namespace": namespace}, "spec": spec})


@pytest.mark.parametrize(
    ("selector", "default_deny"),
    [({}, True), ({"matchLabels": {}}, True), ({"matchExpressions": []}, True), ({"matchLabels": {"app": "x"}}, False)],
)
def test_a_default_deny_selects_every_pod_however_its_empty_selector_is_written(
    selector: dict[str, Any], default_deny: bool
) -> None:
    """Kubernetes reads an empty label selector as every pod, written {} or with empty matchLabels/matchExpressions (as
    a program's LabelSelectorArgs may send it): such a NetworkPolicy is the namespace's default-deny in pulumi-policy's
    analyzer; one selecting some pods is not."""
    quota = "kubernetes:core/v1:ResourceQuota"
    said = beside_two_systems(
        *(in_namespace(quota, code, CAPPING_QUOTA) for code in ("sjj-tyrz", "gaj-01")),
        in_namespace(pol.NETWORK_POLICY, "sjj-tyrz", {"podSelector": selector, "policyTypes": ["Ingress", "Egress"]}),
        in_namespace(pol.NETWORK_POLICY, "gaj-01", {"podSelector": {}, "policyTypes": ["Egress", "Ingress"]}),
    )
    assert said == ([] if default_deny else [("mandatory", "namespace sjj-tyrz has no default-deny")])


def test_an_unknown_value_in_a_preview_leaves_the_quota_check_running_for_the_rest() -> None:
    """In a preview, a value another resource computes (a ConfigMap's namespace, a NetworkPolicy's spec, a quota's
    namespace) no longer skips the quota and default-deny check for every namespace: only what the unknown could
    satisfy is left undecided, and a namespace lacking its quota and default-deny is still refused."""
    gaj_lacks_both = [
        ("mandatory", "namespace gaj-01 has no default-deny"),
        ("mandatory", "namespace gaj-01 has no quota"),
    ]
    unrelated = in_namespace("kubernetes:core/v1:ConfigMap", UNKNOWN_STRING_VALUE, None)
    found = beside_two_systems(unrelated, in_namespace(pol.QUOTA, "sjj-tyrz", CAPPING_QUOTA))
    assert found == [("mandatory", "namespace sjj-tyrz has no default-deny"), *gaj_lacks_both]
    unknown_spec = in_namespace(pol.NETWORK_POLICY, "sjj-tyrz", UNKNOWN_STRING_VALUE)
    found = beside_two_systems(in_namespace(pol.QUOTA, "sjj-tyrz", CAPPING_QUOTA), unknown_spec)
    assert found == gaj_lacks_both
    quota_somewhere = in_namespace(pol.QUOTA, UNKNOWN_STRING_VALUE, CAPPING_QUOTA)
    deny = in_namespace(pol.NETWORK_POLICY, "sjj-tyrz", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
    assert beside_two_systems(quota_somewhere, deny) == [("mandatory", "namespace gaj-01 has no default-deny")]


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ({"hard": {}}, "sets no hard limit"),
        ({}, "sets no hard limit"),
        ({**CAPPING_QUOTA, "scopes": ["BestEffort"]}, "counts only the pods of its scopes"),
        (
            {
                "hard": {"requests.cpu": "1"},
                "scopeSelector": {
                    "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["x"]}]
                },
            },
            "counts only the pods of its scopes",
        ),
    ],
)
def test_a_quota_that_caps_nothing_is_no_quota(spec: dict[str, Any], why: str) -> None:
    """A ResourceQuota without hard limits, or counting only BestEffort or one priority class's pods, leaves the
    namespace's other pods and claims uncapped: the namespace is reported as having no quota, saying why."""
    declared = tenant("dp-sjj", GOV, quota=False)
    cluster = GOV.rsplit("::", 2)[-2]
    declared.append(
        pol.Declared(
            pol.QUOTA,
            f"{cluster}-dp-sjj-quota",
            f"urn:{cluster}:quota:dp-sjj",
            {"metadata": {"name": "quota", "namespace": "dp-sjj"}, "spec": spec},
            protect=False,
            provider=GOV,
        )
    )
    assert quota_violations(declared) == [
        f"namespace dp-sjj (provider datapool-yl-gov) has no quota (ResourceQuota quota {why})"
    ]


def _dp_sjj_with_quotas(*hards: dict[str, str]) -> list[pol.Declared]:
    """dp-sjj in yl-gov with its default-deny and one ResourceQuota per ``hards``."""
    cluster = GOV.rsplit("::", 2)[-2]
    return [
        *tenant("dp-sjj", GOV, quota=False),
        *(
            pol.Declared(
                pol.QUOTA,
                f"{cluster}-dp-sjj-quota-{i}",
                f"urn:{cluster}:quota-{i}:dp-sjj",
                {"metadata": {"name": f"quota-{i}", "namespace": "dp-sjj"}, "spec": {"hard": hard}},
                protect=False,
                provider=GOV,
            )
            for i, hard in enumerate(hards)
        ),
    ]


def test_a_quota_on_claims_alone_leaves_the_namespace_s_cpu_and_memory_uncapped() -> None:
    """A data-pool namespace whose quota caps its claims and nothing its pods run on (as dp-<owner> had) lets its
    loaders take a node pool from every tenant: reported for CPU and for memory; a quota on one of them only is
    reported for the other."""
    storage_only = {"requests.storage": "211Gi", "persistentvolumeclaims": "1", "services.nodeports": "0"}
    assert quota_violations(_dp_sjj_with_quotas(storage_only)) == [
        "namespace dp-sjj (provider datapool-yl-gov) has no quota on cpu: no ResourceQuota there caps its pods' cpu",
        "namespace dp-sjj (provider datapool-yl-gov) has no quota on memory: no ResourceQuota there caps its pods' "
        "memory",
    ]
    assert quota_violations(_dp_sjj_with_quotas({**storage_only, "limits.cpu": "4"})) == [
        "namespace dp-sjj (provider datapool-yl-gov) has no quota on memory: no ResourceQuota there caps its pods' "
        "memory",
    ]


@pytest.mark.parametrize(
    "hards",
    [
        [{"requests.cpu": "2", "requests.memory": "4Gi", "requests.storage": "211Gi"}],
        [{"cpu": "2", "memory": "4Gi"}],  # the short names count requests
        [{"requests.storage": "211Gi"}, {"limits.cpu": "4", "limits.memory": "8Gi"}],
    ],
    ids=["one-quota", "short-names", "split-over-two-quotas"],
)
def test_cpu_and_memory_capped_by_the_namespace_s_quotas_pass(hards: list[dict[str, str]]) -> None:
    """The namespace's quotas cap CPU and memory between them, as requests or limits, in one quota or several."""
    assert quota_violations(_dp_sjj_with_quotas(*hards)) == []


def allowing(namespace: str, provider: str, spec: dict[str, Any]) -> pol.Declared:
    """A NetworkPolicy ``allow`` with ``spec`` in ``namespace`` of ``provider``'s cluster."""
    cluster = provider.rsplit("::", 2)[-2]
    return pol.Declared(
        pol.NETWORK_POLICY,
        f"{cluster}-{namespace}-allow",
        f"urn:{cluster}:allow:{namespace}",
        {"metadata": {"name": "allow", "namespace": namespace}, "spec": spec},
        protect=False,
        provider=provider,
    )


EVERY_POD: dict[str, Any] = {"podSelector": {}}


@pytest.mark.parametrize(
    ("spec", "opens"),
    [
        ({**EVERY_POD, "ingress": [{"ports": [{"port": 8080}]}]}, "admits any source (ingress[0] has no from)"),
        ({**EVERY_POD, "ingress": [{"from": []}]}, "admits any source (ingress[0] has no from)"),
        (
            {**EVERY_POD, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]},
            "lets out to anywhere (egress[0].to[0] is ipBlock 0.0.0.0/0)",
        ),
        (
            {
                **EVERY_POD,
                "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"a": "b"}}}]}],
            },
            "admits any source (ingress[0].from[0] selects every namespace)",
        ),
    ],
)
def test_a_network_policy_open_to_any_peer_undoes_the_default_deny(spec: dict[str, Any], opens: str) -> None:
    """NetworkPolicies add up: beside a namespace's default-deny, one admitting any source (no from, every namespace)
    or letting out to anywhere (ipBlock 0.0.0.0/0) opens the tenant to everyone, and is reported."""
    found = quota_violations([*tenant("dp-sjj", GOV), allowing("dp-sjj", GOV, spec)])
    assert found == [
        f"namespace dp-sjj (provider datapool-yl-gov): NetworkPolicy allow {opens}, which undoes its default-deny"
    ], found


@pytest.mark.parametrize(
    "spec",
    [
        {
            **EVERY_POD,
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "x"}}}]}],
        },
        {**EVERY_POD, "egress": [{"to": [{"ipBlock": {"cidr": "10.61.16.10/32"}}]}]},
        # Egress rules in a policy of type Ingress only are not enforced, and neither are ingress ones without a type.
        {**EVERY_POD, "policyTypes": ["Ingress"], "egress": [{}]},
        {**EVERY_POD, "policyTypes": ["Egress"], "ingress": [{}]},
    ],
)
def test_a_network_policy_naming_its_peers_keeps_the_default_deny(spec: dict[str, Any]) -> None:
    """A NetworkPolicy admitting named namespaces or addresses, or whose open direction is not among its types, is
    not reported."""
    assert quota_violations([*tenant("dp-sjj", GOV), allowing("dp-sjj", GOV, spec)]) == []


def test_an_open_network_policy_is_refused_by_pulumi_policy_s_analyzer() -> None:
    """In a preview, an allow-all NetworkPolicy in a system namespace is a mandatory violation, and one whose peers
    are not known yet is not judged."""
    quota, deny = CAPPING_QUOTA, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    tenants = [
        in_namespace(kind, code, body)
        for code in ("sjj-tyrz", "gaj-01")
        for kind, body in ((pol.QUOTA, quota), (pol.NETWORK_POLICY, deny))
    ]
    open_ = (
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "open",
        {"metadata": {"name": "open", "namespace": "gaj-01"}, "spec": {"podSelector": {}, "ingress": [{}]}},
    )
    unknown = (
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "unknown",
        {
            "metadata": {"name": "unknown", "namespace": "sjj-tyrz"},
            "spec": {"podSelector": {}, "ingress": [{"from": UNKNOWN_STRING_VALUE}]},
        },
    )
    assert beside_two_systems(*tenants, open_, unknown) == [
        (
            "mandatory",
            "namespace gaj-01: NetworkPolicy open admits any source (ingress[0] has no from), which undoes "
            "its default-deny",
        )
    ]


def analyze_resource(resource_type: str, props: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(policy, enforcement level, message) of each diagnostic pulumi-policy's own analyzer server gives one resource,
    as `pulumi preview --policy-pack` runs the pack's resource policies."""
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type,
        name="app",
        urn=f"urn:pulumi:dev::p::{resource_type}::app",
        properties=json_format.ParseDict(props, struct_pb2.Struct()),
    )
    servicer = _PolicyAnalyzerServicer("dizuo", "0.1.0", pol.policies(), EnforcementLevel.MANDATORY)
    levels = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory"}
    return [
        (d.policyName, levels[d.enforcementLevel], d.message.rsplit("\n", 1)[-1])
        for d in servicer.Analyze(request, None).diagnostics
    ]


def test_hostpath_capabilities_and_unmanaged_tenants_are_mandatory_violations_in_a_preview() -> None:
    """Through pulumi-policy's analyzer, as a preview runs it: a Deployment's hostPath volume and added capability,
    and a system's namespace left outside dizuo's management, block the update."""
    capable = {**SAFE_SECURITY, "capabilities": {"add": ["SYS_ADMIN"]}}
    pod = {"volumes": [{"name": "root", "hostPath": {"path": "/"}}], "containers": [container("app", capable)]}
    assert analyze_resource("kubernetes:apps/v1:Deployment", WORKLOAD_KINDS["kubernetes:apps/v1:Deployment"](pod)) == [
        ("workloads-unprivileged", "mandatory", "app: volume root mounts the node's / (hostPath)"),
        (
            "workloads-unprivileged",
            "mandatory",
            "app/app: adds capabilities ['SYS_ADMIN'] (only NET_BIND_SERVICE may be added)",
        ),
    ]
    unmanaged = ns({"dizuo.io/system": "sjj-tyrz", "pod-security.kubernetes.io/enforce": "restricted"})
    assert analyze_resource(pol.NAMESPACE, unmanaged) == [
        (
            "namespaces-enforce-pod-security",
            "mandatory",
            "app: a tenant's namespace (dizuo.io/system: 'sjj-tyrz') outside dizuo's management"
            " (dizuo.io/managed: None, not 'true')",
        )
    ]


def test_policies_are_mandatory_and_name_their_control() -> None:
    """Every policy of the pack blocks deployment and carries its catalogue control and clause."""
    built = pol.policies()
    assert len(built) == len(pol.RULES)
    for policy, rule in zip(built, pol.RULES, strict=True):
        assert policy.enforcement_level == EnforcementLevel.MANDATORY, rule.name
        assert policy.framework is not None
        assert policy.framework.name == "GB/T 22239-2019"
        assert policy.framework.reference == rule.control
    assert any(isinstance(p, ResourceValidationPolicy) for p in built)


def test_yulin_stacks_pass_every_policy(runs: dict[str, StackRun]) -> None:
    """The bundled city satisfies the whole pack: nothing to waive."""
    found = pol.evaluate(
        pol.Declared(r.type, r.name, r.urn, unwrap(r.inputs), r.protect, r.provider, r.property_dependencies)
        for run in runs.values()
        for r in run.resources
        if r.custom and not r.type.startswith("pulumi:")
    )
    assert not found, [str(v) for v in found]


def test_synth_refuses_a_stack_that_breaks_a_policy(tmp_path: Path, yulin: Declaration) -> None:
    """A program opening SSH to the internet fails synth with the control id, and writes nothing."""
    stack = tmp_path / "stacks" / "0-open"
    stack.mkdir(parents=True)
    (stack / "Pulumi.yaml").write_text("name: dizuo-open\nruntime: python\n", encoding="utf-8")
    (stack / "__main__.py").write_text(
        "import pulumi_openstack as openstack\n"
        "openstack.networking.SecGroupRule('ssh-world', security_group_id='sg', direction='ingress',"
        " ethertype='IPv4', protocol='tcp', port_range_min=22, port_range_max=22, remote_ip_prefix='0.0.0.0/0')\n",
        encoding="utf-8",
    )
    with pytest.raises(SynthError) as caught:
        synth(yulin, YULIN, tmp_path / "out", tmp_path / "stacks")
    assert any("DZ-AC-07" in e and "ssh-world" in e for e in caught.value.errors), caught.value.errors
    assert not (tmp_path / "out").exists()


def test_a_rule_for_every_port_is_refused_as_a_program_declares_it(tmp_path: Path) -> None:
    """A SecGroupRule declared with port_range_min=0 and port_range_max=0 (every port, as the OpenStack provider
    documents it) from 0.0.0.0/0 fails DZ-AC-07 when a real program declares it and the pack reads its inputs."""

    def program() -> None:
        group = openstack.networking.SecGroup("sg")
        for name, low, high in (("every-port", 0, 0), ("https", 443, 443)):
            openstack.networking.SecGroupRule(
                name,
                security_group_id=group.id,
                direction="ingress",
                ethertype="IPv4",
                protocol="tcp",
                port_range_min=low,
                port_range_max=high,
                remote_ip_prefix="0.0.0.0/0",
            )

    (tmp_path / "Pulumi.yaml").write_text("name: dizuo-open\nruntime: python\n", encoding="utf-8")
    run = run_stack(tmp_path, "dev", {}, set(), {}, program=program)
    found = [v.message for v in _policy_violations(run) if v.policy == "management-ports-not-public"]
    assert len(found) == 1, found
    assert found[0].startswith("every-port: 0.0.0.0/0 may reach management port(s) [22, "), found


def test_a_rule_for_every_protocol_is_refused_however_it_is_written(tmp_path: Path) -> None:
    """Neutron reads protocol "any", the number 0 (also written 00) and no protocol at all as every IP protocol, TCP
    among them: such a rule from 0.0.0.0/0 reaches SSH and fails DZ-AC-07 when a real program declares it; ICMP
    from anywhere reaches no port and passes."""

    def program() -> None:
        group = openstack.networking.SecGroup("sg")
        for name, protocol in (("number-0", "0"), ("number-00", "00"), ("any", "any"), ("none", ""), ("icmp", "icmp")):
            openstack.networking.SecGroupRule(
                name,
                security_group_id=group.id,
                direction="ingress",
                ethertype="IPv4",
                protocol=protocol,
                remote_ip_prefix="0.0.0.0/0",
            )

    (tmp_path / "Pulumi.yaml").write_text("name: dizuo-open\nruntime: python\n", encoding="utf-8")
    run = run_stack(tmp_path, "dev", {}, set(), {}, program=program)
    found = sorted(
        v.message.split(":")[0] for v in _policy_violations(run) if v.policy == "management-ports-not-public"
    )
    assert found == ["any", "none", "number-0", "number-00"]
    # The same rule as `pulumi preview --policy-pack` hands it to pulumi-policy's own analyzer server.
    props = {"direction": "ingress", "protocol": "0", "remoteIpPrefix": "0.0.0.0/0", "securityGroupId": "sg-id"}
    said = analyze_stack(
        [(pol.SECURITY_GROUP, "sg", {}), (pol.SECURITY_GROUP_RULE, "number-0", props)],
        "management-ports-not-public",
        {"number-0": {"securityGroupId": "sg"}},
    )
    assert said == [
        ("mandatory", "number-0: 0.0.0.0/0 may reach management port(s) [22, 2379, 3389, 5985, 5986, 6443, 10250]")
    ]


@pytest.mark.parametrize(
    ("resource_type", "props", "reported"),
    [
        ("openstack:networking/port:Port", {"networkId": "n", "portSecurityEnabled": False}, "port"),
        ("openstack:networking/network:Network", {"name": "yl-dmz", "portSecurityEnabled": False}, "network"),
        ("openstack:networking/port:Port", {"networkId": "n", "portSecurityEnabled": True}, None),
        ("openstack:networking/network:Network", {"name": "yl-dmz"}, None),
    ],
)
def test_a_network_or_port_without_port_security_is_refused(
    resource_type: str, props: dict[str, Any], reported: str | None
) -> None:
    """portSecurityEnabled: false on a network or a port switches every security group off: SSH and the control plane
    are open to whatever routes there, and the pack refuses it (in a preview too); left on or unset, it passes."""
    message = (
        f"res: portSecurityEnabled false on a {reported}: no security group filters its traffic, so management "
        f"port(s) {sorted(pol.MANAGEMENT_PORTS)} are open to whatever routes there"
    )
    assert violations("management-ports-not-public", resource_type, props) == ([message] if reported else [])
    said = analyze_stack([(resource_type, "res", props)], policy="management-ports-not-public")
    assert said == ([("mandatory", message)] if reported else [])


def test_a_rule_from_an_address_group_is_judged_by_the_group_s_addresses(tmp_path: Path) -> None:
    """Neutron admits to a rule with remoteAddressGroupId the addresses of that address group (a list of CIDRs), not
    0.0.0.0/0: SSH from a group of the city's private ranges passes DZ-AC-07, from a group holding a public range it
    fails naming that range and the group, and from a group the stack does not declare it fails saying its addresses
    cannot be checked; as a real program declares them, and as `pulumi preview --policy-pack` hands them to the pack
    (the group's ID unknown in a preview)."""

    def program() -> None:
        sources: dict[str, Any] = {
            name: openstack.networking.AddressGroupV2(name, addresses=addresses).id
            for name, addresses in (
                ("ops", ["10.64.0.0/16", "192.168.8.0/24"]),
                ("vendor", ["10.64.0.0/16", "36.110.0.0/16"]),
            )
        }
        sources["elsewhere"] = "5f1c3a52-0000-4000-8000-000000000001"  # an existing group, by its ID
        group = openstack.networking.SecGroup("sg")
        for name, group_id in sources.items():
            openstack.networking.SecGroupRule(
                f"ssh-from-{name}",
                security_group_id=group.id,
                direction="ingress",
                ethertype="IPv4",
                protocol="tcp",
                port_range_min=22,
                port_range_max=22,
                remote_address_group_id=group_id,
            )

    (tmp_path / "Pulumi.yaml").write_text("name: dizuo-groups\nruntime: python\n", encoding="utf-8")
    run = run_stack(tmp_path, "dev", {}, set(), {}, program=program)
    found = sorted(v.message for v in _policy_violations(run) if v.policy == "management-ports-not-public")
    assert found == [
        "ssh-from-elsewhere: remoteAddressGroupId '5f1c3a52-0000-4000-8000-000000000001' is an address group this "
        "stack does not declare: the addresses it admits cannot be checked (declare the AddressGroupV2 in the stack, "
        "or give remoteIpPrefix)",
        "ssh-from-vendor: 36.110.0.0/16 (address group vendor) may reach management port(s) [22]",
    ], found
    rule = {
        "direction": "ingress",
        "protocol": "tcp",
        "portRangeMin": 22,
        "portRangeMax": 22,
        "securityGroupId": "sg-id",
    }
    said = analyze_stack(
        [
            (pol.SECURITY_GROUP, "sg", {}),
            (pol.ADDRESS_GROUP, "ops", {"addresses": ["10.64.0.0/16"]}),
            (pol.ADDRESS_GROUP, "vendor", {"addresses": ["36.110.0.0/16"]}),
            (pol.SECURITY_GROUP_RULE, "ssh-from-ops", {**rule, "remoteAddressGroupId": UNKNOWN_STRING_VALUE}),
            (pol.SECURITY_GROUP_RULE, "ssh-from-vendor", {**rule, "remoteAddressGroupId": UNKNOWN_STRING_VALUE}),
        ],
        "management-ports-not-public",
        takes={
            "ssh-from-ops": {"remoteAddressGroupId": "ops", "securityGroupId": "sg"},
            "ssh-from-vendor": {"remoteAddressGroupId": "vendor", "securityGroupId": "sg"},
        },
    )
    assert said == [
        ("mandatory", "ssh-from-vendor: 36.110.0.0/16 (address group vendor) may reach management port(s) [22]")
    ]


def test_a_bucket_dataset_names_its_owner_and_classification(runs: dict[str, StackRun]) -> None:
    """A dataset bucket (a Swift container carrying its labels as dizuo.io-<key> metadata) passes as the data-pool
    stack declares it, and is reported when its owner or classification is taken off."""
    buckets = runs["datapool"].of_type(pol.BUCKET)
    assert buckets, "Yulin keeps datasets in buckets"
    for bucket in buckets:
        props = unwrap(bucket.inputs)
        assert violations("datasets-owned-and-classified", pol.BUCKET, props, protect=True) == [], bucket.name
    props = unwrap(buckets[0].inputs)
    del props["metadata"]["dizuo.io-owner"]
    props["metadata"]["dizuo.io-classification"] = ""
    assert violations("datasets-owned-and-classified", pol.BUCKET, props, protect=True) == [
        "res: dataset without metadata dizuo.io-owner",
        "res: dataset without metadata dizuo.io-classification",
    ]


def test_policy_pack_folder_is_a_python_pack() -> None:
    """stacks/policy is a Pulumi policy pack in Python that builds the pack from dizuo's rules."""
    manifest = yaml.safe_load((ROOT / "stacks" / "policy" / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert manifest["runtime"] == "python"
    assert "policies()" in (ROOT / "stacks" / "policy" / "__main__.py").read_text(encoding="utf-8")


def test_catalogue_and_policy_rules_name_each_other() -> None:
    """Every stack-scope control is checked by existing rules, and every rule checks the control it names."""
    catalogue = packaged()
    rules = {r.name: r for r in pol.RULES}
    checked: set[str] = set()
    for scope in (Scope.NETWORK, Scope.CLUSTER, Scope.DATAPOOL):
        for control in catalogue.for_scope(scope):
            for check in control.checks:
                assert check.kind is CheckKind.POLICY, control.id
                rule = rules.get(check.args["name"])
                assert rule is not None, f"{control.id}: no policy rule {check.args['name']}"
                assert rule.control == control.id, f"{rule.name} says it checks {rule.control}, not {control.id}"
                checked.add(rule.name)
    assert checked == set(rules), f"rules no control lists: {set(rules) - checked}"


def test_policy_frameworks_carry_the_catalogue_clause() -> None:
    """A policy's compliance framework cites the clause the catalogue gives its control."""
    catalogue = packaged()
    for policy, rule in zip(pol.policies(), pol.RULES, strict=True):
        assert policy.framework is not None
        assert policy.framework.specification == catalogue.control(rule.control).clause, rule.name


def _open_to_the_world(name: str, port: int, group: str = "sg") -> pol.Declared:
    """A rule admitting 0.0.0.0/0 to ``port`` of security group ``group``, as the pack reads its inputs."""
    props = {
        "direction": "ingress",
        "protocol": "tcp",
        "portRangeMin": port,
        "portRangeMax": port,
        "remoteIpPrefix": "0.0.0.0/0",
        "securityGroupId": group,
    }
    return pol.Declared(
        pol.SECURITY_GROUP_RULE, name, f"urn:pulumi:dev::p::{pol.SECURITY_GROUP_RULE}::{name}", props, False
    )


def test_the_city_s_own_management_ports_are_not_public(tmp_path: Path) -> None:
    """A city that declares its management ports (network.yaml management_ports: [22, 2222]) has the network stack tag
    its zones' security groups with them, and the pack refuses a rule opening 2222 to the world, under Pulumi mocks
    and through pulumi-policy's analyzer server; 3389, which this city does not count as management, is its to open."""

    def own_ports(network: dict[str, Any]) -> None:
        network["management_ports"] = [22, 2222]

    run = run_tiers(city_copy(tmp_path / "city", {"network.yaml": own_ports}), "0-network")["0-network"]
    declared = [
        pol.Declared(r.type, r.name, r.urn, unwrap(r.inputs), r.protect, r.provider, r.property_dependencies)
        for r in run.resources
        if r.custom and not r.type.startswith("pulumi:")
    ]
    rogue = [_open_to_the_world("alt-ssh-world", 2222), _open_to_the_world("rdp-world", 3389)]
    found = [v.message for v in pol.evaluate([*declared, *rogue]) if v.policy == "management-ports-not-public"]
    assert found == ["alt-ssh-world: 0.0.0.0/0 may reach management port(s) [2222]"], found
    group_tags = {tuple(r.props["tags"]) for r in declared if r.type == pol.SECURITY_GROUP}
    assert group_tags == {
        ("dizuo", f"zone:{zone}", "management-port:22", "management-port:2222")
        for zone in ("extranet", "internet", "dedicated", "management")
    }
    said = analyze_stack(
        [
            (
                pol.SECURITY_GROUP,
                "sg",
                {"tags": ["dizuo", "zone:internet", "management-port:22", "management-port:2222"]},
            ),
            *((r.type, r.name, dict(r.props)) for r in rogue),
        ],
        "management-ports-not-public",
    )
    assert said == [("mandatory", "alt-ssh-world: 0.0.0.0/0 may reach management port(s) [2222]")]


# A stack of its own adding rules to the internet zone's security group, its ID read from the network stack's contract.
RULES_ON_THE_NETWORK_STACK_S_GROUP = """
import pulumi
import pulumi_openstack as openstack

from dizuo import contracts

network = contracts.read(contracts.NetworkContract, pulumi.get_stack())
group = network.apply(lambda c: c.zone("internet").security_group_id)
tcp_in = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "security_group_id": group}
for name, port, source in [("alt-ssh-world", 2222, "0.0.0.0/0"), ("portal-from-the-city", 8443, "10.0.0.0/8")]:
    openstack.networking.SecGroupRule(name, port_range_min=port, port_range_max=port, remote_ip_prefix=source, **tcp_in)
"""


def test_a_rule_on_another_stack_s_security_group_is_not_judged_by_the_default_ports(tmp_path: Path) -> None:
    """A city whose SSH is on 2222 (management_ports: [22, 2222]): a stack of its own opening 2222 to the world on the
    internet zone's group, read from the network stack's contract, knows none of the city's ports (its own groups
    carry no tags) and the default list does not hold 2222, so the rule is refused as one whose ports cannot be judged
    there, naming it; its rule from the city's own range passes."""

    def own_ports(network: dict[str, Any]) -> None:
        network["management_ports"] = [22, 2222]

    city = city_copy(tmp_path / "city", {"network.yaml": own_ports})
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-network", stacks / "0-network")
    one_file_stack(stacks / "1-rules", RULES_ON_THE_NETWORK_STACK_S_GROUP)
    said = management_ports_refusal(city, stacks, tmp_path / "out")
    assert said.startswith(
        f"{stacks / '1-rules'}: policy [DZ-AC-07 management-ports-not-public] alt-ssh-world: 0.0.0.0/0 "
    )
    assert "which this stack does not declare" in said
    assert "let public sources in through network.yaml's ingress instead" in said
    # As `pulumi preview --policy-pack` runs it: the rule's group ID taken from the stack's StackReference.
    reference = (pol.STACK_REFERENCE, "network", {"name": "organization/dizuo-network/dev"})
    world = dict(_open_to_the_world("alt-ssh-world", 2222).props)
    rules = [
        (pol.SECURITY_GROUP_RULE, "alt-ssh-world", world),
        (pol.SECURITY_GROUP_RULE, "from-the-city", {**world, "remoteIpPrefix": "10.0.0.0/8"}),
    ]
    takes = {name: {"securityGroupId": "network"} for _, name, _ in rules}
    diagnostics = analyze_stack([reference, *rules], "management-ports-not-public", takes)
    assert [(level, message.split(" is let into ")[0]) for level, message in diagnostics] == [
        ("mandatory", "alt-ssh-world: 0.0.0.0/0")
    ], diagnostics


def _on_own_group(rule: pol.Declared, group: pol.Declared) -> pol.Declared:
    """``rule`` taking its securityGroupId from ``group``, a SecGroup of the same stack."""
    return dataclasses.replace(rule, property_dependencies={"securityGroupId": (group.urn,)})


def test_a_stack_without_the_city_s_security_groups_keeps_the_default_management_ports() -> None:
    """A stack declaring no tagged zone security group (a program of its own) is judged by network.yaml's default
    management ports on the groups it declares: SSH and RDP from the world are refused there, HTTPS is not."""
    group = pol.Declared(pol.SECURITY_GROUP, "sg", f"urn:pulumi:dev::p::{pol.SECURITY_GROUP}::sg", {}, False)
    rules = [_open_to_the_world(name, port) for name, port in (("ssh-world", 22), ("rdp-world", 3389), ("https", 443))]
    found = [
        v.message
        for v in pol.evaluate([group, *(_on_own_group(rule, group) for rule in rules)])
        if v.policy == "management-ports-not-public"
    ]
    assert found == [
        "ssh-world: 0.0.0.0/0 may reach management port(s) [22]",
        "rdp-world: 0.0.0.0/0 may reach management port(s) [3389]",
    ], found


def test_a_rule_from_a_remote_group_known_by_its_id_alone_is_an_unknown_peer() -> None:
    """SSH from the members of a remote group is the city's own where the group is one the stack declares, or reads
    from another stack's contract (a zone's group); from a group named by its cloud ID alone, whose members may hold
    public addresses, it cannot be checked and is refused naming the rule and the group, offline and through
    pulumi-policy's analyzer; such a group on a port that is no management one passes."""
    ssh = {"direction": "ingress", "protocol": "tcp", "portRangeMin": 22, "portRangeMax": 22, "securityGroupId": "own"}
    resources = [
        (pol.SECURITY_GROUP, "own", {}),
        (pol.STACK_REFERENCE, "network", {"name": "organization/dizuo-network/dev"}),
        (pol.SECURITY_GROUP_RULE, "ssh-from-own", {**ssh, "remoteGroupId": "own-id"}),
        (pol.SECURITY_GROUP_RULE, "ssh-from-zone", {**ssh, "remoteGroupId": "zone-id"}),
        (pol.SECURITY_GROUP_RULE, "ssh-from-vendor", {**ssh, "remoteGroupId": "7d0c2a9e-vendor"}),
        (
            pol.SECURITY_GROUP_RULE,
            "https-from-vendor",
            {**ssh, "portRangeMin": 443, "portRangeMax": 443, "remoteGroupId": "7d0c2a9e-vendor"},
        ),
    ]
    takes = {name: {"securityGroupId": "own"} for kind, name, _ in resources if kind == pol.SECURITY_GROUP_RULE}
    takes["ssh-from-own"]["remoteGroupId"] = "own"
    takes["ssh-from-zone"]["remoteGroupId"] = "network"
    message = (
        "ssh-from-vendor: remoteGroupId '7d0c2a9e-vendor' is a security group this stack neither declares nor reads "
        "from another stack's contract, so whose members it lets reach management port(s) [22] cannot be checked "
        "(name a zone's group through the network contract, or give remoteIpPrefix)"
    )
    urn = {name: f"urn:pulumi:dev::p::{kind}::{name}" for kind, name, _ in resources}
    declared = [
        pol.Declared(kind, name, urn[name], props, False, "", {k: (urn[v],) for k, v in takes.get(name, {}).items()})
        for kind, name, props in resources
    ]
    found = [v.message for v in pol.evaluate(declared) if v.policy == "management-ports-not-public"]
    assert found == [message], found
    assert analyze_stack(resources, "management-ports-not-public", takes) == [("mandatory", message)]


# A stack of its own adding a rule to a security group by its cloud ID, written in the program: a group it does not
# declare, which may be any zone's of a city whose management ports it cannot see.
RULE_ON_A_HARD_CODED_GROUP = """
import pulumi_openstack as openstack

openstack.networking.SecGroupRule(
    "alt-ssh-world",
    security_group_id="0b6e5c1e-7f2a-4d39-9a51-2f8c1d7e4b60",
    direction="ingress",
    ethertype="IPv4",
    protocol="tcp",
    port_range_min=2222,
    port_range_max=2222,
    remote_ip_prefix="0.0.0.0/0",
)
"""


def test_a_rule_on_a_hard_coded_security_group_id_is_not_judged_by_the_default_ports(tmp_path: Path) -> None:
    """A city whose SSH is on 2222: a stack of its own opening 2222 to the world on a group named by its cloud ID (no
    group of the stack, no StackReference) knows none of the city's ports, and the default list does not hold 2222, so
    the rule is refused as one whose ports cannot be judged there, by dizuo synth and by pulumi-policy's analyzer;
    the same rule on a group the stack declares is judged by the default list, which 2222 is not on."""

    def own_ports(network: dict[str, Any]) -> None:
        network["management_ports"] = [22, 2222]

    city = city_copy(tmp_path / "city", {"network.yaml": own_ports})
    stacks = tmp_path / "stacks"
    one_file_stack(stacks / "1-rules", RULE_ON_A_HARD_CODED_GROUP)
    said = management_ports_refusal(city, stacks, tmp_path / "out")
    assert said.startswith(
        f"{stacks / '1-rules'}: policy [DZ-AC-07 management-ports-not-public] alt-ssh-world: 0.0.0.0/0 is let into "
        "security group '0b6e5c1e-7f2a-4d39-9a51-2f8c1d7e4b60', which this stack does not declare"
    ), said
    world = dict(_open_to_the_world("alt-ssh-world", 2222, "0b6e5c1e-7f2a-4d39-9a51-2f8c1d7e4b60").props)
    diagnostics = analyze_stack([(pol.SECURITY_GROUP_RULE, "alt-ssh-world", world)], "management-ports-not-public")
    assert [(level, message.split(" is let into ")[0]) for level, message in diagnostics] == [
        ("mandatory", "alt-ssh-world: 0.0.0.0/0")
    ], diagnostics
    own = [(pol.SECURITY_GROUP, "sg", {}), (pol.SECURITY_GROUP_RULE, "alt-ssh-world", world)]
    on_own = analyze_stack(own, "management-ports-not-public", {"alt-ssh-world": {"securityGroupId": "sg"}})
    assert on_own == [], on_own


@pytest.mark.parametrize(
    ("source", "public"),
    [
        ("2001::/32", True),  # Teredo: any IPv4 host of the internet, tunnelled
        ("2001:0:4136:e378::/64", True),  # one Teredo server's clients
        ("::ffff:8.8.8.0/120", True),  # IPv4-mapped: a public IPv4 range
        ("2001:db8::/32", True),  # documentation: no one's, so not the management zone's
        ("fe80::/10", True),  # link-local: whoever shares the link
        ("169.254.0.0/16", True),
        ("192.0.2.0/24", True),
        ("240.0.0.0/4", True),
        ("10.64.0.0/16", False),
        ("172.16.0.0/12", False),
        ("192.168.8.0/24", False),
        ("fd00:64::/48", False),  # a unique local range
        ("127.0.0.0/8", False),
        ("::1/128", False),
    ],
)
def test_only_the_city_s_own_addresses_may_reach_a_management_port(source: str, public: bool) -> None:
    """SSH is open only to RFC 1918, IPv6 unique local and loopback sources: a range ipaddress counts as private but
    which is someone else's (Teredo 2001::/32, an IPv4-mapped public range, link-local, documentation, reserved) is
    refused as a public one, offline and through pulumi-policy's analyzer server."""
    props = {
        "direction": "ingress",
        "protocol": "tcp",
        "portRangeMin": 22,
        "portRangeMax": 22,
        "remoteIpPrefix": source,
    }
    message = f"res: {source} may reach management port(s) [22]"
    assert violations("management-ports-not-public", pol.SECURITY_GROUP_RULE, props) == ([message] if public else [])
    said = analyze_stack([(pol.SECURITY_GROUP_RULE, "res", props)], "management-ports-not-public")
    assert said == ([("mandatory", message)] if public else [])


def test_tenant_isolation_control_names_what_its_rule_checks(runs: dict[str, StackRun]) -> None:
    """DZ-AC-08's catalogue text, what an auditor reads, names every stack component declaring a namespace the rule
    checks (a system's or a dataset owner's) and the CPU and memory the rule requires its quotas to cap."""
    control = packaged().control("DZ-AC-08")
    checked = {label("system"), label("owner")}
    folders = {path.name.split("-", 1)[-1]: path.name for path in (ROOT / "stacks").iterdir()}  # cloud: 1-cloud
    declaring = {
        f"stacks/{folders[short]} {r.parent.split('::')[-2].rsplit(':', 1)[-1]}"
        for short, run in runs.items()
        for r in run.of_type(pol.NAMESPACE)
        if checked & set(unwrap(r.inputs)["metadata"].get("labels") or {})
    }
    assert declaring, "Yulin declares no system or dataset namespace: the test checks nothing"
    named = {part.strip() for part in (control.remediation.component or "").split(",")}
    assert declaring <= named, f"DZ-AC-08 remediation.component leaves out {sorted(declaring - named)}"
    for kind in pol.COMPUTE_QUOTA_KEYS:
        for text in (control.remediation.summary, control.evidence):
            assert kind.lower() in text.lower(), f"DZ-AC-08 does not say quotas cap {kind}: {text!r}"


def management_ports_refusal(city: Path, stacks: Path, out: Path) -> str:
    """The one management-ports-not-public line of synth's refusal of ``stacks`` on ``city``."""
    with pytest.raises(SynthError) as refused:
        synth(load(city), city, out, stacks)
    said = [line for line in str(refused.value).splitlines() if "management-ports-not-public" in line]
    assert len(said) == 1, said
    return said[0]
