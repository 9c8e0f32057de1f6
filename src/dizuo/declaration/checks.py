"""Cross-file checks of a declaration: names unique, references resolve, addresses fit, quotas add up."""

from __future__ import annotations

import ipaddress
import keyword
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from dizuo.addresses import LOOPBACK_IPV4, is_city_own
from dizuo.declaration.inventory import ansible_inventory, to_json, zone_group
from dizuo.declaration.loader import DeclarationError, Problem, named_characters, show_value
from dizuo.declaration.model import (
    DOMESTIC_DATABASES,
    XINCHUANG_VENDORS,
    Classification,
    Database,
    Dataset,
    Declaration,
    Migration,
    NodePool,
    StoragePool,
    System,
    ZoneKind,
    exact,
)

Shown = Callable[[str], str]

# Namespaces that are not a system's: Kubernetes' own, the ingress controller's, the data pool's owner namespaces
# (dp-<department>, made by the datapool stack). A system's namespace is its code, so its code may not be one.
# ceph-csi's namespaces hold the Ceph credentials of every StorageClass (datapool.shapes.CSI_SECRETS): a system there
# would get a department's admins reading them.
RESERVED_NAMESPACES = frozenset({"default", "ingress-nginx", "ceph-csi-rbd", "ceph-csi-cephfs"})
RESERVED_NAMESPACE_PREFIXES = ("kube-", "dp-")
# Data classes that may not live in the internet zone (DMZ): 数据安全法 art. 21, GB/T 43697-2024.
SHIELDED = frozenset({Classification.IMPORTANT, Classification.CORE})


T = TypeVar("T")


def first_of_each(items: Iterable[T], name: Callable[[T], str]) -> dict[str, T]:
    """``items`` by name, the first of each: where a name is given twice (_unique_names names it, 'first at ...'), the
    checks judge references by the one it names first, as Declaration.zone and .department find it, not by the later
    one, whose difference would be blamed on every system referring to the name."""
    found: dict[str, T] = {}
    for item in items:
        found.setdefault(name(item), item)
    return found


def cross_check(d: Declaration, shown: Shown) -> list[Problem]:
    """Every cross-reference problem of ``d``; ``shown`` turns a file name into the path users see."""
    problems: list[Problem] = []
    for check in (
        _unique_names,
        _addresses,
        _flows,
        _clusters,
        _systems,
        _quotas,
        _datasets,
        _hosts,
        _group_vars,
        _baseline,
        _ingress,
        _generated_names,
        _network_resource_names,
        _datapool_resource_names,
        _neutron_duplicates,
        _migration,
    ):
        problems += check(d, shown)
    return problems


def _baseline(d: Declaration, shown: Shown) -> list[Problem]:
    """The security-baseline overrides of city.yaml, checked against the control catalogue: `validate` and
    `synth` refuse what `harden` and `audit` would refuse."""
    from dizuo.baseline.params import (  # noqa: PLC0415 - the baseline package imports the declaration
        ansible_vars_shadowing_parameters,
        connecting_account_problems,
        resolve,
        unreachable_baseline_servers,
    )

    problems = ansible_vars_shadowing_parameters(d, source=shown("hosts.yaml"))
    try:
        params = resolve(d, source=shown("city.yaml"))
    except DeclarationError as exc:
        return [*problems, *exc.problems]
    hosts = shown("hosts.yaml")
    return (
        problems
        + connecting_account_problems(d, params, source=hosts)
        + unreachable_baseline_servers(d, params, source=hosts)
    )


def _duplicates(
    file: str, items: Iterable[tuple[str, str]], what: str, same: Callable[[str], str] = str
) -> list[Problem]:
    """Each later item whose name is ``same`` as an earlier one's (exactly, by default)."""
    seen: dict[str, tuple[str, str]] = {}
    problems = []
    for path, name in items:
        key = same(name)
        if key in seen:
            first_path, first = seen[key]
            alike = "" if first == name else f" {show_value(first)}{_invisible(first + name)}"
            problems.append(Problem(file, path, f"duplicate {what} {show_value(name)} (first at {first_path}{alike})"))
        else:
            seen[key] = (path, name)
    return problems


def _former_names(file: str, entries: Iterable[tuple[str, str, str | None]], what: str) -> list[Problem]:
    """Of ``entries`` (key path, name, ``renamed_from``) of one kind (zones, subnets, clusters), each former name that
    cannot stand for one deployed entry: the stacks alias the entry's resources to their former names, and Pulumi
    refuses an alias that two resources claim or that another resource has now."""
    listed = list(entries)
    named = {name: path for path, name, _ in listed}
    claimed: dict[str, str] = {}
    problems = []
    for path, name, former in listed:
        if former is None:
            continue
        if former in named:
            whose = f"this {what}" if former == name else named[former]
            problems.append(
                Problem(
                    file,
                    f"{path}.renamed_from",
                    f"{show_value(former)} is the name of {whose} now: a former name must be one no {what} has "
                    "(drop renamed_from once `dizuo up` has run with the new name)",
                )
            )
        elif former in claimed:
            problems.append(
                Problem(
                    file,
                    f"{path}.renamed_from",
                    f"{show_value(former)} is also the former name of {claimed[former]}: one deployed {what} cannot "
                    "become two",
                )
            )
        claimed.setdefault(former, path)
    return problems


def _written_alike(name: str) -> str:
    """A name as a reader takes it: full-width and half-width forms alike (NFKC), case, spacing and invisible format
    characters (zero-width space, soft hyphen: Unicode category Cf, which NFKC keeps) ignored. Spacing goes
    entirely: Chinese puts none between words, and `局 (大数据局)` and `局（大数据局）` read as one name."""
    return "".join(c for c in unicodedata.normalize("NFKC", name).casefold() if not _unseen(c))


def _unseen(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) == "Cf"


def _invisible(text: str) -> str:
    """``; invisible: U+200B ZERO WIDTH SPACE``, naming what a reader of two names that look alike cannot see."""
    named = named_characters(c for c in text if unicodedata.category(c) == "Cf")
    return f"; invisible: {named}" if named else ""


def _unique_names(d: Declaration, shown: Shown) -> list[Problem]:
    net, clu = shown("network.yaml"), shown("clusters.yaml")
    return [
        *_duplicates(net, ((f"zones[{i}].name", z.name) for i, z in enumerate(d.zones)), "zone"),
        *_duplicates(
            net,
            ((f"zones[{i}].subnets[{j}].name", s.name) for i, z in enumerate(d.zones) for j, s in enumerate(z.subnets)),
            "subnet",
        ),
        # Flows and ingress sources name the security-group rules they open: one name space for both.
        *_duplicates(
            net,
            (
                *((f"flows[{i}].name", f.name) for i, f in enumerate(d.network.flows)),
                *((f"ingress[{i}].name", f.name) for i, f in enumerate(d.network.ingress)),
            ),
            "flow or ingress name",
        ),
        *_former_names(net, ((f"zones[{i}]", z.name, z.renamed_from) for i, z in enumerate(d.zones)), "zone"),
        *_former_names(
            net,
            (
                (f"zones[{i}].subnets[{j}]", s.name, s.renamed_from)
                for i, z in enumerate(d.zones)
                for j, s in enumerate(z.subnets)
            ),
            "subnet",
        ),
        *_duplicates(clu, ((f"clusters[{i}].name", c.name) for i, c in enumerate(d.clusters)), "cluster"),
        *_former_names(clu, ((f"clusters[{i}]", c.name, c.renamed_from) for i, c in enumerate(d.clusters)), "cluster"),
        *_duplicates(
            clu,
            (
                (f"clusters[{i}].node_pools[{j}].name", p.name)
                for i, c in enumerate(d.clusters)
                for j, p in enumerate(c.node_pools)
            ),
            "node pool",
        ),
        *_duplicates(
            clu,
            (
                (f"clusters[{i}].storage_pools[{j}].name", p.name)
                for i, c in enumerate(d.clusters)
                for j, p in enumerate(c.storage_pools)
            ),
            "storage pool",
        ),
        *_duplicates(
            shown("departments.yaml"),
            ((f"departments[{i}].code", x.code) for i, x in enumerate(d.departments)),
            "department",
        ),
        # Names are what people pick from (quotas, owners, reports): two alike would be told apart by code alone.
        *_duplicates(
            shown("departments.yaml"),
            ((f"departments[{i}].name", x.name) for i, x in enumerate(d.departments)),
            "department name",
            _written_alike,
        ),
        *_duplicates(
            shown("systems.yaml"), ((f"systems[{i}].code", x.code) for i, x in enumerate(d.systems)), "system"
        ),
        *_duplicates(
            shown("systems.yaml"),
            ((f"systems[{i}].name", x.name) for i, x in enumerate(d.systems)),
            "system name",
            _written_alike,
        ),
        *_duplicates(
            shown("datasets.yaml"),
            ((f"datasets[{i}].code", x.code) for i, x in enumerate(d.datasets)),
            "dataset",
        ),
        # 一数一源: a dataset name has exactly one authoritative owner.
        *_duplicates(
            shown("datasets.yaml"),
            ((f"datasets[{i}].name", x.name) for i, x in enumerate(d.datasets)),
            "dataset name (one authoritative source per dataset)",
            _written_alike,
        ),
        *_duplicates(
            shown("hosts.yaml"),
            ((f"hosts[{i}].name", h.name) for i, h in enumerate(d.inventory.hosts)),
            "host",
        ),
    ]


