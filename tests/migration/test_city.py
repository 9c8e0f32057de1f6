"""The city's own migration: instance from the declaration, plan by HiGHS, the declaration after every wave."""

from __future__ import annotations

import difflib
import hashlib
import io
import itertools
import json
import math
import os
import re
import shutil
import subprocess
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from dizuo.cli import app
from dizuo.cloud.shapes import quota_hard, storage_class
from dizuo.declaration.loader import load
from dizuo.declaration.model import Declaration
from dizuo.migration import cli as migration_cli
from dizuo.migration.city import (
    Change,
    MigrationSetupError,
    apply_changes,
    build_instance,
    change_of,
    check_layout,
)
from dizuo.migration.report import write_city_plan
from dizuo.migration.solve import solve
from dizuo.migration.validate import Plan, check_plan
from dizuo.migration.waves import plan_waves

ROOT = Path(__file__).resolve().parents[2]
YULIN = ROOT / "inventories" / "yulin"
GIB = 2**30


@pytest.fixture(scope="module")
def yulin() -> Declaration:
    return load(YULIN)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dizuo migrate city` on the bundled Yulin declaration (real HiGHS), once for the module."""
    out = tmp_path_factory.mktemp("plan") / "yulin"
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (out.parent / "console.txt").write_text(result.output, encoding="utf-8")  # beside the plan folder, not in it
    return out


def _allocated(d: Declaration, pool: str) -> int:
    return sum(s.resources.storage_gib for s in d.systems if s.storage_pool == pool) + sum(
        ds.size_gib for ds in d.datasets if ds.storage_pool == pool
    )


def test_instance_is_the_declaration_in_figures(yulin: Declaration) -> None:
    """Candidates are the systems on the legacy pool; relief, free cores and shared storage follow from the YAML."""
    city = build_instance(yulin)
    m = yulin.city.migration
    assert m is not None
    on_legacy = [s.code for s in yulin.systems if s.storage_pool == "phase1-ceph"]
    assert [s.id for s in city.instance.systems] == on_legacy
    legacy = next(p for p in yulin.storage_pools() if p.name == "phase1-ceph")
    expected_need = (_allocated(yulin, "phase1-ceph") - math.floor(0.90 * legacy.capacity_gib)) * GIB
    assert city.instance.need_bytes == expected_need, "relief = allocations over 90 % of the legacy pool"
    xc = next(p for p in yulin.storage_pools() if p.name == "xc-ceph")
    free = (math.floor(0.90 * xc.capacity_gib) - _allocated(yulin, "xc-ceph")) * GIB
    assert [(s.name, s.storage_bytes, s.targets) for s in city.instance.shared_storage] == [
        ("xc-ceph", free, ("xc-hygon", "xc-kunpeng", "xc-phytium", "xc-loongson"))
    ]
    kunpeng = next(t for t in city.instance.targets if t.name == "xc-kunpeng")
    used = sum(s.resources.cpu for s in yulin.systems if s.node_pool == "xc-kunpeng")
    assert kunpeng.cpu_cores == 3 * 96 - used, "a target offers the cores its systems leave free"


def test_costs_are_shares_of_the_budget_and_closed_binaries_stay_on_their_arch(yulin: Declaration) -> None:
    """20 % per move, +5 % for a new arch, +5 % for a foreign database; not portable = no other arch."""
    city = build_instance(yulin)
    costs = {s.id: s.cost for s in city.instance.systems}
    systems = {s.code: s for s in yulin.systems}
    oracle = systems["sjj-12345"]  # Oracle, x86_64 image, portable
    assert oracle.budget_cny is not None
    assert costs["sjj-12345"] == {
        "xc-hygon": round(oracle.budget_cny * 0.25),
        "xc-kunpeng": round(oracle.budget_cny * 0.30),
        "xc-phytium": round(oracle.budget_cny * 0.30),
        "xc-loongson": round(oracle.budget_cny * 0.30),
    }
    closed = systems["gaj-05"]
    assert not closed.portable
    assert costs["gaj-05"]["xc-kunpeng"] is None
    assert costs["gaj-05"]["xc-loongson"] is None
    assert costs["gaj-05"]["xc-hygon"] is not None


def test_a_pool_whose_nodes_cannot_hold_one_replica_is_no_target_for_it(yulin: Declaration) -> None:
    """A node pool of small nodes can hold a system's cores in total while no node holds one of its replicas (the pod
    would stay Pending, and the wave would not validate): the planner is not offered that move; others keep theirs."""
    small = yulin.model_copy(
        update={
            "clusters": tuple(
                c.model_copy(
                    update={
                        "node_pools": tuple(
                            p.model_copy(update={"nodes": p.nodes * 8, "cpu_per_node": 8, "memory_gib_per_node": 32})
                            if p.name == "xc-phytium"
                            else p
                            for p in c.node_pools
                        )
                    }
                )
                for c in yulin.clusters
            )
        }
    )
    before = {s.id: s.cost for s in build_instance(yulin).instance.systems}
    after = {s.id: s.cost for s in build_instance(small).instance.systems}
    systems = {s.code: s for s in yulin.systems}
    too_big = {code for code in after if systems[code].resources.cpu > 16 or systems[code].resources.memory_gib > 64}
    assert too_big, "Yulin has candidates larger than two 8-core, 32 GiB nodes"
    assert too_big < set(after), "and smaller ones"
    for code, cost in after.items():
        expected = {**before[code], "xc-phytium": None} if code in too_big else before[code]
        assert cost == expected, code


def test_city_plan_relieves_the_legacy_pool_and_every_wave_is_a_valid_declaration(
    planned: Path, yulin: Declaration
) -> None:
    """After the last wave the legacy pool is within 90 %, xc-ceph too, and each wave's declaration loads."""
    plan = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    moved = {code: pool for code, pool in plan["assignments"].items() if pool}
    assert moved, "Yulin's legacy pool is over 90 %: something must move"
    folders = sorted(p.name for p in planned.iterdir() if p.name.startswith("wave-"))
    assert folders == [f"wave-{k:02d}" for k in range(1, len(plan["waves"]) + 1)]
    for folder, wave in zip(folders, plan["waves"], strict=True):
        text = (planned / folder / "data-copies.yml").read_text(encoding="utf-8")
        copies = yaml.safe_load(text)
        assert f"(assumed one): {', '.join(entry['system'] for entry in wave)}; " in text, (
            f"{folder}: planned from allocations, the header says each system's volumes are assumed to be one"
        )
        assert copies["data_migration_copies"] == [
            {
                "name": entry["system"],
                "source": f"/mnt/dizuo-migration/phase1-ceph/{entry['system']}",
                "destination": f"/mnt/dizuo-migration/xc-ceph/{entry['system']}",
            }
            for entry in wave
        ], f"{folder}: the data copies must be the wave's systems, old mount to new"
    shutil.copytree(YULIN, planned.parent / "applied", dirs_exist_ok=True)
    applied = planned.parent / "applied"
    for folder in folders:
        shutil.copyfile(planned / folder / "systems.yaml", applied / "systems.yaml")
        after = load(applied)  # the loader of `dizuo validate`: raises on any problem
    last = {s.code: s for s in after.systems}
    before = {s.code: s for s in yulin.systems}
    assert {code for code, s in last.items() if s.node_pool != before[code].node_pool} == set(moved)
    for code, pool in moved.items():
        assert last[code].node_pool == pool
        assert last[code].storage_pool == "xc-ceph"
    for name in ("phase1-ceph", "xc-ceph"):
        pool = next(p for p in after.storage_pools() if p.name == name)
        assert _allocated(after, name) <= 0.90 * pool.capacity_gib, f"{name} planned past 90 % of its capacity"
    # The stack change: the moved system's quota now grants its storage on the Xinchuang class, none on phase-1.
    code = next(iter(moved))
    quota = quota_hard(after, last[code])
    key = "{}.storageclass.storage.k8s.io/requests.storage"
    assert quota[key.format(storage_class("yl", "xc-ceph"))] == f"{last[code].resources.storage_gib}Gi"
    assert quota[key.format(storage_class("yl", "phase1-ceph"))] == "0"


def test_a_wave_changes_only_the_moved_systems_lines(planned: Path) -> None:
    """Comments, order and every other system stay byte for byte: the diff touches the moved systems' keys."""
    plan = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    diff = (planned / "wave-01" / "systems.yaml.diff").read_text(encoding="utf-8")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    keys = {line[1:].split(":")[0].strip() for line in changed}
    assert keys <= {"node_pool", "storage_pool", "os", "arches", "database"}, changed
    wave = plan["waves"][0]
    assert len([line for line in changed if line.startswith("+  node_pool:")]) == len(wave)
    original = (YULIN / "systems.yaml").read_text(encoding="utf-8")
    after = (planned / "wave-01" / "systems.yaml").read_text(encoding="utf-8")
    assert original.splitlines()[:6] == after.splitlines()[:6], "the header comments are kept"
    assert len(original.splitlines()) == len(after.splitlines())


def test_moving_to_another_arch_adds_it_to_the_image_and_replaces_the_database(yulin: Declaration) -> None:
    """A move to Kunpeng makes the declaration say the image is built for arm64, and Oracle becomes DM."""
    city = build_instance(yulin)
    change = change_of(city, "sjj-12345", "xc-kunpeng")
    assert change.new_arch == "arm64"
    assert change.database == ("Oracle", "DM")
    text = apply_changes((YULIN / "systems.yaml").read_text(encoding="utf-8"), [change])
    entry = next(s for s in yaml.safe_load(text)["systems"] if s["code"] == "sjj-12345")
    assert entry["arches"] == ["x86_64", "arm64"]
    assert entry["database"] == "DM"
    assert entry["os"] == "openEuler 22.03"
    assert entry["node_pool"] == "xc-kunpeng"


def test_plan_json_matches_the_rules_checked_independently(planned: Path) -> None:
    """The plan on disk passes FORMAT.md's seven rules (and the shared storage) on the instance on disk."""
    from dizuo.migration.instance import load_instance  # noqa: PLC0415

    instance = load_instance(planned / "instance.json")
    plan = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    waves = [[entry["system"] for entry in wave] for wave in plan["waves"]]
    assert check_plan(instance, Plan(plan["assignments"], waves)) == []
    assert "| system | department |" in (planned / "PLAN.md").read_text(encoding="utf-8")


def test_out_that_holds_anything_is_refused_and_left_alone(tmp_path: Path) -> None:
    """A plan is never written over a file or a folder with contents: exit 2, everything stays."""
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "is not empty" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("out", ["/proc/plan", "/proc/new/plan"])
def test_out_where_no_folder_can_be_made_is_refused_before_the_solve(out: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """/proc takes no new folder, whatever the permissions say (root's are all): `--out /proc/plan` is refused up
    front, exit 2 as for any --out that cannot take the plan, naming the path and why; no solve first."""
    # os.access as it answers root, for any user: writing allowed everywhere (another's says /proc is not writable,
    # which refuses it before the question this test asks, whether a folder can be made there).
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: real_access(path, mode & ~os.W_OK, **kw))
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", out])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert said.startswith(f"error: --out {out}: /proc cannot take a new folder: "), said
    assert "(the plan is written beside plan and renamed into place)" in said, said
    assert "HiGHS" not in said, "refused before the solve"


def _plan_at_fill_target(tmp_path: Path, fill_target: str) -> tuple[Path, Path, str]:
    """Yulin with ``fill_target`` in place of 0.90, and `dizuo migrate city`'s plan of it: (city, plan folder, what
    the command printed)."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    text = (city / "city.yaml").read_text(encoding="utf-8")
    (city / "city.yaml").write_text(text.replace("fill_target: 0.90", f"fill_target: {fill_target}"), "utf-8")
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return city, out, result.output


def test_an_impossible_relief_is_an_answer_with_its_reason(tmp_path: Path) -> None:
    """Planning the legacy pool down to 10 % cannot fit the Xinchuang pools: no waves, the reason in PLAN.md, and
    the command does not speak of wave folders it did not write."""
    _, out, printed = _plan_at_fill_target(tmp_path, "0.10")
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["infeasible"] is True
    assert "relief needs" in plan["reason"]
    assert not [p for p in out.iterdir() if p.name.startswith("wave-")]
    assert "## No plan" in (out / "PLAN.md").read_text(encoding="utf-8")
    assert f"Plan written to {out}/ (PLAN.md, plan.json, instance.json)" in " ".join(printed.split()), printed


def test_a_declaration_without_a_migration_section_is_refused(tmp_path: Path) -> None:
    """No `migration` in city.yaml: exit 2 naming what is missing, nothing written."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    document = yaml.safe_load((city / "city.yaml").read_text(encoding="utf-8"))
    del document["migration"]
    (city / "city.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "declares no `migration` section" in result.output
    assert not out.exists()


def test_what_stays_on_the_legacy_pool_anyway_is_never_hidden(yulin: Declaration) -> None:
    """Validate refuses datasets that alone keep the legacy pool over its target; a declaration that bypassed it
    is refused by the instance builder too, never planned as if the candidates had to keep nothing."""
    m = yulin.city.migration
    assert m is not None
    dataset = yulin.datasets[0].model_copy(update={"storage_pool": "phase1-ceph", "size_gib": 20_000})
    unchecked = yulin.model_copy(
        update={
            "datasets": (dataset, *yulin.datasets[1:]),
            "city": yulin.city.model_copy(update={"migration": m.model_copy(update={"fill_target": 0.01})}),
        }
    )
    with pytest.raises(
        MigrationSetupError, match=r"'phase1-ceph' anyway \(20,000 GiB in allocations\) exceeds its fill"
    ):
        build_instance(unchecked)


SHARED = """\
systems:
- &base
  code: a
  node_pool: phase1-intel
  storage_pool: phase1-ceph
  arches: &x86 [x86_64]
  os: CentOS 7
  database: Oracle
- <<: *base
  code: b
- code: c
  node_pool: phase1-intel
  storage_pool: phase1-ceph
  arches: *x86
  os: CentOS 7
"""


def _move(code: str, database: tuple[str, str] | None = None) -> Change:
    return Change(
        code=code,
        node_pool=("phase1-intel", "xc-kunpeng"),
        storage_pool=("phase1-ceph", "xc-ceph"),
        os=("CentOS 7", "openEuler 22.03"),
        new_arch="arm64",
        database=database,
    )


STAYING = {"node_pool": "phase1-intel", "storage_pool": "phase1-ceph", "arches": ["x86_64"], "os": "CentOS 7"}
MOVED = {"node_pool": "xc-kunpeng", "storage_pool": "xc-ceph", "arches": ["x86_64", "arm64"], "os": "openEuler 22.03"}


@pytest.mark.parametrize(
    ("moved", "expected"),
    [
        pytest.param("c", {"a": STAYING, "b": STAYING, "c": MOVED}, id="alias-of-an-anchored-arches"),
        pytest.param("b", {"a": STAYING, "b": MOVED, "c": STAYING}, id="entry-that-merges-another"),
        pytest.param("a", {"a": MOVED, "b": STAYING, "c": STAYING}, id="entry-others-merge"),
    ],
)
def test_a_move_changes_no_system_that_shares_yaml_with_it(moved: str, expected: dict[str, dict[str, object]]) -> None:
    """Anchors, aliases and merge keys share YAML between systems: the moved one changes, as the loader reads it,
    and none of the others (a new arch appended to an aliased list would spread to every alias)."""
    database = ("Oracle", "DM") if moved in "ab" else None
    text = apply_changes(SHARED, [_move(moved, database)])
    systems = {s["code"]: s for s in yaml.safe_load(text)["systems"]}
    for code, values in expected.items():
        assert {key: systems[code][key] for key in values} == values, f"{code}:\n{text}"
    assert systems["a"]["database"] == ("DM" if moved == "a" else "Oracle")
    assert systems["b"]["database"] == ("DM" if moved == "b" else "Oracle")
    assert "database" not in systems["c"]


def test_figures_the_planner_cannot_hold_are_refused_without_a_traceback(tmp_path: Path) -> None:
    """A legacy pool of 10^10 GiB (its bytes pass int64) is refused: exit 2 naming the figure, no plan."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    text = (city / "clusters.yaml").read_text(encoding="utf-8")
    (city / "clusters.yaml").write_text(
        text.replace("capacity_gib: 1622016,", "capacity_gib: 10000000000,"), encoding="utf-8"
    )
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    # validate bounds it (model.MAX_GIB) before the planner sees it
    assert "clusters[0].storage_pools[0].capacity_gib: Input should be less than or equal to 1073741824" in " ".join(
        result.output.split()
    )
    assert not out.exists()


def _indented(text: str) -> str:
    """Yulin's systems.yaml in the indented list style (`systems:` then `  - code: ...`), comments kept."""
    from ruamel.yaml import YAML  # noqa: PLC0415 - only to restyle the fixture

    writer = YAML()
    writer.width = 4096
    writer.preserve_quotes = True
    writer.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    writer.dump(writer.load(text), out)
    return out.getvalue()


def test_a_file_in_the_indented_list_style_changes_only_the_moved_systems_lines(yulin: Declaration) -> None:
    """`systems:` with its items indented (`  - code:`) is written back in that style: the diff is the move."""
    original = _indented((YULIN / "systems.yaml").read_text(encoding="utf-8"))
    assert "\n  - code: sjj-tyrz\n    name:" in original
    change = change_of(build_instance(yulin), "sjj-12345", "xc-kunpeng")
    after = apply_changes(original, [change])
    diff = [
        line
        for line in difflib.unified_diff(original.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert sorted(diff) == sorted(
        [
            "-    node_pool: phase1-intel",
            "+    node_pool: xc-kunpeng",
            "-    storage_pool: phase1-ceph",
            "+    storage_pool: xc-ceph",
            "-    arches: [x86_64]",
            "+    arches: [x86_64, arm64]",
            "-    os: CentOS 7",
            "+    os: openEuler 22.03",
            "-    database: Oracle",
            "+    database: DM",
        ]
    ), "\n".join(diff)


def test_a_file_that_would_not_be_written_back_line_for_line_is_refused_before_the_solve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two list styles in one file: no one indentation writes it back, so no wave diff would show only the moves:
    exit 2 naming the line, before the solver runs, nothing written."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    text = (city / "systems.yaml").read_text(encoding="utf-8")
    mixed = text.replace("  depends_on: [sjj-tyrz]\n", "  depends_on:\n    - sjj-tyrz\n", 1)
    (city / "systems.yaml").write_text(mixed, encoding="utf-8")
    with pytest.raises(MigrationSetupError, match=r"line \d+: ruamel.yaml would write '    - sjj-tyrz\\n' as"):
        apply_changes(mixed, [])
    out = tmp_path / "plan"
    monkeypatch.setattr(migration_cli, "_solve", lambda *_: pytest.fail("solved a plan it could not write"))
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "a wave's diff must show its moves and nothing else" in result.output
    assert not out.exists()


def test_a_tab_only_the_loader_reads_is_refused_by_line_not_with_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tab validate reads but ruamel.yaml cannot is refused by line and column: exit 2, nothing solved or written."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    text = (city / "systems.yaml").read_text(encoding="utf-8")
    line = text[: text.index("\n  os: CentOS 7\n")].count("\n") + 2
    (city / "systems.yaml").write_text(text.replace("\n  os: CentOS 7\n", "\n  os: CentOS 7\t# EOL\n", 1), "utf-8")
    assert CliRunner().invoke(app, ["validate", str(city)]).exit_code == 0, "the loader reads it"
    out = tmp_path / "plan"
    monkeypatch.setattr(migration_cli, "_solve", lambda *_: pytest.fail("solved a plan it could not write"))
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"systems.yaml: line {line}, column 15: " in result.output, result.output
    assert "'\\t'" in result.output, result.output
    assert not out.exists()


def test_a_refusal_quotes_a_long_differing_line_cut_around_the_difference(tmp_path: Path) -> None:
    """systems.yaml written as one line of JSON (tens of KB) is refused with line 1 named and each side quoted as
    120 characters from just before where they differ, saying it was cut, not the whole file twice."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    systems = yaml.safe_load((YULIN / "systems.yaml").read_text(encoding="utf-8"))
    one_line = json.dumps(systems, ensure_ascii=False) + "\n"
    (city / "systems.yaml").write_text(one_line, encoding="utf-8")
    with pytest.raises(MigrationSetupError) as refused:
        check_layout(city)
    message = str(refused.value)
    assert message.startswith("systems.yaml: line 1: ruamel.yaml would write '"), message
    assert len(message) < 1000, f"{len(message):,} characters"
    cut = re.findall(r"('.*?') \(cut: characters ([\d,]+)-([\d,]+) of ([\d,]+)\)", message)
    assert len(cut) == 2, message
    (was, first, last, total), _ = cut
    assert int(total.replace(",", "")) == len(one_line), "the declaration's side is its whole (only) line"
    start, end = int(first.replace(",", "")), int(last.replace(",", ""))
    assert end - start + 1 == 120
    assert was == repr(one_line[start - 1 : end]), "the quoted part is the line's, at the characters it names"


def _changed_lines(diff: list[str]) -> list[str]:
    return sorted(line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))


def _planned_waves(tmp_path: Path, text: str) -> tuple[Path, Path, list[Path]]:
    """Yulin with ``text`` as its systems.yaml, planned: the declaration, the plan and its wave folders."""
    city, out = tmp_path / "yulin", tmp_path / "plan"
    shutil.copytree(YULIN, city)
    (city / "systems.yaml").write_bytes(text.encode("utf-8"))
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    waves = sorted(out.glob("wave-*"))
    assert waves, "Yulin's relief takes waves"
    return city, out, waves


def _only_its_diff(before: str, wave: Path) -> str:
    """The wave's systems.yaml, once checked to differ from ``before`` exactly in the lines its diff shows."""
    after = (wave / "systems.yaml").read_bytes().decode("utf-8")
    shown = (wave / "systems.yaml.diff").read_bytes().decode("utf-8").splitlines(keepends=True)
    real = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True), n=0)
    assert _changed_lines(list(real)) == _changed_lines(shown), f"{wave.name}: the file differs beyond its diff"
    assert _changed_lines(shown), f"{wave.name}: its diff shows no move"
    return after


def test_a_crlf_systems_yaml_keeps_its_line_ends_in_every_wave(tmp_path: Path) -> None:
    """A systems.yaml written with CRLF gets wave files with CRLF: each differs from the one before exactly in the
    lines its systems.yaml.diff shows (copying it into the declaration changes nothing else)."""
    before = (YULIN / "systems.yaml").read_text(encoding="utf-8").replace("\n", "\r\n")
    for wave in _planned_waves(tmp_path, before)[2]:
        before = _only_its_diff(before, wave)
        assert before.count("\n") == before.count("\r\n"), f"{wave.name}/systems.yaml has lines not ending in CRLF"


@pytest.mark.parametrize(
    ("head", "kind"), [("\ufeff", "a byte order mark"), ("---\n", "a document start marker")], ids=["bom", "start"]
)
def test_a_systems_yaml_s_head_is_kept_in_every_wave(tmp_path: Path, head: str, kind: str) -> None:
    """A systems.yaml validate reads that opens with a BOM or `---` is planned, each wave differing only in its diff."""
    before = head + (YULIN / "systems.yaml").read_text(encoding="utf-8")
    city, out, waves = _planned_waves(tmp_path, before)
    assert CliRunner().invoke(app, ["validate", str(city)]).exit_code == 0, f"the loader reads {kind}"
    for k, wave in enumerate(waves, start=1):
        before = _only_its_diff(before, wave)
        assert before.startswith(head), f"{wave.name}/systems.yaml lost {kind}"
        check = CliRunner().invoke(app, ["migrate", "check-wave", str(out), str(k), str(city)])
        assert check.exit_code == 0, check.output
        (city / "systems.yaml").write_bytes(before.encode("utf-8"))


@pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch is not installed")
def test_a_systems_yaml_without_a_last_line_end_is_planned_and_patch_applies_each_wave(tmp_path: Path) -> None:
    """A systems.yaml whose last line has no line end (editors that add none) is planned; patch applies every diff."""
    text = (YULIN / "systems.yaml").read_text(encoding="utf-8")
    start = text.index("- code: slj-01\n")  # moved in Yulin's plan: its lines, last in the file, are in a diff
    end = text.index("- code:", start + 1)
    before = (text[:start] + text[end:] + text[start:end]).removesuffix("\n")
    _, _, waves = _planned_waves(tmp_path, before)
    for wave in waves:
        (tmp_path / "before.yaml").write_text(before, encoding="utf-8")
        patched = subprocess.run(
            ["patch", "-s", "-o", "-", str(tmp_path / "before.yaml"), str(wave / "systems.yaml.diff")],
            capture_output=True,
            text=True,
            check=False,
        )
        before = _only_its_diff(before, wave)
        assert patched.returncode == 0, patched.stdout + patched.stderr
        assert patched.stdout == before, f"{wave.name}: patch of its diff is not its systems.yaml"
        assert not before.endswith("\n"), f"{wave.name}/systems.yaml gained a last line end"


def test_a_systems_yaml_that_mixes_line_ends_is_refused_before_the_solve(tmp_path: Path) -> None:
    """CRLF and LF in one systems.yaml: no one line end writes it back, so it is refused, naming the first line that
    ends otherwise than the first."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    lines = (YULIN / "systems.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    mixed = "".join(line.replace("\n", "\r\n") for line in lines[:10]) + "".join(lines[10:])
    (city / "systems.yaml").write_bytes(mixed.encode("utf-8"))
    with pytest.raises(MigrationSetupError, match=r"^systems.yaml: line 11 ends in LF, line 1 in CRLF: "):
        check_layout(city)


def test_a_targets_free_cores_and_memory_are_what_validate_finds_free(yulin: Declaration) -> None:
    """Five systems of 0.2 cores and one of 2 leave exactly 1 of 4 cores free (floats: 0.999…, so 0), and 6 x 1.1
    GiB leave 9.4 GiB: the planner offers what the wave's check will find, neither less nor more."""
    cluster = yulin.clusters[0]
    hygon = next(p for p in cluster.node_pools if p.name == "xc-hygon")
    small = hygon.model_copy(update={"nodes": 1, "cpu_per_node": 4, "memory_gib_per_node": 16})
    staying = [s for s in yulin.systems if s.storage_pool == "xc-ceph"][:6]
    assert len(staying) == 6
    cores = dict(zip((s.code for s in staying), [2, 0.2, 0.2, 0.2, 0.2, 0.2], strict=True))
    systems = tuple(
        s.model_copy(
            update={
                "node_pool": "xc-hygon",
                "resources": s.resources.model_copy(update={"cpu": cores[s.code], "memory_gib": 1.1}),
            }
        )
        if s.code in cores
        else s.model_copy(update={"node_pool": "xc-kunpeng"})
        if s.node_pool == "xc-hygon"
        else s
        for s in yulin.systems
    )
    pools = tuple(small if p.name == "xc-hygon" else p for p in cluster.node_pools)
    unchecked = yulin.model_copy(
        update={"systems": systems, "clusters": (cluster.model_copy(update={"node_pools": pools}), *yulin.clusters[1:])}
    )
    instance = build_instance(unchecked).instance
    target = next(t for t in instance.targets if t.name == "xc-hygon")
    assert instance.cpu_units_per_core == 5, "cores in fifths: 0.2 is one of them"
    assert target.cpu_cores == 5
    assert instance.memory_units_per_byte == 5, "memory in fifths of a byte: 1.1 GiB is no whole number of bytes"
    assert target.memory_bytes == (16 - Fraction("6.6")) * GIB * 5, "9.4 GiB, exactly"


def test_pools_named_as_yaml_1_1_booleans_are_written_as_the_loader_reads_them(tmp_path: Path) -> None:
    """Node pools named on, no, off and yes (valid codes, quoted in the city's files): the waves quote them too,
    or the loader (YAML 1.1) would read a moved system's node_pool as true or false."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    names = {"xc-hygon": "on", "xc-kunpeng": "no", "xc-phytium": "off", "xc-loongson": "yes"}
    for file in ("clusters.yaml", "city.yaml", "systems.yaml"):
        text = (city / file).read_text(encoding="utf-8")
        for old, new in names.items():
            text = re.sub(rf"\b{old}\b", f"'{new}'", text)
        (city / file).write_text(text, encoding="utf-8")
    assert load(city).city.migration.target_node_pools == ("on", "no", "off", "yes")  # type: ignore[union-attr]
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    moved = {code: pool for code, pool in plan["assignments"].items() if pool}
    assert moved
    last = sorted(p for p in out.iterdir() if p.name.startswith("wave-"))[-1]
    shutil.copyfile(last / "systems.yaml", city / "systems.yaml")
    after = {s.code: s for s in load(city).systems}
    assert {code: after[code].node_pool for code in moved} == moved


@pytest.mark.parametrize("out", [".", "..", "sub/.."])
def test_out_that_is_the_working_directory_is_refused_and_nothing_is_left(
    out: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out .` (empty or not): the plan would be renamed onto the directory the shell stands in: exit 2 up
    front, no hidden staging folder anywhere."""
    here = tmp_path / "here"
    (here / "sub").mkdir(parents=True)
    monkeypatch.chdir(here)
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", out])
    assert result.exit_code == 2, result.output
    assert "is the working directory or holds it" in result.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["here", "sub"]


def test_out_that_is_a_mount_point_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty mount point cannot be renamed onto: refused up front, exit 2."""
    mounted = tmp_path / "mnt"
    mounted.mkdir()
    monkeypatch.setattr(migration_cli.os.path, "ismount", lambda path: Path(path) == mounted)
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", str(mounted)])
    assert result.exit_code == 2, result.output
    assert "is a mount point" in result.output


