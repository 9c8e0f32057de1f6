"""Ctrl-C is never lost: a signal whose exception Python swallows where it lands (a weakref callback, a ``__del__``)
still ends the command at its next checkpoint, before any commit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A weakref callback in which the signal lands, as when a finished worker thread's object is freed: Python runs the
# handler there, its KeyboardInterrupt cannot leave the callback, and Python prints "Exception ignored" and goes on.
PREAMBLE = """
import signal, sys, time, weakref
from dizuo.interrupt import held, interruptible, watching

signal.signal(signal.SIGINT, signal.default_int_handler)


class Freed:
    pass


def ctrl_c_lands_in_a_weakref_callback():
    thing = Freed()
    ref = weakref.ref(thing, lambda _ref: signal.raise_signal(signal.SIGINT))
    del thing
    print("went on", flush=True)
"""


def run(body: str) -> subprocess.CompletedProcess[str]:
    script = PREAMBLE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("checkpoint", "body"),
    [
        ("a commit", "with held():\n    print('committed', flush=True)\n"),
        ("a worker's wait", "interruptible(lambda: time.sleep(0.5))\nprint('committed', flush=True)\n"),
        ("the end of the block", "pass\n"),
    ],
    ids=["commit", "worker-wait", "block-end"],
)
def test_a_ctrl_c_swallowed_where_it_landed_ends_the_command_at_the_next_checkpoint(checkpoint, body):
    """The swallowed KeyboardInterrupt is raised again at the next checkpoint (a commit's start, a worker's wait, the
    end of the watched block), before anything after it runs, and is not printed where it was swallowed."""
    result = run(
        "try:\n    with watching():\n        ctrl_c_lands_in_a_weakref_callback()\n"
        + textwrap.indent(body, " " * 8)
        + "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["went", "on", "interrupted"], f"{checkpoint}: {result.stdout!r}"
    assert "Exception ignored" not in result.stderr, result.stderr


def test_a_ctrl_c_that_reached_its_handler_s_caller_is_not_raised_again():
    """A KeyboardInterrupt that left where it landed (and was handled) is not raised a second time at a later
    checkpoint; other unraisable exceptions are still printed."""
    result = run(
        """
        def broken(_ref):
            raise ValueError("a callback's own error")

        with watching():
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                print("handled", flush=True)
            thing = Freed()
            ref = weakref.ref(thing, broken)
            del thing
            with held():
                print("committed", flush=True)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["handled", "committed"]
    assert "a callback's own error" in result.stderr
