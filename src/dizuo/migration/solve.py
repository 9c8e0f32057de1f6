"""Which systems move where: the exact assignment model, solved by HiGHS (scipy.optimize.milp).

One unit per group (systems sharing a non-null group; null = alone). A binary x[unit, target]
exists only where every member can run on the target (non-null cost) and the unit alone fits the
target's free storage, cores and memory. Each unit goes to at most one target; the moved bytes
relieve the legacy pool; each target's storage, cores and memory hold, and so does any storage
several targets share (dizuo's extension, see SharedStorage); the adaptation cost is minimal.

The solver works in floating point on scaled rows; every plan it returns is checked again in exact
integers and, if rounding broke a rule, re-solved with that plan cut off exactly. Infeasibility is claimed
only when HiGHS proves it and no plan in hand (its own, or the greedy one) passes that exact check, with a reason
from the LP that moves as many bytes as the pools allow. A plan HiGHS did not give (the greedy fallback) comes with
the LP bound and its gap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint

from dizuo.migration.highs import linprog, milp, stopped_by
from dizuo.migration.instance import EXACT_COST_LIMIT, Instance, Target

TIB = 2**40
# Seconds: an outer safety only, for HiGHS's root work (presolve, the root LP, cuts), which no node count bounds, and
# for models too large to reach their work limit in time; a plan it stops says so (Assignment.stopped).
DEFAULT_TIME_LIMIT_S = 200.0
# The work each exact MILP may take: branch-and-bound nodes times its free columns (a node of a larger MILP costs
# more). A plan HiGHS has not proven optimal by then is the same from the same input on any machine, however busy,
# where a number of seconds gave one that varied with the machine's load. p-prov10k-1's final MILP proves its optimum
# in 11,504 nodes of 1,320 columns (15.2 million, 34-69 s on 2 busy cores), and its core (CORE_WORK_SHARE of the work)
# finds the plan that lets it (bench/migration/README.md). Raise it to search longer; any value gives the same plan
# from the same input.
SOLVE_WORK = 20_000_000
MIP_REL_GAP = 1e-7
# Plans HiGHS may give per exact MILP that rounding breaks (each cut off exactly, then solved again): past this, the
# MILP ends at its "repair limit" with the best plan in hand, said so (Assignment.stopped, status repair_limit).
MAX_REPAIRS = 20
# Scaled rows keep their largest coefficient below 2^20: far from HiGHS's 1e-7 feasibility tolerance
# at the small end, and no huge entries next to the 0/1 assignment rows.
ROW_MAGNITUDE_BITS = 20
RESOURCES = ("storage", "cores", "memory")
# Models with more columns first get a plan from a core MILP on the columns of smallest LP reduced cost.
CORE_MIN_VARS = 2000
# The core MILP only seeds reduced-cost fixing with a good plan, so it gets a twentieth of the work: little enough
# that its work limit, not its time safety, ends it on a busy machine (its root work, which no node count bounds, is
# most of what is left). On 2 cores under load the seed-2 10k variant's core (2,463 columns) took 28 s for a quarter
# of the work (2,030 nodes), more than its 50 s safety when busier, and 21 s for the 406 nodes a twentieth gives, with
# the plan a tenth gives too; p-prov10k-1's core finds its optimum at the root (bench/migration/README.md).
CORE_WORK_SHARE = 0.05
CORE_TIME_SHARE = 0.25  # of the time limit, at most: the core's outer safety
PRESOLVE_MAX_VARS = 10_000
FIXING_MARGIN = 1e-6  # relative slack on reduced costs: LP duals are exact only to HiGHS's tolerances
SHOWN_UNFIT = 3

Log = Callable[[str], None]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def _quiet(_: str) -> None:
    """The default log: say nothing."""


@dataclass(frozen=True, slots=True)
class Units:
    """The instance's systems grouped into the units that move as one."""

    label: tuple[str, ...]  # the group id, or the system id of a system alone
    members: tuple[tuple[int, ...], ...]  # indices into instance.systems
    size: tuple[int, ...]  # exact sums over the members: bytes moving frees on the legacy pool
    room: tuple[int, ...]  # bytes the unit takes on a target's storage
    cores: tuple[int, ...]
    memory: tuple[int, ...]
    cost: FloatArray  # (units, targets) CNY summed over the members; NaN = some member cannot move there


@dataclass(frozen=True, slots=True)
class Model:
    """The assignment MILP: variables are (unit, target) pairs, rows are scaled for the solver."""

    instance: Instance
    units: Units
    need: int  # exact bytes that must move
    var_unit: IntArray
    var_target: IntArray
    matrix: sparse.csr_matrix
    row_lb: FloatArray
    row_ub: FloatArray
    row_scale: FloatArray  # original units (bytes, cores) per scaled unit, per row
    cost: FloatArray  # the objective, divided by the costs' gcd
    cost_gcd: int

    @property
    def relief_row(self) -> int:
        """The row of moved bytes >= need (after the three rows per target)."""
        return 3 * len(self.instance.targets)

    @property
    def first_shared_row(self) -> int:
        """The rows of shared storage come last, one per SharedStorage (after the units' choice rows)."""
        return int(self.matrix.shape[0]) - len(self.instance.shared_storage)


