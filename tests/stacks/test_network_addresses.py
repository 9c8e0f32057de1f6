"""Addresses the declaration pins on a zone's subnets are held by Neutron ports, so that no VM gets them."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from declarations import city_copy
from dizuo.declaration import Declaration
from dizuo.declaration.model import Subnet
from dizuo.network.shapes import allocation_pools
from dizuo.synth.engine import Registered, StackRun

from .conftest import run_tiers


def test_each_cluster_s_ingress_address_is_reserved_on_its_subnet(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """The address the city's DNS names point at is held by a protected port on the subnet that contains it (DHCP
    never hands it to a VM), and the stack exports its port for the nodes' allowed_address_pairs."""
    network = runs["network"]
    subnet_cidr = {f"{s.name}-id": s.inputs["cidr"] for s in network.of_type("openstack:networking/subnet:Subnet")}
    subnet_net = {f"{s.name}-id": s.inputs["networkId"] for s in network.of_type("openstack:networking/subnet:Subnet")}
    held = {
        ip["ipAddress"]: (port, ip["subnetId"])
        for port in network.of_type("openstack:networking/port:Port")
        for ip in port.inputs["fixedIps"]
    }
    exported = network.exports["ingress_addresses"]
    for cluster in yulin.clusters:
        assert cluster.ingress_address is not None
        assert cluster.ingress_address in held, f"{cluster.name}: {cluster.ingress_address} is not reserved"
        port, subnet = held[cluster.ingress_address]
        assert ipaddress.IPv4Address(cluster.ingress_address) in ipaddress.IPv4Network(subnet_cidr[subnet])
        assert port.inputs["networkId"] == subnet_net[subnet], port.name
        assert port.protect, f"{port.name}: an edit of the declaration could hand the address back to DHCP"
        assert exported[cluster.name] == {"address": cluster.ingress_address, "port_id": f"{port.name}-id"}


def test_no_address_a_port_holds_is_in_its_subnet_s_allocation_pool(
    runs: dict[str, StackRun], yulin: Declaration
) -> None:
    """Neutron's own ports (each DHCP agent's, OVN's metadata port) and any VM booted meanwhile take addresses of a
    subnet's pool as soon as it exists, before the stack's ports for ingress addresses and next hops: those addresses
    are left out of the pool from the start, else one taken fails the port (IpAddressAlreadyAllocated) for good. The
    pools hold every other host address but the gateway and the hosts' (see below)."""
    network = runs["network"]
    # The transit network's subnet has no gateway and no DHCP: only the routers' ports, each with its address.
    subnets = {
        f"{s.name}-id": s
        for s in network.of_type("openstack:networking/subnet:Subnet")
        if not s.inputs.get("noGateway")
    }
    held = {
        ip["ipAddress"]: ip["subnetId"]
        for port in network.of_type("openstack:networking/port:Port")
        for ip in port.inputs["fixedIps"]
        if ip["subnetId"] in subnets
    }
    assert held, "Yulin reserves its ingress addresses and the provincial line's next hop"
    for address, subnet_id in held.items():
        pools = subnets[subnet_id].inputs.get("allocationPools")
        assert pools, f"{subnets[subnet_id].name}: no allocation pool, Neutron's default holds {address}"
        inside = [p for p in pools if _in(address, p)]
        assert not inside, f"{subnets[subnet_id].name}: {address}, which a port holds, is in its pool {inside}"
    for subnet in subnets.values():
        net = ipaddress.IPv4Network(subnet.inputs["cidr"])
        pools = subnet.inputs["allocationPools"]
        hosts = sum(int(ipaddress.IPv4Address(p["end"])) - int(ipaddress.IPv4Address(p["start"])) + 1 for p in pools)
        reserved = sum(held_subnet == f"{subnet.name}-id" for held_subnet in held.values())
        machines = sum(ipaddress.IPv4Address(h.address) in net for h in yulin.inventory.hosts)
        assert hosts == net.num_addresses - 3 - reserved - machines, f"{subnet.name}: pools {pools} leave out more"
        assert not any(_in(subnet.inputs["gatewayIp"], p) for p in pools), f"{subnet.name}: gateway in {pools}"


def test_a_point_to_point_uplink_has_no_dhcp_to_take_its_next_hop(tmp_path: Path) -> None:
    """On a /30 uplink the zone router holds one host address and the line's router, the next hop, the other: no
    pool is left, and without a pool Neutron makes its default one, whose DHCP port would take the next hop. Such a
    subnet has no DHCP; the other subnets keep theirs."""

    def point_to_point(network: dict[str, Any]) -> None:
        (extranet,) = [z for z in network["zones"] if z["name"] == "extranet"]
        (uplink,) = [s for s in extranet["subnets"] if s["name"] == "ext-uplink"]
        uplink["cidr"] = "10.61.0.0/30"

    run = run_tiers(city_copy(tmp_path / "city", {"network.yaml": point_to_point}), "0-network")["0-network"]
    subnets = {s.name: s.inputs for s in run.of_type("openstack:networking/subnet:Subnet")}
    assert subnets["yl-ext-uplink-subnet"]["enableDhcp"] is False
    assert not subnets["yl-ext-uplink-subnet"].get("allocationPools")
    with_dhcp = [name for name, s in subnets.items() if s.get("enableDhcp")]
    assert len(with_dhcp) == len(subnets) - 2, f"only the uplink and the transit network lack DHCP: {with_dhcp}"


