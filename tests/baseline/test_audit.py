"""`dizuo audit` without a booted host: bad input, unreachable hosts, waivers, report formats, check parsing."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fnmatch
import hashlib
import html
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import testinfra
import xmlschema
import yaml
from markdown_it import MarkdownIt
from real_programs import debian_package_tree, network_namespace, real_logrotate
from rich.console import Console

from ctrl_c import dizuo_with_ctrl_c_at
from dizuo.baseline import audit, checks, harden, sh_guards, waivers
from dizuo.baseline.audit import AuditInputError, AuditRun, ready_report_dir
from dizuo.baseline.audit_cli import _print
from dizuo.baseline.catalogue import Scope, packaged
from dizuo.baseline.report import (
    AuditMeta,
    ControlResult,
    Status,
    html_report,
    junit_xml,
    markdown,
    results_json,
    write_reports,
)
from dizuo.baseline.role import audit_query_tool_text
from dizuo.declaration import load
from hosts import BootedHost, write_declaration

DIZUO = str(Path(sys.executable).parent / "dizuo")
CATALOGUE = packaged()
HOST_CONTROLS = [c.id for c in CATALOGUE.for_scope(Scope.HOST)]
YULIN = Path(__file__).resolve().parents[2] / "inventories" / "yulin"


def _dizuo(*args: str, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run dizuo, with ``path`` alone as its PATH when given."""
    env = {**os.environ, "PATH": str(path)} if path is not None else None
    return subprocess.run([DIZUO, *args], capture_output=True, text=True, timeout=300, check=False, env=env)


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def nowhere_host(ssh_key: Path, tmp_path: Path) -> BootedHost:
    """A declared host on a loopback port where nothing listens (the connection is refused at once)."""
    return BootedHost(
        name="yl-test-gone",
        address="127.0.0.1",
        port=_free_loopback_port(),
        user="dzadmin",
        key_path=ssh_key,
        known_hosts=tmp_path / "known_hosts",
        root=tmp_path,
        console_log=tmp_path / "console.log",
        veth="none",
    )


# ---------------------------------------------------------------- bad input


