"""Addresses pinned on a zone's subnets (a cluster's ingress address, an ingress next hop, a host) are host addresses of
one of them, and no two things hold one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dizuo.declaration import DeclarationError, load

from .conftest import Edit


def _ingress_address(cluster: int, address: str) -> Any:
    def change(doc: Any) -> None:
        doc["clusters"][cluster]["ingress_address"] = address

    return change


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (
            "10.61.16.1",
            "clusters[0].ingress_address: '10.61.16.1' is the gateway of subnet 'ext-k8s-nodes' (10.61.16.0/20)",
        ),
        (
            "10.61.200.5",
            "clusters[0].ingress_address: '10.61.200.5' is in none of zone 'extranet''s subnets "
            "(ext-app 10.61.1.0/24, ",
        ),
        (
            "10.61.16.0",
            "clusters[0].ingress_address: '10.61.16.0' is the network or broadcast address of subnet "
            "'ext-k8s-nodes' (10.61.16.0/20)",
        ),
        (
            "10.61.31.255",
            "clusters[0].ingress_address: '10.61.31.255' is the network or broadcast address of subnet 'ext-k8s-nodes'",
        ),
        ("10.62.16.10", "clusters[1].ingress_address: duplicate ingress address '10.62.16.10' (first at"),
        (
            "10.61.0.2",
            "clusters[0].ingress_address: '10.61.0.2' is the next hop of ingress 'province-extranet' (network.yaml "
            "ingress[1].via)",
        ),
    ],
    ids=["gateway", "in-no-subnet", "network-address", "broadcast-address", "twice", "an-ingress-next-hop"],
)
def test_an_ingress_address_no_port_can_hold_is_refused(city: Path, edit: Edit, address: str, expected: str) -> None:
    """validate refuses an ingress address that is a subnet's gateway, network or broadcast address, lies in none of
    the zone's subnets, or is another cluster's or an ingress source's next hop (the network stack would reserve two
    ports of one address), naming file, key and value."""
    edit("clusters.yaml", _ingress_address(0, address))
    with pytest.raises(DeclarationError) as caught:
        load(city)
    found = [str(p) for p in caught.value.problems]
    assert any(f"clusters.yaml: {expected}" in p for p in found), found


def _province_via(via: str | None) -> Any:
    def change(doc: Any) -> None:
        (ingress,) = [i for i in doc["ingress"] if i["name"] == "province-extranet"]
        if via is None:
            ingress.pop("via", None)
        else:
            ingress["via"] = via

    return change


@pytest.mark.parametrize(
    ("via", "expected"),
    [
        (
            None,
            "network.yaml: ingress[1].via: required: zone 'extranet' has no external network, so nothing routes the "
            "replies to 172.16.0.0/12",
        ),
        ("10.62.1.5", "network.yaml: ingress[1].via: '10.62.1.5' is outside zone 'extranet'"),
        ("10.61.0.1", "network.yaml: ingress[1].via: '10.61.0.1' is the gateway of subnet 'ext-uplink'"),
    ],
    ids=["missing", "other-zone", "gateway"],
)
def test_an_ingress_into_a_zone_without_an_external_network_names_its_next_hop(
    city: Path, edit: Edit, via: str | None, expected: str
) -> None:
    """An ingress into a zone whose router has no external gateway (the extranet) routes only through a declared next
    hop on one of the zone's subnets: without one, or with one the router cannot reach, validate refuses it."""
    edit("network.yaml", _province_via(via))
    with pytest.raises(DeclarationError) as caught:
        load(city)
    found = [str(p) for p in caught.value.problems]
    assert any(expected in p for p in found), found


def _province_cidr(cidr: str) -> Any:
    def change(doc: Any) -> None:
        (ingress,) = [i for i in doc["ingress"] if i["name"] == "province-extranet"]
        ingress["cidr"] = cidr

    return change


@pytest.mark.parametrize(
    ("cidr", "expected"),
    [
        ("10.0.0.0/8", "'10.0.0.0/8' overlaps zone 'internet' (10.62.0.0/16)"),
        ("10.62.0.0/16", "'10.62.0.0/16' overlaps zone 'internet' (10.62.0.0/16)"),
        ("10.61.128.0/17", "'10.61.128.0/17' overlaps zone 'extranet' (10.61.0.0/16)"),
        ("10.60.255.8/29", "'10.60.255.8/29' overlaps the transit network (10.60.255.0/28)"),
    ],
    ids=["every-zone", "another-zone", "its-own-zone", "transit"],
)
def test_an_ingress_range_inside_the_city_is_refused(city: Path, edit: Edit, cidr: str, expected: str) -> None:
    """An ingress from outside may not name a range of the city's own zones or transit network: its security-group
    rules would open the destination to those zones past the flow matrix, and its route would compete with theirs."""
    edit("network.yaml", _province_cidr(cidr))
    with pytest.raises(DeclarationError) as caught:
        load(city)
    found = [str(p) for p in caught.value.problems]
    assert any(f"network.yaml: ingress[1].cidr: {expected}" in p for p in found), found


