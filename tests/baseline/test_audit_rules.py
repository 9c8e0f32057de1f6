"""The audit rules as the role renders them for each CPU, checked against audit's own system-call tables.

auditctl refuses a rule that names a call its table for that ABI lacks (arm64 has no open, chmod or unlink, only
their *at forms), and augenrules stops loading at the first such line. The tables are those of the test hosts'
Debian audit package (`ausyscall --dump`); loading for real on x86_64 is test_vm_cycle.py's part.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import jinja2
import pytest

from hosts.rootfs import ensure_rootfs_tarball

pytestmark = [pytest.mark.host]

TEMPLATE = Path(__file__).parents[2] / "roles" / "baseline" / "templates" / "audit.rules.j2"
# (CPU, ABI) -> audit's table for it.
TABLES = {
    ("x86_64", "b64"): "x86_64",
    ("x86_64", "b32"): "i386",
    ("aarch64", "b64"): "aarch64",
    ("aarch64", "b32"): "arm",
}


@pytest.fixture(scope="module")
def ausyscall(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ausyscall from the Debian tree the test hosts boot (this machine's libaudit runs it)."""
    target = tmp_path_factory.mktemp("audit-tables")
    subprocess.run(
        ["tar", "--zstd", "-xf", str(ensure_rootfs_tarball()), "-C", str(target), "./usr/bin/ausyscall"], check=True
    )
    return target / "usr" / "bin" / "ausyscall"


def rendered(architecture: str) -> str:
    # Rules text, not HTML: nothing to escape.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)  # noqa: S701
    env.filters["bool"] = bool
    return env.from_string(TEMPLATE.read_text(encoding="utf-8")).render(
        ansible_managed="rendered by the test", ansible_architecture=architecture, baseline_audit_immutable=True
    )


@pytest.mark.parametrize("architecture", ["x86_64", "aarch64"])
def test_every_system_call_of_the_rules_is_in_audits_table(ausyscall: Path, architecture: str) -> None:
    rules = re.findall(r"^-a always,exit -F arch=(b64|b32) -S (\S+)", rendered(architecture), flags=re.M)
    assert {abi for abi, _ in rules} == {"b64", "b32"}, "both ABIs of a CPU that runs 32-bit programs"
    for abi, calls in rules:
        table = TABLES[(architecture, abi)]
        dump = subprocess.run([str(ausyscall), table, "--dump"], capture_output=True, text=True, check=True).stdout
        known = {line.split()[1] for line in dump.splitlines()[1:] if len(line.split()) == 2}
        unknown = sorted(set(calls.split(",")) - known)
        assert not unknown, f"{architecture} {abi} ({table}): auditctl would refuse {unknown}"


def test_a_cpu_without_a_32_bit_abi_gets_64_bit_rules_only() -> None:
    text = rendered("loongarch64")
    assert "arch=b32" not in text
    assert "-S fchmod,fchmodat " in text, "only the *at forms on the newer 64-bit ABIs"
    assert text.rstrip().endswith("-e 2"), "the lock comes last"
