"""Boot a real Debian 12 host as a QEMU virtual machine: for what no container can show, the kernel's audit.

The VM starts from the same cached debootstrap tree as the containers (hosts.rootfs), with Debian's kernel
and GRUB's configuration tools added. The tree is configured on this machine (hosts.tree) and written into an
ext4 disk image with ``mkfs.ext4 -d`` (no loop mount, nothing runs inside the tree). The guest has its own
kernel, so auditd runs there and the audit rules are really loaded.

Boot: UEFI firmware (OVMF), then GRUB, then the kernel, as a server boots. GRUB is a standalone EFI image
(grub-mkstandalone) that QEMU hands the firmware in place of a kernel, so the disk needs no EFI partition: it
reads the guest's own /boot/grub/grub.cfg, which update-grub in the guest writes (the baseline's DZ-AU-06 does),
and boots the tree's /vmlinuz directly until there is one. So a kernel parameter the role puts in the guest's
GRUB configuration is on the kernel command line after a reboot (reboot_vm), or it is not.

Reboot: the guest's own ``systemctl reboot``, after which QEMU (``-no-reboot``) exits and reboot_vm starts a new
QEMU on the same disk, so the second boot is a cold one through the firmware and GRUB again. A warm reset within
one QEMU is what a server does, but under TCG (QEMU 7.2, OVMF 2022.11, two vCPUs) the firmware sometimes never
came back from it: measured on 2026-12-04, 2 of 3 reboots of a hardened guest left the console silent after
"reboot: machine restart" for 10 minutes at full CPU. Cold boots of the same disk never failed.

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
from hosts.process import HostError, alive, cmdline, tail, try_lock, wait_for_ssh, write_state
from hosts.rootfs import ensure_rootfs_tarball
from hosts.tree import ADMIN_USER, configure_tree

# The kernel, and update-grub with what it needs (grub-mkconfig, grub-probe) for the guest's own boot menu.
# apparmor: an installed Debian confines programs (freshclam among them) with it; a container cannot.
VM_PACKAGES = ("linux-image-amd64", "grub2-common", "apparmor")
# UEFI firmware for QEMU (Debian's ovmf) and GRUB's EFI modules (grub-efi-amd64-bin) on this machine.
FIRMWARE = Path("/usr/share/ovmf/OVMF.fd")
GRUB_EFI_MODULES = Path("/usr/lib/grub/x86_64-efi")
# The standalone GRUB's own configuration: the guest's menu once update-grub has written it, else the tree's kernel.
# Serial only: the VM has no display, and QEMU writes the serial port to console.log.
GRUB_EMBEDDED_CFG = """\
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
search --no-floppy --label dzroot --set=root
if [ -f ($root)/boot/grub/grub.cfg ]; then
  configfile ($root)/boot/grub/grub.cfg
else
  linux ($root)/vmlinuz root=LABEL=dzroot rw console=ttyS0
  initrd ($root)/initrd.img
  boot
