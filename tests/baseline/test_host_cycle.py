"""The whole baseline cycle on ONE real Debian 12 host (systemd-nspawn), in order:

audit the untouched host (it fails, waivers apply) -> harden -> rerun changes nothing -> check mode
changes nothing -> audit passes (container-unverifiable controls reported as not verified) -> the
admin still logs in with its key. The steps share the host, so they run in file order.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from dizuo.baseline import harden
from dizuo.baseline.catalogue import Scope, packaged
from dizuo.declaration import load
from hosts import BootedHost, write_declaration
from hosts.declaration import run_audit
from hosts.loghost import LOG_CA_FILE, issue_log_host_tls
from hosts.mirror import EICAR, MIRROR_BASELINE, MIRROR_URL, SIGNATURE, signature_mirror, write_signature_mirror

# node_exporter's textfile collector folder (Debian's default, the role's baseline_node_exporter_textfile_dir).
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"

pytestmark = [pytest.mark.host, pytest.mark.slow]

HOST_CONTROLS = [c.id for c in packaged().for_scope(Scope.HOST)]
UNVERIFIABLE_IN_CONTAINER = {
    c.id: c.container.reason for c in packaged().for_scope(Scope.HOST) if not c.container.verifiable
}
# Controls an untouched Debian 12 minbase host cannot meet: nothing configures them by default.
FAILING_WHEN_UNTOUCHED = {
    "DZ-IA-03",
    "DZ-IA-05",
    "DZ-IA-06",
    "DZ-AC-03",
    "DZ-AU-02",
    "DZ-AU-05",
    "DZ-MC-01",
    "DZ-MC-03",
    "DZ-DB-01",
}
WAIVED = "DZ-IA-08"  # valid waiver: SSH hardening accepted for a month
EXPIRED = "DZ-AC-05"  # expired waiver: the umask deviation is no longer accepted


LOG_RECEIVER = "/var/log/remote/127.0.0.1"
# A person's account that was there before dizuo, with a usable password (openssl passwd -6): the role ages it.
CLERK = "clerk"
CLERK_PASSWORD_HASH = (
    "$6$dizuotest$OOsrwuvKQneLQ2cgRk.NFbuyT2Y2JYUI3CMqqI6XRUspIXNQ5YvymKU3GAdxDAnZIcPz4jA74veqU.r2AAkk3."  # noqa: S105 - a test account's
)


@pytest.fixture(scope="module")
def city(debian_host: BootedHost, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the Yulin declaration whose only host is the booted test host, also its own log host."""
    # Logs are forwarded to loopback, over TLS, and received there: nothing leaves the container.
    issue_log_host_tls(debian_host.root)
    # The clerk logs in with the same test key as the admin (a key and a password: two factors after hardening).
    setup = (
        f"useradd --create-home --shell /bin/bash --password {shlex.quote(CLERK_PASSWORD_HASH)} {CLERK}"
        f" && install -d -o {CLERK} -g {CLERK} -m 0700 /home/{CLERK}/.ssh"
        f" && install -o {CLERK} -g {CLERK} -m 0600 /home/{debian_host.user}/.ssh/authorized_keys /home/{CLERK}/.ssh/"
    )
    added = subprocess.run(
        # ssh hands the remote shell one command line: quoted once for it, once for sh -c.
        debian_host.ssh_command(shlex.join(["sudo", "-n", "sh", "-c", setup])),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert added.returncode == 0, f"adding {CLERK}: {added.stderr}"
    write_signature_mirror(debian_host.root)
    signature_mirror(debian_host, "start")
    return write_declaration(
        tmp_path_factory.mktemp("city") / "yulin",
        [debian_host],
        # A client of a time server on loopback: chrony is configured here, never started (see DZ-AU-07).
        city_baseline={
            "log_server": "127.0.0.1",
            "ntp_servers": ["127.0.0.1"],
            **MIRROR_BASELINE,
            "zones": {"management": {"listen_tcp_allowed": [22, 6514]}},
        },
        host_vars={"baseline_audit_log_server": True, "baseline_log_ca_file": LOG_CA_FILE},
    )


def _why(result: dict[str, Any]) -> str:
    return "; ".join([*result["problems"], result["note"]]).strip("; ")


@pytest.fixture(scope="module")
def untouched_audit(city: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any], Path]:
    """`dizuo audit` of the host before hardening, with one valid and one expired waiver."""
    report = tmp_path_factory.mktemp("audit-before")
    waivers = report.parent / "waivers.yaml"
    today = dt.date.today()
    waivers.write_text(
        "waivers:\n"
        f"- control: {WAIVED}\n  hosts: ['yl-test-*']\n  reason: SSH hardening scheduled (ticket SEC-1)\n"
        f"  expires: {(today + dt.timedelta(days=30)).isoformat()}\n  approved_by: 安全管理员\n"
        f"- control: {EXPIRED}\n  hosts: [yl-test-01]\n  reason: umask change needed an application fix\n"
        "  expires: 2020-01-01\n  approved_by: 安全管理员\n",
        encoding="utf-8",
    )
    done, results = run_audit(city, report, "--waivers", str(waivers))
    return done, results, report