def test_no_host_address_is_in_its_subnet_s_allocation_pool(runs: dict[str, StackRun], yulin: Declaration) -> None:
    """The address of each host of hosts.yaml is left out of its subnet's pools: Neutron never hands it to another
    machine, a VM booted before the host is, or one beside a host Neutron does not know (two on one address)."""
    subnets = {
        s.inputs["cidr"]: s
        for s in runs["network"].of_type("openstack:networking/subnet:Subnet")
        if not s.inputs.get("noGateway")
    }
    assert yulin.inventory.hosts
    for host in yulin.inventory.hosts:
        (subnet,) = [
            s for cidr, s in subnets.items() if ipaddress.IPv4Address(host.address) in ipaddress.IPv4Network(cidr)
        ]
        inside = [p for p in subnet.inputs["allocationPools"] if _in(host.address, p)]
        assert not inside, f"{host.name}: {host.address} is in the pool {inside} of {subnet.name}"


def _in(address: str, pool: dict[str, str]) -> bool:
    ip = ipaddress.IPv4Address(address)
    return ipaddress.IPv4Address(pool["start"]) <= ip <= ipaddress.IPv4Address(pool["end"])


@pytest.mark.parametrize(
    ("gateway", "reserved", "expected"),
    [
        (None, [], [("10.0.0.2", "10.0.0.14")]),
        (None, ["10.0.0.2"], [("10.0.0.3", "10.0.0.14")]),
        ("10.0.0.14", ["10.0.0.5", "10.0.0.6", "10.0.0.1"], [("10.0.0.2", "10.0.0.4"), ("10.0.0.7", "10.0.0.13")]),
        (None, ["10.0.0.14", "10.0.1.5"], [("10.0.0.2", "10.0.0.13")]),
    ],
    ids=["none-reserved", "next-to-the-gateway", "gateway-last-two-adjacent", "last-host-and-another-subnet-s"],
)
def test_an_allocation_pool_is_every_host_address_but_the_gateway_and_those_reserved(
    gateway: str | None, reserved: list[str], expected: list[tuple[str, str]]
) -> None:
    """The pools of 10.0.0.0/28 cover its host addresses (.1 to .14) less the gateway and the reserved addresses in
    it, split around each, adjacent ones in one gap; addresses of other subnets are no concern of it."""
    subnet = Subnet(name="uplink", cidr="10.0.0.0/28", gateway=gateway)
    assert allocation_pools(subnet, reserved) == expected


def test_ingress_from_outside_is_routed_into_its_zone(runs: dict[str, StackRun], yulin: Declaration) -> None:
    """Every declared ingress can reach its zone and be answered: into the internet zone through its external
    network, into any other zone through a route to its source range via the declared next hop, which a port holds
    on the subnet the zone router is attached to."""
    network = runs["network"]
    router_of = {
        r.name.removeprefix("yl-").removesuffix("-router"): f"{r.name}-id"
        for r in network.of_type("openstack:networking/router:Router")
    }
    routes = {
        (r.inputs["routerId"], r.inputs["destinationCidr"]): r
        for r in network.of_type("openstack:networking/routerRoute:RouterRoute")
    }
    held = {ip["ipAddress"] for p in network.of_type("openstack:networking/port:Port") for ip in p.inputs["fixedIps"]}
    gateways = {
        r.name: r.inputs.get("externalNetworkId") for r in network.of_type("openstack:networking/router:Router")
    }
    checked = 0
    for ingress in yulin.network.ingress:
        if gateways[f"yl-{ingress.destination}-router"] is not None and ingress.via is None:
            continue  # the internet zone answers through its external network
        route = routes.get((router_of[ingress.destination], ingress.cidr))
        assert route is not None, f"{ingress.name}: no route from {ingress.destination} to {ingress.cidr}"
        assert route.inputs["nextHop"] == ingress.via
        assert ingress.via in held, f"{ingress.name}: next hop {ingress.via} is not reserved"
        checked += 1
    assert checked, "Yulin's provincial extranet line is routed"


def _next_hop_port(run: StackRun, address: str) -> Registered:
    (port,) = [
        p
        for p in run.of_type("openstack:networking/port:Port")
        if address in [ip["ipAddress"] for ip in p.inputs["fixedIps"]]
    ]
    return port


def test_the_port_holding_a_next_hop_keeps_its_name_whichever_ingress_uses_it(tmp_path: Path) -> None:
    """The protected port holding an ingress `via` is named after its address: an ingress using the same next hop
    added before the first one (or the first one removed) neither replaces it nor leaves it unmanaged, and a stack
    deployed when it was named after its first ingress finds it under its alias."""

    def another_line_first(network: dict[str, Any]) -> None:
        province = next(i for i in network["ingress"] if i["name"] == "province-extranet")
        backup = {**province, "name": "province-backup", "cidr": "192.168.200.0/24", "description": "备用线路"}
        network["ingress"].insert(network["ingress"].index(province), backup)

    before = run_tiers(city_copy(tmp_path / "before"), "0-network")["0-network"]
    after = run_tiers(city_copy(tmp_path / "after", {"network.yaml": another_line_first}), "0-network")["0-network"]
    old, new = _next_hop_port(before, "10.61.0.2"), _next_hop_port(after, "10.61.0.2")
    assert new.urn == old.urn, f"{old.name} became {new.name}: Pulumi would replace the protected port"
    assert new.protect
    named_after_first_ingress = old.urn.replace(old.name, "yl-province-extranet-next-hop")
    assert named_after_first_ingress in new.aliases, f"{new.name}: the port of an existing deployment is not aliased"
