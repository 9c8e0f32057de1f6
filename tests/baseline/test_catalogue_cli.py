"""`dizuo baseline controls` and `dizuo harden` up to the point where Ansible would start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from dizuo.baseline import harden
from dizuo.baseline.catalogue import Scope, UnknownControlError, packaged
from dizuo.declaration import load
from rich_tables import table_cells

REPO = Path(__file__).resolve().parents[2]
YULIN = REPO / "inventories" / "yulin"
DIZUO = str(Path(sys.executable).parent / "dizuo")


def _dizuo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DIZUO, *args], capture_output=True, text=True, check=False, cwd=REPO)


def test_controls_json_lists_every_control_with_clause_and_checks() -> None:
    """`dizuo baseline controls --format json` is the whole catalogue, machine-readable."""
    done = _dizuo("baseline", "controls", "--format", "json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["controls"]
    assert [c["id"] for c in listed] == [c.id for c in packaged().controls]
    for control in listed:
        assert control["clause"], f"{control['id']} has no clause in the JSON listing"
        assert control["checks"], f"{control['id']} has no checks in the JSON listing"


def test_controls_table_shows_ids_and_titles() -> None:
    """The table for people names each control by id and Chinese title."""
    done = _dizuo("baseline", "controls")
    assert done.returncode == 0, done.stderr
    for control in packaged().controls:
        assert control.id in done.stdout, f"{control.id} missing from the table"


def test_controls_table_cuts_no_title_or_parameter_name_on_a_narrow_terminal() -> None:
    """On an 80-column terminal (and in a CI log or a pipe, which rich prints 80 wide), each control's Chinese title
    and every parameter name are there whole, folded over lines if need be, never cut to `password_…`."""
    done = subprocess.run(
        [DIZUO, "baseline", "controls"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stderr
    rows = {row[0]: row for row in table_cells(done.stdout)}
    cut = []
    for control in packaged().controls:
        _id, _clause, title, parameters, *_ = rows[control.id]
        # a line wrapped at a space loses it in the joined cell: compared without spaces
        cut += (
            [f"{control.id} title {control.title.zh}"]
            if "".join(control.title.zh.split()) not in "".join(title.split())
            else []
        )
        cut += [f"{control.id} {p.name}" for p in control.parameters if f"{p.name}=" not in parameters]
    assert cut == [], f"cut off in the 80-column table: {cut}"


def test_harden_with_a_broken_declaration_names_the_problem(tmp_path: Path) -> None:
    """Bad input to `dizuo harden` gives file, key and value and exit 2, never a traceback."""
    for source in YULIN.glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    city = yaml.safe_load((tmp_path / "city.yaml").read_text(encoding="utf-8"))
    city["baseline"] = {"log_retention_days": 30}
    (tmp_path / "city.yaml").write_text(yaml.safe_dump(city, allow_unicode=True), encoding="utf-8")
    done = _dizuo("harden", "--inventory", str(tmp_path))
    assert done.returncode == 2, f"exit {done.returncode}: {done.stderr}"
    assert "city.yaml: baseline.log_retention_days: must be ≥ 180" in done.stderr
    assert "Traceback" not in done.stderr


def test_harden_inventory_carries_each_hosts_zone_values() -> None:
    """Every declared host gets every baseline parameter, with its zone's override applied."""
    declaration = load(YULIN)
    city = declaration.city.model_copy(update={"baseline": {"zones": {"internet": {"listen_tcp_allowed": [22, 443]}}}})
    declaration = declaration.model_copy(update={"city": city})
    rendered = harden.inventory(declaration)
    hostvars: dict[str, dict] = {}
    for group in rendered["all"]["children"].values():
        hostvars.update(group["hosts"])
    assert hostvars["yl-gw-01"]["baseline_listen_tcp_allowed"] == [22, 443], "yl-gw-01 is in the internet zone"
    assert hostvars["yl-log-01"]["baseline_listen_tcp_allowed"] == [22]
    for name, variables in hostvars.items():
        missing = [p.variable for p in packaged().parameters().values() if p.variable not in variables]
        assert not missing, f"{name} lacks {missing}"


def test_the_playbook_is_found_from_the_repository() -> None:
    """`dizuo harden` finds roles/baseline.yml without being told where it is."""
    assert harden.find_playbook().read_text(encoding="utf-8") == (REPO / "roles" / "baseline.yml").read_text(
        encoding="utf-8"
    )


