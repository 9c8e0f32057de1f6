"""The typed declaration of a city's digital foundation.

One YAML file per concern under ``inventories/<city>/``; each file's document is
validated into the frozen models below, then cross-checked as a whole (see
``checks.py``). Everything refers to everything else by mnemonic codes
(department code, zone name, pool name), never by cloud IDs.
"""

from __future__ import annotations

import ipaddress
import math
import re
import unicodedata
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any, Literal, cast, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dizuo.addresses import RFC1918

# Codes become Kubernetes names, OpenStack names and Prometheus label values:
# keep them DNS-1123 labels so every target accepts them unchanged.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")]
# Characters that show nothing: format characters (zero-width space and joiners, the byte order mark), controls,
# separators, and the fillers fonts draw blank (Hangul fillers, the braille blank).
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _visible(value: str) -> str:
    if all(unicodedata.category(char) in _INVISIBLE_CATEGORIES or char in _BLANK_GLYPHS for char in value):
        # Named by code point: the value itself, quoted in the error, shows as blank as the name would.
        shown = ", ".join(f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip() for char in dict.fromkeys(value))
        raise ValueError(f"has no visible character, it would show blank: only {shown}")
    return value


# What people read a thing by (a department's or a system's Chinese name): never blank, once spaces are stripped,
# nor made only of characters that show nothing.
Title = Annotated[str, StringConstraints(min_length=1), AfterValidator(_visible)]
# A lower-case DNS domain of at least two labels; 220 characters leave room for "<code>." (253 in all).
DnsDomain = Annotated[
    str,
    StringConstraints(
        max_length=220, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
    ),
]


# Upper bounds of amounts, far past any city and short of what their consumers hold: a day count becomes a label
# value (63 characters at most) and seconds as a float; GiB become bytes in float metrics and int64 planner inputs.
MAX_DAYS = 36_500  # a century
MAX_GIB = 2**30  # an exbibyte: bytes stay below 2^63 (and exact in a float64: a multiple of 2^30 below 2^60)
MAX_NODE_GIB = 2**16  # 64 TiB of memory in one node, past the largest servers sold
MAX_NODE_CORES = 2**12
MAX_NODES = 2**16  # a node pool's memory in bytes stays below 2^63


