"""Testinfra checks of the host controls: one test per control and host, parametrised from the catalogue.

``dizuo audit`` runs this module with pytest in a subprocess. It hands over a plan (which checks,
with parameters already resolved, on which host of which inventory) in ``DIZUO_AUDIT_PLAN`` and
reads one JSON line per control and host from ``DIZUO_AUDIT_RESULTS``. Each check kind of the
catalogue (:class:`~dizuo.baseline.catalogue.CheckKind`) has one function here that returns what it
saw (evidence) and what is wrong (problems); a control passes when none of its checks has problems.

Every command runs through the host's admin account with sudo (the same account Ansible uses).
Nothing here changes the host.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import hashlib
import ipaddress
import json
import os
import posixpath
import re
import shlex
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import testinfra
import testinfra.backend
import testinfra.host

from dizuo.baseline import sh_guards
from dizuo.baseline.catalogue import CheckKind
from dizuo.baseline.role import audit_query_tool_text

PLAN_ENV = "DIZUO_AUDIT_PLAN"
RESULTS_ENV = "DIZUO_AUDIT_RESULTS"
MAX_EVIDENCE_CHARS = 400
# The glob of file_fresh is expanded by the remote shell: only plain path characters may reach it.
SAFE_GLOB = re.compile(r"^/[A-Za-z0-9_./*?\-]+$")
LOGROTATE_PERIOD_DAYS = {"hourly": 1 / 24, "daily": 1, "weekly": 7, "monthly": 30, "yearly": 365}
SECONDS_PER_HOUR = 3600

Host = Any  # testinfra.host.Host: the package ships no type information.


@dataclass
class Finding:
    """What one check saw on a host."""

    evidence: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def see(self, text: str) -> None:
        """Record evidence (shortened: reports show it in table cells)."""
        self.evidence.append(_short(text))

    def fail(self, text: str) -> None:
        """Record a deviation from the control."""
        self.problems.append(_short(text))


Check = Callable[[Host, dict[str, Any]], Finding]


class CommandFailedError(RuntimeError):
    """A command the check needs failed on the host (not a control failure: the check could not run)."""


# ----------------------------------------------------------------- host access

# Every command runs in the C locale: the runner's LANG and LC_* travel over SSH (AcceptEnv LANG LC_*, which the
# role's sshd_config keeps for people) and through sudo (it keeps them by default), and a host in zh_CN.UTF-8, Kylin
# V10's default, would answer `sudo -l` and error messages in Chinese. LANGUAGE needs no unset: gettext ignores it
# in the C locale.
C_LOCALE = "LC_ALL=C; export LC_ALL; "


def connect(spec: str, **kwargs: Any) -> Host:
    """A testinfra host (``spec`` and ``kwargs`` as for ``testinfra.get_host``) whose every command, those of
    testinfra's modules too, runs in the C locale. A host of its own: testinfra's shared cache is left as it is."""
    backend = testinfra.backend.get_backend(spec, **kwargs)
    plain = backend.get_command  # where every backend turns a command and its arguments into one line to run

    def in_c_locale(command: str, *args: str) -> str:
        if args:  # quoted here, as testinfra would, but a name that is no UTF-8 too
            command = command % tuple(_shell_word(arg) for arg in args)
        return str(plain(C_LOCALE + command))

    backend.get_command = in_c_locale
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host


def _shell_word(arg: str) -> str:
    """``arg`` as one word of the host's shell. A file name that is no UTF-8 (one written in GBK, as os.fsdecode
    reads it: each byte that is not UTF-8 a lone surrogate) cannot travel in a command line of text (testinfra
    encodes it strictly): its bytes are written as printf's octal escapes, which the shell turns back into them."""
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return "\"$(printf '" + "".join(f"\\{byte:03o}" for byte in os.fsencode(arg)) + "')\""
    return shlex.quote(arg)