@dataclass(frozen=True, slots=True)
class Assignment:
    """The solver's answer: a destination per system, or a proof that none exists."""

    # optimal | work_limit | time_limit | repair_limit (HiGHS stopped at that limit before proving its plan optimal) |
    # heuristic (a plan without HiGHS's: its greedy fallback, kept where HiGHS gave none as cheap before it stopped;
    # or one kept against its claim that none exists; or one HiGHS left unproven for a reason no limit explains) |
    # nothing_to_move | infeasible | unknown (no plan, no proof)
    status: str
    destinations: dict[str, str | None] | None  # None when infeasible
    reason: str | None = None
    objective: int | None = None
    bound: float | None = None
    gap: float | None = None
    seconds: float = 0.0
    units: int = 0
    variables: int = 0
    repairs: int = 0
    # Why HiGHS ended before it proved the plan optimal (None: it did, or no MILP ran, or no limit explains it): "work
    # limit" (SOLVE_WORK: the same plan on any machine), "repair limit" (more than MAX_REPAIRS of its plans broke a
    # rule by rounding: the same on any machine; ``repairs`` says how many) or "time limit" (the outer safety, in any
    # of its runs: the plan depends on the machine).
    stopped: str | None = None
    # The plan is the greedy fallback's: HiGHS gave none as cheap (a plan HiGHS gave at the same cost counts as its).
    greedy: bool = False


class _Size(TypedDict):
    """How large the model is, reported with every answer."""

    units: int
    variables: int


def build_units(instance: Instance) -> Units:
    """Group the systems: one unit per non-null group, one per system without a group."""
    unit_of_group: dict[str, int] = {}
    labels: list[str] = []
    members: list[list[int]] = []
    for i, system in enumerate(instance.systems):
        if system.group is None or system.group not in unit_of_group:
            if system.group is not None:
                unit_of_group[system.group] = len(labels)
            labels.append(system.group or system.id)
            members.append([])
        members[unit_of_group[system.group] if system.group is not None else len(labels) - 1].append(i)
    systems = instance.systems
    names = [t.name for t in instance.targets]
    # Summed in Python integers: exact, and checked against the float64 objective's exact range (the loader
    # refuses such instances; this guards models built from instances that skipped it).
    cost = np.full((len(labels), len(names)), np.nan, dtype=np.float64)
    for u, group in enumerate(members):
        for t, name in enumerate(names):
            costs = [c for i in group if (c := systems[i].cost.get(name)) is not None]
            if len(costs) < len(group):
                continue  # one incompatible member blocks the unit: NaN
            total = sum(costs)
            if total >= EXACT_COST_LIMIT:
                raise ValueError(f"{labels[u]} costs {total} CNY on {name}, beyond the solver's exact range (2^53)")
            cost[u, t] = float(total)
    return Units(
        label=tuple(labels),
        members=tuple(tuple(m) for m in members),
        size=tuple(sum(systems[i].projected_bytes for i in m) for m in members),
        room=tuple(sum(systems[i].room for i in m) for m in members),
        cores=tuple(sum(systems[i].cpu_cores for i in m) for m in members),
        memory=tuple(sum(systems[i].memory_bytes for i in m) for m in members),
        cost=cost,
    )


def _fits(units: Units, instance: Instance, enforced: frozenset[str] = frozenset(RESOURCES)) -> npt.NDArray[np.bool_]:
    """(units, targets): the unit alone fits the target's ``enforced`` resources (exact integers)."""
    return np.array(
        [
            [not _blocking(units, u, instance, target, enforced) for target in instance.targets]
            for u in range(len(units.label))
        ],
        dtype=bool,
    ).reshape(len(units.label), len(instance.targets))


def _blocking(
    units: Units, u: int, instance: Instance, target: Target, enforced: frozenset[str] = frozenset(RESOURCES)
) -> list[str]:
    """The ``enforced`` resources of ``target`` that unit ``u`` alone needs more of than it has."""
    needs = {"storage": units.room[u], "cores": units.cores[u], "memory": units.memory[u]}
    has = {"storage": instance.storage_limit(target), "cores": target.cpu_cores, "memory": target.memory_bytes}
    return [r for r in RESOURCES if r in enforced and needs[r] > has[r]]


def _pow2_scale(largest: float) -> float:
    """A power of two that brings ``largest`` below 2^ROW_MAGNITUDE_BITS (exact division in floats)."""
    if largest <= 0:
        return 1.0
    return float(2 ** max(0, math.ceil(math.log2(largest)) - ROW_MAGNITUDE_BITS))


