"""The city's own migration: the planning instance built from the declaration, and the plan written back into it.

``city.yaml`` ``migration`` names the full legacy storage pool, the Xinchuang node pools systems may move to and the
storage pool their volumes go to. Every system on the legacy pool is a candidate. What it needs is what the
declaration grants it (cores, memory, its storage allocation); what moving it costs is a share of its project budget
(``budget_cny``): a base share for every move, more when its image must be rebuilt for the pool's CPU, more when its
foreign database is replaced. A system that is not ``portable`` moves only to pools of its arches.

Sizes are allocations, not usage: after the moves, the staying systems can fill every quota and the legacy pool still
stays under the fill target; the target storage is planned to the same target. The node pools share that one storage
pool, so the instance carries it as :class:`~dizuo.migration.instance.SharedStorage`. With a usage forecast, what stays
on the legacy pool anyway may alone pass its fill target: no move can relieve it, and that is the plan's answer
(:attr:`CityInstance.unrelievable`), not an error in the declaration.

A plan becomes the declaration after each wave: ``systems.yaml`` edited in place (comments, order, layout and line
ends kept, ruamel.yaml's round trip), each moved system on its new node pool and storage pool, with the pool's OS,
its new arch among the image's arches and its database replaced. Every wave's declaration is loaded and cross-checked by
the same loader as ``dizuo validate`` before anything is written.
"""

from __future__ import annotations

import copy
import io
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import Comment, CommentedSeq, Format
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from dizuo.declaration.checks import replica_oversize
from dizuo.declaration.loader import DeclarationError, Problem, validate_documents, yaml_mapping
from dizuo.declaration.model import DOMESTIC_DATABASES, Database, Declaration, Migration, NodePool, System, exact
from dizuo.migration.instance import Instance, InstanceError, parse_instance
from dizuo.migration.outlook import UsageOutlook

GIB = 2**30


class MigrationSetupError(ValueError):
    """The declaration cannot be planned: no ``migration`` section (validation catches everything else)."""


@dataclass(frozen=True, slots=True)
class CityInstance:
    """The planning instance of a declaration, with what is needed to write a plan back into it."""

    declaration: Declaration
    migration: Migration
    instance: Instance
    candidates: tuple[System, ...]
    node_pools: Mapping[str, NodePool]  # the target node pools by name
    outlook: UsageOutlook | None = None  # the usage forecast the sizes came from; None: allocations
    # Why no move can relieve the legacy pool, known before any solve: in the usage forecast, what stays there anyway
    # passes its fill target. None: the solver decides.
    unrelievable: str | None = None
    # Bytes what stays anyway holds past the fill target: the instance's legacy target cannot go below zero to say it.
    overflow_bytes: int = 0

    @property
    def need_bytes(self) -> int:
        """Bytes that must leave the legacy pool by the horizon (<= 0: nothing has to move)."""
        return self.instance.need_bytes + self.overflow_bytes

    def system(self, code: str) -> System:
        """The candidate with this code."""
        return next(s for s in self.candidates if s.code == code)


def adaptation_cost(m: Migration, s: System, pool: NodePool) -> int | None:
    """CNY to adapt ``s`` to ``pool``: shares of its budget; None when it cannot run there (not portable to the
    pool's CPU, or one replica larger than a node of the pool: the wave would not pass `dizuo validate`)."""
    new_arch = pool.arch not in s.arches
    if (new_arch and not s.portable) or replica_oversize(s, pool):
        return None
    if s.budget_cny is None:  # validate refuses a candidate without a budget; a model built around it must not guess
        raise MigrationSetupError(f"{s.code!r} has no budget_cny to cost its adaptation from")
    share = m.cost_share.base + (m.cost_share.new_arch if new_arch else 0.0)
    share += m.cost_share.database if s.database not in DOMESTIC_DATABASES else 0.0
    return round(s.budget_cny * share)


def database_after_move(m: Migration, s: System) -> Database | None:
    """The domestic database that replaces ``s``'s foreign one when it moves; None when it keeps its own."""
    return m.database_replacement.get(s.database) if s.database not in DOMESTIC_DATABASES else None


