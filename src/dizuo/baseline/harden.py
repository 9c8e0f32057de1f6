"""Run the baseline role against the declared hosts through ansible-runner, with progress.

The inventory is rendered from ``hosts.yaml`` (the one source of truth) and every host gets the
resolved baseline parameters of its zone as ``baseline_<param>`` variables, the same values the
audit checks against. Each run uses a fresh private data directory: ansible-runner would otherwise
replay a saved ``env/cmdline`` silently (see shared/notes/machine-facts.md).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dizuo.baseline.catalogue import Control
from dizuo.baseline.params import host_vars, resolve
from dizuo.baseline.role import PLAYBOOK, find_roles
from dizuo.declaration import Declaration
from dizuo.declaration.inventory import hosts_yml
from dizuo.playbook import run_playbook

# A converge of one host takes well under a minute; this only stops a hung connection.
RUN_TIMEOUT_S = 1800


class HardenError(Exception):
    """The run could not start (no playbook, bad --limit): the message says what and where."""


@dataclass(frozen=True, slots=True)
class HostOutcome:
    """Task counts of one host, as Ansible's play recap reports them."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class HardenResult:
    """The outcome of one run of the role."""

    rc: int
    status: str
    hosts: dict[str, HostOutcome]
    check: bool

    @property
    def ok(self) -> bool:
        """True when Ansible succeeded and no host failed or was unreachable."""
        return self.rc == 0 and all(h.failed == 0 and h.unreachable == 0 for h in self.hosts.values())

    @property
    def changed(self) -> int:
        """Changed tasks over all hosts."""
        return sum(h.changed for h in self.hosts.values())


Event = dict[str, Any]
EventHandler = Callable[[Event], None]


def find_playbook() -> Path:
    """The baseline playbook: shipped in the package if built so, else the repository's ``roles/``."""
    roles = find_roles()
    if roles is None:
        raise HardenError(f"cannot find roles/{PLAYBOOK}: run from the dizuo repository or install it with the roles")
    return roles / PLAYBOOK


def _search_path() -> str:
    """The PATH ansible-runner starts ansible-playbook from: the folder of this interpreter first (a virtual
    environment's, where pip put ansible-core's scripts with dizuo), then the caller's PATH."""
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def find_ansible_playbook() -> Path:
    """The ``ansible-playbook`` a run starts, or :class:`HardenError` saying what to install: ansible-runner would
    otherwise start nothing and report only a failed status with rc 127, as if the hosts had failed."""
    found = shutil.which("ansible-playbook", path=_search_path())
    if found is None:
        raise HardenError(
            f"no ansible-playbook next to this Python ({Path(sys.executable).parent}) or on PATH: `dizuo harden` "
            "runs the baseline role with it; install ansible-core into dizuo's environment "
            "(`python -m pip install 'ansible-core>=2.16,<2.20'`) or put ansible-playbook on PATH"
        )
    return Path(found)


def inventory(declaration: Declaration) -> dict[str, Any]:
    """The YAML inventory of the declaration with each host's resolved baseline variables."""
    rendered = hosts_yml(declaration)
    variables = host_vars(declaration, resolve(declaration))
    for group in rendered["all"]["children"].values():
        for name, hostvars in group["hosts"].items():
            hostvars.update(variables[name])
    return rendered


@contextlib.contextmanager
def _ansible_inventory(declaration: Declaration) -> Iterator[Any]:
    """Ansible's own view of the declared inventory (an InventoryManager over the rendered hosts.yml)."""
    from ansible.inventory.manager import InventoryManager  # noqa: PLC0415 - Ansible is slow to import
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="dizuo-inventory-") as private:
        rendered = Path(private) / "hosts.yml"
        rendered.write_text(yaml.safe_dump(hosts_yml(declaration), allow_unicode=True), encoding="utf-8")
        yield InventoryManager(loader=DataLoader(), sources=[str(rendered)])


