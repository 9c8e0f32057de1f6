"""Order the moved systems into waves (maintenance windows of at most wave_bytes each).

A wave of two or more systems copies at most ``wave_bytes``; a system larger than that moves alone. What a system
copies is its ``projected_bytes`` (FORMAT.md), or dizuo's ``copy_bytes`` where that differs.
A moved dependency moves in the same wave or earlier. The systems of a group (one database or storage
platform) move in one wave when together they fit a window: switched one by one, the moved half would run
against a platform still being copied. A system outside a group that depends on one member while another depends
on it moves in the group's wave. Only a group larger than a window (or one whose wave would then be) is split
over several waves, as FORMAT.md allows.
Fewer waves is better: the heuristics pack dependency-ready items (a system, or such a group whole) wave by
wave, largest first; when that misses FORMAT.md's lower bound and the case is small, a feasibility MILP
(HiGHS) looks for a packing into fewer waves. That search is limited by a count of work (HiGHS's branch-and-bound
nodes), not by seconds, so that the same input gives the same waves on any machine however busy; its time limit is
an outer safety, and a search it stops says so (``Waves.stopped``), since its waves may then differ.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint
from scipy.sparse.csgraph import connected_components

from dizuo.migration.highs import milp, stopped_by
from dizuo.migration.instance import Instance, System

# Seconds: an outer safety only, for HiGHS's root work, which no node count bounds. The work limit below binds first
# on the cases measured (bench/migration/README.md); a search this stops says so in PLAN.md and the summary.
DEFAULT_TIME_LIMIT_S = 60.0
# The work each packing MILP may take: branch-and-bound nodes times its binaries (a node of a larger MILP costs more),
# so some 1,700 nodes of a 600-binary MILP (10 s on 2 busy cores) and 180 at MILP_MAX_BINARIES (15-30 s). Raise it
# to search longer; any value gives the same waves from the same input.
SEARCH_WORK = 1_000_000
# The packing MILP has items x waves binaries; beyond this it rarely finishes, and large sets of
# small systems are packed to the bound by the heuristics anyway.
MILP_MAX_BINARIES = 6000


@dataclass(frozen=True, slots=True)
class Waves:
    """The waves in order (system ids), FORMAT.md's lower bound for the moved set, and how they were found.
    ``fewest``: no fewer waves exist that keep whole each group that fits a window."""

    waves: tuple[tuple[str, ...], ...]
    lower_bound: int
    method: str
    fewest: bool  # the items' bound is met, or HiGHS proved every smaller count impossible
    # Why the search for fewer waves ended before it could tell (None: it did, or had nothing to search):
    # "work limit" (SEARCH_WORK: the same on any machine) or "time limit" (the outer safety: machine-dependent).
    stopped: str | None = None


def lower_bound(sizes: Sequence[int], wave_bytes: int) -> int:
    """``n_big + max(ceil(sum others / wave_bytes), count(others with 2 * size > wave_bytes))`` (FORMAT.md)."""
    big = sum(1 for s in sizes if s > wave_bytes)
    others = [s for s in sizes if s <= wave_bytes]
    return big + max(-(-sum(others) // wave_bytes), sum(1 for s in others if 2 * s > wave_bytes))


@dataclass(frozen=True, slots=True)
class _Items:
    """What the waves pack, in instance order: a moved system, or a group that fits a window whole, or systems and
    groups that must share one wave and fit it (their members, in instance order), with the items its members depend
    on outside it (direct: rule 7 is per edge)."""

    members: tuple[tuple[str, ...], ...]
    size: tuple[int, ...]
    preds: tuple[tuple[int, ...], ...]
    wave_bytes: int

    @property
    def succs(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.members]
        for i, preds in enumerate(self.preds):
            for d in preds:
                out[d].append(i)
        return out


def _items(moved: Sequence[System], wave_bytes: int) -> _Items:
    """The moved systems as items: each group that fits a window is one; every other system is its own.

    A dependency from a group's member to a system outside it that depends on another member (directly or through
    other systems or groups) makes a cycle of items, all of which must then move in one wave: where together they fit
    a window they are one item (the group stays whole, the outside systems move with it); where they do not, the
    groups on the cycle are split (their members are items again), which the acyclic graph of systems always allows.
    """
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(moved):
        if s.group is not None:
            groups.setdefault(s.group, []).append(i)
    whole = {
        name: members
        for name, members in groups.items()
        if len(members) > 1 and sum(moved[i].copied for i in members) <= wave_bytes
    }
    split: list[str] = []
    while too_large := _too_large(moved, whole, wave_bytes):
        # A cycle larger than a window cannot move in one: its groups are split, and the cycles looked for again.
        for name in [name for name, group in whole.items() if group[0] in too_large]:
            split.append(name)
            del whole[name]
    # Splitting every group of such a cycle may split more than it takes: each is kept whole again, in the instance's
    # order, where that makes no cycle larger than a window.
    for name in sorted(split, key=lambda name: groups[name][0]):
        whole[name] = groups[name]
        if _too_large(moved, whole, wave_bytes):
            del whole[name]
    item_of = _merged(len(moved), whole.values())
    cycles = _cycles(moved, item_of)
    item_of = _merged(len(moved), [*whole.values(), *cycles])  # each cycle fits a window: one item, one wave
    firsts = sorted(set(item_of))
    number = {first: k for k, first in enumerate(firsts)}
    edges = _item_edges(moved, item_of)
    members: list[list[int]] = [[] for _ in firsts]
    for i, first in enumerate(item_of):
        members[number[first]].append(i)
    preds: list[list[int]] = [[] for _ in firsts]
    for d, k in sorted(edges):
        preds[number[k]].append(number[d])
    return _Items(
        members=tuple(tuple(moved[i].id for i in m) for m in members),
        size=tuple(sum(moved[i].copied for i in m) for m in members),
        preds=tuple(map(tuple, preds)),
        wave_bytes=wave_bytes,
    )


def _too_large(moved: Sequence[System], whole: Mapping[str, Sequence[int]], wave_bytes: int) -> set[int]:
    """The systems of the cycles of items (``whole`` groups kept whole) that copy more than a window together."""
    cycles = _cycles(moved, _merged(len(moved), whole.values()))
    return {i for cycle in cycles if sum(moved[i].copied for i in cycle) > wave_bytes for i in cycle}


def _merged(count: int, unions: Iterable[Sequence[int]]) -> list[int]:
    """For each of ``count`` systems, the first system of the union it belongs to (itself when in none); ``unions``
    may overlap (a cycle holds whole groups): overlapping ones are one."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for union in unions:
        for i in union[1:]:
            a, b = sorted((root(union[0]), root(i)))
            parent[b] = a
    return [root(i) for i in range(count)]