class Frozen(BaseModel):
    """Base of every declaration object: immutable, no unknown keys, no true/false where a number belongs."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: object, info: ValidationInfo) -> object:
        # Pydantic's lax mode reads `cpu: true` as 1, and `ports: [yes]` as port 1; in a declaration that is a typo,
        # not a number.
        if info.field_name is None:
            return value
        annotation = cls.model_fields[info.field_name].annotation
        if isinstance(value, bool) and _numeric(annotation):
            raise ValueError("must be a number, not true/false")
        numbers = (
            isinstance(value, list | tuple) and get_origin(annotation) is tuple and _numeric(get_args(annotation)[0])
        )
        if numbers and (
            flags := [str(i) for i, item in enumerate(cast(list[object], value)) if isinstance(item, bool)]
        ):
            raise ValueError(f"items must be numbers, not true/false (item {', '.join(flags)})")
        return value


def _numeric(annotation: object) -> bool:
    """Whether ``annotation`` is a number type and not bool: ``int``, ``float | None``, ``Annotated[int, ...]``."""
    if get_origin(annotation) is Annotated:
        return _numeric(get_args(annotation)[0])
    types = {annotation, *get_args(annotation)}  # `int | None` is its members
    return bool not in types and bool(types & {int, float})


class Arch(StrEnum):
    """CPU architectures the government cloud runs."""

    X86_64 = "x86_64"
    ARM64 = "arm64"
    LOONG64 = "loong64"


class CpuVendor(StrEnum):
    """CPU vendors; all but Intel are Xinchuang (信创)."""

    INTEL = "Intel"
    HYGON = "Hygon"
    KUNPENG = "Kunpeng"
    PHYTIUM = "Phytium"
    LOONGSON = "Loongson"


VENDOR_ARCH: dict[CpuVendor, Arch] = {
    CpuVendor.INTEL: Arch.X86_64,
    CpuVendor.HYGON: Arch.X86_64,
    CpuVendor.KUNPENG: Arch.ARM64,
    CpuVendor.PHYTIUM: Arch.ARM64,
    CpuVendor.LOONGSON: Arch.LOONG64,
}

XINCHUANG_VENDORS = frozenset({CpuVendor.HYGON, CpuVendor.KUNPENG, CpuVendor.PHYTIUM, CpuVendor.LOONGSON})


class OperatingSystem(StrEnum):
    """Host operating systems, legacy and Xinchuang."""

    CENTOS_7 = "CentOS 7"
    KYLIN_V10 = "Kylin V10"
    UOS_20 = "UOS 20"
    OPENEULER_2203 = "openEuler 22.03"
    OPENEULER_2403 = "openEuler 24.03"
    DEBIAN_12 = "Debian 12"


class ZoneKind(StrEnum):
    """The four zones of the e-government network."""

    EXTRANET = "extranet"  # 政务外网
    INTERNET = "internet"  # 互联网区 (DMZ)
    DEDICATED = "dedicated"  # 专网
    MANAGEMENT = "management"  # 管理区


class Classification(StrEnum):
    """Data classification of a dataset (数据分类分级)."""

    GENERAL = "一般"
    IMPORTANT = "重要"
    CORE = "核心"


class Database(StrEnum):
    """Database engines, legacy and domestic."""

    ORACLE = "Oracle"
    MYSQL = "MySQL"
    POSTGRESQL = "PostgreSQL"
    SQLSERVER = "SQLServer"
    DM = "DM"
    KINGBASEES = "KingbaseES"
    OPENGAUSS = "openGauss"
    NONE = "none"


DOMESTIC_DATABASES = frozenset({Database.DM, Database.KINGBASEES, Database.OPENGAUSS, Database.NONE})


def _network(value: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"not an IPv4 network in CIDR form ({exc})") from None
    # Python also reads a netmask (10.62.0.0/255.255.0.0), a host mask, a prefix length with leading zeros (/016) and
    # an address without one: the value reaches Neutron (subnets, rules, routes) and Kubernetes' ipBlock as written,
    # and both take address/prefix length only, so `dizuo up` would fail half-way through the network stack.
    if str(net) != value:
        raise ValueError(f"write it as {net} (address/prefix length): Neutron and Kubernetes read no other form")
    return net


def _private_network(value: str) -> str:
    net = _network(value)
    if not any(net.subnet_of(block) for block in RFC1918):
        raise ValueError("must be a private (RFC 1918) network: within 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
    return value


PrivateCidr = Annotated[str, Field(description="A private IPv4 network in CIDR form, e.g. 10.20.0.0/16")]


def _ipv4_address(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError("not an IPv4 address") from None
    return value


IPv4Text = Annotated[str, AfterValidator(_ipv4_address)]


# ---------------------------------------------------------------- network.yaml


def _not_a_transit_name(value: str) -> str:
    # The transit network's own resources are named `transit` and `<zone>-transit`: a zone or subnet named so would
    # take their names (a duplicate resource in the network stack).
    if value == "transit" or value.endswith("-transit"):
        raise ValueError("'transit' and names ending in '-transit' are the transit network's own")
    return value


def _no_transit_name(value: str | None) -> str | None:
    return None if value is None else _not_a_transit_name(value)


class Subnet(Frozen):
    """A subnet of a zone: one OpenStack network + subnet each."""

    name: Code
    cidr: PrivateCidr
    gateway: IPv4Text | None = Field(default=None, description="Gateway address; the first host by default")
    renamed_from: Code | None = Field(
        default=None,
        description="The subnet's name before a rename, kept until `dizuo up` has run with the new one: the network "
        "stack then renames the deployed subnet in place. Without it the renamed subnet is a new one, made before the "
        "old one goes, which Neutron refuses (its range overlaps the old subnet's on the zone's network)",
    )

    _cidr = field_validator("cidr")(_private_network)
    _renamed_from = field_validator("renamed_from")(_no_transit_name)

    @field_validator("cidr")
    @classmethod
    def _room_for_hosts(cls, value: str) -> str:
        # Neutron keeps a subnet's first and last address; a /31 or /32 leaves no host next to its gateway.
        if ipaddress.IPv4Network(value).prefixlen > 30:
            raise ValueError("a subnet needs room for a gateway and hosts: at most /30")
        return value

    _name = field_validator("name")(_not_a_transit_name)


class Zone(Frozen):
    """A security zone of the e-government network."""

    name: Code
    kind: ZoneKind
    title: Title = Field(description="Chinese name, e.g. 政务外网")
    cidr: PrivateCidr
    subnets: tuple[Subnet, ...] = Field(min_length=1)
    renamed_from: Code | None = Field(
        default=None,
        description="The zone's name before a rename, kept until `dizuo up` has run with the new one: the network "
        "stack then renames the zone's network, router, security group, rules and routes in place. Without it each "
        "is a new one, made before the old one goes: new rules Neutron refuses beside the old ones alike, a new "
        "transit port the router's address the old one holds",
    )

    _cidr = field_validator("cidr")(_private_network)
    _name = field_validator("name")(_not_a_transit_name)
    _renamed_from = field_validator("renamed_from")(_no_transit_name)


Protocol = Literal["tcp", "udp", "icmp"]


def _ports_once(ports: tuple[int, ...]) -> tuple[int, ...]:
    if len(set(ports)) != len(ports):
        twice = sorted({p for p in ports if ports.count(p) > 1})
        raise ValueError(f"ports listed twice: {twice}")
    return ports


# Bounds on the item, not a check of the list: the error names the item, and `dizuo schema` carries the bounds.
Port = Annotated[int, Field(ge=1, le=65535)]
Ports = Annotated[tuple[Port, ...], AfterValidator(_ports_once)]


# Neutron edits no security-group rule, and replacing one stops what it admits (or fails), so the network stack
# writes a rule's description once.
RULE_WORDS = (
    "Free text, written after the entry's name, source and destination into the description of each of its "
    "security-group rules when the rule is made; Neutron changes no rule in place, so a later edit or rename leaves "
    "the rules' descriptions as they were made and replaces no rule"
)


class Flow(Frozen):
    """An allowed flow between zones; everything not declared is denied."""

    name: Code
    source: str = Field(description="Zone name (traffic from outside the city is an ingress source, see ingress)")
    destination: str = Field(description="Zone name")
    protocol: Protocol = "tcp"
    ports: Ports = Field(default=(), description="Destination ports; empty means all of the protocol")
    description: str = Field(default="", description=RULE_WORDS)

    @model_validator(mode="after")
    def _icmp_has_no_ports(self) -> Flow:
        # Neutron reads an ICMP rule's port range as ICMP type and code: a port there matches nothing meant.
        if self.protocol == "icmp" and self.ports:
            raise ValueError("an icmp flow has no ports (Neutron would read them as ICMP type and code)")
        return self


class IngressSource(Frozen):
    """Traffic entering the city network from outside (citizens on the internet, provincial links)."""

    name: Code
    cidr: str = Field(
        description="External CIDR: one within RFC 1918 (a provincial link) outside every zone and the transit "
        "network, or any other, public, into the internet zone only (0.0.0.0/0 for citizens); never loopback"
    )
    destination: str
    protocol: Protocol = "tcp"
    ports: Ports = Field(min_length=1)
    description: str = Field(default="", description=RULE_WORDS)
    via: IPv4Text | None = Field(
        default=None,
        description="The next hop towards `cidr`, on one of the destination zone's subnets (the router of the line it "
        "comes in on): the zone router routes the replies there. Required unless the zone is the internet zone, "
        "which routes out through its external network",
    )

    @field_validator("cidr")
    @classmethod
    def _is_network(cls, value: str) -> str:
        _network(value)
        return value

    @model_validator(mode="after")
    def _icmp_has_no_ports(self) -> IngressSource:
        if self.protocol == "icmp":
            raise ValueError("ingress is by port: tcp or udp (an icmp rule's ports would be ICMP type and code)")
        return self


class Transit(Frozen):
    """The network that links the zone routers, so that declared flows between zones can be routed."""

    cidr: PrivateCidr = Field(description="Outside every zone")
    # Pinned, not taken in the order of `zones`: a router whose address moved would get a new port, and every
    # route through it would drop while Neutron replaces it. Adding or reordering zones moves nothing.
    routers: dict[str, IPv4Text] = Field(
        default_factory=dict, description="Each zone router's address on the transit network, by zone name"
    )

    _cidr = field_validator("cidr")(_private_network)


class NetworkFile(Frozen):
    """network.yaml: zones, subnets and the zone flow matrix."""

    zones: tuple[Zone, ...] = Field(min_length=1)
    transit: Transit | None = Field(
        default=None, description="Required when flows link zones: the routers' link network"
    )
    flows: tuple[Flow, ...] = ()
    ingress: tuple[IngressSource, ...] = ()
    # At least one: the baseline role manages sshd, so a city always has its SSH port; and an empty list would mean no
    # management port to the declaration's checks while the policy pack, finding no port tagged, took its default list.
    management_ports: Ports = Field(
        default=(22, 3389, 5985, 5986, 6443, 2379, 10250),
        min_length=1,
        description="Ports that count as management access: only the management zone may reach them",
    )

    def flows_between(self, source: str, destination: str, protocol: str = "tcp") -> tuple[Flow, ...]:
        """The declared flows from zone ``source`` to zone ``destination`` of ``protocol``."""
        return tuple(f for f in self.flows if (f.source, f.destination, f.protocol) == (source, destination, protocol))

    def routed_zone_pairs(self) -> list[tuple[str, str]]:
        """Pairs of distinct zones with a declared flow either way, in declaration order: the routes to set up.

        A flow needs a route both ways, since the replies travel back the same way.
        """
        order = {z.name: i for i, z in enumerate(self.zones)}
        pairs = {
            (min(ends), max(ends))
            for f in self.flows
            if f.source != f.destination and f.source in order and f.destination in order
            for ends in [(order[f.source], order[f.destination])]
        }
        return [(self.zones[a].name, self.zones[b].name) for a, b in sorted(pairs)]

    def transit_addresses(self) -> dict[str, str]:
        """Each zone router's address on the transit network, as declared (validation requires one per zone)."""
        return {} if self.transit is None else dict(self.transit.routers)


