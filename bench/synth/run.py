"""Benchmark of `dizuo synth`: Yulin and a generated 10x city, side by side with the floor.

The floor is Pulumi itself: the very same registrations (same types, names and inputs, components included)
replayed as raw resources under the same mock engine, with no dizuo code: no declaration loading, no shape
functions, no contracts, no manifest writing or schema validation. The ratio is what dizuo costs on top.

    python bench/synth/run.py            # Yulin and 10x
    python bench/synth/run.py --scale 1  # Yulin only
"""

from __future__ import annotations

import argparse
import copy
import importlib
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pulumi
import yaml
from rich.console import Console
from rich.table import Table

from dizuo.declaration import load
from dizuo.declaration.loader import load_documents
from dizuo.synth.engine import StackRun, run_stack
from dizuo.synth.synth import synth

ROOT = Path(__file__).resolve().parents[2]
YULIN = ROOT / "inventories" / "yulin"
STACKS = ROOT / "stacks"
GOAL_RATIO = 1.5


def scaled_city(factor: int, target: Path) -> Path:
    """Yulin repeated ``factor`` times: same shape, every department, system and dataset copied per replica."""
    docs = copy.deepcopy(load_documents(YULIN))
    if factor == 1:
        target.mkdir(parents=True, exist_ok=True)
        for name, doc in docs.items():
            (target / name).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return target

    def suffix(code: str, k: int) -> str:
        return f"{code}-r{k}"

    departments, systems, datasets = [], [], []
    for k in range(factor):
        for dept in docs["departments.yaml"]["departments"]:
            departments.append({**dept, "code": suffix(dept["code"], k), "name": f"{dept['name']} #{k}"})
        for s in docs["systems.yaml"]["systems"]:
            systems.append(
                {
                    **s,
                    "code": suffix(s["code"], k),
                    "name": f"{s['name']} #{k}",
                    "department": suffix(s["department"], k),
                    "depends_on": [suffix(x, k) for x in s.get("depends_on", [])],
                }
            )
        for ds in docs["datasets.yaml"]["datasets"]:
            datasets.append(
                {
                    **ds,
                    "code": suffix(ds["code"], k),
                    "name": f"{ds['name']} #{k}",
                    "owner": suffix(ds["owner"], k),
                    "source_system": suffix(ds["source_system"], k) if ds.get("source_system") else None,
                }
            )
    for cluster in docs["clusters.yaml"]["clusters"]:
        for pool in cluster["node_pools"]:
            pool["nodes"] *= factor
        for spool in cluster["storage_pools"]:
            spool["capacity_gib"] *= factor
            spool["used_gib"] *= factor
    docs["departments.yaml"]["departments"] = departments
    docs["systems.yaml"]["systems"] = systems
    docs["datasets.yaml"]["datasets"] = datasets
    target.mkdir(parents=True, exist_ok=True)
    for name, doc in docs.items():
        (target / name).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def provider_class(token: str) -> Any:
    """The pulumi-kubernetes / pulumi-openstack class of a type token, e.g.
    ``kubernetes:rbac.authorization.k8s.io/v1:ClusterRole`` -> ``pulumi_kubernetes.rbac.v1.ClusterRole``."""
    package, module, cls = token.split(":")
    if package == "pulumi" and module == "providers":
        return importlib.import_module(f"pulumi_{cls}").Provider
    if package == "kubernetes":
        group, version = module.split("/")
        return getattr(importlib.import_module(f"pulumi_kubernetes.{group.split('.')[0]}.{version}"), cls)
    return getattr(importlib.import_module(f"pulumi_{package}.{module.split('/')[0]}"), cls)


def replay(records: list[tuple[Any, str, dict[str, Any]]]) -> None:
    """The floor program: the same resources through the same provider classes, with no dizuo code."""
    for cls, name, kwargs in records:
        if cls is None:
            pulumi.ComponentResource(kwargs["type"], name, None)
        else:
            cls(name, **kwargs)


