"""Run a Pulumi stack program offline, with Pulumi's own mock runtime as the engine, and record what it declares.

The mock monitor is Pulumi's unit-test mechanism (``pulumi.runtime.set_mocks``); ours additionally records
every registration with its parent, provider and data-protection options, answers StackReferences with the
contracts of stacks synthesised before, and returns the stack's exports.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import re
import runpy
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pulumi
import yaml
from pulumi.runtime import rpc, settings
from pulumi.runtime.mocks import (
    MockCallArgs,
    MockMonitor,
    MockResourceArgs,
    Mocks,
    _resolve_callbacks,
    set_mocks,
)
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import get_project, get_stack
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from dizuo.contracts import ORGANIZATION
from dizuo.declaration.loader import Problem, read_utf8, show_value, yaml_mapping
from dizuo.interrupt import interruptible
from dizuo.naming import label

STACK_REFERENCE = "pulumi:pulumi:StackReference"
ROOT_STACK = "pulumi:pulumi:Stack"
P = ParamSpec("P")
T = TypeVar("T")
SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 - the marker that replaces secrets, not a secret


@dataclass(frozen=True, slots=True)
class Registered:
    """One resource the program registered, as the engine saw it."""

    type: str
    name: str
    urn: str
    parent: str
    provider: str
    custom: bool
    protect: bool
    retain_on_delete: bool
    inputs: dict[str, Any]
    delete_before_replace: bool = False
    """A replacement deletes the old resource before it creates the new one (``delete_before_replace``)."""
    dependencies: tuple[str, ...] = ()
    """URNs this resource waits for (``depends_on`` and its inputs' resources)."""
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """By input, the URNs of the resources whose outputs it takes."""
    aliases: tuple[str, ...] = ()
    """URNs this resource was known by before: its own ``aliases``, then those it inherits from an aliased ancestor
    (:meth:`_RecordingMonitor._aliases_taken`). The engine takes a resource in the state under one of them for this
    one, so a rename is no replacement."""
    ignore_changes: tuple[str, ...] = ()
    """Inputs whose changes the engine ignores (``ignore_changes``): a deployed resource keeps what it was made with."""
    replace_on_changes: tuple[str, ...] = ()
    """Inputs whose change replaces the resource even where the provider would update it (``replace_on_changes``)."""
    deleted_with: str = ""
    """The URN of the resource whose deletion takes this one with it (``deleted_with``): no delete of its own."""
    replace_with: tuple[str, ...] = ()
    """URNs of the resources whose replacement replaces this one too (``replace_with``)."""
    import_id: str = ""
    """The ID of the existing cloud resource ``pulumi up`` adopts for this one (``import_``), instead of making one."""
    replacement_trigger: Any = None
    """A value whose change from the one recorded in the state replaces the resource (``replacement_trigger``); None
    when not set."""


class Exports(dict[str, Any]):
    """A stack's exports (``pulumi stack output``), and the names of those that are secret."""

    def __init__(self, values: Mapping[str, Any] | None = None, secret: Iterable[str] = ()) -> None:
        super().__init__(values or {})
        self.secret = frozenset(secret)


@dataclass(slots=True)
class StackRun:
    """What one stack program declared and exported."""

    project: str
    stack: str
    resources: list[Registered] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=Exports)

    def of_type(self, prefix: str) -> list[Registered]:
        """Resources whose type token starts with ``prefix``."""
        return [r for r in self.resources if r.type.startswith(prefix)]


class _Mocks(Mocks):
    """Resources echo their inputs as outputs; StackReferences return upstream exports."""

    def __init__(self, upstream: Mapping[str, Mapping[str, Any]]) -> None:
        self.upstream = upstream

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == STACK_REFERENCE:
            ref = str(args.inputs["name"])
            if ref not in self.upstream:
                raise MissingUpstreamError(ref, sorted(self.upstream))
            exports = self.upstream[ref]
            # Its secret exports stay secret in the consumer (the StackReference marks them by these names), so
            # that what the consumer derives from one is withheld as the export was.
            secret = sorted(exports.secret) if isinstance(exports, Exports) else []
            return ref, {"name": ref, "outputs": dict(exports), "secretOutputNames": secret}
        # Deterministic IDs: the logical name. Nothing random ever reaches a manifest.
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        # A lookup (say, the provider network by name) answers with what it was asked and an ID that says it
        # stands for a lookup made at deploy time.
        asked = dict(args.args)
        return {**asked, "id": f"lookup:{args.token}:{asked.get('name', '')}"}, []


class MissingUpstreamError(RuntimeError):
    """A StackReference names a stack that was not synthesised before this one."""

    def __init__(self, ref: str, known: list[str]) -> None:
        super().__init__(
            f"stack reference {ref!r} is not produced by a lower tier; known: {', '.join(known) or 'none'}"
        )


class DuplicateUrnError(Exception):
    """Two resources of a stack program were given one URN."""


class StackTypedAliasError(Exception):
    """A stack program gave an alias as a URN that names the stack's type, which no URN of Pulumi's engine holds."""


def _written_by_the_engine(urn: str) -> str | None:
    """``urn`` as the engine writes it, where ``urn``'s type starts with the stack's (``...::pulumi:pulumi:Stack$
    <type>::<name>``, Pulumi's mock monitor's URN of a resource, and what ``pulumi.create_urn`` makes with the stack as
    parent); None for any other. The engine leaves the stack's type out of every URN (and matches an alias URN as
    given), so it would take no deployed resource for such an alias."""
    parts = urn.split("::", 3)
    if len(parts) < 4 or not parts[2].startswith(f"{ROOT_STACK}$"):
        return None
    return "::".join([parts[0], parts[1], parts[2].removeprefix(f"{ROOT_STACK}$"), parts[3]])


def _stack_typed_said(aliases: list[tuple[str, str, str]]) -> str:
    """One line for each resource (``name``, ``type``) given an alias ``urn`` that names the stack's type."""
    said = [
        f"{name} ({type_}): its alias {urn!r} names the stack's type {ROOT_STACK}, as only a mock engine's URN (or "
        f"pulumi.create_urn with the stack as parent) does; Pulumi's engine leaves it out of every URN and would take "
        f"no deployed resource for it: give the alias as {_written_by_the_engine(urn)!r}, as "
        "`pulumi stack --show-urns` shows it"
        for name, type_, urn in sorted(set(aliases))  # sorted: the mock registers from several threads
    ]
    return "; ".join(said)


# The labels by which an object says what of the declaration it stands for (datapool.shapes.dataset_labels, the
# owner namespaces', cloud.shapes.system_labels, the StorageClasses'), in the order a reader looks for them.
_DECLARED_BY = ("dataset", "system", "owner", "storage-pool")