# --------------------------------------------------------------- clusters.yaml


class NodePool(Frozen):
    """A homogeneous set of Kubernetes nodes: one CPU architecture, vendor and OS."""

    name: Code
    arch: Arch
    cpu_vendor: CpuVendor
    os: OperatingSystem
    nodes: int = Field(ge=1, le=MAX_NODES)
    cpu_per_node: int = Field(ge=1, le=MAX_NODE_CORES)
    memory_gib_per_node: int = Field(ge=1, le=MAX_NODE_GIB)

    @model_validator(mode="after")
    def _vendor_builds_arch(self) -> NodePool:
        if VENDOR_ARCH[self.cpu_vendor] is not self.arch:
            raise ValueError(
                f"cpu_vendor {self.cpu_vendor.value} builds {VENDOR_ARCH[self.cpu_vendor].value} CPUs, "
                f"not {self.arch.value}"
            )
        return self

    @property
    def cpu(self) -> int:
        """Total cores of the pool."""
        return self.nodes * self.cpu_per_node

    @property
    def memory_gib(self) -> int:
        """Total memory of the pool, GiB."""
        return self.nodes * self.memory_gib_per_node


StorageBackend = Literal["ceph-rbd", "cephfs", "s3", "local"]
# The backends whose pools are a Ceph cluster's pools (ceph-mgr reports their usage as ceph_pool_*).
CEPH_BACKENDS: frozenset[str] = frozenset({"ceph-rbd", "cephfs"})


