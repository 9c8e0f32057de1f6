"""The assignment model: optimum by hand, groups, infeasibility proofs with reasons, exact integers."""

from __future__ import annotations

import itertools
import random
import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint

from dizuo.migration import highs
from dizuo.migration import solve as solve_module
from dizuo.migration.instance import Instance, InstanceError, load_instance, parse_instance
from dizuo.migration.report import solver_sentence
from dizuo.migration.solve import (
    Assignment,
    build_model,
    destinations,
    greedy_assignment,
    solve,
    stopped_after_repairs,
)
from dizuo.migration.validate import Plan, check_plan, plan_cost
from dizuo.migration.waves import plan_waves

from .conftest import (
    PUBLIC,
    TIB,
    allow_no_repairs,
    build,
    core_plan_then_one_byte_short,
    no_greedy_plan_and_one_byte_short,
    one_byte_over,
    system,
    target,
)


def _plan(instance: Instance, answer: Assignment) -> Plan:
    assert answer.destinations is not None, f"expected a plan, got {answer.status}: {answer.reason}"
    return Plan(answer.destinations, plan_waves(instance, answer.destinations).waves)


def _moved(answer: Assignment) -> dict[str, str]:
    return {sid: dest for sid, dest in (answer.destinations or {}).items() if dest is not None}


def test_cheapest_plan_is_the_optimum_worked_out_by_hand() -> None:
    """Relief of 10 TiB: s1 and s3 on pool A (150 CNY) beat every other subset that relieves the legacy pool."""
    instance = build(
        [
            system("s1", 6, {"A": 100, "B": 300}),
            system("s2", 5, {"A": 200, "B": 150}),
            system("s3", 4, {"A": 50, "B": None}),
            system("s4", 3, {"A": 10, "B": 10}),
        ],
        [target("A", 10), target("B", 10, arch="x86_64")],
        keep_tib=8,
    )
    answer = solve(instance)
    assert answer.status == "optimal", answer
    assert _moved(answer) == {"s1": "A", "s3": "A"}, f"hand optimum is s1, s3 -> A; got {_moved(answer)}"
    assert answer.objective == 150
    plan = _plan(instance, answer)
    assert check_plan(instance, plan) == [], check_plan(instance, plan)
    assert plan_cost(instance, plan) == 150


def test_group_moves_whole_to_one_pool_even_when_splitting_would_be_cheaper() -> None:
    """Systems sharing a group go to the same target: 110 CNY together, not 20 CNY split over A and B."""
    instance = build(
        [
            system("g1", 4, {"A": 10, "B": 100}, group="g"),
            system("g2", 4, {"A": 100, "B": 10}, group="g"),
            system("s3", 5, {"A": 500, "B": 500}),
        ],
        [target("A", 10), target("B", 10)],
        keep_tib=5,
    )
    answer = solve(instance)
    moved = _moved(answer)
    assert set(moved) == {"g1", "g2"}, f"only group g should move, got {moved}"
    assert moved["g1"] == moved["g2"], f"group g split over {moved['g1']} and {moved['g2']}"
    assert answer.objective == 110


def test_nothing_moves_when_the_legacy_pool_holds_everything() -> None:
    """A legacy target above the horizon usage needs no move: every system stays, no waves."""
    instance = build([system("s1", 6, {"A": 100})], [target("A", 10)], keep_tib=6)
    answer = solve(instance)
    assert answer.status == "nothing_to_move"
    assert _moved(answer) == {}, f"nothing should move, got {_moved(answer)}"
    assert _plan(instance, answer).waves == ()


