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

from dizuo.baseline.catalogue import packaged
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


# What each CPU's uapi asm/unistd.h defines before it includes the kernel's generic table (Linux 6.1, the headers
# of Debian 12): the system calls the generic table adds only where an architecture asks for them.
GENERIC_TABLE = Path("/usr/include/asm-generic/unistd.h")
GENERIC_ABI_WANTS = {
    "aarch64": ("__ARCH_WANT_RENAMEAT", "__ARCH_WANT_NEW_STAT", "__ARCH_WANT_SET_GET_RLIMIT", "__ARCH_WANT_SYS_CLONE3"),
    "loongarch64": ("__ARCH_WANT_SYS_CLONE", "__ARCH_WANT_SYS_CLONE3"),
}


def generic_table(architecture: str) -> set[str]:
    """The system calls of the kernel's generic table as ``architecture`` configures it (cpp on the header)."""
    defines = [f"-D{want}" for want in GENERIC_ABI_WANTS[architecture]]
    done = subprocess.run(
        ["cpp", "-dM", "-D__BITS_PER_LONG=64", *defines, str(GENERIC_TABLE)], capture_output=True, text=True, check=True
    )
    return {m for m in re.findall(r"^#define __NR(?:3264)?_(\w+) ", done.stdout, flags=re.M) if m != "syscalls"}


def rule_calls(text: str, abi: str) -> set[str]:
    return {
        c
        for calls in re.findall(rf"^-a always,exit -F arch={abi} -S (\S+)", text, flags=re.M)
        for c in calls.split(",")
    }


def test_the_generic_table_read_from_the_header_agrees_with_audits_own(ausyscall: Path) -> None:
    """The way the LoongArch table is read below, applied to arm64 (the other CPU on the generic table), says of
    every call the rules name for any CPU what audit's own aarch64 table says."""
    every_call = rule_calls(rendered("x86_64"), "b64") | rule_calls(rendered("x86_64"), "b32")
    dump = subprocess.run([str(ausyscall), "aarch64", "--dump"], capture_output=True, text=True, check=True).stdout
    audits = {line.split()[1] for line in dump.splitlines()[1:] if len(line.split()) == 2}
    header = generic_table("aarch64")
    assert {c for c in every_call if c in header} == {c for c in every_call if c in audits}


def test_every_system_call_of_the_loongarch_rules_is_in_its_kernel_table() -> None:
    """Debian 12's audit has no LoongArch table; the kernel's generic table as LoongArch configures it does: it has
    no renameat (only renameat2), which auditctl on a LoongArch host would refuse, stopping augenrules there."""
    calls = rule_calls(rendered("loongarch64"), "b64")
    unknown = sorted(calls - generic_table("loongarch64"))
    assert not unknown, f"loongarch64 b64: auditctl would refuse {unknown}"
    assert "renameat2" in calls, "mv and glibc's rename() call renameat2: a deletion by rename is audited"


def test_a_cpu_without_a_32_bit_abi_gets_64_bit_rules_only() -> None:
    text = rendered("loongarch64")
    assert "arch=b32" not in text
    assert "-S fchmod,fchmodat " in text, "only the *at forms on the newer 64-bit ABIs"
    assert text.rstrip().endswith("-e 2"), "the lock comes last"


@pytest.mark.parametrize("architecture", ["x86_64", "aarch64", "loongarch64"])
def test_the_audit_finds_each_line_it_looks_for_in_the_rules_the_role_writes(architecture: str) -> None:
    """DZ-AU-02's check reads the rules file with the catalogue's patterns: each matches what the role renders on
    every CPU, or a hardened host fails its audit."""
    (check,) = [c for c in packaged().control("DZ-AU-02").checks if c.kind == "file_contains"]
    text = rendered(architecture)
    missing = [p for p in check.args["patterns"] if not re.search(p, text, flags=re.M)]
    assert not missing, f"{architecture}: the audit would miss {missing}"
