"""The 等保 audit: run the testinfra checks of every host control against the declared hosts.

``run_audit`` loads the declaration, resolves the baseline parameters per zone (the same values
the hardening role gets), writes a plan for :mod:`dizuo.baseline.checks`, runs it with pytest in a
subprocess over SSH (testinfra's Ansible backend reads the connection settings from the rendered
inventory, exactly as ``dizuo harden`` does), then applies waivers and writes the reports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from dizuo.baseline import checks
from dizuo.baseline import waivers as waivers_mod
from dizuo.baseline.catalogue import Catalogue, Control, Scope, UnknownControlError, packaged
from dizuo.baseline.harden import HardenError, connections, hosts_matching
from dizuo.baseline.params import resolve
from dizuo.baseline.report import (
    REPORT_FILES,
    AuditMeta,
    ControlDoc,
    ControlResult,
    Status,
    passes,
    write_reports,
)
from dizuo.declaration import Declaration, load
from dizuo.declaration.inventory import hosts_yml
from dizuo.declaration.model import Host

# All the checks of one healthy host take about 11 s; a host still being checked after this long is hung (a command
# that never returns, say sudo waiting on a dead directory server): its checks are stopped and the audit goes on
# with the next host. Per host, not per audit: an audit of a hundred healthy hosts takes more than 15 minutes.
HOST_TIMEOUT_S = 300
# A connection that stops answering (a host that sent its SSH banner and went silent, a link that died mid-command)
# ends after ServerAliveInterval × ServerAliveCountMax = 60 s of silence instead of hanging until the host deadline;
# ssh sends these probes during the key exchange too, where ConnectTimeout no longer applies.
SSH_KEEPALIVE = "-o ServerAliveInterval=15 -o ServerAliveCountMax=4"
POLL_S = 0.2
# A waiver's expiry is a day in the city: judged in China Standard Time (Asia/Shanghai, UTC+8 without daylight
# saving since 1991, so a fixed offset needs no tz database), not in the runner's zone: a CI runner in UTC would
# keep a waiver alive until 08:00 the day after it expired.
CITY_TIMEZONE = dt.timezone(dt.timedelta(hours=8), "CST")

Progress = Callable[[int, int], None]
"""Called with (results so far, total) while the checks run."""


class AuditInputError(Exception):
    """The audit cannot start: bad --limit, waivers file or declaration. The message says what and where."""


class ReportWriteError(Exception):
    """The checks ran but their reports could not be written (a full disk): ``run`` holds the results, with no
    reports; the report directory holds what it held before."""

    def __init__(self, run: AuditRun, message: str) -> None:
        self.run = run
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class AuditRun:
    """The outcome of one audit."""

    results: list[ControlResult]
    meta: AuditMeta
    reports: list[Path]

    @property
    def failed(self) -> list[ControlResult]:
        """Results that make the audit fail (failures, expired waivers, checks that could not run)."""
        return [r for r in self.results if r.status.failing]

    @property
    def passed(self) -> bool:
        """Whether the audit passes: nothing failed, and a control was verified (or ``meta`` allows none)."""
        return passes(self.results, self.meta)


def select_hosts(declaration: Declaration, limit: str | None) -> list[Host]:
    """The hosts named by ``limit``, an Ansible host pattern read as ``dizuo harden --limit`` reads it
    (:func:`dizuo.baseline.harden.hosts_matching`): the audit checks the hosts a harden run with the same limit
    converged."""
    hosts = list(declaration.inventory.hosts)
    if not limit:
        return hosts
    try:
        chosen = set(hosts_matching(declaration, limit))
    except HardenError as exc:
        raise AuditInputError(str(exc)) from None
    return [h for h in hosts if h.name in chosen]


def plan(
    declaration: Declaration, catalogue: Catalogue, hosts: list[Host], controls: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """For each host and host control (those named by ``controls``, or all): the checks with the parameter
    values of the host's zone."""
    params = resolve(declaration, catalogue)
    items = []
    for host in hosts:
        values = params.for_zone(host.zone)
        for control in catalogue.select(Scope.HOST, controls):
            items.append(
                {
                    "host": host.name,
                    "control": control.id,
                    "checks": [{"kind": c.kind.value, "args": c.resolved_args(values)} for c in control.checks],
                    "container_verifiable": control.container.verifiable,
                    "container_reason": control.container.reason or "",
                }
            )
    return items


