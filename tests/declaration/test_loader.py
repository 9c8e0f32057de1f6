"""The declaration loader: Yulin loads, and every kind of bad input gets one located error, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dizuo.datapool.shapes import CSI_SECRETS
from dizuo.declaration import DeclarationError, load
from dizuo.declaration.checks import RESERVED_NAMESPACES

from .conftest import YULIN, Edit, add_dedicated_zone


def test_yulin_declares_the_city_of_the_seed() -> None:
    """The bundled Yulin declaration loads with 33 departments and ~115 systems on 4 zones."""
    d = load(YULIN)
    assert len(d.departments) == 33
    assert 110 <= len(d.systems) <= 120
    assert {z.kind.value for z in d.zones} == {"extranet", "internet", "dedicated", "management"}
    assert sum(ds.records for ds in d.datasets) == 68_000_000, "the seed says the pool holds 68 million records"
    shared = {s.code for s in d.systems if s.shared_platform}
    assert {"sjj-tyrz", "sjj-dzzz", "sjj-gxjh", "sjj-sjzt", "sjj-ywzt", "sjj-sjsh", "zjj-gg"} <= shared


def test_declaration_objects_are_frozen() -> None:
    """Loaded objects cannot be changed by the code that reads them."""
    d = load(YULIN)
    with pytest.raises(ValueError, match="frozen"):
        d.systems[0].department = "other"  # type: ignore[misc]


def problems(path: Path) -> list[str]:
    with pytest.raises(DeclarationError) as caught:
        load(path)
    return [str(p) for p in caught.value.problems]


def _rename(path: list[Any], new: str) -> Any:
    """An edit that writes the key at ``path`` as ``new``, keeping its value."""

    def change(document: Any) -> None:
        for key in path[:-1]:
            document = document[key]
        document[new] = document.pop(path[-1])

    return change


def _del(path: list[Any]) -> Any:
    """An edit that deletes the key at ``path``."""

    def change(document: Any) -> None:
        for key in path[:-1]:
            document = document[key]
        del document[path[-1]]

    return change


def _groups(members: dict[int, str], moved: dict[int, str] | None = None) -> Any:
    """An edit that puts systems (by index) into move groups, and puts some (by index) on a node pool and xc-ceph."""

    def change(doc: Any) -> None:
        for index, group in members.items():
            doc["systems"][index]["move_group"] = group
        for index, node_pool in (moved or {}).items():
            doc["systems"][index].update(node_pool=node_pool, storage_pool="xc-ceph", arches=["x86_64", "arm64"])

    return change


def _flow_ports(name: str, ports: list[int] | None) -> Any:
    """An edit that gives flow ``name`` these ports, or removes it (None)."""

    def change(doc: Any) -> None:
        doc["flows"] = [f for f in doc["flows"] if f["name"] != name or ports is not None]
        for flow in doc["flows"]:
            if flow["name"] == name:
                flow["ports"] = ports

    return change


def _set(path: list[Any], value: Any) -> Any:
    def change(doc: Any) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


# (file, change, expected error text: file, key path and the bad value)
CASES = [
    pytest.param(
        "systems.yaml",
        _set(["systems", 12, "department"], "shuiwu"),
        "systems.yaml: systems[12].department: unknown department 'shuiwu'",
        id="dangling-department",
    ),
    pytest.param(
        "network.yaml",
        _set(["zones", 1, "cidr"], "10.61.128.0/17"),
        "network.yaml: zones[1].cidr: '10.61.128.0/17' overlaps zone 'extranet'",
        id="overlapping-zones",
    ),
    pytest.param(
        "network.yaml",
        _set(["zones", 0, "cidr"], "61.134.0.0/16"),
        "network.yaml: zones[0].cidr: must be a private (RFC 1918) network: within 10.0.0.0/8, 172.16.0.0/12 or "
        "192.168.0.0/16: '61.134.0.0/16'",
        id="public-cidr",
    ),
    pytest.param(
        "network.yaml",
        _set(["zones", 0, "subnets", 0, "cidr"], "10.62.9.0/24"),
        "network.yaml: zones[0].subnets[0].cidr: '10.62.9.0/24' is outside zone 10.61.0.0/16",
        id="subnet-outside-zone",
    ),
    pytest.param(
        "network.yaml",
        _set(["zones", 0, "cidr"], "10.61.0.0/33"),
        "network.yaml: zones[0].cidr: not an IPv4 network in CIDR form",
        id="malformed-cidr",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 3, "depends_on"], ["sjj-nope"]),
        "systems.yaml: systems[3].depends_on[0]: unknown system 'sjj-nope'",
        id="dangling-dependency",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 0, "depends_on"], ["sjj-dzzz"]),
        "dependency cycle",
        id="dependency-cycle",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 5, "resources", "cpu"], "lots"),
        "systems.yaml: systems[5].resources.cpu: Input should be a valid number, "
        "unable to parse string as a number: 'lots'",
        id="wrong-type",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 5, "resources", "cpu"], float("inf")),
        "systems.yaml: systems[5].resources.cpu: Input should be a finite number: 'Infinity'",
        id="infinite-cores",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 5, "colour"], "blue"),
        "systems.yaml: systems[5].colour: unknown key (dizuo schema systems.yaml lists the keys here)",
        id="unknown-key",
    ),
    pytest.param(
        "departments.yaml",
        _rename(["departments", 0, "quota", "cpu"], "cpus"),
        "departments.yaml: departments[0].quota.cpus: unknown key (did you mean 'cpu', a required key missing here?)",
        id="typo-of-a-required-key",
    ),
    pytest.param(
        "clusters.yaml",
        _rename(["clusters", 0, "node_pools", 0, "memory_gib_per_node"], "memory_per_node"),
        "clusters.yaml: clusters[0].node_pools[0].memory_per_node: unknown key "
        "(did you mean 'memory_gib_per_node', a required key missing here?)",
        id="unit-left-out",
    ),
    pytest.param(
        "departments.yaml",
        _set(["departments", 0, "data_loader"], {"cpu": 1}),
        "departments.yaml: departments[0].data_loader: unknown key (did you mean 'data_loaders'?)",
        id="typo-of-an-optional-key",
    ),
    pytest.param(
        "departments.yaml",
        _set(["departments", 0, "quota", "gpu"], 2),
        "departments.yaml: departments[0].quota.gpu: unknown key (the keys here are cpu, memory_gib, storage_gib)",
        id="no-such-key",
    ),
    pytest.param(
        "datasets.yaml",
        _rename(["datasets"], "dataset"),
        "datasets.yaml: dataset: unknown key (did you mean 'datasets', a required key missing here?)",
        id="top-level",
    ),
    pytest.param(
        "clusters.yaml",
        _set(["clusters", 0, "node_pools", 2, "arch"], "aarch64"),
        "clusters.yaml: clusters[0].node_pools[2].arch: Input should be 'x86_64', 'arm64' or 'loong64': 'aarch64' "
        "(did you mean 'arm64'?)",
        id="arch-as-the-kernel-names-it",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 0, "arches", 0], "amd64"),
        "systems.yaml: systems[0].arches[0]: Input should be 'x86_64', 'arm64' or 'loong64': 'amd64' (did you mean "
        "'x86_64'?)",
        id="arch-as-debian-names-it",
    ),
    pytest.param(
        "clusters.yaml",
        _set(["clusters", 0, "node_pools", 0, "cpu_vendor"], "intel"),
        "clusters.yaml: clusters[0].node_pools[0].cpu_vendor: Input should be 'Intel', 'Hygon', 'Kunpeng', 'Phytium' "
        "or 'Loongson': 'intel' (did you mean 'Intel'?)",
        id="vendor-in-other-case",
    ),
    pytest.param(
        "datasets.yaml",
        _set(["datasets", 0, "classification"], "核心数据"),
        "datasets.yaml: datasets[0].classification: Input should be '一般', '重要' or '核心': '核心数据' (did you mean "
        "'核心'?)",
        id="classification-typo",
    ),
    pytest.param(
        "datasets.yaml",
        _set(["datasets", 0, "classification"], "Core"),
        "datasets.yaml: datasets[0].classification: Input should be '一般', '重要' or '核心': 'Core' (did you mean "
        "'核心'?)",
        id="classification-in-english",
    ),
    pytest.param(
        "departments.yaml",
        _set(["departments", 0, "quota", "storage_gib"], "182.5TiB"),
        "departments.yaml: departments[0].quota.storage_gib: Input should be a valid integer, unable to parse string "
        "as an integer: '182.5TiB' (storage_gib counts GiB: write 186880, which is 182.5TiB, with no unit)",
        id="quota-in-tebibytes",
    ),
    pytest.param(
        "clusters.yaml",
        _set(["clusters", 0, "node_pools", 0, "memory_gib_per_node"], "128Gi"),
        "clusters[0].node_pools[0].memory_gib_per_node: Input should be a valid integer, unable to parse string as an "
        "integer: '128Gi' (memory_gib_per_node counts GiB: write 128, which is 128Gi, with no unit)",
        id="kubernetes-quantity",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 0, "resources", "cpu"], "500m"),
        "systems[0].resources.cpu: Input should be a valid number, unable to parse string as a number: '500m' (cpu "
        "counts cores: write 0.5, which is 500m, with no unit)",
        id="millicores",
    ),
    pytest.param(
        "datasets.yaml",
        _set(["datasets", 0, "refresh_days"], "1 day"),
        "datasets[0].refresh_days: Input should be a valid integer, unable to parse string as an integer: '1 day' "
        "(refresh_days counts days: write 1, which is 1 day, with no unit)",
        id="days-with-their-unit",
    ),
    pytest.param(
        "datasets.yaml",
        _set(["datasets", 0, "size_gib"], "211GB"),
        "datasets[0].size_gib: Input should be a valid integer, unable to parse string as an integer: '211GB' "
        "(size_gib counts GiB: write the number of GiB alone, with no unit)",
        id="decimal-unit",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 1, "code"], "sjj-tyrz"),
        "systems.yaml: systems[1].code: duplicate system 'sjj-tyrz' (first at systems[0].code)",
        id="duplicate-code",
    ),
    pytest.param(
        "departments.yaml",
        _set(["departments", 0, "quota", "cpu"], 1),
        "departments.yaml: departments[0].quota.cpu: 1 is less than the",
        id="quota-does-not-add-up",
    ),
    pytest.param(
        "clusters.yaml",
        _set(["clusters", 0, "node_pools", 2, "cpu_vendor"], "Intel"),
        "clusters.yaml: clusters[0].node_pools[2]: cpu_vendor Intel builds x86_64 CPUs, not arm64",
        id="vendor-arch-mismatch",
    ),
    pytest.param(
        "datasets.yaml",
        _set(["datasets", 0, "source_system"], "scjg-01"),
        "datasets.yaml: datasets[0].source_system: 'scjg-01' belongs to 'scjg', not the owner 'gaj'",
        id="one-source-per-dataset",
    ),
    pytest.param(
        "datasets.yaml",
        _set(["datasets", 0, "storage_pool"], "dmz-ceph"),
        "datasets.yaml: datasets[0].storage_pool: 核心 data cannot live on 'dmz-ceph', a pool of cluster 'yl-dmz' in "
        "the internet zone 'internet': put it on a pool of an inner zone",
        id="core-data-in-the-dmz",
    ),
    pytest.param(
        "network.yaml",
        _set(["ingress", 0, "ports"], [22, 443]),
        "network.yaml: ingress[0].ports: management ports [22] must not be reachable from outside",
        id="ssh-open-to-the-internet",
    ),
    pytest.param(
        "hosts.yaml",
        _set(["hosts", 0, "address"], "10.61.1.10"),
        "hosts.yaml: hosts[0].address: '10.61.1.10' is outside zone 'management'",
        id="host-outside-its-zone",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 0, "resources", "cpu"], True),
        "systems.yaml: systems[0].resources.cpu: must be a number, not true/false: 'true'",
        id="boolean-for-a-number",
    ),
    pytest.param(
        "hosts.yaml",
        _set(["hosts", 1, "address"], "10.64.2.10"),
        "hosts.yaml: hosts[1].address: duplicate host address '10.64.2.10' (first at hosts[0].address)",
        id="two-hosts-one-address",
    ),
    pytest.param(
        "clusters.yaml",
        _set(["clusters", 0, "storage_pools", 2, "used_gib"], 99999),
        "clusters.yaml: clusters[0].storage_pools[2].used_gib: more than the pool's capacity_gib (2048): '99999'",
        id="pool-used-beyond-capacity",
    ),
    pytest.param(
        "clusters.yaml",
        _set(["clusters", 0, "storage_pools", 1, "ceph_cluster_id"], None),
        "clusters.yaml: clusters[0].storage_pools[1]: a ceph-rbd pool needs ceph_cluster_id",
        id="ceph-pool-without-its-cluster",
    ),
    pytest.param(
        "network.yaml",
        lambda doc: doc["flows"].pop(0),  # inet-to-ext-api: the internet zone's way to the extranet's API gateway
        "systems.yaml: systems[5].depends_on[0]: 'sjj-tyrz' runs in cluster 'yl-gov', zone 'extranet', behind its "
        "ingress controller; no tcp flow from zone 'internet' to 'extranet' that opens 443 is declared in network.yaml",
        id="dependency-across-zones-without-a-flow",
    ),
    pytest.param(
        "network.yaml",
        _set(["flows", 0, "ports"], [8443]),  # inet-to-ext-api without the ingress controllers' port
        "systems.yaml: systems[5].depends_on[0]: 'sjj-tyrz' runs in cluster 'yl-gov', zone 'extranet', behind its "
        "ingress controller; no tcp flow from zone 'internet' to 'extranet' that opens 443 is declared in network.yaml",
        id="dependency-across-zones-through-a-flow-closed-to-the-ingress",
    ),
    pytest.param(
        "network.yaml",
        _flow_ports("ext-to-inet-datapool", None),  # the data pool's way to the DMZ's ingress controller
        "datasets.yaml: datasets[40].source_system: 'wlj-01' runs in cluster 'yl-dmz', zone 'internet', behind its "
        "ingress controller; no tcp flow from zone 'extranet' to 'internet' that opens 443 is declared in "
        "network.yaml for the loader in dp-wlj on cluster 'yl-gov' to pull from it (needed: source: extranet, "
        "destination: internet, protocol: tcp, ports: [443])",
        id="dataset-source-no-flow-lets-its-loader-reach",
    ),
    pytest.param(
        "network.yaml",
        _flow_ports("ext-to-inet-datapool", [8443]),
        "datasets.yaml: datasets[40].source_system: 'wlj-01' runs in cluster 'yl-dmz', zone 'internet', behind its "
        "ingress controller; no tcp flow from zone 'extranet' to 'internet' that opens 443",
        id="dataset-source-through-a-flow-closed-to-the-ingress",
    ),
    pytest.param(
        "city.yaml",
        lambda doc: doc.pop("domain"),
        "city.yaml: domain: required: sjj-tyrz, sjj-dzzz, sjj-gxjh and 112 more are served through their cluster's "
        "ingress controller, at <system code>.<domain>",
        id="systems-behind-an-ingress-without-a-domain",
    ),
    pytest.param(
        "clusters.yaml",
        lambda doc: doc["clusters"][1].pop("ingress_address"),
        "clusters.yaml: clusters[1].ingress_address: required: sjj-sjsh, sjj-zwfw, rsj-05 and 5 more are served "
        "through this cluster's ingress controller, and their DNS names point at its address",
        id="cluster-behind-an-ingress-without-its-address",
    ),
    pytest.param(
        "clusters.yaml",
        _set(["clusters", 1, "ingress_address"], "10.61.16.10"),
        "clusters.yaml: clusters[1].ingress_address: '10.61.16.10' is outside zone 'internet'",
        id="ingress-address-outside-the-clusters-zone",
    ),
    pytest.param(
        "city.yaml",
        _set(["domain"], "YL.gov.cn"),
        "city.yaml: domain: String should match pattern",
        id="domain-not-lower-case",
    ),
    pytest.param(
        "network.yaml",
        _set(["flows", 0, "ports"], [443, 443]),
        "network.yaml: flows[0].ports: ports listed twice: [443]",
        id="flow-port-twice",
    ),
    pytest.param(
        "network.yaml",
        _set(["flows", 0, "name"], "citizens-https"),
        "network.yaml: ingress[0].name: duplicate flow or ingress name 'citizens-https' (first at flows[0].name)",
        id="flow-and-ingress-of-one-name",
    ),
    pytest.param(
        "network.yaml",
        _set(
            ["flows", 0],
            {"name": "ping", "source": "internet", "destination": "extranet", "protocol": "icmp", "ports": [8]},
        ),
        "network.yaml: flows[0]: an icmp flow has no ports",
        id="icmp-flow-with-ports",
    ),
    pytest.param(
        "network.yaml",
        _set(["zones", 0, "subnets", 0, "name"], "extranet-transit"),
        "network.yaml: zones[0].subnets[0].name: 'transit' and names ending in '-transit' are the "
        "transit network's own",
        id="subnet-named-like-the-transit-network",
    ),
    pytest.param(
        "network.yaml",
        _set(["zones", 0, "subnets", 0, "gateway"], "foo"),
        "network.yaml: zones[0].subnets[0].gateway: not an IPv4 address: 'foo'",
        id="subnet-gateway-not-an-address",
    ),
    pytest.param(
        "network.yaml",
        _set(["zones", 0, "subnets", 0, "gateway"], "10.61.1.255"),
        "network.yaml: zones[0].subnets[0].gateway: '10.61.1.255' is 10.61.1.0/24's network or broadcast address",
        id="subnet-gateway-on-the-broadcast-address",
    ),
    pytest.param(
        "network.yaml",
        _set(["zones", 0, "subnets", 0, "cidr"], "10.61.1.0/31"),
        "network.yaml: zones[0].subnets[0].cidr: a subnet needs room for a gateway and hosts: at most /30",
        id="subnet-without-room-for-hosts",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 3, "code"], "dp-gaj"),
        "systems.yaml: systems[3].code: a system's namespace is its code, and this one is Kubernetes', the ingress "
        "controller's or the data pool's",
        id="system-code-of-a-data-pool-namespace",
    ),
    pytest.param(
        "city.yaml",
        lambda doc: doc["baseline"].update(backup_paths=["/etc", "/var/lib/dizuo", "/srv"], backup_dir="/srv/backups"),
        "city.yaml: baseline.backup_dir: is inside backup_paths entry '/srv', so each backup would archive the ones "
        "before it (DZ-DB-01): '/srv/backups'",
        id="backup-folder-inside-what-it-backs-up",
    ),
    pytest.param(
        "network.yaml",
        _set(["transit"], None),
        "network.yaml: transit: flows link zones (extranet-internet, extranet-dedicated, extranet-management, "
        "internet-management, dedicated-management) but no transit network is declared",
        id="flows-without-a-transit-network",
    ),
    pytest.param(
        "network.yaml",
        _set(["transit", "cidr"], "10.64.255.0/28"),
        "network.yaml: transit.cidr: '10.64.255.0/28' overlaps zone 'management' (10.64.0.0/16)",
        id="transit-inside-a-zone",
    ),
    pytest.param(
        "network.yaml",
        _set(["transit", "routers", "management"], "10.60.255.15"),
        "network.yaml: transit.routers.management: '10.60.255.15' is not a host address of 10.60.255.0/28",
        id="transit-router-on-the-broadcast-address",
    ),
    pytest.param(
        "network.yaml",
        lambda doc: doc["transit"].update(cidr="10.60.255.0/31"),
        "network.yaml: transit.routers.extranet: '10.60.255.1' is not a host address of 10.60.255.0/31",
        id="transit-network-without-host-addresses",
    ),
    pytest.param(
        "network.yaml",
        lambda doc: doc["transit"]["routers"].pop("dedicated"),
        "network.yaml: transit.routers: no address for zone 'dedicated': each zone router needs one",
        id="transit-router-missing",
    ),
    pytest.param(
        "network.yaml",
        _set(["transit", "routers", "internet"], "10.60.255.1"),
        "network.yaml: transit.routers.internet: '10.60.255.1' is zone 'extranet''s already",
        id="transit-router-address-twice",
    ),
    pytest.param(
        "network.yaml",
        _set(["transit", "routers", "dmz"], "10.60.255.9"),
        "network.yaml: transit.routers.dmz: unknown zone 'dmz'",
        id="transit-router-of-an-unknown-zone",
    ),
    pytest.param(
        "network.yaml",
        _set(["transit", "routers", "internet"], "10.60.255.300"),
        "network.yaml: transit.routers.internet: not an IPv4 address: '10.60.255.300'",
        id="transit-router-not-an-address",
    ),
    pytest.param(
        "network.yaml",
        lambda doc: doc["flows"].pop(6),  # ext-to-mgmt-ntp: the extranet's way to the time server
        "hosts.yaml: hosts[4].zone: hosts of zone 'extranet' take their clock to 10.64.1.30 (123/udp, zone "
        "'management', DZ-AU-07), but network.yaml declares no udp flow from 'extranet' to 'management' that opens 123",
        id="time-server-behind-a-closed-zone",
    ),
    pytest.param(
        "network.yaml",
        lambda doc: doc["flows"].pop(11),  # ded-to-mgmt-av: the dedicated network's way to the signature mirror
        "hosts.yaml: hosts[9].zone: hosts of zone 'dedicated' take their malware signatures to 10.64.1.30 (80/tcp, "
        "zone 'management', DZ-MC-03), but network.yaml declares no tcp flow from 'dedicated' to 'management' that "
        "opens 80",
        id="signature-mirror-behind-a-closed-zone",
    ),
    pytest.param(
        "city.yaml",
        _set(["baseline", "malware_mirror"], "10.64.1.30/clamav"),
        "city.yaml: baseline.malware_mirror: must be an http:// or https:// URL, or empty (DZ-MC-03): "
        "'10.64.1.30/clamav'",
        id="signature-mirror-without-a-scheme",
    ),
    pytest.param(
        "city.yaml",
        _set(["baseline", "malware_custom_databases"], ["city.hdb", "sigs/extra.ndb"]),
        "city.yaml: baseline.malware_custom_databases: 'sigs/extra.ndb': must be a file name in the mirror's folder "
        "(no /) (DZ-MC-03)",
        id="custom-signature-database-with-a-path",
    ),
    pytest.param(
        "city.yaml",
        _set(["baseline", "malware_databases"], ["main", "safebrowsing"]),
        "city.yaml: baseline.malware_databases: 'safebrowsing': must be one of main, daily, bytecode (DZ-MC-03)",
        id="official-database-clamav-does-not-publish",
    ),
    # The baseline overrides are checked against the control catalogue here too, so `validate` refuses
    # what `harden` and `audit` would.
    pytest.param(
        "city.yaml",
        _set(["baseline", "zones", "management", "listen_tcp_allowed"], [22, "ssh"]),
        "city.yaml: baseline.zones.management.listen_tcp_allowed: must be of type int_list (DZ-IP-02): '[22, \"ssh\"]'",
        id="baseline-override-of-the-wrong-type",
    ),
    pytest.param(
        "city.yaml",
        _set(["baseline", "zones", "management", "services_disabled"], ["cups.service", "nginx.service"]),
        "city.yaml: baseline.zones.management.services_disabled: may add to the catalogue's list, not drop from it "
        "(drops avahi-daemon.service, avahi-daemon.socket, cups.socket, cups-browsed.service, rpcbind.service and 12 "
        "more); waive the control instead (DZ-IP-01)",
        id="baseline-deny-list-shortened",
    ),
    pytest.param(
        "hosts.yaml",
        _set(["group_vars", "loghost", "baseline_listen_tcp_allowed_custom"], [514]),
        "hosts.yaml: group_vars.loghost.baseline_listen_tcp_allowed_custom: sets the catalogue parameter "
        "'listen_tcp_allowed' where the audit does not read it: put it in city.yaml baseline",
        id="baseline-parameter-behind-the-audits-back",
    ),
    # Values of the right type that the role or the audit cannot use (paths, ports, networks, commands, names,
    # calendars): refused here rather than on the host.
    pytest.param(
        "city.yaml",
        _set(["baseline", "backup_dir"], "/data"),
        "city.yaml: baseline.backup_dir: must be a directory of the job's own: an absolute path of letters, digits, "
        ". _ - and / (no .., no trailing /) at least two levels deep, outside the system trees (/etc, /usr, /boot, "
        "/bin, /sbin, /lib*, /proc, /sys, /dev, /run, /tmp, /var/tmp, /home, /var/lib/dizuo) and not a folder of /var "
        "itself, whose last part says backup or dizuo (the role makes it root-only and prunes its own archives "
        "there) (DZ-DB-01): '/data'",
        id="backup-directory-too-shallow",
    ),
    pytest.param(
        "city.yaml",
        _set(["baseline", "zones", "extranet"], {"listen_tcp_allowed": [22, 70000, -1]}),
        "city.yaml: baseline.zones.extranet.listen_tcp_allowed: 70000: must be a port number, 1-65535 (DZ-IP-02): "
        "'[22, 70000, -1]'",
        id="listening-port-out-of-range",
    ),
    pytest.param(
        "city.yaml",
        _set(["baseline", "mgmt_allowed_sources"], ["10.0.0.0/33"]),
        "city.yaml: baseline.mgmt_allowed_sources: '10.0.0.0/33': must be an IP address or network with no host bits "
        "set ('10.0.0.0/33' does not appear to be an IPv4 or IPv6 network) (DZ-IP-03): '[\"10.0.0.0/33\"]'",
        id="management-source-not-a-network",
    ),
    pytest.param(
        "city.yaml",
        _set(["baseline", "audit_admin_commands"], ["ausearch"]),
        "city.yaml: baseline.audit_admin_commands: 'ausearch': must be a read-only audit tool, as sudoers names it",
        id="audit-command-without-its-path",
    ),
    pytest.param(
        "city.yaml",
        _set(["baseline", "automation_account"], "dz admin"),
        "city.yaml: baseline.automation_account: must be a Linux user name (a lower-case letter or _, then up to 31 "
        "lower-case letters, digits, _ or -) (DZ-AC-02): 'dz admin'",
        id="automation-account-not-a-user-name",
    ),
    pytest.param(
        "city.yaml",
        _set(["baseline", "aide_check_calendar"], "dayly"),
        "city.yaml: baseline.aide_check_calendar: must be a systemd calendar expression (systemd-analyze calendar: "
        "Failed to parse calendar specification 'dayly': Invalid argument) (DZ-MC-02): 'dayly'",
        id="calendar-systemd-cannot-read",
        marks=pytest.mark.skipif(
            shutil.which("systemd-analyze") is None,
            reason="systemd-analyze is not installed here, so calendars are left to the host's systemd",
        ),
    ),
    pytest.param(
        "city.yaml",
        _set(["baseline", "session_timeout_secs"], 300),
        "city.yaml: baseline.session_timeout_secs: unknown",
        id="baseline-override-misspelt",
    ),
    pytest.param(
        "systems.yaml",
        _del(["systems", 7, "budget_cny"]),
        "systems.yaml: systems[7].budget_cny: required: 'sjj-12345' is on the legacy pool 'phase1-ceph', and its "
        "adaptation cost is a share of its budget",
        id="migration-candidate-without-budget",
    ),
    pytest.param(
        "city.yaml",
        _set(["migration", "target_node_pools", 1], "xc-kunpen"),
        "city.yaml: migration.target_node_pools[1]: no node pool 'xc-kunpen' in cluster 'yl-gov'",
        id="migration-unknown-node-pool",
    ),
    pytest.param(
        "city.yaml",
        _set(["migration", "target_node_pools", 2], "phase1-intel"),
        "city.yaml: migration.target_node_pools[2]: systems on the legacy pool run on 'phase1-intel' already "
        "(sjj-12345, xzsp-01, xzsp-02 and 89 more): a target is a pool they move to",
        id="migration-target-the-candidates-run-on",
    ),
    pytest.param(
        "city.yaml",
        _set(["migration", "target_node_pools", 2], "phase1-intel"),
        "city.yaml: migration.target_node_pools[2]: 'phase1-intel' is not a Xinchuang pool (cpu_vendor Intel); "
        "systems move to Hygon, Kunpeng, Loongson, Phytium pools",
        id="migration-target-not-xinchuang",
    ),
    pytest.param(
        "clusters.yaml",
        _set(["clusters", 0, "node_pools", 1, "cpu_vendor"], "Intel"),
        "city.yaml: migration.target_node_pools[0]: 'xc-hygon' is not a Xinchuang pool (cpu_vendor Intel)",
        id="migration-target-of-intel-cpus",
    ),
    pytest.param(
        "city.yaml",
        _set(["migration", "target_storage_pool"], "datapool-s3"),
        "city.yaml: migration.target_storage_pool: 'datapool-s3' is an object store, not a volume pool",
        id="migration-target-storage-is-a-bucket-store",
    ),
    pytest.param(
        "city.yaml",
        _set(["migration", "legacy_storage_pool"], "dmz-ceph"),
        "city.yaml: migration.legacy_storage_pool: no storage pool 'dmz-ceph' in cluster 'yl-gov'",
        id="migration-legacy-pool-of-another-cluster",
    ),
    pytest.param(
        "city.yaml",
        _set(["migration", "database_replacement", "Oracle"], "MySQL"),
        "city.yaml: migration.database_replacement.Oracle: must be a domestic database (DM, KingbaseES, openGauss): "
        "'MySQL'",
        id="migration-replacement-not-domestic",
    ),
    pytest.param(
        "city.yaml",
        _del(["migration", "database_replacement", "Oracle"]),
        "city.yaml: migration.database_replacement: names no domestic replacement for Oracle, which systems on the "
        "legacy pool use: sjj-12345, xzsp-02, zrzy-01 and",
        id="migration-database-without-replacement",
    ),
    pytest.param(
        "city.yaml",
        _set(["migration", "cost_share", "base"], 0.95),
        "city.yaml: migration.cost_share: the shares add up to 1.05, more than the budget",
        id="migration-cost-shares-over-the-budget",
    ),
    pytest.param(
        "city.yaml",
        _set(["migration", "wave_gib"], 10_000_000_000),
        "city.yaml: migration.wave_gib: Input should be less than or equal to 1000000000: '10000000000'",
        id="migration-wave-past-the-planners-bytes",
    ),
    pytest.param(
        "city.yaml",
        _set(["migration", "wave_interval_days"], 0),
        "city.yaml: migration.wave_interval_days: Input should be greater than or equal to 1: '0'",
        id="migration-waves-with-no-days-between",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 7, "budget_cny"], 100_000_000_000_000_000),
        "systems.yaml: systems[7].budget_cny: Input should be less than or equal to 1000000000000: "
        "'100000000000000000'",
        id="migration-budget-past-exact-costs",
    ),
    pytest.param(
        "city.yaml",
        _set(["migration", "fill_target"], 1.2),
        "city.yaml: migration.fill_target: Input should be less than or equal to 1: '1.2'",
        id="migration-fill-target-over-full",
    ),
    pytest.param(
        "systems.yaml",
        _groups({0: "sjj-db", 5: "sjj-db"}),
        "systems.yaml: systems[5].move_group: 'sjj-db' is the group of 'sjj-tyrz' in cluster 'yl-gov', and this "
        "system runs in 'yl-dmz': systems sharing a platform run in one cluster",
        id="move-group-across-clusters",
    ),
    pytest.param(
        "systems.yaml",
        _groups({7: "sjj-db", 8: "sjj-db"}, moved={8: "phase1-intel"}),
        "systems.yaml: systems[8].move_group: 'sjj-db' groups it with systems on the legacy pool 'phase1-ceph', which "
        "the migration may move, but it is on node pool 'phase1-intel' and 'xc-ceph', where the migration does not "
        "move systems: the group cannot move as one",
        id="move-group-half-on-the-legacy-pool",
    ),
    pytest.param(
        "systems.yaml",
        _groups({10: "xzsp-db", 11: "xzsp-db", 12: "xzsp-db"}, moved={10: "xc-hygon", 11: "xc-kunpeng"}),
        "systems.yaml: systems[11].move_group: 'xzsp-db' moved 'xzsp-01' to node pool 'xc-hygon', and this system to "
        "'xc-kunpeng': a group moves to one node pool",
        id="move-group-moved-to-two-pools",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 7, "move_group"], "Sjj DB"),
        "systems.yaml: systems[7].move_group: String should match pattern",
        id="move-group-not-a-code",
    ),
    pytest.param(
        "network.yaml",
        _set(["management_ports"], []),  # the baseline manages sshd: a city has at least its SSH port
        "network.yaml: management_ports: List should have at least 1 item after validation, not 0: '[]'",
        id="no-management-port",
    ),
    pytest.param(
        "network.yaml",
        _set(["zones", 0, "cidr"], "198.18.0.0/16"),
        "network.yaml: zones[0].cidr: must be a private (RFC 1918) network",
        id="benchmarking-range-is-not-rfc1918",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 5, "zone"], "extranet"),
        "systems.yaml: systems[5].zone: 'extranet', but its cluster 'yl-dmz' runs in zone 'internet'",
        id="system-zone-not-its-cluster-s",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 0, "resources", "memory_gib"], 800),
        "systems.yaml: systems[0].resources.memory_gib: 800: each of its 2 replicas asks 400 GiB, more than a node "
        "of 'xc-kunpeng' has (384 GiB)",
        id="replica-larger-than-a-node",
    ),
    pytest.param(
        "clusters.yaml",
        _set(["clusters", 1, "kubernetes_version"], "1.28"),
        "clusters.yaml: clusters[1].kubernetes_version: dizuo's manifests need Kubernetes 1.30 or later",
        id="kubernetes-too-old-for-the-manifests",
    ),
    pytest.param(
        "network.yaml",
        _set(["zones", 3, "name"], "transit"),
        "network.yaml: zones[3].name: 'transit' and names ending in '-transit' are the transit network's own",
        id="zone-named-like-the-transit-network",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 0, "image"], "sjj/sjj-tyrz"),
        "systems.yaml: systems[0].image: not an image reference with a tag or digest",
        id="image-without-a-tag",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 0, "image"], "sjj/sjj-tyrz:"),
        "systems.yaml: systems[0].image: not an image reference with a tag or digest",
        id="image-with-an-empty-tag",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 0, "image"], "sjj/sjj-tyrz:latest"),
        "systems.yaml: systems[0].image: `:latest` names no release",
        id="image-latest",
    ),
    pytest.param(
        "hosts.yaml",
        _set(["group_vars", "all"], {"ansible_python_interpreter": "/usr/bin/python3.11"}),
        "hosts.yaml: group_vars.all.ansible_python_interpreter: also set in vars (both are all.vars): keep one: "
        "'/usr/bin/python3.11'",
        id="variable-for-every-host-set-twice",
    ),
    pytest.param(
        "hosts.yaml",
        _set(["group_vars", "zone_extranet"], {"ansible_port": 2222}),
        "hosts.yaml: group_vars.zone_extranet.ansible_port: set per host by its ansible_port: a group's value is "
        "ignored: '2222'",
        id="group-variable-the-host-sets-itself",
    ),
    pytest.param(
        "hosts.yaml",
        _set(["vars", "ansible_user"], "root"),
        "hosts.yaml: vars.ansible_user: the automation account is hosts.yaml's ansible_user, which the baseline "
        "expects to connect: 'root'",
        id="connecting-account-set-beside-ansible-user",
    ),
    pytest.param(
        "hosts.yaml",
        _set(["group_vars", "zone_moon"], {"http_proxy": "http://10.61.1.5:3128"}),
        "hosts.yaml: group_vars.zone_moon: no host is in this group",
        id="group-vars-of-a-zone-without-hosts",
    ),
    pytest.param(
        "hosts.yaml",
        _set(["hosts", 0, "groups"], ["all"]),
        "hosts.yaml: hosts[0].groups: all: Ansible's own group(s)",
        id="host-group-all",
    ),
    pytest.param(
        "datasets.yaml",
        lambda doc: [doc["datasets"][0].update(name="GIS 底图"), doc["datasets"][1].update(name="ｇｉｓ  底图")],
        "datasets.yaml: datasets[1].name: duplicate dataset name (one authoritative source per dataset) 'ｇｉｓ  底图' "
        "(first at datasets[0].name 'GIS 底图')",
        id="dataset-names-alike-but-for-width-case-and-spaces",
    ),
    pytest.param(
        "datasets.yaml",
        lambda doc: doc["datasets"][1].update(name="人口\u200b基础信息\u00ad"),
        "datasets.yaml: datasets[1].name: duplicate dataset name (one authoritative source per dataset) "
        "'人口\u200b基础信息\u00ad' (first at datasets[0].name '人口基础信息'; invisible: U+00AD SOFT HYPHEN, U+200B "
        "ZERO WIDTH SPACE)",
        id="dataset-names-alike-but-for-a-zero-width-space-and-a-soft-hyphen",
    ),
    pytest.param(
        "departments.yaml",
        lambda doc: doc["departments"][1].update(name="榆林市政务服务数据管理局（大数据局/智慧局）"),
        "departments.yaml: departments[1].name: duplicate department name "
        "'榆林市政务服务数据管理局（大数据局/智慧局）' "
        "(first at departments[0].name '榆林市政务服务数据管理局 (大数据局/智慧局)')",
        id="department-names-alike-but-for-full-width-parentheses",
    ),
    pytest.param(
        "systems.yaml",
        lambda doc: doc["systems"][1].update(name=doc["systems"][0]["name"]),
        "systems.yaml: systems[1].name: duplicate system name '榆林市统一身份认证平台' (first at systems[0].name)",
        id="two-systems-one-name",
    ),
    pytest.param(
        "datasets.yaml",
        _set(["datasets", 0, "retention_days"], 10**70),
        "datasets.yaml: datasets[0].retention_days: Input should be less than or equal to 36500: '1000000000",
        id="retention-past-a-century",
    ),
    pytest.param(
        "clusters.yaml",
        _set(["clusters", 0, "storage_pools", 0, "capacity_gib"], 10**310),
        "clusters.yaml: clusters[0].storage_pools[0].capacity_gib: Input should be less than or equal to 1073741824",
        id="storage-pool-past-an-exbibyte",
    ),
    pytest.param(
        "systems.yaml",
        _set(["systems", 6, "code"], "ceph-csi-rbd"),
        "systems.yaml: systems[6].code: a system's namespace is its code, and this one is",
        id="system-in-ceph-csi-s-namespace",
    ),
    pytest.param(
        "hosts.yaml",
        _set(["hosts", 1, "groups"], "loghost"),
        "hosts.yaml: hosts[1].groups: Input should be a list, written [a, b] or as '- a' lines: 'loghost'",
        id="list-written-as-one-value",
    ),
    pytest.param(
        "departments.yaml",
        _set(["departments", 0], None),
        "departments.yaml: departments[0]: Input should be a mapping, written {key: value} or as 'key: value' lines:"
        " 'null'",
        id="empty-list-item",
    ),
    pytest.param(
        "hosts.yaml",
        _set(["vars"], ["a", "b"]),
        "hosts.yaml: vars: Input should be a mapping, written {key: value} or as 'key: value' lines: '[\"a\", \"b\"]'",
        id="mapping-written-as-a-list",
    ),
    pytest.param(
        "departments.yaml",
        _set(["departments", 1, "code"], "xz\u200bsp"),
        "departments.yaml: departments[1].code: String should match pattern '^[a-z][a-z0-9-]{0,30}[a-z0-9]$': "
        "'xz\u200bsp' (it holds U+200B ZERO WIDTH SPACE, which the value shows as nothing or a space: retype the "
        "value)",
        id="invisible-character-in-a-value",
    ),
]


@pytest.mark.parametrize(("file", "change", "expected"), CASES)
def test_bad_input_names_file_key_and_value(city: Path, edit: Edit, file: str, change: Any, expected: str) -> None:
    """Each kind of mistake is reported once, with file, key path and value."""
    edit(file, change)
    found = problems(city)
    assert any(expected in p for p in found), f"expected {expected!r} among:\n" + "\n".join(found)


def test_general_data_may_live_in_the_dmz(city: Path, edit: Edit) -> None:
    """Only important and core data (重要, 核心) are kept out of the internet zone: a 一般 dataset on the DMZ's pool
    draws no such problem."""
    edit("datasets.yaml", _set(["datasets", 12, "storage_pool"], "dmz-ceph"))
    try:
        load(city)
    except DeclarationError as caught:
        exposed = [str(p) for p in caught.problems if "internet zone" in str(p)]
        assert not exposed, exposed


def _tourism_flows_classified(classification: str) -> Any:
    """ly-kl, the tourism flow counts loaded from the DMZ's tourism platform (wlj-01), classified ``classification``."""

    def change(doc: Any) -> None:
        (ds,) = [d for d in doc["datasets"] if d["code"] == "ly-kl"]
        ds["classification"] = classification

    return change