def _addresses(d: Declaration, shown: Shown) -> list[Problem]:
    net = shown("network.yaml")
    problems = []
    zone_nets = [(i, z, ipaddress.IPv4Network(z.cidr)) for i, z in enumerate(d.zones)]
    for a, (_, zi, ni) in enumerate(zone_nets):
        for j, zj, nj in zone_nets[a + 1 :]:
            if ni.overlaps(nj):
                problems.append(
                    Problem(
                        net,
                        f"zones[{j}].cidr",
                        f"{show_value(zj.cidr)} overlaps zone {zi.name!r} ({zi.cidr})",
                    )
                )
    subnets: list[tuple[str, str, ipaddress.IPv4Network]] = []
    for i, zone, zone_net in zone_nets:
        for j, subnet in enumerate(zone.subnets):
            sub_net = ipaddress.IPv4Network(subnet.cidr)
            path = f"zones[{i}].subnets[{j}]"
            if not sub_net.subnet_of(zone_net):
                problems.append(Problem(net, f"{path}.cidr", f"{show_value(subnet.cidr)} is outside zone {zone.cidr}"))
            if subnet.gateway is not None and ipaddress.ip_address(subnet.gateway) not in sub_net:
                problems.append(
                    Problem(net, f"{path}.gateway", f"{show_value(subnet.gateway)} is outside {subnet.cidr}")
                )
            elif subnet.gateway is not None and ipaddress.ip_address(subnet.gateway) in (
                sub_net.network_address,
                sub_net.broadcast_address,
            ):
                problems.append(
                    Problem(
                        net,
                        f"{path}.gateway",
                        f"{show_value(subnet.gateway)} is {subnet.cidr}'s network or broadcast address (Neutron "
                        "refuses it)",
                    )
                )
            for other_path, other_name, other_net in subnets:
                if sub_net.overlaps(other_net):
                    problems.append(
                        Problem(
                            net,
                            f"{path}.cidr",
                            f"{show_value(subnet.cidr)} overlaps subnet {other_name!r} ({other_path})",
                        )
                    )
            subnets.append((path, subnet.name, sub_net))
    if d.network.transit is not None:
        cidr = d.network.transit.cidr
        transit = ipaddress.IPv4Network(cidr)
        problems += [
            Problem(net, "transit.cidr", f"{show_value(cidr)} overlaps zone {zone.name!r} ({zone.cidr})")
            for _, zone, zone_net in zone_nets
            if transit.overlaps(zone_net)
        ]
        problems += _transit_routers(d.network.transit.routers, [z.name for z in d.zones], net, transit)
    return problems


def _transit_routers(
    routers: dict[str, str], zones: list[str], net: str, transit: ipaddress.IPv4Network
) -> list[Problem]:
    """One router address per zone, each a host address of the transit network, none twice."""
    problems = [
        Problem(net, "transit.routers", f"no address for zone {zone!r}: each zone router needs one")
        for zone in zones
        if zone not in routers
    ]
    # Neutron gives no port the first or the last address of an IPv4 subnet, /31 and /32 included.
    reserved = (transit.network_address, transit.broadcast_address)
    seen: dict[str, str] = {}
    for zone, address in routers.items():
        where = f"transit.routers.{zone}"
        if zone not in zones:
            problems.append(Problem(net, where, f"unknown zone {show_value(zone)}"))
        ip = ipaddress.IPv4Address(address)
        if ip not in transit or ip in reserved:
            problems.append(Problem(net, where, f"{show_value(address)} is not a host address of {transit}"))
        if address in seen:
            problems.append(Problem(net, where, f"{show_value(address)} is zone {seen[address]!r}'s already"))
        seen.setdefault(address, zone)
    return problems


def _flows(d: Declaration, shown: Shown) -> list[Problem]:
    net = shown("network.yaml")
    zones = first_of_each(d.zones, lambda z: z.name)
    management = set(d.network.management_ports)
    problems = []
    for i, flow in enumerate(d.network.flows):
        for key in ("source", "destination"):
            name = getattr(flow, key)
            if name not in zones:
                problems.append(Problem(net, f"flows[{i}].{key}", f"unknown zone {show_value(name)}"))
        source = zones.get(flow.source)
        opens = set(flow.ports) & management if flow.ports else management
        if source is not None and source.kind is not ZoneKind.MANAGEMENT and flow.protocol == "tcp" and opens:
            problems.append(
                Problem(
                    net,
                    f"flows[{i}].ports",
                    f"management ports {sorted(opens)} may only be opened from the management zone, "
                    f"not from {show_value(flow.source)}",
                )
            )
    linked = d.network.routed_zone_pairs()
    if linked and d.network.transit is None:
        problems.append(
            Problem(
                net,
                "transit",
                f"flows link zones ({', '.join(f'{a}-{b}' for a, b in linked)}) but no transit network is declared "
                "for their routers to route over: add transit.cidr, a private range outside every zone",
            )
        )
    for i, ingress in enumerate(d.network.ingress):
        zone = zones.get(ingress.destination)
        if zone is None:
            problems.append(
                Problem(net, f"ingress[{i}].destination", f"unknown zone {show_value(ingress.destination)}")
            )
        if set(ingress.ports) & management:
            problems.append(
                Problem(
                    net,
                    f"ingress[{i}].ports",
                    f"management ports {sorted(set(ingress.ports) & management)} must not be reachable from outside",
                )
            )
        if ingress.via is not None and ipaddress.IPv4Network(ingress.cidr).prefixlen == 0:
            # A route to 0.0.0.0/0 is a second default route on the internet zone's router, beside its external
            # network's: the router's replies to the world, every ingress source's, would go to the next hop.
            problems.append(
                Problem(
                    net,
                    f"ingress[{i}].via",
                    f"{show_value(ingress.via)} would be the next hop of every range (0.0.0.0/0), a second default "
                    "route beside the external network's, taking the replies of all traffic from the internet: leave "
                    "via out for the internet, or name the ranges the line carries",
                )
            )
        elif zone is not None and ingress.via is not None:
            problems += _host_address_in_zone(
                d, zone.name, ingress.via, net, f"ingress[{i}].via", "the zone router reaches its next hop there"
            )
        elif zone is not None and zone.kind is not ZoneKind.INTERNET:
            problems.append(
                Problem(
                    net,
                    f"ingress[{i}].via",
                    f"required: zone {zone.name!r} has no external network, so nothing routes the replies to "
                    f"{ingress.cidr}; name the next hop on one of its subnets (the router of the line it comes in on)",
                )
            )
        external = ipaddress.IPv4Network(ingress.cidr)
        # The policy pack's meaning of the city's own range: a range reaching past it (198.18.0.0/15 and 240.0.0.0/4
        # too, which ipaddress calls private) is the internet's, the internet zone's only.
        if external.subnet_of(LOOPBACK_IPV4):
            # The city's own to a security-group rule (harmless there), but no packet from outside a host has it.
            problems.append(
                Problem(
                    net,
                    f"ingress[{i}].cidr",
                    f"{show_value(str(external))} is loopback, which no traffic from outside a host comes from: name "
                    "the range the line's traffic comes from",
                )
            )
        elif is_city_own(external):
            problems += _inside_the_city(d, external, net, f"ingress[{i}].cidr")
        elif zone is not None and zone.kind is not ZoneKind.INTERNET:
            problems.append(
                Problem(
                    net,
                    f"ingress[{i}].destination",
                    f"public sources ({ingress.cidr}: not within the city's own RFC 1918 or loopback ranges) may only "
                    f"reach the internet zone, not {show_value(zone.name)}",
                )
            )
    return problems


