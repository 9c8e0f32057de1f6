"""An independent check of a migration plan against the seven rules of FORMAT.md, in exact integers.

It shares nothing with the solver but the instance model: a plan is printed only if this finds
nothing wrong, and the benchmark scores every candidate with it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dizuo.migration.instance import Instance

RULES = {
    1: "legacy relief",
    2: "target capacity",
    3: "groups",
    4: "compatibility",
    5: "waves list the moves",
    6: "wave size",
    7: "dependencies",
}
SHOWN_SYSTEMS = 8


@dataclass(frozen=True, slots=True)
class Plan:
    """Where each system goes (None = stays) and the waves that move them, in order."""

    assignments: Mapping[str, str | None]
    waves: Sequence[Sequence[str]]


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule and the systems involved."""

    rule: int
    message: str
    systems: tuple[str, ...] = ()

    def __str__(self) -> str:
        shown = ", ".join(self.systems[:SHOWN_SYSTEMS])
        more = f" (+{len(self.systems) - SHOWN_SYSTEMS} more)" if len(self.systems) > SHOWN_SYSTEMS else ""
        systems = f" [{shown}{more}]" if self.systems else ""
        return f"rule {self.rule} ({RULES[self.rule]}): {self.message}{systems}"


class PlanFormatError(ValueError):
    """The plan document is not shaped like FORMAT.md's plan JSON."""


def parse_plan(document: object) -> Plan:
    """The plan in a decoded plan JSON document; raise :class:`PlanFormatError` if it has the wrong shape."""
    if not isinstance(document, dict):
        raise PlanFormatError(f"a plan is a JSON object, not {type(document).__name__}")
    assignments, waves = document.get("assignments"), document.get("waves")
    if not isinstance(assignments, dict) or not all(v is None or isinstance(v, str) for v in assignments.values()):
        raise PlanFormatError("'assignments' must map system ids to a target name or null")
    if not isinstance(waves, list) or not all(
        isinstance(w, list) and all(isinstance(s, str) for s in w) for w in waves
    ):
        raise PlanFormatError("'waves' must be a list of lists of system ids")
    return Plan(assignments, waves)


def plan_cost(instance: Instance, plan: Plan) -> int:
    """The plan's adaptation cost in CNY (moves to unknown or incompatible targets count nothing)."""
    costs = {s.id: s.cost for s in instance.systems}
    return sum(costs[sid].get(dest) or 0 for sid, dest in plan.assignments.items() if dest and sid in costs)


def check_plan(instance: Instance, plan: Plan) -> list[Violation]:
    """Every rule of FORMAT.md the plan breaks, with the systems involved; empty = valid."""
    return [
        *_check_listing(instance, plan),
        *_check_relief(instance, plan),
        *_check_capacity(instance, plan),
        *_check_groups(instance, plan),
        *_check_compatibility(instance, plan),
        *_check_wave_size(instance, plan),
        *_check_dependencies(instance, plan),
    ]


def _moved(instance: Instance, plan: Plan) -> dict[str, str]:
    """Known systems moved to a known target."""
    targets = {t.name for t in instance.targets}
    ids = {s.id for s in instance.systems}
    return {sid: dest for sid, dest in plan.assignments.items() if sid in ids and dest in targets}


def _check_listing(instance: Instance, plan: Plan) -> list[Violation]:
    """Rule 5: every system assigned once, to a real target; the waves list exactly the moved systems."""
    out = []
    ids = [s.id for s in instance.systems]
    missing = [sid for sid in ids if sid not in plan.assignments]
    if missing:
        out.append(Violation(5, f"{len(missing)} system(s) missing from assignments", tuple(missing)))
    known = set(ids)  # once: a set per assignment made the check quadratic (12 s on 10,000 systems)
    unknown = [sid for sid in plan.assignments if sid not in known]
    if unknown:
        out.append(Violation(5, f"{len(unknown)} unknown system id(s) in assignments", tuple(unknown)))
    targets = {t.name for t in instance.targets}
    bad_dest = [sid for sid, dest in plan.assignments.items() if dest is not None and dest not in targets]
    if bad_dest:
        out.append(Violation(5, "assigned to a name that is not a target of the instance", tuple(bad_dest)))
    moved = {sid for sid, dest in plan.assignments.items() if dest is not None}
    listed: defaultdict[str, int] = defaultdict(int)
    for wave in plan.waves:
        for sid in wave:
            listed[sid] += 1
    checks = (
        ("moved but in no wave", [sid for sid in moved if sid not in listed]),
        ("in more than one wave (or twice in one)", [sid for sid, n in listed.items() if n > 1]),
        ("in a wave but not moved", [sid for sid in listed if sid not in moved]),
    )
    out += [Violation(5, message, tuple(sorted(found))) for message, found in checks if found]
    empty = [str(k + 1) for k, wave in enumerate(plan.waves) if not wave]
    if empty:
        out.append(Violation(5, f"empty wave(s): {', '.join(empty)}"))
    return out