def floor_records(run: StackRun) -> list[tuple[Any, str, dict[str, Any]]]:
    """Class, name and keyword arguments of each resource, prepared before the clock starts."""
    records = []
    for r in run.resources:
        if r.type.startswith("pulumi:pulumi:StackReference"):
            continue  # a read, not a registration
        if not r.custom:
            records.append((None, r.name, {"type": r.type}))
            continue
        kwargs = {
            _snake(k): v for k, v in r.inputs.items() if k not in {"apiVersion", "kind"} and not k.startswith("__")
        }
        records.append((provider_class(r.type), r.name, kwargs))
    return records


def floor_seconds(runs: dict[str, StackRun], scratch: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds to register the same resources raw, and how many."""
    count = 0
    wall = cpu = 0.0
    for short, run in runs.items():
        stack_dir = scratch / f"floor-{short}"
        stack_dir.mkdir(exist_ok=True)
        (stack_dir / "Pulumi.yaml").write_text(f"name: floor-{short}\nruntime: python\n", encoding="utf-8")
        records = floor_records(run)
        count += len(records)
        w0, c0 = time.perf_counter(), time.process_time()
        run_stack(stack_dir, "bench", {}, set(), {}, program=lambda recs=records: replay(recs))
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
    return wall, cpu, count


def measure(factor: int, scratch: Path) -> dict[str, Any]:
    scratch.mkdir(parents=True, exist_ok=True)
    city = scaled_city(factor, scratch / f"city-x{factor}")
    w0, c0 = time.perf_counter(), time.process_time()
    declaration = load(city)
    result = synth(declaration, city, scratch / f"out-x{factor}", STACKS)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    floor_wall, floor_cpu, count = floor_seconds(result.runs, scratch)
    return {
        "city": f"{declaration.city.code} x{factor}",
        "systems": len(declaration.systems),
        "resources": count,
        "wall": wall,
        "cpu": cpu,
        "floor_wall": floor_wall,
        "floor_cpu": floor_cpu,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, nargs="*", default=[1, 10], help="city sizes to run (multiples of Yulin)")
    args = parser.parse_args()
    console = Console()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dizuo-bench-synth-") as tmp:
        # Warm-up, untimed: imports of the provider SDKs and schema compilation happen once per process and
        # would otherwise be charged to whichever side runs first.
        console.print("[dim]warm-up run …[/dim]")
        measure(1, Path(tmp) / "warm-up")
        for factor in args.scale:
            console.print(f"[dim]synthesising Yulin x{factor} …[/dim]")
            rows.append(measure(factor, Path(tmp)))
    table = Table(title="dizuo synth vs the floor (raw registrations of the same resources under the same mocks)")
    for column in (
        "city",
        "systems",
        "resources",
        "dizuo s (cpu)",
        "dizuo res/s",
        "floor s (cpu)",
        "floor res/s",
        "ratio",
    ):
        table.add_column(column, justify="left" if column == "city" else "right")
    worst = 0.0
    for row in rows:
        ratio = row["cpu"] / row["floor_cpu"]
        worst = max(worst, ratio)
        table.add_row(
            row["city"],
            str(row["systems"]),
            str(row["resources"]),
            f"{row['wall']:.1f} ({row['cpu']:.1f})",
            f"{row['resources'] / row['cpu']:.0f}",
            f"{row['floor_wall']:.1f} ({row['floor_cpu']:.1f})",
            f"{row['resources'] / row['floor_cpu']:.0f}",
            f"{ratio:.2f}x",
        )
    console.print(table)
    verdict = "meets" if worst <= GOAL_RATIO else "misses"
    console.print(f"worst ratio {worst:.2f}x (CPU seconds): {verdict} the goal of <= {GOAL_RATIO}x the floor")
    console.print("dizuo time includes loading the declaration, writing every manifest and strict schema validation.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