@contextlib.contextmanager
def _pattern_mismatch_unsaid() -> Iterator[None]:
    """Ansible's "[WARNING]: Could not match supplied host pattern, ignoring: PART" held back while dizuo matches a
    --limit: dizuo refuses that part with an error of its own, which the warning, printed first, would contradict."""
    import ansible.constants  # noqa: PLC0415 - Ansible is slow to import

    said = ansible.constants.HOST_PATTERN_MISMATCH
    ansible.constants.HOST_PATTERN_MISMATCH = "ignore"
    try:
        yield
    finally:
        ansible.constants.HOST_PATTERN_MISMATCH = said


def _declared_matching(manager: Any, pattern: str) -> list[str]:
    """The declared hosts an Ansible host pattern selects: not Ansible's implicit localhost, which ``localhost`` and
    ``127.0.0.1`` match in any inventory but which no hosts.yaml declares."""
    return [host.name for host in manager.list_hosts(pattern) if not host.implicit]


def _unmatched(manager: Any, part: str, limit: str) -> str | None:
    """Why one part of a ``--limit`` (its ``!`` or ``&`` taken off) selects no declared host, or None when it selects
    some."""
    from ansible.errors import AnsibleError  # noqa: PLC0415 - Ansible is slow to import
    from ansible.inventory.manager import PATTERN_WITH_SUBSCRIPT  # noqa: PLC0415

    if part.startswith("~"):
        # Ansible compiles the rest with Python's re; an empty one (all that is left of '~[') matches every host.
        try:
            re.compile(part[1:])
        except re.error as exc:
            return f"{part!r} is not a regular expression: {exc}"
        if not part[1:]:
            where = "" if part == limit else f" (read by Ansible from {limit!r})"
            return f"{part!r}{where} has an empty regular expression, which would select every host"
    try:
        if _declared_matching(manager, part):
            return None
    except AnsibleError:  # a subscript past the end of its group: loghost[5]
        pass
    subscripted = None if part.startswith("~") else PATTERN_WITH_SUBSCRIPT.match(part)
    if subscripted:
        group = subscripted.group(1)
        with contextlib.suppress(AnsibleError):
            if members := _declared_matching(manager, group):
                numbered = f"it has {len(members)}: [0] to [{len(members) - 1}]"
                return f"{part!r}: the subscript selects no host of {group!r} ({numbered})"
    # A zone's group writes its name's '-' as '_' (dizuo.declaration.inventory.zone_group).
    spelt = part.replace("-", "_") if part.startswith("zone_") else part
    hint = (
        f" (a zone's group writes '-' as '_': {spelt})" if spelt != part and _declared_matching(manager, spelt) else ""
    )
    return f"{part!r} matches no host or group of hosts.yaml{hint}"


def hosts_matching(declaration: Declaration, limit: str) -> list[str]:
    """The declared hosts an Ansible host pattern (``--limit``) selects, as ansible-playbook would select them:
    names, groups (``zone_<zone>`` too), subscripts, globs, ``~regex``, ``,`` or ``:`` between patterns, ``!`` to
    exclude and ``&`` to intersect. :class:`HardenError` names a part of the pattern that selects no declared host
    (Ansible's implicit localhost is none), where Ansible would only warn and run on fewer hosts (or on none), fail
    with a traceback (a subscript past the end of its group) or select every host (an empty ``~`` regex)."""
    from ansible.inventory.manager import split_host_pattern  # noqa: PLC0415 - Ansible is slow to import

    with _ansible_inventory(declaration) as manager, _pattern_mismatch_unsaid():
        for part in (p.lstrip("!&") for p in split_host_pattern(limit)):
            if problem := _unmatched(manager, part, limit):
                raise HardenError(f"--limit: {problem}")
        matched = _declared_matching(manager, limit)
    if not matched:
        # Every part matched (checked above): its exclusions (!) or intersections (&) left no host.
        raise HardenError(f"--limit: {limit!r} selects no host: each part matches, but together they leave none")
    return matched