def allocated_gib(d: Declaration, pool: str) -> int:
    """GiB the declaration places on a storage pool: system allocations and datasets (as validate counts them)."""
    systems = sum(s.resources.storage_gib for s in d.systems if s.storage_pool == pool)
    return systems + sum(ds.size_gib for ds in d.datasets if ds.storage_pool == pool)


def build_instance(d: Declaration, outlook: UsageOutlook | None = None) -> CityInstance:
    """The planning instance of the declaration's ``migration`` section (see the module docstring); sized by the
    usage forecast where ``outlook`` measures a system or the legacy pool (see migration/outlook.py)."""
    m = d.city.migration
    if m is None:
        raise MigrationSetupError("city.yaml declares no `migration` section: nothing says which pool to relieve")
    cluster = next(c for c in d.clusters if c.name == m.cluster)
    storage = {p.name: p for p in cluster.storage_pools}
    legacy, target = storage[m.legacy_storage_pool], storage[m.target_storage_pool]
    candidates = d.migration_candidates()
    codes = {s.code for s in candidates}
    measured = {} if outlook is None else outlook.systems  # candidates only (usage_outlook)
    fill_bytes = m.fill_gib(legacy) * GIB
    pool_outlook = None if outlook is None else outlook.pools.get(legacy.name)
    if outlook is None or pool_outlook is None:
        staying_others = (allocated_gib(d, legacy.name) - sum(s.resources.storage_gib for s in candidates)) * GIB
        measure = "allocations"
    else:
        # The pool's p90 less the candidates' medians: the candidates are sized by their medians (below).
        medians = math.fsum(p.median_bytes for p in measured.values())
        staying_others = math.ceil(max(0.0, pool_outlook.projected.high_bytes - medians))
        measure = f"the usage forecast {outlook.days_ahead} days ahead"
    keep_bytes = fill_bytes - staying_others
    unrelievable = None
    if keep_bytes < 0:  # no move can fix it; never hide it behind "keep nothing"
        unrelievable = (
            f"what stays on {legacy.name!r} anyway ({staying_others / GIB:,.0f} GiB in {measure}) exceeds its fill "
            f"target ({fill_bytes // GIB:,} GiB)"
        )
        if pool_outlook is None:  # in allocations validate refuses it: only a declaration that bypassed it gets here
            raise MigrationSetupError(unrelievable)
        # Measured usage, a valid declaration: an answer (no plan, this reason), as the solver's proofs are.
        unrelievable += _unrelievable_advice([s.code for s in candidates if s.code not in measured], len(candidates))

    def size(s: System) -> dict[str, int]:
        allocated = s.resources.storage_gib * GIB
        if outlook is None:
            return {"projected_bytes": allocated}
        # Frees (and copies) its projected usage; takes its quota on the target, where pools are planned in quotas.
        # The uncertainty counts once: in the pool's own p90 where a series measures the pool (the p90 of the sum,
        # far below the sum of 90 p90s), in each candidate's p90 where none does.
        if s.code in measured:
            p = measured[s.code]
            projected = p.median_bytes if pool_outlook is not None else p.high_bytes
            return {"projected_bytes": math.ceil(projected), "room_bytes": allocated}
        if pool_outlook is None:
            return {"projected_bytes": allocated, "room_bytes": allocated}
        # Unmeasured, its usage hides in the pool's series: moving it frees nothing the plan can count on, and its
        # wave copies what it holds, as much as its allocation.
        return {"projected_bytes": 0, "room_bytes": allocated, "copy_bytes": allocated}

    pools = {p.name: p for p in cluster.node_pools if p.name in m.target_node_pools}
    moved_groups = d.moved_groups()
    free_storage = max(0, m.fill_gib(target) - allocated_gib(d, target.name)) * GIB

    def used(pool: str, what: str) -> Fraction:
        # Every system there now, summed exactly as validate sums them: what is free is what the wave's check finds
        # free. A candidate's own cores must not count against a pool it may move to (twice, here and in its move):
        # validate refuses a target pool that any candidate runs on, so none is counted here.
        on = [s for s in d.systems if s.cluster == m.cluster and s.node_pool == pool]
        return sum((exact(s.resources.cpu if what == "cpu" else s.resources.memory_gib) for s in on), Fraction(0))

    free_cpu = {name: pool.cpu - used(name, "cpu") for name, pool in pools.items()}
    on_targets = [s for s in d.systems if s.cluster == m.cluster and s.node_pool in pools]
    cpu_unit = _cpu_unit([*candidates, *on_targets])
    memory_unit = _memory_unit([*candidates, *on_targets])

    document = {
        "name": f"{d.city.code}-{cluster.name}",
        "horizon_days": 0 if outlook is None else outlook.days_ahead,
        "legacy": {
            "capacity_bytes": legacy.capacity_gib * GIB,
            # What the candidates may keep: the fill target less what stays there anyway (datasets, other systems).
            "target_bytes": max(0, keep_bytes),  # below zero: unrelievable, see overflow_bytes
        },
        "targets": [
            {
                "name": pool.name,
                "arch": pool.arch.value,
                "storage_bytes": free_storage,
                # What is left after the systems already there (never below zero), in the instance's unit of cores
                # (exact: the unit divides every declared decimal) and in whole bytes.
                "cpu_cores": max(0, math.floor(free_cpu[pool.name] * cpu_unit)),
                "memory_bytes": max(0, math.floor((pool.memory_gib - used(pool.name, "memory")) * GIB * memory_unit)),
            }
            for pool in (pools[name] for name in m.target_node_pools)
        ],
        "shared_storage": [{"name": target.name, "storage_bytes": free_storage, "targets": list(m.target_node_pools)}],
        "wave_bytes": m.wave_gib * GIB,
        "cpu_units_per_core": cpu_unit,
        "memory_units_per_byte": memory_unit,
        "systems": [
            {
                "id": s.code,
                "name": s.name,
                "department": d.department(s.department).name,
                **size(s),
                "cpu_cores": math.ceil(exact(s.resources.cpu) * cpu_unit),  # exact: the unit divides it
                "memory_bytes": math.ceil(exact(s.resources.memory_gib) * GIB * memory_unit),  # exact too
                "group": s.move_group,  # its members are all candidates (validate checks it)
                "depends_on": [dep for dep in s.depends_on if dep in codes],  # the others are not on the move
                "cost": {
                    # A group a wave moved in part: the rest can only join its moved members' node pool.
                    name: adaptation_cost(m, s, pool) if moved_groups.get(s.move_group or "", name) == name else None
                    for name, pool in pools.items()
                },
                "stack": {"os": s.os.value, "middleware": s.middleware, "db": s.database.value},
            }
            for s in candidates
        ],
    }
    try:
        instance = parse_instance(document, f"{d.city.code} declaration")
    except InstanceError as err:  # figures validate lets through but the planner cannot hold: say whose they are
        raise InstanceError(
            [Problem(p.file, _whose(p.path, document, legacy.name), p.message) for p in err.problems]
        ) from None
    return CityInstance(d, m, instance, candidates, pools, outlook, unrelievable, max(0, -keep_bytes))