def _duplicates_said(urns: list[str], records: list[Registered]) -> str:
    """One line for the first (up to three) of ``urns`` registered twice: the resource's name and type, and what each
    registration stands for, as far as its inputs say (:func:`_stands_for`), which names the declaration entries whose
    codes joined alike, where the URN names neither."""
    said = []
    # De-duplicated before cut: a URN made three times is noted twice, and must not take the place of another.
    for urn in list(dict.fromkeys(urns))[:3]:
        twins = [r for r in records if r.urn == urn]
        # Sorted: the mock registers from several threads, so the order of the records is not the program's.
        what = " and ".join(sorted(_stands_for(r, records) for r in twins))
        said.append(f"{twins[0].name} ({twins[0].type}) is made {len(twins)} times: {what}")
    return (
        f"duplicate resource URN: {'; '.join(said)}; Pulumi refuses two resources of one name: rename one of the "
        "declaration entries they are named after, or fix the stack program's names"
    )


def _stands_for(r: Registered, records: list[Registered]) -> str:
    """What one registration is, from its inputs: a Kubernetes object's ``kind namespace/name`` with its provider and
    the declaration entries its dizuo.io labels name; a cloud resource's name; else its type."""
    metadata = r.inputs.get("metadata")
    if isinstance(metadata, dict) and "name" in metadata:
        namespace = metadata.get("namespace")
        where = f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])
        provider = next((p.name for p in records if r.provider.startswith(f"{p.urn}::")), None)
        labels = metadata.get("labels")
        labels = labels if isinstance(labels, dict) else {}
        declared = [f"{key} {labels[label(key)]!r}" for key in _DECLARED_BY if label(key) in labels]
        return (
            f"{r.type.rpartition(':')[2]} {where}"
            + (f" (provider {provider})" if provider else "")
            + (f" of {', '.join(declared)}" if declared else "")
        )
    if isinstance(r.inputs.get("name"), str):
        return f"{r.type.rpartition(':')[2]} {r.inputs['name']!r}"
    return r.type


class _RecordingMonitor(MockMonitor):
    """Pulumi's MockMonitor, recording parent, provider, protect and retainOnDelete of each registration."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.records: list[Registered] = []
        self.duplicate_urns: list[str] = []
        self.stack_typed_aliases: list[tuple[str, str, str]] = []
        """(name, type, alias) of each alias given as a URN naming the stack's type (_written_by_the_engine)."""
        self._aliases: dict[str, tuple[str, ...]] = {}
        """The aliases of each registered resource that has any, by its URN: what the aliases of its children are
        made of."""
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """The URN Pulumi's engine gives ``type_`` ``name`` under ``parent`` (``pulumi stack --show-urns``): its type
        qualified by the types of all its ancestors but the stack's. Pulumi's own mock monitor qualifies it by the
        parent's type only, the stack's included, a URN no deployed resource has: an alias or ``pulumi.create_urn``
        made from it would match under the mock and nothing under ``pulumi up``."""
        return _engine_form(parent, type_, name, get_stack(), get_project())

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type == ROOT_STACK:
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        _ensure_event_loop()  # type: ignore[no-untyped-call]
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._lock:
            if urn in self.resources:
                # What the real engine refuses at preview and up. Noted here and raised once the program is done:
                # an exception inside the registration would sit in futures nobody awaits.
                self.duplicate_urns.append(urn)
            # Refused once the program is done, as a duplicate is: under the mock such an alias would match.
            given = (str(alias.urn) for alias in request.aliases if alias.urn)
            self.stack_typed_aliases += [(request.name, request.type, u) for u in given if _written_by_the_engine(u)]
        inputs = rpc.deserialize_properties(request.object)
        args = MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
            transforms=_resolve_callbacks(request.transforms),
        )
        new_id, state = self.mocks.new_resource(args)
        id_ = new_id or request.name
        with self._lock:  # the parent's, and an alias's parent's, were recorded before: the program awaited their URNs
            aliases = self._aliases_taken(request)
        record = Registered(
            type=request.type,
            name=request.name,
            urn=urn,
            parent=request.parent,
            provider=request.provider,
            custom=bool(request.custom),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            inputs=inputs,
            delete_before_replace=bool(request.deleteBeforeReplace),
            dependencies=tuple(request.dependencies),
            property_dependencies={key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()},
            aliases=aliases,
            ignore_changes=tuple(request.ignoreChanges),
            replace_on_changes=tuple(request.replaceOnChanges),
            deleted_with=request.deletedWith,
            replace_with=tuple(request.replace_with),
            import_id=request.importId,
            replacement_trigger=_replacement_trigger(request),
        )
        with self._lock:
            self.records.append(record)
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
            if aliases:
                self._aliases[urn] = aliases
        obj = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)

    def _aliases_taken(self, request: Any) -> tuple[str, ...]:
        """The URNs under which the engine may take a resource of the state for the one ``request``
        registers, by the engine's rule (pulumi/pulumi pkg/resource/deploy/step_generator.go, generateAliases): each
        alias the program gave, then, for each URN the parent may have been found under (its own aliases and those it
        inherits in turn), the resource's URN under that one and each of its aliases under it too (inheritedChildAlias:
        a name starting with the parent's name takes the parent's former name in its place). The SDK leaves all but the
        first to the engine, since the monitor takes alias specs (aliasSpecs), so under the mock engine nothing else
        works them out. Which of the parent's aliases counts depends on the one it was found under in the state: these
        are the URNs of every state, in the engine's order, without repeats."""
        own = [urn for alias in request.aliases for urn in self._collapsed(request, alias)]
        taken = dict.fromkeys(own)
        parent_name = _urn_name(request.parent)
        for parent_alias in self._aliases.get(request.parent, ()):
            for type_, name in [(request.type, request.name), *((_urn_type(a), _urn_name(a)) for a in own)]:
                taken[_inherited(type_, name, parent_name, parent_alias)] = None
        return tuple(taken)

    def _collapsed(self, request: Any, alias: Any) -> list[str]:
        """The URNs an alias of ``request`` stands for (the engine's collapseAliasToUrn): given as such,
        or a spec whose unset parts are the resource's, its stack and project the program's. A spec naming a parent of
        its own stands under that parent, or under the URN the engine found that parent by when an alias found it."""
        if alias.urn:
            return [str(alias.urn)]  # as the engine takes it
        spec = alias.spec
        type_, name = spec.type or request.type, spec.name or request.name
        stack, project = spec.stack or get_stack(), spec.project or get_project()
        if spec.noParent:
            parents = [""]
        elif spec.parentUrn:
            parents = [spec.parentUrn, *self._aliases.get(spec.parentUrn, ())]
        else:
            parents = [request.parent]
        return [_engine_form(parent, type_, name, stack, project) for parent in parents]

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        # Reads (StackReferences among them) are recorded too: they are how stacks depend on each other.
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        record = Registered(
            type=request.type,
            name=request.name,
            urn=response.urn,
            parent=request.parent,
            provider=request.provider,
            custom=True,
            protect=False,
            retain_on_delete=False,
            inputs=rpc.deserialize_properties(request.properties),
        )
        with self._lock:
            self.records.append(record)
        return response