def connections(declaration: Declaration) -> dict[str, str]:
    """Each declared host's ``ansible_connection`` as Ansible reads it from the inventory (its groups' variables, then
    its own), ``ssh`` where none is set."""
    from ansible.inventory.helpers import get_group_vars  # noqa: PLC0415 - Ansible is slow to import
    from ansible.utils.vars import combine_vars  # noqa: PLC0415

    with _ansible_inventory(declaration) as manager:
        return {
            host.name: str(
                combine_vars(get_group_vars(host.get_groups()), host.get_vars()).get("ansible_connection") or "ssh"
            )
            for host in manager.get_hosts("all")
        }


def run(
    declaration: Declaration,
    *,
    limit: str | None = None,
    check: bool = False,
    on_event: EventHandler | None = None,
    playbook: Path | None = None,
    tags: Sequence[str] | None = None,
) -> HardenResult:
    """Converge the declared hosts (or those matching ``limit``) to the baseline; ``check`` changes nothing.

    ``tags`` runs only those parts of the role (a control's remediation tags, see ``remediation_tags``).
    """
    playbook = playbook or find_playbook()
    names = {h.name for h in declaration.inventory.hosts}
    if not names:
        raise HardenError("hosts.yaml declares no host")
    find_ansible_playbook()
    with tempfile.TemporaryDirectory(prefix="dizuo-harden-") as private:
        root = Path(private)
        (root / "inventory").mkdir()
        inventory_file = root / "inventory" / "hosts.yml"
        inventory_file.write_text(yaml.safe_dump(inventory(declaration), allow_unicode=True), encoding="utf-8")
        envvars = {
            # ansible-runner starts ansible-playbook from PATH: use the one next to this interpreter.
            "PATH": _search_path(),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_ROLES_PATH": str(playbook.parent),
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_PIPELINING": "1",
        }
        cmdline = " ".join(["--check"] if check else [])
        # Not ansible_runner.run itself: it would leave Ctrl-C and SIGTERM ignored after the run (see run_playbook).
        runner = run_playbook(
            private_data_dir=str(root),
            playbook=str(playbook),
            inventory=str(inventory_file),
            limit=limit,
            tags=",".join(tags) if tags else None,
            cmdline=cmdline or None,
            envvars=envvars,
            quiet=True,
            timeout=RUN_TIMEOUT_S,
            event_handler=_forward(on_event),
        )
        stats = runner.stats or {}
        hosts = _outcomes(stats)
        return HardenResult(rc=int(runner.rc), status=str(runner.status), hosts=hosts, check=check)


def remediation_tags(controls: Sequence[Control]) -> list[str]:
    """The role tags that enforce ``controls`` (every tag of each: a host control has one or several), sorted and
    unique."""
    missing = [c.id for c in controls if not c.remediation.tags]
    if missing:
        raise HardenError(f"no role tag enforces {', '.join(missing)}: not host controls")
    return sorted({tag for c in controls for tag in c.remediation.tags})


def _forward(on_event: EventHandler | None) -> Callable[[Event], bool]:
    def handler(event: Event) -> bool:
        if on_event is not None:
            on_event(event)
        return True  # keep the event in the artifacts too

    return handler


def _outcomes(stats: dict[str, dict[str, int]]) -> dict[str, HostOutcome]:
    names: set[str] = set()
    for key in ("ok", "changed", "failures", "dark", "skipped", "processed"):
        names.update(stats.get(key, {}))
    return {
        name: HostOutcome(
            ok=stats.get("ok", {}).get(name, 0),
            changed=stats.get("changed", {}).get(name, 0),
            failed=stats.get("failures", {}).get(name, 0),
            unreachable=stats.get("dark", {}).get(name, 0),
            skipped=stats.get("skipped", {}).get(name, 0),
        )
        for name in sorted(names)
    }