def test_out_through_a_link_is_where_the_system_resolves_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--out link/../plan` is plan beside the link's target: the plan goes there, and says so; the folder named plan
    beside the link, holding a user's notes, is left alone (and no false "put there while the plan was made")."""
    (tmp_path / "elsewhere" / "sub").mkdir(parents=True)
    work = tmp_path / "work"
    (work / "plan").mkdir(parents=True)
    (work / "plan" / "notes.txt").write_text("mine", encoding="utf-8")
    (work / "link").symlink_to(tmp_path / "elsewhere" / "sub")
    monkeypatch.chdir(work)
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", "link/../plan"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (work / "plan").iterdir()] == ["notes.txt"]
    assert (tmp_path / "elsewhere" / "plan" / "PLAN.md").is_file()


def test_a_plan_the_disk_cannot_take_is_a_failure_not_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk is not the input's fault: exit 1, nothing left behind; exit 2 stays for an --out that is taken."""
    real_write = Path.write_text

    def full(self: Path, *args: object, **kwargs: object) -> int:
        if self.name == "PLAN.md":
            raise OSError(28, "No space left on device")
        return real_write(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full)
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", str(tmp_path / "plan")])
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output
    assert list(tmp_path.iterdir()) == []


def test_out_filled_while_the_plan_is_made_is_left_alone_and_no_staging_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Something put into --out during the solve: the plan is not renamed over it, its staging folder is removed,
    exit 2 saying why."""
    out = tmp_path / "plan"
    solve = migration_cli._solve

    def meanwhile(*args: Any) -> Any:
        out.mkdir()
        (out / "keep.txt").write_text("mine", encoding="utf-8")
        return solve(*args)

    monkeypatch.setattr(migration_cli, "_solve", meanwhile)
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "something was put there while the plan was made; nothing was written" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


HOSTILE = "x\n# Fake heading\n<script>alert(1)</script> [click](https://evil.example) **bold** | cell `code` \\"


def test_names_in_plan_md_are_text_never_markdown(tmp_path: Path) -> None:
    """A city, system or department name with a line break, a heading mark, HTML, a link, emphasis, a pipe or a
    backtick renders as exactly that text in PLAN.md: one title, no HTML, no link, no emphasis, the table intact."""
    markdown_it = pytest.importorskip("markdown_it")
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    for file, key in (("city.yaml", ""), ("departments.yaml", "departments")):
        document = yaml.safe_load((city / file).read_text(encoding="utf-8"))
        for item in document[key] if key else [document]:
            # Validate refuses two departments or systems named alike: each hostile name starts with its own code
            # (a system's: its own number).
            item["name"] = f"{item['code']} {HOSTILE}" if key else HOSTILE
        (city / file).write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    systems = (city / "systems.yaml").read_text(encoding="utf-8")
    numbers = itertools.count(1)
    (city / "systems.yaml").write_text(
        re.sub(r"(?m)^  name: .*$", lambda _: f"  name: {json.dumps(f'{next(numbers)} {HOSTILE}')}", systems),
        encoding="utf-8",
    )
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    markdown = (out / "PLAN.md").read_text(encoding="utf-8")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(markdown)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
    assert not kinds & {"html_block", "html_inline", "link_open", "strong_open", "em_open"}, markdown

    def text(inline: Any) -> str:
        return "".join(c.content for c in inline.children)

    name = " ".join(HOSTILE.split())
    titles = [tokens[i + 1] for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h1"]
    assert [text(t) for t in titles] == [f"Xinchuang migration plan: {name} (yulin), cluster yl-gov"]
    waves = json.loads((out / "plan.json").read_text(encoding="utf-8"))["waves"]
    rows = [
        [text(tokens[j + 1]) for j in range(i, len(tokens)) if tokens[j].type == "td_open"][:8]
        for i, t in enumerate(tokens)
        if t.type == "tr_open" and tokens[i + 1].type == "td_open"
    ]
    candidates = json.loads((out / "instance.json").read_text(encoding="utf-8"))["systems"]
    shown = {
        c["id"]: [f"{c['id']} {' '.join(c['name'].split())}", " ".join(c["department"].split())] for c in candidates
    }
    assert all(HOSTILE in c["name"] and HOSTILE in c["department"] for c in candidates), "the names reach the plan"
    # The waves' tables, then the assessment's: one intact row per moved system and per candidate.
    assert len(rows) == sum(len(wave) for wave in waves) + len(candidates)
    assert [row[:2] for row in rows[-len(candidates) :]] == [shown[c["id"]] for c in candidates]
    first = waves[0][0]
    assert rows[0][:3] == [
        *shown[first["system"]],
        f"{first['node_pool'][0]} → {first['node_pool'][1]}",
    ]


def test_plan_md_assesses_every_candidate_with_its_cost_per_pool_and_its_fate(
    planned: Path, yulin: Declaration
) -> None:
    """One row per candidate: its cost on each Xinchuang pool (— where a closed binary cannot run), and the wave
    and pool it moves to, or that it stays, as plan.json says."""
    plan = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    instance = json.loads((planned / "instance.json").read_text(encoding="utf-8"))
    markdown = (planned / "PLAN.md").read_text(encoding="utf-8")
    section = markdown.split("## Assessment: every candidate", 1)[1]
    header = next(line for line in section.splitlines() if line.startswith("| system |"))
    pools = [cell.strip() for cell in header.strip("|").split("|")][5:-1]
    assert pools == ["xc-hygon", "xc-kunpeng", "xc-phytium", "xc-loongson"]
    rows = {
        line.split()[1]: [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith(("| system", "| ---"))
    }
    assert set(rows) == {s["id"] for s in instance["systems"]}
    wave_of = {entry["system"]: k for k, wave in enumerate(plan["waves"], start=1) for entry in wave}
    for s in instance["systems"]:
        cells = rows[s["id"]]
        costs = cells[5:-1]
        assert costs == ["—" if s["cost"][p] is None else f"{s['cost'][p]:,}" for p in pools], s["id"]
        target = plan["assignments"][s["id"]]
        assert cells[-1] == ("stays" if target is None else f"wave {wave_of[s['id']]} → {target}")
    closed = {s.code for s in yulin.systems if not s.portable and s.code in rows}
    assert closed, "Yulin declares closed x86 binaries among the candidates"
    for code in closed:
        assert rows[code][2] == "x86_64 (closed)"
        assert rows[code][5:-1][1:] == ["—", "—", "—"], "a closed x86 binary runs on Hygon only"


def test_an_instance_key_is_named_after_what_the_declaration_calls_it(yulin: Declaration) -> None:
    """A figure the planner cannot hold is shown with the declaration's name of what it sizes."""
    from dizuo.migration.city import _whose  # noqa: PLC0415 - the one place that maps instance keys back

    document = build_instance(yulin).instance.model_dump(mode="json")
    code = document["systems"][3]["id"]
    assert _whose("systems[3].projected_bytes", document, "phase1-ceph") == (
        f"systems[3] (system {code}).projected_bytes"
    )
    assert _whose("targets[0].memory_bytes", document, "phase1-ceph") == "targets[0] (node pool xc-hygon).memory_bytes"
    assert _whose("shared_storage[0].storage_bytes", document, "phase1-ceph") == (
        "shared_storage[0] (storage pool xc-ceph).storage_bytes"
    )
    assert _whose("wave_bytes", document, "phase1-ceph") == "wave_bytes"


def test_a_target_storage_past_its_fill_target_is_shown_as_the_reason_nothing_moves(tmp_path: Path) -> None:
    """xc-ceph shrunk to 200,000 GiB holds 189,870 GiB of quotas, past 90 %: no plan, and PLAN.md shows no room."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    text = (city / "clusters.yaml").read_text(encoding="utf-8")
    (city / "clusters.yaml").write_text(
        text.replace("capacity_gib: 417792, used_gib: 146227", "capacity_gib: 200000, used_gib: 146227"),
        encoding="utf-8",
    )
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    markdown = (out / "PLAN.md").read_text(encoding="utf-8")
    assert "- Room on `xc-ceph`: 0.0 TiB to its 90% fill target (189,870 of 200,000 GiB allocated, 94.9%)" in markdown
    assert "## No plan" in markdown


def _plan_with_group(tmp_path: Path, group: str, *codes: str) -> tuple[Path, Path]:
    """Yulin with ``codes`` in move group ``group``, and `dizuo migrate city`'s plan of it: (city, plan folder)."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    text = (city / "systems.yaml").read_text(encoding="utf-8")
    for code in codes:
        text = text.replace(f"- code: {code}\n", f"- code: {code}\n  move_group: {group}\n", 1)
    (city / "systems.yaml").write_text(text, encoding="utf-8")
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return city, out


def test_systems_of_one_move_group_move_together_or_stay(tmp_path: Path, planned: Path) -> None:
    """zrzy-01 alone is the cheapest relief on Hygon; sharing a platform with zrzy-02 (move group zrzy-gis) it can
    only move with it, to the same pool: the plan moves both together, or neither, and the checker agrees."""
    _, out = _plan_with_group(tmp_path, "zrzy-gis", "zrzy-01", "zrzy-02")
    instance = json.loads((out / "instance.json").read_text(encoding="utf-8"))
    groups = {s["id"]: s["group"] for s in instance["systems"] if s["group"] is not None}
    assert groups == {"zrzy-01": "zrzy-gis", "zrzy-02": "zrzy-gis"}
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assignments = plan["assignments"]
    assert assignments["zrzy-01"] == assignments["zrzy-02"]
    alone = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    assert alone["assignments"]["zrzy-01"] is not None, "without the group zrzy-01 moves (the premise)"
    assert alone["assignments"]["zrzy-02"] is None
    assert plan["cost_cny"] > alone["cost_cny"], "the group costs the plan something"
    rows = [line for line in (out / "PLAN.md").read_text(encoding="utf-8").splitlines() if "(with its group" in line]
    assert [row.split()[1] for row in rows] == ["zrzy-01", "zrzy-02"]


def test_a_group_split_across_waves_is_valid_between_them_and_replanned_to_its_pool(tmp_path: Path) -> None:
    """slj-01 and nyj-01 share a database (move group shared-db); each fills a maintenance window, so they move in two
    waves: the declaration between them (one moved, one not) is valid, and planning again from it can only send the
    second where the first went."""
    city, out = _plan_with_group(tmp_path, "shared-db", "slj-01", "nyj-01")
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["assignments"]["slj-01"] == plan["assignments"]["nyj-01"] == "xc-hygon"
    wave_of = {entry["system"]: k for k, wave in enumerate(plan["waves"], start=1) for entry in wave}
    assert wave_of["slj-01"] != wave_of["nyj-01"], "each fills a window: two waves (the premise)"
    first = min(wave_of["slj-01"], wave_of["nyj-01"])
    between = tmp_path / "between"
    shutil.copytree(city, between)
    shutil.copy(out / f"wave-{first:02d}" / "systems.yaml", between / "systems.yaml")
    rest = build_instance(load(between))
    (waiting,) = (s for s in rest.instance.systems if s.id in {"slj-01", "nyj-01"})
    assert [pool for pool, cost in waiting.cost.items() if cost is not None] == ["xc-hygon"]


def _check_wave(plan: Path, wave: int, declaration: Path) -> Any:
    return CliRunner().invoke(app, ["migrate", "check-wave", str(plan), str(wave), str(declaration)])


def test_check_wave_allows_a_wave_only_over_the_file_it_starts_from(planned: Path, tmp_path: Path) -> None:
    """plan.json and PLAN.md record the sha256 of the systems.yaml planned from; check-wave exits 0 only when the
    declaration's file is where the wave starts (or the wave's own), 1 when it was edited since planning or another
    wave's would be skipped, 2 for a wave the plan does not have."""
    plan = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    base = (YULIN / "systems.yaml").read_bytes()
    assert plan["systems_yaml_sha256"] == hashlib.sha256(base).hexdigest()
    assert plan["systems_yaml_sha256"] in (planned / "PLAN.md").read_text(encoding="utf-8")
    waves = len(plan["waves"])
    assert waves >= 2, "the Yulin plan has several waves; the test needs two"
    declaration = tmp_path / "yulin"
    shutil.copytree(YULIN, declaration)
    assert _check_wave(planned, 1, declaration).exit_code == 0
    skipping = _check_wave(planned, 2, declaration)
    assert skipping.exit_code == 1
    assert "apply the waves between first" in skipping.output, skipping.output
    shutil.copy(planned / "wave-01" / "systems.yaml", declaration / "systems.yaml")
    assert _check_wave(planned, 2, declaration).exit_code == 0
    assert "already wave 1's" in _check_wave(planned, 1, declaration).output
    (declaration / "systems.yaml").write_bytes(base + b"# an edit made after planning\n")
    edited = _check_wave(planned, 1, declaration)
    assert edited.exit_code == 1
    assert "was edited since the plan was made" in edited.output, edited.output
    assert "would undo those edits" in edited.output
    missing = _check_wave(planned, waves + 1, declaration)
    assert missing.exit_code == 2
    assert f"the plan has waves 1 to {waves}" in missing.output


def test_check_wave_names_a_plan_folder_or_plan_json_that_does_not_exist(tmp_path: Path) -> None:
    """A mistyped plan folder, or one without plan.json, exits 2 with the error naming the path and what is wrong,
    not Python's raw "[Errno 2] ..."."""
    declaration = tmp_path / "yulin"
    shutil.copytree(YULIN, declaration)
    gone = _check_wave(tmp_path / "plan-typo", 1, declaration)
    said = " ".join(gone.output.split())
    assert gone.exit_code == 2, said
    assert f"{tmp_path / 'plan-typo'}: no such plan folder" in said, said
    assert "Errno" not in said, said
    (tmp_path / "empty").mkdir()
    empty = _check_wave(tmp_path / "empty", 1, declaration)
    said = " ".join(empty.output.split())
    assert empty.exit_code == 2, said
    assert f"{tmp_path / 'empty' / 'plan.json'}: cannot be read as a plan: No such file or directory" in said, said
    assert "Errno" not in said, said


def test_check_wave_refuses_a_wave_whose_data_copies_were_edited(planned: Path, tmp_path: Path) -> None:
    """An entry deleted by mistake from wave 1's data-copies.yml (a volume never copied): check-wave exits 1 naming the
    file and that it differs from the plan, though the declaration is where the wave starts; restored, it exits 0."""
    plan, declaration = tmp_path / "plan", tmp_path / "yulin"
    shutil.copytree(planned, plan)
    shutil.copytree(YULIN, declaration)
    copies = plan / "wave-01" / "data-copies.yml"
    planned_text = copies.read_text(encoding="utf-8")
    assert _check_wave(plan, 1, declaration).exit_code == 0
    header = "".join(line for line in planned_text.splitlines(keepends=True) if line.startswith("#"))
    entries = yaml.safe_load(planned_text)["data_migration_copies"]
    copies.write_text(header + yaml.safe_dump({"data_migration_copies": entries[:-1]}, sort_keys=False), "utf-8")
    edited = _check_wave(plan, 1, declaration)
    said = " ".join(edited.output.split())
    assert edited.exit_code == 1, said
    assert "wave-01/data-copies.yml differs from the plan" in said, said
    assert "volumes to copy beyond the plan's go in a file of their own" in said
    copies.write_text(planned_text, "utf-8")
    assert _check_wave(plan, 1, declaration).exit_code == 0
    assert "and `wave-NN/data-copies.yml` is the planned one" in (plan / "PLAN.md").read_text("utf-8"), "PLAN.md says"


def test_check_wave_still_applies_a_plan_made_before_copy_lists_were_recorded(planned: Path, tmp_path: Path) -> None:
    """A plan.json made before it recorded each wave's data-copies.yml hash (a migration under way): check-wave still
    judges the wave by systems.yaml, exit 0, and says the copy list was not checked, rather than demand a new plan
    (which could move other systems mid-way)."""
    plan, declaration = tmp_path / "plan", tmp_path / "yulin"
    shutil.copytree(planned, plan)
    shutil.copytree(YULIN, declaration)
    document = json.loads((plan / "plan.json").read_text(encoding="utf-8"))
    del document["wave_data_copies_sha256"]
    (plan / "plan.json").write_text(json.dumps(document), encoding="utf-8")
    result = _check_wave(plan, 1, declaration)
    said = " ".join(result.output.split())
    assert result.exit_code == 0, said
    assert "copy wave-01/systems.yaml over it (wave-01/data-copies.yml not checked: this plan.json, made by an" in said


def test_plan_md_stops_the_system_before_the_waves_up_and_names_the_migration_host(planned: Path) -> None:
    """A wave's `dizuo up` switches node pool, database egress and quota: PLAN.md puts it in the window, after the
    system is stopped and before the data copy, whose command (there and in data-copies.yml) names its host."""
    text = (planned / "PLAN.md").read_text(encoding="utf-8")
    steps = text[text.index("## Applying a wave") : text.index("## Wave 1")]
    assert steps.index("stop the system") < steps.index("dizuo up") < steps.index("roles/data_migration.yml")
    assert "Before the window" in steps.split("\n1. ")[1]
    assert "-e data_migration_hosts=<migration host>" in steps
    assert "-e data_migration_hosts=<migration host>" in (planned / "wave-01" / "data-copies.yml").read_text("utf-8")


def test_data_copies_yml_says_where_its_inventory_comes_from(planned: Path) -> None:
    """A wave's data-copies.yml, read on its own on the migration host, says that the -i inventory of its command is
    the declaration's hosts as `dizuo inventory` writes them, a command that parses as written."""
    header = (planned / "wave-01" / "data-copies.yml").read_text("utf-8").split("data_migration_copies:")[0]
    said = re.search(r"# \(<inventory>: the declaration's hosts, as `dizuo ([^`]+)` writes them;", header)
    assert said, header
    command = said.group(1).split(" > ")[0].replace("<declaration>", str(YULIN))
    _parsed_by_the_cli(command.split())


def test_plan_md_gives_the_wave_limit_in_the_unit_of_the_waves(planned: Path) -> None:
    """PLAN.md's waves line gives the most a wave copies in TiB, as each wave's heading gives what it copies, so an
    operator sees that a wave past it holds one system alone (its promise) without converting from GiB."""
    text = (planned / "PLAN.md").read_text(encoding="utf-8")
    waves_line = next(line for line in text.splitlines() if line.startswith("- Waves: "))
    limit = re.search(r"at most ([\d,.]+) TiB \(20,480 GiB\) copied per wave", waves_line)
    assert limit, waves_line
    assert float(limit.group(1).replace(",", "")) == 20.0, waves_line
    headings = re.findall(r"^## Wave \d+: (\d+) system\(s\), ([\d,.]+) TiB$", text, flags=re.MULTILINE)
    assert headings, "no wave headings"
    for systems, tib in headings:
        assert float(tib.replace(",", "")) <= 20.0 or systems == "1", (systems, tib, waves_line)


def test_a_wave_longer_than_a_window_says_its_system_is_down_that_long(planned: Path) -> None:
    """A wave that copies more than one maintenance window (one system larger than a window) says how many windows'
    worth it copies and that its system stays stopped until the copy verifies: the owner agrees to that downtime,
    not to one window's."""
    text = (planned / "PLAN.md").read_text(encoding="utf-8")
    plan = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    window = 20_480 * GIB
    sections = re.split(r"^(?=## )", text, flags=re.MULTILINE)
    waves = [section for section in sections if section.startswith("## Wave ")]
    assert len(waves) == len(plan["waves"]) > 0, "no wave sections"
    for section, copied, wave in zip(waves, plan["wave_copy_bytes"], plan["waves"], strict=True):
        heading = section.splitlines()[0]
        note = re.search(r"^This wave copies .* times what one maintenance window copies .*$", section, re.MULTILINE)
        if copied <= window:
            assert note is None, f"{heading}: within a window, yet: {note.group(0) if note else ''}"
            continue
        assert note, f"{heading}: copies {copied / window:.1f} windows' worth and PLAN.md does not say so"
        assert f"{copied / window:,.1f} times" in note.group(0), (heading, note.group(0))
        assert all(f"{system['system']} stays stopped" in note.group(0) for system in wave), (heading, note.group(0))
    assert any(copied > window for copied in plan["wave_copy_bytes"]), "Yulin's plan no longer has such a wave"


def test_a_wave_longer_than_a_window_is_a_warning_in_plan_json_and_on_the_console(planned: Path) -> None:
    """Each wave that copies more than one maintenance window is one of plan.json's `warnings` and a console warning,
    naming the wave, its system, its TiB and how many windows' worth, in PLAN.md's words, on one line however narrow
    the console: a tool or an engineer reading only those (a grep of a CI log) learns of the downtime too."""
    text = (planned / "PLAN.md").read_text(encoding="utf-8")
    plan = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    lines = (planned.parent / "console.txt").read_text(encoding="utf-8").splitlines()
    console = " ".join(" ".join(lines).split())
    window = 20_480 * GIB
    waves = enumerate(zip(plan["waves"], plan["wave_copy_bytes"], strict=True), start=1)
    longer = [(k, wave, copied) for k, (wave, copied) in waves if copied > window]
    assert len(longer) == len(plan["waves"]) == 3, "Yulin's three waves each copy more than a 20 TiB window"
    notes = re.findall(r"^This wave copies (.*)$", text, flags=re.MULTILINE)
    assert len(notes) == len(longer), notes
    warned = [w for w in plan["warnings"] if " times what one maintenance window copies " in w]
    assert len(warned) == len(longer), plan["warnings"]
    for (k, wave, copied), warning, note in zip(longer, warned, notes, strict=True):
        assert warning.startswith(f"Wave {k} copies "), warning
        assert f"{copied / window:,.1f} times" in warning, warning
        tib = re.match(r"[\d,.]+ TiB", note)
        assert tib, note
        assert warning.startswith(f"Wave {k} copies {tib.group(0)}, "), (warning, note)  # PLAN.md's heading figure
        assert all(f"{system['system']} stays stopped" in warning for system in wave), warning
        assert f"warning: {' '.join(warning.split())}" in console, (warning, console[-3000:])
        assert f"warning: {warning}" in lines, "a warning is one line of the console, not cut at 80 columns"


@pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch is not installed")
def test_plan_md_s_rollback_puts_back_the_file_each_wave_started_from(planned: Path, tmp_path: Path) -> None:
    """PLAN.md says how to roll a wave back, and its command, run as written after wave 1 and after wave 2, gives
    back the systems.yaml that wave started from, byte for byte, which check-wave then takes as that wave's start."""
    text = (planned / "PLAN.md").read_text(encoding="utf-8")
    rollback = re.search(r"^To roll back wave NN .*$", text, flags=re.MULTILINE)
    assert rollback, "PLAN.md does not say how to roll a wave back"
    command = re.search(r"`(patch -R [^`]+)`", rollback.group(0))
    assert command, rollback.group(0)
    declaration = tmp_path / "yulin"
    shutil.copytree(YULIN, declaration)
    started = [(YULIN / "systems.yaml").read_bytes(), (planned / "wave-01" / "systems.yaml").read_bytes()]
    for wave, start in enumerate(started, start=1):
        (declaration / "systems.yaml").write_bytes((planned / f"wave-{wave:02d}" / "systems.yaml").read_bytes())
        filled = command.group(1).replace("<declaration>", str(declaration)).replace("<this folder>", str(planned))
        argv = filled.replace("NN", f"{wave:02d}").split()
        patched = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert patched.returncode == 0, patched.stdout + patched.stderr
        assert (declaration / "systems.yaml").read_bytes() == start, f"wave {wave}'s rollback is not where it started"
        result = CliRunner().invoke(app, ["migrate", "check-wave", str(planned), str(wave), str(declaration)])
        assert result.exit_code == 0, result.output
        assert f"where wave {wave} starts" in result.output, result.output


def _parsed_by_the_cli(words: list[str]) -> None:
    """Parse ``words`` (after `dizuo`) as the CLI does before it runs a command: click's error when they do not."""
    command: Any = typer.main.get_command(app)
    context = command.make_context("dizuo", list(words))
    while hasattr(command, "resolve_command"):  # a group: its command's words are left for it
        name, command, rest = command.resolve_command(context, [*context._protected_args, *context.args])
        context = command.make_context(name, rest, parent=context)


def test_every_dizuo_command_of_plan_md_s_steps_runs_as_written(planned: Path) -> None:
    """Every `dizuo ...` PLAN.md's 'Applying a wave' tells the operator to run, its placeholders filled in, is one
    the CLI accepts as written: no command missing the declaration or the stack it needs; and the data copy's
    ansible-playbook says what its inventory and migration host are (the inventory: as `dizuo inventory` writes it)."""
    text = (planned / "PLAN.md").read_text(encoding="utf-8")
    steps = text[text.index("## Applying a wave") : text.index("## Wave 1")]
    filled = {"<this folder>": str(planned), "NN": "1", "<declaration>": str(YULIN), "<stack>": "yulin-prod"}
    commands = re.findall(r"`dizuo ([^`]+)`", steps)
    assert {c.split()[0] for c in commands} >= {"migrate", "validate", "preview", "up", "inventory"}, commands
    playbook = re.search(r"`ansible-playbook [^`]+`", steps)
    assert playbook, "no data copy command"
    for placeholder in re.findall(r"<[^>]+>", playbook.group(0)):
        assert f"`{placeholder}`: " in steps or placeholder == "<this folder>", f"PLAN.md leaves {placeholder} unsaid"
    for written in commands:
        command = written.split(" > ")[0]  # the shell's redirection, not the command's
        for placeholder, value in filled.items():
            command = command.replace(placeholder, value)
        assert "<" not in command, f"a placeholder PLAN.md does not explain: `dizuo {written}`"
        try:
            _parsed_by_the_cli(command.split())
        except Exception as err:  # click's usage error (click's own, or the copy newer typer vendors)
            err.add_note(f"`dizuo {written}`, as PLAN.md writes it")
            raise


def test_the_data_copy_command_names_the_playbook_and_the_wave_s_file_from_one_folder(planned: Path) -> None:
    """The data copy's command, in PLAN.md and in data-copies.yml, names roles/data_migration.yml and the wave's file
    from one folder (the repository's, where the plan is a folder), so that it runs as printed once its placeholders
    are filled in: not the playbook from the repository and the wave's file from inside the plan."""
    steps = (planned / "PLAN.md").read_text(encoding="utf-8")
    copies = (planned / "wave-01" / "data-copies.yml").read_text(encoding="utf-8")
    for where, text, folder in (("PLAN.md", steps, "<this folder>"), ("data-copies.yml", copies, "<plan folder>")):
        command = re.search(r"ansible-playbook -i <inventory> (\S+) -e @(.+?/data-copies\.yml)", text)
        assert command, f"{where}: no data copy command"
        playbook, extra = command.group(1), command.group(2).replace(folder, str(planned)).replace("NN", "01")
        assert (ROOT / playbook).is_file(), f"{where}: {playbook} is not the repository's"
        assert (ROOT / extra).is_file(), f"{where}: -e @{command.group(2)} is no file from the repository's folder"


def _onto_xc_hygon_alone(tmp_path: Path) -> Path:
    """A copy of Yulin planned onto xc-hygon alone, phase1-intel grown to 60 nodes (room for larger requests)."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    text = (city / "city.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "target_node_pools: [xc-hygon, xc-kunpeng, xc-phytium, xc-loongson]", "target_node_pools: [xc-hygon]"
    )
    (city / "city.yaml").write_text(text, encoding="utf-8")
    text = (city / "clusters.yaml").read_text(encoding="utf-8")
    (city / "clusters.yaml").write_text(text.replace("os: CentOS 7, nodes: 36,", "os: CentOS 7, nodes: 60,"), "utf-8")
    return city


def _fractional_cores(tmp_path: Path) -> Path:
    """Yulin planned onto xc-hygon alone (101 cores free), every candidate of 17,000 GiB or more asking 33.5 cores
    (departments and phase1-intel grown to grant them): three such systems fit in 100.5 cores."""
    city = _onto_xc_hygon_alone(tmp_path)
    text = (city / "departments.yaml").read_text(encoding="utf-8")
    text = re.sub(r"quota: \{cpu: (\d+),", lambda m: f"quota: {{cpu: {int(m.group(1)) + 300},", text)
    (city / "departments.yaml").write_text(text, encoding="utf-8")
    entries = (city / "systems.yaml").read_text(encoding="utf-8").split("\n- code: ")
    large = re.compile(r"resources: \{cpu: [\d.]+, (memory_gib: [\d.]+, storage_gib: (\d+))\}")
    entries = [
        large.sub(lambda m: f"resources: {{cpu: 33.5, {m.group(1)}}}" if int(m.group(2)) >= 17000 else m.group(0), e)
        if "storage_pool: phase1-ceph" in e
        else e
        for e in entries
    ]
    (city / "systems.yaml").write_text("\n- code: ".join(entries), encoding="utf-8")
    return city


def test_fractional_cores_are_planned_exactly_not_rounded(tmp_path: Path) -> None:
    """Requests of 33.5 cores are not rounded up to 34 (nor 101.5 free cores down): three 33.5-core systems fit the
    101 free cores of xc-hygon, and the optimum is the 455,000 CNY plan, not a dearer one that rounding leaves."""
    city = _fractional_cores(tmp_path)
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["status"] == "optimal"
    assert sorted(code for code, pool in plan["assignments"].items() if pool) == ["nyj-01", "slj-01", "zrzy-01"]
    assert plan["cost_cny"] == 455_000, "the rounded instance's optimum was 735,000 CNY"
    instance = json.loads((out / "instance.json").read_text(encoding="utf-8"))
    assert instance["cpu_units_per_core"] == 2, "cores counted in halves, systems and targets alike"
    assert {s["id"]: s["cpu_cores"] for s in instance["systems"]}["slj-01"] == 67
    assert "100.5 / 101" in result.output, "the summary shows cores in cores"


def test_cores_declared_finer_than_a_billionth_are_refused_by_name(yulin: Declaration) -> None:
    """A request of 1e-10 cores cannot be counted in a unit the instance holds: refused, naming the system and value."""
    systems = tuple(
        s.model_copy(update={"resources": s.resources.model_copy(update={"cpu": 1e-10})}) if s.code == "slj-01" else s
        for s in yulin.systems
    )
    with pytest.raises(MigrationSetupError, match=r"^systems.yaml: system 'slj-01': resources.cpu: 1e-10: "):
        build_instance(yulin.model_copy(update={"systems": systems}))


def test_check_wave_on_a_plan_that_moves_nothing_says_there_is_no_wave(tmp_path: Path) -> None:
    """At a 99 % fill target phase1-ceph needs no relief: the plan has no wave, and check-wave says the plan moves
    nothing (exit 2) rather than offering waves 1 to 0."""
    city, out, _ = _plan_at_fill_target(tmp_path, "0.99")
    assert json.loads((out / "plan.json").read_text(encoding="utf-8"))["waves"] == [], "nothing moves (the premise)"
    checked = _check_wave(out, 1, city)
    assert checked.exit_code == 2, checked.output
    assert "the plan moves nothing: there is no wave to apply" in " ".join(checked.output.split())
    assert "waves 1 to 0" not in checked.output


def test_plan_md_of_a_plan_that_moves_nothing_says_so_and_gives_no_wave_steps(tmp_path: Path) -> None:
    """At a 99 % fill target nothing moves: PLAN.md says the legacy pool stays within it as it is, with no wave to
    apply, rather than the steps to apply and roll back waves that do not exist."""
    _, out, _ = _plan_at_fill_target(tmp_path, "0.99")
    text = (out / "PLAN.md").read_text(encoding="utf-8")
    assert json.loads((out / "plan.json").read_text(encoding="utf-8"))["waves"] == [], "nothing moves (the premise)"
    assert "## Nothing to move" in text, text[:2000]
    assert "`phase1-ceph` stays within its 99% fill target with every candidate where it is" in text, text[:2000]
    for misleading in ("## Applying a wave", "wave-NN", "To roll back"):
        assert misleading not in text, f"PLAN.md of a plan with no wave still says {misleading!r}"
    assert "## Assessment: every candidate" in text, "the assessment of every candidate is gone"


def _fractional_memory(tmp_path: Path) -> Path:
    """Yulin planned onto xc-hygon alone (395 GiB of memory free), its three cheapest candidates asking 131.7, 131.7
    and 131.6 GiB (departments and phase1-intel grown to grant them): together exactly the 395 GiB free."""
    city = _onto_xc_hygon_alone(tmp_path)
    text = (city / "departments.yaml").read_text(encoding="utf-8")
    text = re.sub(r"memory_gib: (\d+),", lambda m: f"memory_gib: {int(m.group(1)) + 300},", text)
    (city / "departments.yaml").write_text(text, encoding="utf-8")
    memory = {"nyj-01": "131.7", "slj-01": "131.7", "zrzy-01": "131.6"}
    entries = (city / "systems.yaml").read_text(encoding="utf-8").split("\n- code: ")
    entries = [
        re.sub(r"memory_gib: [\d.]+", f"memory_gib: {memory[e.split()[0]]}", e) if e.split()[0] in memory else e
        for e in entries
    ]
    (city / "systems.yaml").write_text("\n- code: ".join(entries), encoding="utf-8")
    return city


def test_fractional_memory_is_planned_exactly_not_rounded_to_bytes(tmp_path: Path) -> None:
    """Requests of 131.7 GiB are no whole number of bytes: rounded up, three of them ask 3 bytes more than the 395 GiB
    validate finds them exactly filling, and the 455,000 CNY plan (which passes `dizuo validate`) would be left out."""
    city = _fractional_memory(tmp_path)
    assert load(city).systems, "the variant declaration passes validate (the premise)"
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert sorted(code for code, pool in plan["assignments"].items() if pool) == ["nyj-01", "slj-01", "zrzy-01"]
    assert plan["cost_cny"] == 455_000, "memory rounded up to whole bytes leaves only dearer plans"
    assert "395 / 395" in result.output, "the summary shows memory in GiB"


def test_memory_declared_finer_than_a_billionth_of_a_gib_is_refused_by_name(yulin: Declaration) -> None:
    """A request of 1e-10 GiB cannot be counted in a unit the instance holds: refused, naming the system and value."""
    systems = tuple(
        s.model_copy(update={"resources": s.resources.model_copy(update={"memory_gib": 1e-10})})
        if s.code == "slj-01"
        else s
        for s in yulin.systems
    )
    with pytest.raises(MigrationSetupError, match=r"^systems.yaml: system 'slj-01': resources.memory_gib: 1e-10: "):
        build_instance(yulin.model_copy(update={"systems": systems}))


def test_check_wave_refuses_a_wave_the_declaration_s_other_files_no_longer_admit(planned: Path, tmp_path: Path) -> None:
    """xc-ceph shrunk in clusters.yaml after planning (to 200,000 GiB: what it holds now fits, wave 1's 56,700 GiB
    more does not): systems.yaml is still where wave 1 starts, but copying the wave in would leave a declaration
    `dizuo validate` refuses, so check-wave exits 1 naming the file, key and value rather than saying copy it."""
    declaration = tmp_path / "yulin"
    shutil.copytree(YULIN, declaration)
    text = (declaration / "clusters.yaml").read_text(encoding="utf-8")
    shrunk = text.replace(
        "name: xc-ceph, backend: ceph-rbd, capacity_gib: 417792,",
        "name: xc-ceph, backend: ceph-rbd, capacity_gib: 200000,",
    )
    assert shrunk != text
    (declaration / "clusters.yaml").write_text(shrunk, encoding="utf-8")
    assert load(declaration).systems, "the declaration as it is now passes validate (the premise)"
    checked = _check_wave(planned, 1, declaration)
    assert checked.exit_code == 1, checked.output
    said = " ".join(checked.output.split())
    assert "would not pass `dizuo validate`" in said, said
    assert f"{declaration}/clusters.yaml: clusters[0].storage_pools[1].capacity_gib: 200000 GiB" in said, said
    assert "copy wave-01/systems.yaml over it" not in said


@pytest.mark.parametrize(
    ("stopped", "said"),
    [
        ("work limit", "the search for fewer waves stopped at its work limit (a count of HiGHS nodes: the same "
         "declaration gives these waves on any machine), so fewer may exist"),
        ("time limit", "**the search for fewer waves stopped at its time safety limit** (`--wave-time-limit`) before "
         "its work limit: these waves depend on the machine's speed and load"),
    ],
)  # fmt: skip
def test_plan_md_says_where_the_search_for_fewer_waves_stopped(
    yulin: Declaration, tmp_path: Path, stopped: str, said: str
) -> None:
    """Yulin's plan written with waves whose search stopped at a limit: PLAN.md's waves line says which (the work
    limit: the same waves on any machine; the time safety: waves that depend on the machine) and plan.json records
    it; the plan of a search that ended on its own says neither."""
    planned = build_instance(yulin)
    assignment = solve(planned.instance)
    assert assignment.destinations is not None
    found = plan_waves(planned.instance, assignment.destinations)
    assert found.stopped is None, "Yulin's heuristics meet the bound: nothing to search"
    write_city_plan(YULIN, planned, assignment, found, tmp_path / "ended")
    assert "the search for fewer waves" not in (tmp_path / "ended" / "PLAN.md").read_text(encoding="utf-8")
    write_city_plan(YULIN, planned, assignment, replace(found, fewest=False, stopped=stopped), tmp_path / "plan")
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    waves_line = next(line for line in markdown.splitlines() if line.startswith("- Waves: "))
    assert said in waves_line, waves_line
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["waves_search"] == {"method": found.method, "fewest": False, "stopped": stopped}


@pytest.mark.parametrize(
    ("stopped", "said"),
    [
        ("work limit", "HiGHS stopped at its work limit with the plan 0.1000% above the bound (a count of "
         "branch-and-bound nodes: the same declaration gives this plan on any machine), so a cheaper plan may exist"),
        ("time limit", "**HiGHS stopped at its time safety limit** (`--time-limit`) before its work limit with the "
         "plan 0.1000% above the bound: this plan depends on the machine's speed and load"),
        ("repair limit", "HiGHS stopped after 21 rounding repairs with the plan 0.1000% above the bound (its repair "
         "limit: each plan it gave broke a pool's capacity or the relief by a rounding error and was cut off; the "
         "same declaration gives this plan on any machine), so a cheaper plan may exist"),
    ],
)  # fmt: skip
def test_plan_md_says_which_limit_stopped_the_assignment_solver(
    yulin: Declaration, tmp_path: Path, stopped: str, said: str
) -> None:
    """Yulin's plan written as if HiGHS had stopped at a limit before proving it optimal: PLAN.md's solver line says
    which (the work limit: the same plan on any machine; the time safety: a plan that depends on the machine; the
    repair limit: after how many rounding repairs, never a time limit) and the gap reached, and plan.json records them
    with the repairs; the plan HiGHS proved optimal says neither."""
    planned = build_instance(yulin)
    assignment = solve(planned.instance)
    assert assignment.destinations is not None
    assert (assignment.status, assignment.stopped) == ("optimal", None), "Yulin's optimum is proven at the root"
    found = plan_waves(planned.instance, assignment.destinations)
    write_city_plan(YULIN, planned, assignment, found, tmp_path / "proven")
    assert "HiGHS stopped" not in (tmp_path / "proven" / "PLAN.md").read_text(encoding="utf-8")
    proven = json.loads((tmp_path / "proven" / "plan.json").read_text(encoding="utf-8"))
    assert proven["solver"] == {"stopped": None, "gap": 0.0, "repairs": 0, "greedy": False}, proven["solver"]
    cut_short = replace(assignment, status=stopped.replace(" ", "_"), stopped=stopped, gap=0.001, repairs=21)
    write_city_plan(YULIN, planned, cut_short, found, tmp_path / "plan")
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    solver_line = next(line for line in markdown.splitlines() if line.startswith("- Solver: "))
    assert said in solver_line, solver_line
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["solver"] == {"stopped": stopped, "gap": 0.001, "repairs": 21, "greedy": False}, plan["solver"]


def test_plan_md_says_the_greedy_plan_was_kept_and_what_stopped_highs(yulin: Declaration, tmp_path: Path) -> None:
    """Yulin's plan written as the greedy plan kept because HiGHS gave none as cheap before its work limit: PLAN.md's
    solver line says heuristic, that the greedy plan was kept and why, with the limit and the gap, and plan.json
    records it as the greedy plan."""
    planned = build_instance(yulin)
    assignment = solve(planned.instance)
    assert assignment.destinations is not None
    found = plan_waves(planned.instance, assignment.destinations)
    kept = replace(assignment, status="heuristic", stopped="work limit", gap=0.001, greedy=True)
    write_city_plan(YULIN, planned, kept, found, tmp_path / "plan")
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    solver_line = next(line for line in markdown.splitlines() if line.startswith("- Solver: "))
    assert solver_line.startswith("- Solver: heuristic"), solver_line
    said = (
        "the greedy plan was kept, as HiGHS gave none as cheap: HiGHS stopped at its work limit with the plan 0.1000% "
        "above the bound"
    )
    assert said in solver_line, solver_line
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert (plan["status"], plan["solver"]["greedy"], plan["solver"]["stopped"]) == ("heuristic", True, "work limit")


def test_plan_md_states_a_bound_of_zero_cny(yulin: Declaration, tmp_path: Path) -> None:
    """A solver bound of 0 CNY (a relief whose cheapest plan may cost nothing) is a bound like any other: PLAN.md's
    solver line states it, as plan.json does, rather than leaving it out as if HiGHS had none."""
    planned = build_instance(yulin)
    assignment = solve(planned.instance)
    assert assignment.destinations is not None
    found = plan_waves(planned.instance, assignment.destinations)
    write_city_plan(YULIN, planned, replace(assignment, bound=0.0), found, tmp_path / "plan")
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    solver_line = next(line for line in markdown.splitlines() if line.startswith("- Solver: "))
    assert solver_line.startswith(f"- Solver: {assignment.status}, bound 0 CNY"), solver_line
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["bound_cny"] == 0, plan["bound_cny"]


def _tenths(shown: str) -> int:
    """A TiB figure of PLAN.md or the summary ('1,234.5') in tenths of a TiB."""
    return round(Fraction(shown.replace(",", "")) * 10)


def test_the_waves_shown_add_up_to_the_bytes_copied_shown(tmp_path: Path) -> None:
    """Yulin's waves copy 55.37, 39.375 and 32.75 TiB: each rounded on its own they read 55.4 + 39.4 + 32.8 = 127.6,
    while their total reads 127.5. PLAN.md's wave headings add up to the total its moves line and the command's summary
    show, each within a tenth of its exact figure."""
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    exact = [Fraction(sum(entry["copy_bytes"] for entry in wave) * 10, 2**40) for wave in plan["waves"]]
    total = round(sum(exact))
    assert sum(map(round, exact)) != total, "premise: the waves' separate roundings do not add up to the total's"
    markdown = (out / "PLAN.md").read_text(encoding="utf-8")
    headings = [_tenths(m) for m in re.findall(r"^## Wave \d+: \d+ system\(s\), ([\d,.]+) TiB$", markdown, re.M)]
    moves = re.search(r"^- Moves: \d+ systems, ([\d,.]+) TiB copied", markdown, re.M)
    summary = re.search(r"bytes copied\s*│\s*([\d,.]+) TiB", result.output)
    assert moves is not None, markdown
    assert summary is not None, result.output
    assert _tenths(moves[1]) == _tenths(summary[1]) == total == sum(headings), (headings, moves[1], summary[1])
    assert all(abs(shown - figure) < 1 for shown, figure in zip(headings, exact, strict=True)), (headings, exact)


def test_the_systems_shown_in_a_wave_add_up_to_its_heading(yulin: Declaration, tmp_path: Path) -> None:
    """Yulin's three moves written as one wave (55.37 + 39.375 + 32.75 TiB, which read 55.4 + 39.4 + 32.8 each
    rounded on its own): the wave's rows add up to its heading, 127.5 TiB, each within a tenth of its exact figure,
    and the assessment shows each moved system copying what its row shows."""
    planned = build_instance(yulin)
    assignment = solve(planned.instance)
    assert assignment.destinations is not None
    found = plan_waves(planned.instance, assignment.destinations)
    together = replace(found, waves=(tuple(code for wave in found.waves for code in wave),))
    write_city_plan(YULIN, planned, assignment, together, tmp_path / "plan")
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    heading = re.search(r"^## Wave 1: 3 system\(s\), ([\d,.]+) TiB$", markdown, re.M)
    assert heading is not None, markdown
    table = markdown[heading.end() : markdown.index("## Assessment")]
    rows = {
        line.split()[1]: line.split(" | ")[6]
        for line in table.splitlines()
        if line.startswith("| ") and "---" not in line
    }
    rows.pop("system")
    exact = {s.id: Fraction(s.copied * 10, 2**40) for s in planned.instance.systems if s.id in rows}
    assert sum(map(round, exact.values())) != round(sum(exact.values())), "premise: separate roundings disagree"
    assert sum(_tenths(shown) for shown in rows.values()) == _tenths(heading[1]) == round(sum(exact.values())), rows
    assert all(abs(_tenths(rows[code]) - figure) < 1 for code, figure in exact.items()), (rows, exact)
    assessment = markdown[markdown.index("## Assessment") :].splitlines()
    for code, shown in rows.items():
        line = next(line for line in assessment if line.startswith(f"| {code} "))
        assert f"| {shown} |" in line, (code, shown, line)


def test_plan_json_has_the_exact_bytes_freed_and_copied_in_all_and_per_wave(planned: Path) -> None:
    """plan.json states what PLAN.md and the summary show rounded, in exact bytes: per wave and in all, what the moves
    are counted as freeing and what they copy, each the sum of its systems' figures, so a tool need not add them."""
    plan = json.loads((planned / "plan.json").read_text(encoding="utf-8"))
    waves = plan["waves"]
    assert plan["wave_copy_bytes"] == [sum(entry["copy_bytes"] for entry in wave) for wave in waves], plan
    assert plan["wave_freed_bytes"] == [sum(entry["bytes"] for entry in wave) for wave in waves], plan
    assert plan["copy_bytes"] == sum(entry["copy_bytes"] for wave in waves for entry in wave), plan["copy_bytes"]
    assert plan["freed_bytes"] == sum(entry["bytes"] for wave in waves for entry in wave), plan["freed_bytes"]
    assert all(isinstance(plan[key], int) for key in ("copy_bytes", "freed_bytes")), "whole bytes, not TiB"
    assert plan["copy_bytes"] > 0, "Yulin's plan moves systems (premise)"