def _item_edges(moved: Sequence[System], item_of: Sequence[int]) -> set[tuple[int, int]]:
    """(item a system depends on, its own item), items named by their first system, between different items."""
    index = {s.id: i for i, s in enumerate(moved)}
    return {
        (item_of[index[d]], item_of[i])
        for i, s in enumerate(moved)
        for d in s.depends_on
        if d in index and item_of[index[d]] != item_of[i]
    }


def _cycles(moved: Sequence[System], item_of: Sequence[int]) -> list[list[int]]:
    """The systems of each cycle of items (a strongly connected set of more than one item)."""
    firsts = sorted(set(item_of))
    number = {first: k for k, first in enumerate(firsts)}
    edges = sorted((number[d], number[i]) for d, i in _item_edges(moved, item_of))
    count, component = connected_components(
        sparse.csr_matrix(
            (np.ones(len(edges)), np.array(edges, dtype=np.intp).reshape(-1, 2).T), shape=(len(firsts),) * 2
        ),
        directed=True,
        connection="strong",
    )
    sizes = np.bincount(component, minlength=count)
    cycles: dict[int, list[int]] = {}
    for i, first in enumerate(item_of):
        c = int(component[number[first]])
        if sizes[c] > 1:
            cycles.setdefault(c, []).append(i)
    return [cycles[c] for c in sorted(cycles)]


