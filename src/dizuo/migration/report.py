"""The city's migration plan on disk: what reviewers read, what CI checks, what engineers apply wave by wave.

``--out`` gets, all at once (written beside it, then renamed into place):

- ``PLAN.md``: the plan for people: relief, cost, pools, and per wave the systems with every change they need;
- ``plan.json``: the same for tools (assignments, waves, changes, costs), and the sha256 of the systems.yaml it was
  planned from and of each wave's systems.yaml and data-copies.yml, for ``dizuo migrate check-wave``
  (:func:`check_wave`);
- ``instance.json``: the planning instance (bench/migration FORMAT.md plus shared storage), for ``dizuo migrate plan``;
  none when what stays on the legacy pool anyway passes its fill target (no instance can say so, see below);
- ``wave-NN/systems.yaml``: the declaration's systems.yaml after waves 1..NN, and ``wave-NN/systems.yaml.diff``
  against the one before: the stack change of that wave, to review, copy into the declaration and ``dizuo up``
  (a whole file: copied over anything but the file it starts from, it undoes edits or moves other waves' systems);
- ``wave-NN/data-copies.yml``: the wave's data copies, for roles/data_migration.yml (copy, verify, never delete).
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import math
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from dizuo.declaration.loader import DeclarationError, Problem, load_documents
from dizuo.files import make_staging, plain_mode, resolved_out
from dizuo.migration.city import (
    GIB,
    Change,
    CityInstance,
    allocated_gib,
    apply_changes,
    change_of,
    check_declaration,
    database_after_move,
    read_systems_yaml,
)
from dizuo.migration.instance import System
from dizuo.migration.outlook import Projected
from dizuo.migration.solve import TIB, Assignment, show_bytes, stopped_after_repairs
from dizuo.migration.validate import Plan, plan_cost
from dizuo.migration.waves import Waves


def plan_changes(city: CityInstance, destinations: dict[str, str | None], waves: Waves) -> list[list[Change]]:
    """Per wave, the declaration change of each system it moves."""
    return [[change_of(city, code, destinations[code] or "") for code in wave] for wave in waves.waves]


@dataclass(frozen=True, slots=True)
class WrittenPlan:
    """Where a plan went and what the console says of it as PLAN.md and plan.json do."""

    out: Path
    warnings: list[str]  # plan.json's
    deadline: Deadline | None  # a forecast plan's, as PLAN.md states it


def write_city_plan(
    root: Path, city: CityInstance, assignment: Assignment, waves: Waves | None, out: Path
) -> WrittenPlan:
    """Write the plan (or the reason there is none) to ``out``, a new or empty directory; return where it went, its
    warnings and deadline.

    Every wave's systems.yaml is checked as ``dizuo validate`` checks the declaration before anything is written
    (DeclarationError otherwise): a plan on disk is one whose every step the stacks accept.
    """
    files: dict[str, str] = {}
    # An unrelievable pool's instance only says the candidates may keep nothing (its target cannot go below zero):
    # `dizuo migrate plan` could solve it with every candidate moved and the pool still past its target.
    if city.unrelievable is None:
        files["instance.json"] = _instance_json(city)
    changes: list[list[Change]] = []
    hashes: list[str] = []  # the systems.yaml planned from, then each wave's
    copy_hashes: list[str] = []  # each wave's data-copies.yml
    if waves is not None and assignment.destinations is not None:
        changes = plan_changes(city, assignment.destinations, waves)
        documents = load_documents(root)  # the other files, read once for every wave's check
        # Edited with LF line breaks, as the loader and ruamel.yaml read it; written with the file's own line end
        # (and byte order mark), so that a wave's file differs from the declaration exactly in its diff.
        before, written = read_systems_yaml(root)
        hashes.append(_sha256(written.file(before)))  # the file's own bytes: it has one line end
        previous = "systems.yaml"
        for k, wave in enumerate(changes, start=1):
            after = apply_changes(before, wave)
            check_declaration(root, documents, after)
            folder = wave_folder(k, len(changes))
            files[f"{folder}/systems.yaml"] = written.file(after)
            hashes.append(_sha256(files[f"{folder}/systems.yaml"]))
            files[f"{folder}/data-copies.yml"] = data_copies(city, wave, folder)
            copy_hashes.append(_sha256(files[f"{folder}/data-copies.yml"]))
            files[f"{folder}/systems.yaml.diff"] = "".join(
                # A last line without a line end is marked as diff marks it, which patch reads back.
                line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n"
                for line in difflib.unified_diff(
                    _lines(written.file(before)),
                    _lines(written.file(after)),
                    fromfile=previous,
                    tofile=f"{folder}/systems.yaml",
                )
            )
            before, previous = after, f"{folder}/systems.yaml"
    shown = shown_copies(city, changes)
    deadline = plan_deadline(city, len(changes))
    warnings = plan_warnings(city, changes, shown, deadline)
    document = _plan_document(city, assignment, waves, changes, warnings, deadline)
    if hashes:
        document |= {
            "systems_yaml_sha256": hashes[0],
            "wave_systems_yaml_sha256": hashes[1:],
            "wave_data_copies_sha256": copy_hashes,
        }
    files["plan.json"] = json.dumps(document, ensure_ascii=False, indent=1)
    files["PLAN.md"] = _markdown(city, assignment, waves, changes, shown, deadline, hashes[0] if hashes else "")
    _write_at_once(files, out)
    return WrittenPlan(out, warnings, deadline)


def _sha256(text: str) -> str:
    """The sha256 of ``text`` as its file holds it (UTF-8, written with newline="")."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def wave_folder(wave: int, waves: int) -> str:
    """The folder of wave ``wave`` (from 1) of a plan of ``waves``: wave-01, or wave-001 past 99 waves."""
    return f"wave-{wave:0{max(2, len(str(waves)))}d}"


class PlanReadError(Exception):
    """A plan folder that cannot be read as `dizuo migrate city` writes it (the message names file, key and value)."""