@pytest.mark.parametrize("classification", ["重要", "核心"])
def test_important_data_cannot_come_from_a_system_in_the_dmz(city: Path, edit: Edit, classification: str) -> None:
    """Important and core data stay out of the internet zone where it is kept first too: a dataset whose source system
    runs in the DMZ (its data on the DMZ's volumes) is refused, naming the dataset's source_system and the zone."""
    edit("datasets.yaml", _tourism_flows_classified(classification))
    found = problems(city)
    expected = (
        f"datasets[{_dataset_index('ly-kl')}].source_system: {classification} data cannot come from 'wlj-01', which "
        "runs in the internet zone 'internet'"
    )
    assert any(expected in p for p in found), f"expected {expected!r} among:\n" + "\n".join(found)


def test_general_data_may_come_from_a_system_in_the_dmz(city: Path) -> None:
    """Yulin's ly-kl, 一般 data loaded from the DMZ's tourism platform, is accepted: only important and core data are
    kept out of the internet zone."""
    (ds,) = [d for d in load(city).datasets if d.code == "ly-kl"]
    assert (ds.classification.value, ds.source_system) == ("一般", "wlj-01")


def _dataset_index(code: str) -> int:
    return next(i for i, d in enumerate(load(YULIN).datasets) if d.code == code)