def _inside_the_city(d: Declaration, external: ipaddress.IPv4Network, net: str, where: str) -> list[Problem]:
    """A private range entering from outside overlaps no zone and not the transit network: its security-group rules
    would open the destination to that zone past the flow matrix, and its route would compete with the zone's own.
    (The internet's 0.0.0.0/0, which holds every range, is no private range: it reaches only the internet zone.)"""
    inside = [(f"zone {z.name!r}", z.cidr) for z in d.zones]
    if d.network.transit is not None:
        inside.append(("the transit network", d.network.transit.cidr))
    return [
        Problem(
            net,
            where,
            f"{show_value(str(external))} overlaps {what} ({cidr}): an ingress is traffic from outside the city, and "
            "between zones only the flows open ports",
        )
        for what, cidr in inside
        if external.overlaps(ipaddress.IPv4Network(cidr))
    ]


def _clusters(d: Declaration, shown: Shown) -> list[Problem]:
    zones = {z.name for z in d.zones}
    file = shown("clusters.yaml")
    return [
        *(
            Problem(file, f"clusters[{i}].zone", f"unknown zone {show_value(c.zone)}")
            for i, c in enumerate(d.clusters)
            if c.zone not in zones
        ),
        *(
            Problem(
                file,
                f"clusters[{i}].storage_pools[{j}].used_gib",
                f"more than the pool's capacity_gib ({p.capacity_gib}): {show_value(p.used_gib)}",
            )
            for i, c in enumerate(d.clusters)
            for j, p in enumerate(c.storage_pools)
            if p.used_gib > p.capacity_gib
        ),
    ]


def _systems(d: Declaration, shown: Shown) -> list[Problem]:
    file = shown("systems.yaml")
    departments = {x.code for x in d.departments}
    zones = {z.name for z in d.zones}
    clusters = first_of_each(d.clusters, lambda c: c.name)
    by_code = first_of_each(d.systems, lambda s: s.code)
    problems = []

    def placed(s: System) -> bool:
        """Its zone is known and its cluster's: flows to and from it can be checked."""
        return s.zone in zones and s.cluster in clusters and clusters[s.cluster].zone == s.zone

    for i, s in enumerate(d.systems):
        at = f"systems[{i}]"
        if s.code in RESERVED_NAMESPACES or s.code.startswith(RESERVED_NAMESPACE_PREFIXES):
            problems.append(
                Problem(
                    file,
                    f"{at}.code",
                    "a system's namespace is its code, and this one is Kubernetes', the ingress controller's or the "
                    f"data pool's (reserved: {', '.join(sorted(RESERVED_NAMESPACES))}, "
                    f"{', '.join(p + '*' for p in RESERVED_NAMESPACE_PREFIXES)}): {show_value(s.code)}",
                )
            )
        if s.department not in departments:
            problems.append(Problem(file, f"{at}.department", f"unknown department {show_value(s.department)}"))
        if s.zone not in zones:
            problems.append(Problem(file, f"{at}.zone", f"unknown zone {show_value(s.zone)}"))
        cluster = clusters.get(s.cluster)
        if cluster is None:
            problems.append(Problem(file, f"{at}.cluster", f"unknown cluster {show_value(s.cluster)}"))
        else:
            # Network policies, ingress and DNS are shaped after the system's zone: it must be where its pods run.
            if s.zone in zones and cluster.zone in zones and s.zone != cluster.zone:
                problems.append(
                    Problem(
                        file,
                        f"{at}.zone",
                        f"{show_value(s.zone)}, but its cluster {cluster.name!r} runs in zone {cluster.zone!r}",
                    )
                )
            node_pool = next((p for p in cluster.node_pools if p.name == s.node_pool), None)
            if node_pool is None:
                problems.append(
                    Problem(
                        file,
                        f"{at}.node_pool",
                        f"unknown node pool {show_value(s.node_pool)} in cluster {cluster.name!r}",
                    )
                )
            elif node_pool.arch not in s.arches:
                problems.append(
                    Problem(
                        file,
                        f"{at}.node_pool",
                        f"{show_value(s.node_pool)} runs {node_pool.arch.value}, but the image exists only for "
                        f"{', '.join(a.value for a in s.arches)}",
                    )
                )
            pools = first_of_each(cluster.storage_pools, lambda p: p.name)
            if s.storage_pool is not None and s.storage_pool not in pools:
                problems.append(
                    Problem(
                        file,
                        f"{at}.storage_pool",
                        f"unknown storage pool {show_value(s.storage_pool)} in cluster {cluster.name!r}",
                    )
                )
            elif s.storage_pool is not None and pools[s.storage_pool].backend == "s3":
                problems.append(
                    Problem(
                        file,
                        f"{at}.storage_pool",
                        f"{show_value(s.storage_pool)} is an object store, not a volume pool",
                    )
                )
        if s.resources.storage_gib > 0 and s.storage_pool is None:
            problems.append(Problem(file, f"{at}.storage_pool", "required when resources.storage_gib > 0"))
        for j, dep in enumerate(s.depends_on):
            if dep not in by_code:
                problems.append(Problem(file, f"{at}.depends_on[{j}]", f"unknown system {show_value(dep)}"))
            elif dep == s.code:
                problems.append(Problem(file, f"{at}.depends_on[{j}]", "a system cannot depend on itself"))
            elif placed(s) and placed(by_code[dep]):  # else its zone is reported above; one typo, one error
                problems += _crossing(d, s.cluster, s.zone, by_code[dep], file, f"{at}.depends_on[{j}]")
    problems += _dependency_cycles(d, file)
    problems += _move_groups(d, file)
    return problems


def _moving_group_member(m: Migration, s: System, joined: dict[str, System], file: str, at: str) -> list[Problem]:
    """A member, off the legacy pool, of a group with members on it: already moved (a wave moved part of the group)
    to a target node pool and the target storage pool, the same node pool as the other moved members."""
    group = show_value(s.move_group)
    if s.storage_pool != m.target_storage_pool or s.node_pool not in m.target_node_pools:
        where = "no storage pool" if s.storage_pool is None else f"{s.storage_pool!r}"
        return [
            Problem(
                file,
                at,
                f"{group} groups it with systems on the legacy pool {m.legacy_storage_pool!r}, which the migration "
                f"may move, but it is on node pool {s.node_pool!r} and {where}, where the migration does not move "
                "systems: the group cannot move as one",
            )
        ]
    first = joined.setdefault(s.move_group or "", s)
    if first.node_pool != s.node_pool:
        return [
            Problem(
                file,
                at,
                f"{group} moved {first.code!r} to node pool {first.node_pool!r}, and this system to {s.node_pool!r}: "
                "a group moves to one node pool",
            )
        ]
    return []


def _move_groups(d: Declaration, file: str) -> list[Problem]:
    """A move group is one shared platform: its systems run in one cluster (the first member's)."""
    first: dict[str, System] = {}
    problems = []
    for i, s in enumerate(d.systems):
        if s.move_group is None:
            continue
        held = first.setdefault(s.move_group, s)
        if held.cluster != s.cluster:
            problems.append(
                Problem(
                    file,
                    f"systems[{i}].move_group",
                    f"{show_value(s.move_group)} is the group of {held.code!r} in cluster {held.cluster!r}, and this "
                    f"system runs in {s.cluster!r}: systems sharing a platform run in one cluster",
                )
            )
    return problems


