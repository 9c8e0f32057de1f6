"""A real `dizuo` run that sends itself Ctrl-C (SIGINT) as one of its functions starts, as a terminal would send it
(or SIGTERM, as `kill` or a cancelled CI job would)."""

from __future__ import annotations

import signal
import subprocess
import sys

# Wraps MODULE.FUNCTION so that the process sends itself SIGNAL as it is called, then runs `dizuo ARGS...`.
CTRL_C_AS_IT_STARTS = """
import importlib, os, signal, sys

module, name, sent = importlib.import_module(sys.argv[1]), sys.argv[2], int(sys.argv[3])
called = getattr(module, name)

def ctrl_c_then_call(*args, **kwargs):
    os.kill(os.getpid(), sent)
    return called(*args, **kwargs)

setattr(module, name, ctrl_c_then_call)
sys.argv = ["dizuo", *sys.argv[4:]]
from dizuo.cli import main
main()
"""


def _ctrl_c_handled() -> None:
    """In the child, before it starts: SIGINT as a terminal's Ctrl-C finds it, not ignored as a background job of a
    non-interactive shell (a CI runner) would leave it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def dizuo_with_ctrl_c_at(
    function: str, *args: str, sent: signal.Signals = signal.SIGINT
) -> subprocess.CompletedProcess[str]:
    """Run `dizuo ARGS...`, Ctrl-C (or ``sent``) coming as ``function`` (``module:name``) is called."""
    module, name = function.split(":")
    return subprocess.run(
        [sys.executable, "-c", CTRL_C_AS_IT_STARTS, module, name, str(int(sent)), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=_ctrl_c_handled,
    )
