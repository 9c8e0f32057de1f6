"""Loading instance files: typed, unknown keys ignored, every problem located by file, key path and value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dizuo.migration.instance import InstanceError, load_instance

from .conftest import PUBLIC, document, system, target


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _base() -> dict:
    return document(
        [system("s1", 3, {"A": 10}), system("s2", 2, {"A": 5}, deps=("s1",))], [target("A", 10)], keep_tib=1
    )


def _problems(path: Path) -> list[str]:
    with pytest.raises(InstanceError) as caught:
        load_instance(path)
    return [str(p) for p in caught.value.problems]


def test_unknown_keys_are_ignored_and_values_typed(tmp_path: Path) -> None:
    """Keys FORMAT.md does not define are ignored; byte counts stay exact Python integers."""
    doc = _base()
    doc["generator"] = {"seed": 7}
    doc["systems"][0]["owner"] = "张三"
    doc["systems"][0]["projected_bytes"] = 2**56 + 1
    instance = load_instance(_write(tmp_path, doc))
    assert instance.systems[0].projected_bytes == 2**56 + 1
    assert instance.systems[1].depends_on == ("s1",)


def test_wrong_type_names_file_key_path_and_value(tmp_path: Path) -> None:
    """A byte count given as a string is refused at systems[0].projected_bytes, showing the value."""
    doc = _base()
    doc["systems"][0]["projected_bytes"] = "3 TiB"
    path = _write(tmp_path, doc)
    problems = _problems(path)
    assert any(p.startswith(f"{path}: systems[0].projected_bytes: ") and "'3 TiB'" in p for p in problems), (
        f"no located problem for the string byte count: {problems}"
    )


def test_a_number_where_a_name_belongs_is_not_blamed_on_yaml(tmp_path: Path) -> None:
    """An instance is JSON: a group given as a number is refused by key path and value, without the declaration's
    hint that YAML read an unquoted number (no YAML was read)."""
    doc = _base()
    doc["systems"][1]["group"] = 5
    path = _write(tmp_path, doc)
    problems = _problems(path)
    assert problems == [f"{path}: systems[1].group: Input should be a valid string: '5'"], problems


def test_negative_counts_and_unknown_arch_are_refused(tmp_path: Path) -> None:
    """Capacities are non-negative integers and arch is x86_64, arm64 or loong64: both problems listed."""
    doc = _base()
    doc["targets"][0]["cpu_cores"] = -4
    doc["targets"][0]["arch"] = "sparc"
    problems = _problems(_write(tmp_path, doc))
    assert any("targets[0].cpu_cores" in p and "'-4'" in p for p in problems), problems
    assert any("targets[0].arch" in p and "'sparc'" in p for p in problems), problems


def test_counts_beyond_int64_are_located_not_a_crash(tmp_path: Path) -> None:
    """JSON integers have no limit, floats do: a count of 10^400 is refused at its key, not an OverflowError."""
    doc = _base()
    doc["systems"][0]["projected_bytes"] = 10**400
    doc["wave_bytes"] = 2**63
    problems = _problems(_write(tmp_path, doc))
    assert any("systems[0].projected_bytes" in p and "less than 9223372036854775808" in p for p in problems), problems
    assert any(p.startswith(f"{tmp_path / 'broken.json'}: wave_bytes: ") for p in problems), problems


def test_unknown_dependency_is_located(tmp_path: Path) -> None:
    """A depends_on id that is no system of the instance is named with its key path."""
    doc = _base()
    doc["systems"][1]["depends_on"] = ["s1", "nope"]
    problems = _problems(_write(tmp_path, doc))
    assert problems == [f"{tmp_path / 'broken.json'}: systems[1].depends_on[1]: unknown system id: 'nope'"]


def test_cost_for_an_unknown_target_is_located(tmp_path: Path) -> None:
    """A cost key that names no target is refused at systems[i].cost.<key>."""
    doc = _base()
    doc["systems"][0]["cost"]["ghost-pool"] = 5
    problems = _problems(_write(tmp_path, doc))
    assert problems == [
        f"{tmp_path / 'broken.json'}: systems[0].cost.ghost-pool: not a target of the instance: 'ghost-pool'"
    ]


def test_duplicate_ids_and_cycles_are_refused(tmp_path: Path) -> None:
    """System ids are unique, and a dependency cycle (FORMAT.md promises none) is named."""
    doc = _base()
    doc["systems"].append(system("s1", 1, {"A": 1}))
    assert any("systems[2].id" in p and "duplicate" in p for p in _problems(_write(tmp_path, doc)))
    doc = _base()
    doc["systems"][0]["depends_on"] = ["s2"]
    assert any("dependency cycle" in p for p in _problems(_write(tmp_path, doc)))


def test_missing_file_and_bad_json_are_problems_not_tracebacks(tmp_path: Path) -> None:
    """A missing file or broken JSON becomes one located problem."""
    assert _problems(tmp_path / "absent.json") == [f"{tmp_path / 'absent.json'}: file is missing"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": ', encoding="utf-8")
    assert _problems(bad)[0].startswith(f"{bad}: invalid JSON: line 1")


def test_integers_python_will_not_decode_and_deep_nesting_are_problems_not_tracebacks(tmp_path: Path) -> None:
    """A 5,001-digit integer (ValueError in json) and 100,000 nested arrays (RecursionError) are invalid JSON."""
    bigint = tmp_path / "bigint.json"
    bigint.write_text('{"name": "x", "horizon_days": 1' + "0" * 5000 + "}", encoding="utf-8")
    problems = _problems(bigint)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{bigint}: invalid JSON: "), problems
    assert "4300 digits" in problems[0], problems
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000, encoding="utf-8")
    assert _problems(deep) == [f"{deep}: invalid JSON: nested too deeply"]


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("systems[0].id", lambda doc: doc["systems"][0].update(id="s1 ")),
        ("systems[0].group", lambda doc: doc["systems"][0].update(group=" g")),
        ("systems[1].depends_on[0]", lambda doc: doc["systems"][1].update(depends_on=["s1\t"])),
        ("targets[0].name", lambda doc: doc["targets"][0].update(name="A ")),
    ],
)
def test_names_with_surrounding_whitespace_are_refused_not_stripped(tmp_path: Path, where: str, change) -> None:
    """An id, group, dependency or pool name with outer whitespace is refused at its key: stripping it would make
    the plan name ids the input does not have."""
    doc = _base()
    change(doc)
    problems = _problems(_write(tmp_path, doc))
    assert any(
        p.startswith(f"{tmp_path / 'broken.json'}: {where}: leading or trailing whitespace") for p in problems
    ), problems


def test_a_cost_key_with_surrounding_whitespace_names_no_target(tmp_path: Path) -> None:
    """A cost key "A " is not the target "A": refused at its key, with a hint, instead of silently matched."""
    doc = _base()
    doc["systems"][0]["cost"] = {"A ": 10}
    problems = _problems(_write(tmp_path, doc))
    assert problems == [
        f"{tmp_path / 'broken.json'}: systems[0].cost.A : not a target of the instance: 'A ' "
        "(names are compared exactly: remove the surrounding whitespace)"
    ]


def test_costs_beyond_the_solvers_exact_range_are_located(tmp_path: Path) -> None:
    """A cost of 2^53 or more (float64 would round it, int64 sums would wrap) is refused at its key."""
    doc = _base()
    doc["systems"][0]["cost"]["A"] = 3 * 2**61
    problems = _problems(_write(tmp_path, doc))
    assert any(
        p.startswith(f"{tmp_path / 'broken.json'}: systems[0].cost.A: ") and "less than 9007199254740992" in p
        for p in problems
    ), problems


def test_a_group_whose_costs_sum_past_the_exact_range_is_located(tmp_path: Path) -> None:
    """Two members each below 2^53 that sum past it on a pool: refused at the member that takes the sum over."""
    doc = _base()
    for member in doc["systems"]:
        member["group"] = "g"
        member["cost"]["A"] = 3 * 2**51
    problems = _problems(_write(tmp_path, doc))
    assert problems == [
        f"{tmp_path / 'broken.json'}: systems[1].cost.A: group 'g' costs {6 * 2**51} CNY on 'A' in all, "
        "not less than 2^53 = 9007199254740992 (the solver's exact range)"
    ]


def test_every_public_city_instance_loads() -> None:
    """The public city-scale instances load as they are."""
    for path in sorted(PUBLIC.glob("p-yulin-*.json")):
        instance = load_instance(path)
        assert instance.name == path.stem, f"{path.name}: name {instance.name}"