@pytest.mark.parametrize(
    ("path", "ports", "expected"),
    [
        (["flows", 0], [True, 8443], "flows[0].ports: items must be numbers, not true/false (item 0): '[true, 8443]'"),
        (["ingress", 0], [443, 0], "ingress[0].ports[1]: Input should be greater than or equal to 1: '0'"),
        ([], [22, 70000], "management_ports[1]: Input should be less than or equal to 65535: '70000'"),
        ([], [22, 22], "management_ports: ports listed twice: [22]"),
    ],
    ids=["flow-port-yes-is-no-port-1", "ingress-port-0", "management-port-past-65535", "management-port-twice"],
)
def test_a_port_that_is_no_port_is_named(
    city: Path, edit: Edit, path: list[Any], ports: list[int], expected: str
) -> None:
    """A port outside 1-65535, given twice, or `yes` (YAML's true, which pydantic would take for port 1) in a flow,
    an ingress source or the management ports is an error naming the list or the item, not a rule on another port."""
    edit("network.yaml", _set([*path, "ports" if path else "management_ports"], ports))
    found = problems(city)
    assert any(f"network.yaml: {expected}" in p for p in found), f"expected {expected!r} among:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("loaders", "expected"),
    [
        ({"cpu": 0}, "data_loaders.cpu: Input should be greater than 0: '0'"),
        ({"memory_gib": -1}, "data_loaders.memory_gib: Input should be greater than 0: '-1'"),
        ({"cpu": True}, "data_loaders.cpu: must be a number, not true/false: 'true'"),
        ({"cores": 2}, "data_loaders.cores: unknown key"),
    ],
    ids=["no-cpu", "negative-memory", "cpu-yes", "unknown-key"],
)
def test_a_data_pool_grant_no_loader_could_run_in_is_named(
    city: Path, edit: Edit, loaders: dict[str, Any], expected: str
) -> None:
    """A department's data_loaders becomes its dp-<owner> quota: a grant of no CPU or memory (which admits no loader
    at all), a boolean or an unknown key is an error naming departments.yaml, the key and the value."""
    edit("departments.yaml", _set(["departments", 0, "data_loaders"], loaders))
    found = problems(city)
    assert any(f"departments.yaml: departments[0].{expected}" in p for p in found), f"{expected!r} not among:\n" + (
        "\n".join(found)
    )