def _shown(text: str) -> str:
    """``text`` with each byte a host sent that is no UTF-8 (a lone surrogate of os.fsdecode) written as ``\\xNN``:
    reports and results are UTF-8, which cannot hold the surrogate."""
    return re.sub("[\udc80-\udcff]", lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def _text(result: Any, stream: str = "stdout") -> str:
    """A command's output as text, from its bytes. Configuration files in the city carry GBK comments as often as
    UTF-8 ones, and process names are whatever their authors chose: undecodable bytes become U+FFFD, never an
    error of the check (testinfra's own decoding is strict)."""
    raw = getattr(result, f"{stream}_bytes", None)
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(getattr(result, stream))


def _lines(text: str) -> list[str]:
    """``text``'s lines as the host's programs read them (fgets, getline): broken at "\\n" alone, a "\\r" before it
    dropped. str.splitlines also breaks at \\v, \\f, \\x1c-\\x1e, U+0085, U+2028 and U+2029, which those programs read
    inside a line: a comment line '#<U+2028>PASS_MAX_DAYS 90' would pass for a setting, and a listener's name holding
    one would be lost."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _run(host: Host, command: str, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    result = host.run(command, *args)
    if result.rc not in ok:
        # The whole command as run: its own options and its arguments quoted into it, as testinfra does.
        shown = command % tuple(shlex.quote(arg) for arg in args) if args else command
        said = (_text(result, "stderr") or _text(result)).strip()[:200]
        raise CommandFailedError(f"`{shown}` exited {result.rc}: {said}")
    return _text(result)


def _read(host: Host, path: str) -> str | None:
    """The file's text, or None when it does not exist (asked of `test -e`: error messages are no contract)."""
    result = host.run("cat -- %s", path)
    if result.rc == 0:
        return _text(result)
    if host.run("test -e %s", path).rc == 1:
        return None
    raise CommandFailedError(f"cannot read {path}: {_text(result, 'stderr').strip()[:200]}")


def _files_in(host: Host, folder: str, name: str | None = None) -> list[str]:
    """The regular files directly in ``folder`` (or linked there: the programs reading such folders follow links),
    sorted; none when it does not exist. Listed NUL-separated: a name may hold spaces or newlines, and `ls` under
    the audit's C locale shows every non-ASCII byte as ``?``, a name no file has."""
    pattern = " -name %s" if name else ""
    result = host.run(f"find -L %s -mindepth 1 -maxdepth 1 -type f{pattern} -print0", folder, *([name] if name else []))
    if result.rc not in (0, 1):
        raise CommandFailedError(f"cannot list {folder}: {_text(result, 'stderr').strip()[:200]}")
    raw = getattr(result, "stdout_bytes", None)
    listed = raw if isinstance(raw, bytes) else str(result.stdout).encode()
    return sorted(os.fsdecode(item) for item in listed.split(b"\0") if item)


def _read_required(host: Host, path: str, finding: Finding) -> str | None:
    """The file's text; a file the check needs but the host lacks is a failure of the finding."""
    text = _read(host, path)
    if text is None:
        finding.fail(f"{path} does not exist")
    return text


def _read_json_required(host: Host, path: str, finding: Finding) -> dict[str, Any] | None:
    """A JSON object the check needs (a report of one of the role's jobs); missing or not JSON fails the finding."""
    text = _read_required(host, path, finding)
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        finding.fail(f"{path} is not a JSON object")
        return None
    return document


def _short(text: str) -> str:
    text = _shown(" ".join(text.split()) if "\n" in text else text)
    return text if len(text) <= MAX_EVIDENCE_CHARS else text[: MAX_EVIDENCE_CHARS - 1] + "…"


def _passwd(host: Host) -> list[list[str]]:
    text = _read(host, "/etc/passwd") or ""
    return [line.split(":") for line in _lines(text) if line.count(":") >= 6]


def _shadow(host: Host) -> dict[str, list[str]]:
    text = _read(host, "/etc/shadow") or ""
    return {fields[0]: fields for fields in (line.split(":") for line in _lines(text)) if len(fields) >= 8}


def _contains(observed: str, expected: object) -> bool:
    return str(expected) in re.split(r"[\s,]+", observed.strip())


def _subset(observed: str, expected: object) -> bool:
    """Every item observed is allowed (any order, fewer is stricter), and there is one."""
    observed_items = [item for item in re.split(r"[\s,]+", observed.strip()) if item]
    allowed = expected if isinstance(expected, list) else re.split(r"[\s,]+", str(expected))
    return bool(observed_items) and set(observed_items) <= {str(item) for item in allowed}


def _masks(observed: str, expected: object) -> bool:
    """A umask, in octal, masking at least the expected bits: 0027 is 027, and 077 is stricter. login(1) reads a
    value without a leading 0 as decimal and pam_umask as octal: only one written with it is one mask to both."""
    written = observed.strip()
    return bool(re.fullmatch(r"0[0-7]{1,4}", written)) and int(str(expected), 8) & ~int(written, 8) == 0


_ITEM_OPS: dict[str, Callable[[str, object], bool]] = {"contains": _contains, "subset": _subset, "masks": _masks}


def _compare(observed: str, op: str, expected: object) -> bool:
    """``observed`` (text from the host) against the expected value; numbers compare as numbers."""
    if op in _ITEM_OPS:
        return _ITEM_OPS[op](observed, expected)
    if isinstance(expected, list):
        expected = ",".join(str(item) for item in expected)
    if op in {"le", "ge"}:
        try:
            number = int(observed.strip())
        except ValueError:
            return False
        if op == "le":
            # An upper limit of 0 switches the limit off (TMOUT, ClientAliveInterval, LoginGraceTime,
            # faillock deny): it never meets "at most N".
            return 0 < number <= int(str(expected))
        return number >= int(str(expected))
    return observed.strip().lower() == str(expected).strip().lower()


OP_TEXT = {
    "eq": "=",
    "le": "between 1 and",
    "ge": "≥",
    "contains": "contains",
    "subset": "one or more of",
    "masks": "an octal umask masking at least",
}


def _meets(observed: str, item: dict[str, Any]) -> bool:
    """``observed`` meets the expectation ``item`` ({key, op, value}): a value of its ``unbounded`` list (faillock's
    unlock_time 0 or never: locked until an administrator unlocks) is beyond every number, so it meets a ≥ bound; a
    value of its ``strictest`` list (useradd's INACTIVE 0: disabled the day the password expires) is below every
    number that counts, so it meets a ≤ bound, where 0 otherwise switches the limit off."""
    special = {"ge": "unbounded", "le": "strictest"}.get(item["op"])
    if special and observed.strip().lower() in {str(v).lower() for v in item.get(special, [])}:
        return True
    return _compare(observed, item["op"], item["value"])


# ------------------------------------------------------------------- the checks


def accounts_unique(host: Host, _args: dict[str, Any]) -> Finding:
    """No duplicate names or UIDs; only root has UID 0."""
    finding = Finding()
    entries = _passwd(host)
    names = [e[0] for e in entries]
    by_uid: dict[str, list[str]] = {}
    for entry in entries:
        by_uid.setdefault(entry[2], []).append(entry[0])
    finding.see(f"/etc/passwd: {len(entries)} accounts")
    for name in sorted({n for n in names if names.count(n) > 1}):
        finding.fail(f"account name {name} appears {names.count(name)} times")
    for uid, owners in sorted(by_uid.items()):
        if len(owners) > 1:
            finding.fail(f"UID {uid} is shared by {', '.join(owners)}")
    root_like = by_uid.get("0", [])
    finding.see(f"UID 0: {', '.join(root_like) or 'none'}")
    if root_like != ["root"]:
        finding.fail(f"UID 0 accounts are {root_like}, expected only root")
    return finding


def no_empty_passwords(host: Host, _args: dict[str, Any]) -> Finding:
    """No shadow entry with an empty password field."""
    finding = Finding()
    empty = sorted(name for name, fields in _shadow(host).items() if fields[1] == "")
    finding.see(f"accounts with an empty password: {', '.join(empty) or 'none'}")
    for name in empty:
        finding.fail(f"{name} has an empty password in /etc/shadow")
    return finding


def password_max_age(host: Host, args: dict[str, Any]) -> Finding:
    """Every usable password expires within max_days, and its account is disabled within inactive_days after that
    (when given), except the automation account's (``exempt``): it logs in by key, and an expired password would
    lock Ansible and the audit out of the host."""
    finding = Finding()
    limit = int(args["max_days"])
    inactive_limit = int(args["inactive_days"]) if "inactive_days" in args else None
    exempt = set(args.get("exempt", []))
    shadow = _shadow(host)
    for name in sorted(exempt & set(shadow)):
        finding.see(f"{name}: exempt (the automation account, key-only)")
    usable = {name: fields for name, fields in shadow.items() if fields[1].startswith("$") and name not in exempt}
    if not usable:
        finding.see("no account has a usable password (key-only logins)")
    for name, fields in sorted(usable.items()):
        maximum, inactive = fields[4], fields[6]
        disabled = f"{inactive} days later" if inactive else "never"
        finding.see(f"{name}: password max age {maximum or 'unset'} days, account disabled {disabled}")
        if not maximum or int(maximum) > limit:
            finding.fail(f"{name}: password max age {maximum or 'unset'} exceeds {limit} days")
        if inactive_limit is not None and (not inactive or int(inactive) > inactive_limit):
            after = f"{inactive} days" if inactive else "never"
            finding.fail(f"{name}: disabled {after} after its password expired, not within {inactive_limit} days")
    return finding


def accounts_locked(host: Host, args: dict[str, Any]) -> Finding:
    """Listed accounts that exist have no usable password and a nologin shell."""
    finding = Finding()
    shells = set(args["nologin_shells"])
    shadow = _shadow(host)
    present = {e[0]: e for e in _passwd(host) if e[0] in set(args["names"])}
    if not present:
        finding.see("none of the listed default accounts exists")
    for name in sorted(present):
        shell = present[name][6]
        password = shadow.get(name, ["", ""])[1]
        locked = password.startswith(("!", "*")) or password == ""
        finding.see(f"{name}: shell {shell}, password {'locked' if locked and password else 'usable'}")
        if not locked or password == "":
            finding.fail(f"{name}: password is not locked")
        if shell not in shells:
            finding.fail(f"{name}: login shell {shell} is not a nologin shell")
    return finding


def _libpwquality_reads(name: str) -> bool:
    """Whether libpwquality reads a file of its drop-in folder: the first ``.conf`` in the name ends it (its
    filter_conf), so ``a.conf.conf`` and ``a.conf.bak`` are skipped."""
    return name.find(".conf") == len(name) - len(".conf")


def config_values(host: Host, args: dict[str, Any]) -> Finding:
    """Key/value settings of a file and its drop-in directory; the last occurrence of a key wins. The drop-ins are
    read first, in name order (strcmp), and the file last, as libpwquality reads pwquality.conf.d and
    pwquality.conf: the file has the last word."""
    finding = Finding()
    path = args["path"]
    text = _read_required(host, path, finding)
    if text is None:
        return finding
    sources = [(path, text)]
    if dropins := args.get("dropin_dir"):
        read = [p for p in _files_in(host, dropins, "*.conf") if _libpwquality_reads(Path(p).name)]
        sources = [*((p, _read(host, p) or "") for p in read), *sources]
    settings: dict[str, tuple[str, str]] = {}
    for line, source in ((line, source) for source, body in sources for line in _lines(body)):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        if args.get("separator", "=") == "=":
            if "=" not in stripped:
                continue
            key, value = (part.strip() for part in stripped.split("=", 1))
        else:
            parts = stripped.split(None, 1)
            key, value = parts[0], parts[1].strip() if len(parts) > 1 else ""
        settings[key.lower()] = (value, f"{source}: {line.strip()}")
    for item in args["expect"]:
        key, op, expected = item["key"], item["op"], item["value"]
        if key.lower() not in settings and "unset" in item:  # the program's own default applies
            settings[key.lower()] = (str(item["unset"]), f"{path}: {key} not set: {item['unset']} (its default)")
        if key.lower() not in settings:
            finding.fail(f"{path}: {key} is not set (expected {OP_TEXT[op]} {expected})")
            continue
        value, where = settings[key.lower()]
        finding.see(where)
        if not _meets(value, item):
            also = "".join(f" or {v}" for v in item.get("strictest", []) if op == "le")
            finding.fail(f"{where.partition(': ')[0]}: {key} is {value}, expected {OP_TEXT[op]} {expected}{also}")
    return finding


def file_contains(host: Host, args: dict[str, Any]) -> Finding:
    """Every pattern matches a line of the file."""
    finding = Finding()
    path = args["path"]
    text = _read_required(host, path, finding)
    if text is None:
        return finding
    for pattern in args["patterns"]:
        match = re.search(pattern, text, flags=re.MULTILINE)
        if match:
            line = text[text.rfind("\n", 0, match.start()) + 1 :].split("\n", 1)[0]
            finding.see(f"{path}: {line}")
        else:
            finding.fail(f"{path}: no line matches {pattern}")
    return finding


def file_excludes(host: Host, args: dict[str, Any]) -> Finding:
    """No pattern matches a line of any of the files (missing files pass)."""
    finding = Finding()
    for path in args["paths"]:
        text = _read(host, path)
        if text is None:
            continue
        hits = [line for line in _lines(text) for p in args["patterns"] if re.search(p, line)]
        for line in hits:
            finding.fail(f"{path}: {line.strip()}")
        if not hits:
            finding.see(f"{path}: no line matches {', '.join(args['patterns'])}")
    return finding


@dataclass(frozen=True)
class PamLine:
    """One rule of a PAM stack and the file it came from."""

    file: str
    type: str
    control: str
    module: str
    args: tuple[str, ...]
    if_installed: bool = False  # written `-type`: PAM skips the line when the module is not installed
    # Where the line stands in its type's stack: its index, after those of the substack lines it is under (PAM jumps
    # count the lines of one type, includes inlined, and a substack is one line of its parent).
    position: tuple[int, ...] = ()


def _pam_lines(
    host: Host,
    service: str,
    depth: int = 0,
    only: str | None = None,
    scope: tuple[int, ...] = (),
    counters: dict[str, int] | None = None,
) -> Iterator[PamLine]:
    """The effective stack of a service, following @include, include and substack (``only``: the lines of one
    type, as include and substack take them)."""
    path = f"/etc/pam.d/{service}"
    text = _read(host, path)
    if text is None or depth > 8:
        return
    counters = {} if counters is None else counters
    for raw in _lines(text.replace("\\\n", " ")):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("@include"):
            yield from _pam_lines(host, line.split()[1], depth + 1, only, scope, counters)
            continue
        match = re.match(r"^(-?)(\w+)\s+(\[[^]]*]|\S+)\s*(\S*)\s*(.*)$", line)
        if not match:
            continue
        dash, kind, control, module, rest = match.groups()
        if only is not None and kind != only:
            continue
        if control == "include":
            yield from _pam_lines(host, module, depth + 1, kind, scope, counters)
            continue
        index = counters.get(kind, 0)
        counters[kind] = index + 1
        if control == "substack":
            yield from _pam_lines(host, module, depth + 1, kind, (*scope, index), {})
            continue
        yield PamLine(path, kind, control, module, tuple(rest.split()), dash == "-", (*scope, index))


def _pam_module_installed(host: Host, module: str) -> bool:
    """Whether the PAM module (a name, or a path) is installed, as PAM would load it."""
    if module.startswith("/"):
        return bool(host.run("test -e %s", module).rc == 0)
    found = host.run(
        "find -H /lib /lib64 /usr/lib /usr/lib64 -maxdepth 3 -path '*/security/*' -name %s -print -quit", module
    )
    return bool(_text(found).strip())


# Return values of a PAM module that are not a refusal: the rest (auth_err, perm_denied, maxtries, ...) are.
_PAM_NOT_REFUSALS = {"success", "ignore", "new_authtok_reqd"}


def _pam_actions(control: str) -> dict[str, str]:
    """A line's control as return value -> action (``sufficient`` ends the stack on success, as pam.conf(5) says)."""
    if control == "sufficient":
        return {"success": "done", "new_authtok_reqd": "done"}
    if not control.startswith("["):
        return {}
    return dict(item.partition("=")[::2] for item in control.strip("[]").split())


def _pam_bypass(before: PamLine, line: PamLine) -> str | None:
    """How ``before``, earlier in the stack, keeps ``line`` from running: it ends the stack on success (sufficient,
    success=done) or jumps past it; None when it cannot. Only a line of the same stack or of a stack ``line`` is
    under can: a substack's own done or jump ends within that substack."""
    level = len(before.position) - 1
    if level < 0 or len(line.position) <= level or before.position[:level] != line.position[:level]:
        return None
    at, target = before.position[level], line.position[level]
    actions = _pam_actions(before.control)
    if any(action.isdigit() and at + int(action) >= target for action in actions.values()):
        return "jumps past it"
    if actions.get("success") == "done":
        return "ends the stack on success before it"
    return None


def _pam_control_denies(control: str) -> bool:
    """Whether a failure of the line's module fails the stack: ``required``/``requisite``, or a ``[...]`` control
    whose default and every refusal it names are ``bad`` or ``die``. ``optional`` and ``sufficient`` ignore it."""
    if control in {"required", "requisite"}:
        return True
    if not control.startswith("["):
        return False
    actions = _pam_actions(control)
    refusals = {value: action for value, action in actions.items() if value not in _PAM_NOT_REFUSALS}
    return refusals.get("default") in {"bad", "die"} and all(a in {"bad", "die"} for a in refusals.values())


def pam_stack(host: Host, args: dict[str, Any]) -> Finding:
    """The service's stack has a line of this type using this module with these arguments, whose control lets the
    module refuse (unless ``denies: false``: a line that only records, such as pam_faillock's authfail); where such a
    line sets an ``expect`` key itself (``minlen=1``), that overrides the module's configuration file and must meet
    it too."""
    finding = Finding()
    service, kind, module = args["service"], args["type"], args["module"]
    wanted = [str(a) for a in args.get("args", [])]
    stack = [p for p in _pam_lines(host, service) if p.type == kind]
    lines = [p for p in stack if Path(p.module).name == module]
    for line in lines:
        finding.see(f"{line.file}: {line.type} {line.control} {line.module} {' '.join(line.args)}".strip())
        options = dict(a.split("=", 1) for a in line.args if "=" in a)
        for item in args.get("expect", []):
            key, op, expected = item["key"], item["op"], item["value"]
            if key in options and not _meets(options[key], item):
                finding.fail(
                    f"{line.file}: {module} sets {key}={options[key]} on its line, over its configuration file: "
                    f"expected {OP_TEXT[op]} {expected}"
                )
    extra = f" with {' '.join(wanted)}" if wanted else ""
    matching = [line for line in lines if all(a in line.args for a in wanted)]
    # Arguments that turn the module's meaning around (pam_wheel's deny lets everyone but the group in): such a line
    # fails, and does not count as the line the control asks for.
    for line in matching:
        for argument in sorted(set(line.args) & set(map(str, args.get("refused_args", [])))):
            finding.fail(f"{line.file}: the {kind} line using {module} has {argument}, which the control refuses")
    matching = [line for line in matching if not set(line.args) & set(map(str, args.get("refused_args", [])))]
    if not matching:
        finding.fail(f"PAM service {service}: no {kind} line uses {module}{extra}")
    elif all(line.if_installed for line in matching) and not _pam_module_installed(host, module):
        finding.fail(
            f"PAM service {service}: the {kind} line using {module}{extra} starts with '-' (skipped when the module is "
            f"missing), and {module} is not installed"
        )
    elif args.get("denies", True) and not any(_pam_control_denies(line.control) for line in matching):
        controls = ", ".join(sorted({line.control for line in matching}))
        finding.fail(
            f"PAM service {service}: the {kind} line using {module}{extra} is {controls}, so a refusal of the module "
            "is ignored (required, requisite or [default=die] make it count)"
        )
    elif args.get("reached"):
        # A line above that ends the stack on success or jumps past this one lets a login through unchecked
        # (pam_unix `sufficient` above pam_faillock's preauth: a right password opens a locked account).
        bypassed = {
            line: [(earlier, how) for earlier in stack[: stack.index(line)] if (how := _pam_bypass(earlier, line))]
            for line in matching
        }
        if all(bypassed.values()):
            for earlier, how in dict.fromkeys(pair for pairs in bypassed.values() for pair in pairs):
                finding.fail(
                    f"{earlier.file}: the {kind} line `{earlier.control} {earlier.module}` {how} (the {module}{extra} "
                    "line), so a login can succeed without it"
                )
    return finding


def login_env(host: Host, args: dict[str, Any]) -> Finding:
    """A login shell sees the variable with the right value, read-only."""
    finding = Finding()
    name, op, expected = args["name"], args["op"], args["value"]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise CommandFailedError(f"not a variable name: {name}")
    script = f'printf "%s\\n" "${{{name}-}}"; readonly -p | grep -q " {name}=" && echo readonly || echo writable'
    out = _lines(_run(host, "bash -l -c %s", script))
    # The last two lines are ours; a profile script may print before them.
    value, state = out[-2:] if len(out) >= 2 else ("", "writable")
    finding.see(f"login shell: {name}={value or '(unset)'} ({state})")
    if not value or not _compare(value, op, expected):
        finding.fail(f"{name} is {value or 'unset'} in a login shell, expected {OP_TEXT[op]} {expected}")
    if state != "readonly":
        finding.fail(f"{name} is not read-only: users can switch it off")
    return finding


# sshd -T's addressfamily, when it limits the connections sshd accepts to one IP version.
SSHD_ADDRESS_FAMILIES = {"inet": 4, "inet6": 6}
# The host name of every connection `sshd -T -C` evaluates: reserved (RFC 6761), so no Match Host names it.
SSHD_PROBE_HOST = "probe.invalid"


def _first_address(source: str) -> str:
    """The address a probe connects from inside ``source`` (an address or a network): its first host address."""
    network = ipaddress.ip_network(source, strict=False)
    return str(next(iter(network.hosts()), network.network_address))


def _flat(items: list[Any]) -> list[str]:
    """A list whose items may be lists (a parameter that is a list, substituted into a list), flattened."""
    return [str(leaf) for item in items for leaf in (item if isinstance(item, list) else [item])]


def _sshd_settings(out: str) -> dict[str, str]:
    """The settings `sshd -T` printed, by lower-case key; a key printed on several lines has them joined."""
    effective: dict[str, list[str]] = {}
    for line in _lines(out):
        key, _, value = line.partition(" ")
        value = value.strip()
        # OpenSSH up to 9.3 prints prohibit-password under its old name; they are one setting.
        if key.lower() == "permitrootlogin" and value == "without-password":
            value = "prohibit-password"
        effective.setdefault(key.lower(), []).append(value)
    return {key: " ".join(values) for key, values in effective.items()}


# sshd's debug output names each Match block it reads (sshd_config and the files it includes) before any applies:
# `debug3: checking syntax for 'Match Address 10.9.0.0/16'` (OpenSSH 6 to 9).
_SSHD_MATCH_BLOCK = re.compile(r"checking syntax for 'Match (.*)'$")
# The -C keys a probe meeting a Match criterion sets, by the criterion's keyword (lower case); User, Group and
# Address choose the probe's user and address.
_SSHD_MATCH_KEYS = {"host": "host", "localaddress": "laddr", "localport": "lport", "rdomain": "rdomain"}


@dataclass(frozen=True)
class _SshdProbe:
    """A connection `sshd -T -C` evaluates: a user from an address, and any other keys a Match block names."""

    user: str
    address: str
    other: tuple[tuple[str, str], ...] = ()

    def spec(self) -> str:
        """The argument of -C."""
        keys = {"user": self.user, "host": SSHD_PROBE_HOST, "addr": self.address, **dict(self.other)}
        return ",".join(f"{key}={value}" for key, value in keys.items())

    def __str__(self) -> str:
        return f"{self.user} from {self.address}" + "".join(f" {key} {value}" for key, value in self.other)


def _concrete(pattern: str) -> str:
    """A name an sshd pattern matches (`*` and `?` as one letter)."""
    return pattern.replace("*", "x").replace("?", "x")


def _matched_by(value: str, entries: list[str]) -> bool:
    """Whether an address or name is one of ``entries`` (sshd patterns, or networks for an address)."""
    for entry in entries:
        try:
            if ipaddress.ip_address(value) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            if fnmatch.fnmatchcase(value, entry):
                return True
    return False


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _addresses_meeting(entries: list[str], known: list[str]) -> list[str]:
    """Addresses a Match Address list accepts, none in a negated entry: one of each network (its first host, else its
    last) and of each pattern, and those of ``known`` it matches (all for `*`)."""
    refused = [e[1:] for e in entries if e.startswith("!")]
    candidates: list[str] = []
    for entry in (e for e in entries if not e.startswith("!")):
        if entry == "*":  # any address: the sources' are probed already
            candidates += [a for a in known if not _matched_by(a, refused)]
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
            ends = [str(a) for a in (network[1], network[-2])] if network.num_addresses > 2 else [str(network[0])]
            candidates += [a for a in ends if not _matched_by(a, refused)][:1]
        except ValueError:
            # 10.9.* -> 10.9.1 -> 10.9.1.1; the wildcards filled with 2 when a negated entry takes that.
            for digit in "12":
                text = entry.replace("*", digit).replace("?", digit)
                while text.count(".") < 3 and not _is_address(text):
                    text += f".{digit}"
                if _is_address(text) and not _matched_by(text, refused):
                    candidates.append(text)
                    break
            candidates += [a for a in known if fnmatch.fnmatchcase(a, entry)]
    return [a for a in dict.fromkeys(candidates) if not _matched_by(a, refused)]


def _probes_meeting(
    host: Host, criteria: str, users: list[str], addresses: list[str], exempt: list[str]
) -> tuple[list[_SshdProbe], str]:
    """Connections that meet a Match block's ``criteria`` (each of ``users`` and ``addresses`` that the block does not
    narrow; a user it names, unless ``exempt``, patterns), or none and why."""
    words = criteria.split()
    if words and words[0].lower() == "all":
        return [], "applies to every connection (probed already)"
    other: list[tuple[str, str]] = []
    for keyword, value in zip(words[::2], words[1::2], strict=False):
        entries = value.split(",")
        chosen = [e for e in entries if not e.startswith("!")]
        match keyword.lower():
            case "user":
                refused = [e[1:] for e in entries if e.startswith("!")]
                named = [_concrete(e) for e in chosen if e != "*" and not _matched_by(_concrete(e), exempt)]
                known = [u for u in users if _matched_by(u, chosen)]
                users = [u for u in dict.fromkeys(named + known) if not _matched_by(u, refused)]
            case "group":
                # sshd matches the groups getgrouplist gives the user: those whose entry lists it and its primary
                # group (passwd's gid), which `getent group` does not list; a user whose only tie is the latter
                # meets the block as well. A pattern (adm*) names every group it matches; a user in a negated
                # group never meets the block.
                refused = _members_of_groups(host, [e[1:] for e in entries if e.startswith("!")])
                members = _members_of_groups(host, chosen)
                users = [m for m in members if m not in refused and not _matched_by(m, exempt)]
                if not users:
                    return [], f"no member of group {value} to probe with"
            case "address":
                addresses = _addresses_meeting(entries, addresses)
            case key if key in _SSHD_MATCH_KEYS:
                other.append((_SSHD_MATCH_KEYS[key], _concrete(chosen[0]) if chosen else "x"))
            case _:
                return [], f"criterion {keyword} is not probed"
    if not users or not addresses:
        return [], "no user or address meets it"
    return [_SshdProbe(user, address, tuple(other)) for user in users for address in addresses], ""


def _members_of_groups(host: Host, patterns: list[str]) -> list[str]:
    """The members (listed, or by primary group) of every group named by ``patterns``, sshd patterns of group names:
    a name is asked of `getent group` alone, a pattern matched against every group getent lists."""
    names = [p for p in patterns if not any(c in p for c in "*?")]
    if len(names) < len(patterns):
        listed = (line.split(":", 1)[0] for line in _lines(_run(host, "getent group")))
        names += [g for g in listed if any(fnmatch.fnmatchcase(g, p) for p in patterns if p not in names)]
    return list(dict.fromkeys(m for group in dict.fromkeys(names) for m in _group_members(host, group) or []))


def sshd_effective(host: Host, args: dict[str, Any]) -> Finding:
    """`sshd -T` (the effective configuration) reports the expected values. With ``connections``, sshd evaluates
    its configuration for each of those users connecting from an address in each source (`sshd -T -C`): a Match
    block applies only to the connections it matches, and plain `sshd -T` applies none, so a block that weakens a
    setting for some users or addresses is seen only this way. Each Match block sshd reads is evaluated too, for a
    connection that meets it (its addresses, users, group members...): one on a criterion none of those connections
    meets (`Match Address 10.9.0.0/16`) would otherwise never be judged."""
    finding = Finding()
    connections = args.get("connections")
    probes: list[_SshdProbe | None] = [None]
    if connections:
        users = _flat(connections["users"])
        addresses = list(dict.fromkeys(_first_address(s) for s in _flat(connections["sources"])))
        probes = [_SshdProbe(user, address) for user in users for address in addresses]
        finding.see(f"sshd -T -C for {', '.join(users)} from {', '.join(addresses)} (host {SSHD_PROBE_HOST})")
        # A configuration sshd refuses lists nothing here: the probes below fail on it, naming their command.
        listing = host.run("/usr/sbin/sshd -ddd -T")
        blocks = _lines(_text(listing, "stderr")) if listing.rc == 0 else []
        for criteria in dict.fromkeys(m.group(1) for line in blocks if (m := _SSHD_MATCH_BLOCK.search(line))):
            meeting, why = _probes_meeting(host, criteria, users, addresses, _flat(connections.get("exempt", [])))
            added = [probe for probe in meeting if probe not in probes]
            probes += added
            shown = ", ".join(map(str, meeting[:3])) + (f" and {len(meeting) - 3} more" if len(meeting) > 3 else "")
            finding.see(f"Match {criteria}: " + (f"evaluated for {shown}" if meeting else why))
    judged: list[tuple[_SshdProbe | None, dict[str, str]]] = []  # each probe with what sshd applies to it
    for probe in probes:
        out = _run(host, "/usr/sbin/sshd -T") if probe is None else _run(host, "/usr/sbin/sshd -T -C %s", probe.spec())
        effective = _sshd_settings(out)
        family = SSHD_ADDRESS_FAMILIES.get(effective.get("addressfamily", "any"))
        if probe is not None and family is not None and ipaddress.ip_address(probe.address).version != family:
            # sshd listens on the other family only (AddressFamily, global): no connection comes from there.
            finding.see(f"sshd listens on IPv{family} only: none connects from {probe.address}")
            continue
        judged.append((probe, effective))
    if not judged:  # no probe of the family sshd listens on: what it applies outside Match blocks is still judged
        judged.append((None, _sshd_settings(_run(host, "/usr/sbin/sshd -T"))))
    # key -> value -> the probes that saw it
    seen: dict[str, dict[str, list[_SshdProbe | None]]] = {item["key"]: {} for item in args["expect"]}
    for probe, effective in judged:
        for key, values in seen.items():
            values.setdefault(effective.get(key, ""), []).append(probe)
    for item in args["expect"]:
        key, op, expected = item["key"], item["op"], item["value"]
        shown = ",".join(map(str, expected)) if isinstance(expected, list) else expected
        for observed, where in seen[key].items():
            # One value: every probe saw it.
            label = "sshd -T" if len(seen[key]) == 1 else "sshd -T -C for " + ", ".join(map(str, filter(None, where)))
            finding.see(f"{label}: {key} {observed or '(not reported)'}")
            if not observed or not _compare(observed, op, expected):
                finding.fail(f"{label}: {key} is {observed or 'not set'}, expected {OP_TEXT[op]} {shown}")
    return finding


def packages_absent(host: Host, args: dict[str, Any]) -> Finding:
    """None of the packages is installed."""
    finding = Finding()
    installed = [name for name in args["names"] if host.package(name).is_installed]
    finding.see(f"installed from the list: {', '.join(installed) or 'none'}")
    for name in installed:
        finding.fail(f"package {name} is installed")
    return finding


def _listeners(host: Host, flags: str) -> list[tuple[str, str, int, str]]:
    """(protocol, local address, port, process) of every listening socket."""
    found = []
    for line in _lines(_run(host, f"ss -H {flags}")):
        fields = line.split()
        if len(fields) < 5:
            continue
        protocol = fields[0] if fields[0] in {"tcp", "udp"} else "tcp"
        local = fields[4] if fields[0] in {"tcp", "udp"} else fields[3]
        address, _, port = local.rpartition(":")
        process = re.search(r'users:\(\("([^"]+)"', line)
        found.append((protocol, address.strip("[]").split("%")[0], int(port), process.group(1) if process else "?"))
    return found


def ports_closed(host: Host, args: dict[str, Any]) -> Finding:
    """Nothing listens on the ports."""
    finding = Finding()
    closed = set(args["tcp"])
    listening = _listeners(host, "-tlnp")
    finding.see(f"TCP listeners: {', '.join(sorted({f'{a}:{p} ({n})' for _, a, p, n in listening})) or 'none'}")
    for _, address, port, process in listening:
        if port in closed:
            finding.fail(f"{process} listens on {address}:{port}")
    return finding


def listeners_allowed(host: Host, args: dict[str, Any]) -> Finding:
    """Every non-loopback listener uses an allowed port."""
    finding = Finding()
    allowed = {"tcp": set(args["tcp"]), "udp": set(args["udp"])}
    exposed = [
        item for item in _listeners(host, "-tulnp")
        if not (item[1].startswith("127.") or item[1] == "::1")
    ]  # fmt: skip
    finding.see(f"listeners: {', '.join(sorted({f'{t}/{a}:{p} ({n})' for t, a, p, n in exposed})) or 'none'}")
    for protocol, address, port, process in exposed:
        if port not in allowed[protocol]:
            finding.fail(f"{process} listens on {protocol} {address}:{port}, not on the allow-list")
    return finding


def _unit_state(host: Host, name: str) -> tuple[str, str, str]:
    """(load state, enabled state, active state) of a systemd unit."""
    out = _run(host, "systemctl show --property=LoadState,UnitFileState,ActiveState -- %s", name)
    props = dict(line.split("=", 1) for line in _lines(out) if "=" in line)
    return props.get("LoadState", ""), props.get("UnitFileState", ""), props.get("ActiveState", "")


def services_disabled(host: Host, args: dict[str, Any]) -> Finding:
    """Listed units that exist are neither enabled nor active."""
    finding = Finding()
    present = 0
    for name in args["names"]:
        load, enabled, active = _unit_state(host, name)
        if load == "not-found":
            continue
        present += 1
        finding.see(f"{name}: {enabled or load}, {active}")
        if enabled in {"enabled", "enabled-runtime", "static", "alias"} and load != "masked":
            finding.fail(f"{name} is {enabled}")
        if active in {"active", "activating", "reloading"}:
            finding.fail(f"{name} is {active}")
    if not present:
        finding.see("none of the listed units exists")
    return finding


def _running(host: Host, name: str, finding: Finding, *, static_ok: bool = False) -> None:
    load, enabled, active = _unit_state(host, name)
    finding.see(f"{name}: {load}, {enabled or 'no unit file'}, {active}")
    # A static timer (no [Install]) runs because a target of the distribution wants it: that is enabled.
    accepted = {"enabled", "static"} if static_ok else {"enabled"}
    if load != "loaded":
        finding.fail(f"{name} is {load or 'unknown'}")
    elif enabled not in accepted:
        finding.fail(f"{name} is {enabled or 'not enabled'}")
    if active != "active":
        finding.fail(f"{name} is {active}")


def service_running(host: Host, args: dict[str, Any]) -> Finding:
    """The unit is enabled and active."""
    finding = Finding()
    _running(host, args["name"], finding)
    return finding


def timer_active(host: Host, args: dict[str, Any]) -> Finding:
    """The timer is enabled and active (waiting), with its next run; with ``service``, the last run of the
    service it starts succeeded (a check that found something, AIDE say, ends non-zero: that is the alarm)."""
    finding = Finding()
    name = args["name"]
    _running(host, name, finding, static_ok=True)
    out = _run(host, "systemctl show --property=LastTriggerUSec,NextElapseUSecRealtime -- %s", name)
    finding.see(f"{name}: {' '.join(out.split())}")
    service = args.get("service")
    if service:
        shown = _run(host, "systemctl show --property=Result,ExecMainStatus,ExecMainExitTimestamp -- %s", service)
        props = dict(line.split("=", 1) for line in _lines(shown) if "=" in line)
        finding.see(f"{service}: {' '.join(shown.split())}")
        if props.get("Result", "success") != "success":
            hint = f", then {args['hint']}" if args.get("hint") else ""
            finding.fail(
                f"{service}: the last run ended with {props.get('Result')} (exit status "
                f"{props.get('ExecMainStatus', '?')}): read `journalctl -u {service}`{hint}"
            )
    return finding


def _unit_file_state(host: Host, name: str) -> str | None:
    """`systemctl is-enabled` of a unit (enabled, static, disabled, masked...), None when the host has no such unit.
    It reads the unit files alone, so it answers where systemd is not PID 1 as well."""
    result = host.run("systemctl is-enabled -- %s", name)
    state = _text(result).strip()
    # systemd up to 253 prints nothing (exit 1, "No such file or directory"), later ones not-found (exit 4).
    return None if state in {"", "not-found"} else state


def _active_state(host: Host, name: str) -> str:
    """`systemctl is-active` of a unit (active, inactive, failed...), from the running systemd."""
    return _text(host.run("systemctl is-active -- %s", name)).strip()


# What runs logrotate (DZ-AU-05), as the packages ship it:
# - logrotate.timer (upstream examples/logrotate.timer, OnCalendar=daily), enabled by Debian 12 and UOS. Debian's
#   /etc/cron.daily/logrotate then exits at once where /run/systemd/system exists ("skip in favour of systemd
#   timer"), so under systemd only the timer runs logrotate there.
# - /etc/cron.daily/logrotate (upstream examples/logrotate.cron, no such test), the RedHat family's traditional way
#   (openEuler, Kylin, UOS's server editions: cronie with cronie-anacron; where logrotate ships its timer too, a host
#   may keep it disabled and rotate from cron alone), run by whatever runs cron.daily:
#   * a crontab line `run-parts /etc/cron.daily`: Debian cron's /etc/crontab (`25 6 * * * root test -x
#     /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }`), cronie-noanacron's /etc/cron.d/dailyjobs
#     (`02 4 * * * root [ ! -f /etc/cron.hourly/0anacron ] && run-parts /etc/cron.daily`); each steps aside for anacron;
#   * anacron's /etc/anacrontab job (cronie-anacron: `1 5 cron.daily nice run-parts /etc/cron.daily`; Debian's anacron
#     `run-parts --report /etc/cron.daily`), anacron itself started hourly by cronie's /etc/cron.d/0hourly (`01 * * * *
#     root run-parts /etc/cron.hourly`) through cronie-anacron's /etc/cron.hourly/0anacron (`/usr/sbin/anacron -s`),
#     and on Debian by anacron.timer under systemd or /etc/cron.d/anacron (`[ -x /etc/init.d/anacron ] && if [ ! -d
#     /run/systemd/system ]; then /usr/sbin/invoke-rc.d anacron start ...`) without it.
# Each of these tests a file before it runs; the check weighs a line's tests as its shell does (sh_guards: `a && b ||
# c` runs c where a or b fails), asking the host what each file test says. cron runs a job with the shell of the last
# SHELL= setting above it in its crontab, /bin/sh without one (crontab(5); cronie's files set SHELL=/bin/bash), anacron
# a job with /bin/sh whatever its anacrontab sets (_ANACRON_SHELL), and run-parts a cron.daily script with its #!
# line's (`#!/usr/bin/env bash`: the bash found on the PATH of the crontab or anacrontab line that runs run-parts,
# cron's default /usr/bin:/bin without one): which program that is decides `[[`, which bash has (as sh too, the RedHat
# family's /bin/sh) and dash (Debian's /bin/sh) has not.
_CRONTABS = ("/etc/crontab", "/etc/cron.d")
# Root's own crontab, where its lines have no user field (crontab(5)), can run cron.daily too: Debian's cron reads the
# users' crontabs from /var/spool/cron/crontabs (cron(8)), cronie from /var/spool/cron (crond(8)). Another user's
# crontab would run logrotate without the rights to rotate the system's logs: only root's counts.
_ROOT_CRONTABS = {"cron.service": "/var/spool/cron/crontabs/root", "crond.service": "/var/spool/cron/root"}
_ANACRONTAB = "/etc/anacrontab"
_ANACRON_TIMER = "anacron.timer"
_RUN_PARTS = re.compile(r"\brun-parts(?:\s+--?[a-z-]+)*\s+(/[^\s;&|}]+?)/?(?=$|[\s;&|}])")
_STARTS_ANACRON = re.compile(
    r"(?:^|[\s;&|({])(?:/usr/sbin/)?anacron(?:\s+-[a-zA-Z]+)*\s*(?:$|[;&|)}<>])|invoke-rc\.d\s+anacron\s+start", re.M
)
# An environment setting of a crontab or anacrontab (SHELL=/bin/sh, MAILTO=root), no job.
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*=")
# The PATH cron gives a job whose crontab sets none (_PATH_DEFPATH of Debian's cron and of cronie alike).
_CRON_PATH = "/usr/bin:/bin"
# anacron runs a job's command with /bin/sh whatever its anacrontab's SHELL= says (runjob.c, run_job: `execl("/bin/sh",
# "/bin/sh", "-c", command)`, in Debian's anacron and cronie's alike); SHELL=, PATH= and the rest are only the job's
# environment, which run-parts and its scripts inherit.
_ANACRON_SHELL = "/bin/sh"
# What a cron.daily script without a #! line is run with, which the kernel does not exec (ENOEXEC), by the daemon's
# run-parts: cronie's (crontabs' /usr/bin/run-parts, a `#!/bin/bash` script) runs it as a command of its bash, which
# then reads the file itself, as bash; Debian's (debianutils, C) execv()s it, fails ("failed to exec ...: Exec format
# error") and goes on with the next script: none. Without a cron daemon only Debian's anacron.timer runs cron.daily,
# through Debian's run-parts.
_NO_HASHBANG_SHELL = {"crond.service": "/bin/bash"}
# Debian's cron.daily script steps aside where systemd is PID 1 (`if [ -d /run/systemd/system ]; then exit 0`); the
# group is `[` or `[[`, which only a shell that has `[[` runs as a test.
_STEPS_ASIDE_FOR_SYSTEMD = re.compile(r"(\[\[?)\s+-d\s+/run/systemd/system\s+\]")
# A command of the script that runs logrotate (`/usr/sbin/logrotate /etc/logrotate.conf`, `nice logrotate ...`).
_RUNS_LOGROTATE = re.compile(r"(?:^|\s)(?:\S*/)?logrotate(?=\s|$)")


def _cron_reads(name: str, daemon: str) -> bool:
    """Whether the cron daemon reads a file of /etc/cron.d so named: Debian's cron only run-parts names
    ([A-Za-z0-9_-], cron(8)); cronie all but hidden files and editor or package-manager leftovers (crond(8))."""
    if daemon == "cron.service":
        return re.fullmatch(r"[A-Za-z0-9_-]+", name) is not None
    return not name.startswith(".") and not name.endswith(("~", ".rpmsave", ".rpmorig", ".rpmnew", ".swp"))


def _job_lines(text: str) -> list[str]:
    """The job lines of a crontab or anacrontab, stripped: blank lines, comments and environment settings left out."""
    return [line for line, _, _ in _jobs_and_shells(text)]


def _jobs_and_shells(text: str) -> list[tuple[str, str, str]]:
    """The job lines of a crontab or anacrontab (see _job_lines), each with the shell cron runs it with, the last
    SHELL= setting above it in the file, else /bin/sh, and the PATH it runs with, the last PATH= setting above it,
    else cron's default (_CRON_PATH). cron reads the settings in order, each job taking those read before it
    (load_env in Debian's cron and cronie alike: blanks round the `=` and the value dropped, then quotes round the
    value); anacron reads its anacrontab's the same way."""
    settings = {"SHELL": "/bin/sh", "PATH": _CRON_PATH}
    jobs = []
    for line in (raw.strip() for raw in _lines(text)):
        if not line or line.startswith("#"):
            continue
        if _ASSIGNMENT.match(line):
            name, _, value = (part.strip() for part in line.partition("="))
            if name in settings:
                quoted = len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]
                settings[name] = value[1:-1] if quoted else value
            continue
        jobs.append((line, settings["SHELL"], settings["PATH"]))
    return jobs


