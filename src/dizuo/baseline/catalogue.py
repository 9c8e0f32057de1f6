"""The 等保2.0 (GB/T 22239-2019) level-3 control catalogue: data in ``catalogue.yaml``, typed here.

One catalogue feeds three consumers, so they cannot drift apart:

- the hardening role (``roles/baseline``): every parameter ``p`` is the role variable ``baseline_<p>``,
  every control names the role tags (= ``tasks/<tag>.yml``) whose tasks carry its id and write what it checks;
- the audit (``dizuo audit``): every control lists machine-readable :class:`Check` s, one testinfra
  check function per :class:`CheckKind`, with arguments that may reference parameter values;
- people: ``dizuo baseline controls`` prints it for auditors.

Checks reference parameters as ``${name}``: a string that is exactly ``${name}`` becomes the value
itself (lists and mappings keep their type), ``${name}`` inside a longer string is replaced by its text.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError, model_validator

from dizuo.declaration.loader import Problem, problems_from_validation, yaml_mapping
from dizuo.declaration.model import Frozen  # the one base: immutable, no unknown keys

CATALOGUE_FILE = "catalogue.yaml"

ControlId = Annotated[str, StringConstraints(pattern=r"^DZ-(CT|IA|AC|AU|IP|MC|DB|RI)-\d{2}$")]
# Parameter names become Ansible variables (``baseline_<name>``): keep them snake_case identifiers.
ParamName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*[a-z0-9]$")]
ParamValue = bool | int | str | list[str] | list[int] | dict[str, str | int]

_REFERENCE = re.compile(r"\$\{([a-z][a-z0-9_]*)\}")

Format = Literal["port", "ip_network", "systemd_calendar"]
"""Rules a regex cannot say, each named by what checks it:

- ``port``: a TCP/UDP port, 1-65535 (ints, int lists);
- ``ip_network``: an IPv4/IPv6 address or network in prefix notation with no host bits set, as
  ``ipaddress.ip_network(strict=True)`` reads it; sshd's ``Match Address`` (DZ-IP-03) refuses a network with host
  bits set, and the netmask forms (``/255.0.0.0``) that Python also reads are refused too, for sshd reads neither;
- ``systemd_calendar``: an ``OnCalendar=`` expression that ``systemd-analyze calendar`` parses and that elapses at
  least once more. Without systemd-analyze on the control machine the value is accepted: the timer unit written to
  the host is then the first place systemd reads it.
"""
_PREFIX_NOTATION = re.compile(r"[0-9A-Fa-f.:]+(/[0-9]{1,3})?")
# Text a configuration line carries as one value: no line break or other control character.
_ONE_LINE = re.compile(r"[^\x00-\x1f\x7f]+")
_CALENDAR_TIMEOUT_SECONDS = 10
_PORT_MAX = 65535


class Family(StrEnum):
    """Control families, by the id's middle part: 通信传输 of 安全通信网络, then those of 安全计算环境."""

    CT = "通信传输"
    IA = "身份鉴别"
    AC = "访问控制"
    AU = "安全审计"
    IP = "入侵防范"
    MC = "恶意代码防范/可信验证"
    DB = "数据备份恢复"
    RI = "剩余信息保护"


class Scope(StrEnum):
    """What a control applies to."""

    HOST = "host"
    CLUSTER = "cluster"
    NETWORK = "network"
    DATAPOOL = "datapool"