def check_wave(plan_dir: Path, wave: int, declaration: Path) -> tuple[bool, str]:
    """Whether ``wave``'s systems.yaml may be copied over ``declaration``'s: True when that one is the file the wave
    starts from (the one planned from for wave 1, wave N-1's after) or already the wave's; False, saying what it is,
    otherwise (edited since planning: the copy would undo the edits; an earlier wave's: the copy would move that
    wave's systems without their data copies; where it starts, but the other files no longer admit the wave: copied in,
    `dizuo validate` would refuse the declaration; or the wave's data-copies.yml is not the planned one: an entry lost
    there is a volume never copied). PlanReadError for a plan folder or wave that cannot be read."""
    plan_json = plan_dir / "plan.json"
    if not plan_dir.is_dir():
        raise PlanReadError(
            f"{plan_dir}: no such plan folder: give the folder `dizuo migrate city --out` wrote the plan into"
        )
    try:
        plan = json.loads(plan_json.read_text(encoding="utf-8"))
    except OSError as err:
        # The reason only ("No such file or directory"): Python's "[Errno 2] ...: '<path>'" repeats the path.
        raise PlanReadError(f"{plan_json}: cannot be read as a plan: {err.strerror}") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise PlanReadError(f"{plan_json}: cannot be read as a plan: {err}") from None
    base = plan.get("systems_yaml_sha256") if isinstance(plan, dict) else None
    after = _hashes(plan, "wave_systems_yaml_sha256")
    # A plan made before plan.json recorded the copy lists has none: its waves still apply (planning again mid-way
    # could move other systems), their copy lists unchecked, as the OK message says.
    copied = _hashes(plan, "wave_data_copies_sha256")
    if not isinstance(base, str) or after is None or (copied is not None and len(after) != len(copied)):
        raise PlanReadError(
            f"{plan_json}: systems_yaml_sha256 / wave_systems_yaml_sha256: missing (a plan without waves, or made by "
            "an older dizuo): plan again with `dizuo migrate city`"
        )
    if not after:
        raise PlanReadError(f"{plan_json}: the plan moves nothing: there is no wave to apply")
    if not 1 <= wave <= len(after):
        raise PlanReadError(f"{plan_json}: wave {wave}: the plan has waves 1 to {len(after)}")
    folder = wave_folder(wave, len(after))
    try:
        current = hashlib.sha256((declaration / "systems.yaml").read_bytes()).hexdigest()
    except OSError as err:
        raise PlanReadError(f"{err.filename}: cannot be read: {err.strerror}") from None
    if edited := _wave_edited(plan_dir / folder, after[wave - 1], None if copied is None else copied[wave - 1]):
        return False, edited
    unchecked = (
        ""
        if copied is not None
        else f" ({folder}/data-copies.yml not checked: this plan.json, made by an older dizuo, records no hash of it;"
        " compare it with PLAN.md's wave by hand)"
    )
    names = {base: "the systems.yaml the plan was made from"} | {
        h: f"wave {k}'s systems.yaml" for k, h in enumerate(after, start=1)
    }
    start = base if wave == 1 else after[wave - 2]
    here = declaration / "systems.yaml"
    if current == after[wave - 1]:
        return True, f"{here} is already wave {wave}'s: nothing to copy{unchecked}"
    if current == start:
        # The hash covers systems.yaml only: the other files (clusters, departments, datasets) may have changed since
        # planning, and a wave they no longer admit would leave a declaration `dizuo validate` refuses.
        if refused := _refusals(plan_dir / folder, declaration):
            shown = "; ".join(map(str, refused[:SHOWN_PROBLEMS])) + (
                f"; and {len(refused) - SHOWN_PROBLEMS} more" if len(refused) > SHOWN_PROBLEMS else ""
            )
            return False, (
                f"{here} is {names[start]}, where wave {wave} starts, but the declaration's other files changed since "
                f"planning: with {folder}/systems.yaml copied in it would not pass `dizuo validate` ({shown}). Plan "
                "again with `dizuo migrate city`"
            )
        return (
            True,
            f"{here} is {names[start]}, where wave {wave} starts: copy {folder}/systems.yaml over it{unchecked}",
        )
    if current in names:
        earlier = current == base or after.index(current) + 1 < wave
        return False, (
            f"{here} is {names[current]}, and wave {wave} starts from {names[start]}: "
            + (
                "apply the waves between first (copying this wave's file now would move their systems too, without "
                "their data copies)"
                if earlier
                else "the declaration is past this wave already"
            )
        )
    return False, (
        f"{here} was edited since the plan was made (sha256 {current}; wave {wave} starts from {names[start]}, sha256 "
        f"{start}): copying {folder}/systems.yaml over it would undo those edits. Plan again with `dizuo migrate "
        "city`, or carry the edits into the wave's file by hand and review its diff"
    )


def _wave_edited(wave_dir: Path, systems_sha256: str, copies_sha256: str | None) -> str | None:
    """What of the wave's files differs from the plan's record (plan.json's sha256 of each; None: not recorded), or
    None."""
    systems, copies = wave_dir / "systems.yaml", wave_dir / "data-copies.yml"
    try:
        planned = hashlib.sha256(systems.read_bytes()).hexdigest()
        copies_now = None if copies_sha256 is None else hashlib.sha256(copies.read_bytes()).hexdigest()
    except OSError as err:
        raise PlanReadError(f"{err.filename}: cannot be read: {err.strerror}") from None
    if planned != systems_sha256:
        return (
            f"{systems} was changed since it was planned (sha256 {planned}, plan.json says {systems_sha256}): plan "
            "again rather than apply an edited wave"
        )
    # An entry deleted or changed by mistake would leave a volume's data behind, its system started without it.
    if copies_now != copies_sha256:
        return (
            f"{copies} differs from the plan (sha256 {copies_now}, plan.json says {copies_sha256}): an entry deleted "
            "or changed there leaves a volume's data uncopied. Restore the planned file (or plan again with `dizuo "
            "migrate city`); volumes to copy beyond the plan's go in a file of their own, run after it (README: "
            f"copies added to a wave), never into {copies.name}"
        )
    return None


def _hashes(plan: object, key: str) -> list[str] | None:
    """The list of sha256 at ``key`` of a read plan.json, or None where it has none."""
    value = plan.get(key) if isinstance(plan, dict) else None
    return value if isinstance(value, list) and all(isinstance(h, str) for h in value) else None


# Problems a check-wave refusal quotes before it says how many more there are.
SHOWN_PROBLEMS = 5


def _refusals(wave_dir: Path, root: Path) -> list[Problem]:
    """What `dizuo validate` would find wrong with ``root`` once ``wave_dir``'s systems.yaml is copied in."""
    try:
        check_declaration(root, load_documents(root), read_systems_yaml(wave_dir)[0])
    except DeclarationError as err:
        return list(err.problems)
    return []