def _engine_form(parent: str, type_: str, name: str, stack: str, project: str) -> str:
    """The URN Pulumi's engine gives ``type_`` ``name`` under ``parent`` (a URN; "" for none): its type qualified by
    the types of all its ancestors but the stack's (collapseAliasToUrn's parentIsRootStack)."""
    parent_type = _urn_part(parent, 2)
    qualified = f"{parent_type}${type_}" if parent_type and parent_type != ROOT_STACK else type_
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def _inherited(type_: str, name: str, parent_name: str, parent_alias: str) -> str:
    """The URN a child ``type_`` ``name`` of the resource named ``parent_name`` had when that resource had the URN
    ``parent_alias`` (the engine's inheritedChildAlias): its name keeps its own unless it starts with the parent's,
    which the parent's former name replaces (``newapp-function`` of ``newapp``, once ``app``: ``app-function``)."""
    if name.startswith(parent_name):
        name = _urn_name(parent_alias) + name[len(parent_name) :]
    return _engine_form(parent_alias, type_, name, get_stack(), get_project())


def _urn_part(urn: str, index: int) -> str:
    """Part ``index`` of ``urn`` split as the engine splits it (resource.URN): ``urn:pulumi:<stack>``, the project,
    the qualified type, the name (which may hold ``::`` itself); "" when there is no such part."""
    parts = urn.split("::", 3)
    return parts[index] if index < len(parts) else ""


def _urn_name(urn: str) -> str:
    """The resource name of ``urn`` (resource.URN.Name)."""
    return _urn_part(urn, 3)


def _urn_type(urn: str) -> str:
    """The type of ``urn`` without its ancestors' (resource.URN.Type)."""
    return _urn_part(urn, 2).rsplit("$", 1)[-1]


def _replacement_trigger(request: Any) -> Any:
    """The ``replacement_trigger`` of a registration as the program gave it (secrets marked as in inputs), or None."""
    if not request.HasField("replacement_trigger"):
        return None
    # The SDK sends one protobuf Value; Pulumi's reader takes a Struct of them, the type the inputs come in (named so,
    # google.protobuf having no type stubs here).
    holder = type(request.object)()
    holder.fields["trigger"].CopyFrom(request.replacement_trigger)
    return rpc.deserialize_properties(holder)["trigger"]


