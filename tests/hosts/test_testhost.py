"""The test host library itself: a booted host is real, isolated, reachable, and gone after teardown."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hosts.nspawn import WORK_DIR, BootedHost, booted_host

pytestmark = pytest.mark.host


def _ssh(host: BootedHost, *command: str) -> str:
    done = subprocess.run(host.ssh_command(*command), capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, f"{host.name}: `{' '.join(command)}` failed: {done.stderr}"
    return done.stdout.strip()


def test_host_boots_systemd_in_its_own_namespaces(debian_host):
    """The test host runs systemd as PID 1 inside a container, not a chroot acting on this machine."""
    assert _ssh(debian_host, "cat", "/proc/1/comm") == "systemd", f"{debian_host.name}: PID 1 is not systemd"
    assert _ssh(debian_host, "systemd-detect-virt", "-c") == "systemd-nspawn", (
        f"{debian_host.name}: not detected as an nspawn container"
    )
    hostname = _ssh(debian_host, "hostname")
    assert hostname == debian_host.name, f"{debian_host.name}: hostname is {hostname!r}"


def test_admin_logs_in_with_key_and_has_passwordless_sudo(debian_host):
    """The admin comes in with this session's key and becomes root without a password (as Ansible does)."""
    assert _ssh(debian_host, "sudo", "-n", "id", "-u") == "0", f"{debian_host.name}: sudo -n did not give root"


def test_host_network_is_private(debian_host):
    """The host's interfaces are its own: loopback and its end of the veth pair, nothing of this machine."""
    links = _ssh(debian_host, "ip", "-o", "-4", "addr")
    addresses = sorted(line.split()[3] for line in links.splitlines())
    assert addresses == sorted(["127.0.0.1/8", f"{debian_host.address}/30"]), (
        f"{debian_host.name}: unexpected IPv4 addresses {addresses}"
    )


def test_teardown_stops_container_and_removes_veth_and_tree(ssh_key: Path):
    """After its context ends a host leaves no container process, veth or tree behind."""
    with booted_host("yl-test-teardown", ssh_key) as host:
        root = host.root
        veth = host.veth
        up = subprocess.run(["ip", "link", "show", veth], capture_output=True, check=False)
        assert up.returncode == 0, f"veth {veth} of yl-test-teardown is missing while the host runs"
    gone = subprocess.run(["ip", "link", "show", veth], capture_output=True, check=False)
    assert gone.returncode != 0, f"veth {veth} of yl-test-teardown is still there"
    assert not root.exists(), f"tree {root} of yl-test-teardown is still there"
    left = [p.name for p in WORK_DIR.glob("yl-test-teardown-*") if p.is_dir()]
    assert left == [], f"leftover trees {left}"
    procs = subprocess.run(["pgrep", "-f", f"--directory={root}"], capture_output=True, text=True, check=False)
    assert procs.stdout.strip() == "", f"systemd-nspawn for {root} still running: {procs.stdout}"
