"""Pure shape functions of the cloud stack: labels, quotas, limits and network-policy bodies.

Everything here returns plain dictionaries (Kubernetes manifest fragments) so tests can call it without Pulumi.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from dizuo.declaration.model import (
    IMAGE_PATH_COMPONENT,
    Arch,
    Database,
    Declaration,
    System,
    ZoneKind,
    exact,
)
from dizuo.naming import label, storage_class

# Kubernetes' name of each CPU architecture (the kubernetes.io/arch node label).
K8S_ARCH = {Arch.X86_64: "amd64", Arch.ARM64: "arm64", Arch.LOONG64: "loong64"}

# Where each database engine listens: egress is opened to the system's own zone on this port only.
DATABASE_PORTS = {
    Database.ORACLE: 1521,
    Database.MYSQL: 3306,
    Database.POSTGRESQL: 5432,
    Database.SQLSERVER: 1433,
    Database.DM: 5236,
    Database.KINGBASEES: 54321,
    Database.OPENGAUSS: 5432,
}

REPLICAS = 2
# Limits are twice the requests: bursts are allowed, the namespace quota still caps the sum.
LIMIT_FACTOR = 2
# Restricted for level-3 systems; level-2 public information sites still may not run privileged pods.
POD_SECURITY = {3: "restricted", 2: "baseline"}


# What an image reference starts with (the distribution spec's reference grammar): the registry's host name or address,
# an optional port, then optional path components (a project of the registry). Each system's image is appended after
# a `/`: no scheme, no trailing slash.
_HOST_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
REGISTRY = re.compile(rf"{_HOST_PART}(?:\.{_HOST_PART})*(?::[0-9]+)?(?:/{IMAGE_PATH_COMPONENT})*")


def system_labels(d: Declaration, s: System) -> dict[str, str]:
    """Labels every object of a system carries: who owns it, where it runs, its protection level."""
    return {
        "app.kubernetes.io/name": s.code,
        "app.kubernetes.io/part-of": d.city.code,
        "app.kubernetes.io/managed-by": "dizuo",
        label("department"): s.department,
        label("system"): s.code,
        label("zone"): s.zone,
        label("protection-level"): str(s.protection_level),
        label("managed"): "true",
    }


def namespace_labels(d: Declaration, s: System) -> dict[str, str]:
    """Namespace labels: the system's labels plus Pod Security admission enforcement."""
    level = POD_SECURITY[s.protection_level]
    return {
        **system_labels(d, s),
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }


# Exact fractions of the declared decimals (model.exact): a float times 1000 overshoots (4.03 / 2 * 1000 is
# 2015.0000000000002), and rounding up then asks a millicore more than declared.
def millicores(cores: Fraction) -> int:
    return math.ceil(cores * 1000)


def mebibytes(gib: Fraction) -> int:
    return math.ceil(gib * 1024)


def _replica(s: System) -> tuple[int, int, int, int]:
    """One replica's requests and limits: millicores, MiB, limit millicores, limit MiB (rounded up once, here)."""
    cpu, memory = exact(s.resources.cpu) / REPLICAS, exact(s.resources.memory_gib) / REPLICAS
    return millicores(cpu), mebibytes(memory), millicores(cpu * LIMIT_FACTOR), mebibytes(memory * LIMIT_FACTOR)