@pytest.mark.parametrize(
    "cidr",
    ["198.18.0.0/15", "240.0.0.0/4", "192.0.2.0/24", "169.254.0.0/16", "0.0.0.0/8", "100.64.0.0/10"],
    ids=["benchmarking", "reserved", "documentation", "link-local", "this-network", "shared-address-space"],
)
def test_an_ingress_from_beyond_the_city_s_own_ranges_reaches_only_the_internet_zone(
    city: Path, edit: Edit, cidr: str
) -> None:
    """A source outside RFC 1918 and loopback is the internet's, as the policy pack has it, even where ipaddress calls
    it private (benchmarking, reserved, documentation, link-local): it may not enter the extranet."""
    edit("network.yaml", _province_cidr(cidr))
    with pytest.raises(DeclarationError) as caught:
        load(city)
    found = [str(p) for p in caught.value.problems]
    expected = f"network.yaml: ingress[1].destination: public sources ({cidr}: not within the city's own"
    assert any(expected in p and "may only reach the internet zone, not 'extranet'" in p for p in found), found


@pytest.mark.parametrize("cidr", ["127.0.0.0/8", "127.0.0.1/32"])
def test_an_ingress_from_loopback_is_refused(city: Path, edit: Edit, cidr: str) -> None:
    """Loopback counts as the city's own (a security-group rule from it opens nothing), but no traffic from outside
    a host comes from it: an ingress naming it is a mistake, refused with its key path and value."""
    edit("network.yaml", _province_cidr(cidr))
    with pytest.raises(DeclarationError) as caught:
        load(city)
    found = [str(p) for p in caught.value.problems]
    assert any(f"network.yaml: ingress[1].cidr: '{cidr}' is loopback" in p for p in found), found


def _public_line(cidr: str) -> Any:
    """A line from ``cidr`` into the internet zone on 8443, ending on a router at 10.62.1.5 of subnet inet-dmz."""

    def change(doc: Any) -> None:
        doc["ingress"].append(
            {"name": "partner-line", "cidr": cidr, "destination": "internet", "ports": [8443], "via": "10.62.1.5"}
        )

    return change


def test_a_next_hop_for_the_whole_internet_is_refused(city: Path, edit: Edit) -> None:
    """An ingress from 0.0.0.0/0 with a next hop routes every range there: a second default route on the internet
    zone's router beside its external network's, which would send the replies to all citizens to that next hop."""
    edit("network.yaml", _public_line("0.0.0.0/0"))
    with pytest.raises(DeclarationError) as caught:
        load(city)
    found = [str(p) for p in caught.value.problems]
    expected = "network.yaml: ingress[2].via: '10.62.1.5' would be the next hop of every range (0.0.0.0/0)"
    assert any(expected in p for p in found), found


def test_a_next_hop_for_some_public_ranges_is_accepted(city: Path, edit: Edit) -> None:
    """A line carrying named public ranges into the internet zone (a partner's leased line ending in the DMZ) routes
    only those via its router: accepted."""
    edit("network.yaml", _public_line("203.0.113.0/24"))
    (line,) = [i for i in load(city).network.ingress if i.name == "partner-line"]
    assert line.via == "10.62.1.5"


def test_the_internet_may_reach_the_internet_zone(city: Path) -> None:
    """0.0.0.0/0, the internet, holds every zone's range, and is how citizens reach the internet zone: accepted."""
    (citizens,) = [i for i in load(city).network.ingress if i.destination == "internet"]
    assert citizens.cidr == "0.0.0.0/0"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.61.1.1", "'10.61.1.1' is the gateway of subnet 'ext-app' (10.61.1.0/24)"),
        ("10.61.0.0", "'10.61.0.0' is the network or broadcast address of subnet 'ext-uplink' (10.61.0.0/28)"),
        ("10.61.0.2", "'10.61.0.2' is the next hop of ingress 'province-extranet' (network.yaml ingress[1].via)"),
        (
            "10.61.16.10",
            "'10.61.16.10' is cluster 'yl-gov''s ingress address (clusters.yaml clusters[0].ingress_address)",
        ),
        ("10.61.200.5", "'10.61.200.5' is in none of zone 'extranet''s subnets"),
    ],
    ids=["gateway", "network-address", "an-ingress-next-hop", "a-clusters-ingress-address", "in-no-subnet"],
)
def test_a_host_on_an_address_the_network_holds_is_refused(city: Path, edit: Edit, address: str, expected: str) -> None:
    """A host of hosts.yaml may not sit on a subnet's gateway, network or broadcast address, a cluster's ingress
    address or an ingress source's next hop (ports the network stack holds), nor outside its zone's subnets."""

    def change(doc: Any) -> None:
        assert doc["hosts"][4]["zone"] == "extranet"
        doc["hosts"][4]["address"] = address

    edit("hosts.yaml", change)
    with pytest.raises(DeclarationError) as caught:
        load(city)
    found = [str(p) for p in caught.value.problems]
    assert any(f"hosts.yaml: hosts[4].address: {expected}" in p for p in found), found