fi
"""
# What update-grub in the guest puts on every kernel line and in its menu, as a city's VM template would have it.
GUEST_GRUB_DEFAULTS = """\
# The test VM: a serial console (QEMU writes it to console.log), no display, no menu delay.
GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_TIMEOUT=0
"""
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


@dataclass(slots=True)
class _Vm:
    """A VM booted_vm is running: its QEMU, and what reboot_vm needs to start QEMU again on the same disk."""

    qemu: subprocess.Popen[bytes]
    boot_loader: Path
    image: Path
    address: str
    state_file: Path
    work: Path

    def record(self) -> None:
        """Record the running QEMU, so that a later session stops it if this one dies (cleanup_stale_vms)."""
        write_state(self.state_file, _State(os.getpid(), self.qemu.pid, str(self.work)))

    def restart(self, console: Path) -> None:
        self.qemu = _start_qemu(self.boot_loader, self.image, self.address, console)
        self.record()


# The VMs booted_vm is running, by host name (reboot_vm restarts their QEMU).
_RUNNING: dict[str, _Vm] = {}


@dataclass(frozen=True, slots=True)
class _State:
    owner_pid: int
    qemu_pid: int
    work: str


def missing_vm_tools() -> list[str]:
    """Why VMs cannot be booted here (empty when they can)."""
    reasons = [] if os.geteuid() == 0 else ["not root"]
    tools = (
        "qemu-system-x86_64",
        "mkfs.ext4",
        "grub-mkstandalone",
        "debootstrap",
        "zstd",
        "ssh",
        "ssh-keygen",
        "useradd",
    )
    reasons += [f"{tool} not installed" for tool in tools if shutil.which(tool) is None]
    return reasons + [f"{path} missing" for path in (FIRMWARE, GRUB_EFI_MODULES) if not path.exists()]


@contextlib.contextmanager
def booted_vm(name: str, key_path: Path, prepare: Callable[[Path], None] | None = None) -> Iterator[BootedHost]:
    """Boot one VM from the cached tree, yield it once sshd answers, always stop it and remove its disk.

    ``prepare(tree)`` may add files to the tree before it becomes the disk (certificates the city's PKI
    would have placed): the yielded host's ``root`` is gone by then, as the disk holds the only copy.
    """
    cleanup_stale_vms()
    tarball = ensure_rootfs_tarball(extra_packages=VM_PACKAGES)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with _reserve_loopback() as address:
        work = WORK_DIR / f"{name}-vm-{os.getpid()}"
        state_file = STATE_DIR / f"{name}-{os.getpid()}.json"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        tree = work / "tree"
        console = work / "console.log"
        vm: _Vm | None = None
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
            (tree / "etc/default/grub.d/10-test-vm.cfg").write_text(GUEST_GRUB_DEFAULTS)
            (tree / "boot/grub").mkdir(exist_ok=True)  # where update-grub writes, as a GRUB install leaves it
            if prepare is not None:
                prepare(tree)
            _check_kernel(tree)
            boot_loader = _standalone_grub(work)
            image = work / "disk.img"
            size = _tree_bytes(tree) + DISK_HEADROOM_BYTES
            _run(["mkfs.ext4", "-q", "-F", "-L", "dzroot", "-d", str(tree), str(image), f"{size // 1024}k"])
            shutil.rmtree(tree)  # the disk holds the only copy from here on
            vm = _Vm(_start_qemu(boot_loader, image, address, console), boot_loader, image, address, state_file, work)
            vm.record()
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
            wait_for_ssh(host, vm.qemu, timeout_s=BOOT_TIMEOUT_S, what="QEMU")
            _RUNNING[name] = vm
            yield host
        finally:
            _RUNNING.pop(name, None)
            # After a reboot_vm this is the QEMU of the latest boot.
            _stop(vm.qemu.pid if vm else 0, work)
            if vm is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    vm.qemu.wait(timeout=1)
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
        lock = try_lock(STATE_DIR / f"loopback-{slot}.lock")
        if lock is None:
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


def _check_kernel(tree: Path) -> None:
    """The tree has a kernel and its initramfs where the boot loader looks (/vmlinuz, /initrd.img: links into /boot)."""
    for name in ("vmlinuz", "initrd.img"):
        link = tree / name
        # Resolved inside the tree, as GRUB reads it: an absolute link means the tree's /boot, not this machine's.
        target = os.readlink(link) if link.is_symlink() else name
        if not (tree / target.lstrip("/")).is_file():
            raise HostError(f"{link} missing: the VM tree must include {', '.join(VM_PACKAGES)}")


def _standalone_grub(work: Path) -> Path:
    """GRUB as one EFI image with GRUB_EMBEDDED_CFG and every module inside (its own memory disk)."""
    config = work / "grub-embedded.cfg"
    config.write_text(GRUB_EMBEDDED_CFG)
    image = work / "grub.efi"
    _run(["grub-mkstandalone", "--format=x86_64-efi", f"--directory={GRUB_EFI_MODULES}", f"--output={image}",
          "--locales=", "--fonts=", "--themes=", f"boot/grub/grub.cfg={config}"])  # fmt: skip
    return image


def _tree_bytes(tree: Path) -> int:
    done = subprocess.run(["du", "-sb", str(tree)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def _start_qemu(boot_loader: Path, image: Path, address: str, console: Path) -> subprocess.Popen[bytes]:
    accel = f"{ACCEL},thread=multi" if ACCEL == "tcg" else ACCEL
    options = {
        "-accel": accel,
        "-cpu": "max" if ACCEL == "tcg" else "host",
        "-m": str(MEMORY_MIB),
        "-smp": str(CPUS),
        "-bios": str(FIRMWARE),
        # The firmware starts this EFI image as it would the EFI partition's boot loader.
        "-kernel": str(boot_loader),
        "-drive": f"file={image},if=virtio,format=raw",
        # restrict=on: the guest reaches nothing outside itself; only its sshd comes out, on loopback.
        "-nic": f"user,model=virtio-net-pci,restrict=on,hostfwd=tcp:{address}:{SSH_PORT}-:22",
        "-display": "none",
        "-vga": "none",
        # Appended to, so that the log of a boot after reboot_vm follows the one before.
        "-chardev": f"file,id=console,path={console},append=on",
        "-serial": "chardev:console",
    }
    # A guest reboot ends QEMU; reboot_vm cold-boots the same disk (see the module docstring).
    command = ["qemu-system-x86_64", *(word for pair in options.items() for word in pair), "-no-reboot"]
    with console.open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def reboot_vm(host: BootedHost) -> None:
    """Reboot a VM of booted_vm: the guest shuts down and reboots, QEMU exits, and the same disk boots again through
    the firmware and GRUB; return once sshd answers from the new boot."""
    vm = _RUNNING[host.name]
    # The connection drops as the guest goes down: the exit status says nothing.
    subprocess.run(host.ssh_command("sudo", "-n", "systemctl", "reboot"), capture_output=True, check=False, timeout=60)
    try:
        returncode = vm.qemu.wait(timeout=BOOT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise HostError(
            f"{host.name}: the guest did not go down within {BOOT_TIMEOUT_S} s of `systemctl reboot`:\n"
            f"{tail(host.console_log)}"
        ) from None
    # -no-reboot: a guest reboot is a clean exit; anything else is QEMU failing.
    if returncode != 0:
        raise HostError(f"{host.name}: QEMU exited with {returncode} on reboot:\n{tail(host.console_log)}")
    vm.restart(host.console_log)
    wait_for_ssh(host, vm.qemu, timeout_s=BOOT_TIMEOUT_S, what="QEMU")


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
