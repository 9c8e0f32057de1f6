"""Load a city declaration from YAML, at the edge, into frozen typed objects.

Every problem becomes one :class:`Problem` naming the file, the key path and the
bad value; all problems are collected and raised together as
:class:`DeclarationError`. Nothing below this module ever sees unvalidated input.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import itertools
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, cast, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from dizuo.declaration.model import (
    FILES,
    City,
    ClustersFile,
    DatasetsFile,
    Declaration,
    DepartmentsFile,
    HostsFile,
    NetworkFile,
    SystemsFile,
)

MAX_VALUE_CHARS = 60
MAX_KEYS_LISTED = 8  # an unknown key's mapping with more keys is told where they are listed (dizuo schema)
NEWLINE = "\n"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a declaration."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class DeclarationError(Exception):
    """The declaration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class NotADeclarationError(DeclarationError):
    """The folder given is no city declaration's (a declaration file, the folder of the cities, nothing): its one
    problem says which folder was meant. Bad input to any command, never a problem of a declaration."""


KEY = "[key]"  # pydantic's mark after a mapping key in a location: the key itself is what failed


def key_path(loc: Iterable[int | str]) -> str:
    """``('systems', 12, 'department')`` -> ``systems[12].department``; a mapping's key (``('vars', 1, '[key]')``,
    for a key YAML read as a number) as a key, ``vars.1``, not as a list index."""
    parts = list(loc)
    out = ""
    for part, following in itertools.pairwise([*parts, None]):  # the root's own location, (), is ''
        if part == KEY:
            continue
        if isinstance(part, int) and following != KEY:
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def show_value(value: object) -> str:
    """A short, quoted rendering of a bad value for error messages: JSON-like, cut after MAX_VALUE_CHARS.

    Only what is shown is rendered (a value of a million items costs no more than one of three), and a value that
    holds itself is shown with ``[…]`` / ``{…}`` where it repeats.
    """
    text = ""
    for piece in _pieces(value, set()) if not isinstance(value, str) else [value]:
        text += piece
        if len(text) > MAX_VALUE_CHARS:
            text = text[: MAX_VALUE_CHARS - 1] + "…"
            break
    return f"'{text}'"


def _pieces(value: object, open_: set[int]) -> Iterator[str]:
    """``value`` as JSON text, piece by piece (a generator: the caller stops when it has enough)."""
    if isinstance(value, str):
        yield json.dumps(value[: MAX_VALUE_CHARS + 1], ensure_ascii=False)
    elif value is None or isinstance(value, bool | int | float):
        yield json.dumps(value)
    elif isinstance(value, dict | list | tuple):
        mapping = isinstance(value, dict)
        if id(value) in open_:
            yield "{…}" if mapping else "[…]"
            return
        open_.add(id(value))
        yield "{" if mapping else "["
        items = cast(dict[object, object], value).items() if mapping else enumerate(cast(Iterable[object], value))
        for i, (key, item) in enumerate(items):
            yield ", " if i else ""
            if mapping:
                yield json.dumps(str(key), ensure_ascii=False) + ": "
            yield from _pieces(item, open_)
        yield "}" if mapping else "]"
        open_.discard(id(value))
    else:  # dates and the like: their text, as json.dumps(default=str) gave
        yield json.dumps(str(value), ensure_ascii=False)


# What YAML 1.1 makes of an unquoted value a string field expected, and how to keep it as written.
YAML_CONVERTED = (
    (bool, "YAML reads an unquoted yes, no, on, off, true or false as a boolean: write the value in quotes"),
    (int | float, "YAML read an unquoted number (1.30 becomes 1.3, 010 becomes 8): write the value in quotes"),
    (datetime.date, "YAML read an unquoted date: write the value in quotes"),
)


# pydantic names Python's types ("a valid tuple", "a valid dictionary or instance of Host"); the author of a YAML file
# writes lists and mappings, and `groups: loghost` for `groups: [loghost]` must say so in those words.
_LIST = "Input should be a list, written [a, b] or as '- a' lines"
_MAPPING = "Input should be a mapping, written {key: value} or as 'key: value' lines"
YAML_KINDS = {"Tuple": "List", "Set": "List", "Frozenset": "List", "Dictionary": "Mapping"}
YAML_SHAPES = {
    "list_type": _LIST,
    "tuple_type": _LIST,
    "set_type": _LIST,
    "frozen_set_type": _LIST,
    "dict_type": _MAPPING,
    "model_type": _MAPPING,
    "dataclass_type": _MAPPING,
}


