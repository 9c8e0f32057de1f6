"""roles/baseline, statically: ansible-lint clean, syntax, and in step with the catalogue."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from real_programs import role_play

from dizuo.baseline.catalogue import Scope, packaged

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
ROLE = ROLES / "baseline"
BIN = Path(sys.executable).parent
# Tasks that write a file whose mistake locks people out must validate it first.
LOCKOUT_PRONE = re.compile(r"^/etc/(ssh/sshd_config|sudoers(\.d/.*)?|pam\.d/.*)$")


def _tool(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"{name} is not installed next to {sys.executable} (test dependency group)"
    return str(path)


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1"}


def _yaml(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _tasks() -> dict[str, list[dict]]:
    return {p.stem: _yaml(p) or [] for p in sorted((ROLE / "tasks").glob("*.yml"))}


def _walk(tasks: list[dict]) -> list[dict]:
    found = []
    for task in tasks:
        found.append(task)
        found += _walk(task.get("block", []))
    return found


@pytest.mark.slow
def test_role_is_ansible_lint_clean() -> None:
    """ansible-lint (production profile, offline) reports nothing on roles/."""
    done = subprocess.run(
        [_tool("ansible-lint"), "--offline", "--nocolor", "--format=pep8", "roles/"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"ansible-lint found problems in roles/:\n{done.stdout}\n{done.stderr[-2000:]}"


def test_playbook_passes_syntax_check() -> None:
    """ansible-playbook --syntax-check accepts roles/baseline.yml and every imported task file."""
    done = subprocess.run(
        [_tool("ansible-playbook"), "--syntax-check", "-i", "localhost,", str(ROLES / "baseline.yml")],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"syntax check of roles/baseline.yml failed:\n{done.stdout}\n{done.stderr}"


def test_role_defaults_equal_the_catalogue_defaults() -> None:
    """The role enforces the catalogue's values when run without the declaration (no drift)."""
    defaults = _yaml(ROLE / "defaults" / "main.yml")
    assert isinstance(defaults, dict)
    for param in packaged().parameters().values():
        assert param.variable in defaults, f"{param.variable} is missing from roles/baseline/defaults/main.yml"
        assert defaults[param.variable] == param.default, f"{param.variable}: role default differs from catalogue"


def test_every_default_has_a_rationale_with_its_control_id() -> None:
    """Each catalogue-backed default is preceded by a comment naming its control id."""
    lines = (ROLE / "defaults" / "main.yml").read_text(encoding="utf-8").splitlines()
    catalogue = packaged()
    for control in catalogue.controls:
        for param in control.parameters:
            index = next(i for i, line in enumerate(lines) if line.startswith(f"{param.variable}:"))
            assert lines[index - 1].startswith(f"# {control.id} "), f"{param.variable} lacks '# {control.id} …'"


def test_argument_specs_declare_every_default() -> None:
    """meta/argument_specs.yml validates every role default, with the same default value."""
    defaults = _yaml(ROLE / "defaults" / "main.yml")
    specs = _yaml(ROLE / "meta" / "argument_specs.yml")
    assert isinstance(defaults, dict)
    assert isinstance(specs, dict)
    options = specs["argument_specs"]["main"]["options"]
    for name, value in defaults.items():
        assert name in options, f"{name} is not declared in meta/argument_specs.yml"
        if not (isinstance(value, str) and "{{" in value):  # templated defaults resolve per host
            assert options[name].get("default") == value, f"{name}: argument_specs default differs"


def test_every_control_is_enforced_by_a_task_named_with_its_id() -> None:
    """Each control's remediation tag has tasks/<tag>.yml with a task named after the control id."""
    tasks = _tasks()
    main = _yaml(ROLE / "tasks" / "main.yml")
    assert isinstance(main, list)
    imported = {
        t["ansible.builtin.import_tasks"].removesuffix(".yml"): t for t in main if "ansible.builtin.import_tasks" in t
    }
    for control in packaged().for_scope(Scope.HOST):
        assert control.remediation.tags, f"{control.id} names no tag"
        for tag in control.remediation.tags:
            assert tag in imported, f"{control.id}: tasks/main.yml imports no {tag}.yml"
            assert imported[tag]["tags"] == [tag], f"{tag}.yml is not tagged '{tag}'"
            assert f"baseline_{tag}_enabled" in imported[tag]["when"], (
                f"{tag}.yml is not gated by baseline_{tag}_enabled"
            )
            ids = [t.get("name", "").split(" |", 1)[0].split(", ") for t in _walk(tasks[tag])]
            assert any(control.id in named for named in ids), f"{control.id}: no task in {tag}.yml names it"