def plan_waves(
    instance: Instance,
    destinations: Mapping[str, str | None],
    *,
    time_limit: float = DEFAULT_TIME_LIMIT_S,
    log: Callable[[str], None] = lambda _: None,
) -> Waves:
    """Waves for the systems with a destination: as few as the heuristics and (small cases) HiGHS find."""
    start = time.perf_counter()
    moved = [s for s in instance.systems if destinations.get(s.id) is not None]
    items = _items(moved, instance.wave_bytes)
    bound = lower_bound([s.copied for s in moved], items.wave_bytes)
    best, method = _heuristics(items)
    # Every count below this is proven impossible: FORMAT.md's bound for the items, which is at least the systems'
    # (a group whole counts as one). It is 0 when every moved system has 0 bytes, but moved systems need at least
    # one wave (and a packing MILP into 0 waves has no variables).
    impossible = max(lower_bound(items.size, items.wave_bytes), 1) if items.members else 0
    stopped = None
    if len(best) > impossible and len(items.members) * (len(best) - 1) <= MILP_MAX_BINARIES:
        for count in range(impossible, len(best)):
            remaining = time_limit - (time.perf_counter() - start)
            if remaining <= 0:
                stopped = "time limit"
                break
            found, proven, stopped = _milp_waves(items, count, remaining)
            if found is not None:
                best, method = found, f"MILP ({count} waves)"
                break
            if not proven:
                if stopped is not None:
                    log(f"waves: HiGHS stopped at its {stopped} before it could tell whether {count} waves do")
                break
            impossible = count + 1
            log(f"waves: HiGHS proves {count} waves impossible")
    if not _valid(items, best):  # never expected: every method checks its own waves in integers
        raise AssertionError("wave planner produced an invalid order")
    position = {s.id: i for i, s in enumerate(moved)}
    ordered = tuple(tuple(sorted((sid for i in w for sid in items.members[i]), key=position.__getitem__)) for w in best)
    fewest = len(best) <= impossible
    return Waves(ordered, bound, method, fewest=fewest, stopped=None if fewest else stopped)


def _heuristics(items: _Items) -> tuple[list[list[int]], str]:
    """The fewest waves of the ready-first packings under a few priorities."""
    succs = items.succs
    # Descendant counts put systems that unblock others first; sizes break ties (and lead in FFD).
    reach = _descendants(items, succs)
    orders = {
        "FFD, ready first": sorted(range(len(items.members)), key=lambda i: -items.size[i]),
        "critical first": sorted(range(len(items.members)), key=lambda i: (-reach[i], -items.size[i])),
    }
    results = [(_pack_ready(items, order, succs), name) for name, order in orders.items()]
    return min(results, key=lambda result: len(result[0]))


