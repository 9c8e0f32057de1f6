"""A migration instance (bench/migration FORMAT.md), loaded at the edge into frozen, typed objects.

Every problem names the file, the key path and the bad value (the declaration loader's
:class:`Problem`); all problems are collected and raised together as :class:`InstanceError`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, ValidationError

from dizuo.declaration.loader import DeclarationError, Problem, problems_from_validation, show_value
from dizuo.declaration.model import Arch, Frozen

# Byte counts reach ~2^56 and must stay exact: strict JSON integers, never floats, strings or booleans.
# At most 2^63 - 1 (int64), so that sums and the solver's scaled units stay finite.
Count = Annotated[int, Field(strict=True, ge=0, lt=2**63)]
# The solver's objective is float64, exact for integers below 2^53: a cost (and a group's sum of costs, see
# cross_check) must stay below it, or sums wrap or round and a plan's reported cost is not its cost.
EXACT_COST_LIMIT = 2**53
Cost = Annotated[int, Field(strict=True, ge=0, lt=EXACT_COST_LIMIT)]


def _no_outer_whitespace(value: str) -> str:
    # The plan must name ids and pools exactly as the input does: "a " is not "a", and stripping it would print
    # an id the input never had. Refusing is the only answer that changes nothing silently.
    if value != value.strip():
        raise ValueError("leading or trailing whitespace in a name (names are compared exactly)")
    return value


Name = Annotated[str, Field(strict=True, min_length=1), AfterValidator(_no_outer_whitespace)]


class _Input(Frozen):
    """Frozen like every declaration object, but FORMAT.md says unknown keys are to be ignored; strings are kept
    exactly as given (ids and pool names are what the plan prints back)."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)


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


class SharedStorage(_Input):
    """Storage several targets draw on together: dizuo's extension of FORMAT.md (whose targets each have their own).

    A city's Xinchuang node pools of one cluster put their volumes on one storage pool: what all of them take from
    it is bounded, beside each target's own ``storage_bytes``.
    """

    name: Name
    storage_bytes: Count
    targets: tuple[Name, ...] = Field(min_length=1)


class System(_Input):
    """A business system: what it needs on a pool and what moving it costs where."""

    id: Name
    name: str = ""
    department: str = ""
    projected_bytes: Count
    # dizuo's extension of FORMAT.md: what the system takes on a target's storage, where that differs from what it
    # frees on the legacy pool (a city plans the relief from usage forecasts, the targets in allocations).
    room_bytes: Count | None = Field(default=None, description="Bytes it takes on a target (default projected_bytes)")
    # dizuo's extension too: what its wave copies, where that differs from what the relief counts it as freeing (a
    # city's candidate without a volume series, whose usage hides in the pool's: it frees nothing the plan can count
    # on, yet its wave copies up to its allocation).
    copy_bytes: Count | None = Field(default=None, description="Bytes its wave copies (default projected_bytes)")
    cpu_cores: Count
    memory_bytes: Count
    group: Name | None = Field(default=None, description="Systems of one group stay or move together")
    depends_on: tuple[Name, ...] = ()
    # Keys are checked against the target names in cross_check, exactly (a key "p " names no target "p").
    cost: dict[str, Cost | None] = Field(description="CNY per target name; null (or absent) = cannot move there")

    @property
    def room(self) -> int:
        """Bytes the system takes on a target's storage."""
        return self.projected_bytes if self.room_bytes is None else self.room_bytes

    @property
    def copied(self) -> int:
        """Bytes the system's wave copies: what windows are packed by (rule 6)."""
        return self.projected_bytes if self.copy_bytes is None else self.copy_bytes