def test_missing_declaration_is_a_clear_error(tmp_path):
    """A missing declaration directory gives exit 2 and names the missing file, no traceback."""
    done = _dizuo("audit", "--inventory", str(tmp_path / "nope"), "--report", str(tmp_path / "r"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{tmp_path / 'nope'}: not a directory holding a city declaration" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_limit_is_a_clear_error(nowhere_host, tmp_path):
    """--limit naming no host or group gives exit 2 and says which word matched nothing."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    done = _dizuo("audit", "-i", str(city), "--report", str(tmp_path / "r"), "--limit", "yl-test-gone,yl-nope-*")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "'yl-nope-*' matches no host" in done.stderr
    assert not (tmp_path / "r").exists(), "no report is written when the input is bad"


@pytest.mark.parametrize("limit", ["all:!loghost", "zone_extranet,yl-db-*", "~yl-(gw|exch)-01", "all:&loghost"])
def test_audit_limit_selects_the_hosts_harden_limit_selects(limit):
    """`dizuo audit --limit` reads an Ansible host pattern as `dizuo harden --limit` does (exclusions, regexes,
    intersections): the hosts audited after a hardening run are the ones it converged."""
    declaration = load(YULIN)
    audited = [h.name for h in audit.select_hosts(declaration, limit)]
    assert audited, limit
    assert sorted(audited) == sorted(harden.hosts_matching(declaration, limit)), limit


def test_an_audit_without_an_ssh_client_says_so_and_checks_nothing(nowhere_host, tmp_path):
    """A runner without an ssh client is the runner's problem, not the hosts': exit 2 with one message naming the
    missing program and the hosts it would reach, and no report of every control as an ERROR."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    without_ssh = tmp_path / "bin"
    without_ssh.mkdir()
    done = _dizuo("audit", "-i", str(city), "--report", str(tmp_path / "r"), path=without_ssh)
    assert done.returncode == 2, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert "no `ssh` on PATH: the audit reaches yl-test-gone with it" in message, message
    assert "Traceback" not in done.stderr
    assert "ERROR" not in done.stdout, done.stdout
    assert not (tmp_path / "r").exists(), "no report is written when nothing could be checked"


def test_report_path_that_is_a_file_is_a_clear_error(nowhere_host, tmp_path):
    """--report pointing at a file gives exit 2 and leaves the file as it was."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    done = _dizuo("audit", "-i", str(city), "--report", str(target))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--report {target}: exists and is not a directory" in done.stderr
    assert target.read_text() == "keep me"


def test_report_path_that_cannot_be_created_stops_the_audit_before_any_check(nowhere_host, tmp_path):
    """--report under a regular file gives exit 2 naming the path, before the checks run, not a traceback after."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    blocker = tmp_path / "report.txt"
    blocker.write_text("keep me")
    done = _dizuo("audit", "-i", str(city), "--report", str(blocker / "report"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"--report {blocker / 'report'}: cannot write a report there: Not a directory" in done.stderr
    assert "Traceback" not in done.stderr
    assert "auditing" not in done.stderr, "no check ran"


def test_report_dir_is_created_and_proved_writable(tmp_path):
    """ready_report_dir creates the directory (and its parents) and leaves nothing in it."""
    report = tmp_path / "a" / "b"
    ready_report_dir(report)
    assert report.is_dir()
    assert list(report.iterdir()) == [], "the write probe is removed"
    (tmp_path / "file").write_text("")
    with pytest.raises(AuditInputError, match="cannot write a report there"):
        ready_report_dir(tmp_path / "file" / "report")


def test_a_report_directory_holding_files_no_audit_wrote_is_refused_before_any_check(tmp_path):
    """--report naming a directory where the test suite left its junit.xml is refused (the audit would overwrite it),
    the file left as it was; an empty directory and one holding a previous audit's report are taken."""
    ci_reports = tmp_path / "reports"
    ci_reports.mkdir()
    (ci_reports / "junit.xml").write_text("<testsuites name='pytest'/>")
    (ci_reports / "coverage.xml").write_text("<coverage/>")
    with pytest.raises(AuditInputError, match=r"holds junit\.xml, which no dizuo audit wrote there"):
        ready_report_dir(ci_reports)
    assert (ci_reports / "junit.xml").read_text() == "<testsuites name='pytest'/>"
    results, meta = _results()
    write_reports(results, meta, tmp_path / "last-audit", pytest_log=b"log")
    (tmp_path / "last-audit" / "notes.txt").write_text("the auditor's own notes stay")
    ready_report_dir(tmp_path / "last-audit")
    (tmp_path / "empty").mkdir()
    ready_report_dir(tmp_path / "empty")


def test_bad_baseline_override_names_file_key_and_value(nowhere_host, tmp_path):
    """An out-of-range parameter in city.yaml stops the audit with file, key path and value."""
    city = write_declaration(tmp_path / "city", [nowhere_host], city_baseline={"password_max_days": 400})
    done = _dizuo("audit", "-i", str(city), "--report", str(tmp_path / "r"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "city.yaml: baseline.password_max_days" in done.stderr
    assert "400" in done.stderr


@pytest.mark.parametrize(
    ("document", "where", "says"),
    [
        ("waivers:\n- control: DZ-ZZ-99\n  hosts: ['*']\n  reason: a good reason here\n  expires: 2030-01-01\n"
         "  approved_by: 安全管理员\n",
         "waivers[0].control", "no such control in the catalogue: 'DZ-ZZ-99'"),
        ("waivers:\n- control: DZ-IA-01\n  hosts: ['*']\n  reason: a good reason here\n  expires: soon\n"
         "  approved_by: 安全管理员\n",
         "waivers[0].expires", "'soon'"),
        # A date that does not exist: YAML's own date reader would fail without naming the key.
        ("waivers:\n- control: DZ-IA-01\n  hosts: ['*']\n  reason: a good reason here\n  expires: 2030-02-30\n"
         "  approved_by: 安全管理员\n",
         "waivers[0].expires", "'2030-02-30'"),
        # A date typed as a number: pydantic would read it as Unix seconds.
        ("waivers:\n- control: DZ-IA-01\n  hosts: ['*']\n  reason: a good reason here\n  expires: 20301231\n"
         "  approved_by: 安全管理员\n",
         "waivers[0].expires", "a date is written YYYY-MM-DD (2025-12-31), not as a number: '20301231'"),
        ("waivers:\n- control: DZ-IA-01\n  hosts: ['*']\n  reason: a good reason here\n  expires: 1924905600\n"
         "  approved_by: 安全管理员\n",
         "waivers[0].expires", "not as a number: '1924905600'"),
        # yes is a YAML 1.1 boolean, which Python counts as a number: the message must not say "number".
        ("waivers:\n- control: DZ-IA-01\n  hosts: ['*']\n  reason: a good reason here\n  expires: yes\n"
         "  approved_by: 安全管理员\n",
         "waivers[0].expires", "not as yes or no: 'true'"),
        ("waivers:\n- control: DZ-IA-01\n  hosts: ['*']\n  expires: 2030-01-01\n  approved_by: 安全管理员\n",
         "waivers[0].reason", "Field required"),
        ("waivers:\n- control: DZ-IA-01\n  hosts: []\n  reason: a good reason here\n  expires: 2030-01-01\n"
         "  approved_by: 安全管理员\n",
         "waivers[0].hosts", "at least 1"),
        # Nobody accepted the risk: a waiver without an approver is no waiver.
        ("waivers:\n- control: DZ-IA-01\n  hosts: ['*']\n  reason: a good reason here\n  expires: 2030-01-01\n",
         "waivers[0].approved_by", "Field required"),
        ("waivers:\n- control: DZ-IA-01\n  hosts: ['*']\n  reason: a good reason here\n  expires: 2030-01-01\n"
         "  approved_by: '  '\n",
         "waivers[0].approved_by", "at least 1 character"),
        # A key mistyped: told the key it stands for, once, not also 'approved_by: Field required'.
        ("waivers:\n- control: DZ-IA-01\n  hosts: ['*']\n  reason: a good reason here\n  expires: 2030-01-01\n"
         "  aproved_by: 安全管理员\n",
         "waivers[0].aproved_by", "unknown key (did you mean 'approved_by', a required key missing here?)"),
        ("waivers: [\n", "", "invalid YAML: line 2"),
    ],
)  # fmt: skip
def test_bad_waivers_file_names_file_key_and_value(tmp_path, document, where, says):
    """Every mistake in a waivers file is reported with the file, the key path and the bad value."""
    path = tmp_path / "waivers.yaml"
    path.write_text(document, encoding="utf-8")
    with pytest.raises(waivers.WaiverError) as caught:
        waivers.load(path, CATALOGUE)
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith(f"{path}: {where}".rstrip(": ")) and says in p for p in problems), problems


def test_a_waiver_for_an_undeclared_host_is_an_error(tmp_path):
    """A host name or pattern that matches no declared host would waive nothing, silently: it is refused."""
    path = tmp_path / "waivers.yaml"
    path.write_text(
        "waivers:\n- control: DZ-IA-01\n  hosts: [yl-log-*, ghost-01]\n  reason: 等保测评整改中 (SEC-1)\n"
        "  expires: 2030-01-01\n  approved_by: 安全管理员\n",
        encoding="utf-8",
    )
    with pytest.raises(waivers.WaiverError) as caught:
        waivers.load(path, CATALOGUE, {"yl-log-01", "yl-db-01"})
    assert [str(p) for p in caught.value.problems] == [
        f"{path}: waivers[0].hosts[1]: matches no host of hosts.yaml: 'ghost-01'"
    ]


@pytest.mark.parametrize("scope", [Scope.CLUSTER, Scope.NETWORK, Scope.DATAPOOL])
def test_a_waiver_for_a_control_the_audit_does_not_check_is_an_error(tmp_path, scope):
    """A waiver of a stack control would waive nothing (the host audit never checks it): it is refused."""
    control = CATALOGUE.for_scope(scope)[0].id
    path = tmp_path / "waivers.yaml"
    path.write_text(
        f"waivers:\n- control: {control}\n  hosts: ['*']\n  reason: 等保测评整改中 (SEC-1)\n"
        "  expires: 2030-01-01\n  approved_by: 安全管理员\n",
        encoding="utf-8",
    )
    with pytest.raises(waivers.WaiverError) as caught:
        waivers.load(path, CATALOGUE, {"yl-log-01"})
    assert [str(p) for p in caught.value.problems] == [
        f"{path}: waivers[0].control: a {scope.value} control is checked on the stacks, not on hosts, "
        f"so a waiver of it would waive nothing: '{control}'"
    ]


def test_bad_waivers_file_stops_the_cli(nowhere_host, tmp_path):
    """`dizuo audit --waivers` with a bad file exits 2 before touching any host."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    bad = tmp_path / "waivers.yaml"
    bad.write_text("waivers:\n- control: DZ-IA-01\n  hosts: ['*']\n  reason: short\n  expires: 2030-01-01\n")
    done = _dizuo("audit", "-i", str(city), "--report", str(tmp_path / "r"), "--waivers", str(bad))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{bad}: waivers[0].reason" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_control_is_a_clear_error(nowhere_host, tmp_path):
    """--controls naming no host control gives exit 2, names it and lists the host controls; no report."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    done = _dizuo("audit", "-i", str(city), "--report", str(tmp_path / "r"), "--controls", "DZ-AU-01,DZ-AU-99,DZ-K8-01")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "DZ-AU-99, DZ-K8-01" in done.stderr, done.stderr
    assert "DZ-AU-01" in done.stderr.split("the host controls are", 1)[1], "the valid ids are listed"
    assert not (tmp_path / "r").exists(), "no report is written when the input is bad"


# ---------------------------------------------------------- unreachable host


def test_unreachable_host_fails_every_control_with_the_reason(nowhere_host, tmp_path):
    """A host the audit cannot reach fails (exit 1): every control is an error saying why (once), none passes."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    report = tmp_path / "report"
    done = _dizuo("audit", "-i", str(city), "--report", str(report))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))["results"]
    assert sorted(r["control"] for r in results) == sorted(HOST_CONTROLS)
    for result in results:
        assert result["status"] == "error", f"{result['control']} on an unreachable host: {result['status']}"
        assert "cannot run commands as root over SSH" in " ".join(result["problems"]), result["problems"]
    said = results[0]["problems"][0]
    assert said.startswith("the check could not run: cannot run commands as root over SSH: "), "said once, plainly"


def test_an_audit_run_describes_each_control_it_checked_once(nowhere_host, tmp_path):
    """A real audit run's reports carry the catalogue's description of each control it checked (--controls), once
    for all hosts, in the order checked: what the audit reads and the remediation with its harden command."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    report = tmp_path / "report"
    done = _dizuo("audit", "-i", str(city), "--report", str(report), "--controls", "DZ-AU-01,DZ-IA-01")
    assert done.returncode == 1, done.stdout + done.stderr
    described = json.loads((report / "results.json").read_text(encoding="utf-8"))["meta"]["controls"]
    assert [(d["control"], d["checked"]) for d in described] == [
        (c.id, c.evidence) for c in CATALOGUE.select(Scope.HOST, ["DZ-AU-01", "DZ-IA-01"])
    ]
    md = (report / "report.md").read_text(encoding="utf-8")
    section = md.split("## Controls: what the audit reads and how to fix a failure", 1)[1]
    assert [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| DZ-")] == [
        f"| {d['control']}" for d in described
    ]
    assert "dizuo harden -i &lt;declaration&gt; --controls DZ-AU-01: role tag auditd" in section


def test_an_audit_report_says_which_controls_the_stacks_policy_pack_checks_instead(nowhere_host, tmp_path):
    """The host audit's reports name every control of the catalogue that is no host's (network, cluster, data pool)
    as checked by the policy pack, not by this audit: an auditor sees where each catalogue control is checked."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    report = tmp_path / "report"
    done = _dizuo("audit", "-i", str(city), "--report", str(report), "--controls", "DZ-IA-01")
    assert done.returncode == 1, done.stdout + done.stderr
    elsewhere = [c.id for c in CATALOGUE.controls if c.scope is not Scope.HOST]
    md = (report / "report.md").read_text(encoding="utf-8")
    note = next(line for line in md.splitlines() if line.startswith("- Not checked by this audit:"))
    assert all(control in note for control in elsewhere), note
    assert "policy pack" in note
    assert note[2:] in html.unescape((report / "report.html").read_text(encoding="utf-8"))


def test_a_host_reached_without_ssh_that_cannot_run_commands_as_root_is_not_said_to_be_reached_over_ssh(tmp_path):
    """A host declared with ansible_connection local whose commands cannot run as root (here: no sudo on the PATH the
    audit runs with) fails every control saying it was reached locally, not 'over SSH', which it never used."""
    city = write_declaration(tmp_path / "city", [], host_vars={"ansible_connection": "local"})
    hosts = yaml.safe_load((city / "hosts.yaml").read_text(encoding="utf-8"))
    hosts["hosts"] = [
        {"name": "yl-self-01", "address": "10.64.1.99", "zone": "management", "os": "Debian 12", "arch": "x86_64"}
    ]
    (city / "hosts.yaml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    no_sudo = tmp_path / "bin"  # the audit puts dizuo's own folder first; nothing else, so no sudo
    no_sudo.mkdir()
    report = tmp_path / "report"
    done = _dizuo("audit", "-i", str(city), "--report", str(report), "--controls", "DZ-IA-01", path=no_sudo)
    assert done.returncode == 1, done.stdout + done.stderr
    (result,) = json.loads((report / "results.json").read_text(encoding="utf-8"))["results"]
    assert result["status"] == "error"
    assert result["problems"][0].startswith(
        "the check could not run: cannot run commands as root locally (ansible_connection local) (exit 127): "
    ), result["problems"]
    assert "SSH" not in result["problems"][0]


def test_an_interrupted_audit_says_the_previous_reports_are_left_unchanged(nowhere_host, tmp_path):
    """Ctrl-C while the hosts are checked ends `dizuo audit` with 130 and one line saying the previous audit's reports
    in --report are left unchanged, which they are."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    report = tmp_path / "report"
    results, meta = _results()
    write_reports(results, meta, report, b"the previous audit's log\n")
    before = {p.name: p.read_bytes() for p in report.iterdir()}
    done = dizuo_with_ctrl_c_at("dizuo.baseline.audit:_run_checks", "audit", "-i", str(city), "--report", str(report))
    assert done.returncode in (130, -signal.SIGINT), done.stderr[-2000:]
    said = " ".join(done.stderr.split())  # rich wraps a long line at 80 columns in a pipe
    assert f"interrupted: the previous reports in {report} are left unchanged" in said, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert {p.name: p.read_bytes() for p in report.iterdir()} == before


def test_an_audit_whose_reports_the_full_disk_cannot_take_says_so_and_fails(nowhere_host, tmp_path):
    """When the report directory's disk is full once the checks have run, `dizuo audit` shows the results, says in
    one line that the reports could not be written (no traceback), exits 1 so that CI fails, and leaves the previous
    audit's reports and pytest.log as they were."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("a full disk is a tmpfs mounted in a private mount namespace (unshare -m): root and unshare")
    city = write_declaration(tmp_path / "city", [nowhere_host])
    before, report, after = tmp_path / "before", tmp_path / "report", tmp_path / "after"
    results, meta = _results()
    write_reports(results, meta, before)
    (before / "pytest.log").write_text("the previous audit's log\n")
    report.mkdir()
    # The directory proves writable (an empty file fits), then the disk has no room left for any report; what it
    # holds after the audit is copied out of the namespace.
    script = (
        'report=$1 before=$2 after=$3; shift 3; mount -t tmpfs -o size=64k tmpfs "$report" || exit 99; '
        'cp -a "$before"/. "$report" && { cat /dev/zero > "$report/filler"; } 2>/dev/null; '
        '"$@"; rc=$?; rm "$report/filler" && cp -a "$report"/. "$after" && exit $rc'
    )
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", str(report), str(before), str(after),
         DIZUO, "audit", "-i", str(city), "--report", str(report), "--controls", "DZ-IA-01"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert f"--report {report}: cannot write the reports: No space left on device" in done.stderr, done.stderr
    assert "yl-test-gone" in done.stdout, "the results are shown all the same"
    assert sorted(p.name for p in after.iterdir()) == sorted(p.name for p in before.iterdir()), "no temporary file"
    for kept in before.iterdir():
        assert (after / kept.name).read_bytes() == kept.read_bytes(), f"{kept.name} of the previous audit changed"


class _SilentSshServer:
    """An SSH server on 127.0.0.1 that sends its banner and then never says another word (a hung host)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):  # the listener is closed at the end of the test
            while True:
                connection, _ = self.listener.accept()
                connection.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
                self.connections.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def hung_host(nowhere_host: BootedHost) -> Iterator[BootedHost]:
    """A declared host whose SSH server sends its banner and goes silent."""
    server = _SilentSshServer()
    yield replace(nowhere_host, name="yl-test-hung", port=server.port)
    server.close()


def _ssh_processes(port: int) -> list[str]:
    """Command lines of the ssh processes on this machine that connect to the loopback ``port``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            words = cmdline.read_bytes().decode(errors="replace").split("\0")
            if words[0].endswith("ssh") and any(f"Port={port}" in w for w in words):
                found.append(" ".join(words))
    return found


def _audit_in_process(city: Path, report: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The results of an audit of DZ-IA-01 and DZ-IA-02, by (host, control)."""
    prepared = audit.prepare_audit(city, controls=["DZ-IA-01", "DZ-IA-02"])
    run = audit.run_audit(prepared, report)
    return {(r.host, r.control): dataclasses.asdict(r) for r in run.results}


def test_a_hung_host_is_given_up_at_its_deadline_and_the_audit_goes_on(hung_host, nowhere_host, tmp_path, monkeypatch):
    """A host that sends its SSH banner and goes silent is given up after the per-host deadline: its controls say
    the audit timed out while checking it (pytest.log too), the next host is still checked, no ssh is left."""
    monkeypatch.setattr(audit, "HOST_TIMEOUT_S", 10)
    city = write_declaration(tmp_path / "city", [hung_host, nowhere_host])
    results = _audit_in_process(city, tmp_path / "report")
    timed_out = "no result: audit timed out after 10 s while checking yl-test-hung"
    for control in ("DZ-IA-01", "DZ-IA-02"):
        assert results[("yl-test-hung", control)]["problems"] == (timed_out,), results[("yl-test-hung", control)]
        gone = results[(nowhere_host.name, control)]
        assert "cannot run commands as root over SSH" in " ".join(gone["problems"]), "the next host was tried"
    assert "audit timed out after 10 s while checking yl-test-hung" in (tmp_path / "report/pytest.log").read_text()
    assert _ssh_processes(hung_host.port) == [], "the hung host's ssh commands were ended with pytest"


def test_a_silent_connection_ends_by_ssh_keepalives_before_the_host_deadline(hung_host, tmp_path, monkeypatch):
    """ssh probes a silent server (during the key exchange too) and gives up: the host is reported unreachable
    with ssh's reason, well before the host deadline would stop it."""
    monkeypatch.setattr(audit, "SSH_KEEPALIVE", "-o ServerAliveInterval=1 -o ServerAliveCountMax=2")
    city = write_declaration(tmp_path / "city", [hung_host])
    results = _audit_in_process(city, tmp_path / "report")
    said = results[("yl-test-hung", "DZ-IA-01")]["problems"]
    assert said[0].startswith("the check could not run: cannot run commands as root over SSH"), said
    assert "timed out" in said[0], said


def test_controls_option_audits_only_those_controls(nowhere_host, tmp_path):
    """--controls audits and reports exactly the controls named, in catalogue order, whatever order given."""
    city = write_declaration(tmp_path / "city", [nowhere_host])
    report = tmp_path / "report"
    done = _dizuo("audit", "-i", str(city), "--report", str(report), "--controls", "DZ-AU-02, DZ-AU-01")
    assert done.returncode == 1, done.stdout + done.stderr
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))["results"]
    assert [r["control"] for r in results] == ["DZ-AU-01", "DZ-AU-02"]


def test_an_audit_limited_to_some_controls_and_hosts_names_what_it_left_out():
    """--controls and --limit make a partial audit: it names the controls it checked and the hosts it did not, so a
    report cannot be read as the whole baseline passing; a whole audit leaves nothing out."""
    whole = audit.prepare_audit(YULIN)
    assert whole.left_out == ()
    declared = [h.name for h in load(YULIN).inventory.hosts]
    partial = audit.prepare_audit(YULIN, limit="all:!loghost", controls=["DZ-AU-02", "DZ-AU-01"])
    assert partial.left_out == (
        f"{len(HOST_CONTROLS) - 2} of the {len(HOST_CONTROLS)} host controls were not checked "
        "(--controls DZ-AU-01,DZ-AU-02)",
        f"1 of the {len(declared)} declared hosts were not checked (--limit all:!loghost): "
        f"{next(h for h in declared if h not in {h.name for h in partial.hosts})}",
    )


def test_reports_of_a_partial_audit_say_so_with_the_verdict():
    """A partial audit that passed reads 'PASSED (partial audit)' in every report's headline and on the console,
    with what it left out beside it: never the bare PASSED of the whole baseline."""
    results, meta = _results()
    passed = [r for r in results if not r.status.failing]
    gap = "38 of the 40 host controls were not checked (--controls DZ-IA-01,DZ-AU-01)"
    meta = replace(meta, left_out=(gap,))
    md, page, junit = markdown(passed, meta), html_report(passed, meta), junit_xml(passed, meta)
    assert md.splitlines()[0].endswith(": PASSED (partial audit)"), md.splitlines()[0]
    assert f"- **Partial audit**: {gap}" in md
    assert "PASSED (partial audit)</h1>" in page
    assert f"<b>Partial audit</b>: {gap}" in page
    root = ET.fromstring(junit)  # noqa: S314 - XML we just generated
    assert root.get("name", "").endswith("(partial audit)"), root.get("name")
    buffer = io.StringIO()
    _print(AuditRun(results=passed, meta=meta, reports=[]), Console(file=buffer, width=300))
    said = f"partial audit: {gap}\naudit PASSED (partial audit): not verified on 1 host(s)"
    assert said in buffer.getvalue(), buffer.getvalue()


def test_an_audit_that_verified_nothing_does_not_pass_unless_allowed():
    """An audit whose every control is NOT VERIFIED (the kernel audit controls checked on containers) showed nothing
    in force: every report's headline and the console read NOT VERIFIED and it fails (exit 1), not PASSED; with
    --allow-unverified it passes as before, and says so; one verified control among them passes as documented."""
    results, meta = _results()
    unverified = [r for r in results if r.status is Status.NOT_VERIFIED]
    unverified += [replace(r, host="h2") for r in unverified]
    md, page = markdown(unverified, meta), html_report(unverified, meta)
    assert md.splitlines()[0].endswith(": NOT VERIFIED"), md.splitlines()[0]
    assert "NOT VERIFIED</h1>" in page
    run = AuditRun(results=unverified, meta=meta, reports=[])
    assert not run.passed, "an audit that verified nothing is no pass"
    buffer = io.StringIO()
    _print(run, Console(file=buffer, width=300))
    assert "audit NOT VERIFIED: no control could be verified on the audited hosts" in buffer.getvalue()
    assert "--allow-unverified" in buffer.getvalue()

    allowed = AuditRun(results=unverified, meta=replace(meta, allow_unverified=True), reports=[])
    assert allowed.passed
    assert (
        markdown(allowed.results, allowed.meta)
        .splitlines()[0]
        .endswith(": PASSED (nothing verified, --allow-unverified)")
    )

    passing = [r for r in results if r.status is Status.PASS]
    some_verified = AuditRun(results=passing + unverified, meta=meta, reports=[])
    assert some_verified.passed, "NOT VERIFIED beside verified controls passes, as the README says"
    assert markdown(some_verified.results, meta).splitlines()[0].endswith(": PASSED")


def test_a_console_pass_names_the_controls_left_not_verified():
    """The console's last line, what a CI log shows of a passing audit, names the controls that could not be
    verified and on how many hosts, not only the summary table's count: PASSED is no pass of those."""
    results, meta = _results()
    unverified = [r for r in results if r.status is Status.NOT_VERIFIED]
    unverified += [replace(r, host="h2") for r in unverified] + [replace(unverified[0], control="DZ-AU-06")]
    passing = [r for r in results if r.status is Status.PASS]
    buffer = io.StringIO()
    _print(AuditRun(results=passing + unverified, meta=meta, reports=[]), Console(file=buffer, width=300))
    last = buffer.getvalue().splitlines()[-1]
    assert last == "audit PASSED: not verified on 2 host(s), verify on a VM or bare metal: DZ-AU-01, DZ-AU-06", last
    buffer = io.StringIO()
    _print(AuditRun(results=passing, meta=meta, reports=[]), Console(file=buffer, width=300))
    assert buffer.getvalue().splitlines()[-1] == "audit PASSED"


def test_results_json_gives_the_verdict_and_exit_of_the_other_reports():
    """results.json says what report.md's headline and the exit code say (FAILED, NOT VERIFIED, PASSED; passed or
    not) and how many results have each status, the counts adding up to its results: a tool reading it gets the
    audit's verdict, not a list of results to judge again."""
    results, meta = _results()
    unverified = [r for r in results if r.status is Status.NOT_VERIFIED]
    passing = [r for r in results if r.status is Status.PASS]
    for chosen, headline, passed in (
        (results, "FAILED", False),
        (unverified, "NOT VERIFIED", False),
        (passing + unverified, "PASSED", True),
    ):
        document = json.loads(results_json(chosen, meta))
        assert markdown(chosen, meta).splitlines()[0].endswith(f": {headline}")
        assert (document["verdict"], document["passed"]) == (headline, passed)
        assert AuditRun(results=chosen, meta=meta, reports=[]).passed is passed
        assert sum(document["summary"].values()) == len(document["results"]) == len(chosen)
        assert document["summary"]["not_verified"] == len(unverified)


# ------------------------------------------------------------------- waivers


PILOT_WAIVER = waivers.Waiver(
    control="DZ-IA-01",
    hosts=("yl-*",),
    reason="accepted for the pilot",
    expires=dt.date(2030, 1, 1),
    approved_by="安全管理员",
)


def test_waiver_holds_through_its_expiry_day():
    """A waiver is valid on its expiry date and expired the day after."""
    waiver = PILOT_WAIVER
    assert not waiver.expired(dt.date(2030, 1, 1))
    assert waiver.expired(dt.date(2030, 1, 2))
    assert waiver.covers("DZ-IA-01", "yl-db-01")
    assert not waiver.covers("DZ-IA-01", "xa-db-01"), "host patterns are matched, not prefixes of anything"
    assert not waiver.covers("DZ-IA-02", "yl-db-01")


def test_a_waiver_expires_at_midnight_in_the_city_not_on_the_runner():
    """At 01:00 on 2 January in Yulin a CI runner in UTC still sees 1 January: the waiver that ended on the 1st is
    expired all the same, and it is still valid at 23:59 on the 1st in Yulin (15:59 UTC)."""
    waiver = PILOT_WAIVER
    after = dt.datetime(2030, 1, 1, 17, 0, tzinfo=dt.UTC)
    assert after.date() == dt.date(2030, 1, 1), "the runner's own date"
    assert waiver.expired(audit.city_date(after))
    assert not waiver.expired(audit.city_date(dt.datetime(2030, 1, 1, 15, 59, tzinfo=dt.UTC)))


def test_a_waiver_of_a_control_that_could_not_be_checked_is_named_not_applied(tmp_path):
    """A waiver of a control that was not verified or whose check could not run accepts nothing: the status stays
    NOT VERIFIED or ERROR, and the report names the waiver as not applied instead of leaving no trace of it."""
    results, meta = _results()
    signed = waivers.Waivers(
        "w.yaml",
        (
            PILOT_WAIVER.model_copy(update={"control": "DZ-AU-01", "hosts": ("h1",)}),
            PILOT_WAIVER.model_copy(update={"hosts": ("h2",)}),
        ),
    )
    not_verified = next(r for r in results if r.status is Status.NOT_VERIFIED)
    error = next(r for r in results if r.status is Status.ERROR)
    error = replace(error, control="DZ-IA-01")
    today = dt.date(2029, 1, 1)
    seen = [audit._apply_waiver(r, signed, today) for r in (not_verified, error)]
    assert [r.status for r in seen] == [Status.NOT_VERIFIED, Status.ERROR]
    said = "waiver until 2030-01-01 (accepted for the pilot, approved by 安全管理员) not applied"
    assert seen[0].note.startswith("container; " + said), seen[0].note
    assert seen[1].note.startswith(said), seen[1].note
    md = markdown(seen, meta)
    assert md.count(said) == 2, md
    root = ET.fromstring(junit_xml(seen, meta))  # noqa: S314 - XML we just generated
    assert all(said in (element.get("message") or "") for element in (*root.iter("skipped"), *root.iter("error")))


def test_unexpired_waiver_wins_over_an_expired_one():
    """When an old and a renewed waiver both cover a control, the renewed one applies."""
    common = {"control": "DZ-IA-01", "approved_by": "安全管理员"}
    old = waivers.Waiver(hosts=("*",), reason="first acceptance", expires=dt.date(2020, 1, 1), **common)
    new = waivers.Waiver(hosts=("yl-a",), reason="renewed acceptance", expires=dt.date(2030, 1, 1), **common)
    found = waivers.Waivers("w.yaml", (old, new)).find("DZ-IA-01", "yl-a")
    assert found == new


# ------------------------------------------------------------------- reports


def _results() -> tuple[list[ControlResult], AuditMeta]:
    common = {"clause": "8.1.4.1 a)", "title_zh": "标题", "title_en": "Title"}
    results = [
        ControlResult(host="h1", control="DZ-IA-01", status=Status.PASS, evidence=("UID 0: root",), **common),
        ControlResult(host="h1", control="DZ-IA-02", status=Status.FAIL, problems=("x | <script>",), **common),
        ControlResult(host="h1", control="DZ-AU-01", status=Status.NOT_VERIFIED, note="container", **common),
        ControlResult(
            host="h2", control="DZ-IA-01", status=Status.WAIVED, note="waived until 2030-01-01: ok", **common
        ),
        ControlResult(host="h2", control="DZ-IA-02", status=Status.ERROR, problems=("cannot reach",), **common),
    ]
    meta = AuditMeta(
        city="榆林市 (yulin)",
        inventory="inventories/yulin",
        hosts=("h1", "h2"),
        started=dt.datetime(2025, 5, 20, 10, 0, tzinfo=dt.UTC),
        waivers="(none)",
        catalogue_version=1,
    )
    return results, meta


def test_junit_marks_each_status_the_way_ci_reads_it():
    """fail -> <failure>, error -> <error>, waived / not verified -> <skipped> with the reason; pass -> nothing."""
    results, meta = _results()
    root = ET.fromstring(junit_xml(results, meta))  # noqa: S314 - XML we just generated
    assert root.get("tests") == "5"
    assert (root.get("failures"), root.get("errors")) == ("1", "1")
    assert [suite.get("skipped") for suite in root.iter("testsuite")] == ["1", "1"]
    cases = {(c.get("classname"), c.get("name", "").split()[0]): c for c in root.iter("testcase")}
    assert len(cases) == 5, "one testcase per control × host"
    assert cases[("h1.DZ-IA-02", "DZ-IA-02")].find("failure") is not None
    assert cases[("h2.DZ-IA-02", "DZ-IA-02")].find("error") is not None
    skipped = cases[("h2.DZ-IA-01", "DZ-IA-01")].find("skipped")
    assert skipped is not None
    assert "waived until 2030-01-01" in skipped.get("message", "")
    passed = cases[("h1.DZ-IA-01", "DZ-IA-01")]
    assert [child.tag for child in passed] == ["system-out"], "a pass carries only its evidence"
    h1 = next(suite for suite in root.iter("testsuite") if suite.get("name") == "h1")
    properties = {p.get("name"): p.get("value") for p in h1.iter("property")}
    assert properties["DZ-IA-02 clause"] == "8.1.4.1 a)"
    assert properties["DZ-IA-02 status"] == "fail"


def test_each_report_says_once_why_a_control_was_not_verified():
    """A not-verified control's result holds the reason alone, as the check gave it (or the catalogue's): junit.xml's
    skipped message, what CI lists for the testcase, says NOT VERIFIED once and then why, and report.md's row says
    the status in its column and the reason beside it, never 'not verified: ' again."""
    results, meta = _results()
    reason = "host is a container (docker): no kernel of its own"
    record = {"status": "not_verified", "evidence": [reason], "problems": []}
    item = {"host": "h2", "control": "DZ-AU-01"}
    not_verified = audit._result(packaged().control("DZ-AU-01"), item, {("h2", "DZ-AU-01"): record}, {})
    assert not_verified.note == reason
    root = ET.fromstring(junit_xml([*results, not_verified], meta))  # noqa: S314 - XML we just generated
    messages = [skipped.get("message", "") for skipped in root.iter("skipped")]
    assert messages == [
        "NOT VERIFIED: container",
        "WAIVED: waived until 2030-01-01: ok",
        f"NOT VERIFIED: {reason}",
    ]
    (row,) = [line for line in markdown([not_verified], meta).splitlines() if line.startswith("| DZ-AU-01 ")]
    assert row.lower().count("not verified") == 1, row
    assert row.endswith(f"| **NOT VERIFIED** | **{reason}** |"), row


def test_junit_is_valid_against_the_schema_ci_servers_read():
    """junit.xml validates against the JUnit schema Jenkins' xunit plugin and pytest's own tests read (junit-10.xsd,
    vendored under tests/baseline/schemas with its MIT licence): a CI server refuses or misreads what it does not
    take (properties on a testcase, a skipped count on testsuites)."""
    schema = xmlschema.XMLSchema(Path(__file__).parent / "schemas" / "junit-10.xsd")
    results, meta = _results()
    problems = [f"{error.path}: {error.reason}" for error in schema.iter_errors(junit_xml(results, meta))]
    assert problems == [], "\n".join(problems)


def test_human_reports_escape_evidence():
    """Evidence text cannot break the Markdown table or inject HTML."""
    results, meta = _results()
    md, page = markdown(results, meta), html_report(results, meta)
    assert "x \\| &lt;script&gt;" in md
    assert "<script>" not in page
    assert "FAILED" in md.splitlines()[0]


def test_reports_are_replaced_whole(tmp_path):
    """write_reports leaves exactly the report files, no temporary leftovers."""
    results, meta = _results()
    (tmp_path / "junit.xml").write_text("old")
    write_reports(results, meta, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "report.html", "report.md", "results.json"]
    assert (tmp_path / "junit.xml").read_text().startswith("<?xml")


def test_reports_of_a_declaration_folder_named_in_gbk_are_written(tmp_path):
    """A declaration folder whose name is GBK bytes (榆林, unpacked from an archive made on Windows) loads, so its
    audit writes every report: results.json shows the bytes that are no UTF-8 as the other reports do, instead of
    failing to encode them after the whole audit has run."""
    results, meta = _results()
    folder = os.fsdecode("inventories/榆林".encode("gbk"))
    meta = replace(meta, inventory=folder, waivers=f"{folder}/waivers.yaml")
    write_reports(results, meta, tmp_path)
    shown = "inventories/\\udcd3\\udcdc\\udcc1\\udcd6"
    written = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert (written["meta"]["inventory"], written["meta"]["waivers"]) == (shown, f"{shown}/waivers.yaml")
    for report in ("report.md", "report.html"):
        assert shown in (tmp_path / report).read_text(encoding="utf-8"), report


# Run inside a private mount namespace, with argv[1] a 64 KiB tmpfs: the reports of a failing audit, then the disk
# filled but for 12 KiB (room for the new junit.xml, not for the whole new set), then the reports of a passing audit.
_REPORTS_ON_A_FULL_DISK = """
import datetime as dt, os, shutil, sys
from pathlib import Path
from dizuo.baseline.report import AuditMeta, ControlResult, Status, write_reports
disk, copy = Path(sys.argv[1]), Path(sys.argv[2])
meta = AuditMeta("yulin", "inventories/yulin", ("h1",), dt.datetime(2030, 1, 1, tzinfo=dt.UTC), "(none)", 1)
common = {"host": "h1", "control": "DZ-IA-01", "clause": "8.1.4.1 a)", "title_zh": "t", "title_en": "t"}
write_reports([ControlResult(status=Status.FAIL, problems=("old audit",), **common)], meta, disk)
with (disk / "filler").open("wb", buffering=0) as filler:
    try:
        while True:
            filler.write(b"x" * 4096)
    except OSError:
        pass
os.truncate(disk / "filler", (disk / "filler").stat().st_size - 12 * 1024)
try:
    write_reports([ControlResult(status=Status.PASS, evidence=("e" * 6000,), **common)], meta, disk)
except OSError as exc:
    print(exc.strerror)
(disk / "filler").unlink()
shutil.copytree(disk, copy)
"""


def test_reports_on_a_full_disk_are_those_of_the_last_audit_whole(tmp_path):
    """A disk that fills while the reports are written leaves the previous audit's reports, all of them, as they
    were: never this audit's junit.xml (say, PASSED) beside the last audit's report.html (FAILED), nor a temporary
    file."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("a small disk is a tmpfs mounted in a private mount namespace (unshare -m): root and unshare")
    disk, copy = tmp_path / "disk", tmp_path / "after"
    disk.mkdir()
    script = tmp_path / "full_disk.py"
    script.write_text(_REPORTS_ON_A_FULL_DISK)
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" "$3" "$1" "$4"',
         "sh", str(disk), sys.executable, str(script), str(copy)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "No space left on device", "the disk did fill while the new reports were written"
    assert sorted(p.name for p in copy.iterdir()) == ["junit.xml", "report.html", "report.md", "results.json"]
    for report in copy.iterdir():
        text = report.read_text(encoding="utf-8")
        assert "old audit" in text, f"{report.name} is no longer the last audit's report"


def _hostile_result() -> tuple[ControlResult, AuditMeta]:
    """What a host can print: a process name with a terminal escape, NUL, form feed, CRLF line ends."""
    result = ControlResult(
        host="h1",
        control="DZ-IP-02",
        clause="8.1.4.5 b)",
        title_zh="端口",
        title_en="Listeners",
        status=Status.FAIL,
        evidence=('0.0.0.0:4444 users:(("x\x1b[8mevil",pid=9))', "active = yes\r\ndirection = out\r\n", "a\x00b"),
        problems=("not allowed: 4444/tcp (x\x1b[8mevil)", "page\x0cbreak"),
        note="waiver expired\x07",
    )
    _, meta = _results()
    return result, replace(meta, hosts=("h1",))


def test_junit_stays_well_formed_whatever_the_host_printed():
    """Control characters from a host are written as visible escapes: CI must still parse junit.xml."""
    result, meta = _hostile_result()
    root = ET.fromstring(junit_xml([result], meta))  # noqa: S314 - XML we just generated
    case = root.find("testsuite/testcase")
    assert case is not None
    failure, out = case.find("failure"), case.find("system-out")
    assert failure is not None
    assert out is not None
    assert "x\\x1b[8mevil" in (out.text or ""), out.text
    assert "a\\x00b" in (out.text or ""), out.text
    assert "page\\x0cbreak" in failure.get("message", ""), failure.get("message")
    assert "waiver expired\\x07" in (failure.text or ""), failure.text


def test_junit_keeps_a_carriage_return_as_the_host_printed_it():
    """XML parsers read a raw CR as a line feed: evidence with CRLF or a lone CR reads back from junit.xml as the host
    printed it, as the other reports show it, not with its line ends changed."""
    result, meta = _hostile_result()
    result = replace(result, evidence=(*result.evidence, "one\rtwo"))
    root = ET.fromstring(junit_xml([result], meta))  # noqa: S314 - XML we just generated
    out = root.find("testsuite/testcase/system-out")
    assert out is not None
    assert "active = yes\r\ndirection = out\r\n" in (out.text or ""), repr(out.text)
    assert (out.text or "").endswith("one\rtwo"), repr(out.text)


def test_html_report_shows_control_characters_as_escapes():
    """The HTML report writes a terminal escape as \\x1b, never the byte a browser would hide."""
    result, meta = _hostile_result()
    page = html_report([result], meta)
    assert "x\\x1b[8mevil" in page
    assert "\x1b" not in page
    assert "\x00" not in page


def test_markdown_row_survives_any_line_break():
    """CR, CRLF, U+2028 and the other line breaks in evidence stay inside their table row."""
    result, meta = _hostile_result()
    result = replace(result, evidence=(*result.evidence, "one\rtwo", "three\u2028four", "five\x85six|seven"))
    md = markdown([result], meta)
    rows = [line for line in md.splitlines() if line.startswith("| DZ-IP-02 ")]
    assert len(rows) == 1, md
    assert "direction = out<br>" in rows[0]
    page = MarkdownIt("commonmark").enable("table").render(md)
    host_table = page.split("<h2>h1</h2>", 1)[1]
    assert host_table.count("<tr>") == 2, "one header row and one row for the control"
    assert host_table.count("<td>") == 5, "the five columns, none split by a pipe"


def test_markdown_report_shows_host_text_as_written():
    """Evidence read from a host is text in the rendered report: a syslog selector is no emphasis, a Markdown image
    no image, a backtick no code span, a tilde pair no strikethrough; the report's own bold note stays bold."""
    written = [
        "*.* @@10.64.1.20:514",
        "![img](http://evil/x.png) [link](http://evil/)",
        "_a_ `b` ~~c~~ $d$ back\\slash \\*e\\* &amp; <i>f</i> __init__ x_y_ PASS_MAX_DAYS",
    ]
    result, meta = _hostile_result()
    result = replace(result, problems=(), evidence=tuple(written), note="waiver expired on 2030-01-01")
    page = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown([result], meta))
    cell = page.split("<h2>h1</h2>", 1)[1].split("<td>")[5].split("</td>", 1)[0]
    assert cell.startswith("<strong>waiver expired on 2030-01-01</strong><br>"), cell
    shown = [html.unescape(line) for line in cell.split("<br>")[1:]]
    assert shown == written, cell
    assert "PASS_MAX_DAYS" in markdown([result], meta), "an underscore inside a word is left as it is, readable"


def test_every_audited_control_is_shown_once_with_what_is_read_and_how_to_fix_it():
    """Each report shows every control the audit checked once, whatever the number of hosts, with what the audit
    reads as proof and the remediation with the command that applies it (the catalogue's evidence and remediation),
    and a JUnit failure carries its remediation: a FAIL row alone says what is wrong, not what to do about it."""
    host_controls = CATALOGUE.for_scope(Scope.HOST)
    controls = audit.described(CATALOGUE, [*HOST_CONTROLS, HOST_CONTROLS[0]])
    assert [doc.control for doc in controls] == HOST_CONTROLS, "each control once, in the audit's order"
    failing = HOST_CONTROLS[0]
    results = [
        ControlResult(
            host=host,
            status=Status.FAIL if doc.control == failing else Status.PASS,
            problems=("deviation",) if doc.control == failing else (),
            **{name: getattr(doc, name) for name in ("control", "clause", "title_zh", "title_en")},
        )
        for host in ("h1", "h2")
        for doc in controls
    ]
    meta = replace(_results()[1], controls=controls)
    rendered = MarkdownIt("commonmark").enable(["table"]).render(markdown(results, meta))
    section = rendered.split("<h2>Controls: what the audit reads and how to fix a failure</h2>", 1)[1]
    rows = section.split("<tr>")[2:]
    assert [row.split("<td>")[1].split("</td>")[0] for row in rows] == HOST_CONTROLS
    page = html_report(results, meta)
    for control, row in zip(host_controls, rows, strict=True):
        cells = [html.unescape(cell.split("</td>")[0]) for cell in row.split("<td>")[1:]]
        assert cells[3] == control.evidence, control.id
        assert cells[4].startswith(control.remediation.summary), control.id
        assert f"dizuo harden -i <declaration> --controls {control.id}: role tag" in cells[4], control.id
        assert page.count(f"id='{control.id}'") == 1, control.id
        in_page = page.split(f"<tr id='{control.id}'>", 1)[1].split("</tr>", 1)[0]
        assert html.escape(control.remediation.summary) in in_page, control.id
        assert html.escape(control.evidence) in in_page, control.id
    root = ET.fromstring(junit_xml(results, meta))  # noqa: S314 - XML we just generated
    failures = [case.find("failure") for case in root.iter("testcase") if case.find("failure") is not None]
    assert len(failures) == 2, "the failing control on each host"
    summary = next(c for c in host_controls if c.id == failing).remediation.summary
    assert all(f"remediation: {summary}" in (failure.text or "") for failure in failures)
    assert [c["control"] for c in json.loads(results_json(results, meta))["meta"]["controls"]] == HOST_CONTROLS


@pytest.mark.parametrize("inventory", ["/srv/city`s/yulin", "`quoted``/yulin`", "C:\\audit\\榆林"])
def test_markdown_report_shows_the_inventory_path_as_written(inventory: str):
    """The inventory's path is a code span in report.md: a backtick in it (one or a run, at either end) ends no
    span, and a backslash is shown as it is; the rendered page shows the path whole."""
    result, meta = _hostile_result()
    page = MarkdownIt("commonmark").enable("table").render(markdown([result], replace(meta, inventory=inventory)))
    audited = page.split("Audited: ", 1)[1].split("</li>", 1)[0]
    assert html.unescape(audited.split("<code>", 1)[1].split("</code>", 1)[0]) == inventory, audited


def test_console_summary_prints_evidence_verbatim():
    """Brackets in a PAM line are printed, not read as rich markup; a stray [/path] does not crash the summary."""
    result, meta = _hostile_result()
    result = replace(
        result,
        problems=("auth [success=1 default=ignore] pam_unix.so nullok", "cannot read [/etc/pam.d/common-auth]"),
        note="",
    )
    buffer = io.StringIO()
    _print(AuditRun(results=[result], meta=meta, reports=[]), Console(file=buffer, width=300))
    printed = buffer.getvalue()
    assert "auth [success=1 default=ignore] pam_unix.so nullok" in printed, printed
    assert "cannot read [/etc/pam.d/common-auth]" in printed, printed
    assert "audit FAILED: 1 control(s)" in printed


# ------------------------------------------------------------ check parsing


def test_config_values_last_occurrence_wins_and_keys_ignore_case(tmp_path):
    """config_values reads the effective value: comments skipped, last occurrence, case-insensitive keys."""
    conf = tmp_path / "pwquality.conf"
    conf.write_text("# minlen = 20\nminlen = 6\nMINLEN = 12  # raised\nminclass=2\n")
    local = testinfra.get_host("local://")
    expect = [{"key": "minlen", "op": "ge", "value": 8}, {"key": "minclass", "op": "ge", "value": 3}]
    finding = checks.config_values(local, {"path": str(conf), "separator": "=", "expect": expect})
    assert finding.problems == [f"{conf}: minclass is 2, expected ≥ 3"]
    assert f"{conf}: MINLEN = 12  # raised" in finding.evidence


def test_pwquality_drop_ins_are_read_before_the_main_file_which_has_the_last_word(tmp_path):
    """libpwquality reads pwquality.conf.d/*.conf first (strcmp order, names whose first `.conf` ends them) and
    pwquality.conf last: a weak main file wins over a strong drop-in and fails; a weak drop-in under a strong main
    file does not count, and a file libpwquality skips (`90.conf.bak`, `a.conf.conf`) is not read."""
    conf, dropins = tmp_path / "pwquality.conf", tmp_path / "pwquality.conf.d"
    dropins.mkdir()
    local = testinfra.get_host("local://")
    expect = [{"key": "minlen", "op": "ge", "value": 8}]
    args = {"path": str(conf), "dropin_dir": str(dropins), "separator": "=", "expect": expect}
    conf.write_text("minlen = 6\n")
    (dropins / "50-dizuo.conf").write_text("minlen = 12\n")
    assert checks.config_values(local, args).problems == [f"{conf}: minlen is 6, expected ≥ 8"]
    conf.write_text("minlen = 12\n")
    (dropins / "40-vendor.conf").write_text("minlen = 4\n")
    (dropins / "90.conf.bak").write_text("minlen = 1\n")
    assert checks.config_values(local, args).problems == []
    conf.write_text("# minlen from the drop-ins\n")
    (dropins / "zz.conf.conf").write_text("minlen = 2\n")
    assert checks.config_values(local, args).problems == [], "50-dizuo.conf (12) is read after 40-vendor.conf (4)"


def test_nullok_in_any_spelling_fails_and_a_commented_line_does_not(tmp_path):
    """DZ-IA-02: pam_unix with nullok or nullok_secure lets an empty password in; a commented-out line, indented or
    not, is no rule."""
    args = _control_checks("DZ-IA-02", "file_excludes")[0]
    common = tmp_path / "common-auth"
    args["paths"] = [str(common)]
    local = testinfra.get_host("local://")
    common.write_text("auth [success=1 default=ignore] pam_unix.so nullok_secure\n")
    assert checks.file_excludes(local, args).problems == [
        f"{common}: auth [success=1 default=ignore] pam_unix.so nullok_secure"
    ]
    common.write_text("    # auth sufficient pam_unix.so nullok\nauth required pam_unix.so\n")
    assert checks.file_excludes(local, args).problems == []


def test_zero_never_meets_an_upper_limit(tmp_path):
    """A limit set to 0 is switched off (faillock deny=0, TMOUT=0): it fails 'at most N'."""
    conf = tmp_path / "faillock.conf"
    conf.write_text("deny = 0\nunlock_time = 900\n")
    expect = [{"key": "deny", "op": "le", "value": 5}, {"key": "unlock_time", "op": "ge", "value": 900}]
    finding = checks.config_values(
        testinfra.get_host("local://"), {"path": str(conf), "separator": "=", "expect": expect}
    )
    assert finding.problems == [f"{conf}: deny is 0, expected between 1 and 5"]


def test_a_key_the_file_leaves_to_its_program_s_default_is_judged_by_that_default(tmp_path):
    """pam_faillock counts failures within fail_interval (900 s unless set): 1 s would never lock, and fails; unset,
    the default 900 meets 900 but not 1800."""
    conf = tmp_path / "faillock.conf"
    local = testinfra.get_host("local://")

    def problems(text: str, at_least: int) -> list[str]:
        conf.write_text(text)
        expect = [{"key": "fail_interval", "op": "ge", "value": at_least, "unset": 900}]
        return checks.config_values(local, {"path": str(conf), "separator": "=", "expect": expect}).problems

    assert problems("deny = 5\nfail_interval = 1\n", 900) == [f"{conf}: fail_interval is 1, expected ≥ 900"]
    assert problems("deny = 5\n", 900) == []
    assert problems("deny = 5\n", 1800) == [f"{conf}: fail_interval is 900, expected ≥ 1800"]


def test_config_values_missing_file_fails(tmp_path):
    """A missing configuration file is a failure of the control, not a pass."""
    finding = checks.config_values(
        testinfra.get_host("local://"),
        {"path": str(tmp_path / "nope.conf"), "separator": "=", "expect": [{"key": "deny", "op": "le", "value": 5}]},
    )
    assert finding.problems == [f"{tmp_path / 'nope.conf'} does not exist"]


def test_logrotate_blocks_take_paths_before_the_brace():
    """Debian's rsyslog file lists its logs on the lines before '{': all of them belong to the block."""
    text = "/var/log/syslog\n/var/log/auth.log\n{\n\trotate 4\n\tweekly\n\tpostrotate\n\t\trotate 1\n\tendscript\n}\n"
    top, blocks = checks._logrotate_blocks(text)
    assert top == {}
    assert blocks == [(["/var/log/syslog", "/var/log/auth.log"], {"rotate": "4", "period": "weekly"})]


def test_logrotate_retention_reads_every_file_of_the_directory_and_fails_a_log_named_twice(tmp_path, monkeypatch):
    """On openEuler the rsyslog package rotates the syslog files in logrotate.d/rsyslog (syslog on EL 7): a second
    file naming them makes logrotate skip one block and fail daily. The check reads the whole directory, as logrotate
    includes it (backup files skipped; any name, in the C locale too), and fails a log two files name."""
    rotated = tmp_path / "logrotate.d"
    rotated.mkdir()
    keep = "{\n\tdaily\n\trotate 180\n}\n"
    (rotated / "syslog").write_text("/var/log/messages\n/var/log/secure\n" + keep)
    (rotated / "dnf").write_text("/var/log/hawkey.log {\n\tweekly\n\trotate 4\n}\n")
    (rotated / "syslog.rpmsave").write_text("/var/log/messages {\n\trotate 1\n}\n")  # skipped, as logrotate does
    monkeypatch.setenv("LC_ALL", "C")  # the audit's locale, where `ls -q` shows a non-ASCII byte as `?`
    local = testinfra.get_host("local://")
    args = {"path": str(rotated), "logs": ["/var/log/messages", "/var/log/secure"], "min_days": 180}
    finding = checks.logrotate_retention(local, args)
    assert finding.problems == []
    assert any("syslog: /var/log/messages /var/log/secure: daily, rotate 180" in e for e in finding.evidence)
    (rotated / "rsyslog 日志").write_text("/var/log/messages\n" + keep)  # a space and Chinese in its name
    finding = checks.logrotate_retention(local, args)
    assert finding.problems == [
        f"/var/log/messages is rotated by {rotated}/rsyslog 日志 and {rotated}/syslog: logrotate skips the second "
        "(duplicate entry)"
    ]


@pytest.fixture(scope="module")
def logrotate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian 12's real logrotate, to tell how it reads a block (`logrotate -d` prints each block's criterion)."""
    return real_logrotate(tmp_path_factory.mktemp("logrotate"))


@pytest.mark.parametrize(
    ("period", "directives", "logrotate_says", "problem"),
    [
        # openEuler 22.03's stock rsyslog block, under its logrotate.conf's weekly: 30 files of 4 MiB.
        ("weekly", "maxage 365\nrotate 30\nsize +4096k", "4194304 bytes (30 rotations)", "size +4096k replaces the"),
        ("weekly", "weekly\nrotate 30\nsize 4M", "4194304 bytes (30 rotations)", "size 4M replaces the period"),
        ("weekly", "daily\nrotate 180\nmaxsize 100M", "log files >= 104857600 are rotated earlier", "maxsize 100M"),
        ("weekly", "size 4M\nweekly\nrotate 30", "weekly (30 rotations)", None),  # the period written last wins
        ("weekly", "daily\nrotate 180\nminsize 1M", "after 1 days (180 rotations)", None),  # never before the period
        ("weekly", "size 4M\nrotate -1\nmaxage 180", "4194304 bytes empty", None),  # no count deletes; maxage 180
        # No period anywhere: logrotate rotates at 1 MiB on every run (hourly from openEuler's cron.hourly), not daily.
        ("", "rotate 180", "1048576 bytes (180 rotations)", "no period is written"),
        ("", "rotate -1\nmaxage 180", "1048576 bytes empty", None),
        ("daily", "rotate 180", "after 1 days (180 rotations)", None),  # logrotate.conf's period applies
    ],
)
def test_a_block_rotated_by_size_keeps_no_number_of_days(
    tmp_path, logrotate, period, directives, logrotate_says, problem
):
    """`size` after the period (or `maxsize`), or no period written at all, makes logrotate rotate whenever the log
    fills up, so `rotate` files span no number of days: such a block fails DZ-AU-05 unless no count deletes its files
    (rotate -1) and maxage keeps the minimum; `size` before the period and `minsize` keep rotation by time. Each block
    is read by the real logrotate too, which must see it the same way."""
    conf, rotated = tmp_path / "logrotate.conf", tmp_path / "logrotate.d"
    conf.write_text(f"{period}\nrotate 4\ninclude {rotated}\n")
    rotated.mkdir()
    (rotated / "rsyslog").write_text(f"/var/log/messages\n{{\n{directives}\nmissingok\n}}\n")
    said = subprocess.run(
        [str(logrotate), "-d", "--state", str(tmp_path / "status"), str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert said.returncode == 0, said.stderr
    assert logrotate_says in said.stderr + said.stdout
    local = testinfra.get_host("local://")

    class _Host:  # this machine, with the test's logrotate.conf in the place of /etc/logrotate.conf
        file = local.file

        @staticmethod
        def run(command: str, *args: str) -> Any:
            return local.run(command, *[str(conf) if a == "/etc/logrotate.conf" else a for a in args])

    args = {"path": str(rotated), "logs": ["/var/log/messages"], "min_days": 180}
    finding = checks.logrotate_retention(_Host(), args)  # type: ignore[arg-type]
    if problem is None:
        assert finding.problems == [], finding.evidence
    else:
        assert len(finding.problems) == 1, finding.problems
        assert problem in finding.problems[0]
        assert any(f"keeps {n} rotated files whatever their age" in finding.problems[0] for n in (30, 180))
        assert "rotate × period is no number of days" in finding.evidence[0]


@pytest.fixture(scope="module")
def logrotate_runners(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files of Debian 12's real logrotate and cron packages (logrotate.timer, /etc/cron.daily/logrotate,
    cron.service, /etc/crontab of cron-daemon-common), none enabled: a host's unit files for the real `systemctl
    --root` to read and change, and its crontabs for the check to read; with the shells cron may run a job with, dash
    (/bin/dash and Debian's /bin/sh, a link to it) and bash (/bin/bash)."""
    if shutil.which("systemctl") is None:
        pytest.skip("systemctl is missing: no real unit file states to read")
    return debian_package_tree(
        ("logrotate", "cron", "cron-daemon-common", "dash", "bash"), tmp_path_factory.mktemp("logrotate-runners")
    )