@dataclass(frozen=True, slots=True)
class PreparedAudit:
    """A validated audit, ready to run: every input error has been raised by now."""

    inventory_dir: Path
    declaration: Declaration
    catalogue: Catalogue
    hosts: list[Host]
    waivers: waivers_mod.Waivers
    items: list[dict[str, Any]]
    left_out: tuple[str, ...] = ()
    """The controls and hosts --controls and --limit leave out, as the reports say it."""


def prepare_audit(
    inventory_dir: Path,
    *,
    limit: str | None = None,
    waivers_file: Path | None = None,
    controls: Sequence[str] | None = None,
) -> PreparedAudit:
    """Load and validate everything the audit needs, before touching any host.

    ``controls`` audits only those host controls (all of them for None).
    Raises AuditInputError, DeclarationError or WaiverError naming the file, key and value.
    """
    declaration = load(inventory_dir)
    catalogue = packaged()
    hosts = select_hosts(declaration, limit)
    if not hosts:
        raise AuditInputError(f"{inventory_dir}/hosts.yaml declares no hosts to audit")
    _clients_installed(declaration, hosts)
    waivers = (
        waivers_mod.load(waivers_file, catalogue, {h.name for h in declaration.inventory.hosts})
        if waivers_file is not None
        else waivers_mod.NO_WAIVERS
    )
    try:
        items = plan(declaration, catalogue, hosts, controls)
    except UnknownControlError as exc:
        raise AuditInputError(f"--controls: {exc}") from None
    left_out = _left_out(declaration, catalogue, hosts, items, limit)
    return PreparedAudit(inventory_dir, declaration, catalogue, hosts, waivers, items, left_out)


# How many names of hosts left out by --limit a report lists; the rest are counted.
MAX_LISTED_HOSTS = 10


def _left_out(
    declaration: Declaration, catalogue: Catalogue, hosts: list[Host], items: list[dict[str, Any]], limit: str | None
) -> tuple[str, ...]:
    """What --controls and --limit leave out of the audit, one sentence each (none for a whole audit)."""
    gaps = []
    host_controls = [c.id for c in catalogue.for_scope(Scope.HOST)]
    planned = {i["control"] for i in items}
    checked = [c for c in host_controls if c in planned]
    if len(checked) < len(host_controls):
        gaps.append(
            f"{len(host_controls) - len(checked)} of the {len(host_controls)} host controls were not checked "
            f"(--controls {','.join(checked)})"
        )
    audited = {h.name for h in hosts}
    skipped = [h.name for h in declaration.inventory.hosts if h.name not in audited]
    if skipped:
        listed = ", ".join(skipped[:MAX_LISTED_HOSTS])
        more = f" and {len(skipped) - MAX_LISTED_HOSTS} more" if len(skipped) > MAX_LISTED_HOSTS else ""
        gaps.append(
            f"{len(skipped)} of the {len(declaration.inventory.hosts)} declared hosts were not checked "
            f"(--limit {limit}): {listed}{more}"
        )
    return tuple(gaps)


# The program testinfra runs to reach a host, by the host's ansible_connection (paramiko and local need none).
CLIENTS = {"ssh": "ssh", "smart": "ssh", "docker": "docker", "community.docker.docker": "docker", "lxc": "lxc"}


def _clients_installed(declaration: Declaration, hosts: list[Host]) -> None:
    """Raise AuditInputError when the program that reaches some of ``hosts`` is not on PATH: every check of those
    hosts would otherwise fail as an ERROR, a report of the runner and not of the hosts."""
    connection = connections(declaration)
    needed: dict[str, list[str]] = {}
    for host in hosts:
        client = CLIENTS.get(connection[host.name])
        if client is not None and shutil.which(client) is None:
            needed.setdefault(client, []).append(host.name)
    for client, names in needed.items():
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        how = " (Debian: apt install openssh-client)" if client == "ssh" else ""
        raise AuditInputError(
            f"no `{client}` on PATH: the audit reaches {shown} with it (ansible_connection "
            f"{connection[names[0]]}); install it{how} or run the audit where it is installed"
        )


# What an audit writes into its report directory, replacing what is there by those names.
AUDIT_FILES = (*REPORT_FILES, "pytest.log")