def _stat(host: Host, path: str, *, follow: bool) -> tuple[int, int, str, int]:
    """(st_mode, st_uid, owner's name, st_nlink) of ``path`` (of what a symlink points to with ``follow``)."""
    mode, uid, owner, links = _run(host, f"stat{' -L' if follow else ''} -c '%%f %%u %%U %%h' -- %s", path).split()
    return int(mode, 16), int(uid), owner, int(links)


# What each cron daemon asks of a crontab before it reads it; one that fails is logged and skipped, its jobs never run.
# - Debian's cron (database.c, process_crontab, with Debian's patches): a system crontab (/etc/crontab, /etc/cron.d/*)
#   may be a symlink owned by root ("WRONG SYMLINK OWNER"); the file must be owned by root ("WRONG FILE OWNER"), a
#   regular file, not group- or other-writable ("INSECURE MODE") and have one hard link ("NUMBER OF HARD LINKS > 1").
#   A user's crontab, root's too, is opened O_NOFOLLOW (no symlink) and must be owned by root or its user, regular,
#   of mode 0600 exactly and have one hard link.
# - cronie (database.c, check_open) follows symlinks, then asks of every crontab a regular file ("NOT REGULAR"),
#   mode & 07533 == 0400 ("BAD FILE MODE": readable by its owner, not executable, not group- or other-writable, no
#   setuid, setgid or sticky bit), owned by root or, for a user's crontab, its user ("WRONG FILE OWNER"), and of a
#   user's crontab one hard link ("BAD LINK COUNT"). crond -p (PermitAnyCrontab) waives all of it: crond.service
#   (contrib/cronie.systemd) starts `crond -n $CRONDARGS`, CRONDARGS from /etc/sysconfig/crond (empty as shipped),
#   unless a drop-in changes the command (_crond_arguments).
# Every crontab read here is root's or the system's, so root alone may own it.
_CRONIE_MODE = "it must be readable by root, with no execute, group or other write, setuid, setgid or sticky bit"
_CRONIE_ARGS = "/etc/sysconfig/crond"