def test_untouched_host_fails_the_audit(untouched_audit):
    """Before hardening the audit fails (exit 1) and names the controls the host does not meet."""
    done, results, _ = untouched_audit
    assert done.returncode == 1, f"audit of the untouched host exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    assert sorted(results) == sorted(HOST_CONTROLS), "the report must list every host control of the catalogue"
    failing = {c for c, r in results.items() if r["status"] == "fail"}
    assert failing >= FAILING_WHEN_UNTOUCHED, f"controls not reported failing: {FAILING_WHEN_UNTOUCHED - failing}"
    errors = {c: _why(r) for c, r in results.items() if r["status"] == "error"}
    assert errors == {}, f"checks that could not run on the untouched host: {errors}"
    assert any("permitrootlogin" in e for e in results[WAIVED]["evidence"]), "SSH evidence comes from sshd -T"


def test_valid_waiver_waives_and_expired_waiver_fails(untouched_audit):
    """A valid waiver turns a failure into 'waived' with its reason; an expired one leaves it failing, saying so."""
    _, results, _ = untouched_audit
    assert results[WAIVED]["status"] == "waived", f"{WAIVED}: {results[WAIVED]['status']} ({_why(results[WAIVED])})"
    assert "SEC-1" in results[WAIVED]["note"], f"{WAIVED}: the waiver's reason is not in the report"
    assert results[EXPIRED]["status"] == "fail", f"{EXPIRED} under an expired waiver: {results[EXPIRED]['status']}"
    assert "waiver expired on 2020-01-01" in results[EXPIRED]["note"], f"{EXPIRED}: {results[EXPIRED]['note']}"


def test_container_unverifiable_controls_are_not_verified_with_reason(untouched_audit):
    """auditd controls are 'not verified' on a container, with the reason, never 'pass'."""
    _, results, _ = untouched_audit
    for control, reason in UNVERIFIABLE_IN_CONTAINER.items():
        assert results[control]["status"] == "not_verified", f"{control}: {results[control]['status']}"
        assert reason, f"{control}: the catalogue gives no reason"
        assert reason in results[control]["note"], f"{control}: reason missing: {results[control]['note']}"


def test_junit_has_one_testcase_per_control_and_host(untouched_audit, debian_host):
    """junit.xml parses and has exactly one testcase per host control × host, failures marked."""
    _, results, report = untouched_audit
    tree = ET.parse(report / "junit.xml")  # noqa: S314 - our own report, written by the audit just now
    cases = tree.getroot().findall(".//testcase")
    names = sorted(case.get("name", "").split()[0] for case in cases)
    assert names == sorted(HOST_CONTROLS), "one testcase per control of the one audited host"
    assert all(case.get("classname", "").startswith(debian_host.name) for case in cases)
    failed = {case.get("name", "").split()[0] for case in cases if case.find("failure") is not None}
    assert failed == {c for c, r in results.items() if r["status"] == "fail"}, "JUnit failures match the results"
    skipped = {case.get("name", "").split()[0] for case in cases if case.find("skipped") is not None}
    assert skipped == {c for c, r in results.items() if r["status"] in {"waived", "not_verified"}}