def test_a_department_s_data_loaders_count_against_its_quota(city: Path, edit: Edit) -> None:
    """What a department's data loaders may request in its dp-<owner> namespace is reserved like its systems' requests:
    Yulin's swj (systems 6 cores, loaders 2, quota 8) is full, not over; loaders of 2.5 cores are an error naming the
    quota, the total and its parts. zrzy holds no volume dataset, so it has no such namespace and nothing to count."""

    def index(code: str) -> int:
        departments = load(YULIN).departments
        return next(i for i, dept in enumerate(departments) if dept.code == code)

    swj, zrzy = index("swj"), index("zrzy")
    edit("departments.yaml", _set(["departments", zrzy, "data_loaders"], {"cpu": 64, "memory_gib": 512}))
    load(city)
    edit("departments.yaml", _set(["departments", swj, "data_loaders"], {"cpu": 2.5}))
    expected = (
        f"departments.yaml: departments[{swj}].quota.cpu: 8 is less than the 8.5 its systems (6) and its data"
        " loaders (data_loaders.cpu, 2.5 in 1 cluster(s)) request"
    )
    found = problems(city)
    assert any(expected in p for p in found), f"{expected!r} not among:\n" + "\n".join(found)


def test_a_department_s_datasets_count_against_its_storage_quota(city: Path, edit: Edit) -> None:
    """A department's datasets, volumes and buckets, take the cloud's storage granted to it like its systems' volumes:
    Yulin's swj (systems 490 GiB, one dataset of 1 GiB, quota 1024) fits; with 534 GiB more of datasets it holds 1025
    GiB and is refused, naming storage_gib, the grant, the total and both parts."""
    swj = next(i for i, dept in enumerate(load(YULIN).departments) if dept.code == "swj")
    (template,) = (ds for ds in load(YULIN).datasets if ds.owner == "swj")
    object_pool = next(ds.storage_pool for ds in load(YULIN).datasets if ds.kind == "bucket")

    def add_datasets(datasets: dict[str, Any]) -> None:
        volume = {**template.model_dump(mode="json"), "code": "swj-extra", "name": "商务扩展", "size_gib": 500}
        bucket = {
            **volume,
            "code": "swj-bucket",
            "name": "商务扩展归档",
            "size_gib": 34,
            "kind": "bucket",
            "storage_pool": object_pool,
        }
        datasets["datasets"] += [volume, bucket]

    load(city)
    edit("datasets.yaml", add_datasets)
    expected = (
        f"departments.yaml: departments[{swj}].quota.storage_gib: 1024 is less than the 1025 its systems (490) and its"
        " datasets (535 GiB in 3, datasets.yaml) hold"
    )
    found = problems(city)
    assert any(expected in p for p in found), f"{expected!r} not among:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        (
            ["8.8.8.8"],  # a resolver out of the city, not the node's cache
            "node_local_dns[0]: must be link-local (169.254.0.0/16, NodeLocal DNSCache's 169.254.20.10) or a cluster "
            "IP in RFC 1918: a DNS cache on the node, not a resolver elsewhere: '8.8.8.8'",
        ),
        (["127.0.0.1"], "node_local_dns[0]: a pod's loopback or unspecified address is not the node's DNS cache"),
        (["169.254.20.10/32"], "node_local_dns[0]: not an IPv4 address: '169.254.20.10/32'"),
        (["169.254.20.10", "169.254.20.10"], "node_local_dns: addresses listed twice: ['169.254.20.10']"),
    ],
    ids=["public-resolver", "loopback", "a-range", "twice"],
)
def test_a_node_local_dns_address_that_is_no_node_cache_is_named(
    city: Path, edit: Edit, addresses: list[str], expected: str
) -> None:
    """node_local_dns opens DNS out of every namespace of the cluster: an address that is no cache on the node (a
    public resolver, the pod's own loopback), a range or an address given twice is an error naming the item."""
    edit("clusters.yaml", _set(["clusters", 0, "node_local_dns"], addresses))
    found = problems(city)
    assert any(f"clusters.yaml: clusters[0].{expected}" in p for p in found), f"{expected!r} not among:\n" + "\n".join(
        found
    )