# Modules whose tasks write a file (or its mode) at `dest` or `path`.
_WRITING_MODULES = [
    f"ansible.builtin.{m}" for m in ("template", "copy", "lineinfile", "blockinfile", "replace", "file", "ini_file")
]
_VARIABLE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


def _role_values(name: str) -> list[str]:
    """Every value the role variable takes in defaults/ or in any OS's vars/ (the items, for a list)."""
    found: list[str] = []
    for path in [ROLE / "defaults" / "main.yml", *sorted((ROLE / "vars").glob("*.yml"))]:
        document = _yaml(path) or {}
        assert isinstance(document, dict)
        value = document.get(name)
        found += [str(v) for v in value] if isinstance(value, list) else [] if value is None else [str(value)]
    return found


def _expand(text: str, items: list[str]) -> list[str]:
    """``text`` with ``{{ item }}`` and ``{{ role_variable }}`` replaced by each value they take; what cannot be
    derived that way (filters, item fields) is left out."""
    expanded = [text.replace("{{ item }}", item) for item in items] if "{{ item }}" in text else [text]
    while any(_VARIABLE.search(t) for t in expanded):
        expanded = [
            t.replace(m.group(0), value)
            for t in expanded
            for m in [_VARIABLE.search(t)]
            if m is not None
            for value in _role_values(m.group(1))
        ] + [t for t in expanded if not _VARIABLE.search(t)]
    return [t for t in expanded if "{{" not in t and t.startswith("/")]


def _written_by() -> dict[str, set[str]]:
    """Path -> the role tags whose tasks write it, for every path that can be derived from the tasks."""
    writers: dict[str, set[str]] = {}
    for tag, tasks in _tasks().items():
        for task in _walk(tasks):
            loop = task.get("loop", [])
            items = _expand_loop(loop)
            for module in _WRITING_MODULES:
                args = task.get(module)
                if isinstance(args, dict):
                    for path in _expand(str(args.get("dest") or args.get("path") or ""), items):
                        writers.setdefault(path, set()).add(tag)
    return writers


def _expand_loop(loop: object) -> list[str]:
    if isinstance(loop, list):
        return [str(item) for item in loop if not isinstance(item, dict)]
    whole = _VARIABLE.fullmatch(str(loop).strip())
    return _role_values(whole.group(1)) if whole else []


def _read_by(control_id: str, written: set[str]) -> set[str]:
    """The files a control's checks read, as far as the catalogue's arguments name them."""
    catalogue = packaged()
    read: set[str] = set()
    for check in catalogue.control(control_id).checks:
        args = check.resolved_args(catalogue.defaults())
        read |= {str(args[key]) for key in ("path", "config", "dropin_dir") if key in args}
        # file_modes reads no content, only modes: those the permissions tag sets on every key file that exists.
        read |= {str(p) for p in args.get("paths", [])}
        if check.kind == "pam_stack":  # the service's file and the shared stacks it includes
            read |= {f"/etc/pam.d/{args['service']}", *(f"/etc/pam.d/{f}" for f in _role_values("baseline_pam_files"))}
        if check.kind == "sshd_effective":
            read.add("/etc/ssh/sshd_config")
        if check.kind == "login_env":  # a login shell reads every profile script
            read |= {p for p in written if p.startswith("/etc/profile.d/")}
    return read


def test_harden_of_a_control_writes_every_file_its_checks_read() -> None:
    """`dizuo harden --controls <id>` runs the tags that write what the audit of <id> reads: every file a control's
    checks read that the role writes is written by a task under one of the control's tags."""
    written = _written_by()
    assert {"/etc/ssh/sshd_config", "/etc/pam.d/common-auth", "/etc/pam.d/system-auth"} <= set(written)
    for control in packaged().for_scope(Scope.HOST):
        for path in sorted(_read_by(control.id, set(written)) & set(written)):
            assert written[path] & set(control.remediation.tags), (
                f"{control.id} checks {path}, written by tag {', '.join(sorted(written[path]))}, but `dizuo harden "
                f"--controls {control.id}` runs only {', '.join(control.remediation.tags)}"
            )