@pytest.mark.parametrize(
    ("case", "systems", "pool", "reason"),
    [
        (
            "cores",
            [system("s1", 5, {"A": 1}, cores=3), system("s2", 5, {"A": 1}, cores=3)],
            target("A", 100, cores=4),
            "relief needs 10.0 TiB; at most 6.7 TiB can move within the pools' storage, cores, memory and the "
            "systems' compatibility (cores binds: without the cores limits 10.0 TiB could move)",
        ),
        (
            "memory",
            [system("s1", 5, {"A": 1}, memory_gib=6), system("s2", 5, {"A": 1}, memory_gib=6)],
            target("A", 100, memory_gib=10),
            "relief needs 10.0 TiB; at most 8.3 TiB can move within the pools' storage, cores, memory and the "
            "systems' compatibility (memory binds: without the memory limits 10.0 TiB could move)",
        ),
        (
            "compatibility",
            [system("s1", 5, {"A": None}), system("s2", 5, {"A": 1})],
            target("A", 100),
            "relief needs 10.0 TiB; at most 5.0 TiB can move within the pools' storage, cores, memory and the "
            "systems' compatibility (storage and compatibility alone allow only 5.0 TiB); no pool can run system s1 "
            "(5.0 TiB)",
        ),
        (
            "group one member keeps off every pool",
            [system("a", 5, {"A": 1}, group="g"), system("b", 4, {"A": None}, group="g"), system("c", 1, {"A": 1})],
            target("A", 100),
            "relief needs 10.0 TiB; at most 1.0 TiB can move within the pools' storage, cores, memory and the "
            "systems' compatibility (storage and compatibility alone allow only 1.0 TiB); no pool can run group g "
            "(2 systems, 9.0 TiB: b cannot run on A)",
        ),
        (
            "group larger than every pool",
            [system("g1", 4, {"A": 1}, group="g"), system("g2", 4, {"A": 1}, group="g"), system("s3", 2, {"A": 1})],
            target("A", 6),
            "relief needs 8.0 TiB; at most 2.0 TiB can move within the pools' storage, cores, memory and the "
            "systems' compatibility (storage and compatibility alone allow only 2.0 TiB); "
            "group g (2 systems, 8.0 TiB, 2 cores, 2.0 GiB memory) fits none of A (storage)",
        ),
    ],
)
def test_infeasible_instance_is_claimed_with_the_lp_reason(case: str, systems: list, pool: dict, reason: str) -> None:
    """No plan exists (by cores, memory, compatibility or an oversized group): HiGHS proves it, the LP says why, and
    names what no pool can run (a group, by the member that keeps it off each pool)."""
    total = sum(s["projected_bytes"] for s in systems) // TIB
    instance = build(systems, [pool], keep_tib=total - 10 if case != "group larger than every pool" else 2)
    answer = solve(instance)
    assert answer.status == "infeasible", f"{case}: expected an infeasibility proof, got {answer.status}"
    assert answer.destinations is None
    assert answer.reason == reason, f"{case}: reason was {answer.reason!r}"


@pytest.mark.parametrize(
    ("resource", "big", "lifted"),
    [
        ("cores", system("a", 50, {"p": 10}, cores=16), "cores binds: without the cores limits 55.0 TiB could move"),
        (
            "memory",
            system("a", 50, {"p": 10}, memory_gib=100),
            "memory binds: without the memory limits 55.0 TiB could move",
        ),
    ],
)
def test_a_system_too_large_for_a_pools_cores_or_memory_is_blamed_on_them(
    resource: str, big: dict, lifted: str
) -> None:
    """A 50 TiB system needing more cores (or memory) than the only pool has: the reason says that resource
    binds and names the system, not "storage and compatibility" (which alone would let 55 TiB move)."""
    instance = build([big, system("b", 5, {"p": 1})], [target("p", 100, cores=8, memory_gib=64)], keep_tib=0)
    answer = solve(instance)
    assert answer.status == "infeasible", f"{resource}: expected an infeasibility proof, got {answer.status}"
    memory = "100.0" if resource == "memory" else "1.0"
    cores = 16 if resource == "cores" else 1
    assert answer.reason == (
        "relief needs 55.0 TiB; at most 5.0 TiB can move within the pools' storage, cores, memory and the "
        f"systems' compatibility ({lifted}); system a (50.0 TiB, {cores} cores, {memory} GiB memory) "
        f"fits none of p ({resource})"
    ), f"{resource}: reason was {answer.reason!r}"