@pytest.mark.parametrize(
    ("file", "path"),
    [
        ("city.yaml", ["name"]),
        ("city.yaml", ["province"]),
        ("network.yaml", ["zones", 0, "title"]),
        ("departments.yaml", ["departments", 0, "name"]),
        ("systems.yaml", ["systems", 0, "name"]),
        ("datasets.yaml", ["datasets", 0, "name"]),
    ],
)
def test_a_blank_name_is_refused(city: Path, edit: Edit, file: str, path: list[Any]) -> None:
    """A name people read a thing by, left blank (`name: "  "`): an error naming it, not a department, system or
    dataset (一数一源) that reports, labels and `validate`'s own "ok <city>" show without a name."""
    edit(file, _set(path, "  "))
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    expected = f"{file}: {where}: String should have at least 1 character: '  '"
    found = problems(city)
    assert any(expected in p for p in found), f"expected {expected!r} among:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("file", "path"),
    [
        ("city.yaml", ["name"]),
        ("departments.yaml", ["departments", 0, "name"]),
        ("systems.yaml", ["systems", 0, "name"]),
    ],
)
@pytest.mark.parametrize(
    "invisible",
    ["\u200b\u200b", "\u200d\ufeff", "\u3164", "\u200b\u3000\u2800"],
    ids=["zero-width-spaces", "joiner-and-bom", "hangul-filler", "mixed"],
)
def test_a_name_of_invisible_characters_is_refused(
    city: Path, edit: Edit, file: str, path: list[Any], invisible: str
) -> None:
    """A name made only of zero-width or other invisible characters shows blank, as a name of spaces would: refused,
    with the file, the key and the characters named by code point."""
    edit(file, _set(path, invisible))
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    expected = f"{file}: {where}: "
    found = [p for p in problems(city) if expected in p]
    code_points = [f"U+{ord(char):04X}" for char in invisible.strip()]
    assert any("no visible character" in p and all(c in p for c in code_points) for p in found), "\n".join(found)


