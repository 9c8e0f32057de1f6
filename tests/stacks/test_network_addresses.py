"""Addresses the declaration pins on a zone's subnets are held by Neutron ports, so that no VM gets them."""

from __future__ import annotations

import ipaddress

from dizuo.declaration import Declaration
from dizuo.synth.engine import StackRun


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