def test_nothing_fitting_any_pool_still_says_which_resource_blocks() -> None:
    """Every system exceeds the pool's cores: the reason names cores and the systems, as when some can move."""
    instance = build(
        [system("a", 5, {"A": 1}, cores=8), system("b", 3, {"A": 1, "B": None}, cores=6)],
        [target("A", 10, cores=4), target("B", 10)],
        keep_tib=0,
    )
    answer = solve(instance)
    assert answer.status == "infeasible"
    assert answer.reason == (
        "relief needs 8.0 TiB; at most 0.0 TiB can move within the pools' storage, cores, memory and the "
        "systems' compatibility (cores binds: without the cores limits 8.0 TiB could move); "
        "system a (5.0 TiB, 8 cores, 1.0 GiB memory) fits none of A (cores); "
        "system b (3.0 TiB, 6 cores, 1.0 GiB memory) fits none of A (cores)"
    ), answer.reason


def test_integrality_blocks_when_the_lp_could_move_enough() -> None:
    """Three 4 TiB systems, two 6 TiB pools, 10 TiB to move: the LP splits systems, whole ones cannot."""
    instance = build(
        [system(f"s{i}", 4, {"A": 1, "B": 1}) for i in range(3)], [target("A", 6), target("B", 6)], keep_tib=2
    )
    answer = solve(instance)
    assert answer.status == "infeasible"
    assert answer.reason is not None
    assert answer.reason.startswith("relief needs 10.0 TiB; the LP relaxation moves 12.0 TiB only by splitting"), (
        answer.reason
    )
    assert "integrality and groups block it" in answer.reason


def _one_byte_over() -> Instance:
    """:func:`one_byte_over`, validated."""
    return parse_instance(one_byte_over(), "hand-made.json")


def test_plans_hold_to_the_byte_at_2_pow_56() -> None:
    """A plan one byte over a pool's storage (invisible in floats at 2^56) is never returned."""
    instance = _one_byte_over()
    answer = solve(instance)
    assert answer.destinations is not None, answer.reason
    plan = _plan(instance, answer)
    assert check_plan(instance, plan) == [], check_plan(instance, plan)
    assert _moved(answer) == {"s1": "A", "s2": "A"}, f"only s1 + s2 fits and relieves; got {_moved(answer)}"
    assert answer.status == "optimal", f"the repair cuts should keep HiGHS in charge, got {answer.status}"
    assert answer.repairs >= 1, "the instance is meant to need a rounding repair"


def _kept_without_repairs(monkeypatch: pytest.MonkeyPatch, *, core_min_vars: int) -> tuple[Instance, Assignment]:
    """:func:`one_byte_over` solved with no rounding repair allowed: HiGHS's only plans (the final run's, and the
    core's where ``core_min_vars`` makes one run first) are one byte over, so the plan kept is the greedy one."""
    instance = _one_byte_over()
    allow_no_repairs(monkeypatch, core_min_vars=core_min_vars)
    return instance, solve(instance, time_limit=3600)


@pytest.mark.parametrize("core_min_vars", [1, 2000], ids=["core MILP first", "no core"])
def test_a_solve_out_of_rounding_repairs_says_so_not_a_time_limit(
    monkeypatch: pytest.MonkeyPatch, core_min_vars: int
) -> None:
    """HiGHS's plans broke by rounding more often than MAX_REPAIRS allows (none here, on an instance whose first plan
    is one byte over): the plan kept is said to be stopped at its repair limit after that many repairs, never at a
    time limit no run reached, whether the greedy plan was the fallback or the core's seed."""
    instance, kept = _kept_without_repairs(monkeypatch, core_min_vars=core_min_vars)
    assert (kept.status, kept.stopped, kept.repairs) == ("heuristic", "repair limit", 1), kept
    assert check_plan(instance, _plan(instance, kept)) == []
    assert kept.gap is not None, "a plan stopped short has a gap to its bound"
    assert kept.gap > 0, kept.gap