# Candidates a message names before it says how many more there are.
SHOWN_CODES = 5


def _unrelievable_advice(unmeasured: Sequence[str], candidates: int) -> str:
    """What an unrelievable pool's reason tells the city: add capacity, or first measure the candidates whose usage
    the forecast could not tell from the pool's (moving them frees what they hold, which no figure here counts)."""
    if not unmeasured:
        return ": moving every candidate would still leave the pool past it; add capacity to it first"
    shown = ", ".join(unmeasured[:SHOWN_CODES]) + (
        f" and {len(unmeasured) - SHOWN_CODES} more" if len(unmeasured) > SHOWN_CODES else ""
    )
    return (
        f": moving every measured candidate would still leave the pool past it, but {len(unmeasured)} of "
        f"{candidates} candidates have no volume series ({shown}) and are counted as staying, whatever moving them "
        "would free; measure their volumes (kubelet volume stats in the namespace named after each code, or CSV "
        "series pvc:<code>/<volume>) and plan again, or add capacity to it first"
    )


# The finest unit of cores planned: a billionth. Counts of it stay far inside the instance's 2^63 for any pool, and no
# request means less (Kubernetes itself counts millicores).
MAX_CPU_UNITS_PER_CORE = 10**9


# The finest unit of memory planned: what a GiB decimal of 9 places needs (k places need 5^k per byte, GiB's 2^30
# absorbing the twos), as cores are counted to a billionth. A pool too large to count in it is refused by the
# instance's own 2^63 check, naming the pool.
MAX_MEMORY_UNITS_PER_BYTE = 5**9