def ready_report_dir(report_dir: Path) -> None:
    """Create ``report_dir`` and prove a file can be written there, or raise AuditInputError naming it.

    Called before any check runs: otherwise a mistyped --report is found only once the whole audit is done.
    Writing a file is the proof, not os.access: root passes that on a read-only mount too.
    A directory holding a file of an audit's names (a junit.xml of the test suite, a report.md) that no audit wrote
    is refused: the audit would overwrite it.
    """
    if report_dir.exists() and not report_dir.is_dir():
        raise AuditInputError(f"--report {report_dir}: exists and is not a directory")
    taken = [name for name in AUDIT_FILES if (report_dir / name).exists()]
    if taken and not _previous_audit(report_dir / "results.json"):
        overwritten = "it" if len(taken) == 1 else "them"
        raise AuditInputError(
            f"--report {report_dir}: holds {', '.join(taken)}, which no dizuo audit wrote there (it has no "
            f"results.json of one), and the audit would overwrite {overwritten}: name a new or empty directory, "
            "or one holding a previous audit's report"
        )
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=report_dir):
            pass
    except OSError as exc:
        raise AuditInputError(f"--report {report_dir}: cannot write a report there: {exc.strerror}") from None


def _previous_audit(results_file: Path) -> bool:
    """Whether ``results_file`` is the results.json of an audit (its other files are then an audit's too)."""
    try:
        document = json.loads(results_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(document, dict)
        and isinstance(document.get("meta"), dict)
        and "catalogue_version" in document["meta"]
        and isinstance(document.get("results"), list)
    )


def run_audit(
    prepared: PreparedAudit,
    report_dir: Path,
    *,
    today: dt.date | None = None,
    progress: Progress | None = None,
    reuse_ssh: bool = True,
    allow_unverified: bool = False,
) -> AuditRun:
    """Run the checks on the hosts, apply the waivers (valid on ``today``, by default the date in the city), write
    the reports.

    ``allow_unverified`` lets an audit that verified nothing (every control NOT VERIFIED) pass, as it did before
    such an audit read NOT VERIFIED.

    ``reuse_ssh=False`` is testinfra's default, one SSH connection per command: the anchor of
    ``bench/baseline``, kept so the benchmark measures what the shared connection buys.
    Raises AuditInputError, before any check runs, when no report can be written to ``report_dir``, and
    ReportWriteError when the reports (and pytest.log) cannot be written once the checks have run.
    """
    started = dt.datetime.now().astimezone()
    today = today or city_date(started)
    catalogue, items = prepared.catalogue, prepared.items
    ready_report_dir(report_dir)
    with tempfile.TemporaryDirectory(prefix="dizuo-audit-") as work:
        raw, stopped, log = _run_checks(prepared.declaration, items, Path(work), progress, reuse_ssh=reuse_ssh)
        # Written with the reports, all or none: a copy straight into the report directory would truncate the
        # previous audit's log before a full disk stopped it.
        pytest_log = log.read_bytes()
    results = [
        _apply_waiver(_result(catalogue.control(item["control"]), item, raw, stopped), prepared.waivers, today)
        for item in items
    ]
    meta = AuditMeta(
        city=f"{prepared.declaration.city.name} ({prepared.declaration.city.code})",
        inventory=str(prepared.inventory_dir),
        hosts=tuple(h.name for h in prepared.hosts),
        started=started,
        waivers=prepared.waivers.source,
        catalogue_version=catalogue.version,
        left_out=prepared.left_out,
        allow_unverified=allow_unverified,
        controls=described(catalogue, [item["control"] for item in items]),
        notes=(checked_by_the_stacks(catalogue),),
    )
    try:
        reports = write_reports(results, meta, report_dir, pytest_log)
    except OSError as exc:
        raise ReportWriteError(
            AuditRun(results=results, meta=meta, reports=[]),
            f"--report {report_dir}: cannot write the reports: {exc.strerror or exc}; "
            "what the directory held before this audit is as it was",
        ) from None
    return AuditRun(results=results, meta=meta, reports=reports)


def described(catalogue: Catalogue, control_ids: Sequence[str]) -> tuple[ControlDoc, ...]:
    """Each of ``control_ids`` once, in their order, as the catalogue describes its check and remediation."""
    return tuple(
        ControlDoc(
            control=control.id,
            clause=control.clause + (f"; {control.cloud_clause}" if control.cloud_clause else ""),
            title_zh=control.title.zh,
            title_en=control.title.en,
            checked=control.evidence,
            remediation=control.remediation.summary,
            role_tags=control.remediation.tags,
        )
        for control in (catalogue.control(cid) for cid in dict.fromkeys(control_ids))
    )


