"""A system's storage: its quota lets a migration wave's new claims in while the old ones stay bound, only the
city's storage classes are claimable (the admission policy's CEL evaluated by a CEL implementation)."""

from __future__ import annotations

from typing import Any

import celpy
import pytest

from dizuo.cloud import shapes
from dizuo.declaration import Declaration
from dizuo.naming import storage_class
from dizuo.synth.engine import StackRun

CEL = celpy.Environment()
POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"


def _gib(quantity: str) -> int:
    return int(quantity.removesuffix("Gi"))


def quota_refuses(hard: dict[str, str], claims: list[tuple[str, int]], new: tuple[str, int]) -> list[str]:
    """The keys of ``hard`` on which the ResourceQuota admission refuses claim ``new`` (class, GiB) next to the bound
    ``claims``: a claim counts against ``requests.storage`` and ``persistentvolumeclaims``, and the same two keys of
    its StorageClass (``<class>.storageclass.storage.k8s.io/...``; none for class ""), as Kubernetes' quota evaluator
    counts it; only the keys the new claim adds to are checked (a key already past its hard limit refuses only what
    adds to it)."""

    def usage(claim: tuple[str, int]) -> dict[str, int]:
        cls, gib = claim
        counted = {"requests.storage": gib, "persistentvolumeclaims": 1}
        if cls == "":  # no class: Kubernetes charges no class's keys
            return counted
        prefix = f"{cls}.storageclass.storage.k8s.io/"
        return {**counted, f"{prefix}requests.storage": gib, f"{prefix}persistentvolumeclaims": 1}

    used: dict[str, int] = {}
    for claim in claims:
        for key, value in usage(claim).items():
            used[key] = used.get(key, 0) + value
    refused = []
    for key, asked in usage(new).items():
        if key in hard:
            limit = _gib(hard[key]) if key.endswith("requests.storage") else int(hard[key])
            if used.get(key, 0) + asked > limit:
                refused.append(key)
    return refused


def test_a_moved_system_claims_its_new_pool_while_its_claims_on_the_old_one_stay_bound(yulin: Declaration) -> None:
    """After a migration wave the system's quota grants its allocation on the new pool: a claim there is admitted
    while the claim on the old pool is still bound (its data is copied, not yet deleted)."""
    system = next(s for s in yulin.systems if s.storage_pool == "phase1-ceph" and s.resources.storage_gib > 0)
    old, new = storage_class(yulin.city.prefix, "phase1-ceph"), storage_class(yulin.city.prefix, "xc-ceph")
    size = system.resources.storage_gib
    assert quota_refuses(shapes.quota_hard(yulin, system), [], (old, size)) == [], "before the wave, on phase1-ceph"
    moved = system.model_copy(update={"storage_pool": "xc-ceph", "node_pool": "xc-hygon"})
    hard = shapes.quota_hard(yulin, moved)
    assert quota_refuses(hard, [(old, size)], (new, size)) == []
    assert quota_refuses(hard, [(old, size)], (old, 1)) != [], "the old pool takes no new claim"
    assert quota_refuses(hard, [(old, size), (new, size)], (new, 1)) != [], "the new pool holds the allocation"
    assert quota_refuses(hard, [], ("", 100 * size)) == [], "no class: no key caps it, the baseline's policy refuses it"


def _policy(runs: dict[str, StackRun], name: str) -> list[Any]:
    return [r for r in runs["baseline"].of_type(POLICY) if r.type == POLICY and r.inputs["metadata"]["name"] == name]


BETA = "volume.beta.kubernetes.io/storage-class"


