"""The root command line: every domain's commands are reachable, and only the invoked domain is imported."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import typer
from typer.testing import CliRunner

from dizuo.cli import COMMANDS, app


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
