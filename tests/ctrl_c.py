"""A real `dizuo` run that sends itself Ctrl-C (SIGINT) as one of its functions starts, or as one of the modules it
loads is imported, as a terminal would send it (or SIGTERM, as `kill` or a cancelled CI job would)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest


def console_script() -> str:
    """The installed `dizuo` command, once it is known to start in dizuo.entry:run: an install made before it did
    (an editable one keeps its generated script) starts dizuo.cli:main, which never ends the process at once."""
    (script,) = entry_points(group="console_scripts", name="dizuo")
    if script.value != "dizuo.entry:run":
        pytest.fail(
            f"the installed dizuo command starts {script.value}, not dizuo.entry:run: reinstall: pip install -e ."
        )
    return str(Path(sys.executable).with_name("dizuo"))


# How the CTRL_C_AS_IT_STARTS child runs dizuo: as the console script and `python -m dizuo` do, or as a program
# calling dizuo.cli.main() would, which then says what it got back.
AS_THE_CONSOLE_SCRIPT = "from dizuo.entry import run\nrun()\n"
AS_A_CALLER = (
    "from dizuo.cli import main\n"
    "try:\n    main()\nexcept SystemExit as ended:\n    print(f'the caller got SystemExit({ended.code})')\n"
)
# As AS_THE_CONSOLE_SCRIPT, with a second Ctrl-C as the process ends itself (os._exit, in dizuo.entry.end_at_once):
# a person pressing it again while the interrupted command's last words are flushed.
AS_THE_CONSOLE_SCRIPT_CTRL_C_AGAIN_AT_THE_END = (
    "import os, signal\n"
    "exit_now = os._exit\n"
    "def ctrl_c_again_then_exit(code):\n"
    "    os.kill(os.getpid(), signal.SIGINT)\n"
    "    exit_now(code)\n"
    "os._exit = ctrl_c_again_then_exit\n" + AS_THE_CONSOLE_SCRIPT
)

# Wraps MODULE.FUNCTION so that the process sends itself SIGNAL as it is called, then runs `dizuo ARGS...` (the
# caller's lines are added at its end).
CTRL_C_AS_IT_STARTS = """
import importlib, os, signal, sys

module, name, sent = importlib.import_module(sys.argv[1]), sys.argv[2], int(sys.argv[3])
called = getattr(module, name)

def ctrl_c_then_call(*args, **kwargs):
    os.kill(os.getpid(), sent)
    return called(*args, **kwargs)

setattr(module, name, ctrl_c_then_call)
sys.argv = ["dizuo", *sys.argv[4:]]
"""

# A sitecustomize.py, which Python imports as it starts, before the script: it does HAPPENING (sends the process a
# signal, or exits) as MODULE is first looked for, so while the script's own imports run.
AT_IMPORT = """
import os, sys

class SignalAtImport:
    sent = False

    def find_spec(self, name, path=None, target=None):
        if name == {module!r} and not self.sent:
            self.sent = True
            {happening}
        return None  # the import goes on, if what happened lets it

sys.meta_path.insert(0, SignalAtImport())
"""


def _ctrl_c_handled() -> None:
    """In the child, before it starts: SIGINT as a terminal's Ctrl-C finds it, not ignored as a background job of a
    non-interactive shell (a CI runner) would leave it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def dizuo_with_ctrl_c_at(
    function: str, *args: str, sent: signal.Signals = signal.SIGINT, caller: str = AS_THE_CONSOLE_SCRIPT
) -> subprocess.CompletedProcess[str]:
    """Run `dizuo ARGS...`, Ctrl-C (or ``sent``) coming as ``function`` (``module:name``) is called."""
    module, name = function.split(":")
    return subprocess.run(
        [sys.executable, "-c", CTRL_C_AS_IT_STARTS + caller, module, name, str(int(sent)), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=_ctrl_c_handled,
    )


def dizuo_with_signal_at_import(
    module: str, command: list[str], sent: signal.Signals, site: Path, *, stderr_closed: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (dizuo as a person starts it), ``sent`` coming as ``module`` is first imported; ``site`` is an
    empty folder for the child's sitecustomize.py. ``stderr_closed``: started as with ``2>&-``."""
    return _run_at_import(module, f"os.kill(os.getpid(), {int(sent)})", command, site, stderr_closed=stderr_closed)


def dizuo_exiting_at_import(module: str, command: list[str], code: int, site: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as above, the import of ``module`` raising SystemExit(``code``) (a module ending the process
    itself)."""
    return _run_at_import(module, f"raise SystemExit({code})", command, site, stderr_closed=False)


def _stderr_closed() -> None:
    _ctrl_c_handled()
    os.close(2)


def _run_at_import(
    module: str, happening: str, command: list[str], site: Path, *, stderr_closed: bool
) -> subprocess.CompletedProcess[str]:
    (site / "sitecustomize.py").write_text(AT_IMPORT.format(module=module, happening=happening), encoding="utf-8")
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=_stderr_closed if stderr_closed else _ctrl_c_handled,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))},
    )