def _claim(spec: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata = {"name": "data", "namespace": "sjj-tyrz", **({"annotations": annotations} if annotations else {})}
    return {"metadata": metadata, "spec": {"accessModes": ["ReadWriteOnce"], **spec}}


def _admits(policy: Any, claim: dict[str, Any], old: dict[str, Any] | None = None) -> bool:
    """Whether ``policy``'s validations all admit ``claim`` (``old``: the claim it updates), as the API server
    evaluates them: its variables first."""
    spec = policy.inputs["spec"]
    request = {"operation": "CREATE" if old is None else "UPDATE"}
    activation: dict[str, Any] = {
        key: celpy.json_to_cel(value) for key, value in {"object": claim, "oldObject": old, "request": request}.items()
    }
    variables = {
        v["name"]: CEL.program(CEL.compile(v["expression"])).evaluate(activation) for v in spec.get("variables", [])
    }
    activation["variables"] = celpy.celtypes.MapType({celpy.celtypes.StringType(k): v for k, v in variables.items()})
    return all(bool(CEL.program(CEL.compile(v["expression"])).evaluate(activation)) for v in spec["validations"])


def _classes_policy(runs: dict[str, StackRun], cluster: str) -> Any:
    (policy,) = [p for p in _policy(runs, "dizuo-city-storage-classes") if p.name.startswith(f"{cluster}-")]
    return policy


@pytest.mark.parametrize(
    ("spec", "annotations", "admitted"),
    [
        ({"storageClassName": "yl-xc-ceph"}, None, True),
        ({"storageClassName": "yl-phase1-ceph"}, None, True),  # capped by the quota's per-class key (0 or allocation)
        ({"storageClassName": "local-path"}, None, False),  # the cluster's default, or a chart's own: no key caps it
        ({"storageClassName": ""}, None, False),  # binds a pre-made volume, past every quota
        ({}, None, False),  # no default class filled it in
        # Kubernetes charges and provisions a claim on its beta annotation's class, whatever the spec names.
        ({"storageClassName": "yl-xc-ceph"}, {BETA: "local-path"}, False),
        ({"storageClassName": "yl-xc-ceph"}, {BETA: ""}, False),
        ({"storageClassName": "local-path"}, {BETA: "yl-xc-ceph"}, True),
        ({}, {BETA: "yl-xc-ceph"}, True),
        ({"storageClassName": "yl-xc-ceph"}, {"other": "local-path"}, True),
    ],
)
def test_a_system_claims_only_from_the_city_s_storage_classes(
    runs: dict[str, StackRun],
    yulin: Declaration,
    spec: dict[str, str],
    annotations: dict[str, str] | None,
    admitted: bool,
) -> None:
    """In a system's namespace, a claim on a class that is not one of the city's on the cluster is refused: the
    system's quota has a key for each of the city's classes and no total, so nothing else would cap it. The class is
    the one the quota charges: the beta annotation's if the claim has one, else spec.storageClassName."""
    policy = _classes_policy(runs, "yl-gov")
    assert _admits(policy, _claim(spec, annotations)) == admitted, (spec, annotations)
    assert {c.name for c in yulin.clusters if any(p.name == "xc-ceph" for p in c.storage_pools)} == {"yl-gov"}


@pytest.mark.parametrize(
    ("old", "new", "admitted"),
    [
        (_claim({"storageClassName": "yl-xc-ceph"}), _claim({"storageClassName": "yl-xc-ceph"}), True),
        # a claim from before the policy, resized: its class is kept
        (_claim({"storageClassName": "local-path"}), _claim({"storageClassName": "local-path"}), True),
        (_claim({"storageClassName": "yl-xc-ceph"}), _claim({"storageClassName": "yl-xc-ceph"}, {BETA: ""}), False),
        (_claim({}), _claim({"storageClassName": "local-path"}), False),  # no class, given one the quota cannot cap
        (_claim({}), _claim({"storageClassName": "yl-xc-ceph"}), True),
        (_claim({}, {BETA: "yl-xc-ceph"}), _claim({"storageClassName": "yl-xc-ceph"}), True),  # annotation to field
    ],
)
def test_an_updated_claim_keeps_its_class_or_takes_one_of_the_city_s(
    runs: dict[str, StackRun], old: dict[str, Any], new: dict[str, Any], admitted: bool
) -> None:
    """An update may not move a claim to a class the quota does not cap (its annotation set, a class given to a claim
    that had none); one that keeps the class, a resize, is admitted even for a claim made before the policy."""
    policy = _classes_policy(runs, "yl-gov")
    rules = policy.inputs["spec"]["matchConstraints"]["resourceRules"]
    assert rules == [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["persistentvolumeclaims"],
        }
    ]
    assert _admits(policy, new, old) == admitted, (old, new)


def test_the_data_pool_s_own_claims_pass_the_storage_class_policy(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """Each claim the data-pool stack makes in an owner's namespace (named after its dataset) is admitted by the
    policy of the dataset's cluster."""
    claims = runs["datapool"].of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert claims, "the data pool makes claims"
    cluster_of = {ds.code: yulin.loader_cluster(ds) for ds in yulin.datasets}
    for claim in claims:
        policy = _classes_policy(runs, str(cluster_of[claim.inputs["metadata"]["name"]]))
        assert _admits(policy, claim.inputs), claim.name


def test_the_storage_class_policy_binds_to_every_system_and_dataset_namespace(runs: dict[str, StackRun]) -> None:
    """The binding selects every namespace a system or a dataset owner holds claims in, on each cluster, and denies:
    neither quota has a total, so a claim on a class that is not the city's would be capped by nothing in either."""
    bindings = [
        b
        for b in runs["baseline"].of_type(BINDING)
        if b.type == BINDING and b.inputs["metadata"]["name"] == "dizuo-city-storage-classes"
    ]
    assert len(bindings) == 2, "one per cluster"
    namespaces = {
        ns.inputs["metadata"]["name"]: ns.inputs["metadata"]["labels"]
        for stack in ("cloud", "datapool")
        for ns in runs[stack].of_type("kubernetes:core/v1:Namespace")
    }
    assert any(name.startswith("dp-") for name in namespaces), "the data pool's owner namespaces are checked too"
    for binding in bindings:
        spec = binding.inputs["spec"]
        assert spec["validationActions"] == ["Deny"]
        selector = spec["matchResources"]["namespaceSelector"]
        assert set(selector) == {"matchLabels"}, selector
        unselected = [
            name
            for name, labels in namespaces.items()
            if any(labels.get(key) != value for key, value in selector["matchLabels"].items())
        ]
        assert unselected == [], f"{binding.name} does not select {unselected}"
        # a namespace the city does not manage (the cluster's own, a chart's) keeps its own classes
        kube_system = {"kubernetes.io/metadata.name": "kube-system"}
        assert any(kube_system.get(key) != value for key, value in selector["matchLabels"].items())
