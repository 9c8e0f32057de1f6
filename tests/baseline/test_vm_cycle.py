"""The kernel audit on a real virtual machine (QEMU, own kernel): what the container cycle can only call 'not verified'.

`dizuo harden --controls` the controls a container cannot verify (the role's auditd part) -> a reboot through the
VM's firmware and GRUB, whose menu update-grub rewrote -> `dizuo audit --controls` of those passes: the kernel
booted with audit=1, auditd runs and the kernel holds the rules -> a change to a watched file is recorded under
its key -> a second run changes nothing (the handlers, update-grub, rule reload and auditd restart, run for real
here and only on change). The steps share the VM, so they run in file order.
Only this part of the role runs here, and then its malware part under AppArmor (which a container lacks): the VM is
emulated (hosts/vm.py) and a whole converge takes ~25 min. The container cycle (test_host_cycle.py) runs the whole
role and audit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dizuo.baseline import harden
from dizuo.baseline.catalogue import Scope, packaged
from dizuo.declaration import load
from hosts import BootedHost, write_declaration
from hosts.declaration import run_audit
from hosts.loghost import LOG_CA_FILE, issue_log_host_tls
from hosts.mirror import MIRROR_BASELINE, signature_mirror, write_signature_mirror
from hosts.vm import booted_vm, missing_vm_tools, reboot_vm

pytestmark = [pytest.mark.host, pytest.mark.vm, pytest.mark.slow]

VM_NAME = "yl-test-vm-01"
DIZUO = str(Path(sys.executable).parent / "dizuo")
HARDEN_TIMEOUT_S = 1800
KERNEL_AUDIT = [c for c in packaged().for_scope(Scope.HOST) if not c.container.verifiable]
KERNEL_AUDIT_IDS = [c.id for c in KERNEL_AUDIT]
TAGS = harden.remediation_tags(KERNEL_AUDIT)
# Every control those role parts enforce: the audit of them must pass once they ran.
VM_CONTROLS = [c.id for c in packaged().for_scope(Scope.HOST) if set(c.remediation.tags) <= set(TAGS)]


@pytest.fixture(scope="module")
def vm_host(ssh_key: Path) -> Iterator[BootedHost]:
    reasons = missing_vm_tools()
    if reasons:
        pytest.skip(f"cannot boot a test VM here: {', '.join(reasons)}")

    def prepare(tree: Path) -> None:
        # The log host's certificate goes in before boot, as the city's PKI would have placed it; the signature
        # mirror's files too, as the guest reaches nothing outside itself.
        issue_log_host_tls(tree)
        write_signature_mirror(tree)

    with booted_vm(VM_NAME, ssh_key, prepare=prepare) as host:
        yield host


@pytest.fixture(scope="module")
def city(vm_host: BootedHost, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the Yulin declaration whose only host is the VM, also its own log host (over loopback TLS)."""
    return write_declaration(
        tmp_path_factory.mktemp("vm-city") / "yulin",
        [vm_host],
        # Its own time server too: no upstream source reaches an isolated VM, so it serves its local clock.
        city_baseline={
            "log_server": "127.0.0.1",
            "ntp_servers": ["127.0.0.1"],
            "zones": {"management": {"listen_tcp_allowed": [22, 6514], "listen_udp_allowed": [123]}},
            **MIRROR_BASELINE,
        },
        host_vars={
            "baseline_audit_log_server": True,
            "baseline_time_server": True,
            "baseline_log_ca_file": LOG_CA_FILE,
            # An emulated guest on a busy machine can take longer than Ansible's default 10 s to answer SSH.
            "ansible_ssh_timeout": 60,
        },
    )