def test_human_report_lists_every_control_with_evidence(untouched_audit, debian_host):
    """report.md and report.html name every control with its status and the evidence seen, in the host's table (the
    section describing the controls below the hosts' would name them too)."""
    _, _, report = untouched_audit
    heading = "Controls: what the audit reads and how to fix a failure"
    markdown = (report / "report.md").read_text(encoding="utf-8")
    markdown = markdown.split(f"## {debian_host.name}\n", 1)[1].split(f"## {heading}", 1)[0]
    page = (report / "report.html").read_text(encoding="utf-8")
    page = page.split(f"<h2>{debian_host.name}</h2>", 1)[1].split(f"<h2>{heading}</h2>", 1)[0]
    for control in HOST_CONTROLS:
        assert f"| {control} |" in markdown, f"{control} missing from report.md"
        assert f">{control}<" in page, f"{control} missing from report.html"
    assert "/etc/login.defs: PASS_MAX_DAYS" in markdown, "evidence quotes the file line it saw"


def _changed_tasks(events: list[dict[str, Any]]) -> list[str]:
    return [
        f"{e['event_data'].get('task', '?')}"
        for e in events
        if e.get("event") == "runner_on_ok" and e.get("event_data", {}).get("res", {}).get("changed")
    ]


def _failed_tasks(events: list[dict[str, Any]]) -> list[str]:
    return [
        f"{e['event_data'].get('task', '?')}: {str(e['event_data'].get('res', {}).get('msg', ''))[:300]}"
        for e in events
        if e.get("event") in {"runner_on_failed", "runner_on_unreachable"} and not e["event_data"].get("ignore_errors")
    ]


