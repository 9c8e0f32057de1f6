"""The test host library itself: a booted host is real, isolated, reachable, and gone after teardown."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hosts import nspawn, vm
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


def test_stale_records_of_containers_and_vms_are_cleaned_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A session killed mid-run leaves records of both kinds; each cleanup reads only its own and removes it."""
    gone_pid = int(Path("/proc/self/stat").read_text().split()[0]) + 10_000_000  # beyond pid_max: never alive
    containers = tmp_path / "run"
    monkeypatch.setattr(nspawn, "STATE_DIR", containers)
    monkeypatch.setattr(vm, "STATE_DIR", containers / "vm")
    (containers / "vm").mkdir(parents=True)
    container_record = containers / "yl-old-1.json"
    container_record.write_text(
        json.dumps({"owner_pid": gone_pid, "nspawn_pid": 0, "init_pid": 0, "veth": "vh-dzgone", "root": str(tmp_path)})
    )
    vm_record = containers / "vm" / "yl-old-vm-1.json"
    vm_record.write_text(json.dumps({"owner_pid": gone_pid, "qemu_pid": 0, "work": str(tmp_path)}))
    foreign = containers / "vm-yl-older-layout-1.json"  # a record of another shape: skipped, not a crash
    foreign.write_text(vm_record.read_text())
    nspawn.cleanup_stale_hosts()
    assert not container_record.exists(), "the container record of a dead session is left"
    assert foreign.exists(), "a record the container cleanup cannot read is left alone"
    assert vm_record.exists(), "the container cleanup must not touch VM records"
    vm.cleanup_stale_vms()
    assert not vm_record.exists(), "the VM record of a dead session is left"
    assert tmp_path.is_dir(), "a recorded tree outside the work directory is never removed"