def test_harden_controls_run_their_role_tags_only() -> None:
    """A control maps to the role tag that enforces it; several controls of one tag run it once."""
    asked = ["DZ-AU-02", "DZ-AU-01", "DZ-IA-04"]
    controls = packaged().select(Scope.HOST, asked)
    assert [c.id for c in controls] == [c.id for c in packaged().for_scope(Scope.HOST) if c.id in asked], (
        "catalogue order"
    )
    ia04 = packaged().control("DZ-IA-04").remediation.tag
    assert ia04 not in {None, "auditd"}, "DZ-IA-04 is enforced by another tag"
    assert harden.remediation_tags(controls) == sorted({"auditd", ia04})
    # A control whose files several tags write runs all of them: nullok is in the PAM stacks, ClientAlive* in sshd.
    both = packaged().select(Scope.HOST, ["DZ-IA-02", "DZ-IA-06"])
    assert harden.remediation_tags(both) == ["accounts", "pam", "shell", "ssh"]


def test_harden_with_an_unknown_control_is_a_clear_error() -> None:
    """`dizuo harden --controls` with a control that is not a host control stops before Ansible, exit 2."""
    cluster_control = packaged().for_scope(Scope.CLUSTER)[0].id
    done = _dizuo("harden", "-i", str(YULIN), "--controls", f"DZ-AU-01,{cluster_control}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"not host controls of the catalogue: {cluster_control}" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def test_harden_with_a_limit_that_matches_no_host_is_a_clear_error() -> None:
    """`--limit` is an Ansible host pattern; one that selects no declared host stops before Ansible runs, with
    the pattern named, where ansible-playbook would only warn and run nothing."""
    done = _dizuo("harden", "-i", str(YULIN), "--check", "--limit", "yl-nosuch-*")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--limit: 'yl-nosuch-*' matches no host or group of hosts.yaml" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def test_harden_without_ansible_playbook_says_what_to_install(tmp_path: Path) -> None:
    """`dizuo harden` where no ansible-playbook is installed (next to its Python or on PATH) is a missing tool: exit 2
    before anything runs, saying what to install, not exit 1 with a run that failed on no host."""
    # This test's Python as another environment would run it: its own bin/ (a link to the interpreter, the packages
    # beside it), which holds no ansible-playbook.
    environment = Path(sys.executable).parents[1]
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "lib").symlink_to(environment / "lib")
    (tmp_path / "pyvenv.cfg").write_text((environment / "pyvenv.cfg").read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run(
        [str(tmp_path / "bin" / "python"), "-m", "dizuo", "harden", "-i", str(YULIN), "--limit", "yl-log-01"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    said = " ".join(done.stderr.split())
    assert f"no ansible-playbook next to this Python ({tmp_path / 'bin'}) or on PATH" in said, said
    assert "install ansible-core" in said
    assert "Traceback" not in done.stderr


def test_hosts_matching_follows_ansible_patterns() -> None:
    """Host names, groups, globs and exclusions select hosts as ansible-playbook --limit does."""
    declaration = load(YULIN)
    every = {h.name for h in declaration.inventory.hosts}
    loghosts = {h.name for h in declaration.inventory.hosts if "loghost" in h.groups}
    assert set(harden.hosts_matching(declaration, "all")) == every
    assert set(harden.hosts_matching(declaration, "loghost")) == loghosts
    assert set(harden.hosts_matching(declaration, "all:!loghost")) == every - loghosts


def test_empty_control_selection_is_an_error() -> None:
    """An empty --controls value is a mistake, not "no controls" and not "all controls"."""
    with pytest.raises(UnknownControlError, match="none given"):
        packaged().select(Scope.HOST, [])


def _harden_local_play(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tasks: list[dict[str, Any]]) -> Result:
    """`dizuo harden` of yl-log-01 in-process, through the real ansible-runner, with a playbook of ``tasks`` run on
    this machine in place of the role."""
    from typer.testing import CliRunner  # noqa: PLC0415 - only these tests drive the CLI in-process

    from dizuo.cli import app  # noqa: PLC0415

    playbook = tmp_path / "baseline.yml"
    play = {"hosts": "all", "connection": "local", "gather_facts": False, "tasks": tasks}
    playbook.write_text(yaml.safe_dump([play]), encoding="utf-8")
    monkeypatch.setattr(harden, "find_playbook", lambda: playbook)
    monkeypatch.setenv("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    done = CliRunner().invoke(app, ["harden", "--inventory", str(YULIN), "--limit", "yl-log-01"])
    assert done.exit_code == 0, done.output
    return done


def test_harden_shows_what_the_role_tells_the_operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The role's notes to the operator (people who need a password, audit rules waiting for a reboot, kernel keys
    it lacks) reach the person running `dizuo harden`, naming the host, through the real ansible-runner; skipped
    notes do not."""
    tasks = [
        {"name": "DZ-AU-02 | Say", "ansible.builtin.debug": {"msg": "DZ-AU-02: the rules wait for the next boot"}},
        {"name": "DZ-AU-01 | Skip", "ansible.builtin.debug": {"msg": "DZ-AU-01: never shown"}, "when": False},
    ]
    done = _harden_local_play(tmp_path, monkeypatch, tasks)
    assert "yl-log-01: DZ-AU-02: the rules wait for the next boot" in " ".join(done.output.split())
    assert "never shown" not in done.output


def test_harden_progress_counts_tasks_as_its_table_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-host progress line and the closing table count alike, as Ansible's recap does (a changed task is ok
    too, and so is a failed one whose errors are ignored): a run of one changed and one unchanged task, a report-only
    assert that fails (as the role's DZ-IP-02 listener check does by default) and an ignored failure that changed
    shows "ok 4 changed 2" in both, where the progress line said "ok 1" beside the table's 2, then left the ignored
    failures out; the assert's message reaches the operator as a note."""
    tasks = [
        {"name": "DZ-IA-08 | Change", "ansible.builtin.command": "true", "changed_when": True},
        {"name": "DZ-IA-08 | Keep", "ansible.builtin.command": "true", "changed_when": False},
        {
            "name": "DZ-IP-02 | Report",
            "ansible.builtin.assert": {
                "that": False,
                "fail_msg": "DZ-IP-02 listening outside the allow-list: tcp 8080",
            },
            "ignore_errors": True,
        },
        {"name": "DZ-IA-08 | Fail", "ansible.builtin.command": "false", "changed_when": True, "ignore_errors": True},
    ]
    done = _harden_local_play(tmp_path, monkeypatch, tasks)
    assert "yl-log-01: ok 4  changed 2  failed 0" in done.output, done.output
    row = next(cells for cells in table_cells(done.output) if cells[0] == "yl-log-01")
    assert row[1:4] == ["4", "2", "0"], f"table ok/changed/failed: {row}"
    assert "yl-log-01: DZ-IP-02 listening outside the allow-list: tcp 8080" in " ".join(done.output.split())


@pytest.mark.parametrize("command", ["harden", "audit"])
@pytest.mark.parametrize(
    ("limit", "said"),
    [
        ("loghost[5]", "'loghost[5]': the subscript selects no host of 'loghost' (it has 1: [0] to [0])"),
        ("all[99]", "'all[99]': the subscript selects no host of 'all' (it has 11: [0] to [10])"),
        ("loghost[3:9]", "'loghost[3:9]': the subscript selects no host of 'loghost' (it has 1: [0] to [0])"),
        ("localhost", "'localhost' matches no host or group of hosts.yaml"),
        ("127.0.0.1", "'127.0.0.1' matches no host or group of hosts.yaml"),
        ("yl-log-01:localhost", "'localhost' matches no host or group of hosts.yaml"),
        ("~[", "'~' (read by Ansible from '~[') has an empty regular expression, which would select every host"),
        ("~(", "'~(' is not a regular expression: missing ), unterminated subpattern at position 0"),
        ("all:!all", "'all:!all' selects no host: each part matches, but together they leave none"),
        ("loghost:&ntp", "'loghost:&ntp' selects no host: each part matches, but together they leave none"),
    ],
)
def test_a_limit_selecting_no_declared_host_is_refused_naming_it(
    command: str, limit: str, said: str, tmp_path: Path
) -> None:
    """A subscript past the end of its group (Ansible raised, a traceback and exit 1) or inside it but selecting none
    (said to match "no host or group", though the group is there), Ansible's implicit localhost (harden ran on this
    machine and failed, audit said hosts.yaml "declares no hosts to audit") and a `~` whose regular expression is
    empty (Ansible reads '~[' as '~', every host) or broken are each refused, exit 2, naming the part; a pattern
    whose parts each match but together leave no host is refused saying just that (not that a part matches none)."""
    from typer.testing import CliRunner  # noqa: PLC0415 - only these tests drive the CLI in-process

    from dizuo.cli import app  # noqa: PLC0415

    where = ["--check"] if command == "harden" else ["--report", str(tmp_path / "report")]
    done = CliRunner().invoke(app, [command, "-i", str(YULIN), *where, "--limit", limit], env={"COLUMNS": "400"})
    assert done.exit_code == 2, done.output
    assert f"error: --limit: {said}" in done.stderr, done.stderr
    assert "Traceback" not in done.output