def _crossing(
    d: Declaration, cluster: str, zone: str, dep: System, file: str, where: str, caller: str = ""
) -> list[Problem]:
    """A caller in ``cluster`` and ``zone`` (a system, or a data-pool loader: ``caller`` says which, when it is not
    the system at ``where``) reaching a system of another cluster in another zone needs a declared flow between the
    zones that opens the callee's ingress controller (tcp/443): without one, nothing would carry the calls (security
    groups and network policies deny them)."""
    from dizuo.cloud.shapes import INGRESS_PORTS, crossing_ports_from  # noqa: PLC0415 - cloud imports the declaration

    if cluster == dep.cluster or crossing_ports_from(d, cluster, zone, dep) is not None:
        return []
    opens = "/".join(str(p) for p in INGRESS_PORTS)
    ports = ", ".join(str(p) for p in INGRESS_PORTS)
    return [
        Problem(
            file,
            where,
            f"{show_value(dep.code)} runs in cluster {dep.cluster!r}, zone {dep.zone!r}, behind its ingress "
            f"controller; no tcp flow from zone {zone!r} to {dep.zone!r} that opens {opens} is declared in "
            f"network.yaml{caller} (needed: source: {zone}, destination: {dep.zone}, protocol: tcp, ports: [{ports}])",
        )
    ]


def _ingress(d: Declaration, shown: Shown) -> list[Problem]:
    """Systems served through an ingress controller answer at ``<code>.<domain>``, a name the city's DNS points at
    their cluster's ingress address: the city declares the domain, each such cluster its address (in its zone)."""
    from dizuo.cloud.shapes import served_through_ingress  # noqa: PLC0415 - the cloud package imports the declaration

    file = shown("clusters.yaml")
    zones = {z.name: ipaddress.IPv4Network(z.cidr) for z in d.zones}
    problems = [
        problem
        for i, c in enumerate(d.clusters)
        if c.ingress_address is not None and c.zone in zones
        for problem in _host_address_in_zone(
            d, c.zone, c.ingress_address, file, f"clusters[{i}].ingress_address", "the network stack reserves it there"
        )
    ]
    problems += _duplicates(
        file,
        ((f"clusters[{i}].ingress_address", c.ingress_address) for i, c in enumerate(d.clusters) if c.ingress_address),
        "ingress address",
    )
    next_hops = _next_hops(d)
    problems += [
        Problem(
            file,
            f"clusters[{i}].ingress_address",
            f"{show_value(c.ingress_address)} is {next_hops[c.ingress_address]}: the network stack reserves a port "
            "for each, and Neutron holds an address on one port only",
        )
        for i, c in enumerate(d.clusters)
        if c.ingress_address in next_hops
    ]
    codes, clusters = {s.code for s in d.systems}, {c.name for c in d.clusters}
    if any(s.zone not in zones or s.cluster not in clusters or not set(s.depends_on) <= codes for s in d.systems):
        return problems  # _systems reports the broken references
    served = [s for s in d.systems if served_through_ingress(d, s)]
    if served and d.city.domain is None:
        problems.append(
            Problem(
                shown("city.yaml"),
                "domain",
                f"required: {_some(s.code for s in served)} are served through their cluster's ingress controller, "
                "at <system code>.<domain>",
            )
        )
    for i, c in enumerate(d.clusters):
        behind = [s.code for s in served if s.cluster == c.name]
        if behind and c.ingress_address is None:
            problems.append(
                Problem(
                    file,
                    f"clusters[{i}].ingress_address",
                    f"required: {_some(behind)} are served through this cluster's ingress controller, and their DNS "
                    "names point at its address",
                )
            )
    return problems


def _next_hops(d: Declaration) -> dict[str, str]:
    """The next hops of the ingress sources (network.yaml ``ingress[*].via``), each with what it is: the network stack
    reserves a port for each."""
    hops: dict[str, str] = {}
    for i, x in enumerate(d.network.ingress):
        if x.via is not None:
            hops.setdefault(x.via, f"the next hop of ingress {x.name!r} (network.yaml ingress[{i}].via)")
    return hops


def _pinned_addresses(d: Declaration) -> dict[str, str]:
    """Every address the network stack reserves a port for, with what holds it: the next hops of the ingress sources
    and the clusters' ingress addresses."""
    pinned = _next_hops(d)
    for i, c in enumerate(d.clusters):
        if c.ingress_address is not None:
            pinned.setdefault(
                c.ingress_address, f"cluster {c.name!r}'s ingress address (clusters.yaml clusters[{i}].ingress_address)"
            )
    return pinned


def _host_address_in_zone(d: Declaration, zone: str, address: str, file: str, where: str, why: str) -> list[Problem]:
    """``address`` is a host address of one of ``zone``'s subnets: in the zone, in a subnet (Neutron can only hold
    it on one; ``why`` says what for), and neither that subnet's gateway nor its network or broadcast address."""
    from dizuo.network.shapes import subnet_holding, unusable_host  # noqa: PLC0415 - network imports the declaration

    cidr = d.zone(zone).cidr
    if ipaddress.IPv4Address(address) not in ipaddress.IPv4Network(cidr):
        return [Problem(file, where, f"{show_value(address)} is outside zone {zone!r}")]
    held = subnet_holding(d.network, address)
    if held is None or held[0].name != zone:
        subnets = ", ".join(f"{s.name} {s.cidr}" for s in d.zone(zone).subnets)
        return [Problem(file, where, f"{show_value(address)} is in none of zone {zone!r}'s subnets ({subnets}): {why}")]
    reason = unusable_host(held[1], address)
    return [] if reason is None else [Problem(file, where, f"{show_value(address)} is {reason}")]


def _generated_names(d: Declaration, shown: Shown) -> list[Problem]:
    """The cloud names made from codes (``<prefix>-<code>-<suffix>``) stay within 63 characters: `validate` says
    so, not a stack program half-way through ``synth`` or ``up``."""
    from dizuo.naming import MAX_NAME  # noqa: PLC0415 - small module, kept next to its one use here

    prefix = d.city.prefix
    net, clu = shown("network.yaml"), shown("clusters.yaml")
    candidates = [
        *((net, f"zones[{i}].name", z.name, (prefix, z.name, "transit")) for i, z in enumerate(d.zones)),
        *(
            (net, f"zones[{i}].subnets[{j}].name", s.name, (prefix, s.name))
            for i, z in enumerate(d.zones)
            for j, s in enumerate(z.subnets)
        ),
        *(
            (clu, f"clusters[{i}].storage_pools[{j}].name", p.name, (prefix, p.name))
            for i, c in enumerate(d.clusters)
            for j, p in enumerate(c.storage_pools)
        ),
        *(
            (shown("datasets.yaml"), f"datasets[{i}].code", x.code, (prefix, "dp", x.code))
            for i, x in enumerate(d.datasets)
        ),
        *((shown("systems.yaml"), f"systems[{i}].code", x.code, (prefix, x.code)) for i, x in enumerate(d.systems)),
    ]
    return [
        Problem(
            file,
            where,
            f"makes the name {'-'.join(parts)!r} ({len('-'.join(parts))} characters, at most {MAX_NAME}): shorten it "
            f"or city.yaml's prefix: {show_value(value)}",
        )
        for file, where, value, parts in candidates
        if len("-".join(parts)) > MAX_NAME
    ]