class StoragePool(Frozen):
    """A storage pool of a cluster: becomes a StorageClass (block/file) or bucket endpoint (s3)."""

    name: Code
    backend: StorageBackend
    capacity_gib: int = Field(ge=1, le=MAX_GIB)
    used_gib: int = Field(default=0, ge=0, le=MAX_GIB, description="Last measured usage, for capacity reports")
    phase: Literal["phase-1", "xinchuang"] = "phase-1"
    arch: Arch | None = Field(default=None, description="Arch of the storage nodes, informational")
    ceph_cluster_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="The Ceph cluster's fsid (`ceph fsid`), ceph-csi's clusterID; required for ceph-rbd and cephfs",
    )

    @model_validator(mode="after")
    def _ceph_names_its_cluster(self) -> StoragePool:
        if self.backend in CEPH_BACKENDS and self.ceph_cluster_id is None:
            raise ValueError(f"a {self.backend} pool needs ceph_cluster_id (the fsid `ceph fsid` prints)")
        return self


# The oldest Kubernetes dizuo's manifests run on: the baseline stack's ValidatingAdmissionPolicy is GA
# (admissionregistration.k8s.io/v1) from 1.30.
MIN_KUBERNETES_VERSION = (1, 30)


def _supported_kubernetes(value: str) -> str:
    if tuple(int(part) for part in value.split(".")) < MIN_KUBERNETES_VERSION:
        oldest = ".".join(map(str, MIN_KUBERNETES_VERSION))
        raise ValueError(
            f"dizuo's manifests need Kubernetes {oldest} or later (ValidatingAdmissionPolicy, admissionregistration"
            ".k8s.io/v1): upgrade the cluster first"
        )
    return value


# Where a node-local DNS cache may answer pods: a link-local address on each node (NodeLocal DNSCache's
# 169.254.20.10), or a cluster IP in the city's own ranges (kube-dns's Service address, which the cache also binds in
# kube-proxy iptables mode). Anything else would be a way out of the default-deny to some other resolver on port 53.
LINK_LOCAL_IPV4 = ipaddress.IPv4Network("169.254.0.0/16")


def _node_local_dns_address(value: str) -> str:
    address = ipaddress.IPv4Address(value)
    if address.is_loopback or address.is_unspecified:
        raise ValueError("a pod's loopback or unspecified address is not the node's DNS cache")
    if address not in LINK_LOCAL_IPV4 and not any(address in block for block in RFC1918):
        raise ValueError(
            "must be link-local (169.254.0.0/16, NodeLocal DNSCache's 169.254.20.10) or a cluster IP in RFC 1918: "
            "a DNS cache on the node, not a resolver elsewhere"
        )
    return value