class CheckKind(StrEnum):
    """What the audit verifies. One testinfra check function per kind; arguments documented here.

    Paths are absolute; a ``mode`` is an octal string and means "no permission bits beyond these".
    ``op`` is one of ``eq``, ``le``, ``ge`` (numbers compare as numbers), ``contains`` (the value is one
    of the observed value's items, split on commas and whitespace), ``subset`` (the observed items, split so, are
    one or more of the value's, in any order), ``masks`` (an octal umask, written with its leading 0, that masks at
    least the value's bits: ``0027`` meets ``027``, and so does the stricter ``077``).
    """

    ACCOUNTS_UNIQUE = "accounts_unique"
    """No duplicate user names or UIDs in /etc/passwd; only root has UID 0. Args: none."""
    NO_EMPTY_PASSWORDS = "no_empty_passwords"
    """No /etc/shadow entry has an empty password field. Args: none."""
    PASSWORD_MAX_AGE = "password_max_age"  # noqa: S105 - a check name, not a password
    """Every account with a usable password (hash starting with ``$``) has shadow max ≤ ``max_days``
    (and not empty/99999) and, with ``inactive_days``, shadow inactive ≤ it (not empty). Accounts in ``exempt``
    are only named. Args: ``max_days``, ``inactive_days`` (optional), ``exempt`` (optional)."""
    ACCOUNTS_LOCKED = "accounts_locked"
    """Each of ``names`` that exists has a locked/unusable password and a shell in ``nologin_shells``.
    Args: ``names``, ``nologin_shells``."""
    CONFIG_VALUES = "config_values"
    """Settings in a key/value file and the ``*.conf`` files of ``dropin_dir``, read before it in name order (as
    libpwquality reads them: the file has the last word); the last occurrence of a key wins, keys compare
    case-insensitively, ``#`` starts a comment. Args: ``path``,
    ``separator`` (``=`` or ``space``), ``expect``: list of ``{key, op, value}``, each with an optional ``unset``,
    the value the program uses where the file sets none (without it a missing key fails), and an optional
    ``unbounded``, values meaning "no limit" that meet a ``ge`` bound (faillock's unlock_time 0, never), and an
    optional ``strictest``, values stricter than any number that meet a ``le`` bound (useradd's INACTIVE 0);
    ``dropin_dir`` (optional)."""
    FILE_CONTAINS = "file_contains"
    """Every regex of ``patterns`` matches a line of ``path`` (re.MULTILINE). Args: ``path``, ``patterns``."""
    FILE_EXCLUDES = "file_excludes"
    """No regex of ``patterns`` matches a line of any of ``paths`` (missing files pass).
    Args: ``paths``, ``patterns``."""
    PAM_STACK = "pam_stack"
    """The effective PAM stack of ``service`` (/etc/pam.d/<service>, following @include, include and
    substack) has a ``type`` line using ``module``, whose arguments contain every item of ``args``; a
    ``key=value`` argument of such a line that is an ``expect`` key must meet it (it overrides the module's file).
    A line with an argument of ``refused_args`` fails and does not count. With ``reached``, a line above it in its
    stack that ends the stack on success (``sufficient``, ``success=done``) or jumps past it fails.
    Args: ``service``, ``type``, ``module``, ``args`` (optional list), ``expect`` (optional ``{key, op, value}``,
    ``unbounded`` as for config_values),
    ``refused_args`` (optional list), ``reached`` (optional bool)."""
    LOGIN_ENV = "login_env"
    """In a login shell (``bash -l -c``), variable ``name`` compares to ``value`` by ``op`` and is
    read-only. Args: ``name``, ``op``, ``value``."""
    SSHD_EFFECTIVE = "sshd_effective"
    """``sshd -T`` reports each ``{key, op, value}`` of ``expect``; keys are sshd -T's lower-case names; list
    values (ciphers…) compare as the comma-joined text. With ``connections`` (``{users, sources}``, lists whose
    items may be lists), ``sshd -T -C user=…,host=probe.invalid,addr=…`` for every user from the first address of
    every source (a network or an address), so each Match block that applies to one of them is judged; and for each
    Match block sshd reads, a connection meeting it (the users it names but those of ``exempt``, or those users it
    matches; its addresses, else the sources'; the members, by their entry or primary group, of the groups it
    names or matches, none of a negated one). Every probe must meet ``expect``.
    Args: ``expect``, ``connections`` (optional, with ``exempt``, optional user patterns: `*` judges no user a Match
    block names but ``users``; addresses are only evaluated by sshd -T, never contacted)."""
    PACKAGES_ABSENT = "packages_absent"
    """None of ``names`` is installed. Args: ``names``."""
    PORTS_CLOSED = "ports_closed"
    """Nothing listens on any of ``tcp`` ports (any address). Args: ``tcp``."""
    LISTENERS_ALLOWED = "listeners_allowed"
    """Every TCP/UDP socket listening on a non-loopback address uses a port in ``tcp`` / ``udp``.
    Args: ``tcp``, ``udp``."""
    SERVICES_DISABLED = "services_disabled"
    """Each of ``names`` (systemd units) that exists is neither enabled nor active. Args: ``names``."""
    SERVICE_RUNNING = "service_running"
    """Systemd unit ``name`` is enabled and active. Args: ``name``."""
    TIMER_ACTIVE = "timer_active"
    """Systemd timer ``name`` is enabled and active (waiting); with ``service``, that unit's last run succeeded, and
    ``hint`` says what to do when it did not. Args: ``name``, ``service`` (optional), ``hint`` (optional)."""
    SUDO_SEPARATION = "sudo_separation"
    """三权分立: each role group of ``roles`` ({role: {group, accounts}}) exists and holds its accounts;
    no account is in two role groups; ``sudo -l -U <account>`` grants no role account ``ALL`` commands, and grants
    the audit admin ``audit_tool`` only (the role's query tool: the audit commands themselves take options that write
    or read any file as root), which is root's, mode 0755 at most, and holds what the role writes for
    ``audit_commands``; each role may run the commands of ``allowed`` (its own), and none of ``denied`` nor
    another role's. Args: ``roles``, ``audit_commands``, ``audit_tool``, ``allowed``, ``denied``."""
    SUDO_PRINCIPALS = "sudo_principals"
    """Least privilege: every user spec in /etc/sudoers and /etc/sudoers.d/* (``Defaults`` and aliases
    aside) names only users of ``users`` or groups (``%g``) of ``groups``. Args: ``users``, ``groups``."""
    FILE_MODES = "file_modes"
    """Each ``{path, mode, owner, group?, optional?}`` of ``files`` exists (unless optional) with no
    permission bits beyond ``mode`` and the given owner (and group when given). Args: ``files``."""
    SYSCTL = "sysctl"
    """Each kernel parameter of ``values`` reads back (``/proc/sys``) as the value; the ``net.ipv6`` ones do not apply
    to a kernel without IPv6 (no ``/proc/sys/net/ipv6``: ipv6.disable=1). Args: ``values``."""
    AUDIT_RULES_LOADED = "audit_rules_loaded"
    """``auditctl -l`` lists a rule with each key of ``keys``; with ``immutable`` true, ``auditctl -s`` reports the
    rules locked (``enabled 2``). Args: ``keys``, ``immutable`` (optional)."""
    KERNEL_CMDLINE = "kernel_cmdline"
    """The running kernel's command line (``/proc/cmdline``) has each ``{key, op, value}`` of ``expect``; the last
    ``key=value`` of a key wins, a key given without a value reads as empty, a missing key fails; words after a lone
    ``--`` are init's, not the kernel's. Args: ``expect``."""
    LOGROTATE_RETENTION = "logrotate_retention"
    """Every block of ``path`` covering one of ``logs`` keeps ≥ ``min_days`` days: rotate × period
    (daily 1, weekly 7, monthly 30) and no ``maxage`` below it. Args: ``path``, ``logs``, ``min_days``."""
    LOGROTATE_SCHEDULED = "logrotate_scheduled"
    """logrotate runs by either mechanism, as the host's packages run it: ``timer`` enabled and active where systemd
    is PID 1, or cron: ``cron_script`` executable (and not one that exits under systemd, as Debian's does), run by
    the daemon's run-parts (with a #! line where that is Debian's, which cannot exec one without; not left out by
    cronie's, through its folder's jobs.deny, jobs.allow or whitelist), something running its folder (a crontab
    ``run-parts`` line, or an /etc/anacrontab job with anacron started by cronie's 0hourly/0anacron, Debian's
    cron.d/anacron or anacron.timer), and the first of ``cron_units`` the host has enabled and running where that goes
    through cron. The evidence names the mechanism found. Args: ``timer``, ``cron_units``, ``cron_script``."""
    FILE_FRESH = "file_fresh"
    """The newest file matching glob ``path`` exists and is younger than ``max_age_hours``
    (``max_age_hours`` null = existence only). Args: ``path``, ``max_age_hours``."""
    PATCH_REPORT = "patch_report"
    """The pending-updates report at ``path`` (JSON of dizuo-patch-status) says its listing succeeded, and no
    security update in it was first seen more than ``security_grace_days`` before the report; its pending and
    security counts are the evidence. Args: ``path``, ``security_grace_days`` (optional)."""
    LOG_FORWARDING = "log_forwarding"
    """An rsyslog ``omfwd`` action in ``path`` sends to ``server``:``port`` over TCP; with ``tls`` true, through
    the gtls/ossl stream driver in mode 1, an auth mode that checks the peer (x509/name or x509/fingerprint) and
    a CA file that exists. Args: ``path``, ``server``, ``port``, ``tls``."""
    TIME_SYNCHRONISED = "time_synchronised"
    """``chronyc tracking`` says the clock is synchronised (to a source, or to the local reference of a time
    server), and every source of ``chronyc sources`` is one of ``sources`` (lists are flattened); no source may be
    there that the city did not declare. Args: ``sources``."""
    MALWARE_PROTECTION = "malware_protection"
    """The malware status at ``path`` (JSON of dizuo-malware-scan) shows a scan that ran with signatures loaded,
    a signature update that succeeded within ``max_age_hours`` and, where the official ``databases`` include daily,
    a daily database built within ``max_age_hours``; nothing it found was left in place; and freshclam's
    configuration ``config`` takes signatures from ``mirror`` alone. Args: ``path``, ``config``, ``mirror``,
    ``databases``, ``max_age_hours``."""
    COMMAND_SUCCEEDS = "command_succeeds"
    """``command`` (argv list, run as root) exits 0. Args: ``command``."""
    POLICY = "policy"
    """Not a host check: rule ``name`` of :mod:`dizuo.baseline.policies`, run on what the stacks declare by
    ``dizuo synth`` and, as a Pulumi policy pack, by ``pulumi preview --policy-pack stacks/policy``.
    Args: ``name``."""


