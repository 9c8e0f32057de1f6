"""The root command line: every domain's commands are reachable, and only the invoked domain is imported."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from ctrl_c import (
    AS_A_CALLER,
    AS_THE_CONSOLE_SCRIPT_CTRL_C_AGAIN_AT_THE_END,
    console_script,
    dizuo_exiting_at_import,
    dizuo_with_ctrl_c_at,
    dizuo_with_signal_at_import,
)
from dizuo.cli import COMMANDS, _usage_as_click, app
from dizuo.exit_codes import BAD_INPUT, FAILED


def test_commands_match_what_the_domains_register() -> None:
    for module_name in sorted(set(COMMANDS.values())):
        domain = typer.Typer()
        importlib.import_module(module_name).register(domain)
        names = {info.name or info.callback.__name__ for info in domain.registered_commands if info.callback}
        for group in domain.registered_groups:
            names.add(group.name or (group.typer_instance.info.name if group.typer_instance else None) or "")
        assert names == {name for name, module in COMMANDS.items() if module == module_name}, module_name


def test_help_lists_every_command_and_an_unknown_one_is_refused() -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["--help"])
    assert shown.exit_code == 0, shown.output
    for name in COMMANDS:
        assert f" {name} " in shown.output
    unknown = runner.invoke(app, ["nosuch"])
    assert unknown.exit_code == 2
    assert "No such command 'nosuch'" in unknown.output


def test_every_argument_is_shown_by_a_placeholder_in_capitals() -> None:
    """A usage line reads `dizuo migrate check-wave [OPTIONS] PLAN_DIR WAVE CITY_DIR`, as README writes arguments,
    never a Python parameter's name (`{plan_dir} {wave} {path}`: which path?)."""
    pending: list[tuple[str, Any]] = [("dizuo", typer.main.get_command(app))]
    lower: list[str] = []
    while pending:
        name, command = pending.pop()
        if hasattr(command, "list_commands"):  # a group (click's, or typer's vendored copy of it)
            ctx = command.context_class(command)
            pending += [(f"{name} {sub}", command.get_command(ctx, sub)) for sub in command.list_commands(ctx)]
        for param in command.params:
            # INSTANCE.json, USAGE.csv: a placeholder's name in capitals, then the file's suffix
            if param.param_type_name == "argument" and not re.fullmatch(r"[A-Z_]+(\.[a-z]+)?", param.metavar or ""):
                lower.append(f"{name}: {param.name}")
    assert lower == [], lower


def _every_command() -> list[tuple[list[str], Any]]:
    """Each command of the CLI (not a group) with its path of names: (["migrate", "city"], its command)."""
    pending: list[tuple[list[str], Any]] = [([], typer.main.get_command(app))]
    found = []
    while pending:
        path, command = pending.pop()
        if hasattr(command, "list_commands"):  # a group (click's, or typer's vendored copy of it)
            ctx = command.context_class(command)
            pending += [([*path, sub], command.get_command(ctx, sub)) for sub in command.list_commands(ctx)]
        else:
            found.append((path, command))
    return sorted(found, key=lambda found: found[0])


def test_a_usage_line_writes_its_arguments_as_readme_does() -> None:
    """`dizuo migrate city --help` says `Usage: dizuo migrate city [OPTIONS] CITY_DIR`, the argument as README and
    every other tool writes it, not `{CITY_DIR}` (typer's braces), in every command's help."""
    usages, wrong = [], []
    for path, command in _every_command():
        shown = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
        assert shown.exit_code == 0, (path, shown.output)
        usages.append(next(line.strip() for line in shown.output.splitlines() if "Usage:" in line))
        arguments = [param.metavar for param in command.params if param.param_type_name == "argument"]
        if usages[-1] != " ".join(["Usage:", "dizuo", *path, "[OPTIONS]", *arguments]):
            wrong.append(usages[-1])
    assert wrong == [], wrong
    assert "Usage: dizuo migrate city [OPTIONS] CITY_DIR" in usages


def _help_lines(path: list[str]) -> list[str]:
    """The lines of `dizuo <path> --help` on a terminal wide enough for every paragraph of help, box edges off."""
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "2000"})
    assert shown.exit_code == 0, (path, shown.output)
    return [" ".join(line.strip(" │").split()) for line in shown.output.splitlines()]