# Where systemd is PID 1 it starts crond from crond.service as its drop-ins leave it: a drop-in
# (/etc/systemd/system/crond.service.d/*.conf, the same under /run and /usr/lib) may reset ExecStart= (an empty
# assignment) and give another command, with -p of its own or without $CRONDARGS, or set CRONDARGS by Environment=
# (which EnvironmentFile= overrides). systemd itself shows the unit that way (`systemd-analyze cat-config`: the unit
# file it loads, then the drop-ins, one of a name in /etc masking one in /usr/lib, sorted by name); systemd before
# 239 (EL 7) has no cat-config, and the files are read here in that order. Without systemd as PID 1 cronie's init
# script passes CRONDARGS alone.
_CRONIE_UNIT = "crond.service"
_UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)


def _unit_text(host: Host, unit: str) -> str:
    """The unit file systemd loads for ``unit`` and its drop-ins, in systemd's order."""
    shown = host.run("systemd-analyze cat-config -- %s", f"systemd/system/{unit}")
    if shown.rc == 0:
        return _text(shown)
    main = next((text for folder in _UNIT_DIRS if (text := _read(host, f"{folder}/{unit}")) is not None), "")
    drop_ins: dict[str, str] = {}
    for folder in reversed(_UNIT_DIRS):  # a drop-in of a folder before masks one of the same name after it
        for path in _files_in(host, f"{folder}/{unit}.d"):
            if path.endswith(".conf"):
                drop_ins[posixpath.basename(path)] = path
    return "\n".join([main, *(_read(host, drop_ins[name]) or "" for name in sorted(drop_ins))])


def _service_settings(text: str) -> dict[str, list[str]]:
    """The [Service] settings of a unit and its drop-ins (``text``), each key's values since its last empty
    assignment, which resets the list."""
    settings: dict[str, list[str]] = {}
    section = ""
    # A trailing backslash continues the line.
    for line in (raw.strip() for raw in re.sub(r"\\\n", " ", text).splitlines()):
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Service" and "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            values = settings.setdefault(key.strip(), [])
            if value.strip():
                values.append(value.strip())
            else:
                values.clear()
    return settings


def _environment_file(text: str) -> dict[str, str]:
    """The assignments of an environment file (the last of a name wins), quotes round a value dropped."""
    assigned = {}
    for line in _lines(text):
        name, equals, value = line.strip().partition("=")
        if equals and not name.startswith(("#", ";")):
            assigned[name.strip()] = value.strip().strip("\"'")
    return assigned


def _crond_arguments(host: Host, systemd: bool) -> list[str]:
    """The arguments crond is started with: those of crond.service's ExecStart= in force, its $VAR and ${VAR}
    expanded as systemd does ($VAR split at whitespace, ${VAR} one word), where systemd is PID 1; else CRONDARGS of
    /etc/sysconfig/crond."""
    if not systemd:
        return _environment_file(_read(host, _CRONIE_ARGS) or "").get("CRONDARGS", "").split()
    settings = _service_settings(_unit_text(host, _CRONIE_UNIT))
    environment: dict[str, str] = {}
    for value in settings.get("Environment", []):
        for word in shlex.split(value):
            name, _, assigned = word.partition("=")
            environment[name] = assigned
    for value in settings.get("EnvironmentFile", []):  # `-` before the path: the file may be missing
        environment.update(_environment_file(_read(host, value.removeprefix("-")) or ""))
    if not settings.get("ExecStart"):
        return []
    command = settings["ExecStart"][-1]
    program = command.lstrip("-@:+!")
    prefixes = command[: len(command) - len(program)]  # ExecStart='s special prefixes, before the path
    words = shlex.split(program)
    arguments: list[str] = []
    for word in words[2 if "@" in prefixes else 1 :]:  # `@path argv0 args...`
        if variable := re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word):
            arguments.extend(environment.get(variable.group(1), "").split())
        else:
            arguments.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: environment.get(m.group(1), ""), word))
    return arguments


def _cronie_permits_any_crontab(host: Host, systemd: bool) -> bool:
    """Whether crond is started with -p (see _crond_arguments), its options read as glibc's getopt reads cronie's
    "hnfpsiPx:m:cV": flags bundled, -x and -m taking the rest of their word or the next one, other words skipped, none
    after --."""
    words = iter(_crond_arguments(host, systemd))
    for word in words:
        if word == "--":
            break
        if not word.startswith("-"):
            continue
        for index, flag in enumerate(word[1:], start=2):
            if flag == "p":
                return True
            if flag in "xm":
                if index == len(word):
                    next(words, None)
                break
    return False


def _crontab_skipped(host: Host, file: str, daemon: str, *, users: bool) -> str | None:
    """Why the cron daemon (its unit) skips the crontab ``file`` (a user's with ``users``), None when it reads it.
    Asked only of a crontab that was read: there is a file there, or a link to one."""
    mode, uid, owner, links = _stat(host, file, follow=False)
    debian = daemon == "cron.service"
    if stat.S_ISLNK(mode):
        if debian and users:
            return "a symlink, which it does not follow to a user's crontab"
        if debian and uid != 0:
            return f"a symlink owned by {owner}, not root"
        mode, uid, owner, links = _stat(host, file, follow=True)
    shown = f"{stat.S_IMODE(mode):04o}"
    refusals = [
        (not stat.S_ISREG(mode), "no regular file"),
        (uid != 0, f"owned by {owner}, not root"),
        (debian and users and stat.S_IMODE(mode) != 0o600, f"mode {shown}, not 0600"),
        (
            debian and not users and mode & (stat.S_IWGRP | stat.S_IWOTH) != 0,
            f"mode {shown}, writable by group or others",
        ),
        (not debian and mode & 0o7533 != 0o400, f"mode {shown}: {_CRONIE_MODE}"),
        (links != 1 and (debian or users), f"{links} hard links, not 1"),
    ]
    return next((why for refused, why in refusals if refused), None)


class _CronJob(NamedTuple):
    """A job of a crontab the daemon reads for the system or for root, or of the anacrontab."""

    file: str
    user: str
    command: str  # what cron (_shell_command) or anacron hands to the shell
    shell: str  # as the crontab names it (SHELL=), /bin/sh by default; anacron's /bin/sh
    path: str  # the PATH the job runs with (PATH=), cron's default without one
    skipped: str | None  # why the daemon skips the file, None when it reads it


def _cron_commands(host: Host, daemon: str, systemd: bool) -> list[_CronJob]:
    """Every job of the crontabs the daemon reads for the system and for root: the system crontabs, /etc/crontab and
    /etc/cron.d/*, whose lines name their user, and root's own crontab (``crontab -e`` as root), whose lines do
    not."""
    system = [_CRONTABS[0]] + [path for path in _files_in(host, _CRONTABS[1]) if _cron_reads(Path(path).name, daemon)]
    crontabs = [(file, True) for file in system] + [(file, False) for file in _root_crontab(daemon)]
    checked = daemon == "cron.service" or not _cronie_permits_any_crontab(host, systemd)
    jobs = []
    for file, names_user in crontabs:
        text = _read(host, file)
        if text is None:
            continue
        skipped = _crontab_skipped(host, file, daemon, users=not names_user) if checked else None
        for line, shell, path in _jobs_and_shells(text):
            # @daily or 5 time fields, then the user in a system crontab, then the command.
            before = (1 if line.startswith("@") else 5) + names_user
            fields = line.split(None, before)
            if len(fields) == before + 1:
                user = fields[-2] if names_user else "root"
                jobs.append(_CronJob(file, user, _shell_command(fields[-1]), shell, path, skipped))
    return jobs


def _shell_command(job: str) -> str:
    """What cron hands to the shell of a crontab line's command (crontab(5)): the command up to its first `%` that no
    backslash escapes, the rest being the command's standard input, each `\\%` made a `%`. As cron's do_command
    reads it, a backslash escapes the character after it and is dropped before a `%` alone (`\\\\%` ends the
    command), so `logger done %run-parts /etc/cron.daily` hands run-parts to logger's input, and runs no cron.daily."""
    command: list[str] = []
    escaped = False
    for character in job:
        if escaped:
            if character == "%":
                command[-1] = "%"
            else:
                command.append(character)
            escaped = False
        elif character == "%":
            break
        else:
            command.append(character)
            escaped = character == "\\"
    return "".join(command)


def _root_crontab(daemon: str) -> list[str]:
    """Where the daemon reads root's own crontab (none for a daemon not known here)."""
    return [_ROOT_CRONTABS[daemon]] if daemon in _ROOT_CRONTABS else []


def _crontabs_read(daemon: str | None) -> str:
    """The crontabs the daemon reads for root's jobs, as the evidence names them."""
    files = [_CRONTABS[0], _CRONTABS[1], *_root_crontab(daemon or "")]
    return f"{', '.join(files[:-1])} or {files[-1]}"


_TESTED = {
    "e": ("exists", "does not exist"),
    "f": ("is a file", "is no file"),
    "x": ("is executable", "is not executable"),
    "d": ("is a directory", "is no directory"),
}


def _file_test_on(host: Host, systemd: bool) -> sh_guards.FileTest:
    """A cron line's file test as the host answers it, with the state the evidence says; the test for systemd as
    PID 1 (`[ -d /run/systemd/system ]`) is answered as the rest of the check took it."""

    def file_test(test: str, path: str) -> tuple[bool, str]:
        if (test, path) == ("d", "/run/systemd/system"):
            return systemd, "systemd is PID 1" if systemd else "systemd is not PID 1"
        holds = host.run(f"test -{test} %s", path).rc == 0
        return holds, f"{path} {_TESTED[test][0 if holds else 1]}"

    return file_test


# A shell looked up on the host by the path that names it (_shell_on), once for a whole check.
_ShellLookup = Callable[[str], sh_guards.Shell | None]


def _shell_on(host: Host, named: str) -> sh_guards.Shell | None:
    """The shell ``named`` (by SHELL=, a #! line, or found by env on a PATH) as the host has it, the program its path
    leads to (/bin/sh is dash on Debian, bash on the RedHat family; ``env`` itself, for `#!/usr/bin/env -S bash`, a
    shell the reader does not know); None where there is no such executable file, and nothing can be run with it."""
    if host.run("test -x %s", named).rc != 0:
        return None
    return sh_guards.Shell(named, posixpath.basename(_text(host.run("readlink -e -- %s", named)).strip()))


def _interpreter(script: str) -> str | None:
    """The program a script is run with when it is executed (run-parts on cron.daily): its #! line's (None without
    one)."""
    first = script.split("\n", 1)[0]
    words = first[2:].split() if first.startswith("#!") else []
    return words[0] if words else None


def _env_runs(script: str) -> str | None:
    """The program a script's `#!/usr/bin/env NAME` line has env run, None for another #! line, or for env given
    options (`env -S bash -e`), read as a shell not known. The kernel hands env all of the line after its path as
    one word (`#!/usr/bin/env bash -e` looks for a program named `bash -e`)."""
    interpreter = _interpreter(script)
    if interpreter is None or posixpath.basename(interpreter) != "env":
        return None
    name = script.split("\n", 1)[0][2:].strip()[len(interpreter) :].strip()
    return name if name and not name.startswith("-") else None


def _run_parts_path(host: Host, daily: str, tables: _CronTables, systemd: bool, shells: _ShellLookup) -> str:
    """The PATH run-parts runs ``daily``'s scripts with: that of the first root job of the crontabs whose run-parts on
    it its tests let run (Debian's /etc/crontab line steps aside where anacron is installed), else of the first
    /etc/anacrontab job whose run-parts on it runs, else cron's default."""
    file_test = _file_test_on(host, systemd)
    jobs = [job for job in tables.crontab if not job.skipped and job.user == "root"]
    jobs += [job for _, job in tables.anacrontab]
    return next(
        (job.path for job in jobs if None in (_job_daily_stops(job, daily, file_test, shells) or [])), _CRON_PATH
    )


def _daily_stops(command: str, daily: str, file_test: sh_guards.FileTest, shell: sh_guards.Shell) -> list[str | None]:
    """Each run-parts on ``daily`` of ``command`` as ``shell`` runs it: what stops it there, None where it runs."""
    ran = sh_guards.commands_run(command, file_test, shell)
    return [simple.stopped for simple in ran if daily in _RUN_PARTS.findall(simple.text)]


def _job_daily_stops(
    job: _CronJob, daily: str, file_test: sh_guards.FileTest, shells: _ShellLookup
) -> list[str | None] | None:
    """Each run-parts on ``daily`` of the job as its shell runs it (see _daily_stops); None where that shell is
    missing or not executable, and nothing of the job runs."""
    shell = shells(job.shell)
    return None if shell is None else _daily_stops(job.command, daily, file_test, shell)


def _found_on_path(name: str, path: str, shells: _ShellLookup) -> sh_guards.Shell | None:
    """The program ``name`` as env finds it (execvp): itself where it holds a /, else the first executable file of
    that name in a folder of ``path``; None where there is none. An empty or relative entry names a folder of the
    working directory, which the check does not know: it is passed over."""
    if "/" in name:
        return shells(name)
    folders = [folder for folder in path.split(":") if folder.startswith("/")]
    return next((shell for folder in folders if (shell := shells(posixpath.join(folder, name))) is not None), None)


def _anacron_jobs(host: Host) -> list[tuple[str, _CronJob]]:
    """The jobs of /etc/anacrontab (period, delay, identifier, command), each as its identifier and the job: its
    command as anacron hands it to /bin/sh (no `%` is special), with the PATH of the anacrontab."""
    jobs = []
    for text, _, path in _jobs_and_shells(_read(host, _ANACRONTAB) or ""):
        fields = text.split(None, 3)
        if len(fields) == 4:
            jobs.append((fields[2], _CronJob(_ANACRONTAB, "root", fields[3], _ANACRON_SHELL, path, None)))
    return jobs


class _CronTables(NamedTuple):
    """The jobs of the crontabs the cron daemon reads for the system and root, and of the anacrontab: read once for
    the whole check."""

    crontab: list[_CronJob]
    anacrontab: list[tuple[str, _CronJob]]


