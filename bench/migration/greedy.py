"""The greedy anchor of FORMAT.md, exactly as described there; it answers in the candidate's JSON shape.

Groups are single units, largest first; each unit goes to the cheapest target it may move to that
still has storage, cores and memory for it; stop as soon as the relief is met; if the relief is
not met after all units, report infeasible. Waves: first-fit in instance order, dependencies first.
Cost-blind (large systems first) and no backtracking.
"""

from __future__ import annotations

from dizuo.migration.instance import Instance

TIB = 2**40


def greedy(instance: Instance) -> dict[str, object]:
    """The anchor's answer: a plan document, or an infeasibility claim."""
    units: dict[str, list[int]] = {}
    for i, system in enumerate(instance.systems):
        units.setdefault(system.group if system.group is not None else f"\0{system.id}", []).append(i)
    systems = instance.systems
    size = {key: sum(systems[i].projected_bytes for i in members) for key, members in units.items()}
    free = {t.name: [t.storage_bytes, t.cpu_cores, t.memory_bytes] for t in instance.targets}
    dest: dict[str, str | None] = {s.id: None for s in systems}
    still = instance.need_bytes
    for key in sorted(units, key=lambda k: -size[k]):  # stable: instance order among equal sizes
        if still <= 0:
            break
        members = [systems[i] for i in units[key]]
        need = (size[key], sum(s.cpu_cores for s in members), sum(s.memory_bytes for s in members))
        options = []
        for target in instance.targets:
            costs = [s.cost.get(target.name) for s in members]
            room = free[target.name]
            if all(c is not None for c in costs) and all(n <= r for n, r in zip(need, room, strict=True)):
                options.append((sum(c or 0 for c in costs), target.name))
        if not options:
            continue
        _, name = min(options)
        free[name] = [r - n for r, n in zip(free[name], need, strict=True)]
        for s in members:
            dest[s.id] = name
        still -= need[0]
    if still > 0:
        return {
            "infeasible": True,
            "reason": f"greedy could not relieve the legacy pool: {still / TIB:,.2f} TiB still to move",
        }
    return {"assignments": dest, "waves": first_fit_waves(instance, dest)}


def first_fit_waves(instance: Instance, dest: dict[str, str | None]) -> list[list[str]]:
    """Moved systems in instance order, each after its moved dependencies, into the first wave with room."""
    by_id = {s.id: s for s in instance.systems}
    wave_of: dict[str, int] = {}
    waves: list[list[str]] = []
    load: list[int] = []

    def place(sid: str) -> None:
        if sid in wave_of:
            return
        wave_of[sid] = -1  # on the stack: the graph is acyclic, this only guards the recursion
        deps = [d for d in by_id[sid].depends_on if dest.get(d) is not None]
        for d in deps:
            place(d)
        earliest = max((wave_of[d] for d in deps), default=0)
        size = by_id[sid].projected_bytes
        for w in range(earliest, len(waves)):
            if load[w] + size <= instance.wave_bytes:
                break
        else:
            w = len(waves)
            waves.append([])
            load.append(0)
        waves[w].append(sid)
        load[w] += size
        wave_of[sid] = w

    for system in instance.systems:
        if dest.get(system.id) is not None:
            place(system.id)
    return waves