def quota_hard(d: Declaration, s: System) -> dict[str, str]:
    """ResourceQuota of a system's namespace: what the declaration grants it, plus room for one more replica.

    A rolling update starts the new pod before it stops an old one (maxSurge 1): a quota of exactly the
    replicas would refuse that pod and stall every update. The quota is counted in whole replicas as the pods
    ask (each rounded up), not rounded once over the total, which can fall a MiB short of the surge pod.
    Storage may only be claimed from the system's own declared pool: each of the city's storage classes on the
    cluster has its key, the system's pool at its allocation and the others at zero. There is no total
    (``requests.storage``): after a migration wave the claims still bound on the old pool would count against it and
    refuse the new pool's claims until the old data were deleted. Claims on any other class (the cluster's default,
    a chart's own) are refused by the baseline's admission policy ``dizuo-city-storage-classes``.
    """
    r = s.resources
    pods = REPLICAS + 1
    cpu, memory, cpu_limit, memory_limit = _replica(s)
    storage = per_storage_class(
        d, s.cluster, "requests.storage", {s.storage_pool: f"{r.storage_gib}Gi"} if s.storage_pool else {}
    )
    return {
        "requests.cpu": f"{pods * cpu}m",
        "requests.memory": f"{pods * memory}Mi",
        "limits.cpu": f"{pods * cpu_limit}m",
        "limits.memory": f"{pods * memory_limit}Mi",
        **storage,
        "persistentvolumeclaims": "20",
        "pods": "50",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


def per_storage_class(d: Declaration, cluster: str, resource: str, granted: Mapping[str, str]) -> dict[str, str]:
    """ResourceQuota keys of ``resource`` (``requests.storage``, ``persistentvolumeclaims``) for each of the city's
    storage classes on ``cluster`` (``<class>.storageclass.storage.k8s.io/<resource>``): ``granted`` by pool name, every
    other class at zero, so that what one pool grants cannot be claimed from another."""
    return {
        f"{storage_class(d.city.prefix, pool.name)}.storageclass.storage.k8s.io/{resource}": granted.get(pool.name, "0")
        for pool in d.claimable_pools(cluster)
    }


def limit_range(s: System) -> list[dict[str, Any]]:
    """Defaults for containers that declare no resources, so the quota can always be enforced: a system's."""
    cpu = exact(s.resources.cpu)
    return container_limits(cpu, exact(s.resources.memory_gib), millicores(cpu / REPLICAS))


def container_limits(cpu: Fraction, memory_gib: Fraction, default_millicores: int) -> list[dict[str, Any]]:
    """LimitRange limits of a namespace granted ``cpu`` cores and ``memory_gib`` as requests (LIMIT_FACTOR times that
    as limits): a container may take at most the limits, and one that declares no resources gets defaults
    (``default_millicores`` of CPU, at least 100m and at most a core), so a quota on requests and limits admits it.

    The API server refuses a LimitRange whose default or default request exceeds its max, or whose default request
    exceeds its default: for a small namespace the defaults shrink to its max."""
    max_cpu = millicores(cpu * LIMIT_FACTOR)
    max_memory = mebibytes(memory_gib * LIMIT_FACTOR)
    default_cpu = min(max(default_millicores, 100), 1000, max_cpu)
    default_memory = min(512, max_memory)
    return [
        {
            "type": "Container",
            "default": {"cpu": f"{default_cpu}m", "memory": f"{default_memory}Mi"},
            "defaultRequest": {"cpu": f"{min(100, default_cpu)}m", "memory": f"{min(128, default_memory)}Mi"},
            "max": {"cpu": f"{max_cpu}m", "memory": f"{max_memory}Mi"},
        }
    ]


def container_resources(s: System) -> dict[str, dict[str, str]]:
    """Requests and limits of one replica."""
    cpu, memory, cpu_limit, memory_limit = _replica(s)
    return {
        "requests": {"cpu": f"{cpu}m", "memory": f"{memory}Mi"},
        "limits": {"cpu": f"{cpu_limit}m", "memory": f"{memory_limit}Mi"},
    }


def disruption_budget(selector: Mapping[str, str]) -> dict[str, Any]:
    """PodDisruptionBudget spec of a system's pods (``selector``): a node drain (the system administrator's eviction)
    takes one replica at a time, and the next only once its replacement is Ready, so the system stays served through
    maintenance; without it a drain, or two in a row while a replacement is still starting (STARTUP_SECONDS), evicts
    every replica at once. A pod that is not Ready may always be evicted, so a broken system never blocks a drain."""
    return {
        "maxUnavailable": 1,
        "selector": {"matchLabels": dict(selector)},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }


def placement(d: Declaration, s: System) -> dict[str, str]:
    """Node selector pinning a system to its declared node pool, and so to that pool's CPU architecture."""
    pool = next(p for c, p in d.node_pools() if c.name == s.cluster and p.name == s.node_pool)
    return {label("node-pool"): pool.name, "kubernetes.io/arch": K8S_ARCH[pool.arch]}


# A system in another cluster is reached through that cluster's ingress controller (the API gateway), which
# terminates TLS on 443 with its default certificate: the city's own wildcard certificate for its domain (air-gapped
# clusters have no ACME to ask). Calls cross zones only where a declared tcp flow opens that port.
INGRESS_CLASS = "nginx"
INGRESS_PORTS = (443,)


def crossing_ports(d: Declaration, caller: System, callee: System) -> tuple[int, ...] | None:
    """Ports on which ``caller`` reaches ``callee`` in another cluster (its ingress controller's), or None when they
    share a cluster or no declared flow between their zones opens those ports."""
    return crossing_ports_from(d, caller.cluster, caller.zone, callee)


def crossing_ports_from(d: Declaration, cluster: str, zone: str, callee: System) -> tuple[int, ...] | None:
    """``crossing_ports`` for a caller that is not a system (a data-pool loader): its cluster and zone."""
    if cluster == callee.cluster:
        return None
    if zone == callee.zone:
        return INGRESS_PORTS
    flows = d.network.flows_between(zone, callee.zone)
    if any(not f.ports or set(INGRESS_PORTS) <= set(f.ports) for f in flows):
        return INGRESS_PORTS
    return None


def remote_ingresses(d: Declaration, s: System) -> list[tuple[str, tuple[int, ...]]]:
    """(address/32, ports) of the ingress controller of each other cluster ``s`` calls into, once each: the callee's
    cluster's address, not its zone's whole range (validate requires the address of a cluster called from another)."""
    clusters = {c.name: c for c in d.clusters}
    by_code = {x.code: x for x in d.systems}
    remote: dict[tuple[str, tuple[int, ...]], None] = {}
    for code in s.depends_on:
        callee = by_code[code]
        ports = crossing_ports(d, s, callee)
        address = clusters[callee.cluster].ingress_address
        if ports is not None and address is not None:
            remote[f"{address}/32", ports] = None
    return list(remote)


def dataset_loaders(d: Declaration, s: System) -> list[str]:
    """The data-pool namespaces (``dp-<owner>``) on ``s``'s cluster holding a dataset whose ``source_system`` is
    ``s``: the owner's loader there reads from it."""
    return sorted(
        {f"dp-{ds.owner}" for ds in d.datasets if ds.source_system == s.code and d.loader_cluster(ds) == s.cluster}
    )


def served_through_ingress(d: Declaration, s: System) -> bool:
    """Whether ``s`` is reached through its cluster's ingress controller: it sits in the internet zone or a zone the
    declaration opens to outside traffic (citizens, the provincial extranet), or a system of another cluster calls
    it, or a data-pool loader of another cluster pulls a dataset from it (``loader_egress``: through this cluster's
    ingress address, on 443)."""
    zone = d.zone(s.zone)
    return (
        zone.kind is ZoneKind.INTERNET
        or any(i.destination == zone.name for i in d.network.ingress)
        or any(s.code in caller.depends_on and caller.cluster != s.cluster for caller in d.systems)
        or any(d.loader_cluster(ds) not in (None, s.cluster) for ds in d.datasets if ds.source_system == s.code)
    )


def ingress_host(d: Declaration, s: System) -> str:
    """The host name a system answers to on its ingress controller. It names no cluster, so that moving the system
    to another cluster (a migration wave) changes a DNS record, not its callers."""
    if d.city.domain is None:
        raise ValueError(f"city.yaml declares no domain, and {s.code!r} is served through an ingress controller")
    return f"{s.code}.{d.city.domain}"


def dns_zone_fragment(d: Declaration, hosts: Mapping[str, str]) -> str | None:
    """One A record per Ingress host (``hosts``: host name -> cluster), at that cluster's ingress address, named
    relative to the city's domain: a file to ``$INCLUDE`` in that zone on the city's DNS servers. None without hosts.
    """
    if not hosts or d.city.domain is None:
        return None
    address = {c.name: c.ingress_address for c in d.clusters}
    suffix = f".{d.city.domain}"
    names = {host: host.removesuffix(suffix) if host.endswith(suffix) else f"{host}." for host in hosts}
    width = max(len(name) for name in names.values())
    lines = [
        f"; dizuo: the names {d.city.code}'s ingress controllers serve, one A record each, at the cluster's address.",
        f"; $INCLUDE this file in the zone of {d.city.domain}. on the city's DNS servers; names are relative to it.",
        *(f"{names[host]:<{width}}  IN  A  {address[cluster]}  ; {cluster}" for host, cluster in sorted(hosts.items())),
    ]
    return "\n".join(lines) + "\n"


def ingress_spec(d: Declaration, s: System) -> dict[str, Any]:
    """The Ingress routing ``<code>.<domain>`` to the system's Service, over TLS with the controller's default
    certificate (a ``tls`` entry without ``secretName``)."""
    host = ingress_host(d, s)
    return {
        "ingressClassName": INGRESS_CLASS,
        "tls": [{"hosts": [host]}],
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": s.code, "port": {"name": "http"}}},
                        }
                    ]
                },
            }
        ],
    }