def test_help_breaks_lines_at_the_terminal_width_not_where_the_docstring_does() -> None:
    """Each paragraph of a command's help is one line on a wide terminal, in its own help and (its first paragraph) in
    its group's list of commands: the source's line breaks do not cut a sentence in two (`dizuo --help` showed
    `released` as lines ending `(a`, `dizuo`)."""
    broken: list[str] = []
    groups: dict[tuple[str, ...], list[str]] = {}  # a group's --help, rendered once for all its commands
    for path, command in _every_command():
        paragraphs = [" ".join(p.split()) for p in (command.help or "").split("\n\n") if p.strip()]
        own = _help_lines(path)
        listed = groups.get(tuple(path[:-1])) or groups.setdefault(tuple(path[:-1]), _help_lines(path[:-1]))
        broken += [f"{' '.join(['dizuo', *path])} --help: {p[:50]}" for p in paragraphs if not any(p in s for s in own)]
        entry = f"{path[-1]} {paragraphs[0]}" if paragraphs else path[-1]
        if not any(line.startswith(entry) for line in listed):
            broken.append(f"{' '.join(['dizuo', *path[:-1]])} --help, its {path[-1]}: {entry[:60]}")
    assert broken == [], broken


def test_a_flag_s_help_shows_no_type_as_if_it_took_a_value() -> None:
    """No help, of a command or of a group, shows a flag with a type (`--new-backend <bool>`, `--help <bool>`, as
    typer 0.2x does), which reads as an option taking a value: a flag's row is its name, then its help."""
    root = typer.main.get_command(app)
    every = _every_command()
    for path in sorted({tuple(path[:-1]) for path, _ in every}):  # the groups (the root too), as their help shows them
        command = root
        for name in path:
            command = command.get_command(command.context_class(command), name)
        every.append((list(path), command))
    typed = []
    for path, command in every:
        ctx = command.context_class(command)
        flags = [p.opts[-1] for p in command.get_params(ctx) if getattr(p, "is_flag", False)]
        lines = _help_lines(path)
        typed += [line for line in lines for flag in flags if line.startswith(f"{flag} <")]
    assert (
        _help_lines(["preview"]).count(
            "--new-backend The city's first deployment: a file:// backend without state is expected"
        )
        == 1
    )
    assert typed == [], typed


def test_an_optional_argument_and_one_of_any_number_are_written_as_click_writes_them() -> None:
    """No dizuo command has them yet: an optional argument is `[NAME]`, one taking any number `FILES...`."""
    domain = typer.Typer(add_completion=False)
    domain.callback()(lambda: None)

    @domain.command("show")
    def show(
        files: Annotated[list[Path], typer.Argument(metavar="FILES")],
        name: Annotated[str | None, typer.Argument(metavar="NAME")] = None,
    ) -> None:
        """A command of the test's."""

    _usage_as_click(domain)
    shown = CliRunner().invoke(domain, ["show", "--help"], terminal_width=200)
    assert "Usage: root show [OPTIONS] FILES... [NAME]" in shown.output, shown.output