def test_a_name_with_an_invisible_character_among_visible_ones_is_kept(city: Path, edit: Edit) -> None:
    """Only a name that shows nothing is refused: a joiner inside a readable name is the writer's affair."""
    edit("departments.yaml", _set(["departments", 0, "name"], "大数据\u200d局"))
    assert load(city).departments[0].name == "大数据\u200d局"


@pytest.mark.parametrize(
    "version",
    ["1." + "3" * 5000, "1.3000", "1.\u0663\u0660"],
    ids=["5000-digits", "four-digits", "arabic-indic-digits"],
)
def test_a_kubernetes_version_out_of_shape_is_refused_by_its_shape(city: Path, edit: Edit, version: str) -> None:
    """A minor version of more than three digits, or of another script's digits, is refused as not of the form
    1.NN, with the file and key: not with Python's message about converting a 4,300-digit int, nor accepted."""
    edit("clusters.yaml", _set(["clusters", 1, "kubernetes_version"], version))
    found = problems(city)
    expected = "clusters.yaml: clusters[1].kubernetes_version: String should match pattern '^1\\.[0-9]{1,3}$'"
    assert any(expected in p for p in found), f"expected {expected!r} among:\n" + "\n".join(found)
    assert not any("int" in p and "digits" in p for p in found), found


def test_every_problem_is_reported_not_just_the_first(city: Path, edit: Edit) -> None:
    """Two independent mistakes give two errors in one run."""
    edit("systems.yaml", _set(["systems", 12, "department"], "shuiwu"))
    edit("systems.yaml", _set(["systems", 20, "zone"], "moon"))
    found = problems(city)
    assert any("systems[12].department" in p for p in found)
    assert any("systems[20].zone: unknown zone 'moon'" in p for p in found)


def test_one_mistyped_zone_is_one_error(city: Path, edit: Edit) -> None:
    """A system's zone mistyped is reported once: not again for every flow from or to the zone that does not exist."""
    edit("systems.yaml", _set(["systems", 0, "zone"], "extrnet"))
    (only,) = problems(city)
    assert only.endswith("systems.yaml: systems[0].zone: unknown zone 'extrnet'"), only


def test_an_image_pinned_by_digest_is_accepted(city: Path, edit: Edit) -> None:
    """A digest names one release as well as a tag does."""
    edit("systems.yaml", _set(["systems", 0, "image"], "sjj/sjj-tyrz@sha256:" + "ab" * 32))
    assert load(city).systems[0].image.endswith("@sha256:" + "ab" * 32)


def test_ceph_csi_s_namespaces_are_reserved() -> None:
    """Every namespace holding ceph-csi's credentials is one no system may take."""
    assert {namespace for _secret, namespace in CSI_SECRETS.values()} <= RESERVED_NAMESPACES


def test_broken_yaml_names_line_and_column(city: Path) -> None:
    """A YAML syntax error gives the file with line and column."""
    (city / "network.yaml").write_text("zones:\n  - name: [unclosed\n", encoding="utf-8")
    found = problems(city)
    assert len(found) == 1
    assert "network.yaml: invalid YAML: line" in found[0]


@pytest.mark.parametrize(
    ("before", "after", "says"),
    [
        (
            "  kind: bureau\n",
            "  kind\uff1a bureau\n",
            "line 7, column 3: could not find expected ':' (line 6 holds a full-width colon '\uff1a', U+FF1A, where "
            "':' was meant)",
        ),
        (
            "{cpu: 272,",
            "{cpu\uff1a 272,",
            "departments[0].quota.cpu\uff1a 272: unknown key (it holds a full-width colon '\uff1a', U+FF1A, where ':' "
            "was meant)",
        ),
        (
            "departments:\n- code: sjj",
            "departments:\n\t- code: sjj",
            "line 4, column 1: found character that cannot start any token (a tab: YAML indents with spaces only)",
        ),
    ],
    ids=["full-width-colon", "full-width-colon-in-a-flow-mapping", "tab"],
)
def test_what_an_author_typed_for_a_colon_or_an_indent_is_named(city: Path, before: str, after: str, says: str) -> None:
    """A key typed with a Chinese input method's full-width colon, or a line indented with a tab, is named as such,
    not only as YAML's "could not find expected ':'" on the line after it."""
    path = city / "departments.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(before, after, 1), encoding="utf-8")
    found = problems(city)
    assert any(says in p for p in found), "\n".join(found)


