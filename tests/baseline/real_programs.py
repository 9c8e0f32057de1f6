"""Helpers of the baseline tests that run real programs: Debian packages this machine lacks, role plays."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def debian_package_tree(packages: tuple[str, ...], into: Path) -> Path:
    """The files of Debian packages (`apt-get download` from the configured mirror, `dpkg -x`), for a real program
    this machine does not have installed; skips the test when they cannot be fetched."""
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        pytest.skip("apt-get/dpkg are missing: cannot fetch the Debian packages of the real program")
    debs = into / "debs"
    debs.mkdir(parents=True)
    got = subprocess.run(["apt-get", "download", *packages], cwd=debs, capture_output=True, text=True, check=False)
    if got.returncode != 0:
        pytest.skip(f"`apt-get download {' '.join(packages)}` failed: {got.stderr.strip()[:200]}")
    for deb in debs.glob("*.deb"):
        subprocess.run(["dpkg", "-x", str(deb), str(into / "root")], check=True, capture_output=True)
    return into / "root"


def role_play(facts: dict[str, str], *tasks: dict[str, object]) -> list[dict[str, object]]:
    """A play on this machine that sets another OS's ``facts``, loads the baseline role's variables for it
    (tasks/os_vars.yml) and runs ``tasks``."""
    return [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {"ansible.builtin.set_fact": facts},
                {"ansible.builtin.include_role": {"name": "baseline", "tasks_from": "os_vars"}},
                *tasks,
            ],
        }
    ]


def real_logrotate(into: Path) -> Path:
    """Debian 12's real logrotate (3.21), fetched into ``into``: the path of the program."""
    return debian_package_tree(("logrotate",), into) / "usr" / "sbin" / "logrotate"


@contextlib.contextmanager
def network_namespace(name: str, *links: str) -> Iterator[list[str]]:
    """A network namespace of its own (`ip netns add`, removed after) holding lo and a veth pair per name in
    ``links`` (``<name>`` and ``<name>p``), created with the kernel's defaults: the command prefix that runs a
    command inside it. Its kernel network parameters are its own; this machine's are never touched."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("a network namespace needs root and iproute2")
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"`ip netns add` failed: {made.stderr.strip()[:200]}")
    inside = ["ip", "netns", "exec", name]
    try:
        for link in links:
            subprocess.run([*inside, "ip", "link", "add", link, "type", "veth", "peer", "name", f"{link}p"], check=True)
        yield inside
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)