def _cpu_unit(systems: Sequence[System]) -> int:
    """Units per core in which every one of ``systems`` requests whole units (the least common multiple of their
    declared decimals' denominators; 1 where the city declares whole cores), so what a target has free is whole too.
    Rounding a request of 33.5 up to 34, and a pool's 101.5 free cores down to 101, would leave out plans that fit
    (and report a dearer one as optimal). MigrationSetupError for a request written finer than a billionth."""
    unit = math.lcm(*(exact(s.resources.cpu).denominator for s in systems))
    if unit <= MAX_CPU_UNITS_PER_CORE:
        return unit
    fine = max(systems, key=lambda s: exact(s.resources.cpu).denominator)
    raise MigrationSetupError(
        f"systems.yaml: system {fine.code!r}: resources.cpu: {fine.resources.cpu!r}: the planner counts cores to a "
        "billionth at most; write it with at most 9 decimals"
    )


def _memory_unit(systems: Sequence[System]) -> int:
    """Units per byte in which every one of ``systems`` requests whole units (1 where each GiB decimal is whole
    bytes: 0.5 GiB is, 131.7 GiB is not), as :func:`_cpu_unit` does for cores: rounded up to whole bytes, three
    requests that exactly fill a pool would not fit it. MigrationSetupError for a request written with more than 9
    decimals."""
    unit = math.lcm(*((exact(s.resources.memory_gib) * GIB).denominator for s in systems))
    if unit <= MAX_MEMORY_UNITS_PER_BYTE:
        return unit
    fine = max(systems, key=lambda s: (exact(s.resources.memory_gib) * GIB).denominator)
    raise MigrationSetupError(
        f"systems.yaml: system {fine.code!r}: resources.memory_gib: {fine.resources.memory_gib!r}: the planner counts "
        "memory_gib to 9 decimals at most; write it with fewer"
    )


_KINDS = {"targets": "node pool", "shared_storage": "storage pool"}
_INDEXED = re.compile(r"^(systems|targets|shared_storage)\[(\d+)\]")


def _whose(path: str, document: Mapping[str, Any], legacy: str) -> str:
    """An instance key path with the declaration's name of what it sizes: ``systems[22] (system gjj-03).x``."""
    if path.startswith("legacy"):
        return f"legacy (storage pool {legacy}){path.removeprefix('legacy')}"
    match = _INDEXED.match(path)
    if match is None:
        return path
    key, index = match.group(1), int(match.group(2))
    entry = document[key][index]
    named = f"system {entry['id']}" if key == "systems" else f"{_KINDS[key]} {entry['name']}"
    return f"{match.group(0)} ({named}){path[match.end() :]}"


@dataclass(frozen=True, slots=True)
class Change:
    """What one wave changes in one system's declaration."""

    code: str
    node_pool: tuple[str, str]
    storage_pool: tuple[str, str]
    os: tuple[str, str]
    new_arch: str | None  # the arch its image must now be built for
    database: tuple[str, str] | None  # foreign -> domestic