def build_model(
    instance: Instance, units: Units | None = None, enforced: frozenset[str] = frozenset(RESOURCES)
) -> Model:
    """The sparse MILP of the instance, built with array operations (10,000 systems in well under a second).

    A column exists where the unit alone fits the target's ``enforced`` resources; the rows of the others are
    built all the same, for :func:`max_movable` to leave out.
    """
    units = units or build_units(instance)
    n_targets = len(instance.targets)
    allowed = ~np.isnan(units.cost) & _fits(units, instance, enforced)
    var_unit, var_target = (idx.astype(np.intp) for idx in np.nonzero(allowed))
    n_vars = len(var_unit)
    size = np.array(units.size, dtype=np.float64)[var_unit]
    room = np.array(units.room, dtype=np.float64)[var_unit]
    cores = np.array(units.cores, dtype=np.float64)[var_unit]
    memory = np.array(units.memory, dtype=np.float64)[var_unit]

    # Rows: storage, cores, memory of each target; relief; one "at most one target" row per unit with a choice;
    # one row per shared storage.
    byte_scale = _pow2_scale(max(float(size.max(initial=0.0)), float(room.max(initial=0.0))))
    memory_scale = _pow2_scale(float(memory.max(initial=0.0)))
    core_scale = _pow2_scale(float(cores.max(initial=0.0)))
    per_unit = np.bincount(var_unit, minlength=len(units.label))
    choice_units = np.flatnonzero(per_unit > 1)
    choice_row = np.full(len(units.label), -1, dtype=np.intp)
    choice_row[choice_units] = 3 * n_targets + 1 + np.arange(len(choice_units))
    has_choice = choice_row[var_unit] >= 0
    columns = np.arange(n_vars)
    shared_start = 3 * n_targets + 1 + len(choice_units)
    shared = _shared_columns(instance, var_target)
    rows = np.concatenate(
        [
            var_target,
            n_targets + var_target,
            2 * n_targets + var_target,
            np.full(n_vars, 3 * n_targets),
            choice_row[var_unit][has_choice],
            *(np.full(len(on), shared_start + k) for k, on in enumerate(shared)),
        ]
    )
    cols = np.concatenate([columns] * 4 + [columns[has_choice], *shared])
    values = np.concatenate(
        [
            room / byte_scale,
            cores / core_scale,
            memory / memory_scale,
            size / byte_scale,
            np.ones(has_choice.sum()),
            *(room[on] / byte_scale for on in shared),
        ]
    )
    n_rows = shared_start + len(shared)
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(n_rows, n_vars))

    need = instance.need_bytes
    targets = instance.targets
    row_scale = np.concatenate(
        [
            np.full(n_targets, byte_scale),
            np.full(n_targets, core_scale),
            np.full(n_targets, memory_scale),
            np.array([byte_scale]),
            np.ones(len(choice_units)),
            np.full(len(shared), byte_scale),
        ]
    )
    capacity = np.array(
        [t.storage_bytes for t in targets] + [t.cpu_cores for t in targets] + [t.memory_bytes for t in targets],
        dtype=np.float64,
    )
    shared_capacity = np.array([s.storage_bytes for s in instance.shared_storage], dtype=np.float64)
    row_ub = np.concatenate([capacity, [np.inf], np.ones(len(choice_units)), shared_capacity]) / row_scale
    lower: list[FloatArray] = [
        np.full(3 * n_targets, -np.inf),
        np.array([float(need)]),
        np.zeros(len(choice_units)),
        np.full(len(shared), -np.inf),
    ]
    row_lb = np.concatenate(lower) / row_scale

    unit_cost = np.rint(units.cost[var_unit, var_target]).astype(np.int64)
    gcd = int(np.gcd.reduce(unit_cost)) if n_vars and unit_cost.any() else 1
    return Model(
        instance=instance,
        units=units,
        need=need,
        var_unit=var_unit,
        var_target=var_target,
        matrix=matrix,
        row_lb=row_lb,
        row_ub=row_ub,
        row_scale=row_scale,
        cost=(unit_cost // gcd).astype(np.float64),
        cost_gcd=gcd,
    )


def _shared_columns(instance: Instance, var_target: IntArray) -> list[IntArray]:
    """Per shared storage, the columns that put a unit on one of its targets."""
    index = {t.name: k for k, t in enumerate(instance.targets)}
    return [
        np.flatnonzero(np.isin(var_target, [index[name] for name in share.targets]))
        for share in instance.shared_storage
    ]


def exact_excess(model: Model, chosen: Sequence[int]) -> dict[int, int]:
    """Rows the chosen variables break in exact integers: row -> excess (bytes or cores) over the limit."""
    instance, units = model.instance, model.units
    n_targets = len(instance.targets)
    used = [0] * (3 * n_targets)
    moved = 0
    for v in chosen:
        u, t = int(model.var_unit[v]), int(model.var_target[v])
        used[t] += units.room[u]
        used[n_targets + t] += units.cores[u]
        used[2 * n_targets + t] += units.memory[u]
        moved += units.size[u]
    limits = [t.storage_bytes for t in instance.targets] + [t.cpu_cores for t in instance.targets]
    limits += [t.memory_bytes for t in instance.targets]
    excess = {row: used[row] - limit for row, limit in enumerate(limits) if used[row] > limit}
    names = [t.name for t in instance.targets]
    for k, share in enumerate(instance.shared_storage):
        taken = sum(used[names.index(name)] for name in set(share.targets))
        if taken > share.storage_bytes:
            excess[model.first_shared_row + k] = taken - share.storage_bytes
    if moved < model.need:
        excess[model.relief_row] = model.need - moved
    units_twice = len({int(model.var_unit[v]) for v in chosen}) < len(chosen)
    if units_twice:
        excess[-1] = 1  # a unit chosen for two targets: never expected after rounding, never output
    return excess


def destinations(model: Model, chosen: Sequence[int]) -> dict[str, str | None]:
    """Every system id -> its target name, or None if it stays."""
    out: dict[str, str | None] = {s.id: None for s in model.instance.systems}
    for v in chosen:
        target = model.instance.targets[int(model.var_target[v])].name
        for i in model.units.members[int(model.var_unit[v])]:
            out[model.instance.systems[i].id] = target
    return out


def _cost(model: Model, chosen: Sequence[int]) -> int:
    return int(sum(int(model.cost[v]) for v in chosen)) * model.cost_gcd


@dataclass(frozen=True, slots=True)
class _Run:
    """One exact MILP solve over some columns: HiGHS's status, a plan that holds in integers, its bound."""

    status: int  # scipy.optimize.milp: 0 optimal, 1 limit, 2 infeasible, 3 unbounded, 4 other
    chosen: list[int] | None
    bound: float | None  # in cost-gcd units, over the solved columns
    repairs: int
    stopped: str | None = None  # the limit that ended HiGHS before it could tell (highs.stopped_by, "repair limit")


def solve(
    instance: Instance,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT_S,
    mip_rel_gap: float = MIP_REL_GAP,
    work: int = SOLVE_WORK,
    log: Log = _quiet,
) -> Assignment:
    """The cheapest valid assignment, a proof that none exists, or the best plan found within ``work`` (HiGHS nodes
    times free columns, per MILP) or, failing that, ``time_limit`` seconds.

    Large models go through the LP relaxation first: a MILP on the columns of smallest reduced cost
    gives a plan, whose cost fixes every column that cannot be in a cheaper plan (reduced-cost
    fixing: exact); the MILP on what is left then proves the optimum or improves on it.
    """
    start = time.perf_counter()
    units = build_units(instance)
    model = build_model(instance, units)
    n_vars = len(model.var_unit)

    def elapsed() -> float:
        return time.perf_counter() - start

    log(
        f"{instance.name}: {len(instance.systems)} systems, {len(units.label)} units, {n_vars} variables, "
        + (
            f"relief needs {show_bytes(model.need)}"
            if model.need > 0
            else "nothing has to move (within the legacy target)"
        )
        + f"; model built in {elapsed():.2f} s"
    )
    base = _Size(units=len(units.label), variables=n_vars)
    if model.need <= 0:
        return Assignment("nothing_to_move", destinations(model, []), objective=0, seconds=elapsed(), **base)
    if n_vars == 0:  # nothing can move, yet something must: proven in exact integers (the columns' fit)
        return Assignment("infeasible", None, reason=explain_infeasible(model), seconds=elapsed(), **base)

    everything = np.ones(n_vars, dtype=bool)
    nothing = np.zeros(n_vars, dtype=bool)
    lp = _lp_relaxation(model)
    incumbent: list[int] | None = None
    # The greedy plan, once made: where it is still the cheapest in the end, the plan is no plan of HiGHS's.
    greedy: list[int] | None = None
    columns, ones, repairs = everything, nothing, 0
    limits: list[str | None] = []  # what stopped each MILP run: a plan is machine-dependent if time stopped any
    if lp is not None and n_vars > CORE_MIN_VARS:
        lp_value, reduced = lp
        core = reduced <= np.sort(reduced)[min(n_vars, max(CORE_MIN_VARS, n_vars // 10)) - 1]
        run = _exact_milp(
            model, core, nothing, min(CORE_TIME_SHARE * time_limit, time_limit - elapsed()), mip_rel_gap,
            int(CORE_WORK_SHARE * work), log,
        )  # fmt: skip
        repairs, limits = repairs + run.repairs, [run.stopped]
        incumbent = _cheaper(model, run.chosen, greedy := greedy_assignment(model))  # HiGHS's first: a tie keeps it
        if incumbent is not None:
            slack = _cost(model, incumbent) / model.cost_gcd - lp_value
            slack += FIXING_MARGIN * (1.0 + abs(lp_value))
            columns, ones = reduced <= slack, reduced < -slack
            log(
                f"core of {int(core.sum())} columns: "
                f"{'the greedy plan (none of its own as cheap)' if incumbent is greedy else 'plan'} "
                f"at {_cost(model, incumbent):,} CNY, LP bound "
                f"{lp_value * model.cost_gcd:,.0f}; reduced-cost fixing keeps {int(columns.sum())} of {n_vars} "
                f"columns ({int(ones.sum())} fixed to 1)"
            )
    run = _exact_milp(model, columns, ones, max(1.0, time_limit - elapsed()), mip_rel_gap, work, log)
    repairs, limits = repairs + run.repairs, [*limits, run.stopped]
    best = _cheaper(model, run.chosen, incumbent)
    if best is None and greedy is None:  # (made for the core and None, it would be None again: nothing lost)
        best = greedy = greedy_assignment(model)
    # A plan from HiGHS (this run, or the core's); not the greedy one, whether made as the fallback or made to seed the
    # fixing and never improved on by either run.
    solved = best is not None and best is not greedy
    # HiGHS's proof on the full model (its repair cuts remove only plans that break a rule) stands unless a plan
    # that passes the exact check is in hand: then the claim is a numerical slip in floats, and the plan wins.
    overruled = run.status == 2 and columns.all() and not ones.any()
    if overruled and (best is None or exact_excess(model, best)):
        return Assignment("infeasible", None, reason=explain_infeasible(model), seconds=elapsed(), **base)
    # The time limit in any run makes the plan machine-dependent; otherwise the final run's limit is what kept it from
    # proving the plan, or the core's where the final run ended for no limit.
    stopped = "time limit" if "time limit" in limits else run.stopped or next((s for s in limits if s), None)
    if best is None:
        return _no_plan(model, elapsed(), base, stopped, repairs, log)
    objective = _cost(model, best)
    if overruled:
        log(
            f"warning: HiGHS reports no plan exists, yet a plan at {objective:,} CNY passes the exact check "
            "(a numerical slip in the solver): the plan is kept, not proven optimal"
        )
    bound = _bound(model, run, lp, objective)
    # A cheaper plan than the incumbent would have survived the fixing: "no better plan" proves the optimum.
    proven = run.status == 0 or (run.status == 2 and incumbent is not None and not overruled)
    gap = 0.0 if proven else (objective - bound) / objective if bound is not None and objective else None
    if proven or (gap is not None and gap <= mip_rel_gap):
        status, stopped = "optimal", None
    else:
        status, what = _unproven_status(stopped, solved=solved, overruled=bool(overruled), repairs=repairs)
        shown = "-" if bound is None else f"{bound:,.0f}"
        log(f"{what} at {objective:,} CNY, bound {shown}, gap {'-' if gap is None else f'{gap:.6%}'}")
    return Assignment(
        status, destinations(model, best), objective=objective, bound=bound, gap=gap,
        seconds=elapsed(), repairs=repairs, stopped=stopped, greedy=not solved, **base,
    )  # fmt: skip


def _unproven_status(stopped: str | None, *, solved: bool, overruled: bool, repairs: int) -> tuple[str, str]:
    """The status of a plan not proven optimal, and what the log calls it: the limit that stopped HiGHS
    (``work_limit``, ``repair_limit``, ``time_limit``), or ``heuristic`` for a plan HiGHS did not give (the greedy
    plan: the fallback, or the core's seed neither run improved on), one kept against its claim that none exists,
    or one HiGHS left unproven for no limit."""
    if not solved:
        return "heuristic", "fallback: greedy plan"
    if overruled:
        return "heuristic", "plan"
    if stopped is None:  # HiGHS ended for another reason (a numerical failure): no limit to blame, no proof either
        return "heuristic", "plan HiGHS did not prove"
    if stopped == "repair limit":
        return "repair_limit", f"repair limit ({stopped_after_repairs(repairs)}): plan"
    return stopped.replace(" ", "_"), f"{stopped}: plan"


def stopped_after_repairs(count: int) -> str:
    """How the log, the summary, PLAN.md and an unknown's reason say the repair limit stopped HiGHS: "stopped after
    ``count`` rounding repair(s)", one wording wherever it is said."""
    return f"stopped after {count:,} rounding repair{'' if count == 1 else 's'}"


def _bound(model: Model, run: _Run, lp: tuple[float, FloatArray] | None, objective: int) -> float | None:
    """The best lower bound in CNY on the cost of any plan: HiGHS's (of its last run), or the LP's; None = neither."""
    bounds = [run.bound * model.cost_gcd] if run.bound is not None else []
    if lp is not None:
        bounds.append(math.ceil(lp[0] - FIXING_MARGIN * (1.0 + abs(lp[0]))) * model.cost_gcd)
    return min(objective, max(bounds)) if bounds else None


def _cheaper(model: Model, a: list[int] | None, b: list[int] | None) -> list[int] | None:
    """The cheaper of two plans (None: no plan), ``a`` itself on a tie: whose plan is kept is told by identity."""
    plans = [p for p in (a, b) if p is not None]
    return min(plans, key=lambda p: _cost(model, p), default=None)


def _lp_relaxation(model: Model) -> tuple[float, FloatArray] | None:
    """The LP optimum (cost-gcd units) and each column's reduced cost (negative for columns at 1), or None."""
    finite_ub, finite_lb = np.isfinite(model.row_ub), np.isfinite(model.row_lb)
    result = linprog(
        model.cost,
        A_ub=sparse.vstack([model.matrix[finite_ub], -model.matrix[finite_lb]]).tocsr(),
        b_ub=np.concatenate([model.row_ub[finite_ub], -model.row_lb[finite_lb]]),
        bounds=(0.0, 1.0),
        method="highs",
    )
    if result.status != 0:
        return None
    reduced = np.asarray(result.lower.marginals, dtype=np.float64) + np.asarray(result.upper.marginals)
    return float(result.fun), reduced


def _exact_milp(
    model: Model,
    columns: npt.NDArray[np.bool_],
    ones: npt.NDArray[np.bool_],
    time_limit: float,
    gap: float,
    work: int,
    log: Log,
) -> _Run:
    """HiGHS on the chosen columns (``ones`` fixed to 1, the rest to 0), re-solved while rounding breaks a row; each
    solve ends at ``work`` // free columns branch-and-bound nodes, or at the time left, whichever comes first.

    HiGHS accepts a row broken by less than its tolerance (at 2^56 bytes, kilobytes). Such a plan is
    cut off exactly, not by moving the row's bound in floats: a pool over its capacity may not hold
    that set of units again (nor any superset); a relief short of the need must move some unit
    outside that set. Both cuts have 0/1 coefficients and remove only plans that break a rule.
    """
    start = time.perf_counter()
    free = np.flatnonzero(columns & ~ones)
    fixed = np.flatnonzero(ones)
    local = np.full(len(model.var_unit), -1, dtype=np.intp)
    local[free] = np.arange(len(free))
    taken = np.asarray(model.matrix[:, fixed].sum(axis=1)).ravel()
    rows = sparse.csr_matrix(model.matrix[:, free])
    row_lb, row_ub = model.row_lb - taken, model.row_ub - taken
    # Presolve of the full 10,000-system model runs for minutes without reducing it (and ignores the time limit).
    presolve = len(free) <= PRESOLVE_MAX_VARS
    # Nodes, not seconds, end the search (SOLVE_WORK); the time is the outer safety.
    nodes = max(1, work // max(1, len(free)))
    repairs = 0
    while True:
        remaining = max(1.0, time_limit - (time.perf_counter() - start))
        stopped = None
        if len(free):
            result = milp(
                model.cost[free],
                integrality=np.ones(len(free)),
                bounds=Bounds(0.0, 1.0),
                constraints=LinearConstraint(rows, row_lb, row_ub),
                options={
                    "time_limit": remaining, "node_limit": nodes, "mip_rel_gap": gap, "presolve": presolve,
                    "disp": False,
                },
            )  # fmt: skip
            x, status, dual, stopped = result.x, result.status, result.mip_dual_bound, stopped_by(result)
            log(
                f"HiGHS on {len(free)} columns: {result.message} ({getattr(result, 'mip_node_count', '-')} of "
                f"{nodes:,} nodes, {time.perf_counter() - start:.1f} s)"
            )
        else:
            feasible = bool(np.all(row_lb <= 1e-9) and np.all(row_ub >= -1e-9))
            x, status, dual = (np.zeros(0), 0, 0.0) if feasible else (None, 2, None)
        if x is None:
            return _Run(status, None, None, repairs, stopped)
        chosen = [int(v) for v in free[x > 0.5]] + [int(v) for v in fixed]
        excess = exact_excess(model, chosen)
        if not excess:
            bound = None if dual is None else float(dual) + float(model.cost[fixed].sum())
            return _Run(status, chosen, bound, repairs, stopped)
        repairs += 1
        log(f"the solver's plan breaks {len(excess)} row(s) by rounding; cutting it off (repair {repairs})")
        if time.perf_counter() - start > time_limit:
            return _Run(4, None, None, repairs, "time limit")
        if repairs > MAX_REPAIRS:
            return _Run(4, None, None, repairs, "repair limit")
        if -1 in excess:  # not a rounding a cut can repair
            return _Run(4, None, None, repairs, stopped)
        cuts = [_cut(model, chosen, row, local) for row in excess]
        rows = sparse.vstack([rows, *(cut for cut, _, _ in cuts)]).tocsr()
        row_lb = np.concatenate([row_lb, [low for _, low, _ in cuts]])
        row_ub = np.concatenate([row_ub, [high for _, _, high in cuts]])


def _cut(model: Model, chosen: list[int], row: int, local: IntArray) -> tuple[sparse.csr_matrix, float, float]:
    """One exact cut (over the free columns, see :func:`_exact_milp`) against the chosen plan's broken row."""
    chosen_set = np.zeros(len(model.var_unit), dtype=bool)
    chosen_set[chosen] = True
    if row == model.relief_row:
        moved_units = np.zeros(len(model.units.label), dtype=bool)
        moved_units[model.var_unit[chosen]] = True
        members = ~moved_units[model.var_unit]  # fixed columns are all chosen: none is outside the moved set
        low, high = 1.0, np.inf
    else:
        if row >= model.first_shared_row:
            on_row = np.zeros(len(model.var_unit), dtype=bool)
            on_row[_shared_columns(model.instance, model.var_target)[row - model.first_shared_row]] = True
        else:
            on_row = model.var_target == row % len(model.instance.targets)
        members = chosen_set & on_row
        low, high = -np.inf, float(members.sum() - 1)
        high -= float(np.count_nonzero(members & (local < 0) & chosen_set))  # fixed to 1: constants
    cols = local[members & (local >= 0)]
    n_free = int(np.count_nonzero(local >= 0))
    cut = sparse.csr_matrix((np.ones(len(cols)), (np.zeros(len(cols), dtype=np.intp), cols)), shape=(1, n_free))
    return cut, low, high


def _no_plan(model: Model, seconds: float, base: _Size, stopped: str | None, repairs: int, log: Log) -> Assignment:
    """No plan within the limits and no greedy plan: an LP proof if there is one, else an honest non-answer."""
    movable = max_movable(model)
    if movable is not None and movable < model.need:
        return Assignment("infeasible", None, reason=explain_infeasible(model), seconds=seconds, **base)
    shown = reading(model.need, movable or 0.0)
    within = {
        None: "(HiGHS ended without one, at no limit)",
        "repair limit": f"before HiGHS {stopped_after_repairs(repairs)} (its repair limit)",
    }.get(stopped, f"within the {stopped}")
    reason = (
        f"no plan found {within} and none proven impossible (relief needs {shown(model.need)}; "
        f"the LP relaxation moves {shown(movable or 0.0)})"
    )
    log(reason)
    return Assignment("unknown", None, reason=reason, seconds=seconds, stopped=stopped, repairs=repairs, **base)


def greedy_assignment(model: Model) -> list[int] | None:
    """Best of two greedy passes (cheapest CNY per byte first; largest first), each pruned of needless moves."""
    units = model.units
    size = np.array(units.size, dtype=np.float64)
    cheapest = np.full(len(units.label), np.inf)
    np.minimum.at(cheapest, model.var_unit, model.cost)
    movable = np.flatnonzero(np.isfinite(cheapest) & (size > 0))
    orders = (
        movable[np.argsort(cheapest[movable] / size[movable], kind="stable")],
        movable[np.argsort(-size[movable], kind="stable")],
    )
    plans = [plan for order in orders if (plan := _greedy_pass(model, order)) is not None]
    return min(plans, key=lambda plan: _cost(model, plan), default=None)


def _greedy_pass(model: Model, order: npt.NDArray[np.intp]) -> list[int] | None:
    """Each unit in order to its cheapest target with room, until the relief is met; then drop what is not needed."""
    units, targets = model.units, model.instance.targets
    free = [[t.storage_bytes, t.cpu_cores, t.memory_bytes] for t in targets]
    shares = model.instance.shared_storage
    shared_free = [share.storage_bytes for share in shares]
    shares_of = [[k for k, share in enumerate(shares) if t.name in share.targets] for t in targets]
    by_unit: dict[int, list[int]] = {}
    for v in np.argsort(model.cost, kind="stable"):
        by_unit.setdefault(int(model.var_unit[v]), []).append(int(v))
    chosen: list[int] = []
    moved = 0
    for u in order:
        if moved >= model.need:
            break
        need = (units.room[u], units.cores[u], units.memory[u])
        for v in by_unit.get(int(u), []):
            room = free[int(model.var_target[v])]
            on = shares_of[int(model.var_target[v])]
            if all(n <= r for n, r in zip(need, room, strict=True)) and all(need[0] <= shared_free[k] for k in on):
                for k in range(3):
                    room[k] -= need[k]
                for k in on:
                    shared_free[k] -= need[0]
                chosen.append(v)
                moved += units.size[u]
                break
    if moved < model.need:
        return None
    for v in sorted(chosen, key=lambda v: -model.cost[v]):
        size = units.size[int(model.var_unit[v])]
        if moved - size >= model.need:
            chosen.remove(v)
            moved -= size
    return chosen


def max_movable(model: Model, drop: frozenset[str] = frozenset()) -> float | None:
    """Bytes the LP relaxation can move at most (groups, compatibility, capacities but ``drop``); None = LP failed.

    Without a resource's limits, a unit too large for it alone may move too: the model's columns leave such units
    out, so the relaxed LP gets columns filtered by the resources it still enforces.
    """
    if drop:
        model = build_model(model.instance, model.units, frozenset(RESOURCES) - drop)
    if len(model.var_unit) == 0:
        return 0.0
    n_targets = len(model.instance.targets)
    keep = np.ones(model.matrix.shape[0], dtype=bool)
    keep[model.relief_row] = False
    for k, resource in enumerate(RESOURCES):
        if resource in drop:
            keep[k * n_targets : (k + 1) * n_targets] = False
    rows = np.flatnonzero(keep)
    size = model.matrix[model.relief_row].toarray().ravel()
    result = linprog(
        -size,
        A_ub=model.matrix[rows],
        b_ub=model.row_ub[rows],
        bounds=(0.0, 1.0),
        method="highs",
    )
    if result.status != 0:
        return None
    return float(-result.fun) * float(model.row_scale[model.relief_row])


def explain_infeasible(model: Model) -> str:
    """A reason for people: how far the LP bound falls short of the relief, and what binds."""
    need = model.need
    movable = max_movable(model)
    unfit = _unfit_units(model)
    if movable is None:
        return f"relief needs {show_bytes(need)}; the LP relaxation could not be solved{unfit}"
    shown = reading(need, movable)  # one unit for every figure the reason compares with the need
    if movable >= need:
        return (
            f"relief needs {shown(need)}; the LP relaxation moves {shown(movable)} only by splitting systems or "
            f"groups: no choice of whole systems and groups fits the pools' storage, cores and memory "
            f"(integrality and groups block it){unfit}"
        )
    within = "within the pools' storage, cores, memory and the systems' compatibility"
    lifted = {r: max_movable(model, frozenset({r})) for r in ("cores", "memory")}
    binding = [r for r, value in lifted.items() if value is not None and value >= need]
    if binding:
        detail = "; ".join(f"without the {r} limits {shown(lifted[r] or 0.0)} could move" for r in binding)
        verb = "binds" if len(binding) == 1 else "bind"
        detail = f" ({' and '.join(binding)} {verb}: {detail})"
    else:
        both = max_movable(model, frozenset({"cores", "memory"}))
        if both is not None and both >= need:
            detail = f" (cores and memory bind together: without both {shown(both)} could move)"
        else:
            detail = f" (storage and compatibility alone allow only {shown(both or 0.0)}){_runs_nowhere(model)}"
    return f"relief needs {shown(need)}; at most {shown(movable)} can move {within}{detail}{unfit}"


def _runs_nowhere(model: Model) -> str:
    """The largest systems and groups no pool can run (a null cost on every pool), with the members that block a
    group: a group of systems each able to run somewhere can still run nowhere together."""
    units, instance = model.units, model.instance
    nowhere = [u for u in range(len(units.label)) if units.size[u] > 0 and np.isnan(units.cost[u]).all()]
    if not nowhere:
        return ""
    nowhere.sort(key=lambda u: -units.size[u])
    shown = []
    for u in nowhere[:SHOWN_UNFIT]:
        members = [instance.systems[i] for i in units.members[u]]
        if len(members) == 1:
            shown.append(f"system {units.label[u]} ({show_bytes(units.size[u])})")
            continue
        blocking = [
            (s.id, [t.name for t in instance.targets if s.cost.get(t.name) is None])
            for s in members
            if any(s.cost.get(t.name) is None for t in instance.targets)
        ]
        blocked = "; ".join(f"{sid} cannot run on {', '.join(pools)}" for sid, pools in blocking[:SHOWN_UNFIT])
        more = f"; and {len(blocking) - SHOWN_UNFIT} more members" if len(blocking) > SHOWN_UNFIT else ""
        shown.append(f"group {units.label[u]} ({len(members)} systems, {show_bytes(units.size[u])}: {blocked}{more})")
    more = f" and {len(nowhere) - SHOWN_UNFIT} more" if len(nowhere) > SHOWN_UNFIT else ""
    return f"; no pool can run {', '.join(shown)}{more}"


def _unfit_units(model: Model) -> str:
    """Systems and groups that some pool could run but none can hold: the model leaves them out, say which and why."""
    units, instance = model.units, model.instance
    compatible = ~np.isnan(units.cost)
    has_var = np.zeros(len(units.label), dtype=bool)
    has_var[model.var_unit] = True
    unfit = [int(u) for u in np.flatnonzero(compatible.any(axis=1) & ~has_var)]
    if not unfit:
        return ""
    unfit.sort(key=lambda u: -units.room[u])
    shown = []
    for u in unfit[:SHOWN_UNFIT]:
        pools = [instance.targets[int(t)] for t in np.flatnonzero(compatible[u])]
        lacking = ", ".join(f"{t.name} ({', '.join(_blocking(units, u, instance, t))})" for t in pools)
        count = len(units.members[u])
        what = f"group {units.label[u]} ({count} systems, " if count > 1 else f"system {units.label[u]} ("
        shown.append(
            f"{what}{show_bytes(units.room[u])}, {instance.cores(units.cores[u])} cores, "
            f"{instance.gib(units.memory[u]):,.1f} GiB memory) fits none of {lacking}"
        )
    more = f" and {len(unfit) - SHOWN_UNFIT} more" if len(unfit) > SHOWN_UNFIT else ""
    return f"; {'; '.join(shown)}{more}"


# Units for people, largest first: FORMAT.md's reasons speak TiB; a city's relief of some GiB must not read as 0.0 TiB.
_UNITS = ((TIB, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))
_MAX_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class Reading:
    """How byte counts are shown: in one unit, to a number of decimals (whole bytes below a KiB)."""

    unit: int = 1
    name: str = "bytes"
    decimals: int = 0

    def __call__(self, value: float) -> str:
        return f"{value / self.unit:,.{self.decimals}f} {self.name}"


def reading(value: float, *apart: float) -> Reading:
    """The largest unit (up to TiB) ``value`` fills once, to one decimal, or to as many more as it takes for
    ``value`` to read otherwise than each of ``apart``: "relief needs 580.6 TiB; at most 580.6 TiB can move" says
    nothing."""
    unit, name = next(((u, n) for u, n in _UNITS if abs(value) >= u), (1, "bytes"))
    if unit == 1:
        return Reading()
    for decimals in range(1, _MAX_DECIMALS + 1):
        shown = Reading(unit, name, decimals)
        if all(shown(value) != shown(other) for other in apart):
            return shown
    return Reading()


def show_bytes(value: float) -> str:
    """``value`` bytes for people, in the largest unit it fills (see :func:`reading`)."""
    return reading(value)(value)