class _StackConfigLoader(yaml.SafeLoader):
    """YAML as the Pulumi CLI reads each config value: Go's gopkg.in/yaml.v3 into an untyped value (its resolve.go),
    not PyYAML's YAML 1.1. Booleans are YAML 1.2's (``no``, ``on``, ``Yes`` stay text), ``12:30`` stays text (1.1:
    750), ``1e3`` and ``.5`` are numbers (1.1: text), ``0o27`` is 23 (1.1: text); like 1.1, ``0755`` is octal and
    ``1_000`` is 1000, as yaml.v3 keeps them "for compatibility"; and an unquoted date or time (``2026-12-07``,
    ``2026-12-07T10:00:00Z``) is a time (:class:`_Timestamp`), as yaml.v3 hands it to an untyped value (its
    decode_test.go: "implicit timestamp tag into interface"; yaml.v2 handed over the text).

    Where this was read, in pulumi/pulumi (the current CLI): the stack file is read by
    ``sdk/go/common/workspace/loaders.go`` (``projectStackLoader.load``) with the YAML marshaler of
    ``sdk/go/common/encoding/marshal.go``, which is gopkg.in/yaml.v3 (``sdk/go/common/encoding/BUILD.bazel`` lists
    yaml_v3 as its only YAML dependency; until 2022 the file imported gopkg.in/yaml.v2, whose YAML 1.1 reading would
    make ``on: yes`` the key true). Each value then goes through ``config.Value.UnmarshalYAML``
    (``sdk/go/common/resource/config/value.go``), which hands it to ``object.UnmarshalYAML``
    (``sdk/go/common/resource/config/object.go``): one unmarshal into ``any``, scalars included. Before that
    structured representation, ``Value`` unmarshalled a scalar into a Go string first, keeping its text as written;
    the current CLI no longer does."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:  # plain: yaml.v3 resolves it; quoted or tagged: PyYAML as ever
            # A time first, as yaml.v3 tries it before numbers; its own tag tells it from one tagged !!timestamp.
            return _UNQUOTED_TIME if _go_timestamp(str(value)) else _yaml_v3_scalar(str(value))[0]
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]  # PyYAML has no types


_YAML = "tag:yaml.org,2002:"
_NULL_TAG = f"{_YAML}null"
_UNQUOTED_TIME = "tag:dizuo,2026:unquoted-timestamp"
_V3_WORDS: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("true", "True", "TRUE"), (f"{_YAML}bool", True)),
    **dict.fromkeys(("false", "False", "FALSE"), (f"{_YAML}bool", False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (_NULL_TAG, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (f"{_YAML}float", math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (f"{_YAML}float", math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (f"{_YAML}float", -math.inf)),
    "<<": (f"{_YAML}merge", "<<"),
}
# yaml.v3's parseTimestamp: Go's time.Parse with "2006-1-2T15:4:5.999999999Z07:00" (or a lower-case t),
# "2006-1-2 15:4:5.999999999" or "2006-1-2", each field of one or two digits but the year's four.
_GO_TIMESTAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-(?P<day>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{1,2}):(?P<second>[0-9]{1,2})"
    r"(?:[.,](?P<fraction>[0-9]+))?(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_BASES = {"x": 16, "o": 8, "b": 2}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def _yaml_v3_scalar(text: str) -> tuple[str, Any]:
    """The tag and value yaml.v3 gives a plain scalar decoded into an untyped value (resolve.go ``resolve``): its
    table of words, then for text starting with a digit or sign Go's ``strconv.ParseInt(s, 0, 64)`` on the text without
    underscores (so a leading 0 is octal), a uint64, then a YAML-style float; anything else is text."""
    if text in _V3_WORDS:
        return _V3_WORDS[text]
    if text[:1] == "." and _YAML_STYLE_FLOAT.fullmatch(text):
        return f"{_YAML}float", float(text)
    if text[:1] not in set("+-0123456789"):
        return f"{_YAML}str", text
    plain = text.replace("_", "")
    if number := _GO_INT.fullmatch(plain):
        sign, digits = number.groups()
        prefixed = digits[:2].lower() in {"0x", "0o", "0b"}
        base = _GO_BASES[digits[1].lower()] if prefixed else 8 if len(digits) > 1 and digits[0] == "0" else 10
        value = int(digits[2:] if prefixed else digits, base) * (-1 if sign == "-" else 1)
        if _INT64_MIN <= value <= _UINT64_MAX and not (sign and value > 2**63 - 1):  # ParseUint takes no sign
            return f"{_YAML}int", value
    if _YAML_STYLE_FLOAT.fullmatch(plain) and math.isfinite(float(plain)):  # Go: out of range is an error, no Inf
        return f"{_YAML}float", float(plain)
    return f"{_YAML}str", text


def _go_timestamp(text: str) -> re.Match[str] | None:
    """The fields of ``text`` where yaml.v3 reads it as a time (``parseTimestamp``): one of its layouts, a ``T`` form
    with a zone (``Z`` or ``+08:00``) and a space form without, and every field in Go's ranges (a day the month has,
    hour below 24, minute and second below 60, a zone's hours up to 24 and minutes up to 60). Else None: the text is
    then read as a number or text, as yaml.v3 goes on to."""
    fields = _GO_TIMESTAMP.fullmatch(text)
    if fields is None:
        return None
    year, month, day = int(fields["year"]), int(fields["month"]), int(fields["day"])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)  # year 0 too, which Go takes and date() does not
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not (1 <= month <= 12 and 1 <= day <= days[month - 1]):
        return None
    if fields["sep"] is None:
        return fields
    if (fields["sep"] == " ") == (fields["zone"] is not None):
        return None
    if not (int(fields["hour"]) < 24 and int(fields["minute"]) < 60 and int(fields["second"]) < 60):
        return None
    zone = fields["zone"] or "Z"
    return fields if zone == "Z" or (int(zone[1:3]) <= 24 and int(zone[4:]) <= 60) else None


@dataclass(frozen=True, slots=True)
class _Timestamp:
    """A config value yaml.v3 reads as a time: unquoted (``2026-12-07``), or tagged ``!!timestamp``."""

    written: str
    tagged: bool
    printed: str
    """The time as the Pulumi CLI hands it to the program (:func:`_go_printed`)."""

    def refusal(self) -> str:
        """Why no program is handed this value as written, what the Pulumi CLI hands over instead, and how to write
        it: no program means that text, and synth cannot know the zone: refused, to be quoted."""
        written = f"!!timestamp {self.written}" if self.tagged else self.written
        how = "write it quoted, without the tag" if self.tagged else "quote it"
        return (
            f"{written}: a date or time, which the Pulumi CLI reads as a time and hands the program as Go prints it "
            f"({self.printed}), not as written; {how} ('{self.written}') to pass the text"
        )


def _go_printed(fields: re.Match[str]) -> str:
    """The time :func:`_go_timestamp` read, as the Pulumi CLI hands it to the program: Go's ``time.Time.String()``
    (``case time.Time: return newObject(v.String())`` in ``unmarshalObject``, sdk/go/common/resource/config/object.go).
    ``2026-12-07`` reaches ``pulumi up``'s program as ``2026-12-07 00:00:00 +0000 UTC``, and a time with an offset
    names a zone after the machine running pulumi."""
    clock = ":".join(f"{int(fields[part] or 0):02d}" for part in ("hour", "minute", "second"))
    fraction = (fields["fraction"] or "")[:9].rstrip("0")  # Go reads nine digits and prints no trailing zero
    printed = f"{fields['year']}-{int(fields['month']):02d}-{int(fields['day']):02d} {clock}"
    printed += f".{fraction}" if fraction else ""
    zone = fields["zone"] or "Z"
    if zone == "Z":
        return f"{printed} +0000 UTC"
    return f"{printed} {zone[0]}{zone[1:3]}{zone[4:]} and a zone name that depends on the machine running pulumi"


def _v3_timestamp(loader: _StackConfigLoader, node: yaml.ScalarNode) -> _Timestamp:
    """A scalar yaml.v3 reads as a time; one tagged ``!!timestamp`` that is none is refused as yaml.v3 refuses it."""
    text = str(loader.construct_scalar(node))
    fields = _go_timestamp(text)
    if fields is None:
        raise yaml.constructor.ConstructorError(None, None, f"cannot decode {text!r} as {node.tag}", node.start_mark)
    return _Timestamp(text, tagged=node.tag != _UNQUOTED_TIME, printed=_go_printed(fields))


def _v3_scalar(loader: _StackConfigLoader, node: yaml.ScalarNode) -> Any:
    """The number, boolean or null yaml.v3 reads from a scalar resolved (or tagged ``!!int``, ``!!float``, ``!!bool``,
    ``!!null``) as one; a tagged scalar that is none (``!!bool yes``, which YAML 1.1 reads as true) is refused as
    yaml.v3 refuses it ("cannot decode ...")."""
    text = str(loader.construct_scalar(node))
    tag, value = _yaml_v3_scalar(text)
    if tag == node.tag:
        return value
    if tag == f"{_YAML}int" and node.tag == f"{_YAML}float":
        return float(value)
    raise yaml.constructor.ConstructorError(None, None, f"cannot decode {text!r} as {node.tag}", node.start_mark)


for _tag in ("int", "float", "bool", "null"):
    _StackConfigLoader.add_constructor(f"{_YAML}{_tag}", _v3_scalar)
_StackConfigLoader.add_constructor(f"{_YAML}timestamp", _v3_timestamp)
_StackConfigLoader.add_constructor(_UNQUOTED_TIME, _v3_timestamp)


def _config_entries(text: str) -> list[tuple[str, Any]]:
    """Each ``config`` entry of a stack config: its key as written and its value as yaml.v3 reads it. The caller has
    read the file with :func:`read_stack_file` first, so its YAML is valid and ``config`` a mapping."""
    loader = _StackConfigLoader(text)
    try:
        root = loader.get_single_node()
        if not isinstance(root, yaml.MappingNode):
            return []
        entries: list[tuple[str, Any]] = []
        for top_key, top_value in root.value:
            if top_key.value != "config" or not isinstance(top_value, yaml.MappingNode):
                continue
            loader.flatten_mapping(top_value)  # `<<: *shared` entries, as yaml.v3 merges them; a later key wins
            for key_node, value_node in top_value.value:
                value = loader.construct_object(value_node, deep=True)
                entries.append((str(key_node.value), value))
        return entries
    finally:
        loader.dispose()


def _config_value(value: Any) -> tuple[str, bool]:
    """A config value as the Pulumi CLI hands it to a program (``object.MarshalString``), and whether it holds a
    secret: a string as it is; an empty value (null) as the empty string; any other value, a boolean, number, list or
    map, as its JSON written by Go's encoding/json (``0755`` is ``493``, ``True`` is ``true``, ``1e-5`` is
    ``0.00001``, a null inside a map ``null``), which ``Config.get_object`` parses; a secure leaf of a map or list is
    the placeholder (see below). ``!!binary`` and ``!!set``, which JSON cannot say, are refused."""
    if isinstance(value, str):
        return value, False
    if value is None:
        # yaml.v3 never calls config.Value's UnmarshalYAML for a null (decode.go, prepare: a null node returns before
        # any unmarshaler), so the key keeps a zero Value: the text "". The CLI warns that this "is currently
        # treated as an empty string" and will be null one day (checkForEmptyConfig, sdk/go/common/workspace).
        return "", False
    secret = False

    def withheld(node: Any, where: str) -> Any:
        nonlocal secret
        if _is_secure(node):
            secret = True
            return SECRET_PLACEHOLDER
        if isinstance(node, dict):
            named = {_go_key(k, where): v for k, v in node.items()}
            return {k: withheld(v, f"{where}.{k}") for k, v in named.items()}
        if isinstance(node, list):
            return [withheld(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if isinstance(node, float) and not math.isfinite(node):
            # Go's encoding/json refuses these, and with them the whole value: `pulumi up` would not start.
            message = f"{node}: infinity and NaN are numbers JSON cannot carry; quote it to pass the text"
            raise NotPassableError(where, message)
        if isinstance(node, _Timestamp):
            raise NotPassableError(where, node.refusal())
        return node

    return _go_json(withheld(value, "")), secret


def _is_secure(value: Any) -> bool:
    """Whether ``value`` is an encrypted secret as the Pulumi CLI tells one (``isSecureValue`` in
    sdk/go/common/resource/config/object.go): a map of the one key ``secure`` holding text. ``{secure: true}`` or a map
    with more keys is a plain map, handed over as its JSON."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


