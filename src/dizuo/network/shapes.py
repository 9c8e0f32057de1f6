"""Pure shape functions of the network: the zone flow matrix turned into security-group rules."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from dizuo.addresses import is_city_own
from dizuo.declaration.model import Flow, IngressSource, NetworkFile, Subnet, Zone


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One ingress rule on a zone's security group."""

    zone: str
    entry: str
    """The name of the flow or ingress source it is made from."""
    protocol: str
    port: int | None  # None: every port of the protocol
    remote_cidr: str
    description: str

    @property
    def resource(self) -> str:
        """The rule's resource name, without the component's prefix: see :func:`rule_name`."""
        return rule_name(self.zone, self.protocol, self.port, self.remote_cidr)

    @property
    def former(self) -> str:
        """The name the rule had up to dizuo 0.1.0, after its entry: see :func:`former_rule_name`."""
        return former_rule_name(self.zone, self.entry, self.protocol, self.port)


def range_key(cidr: str) -> str:
    """An IPv4 range as a piece of a resource name: ``172.16.0.0/12`` -> ``172-16-0-0-12``."""
    network = ipaddress.IPv4Network(cidr)
    return f"{address_key(str(network.network_address))}-{network.prefixlen}"


def rule_name(zone: str, protocol: str, port: int | None, remote_cidr: str) -> str:
    """A flow's or ingress source's security-group rule, named after what Neutron tells rules apart by (the zone's
    group, protocol, port, remote range), never after the entry: renaming a flow or an ingress source then leaves the
    rule as it is, under the same name. Named after the entry, the renamed rule was a new resource, which Pulumi
    creates before it deletes the old one, and Neutron refuses it (409 SecurityGroupRuleExists: its duplicate check
    ignores the description). Two rules of one name are two rules Neutron holds once (``validate`` refuses them).
    A rule admitting every address says so, ``from-anywhere``: in digits (``from-0-0-0-0-0``) a reader of a preview
    could take the rule open to the world for one from some range."""
    anywhere = ipaddress.IPv4Network(remote_cidr).prefixlen == 0
    return _rule_name(zone, protocol, port, "anywhere" if anywhere else range_key(remote_cidr))


def former_rule_names(zone: str, protocol: str, port: int | None, remote_cidr: str, zone_was: str | None) -> set[str]:
    """The names a rule had before it was renamed (its aliases), but for the one of the 0.1.0 release
    (:func:`former_rule_name`): its zone's former name (``zone_was``, a zone's ``renamed_from``), and a rule from
    anywhere its range in digits (``from-0-0-0-0-0``, before :func:`rule_name` wrote ``from-anywhere``)."""
    names = set()
    for named_zone in [zone] if zone_was is None else [zone, zone_was]:
        names.add(rule_name(named_zone, protocol, port, remote_cidr))
        names.add(_rule_name(named_zone, protocol, port, range_key(remote_cidr)))
    names.discard(rule_name(zone, protocol, port, remote_cidr))
    return names


def _rule_name(zone: str, protocol: str, port: int | None, source: str) -> str:
    """:func:`rule_name` with the remote range already a piece of a name (``anywhere``, ``172-16-0-0-12``)."""
    return f"{zone}-{protocol}-{port or 'all'}-from-{source}"


def former_rule_name(zone: str, entry: str, protocol: str, port: int | None) -> str:
    """The name of a flow's or ingress source's rule up to dizuo 0.1.0, after the entry: the rule's alias, so that a
    stack deployed then finds its rules under their new names instead of replacing each."""
    return f"{zone}-{entry}-{protocol}-{port or 'all'}"


def within_rule_name(zone: str) -> str:
    """The rule letting a zone's members reach each other (prefixed by the component's name)."""
    return f"{zone}-within"


WITHIN_RULE_DESCRIPTION = "Traffic between the members of this security group: the zone's own"
"""The description of the rule letting a zone's members reach each other: the same for every zone, naming neither
its code nor its title, which a declaration renames or rewords while Neutron keeps a rule's description as it was
made (replacing the rule would cut the zone's members off from each other meanwhile)."""