def change_of(city: CityInstance, code: str, pool_name: str) -> Change:
    """The declaration change that moves ``code`` to node pool ``pool_name``."""
    s, pool, m = city.system(code), city.node_pools[pool_name], city.migration
    replaced = database_after_move(m, s)
    return Change(
        code=code,
        node_pool=(s.node_pool, pool.name),
        storage_pool=(s.storage_pool or "", m.target_storage_pool),
        os=(s.os.value, pool.os.value),
        new_arch=None if pool.arch in s.arches else pool.arch.value,
        database=None if replaced is None else (s.database.value, replaced.value),
    )


# `key:` with its value on the lines below, and a block sequence item: what the file's indentation is read from.
_KEY_ALONE = re.compile(r"^( *)[^\s#\-][^#]*:[ \t]*(#.*)?$")
_ITEM = re.compile(r"^( *)-( +)\S")


def _layout(text: str) -> tuple[int, int, int]:
    """The file's block indentation, as ruamel.yaml's ``indent(mapping, sequence, offset)`` takes it: the first
    nested mapping's indent, and the first list's dash (offset) and item (sequence) columns past its key."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    mapping = sequence = offset = None
    for parent, child in itertools.pairwise(lines):
        key = _KEY_ALONE.match(parent)
        if key is None:
            continue
        indent, item = len(key.group(1)), _ITEM.match(child)
        if item is not None and sequence is None and len(item.group(1)) >= indent:
            offset = len(item.group(1)) - indent
            sequence = offset + 1 + len(item.group(2))
        elif item is None and mapping is None and len(child) - len(child.lstrip(" ")) > indent:
            mapping = len(child) - len(child.lstrip(" ")) - indent
    return (mapping or 2, sequence or 2, offset or 0)


# A line quoted in a refusal is cut to this many characters (a file written on one line is one line), starting this
# many before where it differs.
_QUOTED_CHARACTERS = 120
_QUOTED_BEFORE = 40


def _quoted(line: str, start: int) -> str:
    """``line`` quoted for a message: whole when short, else its characters from ``start`` on, saying it was cut."""
    if len(line) <= _QUOTED_CHARACTERS:
        return repr(line)
    end = min(len(line), start + _QUOTED_CHARACTERS)
    return f"{line[start:end]!r} (cut: characters {start + 1:,}-{end:,} of {len(line):,})"


def writer_for(text: str) -> YAML:
    """A round-trip ruamel.yaml that writes ``text`` back unchanged (comments, key order, flow style, quotes and
    indentation as the city wrote them), or MigrationSetupError: a wave whose diff rewrote the whole file would
    hide its moves."""
    writer = YAML()
    writer.width = 4096
    writer.preserve_quotes = True
    # A file that opens with a document start marker (yamllint's default asks for one) keeps it.
    writer.explicit_start = text.startswith("---\n")
    mapping, sequence, offset = _layout(text)
    writer.indent(mapping=mapping, sequence=sequence, offset=offset)
    try:
        document = writer.load(text)
    except YAMLError as err:
        # The loader (libyaml, YAML 1.1) reads some text ruamel.yaml's scanner refuses, e.g. a tab before a comment
        # or at the end of a line: validate accepts the file, but no wave could be written from it.
        mark = getattr(err, "problem_mark", None)
        where = "" if mark is None else f" line {mark.line + 1}, column {mark.column + 1}:"
        raise MigrationSetupError(
            f"systems.yaml:{where} ruamel.yaml, which writes each wave's file, cannot read it "
            f"({getattr(err, 'problem', None) or err}), though the declaration's loader can: write it as both read "
            "it (a tab there: spaces) and plan again"
        ) from None
    again = _dump(writer, document)
    if again == text:
        return writer
    lines = itertools.zip_longest(text.splitlines(keepends=True), again.splitlines(keepends=True), fillvalue="")
    n, (was, now) = next((n, pair) for n, pair in enumerate(lines, start=1) if pair[0] != pair[1])
    differs_at = next((i for i, (a, b) in enumerate(zip(was, now, strict=False)) if a != b), min(len(was), len(now)))
    start = max(0, differs_at - _QUOTED_BEFORE)  # both quoted from one column: the difference lines up
    raise MigrationSetupError(
        f"systems.yaml: line {n}: ruamel.yaml would write {_quoted(was, start)} as {_quoted(now, start)} "
        f"(indentation read as mapping {mapping}, sequence {sequence}, offset {offset}): a wave's diff must show its "
        "moves and nothing else; write the file in one layout, e.g. as ruamel.yaml writes it, and plan again"
    )


def check_layout(root: Path) -> None:
    """MigrationSetupError unless ``root``'s systems.yaml can be written back line for line (before any solve)."""
    writer_for(read_systems_yaml(root)[0])