@pytest.fixture(scope="module")
def debian_anacron(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files of Debian 12's real anacron package (/etc/anacrontab, /etc/cron.d/anacron, anacron.timer)."""
    return debian_package_tree(("anacron",), tmp_path_factory.mktemp("anacron"))


class _UnitsHost:
    """A host whose unit files, crontabs and cron folders are the tree ``root``: unit files read by the real
    systemctl (``--root``), files by the real cat, test and find under ``root``; what a running systemd or process
    table would answer (is systemd PID 1, is-active, pgrep) comes from ``running``."""

    FILE_COMMANDS: ClassVar[set[str]] = {
        "cat -- %s",
        "test -e %s",
        "test -f %s",
        "test -x %s",
        "test -f %s -a -x %s",
        "find -L %s -mindepth 1 -maxdepth 1 -type f -print0",
        "stat -c '%%f %%u %%U %%h' -- %s",
        "stat -L -c '%%f %%u %%U %%h' -- %s",
        "readlink -e -- %s",
    }

    def __init__(self, root: Path, *, systemd: bool, running: set[str], cat_config: bool = True) -> None:
        self.local, self.root, self.systemd, self.running = testinfra.get_host("local://"), root, systemd, running
        self.cat_config = cat_config  # False: a systemd before 239 (EL 7), which has no cat-config

    def run(self, command: str, *args: str) -> Any:
        if command == "test -d /run/systemd/system":
            return SimpleNamespace(rc=0 if self.systemd else 1, stdout="", stderr="")
        if command == "systemd-analyze cat-config -- %s":
            return self._cat_config(args[0])
        if command == "systemctl is-enabled -- %s":
            return self.local.run("systemctl --root=%s is-enabled -- %s", str(self.root), *args)
        if command == "systemctl is-active -- %s":
            up = args[0] in self.running
            return SimpleNamespace(rc=0 if up else 3, stdout="active\n" if up else "inactive\n", stderr="")
        if command == "pgrep -x -- %s":
            return SimpleNamespace(rc=0 if args[0] in self.running else 1, stdout="", stderr="")
        assert command in self.FILE_COMMANDS, command
        result = self.local.run(command, *[f"{self.root}{arg}" for arg in args])
        # find and readlink name the files as the host would, without the tree's own path
        listed = result.stdout_bytes.replace(os.fsencode(f"{self.root}/"), b"/")
        return SimpleNamespace(rc=result.rc, stdout_bytes=listed, stdout=os.fsdecode(listed), stderr=result.stderr)

    def _cat_config(self, name: str) -> Any:
        """The real systemd-analyze cat-config of the tree, naming the files as the host would."""
        if not self.cat_config:
            return SimpleNamespace(rc=1, stdout="", stderr="Unknown operation 'cat-config'.\n")
        result = self.local.run("systemd-analyze --root=%s cat-config -- %s", str(self.root), name)
        shown = result.stdout.replace(f"# {self.root}/", "# /")
        return SimpleNamespace(rc=result.rc, stdout=shown, stderr=result.stderr)


def _drop_lines(path: Path, containing: str) -> None:
    """Remove from the file at ``path`` every line holding ``containing`` (an anacrontab without its cron.daily job)."""
    kept = [line for line in path.read_text().splitlines(keepends=True) if containing not in line]
    path.write_text("".join(kept))


def _logrotate_scheduled_on(root: Path, *, systemd: bool, running: set[str]) -> checks.Finding:
    """DZ-AU-05's logrotate_scheduled, with the arguments the catalogue gives the audit, on the host tree ``root``."""
    (args,) = _control_checks("DZ-AU-05", "logrotate_scheduled")
    return checks.logrotate_scheduled(_UnitsHost(root, systemd=systemd, running=running), args)


def _assert_judged_with(
    root: Path, unit: str, *, systemd: bool, running: set[str], problems: list[str], evidence: str | None
) -> None:
    """Enable the cron daemon's ``unit`` in the host tree ``root`` and assert DZ-AU-05 finds ``problems`` there, and
    says ``evidence`` unless it is None."""
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", unit], capture_output=True, check=True, env=env)
    finding = _logrotate_scheduled_on(root, systemd=systemd, running=running)
    assert finding.problems == problems, finding.evidence
    if evidence is not None:
        assert evidence in finding.evidence, finding.evidence


DAILY = "/etc/cron.daily/logrotate"
STEPS_ASIDE = f"{DAILY} exits where systemd is PID 1 (it tests /run/systemd/system): only logrotate.timer runs it"
EXITS_EITHER_WAY = f"{DAILY} exits before running logrotate, with or without systemd: cron never runs logrotate"
# Each cron daemon reads only crontabs root owns, and some cases give one to nobody: only root makes such a tree (CI
# runs as root). Run by another user every crontab is skipped as that user's, so a case resting on a crontab's jobs,
# or on why one is skipped, would fail or prove nothing; cases where no crontab's job counts run for any user.
ROOT_OWNS_CRONTABS = pytest.mark.skipif(
    os.geteuid() != 0, reason="cron reads only root-owned crontabs: files made by another user are all skipped"
)


@pytest.mark.parametrize(
    ("host_is", "systemd", "running", "problems"),
    [
        pytest.param(["enable logrotate.timer"], True, {"logrotate.timer"}, [], id="debian"),
        # Debian's cron.daily script exits under systemd: there the timer alone runs logrotate.
        pytest.param(
            ["enable cron.service"], True, {"logrotate.timer", "cron.service"},
            [
                "logrotate.timer is disabled: logrotate never runs, so no log is rotated or aged out",
                f"nor does cron run it: {STEPS_ASIDE}",
            ],
            id="timer-disabled",
        ),
        pytest.param(
            ["enable logrotate.timer", "mask logrotate.timer"], True, set(),
            [
                "logrotate.timer is masked: logrotate never runs, so no log is rotated or aged out",
                f"nor does cron run it: {STEPS_ASIDE}",
            ],
            id="timer-masked",
        ),
        pytest.param(
            ["enable logrotate.timer"], True, set(),
            [
                "logrotate.timer is inactive: logrotate does not run until it is started",
                f"nor does cron run it: {STEPS_ASIDE}",
            ],
            id="timer-stopped",
        ),
        pytest.param(["enable cron.service", "no timer"], True, {"cron.service"}, [STEPS_ASIDE], id="no-timer"),
        # systemd not PID 1: the timer never fires, cron runs cron.daily from /etc/crontab (no anacron installed).
        pytest.param(
            ["enable logrotate.timer", "enable cron.service"], False, {"cron"}, [],
            id="no-systemd", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            ["enable logrotate.timer"], False, {"cron"},
            [f"cron.service is disabled: nothing runs {DAILY} after the next boot"],
            id="no-systemd-cron-disabled", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            ["enable logrotate.timer", "enable cron.service"], False, set(),
            [f"cron.service is not running: nothing runs {DAILY}"],
            id="no-systemd-no-cron", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            ["enable cron.service", "no cron.daily"], False, {"cron"},
            [f"{DAILY} is missing or not executable: cron never runs logrotate"],
            id="cron-daily-gone",
        ),
        pytest.param(
            ["no cron"], False, set(),
            [f"no cron daemon (crond.service, cron.service) is installed: nothing runs {DAILY}"],
            id="no-cron",
        ),
        # With anacron installed /etc/crontab's cron.daily line steps aside; /etc/cron.d/anacron starts anacron.
        pytest.param(
            ["enable cron.service", "anacron"], False, {"cron"}, [],
            id="no-systemd-anacron", marks=ROOT_OWNS_CRONTABS,
        ),
        # /etc/crontab's cron.daily line run as another user: logrotate could rotate none of the system's logs.
        pytest.param(
            ["enable cron.service", "cron.daily as nobody"], False, {"cron"},
            [f"nothing runs /etc/cron.daily, so cron never runs {DAILY}: /etc/crontab runs /etc/cron.daily as nobody, "
             "not root, who alone can rotate the system's logs"],
            id="no-systemd-cron-daily-not-root", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            ["enable cron.service", "anacron", "no anacron cron.daily"], False, {"cron"},
            [
                "nothing runs /etc/cron.daily, so cron never runs /etc/cron.daily/logrotate: /etc/crontab runs "
                "/etc/cron.daily but `test -x /usr/sbin/anacron ||` stops it: /usr/sbin/anacron is executable; "
                "anacron is started "
                "(/etc/cron.d/anacron), but /etc/anacrontab has no job running /etc/cron.daily"
            ],
            id="no-systemd-anacron-without-daily-job", marks=ROOT_OWNS_CRONTABS,
        ),
    ],
)  # fmt: skip
def test_logrotate_is_run_by_its_timer_or_cron_on_debian(
    logrotate_runners, debian_anacron, tmp_path, host_is, systemd, running, problems
):
    """DZ-AU-05: a retention nothing applies keeps nothing. On Debian (and UOS) under systemd the timer must be
    enabled and active: the cron.daily script exits there. Without systemd as PID 1, cron must be enabled and
    running, with cron.daily run from /etc/crontab, or by anacron where it is installed. Unit file states are the
    real systemctl's, on the real Debian packages' units and crontabs, changed as each case says."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    for step in host_is:
        if step == "no timer":
            next(root.glob("*/systemd/system/logrotate.timer")).unlink()
        elif step == "no cron":  # the package's unit and its SysV script (systemctl reads both)
            next(root.glob("*/systemd/system/cron.service")).unlink()
            (root / "etc/init.d/cron").unlink()
        elif step == "no cron.daily":
            (root / DAILY.lstrip("/")).unlink()
        elif step == "anacron":
            shutil.copytree(debian_anacron, root, symlinks=True, dirs_exist_ok=True)
        elif step == "no anacron cron.daily":
            _drop_lines(root / "etc/anacrontab", "cron.daily")
        elif step == "cron.daily as nobody":
            crontab = root / "etc/crontab"
            lines = crontab.read_text().splitlines(keepends=True)
            changed = [line.replace("\troot\t", "\tnobody\t") if "cron.daily" in line else line for line in lines]
            assert changed != lines, "the package's cron.daily line names root"
            crontab.write_text("".join(changed))
        else:
            # SYSTEMCTL_SKIP_SYSV: cron's SysV script is no part of the case (and update-rc.d not in the tree).
            env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
            subprocess.run(["systemctl", f"--root={root}", *step.split()], capture_output=True, check=True, env=env)
    finding = _logrotate_scheduled_on(root, systemd=systemd, running=running)
    assert finding.problems == problems, finding.evidence
    assert finding.evidence, "the evidence says what runs logrotate"


def _redhat_cron_tree(root: Path, debian: Path, *, anacron: bool, noanacron: bool) -> None:
    """The files openEuler's and Kylin's logrotate and cronie packages install, as their spec files do: logrotate's
    upstream units (the same as Debian's) and cron.daily script (upstream examples/logrotate.cron: no systemd test);
    cronie's crond.service (contrib/cronie.systemd), /etc/cron.d/0hourly and an /etc/crontab of settings alone
    (crontabs); bash as /usr/bin/bash and /usr/bin/sh, reached through /bin (bash's spec links sh to it; /bin leads to
    /usr/bin); with ``anacron``, cronie-anacron's /etc/cron.hourly/0anacron and /etc/anacrontab; with ``noanacron``,
    cronie-noanacron's /etc/cron.d/dailyjobs."""
    units = root / "usr/lib/systemd/system"
    units.mkdir(parents=True)
    (root / "usr/bin").mkdir()
    shutil.copy(debian / "bin/bash", root / "usr/bin/bash")
    (root / "usr/bin/sh").symlink_to("bash")
    (root / "bin").symlink_to("usr/bin")
    for unit in ("logrotate.timer", "logrotate.service"):
        shutil.copy(next(debian.glob(f"*/systemd/system/{unit}")), units / unit)
    (units / "crond.service").write_text(
        "[Unit]\nDescription=Command Scheduler\nAfter=auditd.service systemd-user-sessions.service\n\n"
        "[Service]\nEnvironmentFile=-/etc/sysconfig/crond\nExecStart=/usr/sbin/crond -n $CRONDARGS\n"
        "KillMode=process\n\n[Install]\nWantedBy=multi-user.target\n"
    )
    etc = root / "etc"
    for folder in ("cron.d", "cron.daily", "cron.hourly"):
        (etc / folder).mkdir(parents=True)
    files = {
        "cron.daily/logrotate": ("#!/bin/sh\n\n/usr/sbin/logrotate /etc/logrotate.conf\nexit 0\n", 0o755),
        "crontab": ("SHELL=/bin/bash\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\nMAILTO=root\n\n"
                    "# *  *  *  *  * user-name  command to be executed\n", 0o644),
        "cron.d/0hourly": ("SHELL=/bin/bash\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\nMAILTO=root\n"
                           "01 * * * * root run-parts /etc/cron.hourly\n", 0o644),
    }  # fmt: skip
    if anacron:
        files["cron.hourly/0anacron"] = (
            "#!/bin/sh\n# Check whether 0anacron was run today already\n"
            "if test -r /var/spool/anacron/cron.daily; then\n"
            '    day=`cat /var/spool/anacron/cron.daily`\nfi\nif [ `date +%Y%m%d` = "$day" ]; then\n    exit 0\nfi\n'
            "/usr/sbin/anacron -s\n",
            0o755,
        )
        files["anacrontab"] = (
            "SHELL=/bin/sh\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\nMAILTO=root\nRANDOM_DELAY=45\n"
            "START_HOURS_RANGE=3-22\n\n#period in days   delay in minutes   job-identifier   command\n"
            "1\t5\tcron.daily\t\tnice run-parts /etc/cron.daily\n"
            "7\t25\tcron.weekly\t\tnice run-parts /etc/cron.weekly\n"
            "@monthly 45\tcron.monthly\t\tnice run-parts /etc/cron.monthly\n",
            0o644,
        )
    if noanacron:
        files["cron.d/dailyjobs"] = (
            "SHELL=/bin/bash\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\nMAILTO=root\n\n"
            "02 4 * * * root [ ! -f /etc/cron.hourly/0anacron ] && run-parts /etc/cron.daily\n",
            0o644,
        )
    for name, (text, mode) in files.items():
        (etc / name).write_text(text)
        (etc / name).chmod(mode)


ANACRON_RUNS_DAILY = (
    "cron runs /etc/cron.daily/logrotate: /etc/cron.d/0hourly runs /etc/cron.hourly/0anacron, which starts anacron, "
    "whose /etc/anacrontab job cron.daily runs /etc/cron.daily"
)
TIMER_DISABLED = "logrotate.timer is disabled: logrotate never runs, so no log is rotated or aged out"


@pytest.mark.parametrize(
    ("host_is", "running", "problems", "evidence"),
    [
        # openEuler's default: cronie with cronie-anacron; logrotate.timer disabled (old code: failed).
        pytest.param(
            ["enable crond.service"], {"crond.service"}, [], ANACRON_RUNS_DAILY,
            id="anacron", marks=ROOT_OWNS_CRONTABS,
        ),
        # A systemd test commented out of the script is no test.
        pytest.param(
            ["enable crond.service", "commented systemd test"], {"crond.service"}, [], ANACRON_RUNS_DAILY,
            id="commented-systemd-test", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            ["enable crond.service", "enable logrotate.timer"], {"crond.service", "logrotate.timer"}, [],
            "logrotate.timer runs logrotate", id="timer",
        ),
        pytest.param(
            ["enable crond.service", "noanacron", "no anacron"], {"crond.service"}, [],
            "cron runs /etc/cron.daily/logrotate: /etc/cron.d/dailyjobs runs /etc/cron.daily",
            id="noanacron", marks=ROOT_OWNS_CRONTABS,
        ),
        # cronie-anacron and cronie-noanacron both: dailyjobs steps aside, anacron runs cron.daily (once).
        pytest.param(
            ["enable crond.service", "noanacron"], {"crond.service"}, [], ANACRON_RUNS_DAILY,
            id="both", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            ["enable crond.service", "no anacron cron.daily"], {"crond.service"},
            [
                TIMER_DISABLED,
                "nor does cron run it: nothing runs /etc/cron.daily, so cron never runs /etc/cron.daily/logrotate: "
                "anacron is started (/etc/cron.d/0hourly runs /etc/cron.hourly/0anacron, which starts anacron), but "
                "/etc/anacrontab has no job running /etc/cron.daily",
            ],
            None, id="anacron-without-daily-job", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            ["enable crond.service", "no anacron"], {"crond.service"},
            [
                TIMER_DISABLED,
                "nor does cron run it: nothing runs /etc/cron.daily, so cron never runs /etc/cron.daily/logrotate: no "
                "line of /etc/crontab, /etc/cron.d or /var/spool/cron/root runs run-parts on /etc/cron.daily, nor any "
                "job of /etc/anacrontab",
            ],
            None, id="nothing-runs-cron-daily",
        ),
        pytest.param(
            ["enable crond.service"], set(),
            [TIMER_DISABLED, f"nor does cron run it: crond.service is inactive: nothing runs {DAILY}"],
            ANACRON_RUNS_DAILY, id="crond-stopped", marks=ROOT_OWNS_CRONTABS,
        ),
    ],
)  # fmt: skip
def test_logrotate_is_run_by_cron_and_anacron_on_the_redhat_family(
    logrotate_runners, tmp_path, host_is, running, problems, evidence
):
    """DZ-AU-05 on openEuler and Kylin: logrotate ships its timer and its cron.daily script, and many hosts keep the
    timer disabled and rotate from cron. Either passes: the timer enabled and active, or crond enabled and running
    with something running cron.daily (cronie's 0hourly -> 0anacron -> anacrontab's cron.daily job, or
    cronie-noanacron's dailyjobs); where nothing runs cron.daily the finding says why. The files are those the
    packages' spec files install, the unit states the real systemctl's."""
    root = tmp_path / "root"
    _redhat_cron_tree(root, logrotate_runners, anacron="no anacron" not in host_is, noanacron="noanacron" in host_is)
    if "commented systemd test" in host_is:
        script = root / DAILY.lstrip("/")
        script.write_text(script.read_text().replace("\n\n", "\n# if [ -d /run/systemd/system ]; then exit 0; fi\n", 1))
    if "no anacron cron.daily" in host_is:
        _drop_lines(root / "etc/anacrontab", "cron.daily")
    for step in host_is:
        if step.startswith("enable "):
            subprocess.run(["systemctl", f"--root={root}", *step.split()], capture_output=True, check=True)
    finding = _logrotate_scheduled_on(root, systemd=True, running=running)
    assert finding.problems == problems, finding.evidence
    if evidence is not None:
        assert evidence in finding.evidence, finding.evidence


DEBIAN_ROOT_CRONTAB, CRONIE_ROOT_CRONTAB = "/var/spool/cron/crontabs/root", "/var/spool/cron/root"
NOTHING_RUNS_DAILY = f"nothing runs /etc/cron.daily, so cron never runs {DAILY}"


@pytest.mark.parametrize(
    ("family", "crontab", "line", "problems", "evidence"),
    [
        # Debian's cron, without systemd as PID 1, /etc/crontab's cron.daily line gone (old code: nothing runs it).
        pytest.param(
            "debian", DEBIAN_ROOT_CRONTAB, "30 6 * * * run-parts --report /etc/cron.daily", [],
            f"cron runs {DAILY}: {DEBIAN_ROOT_CRONTAB} runs /etc/cron.daily", id="debian", marks=ROOT_OWNS_CRONTABS,
        ),
        # cronie's place for root's crontab is none of Debian's cron.
        pytest.param(
            "debian", CRONIE_ROOT_CRONTAB, "30 6 * * * run-parts --report /etc/cron.daily",
            [f"{NOTHING_RUNS_DAILY}: no line of /etc/crontab, /etc/cron.d or {DEBIAN_ROOT_CRONTAB} runs run-parts on "
             "/etc/cron.daily, nor any job of /etc/anacrontab"],
            None, id="debian-not-its-spool",
        ),
        # openEuler's cronie without anacron or dailyjobs, logrotate.timer disabled (old code: failed).
        pytest.param(
            "redhat", CRONIE_ROOT_CRONTAB, "@daily run-parts /etc/cron.daily", [],
            f"cron runs {DAILY}: {CRONIE_ROOT_CRONTAB} runs /etc/cron.daily", id="redhat", marks=ROOT_OWNS_CRONTABS,
        ),
        # A line copied from /etc/crontab: cron would run a command named root.
        pytest.param(
            "redhat", CRONIE_ROOT_CRONTAB, "02 4 * * * root run-parts /etc/cron.daily",
            [TIMER_DISABLED,
             f"nor does cron run it: {NOTHING_RUNS_DAILY}: {CRONIE_ROOT_CRONTAB} names the user root, as /etc/crontab "
             "does, but root's crontab has no user field"],
            None, id="redhat-user-field", marks=ROOT_OWNS_CRONTABS,
        ),
        # A job that is all standard input (`%` first) hands the shell nothing: no command named, nothing run.
        pytest.param(
            "debian", DEBIAN_ROOT_CRONTAB, "30 6 * * * %run-parts --report /etc/cron.daily",
            [f"{NOTHING_RUNS_DAILY}: no line of /etc/crontab, /etc/cron.d or {DEBIAN_ROOT_CRONTAB} runs run-parts on "
             "/etc/cron.daily, nor any job of /etc/anacrontab"],
            None, id="debian-all-standard-input", marks=ROOT_OWNS_CRONTABS,
        ),
    ],
)  # fmt: skip
def test_roots_own_crontab_can_run_cron_daily(logrotate_runners, tmp_path, family, crontab, line, problems, evidence):
    """DZ-AU-05: root's own crontab (crontab -e as root) may be what runs cron.daily, and with it logrotate: Debian's
    cron reads it from /var/spool/cron/crontabs/root, cronie from /var/spool/cron/root, its lines without a user
    field. The package files and unit states are those of the Debian and RedHat-family tests above, with nothing
    else running cron.daily."""
    root = tmp_path / "root"
    if family == "debian":
        shutil.copytree(logrotate_runners, root, symlinks=True)
        _drop_lines(root / "etc/crontab", "cron.daily")
        unit, systemd, running = "cron.service", False, {"cron"}
    else:
        _redhat_cron_tree(root, logrotate_runners, anacron=False, noanacron=False)
        unit, systemd, running = "crond.service", True, {"crond.service"}
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", unit], capture_output=True, check=True, env=env)
    written = root / crontab.lstrip("/")
    written.parent.mkdir(parents=True, exist_ok=True)
    written.write_text(f"# m h  dom mon dow   command\nMAILTO=root\n{line}\n")
    written.chmod(0o600)  # as crontab(1) writes it
    finding = _logrotate_scheduled_on(root, systemd=systemd, running=running)
    assert finding.problems == problems, finding.evidence
    if evidence is not None:
        assert evidence in finding.evidence, finding.evidence


NOBODY = 65534  # nobody, on Debian and the RedHat family alike


def _break_cron_rule(path: Path, change: str, root: Path) -> None:
    """Give the crontab at ``path`` what one of the cron daemons' rules refuses (or, for ``symlink``, a root-owned
    symlink in its place, which Debian's cron follows for a system crontab), as an administrator's slip would."""
    if change == "owned by nobody":
        os.chown(path, NOBODY, NOBODY)
    elif change.startswith("mode "):
        path.chmod(int(change.removeprefix("mode "), 8))
    elif change == "hard link":  # a copy kept by `ln`, outside the folders cron reads
        os.link(path, root / f"{path.name}.kept")
    elif change.startswith("symlink"):
        (root / "srv").mkdir(exist_ok=True)
        target = path.rename(root / "srv" / path.name)
        path.symlink_to(os.path.relpath(target, path.parent))
        if change == "symlink owned by nobody":
            os.lchown(path, NOBODY, NOBODY)
    else:
        raise AssertionError(change)


DEBIAN_CRONTAB_LINE = "30 6 * * * run-parts --report /etc/cron.daily"
CRONIE_SKIPS_MODE = "it must be readable by root, with no execute, group or other write, setuid, setgid or sticky bit"


@pytest.mark.parametrize(
    ("path", "change", "problems"),
    [
        pytest.param(
            "/etc/crontab", "owned by nobody",
            [f"{NOTHING_RUNS_DAILY}: /etc/crontab runs /etc/cron.daily but cron.service skips it: owned by nobody, "
             "not root"],
            id="crontab-owner", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            "/etc/crontab", "mode 0664",
            [f"{NOTHING_RUNS_DAILY}: /etc/crontab runs /etc/cron.daily but cron.service skips it: mode 0664, "
             "writable by group or others"],
            id="crontab-group-writable", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            "/etc/crontab", "hard link",
            [f"{NOTHING_RUNS_DAILY}: /etc/crontab runs /etc/cron.daily but cron.service skips it: 2 hard links, not 1"],
            id="crontab-hard-link", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            "/etc/crontab", "symlink owned by nobody",
            [f"{NOTHING_RUNS_DAILY}: /etc/crontab runs /etc/cron.daily but cron.service skips it: a symlink owned by "
             "nobody, not root"],
            id="crontab-symlink-owner", marks=ROOT_OWNS_CRONTABS,
        ),
        # A system crontab may be a symlink, both it and its file root's.
        pytest.param("/etc/crontab", "symlink", [], id="crontab-symlink", marks=ROOT_OWNS_CRONTABS),
        # Root's own crontab: mode 0600 exactly, and no symlink.
        pytest.param(
            DEBIAN_ROOT_CRONTAB, "mode 0644",
            [f"{NOTHING_RUNS_DAILY}: {DEBIAN_ROOT_CRONTAB} runs /etc/cron.daily but cron.service skips it: mode 0644, "
             "not 0600"],
            id="root-crontab-mode", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            DEBIAN_ROOT_CRONTAB, "symlink",
            [f"{NOTHING_RUNS_DAILY}: {DEBIAN_ROOT_CRONTAB} runs /etc/cron.daily but cron.service skips it: a symlink, "
             "which it does not follow to a user's crontab"],
            id="root-crontab-symlink",
        ),
    ],
)  # fmt: skip
def test_debian_cron_skips_crontabs_breaking_its_rules(logrotate_runners, tmp_path, path, change, problems):
    """DZ-AU-05: Debian's cron reads no crontab that breaks its rules (a system crontab root's, regular, not group-
    or other-writable, one hard link, a symlink only if root's; root's own crontab mode 0600 and no symlink), so
    such a crontab's cron.daily line runs nothing and is named. Debian 12's real cron package without systemd as
    PID 1, cron.daily run from /etc/crontab or, with its line gone from there, from root's crontab."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", "cron.service"], capture_output=True, check=True, env=env)
    if path == DEBIAN_ROOT_CRONTAB:
        _drop_lines(root / "etc/crontab", "cron.daily")
        written = root / path.lstrip("/")
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_text(f"{DEBIAN_CRONTAB_LINE}\n")
        written.chmod(0o600)  # as crontab(1) writes it
    _break_cron_rule(root / path.lstrip("/"), change, root)
    finding = _logrotate_scheduled_on(root, systemd=False, running={"cron"})
    assert finding.problems == problems, finding.evidence
    if problems:
        assert f"cron.service skips {path}: {problems[0].rsplit('skips it: ', 1)[1]}" in finding.evidence


class _RecordingUnitsHost(_UnitsHost):
    """A ``_UnitsHost`` that keeps every command it was asked to run, with its arguments."""

    def __init__(self, root: Path, *, systemd: bool, running: set[str], fail: str | None = None) -> None:
        super().__init__(root, systemd=systemd, running=running)
        self.asked: list[tuple[str, ...]] = []
        self.fail = fail

    def run(self, command: str, *args: str) -> Any:
        self.asked.append((command, *args))
        if command == self.fail:
            return SimpleNamespace(rc=1, stdout_bytes=b"", stdout="", stderr="stat: Input/output error\n")
        return super().run(command, *args)


@ROOT_OWNS_CRONTABS
def test_the_file_tests_of_a_skipped_crontab_s_lines_are_not_run_on_the_host(logrotate_runners, tmp_path):
    """DZ-AU-05: a crontab its daemon skips is named for what its lines would run, past their leading file tests,
    which the daemon never gets to and the host is not asked (Debian's /etc/crontab group-writable: its cron.daily
    line's `test -x /usr/sbin/anacron ||` is not run)."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", "cron.service"], capture_output=True, check=True, env=env)
    (root / "etc/crontab").chmod(0o664)
    (args,) = _control_checks("DZ-AU-05", "logrotate_scheduled")
    host = _RecordingUnitsHost(root, systemd=False, running={"cron"})
    finding = checks.logrotate_scheduled(host, args)
    assert finding.problems == [
        f"{NOTHING_RUNS_DAILY}: /etc/crontab runs /etc/cron.daily but cron.service skips it: mode 0664, writable by "
        "group or others"
    ], finding.evidence
    assert ("test -x %s", "/usr/sbin/anacron") not in host.asked, host.asked


def test_a_crontab_whose_stat_fails_names_the_command(logrotate_runners, tmp_path):
    """DZ-AU-05: where the host cannot stat a crontab it read, the check cannot tell whether cron reads it and says
    so with the whole command that failed and what it printed, as for any other command of the audit."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", "cron.service"], capture_output=True, check=True, env=env)
    (args,) = _control_checks("DZ-AU-05", "logrotate_scheduled")
    host = _RecordingUnitsHost(root, systemd=False, running={"cron"}, fail="stat -c '%%f %%u %%U %%h' -- %s")
    with pytest.raises(checks.CommandFailedError) as failed:
        checks.logrotate_scheduled(host, args)
    assert str(failed.value) == "`stat -c '%f %u %U %h' -- /etc/crontab` exited 1: stat: Input/output error"


@pytest.mark.parametrize(
    ("tree", "path", "change", "problems"),
    [
        pytest.param(
            "anacron", "/etc/cron.d/0hourly", "mode 0664",
            [TIMER_DISABLED,
             f"nor does cron run it: {NOTHING_RUNS_DAILY}: /etc/cron.d/0hourly runs /etc/cron.hourly/0anacron, which "
             "starts anacron, but crond.service "
             f"skips it: mode 0664: {CRONIE_SKIPS_MODE}; /etc/anacrontab's job cron.daily runs /etc/cron.daily, but "
             "nothing starts anacron"],
            id="0hourly-group-writable", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            "noanacron", "/etc/cron.d/dailyjobs", "mode 0755",
            [TIMER_DISABLED,
             f"nor does cron run it: {NOTHING_RUNS_DAILY}: /etc/cron.d/dailyjobs runs /etc/cron.daily but "
             f"crond.service skips it: mode 0755: {CRONIE_SKIPS_MODE}"],
            id="dailyjobs-executable", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            "noanacron", "/etc/cron.d/dailyjobs", "owned by nobody",
            [TIMER_DISABLED,
             f"nor does cron run it: {NOTHING_RUNS_DAILY}: /etc/cron.d/dailyjobs runs /etc/cron.daily but "
             "crond.service skips it: owned by nobody, not root"],
            id="dailyjobs-owner", marks=ROOT_OWNS_CRONTABS,
        ),
        # cronie counts no hard links of a system crontab and follows any symlink to a root-owned file.
        pytest.param(
            "noanacron", "/etc/cron.d/dailyjobs", "hard link", [],
            id="dailyjobs-hard-link", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            "noanacron", "/etc/cron.d/dailyjobs", "symlink owned by nobody", [],
            id="dailyjobs-symlink", marks=ROOT_OWNS_CRONTABS,
        ),
        # Root's own crontab: group and others may read it, but it has one hard link.
        pytest.param(
            "root crontab", CRONIE_ROOT_CRONTAB, "mode 0644", [],
            id="root-crontab-readable", marks=ROOT_OWNS_CRONTABS,
        ),
        pytest.param(
            "root crontab", CRONIE_ROOT_CRONTAB, "hard link",
            [TIMER_DISABLED,
             f"nor does cron run it: {NOTHING_RUNS_DAILY}: {CRONIE_ROOT_CRONTAB} runs /etc/cron.daily but "
             "crond.service skips it: 2 hard links, not 1"],
            id="root-crontab-hard-link", marks=ROOT_OWNS_CRONTABS,
        ),
    ],
)  # fmt: skip
def test_cronie_skips_crontabs_breaking_its_rules(logrotate_runners, tmp_path, tree, path, change, problems):
    """DZ-AU-05: cronie reads no crontab that breaks its rules (a regular file, followed through any symlink, owned
    by root, mode within 0644 without execute, setuid, setgid or sticky bits; root's own crontab one hard link), so
    such a crontab's line runs nothing and is named; what cronie allows and Debian's cron does not still counts.
    The RedHat-family tree of the tests above, logrotate.timer disabled, crond enabled and running."""
    root = tmp_path / "root"
    _redhat_cron_tree(root, logrotate_runners, anacron=tree == "anacron", noanacron=tree == "noanacron")
    subprocess.run(["systemctl", f"--root={root}", "enable", "crond.service"], capture_output=True, check=True)
    if tree == "root crontab":
        written = root / path.lstrip("/")
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_text("@daily run-parts /etc/cron.daily\n")
        written.chmod(0o600)  # as crontab(1) writes it
    _break_cron_rule(root / path.lstrip("/"), change, root)
    finding = _logrotate_scheduled_on(root, systemd=True, running={"crond.service"})
    assert finding.problems == problems, finding.evidence
    if problems:
        assert any(line.startswith(f"crond.service skips {path}: ") for line in finding.evidence), finding.evidence


@pytest.mark.parametrize(
    ("settings", "skipped"),
    [
        pytest.param('CRONDARGS="-m off -sp"\n', False, id="p-bundled"),
        pytest.param("CRONDARGS=-m p -s\n", True, id="p-is-mail-command", marks=ROOT_OWNS_CRONTABS),
        pytest.param(
            "# CRONDARGS=-p\nCRONDARGS=-p\nCRONDARGS=\n", True, id="last-setting-wins", marks=ROOT_OWNS_CRONTABS
        ),
    ],
)
def test_cronie_started_with_p_reads_any_crontab(logrotate_runners, tmp_path, settings, skipped):
    """DZ-AU-05: crond started with -p (CRONDARGS of /etc/sysconfig/crond, which crond.service reads) reads a crontab
    its rules would refuse, so an executable dailyjobs then runs cron.daily; -p must be crond's own option, from the
    setting in force. The RedHat-family tree with cronie-noanacron, logrotate.timer disabled."""
    root = tmp_path / "root"
    _redhat_cron_tree(root, logrotate_runners, anacron=False, noanacron=True)
    subprocess.run(["systemctl", f"--root={root}", "enable", "crond.service"], capture_output=True, check=True)
    (root / "etc/sysconfig").mkdir()
    (root / "etc/sysconfig/crond").write_text(settings)
    _break_cron_rule(root / "etc/cron.d/dailyjobs", "mode 0755", root)
    finding = _logrotate_scheduled_on(root, systemd=True, running={"crond.service"})
    assert (finding.problems != []) == skipped, finding.evidence
    assert any(line.startswith("crond.service skips /etc/cron.d/dailyjobs") for line in finding.evidence) == skipped


SYSTEMD_STEP_ASIDE = "if [ -d /run/systemd/system ]; then\n    exit 0\nfi"
# The step aside of Debian's script made to wait for the timer: only where logrotate.timer is installed.
STEP_ASIDE_FOR_THE_TIMER = (
    "if [ -d /run/systemd/system ] && [ -f /lib/systemd/system/logrotate.timer ]; then\n    exit 0\nfi"
)


@pytest.mark.parametrize(
    ("host_is", "problems"),
    [
        # No timer installed: the script goes on and runs logrotate, from /etc/crontab's cron.daily line (old code:
        # any test of /run/systemd/system in the script was read as stepping aside).
        pytest.param(["no timer"], [], id="no-timer-cron-runs-it", marks=ROOT_OWNS_CRONTABS),
        pytest.param([], [TIMER_DISABLED, f"nor does cron run it: {STEPS_ASIDE}"], id="timer-there-script-steps-aside"),
    ],
)
def test_the_cron_daily_script_s_step_aside_for_systemd_is_read_as_sh_runs_it(logrotate_runners, tmp_path, host_is,
                                                                               problems):  # fmt: skip
    """DZ-AU-05: Debian's /etc/cron.daily/logrotate steps aside where systemd is PID 1; whether it does on this host
    is read from the script as sh runs it, its other file tests asked of the host. The real Debian 12 tree under
    systemd, cron enabled and running, logrotate.timer disabled, the script's step aside made to wait for the timer."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    script = root / DAILY.lstrip("/")
    assert SYSTEMD_STEP_ASIDE in script.read_text(), "the package's script steps aside for systemd"
    script.write_text(script.read_text().replace(SYSTEMD_STEP_ASIDE, STEP_ASIDE_FOR_THE_TIMER))
    if "no timer" in host_is:
        next(root.glob("*/systemd/system/logrotate.timer")).unlink()
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", "cron.service"], capture_output=True, check=True, env=env)
    finding = _logrotate_scheduled_on(root, systemd=True, running={"cron.service"})
    assert finding.problems == problems, finding.evidence
    if not problems:
        assert f"cron runs {DAILY}: /etc/crontab runs /etc/cron.daily" in finding.evidence, finding.evidence


DEBIAN_DAILY_GUARD = "test -x /usr/sbin/anacron || "
DEBIAN_AND_OR_LINE = (
    "[ -x /usr/sbin/anacron ] && /usr/sbin/anacron -s || { cd / && run-parts --report /etc/cron.daily; }"
)


@pytest.mark.parametrize(
    ("family", "line", "problems", "evidence"),
    [
        # Debian's /etc/crontab line with the guard turned round: no anacron, so `[ -x ] && anacron || run-parts` runs
        # cron.daily (old code: the failing `[ -x ] &&` stopped the whole line); where anacron is installed, anacron
        # starts and its anacrontab job runs cron.daily.
        *(
            pytest.param(family, DEBIAN_AND_OR_LINE, [], f"cron runs {DAILY}: /etc/crontab{runs}", id=case,
                         marks=ROOT_OWNS_CRONTABS)
            for family, runs, case in [
                ("debian", " runs /etc/cron.daily", "debian-and-or-falls-through"),
                ("debian anacron", ", whose /etc/anacrontab job cron.daily runs /etc/cron.daily",
                 "debian-and-or-starts-anacron"),
            ]
        ),
        # cronie-noanacron's dailyjobs with a second guard: `a || b && c` is `{ a || b; } && c`, so where there is no
        # 0anacron cron.daily runs without b being asked (old code: `a ||` passing stopped the line).
        pytest.param(
            "noanacron", "[ ! -f /etc/cron.hourly/0anacron ] || [ ! -x /usr/sbin/anacron ] && run-parts "
            "/etc/cron.daily", [], f"cron runs {DAILY}: /etc/cron.d/dailyjobs runs /etc/cron.daily",
            id="cronie-or-and-runs", marks=ROOT_OWNS_CRONTABS,
        ),
        # With 0anacron there (and an anacrontab without its cron.daily job), `a && logger || run-parts` runs the
        # logger and not run-parts, so nothing runs cron.daily (old code: the `||` fallback was read as running
        # cron.daily, and it passed).
        pytest.param(
            "both", '[ -f /etc/cron.hourly/0anacron ] && logger -t cron skipped || run-parts '
            "/etc/cron.daily",
            [TIMER_DISABLED,
             f"nor does cron run it: {NOTHING_RUNS_DAILY}: /etc/cron.d/dailyjobs runs /etc/cron.daily but "
             '`[ -f /etc/cron.hourly/0anacron ] && logger -t cron skipped ||` stops it: '
             "/etc/cron.hourly/0anacron is a file, logger is taken to succeed; anacron is started"],
            None, id="cronie-and-or-skips-fallback", marks=ROOT_OWNS_CRONTABS,
        ),
    ],
)  # fmt: skip
def test_a_cron_line_s_guards_are_read_as_sh_reads_them(logrotate_runners, debian_anacron, tmp_path, family, line,
                                                        problems, evidence):  # fmt: skip
    """DZ-AU-05: the file tests guarding a cron line are weighed as sh runs the line, `&&` and `||` equal and from the
    left (`a && b || c` runs c where a or b fails). The real packages' cron.daily line (Debian's /etc/crontab, cronie-
    noanacron's dailyjobs) with its guard rewritten as an administrator might, on the trees of the tests above."""
    root = tmp_path / "root"
    if family.startswith("debian"):
        shutil.copytree(logrotate_runners, root, symlinks=True)
        if family == "debian anacron":
            shutil.copytree(debian_anacron, root, symlinks=True, dirs_exist_ok=True)
        crontab, unit, systemd, running = root / "etc/crontab", "cron.service", False, {"cron"}
        shipped = f"{DEBIAN_DAILY_GUARD}{{ cd / && run-parts --report /etc/cron.daily; }}"
    else:
        _redhat_cron_tree(root, logrotate_runners, anacron=family == "both", noanacron=True)
        if family == "both":
            _drop_lines(root / "etc/anacrontab", "cron.daily")
        crontab, unit, systemd, running = root / "etc/cron.d/dailyjobs", "crond.service", True, {"crond.service"}
        shipped = "[ ! -f /etc/cron.hourly/0anacron ] && run-parts /etc/cron.daily"
    assert shipped in crontab.read_text(), "the package's cron.daily line is the one rewritten"
    crontab.write_text(crontab.read_text().replace(shipped, line))
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", unit], capture_output=True, check=True, env=env)
    finding = _logrotate_scheduled_on(root, systemd=systemd, running=running)
    # Each problem as far as the case gives it: the report shortens a long one, which the case need not spell out.
    shown = [actual[: len(wanted)] for actual, wanted in zip(finding.problems, problems, strict=False)]
    assert (shown, len(finding.problems)) == (problems, len(problems)), finding.problems
    if evidence is not None:
        assert evidence in finding.evidence, finding.evidence


@pytest.mark.parametrize(
    ("line", "problems"),
    [
        # cron ends the command at an unescaped %, handing the rest to it as standard input: run-parts is logger's
        # input, and nothing runs cron.daily (old code: the whole line was read as sh, and run-parts counted).
        pytest.param(
            "logger -t cron daily %cd / && run-parts --report /etc/cron.daily",
            [f"{NOTHING_RUNS_DAILY}: no line of /etc/crontab"],
            id="percent-ends-the-command", marks=ROOT_OWNS_CRONTABS,
        ),
        # An escaped \\% is a % of the command, which goes on: run-parts runs.
        pytest.param(
            "logger -t cron 100\\% daily; cd / && run-parts --report /etc/cron.daily", [],
            id="escaped-percent-goes-on", marks=ROOT_OWNS_CRONTABS,
        ),
        # A line that is all standard input hands the shell nothing: no job, and nothing to read.
        pytest.param(
            "%cd / && run-parts --report /etc/cron.daily",
            [f"{NOTHING_RUNS_DAILY}: no line of /etc/crontab"],
            id="all-standard-input", marks=ROOT_OWNS_CRONTABS,
        ),
    ],
)  # fmt: skip
def test_a_cron_command_ends_at_its_first_unescaped_percent(logrotate_runners, tmp_path, line, problems):
    """DZ-AU-05: what follows an unescaped % of a crontab line is the command's standard input, not sh (crontab(5))."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    crontab = root / "etc/crontab"
    shipped = f"{DEBIAN_DAILY_GUARD}{{ cd / && run-parts --report /etc/cron.daily; }}"
    assert shipped in crontab.read_text(), "the package's cron.daily line is the one rewritten"
    crontab.write_text(crontab.read_text().replace(shipped, line))
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", "cron.service"], capture_output=True, check=True, env=env)
    finding = _logrotate_scheduled_on(root, systemd=False, running={"cron"})
    shown = [actual[: len(wanted)] for actual, wanted in zip(finding.problems, problems, strict=False)]
    assert (shown, len(finding.problems)) == (problems, len(problems)), finding.problems


DEBIAN_DAILY_OR = "[[ -x /usr/sbin/anacron ]] || { cd / && run-parts --report /etc/cron.daily; }"
DEBIAN_DAILY_AND = "[[ ! -x /usr/sbin/anacron ]] && { cd / && run-parts --report /etc/cron.daily; }"
DASH_STOPS_IT = (
    f"{NOTHING_RUNS_DAILY}: /etc/crontab runs /etc/cron.daily but `[[ ! -x /usr/sbin/anacron ]] &&` stops it: /bin/sh "
    "(dash) has no `[[`"
)
DEBIAN_RUNS_DAILY = f"cron runs {DAILY}: /etc/crontab runs /etc/cron.daily"
CRONIE_RUNS_DAILY = f"cron runs {DAILY}: /etc/cron.d/dailyjobs runs /etc/cron.daily"


@pytest.mark.parametrize(
    ("family", "shell", "line", "problems", "evidence"),
    [
        # Debian's /etc/crontab sets SHELL=/bin/sh, which is dash: `[[` is a command not found, so `||` runs cron.daily
        # (old code: `[[` was taken to succeed, stopping it) and `&&` does not (old code: it passed).
        pytest.param("debian", None, DEBIAN_DAILY_OR, [], DEBIAN_RUNS_DAILY, id="dash-or-runs"),
        pytest.param("debian", None, DEBIAN_DAILY_AND, [DASH_STOPS_IT], None, id="dash-and-stops"),
        # SHELL=/bin/bash set above the line: `[[ -x ]]` is asked of the host, which has no anacron (old code: failed),
        # the setting's blanks and quotes dropped as cron drops them.
        pytest.param("debian", "SHELL=/bin/bash", DEBIAN_DAILY_OR, [], DEBIAN_RUNS_DAILY, id="bash-asks-the-host"),
        pytest.param("debian", 'SHELL = "/bin/bash"', DEBIAN_DAILY_OR, [], DEBIAN_RUNS_DAILY, id="bash-quoted"),
        pytest.param("debian", "SHELL=/bin/bash", DEBIAN_DAILY_AND, [], DEBIAN_RUNS_DAILY, id="bash-and-runs"),
        # A setting below the line is not the line's: it runs with /bin/sh (old code: it passed).
        pytest.param("debian", "after: SHELL=/bin/bash", DEBIAN_DAILY_AND, [DASH_STOPS_IT], None, id="bash-after"),
        # A shell the host does not have: cron cannot start the job, and nothing of it runs (old code: it passed).
        pytest.param(
            "debian", "SHELL=/bin/zsh", DEBIAN_DAILY_OR,
            [f"{NOTHING_RUNS_DAILY}: /etc/crontab runs /etc/cron.daily but its shell, /bin/zsh, is missing or not "
             "executable: cron cannot start it"],
            None, id="no-such-shell",
        ),
        # cronie-noanacron's dailyjobs without its SHELL=/bin/bash: /bin/sh is bash on the RedHat family, and `[[`
        # asks the host, which has no 0anacron (old code: `[[` succeeding stopped `||`).
        pytest.param(
            "redhat", "", "[[ -f /etc/cron.hourly/0anacron ]] || run-parts /etc/cron.daily", [], CRONIE_RUNS_DAILY,
            id="bash-as-sh-or-runs",
        ),
        pytest.param(
            "redhat", "", "[[ ! -f /etc/cron.hourly/0anacron ]] && run-parts /etc/cron.daily", [], CRONIE_RUNS_DAILY,
            id="bash-as-sh-and-runs",
        ),
    ],
)  # fmt: skip
@ROOT_OWNS_CRONTABS
def test_a_cron_line_is_read_as_the_shell_cron_runs_it_with(logrotate_runners, tmp_path, family, shell, line,
                                                            problems, evidence):  # fmt: skip
    """DZ-AU-05: cron runs a job with the shell of the last SHELL= above it in its crontab, else /bin/sh (crontab(5)),
    and `[[` is a file test under bash (as /bin/sh too, the RedHat family's) but a command not found under dash
    (Debian's /bin/sh), which fails; with no such shell on the host, cron runs nothing of the job. The real packages'
    cron.daily line (Debian's /etc/crontab, cronie-noanacron's dailyjobs) with `[[` for its guard, on the trees of the
    tests above, their /bin/sh the real dash or bash."""
    root = tmp_path / "root"
    if family == "debian":
        shutil.copytree(logrotate_runners, root, symlinks=True)
        crontab, unit, systemd, running = root / "etc/crontab", "cron.service", False, {"cron"}
        shipped, setting = f"{DEBIAN_DAILY_GUARD}{{ cd / && run-parts --report /etc/cron.daily; }}", "SHELL=/bin/sh\n"
    else:
        _redhat_cron_tree(root, logrotate_runners, anacron=False, noanacron=True)
        crontab, unit, systemd, running = root / "etc/cron.d/dailyjobs", "crond.service", True, {"crond.service"}
        shipped, setting = "[ ! -f /etc/cron.hourly/0anacron ] && run-parts /etc/cron.daily", "SHELL=/bin/bash\n"
    text = crontab.read_text()
    assert shipped in text, "the package's cron.daily line is the one rewritten"
    assert setting in text, "the package's SHELL= setting is the one changed"
    text = text.replace(shipped, line)
    if shell is not None and shell.startswith("after: "):
        text += shell.removeprefix("after: ") + "\n"
    elif shell is not None:
        text = text.replace(setting, f"{shell}\n" if shell else "")
    crontab.write_text(text)
    _assert_judged_with(root, unit, systemd=systemd, running=running, problems=problems, evidence=evidence)


DOUBLE_BRACKET_STEP_ASIDE = "if [[ -d /run/systemd/system ]]; then\n    exit 0\nfi"
# A `[[` step aside that a shell not known (each `[[` taken to succeed) reads as never stepping aside.
DOUBLE_BRACKET_STEP_ASIDE_NEGATED = "if [[ ! -d /run/systemd/system ]]; then\n    :\nelse\n    exit 0\nfi"


def _assert_double_bracket_script_judged(
    root: Path, shebang: str, problems: list[str], tail: str = "", step_aside: str = DOUBLE_BRACKET_STEP_ASIDE
) -> None:
    """Give the Debian 12 tree ``root`` a /etc/cron.daily/logrotate whose step aside is ``step_aside`` (written with
    `[[`), run by ``shebang`` (``tail`` appended), enable cron.service, and assert DZ-AU-05 under systemd, cron
    running, finds ``problems`` (and, where it finds none, that /etc/crontab runs cron.daily)."""
    script = root / DAILY.lstrip("/")
    assert script.read_text().startswith("#!/bin/sh\n"), "the package's script is run by /bin/sh"
    assert SYSTEMD_STEP_ASIDE in script.read_text(), "the package's script steps aside for systemd"
    text = script.read_text().replace(SYSTEMD_STEP_ASIDE, step_aside) + tail
    script.write_text(text.replace("#!/bin/sh\n", f"{shebang}\n", 1))
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", "cron.service"], capture_output=True, check=True, env=env)
    finding = _logrotate_scheduled_on(root, systemd=True, running={"cron.service"})
    assert finding.problems == problems, finding.evidence
    if not problems:
        assert DEBIAN_RUNS_DAILY in finding.evidence, finding.evidence


@pytest.mark.parametrize(
    ("shebang", "problems"),
    [
        # Run by dash, `[[` fails and the script goes on to run logrotate under systemd too, from /etc/crontab's
        # cron.daily line (old code: read as stepping aside, and it failed).
        pytest.param("#!/bin/sh", [], id="dash-runs-logrotate"),
        # Run by bash, the script steps aside where systemd is PID 1: the disabled timer leaves nothing to run it.
        pytest.param("#!/bin/bash", [TIMER_DISABLED, f"nor does cron run it: {STEPS_ASIDE}"], id="bash-steps-aside"),
        pytest.param("#! /bin/bash -e", [TIMER_DISABLED, f"nor does cron run it: {STEPS_ASIDE}"], id="bash-with-args"),
        # A #! line naming a program the host does not have: the script never starts (old code: cron ran it).
        pytest.param(
            "#!/bin/zsh",
            [
                TIMER_DISABLED,
                f"nor does cron run it: {DAILY}'s #! line names /bin/zsh, which is missing or not "
                "executable: cron never runs logrotate",
            ],
            id="no-such-shell",
        ),
    ],
)
@ROOT_OWNS_CRONTABS
def test_the_cron_daily_script_is_read_as_the_shell_of_its_hashbang_runs_it(logrotate_runners, tmp_path, shebang,
                                                                            problems):  # fmt: skip
    """DZ-AU-05: run-parts runs /etc/cron.daily/logrotate with the shell of its #! line, whose `[[` decides whether
    it steps aside for systemd: dash has none (a command not found, which fails), bash has; a shell the host does not
    have runs nothing. The real Debian 12 tree
    under systemd, cron enabled and running, logrotate.timer disabled, the script's step aside written with `[[`."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    _assert_double_bracket_script_judged(root, shebang, problems)


DEBIAN_CRONTAB_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n"


@pytest.mark.parametrize("shebang", ["#!/bin/sh", "#!/bin/bash"])
@ROOT_OWNS_CRONTABS
def test_a_negated_double_bracket_step_aside_exits_under_dash_and_bash(logrotate_runners, tmp_path, shebang):
    """DZ-AU-05: `if [[ ! -d /run/systemd/system ]]; then :; else exit 0; fi` exits where systemd is PID 1 under
    bash, and under dash, whose `[[` is a command not found, always: its `else` runs whatever the `!`, with or without
    systemd. Either way cron does not run logrotate under systemd (old code: under dash the script ran logrotate
    neither way, its `!` test escaped the lines read instead, and it passed). The real Debian 12 tree under systemd,
    cron enabled and running, logrotate.timer disabled."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    said = EXITS_EITHER_WAY if shebang == "#!/bin/sh" else STEPS_ASIDE
    problems = [TIMER_DISABLED, f"nor does cron run it: {said}"]
    _assert_double_bracket_script_judged(root, shebang, problems, step_aside=DOUBLE_BRACKET_STEP_ASIDE_NEGATED)


@pytest.mark.parametrize(
    ("shebang", "crontab_path", "anacrontab_path", "problems"),
    [
        # env finds sh in /bin on /etc/crontab's PATH, and /bin/sh is dash: `[[` fails and the script runs logrotate
        # under systemd too (old code: env was read as a shell not known, its `[[` taken to succeed, and it failed).
        pytest.param("#!/usr/bin/env sh", DEBIAN_CRONTAB_PATH, None, [], id="env-sh-is-dash"),
        # Without PATH= in /etc/crontab, cron's default /usr/bin:/bin: env finds /bin/dash.
        pytest.param("#!/usr/bin/env dash", "", None, [], id="env-dash-on-cron-s-default-path"),
        # env finds /bin/bash, which has `[[`: the script steps aside, and the disabled timer leaves nothing to run it.
        pytest.param(
            "#!/usr/bin/env bash",
            DEBIAN_CRONTAB_PATH,
            None,
            [TIMER_DISABLED, f"nor does cron run it: {STEPS_ASIDE}"],
            id="env-bash-steps-aside",
        ),
        # A PATH without bash on it: env fails, and the script never starts (old code: read as stepping aside).
        pytest.param(
            "#!/usr/bin/env bash",
            "PATH=/usr/local/bin\n",
            None,
            [
                TIMER_DISABLED,
                f"nor does cron run it: {DAILY}'s #! line runs bash through /usr/bin/env, and no bash is on the PATH "
                "run-parts runs it with (/usr/local/bin): cron never runs logrotate",
            ],
            id="env-finds-no-bash",
        ),
        # With anacron installed /etc/crontab's line steps aside: anacron runs cron.daily with its anacrontab's PATH,
        # here one without bash (old code: /etc/crontab's PATH would find /bin/bash).
        pytest.param(
            "#!/usr/bin/env bash",
            DEBIAN_CRONTAB_PATH,
            "PATH=/usr/local/bin\n",
            [
                TIMER_DISABLED,
                f"nor does cron run it: {DAILY}'s #! line runs bash through /usr/bin/env, and no bash is on the PATH "
                "run-parts runs it with (/usr/local/bin): cron never runs logrotate",
            ],
            id="env-on-anacrontab-s-path",
        ),
        # env given options: a shell not known, whose `[[` is taken to succeed, as before.
        pytest.param(
            "#!/usr/bin/env -S sh",
            DEBIAN_CRONTAB_PATH,
            None,
            [TIMER_DISABLED, f"nor does cron run it: {STEPS_ASIDE}"],
            id="env-with-options-not-known",
        ),
    ],
)
@ROOT_OWNS_CRONTABS
def test_a_cron_daily_script_run_through_env_is_read_as_the_shell_env_finds(logrotate_runners, debian_anacron,
                                                                            tmp_path, shebang, crontab_path,
                                                                            anacrontab_path, problems):  # fmt: skip
    """DZ-AU-05: `#!/usr/bin/env NAME` runs the NAME that env finds on the PATH run-parts runs the script with (that of
    /etc/crontab's PATH= line, cron's default /usr/bin:/bin without one; the anacrontab's where anacron runs it),
    whose `[[` decides whether it steps aside for systemd; none found, the script never starts. The real Debian 12
    tree with the real env, under systemd, cron enabled and running, logrotate.timer disabled, the script's step
    aside written with `[[`."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2("/usr/bin/env", root / "usr/bin/env")
    crontab = root / "etc/crontab"
    assert DEBIAN_CRONTAB_PATH in crontab.read_text(), "Debian's /etc/crontab sets its PATH"
    crontab.write_text(crontab.read_text().replace(DEBIAN_CRONTAB_PATH, crontab_path))
    if anacrontab_path is not None:
        shutil.copytree(debian_anacron, root, symlinks=True, dirs_exist_ok=True)
        anacrontab = root / "etc/anacrontab"
        assert DEBIAN_CRONTAB_PATH in anacrontab.read_text(), "Debian's /etc/anacrontab sets its PATH"
        anacrontab.write_text(anacrontab.read_text().replace(DEBIAN_CRONTAB_PATH, anacrontab_path))
    _assert_double_bracket_script_judged(root, shebang, problems)


# A line the grammar cannot parse (an unbalanced quote): the reader does not follow the script.
UNREADABLE_LINE = "\necho 'rotated\n"


@pytest.mark.parametrize(
    ("shebang", "step_aside", "problems"),
    [
        # dash has no `[[`: the script the reader cannot follow goes on to run logrotate under systemd too (old code:
        # any line testing /run/systemd/system was read as stepping aside, and it failed).
        pytest.param("#!/bin/sh", DOUBLE_BRACKET_STEP_ASIDE, [], id="dash-runs-logrotate"),
        pytest.param(
            "#!/bin/bash",
            DOUBLE_BRACKET_STEP_ASIDE,
            [TIMER_DISABLED, f"nor does cron run it: {STEPS_ASIDE}"],
            id="bash-steps-aside",
        ),
        # Under dash the negated `[[` runs its `else`: the script exits before the line no grammar parses (old code:
        # no line of the pattern, and it passed).
        pytest.param(
            "#!/bin/sh",
            DOUBLE_BRACKET_STEP_ASIDE_NEGATED,
            [TIMER_DISABLED, f"nor does cron run it: {EXITS_EITHER_WAY}"],
            id="dash-negated-exits",
        ),
        # The line no grammar parses right after the step aside: its `exit` is the last thing the readable head runs,
        # and stops the rest of the script all the same (old code: no command after it in the head, and it passed).
        pytest.param(
            "#!/bin/sh",
            DOUBLE_BRACKET_STEP_ASIDE_NEGATED + '\necho "rotated',
            [TIMER_DISABLED, f"nor does cron run it: {EXITS_EITHER_WAY}"],
            id="dash-negated-exits-at-the-end-of-the-head",
        ),
    ],
)
@ROOT_OWNS_CRONTABS
def test_a_cron_daily_script_not_followed_is_judged_by_its_shell_s_double_brackets(logrotate_runners, tmp_path,
                                                                                    shebang, step_aside,
                                                                                    problems):  # fmt: skip
    """DZ-AU-05: a cron.daily script the reader cannot follow whole is read as sh runs it up to the line it cannot
    parse, where a `[[` step aside holds only under a shell that has `[[`, and dash's failing `[[` runs its `else`.
    The real Debian 12 tree under systemd, cron enabled and running, logrotate.timer disabled, the script's step aside
    written with `[[` and a line no grammar parses."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    script = root / DAILY.lstrip("/")
    assert not sh_guards.readable(script.read_text() + UNREADABLE_LINE), "the script is one the reader does not follow"
    _assert_double_bracket_script_judged(root, shebang, problems, tail=UNREADABLE_LINE, step_aside=step_aside)


def _debian_tree_with_step_aside(logrotate_runners: Path, tmp_path: Path, step_aside: str) -> Path:
    """A copy of the Debian 12 tree whose /etc/cron.daily/logrotate has ``step_aside`` for the step aside it ships,
    cron.service enabled."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    script = root / DAILY.lstrip("/")
    script.write_text(script.read_text().replace(SYSTEMD_STEP_ASIDE, step_aside))
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", "cron.service"], capture_output=True, check=True, env=env)
    return root


@pytest.mark.parametrize(
    ("step_aside", "systemd", "problems"),
    [
        # An `exit 0` where the step aside was: no stepping aside for the timer, the script never rotates (old code:
        # under systemd said to exit where systemd is PID 1, "it tests /run/systemd/system"; without it, it passed).
        pytest.param("exit 0", True, [TIMER_DISABLED, f"nor does cron run it: {EXITS_EITHER_WAY}"], id="systemd"),
        pytest.param("exit 0", False, [EXITS_EITHER_WAY], id="no-systemd"),
        # The step aside Debian ships exits under systemd alone: as before.
        pytest.param(
            SYSTEMD_STEP_ASIDE, True, [TIMER_DISABLED, f"nor does cron run it: {STEPS_ASIDE}"], id="step-aside"
        ),
    ],
)
@ROOT_OWNS_CRONTABS
def test_a_cron_daily_script_exiting_either_way_never_rotates(logrotate_runners, tmp_path, step_aside, systemd,
                                                               problems):  # fmt: skip
    """DZ-AU-05: a cron.daily script that exits before logrotate with systemd PID 1 and without is no step aside for
    the timer: it never rotates, and is said so. The real Debian 12 tree, cron enabled and running, logrotate.timer
    disabled under systemd."""
    root = _debian_tree_with_step_aside(logrotate_runners, tmp_path, step_aside)
    running = {"cron.service"} if systemd else {"cron"}
    finding = _logrotate_scheduled_on(root, systemd=systemd, running=running)
    assert finding.problems == problems, finding.evidence


@ROOT_OWNS_CRONTABS
def test_each_shell_is_looked_up_on_the_host_once_per_check(logrotate_runners, tmp_path):
    """DZ-AU-05: /bin/sh, named by the cron.daily script's #! line and by /etc/crontab, is asked of the host once
    (`test -x`, `readlink -e`), not again for the step aside and for the crontab. The real Debian 12 tree under
    systemd, cron enabled and running, the script's step aside written with `[[` (which dash fails) so that every
    part of the check reads it."""
    root = _debian_tree_with_step_aside(logrotate_runners, tmp_path, DOUBLE_BRACKET_STEP_ASIDE)
    host = _RecordingUnitsHost(root, systemd=True, running={"cron.service"})
    (args,) = _control_checks("DZ-AU-05", "logrotate_scheduled")
    finding = checks.logrotate_scheduled(host, args)
    assert DEBIAN_RUNS_DAILY in finding.evidence, finding.evidence
    about_sh = [asked for asked in host.asked if asked[1:] == ("/bin/sh",)]
    assert about_sh == [("test -x %s", "/bin/sh"), ("readlink -e -- %s", "/bin/sh")], host.asked


@ROOT_OWNS_CRONTABS
def test_the_crontabs_and_the_anacrontab_are_read_once_per_check(logrotate_runners, debian_anacron, tmp_path):
    """DZ-AU-05: a cron.daily script run through `#!/usr/bin/env sh` needs the PATH run-parts runs it with, found from
    the crontabs and the anacrontab; the check reads each of them once, for that and for what runs cron.daily, not a
    second time. The real Debian 12 tree with anacron and the real env, systemd not PID 1, cron enabled and running."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    shutil.copytree(debian_anacron, root, symlinks=True, dirs_exist_ok=True)
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    shutil.copy2("/usr/bin/env", root / "usr/bin/env")
    script = root / DAILY.lstrip("/")
    script.write_text(script.read_text().replace("#!/bin/sh\n", "#!/usr/bin/env sh\n", 1))
    env = {**os.environ, "SYSTEMCTL_SKIP_SYSV": "1"}
    subprocess.run(["systemctl", f"--root={root}", "enable", "cron.service"], capture_output=True, check=True, env=env)
    host = _RecordingUnitsHost(root, systemd=False, running={"cron"})
    (args,) = _control_checks("DZ-AU-05", "logrotate_scheduled")
    finding = checks.logrotate_scheduled(host, args)
    assert finding.problems == [], finding.evidence
    for table in ("/etc/crontab", "/etc/cron.d/anacron", "/etc/anacrontab"):
        assert host.asked.count(("cat -- %s", table)) == 1, (table, host.asked)


DEBIAN_ANACRON_DAILY = "run-parts --report /etc/cron.daily"
ANACRON_STARTED_BUT = (
    f"{NOTHING_RUNS_DAILY}: /etc/crontab runs /etc/cron.daily but `test -x /usr/sbin/anacron ||` stops it: "
    "/usr/sbin/anacron is executable; anacron is started (/etc/cron.d/anacron), and /etc/anacrontab's job cron.daily "
    "runs /etc/cron.daily but "
)


@pytest.mark.parametrize(
    ("shell", "job", "problems"),
    [
        # A guard that holds lets the job run cron.daily.
        pytest.param(None, f"test -x /usr/sbin/anacron && {DEBIAN_ANACRON_DAILY}", [], id="guard-holds"),
        # A guard on a file the host lacks stops run-parts (old code: any run-parts of the job counted, and it passed).
        pytest.param(
            None, f"test -x /usr/local/sbin/daily-gate && {DEBIAN_ANACRON_DAILY}",
            [f"{ANACRON_STARTED_BUT}`test -x /usr/local/sbin/daily-gate &&` stops it: /usr/local/sbin/daily-gate is "
             "not executable"],
            id="guard-stops",
        ),
        # anacron runs its jobs with /bin/sh whatever SHELL= says: dash, which has no `[[` (old code: it passed).
        pytest.param(
            "SHELL=/bin/bash", f"[[ -x /usr/sbin/anacron ]] && {DEBIAN_ANACRON_DAILY}",
            [f"{ANACRON_STARTED_BUT}`[[ -x /usr/sbin/anacron ]] &&` stops it: /bin/sh (dash) has no `[[`"],
            id="shell-setting-is-not-the-shell",
        ),
        # `a || b`: run-parts runs where the test fails under dash.
        pytest.param(None, f"[[ -x /usr/sbin/anacron ]] || {DEBIAN_ANACRON_DAILY}", [], id="dash-or-runs"),
    ],
)  # fmt: skip
@ROOT_OWNS_CRONTABS
def test_an_anacrontab_job_is_read_as_sh_runs_it(logrotate_runners, debian_anacron, tmp_path, shell, job, problems):
    """DZ-AU-05: anacron hands a job's command to /bin/sh (runjob.c: execl("/bin/sh", "/bin/sh", "-c", ...)), its
    anacrontab's SHELL= being only the job's environment; the job's file tests are weighed as sh runs them, as a cron
    line's are. The real Debian 12 tree with the real anacron package, its cron.daily job guarded, systemd not PID 1,
    cron enabled and running (/etc/cron.d/anacron starts anacron)."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    shutil.copytree(debian_anacron, root, symlinks=True, dirs_exist_ok=True)
    anacrontab = root / "etc/anacrontab"
    text = anacrontab.read_text()
    shipped = f"cron.daily\t{DEBIAN_ANACRON_DAILY}\n"
    assert shipped in text, "the package's cron.daily job is the one changed"
    assert "SHELL=/bin/sh\n" in text, "the package's SHELL= setting is the one changed"
    text = text.replace(shipped, f"cron.daily\t{job}\n")
    anacrontab.write_text(text.replace("SHELL=/bin/sh\n", f"{shell}\n") if shell else text)
    runs = f"cron runs {DAILY}: /etc/cron.d/anacron, whose /etc/anacrontab job cron.daily runs /etc/cron.daily"
    _assert_judged_with(
        root, "cron.service", systemd=False, running={"cron"}, problems=problems, evidence=None if problems else runs
    )


def test_the_real_anacron_runs_a_job_with_bin_sh_whatever_shell_says(debian_anacron, tmp_path):
    """anacron runs a job's command with /bin/sh, not its anacrontab's SHELL= (what the check's reading of anacrontab
    jobs rests on): the real Debian 12 anacron, run in the foreground on a job whose `[[` only bash has."""
    if Path("/bin/sh").resolve().name == "bash":
        pytest.skip("this machine's /bin/sh is bash: a `[[` cannot tell it from SHELL=/bin/bash")
    (tmp_path / "spool").mkdir()
    tab = tmp_path / "anacrontab"
    tab.write_text(f"SHELL=/bin/bash\n1 0 probe [[ -n x ]] && touch {tmp_path}/bash || touch {tmp_path}/sh\n")
    anacron = debian_anacron / "usr/sbin/anacron"
    subprocess.run(
        [str(anacron), "-f", "-n", "-d", "-t", str(tab), "-S", str(tmp_path / "spool"), "probe"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_file()) == ["anacrontab", "sh"]


NO_HASHBANG_NEVER_RUNS = (
    f"{DAILY} has no #! line, so Debian's run-parts cannot exec it (Exec format error): cron never runs logrotate"
)


@ROOT_OWNS_CRONTABS
def test_a_cron_daily_script_without_a_hashbang_never_runs_under_debian_s_run_parts(logrotate_runners, tmp_path):
    """DZ-AU-05: Debian's run-parts (debianutils, C) execs each cron.daily script itself, and the kernel execs no
    script without a #! line: the script never runs. The real Debian 12 tree, its script's #! line taken off, systemd
    not PID 1, cron enabled and running, /etc/crontab running cron.daily (old code: read as /bin/sh, and it passed)."""
    root = tmp_path / "root"
    shutil.copytree(logrotate_runners, root, symlinks=True)
    script = root / DAILY.lstrip("/")
    assert script.read_text().startswith("#!/bin/sh\n"), "the package's script has a #! line"
    script.write_text(script.read_text().removeprefix("#!/bin/sh\n"))
    _assert_judged_with(
        root, "cron.service", systemd=False, running={"cron"}, problems=[NO_HASHBANG_NEVER_RUNS], evidence=None
    )


DEBIAN_SYSTEMD_TEST = "# skip in favour of systemd timer\nif [ -d /run/systemd/system ]; then\n    exit 0\nfi\n"


@pytest.mark.parametrize(
    ("family", "problems"),
    [
        # A RedHat-family host without cronie: nothing runs cron.daily, and no Debian run-parts is there to blame (old
        # code: "Debian's run-parts cannot exec it").
        pytest.param(
            "redhat",
            [TIMER_DISABLED,
             f"nor does cron run it: no cron daemon (crond.service, cron.service) is installed: nothing runs {DAILY}"],
            id="redhat-without-cronie",
        ),
        # Debian without cron, its anacron.timer running cron.daily through Debian's run-parts, which cannot exec it.
        pytest.param(
            "debian", [TIMER_DISABLED, f"nor does cron run it: {NO_HASHBANG_NEVER_RUNS}"], id="debian-anacron-timer"
        ),
    ],
)  # fmt: skip
def test_without_a_cron_daemon_a_script_without_a_hashbang_is_judged_by_what_runs_cron_daily(
    logrotate_runners, debian_anacron, tmp_path, family, problems
):
    """DZ-AU-05: with no cron daemon only Debian's anacron.timer runs cron.daily, through Debian's run-parts: where it
    does, a script without a #! line never runs (Exec format error); where nothing does, that is what the check says.
    Under systemd, logrotate.timer disabled, the script's #! line (and Debian's systemd test) taken off."""
    root = tmp_path / "root"
    if family == "redhat":
        _redhat_cron_tree(root, logrotate_runners, anacron=False, noanacron=False)
        (root / "usr/lib/systemd/system/crond.service").unlink()
        shipped = "#!/bin/sh\n"
    else:
        shutil.copytree(logrotate_runners, root, symlinks=True)
        shutil.copytree(debian_anacron, root, symlinks=True, dirs_exist_ok=True)
        next(root.glob("*/systemd/system/cron.service")).unlink()
        (root / "etc/init.d/cron").unlink()
        shipped = f"#!/bin/sh\n\n{DEBIAN_SYSTEMD_TEST}"
    script = root / DAILY.lstrip("/")
    assert script.read_text().startswith(shipped), "the package's script has a #! line"
    script.write_text(script.read_text().removeprefix(shipped))
    if family == "redhat":
        finding = _logrotate_scheduled_on(root, systemd=True, running=set())
        assert finding.problems == problems, finding.evidence
    else:
        _assert_judged_with(
            root, "anacron.timer", systemd=True, running={"anacron.timer"}, problems=problems, evidence=None
        )


def test_the_real_debian_run_parts_does_not_run_a_script_without_a_hashbang(tmp_path):
    """What the check's reading of a script without a #! line rests on: the real Debian run-parts (debianutils) fails
    to exec it (Exec format error), and runs nothing of it."""
    run_parts = debian_package_tree(("debianutils",), tmp_path / "debianutils") / "bin/run-parts"
    daily = tmp_path / "cron.daily"
    daily.mkdir()
    (daily / "probe").write_text(f"touch {tmp_path}/ran\n")
    (daily / "probe").chmod(0o755)
    said = subprocess.run([str(run_parts), "--report", str(daily)], capture_output=True, text=True, check=False)
    assert "Exec format error" in said.stderr, said
    assert not (tmp_path / "ran").exists(), "run-parts ran the script"


NO_BASH_FOR_RUN_PARTS = (
    f"{DAILY} has no #! line, so cronie's run-parts runs it with its own /bin/bash, which is missing or not executable "
    "(run-parts itself cannot start): cron never runs logrotate"
)


@pytest.mark.parametrize(
    ("step_aside", "bash", "problems"),
    [
        # Old code, before the #! reading: read as dash, whose `[[` fails, it passed.
        pytest.param(DOUBLE_BRACKET_STEP_ASIDE, True, [TIMER_DISABLED, f"nor does cron run it: {STEPS_ASIDE}"],
                     id="bash-steps-aside"),
        # Read as a shell not known, this one would pass: only bash's answer to the test steps aside.
        pytest.param(DOUBLE_BRACKET_STEP_ASIDE_NEGATED, True, [TIMER_DISABLED, f"nor does cron run it: {STEPS_ASIDE}"],
                     id="bash-steps-aside-negated"),
        # No /bin/bash: cronie's run-parts cannot start (old code: read as a shell not known).
        pytest.param("", False, [TIMER_DISABLED, f"nor does cron run it: {NO_BASH_FOR_RUN_PARTS}"], id="no-bash"),
    ],
)  # fmt: skip
@ROOT_OWNS_CRONTABS
def test_a_cron_daily_script_without_a_hashbang_is_read_as_bash_under_cronie_s_run_parts(
    logrotate_runners, tmp_path, step_aside, bash, problems
):
    """DZ-AU-05: cronie's run-parts (a bash script) runs a cron.daily script without a #! line as a command of its
    bash, which reads the script itself: as bash, whatever /bin/sh is, and without /bin/bash run-parts runs nothing.
    The RedHat-family tree with cronie-noanacron under systemd, logrotate.timer disabled, its /bin/sh made dash, the
    script's #! line taken off and a `[[` step aside for systemd put in: bash steps aside, nothing runs logrotate."""
    root = tmp_path / "root"
    _redhat_cron_tree(root, logrotate_runners, anacron=False, noanacron=True)
    shutil.copy(logrotate_runners / "bin/dash", root / "usr/bin/dash")
    (root / "usr/bin/sh").unlink()
    (root / "usr/bin/sh").symlink_to("dash")
    if not bash:
        (root / "usr/bin/bash").unlink()
    script = root / DAILY.lstrip("/")
    shipped = "#!/bin/sh\n\n"
    assert script.read_text().startswith(shipped), "the package's script has a #! line"
    script.write_text(f"{step_aside}\n" + script.read_text().removeprefix(shipped))
    _assert_judged_with(
        root, "crond.service", systemd=True, running={"crond.service"}, problems=problems, evidence=None
    )


@pytest.mark.parametrize(
    ("family", "lists", "problems", "evidence"),
    [
        # cronie's run-parts skips a script its folder's jobs.deny names, and, with a jobs.allow, one it does not name
        # (old code: cron ran it, and it passed).
        *(
            pytest.param(
                "cronie", {f"cron.daily/{listing}": text},
                [TIMER_DISABLED,
                 f"nor does cron run it: run-parts skips {DAILY}: /etc/cron.daily/{listing} {says}, so cron never runs "
                 "logrotate"],
                None, id=case,
            )
            for listing, text, says, case in [
                ("jobs.deny", "logrotate\n", "names it", "daily-denied"),
                ("jobs.allow", "0yum-daily.cron\n", "does not name it", "daily-not-allowed"),
                # crontabs 1.11's run-parts skips a script its folder's whitelist names, a deny list despite its name.
                ("whitelist", "man-db\nlogrotate\n", "names it (a deny list, whatever its name)", "daily-whitelisted"),
            ]
        ),
        pytest.param("cronie", {"cron.daily/jobs.allow": "logrotate\n"}, [], ANACRON_RUNS_DAILY, id="daily-allowed"),
        # anacrontab(5)'s way to turn anacron off: 0anacron in cron.hourly's jobs.deny, so nothing starts anacron
        # (old code: 0anacron was taken to start it, and it passed).
        pytest.param(
            "cronie", {"cron.hourly/jobs.deny": "0anacron\n"},
            [TIMER_DISABLED,
             f"nor does cron run it: {NOTHING_RUNS_DAILY}: /etc/anacrontab's job cron.daily runs /etc/cron.daily, but "
             "nothing starts anacron: run-parts skips 0anacron: /etc/cron.hourly/jobs.deny names it"],
            "run-parts skips /etc/cron.hourly/0anacron, which would start anacron: /etc/cron.hourly/jobs.deny names it",
            id="anacron-denied",
        ),
        # Debian's run-parts reads no jobs.deny: /etc/crontab still runs the script.
        pytest.param("debian", {"cron.daily/jobs.deny": "logrotate\n"}, [], DEBIAN_RUNS_DAILY, id="debian-reads-none"),
    ],
)  # fmt: skip
@ROOT_OWNS_CRONTABS
def test_cronie_s_run_parts_skips_the_scripts_its_job_lists_leave_out(logrotate_runners, tmp_path, family, lists,
                                                                       problems, evidence):  # fmt: skip
    """DZ-AU-05: cronie's run-parts (crontabs) skips a script named on a line of its folder's jobs.deny or whitelist,
    and, where the folder has a jobs.allow, one not named there: a denied cron.daily/logrotate never runs, and a denied
    cron.hourly/0anacron starts no anacron; Debian's run-parts reads none of them. The RedHat-family tree with
    cronie-anacron under systemd, logrotate.timer disabled; the real Debian 12 tree without systemd as PID 1."""
    root = tmp_path / "root"
    if family == "cronie":
        _redhat_cron_tree(root, logrotate_runners, anacron=True, noanacron=False)
        unit, systemd, running = "crond.service", True, {"crond.service"}
    else:
        shutil.copytree(logrotate_runners, root, symlinks=True)
        unit, systemd, running = "cron.service", False, {"cron"}
    for name, text in lists.items():
        (root / "etc" / name).write_text(text)
    _assert_judged_with(root, unit, systemd=systemd, running=running, problems=problems, evidence=evidence)


@pytest.mark.parametrize(
    ("listing", "problems"),
    [
        # `0anacron.cron`'s `.` matches the X: denied, nothing starts anacron (old code: no line was its name, and it
        # passed).
        ("jobs.deny",
         [TIMER_DISABLED,
          f"nor does cron run it: {NOTHING_RUNS_DAILY}: /etc/anacrontab's job cron.daily runs /etc/cron.daily, but "
          "nothing starts anacron: run-parts skips 0anacron.cron: /etc/cron.hourly/jobs.deny names it"]),
        # Allowed, 0anacron.cron starts anacron, which runs cron.daily (old code: not allowed, and it failed).
        ("jobs.allow", []),
    ],
)  # fmt: skip
@ROOT_OWNS_CRONTABS
def test_cronie_s_run_parts_reads_a_script_s_name_as_grep_s_pattern(logrotate_runners, tmp_path, listing, problems):
    """DZ-AU-05: cronie's run-parts asks `grep -q "^name$"` of its job lists, so the script's name is a basic regular
    expression matched against each line: a line `0anacronXcron` names cron.hourly/0anacron.cron. The RedHat-family
    tree with cronie-anacron under systemd, logrotate.timer disabled, its 0anacron renamed 0anacron.cron."""
    root = tmp_path / "root"
    _redhat_cron_tree(root, logrotate_runners, anacron=True, noanacron=False)
    hourly = root / "etc/cron.hourly"
    (hourly / "0anacron").rename(hourly / "0anacron.cron")
    (hourly / listing).write_text("0anacronXcron\n")
    said = subprocess.run(["grep", "-q", "^0anacron.cron$", hourly / listing], check=False)
    assert said.returncode == 0, "grep finds the line"
    _assert_judged_with(
        root, "crond.service", systemd=True, running={"crond.service"}, problems=problems, evidence=None
    )


@pytest.mark.parametrize(
    "name",
    ["0yum-daily.cron", "a*b", "*x", "a**b", "x[ab]y", "x[^ab]y", "x[]a]y", "x[a-c]y", "a\\.b", "x[y", "p+q", "x[z-a]y",
     "x\\1", "x\\"],
)  # fmt: skip
def test_a_script_s_name_matches_the_lines_grep_matches(name):
    """The name read as a basic regular expression matches the very lines the real grep finds with `^name$` (an
    unmatched `[`, which grep cannot read, none), as run-parts asks it."""
    lines = ["0yum-daily.cron", "0yum-dailyXcron", "ab", "aab", "b", "*x", "x", "xay", "xzy", "x]y", "xcy", "a.b",
             "aXb", "x[y", "p+q", "pq", "x1", "x\\", "x$", "x$y"]  # fmt: skip
    text = "\n".join(lines) + "\n"
    # In the C locale grep says why it refuses a pattern in English, whatever the language of the machine.
    said = subprocess.run(
        ["grep", "--", f"^{name}$"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    refused = ("Unmatched [", "Invalid range end", "Invalid back reference")
    assert said.returncode in {0, 1} or any(why in said.stderr for why in refused), said
    pattern = checks._basic_regex(name)
    matched = [line for line in lines if pattern is not None and pattern.fullmatch(line)]
    assert matched == said.stdout.splitlines()


RESET_TO_P = "[Service]\nExecStart=\nExecStart=/usr/sbin/crond -n -p\n"
RESET_WITHOUT_CRONDARGS = "[Service]\nExecStart=\nExecStart=/usr/sbin/crond -n\n"
# A drop-in of /usr/lib giving -p, masked by one of the same name in /etc that does not.
MASKED_P = {
    "usr/lib/systemd/system/crond.service.d/50-args.conf": RESET_TO_P,
    "etc/systemd/system/crond.service.d/50-args.conf": "[Service]\nKillMode=process\n",
}


@pytest.mark.parametrize(
    ("files", "cat_config", "skipped"),
    [
        # A drop-in replacing ExecStart= with -p of its own (old code: CRONDARGS alone was read, and dailyjobs skipped).
        pytest.param({"etc/systemd/system/crond.service.d/override.conf": RESET_TO_P}, True, False, id="drop-in-p"),
        pytest.param(
            {"etc/systemd/system/crond.service.d/override.conf": RESET_TO_P}, False, False, id="drop-in-p-no-cat-config"
        ),
        pytest.param(
            {"usr/lib/systemd/system/crond.service.d/50-args.conf": '[Service]\nEnvironment="CRONDARGS=-s -p"\n'},
            True, False, id="environment-p",
        ),
        # A drop-in of /etc masks the one of the same name in /usr/lib: its ExecStart= is the shipped one.
        pytest.param(MASKED_P, True, True, id="masked-drop-in", marks=ROOT_OWNS_CRONTABS),
        pytest.param(MASKED_P, False, True, id="masked-drop-in-no-cat-config", marks=ROOT_OWNS_CRONTABS),
        # CRONDARGS=-p where the drop-in's command no longer passes $CRONDARGS (old code: -p was read, and it passed).
        pytest.param(
            {"etc/sysconfig/crond": "CRONDARGS=-p\n",
             "etc/systemd/system/crond.service.d/override.conf": RESET_WITHOUT_CRONDARGS},
            True, True, id="crondargs-dropped", marks=ROOT_OWNS_CRONTABS,
        ),
    ],
)  # fmt: skip
def test_cronie_started_with_p_by_a_drop_in_reads_any_crontab(logrotate_runners, tmp_path, files, cat_config, skipped):
    """DZ-AU-05: crond.service's drop-ins can replace ExecStart= (an empty assignment resets it) or set CRONDARGS, so
    whether crond runs with -p is read from the unit as systemd loads it (systemd-analyze cat-config, or the files in
    systemd's order where it has none): a drop-in of /etc masks one of the same name in /usr/lib. The RedHat-family
    tree with cronie-noanacron and an executable dailyjobs, which crond reads only with -p."""
    root = tmp_path / "root"
    _redhat_cron_tree(root, logrotate_runners, anacron=False, noanacron=True)
    subprocess.run(["systemctl", f"--root={root}", "enable", "crond.service"], capture_output=True, check=True)
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    _break_cron_rule(root / "etc/cron.d/dailyjobs", "mode 0755", root)
    (args,) = _control_checks("DZ-AU-05", "logrotate_scheduled")
    host = _UnitsHost(root, systemd=True, running={"crond.service"}, cat_config=cat_config)
    finding = checks.logrotate_scheduled(host, args)
    assert (finding.problems != []) == skipped, finding.evidence
    assert any(line.startswith("crond.service skips /etc/cron.d/dailyjobs") for line in finding.evidence) == skipped


def test_file_modes_reports_extra_permission_bits(tmp_path):
    """file_modes fails a file with any permission bit beyond the allowed mode, and passes a stricter one."""
    loose, strict = tmp_path / "loose", tmp_path / "strict"
    loose.write_text("")
    strict.write_text("")
    loose.chmod(0o644)
    strict.chmod(0o400)
    owner = loose.owner()
    finding = checks.file_modes(
        testinfra.get_host("local://"),
        {
            "files": [
                {"path": str(loose), "mode": "0600", "owner": owner},
                {"path": str(strict), "mode": "0600", "owner": owner},
            ]
        },
    )
    assert finding.problems == [f"{loose} has mode 0644, more than 0600"]


class _CmdlineHost:
    """Answers `cat -- /proc/cmdline` with a given command line, as testinfra's run() does."""

    def __init__(self, cmdline: str) -> None:
        self.cmdline = cmdline

    def run(self, command: str, *args: str) -> SimpleNamespace:
        assert (command, args) == ("cat -- %s", ("/proc/cmdline",))
        return SimpleNamespace(rc=0, stdout=self.cmdline, stderr="")


def test_kernel_cmdline_reads_the_kernel_parameters_only():
    """kernel_cmdline: the last of a repeated parameter wins; numbers compare as numbers; init's words after
    '--' are not the kernel's; a missing parameter fails."""
    expect = [{"key": "audit", "op": "eq", "value": 1}, {"key": "audit_backlog_limit", "op": "ge", "value": 8192}]
    hardened = "BOOT_IMAGE=/boot/vmlinuz root=UUID=x ro audit=0 quiet audit=1 audit_backlog_limit=16384\n"
    finding = checks.kernel_cmdline(_CmdlineHost(hardened), {"expect": expect})
    assert finding.problems == []
    assert finding.evidence == [f"/proc/cmdline: {hardened.strip()}"]
    after_init = "root=/dev/vda audit_backlog_limit=64 -- audit=1 audit_backlog_limit=8192"
    finding = checks.kernel_cmdline(_CmdlineHost(after_init), {"expect": expect})
    assert finding.problems == [
        "the kernel command line has no audit (expected = 1)",
        "the kernel command line has audit_backlog_limit=64, expected ≥ 8192",
    ]


class _AnswerHost:
    """Answers each command with a fixed output, as testinfra's run() does."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def run(self, command: str, *args: str) -> SimpleNamespace:
        return SimpleNamespace(rc=0, stdout=self.answers[command % args if args else command], stderr="")


def test_sshd_reads_without_password_as_prohibit_password():
    """OpenSSH up to 9.3 prints prohibit-password under its old name: a host set as catalogued passes."""
    host = _AnswerHost({"/usr/sbin/sshd -T": "permitrootlogin without-password\nkbdinteractiveauthentication no\n"})
    expect = [
        {"key": "permitrootlogin", "op": "eq", "value": "prohibit-password"},
        {"key": "kbdinteractiveauthentication", "op": "eq", "value": "no"},
    ]
    assert checks.sshd_effective(host, {"expect": expect}).problems == []
    expect[0]["value"] = "no"
    assert checks.sshd_effective(host, {"expect": expect}).problems == [
        "sshd -T: permitrootlogin is prohibit-password, expected = no"
    ]


@pytest.fixture(scope="module")
def real_sshd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A command that runs Debian 12's real sshd, as `/usr/sbin/sshd` would on a host: in a private mount namespace
    (`unshare -m`) where /etc/passwd has its privilege-separation user and the test accounts (SSHD_TEST_ACCOUNTS),
    /etc/group their groups, and /run/sshd exists, this machine's own files untouched. The sshd_config to read is
    given with -f. Beside it, `with-accounts` runs any other command with the same passwd and group."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("running sshd -T needs root and unshare (a private mount namespace for its passwd and /run)")
    work = tmp_path_factory.mktemp("sshd")
    root = debian_package_tree(("openssh-server", "libwrap0"), work)
    (work / "passwd").write_text(
        Path("/etc/passwd").read_text()
        + "sshd:x:64999:65534::/run/sshd:/usr/sbin/nologin\n"
        + "".join(f"{user}:x:{uid}:{gid}::/nonexistent:/usr/sbin/nologin\n" for user, uid, gid in SSHD_TEST_ACCOUNTS)
    )
    (work / "group").write_text(Path("/etc/group").read_text() + "".join(f"{g}\n" for g in SSHD_TEST_GROUPS))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "host_key")], check=True)
    libraries = f"{root}/usr/lib/x86_64-linux-gnu:{root}/lib/x86_64-linux-gnu"
    accounts = f"mount --bind {work}/passwd /etc/passwd && mount --bind {work}/group /etc/group"
    inside = (
        f"{accounts} && mount -t tmpfs tmpfs /run && mkdir /run/sshd && "
        f'LD_LIBRARY_PATH={libraries} exec {root}/usr/sbin/sshd -o HostKey={work}/host_key "$@"'
    )
    command = work / "sshd"
    command.write_text(f"#!/bin/sh\nexec unshare -m --propagation private sh -c '{inside}' sshd \"$@\"\n")
    command.chmod(0o755)
    with_accounts = work / "with-accounts"
    with_accounts.write_text(
        f'#!/bin/sh\nexec unshare -m --propagation private sh -c \'{accounts} && exec "$@"\' sh "$@"\n'
    )
    with_accounts.chmod(0o755)
    return command


# Accounts the real sshd and the audit's other commands see (user, uid, primary gid), with their groups: dz-ops-lead
# belongs to dz-admins by its primary group only, which dz-admins' own entry does not list.
SSHD_TEST_ACCOUNTS = [("dz-ops-lead", 64990, 64990)]
SSHD_TEST_GROUPS = ["dz-admins:x:64990:"]


class _SshdHost:
    """This machine, where `/usr/sbin/sshd` is the real sshd reading ``config`` and every other command (getent)
    sees the accounts sshd sees."""

    def __init__(self, sshd: Path, config: Path) -> None:
        self.local = testinfra.get_host("local://")
        self.sshd = f"{sshd} -f {config}"
        self.with_accounts = sshd.parent / "with-accounts"

    def run(self, command: str, *args: str) -> Any:
        if command.startswith("/usr/sbin/sshd"):
            return self.local.run(command.replace("/usr/sbin/sshd", self.sshd, 1), *args)
        return self.local.run(f"{self.with_accounts} {command}", *args)


class _NamespaceHost:
    """This machine, every command of the audit run inside a network namespace (``inside``, a command prefix)."""

    def __init__(self, inside: list[str]) -> None:
        self.local = testinfra.get_host("local://")
        self.inside = " ".join(inside)

    def run(self, command: str, *args: str) -> Any:
        return self.local.run(f"{self.inside} {command}", *args)


def test_ipv6_router_advertisements_and_redirects_are_judged_on_every_interface():
    """IPv6 applies net.ipv6.conf.all.accept_ra/accept_redirects to no interface and `default` only to later ones:
    with all and default at 0, an interface that existed before keeps 1 and takes router advertisements, so the
    audit reads each interface's own value (lo aside) and fails such a one, naming it (a VLAN's dot as '/')."""
    expected = {key: 0 for key in _control_checks("DZ-IP-04", "sysctl")[0]["values"] if key.startswith("net.ipv6.")}
    assert set(expected) == {
        f"net.ipv6.conf.{w}.{k}" for w in ("all", "default") for k in ("accept_ra", "accept_redirects")
    }
    with network_namespace("dzb2-audit", "dzv0", "dzv1.5") as inside:
        host = _NamespaceHost(inside)
        for key in expected:
            subprocess.run([*inside, "sysctl", "-q", "-w", f"{key}=0"], check=True)
        finding = checks.sysctl(host, {"values": expected})  # type: ignore[arg-type]
        assert "net.ipv6.conf.dzv1/5.accept_ra is 1, expected 0" in finding.problems
        assert "net.ipv6.conf.dzv0.accept_redirects is 1, expected 0" in finding.problems
        assert len(finding.problems) == 8, finding.problems  # four interfaces (the peers too), two keys, lo aside
        assert not any(".lo." in e for e in finding.evidence)
        for interface in ("dzv0", "dzv0p", "dzv1/5", "dzv1/5p"):
            for key in ("accept_ra", "accept_redirects"):
                subprocess.run([*inside, "sysctl", "-q", "-w", f"net.ipv6.conf.{interface}.{key}=0"], check=True)
        assert checks.sysctl(host, {"values": expected}).problems == []  # type: ignore[arg-type]


def _proc_sys(values: dict[str, object]) -> dict[str, bytes]:
    """/proc/sys files of a kernel whose parameters hold ``values``."""
    return {"/proc/sys/" + key.replace(".", "/"): f"{value}\n".encode() for key, value in values.items()}


def test_ipv6_keys_do_not_apply_to_a_kernel_without_ipv6():
    """A host booted with ipv6.disable=1 (no /proc/sys/net/ipv6) takes no IPv6 packet: DZ-IP-04 judges its IPv4 keys
    and says the net.ipv6 keys do not apply, instead of failing them for ever; a kernel with IPv6 is still judged on
    them, whether IPv6 is on or only switched off (disable_ipv6)."""
    wanted = _control_checks("DZ-IP-04", "sysctl")[0]["values"]
    ipv4 = {key: value for key, value in wanted.items() if not key.startswith("net.ipv6.")}
    assert len(ipv4) < len(wanted), "the catalogue asks for no net.ipv6 key"
    finding = checks.sysctl(_FilesHost(_proc_sys(ipv4)), {"values": wanted})
    assert finding.problems == []
    assert any(
        "not applicable, this kernel has no IPv6 (/proc/sys/net/ipv6 does not exist)" in e for e in finding.evidence
    )
    forwarding = checks.sysctl(_FilesHost(_proc_sys({**ipv4, "net.ipv4.ip_forward": 1})), {"values": wanted})
    assert forwarding.problems == ["net.ipv4.ip_forward is 1, expected 0"]
    switched_off = {**ipv4, "net.ipv6.conf.all.disable_ipv6": 1, "net.ipv6.conf.all.accept_ra": 1}
    judged = checks.sysctl(_FilesHost(_proc_sys(switched_off)), {"values": wanted})
    assert "net.ipv6.conf.all.accept_ra is 1, expected 0" in judged.problems
    assert "net.ipv6.conf.default.accept_ra does not exist on this kernel" in judged.problems


SSHD_HARDENED = """PermitRootLogin no
MaxAuthTries 4
LoginGraceTime 60
ClientAliveInterval 300
ClientAliveCountMax 3
AuthenticationMethods publickey,password
Match Address *,!10.64.0.0/24,!127.0.0.1
    DenyUsers *
Match User dzadmin
    AuthenticationMethods publickey
"""


def test_a_match_block_that_weakens_sshd_for_some_connections_fails(real_sshd, tmp_path):
    """A Match block applies only to the connections it matches, and plain `sshd -T` applies none: the audit asks
    sshd for root, a person and the automation account from each management network and from outside, so a block
    that lets root in, takes passwords alone or allows 100 tries from the management network fails."""
    config = tmp_path / "sshd_config"
    mgmt = {"mgmt_allowed_sources": ["10.64.0.0/24"], "automation_account": "dzadmin"}
    keys = {"permitrootlogin", "maxauthtries", "clientaliveinterval", "authenticationmethods"}

    def problems() -> list[str]:
        host = _SshdHost(real_sshd, config)
        found = []
        for control in ("DZ-IA-06", "DZ-IA-08", "DZ-IA-09"):
            for args in _control_checks(control, "sshd_effective", **mgmt):
                args["expect"] = [item for item in args["expect"] if item["key"] in keys]
                found += checks.sshd_effective(host, args).problems
        return found

    config.write_text(SSHD_HARDENED)
    assert problems() == []
    config.write_text(
        SSHD_HARDENED
        + "Match Address 10.64.0.0/24\n    PermitRootLogin yes\n    MaxAuthTries 100\n    ClientAliveInterval 0\n"
        + "    AuthenticationMethods password\n"
    )
    inside = "root from 10.64.0.1, dz-person-probe from 10.64.0.1, dzadmin from 10.64.0.1"
    assert problems() == [
        f"sshd -T -C for {inside}: clientaliveinterval is 0, expected between 1 and 300",
        f"sshd -T -C for {inside}: permitrootlogin is yes, expected = no",
        f"sshd -T -C for {inside}: maxauthtries is 100, expected between 1 and 4",
        "sshd -T -C for dz-person-probe from 10.64.0.1: authenticationmethods is password, "
        "expected = publickey,password",
    ]


def test_a_match_block_no_management_source_or_probe_meets_is_evaluated_too(real_sshd, tmp_path):
    """A Match block on an address none of the audit's own connections comes from (`Match Address 10.9.0.0/16`, in
    an included file), or on a user it does not probe, still weakens sshd for whoever meets it: the audit reads every
    Match block sshd reads and evaluates it for a connection that meets it, so root let in from there, a password
    alone, or a user's 100 tries fail; a block for the key-only automation account is not held to a person's
    methods."""
    config = tmp_path / "sshd_config"
    mgmt = {"mgmt_allowed_sources": ["10.64.0.0/24"], "automation_account": "dzadmin"}
    keys = {"permitrootlogin", "maxauthtries", "authenticationmethods"}

    def problems() -> list[str]:
        host = _SshdHost(real_sshd, config)
        found = []
        for control in ("DZ-IA-08", "DZ-IA-09"):
            for args in _control_checks(control, "sshd_effective", **mgmt):
                args["expect"] = [item for item in args["expect"] if item["key"] in keys]
                found += checks.sshd_effective(host, args).problems
        return found

    (tmp_path / "conf.d").mkdir()
    config.write_text(f"Include {tmp_path}/conf.d/*.conf\n" + SSHD_HARDENED)
    assert problems() == []
    (tmp_path / "conf.d/50-branch.conf").write_text(
        "Match Address 10.9.0.0/16\n    PasswordAuthentication yes\n    PermitRootLogin yes\n"
        "    AuthenticationMethods password\n"
        "Match User ops-* Address 10.8.*,!10.8.1.1\n    MaxAuthTries 100\n"
        # A group with no member on this host: no one to log in with it (the evidence says so).
        "Match Group dz-no-such-group\n    MaxAuthTries 100\n"
    )
    assert problems() == [
        "sshd -T -C for root from 10.9.0.1, dz-person-probe from 10.9.0.1, dzadmin from 10.9.0.1: permitrootlogin is "
        "yes, expected = no",
        "sshd -T -C for ops-x from 10.8.2.2: maxauthtries is 100, expected between 1 and 4",
        "sshd -T -C for dz-person-probe from 10.9.0.1: authenticationmethods is password, "
        "expected = publickey,password",
        "sshd -T -C for dzadmin from 10.9.0.1: authenticationmethods is password, expected = publickey",
    ]


def test_a_match_group_block_is_evaluated_for_a_user_whose_primary_group_it_is(real_sshd, tmp_path):
    """sshd matches `Match Group` on every group of the user, its primary group (passwd's gid) included, which the
    group's own entry does not list: a block weakening sshd for dz-admins is evaluated for dz-ops-lead, whose primary
    group it is, and fails, instead of being left unjudged for want of a listed member."""
    config = tmp_path / "sshd_config"
    mgmt = {"mgmt_allowed_sources": ["10.64.0.0/24"], "automation_account": "dzadmin"}
    config.write_text(SSHD_HARDENED + "Match Group dz-admins\n    PermitRootLogin yes\n    MaxAuthTries 100\n")
    host, found, evidence = _SshdHost(real_sshd, config), [], []
    for args in _control_checks("DZ-IA-08", "sshd_effective", **mgmt):
        args["expect"] = [item for item in args["expect"] if item["key"] in {"permitrootlogin", "maxauthtries"}]
        finding = checks.sshd_effective(host, args)
        found += finding.problems
        evidence += finding.evidence
    lead = "dz-ops-lead from 10.64.0.1, dz-ops-lead from 192.0.2.10"
    assert f"Match Group dz-admins: evaluated for {lead}" in evidence
    assert found == [
        f"sshd -T -C for {lead}: permitrootlogin is yes, expected = no",
        f"sshd -T -C for {lead}: maxauthtries is 100, expected between 1 and 4",
    ]


@pytest.mark.parametrize(
    ("criteria", "judged"),
    [("dz-adm*", True), ("dz-a?mins,nosuchgroup", True), ("dz-*,!dz-admins", False)],
    ids=["pattern", "one-letter-pattern", "negated"],
)
def test_a_match_group_pattern_is_evaluated_for_the_groups_it_matches(real_sshd, tmp_path, criteria, judged):
    """sshd reads `Match Group` as patterns of group names: `dz-adm*` meets dz-ops-lead (of dz-admins) and the block
    is evaluated for it, not left unjudged for want of a group of that literal name; a user in a negated group never
    meets the block, so it is not held to it (sshd -T -C agrees: the audit's probe would find nothing)."""
    config = tmp_path / "sshd_config"
    mgmt = {"mgmt_allowed_sources": ["10.64.0.0/24"], "automation_account": "dzadmin"}
    config.write_text(SSHD_HARDENED + f"Match Group {criteria}\n    MaxAuthTries 100\n")
    (args,) = _control_checks("DZ-IA-08", "sshd_effective", **mgmt)
    args["expect"] = [item for item in args["expect"] if item["key"] == "maxauthtries"]
    finding = checks.sshd_effective(_SshdHost(real_sshd, config), args)
    lead = "dz-ops-lead from 10.64.0.1, dz-ops-lead from 192.0.2.10"
    if judged:
        assert f"Match Group {criteria}: evaluated for {lead}" in finding.evidence, finding.evidence
        assert finding.problems == [f"sshd -T -C for {lead}: maxauthtries is 100, expected between 1 and 4"]
    else:
        assert f"Match Group {criteria}: no member of group {criteria} to probe with" in finding.evidence
        assert finding.problems == []


def test_a_stricter_subset_of_the_allowed_algorithms_passes_and_an_outside_one_fails(real_sshd, tmp_path):
    """DZ-IA-08: sshd's Ciphers, MACs and KexAlgorithms may be fewer of the allowed ones, in any order (stricter);
    one algorithm outside the list (CBC, SHA-1) fails, naming what sshd -T reports."""
    config = tmp_path / "sshd_config"
    (args,) = _control_checks("DZ-IA-08", "sshd_effective")
    args = {"expect": [item for item in args["expect"] if item["key"] in {"ciphers", "macs", "kexalgorithms"}]}
    strict = (
        "Ciphers aes256-ctr,chacha20-poly1305@openssh.com\nMACs hmac-sha2-256\n"
        "KexAlgorithms diffie-hellman-group-exchange-sha256,curve25519-sha256@libssh.org\n"
    )
    config.write_text(strict + SSHD_HARDENED)
    assert checks.sshd_effective(_SshdHost(real_sshd, config), args).problems == []
    config.write_text(strict.replace("aes256-ctr,", "aes256-ctr,aes128-cbc,") + SSHD_HARDENED)
    (problem,) = checks.sshd_effective(_SshdHost(real_sshd, config), args).problems
    assert problem.startswith(
        "sshd -T: ciphers is aes256-ctr,aes128-cbc,chacha20-poly1305@openssh.com, expected one or more of "
    )


def test_a_command_that_fails_is_named_whole(real_sshd, tmp_path):
    """An audit command that fails is shown as it was run, with its own options and its quoted arguments (`sshd -T
    -C user=…`, not `sshd user=…`), so the message can be run again by hand."""
    config = tmp_path / "sshd_config"
    config.write_text("NoSuchOption yes\n" + SSHD_HARDENED)
    (args,) = _control_checks("DZ-IA-08", "sshd_effective", mgmt_allowed_sources=["10.64.0.0/24"])
    with pytest.raises(checks.CommandFailedError) as failed:
        checks.sshd_effective(_SshdHost(real_sshd, config), args)
    assert str(failed.value).startswith(
        "`/usr/sbin/sshd -T -C user=root,host=probe.invalid,addr=10.64.0.1` exited 255: "
    ), failed.value
    assert "NoSuchOption" in str(failed.value)


def test_the_automation_accounts_password_is_exempt_from_ageing_and_the_others_are_not():
    """An expired password would lock Ansible and the audit out, so the automation account is exempt; any
    other account with a usable password still fails without ageing."""
    shadow = "dzadmin:$6$x$y:19000:0:99999:7:::\nalice:$6$x$y:19000:0:99999:7:::\nbob:!:19000:0:99999:7:::\n"
    host = _AnswerHost({"cat -- /etc/shadow": shadow})
    finding = checks.password_max_age(host, {"max_days": 90, "exempt": ["dzadmin"]})
    assert finding.problems == ["alice: password max age 99999 exceeds 90 days"]
    assert "dzadmin: exempt (the automation account, key-only)" in finding.evidence


def test_an_account_that_is_never_disabled_after_its_password_expired_fails():
    """CIS 5.4.1.4: an expired password disables its account within inactive_days; an account aged before the
    control knew this (inactive field empty) or allowed longer fails, one within the limit passes."""
    shadow = (
        "carol:$6$x$y:19000:1:90:7:::\n"  # aged, never disabled
        "dave:$6$x$y:19000:1:90:7:60::\n"
        "erin:$6$x$y:19000:1:90:7:30::\n"
    )
    finding = checks.password_max_age(
        _AnswerHost({"cat -- /etc/shadow": shadow}), {"max_days": 90, "inactive_days": 30, "exempt": []}
    )
    assert finding.problems == [
        "carol: disabled never after its password expired, not within 30 days",
        "dave: disabled 60 days after its password expired, not within 30 days",
    ]
    assert "erin: password max age 90 days, account disabled 30 days later" in finding.evidence


FORWARD_CONF = "/etc/rsyslog.d/60-dizuo-forward.conf"
TLS_ACTION = """# {comment}
*.* action(type="omfwd"
           target="10.64.1.20"
           port="6514"
           protocol="tcp"
           StreamDriver="gtls"
           StreamDriverMode="1"
           StreamDriverAuthMode="{auth}"
           StreamDriverPermittedPeers="10.64.1.20"
           streamdriver.CAFile="/etc/pki/dizuo/city-ca.crt"
           queue.type="LinkedList")
"""


class _ForwardingHost(_AnswerHost):
    def __init__(self, conf: str, ca_exists: bool = True) -> None:
        super().__init__({f"cat -- {FORWARD_CONF}": conf})
        self.ca_exists = ca_exists

    def run(self, command: str, *args: str) -> SimpleNamespace:
        if command.startswith("test -r"):
            return SimpleNamespace(rc=0 if self.ca_exists else 1, stdout="", stderr="")
        return super().run(command, *args)


@pytest.mark.parametrize(
    ("conf", "ca_exists", "problems"),
    [
        pytest.param(TLS_ACTION.format(comment="as the role writes it", auth="x509/name"), True, [], id="tls"),
        pytest.param(
            TLS_ACTION.format(comment="encrypted, but any certificate will do", auth="anon"),
            True,
            [f"{FORWARD_CONF}: auth mode anon does not check the log host's identity (use x509/name)"],
            id="anonymous-tls",
        ),
        pytest.param(
            TLS_ACTION.format(comment="CA not placed", auth="x509/name"),
            False,
            [f"{FORWARD_CONF}: CA file /etc/pki/dizuo/city-ca.crt does not exist"],
            id="ca-missing",
        ),
        pytest.param(
            '*.* action(type="omfwd" target="10.64.1.20" port="6514" protocol="tcp")\n',
            True,
            [
                f"{FORWARD_CONF}: not encrypted (stream driver ptcp, mode 0); TLS needs gtls/ossl in mode 1",
                f"{FORWARD_CONF}: auth mode anon does not check the log host's identity (use x509/name)",
                f"{FORWARD_CONF}: no CA file to check the log host's certificate against",
            ],
            id="plain-tcp",
        ),
        pytest.param(
            "/* disabled during the move:\n" + TLS_ACTION.format(comment="", auth="x509/name") + "*/\n"
            '*.* action(type="omfwd" target="10.64.1.20" port="6514" protocol="tcp")\n',
            True,
            [
                f"{FORWARD_CONF}: not encrypted (stream driver ptcp, mode 0); TLS needs gtls/ossl in mode 1",
                f"{FORWARD_CONF}: auth mode anon does not check the log host's identity (use x509/name)",
                f"{FORWARD_CONF}: no CA file to check the log host's certificate against",
            ],
            id="tls-action-in-a-block-comment",
        ),
        pytest.param(
            TLS_ACTION.format(comment="a ) in a value", auth="x509/name").replace(
                'type="omfwd"', 'type="omfwd" name="fwd(main)"'
            ),
            True,
            [],
            id="parenthesis-inside-a-value",
        ),
        pytest.param(
            '# *.* action(type="omfwd" target="10.64.1.20" port="6514" protocol="tcp")\n'
            '*.* action(type="omfwd" target="10.64.1.20" port="514")\n',
            True,
            [
                f"{FORWARD_CONF}: forwards to port 514, not 6514",
                f"{FORWARD_CONF}: forwards over udp; only TCP queues and retries while the log host is away",
                f"{FORWARD_CONF}: not encrypted (stream driver ptcp, mode 0); TLS needs gtls/ossl in mode 1",
                f"{FORWARD_CONF}: auth mode anon does not check the log host's identity (use x509/name)",
                f"{FORWARD_CONF}: no CA file to check the log host's certificate against",
            ],
            id="commented-out-tcp-live-udp",
        ),
    ],
)
def test_log_forwarding_is_checked_for_transport_and_peer_identity(conf, ca_exists, problems):
    """8.1.4.3 c) protects audit records in transit: forwarding passes only over TCP with TLS that checks the
    log host's certificate against a CA file that is there; anything less fails and says what is missing."""
    host = _ForwardingHost(conf, ca_exists)
    args = {"path": FORWARD_CONF, "server": "10.64.1.20", "port": 6514, "tls": True}
    assert checks.log_forwarding(host, args).problems == problems


def test_log_forwarding_without_tls_accepts_plain_tcp_to_the_right_server():
    """With log_server_tls false (an encrypted network underneath) plain TCP passes, but not another server."""
    conf = '*.* action(type="omfwd" target="10.64.1.20" port="6514" protocol="tcp")\n'
    args = {"path": FORWARD_CONF, "server": "10.64.1.20", "port": 6514, "tls": False}
    assert checks.log_forwarding(_ForwardingHost(conf), args).problems == []
    assert checks.log_forwarding(_ForwardingHost(conf), {**args, "server": "10.64.1.21"}).problems == [
        f"{FORWARD_CONF}: no omfwd action sends to 10.64.1.21"
    ]


TRACKING_SYNCED = """Reference ID    : 0A40011E (10.64.1.30)
Stratum         : 9
System time     : 0.000012 seconds fast of NTP time
Leap status     : Normal
"""
TRACKING_UNSYNCED = """Reference ID    : 00000000 ()
Stratum         : 0
System time     : 0.000000 seconds fast of NTP time
Leap status     : Not synchronised
"""
SOURCES_HEADER = """MS Name/IP address         Stratum Poll Reach LastRx Last sample
===============================================================================
"""


@pytest.mark.parametrize(
    ("tracking", "sources", "problems"),
    [
        pytest.param(
            TRACKING_SYNCED,
            "^* 10.64.1.30                    8   6   377    35   +12us[  +20us] +/-  150us\n",
            [],
            id="synchronised-to-the-city",
        ),
        pytest.param(
            TRACKING_SYNCED,
            "^* 10.64.1.30                    8   6   377    35   +12us[  +20us] +/-  150us\n"
            "^- 203.107.6.88                  2   6   377    36   +1ms[  +1ms] +/-   30ms\n",
            ["source 203.107.6.88 is not one of the city's time sources (10.64.1.30)"],
            id="a-public-source-too",
        ),
        pytest.param(
            TRACKING_UNSYNCED,
            "^? 10.64.1.30                    0   6     0     -     +0ns[   +0ns] +/-    0ns\n",
            ["the clock is not synchronised (leap status Not synchronised): check that the time servers answer"],
            id="server-unreachable",
        ),
    ],
)
def test_time_sync_is_checked_against_the_declared_sources(tracking, sources, problems):
    """DZ-AU-07: the clock is synchronised, and only to sources the city declared (an air-gapped network has no
    business with a public pool); the evidence is chronyc's own report."""
    host = _AnswerHost({"chronyc -n tracking": tracking, "chronyc -n sources": SOURCES_HEADER + sources})
    finding = checks.time_synchronised(host, {"sources": [["10.64.1.30"], []]})
    assert finding.problems == problems
    assert any(line.startswith("tracking: reference ") for line in finding.evidence), finding.evidence


def test_a_time_source_declared_by_name_is_recognised_by_its_address():
    """chronyc -n lists addresses; a provincial time service declared by name is the address it resolves to."""
    host = _AnswerHost(
        {
            "chronyc -n tracking": TRACKING_SYNCED,
            "chronyc -n sources": SOURCES_HEADER + "^* 10.8.0.5          2   6   377    35   +1us[+1us] +/- 1ms\n",
            "getent ahosts time.sn.gov.cn": "10.8.0.5        STREAM time.sn.gov.cn\n10.8.0.5        DGRAM\n",
        }
    )
    assert checks.time_synchronised(host, {"sources": [["time.sn.gov.cn"], []]}).problems == []


def test_time_sync_without_chronyd_or_a_time_server_fails():
    """No daemon answering, or no time server declared at all, is a failure that says which."""

    class _NoDaemon(_AnswerHost):
        def run(self, command: str, *args: str) -> SimpleNamespace:
            return SimpleNamespace(rc=1, stdout="", stderr="506 Cannot talk to daemon")

    assert checks.time_synchronised(_NoDaemon({}), {"sources": [[], []]}).problems == [
        "no time server is known: put a host in group `ntp` or set the baseline's ntp_servers",
        "chronyd does not answer (`chronyc tracking`: 506 Cannot talk to daemon)",
    ]


def test_audit_rules_that_root_could_change_fail_when_they_must_be_locked():
    """DZ-AU-01 with audit_immutable: the kernel's rules must be locked (-e 2, `auditctl -s` enabled 2)."""
    listed = "-w /etc/passwd -p wa -k dz-identity\n"
    for enabled, problems in (
        ("1", ["the loaded rules are not locked (enabled 1, expected 2): root could change them"]),
        ("2", []),
    ):
        host = _AnswerHost({"auditctl -l": listed, "auditctl -s": f"enabled {enabled}\nfailure 1\npid 412\n"})
        finding = checks.audit_rules_loaded(host, {"keys": ["dz-identity"], "immutable": True})
        assert finding.problems == problems
        assert f"auditctl -s: enabled {enabled}" in finding.evidence


def test_an_integrity_check_that_found_changes_fails_the_control():
    """AIDE exits non-zero when files changed: the timer still runs, but the control fails and says what to do."""
    state = "LoadState=loaded\nUnitFileState=enabled\nActiveState=active\n"
    times = "LastTriggerUSec=Sat 2026-12-05 03:00:00 CST\nNextElapseUSecRealtime=Sun 2026-12-06 03:00:00 CST\n"
    timer = "dizuo-aide-check.timer"
    service = "dizuo-aide-check.service"
    answers = {
        f"systemctl show --property=LoadState,UnitFileState,ActiveState -- {timer}": state,
        f"systemctl show --property=LastTriggerUSec,NextElapseUSecRealtime -- {timer}": times,
    }
    result = f"systemctl show --property=Result,ExecMainStatus,ExecMainExitTimestamp -- {service}"
    found_changes = _AnswerHost({**answers, result: "Result=exit-code\nExecMainStatus=7\n"})
    hint = "if the changes were planned, re-baseline"
    assert checks.timer_active(found_changes, {"name": timer, "service": service, "hint": hint}).problems == [
        f"{service}: the last run ended with exit-code (exit status 7): read `journalctl -u {service}`, then {hint}"
    ]
    clean = _AnswerHost({**answers, result: "Result=success\nExecMainStatus=0\n"})
    assert checks.timer_active(clean, {"name": timer, "service": service}).problems == []


def test_a_patch_report_whose_listing_failed_fails_the_control():
    """A fresh report from a listing that failed says nothing about patches: the control fails with the reason;
    a good listing passes and its counts are the evidence."""
    path = "/var/lib/dizuo/patch-status.json"
    failed = '{"checked_at": "2026-12-05T02:00:00+00:00", "ok": false, "pending": 0, "security": 0, "updates": [],'
    failed += ' "error": "dnf: command not found"}'
    assert checks.patch_report(_AnswerHost({f"cat -- {path}": failed}), {"path": path}).problems == [
        "the update listing failed: dnf: command not found"
    ]
    good = '{"checked_at": "2026-12-05T02:00:00+00:00", "ok": true, "pending": 1, "security": 1,'
    good += ' "updates": [{"package": "openssl", "version": "3.0.15-1~deb12u1", "source": "Debian-Security"}]}'
    finding = checks.patch_report(_AnswerHost({f"cat -- {path}": good}), {"path": path})
    assert finding.problems == []
    assert "checked 2026-12-05T02:00:00+00:00: 1 update(s) pending, 1 of them security" in finding.evidence
    assert "pending: openssl" in finding.evidence


def test_a_security_update_left_waiting_past_the_grace_period_fails():
    """8.1.4.4 e): a security update may wait while it is tested, up to security_grace_days; after that the control
    fails and names it. Ordinary updates and recent security ones do not fail it."""
    path = "/var/lib/dizuo/patch-status.json"
    report = {
        "checked_at": "2026-12-05T02:00:00+00:00",
        "ok": True,
        "pending": 3,
        "security": 2,
        "updates": [
            {"package": "openssl", "version": "3.0.15-1~deb12u1", "source": "Debian-Security", "security": True,
             "first_seen": "2026-11-15T02:00:00+00:00"},
            {"package": "curl", "version": "7.88.1-10+deb12u8", "source": "Debian-Security", "security": True,
             "first_seen": "2026-12-01T02:00:00+00:00"},
            {"package": "tzdata", "version": "2025b-0+deb12u1", "source": "Debian", "security": False,
             "first_seen": "2026-10-01T02:00:00+00:00"},
        ],
    }  # fmt: skip
    host = _AnswerHost({f"cat -- {path}": json.dumps(report)})
    assert checks.patch_report(host, {"path": path, "security_grace_days": 14}).problems == [
        "openssl 3.0.15-1~deb12u1 (Debian-Security): a security update pending for 20 days, more than the 14 days "
        "to test and install it"
    ]
    assert checks.patch_report(host, {"path": path, "security_grace_days": 30}).problems == []


def test_the_patch_status_script_remembers_when_each_update_was_first_seen(tmp_path):
    """The role's dizuo-patch-status (rendered as the role renders it, run for real with an apt-get that lists one
    security update) keeps an update's first_seen across runs, so the grace period counts from the first sighting."""
    template = (Path(__file__).parents[2] / "roles/baseline/templates/dizuo-patch-status.j2").read_text()
    script = tmp_path / "dizuo-patch-status"
    script.write_text(
        template.replace("{{ ansible_managed }}", "rendered by the test").replace(
            "{{ baseline_patch_list_cmd | to_json }}", json.dumps(["apt-get", "-s", "dist-upgrade"])
        )
    )
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    listed = "Inst openssl [3.0.11-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])"
    (fake_bin / "apt-get").write_text(f"#!/bin/sh\necho '{listed}'\n")
    (fake_bin / "apt-get").chmod(0o755)
    report_path = tmp_path / "patch-status.json"
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "DIZUO_PATCH_STATUS": str(report_path)}

    def run() -> dict:
        subprocess.run([sys.executable, str(script)], env=env, check=True, timeout=60)
        return json.loads(report_path.read_text())

    first = run()["updates"][0]
    assert (first["package"], first["security"]) == ("openssl", True)
    aged = json.loads(report_path.read_text())
    aged["updates"][0]["first_seen"] = "2026-01-01T00:00:00+00:00"  # as if seen long ago
    report_path.write_text(json.dumps(aged))
    # A newer build of the same update does not restart its clock.
    newer = listed.replace("3.0.15-1~deb12u1", "3.0.16-1~deb12u1")
    (fake_bin / "apt-get").write_text(f"#!/bin/sh\necho '{newer}'\n")
    again = run()
    assert again["updates"][0]["first_seen"] == "2026-01-01T00:00:00+00:00"
    assert again["updates"][0]["version"] == "3.0.16-1~deb12u1"
    # A listing that fails keeps what the last one saw, clocks included (and the report says it failed).
    (fake_bin / "apt-get").write_text("#!/bin/sh\necho 'E: Could not open lock file' >&2\nexit 100\n")
    failed = run()
    assert failed["ok"] is False
    assert failed["updates"] == again["updates"]
    report_path.write_text(json.dumps(again))
    host = _AnswerHost({f"cat -- {report_path}": report_path.read_text()})
    problems = checks.patch_report(host, {"path": str(report_path), "security_grace_days": 14}).problems
    assert len(problems) == 1, problems
    assert problems[0].startswith("openssl 3.0.16-1~deb12u1 (Debian-Security:12/stable-security [amd64]): a"), problems


def _malware_host(status: dict, config: str) -> _AnswerHost:
    now = int(dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.UTC).timestamp())
    return _AnswerHost(
        {
            "cat -- /etc/dizuo/freshclam.conf": config,
            "cat -- /var/lib/dizuo/malware-status.json": json.dumps(status),
            "date +%s": f"{now}\n",
        }
    )


MALWARE_ARGS = {
    "path": "/var/lib/dizuo/malware-status.json",
    "config": "/etc/dizuo/freshclam.conf",
    "mirror": "http://10.64.1.30/clamav",
    "databases": ["main", "daily", "bytecode"],
    "max_age_hours": 48,
}
MALWARE_STATUS = {
    "mirror": "http://10.64.1.30/clamav",
    "update": {"ok": True, "last_success": "2026-12-05T03:00:00+00:00", "error": ""},
    "databases": [
        {"name": "daily.cld", "signatures": 2071583, "built": "2026-12-04T09:12:00+00:00"},
        {"name": "main.cvd", "signatures": 6647427, "built": "2021-09-16T19:32:00+00:00"},
    ],
    "scan": {"ok": True, "finished": "2026-12-05T03:20:00+00:00", "paths": ["/home", "/srv"], "files": 812,
             "known_signatures": 8718999, "error": ""},
    "found": [{"path": "/home/clerk/invoice.exe", "signature": "Win.Trojan.Agent-1", "moved_to":
               "/var/lib/dizuo-quarantine/invoice.exe"}],
    "quarantined": 1,
}  # fmt: skip
# A blank line and a comment, as an administrator's edit leaves them.
MIRROR_CONFIG = "# the city's mirror\nDatabaseDirectory /var/lib/clamav\n\n  \nPrivateMirror http://10.64.1.30/clamav\n"


def test_malware_protection_passes_fresh_signatures_from_the_mirror_and_a_quarantined_find():
    """DZ-MC-03: signatures from the city's mirror, updated and built within two days, a scan that ran, and a find
    that was moved to quarantine: the control passes, and the evidence names the find and where it went."""
    finding = checks.malware_protection(_malware_host(MALWARE_STATUS, MIRROR_CONFIG), MALWARE_ARGS)
    assert finding.problems == []
    assert "found /home/clerk/invoice.exe (Win.Trojan.Agent-1), moved to /var/lib/dizuo-quarantine/invoice.exe" in (
        finding.evidence
    )


@pytest.mark.parametrize(
    ("change", "config", "problem"),
    [
        pytest.param(
            {"update": {"ok": False, "last_success": "2026-12-02T03:00:00+00:00", "error": "Connection failed"}},
            MIRROR_CONFIG,
            "the signatures were last updated 77.0 h ago, more than 48 h",
            id="update-failing-for-days",
        ),
        pytest.param(
            {"databases": [{"name": "daily.cld", "signatures": 2060000, "built": "2026-11-20T00:00:00+00:00"}]},
            MIRROR_CONFIG,
            "the daily database was built 368.0 h ago: the mirror has stopped following ClamAV's releases",
            id="mirror-no-longer-synced",
        ),
        pytest.param(
            {"scan": {"ok": False, "error": "LibClamAV Error: cli_loaddbdir: No supported database files found"}},
            MIRROR_CONFIG,
            "the last scan did not run: LibClamAV Error: cli_loaddbdir: No supported database files found",
            id="no-signatures-to-scan-with",
        ),
        pytest.param(
            {"found": [{"path": "/srv/up/a.php", "signature": "Php.Webshell-1", "moved_to": None}]},
            MIRROR_CONFIG,
            "/srv/up/a.php (Php.Webshell-1) was found and left in place",
            id="find-left-in-place",
        ),
        pytest.param(
            {},
            MIRROR_CONFIG + "DatabaseMirror database.clamav.net\n",
            "/etc/dizuo/freshclam.conf: DatabaseMirror database.clamav.net is not the city's mirror "
            "(http://10.64.1.30/clamav)",
            id="public-mirror-configured",
        ),
        pytest.param(
            {},
            MIRROR_CONFIG + "DatabaseCustomURL\thttp://10.64.1.300.evil/city.hdb\n",
            "/etc/dizuo/freshclam.conf: DatabaseCustomURL\thttp://10.64.1.300.evil/city.hdb is not the city's mirror "
            "(http://10.64.1.30/clamav)",
            id="custom-database-from-elsewhere-after-a-tab",
        ),
        pytest.param(
            {},
            "DatabaseDirectory /var/lib/clamav\n",
            "/etc/dizuo/freshclam.conf: no PrivateMirror http://10.64.1.30/clamav, so freshclam would ask ClamAV's "
            "public servers",
            id="no-mirror-named",
        ),
        pytest.param(
            {"scan": {**MALWARE_STATUS["scan"], "unaccounted": 1}},
            MIRROR_CONFIG,
            "1 find(s) whose names clamscan's output could not carry: look by hand",
            id="find-whose-name-could-not-be-read",
        ),
    ],
)
def test_malware_protection_fails_what_leaves_a_host_unprotected(change, config, problem):
    """DZ-MC-03 fails, naming the cause, for stale updates, a stale mirror, a scan that could not run, a find left
    in place or not read, and any signature source but the city's mirror (or none: freshclam's default is public)."""
    finding = checks.malware_protection(_malware_host({**MALWARE_STATUS, **change}, config), MALWARE_ARGS)
    assert finding.problems == [problem]


def test_a_job_report_that_is_not_a_json_object_fails_its_control():
    """A report cut short or overwritten (not a JSON object) is a failure that names the file, not a crash."""
    path = "/var/lib/dizuo/patch-status.json"
    for text in ('{"checked_at": "2026-12-05T02', "[]"):
        assert checks.patch_report(_AnswerHost({f"cat -- {path}": text}), {"path": path}).problems == [
            f"{path} is not a JSON object"
        ]


def test_every_check_kind_of_the_catalogue_has_a_check():
    """Each check kind the catalogue uses is implemented by the audit."""
    used = {check.kind for control in packaged().for_scope(Scope.HOST) for check in control.checks}
    assert used <= set(checks.CHECKS), f"no check function for {used - set(checks.CHECKS)}"


def test_plan_resolves_zone_parameters(nowhere_host, tmp_path):
    """The audit checks a host against its zone's values, the same the role enforces."""
    from dizuo.baseline.audit import plan  # noqa: PLC0415
    from dizuo.declaration import load  # noqa: PLC0415

    city = write_declaration(
        tmp_path / "city",
        [nowhere_host],
        city_baseline={"password_max_days": 60, "zones": {"management": {"password_max_days": 30}}},
    )
    declaration = load(city)
    items = plan(declaration, packaged(), list(declaration.inventory.hosts))
    ia04 = next(i for i in items if i["control"] == "DZ-IA-04")
    ageing = next(c for c in ia04["checks"] if c["kind"] == "password_max_age")
    assert ageing["args"]["max_days"] == 30, "the management zone's override applies"
    assert yaml.safe_dump(items)  # the plan is plain data, handed to the checks as JSON


class _FilesHost:
    """A host holding only ``files`` (path -> bytes): answers cat, find in a folder, and getent as testinfra's run()
    does, with the output as bytes as well as text."""

    def __init__(self, files: dict[str, bytes], node: str = "yl-app-01.yulin.example") -> None:
        self.files = files
        self.node = node

    def run(self, command: str, *args: str) -> SimpleNamespace:  # noqa: PLR0911 - one answer per command it knows
        if command == "cat -- %s":
            body = self.files.get(args[0])
            if body is None:
                return SimpleNamespace(
                    rc=1, stdout="", stderr="No such file", stdout_bytes=b"", stderr_bytes=b"No such file"
                )
            return SimpleNamespace(rc=0, stdout=None, stderr="", stdout_bytes=body, stderr_bytes=b"")
        if command.startswith("find -L %s -mindepth 1 -maxdepth 1 -type f"):
            folder = args[0].rstrip("/") + "/"
            found = [p for p in self.files if p.startswith(folder) and "/" not in p[len(folder) :]]
            if " -name %s" in command:
                found = [p for p in found if fnmatch.fnmatch(Path(p).name, args[1])]
            listed = "".join(f"{p}\0" for p in found)
            return SimpleNamespace(rc=0, stdout=listed, stderr="", stdout_bytes=listed.encode(), stderr_bytes=b"")
        if command.startswith("find -H /lib /lib64 /usr/lib /usr/lib64 -maxdepth 3 -path '*/security/*' -name %s"):
            found = next((p for p in self.files if "/security/" in p and Path(p).name == args[0]), "")
            return SimpleNamespace(rc=0, stdout=found, stderr="", stdout_bytes=found.encode(), stderr_bytes=b"")
        if command == "getent group %s":
            return SimpleNamespace(rc=2, stdout="", stderr="", stdout_bytes=b"", stderr_bytes=b"")
        if command == "test -e %s":  # a file, or a folder holding one
            there = args[0] in self.files or any(p.startswith(args[0].rstrip("/") + "/") for p in self.files)
            return SimpleNamespace(rc=0 if there else 1, stdout="", stderr="")
        if command.startswith("ls -1 -- "):  # the folder as an argument, or written into the command
            folder = (args[0] if args else command.removeprefix("ls -1 -- ")).rstrip("/") + "/"
            names = sorted({p[len(folder) :].split("/")[0] for p in self.files if p.startswith(folder)})
            listed = "".join(f"{n}\n" for n in names)
            rc = 0 if names else 2
            return SimpleNamespace(rc=rc, stdout=listed, stderr="", stdout_bytes=listed.encode(), stderr_bytes=b"")
        if command == "uname -n":
            said = f"{self.node}\n"
            return SimpleNamespace(rc=0, stdout=said, stderr="", stdout_bytes=said.encode(), stderr_bytes=b"")
        raise AssertionError(f"unexpected command {command!r} {args}")


def _control_checks(control_id: str, kind: str, **values: Any) -> list[dict[str, Any]]:
    """The arguments of a control's checks of one kind, with the catalogue's default parameters (or ``values``)."""
    catalogue = packaged()
    control = catalogue.control(control_id)
    return [check.resolved_args({**catalogue.defaults(), **values}) for check in control.checks if check.kind == kind]


def _findings(control_id: str, kind: str, host: Any) -> list[str]:
    return [
        problem for args in _control_checks(control_id, kind) for problem in getattr(checks, kind)(host, args).problems
    ]


PWQUALITY = b"minlen = 12\nminclass = 3\n"
FAILLOCK = b"deny = 5\nunlock_time = 900\n"


@pytest.mark.parametrize(
    ("control", "files", "expected"),
    [
        (  # the file says 12 and 3; the module's own line says 1 and 1, and wins
            "DZ-IA-03",
            {
                "/etc/security/pwquality.conf": PWQUALITY,
                "/etc/pam.d/passwd": b"@include common-password\n",
                "/etc/pam.d/common-password": b"password requisite pam_pwquality.so retry=3 minlen=1 minclass=1\n"
                b"password required pam_pwhistory.so remember=5 use_authtok\n",
            },
            [
                "/etc/pam.d/common-password: pam_pwquality.so sets minlen=1 on its line, over its configuration file: "
                "expected ≥ 8",
                "/etc/pam.d/common-password: pam_pwquality.so sets minclass=1 on its line, over its configuration "
                "file: expected ≥ 3",
            ],
        ),
        (  # a drop-in (read before pwquality.conf) lowers the length the main file leaves unset
            "DZ-IA-03",
            {
                "/etc/security/pwquality.conf": b"minclass = 3\n",
                "/etc/security/pwquality.conf.d/50-vendor.conf": b"minlen = 6\n",
                "/etc/pam.d/passwd": b"password requisite pam_pwquality.so retry=3\n"
                b"password required pam_pwhistory.so remember=5\n",
            },
            ["/etc/security/pwquality.conf.d/50-vendor.conf: minlen is 6, expected ≥ 8"],
        ),
        (  # faillock.conf says 5 and 900; the preauth line allows 1000 failures and unlocks after a second
            "DZ-IA-05",
            {
                "/etc/security/faillock.conf": FAILLOCK,
                "/etc/pam.d/sshd": b"auth required pam_faillock.so preauth deny=1000 unlock_time=1\n"
                b"auth [default=die] pam_faillock.so authfail\naccount required pam_faillock.so\n",
            },
            [
                "/etc/pam.d/sshd: pam_faillock.so sets deny=1000 on its line, over its configuration file: expected "
                "between 1 and 5",
                "/etc/pam.d/sshd: pam_faillock.so sets unlock_time=1 on its line, over its configuration file: "
                "expected ≥ 900",
            ],
        ),
        (  # options on the line that meet the bounds are fine
            "DZ-IA-05",
            {
                "/etc/security/faillock.conf": FAILLOCK,
                "/etc/pam.d/sshd": b"auth required pam_faillock.so preauth deny=3 unlock_time=1800\n"
                b"auth [default=die] pam_faillock.so authfail\naccount required pam_faillock.so\n",
            },
            [],
        ),
    ],
)
def test_a_pam_module_line_cannot_weaken_what_its_file_sets(control, files, expected):
    """pam_pwquality and pam_faillock take options on their PAM line over their configuration files (and
    pwquality over pwquality.conf.d after pwquality.conf): the audit reads all of them, as the modules do."""
    host = _FilesHost(files)
    found = _findings(control, "config_values", host) + _findings(control, "pam_stack", host)
    assert found == expected


@pytest.mark.parametrize(
    ("conf", "line", "expected"),
    [
        ("0", "", []),  # faillock.conf(5): 0 means never; locked until an administrator runs faillock --reset
        ("never", "", []),
        ("NEVER", " unlock_time=0", []),
        ("900", " unlock_time=never", []),
        ("600", "", ["/etc/security/faillock.conf: unlock_time is 600, expected ≥ 900"]),
        ("never", " unlock_time=1", ["/etc/pam.d/sshd: pam_faillock.so sets unlock_time=1 on its line, over its "
                                     "configuration file: expected ≥ 900"]),
        ("-1", "", ["/etc/security/faillock.conf: unlock_time is -1, expected ≥ 900"]),
    ],
)  # fmt: skip
def test_a_lock_that_never_expires_meets_the_unlock_time_bound(conf, line, expected):
    """DZ-IA-05: unlock_time 0 or never keeps an account locked until an administrator unlocks it, stricter than
    any number of seconds: in faillock.conf or on the pam_faillock line it meets the ≥ bound; a shorter time fails."""
    host = _FilesHost(
        {
            "/etc/security/faillock.conf": f"deny = 5\nunlock_time = {conf}\n".encode(),
            "/etc/pam.d/sshd": f"auth required pam_faillock.so preauth{line}\n".encode()
            + b"auth [default=die] pam_faillock.so authfail\naccount required pam_faillock.so\n",
        }
    )
    assert _findings("DZ-IA-05", "config_values", host) + _findings("DZ-IA-05", "pam_stack", host) == expected


@pytest.fixture(scope="module")
def pamtester(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian 12's pamtester, to run a real PAM stack (this machine's libpam and modules)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("chpasswd") is None:
        pytest.skip("a test account's password is set in a private mount namespace: root, unshare and chpasswd")
    return debian_package_tree(("pamtester",), tmp_path_factory.mktemp("pamtester")) / "usr" / "bin" / "pamtester"


FAILLOCK_ARGS = "deny=3 unlock_time=900 dir={tally}"
_PREAUTH = f"auth required pam_faillock.so preauth {FAILLOCK_ARGS}\n"
_AUTHFAIL = f"auth [default=die] pam_faillock.so authfail {FAILLOCK_ARGS}\n"


def _logins(pamtester: Path, stack: str, work: Path) -> list[bool]:
    """Whether each of five logins of a test account through ``stack`` (auth lines) succeeds, run by pamtester in a
    private mount namespace (/etc an overlay): the right password, three wrong ones, the right one again."""
    for folder in ("upper", "overlay", "tally"):
        (work / folder).mkdir()
    (work / "stack").write_text(stack.format(tally=work / "tally"))
    attempts = ["Right-Pass-1", "wrong-1", "wrong-2", "wrong-3", "Right-Pass-1"]
    script = (
        f"mount -t overlay overlay -o lowerdir=/etc,upperdir={work}/upper,workdir={work}/overlay /etc && "
        f"cp {work}/stack /etc/pam.d/dz-probe && useradd -M dz-probe && echo dz-probe:Right-Pass-1 | chpasswd && "
        + " ; ".join(
            f"(echo {attempt} | {pamtester} dz-probe dz-probe authenticate >/dev/null 2>&1 && echo ok || echo no)"
            for attempt in attempts
        )
    )
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True, text=True, check=True
    )
    return [word == "ok" for word in done.stdout.split()]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stack", "bypass"),
    [
        # openEuler's system-auth order: preauth first, then pam_unix sufficient
        (_PREAUTH + "auth sufficient pam_unix.so\n" + _AUTHFAIL + "auth requisite pam_deny.so\n", None),
        # Debian's common-auth order: pam_unix jumps over authfail to authsucc, below preauth
        (
            "auth required pam_env.so\n" + _PREAUTH + "auth [success=1 default=ignore] pam_unix.so\n" + _AUTHFAIL
            + f"auth sufficient pam_faillock.so authsucc {FAILLOCK_ARGS}\nauth requisite pam_deny.so\n",
            None,
        ),
        (  # pam_unix sufficient above preauth: a right password ends the stack before the lock is looked at
            "auth sufficient pam_unix.so\n" + _PREAUTH + _AUTHFAIL + "auth requisite pam_deny.so\n",
            "`sufficient pam_unix.so` ends the stack on success before it",
        ),
        (  # a jump from pam_unix over preauth and authfail to pam_permit
            "auth [success=3 default=ignore] pam_unix.so\n" + _PREAUTH + _AUTHFAIL
            + "auth requisite pam_deny.so\nauth required pam_permit.so\n",
            "`[success=3 default=ignore] pam_unix.so` jumps past it",
        ),
    ],
)  # fmt: skip
def test_a_line_above_faillock_preauth_that_lets_a_login_skip_it_fails(pamtester, tmp_path, stack, bypass):
    """DZ-IA-05: pam_faillock's preauth refuses a locked account only if the stack reaches it: a line above it that
    ends the stack on success or jumps past it lets the right password open an account locked after three wrong
    ones. Each stack runs for real (pamtester, this machine's PAM modules) and the audit must agree with it."""
    first, *wrong, last = _logins(pamtester, stack, tmp_path)
    assert first, "the right password does not log in even before any failure: the stack is broken"
    assert not any(wrong)
    assert last == (bypass is not None), "pamtester: the locked account " + ("opened" if last else "stayed shut")
    sshd = (stack.format(tally="/run/faillock") + "account required pam_faillock.so\n").encode()
    found = [p for p in _findings("DZ-IA-05", "pam_stack", _FilesHost({"/etc/pam.d/sshd": sshd})) if "without" in p]
    assert found == ([] if bypass is None else [
        f"/etc/pam.d/sshd: the auth line {bypass} (the pam_faillock.so with preauth line), so a login can succeed "
        "without it"
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("sshd", "substack", "bypassed"),
    [
        # openEuler's sshd: the faillock lines are in the password-auth substack, below pam_sepermit
        (b"auth required pam_sepermit.so\nauth substack password-auth\n", b"", False),
        # a sufficient line inside another substack ends only that substack: preauth still runs
        (b"auth substack other-auth\nauth substack password-auth\n", b"auth sufficient pam_unix.so\n", False),
        # a sufficient line of sshd's own above the substack ends the whole stack first
        (b"auth sufficient pam_unix.so\nauth substack password-auth\n", b"", True),
        # a jump over the one substack line that holds preauth (include inlines its lines: they count)
        (b"auth [success=1 default=ignore] pam_unix.so\nauth substack password-auth\n", b"", True),
        (b"auth [success=1 default=ignore] pam_unix.so\nauth required pam_env.so\nauth substack password-auth\n",
         b"", False),
    ],
)  # fmt: skip
def test_a_bypass_of_faillock_preauth_is_judged_within_its_stack(sshd, substack, bypassed):
    """PAM jumps count the lines of one stack (included lines inlined, a substack one line), and a substack's own
    `done` ends only the substack: the audit places each line so, and fails only what keeps preauth from running."""
    password_auth = (
        b"auth required pam_env.so\nauth required pam_faillock.so preauth\nauth sufficient pam_unix.so\n"
        b"auth [default=die] pam_faillock.so authfail\nauth required pam_deny.so\naccount required pam_faillock.so\n"
    )
    files = {"/etc/pam.d/sshd": sshd, "/etc/pam.d/password-auth": password_auth, "/etc/pam.d/other-auth": substack}
    found = [p for p in _findings("DZ-IA-05", "pam_stack", _FilesHost(files)) if "without it" in p]
    assert bool(found) == bypassed, found


SSHD_FAILLOCK = (
    "auth {preauth} pam_faillock.so preauth\nauth {authfail} pam_faillock.so authfail\n"
    "account {account} pam_faillock.so\n"
)


@pytest.mark.parametrize("argument", ["deny", "trust", "root_only"])
def test_a_pam_wheel_line_that_turns_the_su_limit_around_fails(argument):
    """DZ-AC-04: `deny` lets everyone but the group su, `trust` lets the group su without a password, `root_only`
    leaves su to every other account open: a pam_wheel line with one of them fails; the plain line passes."""
    line = "auth required pam_wheel.so use_uid group=dz-sysadmin"
    assert _findings("DZ-AC-04", "pam_stack", _FilesHost({"/etc/pam.d/su": f"{line}\n".encode()})) == []
    assert _findings("DZ-AC-04", "pam_stack", _FilesHost({"/etc/pam.d/su": f"{line} {argument}\n".encode()})) == [
        f"/etc/pam.d/su: the auth line using pam_wheel.so has {argument}, which the control refuses",
        "PAM service su: no auth line uses pam_wheel.so with use_uid group=dz-sysadmin",
    ]


def test_a_pam_line_skipped_when_its_module_is_missing_passes_only_where_the_module_is_installed():
    """`-auth required pam_faillock.so preauth`: PAM skips a line written with '-' when its module is not installed
    (Kylin and UOS releases that still ship pam_tally2), so the lock-out is only there where the module is."""
    sshd = SSHD_FAILLOCK.format(preauth="requisite", authfail="[default=die]", account="required")
    files = {"/etc/pam.d/sshd": ("-" + sshd.replace("\n", "\n-", 2)).encode()}
    assert _findings("DZ-IA-05", "pam_stack", _FilesHost(files)) == [
        "PAM service sshd: the auth line using pam_faillock.so with preauth starts with '-' (skipped when the module "
        "is missing), and pam_faillock.so is not installed",
        "PAM service sshd: the auth line using pam_faillock.so with authfail starts with '-' (skipped when the module "
        "is missing), and pam_faillock.so is not installed",
        "PAM service sshd: the account line using pam_faillock.so starts with '-' (skipped when the module is "
        "missing), and pam_faillock.so is not installed",
    ]
    installed = {**files, "/usr/lib/x86_64-linux-gnu/security/pam_faillock.so": b""}
    assert _findings("DZ-IA-05", "pam_stack", _FilesHost(installed)) == []


@pytest.mark.parametrize(
    ("control", "files", "expected"),
    [
        (  # lock-out as the role writes it, with Debian's and RedHat's controls
            "DZ-IA-05",
            {
                "/etc/pam.d/sshd": SSHD_FAILLOCK.format(
                    preauth="requisite", authfail="[default=die]", account="required"
                )
            },
            [],
        ),
        (  # a preauth line that may fail without effect: a locked account still logs in
            "DZ-IA-05",
            {"/etc/pam.d/sshd": SSHD_FAILLOCK.format(preauth="optional", authfail="optional", account="optional")},
            [
                "PAM service sshd: the auth line using pam_faillock.so with preauth is optional, so a refusal of the "
                "module is ignored (required, requisite or [default=die] make it count)"
            ],
        ),
        (  # a bracket control that ignores its module's refusal, and one that names a refusal it ignores
            "DZ-IA-05",
            {
                "/etc/pam.d/sshd": SSHD_FAILLOCK.format(
                    preauth="[success=ok default=ignore]", authfail="[default=die]", account="required"
                )
                + "auth [default=die auth_err=ignore] pam_faillock.so preauth\n"
            },
            [
                "PAM service sshd: the auth line using pam_faillock.so with preauth is [default=die auth_err=ignore], "
                "[success=ok default=ignore], so a refusal of the module is ignored (required, requisite or "
                "[default=die] make it count)"
            ],
        ),
        (  # `sufficient pam_wheel.so` lets members skip the password and everyone else through to it: su for all
            "DZ-AC-04",
            {"/etc/pam.d/su": b"auth sufficient pam_wheel.so use_uid group=dz-sysadmin\n"},
            [
                "PAM service su: the auth line using pam_wheel.so with use_uid group=dz-sysadmin is sufficient, so a "
                "refusal of the module is ignored (required, requisite or [default=die] make it count)"
            ],
        ),
        (  # a bracket control whose default is bad, success ignored: refuses
            "DZ-AC-04",
            {"/etc/pam.d/su": b"auth [success=ignore default=bad] pam_wheel.so use_uid group=dz-sysadmin\n"},
            [],
        ),
    ],
)
def test_a_pam_line_whose_control_ignores_its_refusal_does_not_pass(control, files, expected):
    """A PAM line is only enforcement if its module's refusal fails the stack: `optional` or `sufficient` (or a
    `[...]` control that ignores a refusal) on pam_faillock's preauth or pam_wheel passes nobody's audit."""
    files = {path: body.encode() if isinstance(body, str) else body for path, body in files.items()}
    assert _findings(control, "pam_stack", _FilesHost(files)) == expected


def _sudo_principal_problems(files: dict[str, bytes]) -> list[str]:
    """DZ-AC-02's sudo_principals on a host holding ``files``, with root alone allowed and dz-sysadmin the group."""
    return checks.sudo_principals(_FilesHost(files), {"users": ["root"], "groups": ["dz-sysadmin"]}).problems


def test_sudo_rules_behind_an_include_are_read():
    """@include, #include (not a comment) and #includedir are followed as sudo follows them; a relative include is
    relative to the including file; a file with a dot in its name in an included folder is skipped, as sudo does."""
    problems = _sudo_principal_problems(
        {
            "/etc/sudoers": b"root ALL=(ALL:ALL) ALL\n%dz-sysadmin ALL=(ALL) ALL\n@include /etc/sudoers.local\n"
            b"#include sudoers.extra\n#includedir /etc/sudoers.d\n# a comment\n",
            "/etc/sudoers.local": b"eve ALL=(ALL) NOPASSWD: ALL\n",
            "/etc/sudoers.extra": b"mallory ALL=(ALL) ALL\n",
            "/etc/sudoers.d/trent": b"trent ALL=(ALL) ALL\n",
            "/etc/sudoers.d/skipped.bak": b"oscar ALL=(ALL) ALL\n",
        }
    )
    assert problems == [
        "/etc/sudoers.local: sudo rule for eve (eve ALL=(ALL) NOPASSWD: ALL)",
        "/etc/sudoers.extra: sudo rule for mallory (mallory ALL=(ALL) ALL)",
        "/etc/sudoers.d/trent: sudo rule for trent (trent ALL=(ALL) ALL)",
    ]


def test_a_sudo_rule_for_a_uid_and_a_per_host_include_are_judged_as_sudo_reads_them():
    """`#1001 ALL=...` is a rule for UID 1001 (sudoers(5)), not a comment; `@include /etc/sudoers.%h` is the file
    named after the host's short name; `#0` is root; an included file that does not exist fails, not skipped."""
    problems = _sudo_principal_problems(
        {
            "/etc/passwd": b"root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/bash\n",
            "/etc/sudoers": b"#0 ALL=(ALL:ALL) ALL\n#1001 ALL=(ALL) NOPASSWD: ALL\n# 1002 is a comment\n"
            b'@include /etc/sudoers.%h\n@include "/etc/sudoers gone"\n',
            "/etc/sudoers.yl-app-01": b"root , mallory ALL=(ALL) ALL\n",
        }
    )
    assert problems == [
        "/etc/sudoers: sudo rule for #1001 (#1001 ALL=(ALL) NOPASSWD: ALL)",
        "/etc/sudoers.yl-app-01: sudo rule for mallory (root , mallory ALL=(ALL) ALL)",
        '/etc/sudoers (@include "/etc/sudoers gone") includes /etc/sudoers gone, which does not exist',
    ]


class _RolesHost:
    """A host with the three role groups and sudo rights granted per group, as `getent`, `id` and `sudo -l -U`
    answer there: an account holds the rights of its primary group and of the groups that list it."""

    GROUPS: ClassVar = {
        "dz-sysadmin": ("2001", ["sysadm"]),
        "dz-secadmin": ("2002", ["secadm"]),
        "dz-auditadmin": ("2003", []),
    }
    GRANTS: ClassVar = {
        "dz-sysadmin": ["/usr/bin/systemctl restart nginx.service"],
        "dz-secadmin": ["/usr/local/sbin/dizuo-account lock someone"],
        "dz-auditadmin": ["/usr/local/sbin/dizuo-audit-query aureport --summary"],
    }

    def __init__(self, primary: dict[str, str], tool: tuple[str, str] = ("755 root root", "")) -> None:
        self.primary = primary  # account -> GID
        # The audit query tool's `stat` answer and text ("": what the role writes for the default audit commands).
        self.tool_stat, self.tool_text = tool
        if not self.tool_text:
            self.tool_text = audit_query_tool_text(CATALOGUE.defaults()["audit_admin_commands"]) or ""  # type: ignore[arg-type]

    def _groups_of(self, account: str) -> list[str]:
        return [g for g, (gid, members) in self.GROUPS.items() if account in members or self.primary[account] == gid]

    def run(self, command: str, *args: str) -> SimpleNamespace:
        rc, out = 0, ""
        if command == "getent group %s":
            gid, members = self.GROUPS[args[0]]
            out = f"{args[0]}:x:{gid}:{','.join(members)}\n"
        elif command == "getent passwd":
            out = "".join(
                f"{a}:x:{1000 + i}:{gid}::/home/{a}:/bin/bash\n" for i, (a, gid) in enumerate(self.primary.items())
            )
        elif command == "id -u %s":
            rc = 0 if args[0] in self.primary else 1
        elif command == "sudo -l -U %s":
            granted = [c for g in self._groups_of(args[0]) for c in self.GRANTS[g]]
            out = f"User {args[0]} may run the following commands on yl-app-01:\n" + "".join(
                f"    (root) NOPASSWD: {c}\n" for c in granted
            )
        elif command.startswith("sudo -n -l -U %s -- "):
            rc = 0 if " ".join(args[1:]) in [c for g in self._groups_of(args[0]) for c in self.GRANTS[g]] else 1
        elif command == "stat -c '%%a %%U %%G' -- %s":
            rc, out = (0, f"{self.tool_stat}\n") if self.tool_stat else (1, "")
        elif command == "sha256sum -- %s":
            out = f"{hashlib.sha256(self.tool_text.encode()).hexdigest()}  {args[0]}\n"
        else:
            raise AssertionError(f"unexpected command {command!r} {args}")
        return SimpleNamespace(rc=rc, stdout=out, stderr="", stdout_bytes=out.encode(), stderr_bytes=b"")


def test_a_role_held_through_a_primary_group_breaks_the_separation_of_duties():
    """An account whose primary group is another role's group holds that role too (`getent group` does not list
    it): DZ-AC-03 fails it, and each role is probed with the other roles' work, which sudo must refuse."""
    args = _control_checks("DZ-AC-03", "sudo_separation")[0]
    separated = _RolesHost({"sysadm": "2001", "secadm": "2002", "audadm": "2003"})
    assert checks.sudo_separation(separated, args).problems == []
    problems = checks.sudo_separation(_RolesHost({"sysadm": "2002", "secadm": "2002", "audadm": "2003"}), args).problems
    assert problems == [
        "sysadm (sysadmin) may run `/usr/local/sbin/dizuo-account lock someone`",
        "account sysadm is in the groups of sysadmin, secadmin",
    ]


class _AuditRuleHost(_RolesHost):
    """The role host, where the audit admin's one sudo rule is ``rule`` (as `sudo -l -U` shows it)."""

    def __init__(self, rule: str) -> None:
        super().__init__({"sysadm": "2001", "secadm": "2002", "audadm": "2003"})
        self.rule = rule

    def run(self, command: str, *args: str) -> SimpleNamespace:
        if command == "sudo -l -U %s" and args[0] == "audadm":
            out = f"User audadm may run the following commands on yl-app-01:\n    {self.rule}\n"
            return SimpleNamespace(rc=0, stdout=out, stderr="", stdout_bytes=out.encode(), stderr_bytes=b"")
        return super().run(command, *args)


def test_every_command_of_a_sudo_rule_counts_whatever_tag_stands_before_it():
    """A rule lists commands separated by commas, each with its own tags: journalctl before `EXEC:` is granted as
    much as the query tool after it (its pager opens a root shell), so DZ-AC-03 fails the audit admin for it."""
    args = _control_checks("DZ-AC-03", "sudo_separation")[0]
    pager_first = _AuditRuleHost("(root) NOPASSWD: /usr/bin/journalctl, EXEC: /usr/local/sbin/dizuo-audit-query")
    problems = checks.sudo_separation(pager_first, args)
    assert problems.problems == [
        "audit admin audadm may run /usr/bin/journalctl, not only /usr/local/sbin/dizuo-audit-query"
    ]


def test_an_audit_admin_granted_the_audit_tools_themselves_fails_the_separation_of_duties():
    """ausearch and aureport granted with free arguments (`--checkpoint FILE` writes FILE as root, `-if FILE` reads
    it) fail DZ-AC-03, even read-only tools of audit_admin_commands: the audit admin runs them through the query
    tool only."""
    args = _control_checks("DZ-AC-03", "sudo_separation")[0]
    # As the role left it before the query tool: the tools themselves, with any arguments.
    direct = _AuditRuleHost("(root) NOEXEC: /usr/sbin/ausearch, /usr/sbin/aureport")
    problems = checks.sudo_separation(direct, args)
    assert problems.problems == [
        "audit admin audadm may run /usr/sbin/ausearch, not only /usr/local/sbin/dizuo-audit-query",
        "audit admin audadm may run /usr/sbin/aureport, not only /usr/local/sbin/dizuo-audit-query",
    ]


@pytest.mark.parametrize(
    ("tool", "problem"),
    [
        (("775 root root", ""), "/usr/local/sbin/dizuo-audit-query has mode 0775, more than 0755"),
        (("755 audadm root", ""), "/usr/local/sbin/dizuo-audit-query is owned by audadm:root, not root:root"),
        (
            ("755 root root", '#!/bin/bash\nexec "$@"\n'),
            "/usr/local/sbin/dizuo-audit-query is not what the role writes",
        ),
        (("", ""), "/usr/local/sbin/dizuo-audit-query (the audit admin's query tool) does not exist"),
    ],
)
def test_an_audit_query_tool_someone_else_could_change_or_did_change_fails(tool, problem):
    """The audit query tool runs as root for the audit admin: one another account may write, or whose text is not the
    role's for audit_admin_commands (an edit that lets every option through), or none at all, fails DZ-AC-03."""
    args = _control_checks("DZ-AC-03", "sudo_separation")[0]
    problems = checks.sudo_separation(_RolesHost({"sysadm": "2001", "secadm": "2002", "audadm": "2003"}, tool), args)
    assert len(problems.problems) == 1, problems.problems
    assert problems.problems[0].startswith(problem), problems.problems


@pytest.fixture
def chinese_locale(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner in zh_CN.UTF-8 (Kylin V10's default), compiled with localedef into a private LOCPATH."""
    if shutil.which("localedef") is None:
        pytest.skip("localedef (libc-bin) is not installed: cannot compile a zh_CN locale")
    locales = tmp_path_factory.mktemp("locales")
    subprocess.run(["localedef", "-i", "zh_CN", "-f", "UTF-8", str(locales / "zh_CN.UTF-8")], check=True, timeout=120)
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOCPATH", str(locales))
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    said = subprocess.run(["cat", "/nonexistent"], capture_output=True, text=True, check=False).stderr
    if "没有那个文件或目录" not in said:
        pytest.skip(f"coreutils has no zh_CN messages here ({said.strip()}): nothing to show")


@pytest.mark.usefixtures("chinese_locale")
def test_a_host_in_a_chinese_locale_is_audited_as_one_in_english(tmp_path):
    """Checks read commands' output in the C locale whatever locale reaches the host (a sudo listing in Chinese
    would read as no rule), and a missing optional file is missing, not an error of the check."""
    missing = tmp_path / "pam.d" / "password-auth"
    # Whether a file exists is asked of `test -e`, not read from an error message, even outside the C locale.
    host = testinfra.get_host("local://")
    excluded = checks.file_excludes(host, {"paths": [str(missing)], "patterns": [r"nullok"]})
    assert (excluded.problems, excluded.evidence) == ([], [])
    assert checks.file_contains(host, {"path": str(missing), "patterns": ["x"]}).problems == [
        f"{missing} does not exist"
    ]
    assert "No such file or directory" in checks.connect("local://").run("cat -- %s", str(missing)).stderr


def test_a_gbk_comment_in_a_configuration_file_is_read_not_an_error(tmp_path):
    """A comment saved in GBK (as Windows editors in the city save them) is not UTF-8: the audit reads the file
    through it, with the bytes it cannot decode shown as U+FFFD, instead of an error no waiver clears."""
    conf = tmp_path / "login.defs"
    conf.write_bytes("# 口令有效期\nPASS_MAX_DAYS 90\n".encode("gbk"))
    local = testinfra.get_host("local://")
    expect = [{"key": "PASS_MAX_DAYS", "op": "le", "value": 90}]
    finding = checks.config_values(local, {"path": str(conf), "separator": "space", "expect": expect})
    assert finding.problems == []
    contains = checks.file_contains(local, {"path": str(conf), "patterns": [r"^PASS_MAX_DAYS\s+90$"]})
    assert contains.problems == []


def test_management_access_from_outside_is_refused_over_ipv6_too(real_sshd, tmp_path):
    """DZ-IP-03: sshd must refuse every user from outside the management networks over IPv6 as well as IPv4: a
    `Match Address 0.0.0.0/0,!<mgmt>` block (IPv4 only) leaves SSH open to every IPv6 address, and fails, unless sshd
    listens on IPv4 only (AddressFamily inet)."""
    config = tmp_path / "sshd_config"
    (args,) = _control_checks("DZ-IP-03", "sshd_effective", mgmt_allowed_sources=["10.64.0.0/24"])
    config.write_text(SSHD_HARDENED)
    assert checks.sshd_effective(_SshdHost(real_sshd, config), args).problems == []
    config.write_text(SSHD_HARDENED.replace("Match Address *,", "Match Address 0.0.0.0/0,"))
    problems = checks.sshd_effective(_SshdHost(real_sshd, config), args).problems
    assert problems == ["sshd -T -C for dzadmin from 2001:db8::10: denyusers is not set, expected contains *"]
    # An sshd that listens on IPv4 only (AddressFamily inet) takes no IPv6 connection: the IPv4 block is enough.
    config.write_text("AddressFamily inet\n" + SSHD_HARDENED.replace("Match Address *,", "Match Address 0.0.0.0/0,"))
    finding = checks.sshd_effective(_SshdHost(real_sshd, config), args)
    assert finding.problems == []
    assert "sshd listens on IPv4 only: none connects from 2001:db8::10" in finding.evidence
    # Listening on IPv6 only, no IPv4 probe connects: what sshd applies outside Match blocks is still judged.
    (ia08,) = _control_checks("DZ-IA-08", "sshd_effective", mgmt_allowed_sources=["10.64.0.0/24"])
    ia08["expect"] = [item for item in ia08["expect"] if item["key"] == "permitrootlogin"]
    config.write_text("AddressFamily inet6\n" + SSHD_HARDENED.replace("PermitRootLogin no", "PermitRootLogin yes"))
    assert checks.sshd_effective(_SshdHost(real_sshd, config), ia08).problems == [
        "sshd -T: permitrootlogin is yes, expected = no"
    ]


def test_results_survive_any_line_separator_a_host_prints(tmp_path, monkeypatch):
    """Host text holding U+2028, U+2029 or U+0085 (here a file name in logrotate.d, as the check reports it) reaches
    the results file as JSON writes it, raw, and the audit reads every record back whole instead of stopping with a
    JSONDecodeError and no report for any host."""
    rotated = tmp_path / "logrotate.d"
    rotated.mkdir()
    (rotated / "rsyslog\u2028旧\u2029\x85").write_text("/var/log/syslog {\n\tdaily\n\trotate 180\n}\n")
    local = testinfra.get_host("local://")
    finding = checks.logrotate_retention(local, {"path": str(rotated), "logs": ["/var/log/syslog"], "min_days": 180})
    assert finding.evidence == [f"{rotated}/rsyslog\u2028旧\u2029\x85: /var/log/syslog: daily, rotate 180 → 180 days"]
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(checks.RESULTS_ENV, str(results))
    record = {"host": "h1", "control": "DZ-AU-05", "status": "pass", **dataclasses.asdict(finding)}
    checks._record(record)
    checks._record({**record, "host": "h2"})
    read = audit._Results(results)
    read.read()
    assert read.by_key == {("h1", "DZ-AU-05"): record, ("h2", "DZ-AU-05"): {**record, "host": "h2"}}


def test_junit_lists_what_a_waived_control_still_deviates_in(tmp_path):
    """A waiver covers a whole control on a host: junit.xml names each deviation a waived control still has, as the
    Markdown and HTML reports do, so CI shows a listener that appeared after the waiver was signed."""
    results, meta = _results()
    deviations = ("nginx listens on tcp 0.0.0.0:443, not on the allow-list", "nc listens on tcp 0.0.0.0:4444 <&]]>")
    results = [replace(r, problems=deviations) if r.status is Status.WAIVED else r for r in results]
    write_reports(results, meta, tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()  # noqa: S314 - XML we just wrote
    (skipped,) = [c.find("skipped") for c in root.iter("testcase") if c.get("classname") == "h2.DZ-IA-01"]
    assert skipped is not None
    assert skipped.get("message") == "WAIVED: waived until 2030-01-01: ok"
    assert (skipped.text or "").splitlines() == list(deviations)
    assert all(d in (tmp_path / "report.md").read_text(encoding="utf-8").replace("\\", "") for d in deviations[:1])


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("027", None),
        ("0027", None),  # the same mask, written with four digits
        ("077", None),  # stricter: group gets nothing either
        ("0022", "UMASK is 0022"),  # other users read new files
        ("007", "UMASK is 007"),  # the group writes them
        ("27", "UMASK is 27"),  # login(1) reads it as decimal 27 (octal 033), pam_umask as octal 027
    ],
)
def test_a_umask_is_judged_by_the_bits_it_masks(tmp_path, written, problem):
    """DZ-AC-05: login.defs' UMASK passes when it masks at least the city's bits, however it is written (0027 is 027)
    and however much stricter (077); a mask that leaves a bit open, or that programs read differently, fails."""
    defs = tmp_path / "login.defs"
    defs.write_text(f"# UMASK is the default umask value for pam_umask\nUMASK\t\t{written}\nPASS_MAX_DAYS 90\n")
    (args,) = [
        {**a, "path": str(defs)} for a in _control_checks("DZ-AC-05", "config_values") if "login.defs" in a["path"]
    ]
    finding = checks.config_values(testinfra.get_host("local://"), args)
    expected = [f"{defs}: {problem}, expected an octal umask masking at least 027"] if problem else []
    assert finding.problems == expected


def test_host_text_is_read_in_lines_as_the_host_s_programs_read_it(tmp_path):
    """Only a newline ends a line for login, PAM and ss: a login.defs comment holding U+2028 before a setting is no
    setting (login still reads PASS_MAX_DAYS 99999, and the audit must fail it), and a listener whose name holds
    U+2028 or U+0085 is named, not shown as '?'."""
    defs = tmp_path / "login.defs"
    defs.write_text(
        "PASS_MAX_DAYS 99999\r\n#\u2028PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\n", encoding="utf-8"
    )
    (args,) = [
        {**a, "path": str(defs)} for a in _control_checks("DZ-IA-04", "config_values") if "login.defs" in a["path"]
    ]
    local = testinfra.get_host("local://")
    assert checks.config_values(local, args).problems == [f"{defs}: PASS_MAX_DAYS is 99999, expected between 1 and 90"]
    name = "nginx\u2028x\x85y"
    listener = subprocess.Popen(
        [sys.executable, "-c",
         "import ctypes, socket, time\n"
         f"ctypes.CDLL(None).prctl(15, {name.encode()!r}, 0, 0, 0)\n"
         "s = socket.socket(); s.bind(('127.0.0.9', 0)); s.listen(); print(s.getsockname()[1], flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        port = int(listener.stdout.readline())  # type: ignore[union-attr]
        finding = checks.ports_closed(local, {"tcp": [port]})
    finally:
        listener.kill()
        listener.wait()
    assert finding.problems == [f"{name} listens on 127.0.0.9:{port}"]


@pytest.mark.parametrize(
    ("written", "problem"),
    [("30", None), ("0", None), ("-1", "INACTIVE is -1"), ("31", "INACTIVE is 31"), ("", "INACTIVE is ")],
)
def test_new_accounts_disabled_at_once_after_their_password_expired_meet_the_inactive_bound(tmp_path, written, problem):
    """DZ-IA-04: useradd's INACTIVE=0 disables a new account the day its password expires, stricter than 30 days, and
    passes; -1 (never) and more days than the city allows fail."""
    defaults = tmp_path / "useradd"
    defaults.write_text(f"# useradd defaults file\nSHELL=/bin/sh\nINACTIVE={written}\n")
    (args,) = [
        {**a, "path": str(defaults)} for a in _control_checks("DZ-IA-04", "config_values") if "useradd" in a["path"]
    ]
    finding = checks.config_values(testinfra.get_host("local://"), args)
    assert finding.problems == ([f"{defaults}: {problem}, expected between 1 and 30 or 0"] if problem else [])


def test_a_file_named_in_gbk_is_read_and_shown_by_its_bytes(tmp_path, monkeypatch):
    """A logrotate.d file whose name was written in GBK (no UTF-8) is read like any other through the audit's own
    connection, shown by its bytes (\\xc9\\xf3...), and its record reaches every report, instead of DZ-AU-05 being a
    permanent error ("surrogates not allowed")."""
    rotated = tmp_path / "logrotate.d"
    rotated.mkdir()
    gbk = "审计".encode("gbk")
    Path(os.fsdecode(os.fsencode(rotated) + b"/" + gbk + b"%s 'x")).write_text(
        "/var/log/syslog {\n\tdaily\n\trotate 180\n}\n"
    )
    finding = checks.logrotate_retention(
        checks.connect("local://"), {"path": str(rotated), "logs": ["/var/log/syslog"], "min_days": 180}
    )
    assert finding.problems == []
    assert finding.evidence == [f"{rotated}/\\xc9\\xf3\\xbc\\xc6%s 'x: /var/log/syslog: daily, rotate 180 → 180 days"]
    monkeypatch.setenv(checks.RESULTS_ENV, str(tmp_path / "results.jsonl"))
    checks._record({"host": "h1", "control": "DZ-AU-05", "status": "pass", **dataclasses.asdict(finding)})
    read = audit._Results(tmp_path / "results.jsonl")
    read.read()
    assert read.by_key[("h1", "DZ-AU-05")]["evidence"] == finding.evidence
    results, meta = _results()
    write_reports([replace(results[0], evidence=tuple(finding.evidence))], meta, tmp_path / "report")
    written = json.loads((tmp_path / "report" / "results.json").read_text(encoding="utf-8"))
    assert written["results"][0]["evidence"] == finding.evidence