def test_a_capacity_command_does_not_load_the_other_domains() -> None:
    # A fresh interpreter: this test process has long imported everything.
    heavy = ("pulumi", "pytest", "scipy.optimize", "ansible_runner", "dizuo.baseline", "dizuo.migration", "dizuo.synth")
    probe = (
        "import json, sys; from dizuo.cli import main\n"
        "sys.argv = ['dizuo', 'capacity', 'forecast', '--help']\n"
        "try:\n    main()\nexcept SystemExit as done:\n    code = done.code\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({heavy!r}))\n"
        "print(json.dumps({'code': code, 'loaded': loaded}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"code": 0, "loaded": []}, result


def test_exit_codes_follow_one_convention(tmp_path: Path) -> None:
    """dizuo.exit_codes: a declaration with a problem is `validate`'s answer (1) but bad input to every command that
    needs a valid one (2), like an --out that would lose data; the same files, one command each."""
    city = tmp_path / "yulin"
    shutil.copytree(Path(__file__).parents[1] / "inventories" / "yulin", city)
    runner = CliRunner()
    refused = runner.invoke(app, ["synth", str(city), "--out", str(city)])  # would replace the declaration
    assert refused.exit_code == BAD_INPUT, refused.output
    no_such_stack = runner.invoke(app, ["synth", str(city), "--out", str(tmp_path / "b"), "--stack", "nosuch"])
    assert no_such_stack.exit_code == BAD_INPUT, no_such_stack.output
    assert "Pulumi.nosuch.yaml: no such stack config: --stack nosuch" in no_such_stack.output
    nowhere = runner.invoke(app, ["validate", str(tmp_path / "nowhere")])
    assert nowhere.exit_code == BAD_INPUT, nowhere.output
    assert (city / "city.yaml").is_file()
    (city / "hosts.yaml").write_text("hosts: []\nmystery: 1\n", encoding="utf-8")
    validated = runner.invoke(app, ["validate", str(city)])
    assert validated.exit_code == FAILED, validated.output
    for command in (["synth", str(city), "--out", str(tmp_path / "build")], ["inventory", str(city)]):
        broken = runner.invoke(app, command)
        assert broken.exit_code == BAD_INPUT, (command, broken.output)
        assert "hosts.yaml: mystery: unknown key" in broken.output, broken.output


def test_validate_names_a_declaration_folder_with_square_brackets_as_it_is(tmp_path: Path) -> None:
    """`dizuo validate` of a declaration under a folder named `[x]` counts its problems in that folder, named whole:
    rich markup would read `[x]` as a tag and drop it, naming another folder."""
    city = tmp_path / "[x]" / "yulin"
    shutil.copytree(Path(__file__).parents[1] / "inventories" / "yulin", city)
    (city / "hosts.yaml").write_text("hosts: []\nmystery: 1\n", encoding="utf-8")
    validated = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "400"})
    assert validated.exit_code == FAILED, validated.output
    assert f"1 problem(s) in {city}\n" in validated.output, validated.output


def test_synth_outside_the_clone_says_where_it_looked_and_what_to_do(tmp_path: Path) -> None:
    """`dizuo synth CITY` run from a folder other than the clone (the README's commands assume the clone) finds no
    `stacks/` there: the error names the folder it looked in and says to run in the clone or pass --stacks."""
    dizuo = Path(sys.executable).with_name("dizuo")
    city = Path(__file__).parents[1] / "inventories" / "yulin"
    done = subprocess.run(
        [str(dizuo), "synth", str(city), "--out", str(tmp_path / "build")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert done.returncode == BAD_INPUT, done.stderr
    assert f"stacks: no stacks found in {tmp_path.resolve() / 'stacks'} " in done.stderr, done.stderr
    assert "run dizuo in the folder that holds stacks/ (the clone), or pass --stacks DIR" in done.stderr, done.stderr
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["schema", "city.yaml"],
        ["inventory", "inventories/yulin"],
        ["inventory", "inventories/yulin", "--list"],
        ["validate", "inventories/yulin"],
        ["baseline", "controls"],
        ["baseline", "controls", "--format", "json"],
        ["capacity", "rules", "--check"],
        ["migrate", "plan", "tests/migration/data/p-yulin-1.json", "--time-limit", "5"],
        ["--help"],
    ],
    ids=[
        "schema",
        "inventory",
        "inventory-list",
        "validate",
        "controls-table",
        "controls-json",
        "rules",
        "plan",
        "help",
    ],
)
@pytest.mark.parametrize(
    ("redirect", "reason"),
    [(">/dev/full", "No space left on device"), (">&-", "standard output is closed")],
    ids=["disk-full", "stdout-closed"],
)
def test_output_stdout_cannot_take_is_one_error_line_not_a_traceback(command: list[str], redirect: str, reason: str):
    """`dizuo inventory CITY > hosts.yml` on a full disk (or with stdout closed) says so in one line and exits 1: any
    command, whether it prints through rich (a table), print (JSON) or sys.stdout (a plan, after HiGHS ran)."""
    dizuo = Path(sys.executable).with_name("dizuo")
    done = subprocess.run(
        ["sh", "-c", f'exec "$0" "$@" {redirect}', str(dizuo), *command],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[1],
    )
    assert done.returncode == FAILED, done.stderr
    # What the command says on stderr along the way (the planner's progress) stays; its end is the one error line.
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1:] == [f"error: cannot write to standard output: {reason}"], done.stderr
    assert done.stderr.count("error:") == 1, done.stderr


