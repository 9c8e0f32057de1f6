"""The cluster baseline: 三权分立 roles that cannot reach cluster-admin, an admission policy that refuses
privileged pods however they are made (its CEL evaluated by a CEL implementation), quotas that let updates roll."""

from __future__ import annotations

import copy
from typing import Any

import celpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dizuo.baseline.cluster import (
    KEEP_DATA_VALIDATIONS,
    RESTRICTED_POD_VALIDATIONS,
    RESTRICTED_POD_VARIABLES,
    SYSADMIN_GROUP,
    SYSADMIN_WORKLOADS,
    cluster_roles,
)
from dizuo.cloud import shapes
from dizuo.declaration import Declaration
from dizuo.declaration.model import ZoneKind
from dizuo.synth.engine import StackRun

CEL = celpy.Environment()

COMPLIANT_POD: dict[str, Any] = {
    "kind": "Pod",
    "spec": {
        "containers": [
            {
                "name": "app",
                "securityContext": {
                    "privileged": False,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                },
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    },
}


def admitted(pod: dict[str, Any]) -> list[bool]:
    """Each validation of the policy on ``pod``, as the API server evaluates them: variables first."""
    activation: dict[str, Any] = {"object": celpy.json_to_cel(pod)}
    variables = {
        v["name"]: CEL.program(CEL.compile(v["expression"])).evaluate(activation) for v in RESTRICTED_POD_VARIABLES
    }
    activation["variables"] = celpy.celtypes.MapType({celpy.celtypes.StringType(k): v for k, v in variables.items()})
    return [bool(CEL.program(CEL.compile(v["expression"])).evaluate(activation)) for v in RESTRICTED_POD_VALIDATIONS]


def test_a_restricted_pod_is_admitted() -> None:
    assert admitted(COMPLIANT_POD) == [True] * len(RESTRICTED_POD_VALIDATIONS)


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    pod = copy.deepcopy(COMPLIANT_POD)
    target: Any = pod["spec"]
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[path[-1]] = value
    return pod


@pytest.mark.parametrize(
    "pod",
    [
        _with(["containers", 0, "securityContext", "privileged"], True),
        _with(["initContainers"], [{"name": "init", "securityContext": {"privileged": True}}]),
        _with(["ephemeralContainers"], [{"name": "debug", "securityContext": {"privileged": True}}]),
        _with(["containers", 0, "securityContext", "capabilities", "add"], ["SYS_ADMIN"]),
        _with(["hostNetwork"], True),
        _with(["hostPID"], True),
        _with(["hostIPC"], True),
        _with(["volumes"], [{"name": "root", "hostPath": {"path": "/"}}]),
    ],
    ids=[
        "privileged",
        "privileged-init",
        "privileged-debug",
        "cap-sys-admin",
        "host-net",
        "host-pid",
        "host-ipc",
        "host-path",
    ],
)
def test_each_way_to_the_host_is_refused(pod: dict[str, Any]) -> None:
    """Every way a pod reaches the host fails exactly one validation (and so the pod is denied)."""
    assert admitted(pod).count(False) == 1, admitted(pod)


def test_the_policy_checks_pods_not_only_deployments(runs: dict[str, StackRun]) -> None:
    """Bare pods, Jobs, CronJobs and `kubectl debug` all end in a pod: that is what the policy matches."""
    policy_type = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
    policies = [
        r
        for r in runs["baseline"].of_type(policy_type)
        if r.type == policy_type and r.inputs["metadata"]["name"] == "dizuo-restricted-workloads"  # not the bindings
    ]
    assert policies
    for policy in policies:
        rules = policy.inputs["spec"]["matchConstraints"]["resourceRules"]
        assert rules == [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["pods", "pods/ephemeralcontainers"],
            }
        ], policy.name


def test_the_system_administrator_cannot_reach_cluster_admin(runs: dict[str, StackRun], yulin: Declaration) -> None:
    """Cluster-wide the system administrator reads and drains; it writes workloads only in managed namespaces
    (a pod in kube-system runs as its service accounts), and it cannot relabel namespaces (Pod Security)."""
    cluster_wide = cluster_roles()["dizuo-sysadmin"]
    written = {
        (resource, verb)
        for rule in cluster_wide
        for resource in rule["resources"]
        for verb in rule["verbs"]
        if verb not in {"get", "list", "watch"}
    }
    assert written == {("nodes", "patch"), ("nodes", "update"), ("pods/eviction", "create")}
    bound = {
        rb.inputs["metadata"]["namespace"]
        for rb in runs["cloud"].of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
        if rb.inputs["roleRef"]["name"] == SYSADMIN_WORKLOADS and rb.inputs["subjects"][0]["name"] == SYSADMIN_GROUP
    }
    assert bound == {s.code for s in yulin.systems}


def test_quota_leaves_room_for_a_rolling_update_and_only_the_declared_storage_class(yulin: Declaration) -> None:
    """The quota holds one replica more than the system runs (maxSurge 1); storage is claimable only from the
    system's own pool's StorageClass."""
    system = next(s for s in yulin.systems if s.storage_pool == "xc-ceph")
    hard = shapes.quota_hard(yulin, system)
    per_replica = shapes.container_resources(system)["requests"]
    assert int(hard["requests.cpu"].removesuffix("m")) >= (shapes.REPLICAS + 1) * int(
        per_replica["cpu"].removesuffix("m")
    )
    by_class = {k.split(".storageclass", 1)[0]: v for k, v in hard.items() if ".storageclass." in k}
    assert by_class[f"{yulin.city.prefix}-xc-ceph"] == f"{system.resources.storage_gib}Gi"
    assert {v for k, v in by_class.items() if k != f"{yulin.city.prefix}-xc-ceph"} == {"0"}
    assert len(by_class) > 1, "the cluster's other storage classes are listed, at zero"


def _quantity(text: str) -> int:
    """Millicores or MiB of a quantity as the shapes write it."""
    return int(text.removesuffix("m").removesuffix("Mi"))


@settings(max_examples=300, deadline=None)
@given(
    cpu=st.decimals(min_value="0.001", max_value="256", places=3),
    memory=st.decimals(min_value="0.01", max_value="1024", places=2),
)
def test_every_size_of_system_gets_limits_the_api_server_takes_and_a_quota_with_room_for_the_surge_pod(
    yulin: Declaration, cpu: Any, memory: Any
) -> None:
    """The API server refuses a LimitRange whose default or default request exceeds its max, or whose default request
    exceeds its default; a quota a MiB short of three replicas' rounded requests refuses the surge pod and stalls
    every rollout. Neither happens for any declared size."""
    system = yulin.systems[0].model_copy(
        update={"resources": yulin.systems[0].resources.model_copy(update={"cpu": cpu, "memory_gib": memory})}
    )
    (limits,) = shapes.limit_range(system)
    for resource in ("cpu", "memory"):
        maximum, default = _quantity(limits["max"][resource]), _quantity(limits["default"][resource])
        assert _quantity(limits["defaultRequest"][resource]) <= default <= maximum, (resource, limits)
    hard = shapes.quota_hard(yulin, system)
    pod = shapes.container_resources(system)
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            replica = _quantity(pod[kind][resource])
            assert _quantity(hard[f"{kind}.{resource}"]) >= (shapes.REPLICAS + 1) * replica, (kind, resource, hard)
            assert replica <= _quantity(limits["max"][resource]), "one replica fits the LimitRange's max"


@pytest.mark.parametrize(("cores", "millicores"), [(4.03, 2015), (1.1, 550), (16.1, 8050), (0.3, 150)])
def test_a_system_asks_the_cores_it_declares_to_the_millicore(
    yulin: Declaration, cores: float, millicores: int
) -> None:
    """Requests, limits, quota and the LimitRange's max are the declared decimal cores in millicores: a float times
    1000 (4.03 / 2 * 1000 = 2015.0000000000002) rounded up asked a millicore more than declared."""
    system = yulin.systems[0].model_copy(
        update={"resources": yulin.systems[0].resources.model_copy(update={"cpu": cores})}
    )
    pod = shapes.container_resources(system)
    assert pod["requests"]["cpu"] == f"{millicores}m"
    assert pod["limits"]["cpu"] == f"{millicores * shapes.LIMIT_FACTOR}m"
    assert shapes.quota_hard(yulin, system)["requests.cpu"] == f"{(shapes.REPLICAS + 1) * millicores}m"
    (limits,) = shapes.limit_range(system)
    assert limits["max"]["cpu"] == f"{millicores * shapes.REPLICAS * shapes.LIMIT_FACTOR}m"


def test_systems_in_a_zone_open_to_outside_accept_the_ingress_controller(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """The declaration opens the internet zone to citizens and the extranet to the provincial backbone: every
    system there accepts the ingress controller, or its users could not reach it; elsewhere it does not."""
    opened = {i.destination for i in yulin.network.ingress}
    zone_of = {s.code: s.zone for s in yulin.systems}
    for policy in runs["cloud"].of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        meta = policy.inputs["metadata"]
        if meta["name"] != "declared-flows":
            continue
        peers = [peer for rule in policy.inputs["spec"].get("ingress", []) for peer in rule["from"]]
        from_controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
        assert (from_controller in peers) == (zone_of[meta["namespace"]] in opened), meta["namespace"]


@pytest.mark.parametrize(
    ("labels", "namespace_labels", "deletable"),
    [
        ({"dizuo.io/dataset": "rk-jcxx", "dizuo.io/owner": "gaj"}, {"dizuo.io/owner": "gaj"}, False),  # a dataset's
        ({"dizuo.io/owner": "gaj"}, None, False),  # the namespace holding an owner's datasets
        ({"dizuo.io/system": "sjj-tyrz"}, None, False),  # a system's namespace, which holds its volumes
        (None, {"dizuo.io/system": "sjj-tyrz"}, False),  # a claim the system's department made in it
        (None, {"kubernetes.io/metadata.name": "sjj-tyrz"}, True),  # ... once the label is taken off on purpose
        # A claim in an owner's dataset namespace, whatever its own labels: its quota admits the datasets' claims only,
        # and a department admin may take a claim's labels off.
        ({"app": "loader"}, {"dizuo.io/owner": "gaj"}, False),
        (None, {"dizuo.io/owner": "gaj"}, False),
        (None, {"kubernetes.io/metadata.name": "dp-gaj"}, True),  # ... once the label is taken off on purpose
        (None, None, True),
    ],
)
def test_data_cannot_be_deleted_with_kubectl(
    labels: dict[str, str] | None, namespace_labels: dict[str, str] | None, deletable: bool
) -> None:
    """The keep-data policy, evaluated on DELETE (the object is oldObject, its namespace namespaceObject, null for a
    Namespace): dataset claims, owner namespaces, system namespaces and the claims in them are refused, anything
    else passes."""
    old: dict[str, Any] = {"metadata": {"name": "x"}}
    if labels is not None:
        old["metadata"]["labels"] = labels
    namespace = None if namespace_labels is None else {"metadata": {"name": "ns", "labels": namespace_labels}}
    activation = {"oldObject": celpy.json_to_cel(old), "namespaceObject": celpy.json_to_cel(namespace)}
    results = [bool(CEL.program(CEL.compile(v["expression"])).evaluate(activation)) for v in KEEP_DATA_VALIDATIONS]
    assert all(results) == deletable, results


def _keep_data_admits(runs: dict[str, StackRun], request: dict[str, Any]) -> bool:
    """Whether the keep-data policy the baseline stack declares admits ``request`` (a DELETE of a claim):
    every validation of the synthesised ValidatingAdmissionPolicy, evaluated by a CEL implementation."""
    declared = [
        p.inputs
        for p in runs["baseline"].of_type("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy")
        if p.inputs["metadata"]["name"] == "dizuo-keep-data" and p.type.endswith(":ValidatingAdmissionPolicy")
    ]
    assert declared, "the baseline declares dizuo-keep-data"
    (rule,) = declared[0]["spec"]["matchConstraints"]["resourceRules"]
    assert "DELETE" in rule["operations"]
    assert "persistentvolumeclaims" in rule["resources"]
    activation = {key: celpy.json_to_cel(value) for key, value in request.items()}
    return all(
        bool(CEL.program(CEL.compile(v["expression"])).evaluate(activation)) for v in declared[0]["spec"]["validations"]
    )


def test_a_dataset_claim_stripped_of_its_labels_is_still_not_deleted(runs: dict[str, StackRun]) -> None:
    """A department admin (who may update claims in its dataset namespace) takes dizuo.io/dataset and dizuo.io/owner
    off a dataset's claim, then deletes it: the keep-data policy still refuses, because the claim's namespace is an
    owner's; once the security administrator takes the namespace's label off, the delete passes."""
    datapool = runs["datapool"]
    claim = next(c.inputs for c in datapool.of_type("kubernetes:core/v1:PersistentVolumeClaim"))
    namespace = next(
        n.inputs
        for n in datapool.of_type("kubernetes:core/v1:Namespace")
        if n.inputs["metadata"]["name"] == claim["metadata"]["namespace"]
    )
    assert _keep_data_admits(runs, {"oldObject": claim, "namespaceObject": namespace}) is False
    stripped = copy.deepcopy(claim)
    stripped["metadata"]["labels"] = {
        key: value for key, value in claim["metadata"]["labels"].items() if not key.startswith("dizuo.io/")
    }
    assert _keep_data_admits(runs, {"oldObject": stripped, "namespaceObject": namespace}) is False
    released = copy.deepcopy(namespace)
    del released["metadata"]["labels"]["dizuo.io/owner"]
    assert _keep_data_admits(runs, {"oldObject": stripped, "namespaceObject": released}) is True


def test_a_system_namespace_outlives_the_stack(runs: dict[str, StackRun]) -> None:
    """Retiring a system or destroying 1-cloud forgets its namespace instead of deleting it with every claim."""
    namespaces = runs["cloud"].of_type("kubernetes:core/v1:Namespace")
    assert namespaces
    assert [ns.name for ns in namespaces if not ns.retain_on_delete] == []


def test_calls_into_another_cluster_go_through_its_ingress(runs: dict[str, StackRun], yulin: Declaration) -> None:
    """A namespace selector names namespaces of its own cluster only. A system calling one in another cluster gets
    an egress rule to that cluster's ingress address alone (not its zone's whole range) on the ingress controller's
    ports, the callee accepts the ingress controller, and no policy names a namespace its cluster does not have."""
    by_code = {s.code: s for s in yulin.systems}
    crossing = [(s, by_code[dep]) for s in yulin.systems for dep in s.depends_on if by_code[dep].cluster != s.cluster]
    assert crossing, "Yulin has calls from the DMZ into the government cloud"
    flows = {
        s.code: p
        for p in runs["cloud"].of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if (s := by_code.get(p.inputs["metadata"]["namespace"])) and p.inputs["metadata"]["name"] == "declared-flows"
    }
    ingress_of = {c.name: f"{c.ingress_address}/32" for c in yulin.clusters}
    zone_ranges = {z.cidr for z in yulin.zones}
    controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    for caller, callee in crossing:
        egress = flows[caller.code].inputs["spec"]["egress"]
        ports = shapes.crossing_ports(yulin, caller, callee)
        assert ports == (443,), "the callee's ingress controller, not every port the zones' flow opens (8443)"
        assert {
            "to": [{"ipBlock": {"cidr": ingress_of[callee.cluster]}}],
            "ports": [{"protocol": "TCP", "port": p} for p in ports],
        } in egress
        opened = [peer["ipBlock"]["cidr"] for rule in egress for peer in rule["to"] if "ipBlock" in peer]
        assert opened.count(ingress_of[callee.cluster]) == 1, "one rule per remote cluster, however many callees"
        database_range = [cidr for cidr in opened if cidr in zone_ranges]
        assert len(database_range) <= 1, "only its own zone's range, and that for its database only"
        ingress = flows[callee.code].inputs["spec"]["ingress"]
        assert any(controller in rule["from"] for rule in ingress), callee.code
    for code, policy in flows.items():
        cluster = by_code[code].cluster
        pools = {p.name for c in yulin.clusters if c.name == cluster for p in c.storage_pools}
        data_pool = {f"dp-{ds.owner}" for ds in yulin.datasets if ds.storage_pool in pools}
        known = {s.code for s in yulin.systems if s.cluster == cluster} | {"kube-system", "ingress-nginx"} | data_pool
        spec = policy.inputs["spec"]
        named = {
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for rule in [*spec.get("ingress", []), *spec["egress"]]
            for peer in rule.get("from", rule.get("to", []))
            if "namespaceSelector" in peer
        }
        assert named <= known, f"{code} names namespaces not in {cluster}: {sorted(named - known)}"


def test_a_flow_without_ports_still_opens_only_the_ingress_port_across_clusters(yulin: Declaration) -> None:
    """A declared flow that lists no ports allows them all, but a call into another cluster only ever needs its
    ingress controller; a flow that does not open that port, or no flow, carries no crossing."""
    by_code = {s.code: s for s in yulin.systems}
    caller, callee = next(
        (s, by_code[d]) for s in yulin.systems for d in s.depends_on if by_code[d].cluster != s.cluster
    )

    def with_api_flow_ports(ports: tuple[int, ...] | None) -> Declaration:
        flows = tuple(
            f.model_copy(update={"ports": ports}) if f.name == "inet-to-ext-api" else f
            for f in yulin.network.flows
            if ports is not None or f.name != "inet-to-ext-api"
        )
        return yulin.model_copy(update={"network": yulin.network.model_copy(update={"flows": flows})})

    assert shapes.crossing_ports(with_api_flow_ports(()), caller, callee) == (443,)
    assert shapes.crossing_ports(with_api_flow_ports((8443,)), caller, callee) is None
    assert shapes.crossing_ports(with_api_flow_ports(None), caller, callee) is None


def test_every_system_served_from_outside_has_an_ingress_for_its_host(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """Each system the ingress controller is let through to gets an Ingress routing <code>.<domain> over TLS to its
    Service's port; no other system gets one, and no two Ingresses claim one host."""
    ingresses = {
        i.inputs["metadata"]["namespace"]: i.inputs
        for i in runs["cloud"].of_type("kubernetes:networking.k8s.io/v1:Ingress")
    }
    served = {s.code for s in yulin.systems if shapes.served_through_ingress(yulin, s)}
    assert set(ingresses) == served
    services = {
        x.inputs["metadata"]["namespace"]: x.inputs for x in runs["cloud"].of_type("kubernetes:core/v1:Service")
    }
    hosts = []
    for code, ingress in ingresses.items():
        spec = ingress["spec"]
        host = f"{code}.yl.gov.cn"
        assert spec["ingressClassName"] == "nginx"
        assert spec["tls"] == [{"hosts": [host]}], "the controller's default certificate, for this host only"
        (rule,) = spec["rules"]
        assert rule["host"] == host
        (path,) = rule["http"]["paths"]
        backend = path["backend"]["service"]
        service = services[code]
        assert backend["name"] == service["metadata"]["name"]
        assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
        hosts.append(host)
    assert len(hosts) == len(set(hosts))


def test_a_system_only_its_own_cluster_calls_gets_no_ingress(yulin: Declaration) -> None:
    """Outside the zones open to outside traffic, only a call or a data-pool loader's pull from another cluster puts
    a system behind the ingress controller."""
    zones = tuple(z.model_copy(update={"kind": ZoneKind.DEDICATED}) if z.name == "internet" else z for z in yulin.zones)
    network = yulin.network.model_copy(update={"zones": zones, "ingress": ()})
    closed = yulin.model_copy(update={"network": network})
    by_code = {s.code: s for s in yulin.systems}
    called_across = {d for s in yulin.systems for d in s.depends_on if by_code[d].cluster != s.cluster}
    pool_cluster = {p.name: c.name for c in yulin.clusters for p in c.storage_pools}
    pulled_across = {
        ds.source_system
        for ds in yulin.datasets
        if ds.kind != "bucket"
        and ds.source_system
        and by_code[ds.source_system].cluster != pool_cluster[ds.storage_pool]
    }
    assert called_across
    assert pulled_across == {"wlj-01"}, "Yulin's data pool pulls 旅游客流 from the DMZ"
    served = {s.code for s in yulin.systems if shapes.served_through_ingress(closed, s)}
    assert served == called_across | pulled_across
