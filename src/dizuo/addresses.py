"""The city's own address ranges: the one meaning of a "private", not public, source for the declaration's checks,
the network's shapes and the policy pack."""

from __future__ import annotations

import ipaddress

# RFC 1918's three blocks, where network.yaml's zones and transit network must lie. ipaddress' `is_private` also takes
# documentation, benchmarking and reserved ranges (192.0.2.0/24, 198.18.0.0/15, 240.0.0.0/4, 0.0.0.0/8), none of which
# a government network may route.
RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
# The city's own addresses: RFC 1918, IPv6 unique local addresses and loopback. Not ipaddress' is_private, which also
# takes Teredo (2001::/32, tunnelling any IPv4 host of the internet) and the rest of 2001::/23, IPv4-mapped
# ::ffff:0:0/96 (::ffff:8.8.8.0/120 is private to it), link-local, documentation, benchmarking and reserved ranges:
# none of them is the city's, and whoever sends from there is the internet.
LOOPBACK_IPV4 = ipaddress.IPv4Network("127.0.0.0/8")
CITY_IPV4_RANGES = (*RFC1918, LOOPBACK_IPV4)
CITY_IPV6_RANGES = (ipaddress.IPv6Network("fc00::/7"), ipaddress.IPv6Network("::1/128"))


def is_city_own(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    """Whether every address of ``network`` is the city's own (:data:`CITY_IPV4_RANGES`, :data:`CITY_IPV6_RANGES`);
    any other range, or one reaching past them, is public."""
    if isinstance(network, ipaddress.IPv4Network):
        return any(network.subnet_of(block) for block in CITY_IPV4_RANGES)
    return any(network.subnet_of(block) for block in CITY_IPV6_RANGES)