def _go_key(key: Any, where: str) -> str:
    """A map key as the CLI names it: Go prints a key that is no string with %v, so a boolean key is ``true``, not
    Python's ``True``; a time as key is refused as a time as value is."""
    if isinstance(key, _Timestamp):
        raise NotPassableError(where, f"key {key.refusal()}")
    return str(key).lower() if isinstance(key, bool) else str(key)


class NotPassableError(ValueError):
    """A config value, or a value inside one, that no program is handed as written; ``where`` is its path below the
    config key (``.limits.cpu``, ``.zones[0]``), empty for the value itself."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


def _go_json(node: Any) -> str:
    """``node`` (made of what :func:`_config_value` leaves: maps with text keys, lists, text, booleans, numbers, None)
    as Go's ``json.Marshal`` writes it, compact, where Python's JSON writes it otherwise: a map's keys sorted (Go sorts
    them, by bytes, which for UTF-8 is by code point as Python sorts), text with ``<``, ``>``, ``&``, U+2028 and U+2029
    escaped (Go's default HTML-safe escaping), a float by Go's rules (:func:`_go_json_float`). Anything else raises
    JSON's TypeError."""
    if isinstance(node, dict):
        return "{" + ",".join(f"{_go_json(key)}:{_go_json(node[key])}" for key in sorted(node)) + "}"
    if isinstance(node, list):
        return "[" + ",".join(_go_json(value) for value in node) + "]"
    if isinstance(node, float):
        return _go_json_float(node)
    if isinstance(node, str):
        # These characters never occur inside an escape sequence json.dumps writes, so replacing them is safe.
        return json.dumps(node, ensure_ascii=False).translate(_GO_HTML_ESCAPES)
    return json.dumps(node)


_GO_HTML_ESCAPES = str.maketrans({char: f"\\u{ord(char):04x}" for char in "<>&\u2028\u2029"})


def _go_json_float(number: float) -> str:
    """A finite float as the Pulumi CLI writes it (Go's encoding/json ``floatEncoder``): the shortest digits that read
    back as the same float (Go's precision -1, as Python's repr), positional (``'f'``) for magnitudes from 1e-6 up to
    1e21 and an exponent (``'e'``) outside them, the exponent without a leading zero (``1e-7``, ``1e+21``; Python's
    repr turns to an exponent from 1e16 and below 1e-4, and pads it: ``1e-07``). So ``2.0**60`` is
    ``1152921504606847000`` (Go pads the shortest digits with zeros; ``int()`` would give 1152921504606846976) and a
    whole float below 1e21 has no fraction (``1e3`` is ``1000``, which ``get_object`` reads as an int as under
    ``pulumi up``). ``-0.0`` is ``0``: the CLI's loader (``LoadProjectStackBytes``) writes the stack file back out
    with yaml.v3 before reading its values, which writes it ``-0`` and reads that back as the integer 0."""
    if number == 0:
        return "0"
    shortest = Decimal(repr(number)).normalize()  # 1.152921504606847E+18: repr's digits, no trailing zeros
    return format(shortest, "f" if 1e-6 <= abs(number) < 1e21 else "e")


class StackConfigError(ValueError):
    """A value of ``Pulumi.<stack>.yaml`` that no program could be handed; the message names its key."""


class ProjectConfigError(StackConfigError):
    """A ``Pulumi.yaml`` the Pulumi CLI refuses to load (no name, or a ``config:`` block it refuses), or one dizuo does
    not handle; the message names its key."""


# The types a project may declare (project.json's simpleConfigType); `object` is not among them.
_PROJECT_CONFIG_TYPES = ("string", "integer", "boolean", "array")
_PROJECT_CONFIG_FIELDS = {"type", "items", "description", "secret", "default", "value"}
_GO_ATOI = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, slots=True)
class _ProjectConfigKey:
    """One entry of a ``Pulumi.yaml`` ``config:`` block, after Pulumi's shorthand rewrite."""

    written: str
    """The key as written: the name Pulumi's messages give it."""
    key: str
    """The key as the program reads it (:func:`_pulumi_key`)."""
    type: str | None
    """The declared type, None when untyped."""
    items: Any
    """For an array, the declaration of its items (``{type: ..., items: ...}``)."""
    given: Any
    """The ``default`` (a project key) or ``value`` (another namespace), None for none."""
    secret: bool
    """``secret: true``: each stack must give the value encrypted."""


def _type_name(type_name: str | None, items: Any) -> str:
    """A declared type as Pulumi's messages name it (InferFullTypeName): ``array<integer>``."""
    if isinstance(items, dict):
        return f"array<{_type_name(items.get('type'), items.get('items'))}>"
    return str(type_name)