def _network_resource_names(d: Declaration, shown: Shown) -> list[Problem]:
    """Two entries of network.yaml whose rule or route names come out alike (names are joined with hyphens, which
    names contain too): the network stack would give two resources one name, which Pulumi refuses. Two rules (or
    routes) named after what Neutron compares share a name only when Neutron holds them once:
    :func:`_neutron_duplicates` says so, with what it means for `dizuo up`."""
    from dizuo.network.shapes import GeneratedName, generated_names  # noqa: PLC0415 - network imports the declaration

    net = shown("network.yaml")
    first: dict[tuple[str, str], GeneratedName] = {}
    problems = []
    for named in generated_names(d.network):
        seen = first.setdefault((named.kind, named.name), named)
        if seen is not named and not (seen.as_neutron_compares and named.as_neutron_compares):
            problems.append(
                Problem(
                    net,
                    named.path,
                    f"{named.entry} makes the {named.kind} {d.city.prefix}-{named.name}, as {seen.path} "
                    f"({seen.entry}) does: two resources cannot share a name; rename one of them",
                )
            )
    return problems


def _datapool_resource_names(d: Declaration, shown: Shown) -> list[Problem]:
    """Two (cluster, owner) pairs whose data-pool namespaces come out alike: the datapool stack names an owner's
    namespace and its fence ``<cluster>-dp-<owner>``, and both codes hold hyphens (cluster ``c1-dp-a`` with owner ``b``,
    cluster ``c1`` with owner ``a-dp-b``); Pulumi refuses two resources of one name. A renamed cluster's pairs also
    claim their former name (``renamed_from``, the alias of the deployed resources): an alias that is another pair's
    name, or another pair's alias too, has Pulumi take one deployed namespace for the wrong pair or for two. The names
    stay as deployed stacks have them, so `validate` refuses the pair instead, at the first dataset of each owner on
    each cluster."""
    from dizuo.datapool.shapes import owner_namespace_resource  # noqa: PLC0415 - datapool imports the declaration

    file = shown("datasets.yaml")
    component = f"{d.city.prefix}-datapool"
    formerly = d.former_cluster_names()

    first: dict[str, tuple[str, str, str, str | None]] = {}
    said: set[tuple[str, str]] = set()  # one problem per pair, not one per dataset of it
    problems = []
    for i, ds in enumerate(d.datasets):
        cluster = d.loader_cluster(ds)
        if cluster is None:
            continue  # a bucket, or a pool no cluster declares (_datasets says so): no namespace
        at = f"datasets[{i}]"
        former = formerly.get(cluster)
        claimed: list[tuple[str, str | None]] = [(owner_namespace_resource(cluster, ds.owner), None)]
        if former is not None:
            claimed.append((owner_namespace_resource(former, ds.owner), former))
        for named, as_former in claimed:
            seen_at, seen_cluster, seen_owner, seen_former = first.setdefault(named, (at, cluster, ds.owner, as_former))
            if (seen_cluster, seen_owner) == (cluster, ds.owner) or (cluster, ds.owner) in said:
                continue
            said.add((cluster, ds.owner))
            pair = f"owner {show_value(ds.owner)} on cluster {cluster!r} (storage pool {ds.storage_pool!r})"
            seen = f"{seen_at} (owner {seen_owner!r} on cluster {seen_cluster!r})"
            resource = f"the data-pool namespace resource {component}-{named}"
            if as_former is None and seen_former is None:
                message = (
                    f"{pair} makes {resource}, as {seen} does: two resources cannot share a name; rename the "
                    "department or the cluster"
                )
            else:
                this = "makes" if as_former is None else f"aliases (cluster renamed_from {as_former!r})"
                that = "makes" if seen_former is None else f"aliases (cluster renamed_from {seen_former!r})"
                message = (
                    f"{pair} {this} {resource}, which {seen} {that}: Pulumi would take one deployed resource for two "
                    "namespaces, adopting the wrong one; rename the department or the cluster"
                )
            problems.append(Problem(file, f"{at}.owner", message))
    return problems


# What Neutron does with the second of two rules or routes alike.
_SECOND = {
    "security-group rule": "Neutron refuses a second rule alike (409 SecurityGroupRuleExists: descriptions do not "
    "tell rules apart), so `dizuo up` fails; list the port in one entry only",
    "router route": "a router holds a route once: the second fails `dizuo up`, and removing either entry would take "
    "away the route the other needs; declare both entries' ports in one",
}


def _neutron_duplicates(d: Declaration, shown: Shown) -> list[Problem]:
    """Two entries of network.yaml that make one rule or route as Neutron compares them (two flows between the same
    zones listing one port, two ingress sources of one range): names apart, Neutron holds one of them only."""
    from dizuo.network.shapes import NeutronEntry, neutron_entries  # noqa: PLC0415 - network imports the declaration

    net = shown("network.yaml")
    first: dict[tuple[str, tuple[str | int | None, ...]], NeutronEntry] = {}
    problems = []
    for made in neutron_entries(d.network):
        seen = first.setdefault((made.kind, made.key), made)
        if seen is not made:
            problems.append(
                Problem(
                    net,
                    made.path,
                    f"{made.name!r} {made.what}, as {seen.path} ({seen.name!r}) does: {_SECOND[made.kind]}",
                )
            )
    return problems


def _some(codes: Iterable[str]) -> str:
    """``a, b, c and 4 more``."""
    listed = list(codes)
    return ", ".join(listed[:3]) + (f" and {len(listed) - 3} more" if len(listed) > 3 else "")


def _dependency_cycles(d: Declaration, file: str) -> list[Problem]:
    # The first system of each code, as the other reference checks judge it: a later one is the duplicate, whose
    # dependencies would otherwise hide the first's cycle.
    first = first_of_each(enumerate(d.systems), lambda held: held[1].code)
    graph = {code: [x for x in s.depends_on if x != code] for code, (_, s) in first.items()}
    index = {code: i for code, (i, _) in first.items()}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    problems = []
    for root, children_of_root in graph.items():
        if root in state:
            continue
        stack = [(root, iter(children_of_root))]
        state[root] = 1
        path = [root]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif child in graph and state.get(child) == 1:
                cycle = [*path[path.index(child) :], child]
                problems.append(
                    Problem(file, f"systems[{index[child]}].depends_on", f"dependency cycle {' -> '.join(cycle)}")
                )
            elif child in graph and child not in state:
                state[child] = 1
                stack.append((child, iter(graph[child])))
                path.append(child)
    return problems


def _quantity(value: Fraction | int) -> str:
    """An amount as an error shows it, in full: a whole number as it is (``:g`` writes 1048576 GiB as 1.04858e+06),
    else its decimal (8.5, 1048576.25), which ends: sums of declared decimals, and halves of them per replica, are."""
    if value.denominator == 1:
        return str(value)
    return format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")


def _loaders_request(key: str, loaders: Fraction, clusters: int) -> str:
    """How a quota error names what a department's data loaders request of ``key`` in all."""
    return f"its data loaders (data_loaders.{key}, {_quantity(loaders)} in {clusters} cluster(s)) request"