def _lines(text: str) -> list[str]:
    """``text``'s lines with their ends, as diff and patch see them: split after each LF only (str.splitlines would
    split a CRLF file the same, but also at form feeds and Unicode line separators inside a line)."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


def _instance_json(city: CityInstance) -> str:
    instance = city.instance.model_dump(mode="json")
    if instance["cpu_units_per_core"] == 1:  # whole cores: FORMAT.md's own instance
        del instance["cpu_units_per_core"]
    if instance["memory_units_per_byte"] == 1:  # whole bytes: FORMAT.md's own instance
        del instance["memory_units_per_byte"]
    for system in instance["systems"]:
        for key in ("room_bytes", "copy_bytes"):
            if system[key] is None:  # FORMAT.md's own instance: no key of dizuo's extensions
                del system[key]
    return json.dumps(instance, ensure_ascii=False, indent=1) + "\n"


class PlanWriteError(Exception):
    """``--out`` could not take the plan; nothing of it was left behind. ``taken``: because something is there
    (the input's problem), not because writing failed."""

    def __init__(self, message: str, *, taken: bool = False) -> None:
        super().__init__(message)
        self.taken = taken


def _write_at_once(files: dict[str, str], out: Path) -> None:
    """Write ``files`` beside ``out``, then rename them into place: all of the plan appears at once, or none."""
    target = resolved_out(out)  # `link/../x` is x beside link's target, where the checks looked
    staging: Path | None = None
    renaming = False
    try:
        staging = make_staging(target)
        for name, text in files.items():
            (staging / name).parent.mkdir(mode=plain_mode(directory=True), exist_ok=True)
            (staging / name).write_text(text, encoding="utf-8", newline="")  # the line ends as given, anywhere
        renaming = True
        staging.rename(target)  # onto a new path or an empty directory
    except BaseException as err:  # an interrupt too: no staging folder stays behind
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if not isinstance(err, OSError):
            raise
        if renaming and err.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise PlanWriteError(
                f"--out {out}: something was put there while the plan was made; nothing was written (a plan is never "
                "written over anything): plan again into a new directory",
                taken=True,
            ) from err
        raise PlanWriteError(f"--out {out}: the plan could not be written, nothing was: {err}") from err


# Where a claim that no pod mounts could not be known (the source's `exists` query failed), first words of the warning
# in the console, PLAN.md, plan.json and each wave's data-copies.yml.
IDLE_UNREAD = "idle claims could not be read: check by hand"


def data_copies(city: CityInstance, wave: list[Change], folder: str) -> str:
    """The extra-vars file of roles/data_migration.yml for one wave: each moved volume's mount, old to new.

    Planned from the usage forecast, a measured system's volumes are known (its series on the legacy pool): each gets
    its own entry, ``<system>-<volume>`` (see :func:`copy_names`), so that none is left behind for the operator to
    add. Any other system (planned from allocations, or without a volume series) is one entry, ``<system>``, and the
    header says so. Such a system allocated no storage (``storage_gib: 0``: its quota allows no claim) has no volume
    to mount: a copy of it would make the role refuse the whole list (its source is no mount point), so it is named,
    not listed.
    """
    m, root = city.migration, city.migration.copy_mount_root
    names = copy_names(city)
    # A volume the forecast measured holds data whatever the quota says: only an unmeasured system is taken at it.
    volumeless = [c.code for c in wave if city.system(c.code).resources.storage_gib == 0 and "" in names[c.code]]
    copied = [c for c in wave if c.code not in volumeless]
    copies = [
        {
            "name": name,
            "source": f"{root}/{c.storage_pool[0]}/{name}",
            "destination": f"{root}/{c.storage_pool[1]}/{name}",
        }
        for c in copied
        for name in names[c.code].values()
    ]
    measured = [c.code for c in copied if names[c.code].keys() != {""}]
    assumed = [c.code for c in copied if names[c.code].keys() == {""}]
    outlook = city.outlook
    idle = [
        names[c.code][series]
        for c in copied
        if outlook is not None and c.code in outlook.systems
        for series in outlook.systems[c.code].idle
    ]
    head = [
        f"# {folder} of {city.declaration.city.code}'s migration plan: the data of the systems it moves.",
        *(
            [
                f"# WARNING: {IDLE_UNREAD}. Prometheus failed the `exists` query of the "
                f"{', '.join(outlook.exists_unread)} selector",
                "# (PLAN.md says how), so a claim no pod mounted at planning time is in no entry here: check each",
                f"# moved system's claims on {m.legacy_storage_pool} against this list and give a missing one its own",
                f"# entry in {folder}/data-copies-added.yml (README: copies added to a wave).",
            ]
            if outlook is not None and outlook.exists_unread
            else []
        ),
        f"# On the migration host, mount each volume below from {m.legacy_storage_pool} at "
        f"{root}/{m.legacy_storage_pool}/<name>",
        f"# and its new, empty one from {m.target_storage_pool} at {root}/{m.target_storage_pool}/<name>, then:",
        # Both paths from the folder it runs in, the repository's, as README's command: the plan is a folder there.
        f"#   ansible-playbook -i <inventory> roles/data_migration.yml -e @<plan folder>/{folder}/data-copies.yml \\",
        "#     -e data_migration_hosts=<migration host>",
        "# (<inventory>: the declaration's hosts, as `dizuo inventory <declaration> > hosts.yml` writes them;",
        "# without data_migration_hosts: the hosts of group data_migration; a run that matches no host fails).",
        "# rsync copies, every byte is verified by sha256 and the manifest kept; the source is never changed.",
        "# Each source and destination must be a mount point (an unmounted volume is an empty folder).",
    ]
    if measured:
        head += [
            "# One entry per volume (name <system>-<volume>) the usage forecast measured on "
            f"{m.legacy_storage_pool}: {', '.join(measured)}.",
            # Idle claims are known only where the source lists the claims that exist (kube-state-metrics); one with
            # no sample in the whole history read is known nowhere.
            "# A claim of theirs in no usage series read (nor listed as existing by kube-state-metrics) is not known",
            f"# here: check each one's claims on {m.legacy_storage_pool} against this list, and give a missing one its"
            " own entry",
            f"# in a file of your own beside this one (e.g. {folder}/data-copies-added.yml, README: copies added to a",
            "# wave): `dizuo migrate check-wave` refuses this one edited.",
        ]
    if idle:
        head += [
            "# Idle at planning time (no recent usage sample: no pod mounted them; sized at their last sample), copied",
            f"# all the same: {', '.join(idle)}.",
        ]
    if assumed:
        head += [
            f"# One entry each, their volumes not known to the plan (assumed one): {', '.join(assumed)}; where one's",
            "# data is on several volumes, mount one at its entry's paths and give each other its own entry (name",
            f"# <system>-<volume>) in a file of your own beside this one (e.g. {folder}/data-copies-added.yml): `dizuo",
            "# migrate check-wave` refuses this one edited.",
        ]
    if volumeless:
        head.append(f"# No volume to copy (storage_gib 0), so not listed: {', '.join(volumeless)}.")
    return "\n".join(head) + "\n" + yaml.safe_dump({"data_migration_copies": copies}, sort_keys=False)


# What a copy's name may hold beside its system code: the role's own pattern (a name is a file name of its evidence).
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def copy_names(city: CityInstance) -> dict[str, dict[str, str]]:
    """Per candidate, the name of each of its copies (the last part of their mount paths and evidence files), by the
    series of its volume; ``{"": code}`` where its volumes are not known (no forecast, or no series of it).

    A volume's name is ``<system>-<claim>`` (its claim, the last part of its volume label), with only the characters
    the role takes; where that changed the claim, or names two copies of the plan alike (``a-b`` + ``c`` and ``a`` +
    ``b-c``, one claim in two clusters), the first 10 hex digits of the sha256 of its series follow: stable from plan
    to plan, and unique, in every wave, since a copy's evidence is kept by its name.
    """
    outlook = city.outlook
    claims: dict[str, dict[str, str]] = {}  # code -> series -> claim, of each candidate whose volumes are known
    for system in city.candidates:
        measured = None if outlook is None else outlook.systems.get(system.code)
        if measured is not None and measured.series:
            claims[system.code] = {
                series: volume.rpartition("/")[2]
                for series, volume in zip(measured.series, measured.volumes, strict=True)
            }
    parts = {
        code: {series: _UNSAFE_IN_NAME.sub("-", claim).strip("-") for series, claim in found.items()}
        for code, found in claims.items()
    }
    plain = {
        code: {series: "-".join(filter(None, (code, part))) for series, part in found.items()}
        for code, found in parts.items()
    }
    # A system whose volumes are not known is one copy, named by its code: a volume's name must not take that either.
    taken = Counter([name for found in plain.values() for name in found.values()])
    taken.update(s.code for s in city.candidates if s.code not in claims)
    names: dict[str, dict[str, str]] = {}
    for system in city.candidates:
        code = system.code
        if code not in claims:
            names[code] = {"": code}
            continue
        names[code] = {}
        for series, name in plain[code].items():
            exact = parts[code][series] == claims[code][series]  # not emptied or changed to what the role takes
            digest = hashlib.sha256(series.encode("utf-8")).hexdigest()[:10]
            names[code][series] = name if exact and taken[name] == 1 else f"{name}-{digest}"
    return names


def _planned(city: CityInstance, code: str) -> System:
    return next(s for s in city.instance.systems if s.id == code)


def _cost(city: CityInstance, code: str, pool: str) -> int:
    return _planned(city, code).cost[pool] or 0


def _when(at: int | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _forecast_document(city: CityInstance) -> dict[str, Any] | None:
    """What the sizes were read from, for tools: None when they are the declaration's allocations."""
    outlook = city.outlook
    if outlook is None:
        return None
    return {
        "asof": outlook.asof,
        "horizon_days": outlook.days_ahead,
        "pools": {
            name: {
                **_projected_document(p.projected),
                "capacity_bytes": p.capacity_bytes,
                "past_fill_target_at": p.fill_at,
                "past_fill_target_p10": p.fill_p10,
            }
            for name, p in outlook.pools.items()
        },
        "systems": {code: _projected_document(p) for code, p in outlook.systems.items()},
        "systems_unmeasured": sorted(_codes(city) - set(outlook.systems)),
        "exists_unread": dict(outlook.exists_unread),
    }


def idle_unread_warning(city: CityInstance, *, markdown: bool = False) -> str | None:
    """What the operator must do by hand when the source could not say which claims exist unmounted (its `exists`
    query failed): such a claim got no data copy. None when it could (or the sizes are not Prometheus's). With
    ``markdown``, PLAN.md's line: the warning in bold, Prometheus's answer a code span."""
    outlook = city.outlook
    if outlook is None or not outlook.exists_unread:
        return None
    quote = _code if markdown else str
    failed = "; ".join(f"of the {kind} selector ({quote(why)})" for kind, why in outlook.exists_unread.items())
    return (
        (f"**Warning: {IDLE_UNREAD}.**" if markdown else f"{IDLE_UNREAD}.")
        + f" Prometheus failed the `exists` query (which claims exist that no pod mounts) {failed}, "
        "so a moved system's claim that no pod mounted at planning time (one only a nightly loader mounts) is in no "
        "wave's data-copies.yml and its data would never be copied: check each moved system's claims on "
        f"{quote(city.migration.legacy_storage_pool)} against its wave's list and give a missing one its own entry in "
        "wave-NN/data-copies-added.yml beside it (README: copies added to a wave), or plan again once the query "
        "answers."
    )


def _projected_document(p: Projected) -> dict[str, Any]:
    return {
        "used_bytes": round(p.used_bytes),
        "median_bytes": round(p.median_bytes),
        "p90_bytes": round(p.high_bytes),
        "series": list(p.series),
        "idle_series": list(p.idle),
    }


def _codes(city: CityInstance) -> set[str]:
    return {s.code for s in city.candidates}


def waves_search_sentence(waves: Waves) -> str:
    """What PLAN.md says of a search for fewer waves that a limit stopped (nothing where it ended on its own): at its
    work limit the waves are the same on any machine; at its time safety they depend on the machine."""
    if waves.stopped == "work limit":
        return (
            "; the search for fewer waves stopped at its work limit (a count of HiGHS nodes: the same declaration "
            "gives these waves on any machine), so fewer may exist"
        )
    if waves.stopped == "time limit":
        return (
            "; **the search for fewer waves stopped at its time safety limit** (`--wave-time-limit`) before its "
            "work limit: these waves depend on the machine's speed and load; plan again with a larger "
            "`--wave-time-limit` for waves any machine gives"
        )
    return ""


def solver_sentence(assignment: Assignment) -> str:
    """What PLAN.md says of an assignment HiGHS did not prove optimal (nothing where it did): the limit that stopped
    it (at its work limit or its repair limit the plan is the same on any machine; at its time safety it depends on
    the machine), and first, for the greedy plan, that it was kept because HiGHS gave none as cheap."""
    gap = "" if assignment.gap is None else f" with the plan {assignment.gap:.4%} above the bound"
    limit = _solver_limit_clause(assignment, gap)
    if assignment.greedy and assignment.status != "optimal":
        kept = "; the greedy plan was kept, as HiGHS gave none as cheap"
        return f"{kept}: {limit}" if limit else f"{kept}{gap}, so a cheaper plan may exist"
    return f"; {limit}" if limit else ""


def _solver_limit_clause(assignment: Assignment, gap: str) -> str:
    """The limit that stopped HiGHS before it proved the plan optimal, for PLAN.md ("": none did)."""
    if assignment.stopped == "work limit":
        return (
            f"HiGHS stopped at its work limit{gap} (a count of branch-and-bound nodes: the same declaration "
            "gives this plan on any machine), so a cheaper plan may exist"
        )
    if assignment.stopped == "repair limit":
        return (
            f"HiGHS {stopped_after_repairs(assignment.repairs)}{gap} (its repair limit: each plan it gave "
            "broke a pool's capacity or the relief by a rounding error and was cut off; the same declaration gives "
            "this plan on any machine), so a cheaper plan may exist"
        )
    if assignment.stopped == "time limit":
        return (
            f"**HiGHS stopped at its time safety limit** (`--time-limit`) before its work limit{gap}: this plan "
            "depends on the machine's speed and load; plan again with a larger `--time-limit` for a plan any "
            "machine gives"
        )
    return ""


def solver_document(assignment: Assignment) -> dict[str, Any]:
    """How the solve ended, as plan.json and `dizuo migrate plan`'s stdout both carry it (the benchmark reads it)."""
    return {
        "status": assignment.status,
        # The limit that stopped HiGHS before it proved the plan optimal (None: it did), the gap it reached, the
        # plans it gave that rounding broke (cut off and solved again; past MAX_REPAIRS, stopped is "repair limit"),
        # and whether the plan is the greedy one, kept as HiGHS gave none as cheap.
        "solver": {
            "stopped": assignment.stopped,
            "gap": assignment.gap,
            "repairs": assignment.repairs,
            "greedy": assignment.greedy,
        },
    }


def _plan_document(
    city: CityInstance,
    assignment: Assignment,
    waves: Waves | None,
    changes: list[list[Change]],
    warnings: list[str],
    deadline: Deadline | None,
) -> dict[str, Any]:
    instance = city.instance
    head: dict[str, Any] = {
        "city": city.declaration.city.code,
        **solver_document(assignment),
        "relief_needed_bytes": max(0, city.need_bytes),
        "sizes": "allocations" if city.outlook is None else "usage forecast",
        "forecast": _forecast_document(city),
        "warnings": warnings,
    }
    if waves is None or assignment.destinations is None:
        return {**head, "infeasible": True, "reason": assignment.reason}
    plan = Plan(assignment.destinations, [list(w) for w in waves.waves])
    waves_document: list[list[dict[str, Any]]] = [
        [
            {
                "system": c.code,
                "node_pool": list(c.node_pool),
                "storage_pool": list(c.storage_pool),
                "os": list(c.os),
                "new_arch": c.new_arch,
                "database": None if c.database is None else list(c.database),
                "bytes": _planned(city, c.code).projected_bytes,  # what the relief counts it as freeing
                "copy_bytes": _planned(city, c.code).copied,  # what its wave copies
                "allocated_bytes": city.system(c.code).resources.storage_gib * 2**30,
                "cost_cny": _cost(city, c.code, c.node_pool[1]),
            }
            for c in wave
        ]
        for wave in changes
    ]
    # Exact bytes of what PLAN.md and the summary show rounded: a tool need not add up the systems' figures.
    freed = [sum(system["bytes"] for system in wave) for wave in waves_document]
    copied = [sum(system["copy_bytes"] for system in wave) for wave in waves_document]
    return {
        **head,
        "cost_cny": plan_cost(instance, plan),
        "bound_cny": assignment.bound,
        "freed_bytes": sum(freed),  # what the relief counts the moves as freeing on the legacy pool
        "copy_bytes": sum(copied),  # what the waves copy
        "wave_freed_bytes": freed,
        "wave_copy_bytes": copied,
        "deadline": _deadline_document(deadline),
        "assignments": dict(assignment.destinations),
        "waves_search": {"method": waves.method, "fewest": waves.fewest, "stopped": waves.stopped},
        "waves": waves_document,
    }


# ASCII punctuation, every mark of which CommonMark lets a backslash make literal.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def _text(name: str) -> str:
    """A name from the declaration as literal Markdown text: one line (a line break would start a heading or end a
    table row), every ASCII punctuation mark escaped (no HTML, link, emphasis, code span or cell end)."""
    return _PUNCTUATION.sub(r"\\\1", " ".join(name.split()))


def _code(text: str) -> str:
    """``text`` as a Markdown code span, fenced by more backticks than any run of them inside it."""
    text = " ".join(text.split())
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _tib(size: float) -> str:
    return f"{size / TIB:,.1f}"


def _tenths_tib(tenths: int) -> str:
    """A count of tenths of a TiB as :func:`_tib` shows sizes."""
    return f"{tenths / 10:,.1f}"


def apportion(parts: Sequence[Fraction], total: int) -> list[int]:
    """``parts`` rounded to whole numbers that add up to ``total``, a rounding of their sum: each is rounded down,
    and what that leaves of ``total`` goes one each to the parts with the largest remainders (the earlier on a tie).
    Largest-remainder rounding: every part is within one of its exact figure, and a reader adding them up finds the
    total they are shown with."""
    shown = [math.floor(part) for part in parts]
    left = total - sum(shown)
    if not 0 <= left <= sum(1 for part, down in zip(parts, shown, strict=True) if part != down):
        raise ValueError(f"{total} is no rounding of the sum of {[str(part) for part in parts]}")
    for k in sorted(range(len(parts)), key=lambda k: (shown[k] - parts[k], k))[:left]:
        shown[k] += 1
    return shown


@dataclass(frozen=True, slots=True)
class ShownCopies:
    """The bytes a plan's waves copy as PLAN.md shows them, in tenths of a TiB: the total rounded as the command's
    summary rounds it, each wave's share of it and each system's of its wave's, so that the parts add up."""

    total: int
    waves: list[int]
    systems: dict[str, int]


def shown_copies(city: CityInstance, changes: list[list[Change]]) -> ShownCopies:
    """What PLAN.md shows each wave and moved system copying (see :class:`ShownCopies`)."""
    exact = [[Fraction(_planned(city, c.code).copied * 10, TIB) for c in wave] for wave in changes]
    total = round(sum((sum(wave, Fraction(0)) for wave in exact), Fraction(0)))  # half to even, as f"{:.1f}"
    waves = apportion([sum(wave, Fraction(0)) for wave in exact], total)
    systems = {
        c.code: tenths
        for wave, parts, wave_tenths in zip(changes, exact, waves, strict=True)
        for c, tenths in zip(wave, apportion(parts, wave_tenths), strict=True)
    }
    return ShownCopies(total, waves, systems)


def _target_room_line(city: CityInstance) -> str:
    """How much the target storage pool can take, in quotas, before its fill target."""
    m = city.migration
    pool = next(p for p in city.declaration.storage_pools() if p.name == m.target_storage_pool)
    allocated = allocated_gib(city.declaration, pool.name)
    room = min((share.storage_bytes for share in city.instance.shared_storage), default=0)
    return (
        f"- Room on `{pool.name}`: {room / TIB:,.1f} TiB to its {m.fill_target:.0%} fill target "
        f"({allocated:,} of {pool.capacity_gib:,} GiB allocated, {allocated / pool.capacity_gib:.1%})"
    )


def _target_usage_lines(city: CityInstance, moved: Sequence[str], shown: ShownCopies) -> list[str]:
    """The target storage pool is planned in quotas; where a series measures it, what its usage forecast says once
    the moved systems' volumes have arrived (their median projections): a plan within the quotas may not fit the
    usage. Its figures add up: the p90 as the forecast table shows it, what the moves bring as the moves line does
    (``shown.total``), and their sum, within a tenth of a TiB of the exact bytes as each part is within half of one."""
    outlook, m = city.outlook, city.migration
    target = None if outlook is None else outlook.pools.get(m.target_storage_pool)
    if target is None:
        return []
    pool = next(p for p in city.declaration.storage_pools() if p.name == m.target_storage_pool)
    arriving = sum(_planned(city, code).copied for code in moved)
    after, fill = target.projected.high_bytes + arriving, m.fill_gib(pool) * GIB
    # Rounded half to even from its exact value, as _tib shows it in the forecast table.
    p90_tenths = round(Fraction(target.projected.high_bytes) * 10 / TIB)
    line = (
        f"- `{pool.name}` in usage at the horizon: its p90 {_tenths_tib(p90_tenths)} TiB and the "
        f"{_tenths_tib(shown.total)} TiB the moves bring, {_tenths_tib(p90_tenths + shown.total)} TiB, "
    )
    if after <= fill:
        return [f"{line}within its {m.fill_target:.0%} fill target ({_tib(fill)} TiB)."]
    return [
        f"{line}**past** its {m.fill_target:.0%} fill target ({_tib(fill)} TiB): the plan fits the pool's quotas, "
        "not its usage forecast. Add capacity to it first, or lower what the quotas promise."
    ]


def _moves_line(city: CityInstance, moved: Sequence[str], shown: ShownCopies) -> str:
    """How many systems move and what their waves copy (the total their headings add up to); and what the relief
    counts as freed, where that is less (a candidate without a volume series frees nothing the plan can count on, yet
    its wave copies its volumes)."""
    copied = sum(_planned(city, code).copied for code in moved)
    freed = sum(_planned(city, code).projected_bytes for code in moved)
    line = f"- Moves: {len(moved)} systems, {_tenths_tib(shown.total)} TiB copied"
    return line if freed == copied else f"{line}, {_tib(freed)} TiB of it counted as freed on the legacy pool"


DAY_SECONDS = 86400


@dataclass(frozen=True, slots=True)
class Deadline:
    """A forecast plan's deadline: the early (p10) date the legacy pool passes its fill target. The waves, and the
    deletion of each moved system's old claims there (what frees its bytes), must be done before it."""

    pool: str
    at: int  # unix s
    asof: int  # the forecast's date, where the first wave is counted from
    waves: int
    interval_days: int | None  # city.yaml migration.wave_interval_days; None: no cadence declared

    @property
    def last_wave_at(self) -> int | None:
        """The earliest the last wave comes at the declared cadence (the first on the forecast's date)."""
        if self.interval_days is None:
            return None
        return self.asof + (self.waves - 1) * self.interval_days * DAY_SECONDS

    @property
    def late(self) -> bool | None:
        """Whether the waves at the declared cadence end after the deadline; None: no cadence declared."""
        return None if self.last_wave_at is None else self.last_wave_at >= self.at

    def sentences(self) -> tuple[str, str]:
        """The deadline, and what the cadence says of it (a warning when the waves end too late)."""
        head = (
            f"Deadline: {_when(self.at)}, the early (p10) date `{self.pool}` passes its fill target"
            + (" (already past it)" if self.at <= self.asof else "")
            + f": {self._the_waves}, and deleting each moved system's old claims on `{self.pool}` once its owner "
            "accepts the copy (what frees its bytes), must be done before it."
        )
        last = self.last_wave_at
        if last is None:
            return head, (
                "No wave cadence is declared (city.yaml `migration.wave_interval_days`): nothing checks that "
                f"{self._the_waves} end before the deadline; schedule their windows against it."
            )
        if (late := self.lateness(markdown=True)) is not None:
            return head, late
        return head, f"In time: {self._cadence(last)}, {(self.at - last) / DAY_SECONDS:,.1f} days before the deadline."

    @property
    def _the_waves(self) -> str:
        return f"the {self.waves} wave{'s' if self.waves > 1 else ''}"

    def _cadence(self, last: int) -> str:
        return (
            f"at one wave every {self.interval_days} day{'s' if self.interval_days != 1 else ''} from "
            f"{_when(self.asof)}, the last comes {_when(last)} at the earliest"
        )

    def lateness(self, *, markdown: bool = False) -> str | None:
        """What is said when the waves at the declared cadence end after the deadline, else None. With
        ``markdown``, PLAN.md's sentence after the deadline's; without, the warning of plan.json and the console,
        which dates the deadline itself."""
        last = self.last_wave_at
        if last is None or not self.late:
            return None
        days = f"{(last - self.at) / DAY_SECONDS:,.1f} days after the deadline"
        if markdown:
            return (
                f"**Late**: {self._cadence(last)}, {days}: {self._the_waves} cannot finish before `{self.pool}` "
                "passes its fill target. Add capacity to it first, or hold windows more often."
            )
        return (
            f"Late: {self._cadence(last)}, {days} ({_when(self.at)}): {self._the_waves} cannot finish before "
            f"{self.pool} passes its fill target. Add capacity to it first, or hold windows more often."
        )


def plan_deadline(city: CityInstance, waves: int) -> Deadline | None:
    """The deadline of a plan of ``waves`` waves, where the forecast dates the legacy pool's fill; else None."""
    outlook, m = city.outlook, city.migration
    pool = None if outlook is None else outlook.pools.get(m.legacy_storage_pool)
    if outlook is None or pool is None or waves == 0:
        return None
    at = pool.fill_p10 if pool.fill_p10 is not None else pool.fill_at
    if at is None:  # not within the horizon
        return None
    return Deadline(m.legacy_storage_pool, at, outlook.asof, waves, m.wave_interval_days)


def _deadline_document(deadline: Deadline | None) -> dict[str, Any] | None:
    if deadline is None:
        return None
    return {
        "pool": deadline.pool,
        "at": deadline.at,
        "waves": deadline.waves,
        "wave_interval_days": deadline.interval_days,
        "last_wave_at": deadline.last_wave_at,
        "late": deadline.late,
    }


def _forecast_lines(city: CityInstance) -> list[str]:
    """PLAN.md's account of the usage forecast the sizes came from."""
    outlook, m = city.outlook, city.migration
    if outlook is None:
        return []
    lines = [
        "",
        f"## Usage forecast, {outlook.days_ahead} days ahead of {_when(outlook.asof)}",
        "",
        "| pool | used now TiB | median TiB | p90 TiB | of capacity (p90) | past the fill target (median / early) |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, p in outlook.pools.items():
        passes = "not within the horizon"
        if p.fill_at is not None:
            passes = "now" if p.fill_at <= outlook.asof else f"{_when(p.fill_at)} / {_when(p.fill_p10)}"
        lines.append(
            f"| `{name}` | {_tib(p.projected.used_bytes)} | {_tib(p.projected.median_bytes)} | "
            f"{_tib(p.projected.high_bytes)} | {p.projected.high_bytes / p.capacity_bytes:.1%} | {passes} |"
        )
    measured = sorted(outlook.systems)
    unmeasured = sorted(_codes(city) - set(measured))
    idle = [series for code in measured for series in outlook.systems[code].idle]
    legacy = m.legacy_storage_pool
    lines += [
        "",
        (
            f"- `{legacy}` holds its p90 projection at the horizon; moving a candidate frees the median projection of "
            "its volumes there (what its wave copies)"
            if legacy in outlook.pools
            else f"- No series measures `{legacy}`: what else stays there is its datasets' and other systems' "
            "allocations, and each candidate holds the p90 projection of its volumes"
        )
        + f"; on `{m.target_storage_pool}` a moved system takes its quota.",
        f"- Measured: {len(measured)} of {len(city.candidates)} candidates"
        + (
            (
                "; not counted (no volume series: their usage stays in the pool's, moving them frees nothing the "
                "plan can count on; a wave that moves one is sized by its allocation, all it can copy): "
                if legacy in outlook.pools
                else "; at their allocation (no volume series): "
            )
            + ", ".join(unmeasured[:20])
            + (f" and {len(unmeasured) - 20} more" if len(unmeasured) > 20 else "")
            if unmeasured
            else ""
        ),
    ]
    if idle:
        lines.append(
            f"- Idle at planning time (no recent usage sample: no pod mounted them), counted at their last sample and "
            f"copied by their waves: {', '.join(f'`{s}`' for s in idle[:20])}"
            + (f" and {len(idle) - 20} more" if len(idle) > 20 else "")
            + "."
        )
    return lines


def _markdown(
    city: CityInstance,
    assignment: Assignment,
    waves: Waves | None,
    changes: list[list[Change]],
    shown: ShownCopies,
    deadline: Deadline | None,
    base_sha256: str,
) -> str:
    d, m, instance = city.declaration, city.migration, city.instance
    lines = [
        f"# Xinchuang migration plan: {_text(d.city.name)} ({d.city.code}), cluster {m.cluster}",
        "",
        f"Relieve `{m.legacy_storage_pool}` to {m.fill_target:.0%} of its capacity, "
        + (
            "in allocations, "
            if city.outlook is None
            else f"in the usage forecast {city.outlook.days_ahead} days ahead (p90), "
        )
        + f"onto the node pools {', '.join(f'`{p}`' for p in m.target_node_pools)} with their volumes on "
        f"`{m.target_storage_pool}`.",
        "",
        f"- Candidates: {len(city.candidates)} systems on `{m.legacy_storage_pool}`",
        f"- Relief needed: {show_bytes(max(0, city.need_bytes))}",
        _target_room_line(city),
        f"- Solver: {assignment.status}"
        + (f", bound {assignment.bound:,.0f} CNY" if assignment.bound is not None else "")  # 0 CNY is a bound
        + solver_sentence(assignment),
    ]
    if (unread := idle_unread_warning(city, markdown=True)) is not None:
        lines.append(f"- {unread}")
    if waves is None or assignment.destinations is None:
        lines += [*_forecast_lines(city), "", "## No plan", "", str(assignment.reason), ""]
        if city.unrelievable is not None:
            lines += ["No `instance.json`: its legacy target would be below zero, which no planning instance says.", ""]
        return "\n".join([*lines, *_assessment_lines(city, {}, [], {})])
    plan = Plan(assignment.destinations, [list(w) for w in waves.waves])
    moved = [c for wave in changes for c in wave]
    lines += [
        _moves_line(city, [c.code for c in moved], shown),
        f"- Adaptation cost: {plan_cost(instance, plan):,} CNY",
        # In TiB first, as each wave's heading gives what it copies: the two compare as they stand.
        f"- Waves: {len(changes)} (lower bound {waves.lower_bound}), at most {_tib(instance.wave_bytes)} TiB "
        f"({m.wave_gib:,} GiB) copied per wave unless one system alone is larger" + waves_search_sentence(waves),
        *(f"- {sentence}" for sentence in (deadline.sentences() if deadline is not None else ())),
        *_forecast_lines(city),
        *_target_usage_lines(city, [c.code for c in moved], shown),
    ]
    if not changes:  # no wave: steps to apply one, and how to roll one back, would only mislead
        lines += [
            "",
            "## Nothing to move",
            "",
            f"`{m.legacy_storage_pool}` stays within its {m.fill_target:.0%} fill target with every candidate where "
            f"it is (in {'allocations' if city.outlook is None else 'the usage forecast'}): no wave, no data copy, "
            "no change to the declaration (`dizuo migrate check-wave` has no wave to check). Plan again when the "
            "declaration or the usage grows.",
            "",
        ]
    else:
        lines += _applying_a_wave(city, base_sha256)
    for k, wave in enumerate(changes, start=1):
        lines += [
            f"## Wave {k}: {len(wave)} system(s), {_tenths_tib(shown.waves[k - 1])} TiB",
            "",
            "| system | department | node pool | OS | image arch | database | TiB | cost CNY |",
            "| --- | --- | --- | --- | --- | --- | ---: | ---: |",
        ]
        for c in wave:
            s = city.system(c.code)
            database = f"{c.database[0]} → {c.database[1]}" if c.database else s.database.value
            lines.append(
                f"| {c.code} {_text(s.name)} | {_text(d.department(s.department).name)} | "
                f"{c.node_pool[0]} → {c.node_pool[1]} | "
                f"{c.os[0]} → {c.os[1]} | {'rebuild for ' + c.new_arch if c.new_arch else 'as built'} | {database} | "
                f"{_tenths_tib(shown.systems[c.code])} | {_cost(city, c.code, c.node_pool[1]):,} |"
            )
        lines.append("")
        if (overrun := _longer_than_a_window(city, k, wave, shown.waves[k - 1], markdown=True)) is not None:
            lines += [overrun, ""]
    return "\n".join([*lines, *_assessment_lines(city, assignment.destinations, waves.waves, shown.systems)])


def _applying_a_wave(city: CityInstance, base_sha256: str) -> list[str]:
    """PLAN.md's steps to apply a wave, and to roll one back."""
    m = city.migration
    return [
        "",
        "## Applying a wave",
        "",
        f"Planned from the declaration's `systems.yaml` of sha256 `{base_sha256}`. Each `wave-NN/systems.yaml` is "
        "that whole file with waves 1..NN applied: copied over anything else it would undo the edits made since, "
        "or move earlier waves' systems without their data copies.",
        "",
        "1. Before the window: review `wave-NN/systems.yaml.diff`; rebuild the images for every new arch it names "
        "and port every database it replaces.",
        "2. In the window, stop the system first: the wave's `dizuo up --stack <stack>` (step 3) moves its pods to "
        "the new node pool, points its database egress at the replacement and moves its storage quota to "
        f"`{m.target_storage_pool}` (`{m.legacy_storage_pool}`'s goes to zero; its claims there stay bound, no "
        "stack deletes a claim).",
        "3. `dizuo migrate check-wave <this folder> NN <declaration>` (exit 0: the declaration's `systems.yaml` is the "
        "file wave NN starts from, and `wave-NN/data-copies.yml` is the planned one), then copy `wave-NN/systems.yaml` "
        "over it, `dizuo validate <declaration>`, `dizuo preview --stack <stack>`, `dizuo up --stack <stack>` "
        "(`<stack>`: the environment whose `Pulumi.<stack>.yaml` the stack folders hold).",
        f"4. Make the system's new claims on `{m.target_storage_pool}`, mount its old and new volumes on the "
        f"migration host as `wave-NN/data-copies.yml` says (under {_code(m.copy_mount_root)}) and run "
        "`ansible-playbook -i <inventory> roles/data_migration.yml -e @<this folder>/wave-NN/data-copies.yml "
        "-e data_migration_hosts=<migration host>` (`<inventory>`: the declaration's hosts, as "
        "`dizuo inventory <declaration> > hosts.yml` writes them; `<migration host>`: the one of them with the "
        "volumes mounted): rsync copies, every byte is verified by sha256 (the manifest is kept as evidence), the "
        "source is never changed. Rerun until it verifies.",
        "5. Switch the workload to the new claims and start it; delete the old ones only after the system's owner "
        "accepts the copy.",
        "",
        # The way back exists only while the old claims do: the copy reads them and no stack deletes a claim.
        "To roll back wave NN (its system does not run on the new pool, or its copy does not verify), before its old "
        "claims are deleted (and after rolling back, last first, any wave applied since): stop the system, put back "
        "the `systems.yaml` the wave started from with `patch -R <declaration>/systems.yaml "
        "<this folder>/wave-NN/systems.yaml.diff` (`dizuo migrate check-wave <this folder> NN <declaration>` then "
        "says it is where wave NN starts), then `dizuo validate <declaration>`, `dizuo preview --stack <stack>`, "
        "`dizuo up --stack <stack>`: the system's pods, database egress and storage quota go back to the node pool, "
        f"database and `{m.legacy_storage_pool}` it had, where its old claims hold its data as it was when it "
        "stopped (the copy only read them). Switch the workload back to the old claims and start it; what it wrote "
        f"to the new ones after step 5 is on those alone, copy it back first. Its claims on `{m.target_storage_pool}` "
        "stay bound (their quota is zero again): delete them once it runs on the old ones.",
        "",
    ]


def _longer_than_a_window(
    city: CityInstance, k: int, wave: list[Change], tenths: int, *, markdown: bool = False
) -> str | None:
    """What is said of wave ``k`` when it copies more than one maintenance window does (one system larger than a
    window, in a wave of its own): its system stays stopped from step 2 until its copy verifies, so its owner must
    agree to that much downtime, not to one window's. None for a wave within a window. ``tenths``: what its heading
    shows it copies. With ``markdown``, PLAN.md's line under the wave's table; without, the warning of plan.json and
    the console, which names the wave and where its steps are."""
    copied = sum(_planned(city, c.code).copied for c in wave)
    wave_bytes = city.instance.wave_bytes
    if copied <= wave_bytes:
        return None
    codes = ", ".join(c.code for c in wave)
    subject, steps = ("This wave", "step 2") if markdown else (f"Wave {k}", "step 2 of PLAN.md's Applying a wave")
    return (
        f"{subject} copies {_tenths_tib(tenths)} TiB, {copied / wave_bytes:,.1f} times what one maintenance window "
        f"copies ({_tib(wave_bytes)} TiB, city.yaml `migration.wave_gib`): {codes} stays stopped from {steps} until "
        "its copy verifies in step 4, that much longer than one window. Agree that downtime with its owner, or "
        "book the windows back to back."
    )


def plan_warnings(
    city: CityInstance, changes: list[list[Change]], shown: ShownCopies, deadline: Deadline | None
) -> list[str]:
    """plan.json's `warnings`, which the console prints too: what the operator must do by hand as no idle claim
    could be read (if so), that the waves at the declared cadence end after the deadline (if so), then each wave
    longer than a maintenance window, in PLAN.md's words."""
    unread = idle_unread_warning(city)
    late = None if deadline is None else deadline.lateness()
    overruns = (_longer_than_a_window(city, k, wave, shown.waves[k - 1]) for k, wave in enumerate(changes, start=1))
    return [said for said in (unread, late, *overruns) if said is not None]


def _assessment_lines(
    city: CityInstance,
    destinations: dict[str, str | None],
    waves: Sequence[Sequence[str]],
    copied_tenths: dict[str, int],
) -> list[str]:
    """Every candidate, moved or not: what it runs on, what a move changes and costs on each target pool.
    ``copied_tenths``: what each moved system's wave row shows it copies, shown the same here."""
    d, m = city.declaration, city.migration
    wave_of = {code: k for k, wave in enumerate(waves, start=1) for code in wave}
    pools = list(m.target_node_pools)
    lines = [
        "## Assessment: every candidate",
        "",
        "Adaptation cost of a move to each Xinchuang node pool (shares of the project budget: "
        f"{m.cost_share.base:.0%} per move, +{m.cost_share.new_arch:.0%} to rebuild the image for a new arch, "
        f"+{m.cost_share.database:.0%} to replace a foreign database); — where the system cannot run (a closed "
        "binary, built for other arches only). Systems of one move group (a shared database or storage platform) "
        "stay or move together, to one pool.",
        "",
        f"| system | department | image arch | database | TiB freed (copied) | {' | '.join(pools)} | plan |",
        f"| --- | --- | --- | --- | ---: | {' | '.join('---:' for _ in pools)} | --- |",
    ]
    for s in city.candidates:
        planned = _planned(city, s.code)
        replacement = database_after_move(m, s)
        database = s.database.value + (f" → {replacement.value}" if replacement is not None else "")
        arches = ", ".join(a.value for a in s.arches) + ("" if s.portable else " (closed)")
        costs = " | ".join("—" if (c := planned.cost.get(p)) is None else f"{c:,}" for p in pools)
        target = destinations.get(s.code)
        plan = "stays" if target is None else f"wave {wave_of[s.code]} → {target}"
        if s.move_group is not None:
            plan += f" (with its group {s.move_group})"
        copied = copied_tenths.get(s.code)
        copied_text = _tib(planned.copied) if copied is None else _tenths_tib(copied)
        if planned.copied == planned.projected_bytes:
            size = copied_text
        else:  # unmeasured on a measured pool: frees 0, copies its allocation
            size = f"{_tib(planned.projected_bytes)} ({copied_text})"
        lines.append(
            f"| {s.code} {_text(s.name)} | {_text(d.department(s.department).name)} | {arches} | {database} | "
            f"{size} | {costs} | {plan} |"
        )
    lines.append("")
    return lines