def _descendants(items: _Items, succs: list[list[int]]) -> list[int]:
    """How many moved systems wait, directly or not, on each one.

    One bit set per item (a Python int), merged from its successors in reverse topological order: a walk from each
    item was quadratic on a long dependency chain (7.5 s for 10,000 systems, outside the waves' time limit).
    """
    waiting = [len(p) for p in items.preds]
    order = [i for i, w in enumerate(waiting) if w == 0]
    for i in order:  # Kahn's order; grows while it is read (the items' graph is acyclic)
        for j in succs[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                order.append(j)
    reach = [0] * len(items.members)
    for i in reversed(order):
        for j in succs[i]:
            reach[i] |= reach[j] | (1 << j)
    return [r.bit_count() for r in reach]


def _pack_ready(items: _Items, order: Sequence[int], succs: list[list[int]]) -> list[list[int]]:
    """Wave by wave: a ready system too large for any window alone, else fill the window in ``order``.

    A system is ready once its moved dependencies are placed, in this wave or earlier. The ready items wait in heaps
    by their rank in ``order``: one that does not fit what is left of a window will not fit it later either (the room
    only shrinks), so it is set aside until the next wave, and each wave costs a log per item it looks at (a scan of
    every ready item per pick took 50 s for 10,000 moved systems, beyond the waves' time limit).
    """
    waiting = [len(p) for p in items.preds]
    rank = {item: r for r, item in enumerate(order)}
    big = {i for i, s in enumerate(items.size) if s > items.wave_bytes}
    ready: list[tuple[int, int]] = []  # (rank, item): items that fit a window
    ready_big: list[tuple[int, int]] = []
    waves: list[list[int]] = []

    def make_ready(i: int) -> None:
        heapq.heappush(ready_big if i in big else ready, (rank[i], i))

    def place(i: int) -> None:
        for j in succs[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                make_ready(j)

    for i, w in enumerate(waiting):
        if w == 0:
            make_ready(i)
    while ready or ready_big:
        if ready_big:
            _, i = heapq.heappop(ready_big)
            waves.append([i])
            place(i)
            continue
        wave: list[int] = []
        room = items.wave_bytes
        set_aside: list[tuple[int, int]] = []
        while ready:
            entry = heapq.heappop(ready)
            i = entry[1]
            if items.size[i] > room:
                set_aside.append(entry)
                continue
            wave.append(i)
            room -= items.size[i]
            place(i)
        for entry in set_aside:
            heapq.heappush(ready, entry)
        waves.append(wave)
    return waves


def _milp_waves(items: _Items, count: int, time_limit: float) -> tuple[list[list[int]] | None, bool, str | None]:
    """A packing into ``count`` waves from HiGHS, or None and whether HiGHS proved there is none; and the limit that
    stopped HiGHS before it could tell ("work limit", "time limit"), if one did."""
    n, k = len(items.members), count
    big = np.array([s > items.wave_bytes for s in items.size])
    col = np.arange(n * k).reshape(n, k)  # y[i, w] = item i moves in wave w
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lb: list[float] = []
    ub: list[float] = []

    def add(r_cols: np.ndarray, r_vals: np.ndarray, low: float, high: float) -> None:
        rows.append(np.full(len(r_cols), len(lb)))
        cols.append(r_cols)
        vals.append(r_vals)
        lb.append(low)
        ub.append(high)

    for i in range(n):  # each item in exactly one wave
        add(col[i], np.ones(k), 1.0, 1.0)
    normal = np.flatnonzero(~big)
    share = np.array([s / items.wave_bytes for s in items.size])
    for w in range(k):
        add(col[normal, w], share[normal], -np.inf, 1.0)  # the window
        # A large system moves alone: at most one per wave, and then no other system in it.
        add(
            np.concatenate([col[normal, w], col[big, w]]),
            np.concatenate([np.ones(len(normal)), np.full(int(big.sum()), float(len(normal)))]),
            -np.inf,
            float(max(1, len(normal))),
        )
        add(col[big, w], np.ones(int(big.sum())), -np.inf, 1.0)
    for i, preds in enumerate(items.preds):  # wave(d) <= wave(i)
        for d in preds:
            add(np.concatenate([col[d], col[i]]), np.concatenate([np.arange(k), -np.arange(k)]), -np.inf, 0.0)
    matrix = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(lb), n * k)
    )
    result = milp(
        np.zeros(n * k),
        integrality=np.ones(n * k),
        bounds=Bounds(0.0, 1.0),
        constraints=LinearConstraint(matrix, np.array(lb), np.array(ub)),
        # Nodes, not seconds, end the search (SEARCH_WORK); the time is the outer safety.
        options={"time_limit": max(0.5, time_limit), "node_limit": max(1, SEARCH_WORK // (n * k)), "disp": False},
    )
    limit = stopped_by(result)
    if result.x is None:
        return None, result.status == 2, limit
    wave_of = np.argmax(result.x.reshape(n, k), axis=1)
    waves = [[int(i) for i in np.flatnonzero(wave_of == w)] for w in range(k)]
    waves = [w for w in waves if w]
    # The window row is checked in floats by HiGHS: keep the packing only if it holds in integers.
    return (waves if _valid(items, waves) else None), False, limit


def _valid(items: _Items, waves: Sequence[Sequence[int]]) -> bool:
    """Rules 5 to 7 in exact integers: each item once, windows respected, dependencies not later."""
    wave_of = {i: w for w, wave in enumerate(waves) for i in wave}
    if sorted(wave_of) != list(range(len(items.members))) or sum(map(len, waves)) != len(items.members):
        return False
    if any(len(w) > 1 and sum(items.size[i] for i in w) > items.wave_bytes for w in waves):
        return False
    return all(wave_of[d] <= wave_of[i] for i, preds in enumerate(items.preds) for d in preds)
