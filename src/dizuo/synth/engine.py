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
import runpy
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
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
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from dizuo.contracts import ORGANIZATION
from dizuo.declaration.loader import read_yaml, show_value
from dizuo.interrupt import interruptible

STACK_REFERENCE = "pulumi:pulumi:StackReference"
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
    """URNs this resource was known by before (``aliases``): the engine takes a resource in the state under one of
    them for this one, so a rename is no replacement."""


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


class _RecordingMonitor(MockMonitor):
    """Pulumi's MockMonitor, recording parent, provider, protect and retainOnDelete of each registration."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.records: list[Registered] = []
        self.duplicate_urns: list[str] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        _ensure_event_loop()  # type: ignore[no-untyped-call]
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._lock:
            if urn in self.resources:
                # What the real engine refuses at preview and up. Noted here and raised once the program is done:
                # an exception inside the registration would sit in futures nobody awaits.
                self.duplicate_urns.append(urn)
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
            aliases=tuple(self._alias_urn(request, alias) for alias in request.aliases),
        )
        with self._lock:
            self.records.append(record)
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, state)
        obj = _sync_await(rpc.serialize_properties(state, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)

    def _alias_urn(self, request: Any, alias: Any) -> str:
        """The URN an alias of ``request`` stands for: given as such, or a spec whose unset parts are the resource's."""
        if alias.urn:
            return str(alias.urn)
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        return self.make_urn(parent, spec.type or request.type, spec.name or request.name)

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


class _StackConfigLoader(yaml.SafeLoader):
    """YAML as the Pulumi CLI reads a stack config into untyped values: a date stays the text written (yaml.v3 keeps
    a timestamp a string there), so that it reaches the program as written, not as Python's date."""


_StackConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _config_value(value: Any) -> tuple[str, bool]:
    """A config value as the Pulumi CLI hands it to a program, and whether it holds a secret. A string is itself; any
    other value (a number, a boolean, a list or a map: structured config) is its JSON, which ``Config.get_int``,
    ``get_bool`` and ``get_object`` parse; a secure leaf of a map or list is the placeholder (see below)."""
    if isinstance(value, str):
        return value, False
    secret = False

    def withheld(node: Any) -> Any:
        nonlocal secret
        if isinstance(node, dict) and set(node) == {"secure"}:
            secret = True
            return SECRET_PLACEHOLDER
        if isinstance(node, dict):
            return {str(k): withheld(v) for k, v in node.items()}
        if isinstance(node, list):
            return [withheld(v) for v in node]
        return node

    plain = withheld(value)
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":")), secret


class StackConfigError(ValueError):
    """A value of ``Pulumi.<stack>.yaml`` that no program could be handed; the message names its key."""


def read_stack_config(stack_dir: Path, stack: str) -> tuple[dict[str, str], set[str]]:
    """Plain values and secret keys of ``Pulumi.<stack>.yaml``, each value as the Pulumi CLI passes it (see
    :func:`_config_value`).

    Secure values cannot be decrypted offline: they enter the program as a placeholder that is itself a
    secret, so the program runs its secret paths and the writer withholds the value.
    """
    path = stack_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        return {}, set()
    # Read as `dizuo up` reads it first (check_declarations): a file in GBK, bad YAML or a key given twice (which the
    # Pulumi CLI refuses too) is named with its line, not a traceback or the last value silently kept.
    checked, problems = read_yaml(path, path.name)
    if checked is None:
        raise StackConfigError("; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in problems))
    config = checked.get("config") or {}
    if not isinstance(config, dict):
        raise StackConfigError(f"config: a mapping of keys to values, not {type(config).__name__}")
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_StackConfigLoader) or {}  # noqa: S506 - a SafeLoader
    values: dict[str, str] = {}
    secrets: set[str] = set()
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value:
            values[key] = SECRET_PLACEHOLDER
            secrets.add(key)
            continue
        try:
            values[key], secret = _config_value(value)
        except (TypeError, ValueError) as exc:  # a value JSON cannot say (!!binary, !!set), which no CLI passes on
            raise StackConfigError(f"config.{key}: {exc}") from None
        if secret:
            secrets.add(key)
    return values, secrets


def project_name(stack_dir: Path) -> str:
    """The Pulumi project name from ``Pulumi.yaml``; StackConfigError, naming the line or key, when it has none."""
    document, problems = read_yaml(stack_dir / "Pulumi.yaml", "Pulumi.yaml")
    if document is None:
        raise StackConfigError("; ".join(p.message for p in problems))
    name = document.get("name")
    if name is None or isinstance(name, dict | list) or not str(name):
        shown = show_value(name) if "name" in document else "missing"
        raise StackConfigError(f"name: {shown}: the project's name is required (Pulumi names its stacks by it)")
    return str(name)


def _in_a_thread_of_its_own(function: Callable[P, T]) -> Callable[P, T]:
    """``function`` run in a worker thread (:func:`dizuo.interrupt.interruptible`) with an event loop of its own (Pulumi
    asks asyncio for the thread's loop; a worker thread has none until one is set). A KeyboardInterrupt raised inside
    Pulumi's loop is swallowed there and leaves the loop waiting for futures nobody resolves: Ctrl-C and SIGTERM are
    taken by the waiting caller instead. A stack program writes no files, so an abandoned one leaves nothing behind.
    """

    def in_a_loop(*args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return function(*args, **kwargs)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    @functools.wraps(function)
    def interruptibly(*args: P.args, **kwargs: P.kwargs) -> T:
        return interruptible(lambda: in_a_loop(*args, **kwargs), "pulumi")

    return interruptibly


@_in_a_thread_of_its_own
def run_stack(
    stack_dir: Path,
    stack: str,
    config: Mapping[str, str],
    secret_keys: set[str],
    upstream: Mapping[str, Mapping[str, Any]],
    program: Callable[[], None] | None = None,
) -> StackRun:
    """Run ``stack_dir/__main__.py`` (or ``program``) under the mock engine, from inside ``stack_dir``.

    ``upstream`` maps fully qualified stack names (``organization/<project>/<stack>``) to their exports. It runs in a
    thread of its own, so that Ctrl-C and SIGTERM reach the caller at once.
    """
    project = project_name(stack_dir)
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
        shown = ", ".join(repr(urn) for urn in monitor.duplicate_urns[:3])
        raise DuplicateUrnError(f"duplicate resource URN {shown}: two declared things map to one name")
    run.exports = result.get("exports", Exports())
    run.resources = sorted(monitor.records, key=lambda r: r.urn)
    return run


def engine_urn(run: StackRun, resource: Registered) -> str:
    """The URN the Pulumi engine gives ``resource`` (``pulumi stack --show-urns``, ``pulumi state unprotect``): its type
    qualified by the types of all its ancestors but the stack. The mock monitor qualifies it by its parent's type only,
    the stack's included, which is good enough to tell resources apart but not to name them to the Pulumi CLI."""
    by_urn = {r.urn: r for r in run.resources}
    types = [resource.type]
    parent = by_urn.get(resource.parent)
    while parent is not None:
        types.insert(0, parent.type)
        parent = by_urn.get(parent.parent)
    return f"urn:pulumi:{run.stack}::{run.project}::{'$'.join(types)}::{resource.name}"


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