def _why_not_text(value: object) -> str:
    """A hint when YAML turned what was meant as text into another type, else ''."""
    return next((f" ({hint})" for kind, hint in YAML_CONVERTED if isinstance(value, kind)), "")


def problems_from_validation(
    file: str, error: ValidationError, *, from_yaml: bool = True, model: type[BaseModel] | None = None
) -> list[Problem]:
    """One located problem per pydantic error: key path, message and the bad value (``from_yaml``: with a hint where
    YAML may have turned text into another type; JSON has no such conversions). Given the ``model`` validated, an
    unknown key is told the key it may stand for, or the keys its mapping takes.

    A list's "should have at least N items" is left out where items of that list already failed: it only counts the
    items that were valid, and repeats the problem the item errors name.
    """
    items = error.errors(include_url=False)
    # Pydantic puts the union/validator name into loc for some errors; keep only data keys.
    locs = [
        tuple(p for p in i["loc"] if not (isinstance(p, str) and p.startswith(("function-", "lax-")))) for i in items
    ]
    problems: list[tuple[tuple[int | str, ...] | None, Problem]] = []  # with the location of a missing key
    stood_for: set[tuple[int | str, ...]] = set()  # missing keys an unknown key is told it stands for
    for item, loc in zip(items, locs, strict=True):
        if item["type"] == "too_short" and any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs):
            continue
        message = item["msg"].removeprefix("Value error, ")
        kind, _, rest = message.partition(" ")
        if item["type"] in {"too_short", "too_long"} and kind in YAML_KINDS:  # "Tuple should have at least 1 item"
            message = f"{YAML_KINDS[kind]} {rest}"
        where = loc
        if item["type"] == "invalid_key" and loc:
            # A key YAML read as a number, boolean or date: pydantic's location holds it as an index (`quota[1]`) or
            # its Python repr (`datetime.date(2026, 1, 1)`); it is a mapping key, named as YAML shows it.
            where = (*loc[:-1], json.dumps(item["input"], default=str).strip('"'), KEY)
        if item["type"] == "extra_forbidden":
            message = "unknown key"
            if isinstance(loc[-1], str) and (unseen := named_characters(c for c in loc[-1] if _looks_blank(c))):
                # `　prefix` (an IME's full-width space), ` prefix` (a no-break space pasted from a document): the key
                # reads as `prefix`, which would be reported missing beside it.
                message += f" (it holds {unseen}, which YAML keeps in the key: retype the key)"
            elif isinstance(loc[-1], str) and FULL_WIDTH_COLON in loc[-1]:  # {cpu： 272}: one key, no value
                message += f" (it holds a full-width colon '{FULL_WIDTH_COLON}', U+FF1A, where ':' was meant)"
            elif model is not None and isinstance(loc[-1], str):
                siblings = (other for other, i in zip(locs, items, strict=True) if i["type"] == "missing")
                missing = [other[-1] for other in siblings if other[:-1] == loc[:-1]]
                keys = _keys_at(model, loc[:-1])
                meant = _meant_key(loc[-1], keys, missing)
                if meant in missing:
                    # `cpus` for a required `cpu`: one mistake, said once here, not again as 'cpu: Field required'.
                    stood_for.add((*loc[:-1], meant))
                    message += f" (did you mean '{meant}', a required key missing here?)"
                elif meant is not None:
                    message += f" (did you mean '{meant}'?)"
                else:
                    message += _keys_here(keys, file, FILES.get(Path(file).name) is model)
        elif item["type"] != "missing":
            message = f"{YAML_SHAPES.get(item['type'], message)}: {show_value(item['input'])}"
            unseen = named_characters(filter(_looks_blank, item["input"])) if isinstance(item["input"], str) else ""
            if unseen and "U+" not in message:  # a check of names may have named them already
                # `xz\u200bsp` is shown as 'xzsp', which looks right: say what the eye cannot see.
                message += f" (it holds {unseen}, which the value shows as nothing or a space: retype the value)"
        if item["type"] in {"string_type", "invalid_key"} and from_yaml:
            message += _why_not_text(item["input"])
        if item["type"] in {"int_parsing", "float_parsing"} and isinstance(item["input"], str) and loc:
            message += _unit_hint(str(loc[-1]), item["input"])
        if item["type"] in {"enum", "literal_error"} and isinstance(item["input"], str) and model is not None:
            message += _which_value(item["input"], _annotation_at(model, loc))
        if where and where[-1] == KEY:
            message = f"key: {message}"
        problems.append((loc if item["type"] == "missing" else None, Problem(file, key_path(where), message)))
    return [problem for missing_at, problem in problems if missing_at is None or missing_at not in stood_for]