def _is_of_type(type_name: str | None, items: Any, value: Any) -> bool:  # noqa: PLR0911 - one per type, as Pulumi
    """Whether ``value`` passes Pulumi's check of a declared type (ValidateConfigValue): a scalar is checked as its
    text, so an integer may be written ``"3"`` and a boolean ``"true"``, and any scalar is a string."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, str):  # Go's strconv.Atoi: decimal digits, a sign, within int64
            return bool(_GO_ATOI.fullmatch(value)) and _INT64_MIN <= int(value) < 2**63
        if isinstance(value, float):
            return not math.isnan(value) and (math.isinf(value) or value.is_integer())  # Go: f == math.Trunc(f)
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "boolean":
        return value in ("true", "false") if isinstance(value, str) else isinstance(value, bool)
    if not isinstance(value, list) or not isinstance(items, dict):
        return False
    return all(_is_of_type(items.get("type"), items.get("items"), item) for item in value)


def _items_problem(items: Any) -> str | None:
    """What project.json's configItemsType refuses in an array's ``items``, None when it is right."""
    if not isinstance(items, dict) or items.get("type") not in _PROJECT_CONFIG_TYPES:
        return f"items: {show_value(items)}: a map whose type is one of {', '.join(_PROJECT_CONFIG_TYPES)}"
    if items["type"] == "array":
        return (
            "items: an array of arrays needs its own items" if "items" not in items else _items_problem(items["items"])
        )
    return None


def _project_config_key(project: str, written: str, given: Any) -> _ProjectConfigKey:
    """One ``config:`` entry of ``Pulumi.yaml`` read as the Pulumi CLI loads a project (sdk/go/common/workspace:
    project.json's schema, RewriteShorthandConfigValues, then Project.Validate); ProjectConfigError naming the key
    with Pulumi's reason where the CLI refuses the file."""
    own = ":" not in written or written.startswith(f"{project}:")  # configKeyIsNamespacedByProject
    where = f"config.{written}"
    if isinstance(given, str | int | list):  # isPrimitiveValue (string, int, bool) or isArray; a float is neither
        # The shorthand: a plain value is the default of a key of the project's own, the value of any other.
        given = {"default": given} if own else {"value": given}
    if isinstance(given, _Timestamp):  # yaml.v3's time, which Pulumi's schema takes for no kind of value
        raise ProjectConfigError(f"{where}: {given.refusal()}")
    if not isinstance(given, dict):
        raise ProjectConfigError(
            f"{where}: {show_value(given)}: a string, integer, boolean, list or a declaration "
            "({type, default, value, description, secret, items}), as Pulumi's project schema requires"
        )
    if unknown := sorted(str(field_) for field_ in given if field_ not in _PROJECT_CONFIG_FIELDS):
        raise ProjectConfigError(
            f"{where}.{unknown[0]}: not a field of a config declaration "
            f"(Pulumi allows {', '.join(sorted(_PROJECT_CONFIG_FIELDS))})"
        )
    type_name, items = given.get("type"), given.get("items")
    if "type" in given and type_name not in _PROJECT_CONFIG_TYPES:
        raise ProjectConfigError(
            f"{where}.type: {show_value(type_name)}: Pulumi declares one of {', '.join(_PROJECT_CONFIG_TYPES)}"
        )
    if type_name == "array" and "items" not in given:
        raise ProjectConfigError(
            f"{where}: The configuration key '{written}' declares an array "
            "but does not specify the underlying type via the 'items' attribute"
        )
    if "items" in given and (problem := _items_problem(items)):
        raise ProjectConfigError(f"{where}.{problem}")
    for field_, kind, expected in (("secret", bool, "boolean"), ("description", str, "string")):
        if field_ in given and not isinstance(given[field_], kind):
            raise ProjectConfigError(f"{where}.{field_}: {show_value(given[field_])}: a {expected}")
    default, value = given.get("default"), given.get("value")
    if default is not None and value is not None:
        raise ProjectConfigError(
            f"{where}: project config '{written}' cannot have both a 'default' and 'value' attribute"
        )
    if own:
        if type_name is not None and default is not None and not _is_of_type(type_name, items, default):
            raise ProjectConfigError(
                f"{where}.default: {show_value(default)}: The default value specified for configuration key "
                f"'{written}' is not of the expected type '{_type_name(type_name, items)}'"
            )
    elif type_name is not None:
        raise ProjectConfigError(
            f"{where}: Configuration key '{written}' is not namespaced by the project and should not define a type"
        )
    elif default is not None:
        raise ProjectConfigError(
            f"{where}: Configuration key '{written}' is not namespaced by the project and should not define a "
            "default value. Did you mean to use the 'value' attribute instead of 'default'?"
        )
    elif value is None:
        raise ProjectConfigError(
            f"{where}: Configuration key '{written}' is namespaced and must provide an attribute 'value'"
        )
    try:
        key = _pulumi_key(written, project)
    except StackConfigError as exc:  # a key the CLI cannot parse: here it refuses Pulumi.yaml
        raise ProjectConfigError(str(exc)) from None
    return _ProjectConfigKey(
        written=written,
        key=key,
        type=type_name,
        items=items,
        given=default if default is not None else value,
        secret=given.get("secret", False),
    )


def read_project_config(project_file: ProjectFile) -> list[_ProjectConfigKey]:
    """The ``config:`` block (project-level config) of ``project_file``, each entry checked as the Pulumi CLI checks it
    when it loads the project, its values read by yaml.v3 as the stack config's are. ProjectConfigError names the key
    Pulumi would refuse, or a stack config folder elsewhere (``stackConfigDir``), which dizuo does not read from."""
    document, project = project_file.document, project_file.name
    config = document.get("config")
    if isinstance(config, str) or "stackConfigDir" in document:  # `config: <folder>` is the old spelling
        key = "stackConfigDir" if "stackConfigDir" in document else "config"
        raise ProjectConfigError(
            f"{key}: {show_value(document[key])}: stack config files kept in another folder are not read by dizuo; "
            "keep Pulumi.<stack>.yaml beside Pulumi.yaml"
        )
    if config is None:
        return []
    if not isinstance(config, dict):
        raise ProjectConfigError(f"config: a mapping of keys to their declarations, not {type(config).__name__}")
    try:
        entries = _config_entries(project_file.text)
    except yaml.YAMLError as exc:
        raise ProjectConfigError(str(exc)) from None
    declared: dict[str, _ProjectConfigKey] = {}
    for written, given in entries:
        entry = _project_config_key(project, written, given)
        if entry.key in declared:
            raise ProjectConfigError(
                f"config.{written}: the same key as config.{declared[entry.key].written} to the Pulumi CLI "
                f"({entry.key}); declare it once"
            )
        declared[entry.key] = entry
    return list(declared.values())


@dataclass(frozen=True, slots=True)
class StackConfig:
    """A stack's config as the Pulumi CLI hands it to the program (:func:`stack_config`)."""

    values: dict[str, str]
    """Each key the program reads, with the text it gets (a map or list as its JSON)."""
    secrets: set[str]
    """The keys whose value is secret."""
    read: dict[str, Any]
    """Each key's value as yaml.v3 read it (a map or list as such), where it was given."""
    from_project: set[str]
    """The keys whose value is Pulumi.yaml's (a project ``value`` or ``default``), none of the stack file's."""


@dataclass(frozen=True, slots=True)
class ProjectFile:
    """A stack folder's ``Pulumi.yaml`` as read once (:func:`read_project_file`): the project's name, for the engine
    to run the program under, and its ``config:`` block, for :func:`stack_config`."""

    text: str
    """The file's text, whose ``config:`` keys in the order written :func:`_config_entries` reads."""
    document: dict[str, Any]
    """The mapping it holds, as :func:`~dizuo.declaration.loader.read_yaml` reads it."""
    name: str
    """The project's name (:func:`_project_name`)."""


@dataclass(frozen=True, slots=True)
class StackFile:
    """A stack's ``Pulumi.<stack>.yaml`` as read once (:func:`read_stack_file`), for :func:`stack_config`."""

    text: str
    """The file's text, whose keys in the order written :func:`_config_entries` reads."""
    document: dict[str, Any]
    """The mapping it holds, as :func:`~dizuo.declaration.loader.read_yaml` reads it."""


def read_stack_file(path: Path, shown: str) -> tuple[StackFile | None, list[Problem]]:
    """The stack file ``path``, or its problems named as ``shown`` (missing, unreadable, not UTF-8, bad YAML, a key
    given twice, not a mapping), as `dizuo up` reads it first (check_declarations): a file in GBK, bad YAML or a key
    given twice (which the Pulumi CLI refuses too) is named with its line, not a traceback or the last value kept."""
    text, problems = read_utf8(path, shown)
    if text is None:
        return None, problems
    document, problems = yaml_mapping(text, shown)
    if document is None:
        return None, problems
    return StackFile(text, document), []


def read_stack_config(
    stack_dir: Path, stack: str, project_file: ProjectFile | None = None
) -> tuple[dict[str, str], set[str]]:
    """The plain values and secret keys of :func:`stack_config`."""
    config = stack_config(stack_dir, stack, project_file=project_file)
    return config.values, config.secrets


def stack_config(
    stack_dir: Path, stack: str, stack_file: StackFile | None = None, project_file: ProjectFile | None = None
) -> StackConfig:
    """Plain values and secret keys of ``Pulumi.<stack>.yaml`` merged with the project's ``config:`` block in
    ``Pulumi.yaml``, each value as the Pulumi CLI passes it (see :func:`_config_value`), each key as it names it: one
    without a namespace (``replicas``) after the project (``dizuo-cloud:replicas``, as
    ``stackConfigNamespacedWithProject`` in sdk/go/common/workspace/loaders.go writes it), so that
    ``pulumi.Config().get("replicas")`` finds it as under ``pulumi up``.

    As the CLI merges the project's block (sdk/go/common/workspace/config.go, mergeConfig and
    validateStackConfigValue): a stack value overrides the project's ``default`` or ``value``, which applies where the
    stack gives none; a project key with neither is required of every stack; a typed key's value must be of its type
    and a ``secret: true`` key's value encrypted. ProjectConfigError for a ``Pulumi.yaml`` the CLI refuses to load.

    Secure values cannot be decrypted offline: they enter the program as a placeholder that is itself a
    secret, so the program runs its secret paths and the writer withholds the value (and its type goes unchecked).

    ``stack_file`` is ``Pulumi.<stack>.yaml`` where the caller has read it already (:func:`read_stack_file`), so that
    the file is read once; without it, the file is read here. ``project_file`` is ``stack_dir/Pulumi.yaml`` likewise.
    """
    project_file = project_file or read_project_file(stack_dir)
    project = project_file.name
    declared = read_project_config(project_file)
    values: dict[str, str] = {}
    secrets: set[str] = set()
    written_values: dict[str, Any] = {}  # each value as yaml.v3 read it, by the key the program reads
    path = stack_dir / f"Pulumi.{stack}.yaml"
    for written, key, value in _stack_entries(path, project, stack_file):
        written_values[key] = value
        if _is_secure(value):
            values[key] = SECRET_PLACEHOLDER
            secrets.add(key)
            continue
        values[key], secret = _passed(value, written, StackConfigError)
        if secret:
            secrets.add(key)
    if missing := [d.written for d in declared if d.key not in values and d.given is None]:
        # Only a project key can lack both: Pulumi refuses another namespace's key without a value (above).
        raise StackConfigError(
            f"Stack '{stack}' is missing configuration value(s) {', '.join(repr(m) for m in missing)}, which"
            " Pulumi.yaml declares without a default: give each in Pulumi.<stack>.yaml"
        )
    from_project: set[str] = set()
    for entry in declared:
        breaking: type[StackConfigError] = StackConfigError
        if entry.key not in values:
            written_values[entry.key] = entry.given
            values[entry.key], _ = _passed(entry.given, entry.written, ProjectConfigError)
            from_project.add(entry.key)
            breaking = ProjectConfigError  # the project's own value breaks its declaration: Pulumi.yaml is to fix
        _check_declared(stack, entry, values[entry.key], written_values[entry.key], entry.key in secrets, breaking)
    return StackConfig(values, secrets, written_values, from_project)


def _stack_entries(path: Path, project: str, stack_file: StackFile | None) -> list[tuple[str, str, Any]]:
    """Each ``config`` entry of the stack file ``path`` (none when there is no such file), read already where
    ``stack_file`` is given: its key as written, the key the program reads (:func:`_pulumi_key`) and the value as
    yaml.v3 reads it. StackConfigError for a file the CLI refuses."""
    if stack_file is None:
        if not path.exists():
            return []
        stack_file, problems = read_stack_file(path, path.name)
        if stack_file is None:
            raise StackConfigError("; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems))
    if (environment := stack_file.document.get("environment")) not in (None, []):
        # Pulumi's ProjectStack takes a null or an empty list for no environment (Environment.Definition gives nothing);
        # any other value it opens before running the program (openStackEnv), which a self-managed backend cannot do.
        raise StackConfigError(
            f"environment: {show_value(environment)}: Pulumi ESC environments, which only Pulumi Cloud opens: against "
            "the city's self-managed backend `pulumi up` stops with 'backend ... does not support environments', and "
            "the config they would give the programs (pulumiConfig) cannot be known here; write those values under "
            "config: instead"
        )
    config = stack_file.document.get("config") or {}
    if not isinstance(config, dict):
        raise StackConfigError(f"config: a mapping of keys to values, not {type(config).__name__}")
    try:
        entries = _config_entries(stack_file.text)
    except yaml.YAMLError as exc:  # a value tagged !!int or !!bool that yaml.v3 reads as none: the CLI refuses it too
        raise StackConfigError(str(exc)) from None
    written_as: dict[str, str] = {}
    keyed: list[tuple[str, str, Any]] = []
    for written, value in entries:
        key = _pulumi_key(written, project)
        if key in written_as:
            raise StackConfigError(
                f"config.{written}: the same key as config.{written_as[key]} to the Pulumi CLI ({key}), which keeps "
                "one of the two values, either; give it once"
            )
        written_as[key] = written
        keyed.append((written, key, value))
    return keyed


def _passed(value: Any, named: str, error: type[StackConfigError]) -> tuple[str, bool]:
    """:func:`_config_value` of the value of config key ``named``, a value no program is handed raised as ``error``
    naming the key and where in the value. Every value, scalars too, is read as the CLI's config.Value.UnmarshalYAML
    reads it (see _StackConfigLoader): `no` stays the text, `0755` reaches the program as 493, `True` as true, an
    empty value as ""; quoted, a value is the text written."""
    try:
        return _config_value(value)
    except NotPassableError as exc:
        raise error(f"config.{named}{exc.where}: {exc}") from None
    except (TypeError, ValueError) as exc:  # a value JSON cannot say (!!binary, !!set), which no CLI passes on
        raise error(f"config.{named}: {exc}") from None


def _check_declared(
    stack: str, declared: _ProjectConfigKey, passed: str, value: Any, secure: bool, error: type[StackConfigError]
) -> None:
    """``error`` naming the key and value where the value the program gets breaks the project's declaration of it, as
    ``pulumi up`` refuses it (validateStackConfigValue): not encrypted where declared secret (a plaintext default too,
    as Pulumi refuses it), or not of the declared type, checked on what the program gets (a scalar, an empty value
    included, as its text; a list or map as its JSON)."""
    if declared.secret and not secure:
        raise error(
            f"config.{declared.key}: Stack '{stack}' with configuration key '{declared.written}' must be encrypted "
            "as it's secret (Pulumi.yaml declares it secret: true): set it with `pulumi config set --secret`"
        )
    if declared.type is None or secure:  # a ciphertext cannot be read offline: `pulumi up` checks its type
        return
    content = json.loads(passed) if isinstance(value, dict | list) else passed
    if not _is_of_type(declared.type, declared.items, content):
        raise error(
            f"config.{declared.key}: {show_value('' if value is None else value)}: Stack '{stack}' with configuration "
            f"key '{declared.written}' must be of type '{_type_name(declared.type, declared.items)}' "
            "(as Pulumi.yaml declares it)"
        )


def _pulumi_key(written: str, project: str) -> str:
    """The key the Pulumi CLI hands the program for config key ``written`` of project ``project``: a name without a
    namespace is the project's (``stackConfigNamespacedWithProject``, sdk/go/common/workspace/loaders.go, and
    ``parseConfigKey`` for Pulumi.yaml's block), ``<namespace>:<name>`` is itself and the old
    ``<namespace>:config:<name>`` is ``<namespace>:<name>`` (``config.ParseKey``, sdk/go/common/resource/config/key.go);
    anything else the CLI refuses, and so does this, as StackConfigError."""
    parts = written.split(":")
    if len(parts) == 1:
        return f"{project}:{written}"
    if len(parts) == 2:  # <namespace>:<name>
        return written
    if len(parts) == 3 and parts[1] == "config":  # <namespace>:config:<name>
        return f"{parts[0]}:{parts[2]}"
    raise StackConfigError(
        f"config.{written}: a key the Pulumi CLI cannot parse, and it refuses the file: a key is <namespace>:<name> "
        "(or a name alone, the project's)"
    )


def read_project_file(stack_dir: Path) -> ProjectFile:
    """``stack_dir/Pulumi.yaml``, read once: ProjectConfigError naming the line when it is no YAML mapping (or gives a
    key twice), or naming the key when it gives the project no name."""
    text, problems = read_utf8(stack_dir / "Pulumi.yaml", "Pulumi.yaml")
    document, problems = yaml_mapping(text, "Pulumi.yaml") if text is not None else (None, problems)
    if text is None or document is None:
        raise ProjectConfigError("; ".join(p.message for p in problems))
    return ProjectFile(text, document, _project_name(document))


def _project_name(document: Mapping[str, Any]) -> str:
    """The project name of a ``Pulumi.yaml`` ``document``; ProjectConfigError naming the key when it has none."""
    name = document.get("name")
    if name is None or isinstance(name, dict | list) or not str(name):
        shown = show_value(name) if "name" in document else "missing"
        raise ProjectConfigError(f"name: {shown}: the project's name is required (Pulumi names its stacks by it)")
    return str(name)


def _with_a_loop_of_its_own(call: Callable[[], T], executor: ThreadPoolExecutor | None = None) -> T:
    """``call()`` with an event loop set for its thread (``executor`` its default executor), closed as it returns."""
    loop = asyncio.new_event_loop()
    if executor is not None:
        loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    try:
        return call()
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class _LoopPerCall(ThreadPoolExecutor):
    """The default executor of a stack program's event loop: Pulumi's runtime calls the (mock) monitor in it. Pulumi's
    mock monitor sets an event loop for each thread that serves a call and never closes it; left to the garbage
    collector, which finalises a loop and its self-pipe socket in no set order, such a loop can be closed after its
    socket and print an "Exception ignored in BaseEventLoop.__del__ ... Invalid file descriptor: -1" traceback (as the
    process exits after an interrupted synth, under the line saying what became of --out). Here each call runs with a
    loop of its own, closed as the call returns."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return super().submit(_with_a_loop_of_its_own, functools.partial(fn, *args, **kwargs))


def _in_a_thread_of_its_own(function: Callable[P, T]) -> Callable[P, T]:
    """``function`` run in a worker thread (:func:`dizuo.interrupt.interruptible`) with an event loop of its own (Pulumi
    asks asyncio for the thread's loop; a worker thread has none until one is set). A KeyboardInterrupt raised inside
    Pulumi's loop is swallowed there and leaves the loop waiting for futures nobody resolves: Ctrl-C and SIGTERM are
    taken by the waiting caller instead. A stack program writes no files, so an abandoned one leaves nothing behind.
    """

    @functools.wraps(function)
    def interruptibly(*args: P.args, **kwargs: P.kwargs) -> T:
        def in_a_loop() -> T:
            return _with_a_loop_of_its_own(
                functools.partial(function, *args, **kwargs), _LoopPerCall(thread_name_prefix="pulumi-monitor")
            )

        return interruptible(in_a_loop, "pulumi")

    return interruptibly


@_in_a_thread_of_its_own
def run_stack(
    stack_dir: Path,
    stack: str,
    config: Mapping[str, str],
    secret_keys: set[str],
    upstream: Mapping[str, Mapping[str, Any]],
    program: Callable[[], None] | None = None,
    project_file: ProjectFile | None = None,
) -> StackRun:
    """Run ``stack_dir/__main__.py`` (or ``program``) under the mock engine, from inside ``stack_dir``, as the project
    of its ``Pulumi.yaml`` (``project_file`` where the caller has read it already).

    ``upstream`` maps fully qualified stack names (``organization/<project>/<stack>``) to their exports. It runs in a
    thread of its own, so that Ctrl-C and SIGTERM reach the caller at once.
    """
    project = (project_file or read_project_file(stack_dir)).name
    run = StackRun(project=project, stack=stack)
    monitor = _RecordingMonitor(_Mocks(upstream))
    settings.ROOT.set(None)  # a fresh root Stack per program: exports must not leak between stacks
    set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor, organization=ORGANIZATION)
    pulumi.runtime.set_all_config(dict(config), sorted(secret_keys))
    # A program that failed leaves its pending outputs (tasks of its closed event loop) in Pulumi's settings, where the
    # next program of this process would wait for them: "Event loop is closed".
    with settings.SETTINGS.lock:
        settings.SETTINGS.outputs.clear()

    def body() -> Exports:
        with contextlib.chdir(stack_dir):
            if program is not None:
                program()
            else:
                runpy.run_path(str(stack_dir / "__main__.py"), run_name="__main__")
        root = settings.get_root_resource()
        outputs = getattr(root, "outputs", {}) or {}
        resolved = _sync_await(pulumi.Output.from_input(outputs).future())
        secret = [name for name, value in outputs.items() if _sync_await(pulumi.Output.from_input(value).is_secret())]
        return Exports(resolved or {}, secret)

    result: dict[str, Exports] = {}

    def program_body() -> None:
        result["exports"] = body()

    _sync_await(run_pulumi_func(program_body))
    if monitor.duplicate_urns:
        raise DuplicateUrnError(_duplicates_said(monitor.duplicate_urns, monitor.records))
    if monitor.stack_typed_aliases:
        raise StackTypedAliasError(_stack_typed_said(monitor.stack_typed_aliases))
    run.exports = result.get("exports", Exports())
    run.resources = sorted(monitor.records, key=lambda r: r.urn)
    return run


def is_secret(value: object) -> bool:
    """Whether a recorded input value is a Pulumi secret."""
    return rpc.is_rpc_secret(value)


def map_keys(value: Any) -> list[str]:
    """The keys of a recorded map input, whether the map or any of its values is a Pulumi secret ([] for no map)."""
    value = rpc.unwrap_rpc_secret(value)
    return [str(key) for key in value] if isinstance(value, dict) else []


def unwrap(value: Any) -> Any:
    """Recorded inputs with every secret replaced by a placeholder: what may be written to disk."""
    if rpc.is_rpc_secret(value):
        return _withheld(value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf turns every number into a float; manifests want 8080, not 8080.0
    return value


def _withheld(value: Any) -> Any:
    """A secret as it may be written: a map keeps its keys and a list its items, each value the placeholder. Pulumi
    marks a whole map secret when one of its values is (a ConfigMap's data holding a secret stack output), and a
    manifest whose map is one placeholder string would fail its schema."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {k: _withheld(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_withheld(v) for v in value]
    return SECRET_PLACEHOLDER