# What YAML reads as a line break.
_LINE_END = re.compile(r"\r\n|\r|\n")
_LINE_END_NAMES = {"\r\n": "CRLF", "\n": "LF", "\r": "CR"}
# The UTF-8 byte order mark some editors (Windows Notepad) start a file with; YAML readers skip it.
BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class Written:
    """How a systems.yaml writes its text beyond what YAML reads: its line end, a byte order mark at its start, a
    last line without a line end (editors that add none). The wave files are written the same way: otherwise each
    would differ from the declaration on every line (or on its first or last), not only in its diff."""

    newline: str = "\n"
    bom: bool = False
    final_newline: bool = True

    def file(self, text: str) -> str:
        """``text`` (LF line breaks, no mark, a line end after the last line, as ruamel.yaml writes it) as this file
        writes it."""
        lines = text if self.newline == "\n" else text.replace("\n", self.newline)
        lines = lines if self.final_newline else lines.removesuffix(self.newline)
        return BOM + lines if self.bom else lines


def read_systems_yaml(root: Path) -> tuple[str, Written]:
    """``root``'s systems.yaml as the loader reads it (every line break a LF, no byte order mark, a line end after
    the last line), and how the file writes it, for the wave files. MigrationSetupError for a file that mixes line
    ends (no one of them writes it back)."""
    with (root / "systems.yaml").open(encoding="utf-8", newline="") as file:  # newline="": the ends as written
        raw = file.read()
    bom = raw.startswith(BOM)
    raw = raw.removeprefix(BOM)
    ends = _LINE_END.findall(raw)
    newline = ends[0] if ends else "\n"
    other = next((n for n, end in enumerate(ends, start=1) if end != newline), None)
    if other is not None:
        raise MigrationSetupError(
            f"systems.yaml: line {other} ends in {_LINE_END_NAMES[ends[other - 1]]}, line 1 in "
            f"{_LINE_END_NAMES[newline]}: a wave written with one line end would change every line that has the "
            "other; write the file with one line end and plan again"
        )
    final_newline = not raw or raw.endswith(("\n", "\r"))
    return _LINE_END.sub("\n", raw) + ("" if final_newline else "\n"), Written(newline, bom, final_newline)


# The keys a move sets: an entry that merges (<<) a moved one must not inherit them.
_MOVED_KEYS = ("node_pool", "storage_pool", "os", "arches", "database")


def _entries(text: str) -> list[dict[str, Any]]:
    """The systems of a systems.yaml text as the declaration's loader reads them (merge keys resolved)."""
    document, problems = yaml_mapping(text, "systems.yaml")
    if document is None or not isinstance(document.get("systems"), list):  # validate read it: only text of ours
        raise MigrationSetupError("; ".join(map(str, problems)) or "systems.yaml: `systems` is not a list")
    return [entry if isinstance(entry, dict) else {} for entry in document["systems"]]


def _as_read(value: str) -> str:
    """``value`` as a scalar the declaration's loader reads back as this string. ruamel.yaml writes YAML 1.2, where
    `on`, `no`, `yes` and `off` are strings, and leaves them plain; the loader reads YAML 1.1, where they are
    booleans (a node pool named 'no' would come back as false): such values are quoted."""
    document, _ = yaml_mapping(f"value: {value}\n", "systems.yaml")
    if document is not None and document.get("value") == value:
        return value
    quoted: str = SingleQuotedScalarString(value)
    return quoted