def _addresses_once(addresses: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(addresses)) != len(addresses):
        twice = sorted({a for a in addresses if addresses.count(a) > 1})
        raise ValueError(f"addresses listed twice: {twice}")
    return addresses


NodeLocalDnsAddress = Annotated[str, AfterValidator(_ipv4_address), AfterValidator(_node_local_dns_address)]


class Cluster(Frozen):
    """A Kubernetes cluster of the government cloud."""

    name: Code
    zone: str
    kubernetes_version: Annotated[str, AfterValidator(_supported_kubernetes)] = Field(
        # ASCII digits, three at most: \d would take any script's digits (1.٣٠), and int() of over 4,300 digits fails
        pattern=r"^1\.[0-9]{1,3}$",
        description="Its API server's minor version, e.g. '1.30': manifests are checked against it",
    )
    node_pools: tuple[NodePool, ...] = Field(min_length=1)
    storage_pools: tuple[StoragePool, ...] = ()
    ingress_address: IPv4Text | None = Field(
        default=None,
        description="Where the cluster's ingress controller listens (its load-balancer or virtual address, in the "
        "cluster's zone): the DNS names of the systems it serves point here",
    )
    node_local_dns: Annotated[tuple[NodeLocalDnsAddress, ...], AfterValidator(_addresses_once)] = Field(
        default=(),
        description="Where the cluster's NodeLocal DNSCache answers pods, when it runs one: its link-local address "
        "(169.254.20.10 by default) and, in kube-proxy iptables mode, the kube-dns Service's cluster IP it also binds. "
        "The cache is a hostNetwork pod that no namespace selector matches, so every tenant's and data-pool "
        "namespace's network policy lets DNS (UDP and TCP 53) out to these addresses too, beside CoreDNS in "
        "kube-system. Empty (the default): pods resolve through CoreDNS only",
    )
    renamed_from: Code | None = Field(
        default=None,
        description="The cluster's name before a rename, kept until `dizuo up` has run with the new one: the stacks "
        "then rename what they named after the cluster in place (its ingress port, Kubernetes providers, baseline, "
        "data-pool namespaces). Without it each is a new one, made before the old one goes: the protected ingress "
        "port fails the update, and the data-pool namespaces and everything on the cluster are made anew",
    )

    @property
    def names(self) -> tuple[str, ...]:
        """The names the cluster goes by, its name first, then its former one (``renamed_from``): until the city's
        monitoring relabels it, what it reports (Rook's Ceph series, Prometheus' ``cluster`` label) carries the
        former."""
        return (self.name, *([self.renamed_from] if self.renamed_from else []))


class ClustersFile(Frozen):
    """clusters.yaml."""

    clusters: tuple[Cluster, ...] = Field(min_length=1)


# ------------------------------------------------------------ departments.yaml


class Quota(Frozen):
    """Resources granted to a department on the government cloud."""

    cpu: int = Field(ge=0, description="Cores")
    memory_gib: int = Field(ge=0, le=MAX_GIB)
    storage_gib: int = Field(
        ge=0,
        le=MAX_GIB,
        description="GiB of storage: its systems' (resources.storage_gib) and its datasets' (size_gib, volumes and "
        "buckets) together",
    )


class DataLoaders(Frozen):
    """What a department's data loaders may request together in its data-pool namespace (``dp-<code>``) of one cluster;
    their limits may reach twice that."""

    cpu: float = Field(default=2, gt=0, le=MAX_NODE_CORES, allow_inf_nan=False, description="Cores requested")
    memory_gib: float = Field(default=4, gt=0, le=MAX_NODE_GIB, allow_inf_nan=False, description="GiB requested")


class Department(Frozen):
    """A department (委办局) or county (区县) that owns systems and data."""

    code: Code
    name: Title
    kind: Literal["bureau", "center", "county", "vertical"] = "bureau"
    quota: Quota
    data_loaders: DataLoaders = Field(
        default_factory=DataLoaders,
        description="The CPU and memory quota of the department's data-pool namespace (dp-<code>) in each cluster "
        "holding one of its datasets, where its loaders run: 2 cores and 4 GiB requested, twice that as limits, by "
        "default (a nightly extract-and-load job or two); containers declaring none get a LimitRange's defaults. "
        "Its requests, once per such cluster, count against the department's quota (cpu, memory_gib) with its "
        "systems'",
    )


class DepartmentsFile(Frozen):
    """departments.yaml."""

    departments: tuple[Department, ...] = Field(min_length=1)