def test_the_greedy_plan_no_highs_run_improved_on_is_heuristic_not_a_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a large model (the core MILP first) the greedy plan seeds the fixing; where neither HiGHS run gives a plan
    as cheap (the core's has no plan, the final run's plans all break by rounding) the greedy plan is kept and said
    to be: heuristic, greedy, with the limit that stopped HiGHS named, never HiGHS's plan at that limit."""
    instance, kept = _kept_without_repairs(monkeypatch, core_min_vars=1)
    model = build_model(instance)
    greedy = greedy_assignment(model)
    assert greedy is not None, "greedy finds s1 + s2 (largest first)"
    assert kept.destinations == destinations(model, greedy), kept
    assert (kept.status, kept.greedy, kept.stopped) == ("heuristic", True, "repair limit"), kept
    monkeypatch.setattr(solve_module, "MAX_REPAIRS", 20)
    repaired = solve(instance, time_limit=3600)
    assert repaired.destinations == kept.destinations, "HiGHS's plan after its repair cut costs what greedy's does"
    assert (repaired.status, repaired.greedy) == ("optimal", False), "a plan HiGHS gave at the greedy's cost is its"


def test_highs_s_own_plan_stopped_at_its_repair_limit_is_repair_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """HiGHS's core MILP gives a plan that holds, and the full MILP's plan breaks the relief by a byte with no repair
    allowed: the plan kept is HiGHS's (not the greedy one, though as cheap), status repair_limit after 1 rounding
    repair with its gap to the LP bound, and PLAN.md's solver line says so; allowed its repairs, HiGHS proves it."""
    instance = parse_instance(core_plan_then_one_byte_short(), "hand-made.json")
    allow_no_repairs(monkeypatch, core_min_vars=2)
    kept = solve(instance, time_limit=3600)
    assert (kept.status, kept.stopped, kept.repairs, kept.greedy) == ("repair_limit", "repair limit", 1, False), kept
    assert _moved(kept) == {"x": "A", "y": "A"}, "the core's plan, the only one of HiGHS's that holds"
    assert check_plan(instance, _plan(instance, kept)) == []
    assert (kept.objective, kept.bound) == (12, 10), "x + y against the LP's x + 4/6 y"
    assert kept.gap == pytest.approx(2 / 12), kept.gap
    assert solver_sentence(kept) == (
        "; HiGHS stopped after 1 rounding repair with the plan 16.6667% above the bound (its repair limit: each plan "
        "it gave broke a pool's capacity or the relief by a rounding error and was cut off; the same declaration "
        "gives this plan on any machine), so a cheaper plan may exist"
    ), "PLAN.md's solver line, after '- Solver: repair_limit, bound 10 CNY'"
    monkeypatch.setattr(solve_module, "MAX_REPAIRS", 20)
    repaired = solve(instance, time_limit=3600)
    assert (repaired.status, repaired.repairs, repaired.destinations) == ("optimal", 1, kept.destinations), repaired