def test_lockout_prone_files_are_validated_before_they_are_written() -> None:
    """Every task writing sshd_config, sudoers or a PAM file carries `validate:`."""
    checked = 0
    for concern, tasks in _tasks().items():
        for task in _walk(tasks):
            for module in ("ansible.builtin.template", "ansible.builtin.copy", "ansible.builtin.lineinfile"):
                args = task.get(module)
                if not isinstance(args, dict):
                    continue
                dest = str(args.get("dest") or args.get("path") or "")
                if LOCKOUT_PRONE.match(dest) or dest.startswith("/etc/pam.d/{{"):
                    checked += 1
                    assert "validate" in args, f"{concern}.yml: '{task.get('name')}' writes {dest} unvalidated"
    assert checked >= 5, "expected sshd_config, two sudoers drop-ins, /etc/sudoers and PAM files to be written"


def test_every_supported_os_has_its_variables() -> None:
    """Debian 12, openEuler 22.03/24.03, Kylin V10 and UOS 20 resolve to vars files with the same keys."""
    vars_dir = ROLE / "vars"
    debian = _yaml(vars_dir / "Debian.yml")
    redhat = _yaml(vars_dir / "RedHat.yml")
    assert isinstance(debian, dict)
    assert isinstance(redhat, dict)
    assert set(debian) == set(redhat), f"OS family vars differ: {sorted(set(debian) ^ set(redhat))}"
    for name in ("Debian-12", "openEuler-22", "openEuler-24", "Kylin_Linux_Advanced_Server-V10", "Uos-20-apt"):
        specific = _yaml(vars_dir / f"{name}.yml")
        assert isinstance(specific, dict), f"vars/{name}.yml is missing or empty"


