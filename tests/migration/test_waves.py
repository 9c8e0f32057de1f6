"""The wave planner: windows, dependencies, large systems alone, and FORMAT.md's lower bound met."""

from __future__ import annotations

import random

import pytest

from dizuo.migration import waves as waves_module
from dizuo.migration.instance import Instance
from dizuo.migration.validate import Plan, check_plan
from dizuo.migration.waves import Waves, lower_bound, plan_waves

from .conftest import build, system, target


def _all_moved(instance):
    return {s.id: "A" for s in instance.systems}


def test_lower_bound_counts_large_systems_apart() -> None:
    """n_big + max(ceil(others / window), others above half a window): the formula of FORMAT.md."""
    assert lower_bound([12, 3, 3, 3], 10) == 1 + 1
    assert lower_bound([6, 6, 6], 10) == 3  # each above half a window
    assert lower_bound([4, 4, 3, 3, 3, 3], 10) == 2
    assert lower_bound([], 10) == 0


def test_dependencies_move_in_the_same_wave_or_earlier() -> None:
    """A chain c -> b -> a of systems that cannot share a window moves a, then b, then c."""
    instance = build(
        [
            system("c", 4, {"A": 1}, deps=("b",)),
            system("b", 4, {"A": 1}, deps=("a",)),
            system("a", 4, {"A": 1}),
        ],
        [target("A", 100)],
        keep_tib=0,
        wave_tib=5,
    )
    waves = plan_waves(instance, _all_moved(instance)).waves
    assert waves == (("a",), ("b",), ("c",)), f"dependency order broken: {waves}"


def test_a_system_larger_than_the_window_gets_its_own_wave() -> None:
    """The 9 TiB system (window 5 TiB) moves alone; the small ones share one wave."""
    instance = build(
        [system("big", 9, {"A": 1}), system("s1", 2, {"A": 1}), system("s2", 2, {"A": 1})],
        [target("A", 100)],
        keep_tib=0,
        wave_tib=5,
    )
    waves = plan_waves(instance, _all_moved(instance)).waves
    assert ("big",) in waves, f"big should be alone in a wave: {waves}"
    assert len(waves) == 2, f"s1 and s2 fit one window: {waves}"


def test_the_bound_is_met_where_first_fit_decreasing_misses_it() -> None:
    """4, 4, 3, 3, 3, 3 TiB in 10 TiB windows: FFD needs 3 waves, the bound of 2 is reachable (4+3+3 twice)."""
    sizes = (4, 4, 3, 3, 3, 3)
    instance = build(
        [system(f"s{i}", tib, {"A": 1}) for i, tib in enumerate(sizes)], [target("A", 100)], keep_tib=0, wave_tib=10
    )
    found = plan_waves(instance, _all_moved(instance))
    assert found.lower_bound == 2
    assert len(found.waves) == 2, f"expected 2 waves, got {found.waves}"
    assert check_plan(instance, Plan(_all_moved(instance), found.waves)) == []


def test_moved_systems_of_zero_bytes_take_one_wave() -> None:
    """Moved systems that all hold 0 bytes (FORMAT.md's bound is then 0) move in one wave, proven fewest."""
    instance = build(
        [system("cfg", 0, {"A": 1}), system("app", 0, {"A": 1}, deps=("cfg",))], [target("A", 10)], keep_tib=0
    )
    found = plan_waves(instance, _all_moved(instance))
    assert found.waves == (("cfg", "app"),), f"expected one wave, got {found.waves}"
    assert found.lower_bound == 0
    assert found.fewest
    assert check_plan(instance, Plan(_all_moved(instance), found.waves)) == []


