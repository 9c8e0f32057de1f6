"""CityNetwork: one OpenStack network, router and security group per zone, with the flow matrix as rules.

The zone routers meet on a transit network. A router routes to another zone only where a declared flow links the
two, so the flow matrix is enforced twice: by routes (which zones can reach each other at all) and by security
groups (which ports).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_openstack as openstack

from dizuo.aliases import aliased
from dizuo.contracts import NetworkContract, ZoneContract
from dizuo.declaration.model import NetworkFile
from dizuo.naming import management_port_tag
from dizuo.naming import name as dz_name
from dizuo.network.shapes import (
    WITHIN_RULE_DESCRIPTION,
    address_key,
    allocation_pools,
    former_ingress_route_name,
    former_rule_names,
    gateway,
    ingress_route_name,
    ingress_rules,
    needs_external_network,
    neutron_description,
    reserved_addresses,
    subnet_holding,
    unambiguous_formers,
    within_rule_name,
    zone_route_name,
)


@dataclass(frozen=True, kw_only=True)
class CityNetworkArgs:
    """Inputs of :class:`CityNetwork`."""

    prefix: str
    """Prefix of every resource name (the city's ``prefix``)."""
    network: NetworkFile
    """Zones, subnets and flows from ``network.yaml``."""
    external_network: str | None = None
    """The provider network the internet zone's router uses as gateway: its UUID, or its name (looked up)."""
    ingress_addresses: dict[str, str] = field(default_factory=dict)
    """Each cluster's ingress address (clusters.yaml), by cluster name: reserved on its subnet."""
    renamed_clusters: dict[str, str] = field(default_factory=dict)
    """Each renamed cluster's former name (clusters.yaml ``renamed_from``), by its name: its ingress port's alias."""
    host_addresses: tuple[str, ...] = ()
    """The addresses of the hosts of hosts.yaml: left out of their subnets' allocation pools, so that Neutron never
    hands one to another machine (a VM booted before the host, or beside a host outside Neutron)."""


def configured_external_network(config: pulumi.Config, network: NetworkFile) -> str | None:
    """``dizuo:externalNetwork`` of the stack's config; a RunError naming the key and the config file when it is missing
    or blank and the network needs it (:func:`needs_external_network`)."""
    given = config.get("externalNetwork")
    # A blank value (`dizuo:externalNetwork: ""`, a placeholder) names no network: it would leave the router without a
    # gateway, or look up a network called "  " at deploy time.
    external_network = given.strip() if given is not None and given.strip() else None
    if external_network is None and (why := needs_external_network(network)):
        said = "missing" if given is None else f"blank ({given!r})"
        raise pulumi.RunError(
            f"{Path(f'Pulumi.{pulumi.get_stack()}.yaml').resolve()}: config.dizuo:externalNetwork: {said}: {why}, "
            "and the internet zone's router needs the government cloud's provider network as gateway; set its name or "
            "UUID with `pulumi config set dizuo:externalNetwork <name or UUID>` in this folder"
        )
    return external_network


def external_network_id(name_or_id: str, opts: pulumi.InvokeOptions | None = None) -> pulumi.Input[str]:
    """Neutron wants the provider network's UUID; people know its name. A UUID is used as it is."""
    try:
        return str(uuid.UUID(name_or_id))
    except ValueError:
        return openstack.networking.get_network_output(name=name_or_id, external=True, opts=opts).id


class CityNetwork(pulumi.ComponentResource):
    """The zones of the e-government network on the government cloud's OpenStack."""

    contract: NetworkContract
    ingress_ports: dict[str, openstack.networking.Port]
    """The port holding each cluster's ingress address, by cluster name."""

    def __init__(self, name: str, args: CityNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dizuo:network:CityNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Neutron edits no security-group rule: every field forces a new one, its description too. Its description is
        # therefore written once, when the rule is made, and left as it is (ignore_changes): a flow, ingress source or
        # zone renamed, or a flow's description reworded, would otherwise replace the rule, and no replacement keeps
        # the traffic flowing. Pulumi creates the new rule first by default, and Neutron refuses it beside the old one
        # (409 SecurityGroupRuleExists: its duplicate check ignores the description), failing every update from then
        # on; deleting the old one first stops what it admits until the new one is made. A rule Pulumi still replaces
        # (its zone's security group made anew, or `pulumi up --replace`) has the old one deleted first, as Terraform,
        # which the provider is built for, does by default: Neutron would refuse the new one beside it.
        rule_child = pulumi.ResourceOptions(parent=self, delete_before_replace=True, ignore_changes=["description"])
        zones: list[ZoneContract] = []
        groups: dict[str, openstack.networking.SecGroup] = {}
        routers: dict[str, openstack.networking.Router] = {}
        subnets: dict[str, openstack.networking.Subnet] = {}
        interfaces: dict[str, openstack.networking.RouterInterface] = {}
        networks: dict[str, openstack.networking.Network] = {}
        gateway_id = (
            external_network_id(args.external_network, pulumi.InvokeOptions(parent=self))
            if args.external_network
            else None
        )
        reserved = reserved_addresses(args.network, args.ingress_addresses.values()) | set(args.host_addresses)
        # A zone renamed in the declaration (its renamed_from) keeps every resource named after it, under its new name
        # (an alias to the former one): the network, router, group and their rules and routes are renamed in place, not
        # replaced. A new network of the zone would get its subnets made before the old ones go, a new transit port the
        # router's pinned address, which the old port holds, and new rules Neutron refuses beside the old ones alike.
        formerly = {z.name: z.renamed_from for z in args.network.zones if z.renamed_from is not None}
        for zone in args.network.zones:
            zone_name = dz_name(args.prefix, zone.name)
            was = zone.renamed_from
            network = openstack.networking.Network(
                f"{name}-{zone.name}-net",
                name=zone_name,
                description=neutron_description(f"{zone.title} ({zone.kind.value})"),
                admin_state_up=True,
                tags=["dizuo", f"zone:{zone.name}"],
                opts=aliased(child, was and f"{name}-{was}-net"),
            )
            router = openstack.networking.Router(
                f"{name}-{zone.name}-router",
                name=dz_name(args.prefix, zone.name, "router"),
                description=neutron_description(f"{zone.title} router"),
                # Only the internet DMZ routes out; the other zones reach the world only through declared flows.
                external_network_id=gateway_id if zone.kind.value == "internet" else None,
                tags=["dizuo", f"zone:{zone.name}"],
                opts=aliased(child, was and f"{name}-{was}-router"),
            )
            routers[zone.name] = router
            networks[zone.name] = network
            # stateful groups with no rule deny everything: the flow matrix below is the only way in.
            group = openstack.networking.SecGroup(
                f"{name}-{zone.name}-sg",
                name=dz_name(args.prefix, zone.name, "sg"),
                description=neutron_description(f"{zone.title}: only declared flows may enter"),
                # The city's management ports, for the policy pack's management-ports-not-public (DZ-AC-07).
                tags=[
                    "dizuo",
                    f"zone:{zone.name}",
                    *(management_port_tag(port) for port in args.network.management_ports),
                ],
                opts=aliased(child, was and f"{name}-{was}-sg"),
            )
            groups[zone.name] = group
            # Members of a zone talk to each other (Kubernetes nodes and their API server, kubelets, the CNI's
            # tunnels, a system and its database): the zone is the unit of trust; its edges are the flows below.
            openstack.networking.SecGroupRule(
                f"{name}-{within_rule_name(zone.name)}",
                security_group_id=group.id,
                direction="ingress",
                ethertype="IPv4",
                remote_group_id=group.id,
                # Names nothing the declaration renames or rewords (the rule is in the zone's group, whose name says
                # the zone), so that it never goes out of date. Rules made before keep theirs (rule_child): the zone's
                # title up to dizuo 0.1.0, its code since, the former code after a zone rename.
                description=WITHIN_RULE_DESCRIPTION,
                opts=aliased(rule_child, was and f"{name}-{within_rule_name(was)}"),
            )
            subnet_ids = []
            for subnet in zone.subnets:
                pools = allocation_pools(subnet, reserved)
                sub = openstack.networking.Subnet(
                    f"{name}-{subnet.name}-subnet",
                    name=dz_name(args.prefix, subnet.name),
                    network_id=network.id,
                    cidr=subnet.cidr,
                    ip_version=4,
                    gateway_ip=subnet.gateway or gateway(subnet.cidr),
                    # The addresses the ports below hold, and the hosts', are left out of the pool from the start:
                    # Neutron's own ports (DHCP, metadata) take theirs from it as soon as the subnet exists.
                    allocation_pools=[
                        openstack.networking.SubnetAllocationPoolArgs(start=start, end=end) for start, end in pools
                    ],
                    # A subnet with no address left to hand out (a /30 uplink: the zone router and the line's) has no
                    # DHCP: no pool given means Neutron's default one, whose DHCP or metadata port would take the
                    # reserved address.
                    enable_dhcp=bool(pools),
                    tags=["dizuo", f"zone:{zone.name}"],
                    # A renamed subnet is the deployed one under its former name, renamed in place. As a new resource
                    # it would be made before the old one goes, and Neutron refuses a second subnet of one range on a
                    # network ("Requested subnet with cidr ... overlaps with another subnet"); deleting the old one
                    # first would cut its machines off, and Neutron deletes no subnet with their ports on it anyway.
                    opts=aliased(child, subnet.renamed_from and f"{name}-{subnet.renamed_from}-subnet"),
                )
                interfaces[subnet.name] = openstack.networking.RouterInterface(
                    f"{name}-{subnet.name}-rif",
                    router_id=router.id,
                    subnet_id=sub.id,
                    opts=aliased(child, subnet.renamed_from and f"{name}-{subnet.renamed_from}-rif"),
                )
                subnet_ids.append(sub.id)
                subnets[subnet.name] = sub
            zones.append(
                ZoneContract(
                    name=zone.name,
                    cidr=zone.cidr,
                    network_id=network.id,  # type: ignore[arg-type]  # resolved when exported
                    security_group_id=group.id,  # type: ignore[arg-type]
                    subnet_ids=tuple(subnet_ids),  # type: ignore[arg-type]
                )
            )
        rules = ingress_rules(args.network)
        # Rules are named after what Neutron compares, so that renaming a flow or an ingress source keeps its rules
        # (their descriptions as made, above). Up to dizuo 0.1.0 they were named after the entry: the alias lets a
        # stack deployed then find each rule under its new name, instead of replacing every one of them.
        former_rules = unambiguous_formers(
            ((rule.resource, rule.former) for rule in rules), [within_rule_name(z.name) for z in args.network.zones]
        )
        for rule in rules:
            up_to_0_1_0 = former_rules.get(rule.resource)
            openstack.networking.SecGroupRule(
                f"{name}-{rule.resource}",
                security_group_id=groups[rule.zone].id,
                direction="ingress",
                ethertype="IPv4",
                protocol=rule.protocol,
                port_range_min=rule.port,
                port_range_max=rule.port,
                remote_ip_prefix=rule.remote_cidr,
                description=neutron_description(rule.description),
                opts=aliased(
                    rule_child,
                    up_to_0_1_0 and f"{name}-{up_to_0_1_0}",
                    *(
                        f"{name}-{former}"
                        for former in former_rule_names(
                            rule.zone, rule.protocol, rule.port, rule.remote_cidr, formerly.get(rule.zone)
                        )
                    ),
                ),
            )
        self._route_between_zones(name, args, routers, child, formerly)
        # Ingress from outside into a zone without an external network (the provincial extranet line): the zone router
        # routes the source range to the line's router, whose address is held like the ingress addresses.
        next_hops: dict[str, openstack.networking.Port] = {}
        # Routes are named after their range and next hop, which the router holds once, and aliased to their names up
        # to dizuo 0.1.0 (after the ingress source), as the rules are.
        former_routes = unambiguous_formers(
            (
                (ingress_route_name(i.destination, i.cidr, i.via), former_ingress_route_name(i.destination, i.name))
                for i in args.network.ingress
                if i.via is not None
            ),
            [zone_route_name(*ends) for a, b in args.network.routed_zone_pairs() for ends in ((a, b), (b, a))],
        )
        for ingress in args.network.ingress:
            if ingress.via is None:
                continue
            if ingress.via not in next_hops:
                using = [i.name for i in args.network.ingress if i.via == ingress.via]
                next_hops[ingress.via] = self._reserve(
                    f"{name}-next-hop-{address_key(ingress.via)}",
                    dz_name(args.prefix, "next-hop", address_key(ingress.via)),
                    args,
                    networks,
                    subnets,
                    ingress.via,
                    f"next hop {ingress.via} of ingress from outside: the router of the line it comes in on",
                    # The port is named after the address it holds, so that adding, removing or reordering the
                    # ingress sources using it never renames (replaces) it. Before, it was named after the first
                    # of them: whichever that was when the stack was last updated, it is this port.
                    aliases=[f"{name}-{i}-next-hop" for i in using],
                )
            held = subnet_holding(args.network, ingress.via)
            assert held is not None  # noqa: S101 - _reserve raised otherwise
            route = ingress_route_name(ingress.destination, ingress.cidr, ingress.via)
            up_to_0_1_0 = former_routes.get(route)
            openstack.networking.RouterRoute(
                f"{name}-{route}",
                router_id=routers[ingress.destination].id,
                destination_cidr=ingress.cidr,
                next_hop=ingress.via,
                opts=aliased(
                    # Neutron accepts a next hop only on a subnet the router is attached to.
                    pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[interfaces[held[1].name]])),
                    up_to_0_1_0 and f"{name}-{up_to_0_1_0}",
                    (was := formerly.get(ingress.destination))
                    and f"{name}-{ingress_route_name(was, ingress.cidr, ingress.via)}",
                ),
            )
        self.ingress_ports = {
            cluster: self._reserve(
                f"{name}-{cluster}-ingress",
                dz_name(args.prefix, cluster, "ingress"),
                args,
                networks,
                subnets,
                address,
                f"ingress address of cluster {cluster}: the DNS names it serves point here",
                # A renamed cluster's port is the deployed one, renamed in place: as a new one it would ask for the
                # address the old one holds, and the old one is protected.
                aliases=[f"{name}-{was}-ingress"] if (was := args.renamed_clusters.get(cluster)) else None,
            )
            for cluster, address in sorted(args.ingress_addresses.items())
        }
        self.contract = NetworkContract(zones=tuple(zones))
        self.register_outputs(
            {"zones": [z.name for z in zones], "ingress_ports": {c: p.id for c, p in self.ingress_ports.items()}}
        )

    def _reserve(
        self,
        resource: str,
        port_name: str,
        args: CityNetworkArgs,
        networks: dict[str, openstack.networking.Network],
        subnets: dict[str, openstack.networking.Subnet],
        address: str,
        purpose: str,
        aliases: list[str] | None = None,
    ) -> openstack.networking.Port:
        """A port holding ``address`` on its subnet, so that Neutron's allocation (DHCP, a new VM) never hands it
        out. What answers there (the ingress controller's nodes through keepalived or MetalLB, a router) lists it in
        its own ports' allowed_address_pairs, or is attached to this port."""
        held = subnet_holding(args.network, address)
        if held is None:  # validate refuses it: only a declaration that skipped validation gets here
            raise ValueError(f"{address} ({purpose}) is in no declared subnet")
        zone, subnet = held
        return openstack.networking.Port(
            resource,
            name=port_name,
            description=neutron_description(f"Reserved: {purpose}"),
            network_id=networks[zone.name].id,
            admin_state_up=True,
            fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=subnets[subnet.name].id, ip_address=address)],
            tags=["dizuo", f"zone:{zone.name}", "reserved"],
            # Protected: names in the city's DNS resolve to this address. Moving or dropping it is a planned change
            # (DNS first, then `pulumi state unprotect`), never the side effect of an edit to the declaration, which
            # would hand the address back to DHCP while clients still go there.
            opts=aliased(pulumi.ResourceOptions(parent=self, protect=True), *(aliases or [])),
        )

    def _route_between_zones(
        self,
        name: str,
        args: CityNetworkArgs,
        routers: dict[str, openstack.networking.Router],
        child: pulumi.ResourceOptions,
        formerly: Mapping[str, str],
    ) -> None:
        """The transit network, one port of each zone router on it, and a route each way per linked zone pair;
        ``formerly``: the former name of each zone renamed (its resources' aliases)."""
        network = args.network
        if network.transit is None:
            return  # validation requires a transit network as soon as a flow links two zones
        transit = openstack.networking.Network(
            f"{name}-transit-net",
            name=dz_name(args.prefix, "transit"),
            description="Link network of the zone routers",
            admin_state_up=True,
            tags=["dizuo", "zone:transit"],
            opts=child,
        )
        subnet = openstack.networking.Subnet(
            f"{name}-transit-subnet",
            name=dz_name(args.prefix, "transit"),
            network_id=transit.id,
            cidr=network.transit.cidr,
            ip_version=4,
            no_gateway=True,  # only routers live here, each with its own address; nothing routes via a gateway
            enable_dhcp=False,
            tags=["dizuo", "zone:transit"],
            opts=child,
        )
        addresses = network.transit_addresses()
        attached: dict[str, openstack.networking.RouterInterface] = {}
        for zone in network.zones:
            was = formerly.get(zone.name)
            port = openstack.networking.Port(
                f"{name}-{zone.name}-transit-port",
                name=dz_name(args.prefix, zone.name, "transit"),
                network_id=transit.id,
                admin_state_up=True,
                fixed_ips=[openstack.networking.PortFixedIpArgs(subnet_id=subnet.id, ip_address=addresses[zone.name])],
                tags=["dizuo", f"zone:{zone.name}"],
                opts=aliased(child, was and f"{name}-{was}-transit-port"),
            )
            attached[zone.name] = openstack.networking.RouterInterface(
                f"{name}-{zone.name}-transit-rif",
                router_id=routers[zone.name].id,
                port_id=port.id,
                opts=aliased(child, was and f"{name}-{was}-transit-rif"),
            )
        cidr = {z.name: z.cidr for z in network.zones}
        for a, b in network.routed_zone_pairs():
            for here, there in ((a, b), (b, a)):
                renamed = here in formerly or there in formerly
                openstack.networking.RouterRoute(
                    f"{name}-{zone_route_name(here, there)}",
                    router_id=routers[here].id,
                    destination_cidr=cidr[there],
                    next_hop=addresses[there],
                    opts=aliased(
                        # Neutron accepts a next hop only on a subnet the router is attached to.
                        pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[attached[here]])),
                        f"{name}-{zone_route_name(formerly.get(here, here), formerly.get(there, there))}"
                        if renamed
                        else None,
                    ),
                )
