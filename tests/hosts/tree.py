"""Per-host files written into an unpacked test host tree before it boots (container or VM alike).

Only file writes and ``useradd --root``/``usermod --root``, which edit files below the tree: nothing
here runs inside the tree or starts a process in it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ADMIN_USER = "dzadmin"


class TreeError(RuntimeError):
    """The tree could not be configured."""


def configure_tree(root: Path, name: str, key_path: Path, *, extra_hosts_line: str, network: str) -> None:
    """Hostname, /etc/hosts, one systemd-networkd unit, and the admin who logs in with ``key_path`` only."""
    (root / "etc/hostname").write_text(f"{name}\n")
    (root / "etc/hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n{extra_hosts_line}\n")
    network_dir = root / "etc/systemd/network"
    network_dir.mkdir(parents=True, exist_ok=True)
    (network_dir / "10-dizuo-test.network").write_text(network)
    # useradd --root only edits files below root; it starts nothing.
    subprocess.run(
        ["useradd", "--root", str(root), "--create-home", "--shell", "/bin/bash", "--groups", "sudo", ADMIN_USER],
        check=True,
        capture_output=True,
    )
    # A locked password ('!') would keep it out under `UsePAM no`; '*' means "no password, key only".
    subprocess.run(["usermod", "--root", str(root), "--password", "*", ADMIN_USER], check=True, capture_output=True)
    sudoers = root / "etc/sudoers.d" / ADMIN_USER
    sudoers.write_text(f"{ADMIN_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    uid, gid = _ids(root, ADMIN_USER)
    ssh_dir = root / "home" / ADMIN_USER / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    authorized = ssh_dir / "authorized_keys"
    authorized.write_text(key_path.with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    for path in (ssh_dir, authorized):
        os.chown(path, uid, gid)


def _ids(root: Path, user: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise TreeError(f"{root}/etc/passwd: no user {user} after useradd")