def _meant_key(written: str, keys: Sequence[str], missing: Sequence[object]) -> str | None:
    """The one of ``keys`` an unknown key ``written`` may stand for, a ``missing`` one first (`cpus` beside a missing
    `cpu`); None where none is close."""
    close = difflib.get_close_matches(written, [str(k) for k in missing if k in keys], n=1, cutoff=0.6)
    close = close or difflib.get_close_matches(written, keys, n=1, cutoff=0.75)
    return close[0] if close else None


def _keys_here(keys: Sequence[str], file: str, in_schema: bool) -> str:
    """For an unknown key of no close name: the keys its mapping takes, or, when there are many and ``file`` is a
    declaration file (``in_schema``), where `dizuo schema` lists them; '' where no model's mapping holds it."""
    if not keys:
        return ""
    if len(keys) <= MAX_KEYS_LISTED or not in_schema:  # dizuo schema prints the declaration files' schemas only
        return f" (the keys here are {', '.join(keys)})"
    return f" (dizuo schema {Path(file).name} lists the keys here)"


def _keys_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys of the mapping at ``loc`` in a document of ``model``, or [] where that is no model's mapping."""
    models = [a for a in _arms(_annotation_at(model, loc)) if isinstance(a, type) and issubclass(a, BaseModel)]
    return list(models[0].model_fields) if len(models) == 1 else []


def _annotation_at(model: type[BaseModel], loc: Sequence[int | str]) -> object:
    """The type of the value at ``loc`` in a document of ``model``; None where it cannot say."""
    annotation: object = model
    for part in loc:
        annotation = _inside(annotation, part)
    return annotation


# Other names of values the declaration writes one way: an architecture as other tools call it (Debian and Docker say
# amd64, the kernel and RPM aarch64), a data classification in English (GB/T 43697's general, important and core
# data): an author copying from them is told the declaration's name.
OTHER_NAMES = {
    "amd64": "x86_64",
    "x64": "x86_64",
    "x86-64": "x86_64",
    "aarch64": "arm64",
    "loongarch64": "loong64",
    "general": "一般",
    "important": "重要",
    "core": "核心",
}