def zone_route_name(here: str, there: str) -> str:
    """The route of zone ``here``'s router to zone ``there`` over the transit network."""
    return f"{here}-to-{there}-route"


def ingress_route_name(destination: str, cidr: str, via: str) -> str:
    """The route of zone ``destination``'s router to an ingress source's range ``cidr`` via its next hop ``via``: named
    after what the router holds once (range and next hop), never after the ingress source, which a rename would
    otherwise turn into a second route alike, made before the old one goes."""
    return f"{destination}-{range_key(cidr)}-via-{address_key(via)}-route"


def former_ingress_route_name(destination: str, ingress: str) -> str:
    """The name of an ingress route up to dizuo 0.1.0, after its ingress source: the route's alias (see
    :func:`former_rule_name`)."""
    return f"{destination}-{ingress}-route"


def unambiguous_formers(renamed: Iterable[tuple[str, str]], others: Iterable[str] = ()) -> dict[str, str]:
    """Of the ``(name, former name)`` pairs of resources of one kind, by name, the former names that can stand for one
    resource only. A former name two resources share, or which another resource (of ``others`` or ``renamed``) has
    now, never named one deployed resource (``validate`` refused such a declaration), and Pulumi refuses two
    resources claiming one alias, or an alias that is another resource's name."""
    pairs = list(renamed)
    taken = {name for name, _ in pairs} | set(others)
    uses = Counter(former for _, former in pairs)
    return {name: former for name, former in pairs if uses[former] == 1 and former not in taken}


def ingress_rules(network: NetworkFile) -> list[RuleSpec]:
    """Every ingress rule, per destination zone: declared flows between zones, then external ingress.

    Default deny comes from OpenStack itself: a security group admits only what a rule allows.
    """
    cidr = {z.name: z.cidr for z in network.zones}
    rules: list[RuleSpec] = []
    for flow in network.flows:
        for port in flow.ports or (None,):
            rules.append(
                RuleSpec(
                    zone=flow.destination,
                    entry=flow.name,
                    protocol=flow.protocol,
                    port=port,
                    remote_cidr=cidr[flow.source],
                    description=f"{flow.name}: {flow.source} -> {flow.destination} {flow.description}".strip(),
                )
            )
    for ingress in network.ingress:
        for port in ingress.ports:
            rules.append(
                RuleSpec(
                    zone=ingress.destination,
                    entry=ingress.name,
                    protocol=ingress.protocol,
                    port=port,
                    remote_cidr=ingress.cidr,
                    description=f"{ingress.name}: {ingress.cidr} -> {ingress.destination} "
                    f"{ingress.description}".strip(),
                )
            )
    return rules


@dataclass(frozen=True, slots=True)
class GeneratedName:
    """The name of a security-group rule or router route, and the network.yaml entry it is made from."""

    kind: str
    """What is named: ``security-group rule`` or ``router route`` (names need to differ within a kind only)."""
    name: str
    """The resource name, without the component's prefix."""
    path: str
    """Key path of the entry in network.yaml, e.g. ``flows[3].ports[0]``."""
    entry: str
    """The entry, as a reader finds it: ``'tax-sync' into zone 'dedicated'``."""
    as_neutron_compares: bool = False
    """Named after what Neutron tells rules (or routes) apart by: two such entries of one name make one Neutron rule
    or route, which :func:`neutron_entries` reports with what Neutron does with it."""