def _check_relief(instance: Instance, plan: Plan) -> list[Violation]:
    """Rule 1: the systems that stay fit under legacy.target_bytes."""
    staying = sum(s.projected_bytes for s in instance.systems if plan.assignments.get(s.id) is None)
    if staying <= instance.legacy.target_bytes:
        return []
    short = staying - instance.legacy.target_bytes
    return [Violation(1, f"staying systems hold {staying} bytes > legacy.target_bytes by {short}")]


def _check_capacity(instance: Instance, plan: Plan) -> list[Violation]:
    """Rule 2: storage, cores and memory of each target, and storage shared by targets."""
    moved = _moved(instance, plan)
    out = []
    for target in instance.targets:
        there = [s for s in instance.systems if moved.get(s.id) == target.name]
        for resource, capacity in (
            ("room", target.storage_bytes),
            ("cpu_cores", target.cpu_cores),
            ("memory_bytes", target.memory_bytes),
        ):
            used = sum(getattr(s, resource) for s in there)
            if used > capacity:
                message = f"{target.name}: {resource} {used} > capacity {capacity}"
                out.append(Violation(2, message, tuple(s.id for s in there)))
    for share in instance.shared_storage:  # dizuo's extension: storage several targets draw on together
        there = [s for s in instance.systems if moved.get(s.id) in share.targets]
        used = sum(s.room for s in there)
        if used > share.storage_bytes:
            message = f"shared storage {share.name}: room {used} > capacity {share.storage_bytes}"
            out.append(Violation(2, message, tuple(s.id for s in there)))
    return out


def _check_groups(instance: Instance, plan: Plan) -> list[Violation]:
    """Rule 3: a group stays whole or moves whole to one target."""
    dests: defaultdict[str, dict[str, str | None]] = defaultdict(dict)
    for system in instance.systems:
        if system.group is not None:
            dests[system.group][system.id] = plan.assignments.get(system.id)
    return [
        Violation(3, f"group {group} split over {sorted(str(d) for d in set(members.values()))}", tuple(members))
        for group, members in dests.items()
        if len(set(members.values())) > 1
    ]


def _check_compatibility(instance: Instance, plan: Plan) -> list[Violation]:
    """Rule 4: no move to a target where the system's cost is null (or absent)."""
    moved = _moved(instance, plan)
    bad = [s.id for s in instance.systems if s.id in moved and s.cost.get(moved[s.id]) is None]
    return [Violation(4, "moved to a target it cannot run on (cost null)", tuple(bad))] if bad else []


def _check_wave_size(instance: Instance, plan: Plan) -> list[Violation]:
    """Rule 6: a wave of two or more systems copies at most wave_bytes."""
    size = {s.id: s.copied for s in instance.systems}  # FORMAT.md's projected_bytes, unless dizuo's copy_bytes says
    out = []
    for k, wave in enumerate(plan.waves):
        total = sum(size.get(sid, 0) for sid in wave)
        if len(wave) > 1 and total > instance.wave_bytes:
            out.append(
                Violation(6, f"wave {k + 1} copies {total} bytes > wave_bytes {instance.wave_bytes}", tuple(wave))
            )
    return out


def _check_dependencies(instance: Instance, plan: Plan) -> list[Violation]:
    """Rule 7: a moved dependency of a moved system moves in the same wave or earlier."""
    wave_of = {sid: k for k, wave in enumerate(plan.waves) for sid in wave}
    out = []
    for system in instance.systems:
        if system.id not in wave_of:
            continue
        for dep in system.depends_on:
            if dep in wave_of and wave_of[dep] > wave_of[system.id]:
                message = (
                    f"{system.id} (wave {wave_of[system.id] + 1}) before its dependency {dep} (wave {wave_of[dep] + 1})"
                )
                out.append(Violation(7, message, (system.id, dep)))
    return out