class Instance(_Input):
    """One planning problem: relieve the legacy pool onto the targets, in waves of wave_bytes."""

    name: str
    horizon_days: Count = 0
    legacy: Legacy
    targets: tuple[Target, ...]
    wave_bytes: Annotated[int, Field(strict=True, gt=0, lt=2**63)]
    systems: tuple[System, ...]
    shared_storage: tuple[SharedStorage, ...] = ()
    # dizuo's extension of FORMAT.md: how many of the instance's cpu_cores make one core. A city that declares
    # fractional cores (33.5) is planned in a unit its decimals divide exactly (halves), systems and targets alike:
    # the rows stay in FORMAT.md's integers and what fits is what `dizuo validate` finds fits, never rounded.
    cpu_units_per_core: Annotated[int, Field(strict=True, gt=0, lt=2**63)] = 1
    # dizuo's extension too: how many of the instance's memory_bytes make one byte. A GiB decimal such as 131.7 is no
    # whole number of bytes; rounded up, three requests that exactly fill a pool (as validate sums them) would not fit.
    memory_units_per_byte: Annotated[int, Field(strict=True, gt=0, lt=2**63)] = 1

    def cores(self, units: int) -> str:
        """``units`` of cpu_cores as cores, for people: ``100.5``, or ``100`` when whole."""
        unit = self.cpu_units_per_core
        whole, part = divmod(units, unit)
        # A city's unit divides a power of ten (the declaration's decimals), so the decimal ends; a hand-written
        # instance's unit of thirds would not, and shows three places.
        digits = next((k for k in range(20) if (part * 10**k) % unit == 0), 3)
        return f"{whole:,}" + (f".{part * 10**digits // unit:0{digits}d}" if digits else "")

    def gib(self, units: int) -> float:
        """``units`` of memory_bytes in GiB, for people."""
        return units / self.memory_units_per_byte / 2**30

    def storage_limit(self, target: Target) -> int:
        """The most bytes ``target`` can take: its own storage, or less where it shares storage with others."""
        shares = [s.storage_bytes for s in self.shared_storage if target.name in s.targets]
        return min([target.storage_bytes, *shares])

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
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstanceError([Problem(shown, "", "file is missing")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceError([Problem(shown, "", f"cannot read: {exc}")]) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InstanceError([Problem(shown, "", f"invalid JSON: {where}: {exc.msg}")]) from None
    except ValueError as exc:  # valid syntax Python will not decode: an integer of more than 4,300 digits
        raise InstanceError([Problem(shown, "", f"invalid JSON: {exc}")]) from None
    except RecursionError:  # arrays or objects nested deeper than the decoder's recursion limit
        raise InstanceError([Problem(shown, "", "invalid JSON: nested too deeply")]) from None
    return parse_instance(document, shown)


def parse_instance(document: object, shown: str) -> Instance:
    """Validate a decoded JSON document; ``shown`` names its file in the problems."""
    if not isinstance(document, dict):
        raise InstanceError([Problem(shown, "", f"the document must be an object, not {type(document).__name__}")])
    try:
        instance = Instance.model_validate(document)
    except ValidationError as exc:
        raise InstanceError(problems_from_validation(shown, exc, from_yaml=False, model=Instance)) from None
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
    shares = Counter(s.name for s in instance.shared_storage)
    for i, share in enumerate(instance.shared_storage):
        if shares[share.name] > 1:
            problems.append(Problem(shown, f"shared_storage[{i}].name", f"duplicate name: {show_value(share.name)}"))
        problems += [
            Problem(shown, f"shared_storage[{i}].targets[{j}]", f"not a target of the instance: {show_value(name)}")
            for j, name in enumerate(share.targets)
            if name not in target_names
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
            Problem(shown, f"{where}.cost.{key}", f"not a target of the instance: {show_value(key)}{_near(key)}")
            for key in system.cost
            if key not in target_names
        ]
    problems += _group_costs(instance, shown)
    if not problems:
        problems += _cycles(instance, shown)
    return problems


def _near(key: str) -> str:
    """A hint when a name differs from a valid one only by surrounding whitespace."""
    return " (names are compared exactly: remove the surrounding whitespace)" if key != key.strip() else ""


def _group_costs(instance: Instance, shown: str) -> list[Problem]:
    """A group moves as one unit at the sum of its members' costs: that sum, too, must be exact in the solver."""
    members: dict[str, list[int]] = {}
    for i, system in enumerate(instance.systems):
        if system.group is not None:
            members.setdefault(system.group, []).append(i)
    problems = []
    for group, indices in members.items():
        for target in instance.targets:
            costs = [cost for i in indices if (cost := instance.systems[i].cost.get(target.name)) is not None]
            if len(costs) < len(indices):
                continue  # some member cannot run there: the group never moves there, its sum never counts
            running = 0
            for i, cost in zip(indices, costs, strict=True):
                running += cost
                if running >= EXACT_COST_LIMIT:  # located at the member that takes the sum over the limit
                    problems.append(
                        Problem(
                            shown,
                            f"systems[{i}].cost.{target.name}",
                            f"group {show_value(group)} costs {sum(costs)} CNY on {show_value(target.name)} in all, "
                            f"not less than 2^53 = {EXACT_COST_LIMIT} (the solver's exact range)",
                        )
                    )
                    break
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
