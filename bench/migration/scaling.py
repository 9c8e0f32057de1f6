"""How the planner's steps that run outside --time-limit grow with the moved systems: the plan check and the waves.

Usage: python bench/migration/scaling.py [--sizes 10000 40000]

A province where every system moves (1 GiB each, one pool, windows of 5 TiB), independent systems and one long
dependency chain, timed in process next to the anchor of the same run: the greedy anchor's first-fit waves
(bench/migration/greedy.py), which any plan's waves must not be much slower than. Seconds are wall clock, best of 3.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from greedy import greedy

from dizuo.migration.instance import Instance, parse_instance
from dizuo.migration.validate import Plan, check_plan
from dizuo.migration.waves import plan_waves

GIB = 2**30
TIB = 2**40


def province(count: int, *, chained: bool) -> Instance:
    """``count`` systems of 1 GiB on one pool, all of which must move; ``chained``: each depends on the one before."""
    systems: list[dict[str, Any]] = [
        {
            "id": f"s{i}",
            "projected_bytes": GIB,
            "cpu_cores": 1,
            "memory_bytes": GIB,
            "group": None,
            "depends_on": [f"s{i - 1}"] if chained and i else [],
            "cost": {"A": 1},
        }
        for i in range(count)
    ]
    pool = {"name": "A", "arch": "arm64", "storage_bytes": count * GIB, "cpu_cores": count, "memory_bytes": count * GIB}
    document = {
        "name": "province",
        "horizon_days": 270,
        "legacy": {"capacity_bytes": 10**18, "target_bytes": 0},
        "targets": [pool],
        "wave_bytes": 5 * TIB,
        "systems": systems,
    }
    return parse_instance(document, "province.json")


def best_of_3(step: Callable[[], object]) -> float:
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        step()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 40_000])
    args = parser.parse_args()
    table = Table(title="seconds, best of 3")
    for column in ("systems", "dependencies", "greedy anchor", "dizuo waves", "waves/LB", "plan check"):
        table.add_column(column, justify="left" if column == "dependencies" else "right")
    for count in args.sizes:
        for chained in (False, True):
            instance = province(count, chained=chained)
            destinations = {s.id: "A" for s in instance.systems}
            waves = plan_waves(instance, destinations, time_limit=1)
            plan = Plan(destinations, [list(wave) for wave in waves.waves])
            assert check_plan(instance, plan) == [], "a plan the benchmark times must be valid"
            table.add_row(
                f"{count:,}",
                "one chain" if chained else "none",
                f"{best_of_3(lambda instance=instance: greedy(instance)):.2f}",
                f"{best_of_3(lambda i=instance, d=destinations: plan_waves(i, d, time_limit=1)):.2f}",
                f"{len(waves.waves)}/{waves.lower_bound}",
                f"{best_of_3(lambda i=instance, p=plan: check_plan(i, p)):.2f}",
            )
    Console().print(table)


if __name__ == "__main__":
    main()
