"""Harder variants of a public instance, in the direction FORMAT.md says the hidden set goes.

Usage: python bench/migration/variants.py INSTANCE.json OUT.json [--seed N] [--storage 0.97] [--wave-divisor 2]

More groups (runs of 2-3 ungrouped systems of one department share a group), 10 % more x86-only systems
(null cost on every non-x86 pool), smaller waves (wave_bytes divided), tighter pools (storage scaled). The
result may be infeasible: that is part of the point (run `dizuo migrate plan OUT.json` and check the claim).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
from pathlib import Path
from typing import Any

X86_ONLY_SHARE = 0.1
GROUP_EVERY = 7  # one new group per this many ungrouped systems of a department


def harder(instance: dict[str, Any], *, seed: int, storage: float, wave_divisor: int, name: str) -> dict[str, Any]:
    """A copy of `instance` with more groups, more x86-only systems, smaller waves and scaled pool storage."""
    rng = random.Random(seed)  # noqa: S311 - seeded test data, not secrets
    out = copy.deepcopy(instance)
    out["name"] = name
    by_department: dict[str, list[dict[str, Any]]] = {}
    for system in out["systems"]:
        if system["group"] is None:
            by_department.setdefault(system["department"], []).append(system)
    count = 0
    for systems in by_department.values():
        rng.shuffle(systems)
        for start in range(0, len(systems) - 2, GROUP_EVERY):
            count += 1
            for system in systems[start : start + rng.choice([2, 3])]:
                system["group"] = f"variant-group-{count}"
    x86 = {t["name"] for t in out["targets"] if t["arch"] == "x86_64"}
    for system in out["systems"]:
        if rng.random() < X86_ONLY_SHARE:
            for target in out["targets"]:
                if target["name"] not in x86:
                    system["cost"][target["name"]] = None
    out["wave_bytes"] = out["wave_bytes"] // wave_divisor
    for target in out["targets"]:
        target["storage_bytes"] = int(target["storage_bytes"] * storage)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("instance", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--storage", type=float, default=1.0, help="scale of every pool's storage")
    parser.add_argument("--wave-divisor", type=int, default=2)
    args = parser.parse_args()
    instance = json.loads(args.instance.read_text(encoding="utf-8"))
    variant = harder(instance, seed=args.seed, storage=args.storage, wave_divisor=args.wave_divisor, name=args.out.stem)
    args.out.write_text(json.dumps(variant, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