def dependents(d: Declaration) -> dict[str, list[str]]:
    """For each system, the systems that depend on it (who may connect to it)."""
    result: dict[str, list[str]] = {s.code: [] for s in d.systems}
    for s in d.systems:
        for dep in s.depends_on:
            result[dep].append(s.code)
    return result


def _namespace_peer(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def _ports(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def ingress_rules(
    s: System, callers: dict[str, str], ingress_namespace: str | None, loaders: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Who may connect to system ``s``: its declared dependents (``callers``: code -> namespace), the data-pool
    namespaces that load a dataset from it (``loaders``, ``dataset_loaders``) and, for systems in a zone open to
    outside traffic, the ingress controller."""
    peers = [_namespace_peer(ns) for _, ns in sorted(callers.items())]
    peers += [_namespace_peer(ns) for ns in loaders]
    if ingress_namespace is not None:
        peers.append(_namespace_peer(ingress_namespace))
    return [{"from": peers, "ports": _ports(s.port)}] if peers else []


DNS_PORTS: list[dict[str, Any]] = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
# Egress to the cluster's DNS (CoreDNS in kube-system): every namespace with a default-deny policy needs it.
CLUSTER_DNS: dict[str, Any] = {"to": [_namespace_peer("kube-system")], "ports": DNS_PORTS}


def dns_egress(d: Declaration, cluster: str) -> list[dict[str, Any]]:
    """Egress rules for name resolution in ``cluster``: CoreDNS in kube-system and, where the cluster runs NodeLocal
    DNSCache (clusters.yaml ``node_local_dns``), its addresses on each node. Pods there send their queries to the
    cache, a hostNetwork pod that no namespace selector matches: without an ipBlock for its address every query of a
    default-deny namespace is dropped."""
    node_local = next((c.node_local_dns for c in d.clusters if c.name == cluster), ())
    rules = [CLUSTER_DNS]
    if node_local:
        rules.append({"to": [{"ipBlock": {"cidr": f"{address}/32"}} for address in node_local], "ports": DNS_PORTS})
    return rules


def loader_egress(d: Declaration, owner: str, cluster: str) -> list[dict[str, Any]]:
    """Where an owner's loaders in ``dp-<owner>`` on ``cluster`` may connect: cluster DNS and the ``source_system`` of
    each of its datasets there, on the system's port in this cluster, or through its cluster's ingress controller
    (its address, on 443) in another one where a declared flow opens it. Nothing can push into the data pool (its
    namespace admits no traffic): `validate` refuses a source in another cluster that no declared flow reaches."""
    clusters = {c.name: c for c in d.clusters}
    by_code = {x.code: x for x in d.systems}
    sources = sorted(
        {
            ds.source_system
            for ds in d.datasets
            if ds.owner == owner and d.loader_cluster(ds) == cluster and ds.source_system in by_code
        }
    )
    rules = dns_egress(d, cluster)
    remote: dict[tuple[str, tuple[int, ...]], None] = {}
    for code in sources:
        source = by_code[code]
        if source.cluster == cluster:
            rules.append({"to": [_namespace_peer(source.code)], "ports": _ports(source.port)})
            continue
        ports = crossing_ports_from(d, cluster, clusters[cluster].zone, source)
        address = clusters[source.cluster].ingress_address
        if ports is not None and address is not None:
            remote[f"{address}/32", ports] = None
    rules += [{"to": [{"ipBlock": {"cidr": cidr}}], "ports": _ports(*ports)} for cidr, ports in remote]
    return rules


def egress_rules(
    s: System,
    dependencies: dict[str, tuple[str, int]],
    zone_cidr: Any,
    remote: Sequence[tuple[Any, tuple[int, ...]]] = (),
    *,
    dns: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Where system ``s`` may connect: cluster DNS, the systems it depends on, its database in its zone.

    ``dependencies``: code -> (namespace, port) in this cluster; ``remote``: (address/32, ports) of the ingress
    controllers of the other clusters it calls into (``remote_ingresses``); ``dns``: the rules of its cluster's name
    resolution (``dns_egress``). The zone CIDR may be a Pulumi Output of the network contract.
    """
    rules: list[dict[str, Any]] = list(dns)
    for _, (namespace, port) in sorted(dependencies.items()):
        rules.append({"to": [_namespace_peer(namespace)], "ports": _ports(port)})
    # A namespace selector names namespaces of this cluster only: another cluster is an address range.
    for cidr, ports in remote:
        # No ports: the declared flow opens every port of the protocol, and so does a rule without ports.
        rules.append({"to": [{"ipBlock": {"cidr": cidr}}], **({"ports": _ports(*ports)} if ports else {})})
    db_port = DATABASE_PORTS.get(s.database)
    if db_port is not None:
        rules.append({"to": [{"ipBlock": {"cidr": zone_cidr}}], "ports": _ports(db_port)})
    return rules


# A numeric user: runAsNonRoot alone refuses an image whose USER is a name (the kubelet cannot check it is not
# root). 10001 is outside the system and login ranges of every OS family the city runs.
POD_SECURITY_CONTEXT = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    # Without it kubelet chowns every file of every volume at each pod start: slow on a large volume, and on a dataset
    # claim a write of every inode, which the data pool's freshness would count as a load.
    "fsGroupChangePolicy": "OnRootMismatch",
    "seccompProfile": {"type": "RuntimeDefault"},
}
# The first port a process may bind without CAP_NET_BIND_SERVICE: the kernel's default of
# net.ipv4.ip_unprivileged_port_start, which containerd 1.x (Kylin V10, openEuler 22.03) leaves in every pod's network
# namespace. The container runs as 10001 with every capability dropped (and one added back would not reach a non-root
# process), so a server declared on a lower port could never bind it.
UNPRIVILEGED_PORT_START = 1024


def pod_security_context(s: System) -> dict[str, Any]:
    """The pod's securityContext: POD_SECURITY_CONTEXT and, for a system declared on a port below 1024 (80, 443), the
    pod sysctl that lets its non-root user bind that port. It is namespaced to the pod and one of Kubernetes' safe
    sysctls, which Pod Security's restricted level and the kubelet's defaults allow; a system on 1024 or above keeps
    the context it had (no rollout)."""
    if s.port >= UNPRIVILEGED_PORT_START:
        return POD_SECURITY_CONTEXT
    sysctl = {"name": "net.ipv4.ip_unprivileged_port_start", "value": str(s.port)}
    return {**POD_SECURITY_CONTEXT, "sysctls": [sysctl]}


# The root filesystem is read-only; Tomcat, TongWeb and most Java servers still need a writable /tmp.
SCRATCH_VOLUMES = [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
SCRATCH_MOUNTS = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108 - a pod-private emptyDir, not the host /tmp

# A pod is Ready when its server accepts connections on the http port, not when its container starts: a rollout (a
# migration wave's new nodeSelector included) sends traffic to a new pod and stops an old one only then. Tomcat,
# TongWeb and WebLogic take from seconds to minutes to deploy their applications: the startup probe gives them up to
# STARTUP_SECONDS before the kubelet restarts the container, and readiness is checked only after it passed.
STARTUP_SECONDS = 600
PROBE_PERIOD_SECONDS = 10
READINESS_PROBE = {
    "tcpSocket": {"port": "http"},
    "periodSeconds": PROBE_PERIOD_SECONDS,
    "failureThreshold": 3,
}
STARTUP_PROBE = {
    "tcpSocket": {"port": "http"},
    "periodSeconds": PROBE_PERIOD_SECONDS,
    "failureThreshold": STARTUP_SECONDS // PROBE_PERIOD_SECONDS,
}

RESTRICTED_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