@pytest.mark.parametrize(
    ("before", "after", "says"),
    [
        (
            "storage_gib: 186880}\n",
            "storage_gib: 186880\n",
            "line 8, column 7: did not find expected ',' or '}' (the '{' at line 7, column 10 is still open there: "
            "write ',' between its entries and '}' after the last)",
        ),
        (
            "- code: sjj\n  name: 榆林市政务服务数据管理局 (大数据局/智慧局)\n",
            "- code: sjj\n  name: [榆林市政务服务数据管理局, 大数据局\n",
            "line 6, column 7: did not find expected ',' or ']' (the '[' at line 5, column 9 is still open there: "
            "write ',' between its items and ']' after the last)",
        ),
        (
            "  name: 榆林市政务服务数据管理局 (大数据局/智慧局)\n",
            "  name: '榆林市政务服务数据管理局 (大数据局/智慧局)\n",
            "found unexpected end of stream (the quote at line 5, column 9 is never closed: end the value with the "
            "same quote)",
        ),
    ],
    ids=["brace", "bracket", "quote"],
)
def test_a_bracket_or_quote_left_open_names_the_line_it_was_opened_on(
    city: Path, before: str, after: str, says: str
) -> None:
    """A '{', '[' or quote never closed is found by YAML only on a later line (the next entry, the end of the file),
    where there is nothing to correct: the error also names where it was opened and what closes it."""
    path = city / "departments.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(before, after, 1), encoding="utf-8")
    found = problems(city)
    assert len(found) == 1, "\n".join(found)
    assert says in found[0], found[0]


def test_a_key_given_twice_is_an_error_not_the_last_value(city: Path) -> None:
    """PyYAML keeps the last of two equal keys; the declaration loader names both lines instead."""
    text = (city / "city.yaml").read_text(encoding="utf-8")
    (city / "city.yaml").write_text(text.replace("prefix: yl\n", "prefix: zz\nprefix: yl\n", 1), encoding="utf-8")
    found = problems(city)
    assert len(found) == 1
    assert "city.yaml: invalid YAML: line" in found[0]
    assert "duplicate key 'prefix' (first on line" in found[0]


@pytest.mark.parametrize(
    ("written", "named"),
    [
        ("\u3000prefix", "U+3000 IDEOGRAPHIC SPACE"),
        ("\u00a0prefix", "U+00A0 NO-BREAK SPACE"),
        ("pre\u200bfix", "U+200B ZERO WIDTH SPACE"),
    ],
    ids=["ideographic-space", "no-break-space", "zero-width-space"],
)
def test_an_unknown_key_names_the_character_that_looks_like_a_space_or_nothing(
    city: Path, written: str, named: str
) -> None:
    """A key typed with a full-width space or pasted with an invisible character reads as a known key: the error names
    the character, not just "unknown key" beside "prefix: Field required"."""
    text = (city / "city.yaml").read_text(encoding="utf-8")
    (city / "city.yaml").write_text(text.replace("\nprefix: yl\n", f"\n{written}: yl\n", 1), encoding="utf-8")
    expected = f"city.yaml: {written}: unknown key (it holds {named}, which YAML keeps in the key: retype the key)"
    assert any(p.endswith(expected) for p in problems(city)), problems(city)


@pytest.mark.parametrize(
    ("written", "shown", "hint"),
    [
        ("2026", "2026", "YAML read an unquoted number"),
        ("2026-01-01", "2026-01-01", "YAML read an unquoted date"),
        ("yes", "true", "YAML reads an unquoted yes, no, on, off, true or false as a boolean"),
    ],
    ids=["number", "date", "boolean"],
)
def test_a_key_yaml_made_no_text_is_named_as_a_key(city: Path, written: str, shown: str, hint: str) -> None:
    """A key YAML reads as a number, date or boolean is named as a key with the quoting hint, not as a list index
    (`quota[2026]`) or a Python repr (`datetime.date(2026, 1, 1)`)."""
    text = (city / "departments.yaml").read_text(encoding="utf-8")
    (city / "departments.yaml").write_text(
        text.replace("  quota: {cpu: 272", f"  quota: {{{written}: 5, cpu: 272", 1), encoding="utf-8"
    )
    found = problems(city)
    assert len(found) == 1, found
    assert f"departments.yaml: departments[0].quota.{shown}: key: Keys should be strings: " in found[0]
    assert hint in found[0]


@pytest.mark.parametrize(("one", "other"), [("1", "1.0"), ("1", "true"), ("1", "0x1")], ids=["float", "boolean", "hex"])
def test_two_keys_that_read_as_one_are_an_error_not_the_last_value(city: Path, one: str, other: str) -> None:
    """Keys written apart that YAML reads as one (1 and 1.0, 1 and true): PyYAML keeps the last value silently; the
    loader names both lines."""
    text = (city / "hosts.yaml").read_text(encoding="utf-8")
    (city / "hosts.yaml").write_text(text + f"\nextra:\n  {one}: a\n  {other}: b\n", encoding="utf-8")
    found = problems(city)
    assert len(found) == 1, found
    assert "hosts.yaml: invalid YAML: line" in found[0]
    assert f"duplicate key {other!r}: once read, it is the same key as {one!r} (line" in found[0]


def test_a_declaration_file_or_a_folder_of_declarations_given_names_the_folder_meant(city: Path) -> None:
    """A declaration file given for its folder, or the folder holding the cities (inventories/), is named as such with
    the folder to give, not as 'not a directory' or as seven missing files."""
    files = "city.yaml, network.yaml, clusters.yaml, departments.yaml, systems.yaml, datasets.yaml, hosts.yaml"
    assert problems(city / "departments.yaml") == [
        f"{city / 'departments.yaml'}: a declaration file, not its folder: give the folder, {city}"
    ]
    assert problems(city.parent) == [
        f"{city.parent}: holds none of the declaration files ({files}): give one of the declarations in it, {city}"
    ]
    (city / "city.yaml").unlink()
    assert problems(city.parent) == [f"{city.parent}: holds none of the declaration files ({files})"]
    assert any(p.endswith("city.yaml: file is missing") for p in problems(city)), "a declaration lacking a file"


def test_a_name_given_twice_is_judged_by_its_first_holder_not_blamed_on_every_reference(city: Path, edit: Edit) -> None:
    """A second cluster named yl-gov (yl-dmz renamed by mistake) is the duplicate and yl-dmz's systems name a cluster
    that is gone; the systems on the first yl-gov are not each told that their zone, node pool and storage pool do
    not match the second (old code: 330 problems, 3 per yl-gov system)."""
    edit("clusters.yaml", _set(["clusters", 1, "name"], "yl-gov"))
    found = problems(city)
    duplicate = "clusters.yaml: clusters[1].name: duplicate cluster 'yl-gov' (first at clusters[0].name)"
    assert any(p.endswith(duplicate) for p in found), "\n".join(found)
    blamed = [p for p in found if not p.endswith((duplicate, ".cluster: unknown cluster 'yl-dmz'"))]
    assert not blamed, "\n".join(blamed[:5])


def test_a_storage_pool_name_given_twice_is_judged_by_its_first_holder(city: Path, edit: Edit) -> None:
    """datapool-s3 renamed datapool-ceph by mistake: the duplicate, and the datasets naming datapool-s3, which is gone;
    the volume datasets on the first datapool-ceph are not told they cannot live on an object store, nor the second
    pool that it is over its capacity with the first's data (old code: 46 problems)."""
    edit("clusters.yaml", _set(["clusters", 0, "storage_pools", 3, "name"], "datapool-ceph"))
    found = problems(city)
    duplicate = (
        "storage_pools[3].name: duplicate storage pool 'datapool-ceph' (first at clusters[0].storage_pools[2].name)"
    )
    assert any(p.endswith(duplicate) for p in found), "\n".join(found)
    blamed = [p for p in found if not p.endswith((duplicate, ".storage_pool: unknown storage pool 'datapool-s3'"))]
    assert not blamed, "\n".join(blamed[:5])


def test_a_mistyped_required_key_is_reported_once(city: Path, edit: Edit) -> None:
    """`cpus` written for a quota's required `cpu` is one problem, the unknown key naming the key it stands for, not
    also 'cpu: Field required' beside it (old code: both)."""
    edit("departments.yaml", _rename(["departments", 0, "quota", "cpu"], "cpus"))
    found = [p for p in problems(city) if "departments[0].quota" in p]
    assert len(found) == 1, "\n".join(found)
    assert found[0].endswith("quota.cpus: unknown key (did you mean 'cpu', a required key missing here?)"), found[0]


def test_a_missing_key_beside_an_unknown_key_of_another_name_is_still_reported(city: Path, edit: Edit) -> None:
    """A key of no close name (`cores` where `cpu` was) is not taken to stand for the missing required key: 'Field
    required' still says `cpu` is missing."""
    edit("departments.yaml", _rename(["departments", 0, "quota", "cpu"], "cores"))
    found = [p for p in problems(city) if "departments[0].quota" in p]
    assert any(p.endswith("departments[0].quota.cpu: Field required") for p in found), "\n".join(found)


def test_a_node_pool_name_given_twice_is_judged_by_its_first_holder(city: Path, edit: Edit) -> None:
    """xc-hygon renamed phase1-intel by mistake, with its one-core nodes: the duplicate, and the references to
    xc-hygon, which is gone; the systems on the first phase1-intel are not told their replicas outgrow the second's
    nodes (old code: a replica problem for each of them)."""
    edit("clusters.yaml", _set(["clusters", 0, "node_pools", 1, "name"], "phase1-intel"))
    edit("clusters.yaml", _set(["clusters", 0, "node_pools", 1, "cpu_per_node"], 1))
    found = problems(city)
    duplicate = "node_pools[1].name: duplicate node pool 'phase1-intel' (first at clusters[0].node_pools[0].name)"
    assert any(p.endswith(duplicate) for p in found), "\n".join(found)
    blamed = [p for p in found if not p.endswith(duplicate) and "'xc-hygon'" not in p]
    assert not blamed, "\n".join(blamed[:5])


