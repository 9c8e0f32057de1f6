"""Stack programs under Pulumi mocks, checked like policies: data is never deleted, nothing opens too wide."""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import json
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc

from declarations import city_copy
from dizuo.addresses import is_city_own
from dizuo.cloud.providers import cluster_providers
from dizuo.cloud.shapes import K8S_ARCH, REGISTRY
from dizuo.datapool.shapes import dataset_quota, loader_limits
from dizuo.declaration import Declaration, load
from dizuo.declaration.model import DataLoaders, IngressSource
from dizuo.naming import storage_class
from dizuo.network.component import external_network_id
from dizuo.network.shapes import needs_external_network
from dizuo.synth.engine import Registered, StackRun, is_secret, run_stack
from dizuo.synth.schemas import manifest_errors
from dizuo.synth.synth import SynthError, synth

from .conftest import ROOT, TEST_SECRET, YULIN, run_tiers
from .test_system_storage import quota_refuses

QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"


def test_every_data_volume_and_bucket_is_protected_and_retained_on_delete(runs: dict[str, StackRun]) -> None:
    """No stack update or destroy can delete a dataset's volume, bucket or the namespace holding it."""
    datapool = runs["datapool"]
    holders = (
        datapool.of_type("kubernetes:core/v1:PersistentVolumeClaim")
        + datapool.of_type("openstack:objectstorage/container:Container")
        + datapool.of_type("kubernetes:core/v1:Namespace")
    )
    assert holders, "the data pool declares no volumes"
    unsafe = [r.name for r in holders if not (r.protect and r.retain_on_delete)]
    assert not unsafe, f"data holders that a destroy could delete: {unsafe}"


def test_a_dataset_claim_waits_for_its_namespace_quota(runs: dict[str, StackRun]) -> None:
    """A dataset grown in the declaration grows its claim and its owner's quota in one update; the API refuses a
    claim beyond the quota, so each claim depends on the quota of its namespace (updated first)."""
    datapool = runs["datapool"]
    quotas = {
        (r.provider, r.inputs["metadata"]["namespace"]): r.urn
        for r in datapool.of_type("kubernetes:core/v1:ResourceQuota")
    }
    claims = datapool.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert claims
    for claim in claims:
        quota = quotas[(claim.provider, claim.inputs["metadata"]["namespace"])]
        assert quota in claim.dependencies, f"{claim.name} does not wait for {quota}"