def _quotas(d: Declaration, shown: Shown) -> list[Problem]:
    """Systems, with the department's data loaders and datasets, fit their department's quota; placements fit their
    node and storage pools."""
    problems = []
    # Exact sums of the declared decimals (see model.exact), so a pool or quota filled to the core is full, not over.
    used: dict[str, list[Fraction]] = defaultdict(lambda: [Fraction(0), Fraction(0), Fraction(0)])
    for s in d.systems:
        total = used[s.department]
        total[0] += exact(s.resources.cpu)
        total[1] += exact(s.resources.memory_gib)
        total[2] += s.resources.storage_gib
    # A department's datasets, volumes and buckets alike, are the government cloud's storage granted to it as much as
    # its systems' volumes: the capacity exporter counts their claims and buckets against its storage_gib.
    held: Counter[str] = Counter()
    datasets: Counter[str] = Counter()
    for ds in d.datasets:
        held[ds.owner] += ds.size_gib
        datasets[ds.owner] += 1
    first = first_of_each(d.departments, lambda x: x.code)
    for i, dept in enumerate(d.departments):
        if first[dept.code] is not dept:
            continue  # a code given twice (reported): its systems and datasets are the first holder's to fit
        cpu, memory, disk = used.get(dept.code, [Fraction(0), Fraction(0), Fraction(0)])
        # The data loaders' requests are reserved on the department's nodes like its systems' (the dp-<owner> quota
        # admits them, in each cluster holding its volumes), so they come out of the same grant: an error, as for
        # systems, since a quota the cloud cannot honour is one the department's own workloads find full.
        clusters = len(d.loader_clusters(dept.code))
        cpu_loaders = clusters * exact(dept.data_loaders.cpu)
        memory_loaders = clusters * exact(dept.data_loaders.memory_gib)
        for key, asked, extra, whose, granted in (
            ("cpu", cpu, cpu_loaders, _loaders_request("cpu", cpu_loaders, clusters), dept.quota.cpu),
            (
                "memory_gib",
                memory,
                memory_loaders,
                _loaders_request("memory_gib", memory_loaders, clusters),
                dept.quota.memory_gib,
            ),
            (
                "storage_gib",
                disk,
                Fraction(held[dept.code]),
                f"its datasets ({held[dept.code]} GiB in {datasets[dept.code]}, datasets.yaml) hold",
                dept.quota.storage_gib,
            ),
        ):
            if asked + extra > granted:
                why = (
                    f"{_quantity(asked + extra)} its systems ({_quantity(asked)}) and {whose}"
                    if extra
                    else f"{_quantity(asked)} its systems request"
                )
                problems.append(
                    Problem(
                        shown("departments.yaml"),
                        f"departments[{i}].quota.{key}",
                        f"{_quantity(granted)} is less than the {why}",
                    )
                )
    problems += _replicas_fit_a_node(d, shown)
    node_cpu: defaultdict[tuple[str, str], Fraction] = defaultdict(Fraction)
    node_memory: defaultdict[tuple[str, str], Fraction] = defaultdict(Fraction)
    storage: Counter[str] = Counter()
    for s in d.systems:
        node_cpu[s.cluster, s.node_pool] += exact(s.resources.cpu)
        node_memory[s.cluster, s.node_pool] += exact(s.resources.memory_gib)
        if s.storage_pool is not None:
            storage[s.storage_pool] += s.resources.storage_gib
    for ds in d.datasets:
        storage[ds.storage_pool] += ds.size_gib
    # A name given twice is reported; what is placed by that name is the first holder's to fit.
    first_cluster = first_of_each(d.clusters, lambda c: c.name)
    first_storage = first_of_each(d.storage_pools(), lambda p: p.name)
    for i, cluster in enumerate(d.clusters):
        if first_cluster[cluster.name] is not cluster:
            continue
        first_nodes = first_of_each(cluster.node_pools, lambda p: p.name)
        for j, pool in enumerate(cluster.node_pools):
            if first_nodes[pool.name] is not pool:
                continue
            at = f"clusters[{i}].node_pools[{j}]"
            if node_cpu[cluster.name, pool.name] > pool.cpu:
                problems.append(
                    Problem(
                        shown("clusters.yaml"),
                        f"{at}.nodes",
                        f"{pool.cpu} cores, but its systems request {_quantity(node_cpu[cluster.name, pool.name])}",
                    )
                )
            if node_memory[cluster.name, pool.name] > pool.memory_gib:
                problems.append(
                    Problem(
                        shown("clusters.yaml"),
                        f"{at}.memory_gib_per_node",
                        f"{pool.memory_gib} GiB in all, "
                        f"but its systems request {_quantity(node_memory[cluster.name, pool.name])}",
                    )
                )
        for j, spool in enumerate(cluster.storage_pools):
            if first_storage[spool.name] is spool and storage[spool.name] > spool.capacity_gib:
                problems.append(
                    Problem(
                        shown("clusters.yaml"),
                        f"clusters[{i}].storage_pools[{j}].capacity_gib",
                        f"{spool.capacity_gib} GiB, "
                        f"but {storage[spool.name]} GiB of volumes and datasets are placed on it",
                    )
                )
    return problems


def replica_oversize(s: System, pool: NodePool) -> list[tuple[str, Fraction, int, str]]:
    """What one replica of ``s`` asks beyond one node of ``pool``: (resources key, asked, a node's, unit) for each
    of cpu and memory it exceeds. A pool's total can hold the sum while no node can hold one pod, which then stays
    Pending for good."""
    from dizuo.cloud.shapes import REPLICAS  # noqa: PLC0415 - the cloud package imports the declaration

    return [
        (key, asked, node, unit)
        for key, asked, node, unit in (
            ("cpu", exact(s.resources.cpu) / REPLICAS, pool.cpu_per_node, " cores"),
            ("memory_gib", exact(s.resources.memory_gib) / REPLICAS, pool.memory_gib_per_node, " GiB"),
        )
        if asked > node
    ]


def _replicas_fit_a_node(d: Declaration, shown: Shown) -> list[Problem]:
    """Each replica of a system fits on one node of its pool (see replica_oversize)."""
    from dizuo.cloud.shapes import REPLICAS  # noqa: PLC0415 - the cloud package imports the declaration

    # The first cluster and node pool of each name, as _systems judges a system's node pool: a later pool of a
    # repeated name is reported as the duplicate, not measured against every system of the first.
    clusters = first_of_each(d.clusters, lambda c: c.name)
    pools = {name: first_of_each(c.node_pools, lambda p: p.name) for name, c in clusters.items()}
    problems = []
    for i, s in enumerate(d.systems):
        pool = pools.get(s.cluster, {}).get(s.node_pool)
        if pool is None:
            continue  # reported by _systems
        for key, asked, node, unit in replica_oversize(s, pool):
            problems.append(
                Problem(
                    shown("systems.yaml"),
                    f"systems[{i}].resources.{key}",
                    f"{_quantity(exact(getattr(s.resources, key)))}: each of its {REPLICAS} replicas asks "
                    f"{_quantity(asked)}{unit}, "
                    f"more than a node of {s.node_pool!r} has ({node}{unit})",
                )
            )
    return problems


def _datasets(d: Declaration, shown: Shown) -> list[Problem]:
    file = shown("datasets.yaml")
    departments = {x.code for x in d.departments}
    systems = first_of_each(d.systems, lambda s: s.code)
    holders = first_of_each(((c, p) for c in d.clusters for p in c.storage_pools), lambda held: held[1].name)
    pools = {name: p for name, (_, p) in holders.items()}
    pool_cluster = {name: c.name for name, (c, _) in holders.items()}
    pool_zone = {name: c.zone for name, (c, _) in holders.items()}
    exposed = {z.name for z in d.zones if z.kind is ZoneKind.INTERNET}
    problems = []
    for i, ds in enumerate(d.datasets):
        at = f"datasets[{i}]"
        if ds.owner not in departments:
            problems.append(Problem(file, f"{at}.owner", f"unknown department {show_value(ds.owner)}"))
        if ds.source_system is not None:
            source = systems.get(ds.source_system)
            if source is None:
                problems.append(Problem(file, f"{at}.source_system", f"unknown system {show_value(ds.source_system)}"))
            elif source.department != ds.owner:
                problems.append(
                    Problem(
                        file,
                        f"{at}.source_system",
                        f"{show_value(ds.source_system)} belongs to {source.department!r}, not the owner {ds.owner!r}",
                    )
                )
            elif ds.classification in SHIELDED and source.zone in exposed:
                # The source system holds the data the dataset is loaded from (一数一源: it is where the data is
                # kept first), on its own volumes in the zone it runs in: the rule the dataset's pool follows below.
                problems.append(
                    Problem(
                        file,
                        f"{at}.source_system",
                        f"{ds.classification.value} data cannot come from {show_value(ds.source_system)}, which runs "
                        f"in the internet zone {source.zone!r} and keeps the data there: its source system belongs in "
                        "an inner zone (what the DMZ collects of it goes in through a declared flow)",
                    )
                )
            else:
                problems += _loader_reaches(d, ds, source, file, f"{at}.source_system")
        pool = pools.get(ds.storage_pool)
        if pool is None:
            problems.append(Problem(file, f"{at}.storage_pool", f"unknown storage pool {show_value(ds.storage_pool)}"))
        elif (ds.kind == "bucket") != (pool.backend == "s3"):
            problems.append(
                Problem(
                    file,
                    f"{at}.storage_pool",
                    f"a {ds.kind} cannot live on {show_value(ds.storage_pool)} (backend {pool.backend})",
                )
            )
        elif ds.classification in SHIELDED and pool_zone.get(pool.name) in exposed:
            # The internet zone (DMZ) is the one an attacker reaches first; 数据安全法 art. 21 and GB/T 43697 hold
            # important and core data to stricter protection: it stays in an inner zone, and what the DMZ serves of
            # it crosses a declared flow.
            problems.append(
                Problem(
                    file,
                    f"{at}.storage_pool",
                    f"{ds.classification.value} data cannot live on {show_value(ds.storage_pool)}, a pool of "
                    f"cluster {pool_cluster[pool.name]!r} in the internet zone {pool_zone[pool.name]!r}: "
                    "put it on a pool of an inner zone (systems in the DMZ reach it through a declared flow)",
                )
            )
        if ds.retention_days < ds.refresh_days:
            problems.append(
                Problem(
                    file,
                    f"{at}.retention_days",
                    f"{ds.retention_days} is shorter than refresh_days {ds.refresh_days}",
                )
            )
    return problems