class Title(Frozen):
    """A control's title in both languages."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Parameter(Frozen):
    """A tunable value of a control: default here, overridden per city/zone in ``city.yaml: baseline``."""

    name: ParamName
    type: Literal["bool", "int", "str", "str_list", "int_list", "mapping"]
    default: ParamValue
    unit: str | None = None
    min: int | None = Field(default=None, description="Lowest value allowed (ints), or minimum list length")
    max: int | None = Field(default=None, description="Highest value allowed (ints)")
    choices: tuple[str, ...] | None = Field(default=None, description="Allowed values (str; each item of a str_list)")
    choices_text: str | None = Field(
        default=None, description="What the ``choices`` are and why no other value, in the error's words"
    )
    pattern: str | None = Field(
        default=None, description="A regex each value must match in full (str, str_list; a mapping's keys)"
    )
    pattern_text: str | None = Field(default=None, description="What ``pattern`` asks for, in the error's words")
    format: Format | None = Field(default=None, description="A named rule each value (or list item) must satisfy")
    floor: bool = Field(
        default=False,
        description="A list whose default entries an override may add to but not drop: a host that must deviate "
        "gets a waiver (reason, expiry, approver), not a quieter list",
    )
    rationale: str = Field(min_length=10, description="Why this default: the practice it follows")

    @model_validator(mode="after")
    def _default_is_valid(self) -> Parameter:
        if self.floor and self.type not in {"str_list", "int_list"}:
            raise ValueError(f"{self.name}: only a list can be a floor, not a {self.type}")
        numeric = self.format == "port"
        if self.format is not None and self.type not in ({"int", "int_list"} if numeric else {"str", "str_list"}):
            raise ValueError(f"{self.name}: format {self.format} does not apply to a {self.type}")
        problem = self.problem_with(self.default)
        if problem:
            raise ValueError(f"default of {self.name}: {problem}")
        return self

    def problem_with(self, value: object) -> str | None:
        """Why ``value`` is not acceptable for this parameter, or None when it is."""
        kind = self.type
        if kind == "bool":
            ok = isinstance(value, bool)
        elif kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind == "str":
            ok = isinstance(value, str)
        elif kind in {"str_list", "int_list"}:
            inner = str if kind == "str_list" else int
            ok = isinstance(value, list) and all(isinstance(v, inner) and not isinstance(v, bool) for v in value)
        else:
            ok = isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, str | int) and not isinstance(v, bool) for k, v in value.items()
            )
        if not ok:
            return f"must be of type {kind}"
        if isinstance(value, list):
            return self._list_problem(value)
        if isinstance(value, dict):
            return self._mapping_problem(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return self._int_problem(value)
        if isinstance(value, str):
            return self._str_problem(value)
        return None

    def _int_problem(self, value: int) -> str | None:
        if self.min is not None and value < self.min:
            return f"must be ≥ {self.min}"
        if self.max is not None and value > self.max:
            return f"must be ≤ {self.max}"
        return self._format_problem(value)

    def _str_problem(self, value: str) -> str | None:
        if self.choices is not None and value not in self.choices:
            listed = ", ".join(self.choices)
            return f"must be {self.choices_text}; one of {listed}" if self.choices_text else f"must be one of {listed}"
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return f"must be {self.pattern_text}" if self.pattern_text else f"must match {self.pattern}"
        return self._format_problem(value)

    def _item_problem(self, item: object) -> str | None:
        if isinstance(item, str):
            return self._str_problem(item)
        if isinstance(item, int) and not isinstance(item, bool):
            return self._format_problem(item)
        return None

    def _format_problem(self, value: str | int) -> str | None:
        if self.format == "port":
            ok = isinstance(value, int) and 1 <= value <= _PORT_MAX
            return None if ok else f"must be a port number, 1-{_PORT_MAX}"
        if not isinstance(value, str):
            return None
        if self.format == "ip_network":
            return _network_problem(value)
        if self.format == "systemd_calendar":
            return calendar_problem(value)
        return None

    def _mapping_problem(self, value: dict[str, str | int]) -> str | None:
        """A mapping's keys are judged as strings (``pattern``); its text values must stay on one line."""
        for key, item in value.items():
            problem = self._str_problem(key)
            if problem:
                return f"key {key!r}: {problem}"
            if isinstance(item, str) and not _ONE_LINE.fullmatch(item):
                return f"{key}: {item!r}: must be one line of text, without control characters"
        return None

    def _list_problem(self, value: list[Any]) -> str | None:
        if self.min is not None and len(value) < self.min:
            return f"must list at least {self.min} item(s)"
        for item in value:
            problem = self._item_problem(item)
            if problem:
                return f"{item!r}: {problem}"
        dropped = [item for item in self.default if item not in value] if self.floor else []  # type: ignore[union-attr]
        if dropped:
            shown = ", ".join(map(str, dropped[:5])) + (f" and {len(dropped) - 5} more" if len(dropped) > 5 else "")
            return f"may add to the catalogue's list, not drop from it (drops {shown}); waive the control instead"
        return None

    @property
    def variable(self) -> str:
        """The Ansible variable of the role that carries this parameter."""
        return f"baseline_{self.name}"