def test_no_plan_at_the_repair_limit_says_after_how_many_repairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither greedy pass finds a plan and HiGHS's first one breaks the relief by a byte, no repair allowed: no plan,
    status unknown, the reason saying HiGHS stopped after 1 rounding repair (its repair limit), never that none
    exists; allowed its repairs, HiGHS finds the one plan that holds."""
    instance = parse_instance(no_greedy_plan_and_one_byte_short(), "hand-made.json")
    assert greedy_assignment(build_model(instance)) is None, "the premise: greedy finds no plan"
    allow_no_repairs(monkeypatch, core_min_vars=2000)
    stuck = solve(instance, time_limit=3600)
    assert (stuck.status, stuck.destinations, stuck.stopped, stuck.repairs) == ("unknown", None, "repair limit", 1)
    assert stuck.reason is not None
    assert stuck.reason.startswith(
        "no plan found before HiGHS stopped after 1 rounding repair (its repair limit) and none proven impossible"
    ), stuck.reason
    monkeypatch.setattr(solve_module, "MAX_REPAIRS", 20)
    assert _moved(solve(instance, time_limit=3600)) == {"b": "A", "c": "A"}


@pytest.mark.parametrize(
    ("count", "said"),
    [(1, "stopped after 1 rounding repair"), (21, "stopped after 21 rounding repairs"),
     (1234, "stopped after 1,234 rounding repairs")],
)  # fmt: skip
def test_the_repair_limit_is_worded_one_way(count: int, said: str) -> None:
    """The log, the summary, PLAN.md and an unknown's reason all say the repair limit with one helper: singular for
    one repair, thousands grouped as the other counts are."""
    assert stopped_after_repairs(count) == said


def test_greedy_fallback_gives_a_valid_plan() -> None:
    """The fallback used when HiGHS has no plan in time relieves the legacy pool within every rule."""
    instance = build(
        [system(f"s{i}", 2 + i, {"A": 10 * (i + 1), "B": 15 * (i + 1)}, cores=2) for i in range(6)],
        [target("A", 10, cores=4), target("B", 12)],
        keep_tib=10,
    )
    model = build_model(instance)
    chosen = greedy_assignment(model)
    assert chosen is not None, "greedy found no plan on an easy instance"
    dest = destinations(model, chosen)
    plan = Plan(dest, plan_waves(instance, dest).waves)
    assert check_plan(instance, plan) == [], check_plan(instance, plan)


def test_public_yulin_2_reaches_the_reference_optimum() -> None:
    """Real HiGHS on p-yulin-2: the reference optimum of 2,267,100 CNY, as a valid plan."""
    instance = load_instance(PUBLIC / "p-yulin-2.json")
    answer = solve(instance)
    assert answer.status == "optimal"
    plan = _plan(instance, answer)
    assert check_plan(instance, plan) == [], check_plan(instance, plan)
    assert plan_cost(instance, plan) == 2_267_100


def test_public_yulin_3_is_claimed_infeasible() -> None:
    """p-yulin-3 has no plan (cores bind): HiGHS proves it and the reason gives the LP's figures."""
    answer = solve(load_instance(PUBLIC / "p-yulin-3.json"))
    assert answer.status == "infeasible"
    assert answer.reason is not None
    assert answer.reason.startswith("relief needs 663.0 TiB; at most 640.9 TiB can move"), answer.reason


def _shared(instance: Instance, tib: int, targets: tuple[str, ...]) -> Instance:
    """``instance`` with one storage of ``tib`` TiB that ``targets`` draw on together."""
    share = {"name": "ceph", "storage_bytes": tib * TIB, "targets": list(targets)}
    return parse_instance({**instance.model_dump(mode="json"), "shared_storage": [share]}, "hand-made.json")


def test_pools_sharing_one_storage_hold_no_more_than_it_together() -> None:
    """A and B each hold 10 TiB but share 10: the cheap split (s1 -> A, s2 -> B, 140 CNY) would put 12 TiB on it."""
    alone = build(
        [
            system("s1", 6, {"A": 40, "B": 300}),
            system("s2", 6, {"A": 300, "B": 100}),
            system("s3", 9, {"A": 500, "B": 500}),
        ],
        [target("A", 10), target("B", 10)],
        keep_tib=12,
    )
    assert _moved(solve(alone)) == {"s1": "A", "s2": "B"}, "without the share the split is cheapest"
    instance = _shared(alone, 10, ("A", "B"))
    answer = solve(instance)
    assert answer.status == "optimal", answer
    assert _moved(answer) == {"s3": "A"} or _moved(answer) == {"s3": "B"}, _moved(answer)
    assert answer.objective == 500
    assert check_plan(instance, _plan(instance, answer)) == []
    split = Plan({"s1": "A", "s2": "B", "s3": None}, [["s1", "s2"]])
    assert [v.rule for v in check_plan(instance, split)] == [2], "the checker must see the shared storage overfull"


def test_greedy_respects_shared_storage() -> None:
    """The greedy fallback, too, counts what the pools sharing a storage put on it."""
    instance = _shared(
        build(
            [system("s1", 6, {"A": 10, "B": 10}), system("s2", 6, {"A": 20, "B": 10}), system("s3", 9, {"A": 90})],
            [target("A", 10), target("B", 10)],
            keep_tib=12,
        ),
        10,
        ("A", "B"),
    )
    model = build_model(instance)
    chosen = greedy_assignment(model)
    assert chosen is not None
    moved = {k: v for k, v in destinations(model, chosen).items() if v}
    assert sum({"s1": 6, "s2": 6, "s3": 9}[k] for k in moved) <= 10, f"greedy put more than 10 TiB on ceph: {moved}"