def _loader_reaches(d: Declaration, ds: Dataset, source: System, file: str, where: str) -> list[Problem]:
    """The owner's loader (``dp-<owner>`` on the cluster of the dataset's storage pool) pulls from ``source``: in
    another cluster, through a declared flow that opens its ingress controller. Nothing can push instead: the data
    pool's namespace admits no traffic."""
    clusters = first_of_each(d.clusters, lambda c: c.name)
    cluster = clusters.get(d.loader_cluster(ds) or "")
    placed = source.cluster in clusters and clusters[source.cluster].zone == source.zone
    if cluster is None or not placed or cluster.zone not in {z.name for z in d.zones}:
        return []  # a bucket, or a broken reference reported elsewhere
    loader = f" for the loader in dp-{ds.owner} on cluster {cluster.name!r} to pull from it"
    return _crossing(d, cluster.name, cluster.zone, source, file, where, loader)


def _hosts(d: Declaration, shown: Shown) -> list[Problem]:
    file = shown("hosts.yaml")
    zones = first_of_each(d.zones, lambda z: z.name)
    pinned = _pinned_addresses(d)
    problems = []
    for i, host in enumerate(d.inventory.hosts):
        zone = zones.get(host.zone)
        if zone is None:
            problems.append(Problem(file, f"hosts[{i}].zone", f"unknown zone {show_value(host.zone)}"))
            continue
        where = f"hosts[{i}].address"
        held = _host_address_in_zone(d, zone.name, host.address, file, where, "a host sits on one of them")
        if not held and host.address in pinned:
            held = [Problem(file, where, f"{show_value(host.address)} is {pinned[host.address]}")]
        problems += held
    problems += _duplicates(
        file, ((f"hosts[{i}].address", h.address) for i, h in enumerate(d.inventory.hosts)), "host address"
    )
    # Ansible warns of a group named like a host, and a host pattern of that name (--limit, harden and audit alike)
    # picks the host alone: the group's members could not be named by it.
    names = {h.name for h in d.inventory.hosts}
    problems += [
        Problem(
            file,
            f"hosts[{i}].groups[{k}]",
            f"{show_value(group)} is a host's name too: `--limit {group}` would pick that host, not this group",
        )
        for i, host in enumerate(d.inventory.hosts)
        for k, group in enumerate(host.groups)
        if group in names
    ]
    # Ansible's group names are letters, digits and _: it warns of a '-', and an ansible.cfg setting
    # TRANSFORM_INVALID_GROUP_CHARS renames the group, so group_vars, --limit and the playbooks' patterns miss it.
    problems += [
        Problem(
            file,
            f"hosts[{i}].groups[{k}]",
            f"Ansible group names take letters, digits and _, not '-' (Ansible warns of it, or renames the group): "
            f"write {group.replace('-', '_')!r}: {show_value(group)}",
        )
        for i, host in enumerate(d.inventory.hosts)
        for k, group in enumerate(host.groups)
        if "-" in group
    ]
    return problems + _one_machine_two_names(d, file)


def _one_machine_two_names(d: Declaration, file: str) -> list[Problem]:
    """Where Ansible connects (ansible_host, else the address, and the port) is one host's only: two hosts reaching one
    endpoint are one machine under two names, hardened twice and certified by the audit as two. Two addresses alike
    are the duplicate address already reported."""
    first: dict[tuple[str, int], int] = {}
    problems = []
    for i, host in enumerate(d.inventory.hosts):
        endpoint = (host.ansible_host or host.address, host.ansible_port)
        j = first.setdefault((_same_place(endpoint[0]), endpoint[1]), i)
        if j == i or not (host.ansible_host or d.inventory.hosts[j].ansible_host):
            continue
        # Named at the ansible_host that points there (this host's, else the first's, which the other's address hit).
        at, other = (i, j) if host.ansible_host else (j, i)
        problems.append(
            Problem(
                file,
                f"hosts[{at}].ansible_host",
                f"Ansible would connect to {endpoint[0]}:{endpoint[1]} for {d.inventory.hosts[other].name!r} "
                f"(hosts[{other}]) too: one machine under two names, whose audit would certify both: "
                f"{show_value(endpoint[0])}",
            )
        )
    return problems


def _same_place(where: str) -> str:
    """An address or host name as Ansible's connection reaches it: one form of an IPv6 address (fd00::10 is
    fd00:0:0::10), a name in any case and with or without its final dot."""
    try:
        return str(ipaddress.ip_address(where))
    except ValueError:
        return where.lower().removesuffix(".")


def _group_vars(d: Declaration, shown: Shown) -> list[Problem]:
    """hosts.yaml ``group_vars`` name groups of the rendered inventory: the declared ones, ``all`` and the
    ``zone_<zone>`` groups made for each zone with hosts; ``group_vars.all`` joins ``vars``, one value a variable."""
    file = shown("hosts.yaml")
    rendered = set(ansible_inventory(d)) - {"_meta"}
    # zone_<zone> as written of a zone whose name has a '-': the zone's group writes it '_'.
    spelt = {f"zone_{h.zone}": zone_group(h.zone) for h in d.inventory.hosts if "-" in h.zone}
    problems = [
        Problem(
            file,
            f"group_vars.{group}",
            f"no host is in this group: the group of zone {group.removeprefix('zone_')!r} is {spelt[group]}"
            if group in spelt
            else "no host is in this group",
        )
        for group in d.inventory.group_vars
        if group not in rendered
    ]
    problems += [
        Problem(file, f"group_vars.all.{key}", f"also set in vars (both are all.vars): keep one: {show_value(value)}")
        for key, value in d.inventory.group_vars.get("all", {}).items()
        if key in d.inventory.vars
    ]
    settings = [("vars", d.inventory.vars)] + [(f"group_vars.{g}", v) for g, v in d.inventory.group_vars.items()]
    problems += [
        Problem(file, f"{at}.{key}", why)
        for at, variables in settings
        for key, value in variables.items()
        if (why := _variable_problem(key, value))
    ]
    return problems


def _variable_problem(name: str, value: object) -> str:
    """What is wrong with Ansible variable ``name`` set to ``value`` in vars or group_vars, else ''."""
    if name in INVENTORY_OWN_VARIABLES:
        return f"{INVENTORY_OWN_VARIABLES[name]}: {show_value(value)}"
    # ansible.utils.vars.isidentifier, which ansible-core applies to inventory variables (without importing Ansible,
    # which every load would pay for).
    if not (name.isascii() and name.isidentifier() and not keyword.iskeyword(name)):
        return (
            "not a variable name Ansible takes: ASCII letters, digits and underscores, not first a digit, no Python "
            "keyword (ansible-core warns, and refuses it from 2.23)"
        )
    try:
        to_json(value)
    except (TypeError, ValueError) as exc:  # ValueError: a value that holds itself (an alias inside its anchor)
        why = f"Ansible's dynamic-inventory JSON cannot carry it ({exc})"
        return f"{why}: write text, a number, a list or a mapping: {show_value(value)}"
    return ""


