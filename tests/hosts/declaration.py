"""A city declaration whose only host is a booted test host, so tests drive the real CLI path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from hosts.nspawn import BootedHost
from hosts.rootfs import REPO

REFERENCE_CITY = REPO / "inventories" / "yulin"
# Inside the declared management zone (mgmt-ops, 10.64.1.0/24) and used by no declared host:
# the declaration speaks of zone addresses; `ansible_host` says where the test really connects.
DECLARED_ADDRESS = "10.64.1.250"


def write_declaration(
    directory: Path,
    hosts: list[BootedHost],
    *,
    host_vars: dict[str, Any] | None = None,
    city_baseline: dict[str, Any] | None = None,
) -> Path:
    """Copy the Yulin declaration into ``directory`` with ``hosts.yaml`` listing only ``hosts``."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in REFERENCE_CITY.glob("*.yaml"):
        shutil.copyfile(source, directory / source.name)
    if city_baseline is not None:
        city = yaml.safe_load((directory / "city.yaml").read_text(encoding="utf-8"))
        city["baseline"] = city_baseline
        (directory / "city.yaml").write_text(yaml.safe_dump(city, allow_unicode=True), encoding="utf-8")
    first = hosts[0] if hosts else None
    document: dict[str, Any] = {
        "ansible_user": first.user if first else "dzadmin",
        "vars": {
            "ansible_python_interpreter": "/usr/bin/python3",
            **(
                {
                    "ansible_ssh_private_key_file": str(first.key_path),
                    "ansible_ssh_common_args": " ".join(
                        [
                            "-o StrictHostKeyChecking=no",
                            f"-o UserKnownHostsFile={first.known_hosts}",
                            "-o IdentitiesOnly=yes",
                        ]
                    ),
                }
                if first
                else {}
            ),
            **(host_vars or {}),
        },
        "hosts": [
            {
                "name": host.name,
                "address": _declared_address(index),
                "zone": "management",
                "groups": ["test"],
                "os": "Debian 12",
                "arch": "x86_64",
                "ansible_host": host.address,
                "ansible_port": host.port,
            }
            for index, host in enumerate(hosts)
        ],
    }
    (directory / "hosts.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return directory


def _declared_address(index: int) -> str:
    last = int(DECLARED_ADDRESS.rsplit(".", 1)[1]) - index
    return f"{DECLARED_ADDRESS.rsplit('.', 1)[0]}.{last}"


DIZUO = str(Path(sys.executable).parent / "dizuo")
AUDIT_TIMEOUT_S = 1800


def run_audit(city: Path, report: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`dizuo audit` of a written declaration: the finished process, and the results by control id."""
    done = subprocess.run(
        [DIZUO, "audit", "--inventory", str(city), "--report", str(report), *extra],
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT_S,
        check=False,
    )
    results_file = report / "results.json"
    assert results_file.is_file(), f"dizuo audit wrote no results.json (exit {done.returncode}):\n{done.stderr}"
    results = json.loads(results_file.read_text(encoding="utf-8"))["results"]
    return done, {r["control"]: r for r in results}
