"""CityNetwork: one OpenStack network, router and security group per zone, with the flow matrix as rules."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

from dizuo.contracts import NetworkContract, ZoneContract
from dizuo.declaration.model import NetworkFile
from dizuo.naming import name as dz_name
from dizuo.network.shapes import gateway, ingress_rules


@dataclass(frozen=True, kw_only=True)
class CityNetworkArgs:
    """Inputs of :class:`CityNetwork`."""

    prefix: str
    """Prefix of every resource name (the city's ``prefix``)."""
    network: NetworkFile
    """Zones, subnets and flows from ``network.yaml``."""
    external_network_id: pulumi.Input[str] | None = None
    """The provider network routers use as gateway (only the internet zone gets one)."""


class CityNetwork(pulumi.ComponentResource):
    """The zones of the e-government network on the government cloud's OpenStack."""

    contract: NetworkContract

    def __init__(self, name: str, args: CityNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dizuo:network:CityNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        zones: list[ZoneContract] = []
        groups: dict[str, openstack.networking.SecGroup] = {}
        for zone in args.network.zones:
            zone_name = dz_name(args.prefix, zone.name)
            network = openstack.networking.Network(
                f"{name}-{zone.name}-net",
                name=zone_name,
                description=f"{zone.title} ({zone.kind.value})",
                admin_state_up=True,
                tags=["dizuo", f"zone:{zone.name}"],
                opts=child,
            )
            router = openstack.networking.Router(
                f"{name}-{zone.name}-router",
                name=dz_name(args.prefix, zone.name, "router"),
                description=f"{zone.title} router",
                # Only the internet DMZ routes out; the other zones reach the world only through declared flows.
                external_network_id=args.external_network_id if zone.kind.value == "internet" else None,
                tags=["dizuo", f"zone:{zone.name}"],
                opts=child,
            )
            # stateful groups with no rule deny everything: the flow matrix below is the only way in.
            group = openstack.networking.SecGroup(
                f"{name}-{zone.name}-sg",
                name=dz_name(args.prefix, zone.name, "sg"),
                description=f"{zone.title}: only declared flows may enter",
                tags=["dizuo", f"zone:{zone.name}"],
                opts=child,
            )
            groups[zone.name] = group
            # Members of a zone talk to each other (Kubernetes nodes and their API server, kubelets, the CNI's
            # tunnels, a system and its database): the zone is the unit of trust; its edges are the flows below.
            openstack.networking.SecGroupRule(
                f"{name}-{zone.name}-within",
                security_group_id=group.id,
                direction="ingress",
                ethertype="IPv4",
                remote_group_id=group.id,
                description=f"{zone.title}: traffic between the zone's own members",
                opts=child,
            )
            subnet_ids = []
            for subnet in zone.subnets:
                sub = openstack.networking.Subnet(
                    f"{name}-{subnet.name}-subnet",
                    name=dz_name(args.prefix, subnet.name),
                    network_id=network.id,
                    cidr=subnet.cidr,
                    ip_version=4,
                    gateway_ip=subnet.gateway or gateway(subnet.cidr),
                    enable_dhcp=True,
                    tags=["dizuo", f"zone:{zone.name}"],
                    opts=child,
                )
                openstack.networking.RouterInterface(
                    f"{name}-{subnet.name}-rif",
                    router_id=router.id,
                    subnet_id=sub.id,
                    opts=child,
                )
                subnet_ids.append(sub.id)
            zones.append(
                ZoneContract(
                    name=zone.name,
                    cidr=zone.cidr,
                    network_id=network.id,  # type: ignore[arg-type]  # resolved when exported
                    security_group_id=group.id,  # type: ignore[arg-type]
                    subnet_ids=tuple(subnet_ids),  # type: ignore[arg-type]
                )
            )
        for rule in ingress_rules(args.network):
            openstack.networking.SecGroupRule(
                f"{name}-{rule.zone}-{rule.key}",
                security_group_id=groups[rule.zone].id,
                direction="ingress",
                ethertype="IPv4",
                protocol=rule.protocol,
                port_range_min=rule.port,
                port_range_max=rule.port,
                remote_ip_prefix=rule.remote_cidr,
                description=rule.description[:255],
                opts=child,
            )
        self.contract = NetworkContract(zones=tuple(zones))
        self.register_outputs({"zones": [z.name for z in zones]})
