"""Sessions for lint, typing, tests and benchmarks. `nox -s tests` is what CI runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typing", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")

# System packages the test suite drives for real: Prometheus + promtool, systemd-nspawn test hosts and a QEMU
# VM (for the kernel audit; booted by UEFI firmware and GRUB) built with debootstrap (cached as zstd tarballs),
# ssh for Ansible and testinfra. Keyed by a command, or by a path where the package has no command of its own.
APT_PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "systemd-nspawn": "systemd-container",
    "systemd-analyze": "systemd",
    "debootstrap": "debootstrap",
    "zstd": "zstd",
    "ssh": "openssh-client",
    "ip": "iproute2",
    "qemu-system-x86_64": "qemu-system-x86",
    "mkfs.ext4": "e2fsprogs",
    "grub-mkstandalone": "grub-common",
    "/usr/lib/grub/x86_64-efi": "grub-efi-amd64-bin",
    "/usr/share/ovmf/OVMF.fd": "ovmf",
    # The kernel's generic system-call table, read with cpp: the LoongArch audit rules are checked against it.
    "cpp": "cpp",
    "/usr/include/asm-generic/unistd.h": "linux-libc-dev",
    # BIND's own zone checker reads the DNS records synth writes for the ingress names.
    "named-checkzone": "bind9-utils",
    # roles/data_migration copies with rsync (its data_migration_packages): its tests run it on this machine.
    "rsync": "rsync",
    # The baseline's package removal on dnf hosts (openEuler, Kylin) runs against made-up packages built with rpmbuild.
    "rpmbuild": "rpm",
    "dnf": "dnf",
}


def _present(tool: str) -> bool:
    return Path(tool).exists() if tool.startswith("/") else shutil.which(tool) is not None


def _install_system_packages(session: nox.Session) -> None:
    """apt-get install what the suite needs, when it is missing and we are root (CI, fresh machines)."""
    missing = sorted({pkg for tool, pkg in APT_PACKAGES.items() if not _present(tool)})
    if not missing:
        return
    if os.geteuid() != 0:
        session.warn(f"not root: cannot install {missing}; tests that need them will be skipped")
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-q", external=True, env=env)
    session.run("apt-get", "install", "-y", "-q", "--no-install-recommends", *missing, external=True, env=env)


def _install(session: nox.Session, *groups: str) -> None:
    session.install("-q", "--upgrade", "pip")
    session.install("-q", ".")
    for group in groups:
        session.install("-q", *nox.project.dependency_groups(PYPROJECT, group))


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole test suite against the installed package, real servers and hosts included."""
    _install_system_packages(session)
    _install(session, "test", "lint")
    # The slowest tests are listed at the end: CI has a 90-minute limit, and they say where the time goes.
    session.run("pytest", *(session.posargs or ["-q", "--durations=25"]))


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff on the Python code, ansible-lint on the roles."""
    _install(session, "lint")
    session.run("ruff", "check", "src", "tests", "stacks", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "stacks", "bench", "noxfile.py")
    if os.path.isdir("roles/baseline"):
        session.run("ansible-lint", "--offline", "roles/")


@nox.session(python="3.11")
def typing(session: nox.Session) -> None:
    """mypy --strict on the library."""
    _install(session, "typing")
    session.run("mypy", "src/dizuo")


@nox.session(python="3.11")
def rules(session: nox.Session) -> None:
    """promtool check + test of the committed alert rules."""
    _install_system_packages(session)
    session.run("promtool", "check", "rules", "monitoring/alerts.yaml", external=True)
    session.run("promtool", "test", "rules", *sorted(_glob("monitoring/tests", ".yaml")), external=True)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Every benchmark under bench/, each side by side with its anchor."""
    _install(session, "test")
    for script in sorted(_glob("bench", "run.py", recursive=True)):
        session.run("python", script)
    session.run("python", "bench/capacity/projection.py")  # the usage projection `dizuo migrate city` sizes by


def _glob(folder: str, suffix: str, recursive: bool = False) -> list[str]:
    found = subprocess.run(
        ["find", folder, *([] if recursive else ["-maxdepth", "1"]), "-name", f"*{suffix}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in found.stdout.splitlines() if line]