# ----------------------------------------------------------------- systems.yaml


def exact(value: float) -> Fraction:
    """The decimal the declaration wrote (a float's shortest repr), exactly: summed as floats, five systems of 0.2
    cores and one of 2 ask for 3.000000000000001 cores, and a pool of 3 would seem too small. str() of a float is its
    shortest repr, and of a Decimal or an int the number it holds."""
    return Fraction(str(value))


class Resources(Frozen):
    """What a system asks of the cloud."""

    cpu: float = Field(gt=0, allow_inf_nan=False, description="Cores requested")
    memory_gib: float = Field(gt=0, allow_inf_nan=False)
    storage_gib: int = Field(ge=0, le=MAX_GIB)


# An image reference as the distribution spec has it, without the registry host: lower-case path components, then a
# tag or a digest. Without either the runtime pulls `:latest`, which is not a release anyone declared.
IMAGE_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"{IMAGE_PATH_COMPONENT}(?:/{IMAGE_PATH_COMPONENT})*(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})|@sha256:[a-f0-9]{{64}})"
)


def _image_reference(value: str) -> str:
    reference = _IMAGE.fullmatch(value)
    if reference is None:
        raise ValueError(
            "not an image reference with a tag or digest (path/name:tag or path/name@sha256:<64 hex>, lower case, no "
            "registry host)"
        )
    if reference.group("tag") == "latest":
        raise ValueError("`:latest` names no release: declare the version the system runs")
    return value


class System(Frozen):
    """A business system (业务系统) running on the government cloud."""

    code: Code
    name: Title
    department: str
    zone: str
    cluster: str
    node_pool: str
    storage_pool: str | None = None
    resources: Resources
    image: Annotated[str, AfterValidator(_image_reference)] = Field(
        description="Image without registry host, with a tag or a sha256 digest: sjj/sjj-tyrz:1.8.3"
    )
    arches: tuple[Arch, ...] = Field(min_length=1, description="Arches the image is built for")
    os: OperatingSystem
    database: Database = Database.NONE
    middleware: str = "none"
    shared_platform: bool = Field(default=False, description="One of the city's shared platforms")
    protection_level: Literal[2, 3] = Field(default=3, description="等保 level")
    depends_on: tuple[str, ...] = ()
    port: int = Field(default=8080, ge=1, le=65535)
    budget_cny: int | None = Field(
        default=None,
        ge=1,
        # A trillion CNY is past any project; below it every cost and sum of costs stays exact in the planner's
        # float64 objective (integers below 2^53).
        le=10**12,
        description="Its project budget (建设预算), CNY: adapting it to Xinchuang costs a share of it",
    )
    portable: bool = Field(
        default=True,
        description="Its code can be rebuilt for another CPU (false: closed-source binaries; its arches only)",
    )
    move_group: Code | None = Field(
        default=None,
        description="A database or storage platform it shares with other systems, named alike on each of them: they "
        "run in one cluster, and a migration moves all of them, to one node pool, or none",
    )


class SystemsFile(Frozen):
    """systems.yaml."""

    systems: tuple[System, ...] = Field(min_length=1)


# ---------------------------------------------------------------- datasets.yaml


class Dataset(Frozen):
    """A dataset of the data pool, with its one authoritative owner (一数一源)."""

    code: Code
    name: Title
    owner: str = Field(description="Department code: the one authoritative source")
    source_system: str | None = None
    classification: Classification
    retention_days: int = Field(ge=1, le=MAX_DAYS)
    size_gib: int = Field(ge=1, le=MAX_GIB)
    records: int = Field(ge=0)
    refresh_days: int = Field(
        ge=1, le=MAX_DAYS, description="The owner refreshes it at least this often; older is stale"
    )
    storage_pool: str
    kind: Literal["volume", "bucket"] = "volume"


class DatasetsFile(Frozen):
    """datasets.yaml."""

    datasets: tuple[Dataset, ...] = Field(min_length=1)


# ------------------------------------------------------------------- hosts.yaml

# A host name as RFC 1123 writes one: labels of letters, digits and inner hyphens, at most 63 each, 253 in all, an
# optional final dot.
_HOST_NAME = re.compile(
    r"(?=[^.].{0,252}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?"
)


def _address_or_host_name(value: str) -> str:
    # Ansible hands ansible_host to ssh as it is: anything else only fails when `harden` or `audit` connects.
    try:
        ipaddress.ip_address(value)
    except ValueError:
        # A name's last label is never all digits (RFC 1123): 10.64.1.300 is a mistyped address.
        if _HOST_NAME.fullmatch(value) is None or value.rstrip(".").rsplit(".", 1)[-1].isdigit():
            raise ValueError("not an IP address or a host name (letters, digits, hyphens and dots)") from None
    return value