def generated_names(network: NetworkFile) -> list[GeneratedName]:
    """Every rule and route name the network component makes from the declaration: zone names and ranges joined with
    hyphens, which zone names contain too, so two different entries could spell one name alike. Pulumi refuses a
    program giving two resources one name. Entries of zones the declaration does not have are left out (validation
    reports them)."""
    rule, route = "security-group rule", "router route"
    cidr = {z.name: z.cidr for z in network.zones}
    names = [
        GeneratedName(rule, within_rule_name(z.name), f"zones[{i}].name", f"zone {z.name!r}")
        for i, z in enumerate(network.zones)
    ]
    entries: list[tuple[str, Flow | IngressSource, str, tuple[int | None, ...]]] = [
        *(
            (f"flows[{i}]", f, cidr[f.source], f.ports or (None,))
            for i, f in enumerate(network.flows)
            if f.source in cidr and f.destination in cidr
        ),
        *((f"ingress[{i}]", g, g.cidr, g.ports) for i, g in enumerate(network.ingress) if g.destination in cidr),
    ]
    names += [
        GeneratedName(
            rule,
            rule_name(entry.destination, entry.protocol, port, remote),
            f"{path}.ports[{j}]" if port is not None else f"{path}.protocol",
            f"{entry.name!r} into zone {entry.destination!r}",
            as_neutron_compares=True,
        )
        for path, entry, remote, ports in entries
        for j, port in enumerate(ports)
    ]
    for i, ingress in enumerate(network.ingress):
        if ingress.via is not None and ingress.destination in cidr:
            names.append(
                GeneratedName(
                    route,
                    ingress_route_name(ingress.destination, ingress.cidr, ingress.via),
                    f"ingress[{i}].via",
                    f"{ingress.name!r} into zone {ingress.destination!r}",
                    as_neutron_compares=True,
                )
            )
    first_flow: dict[frozenset[str], tuple[int, str]] = {}
    for i, flow in enumerate(network.flows):
        first_flow.setdefault(frozenset((flow.source, flow.destination)), (i, flow.name))
    for a, b in network.routed_zone_pairs():
        i, flow_name = first_flow[frozenset((a, b))]
        names += [
            GeneratedName(route, zone_route_name(here, there), f"flows[{i}]", f"{flow_name!r} linking {a!r} and {b!r}")
            for here, there in ((a, b), (b, a))
        ]
    return names


@dataclass(frozen=True, slots=True)
class NeutronEntry:
    """A security-group rule or router route as Neutron tells them apart, and the network.yaml entry it is made from."""

    kind: str
    """``security-group rule`` or ``router route``."""
    key: tuple[str | int | None, ...]
    """What Neutron compares: zone, protocol, port and remote range of a rule; zone, range and next hop of a route."""
    path: str
    """Key path of the entry in network.yaml, e.g. ``flows[3].ports[0]``."""
    name: str
    """The entry's name."""
    what: str
    """What it opens or routes, as a reader says it: ``opens tcp 443 from 172.16.0.0/12 into zone 'extranet'``."""


def neutron_entries(network: NetworkFile) -> list[NeutronEntry]:
    """Every rule and route the network component makes, keyed as Neutron compares them: it refuses a rule alike
    but for its description (409 SecurityGroupRuleExists), and a router holds a route (range and next hop) once.
    Entries of zones the declaration does not have are left out (validation reports them)."""
    cidr = {z.name: z.cidr for z in network.zones}
    rule, route = "security-group rule", "router route"
    found = []
    for i, flow in enumerate(network.flows):
        if flow.source not in cidr or flow.destination not in cidr:
            continue
        for j, port in enumerate(flow.ports or (None,)):
            found.append(
                NeutronEntry(
                    rule,
                    (flow.destination, flow.protocol, port, str(ipaddress.IPv4Network(cidr[flow.source]))),
                    f"flows[{i}].ports[{j}]" if flow.ports else f"flows[{i}].protocol",
                    flow.name,
                    f"opens {flow.protocol} {port or 'on every port'} from zone {flow.source!r} "
                    f"({cidr[flow.source]}) into zone {flow.destination!r}",
                )
            )
    for i, ingress in enumerate(network.ingress):
        if ingress.destination not in cidr:
            continue
        source = str(ipaddress.IPv4Network(ingress.cidr))
        found += [
            NeutronEntry(
                rule,
                (ingress.destination, ingress.protocol, port, source),
                f"ingress[{i}].ports[{j}]",
                ingress.name,
                f"opens {ingress.protocol} {port} from {source} into zone {ingress.destination!r}",
            )
            for j, port in enumerate(ingress.ports)
        ]
        if ingress.via is not None:
            found.append(
                NeutronEntry(
                    route,
                    (ingress.destination, source, ingress.via),
                    f"ingress[{i}].via",
                    ingress.name,
                    f"routes {source} via {ingress.via} on the router of zone {ingress.destination!r}",
                )
            )
    return found


