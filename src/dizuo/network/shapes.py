"""Pure shape functions of the network: the zone flow matrix turned into security-group rules."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from dizuo.declaration.model import NetworkFile, Subnet, Zone


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One ingress rule on a zone's security group."""

    zone: str
    key: str
    protocol: str
    port: int | None  # None: every port of the protocol
    remote_cidr: str
    description: str


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
                    key=f"{flow.name}-{flow.protocol}-{port or 'all'}",
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
                    key=f"{ingress.name}-{ingress.protocol}-{port}",
                    protocol=ingress.protocol,
                    port=port,
                    remote_cidr=ingress.cidr,
                    description=f"{ingress.name}: {ingress.cidr} -> {ingress.destination} "
                    f"{ingress.description}".strip(),
                )
            )
    return rules


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
