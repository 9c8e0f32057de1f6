"""The independent checker: each of FORMAT.md's seven rules is caught, with the systems involved."""

from __future__ import annotations

import pytest

from dizuo.migration.instance import Instance
from dizuo.migration.validate import Plan, PlanFormatError, check_plan, parse_plan, plan_cost

from .conftest import build, system, target


def _instance() -> Instance:
    """a, b (b depends on a) on A; group g (g1, g2) on B; c stays. 8 TiB must move, windows of 5 TiB."""
    return build(
        [
            system("a", 3, {"A": 100, "B": 100}),
            system("b", 3, {"A": 200, "B": None}, deps=("a",)),
            system("g1", 2, {"A": 10, "B": 20}, group="g"),
            system("g2", 2, {"A": 10, "B": 20}, group="g"),
            system("c", 6, {"A": 1, "B": 1}),
        ],
        [target("A", 10, cores=3), target("B", 10, arch="x86_64")],
        keep_tib=8,
        wave_tib=5,
    )


VALID = Plan({"a": "A", "b": "A", "g1": "B", "g2": "B", "c": None}, [["a", "g1"], ["b", "g2"]])


def test_the_valid_plan_passes_and_costs_what_its_moves_cost() -> None:
    """The base plan of these tests breaks nothing; its cost is the sum of its moves' costs."""
    assert check_plan(_instance(), VALID) == []
    assert plan_cost(_instance(), VALID) == 100 + 200 + 20 + 20


@pytest.mark.parametrize(
    ("rule", "assignments", "waves", "named"),
    [
        (1, {"g1": None, "g2": None}, [["a"], ["b"]], set()),
        (2, {"g1": "A", "g2": "A"}, [["a", "g1"], ["b", "g2"]], {"a", "b", "g1", "g2"}),
        (3, {"g1": "A"}, None, {"g1", "g2"}),
        (4, {"b": "B"}, None, {"b"}),
        (5, {}, [["g1"], ["b", "g2"]], {"a"}),
        (6, {}, [["a", "b", "g1"], ["g2"]], {"a", "b", "g1"}),
        (7, {}, [["b", "g1"], ["a", "g2"]], {"a", "b"}),
    ],
    ids=["relief", "capacity", "groups", "compatibility", "waves-list-moves", "wave-size", "dependencies"],
)
def test_each_broken_rule_is_reported_alone_with_its_systems(
    rule: int, assignments: dict[str, str | None], waves: list[list[str]] | None, named: set[str]
) -> None:
    """Breaking one rule of the valid plan reports exactly that rule and names the systems involved."""
    plan = Plan({**VALID.assignments, **assignments}, VALID.waves if waves is None else waves)
    found = check_plan(_instance(), plan)
    assert {v.rule for v in found} == {rule}, f"rule {rule} broken, reported: {[str(v) for v in found]}"
    assert named <= {s for v in found for s in v.systems}, f"rule {rule}: {named} not named in {found}"


def test_unknown_and_missing_ids_and_unknown_targets_break_the_listing_rule() -> None:
    """Assignments must list every system once, by known id, to a target of the instance (rule 5)."""
    assignments = {k: v for k, v in VALID.assignments.items() if k != "c"} | {"ghost": None, "a": "nowhere"}
    found = check_plan(_instance(), Plan(assignments, VALID.waves))
    messages = " | ".join(str(v) for v in found if v.rule == 5)
    for expected in ("missing from assignments", "unknown system id", "not a target of the instance"):
        assert expected in messages, f"rule 5 should say {expected!r}: {messages}"


def test_a_single_system_wave_may_exceed_the_window() -> None:
    """A system larger than wave_bytes alone in its wave breaks no rule (rule 6's exception)."""
    instance = build([system("big", 9, {"A": 1})], [target("A", 10)], keep_tib=0, wave_tib=5)
    assert check_plan(instance, Plan({"big": "A"}, [["big"]])) == []


def test_plan_documents_of_the_wrong_shape_are_refused() -> None:
    """A plan without an assignments object or with waves that are not lists of ids is a format error."""
    for document in ([], {"assignments": [], "waves": []}, {"assignments": {}, "waves": [["a", 3]]}):
        with pytest.raises(PlanFormatError):
            parse_plan(document)