ROOT = Path(__file__).parents[1]
YULIN = str(ROOT / "inventories" / "yulin")


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["harden", "-i", YULIN, "--limit", "nosuchhost"], "--limit: 'nosuchhost' matches no host or group"),
        (["audit", "-i", YULIN, "--report", "{tmp}/r", "--limit", "nosuchhost"], "--limit: 'nosuchhost' matches no"),
        (["harden", "-i", YULIN, "--controls", "DZ-NO-01"], "--controls: not host controls of the catalogue: DZ-NO-01"),
        (["validate", "{tmp}/nowhere"], "{tmp}/nowhere: not a directory holding a city declaration"),
        (
            ["validate", f"{YULIN}/hosts.yaml"],
            f"hosts.yaml: a declaration file, not its folder: give the folder, {YULIN}",
        ),
        (["validate", str(ROOT / "inventories")], f"give one of the declarations in it, {YULIN}"),
        (["schema", "nosuch.yaml"], "nosuch.yaml: not a declaration file"),
        (["inventory", YULIN, "--list", "--host", "x"], "give --list or --host NAME, not both"),
        (["synth", YULIN, "--out", "{tmp}/b", "--stack", "nosuch"], "Pulumi.nosuch.yaml: no such stack config"),
        (["capacity", "forecast", "{tmp}/usage.csv"], "{tmp}/usage.csv: cannot read"),
        (["capacity", "rules", "--config", "{tmp}/a.yaml", "--output", "{tmp}/o"], "--config {tmp}/a.yaml: no such"),
        (["migrate", "plan", "{tmp}/instance.json"], "{tmp}/instance.json: file is missing"),
    ],
    ids=[
        "harden-limit",
        "audit-limit",
        "harden-controls",
        "validate",
        "validate-a-file",
        "validate-the-cities-folder",
        "schema",
        "inventory",
        "synth",
        "forecast",
        "rules",
        "migrate",
    ],
)
def test_every_command_refuses_with_one_prefix(command: list[str], said: str, tmp_path: Path) -> None:
    """Every command's refusal is a line starting `error: ` (dizuo.refusal), so a person reads them alike and a script
    finds them with one pattern: `dizuo harden` printed `error --limit: ...` where `dizuo audit` printed `error:
    --limit: ...` for the same bad pattern."""
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in command]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == BAD_INPUT, result.output
    refusals = [line for line in result.stderr.splitlines() if line.lower().startswith("error")]
    assert refusals, result.stderr
    assert all(line.startswith("error: ") for line in refusals), refusals
    assert any(said.replace("{tmp}", str(tmp_path)) in line for line in refusals), refusals