def _network_problem(value: str) -> str | None:
    """Why ``value`` is no address or network in prefix notation with no host bits set, or None."""
    if not _PREFIX_NOTATION.fullmatch(value):
        return "must be an IP address or network in prefix notation (10.64.1.0/24, fd00::/64)"
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        return f"must be an IP address or network with no host bits set ({exc})"
    return None


@cache
def calendar_problem(value: str) -> str | None:
    """Why systemd would not take ``value`` as a timer's ``OnCalendar=``, or None (also when systemd-analyze is
    not installed here: the host's systemd then judges it). Cached: a catalogue load asks for the same few values."""
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):  # a line break would end the unit's line
        return "must be a systemd calendar expression on one line"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return None
    try:
        done = subprocess.run(  # the value one argument, after --
            [analyze, "calendar", "--", value],
            capture_output=True,
            text=True,
            timeout=_CALENDAR_TIMEOUT_SECONDS,
            check=False,
            env={"LC_ALL": "C", "SYSTEMD_COLORS": "0"},  # untranslated messages, no colour codes in them
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not be checked with systemd-analyze calendar ({exc})"
    if done.returncode != 0:
        said = " / ".join(line.strip() for line in done.stderr.splitlines() if line.strip())
        said = said or f"exit {done.returncode}"
        return f"must be a systemd calendar expression (systemd-analyze calendar: {said})"
    if re.search(r"^\s*Next elapse:\s*never\s*$", done.stdout, re.MULTILINE):
        return "must be a systemd calendar expression that elapses again (systemd-analyze calendar: next elapse never)"
    return None


RoleTag = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*$")]


class Remediation(Frozen):
    """What enforces a control: for hosts a tag of ``roles/baseline`` (its tasks are in ``tasks/<tag>.yml``), or a
    list of them when the files the control's checks read are written by several (``[accounts, pam]``); for
    clusters, networks and the data pool the stack component that declares it compliant."""

    tag: RoleTag | tuple[RoleTag, ...] | None = Field(
        default=None, description="One tag, or a list when the control's files are written by several"
    )
    component: str | None = Field(default=None, description="e.g. stacks/1-cloud SystemTenant")
    summary: str = Field(min_length=10)

    @model_validator(mode="after")
    def _tags_listed_once(self) -> Remediation:
        if isinstance(self.tag, tuple) and (not self.tag or len(set(self.tag)) != len(self.tag)):
            raise ValueError(f"tag: a list of tags names each tag once, and at least one ({list(self.tag)})")
        return self

    @property
    def tags(self) -> tuple[str, ...]:
        """The role tags, one or several; none for a control enforced by a stack."""
        if self.tag is None:
            return ()
        return (self.tag,) if isinstance(self.tag, str) else self.tag

    @property
    def where(self) -> str:
        """The tags or the component, for people."""
        return ", ".join(self.tags) or self.component or ""


class Check(Frozen):
    """One machine-readable verification; a control passes when all its checks pass."""

    kind: CheckKind
    args: dict[str, Any] = Field(default_factory=dict)

    def references(self) -> set[str]:
        """Names of the parameters this check's arguments use."""
        found: set[str] = set()

        def walk(node: object) -> None:
            if isinstance(node, str):
                found.update(_REFERENCE.findall(node))
            elif isinstance(node, list):
                for item in node:
                    walk(item)
            elif isinstance(node, dict):
                for item in node.values():
                    walk(item)

        walk(self.args)
        return found

    def resolved_args(self, values: Mapping[str, object]) -> dict[str, Any]:
        """The arguments with every ``${param}`` replaced by its value in ``values``."""

        def resolve(node: object) -> object:
            if isinstance(node, str):
                whole = _REFERENCE.fullmatch(node)
                if whole:
                    return values[whole.group(1)]
                return _REFERENCE.sub(lambda m: str(values[m.group(1)]), node)
            if isinstance(node, list):
                return [resolve(item) for item in node]
            if isinstance(node, dict):
                return {key: resolve(item) for key, item in node.items()}
            return node

        return {key: resolve(item) for key, item in self.args.items()}


class ContainerSupport(Frozen):
    """Whether the audit can verify the control on a host that is a container (systemd-nspawn)."""

    verifiable: bool = True
    reason: str | None = Field(default=None, description="Why not: reported by the audit as 'not verified'")

    @model_validator(mode="after")
    def _reason_when_not(self) -> ContainerSupport:
        if not self.verifiable and not self.reason:
            raise ValueError("a control that cannot be verified in a container needs a reason")
        return self


class Control(Frozen):
    """One control of the baseline."""

    id: ControlId
    clause: str = Field(
        pattern=r"^8\.1\.[234]\.\d+ [a-g]\)$",
        description="GB/T 22239-2019 level-3 clause: 8.1.2 安全通信网络, 8.1.3 安全区域边界 or 8.1.4 安全计算环境",
    )
    cloud_clause: str | None = Field(default=None, pattern=r"^8\.2\.4\.\d+ [a-g]\)$")
    title: Title
    scope: Scope
    parameters: tuple[Parameter, ...] = ()
    remediation: Remediation
    checks: tuple[Check, ...] = Field(min_length=1)
    evidence: str = Field(min_length=10, description="What the audit records as proof")
    container: ContainerSupport = ContainerSupport()

    @model_validator(mode="after")
    def _enforced_where_it_applies(self) -> Control:
        # Hosts are hardened by the role and audited over SSH; everything else is declared by the stacks and
        # checked by the policy rules. A control mixing the two would be enforced by one and checked by neither.
        policy_checks = [c for c in self.checks if c.kind is CheckKind.POLICY]
        if self.scope is Scope.HOST:
            if not self.remediation.tags:
                raise ValueError("a host control names the role tag that enforces it (remediation.tag)")
            if policy_checks:
                raise ValueError("a host control is checked on the host, not by a stack policy")
        else:
            if self.remediation.component is None:
                raise ValueError(f"a {self.scope.value} control names its stack component (remediation.component)")
            if len(policy_checks) != len(self.checks):
                raise ValueError(f"a {self.scope.value} control is checked by stack policies only (kind: policy)")
        return self

    @property
    def family(self) -> Family:
        """The family, from the id (DZ-IA-01 -> 身份鉴别)."""
        return Family[self.id.split("-")[1]]


class Catalogue(Frozen):
    """The whole catalogue, cross-checked: unique ids and parameter names, resolvable references."""

    version: int = Field(ge=1)
    standard: str
    controls: tuple[Control, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        problems: list[str] = []
        seen_ids: set[str] = set()
        owner: dict[str, str] = {}
        for control in self.controls:
            if control.id in seen_ids:
                problems.append(f"{control.id}: duplicate control id")
            seen_ids.add(control.id)
            for param in control.parameters:
                if param.name in owner:
                    problems.append(f"{control.id}: parameter {param.name} is already defined by {owner[param.name]}")
                owner[param.name] = control.id
        for control in self.controls:
            for check in control.checks:
                for name in sorted(check.references() - owner.keys()):
                    problems.append(f"{control.id}: check {check.kind.value} references unknown parameter {name}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def control(self, control_id: str) -> Control:
        """The control with this id (KeyError if none)."""
        for control in self.controls:
            if control.id == control_id:
                return control
        raise KeyError(control_id)

    def parameters(self) -> dict[str, Parameter]:
        """Every parameter by name."""
        return {p.name: p for c in self.controls for p in c.parameters}

    def defaults(self) -> dict[str, ParamValue]:
        """Every parameter's default value by name."""
        return {name: p.default for name, p in self.parameters().items()}

    def for_scope(self, scope: Scope) -> tuple[Control, ...]:
        """The controls of one scope, in catalogue order."""
        return tuple(c for c in self.controls if c.scope is scope)

    def select(self, scope: Scope, ids: Sequence[str] | None) -> tuple[Control, ...]:
        """The controls of ``scope`` named by ``ids`` (all of them for None), in catalogue order.

        Raises UnknownControlError naming every id that is not a control of that scope.
        """
        available = self.for_scope(scope)
        if ids is None:
            return available
        known = {c.id for c in available}
        unknown = [i for i in ids if i not in known]
        if unknown or not ids:
            raise UnknownControlError(
                f"not {scope.value} controls of the catalogue: {', '.join(unknown) or '(none given)'}; "
                f"the {scope.value} controls are {', '.join(sorted(known))}"
            )
        wanted = set(ids)
        return tuple(c for c in available if c.id in wanted)


def control_ids(text: str) -> list[str]:
    """Control ids from a comma-separated command-line value, e.g. ``DZ-AU-01, DZ-AU-02``."""
    return [word.strip() for word in text.split(",") if word.strip()]


class UnknownControlError(ValueError):
    """A control id given on the command line is not in the catalogue (for that scope)."""


class CatalogueError(Exception):
    """The catalogue file is invalid; ``problems`` names each key path and bad value."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def parse(text: str, shown: str = CATALOGUE_FILE) -> Catalogue:
    """Validate catalogue YAML text, or raise :class:`CatalogueError` naming file, key and value."""
    document, problems = yaml_mapping(text, shown)
    if document is None:
        raise CatalogueError(problems)
    try:
        return Catalogue.model_validate(document)
    except ValidationError as exc:
        raise CatalogueError(problems_from_validation(shown, exc, model=Catalogue)) from None


def load(path: Path | None = None) -> Catalogue:
    """The catalogue at ``path``, by default the one shipped in the package."""
    if path is None:
        return packaged()
    return parse(path.read_text(encoding="utf-8"), str(path))


@cache
def packaged() -> Catalogue:
    """The catalogue shipped with dizuo (parsed once per process: it is immutable)."""
    text = resources.files("dizuo.baseline").joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
    return parse(text, f"dizuo/baseline/{CATALOGUE_FILE}")
