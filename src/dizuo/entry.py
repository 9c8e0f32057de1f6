"""The `dizuo` console script and `python -m dizuo`: the process's own start, before and around the CLI.

Importing the CLI (typer, rich, dizuo's modules) takes a noticeable time, and a Ctrl-C or SIGTERM may come during it.
This module imports nothing but the standard library's signal handling until the signals end the run as dizuo's
commands end it: one line, exit 130 (143 for SIGTERM), nothing done; then it imports the CLI and runs it. It owns the
process, so a command a signal ended is ended here at once (:func:`end_at_once`), while :func:`dizuo.cli.main`, which a
program may call, raises SystemExit as typer's callers expect.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import NoReturn

# The exit statuses of a command a signal ended: typer's for Ctrl-C (KeyboardInterrupt), stop_cleanly_on_sigterm's.
INTERRUPTED = frozenset({128 + signal.SIGINT, 128 + signal.SIGTERM})


def stop_cleanly_on_sigterm() -> None:
    """Make SIGTERM (a CI job cancelled, `timeout`, systemd stopping a unit) end the command the way Ctrl-C does:
    by an exception, so that every ``finally`` runs and no staging folder or temporary file stays behind. Python's
    default ends the process at once. Exit status 143, as the signal's own would be."""

    def terminated(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, terminated)


def run() -> None:
    """Entry point of the `dizuo` console script and of `python -m dizuo`."""
    try:
        stop_cleanly_on_sigterm()
        from dizuo.cli import main  # noqa: PLC0415 - imported once a signal during it ends the run as a command's would
    except KeyboardInterrupt:
        _nothing_done(128 + signal.SIGINT)
    except SystemExit as ended:
        if ended.code != 128 + signal.SIGTERM:  # not stop_cleanly_on_sigterm's: a module's own exit, as it was
            raise
        _nothing_done(ended.code)
    try:
        main()
    except KeyboardInterrupt:  # after the import, before click's own handling (or after it): the command's end
        end_at_once(128 + signal.SIGINT)
    except SystemExit as ended:
        if isinstance(ended.code, int) and ended.code in INTERRUPTED:
            end_at_once(ended.code)
        raise


def _nothing_done(code: int) -> NoReturn:
    if sys.stderr is not None:  # started with stderr closed: nothing can be said, and stdout is the output's
        print("interrupted while loading dizuo: nothing was done", file=sys.stderr)
    end_at_once(code)


def end_at_once(code: int) -> NoReturn:
    """End an interrupted command, its cleanup done and said, without Python's shutdown: that stops the worker thread
    still running a Pulumi program (dizuo.interrupt.interruptible) inside grpc's C++, which aborts the process
    ("FATAL: exception not rethrown", exit -6) after the interruption was said. Whatever the command: limited to runs
    that left an interruptible worker behind, interrupted synths still aborted (2 of 20 under load), other grpc threads
    being stopped alike. Only the process's own entry (:func:`run`) does so; a program calling dizuo.cli.main() gets
    the SystemExit, and its own shutdown to answer for. A further Ctrl-C or SIGTERM from here on would raise in the
    middle (KeyboardInterrupt: a traceback and that shutdown), so both are blocked first: the exit status is this."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream: nothing more can be said on it
            stream.flush()
    os._exit(code)
