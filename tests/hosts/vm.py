"""Boot a real Debian 12 host as a QEMU virtual machine: for what no container can show, the kernel's audit.

The VM starts from the same cached debootstrap tree as the containers (hosts.rootfs), with Debian's kernel
added. The tree is configured on this machine (hosts.tree), written into an ext4 disk image with
``mkfs.ext4 -d`` (no loop mount, nothing runs inside the tree) and booted with its own kernel and initramfs.
The guest has its own kernel, so auditd runs there and the audit rules are really loaded.

Network: QEMU's user-mode network with ``restrict=on``, so the guest reaches nothing outside itself; its sshd
is forwarded to one address of this machine's loopback (127.0.77.N), which is all the tests connect to.

Accelerator: TCG (emulation) unless DIZUO_VM_ACCEL says otherwise. Measured on these machines, which are VMs
themselves: under nested KVM the guest kernel had only reached "Booting paravirtualized kernel" after 90 s;
under TCG the guest answers SSH after ~45 s. Where KVM is native, DIZUO_VM_ACCEL=kvm is far faster.

Every booted VM is recorded in a state file, so a session killed before its teardown has its QEMU and
disk removed by the next session (by the recorded process id, checked against its command line).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hosts.nspawn import STATE_DIR as HOSTS_STATE_DIR
from hosts.nspawn import WORK_DIR, BootedHost
from hosts.process import HostError, alive, cmdline, wait_for_ssh, write_state
from hosts.rootfs import ensure_rootfs_tarball
from hosts.tree import ADMIN_USER, configure_tree

KERNEL_PACKAGES = ("linux-image-amd64",)
ACCEL = os.environ.get("DIZUO_VM_ACCEL", "tcg")
MEMORY_MIB = 2048
CPUS = 2
# Room for what the role and the tests write (logs, audit records) on top of the tree itself.
DISK_HEADROOM_BYTES = 2 << 30
# Loopback addresses of this block are handed out one per VM; the forwarded SSH port on each.
LOOPBACK_PREFIX = "127.0.77."
LOOPBACK_SLOTS = range(2, 250)
SSH_PORT = 2222
# The guest's side of QEMU's user network (10.0.2.0/24).
GUEST_ADDRESS = "10.0.2.15"
BOOT_TIMEOUT_S = 600
# VM records apart from the containers' (a different record: each cleanup reads only its own kind).
STATE_DIR = HOSTS_STATE_DIR / "vm"
STOP_TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class _State:
    owner_pid: int
    qemu_pid: int
    work: str


def missing_vm_tools() -> list[str]:
    """Why VMs cannot be booted here (empty when they can)."""
    reasons = [] if os.geteuid() == 0 else ["not root"]
    return reasons + [
        f"{tool} not installed"
        for tool in ("qemu-system-x86_64", "mkfs.ext4", "debootstrap", "zstd", "ssh", "ssh-keygen", "useradd")
        if shutil.which(tool) is None
    ]


@contextlib.contextmanager
def booted_vm(name: str, key_path: Path, prepare: Callable[[Path], None] | None = None) -> Iterator[BootedHost]:
    """Boot one VM from the cached tree, yield it once sshd answers, always stop it and remove its disk.

    ``prepare(tree)`` may add files to the tree before it becomes the disk (certificates the city's PKI
    would have placed): the yielded host's ``root`` is gone by then, as the disk holds the only copy.
    """
    cleanup_stale_vms()
    tarball = ensure_rootfs_tarball(extra_packages=KERNEL_PACKAGES)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with _reserve_loopback() as address:
        work = WORK_DIR / f"{name}-vm-{os.getpid()}"
        state_file = STATE_DIR / f"{name}-{os.getpid()}.json"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        tree = work / "tree"
        console = work / "console.log"
        qemu: subprocess.Popen[bytes] | None = None
        try:
            tree.mkdir()
            _run(["tar", "-C", str(tree), "--numeric-owner", "--xattrs", "--xattrs-include=*", "-I", "zstd -T0",
                  "-xf", str(tarball)])  # fmt: skip
            configure_tree(
                tree,
                name,
                key_path,
                extra_hosts_line=f"{GUEST_ADDRESS}\t{name}",
                # A static address, as declared servers have: a DHCP client's socket would be a listener the
                # baseline's port allow-list (DZ-IP-02) rightly flags.
                network=f"[Match]\nName=en* eth*\n\n[Network]\nAddress={GUEST_ADDRESS}/24\n"
                "LinkLocalAddressing=no\nIPv6AcceptRA=no\n",
            )
            (tree / "etc/fstab").write_text("/dev/vda / ext4 defaults,errors=remount-ro 0 1\n")
            if prepare is not None:
                prepare(tree)
            kernel, initrd = _boot_files(tree, work)
            image = work / "disk.img"
            size = _tree_bytes(tree) + DISK_HEADROOM_BYTES
            _run(["mkfs.ext4", "-q", "-F", "-L", "dzroot", "-d", str(tree), str(image), f"{size // 1024}k"])
            shutil.rmtree(tree)  # the disk holds the only copy from here on
            qemu = _start_qemu(kernel, initrd, image, address, console)
            write_state(state_file, _State(os.getpid(), qemu.pid, str(work)))
            host = BootedHost(
                name=name,
                address=address,
                port=SSH_PORT,
                user=ADMIN_USER,
                key_path=key_path,
                known_hosts=key_path.parent / "known_hosts",
                root=tree,
                console_log=console,
                veth="",
            )
            wait_for_ssh(host, qemu, timeout_s=BOOT_TIMEOUT_S, what="QEMU")
            yield host
        finally:
            _stop(qemu.pid if qemu else 0, work)
            if qemu is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    qemu.wait(timeout=1)
            state_file.unlink(missing_ok=True)


def cleanup_stale_vms() -> None:
    """Stop VMs whose session died without tearing them down (only those recorded by us)."""
    if not STATE_DIR.is_dir():
        return
    for path in STATE_DIR.glob("*.json"):
        state = _State(**json.loads(path.read_text()))
        if alive(state.owner_pid):
            continue
        _stop(state.qemu_pid, Path(state.work))
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _reserve_loopback() -> Iterator[str]:
    """A loopback address held (by a lock) for this VM's lifetime, with SSH_PORT free on it."""
    for slot in LOOPBACK_SLOTS:
        address = f"{LOOPBACK_PREFIX}{slot}"
        lock = (STATE_DIR / f"loopback-{slot}.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        if not _port_free(address, SSH_PORT):
            lock.close()
            continue
        try:
            yield address
        finally:
            lock.close()
        return
    raise HostError(f"no free {LOOPBACK_PREFIX}N:{SSH_PORT} left for a test VM")


def _port_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _boot_files(tree: Path, work: Path) -> tuple[Path, Path]:
    """The tree's kernel and initramfs, copied out of it (the tree itself goes into the disk image)."""
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise HostError(f"{tree}/boot has no kernel: the VM tree must include {', '.join(KERNEL_PACKAGES)}")
    kernel = kernels[-1]
    initrd = tree / "boot" / kernel.name.replace("vmlinuz-", "initrd.img-")
    if not initrd.is_file():
        raise HostError(f"{initrd} missing: the kernel package did not build its initramfs")
    shutil.copyfile(kernel, work / "vmlinuz")
    shutil.copyfile(initrd, work / "initrd.img")
    return work / "vmlinuz", work / "initrd.img"


def _tree_bytes(tree: Path) -> int:
    done = subprocess.run(["du", "-sb", str(tree)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def _start_qemu(kernel: Path, initrd: Path, image: Path, address: str, console: Path) -> subprocess.Popen[bytes]:
    accel = f"{ACCEL},thread=multi" if ACCEL == "tcg" else ACCEL
    options = {
        "-accel": accel,
        "-cpu": "max" if ACCEL == "tcg" else "host",
        "-m": str(MEMORY_MIB),
        "-smp": str(CPUS),
        "-kernel": str(kernel),
        "-initrd": str(initrd),
        "-append": "root=/dev/vda rw console=ttyS0",
        "-drive": f"file={image},if=virtio,format=raw",
        # restrict=on: the guest reaches nothing outside itself; only its sshd comes out, on loopback.
        "-nic": f"user,model=virtio-net-pci,restrict=on,hostfwd=tcp:{address}:{SSH_PORT}-:22",
        "-display": "none",
        "-vga": "none",
        "-serial": f"file:{console}",
    }
    command = ["qemu-system-x86_64", *(word for pair in options.items() for word in pair), "-no-reboot"]
    with console.open("wb") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(qemu_pid: int, work: Path) -> None:
    """Kill the VM (its disk is thrown away: no orderly poweroff needed) and remove its work directory."""
    if qemu_pid and alive(qemu_pid) and str(work) in cmdline(qemu_pid):
        os.kill(qemu_pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while alive(qemu_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    if work.is_relative_to(WORK_DIR) and work != WORK_DIR:
        shutil.rmtree(work, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise HostError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