@pytest.mark.parametrize("seed", range(6))
def test_small_random_cases_meet_the_bound_and_every_rule(seed: int) -> None:
    """Random small sets with dependencies: valid waves, as few as possible (bound met or fewer proven impossible)."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    count = 12
    systems = [
        system(
            f"s{i}",
            rng.choice([1, 2, 3, 5, 8, 13]),
            {"A": 1},
            deps=tuple(f"s{j}" for j in range(i) if rng.random() < 0.08),
        )
        for i in range(count)
    ]
    instance = build(systems, [target("A", 1000)], keep_tib=0, wave_tib=10)
    found = plan_waves(instance, _all_moved(instance))
    assert check_plan(instance, Plan(_all_moved(instance), found.waves)) == []
    assert found.fewest, f"seed {seed}: {len(found.waves)} waves, bound {found.lower_bound}, not proven fewest"


def test_a_group_that_fits_a_window_moves_in_one_wave() -> None:
    """G1 (13 TiB) and G2 (5 TiB) share a platform and fit a 20 TiB window together: one wave, not G1 with the 7 TiB
    system O and G2 after them (first-fit decreasing's packing, equally short, would switch half the platform)."""
    instance = build(
        [system("G1", 13, {"A": 1}, group="g"), system("O", 7, {"A": 1}), system("G2", 5, {"A": 1}, group="g")],
        [target("A", 100)],
        keep_tib=0,
        wave_tib=20,
    )
    waves = plan_waves(instance, _all_moved(instance)).waves
    assert sorted(waves) == [("G1", "G2"), ("O",)], waves


def _in_20_tib_windows(systems: list[dict]) -> tuple[Waves, dict[str, int]]:
    """The waves of ``systems``, all moved, in 20 TiB windows (checked against every rule), and each one's wave."""
    instance = build(systems, [target("A", 100)], keep_tib=0, wave_tib=20)
    found = plan_waves(instance, _all_moved(instance))
    assert not check_plan(instance, Plan(_all_moved(instance), [list(w) for w in found.waves]))
    return found, {sid: k for k, wave in enumerate(found.waves) for sid in wave}


def test_a_group_larger_than_a_window_is_split_and_a_dependency_through_it_is_kept() -> None:
    """A 12 + 12 TiB group in 20 TiB windows moves over two waves; in a group of 2 + 2 TiB whose members depend on
    one another through the outside system m of 17 TiB (b on m, m on a), which cannot share a window with both, m
    goes between them: the group is split, the order holds."""
    _, wave_of = _in_20_tib_windows(
        [
            system("L1", 12, {"A": 1}, group="large"),
            system("L2", 12, {"A": 1}, group="large"),
            system("a", 2, {"A": 1}, group="g"),
            system("m", 17, {"A": 1}, deps=("a",)),
            system("b", 2, {"A": 1}, group="g", deps=("m",)),
        ],
    )
    assert wave_of["L1"] != wave_of["L2"]
    assert wave_of["a"] <= wave_of["m"] <= wave_of["b"]
    assert wave_of["a"] < wave_of["b"], "17 TiB and both 2 TiB members do not fit one window"


def test_a_group_a_system_outside_it_depends_through_moves_whole_with_it_where_they_fit_a_window() -> None:
    """A platform's group g (a, b) and the outside system m that depends on a while b depends on m fit a 20 TiB window
    together: they move in one wave, g whole, not g split around m. Two groups that depend on each other (h1 on k1,
    k2 on h1) fit one too: both move whole, in one wave, not each split in half."""
    found, wave_of = _in_20_tib_windows(
        [
            system("big", 14, {"A": 1}),
            system("a", 2, {"A": 1}, group="g"),
            system("m", 5, {"A": 1}, deps=("a",)),
            system("b", 2, {"A": 1}, group="g", deps=("m",)),
            system("c", 7, {"A": 1}),
            system("h1", 2, {"A": 1}, group="h", deps=("k1",)),
            system("h2", 1, {"A": 1}, group="h"),
            system("k1", 2, {"A": 1}, group="k"),
            system("k2", 1, {"A": 1}, group="k", deps=("h1",)),
        ],
    )
    assert wave_of["a"] == wave_of["m"] == wave_of["b"], found.waves
    assert wave_of["h1"] == wave_of["h2"] == wave_of["k1"] == wave_of["k2"], found.waves
    assert len(found.waves) == found.lower_bound, found


def hard_packing_systems() -> list[dict]:
    """20 systems of 15 to 60 TiB with a few dependencies, for 100 TiB windows: the heuristics need 9 waves, the bound
    is 8, and HiGHS finds the 8 only after its root and some branch-and-bound nodes (seeded: the same every run)."""
    rng = random.Random(33)  # noqa: S311 - test data, not secrets
    return [
        system(f"s{i}", rng.randint(15, 60), {"A": 1}, deps=tuple(f"s{j}" for j in range(i) if rng.random() < 0.05))
        for i in range(20)
    ]


def hard_packing() -> Instance:
    """``hard_packing_systems`` in 100 TiB windows, room for all."""
    return build(hard_packing_systems(), [target("A", 10**6)], keep_tib=0, wave_tib=100)


def test_the_search_for_fewer_waves_ends_at_a_count_of_work_not_at_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search is limited by a count (HiGHS nodes), not by the clock, so the same input gives the same waves on any
    machine: at a work limit of one node, with an hour to spare, it stops at that limit every time with the same
    waves, says so, and claims no fewest; at the default work the same case gets its 8 waves."""
    instance = hard_packing()
    monkeypatch.setattr(waves_module, "SEARCH_WORK", 1)
    first, second = (plan_waves(instance, _all_moved(instance), time_limit=3600) for _ in range(2))
    assert first == second, "the same input, the same work limit: the same waves"
    assert (len(first.waves), first.lower_bound, first.stopped, first.fewest) == (9, 8, "work limit", False), first
    assert check_plan(instance, Plan(_all_moved(instance), [list(w) for w in first.waves])) == []
    monkeypatch.undo()
    found = plan_waves(instance, _all_moved(instance), time_limit=3600)
    assert (len(found.waves), found.stopped, found.fewest) == (8, None, True), found