def _harden(city: Path, host: BootedHost, *, check: bool = False) -> tuple[harden.HardenResult, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    result = harden.run(load(city), limit=host.name, check=check, on_event=events.append)
    return result, events


@pytest.fixture(scope="module")
def first_converge(city, debian_host, untouched_audit):
    """The first run of the role (after the untouched audit, which must see the host as it came)."""
    return _harden(city, debian_host)


def test_harden_converges(first_converge, debian_host):
    """The role converges the untouched host without a failed task."""
    result, events = first_converge
    assert result.ok, f"harden failed on {debian_host.name} (rc {result.rc}): {_failed_tasks(events)}"
    assert result.changed > 0, "the first run on an untouched host must change something"


def test_second_run_changes_nothing(first_converge, city, debian_host):
    """A second run of the role reports 0 changed."""
    result, events = _harden(city, debian_host)
    assert result.ok, f"second run failed on {debian_host.name}: {_failed_tasks(events)}"
    assert result.changed == 0, f"second run changed on {debian_host.name}: {_changed_tasks(events)}"


def test_check_mode_changes_nothing(first_converge, city, debian_host):
    """Check mode on the hardened host reports 0 changed."""
    result, events = _harden(city, debian_host, check=True)
    assert result.ok, f"check mode failed on {debian_host.name}: {_failed_tasks(events)}"
    assert result.changed == 0, f"check mode would change on {debian_host.name}: {_changed_tasks(events)}"


def test_hardened_host_passes_the_audit(first_converge, city, tmp_path):
    """After hardening every applicable control passes; container-unverifiable ones are 'not verified'."""
    # --limit by zone group: the declaration's way of naming hosts, as a CI job would.
    done, results = run_audit(city, tmp_path / "audit-after", "--limit", "zone_management")
    not_passing = {
        c: f"{r['status']}: {_why(r)}"
        for c, r in results.items()
        if r["status"] != "pass" and c not in UNVERIFIABLE_IN_CONTAINER
    }
    assert not_passing == {}, (
        f"controls not passing after hardening: {json.dumps(not_passing, indent=1, ensure_ascii=False)}"
    )
    for control in UNVERIFIABLE_IN_CONTAINER:
        assert results[control]["status"] == "not_verified", f"{control}: {results[control]['status']}"
    separation = results["DZ-AC-03"]["evidence"]
    for probe in (
        "sudo -l -U sysadm /usr/bin/systemctl restart nginx.service: allowed",
        "sudo -l -U sysadm /usr/bin/apt-get -o APT::Update::Pre-Invoke::=/bin/sh update: refused",
        # The audited administrator cannot interrupt the audit trail, by name or by a unit glob.
        "sudo -l -U sysadm /usr/bin/systemctl stop auditd.service: refused",
        "sudo -l -U sysadm /usr/bin/systemctl stop rsyslog.service: refused",
        "sudo -l -U sysadm /usr/bin/systemctl stop audit*: refused",
        "sudo -l -U secadm /usr/sbin/usermod -aG sudo payload: refused",
    ):
        assert probe in separation, f"DZ-AC-03 evidence lacks '{probe}': {separation}"
    # Debian 12 runs logrotate from its timer (the cron.daily script steps aside under systemd): the role keeps it on.
    rotation = results["DZ-AU-05"]["evidence"]
    assert "logrotate.timer: enabled, active" in rotation, f"DZ-AU-05 did not see logrotate's timer run: {rotation}"
    forwarding = " ".join(results["DZ-AU-03"]["evidence"])
    assert "stream driver gtls, mode 1, auth x509/name" in forwarding, f"DZ-AU-03 did not check TLS: {forwarding}"
    malware = results["DZ-MC-03"]["evidence"]
    assert f"/etc/dizuo/freshclam.conf: PrivateMirror {MIRROR_URL}" in malware, malware
    assert any(line.startswith("database city.hdb: 1 signatures") for line in malware), malware
    assert done.returncode == 0, f"audit of the hardened host exited {done.returncode}:\n{done.stdout}\n{done.stderr}"


def test_an_existing_persons_password_ages_and_then_disables_the_account(first_converge, debian_host):
    """The account that was there before hardening now has its password expire after 90 days and the account
    disabled 30 days after that (DZ-IA-04 defaults), as shadow(5) holds them."""
    shadow = subprocess.run(
        debian_host.ssh_command("sudo", "-n", "getent", "shadow", CLERK),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    fields = shadow.stdout.strip().split(":")
    assert fields[1] == CLERK_PASSWORD_HASH, "the password itself is left as it was"
    assert (fields[4], fields[6]) == ("90", "30"), f"max age and inactive days of {CLERK}: {shadow.stdout}"


def test_chrony_reads_the_time_configuration(first_converge, debian_host):
    """The chrony configuration the role wrote parses with the host's own chronyd (`-p` prints what it read): the
    declared server, and neither an NTP nor a command port, as a client should have."""
    parsed = subprocess.run(
        debian_host.ssh_command("sudo", "-n", "chronyd", "-p", "-f", "/etc/chrony/chrony.conf"),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert parsed.returncode == 0, f"chronyd -p: {parsed.stderr}"
    lines = parsed.stdout.splitlines()
    assert "server 127.0.0.1 iburst" in lines, parsed.stdout
    assert {"port 0", "cmdport 0"} <= set(lines), parsed.stdout


def test_a_person_needs_key_and_password_after_hardening(first_converge, debian_host):
    """DZ-IA-09 on the real sshd: the clerk's key is accepted as the first factor only ("partial success"), and
    without the password (no prompt in batch mode) the login is refused."""
    login = [
        "ssh", "-v", *debian_host.ssh_options(), "-p", str(debian_host.port), f"{CLERK}@{debian_host.address}", "true",
    ]  # fmt: skip
    done = subprocess.run(login, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 255, f"{CLERK} logged in with a key alone: {done.stderr[-1500:]}"
    assert 'Authenticated using "publickey" with partial success' in done.stderr, done.stderr[-1500:]
    assert "Permission denied (password)" in done.stderr, done.stderr[-1500:]


def test_admin_logs_in_with_key_after_hardening(first_converge, debian_host):
    """The key-based admin login the run came in on still works, and still reaches root."""
    done = subprocess.run(
        debian_host.ssh_command("sudo", "-n", "id", "-u"), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{debian_host.user}@{debian_host.name} cannot log in after hardening: {done.stderr}"
    assert done.stdout.strip() == "0", f"{debian_host.user} no longer reaches root with sudo: {done.stdout}"


def test_log_host_receives_over_tls(first_converge, debian_host):
    """A message logged on the host reaches the log host's per-sender file, through the TLS listener."""
    token = f"dizuo-e2e-{time.time_ns()}"
    logged = subprocess.run(
        debian_host.ssh_command("logger", "-t", "dizuo-e2e", token), capture_output=True, timeout=60, check=False
    )
    assert logged.returncode == 0, f"logger failed: {logged.stderr!r}"
    deadline = time.monotonic() + 60
    while True:
        found = subprocess.run(
            debian_host.ssh_command("sudo", "-n", "grep", "-rl", token, LOG_RECEIVER),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if found.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert found.returncode == 0, f"{token} never reached {LOG_RECEIVER} (TLS forward -> receive): {found.stderr}"
    assert found.stdout.strip().startswith(f"{LOG_RECEIVER}/"), f"received into {found.stdout}"


def test_integrity_check_is_clean_after_hardening_and_reports_a_new_file(first_converge, debian_host):
    """DZ-MC-02 on the real host: right after hardening the check finds nothing (the baseline holds the role's own
    files and what its handlers wrote); a file dropped into /etc is then reported to syslog, the log host and
    node_exporter's metrics, and the unit's result says so; after the runbook's re-baseline it is clean again.
    (Before the account tool's test: adding and deleting accounts rewrites /etc/passwd and its kin, which the check
    reports.)"""
    assert _root(debian_host, "mkdir", "-p", TEXTFILE_DIR).returncode == 0
    metrics_file = f"{TEXTFILE_DIR}/dizuo_integrity.prom"
    clean = _root(debian_host, "systemctl", "start", "dizuo-aide-check.service")
    report = _root(debian_host, "journalctl", "-u", "dizuo-aide-check.service", "-o", "cat", "--no-pager").stdout
    listed = report.partition("Detailed information")[0]  # the summary and the lists of added/removed/changed files
    assert clean.returncode == 0, f"the check after hardening found changes or failed: {listed[-3000:]}"
    assert 'dizuo_integrity_entries{change="added"} 0' in _root(debian_host, "cat", metrics_file).stdout
    dropped = "/etc/cron.d/dizuo-test-dropped"
    assert _root(debian_host, "tee", dropped, stdin="* * * * * root true\n").returncode == 0
    try:
        found = _root(debian_host, "systemctl", "start", "dizuo-aide-check.service")
        assert found.returncode != 0, "a new file in /etc must fail the integrity check's unit"
        metrics = _root(debian_host, "cat", metrics_file).stdout
        check = ["promtool", "check", "metrics"]
        promtool = subprocess.run(check, input=metrics, capture_output=True, text=True, timeout=60, check=False)
        assert promtool.returncode == 0, f"promtool check metrics: {promtool.stdout}{promtool.stderr}\n{metrics}"
        assert 'dizuo_integrity_entries{change="added"} 1' in metrics.splitlines(), metrics
        assert "dizuo_integrity_check_success 1" in metrics.splitlines(), metrics
        deadline = time.monotonic() + 60
        pattern = "DZ-MC-02 integrity changes since the baseline: 1 added"
        while (alert := _root(debian_host, "grep", "-rh", pattern, LOG_RECEIVER)).returncode:
            assert time.monotonic() < deadline, f"the integrity alert never reached {LOG_RECEIVER}: {alert.stderr}"
            time.sleep(2)
    finally:
        _root(debian_host, "rm", "-f", dropped)
    # The runbook's re-baseline (the removal itself changed /etc/cron.d's times), then the check is clean again.
    # AIDE exits with its bitmask of differences after an update too, hence ";" and not "&&".
    database = "/var/lib/aide/dizuo-aide.db"
    rebaseline = f"aide --config /etc/aide/dizuo-aide.conf --update; mv {database}.new {database}"
    assert _root(debian_host, "sh", "-c", rebaseline).returncode == 0
    again = _root(debian_host, "systemctl", "start", "dizuo-aide-check.service")
    assert again.returncode == 0, "after the runbook's re-baseline the check must be clean again"


def _with_aide_paths(city: Path, target: Path, extra: list[str]) -> Path:
    """A copy of the declaration ``city`` whose aide_paths add ``extra`` to the catalogue's default."""
    shutil.copytree(city, target)
    city_file = target / "city.yaml"
    document = yaml.safe_load(city_file.read_text(encoding="utf-8"))
    default = next(p.default for p in packaged().control("DZ-MC-01").parameters if p.name == "aide_paths")
    document["baseline"]["aide_paths"] = [*default, *extra]
    city_file.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def test_new_integrity_paths_check_the_old_baseline_first_and_keep_it(first_converge, city, debian_host, tmp_path):
    """DZ-MC-01 on the real host: a harden run whose aide_paths changed needs a new baseline, but what differs from
    the old one has not been reviewed: a file dropped into /etc and a tampered job script in /usr/local/sbin (watched
    now) are reported first, as the daily check reports them, and the old database is kept with that report. The new
    baseline then checks clean, and so does the next after the paths go back."""
    dropped, tampered = "/etc/cron.d/dizuo-test-unreviewed", "/usr/local/sbin/dizuo-patch-status"
    assert _root(debian_host, "tee", dropped, stdin="* * * * * root true\n").returncode == 0
    assert _root(debian_host, "sh", "-c", f"echo '# tampered' >> {tampered}").returncode == 0
    superseded = "/var/lib/aide/superseded"
    try:
        wider = _with_aide_paths(city, tmp_path / "yulin", ["/opt"])
        events: list[dict[str, Any]] = []
        result = harden.run(load(wider), limit=debian_host.name, tags=["aide"], on_event=events.append)
        assert result.ok, f"harden with new aide_paths failed: {_failed_tasks(events)}"
        kept = _root(debian_host, "ls", superseded).stdout.split()
        assert len(kept) == 2, f"{superseded} holds {kept}"
        assert {name.rsplit(".", 1)[1] for name in kept} == {"db", "report"}, kept
        report = _root(debian_host, "cat", f"{superseded}/{next(n for n in kept if n.endswith('.report'))}").stdout
        assert dropped in report, f"the unreviewed new file is not in the kept report:\n{report[-3000:]}"
        assert tampered in report, f"the tampered job script is not in the kept report:\n{report[-3000:]}"
        metrics = _root(debian_host, "cat", f"{TEXTFILE_DIR}/dizuo_integrity.prom").stdout
        entries = dict(re.findall(r'^dizuo_integrity_entries\{change="(\w+)"\} (\d+)$', metrics, re.MULTILINE))
        # Changed: the script, and /etc/cron.d itself (a new entry changes a directory's times).
        assert entries["added"] == "1", metrics
        assert int(entries["changed"]) >= 1, metrics
        assert "/opt DZ" in _root(debian_host, "cat", "/etc/aide/dizuo-aide.conf").stdout
        clean = _root(debian_host, "systemctl", "start", "dizuo-aide-check.service")
        assert clean.returncode == 0, "the new baseline holds what the old check reported"
    finally:
        _root(debian_host, "rm", "-f", dropped)
        _root(debian_host, "sed", "-i", "/^# tampered$/d", tampered)
    # Back to the declared paths: the same way again (the removals are reported), then a clean check.
    events = []
    result = harden.run(load(city), limit=debian_host.name, tags=["aide"], on_event=events.append)
    assert result.ok, f"harden back to the declared aide_paths failed: {_failed_tasks(events)}"
    assert len(_root(debian_host, "ls", superseded).stdout.split()) == 4
    again = _root(debian_host, "systemctl", "start", "dizuo-aide-check.service")
    assert again.returncode == 0, "after going back to the declared aide_paths the check must be clean"


def _account_tool(host: BootedHost, *args: str) -> subprocess.CompletedProcess[str]:
    command = host.ssh_command("sudo", "-n", "/usr/local/sbin/dizuo-account", *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_account_tool_manages_ordinary_accounts_only(first_converge, debian_host):
    """The security admin's dizuo-account creates, locks and removes an ordinary account (home kept), and
    refuses what would reach root or another role: root, an admin account, a privileged group."""
    for args, why in (
        (("add", "root"), "root exists"),
        (("passwd", "root"), "uid 0 is not an ordinary account"),
        (("passwd", "sysadm"), "an administrator account"),
        (("lock", "dzadmin"), "the automation account"),
        (("add", "sudo"), "a privileged group's name"),
        (("add", "../etc"), "not an account name"),
    ):
        done = _account_tool(debian_host, *args)
        assert done.returncode == 2, f"dizuo-account {' '.join(args)} ({why}) exited {done.returncode}: {done.stderr}"
        assert "refused" in done.stderr, f"dizuo-account {' '.join(args)} did not say why: {done.stderr}"
    added = _account_tool(debian_host, "add", "zhangsan")
    assert added.returncode == 0, f"dizuo-account add zhangsan: {added.stderr}"
    try:
        granted = _account_tool(debian_host, "groups", "zhangsan", "sudo")
        assert granted.returncode == 2, f"dizuo-account granted the sudo group: {granted.stderr}"
        locked = _account_tool(debian_host, "lock", "zhangsan")
        assert locked.returncode == 0, f"dizuo-account lock zhangsan: {locked.stderr}"
        status = subprocess.run(
            debian_host.ssh_command("sudo", "-n", "passwd", "-S", "zhangsan"),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert status.stdout.split()[1:2] == ["L"], f"zhangsan is not locked: {status.stdout}"
    finally:
        deleted = _account_tool(debian_host, "delete", "zhangsan")
    assert deleted.returncode == 0, f"dizuo-account delete zhangsan: {deleted.stderr}"
    home = subprocess.run(
        debian_host.ssh_command("test", "-d", "/home/zhangsan"), capture_output=True, timeout=60, check=False
    )
    assert home.returncode == 0, "deleting an account must keep its home directory (nothing is lost)"


def _root(host: BootedHost, *command: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``command`` run as root on the host, each argument as given (ssh hands the remote shell one line)."""
    line = shlex.join(["sudo", "-n", *command])
    return subprocess.run(host.ssh_command(line), input=stdin, capture_output=True, text=True, timeout=300, check=False)


def test_malware_is_quarantined_and_alerted_and_a_mirror_outage_keeps_the_last_update(first_converge, debian_host):
    """DZ-MC-03 on the real host: files matching the city's signature in a person's home, one of them named in GBK
    as files from Windows shares are, are moved to the root-only quarantine (nothing deleted); the alert reaches the
    log host; the status and node_exporter's metrics (checked by promtool) say where they went. With the mirror
    down the job still scans with the signatures it has, and keeps the time of the last update."""
    sample = f"/home/{CLERK}/invoice.com"
    assert _root(debian_host, "tee", sample, stdin=EICAR).returncode == 0
    gbk_name = f"/home/{CLERK}/".encode() + "发票.com".encode("gbk")
    write_gbk = f"open({gbk_name!r}, 'w').write({EICAR!r})"
    assert _root(debian_host, "python3", "-c", write_gbk).returncode == 0
    assert _root(debian_host, "mkdir", "-p", TEXTFILE_DIR).returncode == 0  # as prometheus-node-exporter makes it
    scanned = _root(debian_host, "systemctl", "start", "dizuo-malware-scan.service")
    assert scanned.returncode == 0, f"the scan job failed: {scanned.stderr}"
    status = json.loads(_root(debian_host, "cat", "/var/lib/dizuo/malware-status.json").stdout)
    assert status["update"]["ok"] is True, status["update"]
    shown_gbk = gbk_name.decode("utf-8", errors="backslashreplace")
    found = {f["path"]: f for f in status["found"]}
    assert sorted(found) == sorted([sample, shown_gbk]), status["found"]
    assert {f["signature"] for f in found.values()} == {f"{SIGNATURE}.UNOFFICIAL"}, status["found"]
    assert status["scan"]["unaccounted"] == 0, status["scan"]
    moved_to = found[sample]["moved_to"]
    assert str(moved_to).startswith("/var/lib/dizuo-quarantine/"), status["found"]
    assert found[shown_gbk]["moved_to"], f"the GBK-named file was not moved: {found[shown_gbk]}"
    assert _root(debian_host, "test", "-e", sample).returncode == 1, f"{sample} was left in place"
    assert _root(debian_host, "ls", f"/home/{CLERK}").stdout.split() == [], "a find was left in the home"
    assert _root(debian_host, "cat", moved_to).stdout == EICAR, "the quarantined file must be kept as it was"
    mode = _root(debian_host, "stat", "-c", "%a:%U", "/var/lib/dizuo-quarantine").stdout.strip()
    assert mode == "700:root", f"the quarantine is open to others: {mode}"
    origins = _root(debian_host, "cat", "/var/lib/dizuo/quarantine-log.jsonl").stdout.splitlines()
    assert sample in {json.loads(line)["path"] for line in origins}, "the quarantine log must say where files came from"
    metrics = _root(debian_host, "cat", f"{TEXTFILE_DIR}/dizuo_malware.prom").stdout
    check = ["promtool", "check", "metrics"]  # from Debian's prometheus package, as the alert tests use it
    promtool = subprocess.run(check, input=metrics, capture_output=True, text=True, timeout=60, check=False)
    assert promtool.returncode == 0, f"promtool check metrics: {promtool.stdout}{promtool.stderr}\n{metrics}"
    assert 'dizuo_malware_found{action="quarantined"} 2' in metrics.splitlines(), metrics
    deadline = time.monotonic() + 60
    while (alert := _root(debian_host, "grep", "-rh", f"DZ-MC-03 malware found: {sample}", LOG_RECEIVER)).returncode:
        assert time.monotonic() < deadline, f"the alert never reached {LOG_RECEIVER}: {alert.stderr}"
        time.sleep(2)
    assert "dizuo-malware" in alert.stdout, alert.stdout

    signature_mirror(debian_host, "stop")
    try:
        again = _root(debian_host, "systemctl", "start", "dizuo-malware-scan.service")
        assert again.returncode == 0, f"a mirror outage must not stop the scan: {again.stderr}"
        after = json.loads(_root(debian_host, "cat", "/var/lib/dizuo/malware-status.json").stdout)
    finally:
        signature_mirror(debian_host, "start")
    assert after["update"]["ok"] is False, after["update"]
    assert after["update"]["last_success"] == status["update"]["last_success"], after["update"]
    assert (after["scan"]["ok"], after["scan"]["known_signatures"]) == (True, 1), after["scan"]
    assert (after["found"], after["quarantined"]) == ([], 2), after