def _cron_tables(host: Host, daemon: str | None, systemd: bool) -> _CronTables:
    """The crontabs' jobs (none without a cron daemon) and the anacrontab's, as the host has them."""
    return _CronTables(_cron_commands(host, daemon, systemd) if daemon else [], _anacron_jobs(host))


def _what_a_line_does(rest: str, daily: str, hourly_starters: Callable[[], list[str]]) -> list[tuple[str, str]]:
    """What a crontab line's commands other than its file tests (``rest``) would do towards running ``daily``, each
    as its kind and the phrase the evidence says it in: run it ("daily"), run a cron.hourly script that starts
    anacron ("hourly", one per script of ``hourly_starters``), start anacron ("anacron")."""
    parts = _RUN_PARTS.findall(rest)
    return [
        *([("daily", f"runs {daily}")] if daily in parts else []),
        *(
            ("hourly", f"runs {hourly}, which starts anacron")
            for hourly in (hourly_starters() if "/etc/cron.hourly" in parts else [])
        ),
        *([("anacron", "starts anacron")] if _STARTS_ANACRON.search(rest) else []),
    ]


def _what_its_commands_do(command: str, daily: str, hourly_starters: Callable[[], list[str]]) -> list[tuple[str, str]]:
    """What a crontab line's commands would do towards running ``daily`` (see _what_a_line_does), whatever its tests
    would say: for a line that never gets to them."""
    return _what_a_line_does(" ; ".join(sh_guards.commands_of(command)), daily, hourly_starters)


def _anacron_runs_daily(
    anacrontab: list[tuple[str, _CronJob]], daily: str, file_test: sh_guards.FileTest, shells: _ShellLookup
) -> tuple[list[str], list[str]]:
    """The anacrontab's jobs read as /bin/sh runs them, as cron's lines are: the identifiers of those whose run-parts
    on ``daily`` runs, and what stops each one that does not."""
    jobs: list[str] = []
    stopped: list[str] = []
    for identifier, job in anacrontab:
        if (stops := _job_daily_stops(job, daily, file_test, shells)) is None:  # anacron's child cannot exec /bin/sh
            if daily in _RUN_PARTS.findall(job.command):
                stopped.append(
                    f"{_ANACRONTAB}'s job {identifier} runs {daily} but {job.shell}, which anacron runs it with, is "
                    "missing or not executable"
                )
            continue
        jobs += [identifier] if None in stops else []
        stopped += [f"{_ANACRONTAB}'s job {identifier} runs {daily} but {stop}" for stop in stops if stop]
    return jobs, stopped


def _anacron_timer_runs(host: Host, systemd: bool) -> bool:
    """Whether Debian's anacron.timer starts anacron here: enabled (or static) and active, under systemd as PID 1."""
    if not systemd:  # its timers never fire
        return False
    return (
        _unit_file_state(host, _ANACRON_TIMER) in {"enabled", "static"}
        and _active_state(host, _ANACRON_TIMER) == "active"
    )


def _hourly_anacron_starters(host: Host, daemon: str | None, finding: Finding, skips: list[str]) -> list[str]:
    """The cron.hourly scripts that start anacron (cronie-anacron's 0anacron) and that run-parts runs; one it skips
    is named in the evidence, and why in ``skips``."""
    starters = [
        hourly
        for hourly in _files_in(host, "/etc/cron.hourly")
        if host.run("test -x %s", hourly).rc == 0 and _STARTS_ANACRON.search(_read(host, hourly) or "")
    ]
    skipped = {hourly: why for hourly in starters if (why := _run_parts_skips(host, hourly, daemon))}
    for hourly, why in skipped.items():
        finding.see(f"run-parts skips {hourly}, which would start anacron: {why}")
        skips.append(f"run-parts skips {posixpath.basename(hourly)}: {why}")
    return [hourly for hourly in starters if hourly not in skipped]


def _what_runs_cron_daily(
    host: Host,
    daily: str,
    daemon: str | None,
    tables: _CronTables,
    systemd: bool,
    shells: _ShellLookup,
    finding: Finding,
) -> tuple[list[tuple[str, bool]], list[str]]:
    """What runs ``daily`` here, each as its chain (for the evidence) and whether it goes through the cron daemon
    (Debian's anacron.timer does not); and, where nothing does, what stops each line or anacrontab job that would. A
    crontab the daemon skips is named in the evidence, and its lines count for nothing."""
    chains: list[tuple[str, bool]] = []
    why_not: list[str] = []
    starts_anacron: list[str] = []

    # The cron.hourly scripts that start anacron, read once if a line runs cron.hourly.
    skipped_starters: list[str] = []  # why run-parts skips a cron.hourly script that would start anacron
    hourly_starters = functools.cache(
        functools.partial(_hourly_anacron_starters, host, daemon, finding, skipped_starters)
    )
    file_test = _file_test_on(host, systemd)
    skipped_files: set[str] = set()
    for file, user, command, shell, _path, skipped in tables.crontab:
        if skipped:
            if file not in skipped_files:
                skipped_files.add(file)
                finding.see(f"{daemon} skips {file}: {skipped}")
            # What the line would do, whatever its tests would say here: the daemon never gets to them.
            if does := _what_its_commands_do(command, daily, hourly_starters):
                # A "which starts anacron" clause closes with a comma before what follows it.
                said = " and ".join(f"{phrase}," if kind == "hourly" else phrase for kind, phrase in does)
                why_not.append(f"{file} {said} but {daemon} skips it: {skipped}")
            continue
        if user != "root":
            # logrotate needs root to rotate the system's logs and write its state; anacron, to keep its own.
            if daily in _RUN_PARTS.findall(command):
                why_not.append(f"{file} runs {daily} as {user}, not root, who alone can rotate the system's logs")
            continue
        if file == _ROOT_CRONTABS.get(daemon or "") and command.split(None, 1)[:1] == ["root"]:
            # A line copied from /etc/crontab: cron hands `root run-parts ...` to the shell, which finds no root.
            why_not.append(f"{file} names the user root, as /etc/crontab does, but root's crontab has no user field")
            continue
        if shells(shell) is None:
            # cron's child cannot exec the shell: nothing of the line runs (a stopped line runs no cron.hourly script).
            for _, phrase in _what_its_commands_do(command, daily, list):
                why_not.append(
                    f"{file} {phrase} but its shell, {shell}, is missing or not executable: cron cannot start it"
                )
            continue
        # The line's commands as its shell runs them, each with the test that stops it here (None when it runs).
        by_stop: dict[str | None, list[str]] = {}
        for ran in sh_guards.commands_run(command, file_test, shells(shell)):
            by_stop.setdefault(ran.stopped, []).append(ran.text)
        for stopped, commands in by_stop.items():
            # A stopped command runs no cron.hourly script: which of them start anacron need not be read for it.
            for kind, phrase in _what_a_line_does(
                " ; ".join(commands), daily, hourly_starters if stopped is None else list
            ):
                if stopped is not None:
                    why_not.append(f"{file} {phrase} but {stopped}")
                elif kind == "daily":
                    chains.append((f"{file} {phrase}", True))
                elif kind == "hourly":
                    starts_anacron.append(f"{file} {phrase}")
                else:
                    starts_anacron.append(file)
    jobs, stopped_jobs = _anacron_runs_daily(tables.anacrontab, daily, file_test, shells)
    if _anacron_timer_runs(host, systemd):
        starts_anacron.append(_ANACRON_TIMER)
    for starter in starts_anacron if jobs else []:
        chains.append((f"{starter}, whose {_ANACRONTAB} job {jobs[0]} runs {daily}", starter != _ANACRON_TIMER))
    if jobs and not starts_anacron:
        why_not.append(
            f"{_ANACRONTAB}'s job {jobs[0]} runs {daily}, but nothing starts anacron"
            + "".join(f": {skip}" for skip in skipped_starters)
        )
    elif starts_anacron and not jobs:
        why_not.append(
            f"anacron is started ({starts_anacron[0]}), and {stopped_jobs[0]}"
            if stopped_jobs
            else f"anacron is started ({starts_anacron[0]}), but {_ANACRONTAB} has no job running {daily}"
        )
    elif not jobs:
        why_not += stopped_jobs
    if not chains and not why_not:
        why_not.append(f"no line of {_crontabs_read(daemon)} runs run-parts on {daily}, nor any job of {_ANACRONTAB}")
    return chains, why_not


def _head_runs_logrotate(host: Host, head: str, shell: sh_guards.Shell | None, systemd: bool) -> bool:
    """Whether the readable ``head`` of a cron.daily script runs a command seen to be logrotate, systemd PID 1 or
    not."""
    ran = sh_guards.commands_run(head, _file_test_on(host, systemd), shell)
    return any(command.stopped is None and _RUNS_LOGROTATE.search(command.text) for command in ran)


def _exits_early(host: Host, script: str, head: str, shell: sh_guards.Shell | None, systemd: bool) -> bool:
    """Whether the cron.daily ``script``, systemd PID 1 or not, reaches an `exit` in its readable ``head`` before
    the rest of it runs."""
    return bool(head) and sh_guards.exits_early(head, _file_test_on(host, systemd), shell, whole=head == script)


def _never_runs_logrotate(host: Host, script: str, shell: sh_guards.Shell | None) -> bool:
    """Whether the cron.daily ``script`` exits before running logrotate with systemd PID 1 and without (`exit 0`
    first, or `[ -x /usr/sbin/logrotate ] || exit 0` where there is none): no stepping aside for the timer, it never
    rotates, whatever runs it."""
    head = sh_guards.readable_head(script)
    return not _head_runs_logrotate(host, head, shell, systemd=False) and all(
        _exits_early(host, script, head, shell, systemd) for systemd in (True, False)
    )


def _exits_before_logrotate(
    host: Host, script: str, text: str, shell: sh_guards.Shell | None, systemd: bool, timer: str
) -> str | None:
    """Why the cron.daily ``script`` (``text``), run by ``shell``, runs no logrotate here: it exits before it with
    systemd PID 1 and without (in a shell not known, whose `[[` is taken to succeed, that is not asked: a `[[ -d
    /run/systemd/system ]]` step aside would exit either way), or steps aside for the timer under systemd; None where
    it runs it."""
    known = shell is not None and shell.double_brackets is not None
    if known and _never_runs_logrotate(host, text, shell):
        return f"{script} exits before running logrotate, with or without systemd: cron never runs logrotate"
    if systemd and _steps_aside_for_systemd(host, text, shell):
        return f"{script} exits where systemd is PID 1 (it tests /run/systemd/system): only {timer} runs it"
    return None


def _steps_aside_for_systemd(host: Host, script: str, shell: sh_guards.Shell | None) -> bool:
    """Whether the cron.daily script, read as ``shell`` (the one run-parts runs it with) runs it, leaves logrotate
    alone where systemd is PID 1 and runs it where it is not (Debian's `if [ -d /run/systemd/system ]; then exit 0;
    fi`, not `[ -d /run/systemd/system ] || exit 0`). A script that runs no command seen to be logrotate either way
    (`$LOGROTATE`, or a `[[` dash fails before it) steps aside where, systemd PID 1, it exits before a later command:
    under dash `if [[ ! -d /run/systemd/system ]]; then ...; else exit 0; fi` always does. Of one the grammar cannot
    parse whole, the lines before the statement it cannot parse are read so (sh runs them before it reads further);
    where they say neither, its lines testing /run/systemd/system decide, as before: a `[[` one only where the shell
    has `[[` or is not known (under dash it is a command not found, which fails, so the script goes on)."""
    head = sh_guards.readable_head(script)
    if head and _head_runs_logrotate(host, head, shell, systemd=False):
        return not _head_runs_logrotate(host, head, shell, systemd=True)
    exits = _exits_early(host, script, head, shell, systemd=True)
    if exits or head == script:
        return exits
    double_brackets = shell.double_brackets if shell is not None else None
    lines = [line for line in _lines(script) if not line.lstrip().startswith("#")]
    tests = (test for line in lines for test in _STEPS_ASIDE_FOR_SYSTEMD.finditer(line))
    return any(test.group(1) == "[" or double_brackets is not False for test in tests)


def _basic_regex(text: str) -> re.Pattern[str] | None:
    """``text`` as grep reads a basic regular expression (POSIX BRE): `.` any character, `*` any number of what is
    before it (itself where nothing is), `[...]` a bracket expression, `\\c` the character c, anything else itself;
    None where grep cannot read it (an unmatched `[`, a range out of order, a back-reference), which then matches no
    line. A trailing `\\` escapes the `$` of run-parts' `^name$`: the name then matches the lines starting with it
    and a `$`. GNU's `\\+`, `\\(`, `\\{`... and `[:class:]` are read as their characters: no file name run-parts
    meets holds them."""
    parts: list[str] = []
    index = 0
    while index < len(text):
        character = text[index]
        if character == "\\" and index + 1 == len(text):
            parts += [re.escape("$"), ".*"]  # `^name\$`: a `$`, and no end to the match
            break
        if character == "\\" and text[index + 1] in "123456789":
            return None  # grep: Invalid back reference (no group is read)
        if character == "\\":
            parts.append(re.escape(text[index + 1]))
            index += 2
            continue
        if character == "[":
            # A leading `^` negates, and a `]` right after `[` or `[^` is one of the set; `\\` is itself in a set.
            end = index + 1 + (text[index + 1 : index + 2] == "^")
            end = text.find("]", end + (text[end : end + 1] == "]"))
            if end == -1:
                return None
            body = text[index + 1 : end]
            negated = body.startswith("^")
            parts.append("[" + "^" * negated + re.escape(body[negated:]).replace("\\-", "-") + "]")
            index = end + 1
            continue
        if character == "*" and not parts:  # nothing before it to repeat
            parts.append(re.escape(character))
        elif character == "*":
            parts += [] if parts[-1] == "*" else ["*"]  # `a**` is `a*`
        else:
            parts.append("." if character == "." else re.escape(character))
        index += 1
    try:
        return re.compile("".join(parts))
    except re.error:  # a bracket expression grep refuses too (`[z-a]`: Invalid range end)
        return None


def _run_parts_skips(host: Host, script: str, daemon: str | None) -> str | None:
    """Why the run-parts of the daemon skips ``script`` of the folder it runs, None where it runs it. cronie's
    (crontabs' /usr/bin/run-parts) skips a script whose name matches a line of the folder's jobs.deny, or, where the
    folder has a jobs.allow, no line of it, or a line of its whitelist, a deny list despite its name (`grep -q
    "^name$"` on each, in that order, the name grep's pattern); Debian's reads none of them."""
    # As crontabs 1.11's run-parts reads them (cronie-crond/crontabs run-parts at 9e74f2d, the script Fedora still
    # installs, quoted in systemd-cron/systemd-cron#177). A later revision (0c600f0) reads no whitelist, and the one
    # before --list/--test read no jobs.allow (`[ -r S1/jobs.allow ]`, a typo): the check follows the release.
    if daemon != "crond.service":
        return None
    folder, name = posixpath.split(script)

    # The name is grep's pattern, a basic regular expression: `0yum-daily.cron` is also named by `0yum-dailyXcron`.
    pattern = _basic_regex(name)

    def names_it(listing: str) -> bool | None:
        """Whether a line of the folder's ``listing`` matches the script's name as `grep "^name$"` does; None where the
        folder has none."""
        text = _read(host, f"{folder}/{listing}")
        if text is None:
            return None
        return pattern is not None and any(pattern.fullmatch(line) for line in text.split("\n"))

    if names_it("jobs.deny"):
        return f"{folder}/jobs.deny names it"
    if names_it("jobs.allow") is False:
        return f"{folder}/jobs.allow does not name it"
    if names_it("whitelist"):
        return f"{folder}/whitelist names it (a deny list, whatever its name)"
    return None