def _ssh(host: BootedHost, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(host.ssh_command(*command), capture_output=True, text=True, timeout=300, check=False)


def _harden(city: Path, host: BootedHost, tags: list[str] = TAGS) -> tuple[harden.HardenResult, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    result = harden.run(load(city), limit=host.name, on_event=events.append, tags=tags)
    return result, events


def _tasks(events: list[dict[str, Any]], *kinds: str, changed: bool = False) -> list[str]:
    return [
        f"{e['event_data'].get('task', '?')}: {str(e['event_data'].get('res', {}).get('msg', ''))[:300]}"
        for e in events
        if e.get("event") in kinds
        and not e["event_data"].get("ignore_errors")
        and (not changed or e["event_data"].get("res", {}).get("changed"))
    ]


@pytest.fixture(scope="module")
def first_converge(city: Path, vm_host: BootedHost) -> subprocess.CompletedProcess[str]:
    """The first run, as an operator types it: `dizuo harden --controls` of the kernel-audit controls."""
    command = [DIZUO, "harden", "-i", str(city), "--limit", vm_host.name, "--controls", ",".join(KERNEL_AUDIT_IDS)]
    return subprocess.run(command, capture_output=True, text=True, timeout=HARDEN_TIMEOUT_S, check=False)


def test_vm_is_a_vm_with_its_own_kernel(vm_host):
    """The host is a virtual machine, not a container: the audit checks the kernel audit controls for real."""
    virt = _ssh(vm_host, "systemd-detect-virt")
    assert virt.stdout.strip() in {"qemu", "kvm"}, f"{vm_host.name}: detected as {virt.stdout!r} {virt.stderr}"
    container = _ssh(vm_host, "systemd-detect-virt", "--container")
    assert container.returncode != 0, f"{vm_host.name} looks like a container: {container.stdout!r}"


def test_harden_converges_on_vm(first_converge, vm_host):
    """`dizuo harden --controls` runs the role's auditd part (its tag only) without a failure; auditd runs."""
    done = first_converge
    assert done.returncode == 0, (
        f"dizuo harden on {vm_host.name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    assert f"(tags {', '.join(TAGS)})" in " ".join(done.stdout.split()), f"not limited to {TAGS}: {done.stdout}"
    active = _ssh(vm_host, "systemctl", "is-active", "auditd")
    assert active.stdout.strip() == "active", f"auditd is {active.stdout.strip()!r} on a VM: {active.stderr}"


def test_kernel_command_line_waits_for_a_reboot(first_converge, city, tmp_path):
    """Before a reboot the running kernel has no audit=1 yet: DZ-AU-06 fails, with the command line as evidence."""
    done, results = run_audit(city, tmp_path, "--controls", "DZ-AU-06")
    result = results["DZ-AU-06"]
    assert result["status"] == "fail", result
    assert result["problems"] == [
        "the kernel command line has no audit (expected = 1)",
        "the kernel command line has no audit_backlog_limit (expected ≥ 8192)",
    ], result
    assert any(line.startswith("/proc/cmdline: ") for line in result["evidence"]), result
    assert done.returncode == 1, f"a failed control must fail the audit: {done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def rebooted(first_converge: subprocess.CompletedProcess[str], vm_host: BootedHost) -> str:
    """The VM rebooted after the first run, through its firmware and GRUB: its kernel command line after that boot."""
    menu = _ssh(vm_host, "sudo", "-n", "grep", "-c", "audit=1", "/boot/grub/grub.cfg")
    assert int(menu.stdout.strip() or 0) > 0, f"update-grub did not put audit=1 in the guest's GRUB menu: {menu}"
    reboot_vm(vm_host)
    return _ssh(vm_host, "cat", "/proc/cmdline").stdout.strip()


def test_reboot_boots_the_guests_grub_menu(rebooted):
    """The kernel came up from the menu update-grub wrote in the guest (not the fallback), with the role's arguments."""
    assert "BOOT_IMAGE=/boot/vmlinuz-" in rebooted, f"not booted from the guest's GRUB menu: {rebooted}"
    assert "audit=1" in rebooted.split(), f"audit=1 not on the kernel command line after a reboot: {rebooted}"


def test_kernel_audit_controls_pass_on_vm(rebooted, city, tmp_path):
    """After hardening and a reboot, the controls of that role part pass on the VM, verified for real (none 'not
    verified')."""
    assert KERNEL_AUDIT, "the catalogue names the controls a container cannot verify"
    done, results = run_audit(city, tmp_path, "--controls", ",".join(VM_CONTROLS))
    assert sorted(results) == sorted(VM_CONTROLS), "the report lists exactly the controls asked for"
    not_passing = {
        c: f"{r['status']}: {'; '.join([*r['problems'], r['note']])}"
        for c, r in results.items()
        if r["status"] != "pass"
    }
    assert not_passing == {}, f"controls not passing on the VM: {json.dumps(not_passing, indent=1, ensure_ascii=False)}"
    loaded = " ".join(results["DZ-AU-01"]["evidence"])
    for key in ("dz-identity", "dz-privilege", "dz-keyfiles", "dz-audit", "dz-logins", "dz-time", "dz-perm"):
        assert key in loaded, f"DZ-AU-01 evidence does not show the kernel holding the {key} rules: {loaded}"
    assert "auditctl -s: enabled 2" in loaded, f"the kernel's rules are not locked: {loaded}"
    assert any("audit=1" in line for line in results["DZ-AU-06"]["evidence"]), results["DZ-AU-06"]
    # chronyd really runs here, as the city's time server on its local clock (no upstream reaches the VM).
    assert "leap status Normal" in " ".join(results["DZ-AU-07"]["evidence"]), results["DZ-AU-07"]
    assert done.returncode == 0, f"audit of the hardened VM exited {done.returncode}:\n{done.stdout}\n{done.stderr}"


def test_a_denied_open_by_a_person_is_audited(rebooted, vm_host):
    """A system-call rule at work (CIS 6.2.3.7): the admin, logged in as a person, is refused /etc/shadow; the
    kernel records the EACCES under dz-access with the login uid."""
    denied = _ssh(vm_host, "cat", "/etc/shadow")
    assert denied.returncode != 0, "an ordinary login read /etc/shadow"
    found = _ssh(
        vm_host, "sudo", "-n", "ausearch", "--input-logs", "--start", "recent", "--key", "dz-access",
        "--file", "/etc/shadow", "--interpret",
    )  # fmt: skip
    assert found.returncode == 0, f"no recent dz-access record for /etc/shadow: {found.stdout} {found.stderr}"
    for field in ("comm=cat", "auid=dzadmin", "exit=EACCES"):
        assert field in found.stdout, f"the record lacks {field}: {found.stdout[-1500:]}"


def test_watched_file_change_is_audited(rebooted, vm_host):
    """A change to a watched file (/etc/sudoers) lands in the kernel's audit log under its key (dz-privilege)."""
    # chmod to the mode it already has: an attribute change the 'wa' watch sees, leaving the file as it was.
    changed = _ssh(vm_host, "sudo", "-n", "chmod", "0440", "/etc/sudoers")
    assert changed.returncode == 0, changed.stderr
    # --input-logs: without a terminal ausearch would search its (empty) standard input instead of the logs.
    found = _ssh(
        vm_host, "sudo", "-n", "ausearch", "--input-logs", "--start", "recent", "--key", "dz-privilege",
        "--file", "/etc/sudoers", "--interpret",
    )  # fmt: skip
    assert found.returncode == 0, f"no recent dz-privilege record for /etc/sudoers: {found.stdout} {found.stderr}"
    for field in ("comm=chmod", "auid=dzadmin"):  # the command, and the person who logged in
        assert field in found.stdout, f"the record lacks {field}: {found.stdout[-1500:]}"


def test_second_run_changes_nothing_on_vm(rebooted, city, vm_host):
    """A second run reports 0 changed: with auditd really running, its handlers must not fire again."""
    result, events = _harden(city, vm_host)
    assert result.ok, (
        f"second run failed on {vm_host.name}: {_tasks(events, 'runner_on_failed', 'runner_on_unreachable')}"
    )
    assert result.changed == 0, f"second run changed on {vm_host.name}: {_tasks(events, 'runner_on_ok', changed=True)}"


def test_malware_protection_works_under_apparmor_on_vm(rebooted, city, vm_host, tmp_path):
    """DZ-MC-03 where AppArmor confines freshclam, as on an installed Debian (the container has no AppArmor): the
    role's rule lets freshclam read dizuo's configuration, the update from the city's mirror works, the control
    passes, and a second run changes nothing."""
    enforced = _ssh(vm_host, "sudo", "-n", "aa-status")
    assert "/usr/bin/freshclam" in enforced.stdout, f"AppArmor does not confine freshclam here: {enforced.stdout}"
    signature_mirror(vm_host, "start")
    first, events = _harden(city, vm_host, tags=["malware"])
    assert first.ok, f"the malware part failed on {vm_host.name}: {_tasks(events, 'runner_on_failed')}"
    done, results = run_audit(city, tmp_path, "--controls", "DZ-MC-03")
    result = results["DZ-MC-03"]
    assert result["status"] == "pass", result
    assert any(line.startswith("database city.hdb: 1 signatures") for line in result["evidence"]), result
    assert done.returncode == 0, f"audit of DZ-MC-03 on the VM exited {done.returncode}:\n{done.stdout}"
    again, events = _harden(city, vm_host, tags=["malware"])
    assert again.ok, f"second malware run failed: {_tasks(events, 'runner_on_failed')}"
    assert again.changed == 0, f"second malware run changed: {_tasks(events, 'runner_on_ok', changed=True)}"