def test_every_data_pool_namespace_caps_its_loaders_cpu_and_memory(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """A dp-<owner> namespace caps what its loaders run on, not only what they claim: its quota holds CPU and memory
    requests and limits (departments.yaml data_loaders: 2 cores and 4 GiB by default, twice that as limits), and a
    LimitRange gives a container declaring none its defaults, below the namespace's limits."""
    datapool = runs["datapool"]
    quotas = {q.inputs["metadata"]["namespace"]: q.inputs["spec"]["hard"] for q in datapool.of_type(QUOTA)}
    limits = {r.inputs["metadata"]["namespace"]: r.inputs["spec"]["limits"] for r in datapool.of_type(LIMIT_RANGE)}
    owners = {f"dp-{ds.owner}" for ds in yulin.datasets if ds.kind != "bucket"}
    assert set(quotas) == owners
    assert set(limits) == owners
    for namespace, hard in quotas.items():
        compute = {key: hard[key] for key in ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")}
        assert compute == {
            "requests.cpu": "2000m",
            "requests.memory": "4096Mi",
            "limits.cpu": "4000m",
            "limits.memory": "8192Mi",
        }, namespace
        assert limits[namespace] == [
            {
                "type": "Container",
                "default": {"cpu": "1000m", "memory": "512Mi"},
                "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                "max": {"cpu": "4000m", "memory": "8192Mi"},
            }
        ], namespace


def test_a_department_s_data_loaders_set_its_data_pool_quota(yulin: Declaration) -> None:
    """A department declaring its loaders' needs (data_loaders) gets exactly them as its dp-<owner> quota's requests,
    twice them as limits, and a LimitRange that still fits a small grant; the others keep the default."""
    owner = next(ds.owner for ds in yulin.datasets if ds.kind != "bucket")
    cluster = next(c for c in yulin.clusters if any(ds.owner == owner for ds in yulin.datasets))
    departments = tuple(
        dept.model_copy(update={"data_loaders": DataLoaders(cpu=0.05, memory_gib=0.1)}) if dept.code == owner else dept
        for dept in yulin.departments
    )
    city = yulin.model_copy(update={"departments": departments})
    hard = dataset_quota(city, owner, cluster.name)
    assert (hard["requests.cpu"], hard["requests.memory"]) == ("50m", "103Mi")
    assert (hard["limits.cpu"], hard["limits.memory"]) == ("100m", "205Mi")
    (limits,) = loader_limits(city, owner)
    assert limits["max"] == {"cpu": "100m", "memory": "205Mi"}
    assert limits["default"] == {"cpu": "100m", "memory": "205Mi"}, "defaults shrink to the max, or the API refuses"
    other = next(d.code for d in yulin.departments if d.code != owner)
    assert dataset_quota(city, other, cluster.name)["requests.cpu"] == "2000m"


def test_every_storage_class_retains_released_volumes(runs: dict[str, StackRun]) -> None:
    """Deleting a claim never deletes the volume: every StorageClass reclaims with Retain."""
    classes = runs["datapool"].of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert classes
    for sc in classes:
        assert sc.inputs["reclaimPolicy"] == "Retain", f"{sc.name} reclaims with {sc.inputs.get('reclaimPolicy')}"


def test_every_ceph_storage_class_names_its_cluster_and_credentials(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """ceph-csi provisions, stages and expands a volume only with the cluster's fsid and a secret for each step;
    StorageClass parameters cannot change later, so all of them are there from the first `pulumi up`."""
    fsid = {p.name: p.ceph_cluster_id for p in yulin.storage_pools()}
    classes = runs["datapool"].of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert classes
    for sc in classes:
        parameters = sc.inputs["parameters"]
        pool = sc.inputs["metadata"]["labels"]["dizuo.io/storage-pool"]
        assert parameters["clusterID"] == fsid[pool], sc.name
        for step in ("provisioner", "controller-expand", "node-stage"):
            assert parameters[f"csi.storage.k8s.io/{step}-secret-name"], (sc.name, step)
            assert parameters[f"csi.storage.k8s.io/{step}-secret-namespace"], (sc.name, step)


def test_rbd_volumes_are_mounted_without_access_times(runs: dict[str, StackRun], yulin: Declaration) -> None:
    """A consumer reading a dataset writes nothing to its RBD image (freshness counts those writes as loads)."""
    backend = {p.name: p.backend for p in yulin.storage_pools()}
    classes = runs["datapool"].of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    rbd = [sc for sc in classes if backend[sc.inputs["metadata"]["labels"]["dizuo.io/storage-pool"]] == "ceph-rbd"]
    assert rbd
    for sc in rbd:
        assert sc.inputs.get("mountOptions") == ["noatime"], sc.name
    assert all("mountOptions" not in sc.inputs for sc in classes if sc not in rbd)


def test_pods_change_volume_ownership_only_when_the_root_differs(runs: dict[str, StackRun]) -> None:
    """kubelet does not chown every file of a volume at each pod start (a write of every inode, which freshness would
    count as a load on a dataset's RBD image), only when the volume's root is not the pod's group yet."""
    deployments = runs["cloud"].of_type("kubernetes:apps/v1:Deployment")
    assert deployments
    for deployment in deployments:
        context = deployment.inputs["spec"]["template"]["spec"]["securityContext"]
        assert context["fsGroupChangePolicy"] == "OnRootMismatch", deployment.name


def test_every_dataset_claim_waits_for_its_storage_class(runs: dict[str, StackRun]) -> None:
    """A dataset's claim is made only once the StorageClass it names exists (a first `dizuo up` makes both): made
    before it, the claim would sit Pending until a provisioner retried."""
    classes = {
        sc.inputs["metadata"]["name"]: sc.urn
        for sc in runs["datapool"].of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    }
    claims = runs["datapool"].of_type("kubernetes:core/v1:PersistentVolumeClaim")
    assert claims
    for claim in claims:
        assert classes[claim.inputs["spec"]["storageClassName"]] in claim.dependencies, claim.name


def test_one_dataset_one_owner_label(runs: dict[str, StackRun], yulin: Declaration) -> None:
    """Every dataset carries its single owner department and classification as labels."""
    owners = {ds.code: ds.owner for ds in yulin.datasets if ds.kind == "volume"}
    for pvc in runs["datapool"].of_type("kubernetes:core/v1:PersistentVolumeClaim"):
        labels = pvc.inputs["metadata"]["labels"]
        assert labels["dizuo.io/owner"] == owners[labels["dizuo.io/dataset"]], pvc.name
        assert labels["dizuo.io/classification"] in {"general", "important", "core"}, pvc.name


def open_to_the_world(rules: list[Registered], management_ports: set[int]) -> list[str]:
    """The security-group rules among ``rules`` admitting a source beyond the city's own ranges (the policy pack's
    meaning, :func:`dizuo.addresses.is_city_own`) to a management port, each with its source and those ports."""
    offenders = []
    for rule in rules:
        if "remoteIpPrefix" not in rule.inputs:
            # Only a zone's own members: a rule without prefix must name a remote group, else it means anywhere.
            assert rule.inputs["remoteGroupId"] == rule.inputs["securityGroupId"], rule.name
            continue
        source = ipaddress.ip_network(rule.inputs["remoteIpPrefix"], strict=False)
        low, high = rule.inputs.get("portRangeMin"), rule.inputs.get("portRangeMax")
        ports = set(range(int(low), int(high) + 1)) if low is not None else management_ports
        if not is_city_own(source) and ports & management_ports:
            offenders.append(f"{rule.name}: {source} -> {sorted(ports & management_ports)}")
    return offenders


def test_no_security_group_opens_a_management_port_to_the_world(runs: dict[str, StackRun], yulin: Declaration) -> None:
    """No security group rule lets 0.0.0.0/0 (or any public range) reach SSH, RDP or the Kubernetes API."""
    rules = runs["network"].of_type("openstack:networking/secGroupRule:SecGroupRule")
    offenders = open_to_the_world(rules, set(yulin.network.management_ports))
    assert not offenders, f"management ports open to the world: {offenders}"


@pytest.mark.parametrize("source", ["198.18.0.0/15", "240.0.0.0/4", "2001::/32", "::ffff:8.8.8.0/120"])
def test_a_management_rule_from_a_range_ipaddress_calls_private_counts_as_open_to_the_world(
    runs: dict[str, StackRun], yulin: Declaration, source: str
) -> None:
    """The check above counts the world as the policy pack does: Yulin's SSH rule from the management zone, moved to a
    benchmarking, reserved, Teredo or IPv4-mapped public range, is reported, though ipaddress calls each private."""
    management_ports = set(yulin.network.management_ports)
    rules = runs["network"].of_type("openstack:networking/secGroupRule:SecGroupRule")
    ssh = next(r for r in rules if r.inputs.get("portRangeMin") == 22 and "remoteIpPrefix" in r.inputs)
    moved = dataclasses.replace(ssh, inputs={**ssh.inputs, "remoteIpPrefix": source})
    assert open_to_the_world([moved], management_ports) == [f"{ssh.name}: {ipaddress.ip_network(source)} -> [22]"]


def test_management_ports_are_reachable_only_from_the_management_zone(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """Only the management zone's CIDR is admitted to management ports."""
    management = next(z.cidr for z in yulin.zones if z.kind.value == "management")
    for rule in runs["network"].of_type("openstack:networking/secGroupRule:SecGroupRule"):
        if rule.inputs.get("portRangeMin") in yulin.network.management_ports:
            assert rule.inputs["remoteIpPrefix"] == management, rule.name


def test_zones_route_to_each_other_exactly_where_a_flow_links_them(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """Each declared flow has a route there and back, through the other zone's own router on the transit
    network; zones that no flow links (the internet and the dedicated network) have no route between them."""
    network = runs["network"]

    def zone_tag(tags: list[str]) -> str:
        return next(t.removeprefix("zone:") for t in tags if t.startswith("zone:"))

    router_zone = {
        f"{r.name}-id": zone_tag(r.inputs["tags"]) for r in network.of_type("openstack:networking/router:Router")
    }
    port_router = {
        i.inputs["portId"]: i.inputs["routerId"]
        for i in network.of_type("openstack:networking/routerInterface:RouterInterface")
        if "portId" in i.inputs
    }
    zone_behind = {  # transit address -> the zone whose router holds it
        ip["ipAddress"]: router_zone[port_router[f"{p.name}-id"]]
        for p in network.of_type("openstack:networking/port:Port")
        if f"{p.name}-id" in port_router  # not the ports that only reserve an address
        for ip in p.inputs["fixedIps"]
    }
    zone_of_cidr = {z.cidr: z.name for z in yulin.zones}
    routed = set()
    for route in network.of_type("openstack:networking/routerRoute:RouterRoute"):
        if route.inputs["destinationCidr"] not in zone_of_cidr:
            continue  # a route to an ingress source range (test_network_addresses)
        here, there = router_zone[route.inputs["routerId"]], zone_of_cidr[route.inputs["destinationCidr"]]
        assert zone_behind[route.inputs["nextHop"]] == there, route.name
        routed.add((here, there))
    declared = {(f.source, f.destination) for f in yulin.network.flows}
    assert routed == declared | {(b, a) for a, b in declared}
    assert ("internet", "dedicated") not in routed


def test_only_the_internet_zone_routes_out_through_the_looked_up_provider_network(runs: dict[str, StackRun]) -> None:
    """The provider network is configured by name; the stack looks its UUID up, and only the internet DMZ's router
    uses it as gateway."""
    gateways = {
        r.name: r.inputs.get("externalNetworkId") for r in runs["network"].of_type("openstack:networking/router:Router")
    }
    assert gateways.pop("yl-internet-router") == "lookup:openstack:networking/getNetwork:getNetwork:ext-net-yulin-dmz"
    assert set(gateways.values()) == {None}


@pytest.mark.parametrize("cidr", ["198.18.0.0/15", "240.0.0.0/4", "0.0.0.0/0"])
def test_an_ingress_from_beyond_the_city_s_own_ranges_needs_the_external_network(yulin: Declaration, cidr: str) -> None:
    """A source outside RFC 1918 and loopback (198.18.0.0/15 and 240.0.0.0/4 too, which ipaddress calls private) comes
    from the internet: the internet zone's router needs the provider network to route its replies."""
    lab = IngressSource(name="benchmark-lab", cidr=cidr, destination="internet", ports=(443,))
    network = yulin.network.model_copy(update={"ingress": (*yulin.network.ingress, lab)})
    assert f"ingress 'benchmark-lab' comes from the public {cidr}" in (needs_external_network(network) or "")


def test_a_provider_network_uuid_is_used_as_it_is() -> None:
    """No lookup when the configuration already holds the UUID Neutron wants."""
    given = "9f0e1c52-3b5a-4bb7-8d2e-2f1c5a7e6b10"
    assert external_network_id(given.upper()) == given


def stacks_configured(tmp_path: Path, folder: str, key: str, value: str | None) -> tuple[Path, Path]:
    """A copy of the stack folders whose ``folder`` (e.g. 1-cloud) has ``key`` set to ``value`` (None: removed) in its
    Pulumi.yulin-prod.yaml; the copy's root and that config file."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks)
    config_file = stacks / folder / "Pulumi.yulin-prod.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    if value is None:
        del config["config"][key]
    else:
        config["config"][key] = value
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    return stacks, config_file


def synth_refuses(tmp_path: Path, yulin: Declaration, folder: str, key: str, value: str | None) -> tuple[str, Path]:
    """What synth says, refusing Yulin's stacks with ``key`` of ``folder``'s config set to ``value``
    (:func:`stacks_configured`), having written nothing; and that config file."""
    stacks, config_file = stacks_configured(tmp_path, folder, key, value)
    with pytest.raises(SynthError) as caught:
        synth(yulin, YULIN, tmp_path / "build", stacks)
    (said,) = caught.value.errors
    assert not (tmp_path / "build").exists()
    return said, config_file


@pytest.mark.parametrize(("given", "said_of_it"), [(None, "missing"), ("", "blank ('')"), ("  ", "blank ('  ')")])
def test_an_internet_zone_without_a_provider_network_is_refused_naming_the_config_key(
    tmp_path: Path, yulin: Declaration, given: str | None, said_of_it: str
) -> None:
    """Without `dizuo:externalNetwork`, or with a blank one (a placeholder), the internet zone's router would have no
    gateway while rules admitting 0.0.0.0/0 on 80 and 443 were created: the network stack refuses to run, naming the
    key, the stack config file and why, and synth writes nothing."""
    said, config_file = synth_refuses(tmp_path, yulin, "0-network", "dizuo:externalNetwork", given)
    assert (
        f"{config_file.resolve()}: config.dizuo:externalNetwork: {said_of_it}: zone 'internet' is of kind internet"
        in said
    )
    assert "ingress 'citizens-https' comes from the public 0.0.0.0/0" in said
    assert "pulumi config set dizuo:externalNetwork" in said


@pytest.mark.parametrize(("given", "said_of_it"), [(None, "missing"), ("", "blank ('')"), ("  ", "blank ('  ')")])
def test_a_network_without_a_region_in_the_stack_config_is_refused_naming_the_key(
    tmp_path: Path, yulin: Declaration, given: str | None, said_of_it: str
) -> None:
    """Without openstack:region in the network stack's config, or with a blank one, its default OpenStack provider
    would take the operator's OS_REGION_NAME and make the city's networks wherever that shell points: the stack refuses
    to run, naming the config file, the key and the pulumi config set to run, and synth writes nothing."""
    said, config_file = synth_refuses(tmp_path, yulin, "0-network", "openstack:region", given)
    assert f"{config_file.resolve()}: config.openstack:region: {said_of_it}: the network stack makes" in said, said
    assert "pulumi config set openstack:region <region>" in said, said


@pytest.mark.parametrize("given", ["", "https://registry.zwy.yl.gov.cn", "registry.zwy.yl.gov.cn/"])
def test_a_registry_no_image_reference_can_start_with_is_refused_naming_the_config_key(
    tmp_path: Path, yulin: Declaration, given: str
) -> None:
    """`dizuo:registry` blank, with a scheme or a trailing slash made every Deployment's image a reference no runtime
    pulls (`/sjj/sjj-tyrz:1.8.3`, `https://registry...//sjj/...`): no rollout would finish. The cloud stack refuses to
    run, naming the key, its value and the stack config file, and synth writes nothing."""
    said, config_file = synth_refuses(tmp_path, yulin, "1-cloud", "dizuo:registry", given)
    assert f"{config_file.resolve()}: config.dizuo:registry: {given!r}: not an image registry" in said


@pytest.mark.parametrize(
    "given", ["registry.zwy.yl.gov.cn", "10.64.1.20:5000", "harbor.yl.gov.cn/city", "reg:5000/a/b"]
)
def test_a_registry_host_with_port_or_project_path_is_taken(given: str) -> None:
    """What an image reference may start with, a port and a project path included, is a registry."""
    assert REGISTRY.fullmatch(given)


def test_every_system_namespace_has_quota_limits_and_default_deny(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """Each system's namespace has a ResourceQuota, a LimitRange and a default-deny NetworkPolicy."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for r in runs["cloud"].resources:
        meta = r.inputs.get("metadata", {})
        if r.custom and "namespace" in meta:
            kind = r.inputs["kind"]
            name = meta["name"]
            spec = r.inputs.get("spec", {})
            if (
                kind == "NetworkPolicy"
                and spec.get("podSelector") == {}
                and set(spec["policyTypes"])
                == {
                    "Ingress",
                    "Egress",
                }
                and not spec.get("ingress")
                and not spec.get("egress")
            ):
                kind = "default-deny"
            kinds[meta["namespace"]].add(kind if kind != "NetworkPolicy" else f"policy:{name}")
    for system in yulin.systems:
        missing = {"ResourceQuota", "LimitRange", "default-deny"} - kinds[system.code]
        assert not missing, f"namespace {system.code} lacks {sorted(missing)}"


def test_namespaces_enforce_pod_security(runs: dict[str, StackRun]) -> None:
    """Every namespace enforces a Pod Security level; level-3 systems enforce restricted."""
    for ns in runs["cloud"].of_type("kubernetes:core/v1:Namespace"):
        labels = ns.inputs["metadata"]["labels"]
        level = labels["pod-security.kubernetes.io/enforce"]
        assert level in {"restricted", "baseline"}, ns.name
        if labels["dizuo.io/protection-level"] == "3":
            assert level == "restricted", ns.name


def test_workloads_run_on_their_declared_node_pool_and_architecture(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """A system's pods are pinned to its node pool, whose CPU architecture its image is built for."""
    pools = {(c.name, p.name): p for c, p in yulin.node_pools()}
    systems = {s.code: s for s in yulin.systems}
    deployments = runs["cloud"].of_type("kubernetes:apps/v1:Deployment")
    assert len(deployments) == len(yulin.systems)
    for dep in deployments:
        system = systems[dep.inputs["metadata"]["namespace"]]
        selector = dep.inputs["spec"]["template"]["spec"]["nodeSelector"]
        pool = pools[system.cluster, system.node_pool]
        assert selector["dizuo.io/node-pool"] == pool.name, dep.name
        assert selector["kubernetes.io/arch"] == K8S_ARCH[pool.arch], dep.name
        assert pool.arch in system.arches, f"{system.code}: image not built for {pool.arch.value}"


def test_a_node_drain_takes_one_replica_of_a_system_at_a_time(runs: dict[str, StackRun], yulin: Declaration) -> None:
    """Every system's pods have a PodDisruptionBudget in their namespace, selecting exactly the Deployment's pods,
    that lets evictions (a drain) take one replica at a time and never holds a pod that is not Ready."""
    cloud = runs["cloud"]
    budgets = {
        (b.provider, b.inputs["metadata"]["namespace"]): b.inputs["spec"]
        for b in cloud.of_type("kubernetes:policy/v1:PodDisruptionBudget")
    }
    deployments = cloud.of_type("kubernetes:apps/v1:Deployment")
    assert len(deployments) == len(yulin.systems)
    for dep in deployments:
        spec = budgets.get((dep.provider, dep.inputs["metadata"]["namespace"]))
        assert spec is not None, f"{dep.name}: no PodDisruptionBudget; a drain may evict every replica at once"
        assert spec["selector"] == dep.inputs["spec"]["selector"], dep.name
        assert spec["maxUnavailable"] == 1, dep.name
        assert dep.inputs["spec"]["replicas"] > spec["maxUnavailable"], f"{dep.name}: a drain would stop it"
        assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow", dep.name


def test_every_resource_of_a_component_is_parented(runs: dict[str, StackRun]) -> None:
    """Resources live under their component, so `pulumi preview` shows one tree per system and zone."""
    for run in runs.values():
        orphans = [
            r.name
            for r in run.resources
            if r.custom and not r.type.startswith("pulumi:") and r.parent.endswith(f"Stack::{run.project}-{run.stack}")
        ]
        assert not orphans, f"{run.project}: resources outside any component: {orphans[:5]}"


def test_registry_password_stays_a_secret(runs: dict[str, StackRun]) -> None:
    """The registry pull secret reaches the engine marked secret, never as plain text."""
    secrets = runs["cloud"].of_type("kubernetes:core/v1:Secret")
    assert secrets, "with a registry password configured, each namespace gets a pull secret"
    for secret in secrets:
        assert is_secret(secret.inputs["stringData"]), f"{secret.name}: stringData is not marked secret"


def _pull_logins(run: StackRun, registry: str) -> dict[str, str]:
    """The ``user:password`` each namespace's pull secret logs in to ``registry`` with, by namespace."""
    logins = {}
    for secret in run.of_type("kubernetes:core/v1:Secret"):
        config = json.loads(rpc.unwrap_rpc_secret(secret.inputs["stringData"])[".dockerconfigjson"])
        auth = base64.b64decode(config["auths"][registry]["auth"]).decode()
        logins[secret.inputs["metadata"]["namespace"]] = auth
    return logins


def test_each_system_pulls_as_its_own_code_unless_a_registry_user_is_configured(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """Without dizuo:registryUser, a stack deployed before it existed keeps its pull secrets: each system logs in to
    the registry as its own code, with the configured password."""
    logins = _pull_logins(runs["cloud"], "registry.zwy.yl.gov.cn")
    assert logins == {s.code: f"{s.code}:{TEST_SECRET}" for s in yulin.systems}


def test_every_system_pulls_as_the_configured_registry_user(tmp_path: Path, yulin: Declaration) -> None:
    """dizuo:registryUser (a Harbor robot account, the registry's one pull account) is the user of every system's pull
    secret, with dizuo:registryPassword as its password, under Pulumi mocks; the secret stays a secret."""
    stacks, _ = stacks_configured(tmp_path, "1-cloud", "dizuo:registryUser", "robot$yulin+pull")
    result = synth(yulin, YULIN, tmp_path / "build", stacks, secrets={"dizuo:registryPassword": TEST_SECRET})
    cloud = result.runs["cloud"]
    assert _pull_logins(cloud, "registry.zwy.yl.gov.cn") == {
        s.code: f"robot$yulin+pull:{TEST_SECRET}" for s in yulin.systems
    }
    assert all(is_secret(secret.inputs["stringData"]) for secret in cloud.of_type("kubernetes:core/v1:Secret"))


@pytest.mark.parametrize("given", ["", "  ", " robot$yulin+pull", "robot:yulin"])
def test_a_registry_user_no_registry_can_take_is_refused_naming_the_config_key(
    tmp_path: Path, yulin: Declaration, given: str
) -> None:
    """A blank dizuo:registryUser, one with spaces around it or a colon (the registry reads the user up to the first
    colon of user:password) would fail every pull with 401: the cloud stack refuses it, naming the key, its value and
    the stack config file, and synth writes nothing."""
    said, config_file = synth_refuses(tmp_path, yulin, "1-cloud", "dizuo:registryUser", given)
    assert f"{config_file.resolve()}: config.dizuo:registryUser: {given!r}: not a registry account" in said


def test_tier_one_reads_tier_zero_only_through_contracts(runs: dict[str, StackRun]) -> None:
    """Cloud and datapool read network/baseline through StackReferences to the published contract."""
    refs = {
        r.inputs["name"]
        for run in (runs["cloud"], runs["datapool"])
        for r in run.of_type("pulumi:pulumi:StackReference")
    }
    assert refs == {"organization/dizuo-network/yulin-prod", "organization/dizuo-baseline/yulin-prod"}
    # ingress_addresses is for whoever provisions the nodes (allowed_address_pairs); no stack reads it.
    assert set(runs["network"].exports) == {"contract", "ingress_addresses"}
    assert set(runs["baseline"].exports) == {"contract"}
    zones = runs["network"].exports["contract"]["zones"]
    assert {z["name"] for z in zones} == {"extranet", "internet", "dedicated", "management"}


def test_only_claims_on_a_local_pool_skip_pulumis_wait_for_binding(yulin: Declaration) -> None:
    """A claim on a local (WaitForFirstConsumer) pool binds only when something mounts it: Pulumi must not wait for
    it. Every other claim is awaited as usual."""
    from dizuo.datapool import shapes as datapool  # noqa: PLC0415 - only this test reads the data pool's shapes

    dataset = next(ds for ds in yulin.datasets if ds.kind != "bucket")
    pool = next(p for p in yulin.storage_pools() if p.name == dataset.storage_pool)
    local = pool.model_copy(update={"backend": "local", "ceph_cluster_id": None})
    assert datapool.dataset_annotations(dataset, local)["pulumi.com/skipAwait"] == "true"
    assert "pulumi.com/skipAwait" not in datapool.dataset_annotations(dataset, pool)


def test_only_volumes_something_can_resize_may_grow(tmp_path: Path) -> None:
    """ceph-csi expands a claim grown in the declaration; on a local pool (disks set up by hand) nothing can, so its
    storage class refuses growth and `dizuo up` fails naming the claim, instead of succeeding while the claim waits for
    a resize for good."""

    def with_local_pool(clusters: dict[str, Any]) -> None:
        clusters["clusters"][0]["storage_pools"].append({"name": "local-ssd", "backend": "local", "capacity_gib": 512})

    city = city_copy(tmp_path / "city", {"clusters.yaml": with_local_pool})
    run = run_tiers(city, "0-baseline", "1-datapool")["1-datapool"]
    expands = {
        sc.inputs["metadata"]["labels"]["dizuo.io/storage-pool"]: sc.inputs["allowVolumeExpansion"]
        for sc in run.of_type("kubernetes:storage.k8s.io/v1:StorageClass")
    }
    assert expands.pop("local-ssd") is False
    assert expands, "Yulin's Ceph pools have storage classes"
    assert all(expands.values()), f"a Ceph pool refuses growth: {expands}"


def test_a_pod_is_ready_only_when_its_server_listens(runs: dict[str, StackRun]) -> None:
    """Every system's container is Ready only once its http port accepts connections (a TCP readiness probe), and a
    startup probe gives a slow application server (WebLogic, TongWeb) minutes before the kubelet restarts it: a rollout
    sends no traffic to a pod whose server is still starting."""
    deployments = runs["cloud"].of_type("kubernetes:apps/v1:Deployment")
    assert deployments
    for deployment in deployments:
        (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
        assert {p["name"] for p in container["ports"]} == {"http"}, deployment.name
        for probe in ("readinessProbe", "startupProbe"):
            assert container.get(probe, {}).get("tcpSocket") == {"port": "http"}, f"{deployment.name}: {probe}"
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 300, deployment.name


def test_a_system_declared_on_a_port_below_1024_can_bind_it(tmp_path: Path) -> None:
    """A system declared on port 80 runs as user 10001 with every capability dropped: its pod lowers the unprivileged
    port start to 80 (a safe, pod-namespaced sysctl), so its server can bind the port instead of failing for good, and
    the manifests stay valid for Kubernetes 1.30 (strict) and pass the policy pack; systems on 8080 are unchanged."""

    def on_port_80(document: dict[str, Any]) -> None:
        document["systems"][0]["port"] = 80

    folder = city_copy(tmp_path / "city", {"systems.yaml": on_port_80})
    city = load(folder)
    low = city.systems[0].code
    runs = synth(city, folder, tmp_path / "build", ROOT / "stacks").runs
    contexts = {
        d.inputs["metadata"]["name"]: d.inputs["spec"]["template"]["spec"]["securityContext"]
        for d in runs["cloud"].of_type("kubernetes:apps/v1:Deployment")
    }
    assert contexts[low].get("sysctls") == [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"}], low
    assert contexts[low]["runAsUser"] == 10001, low
    assert all("sysctls" not in context for code, context in contexts.items() if code != low)


def test_every_dataset_bucket_has_its_declared_size_as_quota(runs: dict[str, StackRun], yulin: Declaration) -> None:
    """A bucket cannot grow past the size datasets.yaml declares: Swift's container quota (metadata Quota-Bytes,
    sent as X-Container-Meta-Quota-Bytes) is set to it, as the claims' quota is for volumes."""
    size = {f"yl-dp-{ds.code}": ds.size_gib * 2**30 for ds in yulin.datasets if ds.kind == "bucket"}
    buckets = runs["datapool"].of_type("openstack:objectstorage/container:Container")
    assert {b.inputs["name"] for b in buckets} == set(size)
    for bucket in buckets:
        assert bucket.inputs["metadata"].get("Quota-Bytes") == str(size[bucket.inputs["name"]]), bucket.name


def test_every_dataset_bucket_is_made_in_the_region_its_stack_config_pins(runs: dict[str, StackRun]) -> None:
    """A bucket's region is the datapool stack's openstack:region, set on the bucket itself: left to the provider, it
    would be the operator's OS_REGION_NAME, and a shell set for another region would make the buckets there."""
    config = yaml.safe_load((ROOT / "stacks" / "1-datapool" / "Pulumi.yulin-prod.yaml").read_text(encoding="utf-8"))
    buckets = runs["datapool"].of_type("openstack:objectstorage/container:Container")
    assert buckets
    unpinned = {b.name: b.inputs.get("region") for b in buckets if b.inputs.get("region") != "RegionOne"}
    assert config["config"]["openstack:region"] == "RegionOne"
    assert not unpinned, f"buckets not in the stack's region RegionOne: {unpinned}"


@pytest.mark.parametrize(("given", "said_of_it"), [(None, "missing"), ("", "blank ('')"), ("  ", "blank ('  ')")])
def test_buckets_without_a_region_in_the_stack_config_are_refused_naming_the_key(
    tmp_path: Path, yulin: Declaration, given: str | None, said_of_it: str
) -> None:
    """Without openstack:region in the datapool stack's config, or with a blank one, the stack refuses to run, naming
    the key, the config file and the buckets, rather than leave their region to the operator's environment."""
    said, config_file = synth_refuses(tmp_path, yulin, "1-datapool", "openstack:region", given)
    assert f"{config_file.resolve()}: config.openstack:region: {said_of_it}: datasets.yaml declares" in said, said
    assert "pulumi config set openstack:region <region>" in said, said


def _network_policies(runs: dict[str, StackRun]) -> dict[tuple[str, str], dict[str, Any]]:
    """The spec of each NetworkPolicy of the cloud and datapool stacks, by (namespace, name)."""
    return {
        (p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]): p.inputs["spec"]
        for run in (runs["datapool"], runs["cloud"])
        for p in run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }


def test_an_owner_s_loader_reaches_dns_and_its_datasets_source_systems(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """In dp-<owner>, the loaders may resolve names and connect to the source_system of each of the owner's datasets
    in the cluster, on its port, and that system's namespace accepts them: datasets.yaml's source_system is a flow."""
    pool_cluster = {p.name: c.name for c in yulin.clusters for p in c.storage_pools}
    by_code = {s.code: s for s in yulin.systems}
    policies = _network_policies(runs)

    def peer(namespace: str) -> dict[str, object]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}

    checked = 0
    for ds in yulin.datasets:
        source = by_code.get(ds.source_system or "")
        if ds.kind == "bucket" or source is None or source.cluster != pool_cluster[ds.storage_pool]:
            continue
        namespace = f"dp-{ds.owner}"
        egress = policies[namespace, "declared-flows"]["egress"]
        assert {
            "to": [peer("kube-system")],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        } in egress
        assert {"to": [peer(source.code)], "ports": [{"protocol": "TCP", "port": source.port}]} in egress, ds.code
        ingress = policies[source.code, "declared-flows"]["ingress"]
        assert any(
            peer(namespace) in rule["from"] and {"protocol": "TCP", "port": source.port} in rule["ports"]
            for rule in ingress
        ), f"{source.code} does not accept {namespace}"
        checked += 1
    assert checked > 30


def test_a_cluster_with_node_local_dns_lets_every_namespace_resolve_through_it(tmp_path: Path) -> None:
    """On a cluster declaring NodeLocal DNSCache (node_local_dns: its link-local address, and the kube-dns cluster IP
    it binds), every system's and data-pool namespace may send DNS (UDP and TCP 53) to those addresses, beside CoreDNS
    in kube-system; a cluster without it gets no such rule. The manifests stay valid for Kubernetes 1.30 (strict) and
    pass the policy pack: synth refuses otherwise."""
    node_local = ["169.254.20.10", "10.96.0.10"]

    def with_node_local_dns(document: dict[str, Any]) -> None:
        document["clusters"][0]["node_local_dns"] = node_local

    folder = city_copy(tmp_path / "city", {"clusters.yaml": with_node_local_dns})
    city = load(folder)
    cached, plain = city.clusters[0].name, city.clusters[1].name
    runs = synth(city, folder, tmp_path / "build", ROOT / "stacks").runs
    dns_ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    through_cache = {"to": [{"ipBlock": {"cidr": f"{a}/32"}} for a in node_local], "ports": dns_ports}
    core_dns = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]}
    # A resource names its provider by reference, "<urn>::<id>".
    clusters = {r.urn: r.inputs["context"] for run in runs.values() for r in run.of_type("pulumi:providers:kubernetes")}
    checked = {cached: 0, plain: 0}
    for run in (runs["cloud"], runs["datapool"]):
        for policy in run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
            if policy.inputs["metadata"]["name"] != "declared-flows":
                continue
            cluster = clusters[policy.provider.rsplit("::", 1)[0]]
            where = f"{policy.inputs['metadata']['namespace']} on {cluster}"
            egress = policy.inputs["spec"]["egress"]
            assert {**core_dns, "ports": dns_ports} in egress, where
            if cluster == cached:
                assert through_cache in egress, f"{where} cannot reach NodeLocal DNSCache: {egress}"
            else:
                assert not any(
                    "ipBlock" in peer and peer["ipBlock"]["cidr"].startswith(("169.254.", "10.96."))
                    for rule in egress
                    for peer in rule["to"]
                ), where
            checked[cluster] += 1
    assert checked[cached] > 100, checked
    assert checked[plain] > 5, checked


def test_a_loader_pulls_a_source_of_another_cluster_through_its_ingress(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """A dataset whose source_system runs in another cluster is pulled by its owner's loader through that cluster's
    ingress address on 443 (Yulin's ly-kl: the data pool in yl-gov, 智慧旅游平台 in the DMZ), and the source lets the
    ingress controller in: nothing can push into the data pool instead."""
    ingress_address = {c.name: c.ingress_address for c in yulin.clusters}
    pool_cluster = {p.name: c.name for c in yulin.clusters for p in c.storage_pools}
    by_code = {s.code: s for s in yulin.systems}
    policies = _network_policies(runs)
    controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    across = [
        (ds, by_code[ds.source_system])
        for ds in yulin.datasets
        if ds.kind != "bucket"
        and ds.source_system in by_code
        and by_code[ds.source_system].cluster != pool_cluster[ds.storage_pool]
    ]
    assert [ds.code for ds, _ in across] == ["ly-kl"]
    for ds, source in across:
        egress = policies[f"dp-{ds.owner}", "declared-flows"]["egress"]
        rule = {
            "to": [{"ipBlock": {"cidr": f"{ingress_address[source.cluster]}/32"}}],
            "ports": [{"protocol": "TCP", "port": 443}],
        }
        assert rule in egress, f"dp-{ds.owner} cannot reach {source.code}: {egress}"
        ingress = policies[source.code, "declared-flows"]["ingress"]
        assert any(controller in r["from"] for r in ingress), f"{source.code} does not admit the ingress controller"


def test_an_unreachable_cluster_fails_the_update_whatever_the_environment_says(
    tmp_path: Path, yulin: Declaration, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cluster's provider refuses to skip an unreachable cluster's resources or drop them from the state, even
    with PULUMI_K8S_SKIP_UPDATE_UNREACHABLE or PULUMI_K8S_DELETE_UNREACHABLE set in the operator's environment (read
    by the provider when its option is unset), applies server-side, and never creates over an existing object
    (PULUMI_K8S_UPSERT_EXISTING_OBJECTS set)."""
    monkeypatch.setenv("PULUMI_K8S_SKIP_UPDATE_UNREACHABLE", "true")
    monkeypatch.setenv("PULUMI_K8S_DELETE_UNREACHABLE", "true")
    monkeypatch.setenv("PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY", "false")
    monkeypatch.setenv("PULUMI_K8S_UPSERT_EXISTING_OBJECTS", "true")
    (tmp_path / "Pulumi.yaml").write_text("name: dizuo-providers\nruntime: python\n", encoding="utf-8")

    def program() -> None:
        cluster_providers("cloud", yulin)

    run = run_stack(tmp_path, "dev", {}, set(), {}, program=program)
    providers = run.of_type("pulumi:providers:kubernetes")
    assert sorted(p.name for p in providers) == sorted(f"cloud-{c.name}" for c in yulin.clusters)
    for provider in providers:
        options = {key: provider.inputs.get(key) for key in ("skipUpdateUnreachable", "deleteUnreachable")}
        assert options == {"skipUpdateUnreachable": "false", "deleteUnreachable": "false"}, provider.name
        assert provider.inputs.get("enableServerSideApply") == "true", provider.name
        assert provider.inputs.get("upsertExistingObjects") == "false", f"{provider.name} takes over existing objects"


def _synthesised_dp_gaj_quota(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    """The hard limits of dp-gaj's quota on yl-gov, Yulin synthesised with its datasets.yaml changed by ``edit``; the
    manifest written holds them and passes the real ResourceQuota schema (kubernetes-validate)."""
    city = city_copy(tmp_path / "city", {"datasets.yaml": edit})
    result = synth(load(city), city, tmp_path / "out", ROOT / "stacks", secrets={"dizuo:registryPassword": TEST_SECRET})
    (quota,) = (r for r in result.runs["datapool"].resources if r.name == "yl-datapool-yl-gov-dp-gaj-quota")
    hard: dict[str, str] = quota.inputs["spec"]["hard"]
    written = yaml.safe_load_all((tmp_path / "out" / "datapool" / "yl-gov.yaml").read_text(encoding="utf-8"))
    (manifest,) = (m for m in written if m["kind"] == "ResourceQuota" and m["metadata"]["namespace"] == "dp-gaj")
    assert manifest_errors(manifest) == []
    assert manifest["spec"]["hard"] == hard
    return hard


def _rk_jcxx_with_a_sibling_on_the_xinchuang_pool(datasets: dict[str, Any]) -> None:
    """The police (gaj) hold rk-jcxx (211 GiB, datapool-ceph) and a second volume of 50 GiB on xc-ceph, both on
    yl-gov: one dp-gaj namespace, two storage classes."""
    rk_jcxx = next(d for d in datasets["datasets"] if d["code"] == "rk-jcxx")
    datasets["datasets"].append(
        {**rk_jcxx, "code": "rk-bsj", "name": "人口变更记录", "size_gib": 50, "storage_pool": "xc-ceph"}
    )


def test_an_owner_s_datasets_on_two_pools_are_granted_per_storage_class(tmp_path: Path) -> None:
    """An owner's quota grants each storage class of its cluster what its datasets there declare, the others none: a
    claim grown past its dataset on one pool is refused even while the other pool's dataset is not yet claimed, and
    the synthesised quota passes the real ResourceQuota schema."""
    hard = _synthesised_dp_gaj_quota(tmp_path, _rk_jcxx_with_a_sibling_on_the_xinchuang_pool)
    datapool, xinchuang = storage_class("yl", "datapool-ceph"), storage_class("yl", "xc-ceph")
    per_class = {k: v for k, v in hard.items() if ".storageclass.storage.k8s.io/" in k}
    assert per_class == {
        "yl-phase1-ceph.storageclass.storage.k8s.io/requests.storage": "0",
        "yl-xc-ceph.storageclass.storage.k8s.io/requests.storage": "50Gi",
        "yl-datapool-ceph.storageclass.storage.k8s.io/requests.storage": "211Gi",
        "yl-phase1-ceph.storageclass.storage.k8s.io/persistentvolumeclaims": "0",
        "yl-xc-ceph.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "yl-datapool-ceph.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
    }, hard
    assert {"requests.storage", "persistentvolumeclaims"}.isdisjoint(hard), "no total: a moved dataset's kept claim"
    assert quota_refuses(hard, [], (datapool, 211)) == []
    assert quota_refuses(hard, [], (datapool, 261)) != [], "rk-jcxx grown into the room of rk-bsj"
    assert quota_refuses(hard, [(datapool, 211)], (xinchuang, 50)) == [], "rk-bsj still fits beside rk-jcxx"


def _rk_jcxx_moved_to_the_xinchuang_pool(datasets: dict[str, Any]) -> None:
    """rk-jcxx (211 GiB, datapool-ceph) retired and declared again on xc-ceph as rk-jcxx-xc: a move, as `released`
    asks for one (a new dataset on the new pool; the old claim is kept, forgotten by the stack, until deleted)."""
    rk_jcxx = next(d for d in datasets["datasets"] if d["code"] == "rk-jcxx")
    rk_jcxx.update(code="rk-jcxx-xc", storage_pool="xc-ceph")


def test_a_moved_dataset_s_new_claim_is_admitted_beside_the_kept_old_one(tmp_path: Path) -> None:
    """After a dataset moves to another pool its old claim stays in dp-<owner> (kept, not deleted): the quota still
    counts it, and the new claim on the new pool, which its class grants, is admitted; the old pool takes nothing new
    and the new one nothing past the dataset. The synthesised quota passes the real ResourceQuota schema."""
    hard = _synthesised_dp_gaj_quota(tmp_path, _rk_jcxx_moved_to_the_xinchuang_pool)
    old, new = storage_class("yl", "datapool-ceph"), storage_class("yl", "xc-ceph")
    kept = [(old, 211)]
    assert quota_refuses(hard, kept, (new, 211)) == [], f"rk-jcxx-xc refused beside the kept rk-jcxx: {hard}"
    assert quota_refuses(hard, kept, (old, 1)) != [], "the old pool grants the owner nothing any more"
    assert quota_refuses(hard, [*kept, (new, 211)], (new, 1)) != [], "the new pool grants rk-jcxx-xc alone"