def _no_hashbang_shell(
    host: Host, script: str, daemon: str | None, tables: _CronTables, systemd: bool, shells: _ShellLookup
) -> sh_guards.Shell | str | None:
    """The shell the run-parts of the daemon runs ``script``, which has no #! line, with (_NO_HASHBANG_SHELL), or why
    it never starts; None where no cron daemon and nothing else runs it, which the check then says as for any
    script."""
    if (runs_it := _NO_HASHBANG_SHELL.get(daemon or "")) is not None:
        # cronie's run-parts is itself a `#!/bin/bash` script: without that bash it runs nothing of cron.daily.
        return shells(runs_it) or (
            f"{script} has no #! line, so cronie's run-parts runs it with its own {runs_it}, which is missing or not "
            "executable (run-parts itself cannot start): cron never runs logrotate"
        )
    daily = posixpath.dirname(script)
    # Without a cron daemon only Debian's anacron.timer runs cron.daily, through Debian's run-parts; where it does not,
    # Debian's run-parts is no part of it (a RedHat-family host without cronie has none).
    if daemon is None and not (
        _anacron_timer_runs(host, systemd)
        and _anacron_runs_daily(tables.anacrontab, daily, _file_test_on(host, systemd), shells)[0]
    ):
        return None
    return (
        f"{script} has no #! line, so Debian's run-parts cannot exec it (Exec format error): cron never runs logrotate"
    )


def _script_shell(
    host: Host, script: str, text: str, daemon: str | None, tables: _CronTables, systemd: bool, shells: _ShellLookup
) -> sh_guards.Shell | str | None:
    """The shell run-parts runs the cron.daily ``script`` (``text``) with, the one of its #! line (without one, that
    of the daemon's run-parts, _NO_HASHBANG_SHELL), or why the script never starts."""
    interpreter = _interpreter(text)
    if interpreter is None:
        return _no_hashbang_shell(host, script, daemon, tables, systemd, shells)
    if shells(interpreter) is None:  # the kernel cannot start the script
        return f"{script}'s #! line names {interpreter}, which is missing or not executable: cron never runs logrotate"
    if (name := _env_runs(text)) is None:
        return shells(interpreter)
    # `#!/usr/bin/env bash`: env runs the bash it finds on the PATH run-parts was started with.
    path = _run_parts_path(host, posixpath.dirname(script), tables, systemd, shells)
    found = _found_on_path(name, path, shells)
    if found is None:  # env fails (status 127), and the script with it
        return (
            f"{script}'s #! line runs {name} through {interpreter}, and no {name} is on the PATH run-parts runs it "
            f"with ({path}): cron never runs logrotate"
        )
    return found


def _script_left_out(host: Host, script: str, daemon: str | None) -> str | None:
    """Why run-parts never runs the cron.daily ``script``, whatever runs its folder: missing or not executable, or
    skipped by the daemon's run-parts (_run_parts_skips); None where it is not left out."""
    if host.run("test -f %s -a -x %s", script, script).rc != 0:
        return f"{script} is missing or not executable: cron never runs logrotate"
    skipped = _run_parts_skips(host, script, daemon)
    return f"run-parts skips {script}: {skipped}, so cron never runs logrotate" if skipped else None


def _cron_runs_logrotate(host: Host, args: dict[str, Any], systemd: bool, finding: Finding) -> list[str]:
    """Why cron does not run ``cron_script`` here (none when it does, the chain that runs it in the evidence):
    the script executable (and not one that steps aside under systemd, where systemd is PID 1), something running
    its folder, and the first of ``cron_units`` the host has enabled and running where that goes through cron."""
    script = args["cron_script"]
    daily = posixpath.dirname(script)
    units = [(unit, state) for unit in args["cron_units"] if (state := _unit_file_state(host, unit)) is not None]
    daemon = units[0][0] if units else None
    if left_out := _script_left_out(host, script, daemon):
        return [left_out]
    text = _read(host, script) or ""
    # Each shell is looked up once for the whole check: the script's and the crontabs' are mostly the same /bin/sh.
    shells = functools.cache(functools.partial(_shell_on, host))
    tables = _cron_tables(host, daemon, systemd)  # read only for a script run-parts would run
    shell = _script_shell(host, script, text, daemon, tables, systemd, shells)
    if isinstance(shell, str):
        return [shell]
    if exits := _exits_before_logrotate(host, script, text, shell, systemd, args["timer"]):
        return [exits]
    chains, why_not = _what_runs_cron_daily(host, daily, daemon, tables, systemd, shells, finding)
    for chain, _ in chains:
        finding.see(f"cron runs {script}: {chain}")
    if any(not through_cron for _, through_cron in chains):
        return []
    if not units:
        return [f"no cron daemon ({', '.join(args['cron_units'])}) is installed: nothing runs {script}"]
    problems = []
    for unit, state in units[:1]:
        daemon = unit.removesuffix(".service")
        running = (
            _active_state(host, unit)
            if systemd
            else ("running" if host.run("pgrep -x -- %s", daemon).rc == 0 else "not running")
        )
        finding.see(f"{unit}: {state}, {running}")
        if state != "enabled":
            problems.append(f"{unit} is {state}: nothing runs {script} after the next boot")
        if running not in {"active", "running"}:
            problems.append(f"{unit} is {running}: nothing runs {script}")
    if not chains:
        problems.append(f"nothing runs {daily}, so cron never runs {script}: {'; '.join(why_not)}")
    return problems


def logrotate_scheduled(host: Host, args: dict[str, Any]) -> Finding:
    """logrotate runs: its systemd ``timer`` enabled and active (where systemd is PID 1), or cron running
    ``cron_script`` daily (see _cron_runs_logrotate), the RedHat family's traditional way, kept on many of its hosts
    with the timer disabled. A host without systemd as PID 1 is judged by cron alone: its timers never fire."""
    finding = Finding()
    timer = args["timer"]
    systemd = host.run("test -d /run/systemd/system").rc == 0  # sd_booted(): systemd is PID 1
    timer_state = _unit_file_state(host, timer) if systemd else None
    timer_problem = None
    if timer_state is not None:
        active = _active_state(host, timer)
        finding.see(f"{timer}: {timer_state}, {active}")
        if timer_state not in {"enabled", "static"}:
            timer_problem = f"{timer} is {timer_state}: logrotate never runs, so no log is rotated or aged out"
        elif active != "active":
            timer_problem = f"{timer} is {active or 'not active'}: logrotate does not run until it is started"
        else:
            finding.see(f"{timer} runs logrotate")
            return finding
    else:
        finding.see(f"no {timer}" if systemd else f"systemd is not PID 1: {timer} never fires")
    cron_problems = _cron_runs_logrotate(host, args, systemd, finding)
    if cron_problems and timer_problem:
        finding.fail(timer_problem)
    for problem in cron_problems:
        finding.fail(problem if timer_problem is None else f"nor does cron run it: {problem}")
    return finding


def _sudo_list(host: Host, account: str) -> list[str]:
    """The commands `sudo -l -U` grants an account, one rule per item."""
    out = _run(host, "sudo -l -U %s", account, ok=(0, 1))
    rules, inside = [], False
    for line in _lines(out):
        if re.match(r"^User \S+ may run the following commands", line):
            inside = True
            continue
        if inside and line.strip():
            rules.append(line.strip())
    return rules


def _group_members(host: Host, group: str) -> list[str] | None:
    """The accounts in the group: those its entry lists and those whose primary group it is (the group's rights are
    theirs as well, and `getent group` does not list them); None when there is no such group."""
    result = host.run("getent group %s", group)
    if result.rc != 0:
        return None
    _name, _password, gid, members = [*_text(result).strip().split(":"), "", "", ""][:4]
    listed = [m for m in members.split(",") if m]
    users = (line.split(":") for line in _lines(_run(host, "getent passwd")))
    primary = [fields[0] for fields in users if len(fields) >= 4 and fields[3] == gid and fields[0] not in listed]
    return listed + primary


def sudo_separation(host: Host, args: dict[str, Any]) -> Finding:
    """三权分立: three role groups with their accounts, disjoint, none with ALL, auditor read-only."""
    finding = Finding()
    seen: dict[str, str] = {}
    allowed: dict[str, list[str]] = args.get("allowed", {})
    for role, spec in args["roles"].items():
        group, accounts = spec["group"], spec["accounts"]
        members = _group_members(host, group)
        if members is None:
            finding.fail(f"{role}: group {group} does not exist")
            continue
        finding.see(f"{role}: group {group} members {', '.join(members) or 'none'}")
        for account in accounts:
            if account not in members:
                finding.fail(f"{role}: account {account} is not in group {group}")
            if account in seen and seen[account] != role:
                finding.fail(f"account {account} holds two roles: {seen[account]} and {role}")
            seen[account] = role
            _role_sudo_rights(host, role, account, args["audit_tool"], finding)
            _probe_sudo(host, role, account, allowed.get(role, []), True, finding)
            # Another role's work is refused too, whatever path (a primary group, a rule for the account) grants it.
            others = [c for r, cs in allowed.items() if r != role for c in cs if c not in allowed.get(role, [])]
            _probe_sudo(host, role, account, [*args.get("denied", {}).get(role, []), *others], False, finding)
    for account in sorted(seen):
        roles = [r for r, s in args["roles"].items() if account in (_group_members(host, s["group"]) or [])]
        if len(roles) > 1:
            finding.fail(f"account {account} is in the groups of {', '.join(roles)}")
    _audit_query_tool(host, args["audit_tool"], list(args["audit_commands"]), finding)
    return finding


# What may stand before a command of a `sudo -l` rule: a Runas list, then tags (NOPASSWD:, NOEXEC:, SETENV: ...).
_SUDO_COMMAND_PREFIX = re.compile(r"^\s*(?:\([^)]*\)\s*)?(?:[A-Z_]+:\s*)*")


def _sudo_rule_commands(rule: str) -> list[str]:
    """The commands of one `sudo -l` rule: its list split on the commas that separate commands (a command's own
    comma is escaped), each without the Runas list and tags before it. Every command counts, not only those after
    the last tag (`NOPASSWD: /usr/bin/journalctl, NOEXEC: /usr/sbin/aureport` grants journalctl too)."""
    entries = (_SUDO_COMMAND_PREFIX.sub("", entry, count=1).strip() for entry in re.split(r"(?<!\\),", rule))
    return [entry for entry in entries if entry]


def _role_sudo_rights(host: Host, role: str, account: str, audit_tool: str, finding: Finding) -> None:
    """No role account may run ALL; the audit admin only the audit query tool (with any arguments: the tool checks
    them). ausearch, aureport, last or lastb granted themselves take `--checkpoint FILE` (written as root) or
    `-if FILE`/`-f FILE` (any file read as root), whatever NOEXEC says."""
    if host.run("id -u %s", account).rc != 0:
        finding.fail(f"{role}: account {account} does not exist")
        return
    rules = _sudo_list(host, account)
    finding.see(f"sudo -l -U {account}: {'; '.join(rules) or 'no commands'}")
    for rule in rules:
        listed = _sudo_rule_commands(rule)
        if "ALL" in listed:
            finding.fail(f"{account} ({role}) may run ALL commands: {rule}")
        if role == "auditadmin":
            for command in listed:
                if command.split()[0] != audit_tool:
                    finding.fail(f"audit admin {account} may run {command}, not only {audit_tool}")


def _audit_query_tool(host: Host, path: str, audit_commands: list[str], finding: Finding) -> None:
    """The audit admin's query tool is root's (owner and group root, no write bit for anyone else) and holds what the
    role writes for the city's audit commands: any other text is a root shell for whoever changed it, or lets the
    audit admin past the options it refuses."""
    expected = audit_query_tool_text(audit_commands)
    if expected is None:
        raise CommandFailedError(f"the baseline role is not installed with dizuo: cannot tell what {path} should hold")
    stat = host.run("stat -c '%%a %%U %%G' -- %s", path)
    if stat.rc != 0:
        finding.fail(f"{path} (the audit admin's query tool) does not exist")
        return
    mode, owner, group = _text(stat).split()
    summed = _run(host, "sha256sum -- %s", path).split()[0]
    wanted = hashlib.sha256(expected.encode("utf-8")).hexdigest()
    finding.see(f"{path}: {int(mode, 8):04o} {owner}:{group} sha256 {summed}")
    if int(mode, 8) & ~0o755 & 0o7777:
        finding.fail(f"{path} has mode {int(mode, 8):04o}, more than 0755")
    if (owner, group) != ("root", "root"):
        finding.fail(f"{path} is owned by {owner}:{group}, not root:root")
    if summed != wanted:
        finding.fail(
            f"{path} is not what the role writes for audit_admin_commands {', '.join(audit_commands)} (sha256 "
            f"{summed}, expected {wanted}): run `dizuo harden -i <declaration> --controls DZ-AC-03`"
        )


def _sudo_allows(host: Host, account: str, command: str) -> bool:
    """Whether sudo would run `command` for `account` (`sudo -l -U account command`: 0 yes, 1 no)."""
    words = shlex.split(command)
    result = host.run("sudo -n -l -U %s -- " + " ".join(["%s"] * len(words)), account, *words)
    if result.rc not in (0, 1):
        raise CommandFailedError(
            f"`sudo -l -U {account} {command}` exited {result.rc}: {_text(result, 'stderr').strip()[:200]}"
        )
    return bool(result.rc == 0)


def _probe_sudo(host: Host, role: str, account: str, commands: list[str], expected: bool, finding: Finding) -> None:
    """Each command must be allowed (the role can do its job) or refused (no way to root or another role)."""
    for command in commands:
        allowed = _sudo_allows(host, account, command)
        finding.see(f"sudo -l -U {account} {command}: {'allowed' if allowed else 'refused'}")
        if allowed != expected:
            what = "may run" if allowed else "cannot run"
            finding.fail(f"{account} ({role}) {what} `{command}`")


# `@include file`, `#include file`, `@includedir dir`, `#includedir dir` (sudoers(5)); `#include` is no comment. The
# path may be double-quoted or have backslash-escaped blanks.
_SUDOERS_INCLUDE = re.compile(r'^[@#]include(dir)?\s+("(?:[^"\\]|\\.)*"|(?:[^\s\\]|\\.)+)\s*$')
# sudoers(5): "#" starts a comment unless it is part of an include, or it stands where a user name goes and is
# followed by digits: then it is a UID (`#1001 ALL=(ALL) ALL` grants root to UID 1001).
_SUDOERS_UID = re.compile(r"^!*#\d")
# A rule's user list: names joined by commas (blanks around a comma allowed), up to the blank before the host list.
_SUDOERS_USER_LIST = re.compile(r"^[^\s,]+(?:\s*,\s*[^\s,]+)*")


def _include_path(host: Host, including: str, written: str, *, directory: bool) -> str:
    """The file or folder an include line names, as sudo resolves it: quotes and backslash escapes removed, ``%h``
    the host's short name (in @include only: sudo does not expand it in @includedir), ``%%`` a literal %, relative to
    the including file's folder."""
    quoted = written.startswith('"') and written.endswith('"') and len(written) >= 2
    path = re.sub(r"\\(.)", r"\1", written[1:-1] if quoted else written)
    if not directory and "%" in path:
        short = _run(host, "uname -n").strip().split(".", 1)[0]
        path = re.sub(r"%([%h])", lambda m: short if m.group(1) == "h" else "%", path)
    return str(Path(including).parent / path)  # an absolute path stays as it is


def _sudoers_lines(
    host: Host, finding: Finding, path: str = "/etc/sudoers", depth: int = 0, included_by: str = ""
) -> Iterator[tuple[str, str]]:
    """(file, line) of every rule sudo reads, following includes as sudo does; a relative include is relative to
    the including file's folder, and an included folder skips names with a dot or ending in ~. An included file that
    does not exist fails the finding: sudo complains of it on every run, and the audit cannot see what it grants."""
    text = _read(host, path)
    if text is None and included_by:
        finding.fail(f"{included_by} includes {path}, which does not exist")
    if text is None or depth > 8:
        return
    for raw in _lines(text.replace("\\\n", " ")):
        line = raw.strip()
        included = _SUDOERS_INCLUDE.match(line)
        if included:
            target = _include_path(host, path, included.group(2), directory=bool(included.group(1)))
            if included.group(1):
                for found in (p for p in _files_in(host, target) if "." not in Path(p).name and not p.endswith("~")):
                    yield from _sudoers_lines(host, finding, found, depth + 1)
            else:
                yield from _sudoers_lines(host, finding, target, depth + 1, f"{path} ({line})")
            continue
        yield path, line