def _os_vars(tmp_path: Path, facts: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The role's own variable loading (tasks/os_vars.yml), run by ansible-playbook on this machine with the facts
    of another OS set in their place: it only reads the role's vars files and writes what they chose to a file."""
    chosen = tmp_path / "chosen.json"
    play = role_play(
        facts,
        {
            "ansible.builtin.copy": {
                "dest": str(chosen),
                "content": "{{ {'pam_family': baseline_pam_family, 'pam_dirs': baseline_pam_module_dirs,"
                " 'packages': baseline_packages} | to_json }}",
                "mode": "0600",
            }
        },
    )
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play), encoding="utf-8")
    return subprocess.run(
        [
            _tool("ansible-playbook"),
            *("-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}"),
            str(tmp_path / "play.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**_env(), "ANSIBLE_ROLES_PATH": str(ROLES), "ANSIBLE_LOCALHOST_WARNING": "false"},
    )


def _facts(distribution: str, major: str, os_family: str, pkg_mgr: str) -> dict[str, str]:
    return {
        "ansible_distribution": distribution,
        "ansible_distribution_major_version": major,
        "ansible_distribution_version": major,
        "ansible_os_family": os_family,
        "ansible_pkg_mgr": pkg_mgr,
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("facts", "pam_family", "pam_dir"),
    [
        # ansible-core < 2.21 reports UOS Server 20's RPM editions (uel20) as the Debian family (ansible#86957).
        pytest.param(_facts("Uos", "20", "Debian", "dnf"), "redhat", "/usr/lib64/security", id="uos-20-rpm"),
        pytest.param(
            _facts("Uos", "20", "Debian", "apt"), "debian", "/lib/aarch64-linux-gnu/security", id="uos-20-apt"
        ),
        pytest.param(_facts("openEuler", "22", "RedHat", "dnf"), "redhat", "/usr/lib64/security", id="openeuler-22"),
        pytest.param(
            _facts("Debian", "12", "Debian", "apt"), "debian", "/lib/x86_64-linux-gnu/security", id="debian-12"
        ),
    ],
)
def test_each_os_loads_its_family_s_variables_by_its_package_manager(
    tmp_path: Path, facts: dict[str, str], pam_family: str, pam_dir: str
) -> None:
    """The family is chosen by the package manager the host installs with: an RPM-based UOS gets RedHat's PAM files
    and packages, an apt-based one Debian's with its own module paths."""
    done = _os_vars(tmp_path, facts)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    chosen = json.loads((tmp_path / "chosen.json").read_text(encoding="utf-8"))
    assert chosen["pam_family"] == pam_family
    assert pam_dir in chosen["pam_dirs"]
    assert ("libpam-pwquality" in chosen["packages"]) == (pam_family == "debian")


@pytest.mark.slow
def test_a_host_whose_package_manager_is_not_its_family_s_is_refused(tmp_path: Path) -> None:
    """A Debian-family host that installs with zypper: nothing the role knows; it stops before any change."""
    done = _os_vars(tmp_path, _facts("Foo", "1", "Debian", "zypper"))
    assert done.returncode != 0
    assert "installs with zypper, but the variables loaded are for apt" in done.stdout, done.stdout[-3000:]
    assert not (tmp_path / "chosen.json").exists()


def test_pam_validator_refuses_a_file_that_would_lock_people_out(tmp_path: Path) -> None:
    """The PAM `validate:` script rejects unknown modules, bad controls and unclosed brackets."""
    modules = tmp_path / "security"
    modules.mkdir()
    (modules / "pam_unix.so").write_bytes(b"")
    good = tmp_path / "good"
    good.write_text("auth\t[success=1 default=ignore]\tpam_unix.so\n-session optional pam_absent.so\n")
    bad = tmp_path / "bad"
    bad.write_text("auth required pam_typo.so\nauth [success=1 pam_unix.so\naccount maybe pam_unix.so\n")
    script = str(ROLE / "files" / "dizuo-pam-check")
    ok = subprocess.run(
        [sys.executable, script, "--module-dirs", str(modules), str(good)], check=False, capture_output=True, text=True
    )
    assert ok.returncode == 0, f"a valid PAM file was refused: {ok.stderr}"
    refused = subprocess.run(
        [sys.executable, script, "--module-dirs", str(modules), str(bad)], check=False, capture_output=True, text=True
    )
    assert refused.returncode == 1, "a PAM file naming a missing module was accepted"
    assert "pam_typo.so is not in" in refused.stderr
    assert "'[' without ']'" in refused.stderr
    assert "unknown control 'maybe'" in refused.stderr


def test_host_scripts_render_and_compile() -> None:
    """Each Python script the role templates onto hosts renders with the role's Debian values (every variable
    defined) and compiles: a brace pair in Python code is a Jinja expression, which only a host run would show."""
    import jinja2  # noqa: PLC0415 - Ansible's own template engine, a dependency of ansible-core

    values = {**_yaml(ROLE / "defaults" / "main.yml"), **_yaml(ROLE / "vars" / "Debian.yml")}  # type: ignore[dict-item]
    values["ansible_managed"] = "Ansible managed"
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)  # noqa: S701 - Python, not HTML
    environment.filters["to_json"] = json.dumps
    scripts = [p for p in sorted((ROLE / "templates").glob("*.j2")) if p.read_text().startswith("#!/usr/bin/python3")]
    assert scripts, "the role templates no Python script"
    for template in scripts:
        text = environment.from_string(template.read_text(encoding="utf-8")).render(values)
        compile(text, str(template), "exec")  # raises SyntaxError naming the template


def test_the_backup_job_prunes_only_its_own_archives(tmp_path: Path) -> None:
    """dizuo-backup, rendered as the role writes it and run here: it keeps the newest `backup_keep` archives of
    this host and leaves every other file of the folder alone (another job's archives are not its to delete)."""
    import jinja2  # noqa: PLC0415 - Ansible's own template engine, a dependency of ansible-core

    folder, source = tmp_path / "backups", tmp_path / "etc-copy"
    folder.mkdir()
    source.mkdir()
    (source / "settings.conf").write_text("x = 1\n")
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)  # noqa: S701 - shell
    environment.filters["quote"] = shlex.quote
    script = tmp_path / "dizuo-backup"
    script.write_text(
        environment.from_string((ROLE / "templates" / "dizuo-backup.j2").read_text(encoding="utf-8")).render(
            ansible_managed="test", baseline_backup_dir=str(folder), baseline_backup_keep=2,
            baseline_backup_all_paths=[str(source)],
        )
    )  # fmt: skip
    host = socket.gethostname().split(".")[0]
    others = [folder / "mysql-nightly.tar.gz", folder / "ledger-20260101.tar.gz"]
    ours = [folder / f"{host}-2026010{day}T000000Z.tar.gz" for day in (1, 2, 3)]
    for age, path in enumerate([*others, *ours]):
        path.write_bytes(b"")
        os.utime(path, (1_700_000_000 + age, 1_700_000_000 + age))
    done = subprocess.run(["sh", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    left = sorted(p.name for p in folder.iterdir())
    newest = sorted(p.name for p in folder.glob(f"{host}-*.tar.gz") if p not in ours)
    assert len(newest) == 1, left
    assert left == sorted([*(p.name for p in others), ours[-1].name, *newest])