@pytest.mark.parametrize(
    ("given", "code"),
    [(YULIN, 0), (f"{YULIN}/hosts.yaml", BAD_INPUT), (str(ROOT / "inventories"), BAD_INPUT)],
    ids=["a-declaration", "a-file", "the-cities"],
)
def test_validate_asks_once_whether_it_is_given_a_declarations_folder(
    given: str, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dizuo validate` asks once whether the path is a declaration's folder (validate asked, then load asked again),
    and still refuses a declaration file or the folder of the cities as bad input (exit 2, that one line), not as a
    declaration with one problem (exit 1)."""
    import dizuo.declaration.cli  # noqa: PLC0415 - patched here, imported once the test runs
    import dizuo.declaration.loader  # noqa: PLC0415

    asked: list[Path] = []
    looked = dizuo.declaration.loader.not_a_declaration

    def counted(root: Path) -> str | None:
        asked.append(Path(root))
        return looked(root)

    monkeypatch.setattr(dizuo.declaration.loader, "not_a_declaration", counted)
    monkeypatch.setattr(dizuo.declaration.cli, "not_a_declaration", counted, raising=False)  # where validate asked
    result = CliRunner().invoke(app, ["validate", given], env={"COLUMNS": "400"})
    assert result.exit_code == code, result.output
    assert asked == [Path(given)], asked
    if code == BAD_INPUT:
        assert [line for line in result.stderr.splitlines() if line] == [f"error: {given}: {looked(Path(given))}"]


@pytest.mark.parametrize(
    ("command", "said", "usage"),
    [
        (["synth"], "Missing argument 'CITY_DIR'.", "Usage: dizuo synth [OPTIONS]"),
        (["synth", YULIN, "--bogus"], "No such option: --bogus", "Usage: dizuo synth [OPTIONS]"),
        (["nosuch"], "No such command 'nosuch'.", "Usage: dizuo [OPTIONS] COMMAND"),
        (["--bogus"], "No such option: --bogus", "Usage: dizuo [OPTIONS] COMMAND"),
        (["capacity", "forecast"], "Missing argument 'USAGE.csv'.", "Usage: dizuo capacity forecast [OPTIONS]"),
        (
            ["migrate", "plan", "--time-limit", "soon", "instance.json"],
            "Invalid value for '--time-limit'",
            "Usage: dizuo migrate plan [OPTIONS]",
        ),
    ],
    ids=["missing-argument", "unknown-option", "unknown-command", "unknown-root-option", "domain", "bad-value"],
)
def test_a_usage_error_is_refused_with_the_one_prefix(command: list[str], said: str, usage: str) -> None:
    """What click refuses (a missing argument, an unknown option or command, a value it cannot read) is a refusal
    like every other: exit 2 and a first line starting `error: `, then the usage and where help is, where typer drew
    the usage above a boxed "Error" panel."""
    result = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
    assert result.exit_code == BAD_INPUT, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {said}"), lines
    assert lines[1].startswith(usage), lines
    assert lines[2] == f"Try '{lines[1].split(' [')[0].removeprefix('Usage: ')} --help' for help.", lines
    assert "╭" not in result.stderr, result.stderr


@pytest.mark.parametrize("mismatch", [None, "warning", "error"], ids=["default", "warning", "error"])
def test_ansible_imported_under_the_stdout_guard_has_nothing_to_warn_about(mismatch: str | None) -> None:
    """`dizuo harden --limit` (and `dizuo audit`) load Ansible in-process, whose display patches sys.stdout's buffer and
    reconfigures it: the guard has both, so the user sees no "[WARNING]: failed to patch stdout/stderr" lines. A
    part of the pattern that matches no host is dizuo's one error line, not Ansible's "[WARNING]: Could not match
    supplied host pattern, ignoring" before it, nor, where the city's ansible.cfg sets host_pattern_mismatch = error,
    Ansible's traceback instead of it."""
    dizuo = Path(sys.executable).with_name("dizuo")
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_HOST_PATTERN_MISMATCH"}
    if mismatch is not None:
        env["ANSIBLE_HOST_PATTERN_MISMATCH"] = mismatch
    done = subprocess.run(
        [str(dizuo), "harden", "--inventory", "inventories/yulin", "--limit", "nosuchhost"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[1],
        env=env,
    )
    assert done.returncode == BAD_INPUT, done.stderr
    assert done.stderr == "error: --limit: 'nosuchhost' matches no host or group of hosts.yaml\n", done.stderr


@pytest.mark.parametrize(
    ("redirect", "reason"),
    [(">/dev/full", "No space left on device"), (">&-", "standard output is closed")],
    ids=["disk-full", "stdout-closed"],
)
def test_bytes_stdout_cannot_take_fail_as_text_does(redirect: str, reason: str) -> None:
    """What a command writes to sys.stdout.buffer under the guard fails as its text would: StdoutError, one line."""
    program = (
        "import sys\nfrom dizuo.files import StdoutError, guarded_stdout\n"
        "try:\n    with guarded_stdout():\n        sys.stdout.buffer.write(b'{}\\n')\n"
        "except StdoutError as err:\n    print(err, file=sys.stderr)\n"
    )
    done = subprocess.run(
        ["sh", "-c", f'exec "$0" -c "$1" {redirect}', sys.executable, program],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"cannot write to standard output: {reason}\n", done.stderr


def test_output_reader_gone_ends_quietly() -> None:
    """`dizuo baseline controls --format json | head -1`: a reader that stops early is no error and no traceback."""
    dizuo = Path(sys.executable).with_name("dizuo")
    # The catalogue is about 100 KB, more than a pipe holds: the command is still writing when head exits.
    done = subprocess.run(
        ["sh", "-c", '"$0" baseline controls --format json | head -1', str(dizuo)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[1],
    )
    assert (done.stdout, done.stderr) == ("{\n", "")


def test_main_gives_back_the_stdout_it_was_given() -> None:
    """A program calling dizuo.cli.main (a script, a test) finds sys.stdout as it was once the command ends."""
    probe = (
        "import sys; from dizuo.cli import main\n"
        "given = sys.stdout\n"
        "sys.argv = ['dizuo', 'capacity', 'forecast', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('same' if sys.stdout is given else f'replaced by {type(sys.stdout).__name__}')"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "same", done.stdout


def test_help_interrupted_while_it_loads_the_commands_says_so_not_that_a_command_started() -> None:
    """`dizuo --help` loads every domain to list its commands: a Ctrl-C meanwhile says which it was loading and that
    nothing was done (no command started), exit 130, no traceback."""
    first = next(iter(COMMANDS))
    done = dizuo_with_ctrl_c_at("dizuo.cli:domain_commands", "--help")
    assert done.returncode == 130, done.stderr[-2000:]
    assert done.stderr.endswith(f"interrupted while loading dizuo {first}: nothing was done\n"), done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("started_by", ["console script", "python -m dizuo"])
def test_interrupted_while_the_cli_itself_loads_says_nothing_was_done(
    started_by: str, sent: signal.Signals, tmp_path: Path
) -> None:
    """Ctrl-C or SIGTERM while the CLI's own modules load (typer, rich: before any command is known) ends the run
    as one while a domain loads does: exit 130 or 143, one line saying nothing was done, no traceback."""
    dizuo = [console_script()]
    command = dizuo if started_by == "console script" else [sys.executable, "-m", "dizuo"]
    done = dizuo_with_signal_at_import("typer", [*command, "validate", YULIN], sent, tmp_path)
    assert (done.returncode, done.stderr) == (128 + sent, "interrupted while loading dizuo: nothing was done\n")
    assert done.stdout == ""


def test_a_program_calling_main_gets_an_interrupted_command_back_as_system_exit() -> None:
    """A program calling dizuo.cli.main() gets a command a signal ended as SystemExit(130), as from any typer app,
    and goes on; only the console script ends the process at once (dizuo.entry)."""
    done = dizuo_with_ctrl_c_at("dizuo.cli:domain_commands", "validate", "--help", caller=AS_A_CALLER)
    assert done.stderr.endswith("interrupted while loading dizuo validate: nothing was done\n"), done.stderr[-2000:]
    assert done.stdout.splitlines()[-1:] == ["the caller got SystemExit(130)"], (done.returncode, done.stderr[-2000:])


def test_a_second_ctrl_c_as_the_interrupted_command_ends_changes_nothing() -> None:
    """Ctrl-C pressed again while the console script ends an interrupted command (end_at_once) neither raises in its
    middle (a KeyboardInterrupt traceback, then Python's shutdown, which grpc's threads may abort) nor changes what
    was said: the first one's line and exit 130."""
    done = dizuo_with_ctrl_c_at(
        "dizuo.cli:domain_commands", "validate", "--help", caller=AS_THE_CONSOLE_SCRIPT_CTRL_C_AGAIN_AT_THE_END
    )
    assert (done.returncode, done.stderr) == (130, "interrupted while loading dizuo validate: nothing was done\n")


def test_ctrl_c_after_the_cli_loaded_but_before_it_runs_ends_the_run_at_once() -> None:
    """Ctrl-C once dizuo.cli is imported but before main() is in click's hands (no command started) ends the console
    script with exit 130, as any interrupted command, not in a KeyboardInterrupt traceback and Python's shutdown."""
    done = dizuo_with_ctrl_c_at("dizuo.cli:main", "validate", "--help")
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "")


def test_interrupted_while_loading_with_stderr_closed_writes_nothing_on_stdout(tmp_path: Path) -> None:
    """Started with stderr closed (2>&-), a Ctrl-C while the CLI loads says nothing rather than putting its line on
    stdout, which is the command's output."""
    dizuo = [console_script(), "validate", YULIN]
    done = dizuo_with_signal_at_import("typer", dizuo, signal.SIGINT, tmp_path, stderr_closed=True)
    assert (done.returncode, done.stdout) == (130, "")


def test_a_module_exiting_while_the_cli_loads_is_not_called_an_interruption(tmp_path: Path) -> None:
    """Only stop_cleanly_on_sigterm's SystemExit(143) while the CLI loads is a signal; any other exit (a module
    ending the process itself) goes on as it was, with its own status and no word of an interruption."""
    dizuo = [console_script(), "validate", YULIN]
    done = dizuo_exiting_at_import("typer", dizuo, 3, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (3, "", "")