# An Ansible group as hosts.yaml may name one: a code's form with `_` too. A `-` passes here so that validate can say
# why it is refused (Ansible's group names are letters, digits and `_`), naming the host and the group.
GroupName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,30}[a-z0-9]$")]


class Host(Frozen):
    """A host managed by Ansible. This file is the one Ansible inventory of the city."""

    name: Code
    address: str = Field(description="Address in its zone")
    zone: str
    groups: tuple[GroupName, ...] = Field(
        default=(),
        description="Ansible groups: letters, digits and _ (Ansible warns of a '-'); not `all` or `ungrouped`, "
        "Ansible's own",
    )
    os: OperatingSystem
    arch: Arch
    ansible_host: Annotated[str, AfterValidator(_address_or_host_name)] | None = Field(
        default=None, description="Where Ansible connects, if not `address`: an IP address or a host name"
    )
    ansible_port: int = Field(default=22, ge=1, le=65535)

    @field_validator("groups")
    @classmethod
    def _not_ansible_s_own(cls, groups: tuple[str, ...]) -> tuple[str, ...]:
        # A group `all` would replace the inventory's global vars (ansible_user, dizuo_city) with its own.
        if reserved := sorted({"all", "ungrouped"} & set(groups)):
            raise ValueError(f"{', '.join(reserved)}: Ansible's own group(s), every host is in them already")
        return groups

    @field_validator("address")
    @classmethod
    def _ipv4(cls, value: str) -> str:
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError("not an IPv4 address") from None
        return value


class HostsFile(Frozen):
    """hosts.yaml."""

    ansible_user: str = "dzadmin"
    vars: dict[str, Any] = Field(default_factory=dict, description="Ansible variables for every host")
    group_vars: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Ansible variables per group: a declared group, a zone's zone_<zone> group (a '-' of the zone "
        "name written '_': 'zone_gov_dmz' for 'gov-dmz'), or all (as vars)",
    )
    hosts: tuple[Host, ...] = ()


# -------------------------------------------------------------------- city.yaml


class CostShares(Frozen):
    """Adaptation cost of one system as shares of its project budget (the city's experience: 20-30 % in all)."""

    base: float = Field(ge=0, le=1, description="Every move: Xinchuang OS and middleware, data migration, testing")
    new_arch: float = Field(ge=0, le=1, description="Added when its image is not yet built for the pool's CPU")
    database: float = Field(ge=0, le=1, description="Added when a foreign database is replaced by a domestic one")


class Migration(Frozen):
    """city.yaml ``migration``: how ``dizuo migrate city`` relieves the legacy storage onto Xinchuang pools."""

    cluster: str = Field(description="The cluster whose legacy pool is relieved; systems stay in it")
    legacy_storage_pool: Code = Field(description="The full legacy pool; systems on it are the candidates")
    target_node_pools: tuple[Code, ...] = Field(min_length=1, description="Xinchuang node pools systems may move to")
    target_storage_pool: Code = Field(description="Where the volumes of moved systems go (the pools share it)")
    fill_target: float = Field(
        gt=0, le=1, description="No storage pool is planned past this share of its capacity, in allocations"
    )
    horizon_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Planned from a usage forecast: the legacy pool stays under the fill target this many days ahead",
    )
    # A billion GiB (an exbibyte) per window is no limit at all; past it, its bytes would not fit the planner's int64.
    wave_gib: int = Field(ge=1, le=10**9, description="Most data one maintenance window copies")
    wave_interval_days: int | None = Field(
        default=None,
        ge=1,
        le=365,
        description="Days from one wave's window to the next; unset: no cadence is declared, and a forecast plan "
        "cannot say whether its waves end before the legacy pool passes its fill target",
    )
    cost_share: CostShares
    database_replacement: dict[Database, Database] = Field(
        default_factory=dict, description="Foreign database -> the domestic one that replaces it on a move"
    )
    copy_mount_root: str = Field(
        default="/mnt/dizuo-migration",
        pattern=r"^/[^\s]*[^/\s]$",
        description="Where the migration host mounts a system's volumes: <root>/<storage pool>/<system code>",
    )

    def fill_gib(self, pool: StoragePool) -> int:
        """The most GiB ``pool`` is planned to hold: the fill target of its capacity, rounded down."""
        return math.floor(self.fill_target * pool.capacity_gib)


