"""Debian 12 root filesystems for test hosts: debootstrap once, then a cached zstd tarball.

The cache key is a hash of everything that shapes the tree (suite, mirror, package list, recipe
version), so a changed package list in the role builds a new tree and an unchanged one untars in
about a second. Nothing here starts a process inside the tree: debootstrap runs its maintainer
scripts with a policy-rc.d that refuses to start services, and every later tweak is a file write.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
# What a test host needs to boot, be reached over SSH and be driven by Ansible and testinfra.
BASE_PACKAGES = (
    "openssh-server",
    "python3",
    "sudo",
    "procps",
    "systemd",
    "systemd-sysv",
    "dbus",
    "iproute2",
    "libpam-systemd",
)
# Used only until the role publishes `baseline_packages` in roles/baseline/vars/Debian.yml.
FALLBACK_ROLE_PACKAGES = ("auditd", "aide", "libpam-pwquality", "rsyslog", "cron")
ROLE_VARS = REPO / "roles" / "baseline" / "vars" / "Debian.yml"
# Bump when the recipe below changes in a way the package list does not show.
RECIPE_VERSION = 3
CACHE_DIR = Path(os.environ.get("DIZUO_HOST_CACHE", "/var/cache/dizuo/rootfs"))
DEBOOTSTRAP_TIMEOUT_S = 900
PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.\-]+$")


class RootfsError(RuntimeError):
    """The root filesystem could not be built; the message carries the tail of the build log."""


def role_packages(vars_file: Path = ROLE_VARS) -> tuple[str, ...]:
    """The packages the roles install on Debian, as each role declares them: the baseline role's Debian vars, and
    the OS-independent vars/main.yml of the other roles (test hosts have no mirror to install from)."""
    if not vars_file.is_file():
        return FALLBACK_ROLE_PACKAGES
    document = yaml.safe_load(vars_file.read_text(encoding="utf-8")) or {}
    # baseline_packages, and the lists a concern installs itself (baseline_<concern>_packages: ClamAV).
    lists = [value for key, value in document.items() if key.startswith("baseline_") and key.endswith("_packages")]
    packages = [p for listed in lists if isinstance(listed, list) for p in listed] or FALLBACK_ROLE_PACKAGES
    for other in sorted(vars_file.parents[2].glob("*/vars/main.yml")):
        role = other.parents[1].name
        if role != "baseline":
            values = yaml.safe_load(other.read_text(encoding="utf-8"))
            listed = values.get(f"{role}_packages", []) if isinstance(values, dict) else []
            packages += listed if isinstance(listed, list) else []
    # Templated entries cannot be resolved here; only literal package names go into the tree.
    return tuple(p for p in packages if isinstance(p, str) and PACKAGE_NAME.match(p))


def debian_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses (the only one reachable from here)."""
    if "DIZUO_DEBIAN_MIRROR" in os.environ:
        return os.environ["DIZUO_DEBIAN_MIRROR"]
    texts = [p.read_text(encoding="utf-8") for p in sorted(sources_dir.glob("sources.list.d/*.sources"))]
    for text in texts:
        for stanza in text.split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.+)$", stanza, flags=re.MULTILINE))
            if SUITE in fields.get("Suites", "").split() and "URIs" in fields:
                return fields["URIs"].split()[0]
    lists = [sources_dir / "sources.list", *sorted(sources_dir.glob("sources.list.d/*.list"))]
    for path in lists:
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                match = re.match(rf"^deb\s+(?:\[[^]]*]\s+)?(\S+)\s+{SUITE}\s", line)
                if match:
                    return match.group(1)
    return "http://deb.debian.org/debian"


def packages(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every package installed into the test host tree, sorted and unique."""
    return tuple(sorted({*BASE_PACKAGES, *role_packages(), *extra}))


def cache_key(mirror: str, pkgs: tuple[str, ...]) -> str:
    """A short hash of everything that shapes the tree."""
    text = "\n".join([f"recipe={RECIPE_VERSION}", f"suite={SUITE}", f"mirror={mirror}", *pkgs])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_rootfs_tarball(cache_dir: Path = CACHE_DIR, extra_packages: tuple[str, ...] = ()) -> Path:
    """The cached tarball of the test host tree (plus ``extra_packages``, e.g. a kernel), built first if missing."""
    mirror, pkgs = debian_mirror(), packages(extra_packages)
    tarball = cache_dir / f"debian-{SUITE}-{cache_key(mirror, pkgs)}.tar.zst"
    if tarball.is_file():
        return tarball
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Parallel sessions wanting the same tree wait for one build instead of racing debootstraps.
    with (cache_dir / f"{tarball.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not tarball.is_file():
            _build(tarball, mirror, pkgs)
    return tarball


def _build(tarball: Path, mirror: str, pkgs: tuple[str, ...]) -> None:
    tree = tarball.parent / f".build-{tarball.stem}-{os.getpid()}"
    log = tarball.parent / f"{tarball.name}.build.log"
    shutil.rmtree(tree, ignore_errors=True)
    try:
        with log.open("w") as out:
            done = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(pkgs)}",
                    "--components=main",
                    SUITE,
                    str(tree),
                    mirror,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=DEBOOTSTRAP_TIMEOUT_S,
                check=False,
            )
        if done.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise RootfsError(f"debootstrap {SUITE} from {mirror} failed (log {log}):\n{tail}")
        _prepare(tree)
        partial = tarball.with_name(f".{tarball.name}.{os.getpid()}.partial")
        subprocess.run(
            [
                "tar",
                "-C",
                str(tree),
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=*",
                "-I",
                "zstd -T0 -3",
                "-cf",
                str(partial),
                ".",
            ],
            check=True,
            capture_output=True,
        )
        partial.rename(tarball)  # Atomic: a reader sees the whole tarball or none.
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def _prepare(tree: Path) -> None:
    """File-only tweaks every test host shares; per-host files are written at boot."""
    # networkd configures the veth end inside the container from a static file written at boot.
    wants = tree / "etc/systemd/system/multi-user.target.wants"
    sockets = tree / "etc/systemd/system/sockets.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    sockets.mkdir(parents=True, exist_ok=True)
    _symlink(wants / "systemd-networkd.service", "/lib/systemd/system/systemd-networkd.service")
    _symlink(sockets / "systemd-networkd.socket", "/lib/systemd/system/systemd-networkd.socket")
    # No DNS inside: a refused 127.0.0.1 answers at once, where a missing resolver waits 10 s per lookup.
    resolv = tree / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    resolv.write_text("nameserver 127.0.0.1\n")
    # Units that only slow the boot down or wait for hardware a container does not have.
    for unit in (
        "systemd-networkd-wait-online.service",
        "apt-daily.timer",
        "apt-daily-upgrade.timer",
        "e2scrub_all.timer",
        "fstrim.timer",
        "getty@tty1.service",
        "console-getty.service",
    ):
        _symlink(tree / "etc/systemd/system" / unit, "/dev/null")
    # Downloaded .debs are half the tree and never used again: keep the tarball small and fast to untar.
    for deb in (tree / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    # The machine-id is per boot (nspawn hands one in); a baked one would make every host the same.
    (tree / "etc/machine-id").write_text("")


def _symlink(link: Path, target: str) -> None:
    link.unlink(missing_ok=True)
    link.symlink_to(target)
