"""The ranges of network.yaml (zones, subnets, transit network, ingress sources) reach Neutron and Kubernetes as
written: validate accepts only the form both read."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dizuo.declaration import DeclarationError, load

from .conftest import Edit


def _set(path: str, value: str) -> Callable[[Any], None]:
    """Set the value at ``path`` (``zones.1.cidr``) of network.yaml's document."""

    def change(doc: Any) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[int(key)] if key.isdigit() else doc[key]
        doc[last] = value

    return change


@pytest.mark.parametrize(
    ("path", "written", "canonical"),
    [
        ("zones.1.cidr", "10.62.0.0/255.255.0.0", "10.62.0.0/16"),
        ("zones.0.subnets.0.cidr", "10.61.1.0/0.0.0.255", "10.61.1.0/24"),
        ("transit.cidr", "10.60.255.0/028", "10.60.255.0/28"),
        ("ingress.1.cidr", "172.16.0.0/255.240.0.0", "172.16.0.0/12"),
        ("ingress.0.cidr", "203.0.113.7", "203.0.113.7/32"),
    ],
    ids=["zone-netmask", "subnet-hostmask", "transit-leading-zero", "ingress-netmask", "ingress-no-prefix-length"],
)
def test_a_range_not_written_as_address_and_prefix_length_is_refused(
    city: Path, edit: Edit, path: str, written: str, canonical: str
) -> None:
    """Python reads a netmask, a host mask, a zero-padded prefix length or a bare address as a network, Neutron and
    Kubernetes' ipBlock do not: validate refuses them, naming the key path, the value and the form to write."""
    edit("network.yaml", _set(path, written))
    with pytest.raises(DeclarationError) as caught:
        load(city)
    found = [str(p) for p in caught.value.problems]
    at = re.sub(r"\.(\d+)", r"[\1]", path)  # zones.1.cidr -> zones[1].cidr, as errors write key paths
    expected = f"network.yaml: {at}: write it as {canonical} (address/prefix length)"
    assert any(expected in p and p.endswith(f"'{written}'") for p in found), found


def test_yulin_s_ranges_are_written_as_neutron_reads_them(city: Path) -> None:
    """The refusal above leaves every range Yulin declares, each written as address/prefix length, accepted."""
    network = load(city).network
    assert [z.cidr for z in network.zones] == ["10.61.0.0/16", "10.62.0.0/16", "10.63.0.0/16", "10.64.0.0/16"]
