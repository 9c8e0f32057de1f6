"""Small hand-made migration instances: every figure in TiB so the optimum can be worked out by hand."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dizuo.migration import solve as solve_module
from dizuo.migration.instance import Instance, parse_instance

TIB = 2**40
GIB = 2**30
PIB = 2**50
# The five city-scale public instances of shared/bench/migration, kept with the tests so a clean clone runs them.
PUBLIC = Path(__file__).resolve().parent / "data"


def system(
    sid: str,
    tib: int,
    cost: dict[str, int | None],
    *,
    cores: int = 1,
    memory_gib: int = 1,
    group: str | None = None,
    deps: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One system document of FORMAT.md."""
    return {
        "id": sid,
        "name": sid,
        "department": "测试局",
        "projected_bytes": tib * TIB,
        "cpu_cores": cores,
        "memory_bytes": memory_gib * GIB,
        "group": group,
        "depends_on": list(deps),
        "cost": cost,
        "stack": {"lang": "Java"},
    }


def target(name: str, tib: int, *, arch: str = "arm64", cores: int = 1000, memory_gib: int = 10_000) -> dict[str, Any]:
    """One target pool document of FORMAT.md."""
    return {
        "name": name,
        "arch": arch,
        "storage_bytes": tib * TIB,
        "cpu_cores": cores,
        "memory_bytes": memory_gib * GIB,
    }


def document(
    systems: list[dict[str, Any]], targets: list[dict[str, Any]], *, keep_tib: int, wave_tib: int = 100
) -> dict[str, Any]:
    """An instance document whose legacy pool may keep ``keep_tib`` TiB at the horizon."""
    return {
        "name": "hand-made",
        "horizon_days": 270,
        "legacy": {"capacity_bytes": 10**18, "target_bytes": keep_tib * TIB},
        "targets": targets,
        "wave_bytes": wave_tib * TIB,
        "systems": systems,
    }


def one_byte_over() -> dict[str, Any]:
    """Three systems near 2^55 bytes onto one pool where s1 + s3, HiGHS's first plan, is one byte too many (invisible
    in floats): HiGHS's plan needs a rounding repair before only s1 + s2, 30 CNY, fits and relieves."""
    s1, s2, s3 = 2**55 + 12345, 2**55 + 777, 2**55 + 778
    docs = [system("s1", 0, {"A": 10}), system("s2", 0, {"A": 20}), system("s3", 0, {"A": 5})]
    for doc, size in zip(docs, (s1, s2, s3), strict=True):
        doc["projected_bytes"] = size
    pool = target("A", 0)
    pool["storage_bytes"] = s1 + s2  # s1 + s3 is one byte too many
    out = document(docs, [pool], keep_tib=0)
    out["legacy"]["target_bytes"] = s3 + 10  # need = s1 + s2 - 10
    return out


def _sized(doc: dict[str, Any], size: int) -> dict[str, Any]:
    """``doc`` with its projected bytes set to ``size`` exactly (a byte off a whole TiB, where needed)."""
    doc["projected_bytes"] = size
    return doc


def core_plan_then_one_byte_short() -> dict[str, Any]:
    """The core MILP (the two columns of smallest LP reduced cost, with CORE_MIN_VARS at 2) gives x + y, 12 CNY, which
    holds; the full MILP's plan, z alone at 11 CNY, moves one byte less than the relief needs (invisible in floats), so
    HiGHS's own plan needs a rounding repair before the core's, its optimum, is proven. Greedy also finds x + y."""
    docs = [
        _sized(system("x", 0, {"A": 6}), 6 * PIB),
        _sized(system("y", 0, {"A": 6}), 6 * PIB),
        _sized(system("z", 0, {"A": 11}), 10 * PIB),
    ]
    out = document(docs, [target("A", 100 * 1024)], keep_tib=0, wave_tib=100 * 1024)
    out["legacy"]["target_bytes"] = 12 * PIB - 1  # need = 10 PiB + 1 byte: z alone is one byte short
    return out


def no_greedy_plan_and_one_byte_short() -> dict[str, Any]:
    """Both greedy passes take a and d (the cheapest per byte, the largest) and then find no room for b or c, one byte
    short of the relief; HiGHS's first plan, a + d at 2 CNY, is that byte short too (invisible in floats): only b + c,
    20 CNY, fits and relieves, and HiGHS finds it only after a rounding repair."""
    docs = [
        _sized(system("a", 0, {"A": 1}), 6 * PIB),
        _sized(system("b", 0, {"A": 10}), 5 * PIB),
        _sized(system("c", 0, {"A": 10}), 5 * PIB),
        _sized(system("d", 0, {"A": 1}), 4 * PIB - 1),
    ]
    out = document(docs, [target("A", 10 * 1024)], keep_tib=0, wave_tib=100 * 1024)
    out["legacy"]["target_bytes"] = 10 * PIB - 1  # need = 10 PiB: a + d is one byte short
    return out


def allow_no_repairs(monkeypatch: pytest.MonkeyPatch, *, core_min_vars: int) -> None:
    """Solve with no rounding repair allowed (MAX_REPAIRS 0), a core MILP first on models of more than
    ``core_min_vars`` columns (as on a large model)."""
    monkeypatch.setattr(solve_module, "MAX_REPAIRS", 0)
    monkeypatch.setattr(solve_module, "CORE_MIN_VARS", core_min_vars)


def build(systems: list[dict[str, Any]], targets: list[dict[str, Any]], **kwargs: Any) -> Instance:
    """The validated instance of :func:`document`."""
    return parse_instance(document(systems, targets, **kwargs), "hand-made.json")


@contextlib.contextmanager
def mounted_tmpfs(at: Path, size: str | None = None) -> Iterator[Path]:
    """A fresh tmpfs (of ``size``, e.g. "1m") mounted at `at` for the block, unmounted on the way out (skips where
    none can be mounted)."""
    options = ["-o", f"size={size}"] if size else []
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", *options, "dizuo-test", str(at)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield at
    finally:
        subprocess.run(["umount", str(at)], check=True)
