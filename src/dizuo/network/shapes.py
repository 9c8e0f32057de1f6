"""Pure shape functions of the network: the zone flow matrix turned into security-group rules."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from dizuo.declaration.model import Flow, IngressSource, NetworkFile, Subnet, Zone


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One ingress rule on a zone's security group."""

    zone: str
    key: str
    protocol: str
    port: int | None  # None: every port of the protocol
    remote_cidr: str
    description: str

    @property
    def resource(self) -> str:
        """The rule's resource name, without the component's prefix (one per zone and key)."""
        return f"{self.zone}-{self.key}"


def rule_key(name: str, protocol: str, port: int | None) -> str:
    """The part of a flow's or ingress source's security-group rule name that tells its rules apart."""
    return f"{name}-{protocol}-{port or 'all'}"


def within_rule_name(zone: str) -> str:
    """The rule letting a zone's members reach each other (prefixed by the component's name)."""
    return f"{zone}-within"


def zone_route_name(here: str, there: str) -> str:
    """The route of zone ``here``'s router to zone ``there`` over the transit network."""
    return f"{here}-to-{there}-route"


def ingress_route_name(destination: str, ingress: str) -> str:
    """The route of zone ``destination``'s router to the range of ingress source ``ingress``, via its next hop."""
    return f"{destination}-{ingress}-route"


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
                    key=rule_key(flow.name, flow.protocol, port),
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
                    key=rule_key(ingress.name, ingress.protocol, port),
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
    """Key path of the entry in network.yaml, e.g. ``flows[3].name``."""
    entry: str
    """The entry, as a reader finds it: ``'tax-sync' into zone 'dedicated'``."""


def generated_names(network: NetworkFile) -> list[GeneratedName]:
    """Every rule and route name the network component makes from the declaration: zone and flow names joined with
    hyphens, which two different entries can spell alike (flow ``tax-sync`` into zone ``dedicated``, flow ``sync``
    into zone ``dedicated-tax``). Pulumi refuses a program giving two resources one name."""
    rule, route = "security-group rule", "router route"
    names = [
        GeneratedName(rule, within_rule_name(z.name), f"zones[{i}].name", f"zone {z.name!r}")
        for i, z in enumerate(network.zones)
    ]
    entries: list[tuple[str, Flow | IngressSource, tuple[int | None, ...]]] = [
        *((f"flows[{i}].name", f, f.ports or (None,)) for i, f in enumerate(network.flows)),
        *((f"ingress[{i}].name", g, g.ports) for i, g in enumerate(network.ingress)),
    ]
    names += [
        GeneratedName(
            rule,
            f"{entry.destination}-{rule_key(entry.name, entry.protocol, port)}",
            path,
            f"{entry.name!r} into zone {entry.destination!r}",
        )
        for path, entry, ports in entries
        for port in ports
    ]
    for i, ingress in enumerate(network.ingress):
        if ingress.via is not None:
            names.append(
                GeneratedName(
                    route,
                    ingress_route_name(ingress.destination, ingress.name),
                    f"ingress[{i}].name",
                    f"{ingress.name!r} into zone {ingress.destination!r}",
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
        if not ipaddress.IPv4Network(i.cidr).is_private
    ]
    return "; ".join(reasons) or None


def gateway(cidr: str) -> str:
    """The conventional gateway of a subnet: its first host address."""
    return str(next(ipaddress.IPv4Network(cidr).hosts()))


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