class City(Frozen):
    """city.yaml: who this declaration is for."""

    code: Code
    name: Title
    province: Title
    prefix: Code = Field(description="Prefix of every generated cloud resource name")
    environment: Code = "prod"
    domain: DnsDomain | None = Field(
        default=None,
        description="DNS domain of the systems served through a cluster's ingress controller: <system code>.<domain>",
    )
    baseline: dict[str, Any] = Field(
        default_factory=dict,
        description="Security-baseline parameter overrides: {param: value, zones: {zone: {param: value}}}",
    )
    migration: Migration | None = Field(default=None, description="Xinchuang migration planning (dizuo migrate city)")


# ------------------------------------------------------------------ Declaration


class Declaration(Frozen):
    """The whole city, validated and cross-checked."""

    city: City
    network: NetworkFile
    clusters: tuple[Cluster, ...]
    departments: tuple[Department, ...]
    systems: tuple[System, ...]
    datasets: tuple[Dataset, ...]
    inventory: HostsFile

    @property
    def zones(self) -> tuple[Zone, ...]:
        """The network zones."""
        return self.network.zones

    def department(self, code: str) -> Department:
        """The department with this code."""
        return next(d for d in self.departments if d.code == code)

    def zone(self, name: str) -> Zone:
        """The zone with this name."""
        return next(z for z in self.network.zones if z.name == name)

    def storage_pools(self) -> tuple[StoragePool, ...]:
        """Every storage pool of every cluster."""
        return tuple(p for c in self.clusters for p in c.storage_pools)

    def cluster_names(self) -> dict[str, str]:
        """Each name a cluster goes by (see ``Cluster.names``: its name, and its former one after a rename), to its
        name: a former name is read as the cluster it now names."""
        return {name: c.name for c in self.clusters for name in c.names}

    def former_cluster_names(self) -> dict[str, str]:
        """Each renamed cluster's name to its former one (``renamed_from``), which the stacks alias what they named
        after the cluster to; clusters never renamed are left out."""
        return {c.name: c.renamed_from for c in self.clusters if c.renamed_from is not None}

    def claimable_pools(self, cluster: str) -> tuple[StoragePool, ...]:
        """The block and file storage pools of ``cluster``: each one of the city's StorageClasses there, that claims
        are made from and quotas cap (a bucket's s3 pool is none)."""
        return tuple(p for c in self.clusters if c.name == cluster for p in c.storage_pools if p.backend != "s3")

    def loader_cluster(self, ds: Dataset) -> str | None:
        """The cluster whose ``dp-<owner>`` namespace holds and loads ``ds``: its storage pool's. None for a bucket (a
        container of the cloud's object store, which no cluster's loader holds) or a pool no cluster declares."""
        if ds.kind == "bucket":
            return None
        return next((c.name for c in self.clusters for p in c.storage_pools if p.name == ds.storage_pool), None)

    def loader_clusters(self, owner: str) -> tuple[str, ...]:
        """The clusters where department ``owner`` has a data-pool namespace (``dp-<owner>``, where its data loaders
        run): those of the storage pools of its volume datasets (a bucket is no namespace's)."""
        clusters = {self.loader_cluster(ds) for ds in self.datasets if ds.owner == owner}
        return tuple(sorted(cluster for cluster in clusters if cluster is not None))

    def node_pools(self) -> tuple[tuple[Cluster, NodePool], ...]:
        """Every node pool with its cluster."""
        return tuple((c, p) for c in self.clusters for p in c.node_pools)

    def migration_candidates(self) -> tuple[System, ...]:
        """The systems ``migration`` may move: those of its cluster on its legacy storage pool (none without it)."""
        m = self.city.migration
        if m is None:
            return ()
        return tuple(s for s in self.systems if s.cluster == m.cluster and s.storage_pool == m.legacy_storage_pool)

    def moved_groups(self) -> dict[str, str]:
        """Move groups partly moved by the migration (a wave moved some members, the next moves the rest): the node
        pool their moved members run on, which the rest must join. A member is moved when it runs on one of the target
        node pools with its volumes on the target storage pool."""
        m = self.city.migration
        if m is None:
            return {}
        waiting = {s.move_group for s in self.migration_candidates() if s.move_group is not None}
        return {
            s.move_group: s.node_pool
            for s in self.systems
            if s.move_group in waiting
            and s.cluster == m.cluster
            and s.storage_pool == m.target_storage_pool
            and s.node_pool in m.target_node_pools
        }


# Which file holds which part of the declaration, and the model that validates it.
FILES: dict[str, type[Frozen]] = {
    "city.yaml": City,
    "network.yaml": NetworkFile,
    "clusters.yaml": ClustersFile,
    "departments.yaml": DepartmentsFile,
    "systems.yaml": SystemsFile,
    "datasets.yaml": DatasetsFile,
    "hosts.yaml": HostsFile,
}