def test_shared_storage_that_cannot_hold_the_relief_is_infeasible_with_a_reason() -> None:
    """Each pool alone could take the relief, their shared storage cannot: a proof, and the reason says storage."""
    instance = _shared(
        build(
            [system("s1", 6, {"A": 1, "B": 1}), system("s2", 6, {"A": 1, "B": 1})],
            [target("A", 10), target("B", 10)],
            keep_tib=0,
        ),
        11,
        ("A", "B"),
    )
    answer = solve(instance)
    assert answer.status == "infeasible", answer
    assert answer.reason is not None
    assert "12.0 TiB" in answer.reason, answer.reason


def test_shared_storage_naming_an_unknown_target_is_refused() -> None:
    """A share over a pool the instance does not have names the key."""
    with pytest.raises(InstanceError) as caught:
        _shared(build([system("s1", 1, {"A": 1})], [target("A", 10)], keep_tib=0), 5, ("A", "Z"))
    assert "shared_storage[0].targets[1]" in str(caught.value)


def _with_room(doc: dict[str, Any], room_tib: int) -> dict[str, Any]:
    return {**doc, "room_bytes": room_tib * TIB}


def test_a_system_takes_its_room_on_the_target_and_frees_its_size_on_the_legacy_pool() -> None:
    """s1 frees 6 TiB (enough) for 10 CNY but takes 11 TiB on A, which holds 10: s2 (50 CNY) moves instead."""
    systems = [system("s1", 6, {"A": 10}), system("s2", 5, {"A": 50})]
    plain = build(systems, [target("A", 10)], keep_tib=6)
    assert _moved(solve(plain)) == {"s1": "A"}, "without room_bytes the cheap s1 moves"
    instance = build([_with_room(systems[0], 11), _with_room(systems[1], 2)], [target("A", 10)], keep_tib=6)
    answer = solve(instance)
    assert answer.status == "optimal", answer
    assert _moved(answer) == {"s2": "A"}, _moved(answer)
    assert check_plan(instance, _plan(instance, answer)) == []
    assert [v.rule for v in check_plan(instance, Plan({"s1": "A", "s2": None}, [["s1"]]))] == [2]
    model = build_model(instance)
    chosen = greedy_assignment(model)
    assert chosen is not None
    assert {k for k, v in destinations(model, chosen).items() if v} == {"s2"}, "greedy must count the room too"


def test_room_and_size_apart_the_solver_matches_a_brute_force() -> None:
    """Random small instances with room unlike size and a shared storage: HiGHS's cost is the brute-force optimum."""
    rng = random.Random(7)  # noqa: S311 - reproducible test cases, not secrets
    for case in range(40):
        systems = [
            _with_room(
                system(
                    f"s{i}", rng.randint(1, 6), {"A": rng.randint(1, 90), "B": rng.choice([None, rng.randint(1, 90)])}
                ),
                rng.randint(0, 8),
            )
            for i in range(6)
        ]
        instance = _shared(
            build(
                systems, [target("A", rng.randint(4, 14)), target("B", rng.randint(4, 14))], keep_tib=rng.randint(4, 16)
            ),
            rng.randint(6, 20),
            ("A", "B"),
        )
        best = None
        for choice in itertools.product((None, "A", "B"), repeat=len(systems)):
            assignments = {s.id: dest for s, dest in zip(instance.systems, choice, strict=True)}
            plan = Plan(assignments, [[sid] for sid, dest in assignments.items() if dest is not None])
            if check_plan(instance, plan) == []:
                cost = plan_cost(instance, plan)
                best = cost if best is None else min(best, cost)
        answer = solve(instance)
        if best is None:
            assert answer.status == "infeasible", f"case {case}: brute force finds no plan, solver says {answer}"
        else:
            assert answer.objective == best, f"case {case}: solver {answer.objective}, brute force {best}"
            assert check_plan(instance, _plan(instance, answer)) == []


