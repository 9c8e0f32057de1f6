"""A migration instance (bench/migration FORMAT.md), loaded at the edge into frozen, typed objects.

Every problem names the file, the key path and the bad value (the declaration loader's
:class:`Problem`); all problems are collected and raised together as :class:`InstanceError`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

from pydantic import ConfigDict, Field, ValidationError

from dizuo.declaration.loader import DeclarationError, Problem, problems_from_validation, show_value
from dizuo.declaration.model import Arch, Frozen

# Byte counts reach ~2^56 and must stay exact: strict JSON integers, never floats, strings or booleans.
# At most 2^63 - 1 (int64), so that sums and the solver's scaled units stay finite.
Count = Annotated[int, Field(strict=True, ge=0, lt=2**63)]
Name = Annotated[str, Field(strict=True, min_length=1)]


class _Input(Frozen):
    """Frozen like every declaration object, but FORMAT.md says unknown keys are to be ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class Legacy(_Input):
    """The legacy x86 pool that fills before the horizon."""

    capacity_bytes: Count
    target_bytes: Count = Field(description="Most bytes the staying systems may hold at the horizon")


class Target(_Input):
    """A new Xinchuang pool and what it has free for moved systems."""

    name: Name
    arch: Arch
    storage_bytes: Count
    cpu_cores: Count
    memory_bytes: Count


class System(_Input):
    """A business system: what it needs on a pool and what moving it costs where."""

    id: Name
    name: str = ""
    department: str = ""
    projected_bytes: Count
    cpu_cores: Count
    memory_bytes: Count
    group: Name | None = Field(default=None, description="Systems of one group stay or move together")
    depends_on: tuple[Name, ...] = ()
    cost: dict[str, Count | None] = Field(description="CNY per target name; null (or absent) = cannot move there")


class Instance(_Input):
    """One planning problem: relieve the legacy pool onto the targets, in waves of wave_bytes."""

    name: str
    horizon_days: Count = 0
    legacy: Legacy
    targets: tuple[Target, ...]
    wave_bytes: Annotated[int, Field(strict=True, gt=0, lt=2**63)]
    systems: tuple[System, ...]

    @property
    def need_bytes(self) -> int:
        """Bytes that must move: horizon usage above the legacy target (<= 0: nothing has to move)."""
        return sum(s.projected_bytes for s in self.systems) - self.legacy.target_bytes


class InstanceError(DeclarationError):
    """The instance file is invalid; ``problems`` lists every problem found."""


def load_instance(path: Path | str) -> Instance:
    """Read and validate one instance JSON file, or raise :class:`InstanceError` with every problem."""
    shown = str(path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstanceError([Problem(shown, "", "file is missing")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceError([Problem(shown, "", f"cannot read: {exc}")]) from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InstanceError([Problem(shown, "", f"invalid JSON: {where}: {exc.msg}")]) from None
    return parse_instance(document, shown)


def parse_instance(document: object, shown: str) -> Instance:
    """Validate a decoded JSON document; ``shown`` names its file in the problems."""
    if not isinstance(document, dict):
        raise InstanceError([Problem(shown, "", f"the document must be an object, not {type(document).__name__}")])
    try:
        instance = Instance.model_validate(document)
    except ValidationError as exc:
        raise InstanceError(problems_from_validation(shown, exc)) from None
    problems = cross_check(instance, shown)
    if problems:
        raise InstanceError(problems)
    return instance


def cross_check(instance: Instance, shown: str) -> list[Problem]:
    """What one key cannot say alone: unique names, known references, an acyclic dependency graph."""
    problems: list[Problem] = []
    target_names = {t.name for t in instance.targets}
    seen = Counter(t.name for t in instance.targets)
    problems += [
        Problem(shown, f"targets[{i}].name", f"duplicate target name: {show_value(t.name)}")
        for i, t in enumerate(instance.targets)
        if seen[t.name] > 1
    ]
    ids = Counter(s.id for s in instance.systems)
    for i, system in enumerate(instance.systems):
        where = f"systems[{i}]"
        if ids[system.id] > 1:
            problems.append(Problem(shown, f"{where}.id", f"duplicate system id: {show_value(system.id)}"))
        problems += [
            Problem(shown, f"{where}.depends_on[{j}]", f"unknown system id: {show_value(dep)}")
            for j, dep in enumerate(system.depends_on)
            if dep not in ids
        ]
        problems += [
            Problem(shown, f"{where}.cost.{key}", f"not a target of the instance: {show_value(key)}")
            for key in system.cost
            if key not in target_names
        ]
    if not problems:
        problems += _cycles(instance, shown)
    return problems


def _cycles(instance: Instance, shown: str) -> list[Problem]:
    """FORMAT.md promises an acyclic graph; a cycle is named by the first system found on it."""
    index = {s.id: i for i, s in enumerate(instance.systems)}
    state = [0] * len(instance.systems)  # 0 new, 1 on the current path, 2 done
    for root in range(len(instance.systems)):
        if state[root]:
            continue
        path = [root]
        stack = [iter(instance.systems[root].depends_on)]
        state[root] = 1
        while stack:
            dep = next(stack[-1], None)
            if dep is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            j = index[dep]
            if state[j] == 1:
                cycle = [instance.systems[k].id for k in path[path.index(j) :]] + [dep]
                at = f"systems[{path[-1]}].depends_on"
                return [Problem(shown, at, f"dependency cycle: {show_value(' -> '.join(cycle))}")]
            if state[j] == 0:
                state[j] = 1
                path.append(j)
                stack.append(iter(instance.systems[j].depends_on))
    return []