def _which_value(written: str, annotation: object) -> str:
    """The one of an enumeration's or Literal's values that ``written`` stands for (another tool's name for it, other
    letter case, a typo), as a hint; else ''."""
    allowed: list[str] = []
    for arm in _arms(annotation):
        if isinstance(arm, type) and issubclass(arm, Enum):
            allowed += [str(member.value) for member in arm]
        elif get_origin(arm) is Literal:
            allowed += [str(value) for value in get_args(arm)]
    meant = OTHER_NAMES.get(written.strip().lower())
    meant = meant if meant in allowed else next((v for v in allowed if v.lower() == written.strip().lower()), None)
    close = [meant] if meant else difflib.get_close_matches(written, allowed, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _inside(annotation: object, part: int | str) -> object:
    """The type of item ``part`` (a list index or a key) of a value of ``annotation``; None where it cannot say."""
    for arm in _arms(annotation):
        origin, args = get_origin(arm), get_args(arm)
        if isinstance(part, int) and origin in {tuple, list, set, frozenset} and args:
            return args[0]
        if isinstance(part, str) and origin is dict and len(args) == 2:
            return args[1]
        if isinstance(part, str) and isinstance(arm, type) and issubclass(arm, BaseModel):
            if part in arm.model_fields:
                return arm.model_fields[part].annotation
            if part == arm.__name__:  # pydantic names the arm of a union it tried
                return arm
    return None


def _arms(annotation: object) -> list[object]:
    """``annotation`` without Annotated, as the types of its union (``X | None`` is [X, None])."""
    if get_origin(annotation) is Annotated:
        return _arms(get_args(annotation)[0])
    if get_origin(annotation) in {Union, UnionType}:
        return [inner for arm in get_args(annotation) for inner in _arms(arm)]
    return [annotation]


# The unit a key's name gives its amounts (`storage_gib`, `refresh_days`, `cpu`), and what a unit written after the
# amount makes of it in that unit: Kubernetes' quantities (976Gi, 2Ti, 500m) are what a platform engineer types.
_GIB_PER = {
    "ki": Decimal(1) / 2**20,
    "mi": Decimal(1) / 2**10,
    "gi": Decimal(1),
    "ti": Decimal(2**10),
    "pi": Decimal(2**20),
}
_UNITS = (
    ("_gib", "GiB", {**_GIB_PER, **{f"{unit}b": per for unit, per in _GIB_PER.items()}}),
    ("_days", "days", {"d": Decimal(1), "day": Decimal(1), "days": Decimal(1), "w": Decimal(7), "weeks": Decimal(7)}),
    ("cpu", "cores", {"m": Decimal(1) / 1000, "core": Decimal(1), "cores": Decimal(1)}),
)
_AMOUNT_AND_UNIT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*")


def _unit_hint(key: str, value: str) -> str:
    """Where ``value`` is an amount with a unit written after it and ``key`` names its unit already (`storage_gib:
    182.5TiB`): the number to write instead, when the unit converts to the key's; else that the key's unit is meant.
    '' for any other key or value."""
    measured = key.split("_per_", maxsplit=1)[0]  # memory_gib_per_node counts GiB, cpu_per_node cores
    counted = next(((unit, per) for ending, unit, per in _UNITS if measured.endswith(ending)), None)
    written = _AMOUNT_AND_UNIT.fullmatch(value)
    if counted is None or written is None:
        return ""
    unit, per = counted
    factor = per.get(written[2].lower())
    if factor is None:
        return f" ({key} counts {unit}: write the number of {unit} alone, with no unit)"
    amount = Decimal(written[1]) * factor
    return f" ({key} counts {unit}: write {amount.normalize():f}, which is {value.strip()}, with no unit)"


def named_characters(chars: Iterable[str]) -> str:
    """``U+00A0 NO-BREAK SPACE, U+200B ZERO WIDTH SPACE``: each of ``chars`` once, by code point and name."""
    return ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, '')}".rstrip() for c in sorted(set(chars)))


def _looks_blank(char: str) -> bool:
    """A character a reader takes for a space or for nothing: any space but ASCII's, a format or control character."""
    return (char.isspace() and char != " ") or unicodedata.category(char) in {"Cf", "Cc"}


