"""Boot a real Debian 12 host with ``systemd-nspawn -b`` on a private network of its own.

The host runs systemd as PID 1 in its own PID, mount and network namespaces: its services, its
sysctls under /proc/sys/net and its sshd are its own, never this machine's. This machine only
sees the host end of one veth pair, with an address out of 192.168.254.0/24 that nothing else
here uses; the tests connect to the container end and to nothing else.

Every booted host is recorded in a state file, so a session killed before its teardown has its
container, veth and tree removed by the next session (by the recorded process ids only).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hosts.process import HostError, alive, cmdline, tail, try_lock, wait_for_ssh, write_state
from hosts.rootfs import ensure_rootfs_tarball
from hosts.tree import ADMIN_USER, configure_tree

# /30 networks out of this block: .1 is this machine's end of the veth, .2 the container.
VETH_BLOCK = ipaddress.IPv4Network("192.168.254.0/24")
WORK_DIR = Path(os.environ.get("DIZUO_HOST_WORKDIR", "/var/lib/dizuo/testhosts"))
STATE_DIR = Path("/run/dizuo-testhosts")
BOOT_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20


@dataclass(frozen=True, slots=True)
class BootedHost:
    """A running test host and how to reach it."""

    name: str
    address: str
    """Where to connect: the container end of the veth pair, or a VM's forwarded loopback address."""
    port: int
    user: str
    key_path: Path
    known_hosts: Path
    root: Path
    """The host's tree on this machine; for a VM the tree its disk was made from, gone once it boots."""
    console_log: Path
    veth: str
    """This machine's end of the veth pair (the container end is its peer); empty for a VM."""

    def ssh_command(self, *command: str) -> list[str]:
        """An ``ssh`` command line that runs ``command`` on the host as the admin, key only."""
        return ["ssh", *self.ssh_options(), "-p", str(self.port), f"{self.user}@{self.address}", *command]

    def ssh_options(self) -> list[str]:
        """Options every connection to the host uses: this session's key and known-hosts file, no prompts."""
        return [
            "-i", str(self.key_path),
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", "PasswordAuthentication=no",
            "-o", "StrictHostKeyChecking=no",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "ConnectTimeout=5",
        ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class _State:
    owner_pid: int
    nspawn_pid: int
    init_pid: int
    veth: str
    root: str


def missing_tools() -> list[str]:
    """Why test hosts cannot be booted here (empty when they can)."""
    reasons = []
    if os.geteuid() != 0:
        reasons.append("not root")
    reasons += [
        f"{tool} not installed"
        for tool in ("debootstrap", "systemd-nspawn", "zstd", "ip", "ssh", "ssh-keygen", "useradd")
        if shutil.which(tool) is None
    ]
    return reasons


def generate_key(directory: Path) -> Path:
    """A fresh ed25519 key pair for one test session; returns the private key's path."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dizuo-test", "-f", str(key)], check=True)
    return key


@contextlib.contextmanager
def booted_host(name: str, key_path: Path) -> Iterator[BootedHost]:
    """Boot one host from the cached tree, yield it once sshd answers, always stop and remove it."""
    cleanup_stale_hosts()
    tarball = ensure_rootfs_tarball()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with _reserve_network() as (slot, network):
        host_ip, guest_ip = str(network[1]), str(network[2])
        veth_host, veth_guest = f"vh-dz{slot}", f"vc-dz{slot}"
        root = WORK_DIR / f"{name}-{os.getpid()}"
        state_file = STATE_DIR / f"{name}-{os.getpid()}.json"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        console = WORK_DIR / f"{name}-{os.getpid()}.console.log"
        nspawn: subprocess.Popen[bytes] | None = None
        init_pid = 0
        try:
            subprocess.run(
                [
                    "tar",
                    "-C",
                    str(root),
                    "--numeric-owner",
                    "--xattrs",
                    "--xattrs-include=*",
                    "-I",
                    "zstd -T0",
                    "-xf",
                    str(tarball),
                ],
                check=True,
                capture_output=True,
            )
            _configure(root, name, f"{guest_ip}/{network.prefixlen}", veth_guest, key_path)
            with console.open("wb") as log:
                nspawn = _start_nspawn(root, name, log)
            init_pid = _container_init(nspawn, console)
            write_state(state_file, _State(os.getpid(), nspawn.pid, init_pid, veth_host, str(root)))
            _plug_veth(veth_host, veth_guest, init_pid, f"{host_ip}/{network.prefixlen}")
            host = BootedHost(
                name=name,
                address=guest_ip,
                port=22,
                user=ADMIN_USER,
                key_path=key_path,
                known_hosts=key_path.parent / "known_hosts",
                root=root,
                console_log=console,
                veth=veth_host,
            )
            wait_for_ssh(host, nspawn, timeout_s=BOOT_TIMEOUT_S, what="systemd-nspawn")
            yield host
        finally:
            _stop(nspawn.pid if nspawn else 0, init_pid, veth_host, root)
            if nspawn is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    nspawn.wait(timeout=1)
            state_file.unlink(missing_ok=True)
            console.unlink(missing_ok=True)


def cleanup_stale_hosts() -> None:
    """Stop hosts whose session died without tearing them down (only those recorded by us)."""
    if not STATE_DIR.is_dir():
        return
    for path in STATE_DIR.glob("*.json"):
        try:
            state = _State(**json.loads(path.read_text()))
        except (TypeError, ValueError):
            continue  # not a container record (another kind of host, or an older layout): not ours to stop
        if alive(state.owner_pid):
            continue
        nspawn = state.nspawn_pid if state.root in cmdline(state.nspawn_pid) else 0
        init = state.init_pid if alive(state.init_pid) and nspawn else 0
        _stop(nspawn, init, state.veth, Path(state.root))
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _reserve_network() -> Iterator[tuple[int, ipaddress.IPv4Network]]:
    """A /30 of VETH_BLOCK held (by a lock) for this host's lifetime and free on this machine."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    in_use = [ipaddress.IPv4Interface(word).network for word in used.split() if "/" in word and word[0].isdigit()]
    for slot, network in enumerate(VETH_BLOCK.subnets(new_prefix=30)):
        if slot == 0 or any(network.overlaps(other) for other in in_use):
            continue
        lock = try_lock(STATE_DIR / f"net-{slot}.lock")
        if lock is None:
            continue
        try:
            yield slot, network
        finally:
            lock.close()
        return
    raise HostError(f"no free /30 left in {VETH_BLOCK} for a test host")


def _configure(root: Path, name: str, guest_cidr: str, veth_guest: str, key_path: Path) -> None:
    """Per-host files: hostname, hosts, the static network on the veth end, and the admin with this session's key."""
    guest_ip = guest_cidr.split("/", maxsplit=1)[0]
    configure_tree(
        root,
        name,
        key_path,
        extra_hosts_line=f"{guest_ip}\t{name}",
        network=f"[Match]\nName={veth_guest}\n\n[Network]\nAddress={guest_cidr}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n",
    )


def _start_nspawn(root: Path, name: str, log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            "systemd-nspawn",
            "--quiet",
            f"--directory={root}",
            f"--machine={name}",
            "--boot",
            "--register=no",  # No systemd on this machine to register with.
            "--keep-unit",
            "--private-network",
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
            "--console=passive",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        # Its own process group: a Ctrl-C in pytest reaches the teardown, not the container first.
        start_new_session=True,
    )


def _container_init(nspawn: subprocess.Popen[bytes], console: Path) -> int:
    """The PID (on this machine) of the container's systemd: the descendant of nspawn that is PID 1 inside."""
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        if nspawn.poll() is not None:
            raise HostError(f"systemd-nspawn exited with {nspawn.returncode}:\n{tail(console)}")
        for pid in _descendants(nspawn.pid):
            if _pid_in_namespace(pid) == 1:
                return pid
        time.sleep(0.1)
    raise HostError(f"the container of nspawn pid {nspawn.pid} never started its init:\n{tail(console)}")


def _plug_veth(veth_host: str, veth_guest: str, init_pid: int, host_cidr: str) -> None:
    for command in (
        ["ip", "link", "add", veth_host, "type", "veth", "peer", "name", veth_guest, "netns", str(init_pid)],
        ["ip", "addr", "add", host_cidr, "dev", veth_host],
        ["ip", "link", "set", veth_host, "up"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise HostError(f"{' '.join(command)}: {done.stderr.strip()}")


def _stop(nspawn_pid: int, init_pid: int, veth_host: str, root: Path) -> None:
    """Kill the container, remove its veth and its tree."""
    if init_pid and alive(init_pid) and _root_of(init_pid) == str(root):
        # The tree is thrown away: no orderly poweroff needed, and killing a PID namespace's init
        # kills every process in it at once (a poweroff takes up to 20 s with auditd and rsyslog).
        os.kill(init_pid, signal.SIGKILL)
    elif nspawn_pid and alive(nspawn_pid):
        os.kill(nspawn_pid, signal.SIGTERM)  # nspawn turns SIGTERM into a poweroff of the container.
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while nspawn_pid and alive(nspawn_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if nspawn_pid and alive(nspawn_pid):
        os.kill(nspawn_pid, signal.SIGKILL)
    subprocess.run(["ip", "link", "del", veth_host], capture_output=True, check=False)
    if root.is_relative_to(WORK_DIR) and root != WORK_DIR and not _mounted_below(root):
        shutil.rmtree(root, ignore_errors=True)


def _root_of(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return ""


def _mounted_below(root: Path) -> bool:
    mounts = Path("/proc/self/mounts").read_text().split("\n")
    return any(len(fields) > 1 and fields[1].startswith(str(root)) for fields in (m.split() for m in mounts))


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                children = [int(c) for c in (task / "children").read_text().split()]
                found += children
                todo += children
    return found


def _pid_in_namespace(pid: int) -> int:
    """The PID a process has inside its own PID namespace (1 for a container's init), 0 if gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    return 0