def _with_arch(arches: CommentedSeq, arch: str) -> CommentedSeq:
    """A new list of the image's arches with ``arch`` added, in the old one's style (flow or block, comments).

    Never the old list appended to: it may be an anchor other systems alias (``arches: *x86``), or belong to a
    mapping other entries merge (``<<: *base``); the new arch would spread to systems that did not move.
    """
    new = CommentedSeq([*arches, _as_read(arch)])
    for attrib, value in ((Comment.attrib, arches.ca), (Format.attrib, arches.fa)):  # not its anchor
        setattr(new, attrib, copy.deepcopy(value))
    return new


def apply_changes(systems_yaml: str, changes: Sequence[Change]) -> str:
    """``systems.yaml`` text with the changes made, everything else as it was (as the loader reads it too)."""
    writer = writer_for(systems_yaml)
    document = writer.load(systems_yaml)
    entries = document["systems"]
    before = _entries(systems_yaml)
    by_code = {c.code: c for c in changes}
    wanted: list[dict[str, Any]] = []  # what each system must declare afterwards
    kept: list[dict[str, Any]] = []  # the values it declares now, as ruamel holds them (style and quotes)
    for entry, was in zip(entries, before, strict=True):
        kept.append({key: entry.get(key) for key in _MOVED_KEYS if key in entry})
        values: dict[str, Any] = {key: was.get(key) for key in _MOVED_KEYS}
        change = by_code.pop(str(was.get("code")), None)
        if change is not None:
            moved = {"node_pool": change.node_pool[1], "storage_pool": change.storage_pool[1], "os": change.os[1]}
            if change.database is not None:
                moved["database"] = change.database[1]
            for key, value in moved.items():
                # On the entry itself: a key it merges from another mapping becomes its own, that mapping stays.
                entry[key] = _as_read(value)
            values |= moved
            if change.new_arch is not None:
                entry["arches"] = _with_arch(entry["arches"], change.new_arch)
                values["arches"] = [*values["arches"], change.new_arch]
            for key in (*moved, "arches") if change.new_arch is not None else moved:
                kept[-1].pop(key, None)  # what the move declares is never put back below
        wanted.append(values)
    if by_code:
        raise MigrationSetupError(f"systems.yaml has no system {sorted(by_code)[0]!r}")
    text = _dump(writer, document)
    # An entry that merges (<<) a moved one inherits its new values when read back: it declares its old ones
    # itself instead. One pass is enough: what it now declares is what its own mergers read before.
    drifted = _drifted(text, wanted)
    for i, key in drifted:
        if key in kept[i]:
            entries[i][key] = kept[i][key]
    if drifted:
        text = _dump(writer, document)
    left = _drifted(text, wanted)
    if left:
        i, key = left[0]
        raise MigrationSetupError(
            f"systems.yaml: systems[{i}].{key} would read back as {_entries(text)[i].get(key)!r}, "
            f"not {wanted[i][key]!r}"
        )
    return text


def _drifted(text: str, wanted: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """(index, key) of each value ``text`` declares otherwise than ``wanted``."""
    now = _entries(text)
    return [(i, key) for i, values in enumerate(wanted) for key, value in values.items() if now[i].get(key) != value]


def _dump(writer: YAML, document: Any) -> str:
    out = io.StringIO()
    writer.dump(document, out)
    return out.getvalue()


def check_declaration(root: Path, documents: Mapping[str, dict[str, Any]], systems_yaml: str) -> Declaration:
    """The declaration of ``root`` (``documents``, read once by ``load_documents``) with ``systems_yaml`` in place of
    its systems.yaml, validated and cross-checked as ``dizuo validate`` does; raises DeclarationError."""
    shown = "<wave>/systems.yaml"  # problems name the wave's file, not the declaration's
    systems, problems = yaml_mapping(systems_yaml, shown)
    if systems is None:
        raise DeclarationError(problems)
    try:
        return validate_documents(root, {**documents, "systems.yaml": systems})
    except DeclarationError as err:
        raise DeclarationError(
            [type(p)(shown if Path(p.file).name == "systems.yaml" else p.file, p.path, p.message) for p in err.problems]
        ) from None