def read_yaml(path: Path, shown: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """One YAML mapping from ``path``, or the problems (missing, unreadable, bad YAML, not a mapping).

    Every YAML file dizuo reads (declaration, catalogue, waivers, monitoring configs) goes through here.
    """
    text, problems = read_utf8(path, shown)
    if text is None:
        return None, problems
    return yaml_mapping(text, shown)


def read_utf8(path: Path, shown: str) -> tuple[str | None, list[Problem]]:
    """The text of ``path``, or the problem (missing, unreadable, not UTF-8): :func:`read_yaml`'s reading, for a
    caller that needs the text as well as the mapping (see :func:`yaml_mapping`)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():
            return None, [Problem(shown, "", f"a link to {os.readlink(path)}, which is missing")]
        return None, [Problem(shown, "", "file is missing")]
    except OSError as exc:
        return None, [Problem(shown, "", f"cannot read: {exc}")]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        return None, [Problem(shown, "", _not_utf8(data, exc))]


def _not_utf8(data: bytes, exc: UnicodeDecodeError) -> str:
    """On which line the first byte that is no UTF-8 is, and how to save the file: an editor on a Chinese Windows
    writes GBK (GB18030) unless told otherwise. No column: an editor showing the file in its own encoding would count
    the characters before it otherwise."""
    where = f"line {data.count(NEWLINE.encode(), 0, exc.start) + 1}"
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        hint = "save it as UTF-8"
    else:
        hint = "it reads as GBK (GB18030): save it as UTF-8"
    return f"cannot read: {where}: not UTF-8 (byte 0x{data[exc.start]:02x}), the encoding dizuo reads YAML in; {hint}"


class _Loader(yaml.CSafeLoader):
    """libyaml's safe loader (the declaration of a province is large, and stack programs each load it), except
    that a date which does not exist (2027-13-01) stays text: validation then names its key and value, where
    PyYAML's own date constructor would fail with neither; and that a key given twice in one mapping is an
    error, where PyYAML would silently keep the last value."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[tuple[str, str], yaml.Mark] = {}
        for key_node, _ in node.value:
            # Merge keys (<<) may override on purpose; only keys written out in this mapping must be unique.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (key_node.tag, key_node.value)
            if key in first:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key_node.value!r} (first on line {first[key].line + 1})",
                    key_node.start_mark,
                )
            first[key] = key_node.start_mark
        if len(first) > 1:
            self._no_two_keys_alike(node)
        return super().construct_mapping(node, deep=deep)

    def _no_two_keys_alike(self, node: yaml.MappingNode) -> None:
        """Keys written apart that are one in the mapping YAML makes (2027 and 2027.0, 1 and true, 1 and 0x1): the
        later would replace the earlier's value without a word."""
        held: dict[object, yaml.ScalarNode] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            other = held.setdefault(self.construct_object(key_node), key_node)
            if other is not key_node:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key_node.value!r}: once read, it is the same key as {other.value!r} (line "
                    f"{other.start_mark.line + 1})",
                    key_node.start_mark,
                )


def _date_or_text(loader: _Loader, node: yaml.ScalarNode) -> object:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


def _int_or_text(loader: _Loader, node: yaml.ScalarNode) -> object:
    """An integer, or its text when Python refuses to make one (more than 4,300 digits): validation names it."""
    try:
        return loader.construct_yaml_int(node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _date_or_text)
_Loader.add_constructor("tag:yaml.org,2002:int", _int_or_text)
# A plain `=` is YAML 1.1's "value" key type, which PyYAML resolves but has no constructor for: every `=` (a separator
# in a host variable, a config value) failed the whole file. YAML 1.2 has no such type; `=` is the text "=" there.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}

# How many values aliases may add to a file (beyond the values it writes out, when it writes more than this): a
# merge key (<<: *defaults) repeating a few keys per host stays far below it; nested aliases that multiply (a "billion
# laughs": 3 KB of YAML that expands to 10^8 values and gigabytes) are refused before anything expands them.
MAX_ALIAS_VALUES = 100_000


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def alias_problem(root: yaml.Node, text: str) -> str | None:
    """Why the composed document ``root`` (of ``text``) must not be constructed: an alias inside the value it
    stands for (recursive: it never ends, and crashes whatever walks it), or aliases that expand the document by more
    than MAX_ALIAS_VALUES values; None when neither. One pass over the nodes as written, not as expanded."""
    size: dict[int, int] = {}  # node -> values it expands to, once all its children are done
    written: dict[int, yaml.Node] = {id(root): root}
    refs: dict[int, int] = {id(root): 1}
    path: set[int] = {id(root)}  # the nodes being expanded, from root down to the current one
    stack = [(root, iter(_children(root)))]
    while stack:
        node, pending = stack[-1]
        child = next(pending, None)
        if child is None:
            stack.pop()
            path.discard(id(node))
            size[id(node)] = 1 + sum(size[id(c)] for c in _children(node))
            continue
        refs[id(child)] = refs.get(id(child), 0) + 1
        if id(child) in path:
            anchor, alias = _anchor_and_alias(text, child)
            return (
                f"{_at(child.start_mark)}recursive alias: *{anchor}{alias} stands for the value anchored here "
                f"(&{anchor}), which holds it"
            )
        if id(child) not in written:
            written[id(child)] = child
            path.add(id(child))
            stack.append((child, iter(_children(child))))
    expanded, limit = size[id(root)], max(MAX_ALIAS_VALUES, len(written))
    if expanded - len(written) <= limit:
        return None
    biggest = max((n for i, n in written.items() if refs[i] > 1), key=lambda n: size[id(n)])
    anchor, alias = _anchor_and_alias(text, biggest)
    return (
        f"{_at(biggest.start_mark)}aliases expand the file to {expanded:,} values from {len(written):,} written (at "
        f"most {limit:,} more are allowed); the value anchored here (&{anchor}) alone expands to "
        f"{size[id(biggest)]:,} and is aliased {refs[id(biggest)] - 1} time(s), first as *{anchor}{alias}: write the "
        "values out, or alias less"
    )