def _uid_names(host: Host, uid: str) -> list[str]:
    return [entry[0] for entry in _passwd(host) if entry[2] == uid]


def _gid_name(host: Host, gid: str) -> str | None:
    result = host.run("getent group %s", gid)
    return _text(result).split(":", 1)[0] if result.rc == 0 else None


def _sudoers_principal_allowed(host: Host, principal: str, users: set[str], groups: set[str]) -> bool:
    """Whether a principal of a user list is one of the allowed users or groups; ``#uid`` and ``%#gid`` count as the
    account or group with that number."""
    if principal.startswith("%#"):
        name = _gid_name(host, principal[2:])
        return name is not None and name in groups
    if principal.startswith("%"):
        return principal[1:] in groups
    if principal.startswith("#"):
        owners = _uid_names(host, principal[1:])
        return bool(owners) and all(owner in users for owner in owners)
    return principal in users


def sudo_principals(host: Host, args: dict[str, Any]) -> Finding:
    """Sudoers user specs name only allowed users and groups; the admin group holds only allowed users."""
    finding = Finding()
    users, groups = set(args["users"]), set(args["groups"])
    for path, line in _sudoers_lines(host, finding):
        comment = line.startswith("#") and not _SUDOERS_UID.match(line)
        if not line or comment or line.startswith("Defaults") or re.match(r"^\w+_Alias\s", line):
            continue
        listed = _SUDOERS_USER_LIST.match(line)
        principals = re.split(r"\s*,\s*", listed.group(0)) if listed else [line]
        finding.see(f"{path}: {line}")
        for principal in principals:
            if not _sudoers_principal_allowed(host, principal, users, groups):
                finding.fail(f"{path}: sudo rule for {principal} ({line})")
    for group in ("sudo", "wheel"):
        members = _group_members(host, group)
        if members is None:
            continue
        finding.see(f"group {group}: {', '.join(members) or 'no members'}")
        for member in members:
            if member not in users:
                finding.fail(f"{member} is in the admin group {group}")
    return finding


def file_modes(host: Host, args: dict[str, Any]) -> Finding:
    """Files exist with no permission bits beyond the mode and the right owner."""
    finding = Finding()
    for item in args["files"]:
        path, mode = item["path"], int(str(item["mode"]), 8)
        result = host.run("stat -c '%%a %%U %%G' -- %s", path)
        if result.rc != 0:
            if not item.get("optional", False):
                finding.fail(f"{path} does not exist")
            continue
        actual, owner, group = _text(result).split()
        finding.see(f"{path}: {int(actual, 8):04o} {owner}:{group}")
        if int(actual, 8) & ~mode & 0o7777:
            finding.fail(f"{path} has mode {int(actual, 8):04o}, more than {mode:04o}")
        if owner != item["owner"]:
            finding.fail(f"{path} is owned by {owner}, expected {item['owner']}")
        if item.get("group") and group != item["group"]:
            finding.fail(f"{path} has group {group}, expected {item['group']}")
    return finding


IPV6 = "net.ipv6."
IPV6_ALL = "net.ipv6.conf.all."
# Where a kernel with IPv6 keeps its settings: absent under ipv6.disable=1 or without IPv6 built in.
IPV6_PROC = "/proc/sys/net/ipv6"


def _ipv6_interfaces(host: Host) -> list[str]:
    """The network interfaces IPv6 keeps settings for (/proc/sys/net/ipv6/conf), lo aside; none without IPv6."""
    listed = host.run("ls -1 -- /proc/sys/net/ipv6/conf")
    if listed.rc != 0:
        return []
    return sorted(name for name in _text(listed).split() if name not in {"all", "default", "lo"})


def sysctl(host: Host, args: dict[str, Any]) -> Finding:
    """Each kernel parameter reads back with the value. IPv6 applies a net.ipv6.conf.all key (accept_ra,
    accept_redirects) to no interface, each reads its own, and `default` seeds only interfaces created later: the
    value of such a key is also required of every interface that exists, lo aside. A kernel without IPv6 (booted
    with ipv6.disable=1, or built without it: no /proc/sys/net/ipv6) takes no IPv6 packet, so its net.ipv6 keys do
    not apply; the evidence says so. One with IPv6 only switched off (disable_ipv6) keeps them, and is judged."""
    finding = Finding()
    values: dict[str, tuple[str, object]] = {}
    wanted = dict(args["values"])
    ipv6_keys = [key for key in wanted if key.startswith(IPV6)]
    if ipv6_keys and host.run("test -e %s", IPV6_PROC).rc == 1:
        finding.see(f"{', '.join(ipv6_keys)}: not applicable, this kernel has no IPv6 ({IPV6_PROC} does not exist)")
        wanted = {key: value for key, value in wanted.items() if key not in ipv6_keys}
    interfaces = _ipv6_interfaces(host) if any(key.startswith(IPV6_ALL) for key in wanted) else []
    for key, expected in wanted.items():
        values[key] = ("/proc/sys/" + key.replace(".", "/"), expected)
        if key.startswith(IPV6_ALL):
            name = key.removeprefix(IPV6_ALL)
            for interface in interfaces:
                # A dot in an interface name (a VLAN) is written '/' in a key, as sysctl(8) prints it.
                shown = f"net.ipv6.conf.{interface.replace('.', '/')}.{name}"
                values[shown] = (f"/proc/sys/net/ipv6/conf/{interface}/{name}", expected)
    for key, (path, expected) in values.items():
        text = _read(host, path)
        if text is None:
            finding.fail(f"{key} does not exist on this kernel")
            continue
        value = " ".join(text.split())
        finding.see(f"{key} = {value}")
        if value != " ".join(str(expected).split()):
            finding.fail(f"{key} is {value}, expected {expected}")
    return finding


def audit_rules_loaded(host: Host, args: dict[str, Any]) -> Finding:
    """`auditctl -l` lists a rule for each key; with ``immutable``, `auditctl -s` reports them locked (enabled 2)."""
    finding = Finding()
    out = _run(host, "auditctl -l")
    finding.see(f"auditctl -l: {len(_lines(out))} rules")
    for key in args["keys"]:
        rules = [line for line in _lines(out) if re.search(rf"(-k |key=){re.escape(key)}\b", line)]
        if rules:
            finding.see(f"{key}: {rules[0]}")
        else:
            finding.fail(f"no loaded audit rule has key {key}")
    if args.get("immutable"):
        status = dict(line.partition(" ")[::2] for line in _lines(_run(host, "auditctl -s")))
        enabled = status.get("enabled", "?").strip()
        finding.see(f"auditctl -s: enabled {enabled}")
        if enabled != "2":
            finding.fail(f"the loaded rules are not locked (enabled {enabled}, expected 2): root could change them")
    return finding


def kernel_cmdline(host: Host, args: dict[str, Any]) -> Finding:
    """The running kernel's command line has each expected parameter (the last of a repeated one wins)."""
    finding = Finding()
    text = _read_required(host, "/proc/cmdline", finding)
    if text is None:
        return finding
    finding.see(f"/proc/cmdline: {text.strip()}")
    words = text.split()
    # What follows a lone "--" is for init, not the kernel.
    kernel_words = words[: words.index("--")] if "--" in words else words
    given = dict(word.partition("=")[::2] for word in kernel_words)
    for item in args["expect"]:
        key, op, expected = item["key"], item["op"], item["value"]
        if key not in given:
            finding.fail(f"the kernel command line has no {key} (expected {OP_TEXT[op]} {expected})")
        elif not _compare(given[key], op, expected):
            finding.fail(f"the kernel command line has {key}={given[key]}, expected {OP_TEXT[op]} {expected}")
    return finding


def _logrotate_blocks(text: str) -> tuple[dict[str, str], list[tuple[list[str], dict[str, str]]]]:
    """Top-level directives and (paths, directives) of each block of a logrotate file."""
    top: dict[str, str] = {}
    blocks: list[tuple[list[str], dict[str, str]]] = []
    current: dict[str, str] | None = None
    paths: list[str] = []
    pending: list[str] = []
    in_script = False
    for raw in _lines(text):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if in_script:
            in_script = line != "endscript"
            continue
        if line.endswith("{"):
            # The paths of a block may stand on the lines before its brace.
            paths, current = [*pending, *line[:-1].split()], {}
            pending = []
            continue
        if line == "}":
            if current is not None:
                blocks.append((paths, current))
            current = None
            continue
        if current is None and line.startswith("/"):
            pending += line.split()
            continue
        word, _, value = line.partition(" ")
        if word in {"postrotate", "prerotate", "firstaction", "lastaction", "preremove"}:
            in_script = True
            continue
        target = current if current is not None else top
        if word in LOGROTATE_PERIOD_DAYS or word == "size":
            # logrotate keeps one rotation criterion: the last of `size` and the periods written wins
            # (logrotate(8), size), in a block over the defaults too. `period` holds it: "size" when by size.
            target["period"] = word
        if word not in LOGROTATE_PERIOD_DAYS:
            target[word] = value.strip()
    return top, blocks


def _logrotate_by_size(settings: dict[str, str]) -> str | None:
    """Why a block's rotations follow the log's size rather than its period (None when they follow the period):
    `size` written after the period replaces it, and `maxsize` rotates before the period whenever the log outgrows
    it (logrotate(8)). `minsize` only holds a rotation back, so the period still bounds it from below. With no period
    and no size written (in the block or logrotate.conf), logrotate rotates by size, 1 MiB (`logrotate -d`: "1048576
    bytes"), on every run: hourly where cron.hourly runs it (openEuler, Kylin), not daily."""
    if "period" not in settings:
        return "no period is written (in the block or /etc/logrotate.conf), so logrotate rotates at its default size 1M"
    if settings.get("period") == "size":
        return f"size {settings.get('size', '')} replaces the period"
    if "maxsize" in settings:
        return f"maxsize {settings['maxsize']} rotates before the {settings.get('period', 'daily')} period"
    return None


# Files logrotate's `include` of a directory skips (its default tabooext and taboopat).
_LOGROTATE_SKIPPED = re.compile(r"(\.rpmorig|\.rpmsave|,v|\.swp|\.rpmnew|~|\.cfsaved|\.disabled|\.dpkg-[a-z]+)$|^\.")


def logrotate_retention(host: Host, args: dict[str, Any]) -> Finding:
    """Every block covering one of the logs keeps at least min_days (rotate × period, maxage; a block rotated by
    size keeps no number of days unless no count deletes its files: rotate -1, with maxage). ``path`` is a file,
    or a directory logrotate includes (every file in it is read, as logrotate does): a log two blocks name is a
    failure, since logrotate refuses the later block (a "duplicate log entry") and the service fails every day."""
    finding = Finding()
    path, min_days = args["path"], int(args["min_days"])
    files = [path]
    if host.file(path).is_directory:
        files = [p for p in _files_in(host, path) if not _LOGROTATE_SKIPPED.search(Path(p).name)]
    defaults, _ = _logrotate_blocks(_read(host, "/etc/logrotate.conf") or "")
    blocks = []
    for file in files:
        text = _read_required(host, file, finding)
        if text is not None:
            blocks += [(file, paths, directives) for paths, directives in _logrotate_blocks(text)[1]]
    named_in: dict[str, list[str]] = {}
    for file, paths, _directives in blocks:
        for pattern in paths:
            named_in.setdefault(pattern, []).append(file)
    for pattern, where in sorted(named_in.items()):
        if len(where) > 1 and any(fnmatch.fnmatch(log, pattern) for log in args["logs"]):
            finding.fail(f"{pattern} is rotated by {' and '.join(where)}: logrotate skips the second (duplicate entry)")
    covered = False
    for file, paths, directives in blocks:
        if not any(fnmatch.fnmatch(log, pattern) for log in args["logs"] for pattern in paths):
            continue
        covered = True
        settings = {**defaults, **directives}
        block = f"{file}: {' '.join(paths)}"
        period = settings.get("period", "daily")
        try:
            rotate = int(settings.get("rotate", "0"))
            maxage = int(settings["maxage"]) if "maxage" in settings else None
        except ValueError:
            finding.fail(
                f"{block}: rotate {settings.get('rotate')!r} or maxage {settings.get('maxage')!r} is no number"
            )
            continue
        kept = ("rotate -1 (none deleted by count)" if rotate < 0 else f"rotate {rotate}") + (
            f", maxage {maxage}" if maxage is not None else ""
        )
        by_size = _logrotate_by_size(settings)
        if by_size:
            # Rotated whenever the log outgrows a size, so `rotate` files span as few days as the log takes to fill
            # them: no number of days follows from the count. Only old files no count deletes stay for maxage.
            finding.see(f"{block}: {by_size}, {kept} → rotate × period is no number of days; only maxage counts")
            if rotate >= 0:
                finding.fail(
                    f"{block} is rotated by size ({by_size}) and keeps {rotate} rotated files whatever their age: "
                    f"no number of days, need {min_days} (rotate by time alone, or rotate -1 with maxage {min_days})"
                )
        else:
            days = float("inf") if rotate < 0 else rotate * LOGROTATE_PERIOD_DAYS[period]
            finding.see(f"{block}: {period}, {kept} → {days:g} days")
            if days < min_days:
                finding.fail(f"{block} keeps {days:g} days ({period} × rotate {rotate}), need {min_days}")
        if maxage is not None and maxage < min_days:
            finding.fail(f"{block} deletes logs after maxage {maxage} days, need {min_days}")
    if not covered:
        finding.fail(f"{args['path']}: no block rotates any of {', '.join(args['logs'])}")
    return finding


def file_fresh(host: Host, args: dict[str, Any]) -> Finding:
    """The newest file matching the glob exists and is young enough."""
    finding = Finding()
    pattern, max_age = args["path"], args.get("max_age_hours")
    if not SAFE_GLOB.match(pattern):
        raise CommandFailedError(f"unsafe path pattern {pattern!r}")
    out = _run(host, f"date +%s; stat -c '%Y %s %n' -- {pattern} 2>/dev/null || true")
    now, *lines = _lines(out)
    files = sorted(((int(m), int(s), n) for m, s, n in (line.split(" ", 2) for line in lines if line)), reverse=True)
    if not files:
        finding.fail(f"no file matches {pattern}")
        return finding
    mtime, size, name = files[0]
    hours = (int(now) - mtime) / SECONDS_PER_HOUR
    finding.see(f"newest {name}: {size} bytes, {hours:.1f} h old ({len(files)} matching)")
    if max_age is not None and hours > int(max_age):
        finding.fail(f"{name} is {hours:.1f} h old, more than {max_age} h")
    return finding


# The body runs to the first ")" outside a quoted value.
_RSYSLOG_ACTION = re.compile(r"\baction\s*\(((?:[^)\"]|\"[^\"]*\")*)\)", re.IGNORECASE)
_RSYSLOG_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_RSYSLOG_PARAMETER = re.compile(r"([\w.]+)\s*=\s*\"([^\"]*)\"")
# Auth modes that check who the peer is; "anon" and "x509/certvalid" accept any certificate, so anyone on the path
# could pose as the log host.
_PEER_CHECKING_AUTH_MODES = {"x509/name", "x509/fingerprint"}