# Variables the rendered inventory sets from hosts.yaml's own keys. A host's are host variables, above any group's
# in Ansible's precedence: the same name in vars or group_vars is silently ignored. The connecting account is the
# one the baseline treats as the automation account; another set beside it would connect as someone else.
INVENTORY_OWN_VARIABLES = {
    "ansible_host": "set per host by its address (or its ansible_host): a group's value is ignored",
    "ansible_port": "set per host by its ansible_port: a group's value is ignored",
    "dizuo_zone": "set per host by its zone: a group's value is ignored",
    "dizuo_os": "set per host by its os: a group's value is ignored",
    "dizuo_arch": "set per host by its arch: a group's value is ignored",
    "ansible_user": "the automation account is hosts.yaml's ansible_user, which the baseline expects to connect",
    "dizuo_city": "set from city.yaml's code",
}
# Ansible's other names for the address, port and account it connects to: the `vars` of the ssh and paramiko
# connection plugins' host, port and remote_user options. Ansible reads them after the names above, so a value set
# for a group is not ignored but wins over each host's own: all its hosts would connect to one address, on one port or
# as another account, and harden and audit would act on, and certify, machines other than the ones declared.
_WINS = "Ansible's other name for {}, and it wins over each host's own: every host it is set for would connect {}"
INVENTORY_OWN_VARIABLES |= {
    "ansible_ssh_host": _WINS.format("ansible_host", "to this one address"),
    "ansible_paramiko_host": _WINS.format("ansible_host", "to this one address"),
    "ansible_ssh_port": _WINS.format("ansible_port", "on this port"),
    "ansible_paramiko_port": _WINS.format("ansible_port", "on this port"),
    "ansible_ssh_user": _WINS.format("ansible_user", "as this account, not hosts.yaml's ansible_user"),
    "ansible_paramiko_user": _WINS.format("ansible_user", "as this account, not hosts.yaml's ansible_user"),
}


def _some_domestic() -> str:
    return ", ".join(sorted(x.value for x in DOMESTIC_DATABASES - {Database.NONE}))


def _legacy_fill(d: Declaration, m: Migration, legacy: StoragePool, city: str) -> list[Problem]:
    """What stays on the legacy pool whatever moves (its datasets; systems of other clusters, which are no
    candidates) must fit the fill target: no move can change it, and a planner left no room for the candidates
    would still find a plan while the pool stays over the target."""
    staying = sum(ds.size_gib for ds in d.datasets if ds.storage_pool == legacy.name)
    staying += sum(
        s.resources.storage_gib for s in d.systems if s.storage_pool == legacy.name and s.cluster != m.cluster
    )
    limit = m.fill_gib(legacy)
    if staying <= limit:
        return []
    return [
        Problem(
            city,
            "migration.fill_target",
            f"{m.fill_target:.0%} of {legacy.name!r} ({legacy.capacity_gib:,} GiB) is {limit:,} GiB, but {staying:,} "
            "GiB that no move relieves stays on it (its datasets, systems of other clusters): no plan reaches it; "
            f"raise the target or move the datasets: {show_value(m.fill_target)}",
        )
    ]


def _migration(d: Declaration, shown: Shown) -> list[Problem]:
    """city.yaml ``migration`` names pools of its cluster, and every candidate can be costed: a budget, and a
    domestic replacement for its database."""
    m = d.city.migration
    if m is None:
        return []
    city, systems_file = shown("city.yaml"), shown("systems.yaml")
    cluster = next((c for c in d.clusters if c.name == m.cluster), None)
    if cluster is None:
        return [Problem(city, "migration.cluster", f"unknown cluster {show_value(m.cluster)}")]
    problems = []
    storage = first_of_each(cluster.storage_pools, lambda p: p.name)
    if m.legacy_storage_pool not in storage:
        problems.append(
            Problem(
                city,
                "migration.legacy_storage_pool",
                f"no storage pool {show_value(m.legacy_storage_pool)} in cluster {cluster.name!r}",
            )
        )
    legacy = storage.get(m.legacy_storage_pool)
    if legacy is not None:
        problems += _legacy_fill(d, m, legacy, city)
    target = storage.get(m.target_storage_pool)
    if target is None or target.backend == "s3" or m.target_storage_pool == m.legacy_storage_pool:
        why = (
            f"no storage pool {show_value(m.target_storage_pool)} in cluster {cluster.name!r}"
            if target is None
            else f"{show_value(m.target_storage_pool)} is an object store, not a volume pool"
            if target.backend == "s3"
            else "the legacy pool itself"
        )
        problems.append(Problem(city, "migration.target_storage_pool", why))
    node_pools = first_of_each(cluster.node_pools, lambda p: p.name)
    candidates = d.migration_candidates()
    for i, name in enumerate(m.target_node_pools):
        at, pool = f"migration.target_node_pools[{i}]", node_pools.get(name)
        running = [s.code for s in candidates if s.node_pool == name]
        if pool is None:
            problems.append(Problem(city, at, f"no node pool {show_value(name)} in cluster {cluster.name!r}"))
        elif pool.cpu_vendor not in XINCHUANG_VENDORS:
            problems.append(
                Problem(
                    city,
                    at,
                    f"{show_value(name)} is not a Xinchuang pool (cpu_vendor {pool.cpu_vendor.value}); systems move "
                    f"to {', '.join(sorted(v.value for v in XINCHUANG_VENDORS))} pools",
                )
            )
        if running:  # "moving" there would keep them where they are, counted twice against its capacity
            problems.append(
                Problem(
                    city,
                    at,
                    f"systems on the legacy pool run on {show_value(name)} already ({_some(running)}): a target is "
                    "a pool they move to",
                )
            )
    problems += _duplicates(
        city, ((f"migration.target_node_pools[{i}]", name) for i, name in enumerate(m.target_node_pools)), "node pool"
    )
    # Exact: as floats 0.33 + 0.56 + 0.11 is 1.0000000000000002, refused as more than a budget they add up to.
    shares = exact(m.cost_share.base) + exact(m.cost_share.new_arch) + exact(m.cost_share.database)
    if shares > 1:
        problems.append(
            Problem(city, "migration.cost_share", f"the shares add up to {_quantity(shares)}, more than the budget")
        )
    for foreign, domestic in m.database_replacement.items():
        if foreign in DOMESTIC_DATABASES:
            problems.append(
                Problem(
                    city, f"migration.database_replacement.{foreign.value}", "is domestic already: nothing to replace"
                )
            )
        if domestic not in DOMESTIC_DATABASES or domestic is Database.NONE:
            problems.append(
                Problem(
                    city,
                    f"migration.database_replacement.{foreign.value}",
                    f"must be a domestic database ({_some_domestic()}): {show_value(domestic.value)}",
                )
            )
    unreplaced: defaultdict[Database, list[str]] = defaultdict(list)
    moving_groups = {s.move_group for s in candidates if s.move_group is not None}
    joined: dict[str, System] = {}  # a partly moved group's first moved member: the rest go to its node pool
    for i, s in enumerate(d.systems):
        if s.move_group in moving_groups and s.cluster == m.cluster and s.storage_pool != m.legacy_storage_pool:
            problems += _moving_group_member(m, s, joined, systems_file, f"systems[{i}].move_group")
        if s.cluster != m.cluster or s.storage_pool != m.legacy_storage_pool:
            continue
        if s.database not in DOMESTIC_DATABASES and s.database not in m.database_replacement:
            unreplaced[s.database].append(s.code)
        if s.budget_cny is None:
            problems.append(
                Problem(
                    systems_file,
                    f"systems[{i}].budget_cny",
                    f"required: {s.code!r} is on the legacy pool "
                    f"{m.legacy_storage_pool!r}, and its adaptation cost is a share of its budget",
                )
            )
    problems += [
        Problem(
            city,
            "migration.database_replacement",
            f"names no domestic replacement for {database.value}, which systems on the legacy pool use: {_some(codes)}",
        )
        for database, codes in unreplaced.items()
    ]
    return problems