def checked_by_the_stacks(catalogue: Catalogue) -> str:
    """What the reports say of the catalogue's controls that are no host's: a level-3 audit whose report lists the
    host controls alone would leave an auditor asking where the network's, the clusters' and the data pool's went."""
    elsewhere = [c for c in catalogue.controls if c.scope is not Scope.HOST]
    return (
        f"Not checked by this audit: the catalogue's {len(elsewhere)} network, cluster and data pool controls "
        f"({', '.join(c.id for c in elsewhere)}), which the 等保 policy pack stacks/policy checks on every stack "
        "(dizuo synth, and pulumi preview/up run by dizuo preview and dizuo up)."
    )


def city_date(moment: dt.datetime) -> dt.date:
    """The date in the city (CITY_TIMEZONE) at ``moment``, the day waivers are judged by."""
    return moment.astimezone(CITY_TIMEZONE).date()


def _run_checks(
    declaration: Declaration,
    items: list[dict[str, Any]],
    work: Path,
    progress: Progress | None,
    *,
    reuse_ssh: bool = True,
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, str], Path]:
    """Run checks.py with pytest in a subprocess; returns the results by (host, control), why each host whose checks
    were stopped has no more results (host -> reason), and the log.

    A host checked for longer than HOST_TIMEOUT_S is given up: the whole process group (pytest and the ssh commands
    it started) is killed, and pytest starts again with the hosts not yet checked.
    """
    inventory = work / "inventory.yml"
    rendered = hosts_yml(declaration)
    common = f"{SSH_KEEPALIVE} {rendered['all']['vars'].get('ansible_ssh_common_args', '')}"
    # One SSH connection per host for the whole audit (testinfra opens one per command otherwise);
    # closed explicitly below, and by itself 10 s after its last use if we are killed.
    if reuse_ssh:
        common = f"-o ControlPath={work}/cm-%C -o ControlPersist=10s {common}"
    rendered["all"]["vars"]["ansible_ssh_common_args"] = common.strip()
    inventory.write_text(yaml.safe_dump(rendered, allow_unicode=True), encoding="utf-8")
    plan_file, results_file, log = work / "plan.json", work / "results.jsonl", work / "pytest.log"
    results_file.touch()
    # An empty ini file keeps the project's pytest settings (testpaths, markers) out of the audit run.
    (work / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {
        **os.environ,
        checks.PLAN_ENV: str(plan_file),
        checks.RESULTS_ENV: str(results_file),
        # testinfra's Ansible backend calls ansible-inventory: take the one installed next to us.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(work / "ansible-tmp"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [
        sys.executable, "-m", "pytest", checks.__file__,
        "-c", str(work / "pytest.ini"), "--rootdir", str(work),
        "-p", "no:cacheprovider", "-q", "-rN", "--tb=line",
    ]  # fmt: skip
    results = _Results(results_file)
    stopped: dict[str, str] = {}
    remaining = items
    with log.open("w") as out:
        while remaining:
            plan_file.write_text(json.dumps({"inventory": str(inventory), "items": remaining}), encoding="utf-8")
            out.flush()
            # A session of its own: on a deadline the ssh commands go with pytest, none is left behind.
            child = subprocess.Popen(
                command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                hung = _watch(child, remaining, results, lambda: _report(progress, results, stopped, items))
            finally:
                _kill_group(child)
                _close_ssh_masters(work)
            if hung is None:
                break
            stopped[hung] = f"audit timed out after {HOST_TIMEOUT_S} s while checking {hung}"
            out.write(f"\n{stopped[hung]}: its remaining checks were stopped; going on with the next host\n")
            results.read()
            remaining = [
                i for i in remaining if i["host"] not in stopped and (i["host"], i["control"]) not in results.by_key
            ]
    results.read()
    _report(progress, results, stopped, items)
    return results.by_key, stopped, log


class _Results:
    """The results file as pytest writes it, read as it grows: only the lines added since the last read are parsed."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0
        self.by_key: dict[tuple[str, str], dict[str, Any]] = {}

    def read(self) -> None:
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            added = handle.read()
        complete = added[: added.rfind(b"\n") + 1]  # a line being written is read next time
        self.offset += len(complete)
        # Split at b"\n" only, the one line break JSON never leaves raw inside a string: str.splitlines also breaks
        # at U+2028, U+2029 and U+0085, which json.dumps writes as they are (a process name on the host may hold one).
        for line in filter(None, complete.split(b"\n")):
            record = json.loads(line)
            self.by_key[(record["host"], record["control"])] = record


def _watch(
    child: subprocess.Popen[bytes], items: list[dict[str, Any]], results: _Results, tick: Callable[[], None]
) -> str | None:
    """Wait for pytest to finish; the host it has been checking for more than HOST_TIMEOUT_S, if any (pytest is
    still running then). The host being checked is that of the first planned item without a result."""
    current: str | None = None
    since, position = time.monotonic(), 0
    while child.poll() is None:
        results.read()
        tick()
        while position < len(items) and (items[position]["host"], items[position]["control"]) in results.by_key:
            position += 1
        host = str(items[position]["host"]) if position < len(items) else None
        if host != current:
            current, since = host, time.monotonic()
        if current is not None and time.monotonic() - since > HOST_TIMEOUT_S:
            return current
        time.sleep(POLL_S)
    return None


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    """End pytest and everything it started (the ssh commands of a hung host)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _report(progress: Progress | None, results: _Results, stopped: dict[str, str], items: list[dict[str, Any]]) -> None:
    """Progress counts the checks of a host that was given up as done: none of them will run."""
    if progress is not None:
        given_up = sum(1 for i in items if i["host"] in stopped and (i["host"], i["control"]) not in results.by_key)
        progress(len(results.by_key) + given_up, len(items))


def _close_ssh_masters(work: Path) -> None:
    for socket in work.glob("cm-*"):
        subprocess.run(
            ["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "audit-master"],
            capture_output=True,
            timeout=10,
            check=False,
        )


def _result(
    control: Control, item: dict[str, Any], raw: dict[tuple[str, str], dict[str, Any]], stopped: dict[str, str]
) -> ControlResult:
    record = raw.get((item["host"], item["control"]))
    common = {
        "host": item["host"],
        "control": control.id,
        "clause": control.clause + (f"; {control.cloud_clause}" if control.cloud_clause else ""),
        "title_zh": control.title.zh,
        "title_en": control.title.en,
    }
    if record is None:
        return ControlResult(
            **common,
            status=Status.ERROR,
            problems=(
                f"no result: {stopped[item['host']]}"
                if item["host"] in stopped
                else "no result: the check did not run (see pytest.log in the report directory)",
            ),
        )
    status = Status(record["status"])
    note = ""
    if status is Status.NOT_VERIFIED:
        # The reason alone: each report names the status itself (its own column, JUnit's message label).
        note = str(record["evidence"][0]) if record["evidence"] else control.container.reason or ""
    return ControlResult(
        **common,
        status=status,
        evidence=tuple(record["evidence"]) if status is not Status.NOT_VERIFIED else (),
        problems=tuple(record["problems"]),
        note=note,
    )


def _apply_waiver(result: ControlResult, waivers: waivers_mod.Waivers, today: dt.date) -> ControlResult:
    """A failure under a valid waiver is waived; under an expired one it stays a failure, and says so. A waiver of
    a control that could not be checked (an error, not verified) accepts nothing, and the note says it was seen."""
    waiver = waivers.find(result.control, result.host)
    if waiver is None:
        return result
    until = waiver.expires.isoformat()
    who = f", approved by {waiver.approved_by}"
    expired = waiver.expired(today)
    if result.status in {Status.ERROR, Status.NOT_VERIFIED}:
        # Otherwise the report shows no trace of a waiver the auditor signed for this control and host.
        unused = (
            f"{'expired ' if expired else ''}waiver until {until} ({waiver.reason}{who}) not applied: it accepts a "
            "deviation the checks saw, and they could not check this control here"
        )
        return replace(result, note="; ".join(filter(None, (result.note, unused))))
    if result.status is Status.PASS:
        note = f"{'expired ' if expired else ''}waiver until {until} is not needed: the control passes"
        return replace(result, note=note)
    if expired:
        return replace(result, note=f"waiver expired on {until} ({waiver.reason}{who}): renew it or fix the host")
    return replace(result, status=Status.WAIVED, note=f"waived until {until}: {waiver.reason}{who}")