def log_forwarding(host: Host, args: dict[str, Any]) -> Finding:
    """An rsyslog omfwd action in ``path`` sends to ``server``:``port`` over TCP; with ``tls``, through a TLS
    stream driver that checks the log host's certificate against a CA file that exists."""
    finding = Finding()
    path, server, port = args["path"], str(args["server"]), str(args["port"])
    text = _read_required(host, path, finding)
    if text is None:
        return finding
    uncommented = _RSYSLOG_BLOCK_COMMENT.sub("", text)  # RainerScript has /* */ comments besides "#" lines
    live = "\n".join(line for line in _lines(uncommented) if not line.lstrip().startswith("#"))

    def parameters(body: str) -> dict[str, str]:
        return {key.lower(): value for key, value in _RSYSLOG_PARAMETER.findall(body)}  # names ignore case

    actions = [parameters(body) for body in _RSYSLOG_ACTION.findall(live)]
    forwarding = [a for a in actions if a.get("type") == "omfwd" and a.get("target") == server]
    if not forwarding:
        finding.fail(f"{path}: no omfwd action sends to {server or '(no log server known)'}")
        return finding
    action = forwarding[0]
    protocol = action.get("protocol", "udp")  # rsyslog's default
    finding.see(f"{path}: forwards to {server}:{action.get('port', '514')} over {protocol}")
    if action.get("port", "514") != port:
        finding.fail(f"{path}: forwards to port {action.get('port', '514')}, not {port}")
    if protocol.lower() != "tcp":
        finding.fail(f"{path}: forwards over {protocol}; only TCP queues and retries while the log host is away")
    if not args.get("tls"):
        return finding
    driver, mode = action.get("streamdriver", "ptcp"), action.get("streamdrivermode", "0")
    auth = action.get("streamdriverauthmode", "anon").lower()
    ca_file = action.get("streamdriver.cafile") or parameters(live).get("defaultnetstreamdrivercafile")
    finding.see(f"{path}: stream driver {driver}, mode {mode}, auth {auth}, CA {ca_file or 'none'}")
    if driver.lower() not in {"gtls", "ossl"} or mode != "1":
        finding.fail(f"{path}: not encrypted (stream driver {driver}, mode {mode}); TLS needs gtls/ossl in mode 1")
    if auth not in _PEER_CHECKING_AUTH_MODES:
        finding.fail(f"{path}: auth mode {auth} does not check the log host's identity (use x509/name)")
    if not ca_file:
        finding.fail(f"{path}: no CA file to check the log host's certificate against")
    elif host.run("test -r %s", ca_file).rc != 0:
        finding.fail(f"{path}: CA file {ca_file} does not exist")
    return finding


def time_synchronised(host: Host, args: dict[str, Any]) -> Finding:
    """chronyd is synchronised, and only to the declared time sources (see CheckKind.TIME_SYNCHRONISED)."""
    finding = Finding()
    declared = {item for entry in args["sources"] for item in (entry if isinstance(entry, list) else [entry]) if item}
    if not declared:
        finding.fail("no time server is known: put a host in group `ntp` or set the baseline's ntp_servers")
    tracking = host.run("chronyc -n tracking")
    if tracking.rc != 0:
        finding.fail(
            f"chronyd does not answer (`chronyc tracking`: {(_text(tracking, 'stderr') or _text(tracking)).strip()})"
        )
        return finding
    lines = (line.partition(":") for line in _lines(_text(tracking)))
    fields = {key.strip(): value.strip() for key, _, value in lines}
    leap = fields.get("Leap status", "unknown")
    finding.see(
        f"tracking: reference {fields.get('Reference ID', '?')}, stratum {fields.get('Stratum', '?')}, "
        f"system time {fields.get('System time', '?')}, leap status {leap}"
    )
    if leap not in {"Normal", "Insert second", "Delete second"}:
        finding.fail(f"the clock is not synchronised (leap status {leap}): check that the time servers answer")
    # chronyc -n shows addresses; a source declared by name counts as the addresses it resolves to on the host.
    for name in sorted(declared):
        if not re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", name):
            resolved = host.run("getent ahosts %s", name)
            declared |= {line.split()[0] for line in _lines(_text(resolved)) if line.split()}
    listing = _run(host, "chronyc -n sources")
    # Rows follow the ==== rule: mode and state characters, then the source's address.
    rows = _lines(listing.split("=\n")[-1]) if "===" in listing else []
    for row in filter(None, rows):
        finding.see(f"source: {_short(row)}")
        address = (row[2:].split() or [row])[0]  # after the mode and state characters
        if address not in declared:
            finding.fail(f"source {address} is not one of the city's time sources ({', '.join(sorted(declared))})")
    return finding


def patch_report(host: Host, args: dict[str, Any]) -> Finding:
    """The pending-updates report (dizuo-patch-status) could list updates: a fresh file from a listing that
    failed (no package manager, broken metadata) says nothing about patches. Its counts are the evidence."""
    finding = Finding()
    report = _read_json_required(host, args["path"], finding)
    if report is None:
        return finding
    finding.see(
        f"checked {report.get('checked_at', '?')}: {report.get('pending', '?')} update(s) pending, "
        f"{report.get('security', '?')} of them security"
    )
    finding.see("pending: " + (", ".join(u.get("package", "?") for u in report.get("updates", [])[:20]) or "none"))
    if report.get("ok") is not True:
        finding.fail(f"the update listing failed: {str(report.get('error', ''))[:200] or 'no reason given'}")
    grace = args.get("security_grace_days")
    checked = _timestamp(report.get("checked_at"))
    if grace is None or checked is None:
        return finding
    for update in report.get("updates", []):
        seen = _timestamp(update.get("first_seen")) or checked  # a report from before first_seen was kept
        waiting = (checked - seen).days
        if update.get("security") and waiting > int(grace):
            finding.fail(
                f"{update.get('package', '?')} {update.get('version', '?')} ({update.get('source', '?')}): a security "
                f"update pending for {waiting} days, more than the {grace} days to test and install it"
            )
    return finding


_FRESHCLAM_SOURCES = ("databasemirror", "privatemirror", "databasecustomurl")


def malware_protection(host: Host, args: dict[str, Any]) -> Finding:
    """Signatures come from the city's mirror alone and are fresh, the last scan ran with them, and nothing it found
    was left in place (see CheckKind.MALWARE_PROTECTION)."""
    finding = Finding()
    mirror, max_age = str(args["mirror"]).rstrip("/"), int(args["max_age_hours"])
    _freshclam_sources(host, args["config"], mirror, finding)
    status = _read_json_required(host, args["path"], finding)
    if status is None:
        return finding
    now = dt.datetime.fromtimestamp(int(_run(host, "date +%s").strip()), dt.UTC)

    def hours_since(value: object) -> float | None:
        moment = _timestamp(value)
        return None if moment is None else (now - moment).total_seconds() / SECONDS_PER_HOUR

    update = status.get("update") or {}
    updated = hours_since(update.get("last_success"))
    finding.see(
        f"signatures last updated {update.get('last_success') or 'never'}"
        + (f" ({updated:.1f} h ago)" if updated is not None else "")
        + ("" if update.get("ok") else f"; the last attempt failed: {update.get('error') or 'no reason given'}")
    )
    if updated is None:
        finding.fail(f"the signatures were never updated from {status.get('mirror') or mirror}")
    elif updated > max_age:
        finding.fail(f"the signatures were last updated {updated:.1f} h ago, more than {max_age} h")
    databases = status.get("databases") or []
    for db in databases:
        finding.see(f"database {db.get('name')}: {db.get('signatures')} signatures, built {db.get('built')}")
    daily = [d for d in databases if str(d.get("name", "")).startswith("daily.")]
    built = hours_since(daily[0].get("built")) if daily else None
    if "daily" in args.get("databases", []) and (built is None or built > max_age):
        shown = f"built {built:.1f} h ago" if built is not None else "built at an unknown time"
        shown = shown if daily else "never fetched"
        finding.fail(f"the daily database was {shown}: the mirror has stopped following ClamAV's releases")
    scan = status.get("scan") or {}
    scanned = hours_since(scan.get("finished"))
    finding.see(
        f"last scan {scan.get('finished') or 'never'}: {scan.get('files')} files in "
        f"{', '.join(scan.get('paths') or []) or 'no path'}, {scan.get('known_signatures')} signatures loaded, "
        f"{scan.get('errors', 0)} file(s) it could not read"
    )
    if scan.get("unaccounted"):
        finding.fail(f"{scan['unaccounted']} find(s) whose names clamscan's output could not carry: look by hand")
    if not scan.get("ok"):
        finding.fail(f"the last scan did not run: {scan.get('error') or 'no reason given'}")
    elif scanned is None or scanned > max_age:
        finding.fail(f"the last scan finished {scanned or 0:.1f} h ago, more than {max_age} h")
    for item in status.get("found") or []:
        where = f"moved to {item['moved_to']}" if item.get("moved_to") else "left in place"
        finding.see(f"found {item.get('path')} ({item.get('signature')}), {where}")
        if not item.get("moved_to"):
            finding.fail(f"{item.get('path')} ({item.get('signature')}) was found and left in place")
    finding.see(f"{status.get('quarantined', 0)} file(s) in quarantine")
    return finding


def _freshclam_sources(host: Host, path: str, mirror: str, finding: Finding) -> None:
    """freshclam's configuration names the city's mirror as its PrivateMirror, and takes signatures from nowhere
    else. freshclam falls back to ClamAV's public servers when no mirror is named, so a missing line fails too."""
    if not mirror:
        finding.fail("no signature mirror is known: set malware_mirror in city.yaml baseline")
    private = []
    for line in _lines(_read_required(host, path, finding) or ""):
        fields = line.split(None, 1)  # freshclam separates a key from its value by any blank
        if len(fields) < 2 or fields[0].lower() not in _FRESHCLAM_SOURCES:
            continue
        key, value = fields[0].lower(), fields[1].strip()
        finding.see(f"{path}: {line.strip()}")
        private += [value] if key == "privatemirror" else []
        inside = bool(mirror) and (value == mirror or value.startswith(mirror + "/"))
        if key == "databasemirror" or not inside:  # DatabaseMirror is ClamAV's public network
            finding.fail(f"{path}: {line.strip()} is not the city's mirror ({mirror or 'none'})")
    if mirror and mirror not in private:
        finding.fail(f"{path}: no PrivateMirror {mirror}, so freshclam would ask ClamAV's public servers")


def _timestamp(value: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def command_succeeds(host: Host, args: dict[str, Any]) -> Finding:
    """The command exits 0."""
    finding = Finding()
    command = shlex.join(str(part) for part in args["command"])
    result = host.run(command)
    output = _lines((_text(result) + _text(result, "stderr")).strip())
    finding.see(f"`{command}` exited {result.rc}{': ' + output[-1] if output else ''}")
    if result.rc != 0:
        finding.fail(f"`{command}` exited {result.rc}")
    return finding


CHECKS: dict[CheckKind, Check] = {
    CheckKind.ACCOUNTS_UNIQUE: accounts_unique,
    CheckKind.NO_EMPTY_PASSWORDS: no_empty_passwords,
    CheckKind.PASSWORD_MAX_AGE: password_max_age,
    CheckKind.ACCOUNTS_LOCKED: accounts_locked,
    CheckKind.CONFIG_VALUES: config_values,
    CheckKind.FILE_CONTAINS: file_contains,
    CheckKind.FILE_EXCLUDES: file_excludes,
    CheckKind.PAM_STACK: pam_stack,
    CheckKind.LOGIN_ENV: login_env,
    CheckKind.SSHD_EFFECTIVE: sshd_effective,
    CheckKind.PACKAGES_ABSENT: packages_absent,
    CheckKind.PORTS_CLOSED: ports_closed,
    CheckKind.LISTENERS_ALLOWED: listeners_allowed,
    CheckKind.SERVICES_DISABLED: services_disabled,
    CheckKind.SERVICE_RUNNING: service_running,
    CheckKind.TIMER_ACTIVE: timer_active,
    CheckKind.LOGROTATE_SCHEDULED: logrotate_scheduled,
    CheckKind.SUDO_SEPARATION: sudo_separation,
    CheckKind.SUDO_PRINCIPALS: sudo_principals,
    CheckKind.FILE_MODES: file_modes,
    CheckKind.SYSCTL: sysctl,
    CheckKind.AUDIT_RULES_LOADED: audit_rules_loaded,
    CheckKind.KERNEL_CMDLINE: kernel_cmdline,
    CheckKind.LOGROTATE_RETENTION: logrotate_retention,
    CheckKind.FILE_FRESH: file_fresh,
    CheckKind.PATCH_REPORT: patch_report,
    CheckKind.LOG_FORWARDING: log_forwarding,
    CheckKind.TIME_SYNCHRONISED: time_synchronised,
    CheckKind.MALWARE_PROTECTION: malware_protection,
    CheckKind.COMMAND_SUCCEEDS: command_succeeds,
}


# ------------------------------------------------------------- pytest plumbing


def container_of(host: Host) -> str | None:
    """The container technology the host runs in (systemd-detect-virt -c), or None on a VM/bare metal."""
    result = host.run("systemd-detect-virt -c")
    name = _text(result).strip()
    return name if result.rc == 0 and name and name != "none" else None


# How the audit reaches a host, by testinfra's backend (from the host's ansible_connection), as an error says it.
REACHED = {"ssh": "over SSH", "paramiko": "over SSH", "local": "locally (ansible_connection local)"}


def _reached_by(host: Host) -> str:
    """The testinfra backend that runs the host's commands: the audit's Ansible backend hands each one to the backend
    of the host's ansible_connection (ssh, local, docker...), or runs it through Ansible itself."""
    backend = host.backend
    if backend.NAME == "ansible":
        inner = backend.ansible_runner.get_host(
            backend.host, ssh_config=backend.ssh_config, ssh_identity_file=backend.ssh_identity_file
        )
        backend = inner.backend if inner is not None else backend
    return str(backend.NAME)


def _probe(host: Host) -> None:
    """Fail fast, with the reason, when commands cannot run on the host as root."""
    backend = _reached_by(host)
    how = REACHED.get(backend, f"through {backend} (ansible_connection)")
    try:
        result = host.run("id -u")
    except RuntimeError as exc:
        # testinfra's ssh backend raises with the CommandResult when ssh itself fails (exit 255).
        said = getattr(exc.args[0], "stderr", str(exc)) if exc.args else str(exc)
        raise CommandFailedError(f"cannot run commands as root {how}: {str(said).strip()}") from None
    if result.rc != 0 or _text(result).strip() != "0":
        said = _lines((_text(result, "stderr") or _text(result)).strip())
        reason = said[-1] if said else "no output"
        raise CommandFailedError(f"cannot run commands as root {how} (exit {result.rc}): {reason}")


def _plan() -> dict[str, Any]:
    path = os.environ.get(PLAN_ENV)
    if not path:
        return {"inventory": "", "items": []}
    plan: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return plan


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per planned (host, control), named ``<host>::<control id>``."""
    if "planned" in metafunc.fixturenames:
        items = _plan()["items"]
        metafunc.parametrize("planned", items, ids=[f"{i['host']}::{i['control']}" for i in items])


# Per host, once per run: the connection, and the container it runs in or the reason it cannot be checked at all.
_hosts: dict[str, Host] = {}
_host_facts: dict[str, tuple[str | None, str | None]] = {}


def _facts(name: str, host: Host) -> tuple[str | None, str | None]:
    if name not in _host_facts:
        try:
            _probe(host)
            _host_facts[name] = (container_of(host), None)
        except Exception as exc:  # An unreachable host is every control's error, reported once per control.
            _host_facts[name] = (None, _reason(exc))
    return _host_facts[name]


def _reason(exc: Exception) -> str:
    """Why a check could not run: our own errors say it in their message; anything else is named by its type."""
    return str(exc) if isinstance(exc, CommandFailedError) else f"{type(exc).__name__}: {exc}"


def _record(result: dict[str, Any]) -> None:
    with open(os.environ[RESULTS_ENV], "a", encoding="utf-8") as out:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")


def test_control(planned: dict[str, Any]) -> None:
    """The host meets the control: every one of its checks finds nothing wrong."""
    name, control = planned["host"], planned["control"]
    result: dict[str, Any] = {"host": name, "control": control, "evidence": [], "problems": []}
    try:
        if name not in _hosts:
            _hosts[name] = connect(f"ansible://{name}", ansible_inventory=_plan()["inventory"], sudo=True)
        host = _hosts[name]
        container, unreachable = _facts(name, host)
        if unreachable:
            raise CommandFailedError(unreachable)
        if container and not planned["container_verifiable"]:
            result["status"] = "not_verified"
            result["evidence"] = [f"host is a container ({container}): {planned['container_reason']}"]
        else:
            for check in planned["checks"]:
                finding = CHECKS[CheckKind(check["kind"])](host, check["args"])
                result["evidence"] += finding.evidence
                result["problems"] += finding.problems
            result["status"] = "fail" if result["problems"] else "pass"
    except Exception as exc:
        result["status"] = "error"
        result["problems"].append(_short(f"the check could not run: {_reason(exc)}"))
    _record(result)
    if result["status"] == "not_verified":
        pytest.skip(result["evidence"][0])
    if result["status"] != "pass":
        pytest.fail(f"{name} {control}: " + "; ".join(result["problems"]), pytrace=False)