def test_a_dependency_cycle_is_found_through_the_first_holder_of_a_code(city: Path, edit: Edit) -> None:
    """sjj-tyrz made to depend on sjj-dzzz, which depends on it, is a cycle even where a later system is also given
    the code sjj-dzzz with no dependencies: the cycle is judged by the first holder, as references are (old code: the
    later one's empty list hid it)."""
    edit("systems.yaml", _set(["systems", 0, "depends_on"], ["sjj-dzzz"]))
    edit("systems.yaml", _set(["systems", 5, "code"], "sjj-dzzz"))
    edit("systems.yaml", _set(["systems", 5, "depends_on"], []))
    found = problems(city)
    assert any("duplicate system 'sjj-dzzz'" in p for p in found), "\n".join(found)
    assert any("dependency cycle sjj-tyrz -> sjj-dzzz -> sjj-tyrz" in p for p in found), "\n".join(found)


def test_a_department_code_given_twice_is_not_held_to_the_first_holder_s_systems(city: Path, edit: Edit) -> None:
    """xzsp's entry given sjj's code is the duplicate, and xzsp's systems name a department that is gone; its quota is
    not also measured against sjj's 213 cores of systems (old code: three quota problems at departments[1])."""
    edit("departments.yaml", _set(["departments", 1, "code"], "sjj"))
    found = problems(city)
    assert any(
        p.endswith("departments[1].code: duplicate department 'sjj' (first at departments[0].code)") for p in found
    )
    assert not [p for p in found if "departments[1].quota" in p], "\n".join(found)


def test_missing_file_is_named(city: Path) -> None:
    """A declaration without datasets.yaml says so."""
    (city / "datasets.yaml").unlink()
    assert any(p.endswith("datasets.yaml: file is missing") for p in problems(city))


def test_validate_cli_prints_errors_without_traceback(city: Path, edit: Edit) -> None:
    """`dizuo validate` exits 1 on a bad declaration, printing the located error and no traceback."""
    edit("systems.yaml", _set(["systems", 12, "department"], "shuiwu"))
    done = subprocess.run(
        [sys.executable, "-m", "dizuo", "validate", str(city)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "systems[12].department: unknown department 'shuiwu'" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_validate_cli_accepts_yulin() -> None:
    """`dizuo validate inventories/yulin` exits 0 and summarises the city on one line, also in a pipe or CI log (which
    rich prints 80 wide), where a grep for it finds it whole."""
    done = subprocess.run(
        [sys.executable, "-m", "dizuo", "validate", str(YULIN)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "115 systems" in done.stdout
    assert done.stdout.startswith("ok 榆林市 (yulin): "), done.stdout
    assert done.stdout.endswith(" 11 hosts\n"), done.stdout
    assert done.stdout.count("\n") == 1, done.stdout


def test_a_zone_added_in_front_moves_no_router(city: Path, edit: Edit) -> None:
    """Router addresses on the transit network are declared per zone, so a zone inserted before the others takes a
    free address and every existing router keeps its own (a moved address would replace its port and drop routes)."""
    before = load(city).network.transit_addresses()

    def add_zone(doc: Any) -> None:
        add_dedicated_zone(doc, "video", "视频专网", "video-cams", "10.60.255.5", at=0)

    edit("network.yaml", add_zone)
    after = load(city).network.transit_addresses()
    assert after == {**before, "video": "10.60.255.5"}


def test_a_name_made_too_long_by_the_prefix_is_found_by_validate(city: Path, edit: Edit) -> None:
    """Cloud names are <prefix>-<code>...: a long prefix and a long code that each pass alone make a name over 63
    characters, which `validate` reports at the code, not a stack program half-way through synth."""
    edit("city.yaml", _set(["prefix"], "yulin-shaanxi-egov-production"))
    edit("datasets.yaml", _set(["datasets", 0, "code"], "rk-jcxx-population-basic-archive"))
    found = problems(city)
    expected = (
        "datasets.yaml: datasets[0].code: makes the name 'yulin-shaanxi-egov-production-dp-rk-jcxx-population-basic-"
        "archive' (65 characters, at most 63): shorten it or city.yaml's prefix: 'rk-jcxx-population-basic-archive'"
    )
    assert any(expected in p for p in found), "\n".join(found)


def test_a_legacy_pool_kept_over_its_fill_target_by_what_cannot_move_is_refused(city: Path, edit: Edit) -> None:
    """Datasets stay on the legacy pool whatever moves: over the fill target alone, no plan can reach it, and
    validate says so at the target with the pool and the figures (not a planner reporting an "optimal" plan)."""
    edit("datasets.yaml", lambda doc: doc["datasets"][0].update(storage_pool="phase1-ceph", size_gib=20_000))
    edit("city.yaml", _set(["migration", "fill_target"], 0.01))
    expected = (
        "city.yaml: migration.fill_target: 1% of 'phase1-ceph' (1,622,016 GiB) is 16,220 GiB, but 20,000 GiB that "
        "no move relieves stays on it (its datasets, systems of other clusters): no plan reaches it; raise the "
        "target or move the datasets: '0.01'"
    )
    found = problems(city)
    assert any(expected in p for p in found), "\n".join(found)


def test_node_pool_and_replica_amounts_are_written_in_full(city: Path, edit: Edit) -> None:
    """A system asking a million cores or GiB is named with the amounts as declared, 1048576.5 and 2097152, its
    replica's half as 524288.25, and its pool's total in full, not as ':g' wrote them (1.04858e+06, 2.09715e+06)."""

    def huge(doc: Any) -> None:
        doc["systems"][0]["resources"].update(cpu=1048576.5, memory_gib=2097152)

    yulin = load(YULIN)
    first = yulin.systems[0]
    beside = [s.resources for s in yulin.systems[1:] if (s.cluster, s.node_pool) == (first.cluster, first.node_pool)]
    cores = Decimal("1048576.5") + sum(Decimal(str(r.cpu)) for r in beside)
    gib = Decimal(2097152) + sum(Decimal(str(r.memory_gib)) for r in beside)
    edit("systems.yaml", huge)
    found = problems(city)
    for expected in (
        f"cores, but its systems request {cores.normalize():f}",
        f"GiB in all, but its systems request {gib.normalize():f}",
        "systems[0].resources.cpu: 1048576.5: each of its 2 replicas asks 524288.25 cores, more than a node of",
        "systems[0].resources.memory_gib: 2097152: each of its 2 replicas asks 1048576 GiB, more than a node of",
    ):
        assert any(expected in p for p in found), f"{expected!r} not in:\n" + "\n".join(found)
    assert not any("e+0" in p for p in found), "\n".join(found)


def test_a_pool_filled_to_the_core_by_fractions_of_cores_is_full_not_over(city: Path, edit: Edit) -> None:
    """2 cores and five of 0.2 on a 3-core pool add up to 3 (as floats in file order, 3.000000000000001): the
    declaration is valid, and one core more is reported as the 4 its systems request."""

    def tiny_pool(doc: Any) -> None:
        doc["clusters"][0]["node_pools"].append(
            {
                "name": "xc-tiny",
                "arch": "x86_64",
                "cpu_vendor": "Hygon",
                "os": "Kylin V10",
                "nodes": 1,
                "cpu_per_node": 3,
                "memory_gib_per_node": 4096,
            }
        )

    def six_on_it(cores: list[float]) -> Callable[[Any], None]:
        def change(doc: Any) -> None:
            on = [s for s in doc["systems"] if s["cluster"] == "yl-gov" and "x86_64" in s["arches"]][: len(cores)]
            for system, cpu in zip(on, cores, strict=True):
                system.update(node_pool="xc-tiny")
                system["resources"]["cpu"] = cpu
                system["resources"]["memory_gib"] = 1.1  # 6.6 GiB in all, 6.6000000000000005 as floats

        return change

    edit("clusters.yaml", tiny_pool)
    edit("systems.yaml", six_on_it([2, 0.2, 0.2, 0.2, 0.2, 0.2]))
    load(city)
    edit("systems.yaml", six_on_it([3, 0.2, 0.2, 0.2, 0.2, 0.2]))
    assert any("node_pools[5].nodes: 3 cores, but its systems request 4" in p for p in problems(city))


def test_cost_shares_adding_up_to_the_whole_budget_are_valid(city: Path, edit: Edit) -> None:
    """Shares of 0.33, 0.56 and 0.11 are the whole budget (1.0000000000000002 as floats, once refused as more); one
    hundredth more is refused as 1.01."""

    def shares(base: float) -> Callable[[Any], None]:
        def change(doc: Any) -> None:
            doc["migration"]["cost_share"] = {"base": base, "new_arch": 0.56, "database": 0.11}

        return change

    edit("city.yaml", shares(0.33))
    load(city)
    edit("city.yaml", shares(0.34))
    with pytest.raises(DeclarationError) as caught:
        load(city)
    assert "migration.cost_share: the shares add up to 1.01, more than the budget" in str(caught.value)