def needs_external_network(network: NetworkFile) -> str | None:
    """Why the network needs a provider network as the internet zone's gateway (an internet-kind zone, a public
    ingress source), or None. Without one its router routes nowhere while rules admitting the world are created."""
    reasons = [f"zone {z.name!r} is of kind internet" for z in network.zones if z.kind.value == "internet"]
    reasons += [
        f"ingress {i.name!r} comes from the public {i.cidr}"
        for i in network.ingress
        if not is_city_own(ipaddress.IPv4Network(i.cidr))
    ]
    return "; ".join(reasons) or None


# Neutron refuses a description longer than this (characters): neutron_lib's DESCRIPTION_FIELD_SIZE.
NEUTRON_DESCRIPTION = 255


def neutron_description(text: str) -> str:
    """``text`` cut to what Neutron accepts as a description: a zone title or a flow's description has no bound in the
    declaration, and one too long would fail the update of the network stack."""
    return text[:NEUTRON_DESCRIPTION]


def gateway(cidr: str) -> str:
    """The conventional gateway of a subnet: its first host address."""
    return str(next(ipaddress.IPv4Network(cidr).hosts()))


def reserved_addresses(network: NetworkFile, ingress_addresses: Iterable[str]) -> set[str]:
    """The addresses the network stack holds with a port: the next hop of each ingress source (``via``) and each
    cluster's ingress address."""
    return {i.via for i in network.ingress if i.via is not None} | set(ingress_addresses)


def allocation_pools(subnet: Subnet, reserved: Iterable[str]) -> list[tuple[str, str]]:
    """The ranges (first, last) Neutron hands addresses out of on ``subnet``: its host addresses less its gateway and
    the ``reserved`` ones it holds. A port holding an address is created after the subnet, and in between Neutron's
    own ports take addresses of the pool (each DHCP agent's port, OVN's metadata port, a VM booted meanwhile): one that
    took a reserved address would fail the port with IpAddressAlreadyAllocated, on every update. Outside the pool, an
    address is only ever given to a port that asks for it by address."""
    net = ipaddress.IPv4Network(subnet.cidr)
    first, last = int(net.network_address) + 1, int(net.broadcast_address) - 1
    held = {ipaddress.IPv4Address(subnet.gateway or gateway(subnet.cidr)), *map(ipaddress.IPv4Address, reserved)}
    pools, start = [], first
    for address in sorted(int(a) for a in held if a in net):
        if first <= address <= last:
            if start < address:
                pools.append((start, address - 1))
            start = max(start, address + 1)
    if start <= last:
        pools.append((start, last))
    return [(str(ipaddress.IPv4Address(a)), str(ipaddress.IPv4Address(b))) for a, b in pools]


def address_key(address: str) -> str:
    """An IPv4 address as a piece of a resource name: ``10.61.0.2`` -> ``10-61-0-2``."""
    return str(ipaddress.IPv4Address(address)).replace(".", "-")


def subnet_holding(network: NetworkFile, address: str) -> tuple[Zone, Subnet] | None:
    """The zone and subnet whose range holds ``address``, if any."""
    ip = ipaddress.IPv4Address(address)
    return next(
        ((z, s) for z in network.zones for s in z.subnets if ip in ipaddress.IPv4Network(s.cidr)),
        None,
    )


def unusable_host(subnet: Subnet, address: str) -> str | None:
    """Why ``address`` of ``subnet`` cannot be a host's (its gateway, network or broadcast address), or None."""
    net, ip = ipaddress.IPv4Network(subnet.cidr), ipaddress.IPv4Address(address)
    if ip == ipaddress.IPv4Address(subnet.gateway or gateway(subnet.cidr)):
        return f"the gateway of subnet {subnet.name!r} ({subnet.cidr})"
    if ip in (net.network_address, net.broadcast_address):
        return f"the network or broadcast address of subnet {subnet.name!r} ({subnet.cidr})"
    return None