def _knapsacks(seed: int, count: int = 40) -> Instance:
    """Random systems into three pools tight in storage and cores: HiGHS needs branching (some 30 nodes) to prove
    the optimum, beyond its root node."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test cases, not secrets
    systems = [
        system(f"s{i:02d}", rng.randint(3, 30), {p: rng.randint(50, 500) for p in "ABC"}, cores=rng.randint(2, 40))
        for i in range(count)
    ]
    total = sum(s["projected_bytes"] for s in systems) // TIB
    pools = [target("A", total // 5, cores=150), target("B", total // 5, cores=150), target("C", total // 4, cores=120)]
    return build(systems, pools, keep_tib=total * 45 // 100)


def test_a_solve_stopped_at_its_work_limit_gives_the_same_plan_and_says_so() -> None:
    """HiGHS stopped at its work limit (one node, an hour to spare) gives the same plan twice, said to be stopped at
    the work limit with the gap it reached; the default work proves the optimum: the plan HiGHS leaves unproven no
    longer depends on how many seconds a busy machine gave it."""
    instance = _knapsacks(3)
    first, second = (solve(instance, time_limit=3600, work=1) for _ in range(2))
    assert first.status == "work_limit", (first.status, first.stopped, first.gap)
    assert first.stopped == "work limit"
    assert first.gap is not None, "a plan stopped short has a gap to its bound"
    assert first.gap > 0, first.gap
    assert (second.destinations, second.objective, second.gap) == (first.destinations, first.objective, first.gap)
    assert check_plan(instance, _plan(instance, first)) == []
    proven = solve(instance, time_limit=3600)
    assert (proven.status, proven.stopped, proven.gap) == ("optimal", None, 0.0)
    assert proven.objective is not None, proven
    assert first.objective is not None, first
    assert proven.objective <= first.objective, (proven.objective, first.objective)


@pytest.mark.parametrize(
    ("options", "limit", "code", "name"),
    [
        ({"node_limit": 1, "time_limit": 3600.0}, "work limit", highs.SOLUTION_LIMIT_STATUS, "Solution limit reached"),
        ({"time_limit": 0.0}, "time limit", highs.TIME_LIMIT_STATUS, "Time limit reached"),
        ({"time_limit": 3600.0}, None, 7, "Optimal"),  # kOptimal
    ],
)
def test_real_highs_at_each_limit_is_named_by_its_model_status(
    options: dict[str, float], limit: str | None, code: int, name: str
) -> None:
    """Real HiGHS on a MILP that needs branching, run to its node limit, to its time limit (0 s: it stops before its
    first node on any machine) and to its end: stopped_by names each from HiGHS's model status code, which scipy's
    message carries beside HiGHS's own name for it (Highs::modelStatusToString), so a scipy or HiGHS that words or
    numbers it otherwise fails here rather than mislabelling a plan."""
    model = build_model(_knapsacks(3))
    result = highs.milp(
        model.cost,
        integrality=np.ones(len(model.cost)),
        bounds=Bounds(0.0, 1.0),
        constraints=LinearConstraint(model.matrix, model.row_lb, model.row_ub),
        options={"disp": False, **options},
    )
    assert re.search(rf"\(HiGHS Status {code}: (model_status is )?{name}\b", result.message), result.message
    assert highs.model_status(result) == code, result.message
    assert highs.stopped_by(result) == limit, result.message


def test_a_milp_message_without_highs_model_status_is_read_as_the_time_limit() -> None:
    """A milp result that ended short with no HiGHS model status in its message (a scipy that words it otherwise) is
    said to have stopped at the time limit, the machine-dependent one that promises least, not read as a plan HiGHS
    finished and not a crash after the solve."""
    worded_otherwise = SimpleNamespace(status=4, message="Node limit reached.")
    assert highs.model_status(worded_otherwise) is None
    assert highs.stopped_by(worded_otherwise) == "time limit"