def _at(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: "


def _anchor_and_alias(text: str, node: yaml.Node) -> tuple[str, str]:
    """The anchor name of ``node`` and where its first alias is (" (line N)"), from the events of ``text``: a
    composed node keeps neither. Only run when a problem was found."""
    anchor = "?"
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        mark = event.start_mark
        if mark is None or not isinstance(event, yaml.NodeEvent) or not event.anchor:
            continue
        if isinstance(event, yaml.AliasEvent):
            if event.anchor == anchor:
                return anchor, f" (line {mark.line + 1})"
        elif mark.index == node.start_mark.index:
            anchor = event.anchor
    return anchor, ""


def yaml_mapping(text: str, shown: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """One YAML mapping parsed from ``text`` (an empty document is an empty mapping), or the problems."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        # Only a file that defines an anchor can hold an alias: the others skip the walk over their nodes.
        refused = alias_problem(root, text) if root is not None and "&" in text else None
        if refused is not None:
            return None, [Problem(shown, "", f"invalid YAML: {refused}")]
        document = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow: libyaml gives its byte offset
            before = text.encode("utf-8")[: exc.position].decode("utf-8", errors="replace")
            where = f"line {before.count(NEWLINE) + 1}, column {len(before) - before.rfind(NEWLINE)}: "
            reason = f"character U+{exc.character:04X} is not allowed in YAML ({exc.reason}): delete it"
        hint = _typed_otherwise(text, mark) if "tab" not in str(reason) else ""  # libyaml may name the tab itself
        hint = hint or _left_open(exc)
        return None, [Problem(shown, "", f"invalid YAML: {where}{reason}{hint}")]
    finally:
        loader.dispose()
    if document is None:
        document = {}
    if not isinstance(document, dict):
        return None, [Problem(shown, "", f"the document must be a mapping, not {type(document).__name__}")]
    return document, []


FULL_WIDTH_COLON = "\uff1a"

# What libyaml was inside when it failed, and what is missing there. A '{', '[' or quote left open is found only
# where the next line no longer fits it, or at the end of the file: its own line is the one to correct.
_LEFT_OPEN = {
    "while parsing a flow mapping": "the '{{' at {at} is still open there: write ',' between its entries and '}}' "
    "after the last",
    "while parsing a flow sequence": "the '[' at {at} is still open there: write ',' between its items and ']' after "
    "the last",
    "while scanning a quoted scalar": "the quote at {at} is never closed: end the value with the same quote",
}


def _left_open(exc: yaml.YAMLError) -> str:
    """Where the '{', '[' or quote that the error is inside of was opened, when that is on an earlier line; else ''."""
    context, opened = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    failed = getattr(exc, "problem_mark", None)
    if context not in _LEFT_OPEN or opened is None or failed is None or opened.line == failed.line:
        return ""
    return f" ({_LEFT_OPEN[context].format(at=f'line {opened.line + 1}, column {opened.column + 1}')})"


def _typed_otherwise(text: str, mark: yaml.Mark | None) -> str:
    """A hint where the error comes of what an author typed for something else: a tab where YAML indents with spaces
    only, or a key written with a full-width colon (``kind： bureau``, as a Chinese input method types it) at or just
    before the error, which YAML reads as text, not as ``:``; else ''."""
    if mark is None:
        return ""
    lines = text.splitlines()
    if mark.line < len(lines) and lines[mark.line][mark.column : mark.column + 1] == "\t":
        return " (a tab: YAML indents with spaces only)"
    for number in range(min(mark.line, len(lines) - 1), max(mark.line - 3, -1), -1):
        content = lines[number].split("#", 1)[0]
        wide, ascii_colon = content.find(FULL_WIDTH_COLON), content.find(":")
        if wide >= 0 and (ascii_colon < 0 or wide < ascii_colon):  # in the key, not in a value after `key: `
            return f" (line {number + 1} holds a full-width colon '{FULL_WIDTH_COLON}', U+FF1A, where ':' was meant)"
    return ""


def load_documents(root: Path) -> dict[str, dict[str, Any]]:
    """Read every declaration file of ``root`` as raw YAML documents (no validation beyond YAML)."""
    documents: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for name in FILES:
        document, found = read_yaml(root / name, _shown(root / name))
        problems += found
        if document is not None:
            documents[name] = document
    if problems:
        raise DeclarationError(problems)
    return documents


def validate_documents(root: Path, documents: dict[str, dict[str, Any]]) -> Declaration:
    """Validate raw documents into a :class:`Declaration`, or raise with every problem."""
    from dizuo.declaration.checks import cross_check  # noqa: PLC0415 - checks imports this module

    parsed: dict[str, BaseModel] = {}
    problems: list[Problem] = []
    for name, model in FILES.items():
        shown = _shown(root / name)
        if name not in documents:
            problems.append(Problem(shown, "", "file is missing"))
            continue
        try:
            parsed[name] = model.model_validate(documents[name])
        except ValidationError as exc:
            problems += problems_from_validation(shown, exc, model=model)
    if problems:
        raise DeclarationError(problems)

    # FILES maps each name to its model, so these casts only restate what model_validate returned.
    declaration = Declaration(
        city=cast(City, parsed["city.yaml"]),
        network=cast(NetworkFile, parsed["network.yaml"]),
        clusters=cast(ClustersFile, parsed["clusters.yaml"]).clusters,
        departments=cast(DepartmentsFile, parsed["departments.yaml"]).departments,
        systems=cast(SystemsFile, parsed["systems.yaml"]).systems,
        datasets=cast(DatasetsFile, parsed["datasets.yaml"]).datasets,
        inventory=cast(HostsFile, parsed["hosts.yaml"]),
    )
    problems = cross_check(declaration, lambda name: _shown(root / name))
    if problems:
        raise DeclarationError(problems)
    return declaration


def load(root: Path | str) -> Declaration:
    """Load and validate the declaration in directory ``root``.

    Raises :class:`DeclarationError` listing every problem, each with file, key path and value.
    """
    root = Path(root)
    if (refused := not_a_declaration(root)) is not None:
        raise NotADeclarationError([Problem(str(root), "", refused)])
    stamp = tuple((name, *_stat(root / name)) for name in FILES)
    return _load_unchanged(root.resolve(), stamp, str(Path.cwd()))


def not_a_declaration(root: Path) -> str | None:
    """Why ``root`` is no city declaration's folder, with the one meant where it can tell (the folder of a declaration
    file given, the declarations in a folder that holds them, as inventories/ does); None where it may be one."""
    if root.is_file() and root.name in FILES:
        return f"a declaration file, not its folder: give the folder, {root.parent}"
    if not root.is_dir():
        return "not a directory holding a city declaration"
    try:
        if any((root / name).exists() or (root / name).is_symlink() for name in FILES):
            return None  # a declaration, whole or not: each missing file is named when it loads
        cities = sorted(str(folder) for folder in root.iterdir() if (folder / "city.yaml").is_file())
    except OSError:
        return None  # unreadable: loading names the files it cannot read
    where = f": give one of the declarations in it, {', '.join(cities)}" if cities else ""
    return f"holds none of the declaration files ({', '.join(FILES)}){where}"


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _load_unchanged(root: Path, stamp: tuple[tuple[str, int, int], ...], cwd: str) -> Declaration:
    """Loads are cached while no file changed (same mtime and size): every stack program loads the city."""
    del (
        stamp,
        cwd,
    )  # part of the cache key only: a change of file or of working directory (error paths) reloads
    return validate_documents(root, load_documents(root))


def _shown(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when below it. A file that is a link is
    named where it is, in the declaration, not where it points (which may not exist)."""
    try:
        return str((path.parent.resolve() / path.name).relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # not below it; or a symlink loop (RuntimeError before Python 3.13)
        return str(path)
