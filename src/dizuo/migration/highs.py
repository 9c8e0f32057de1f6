"""scipy's HiGHS solvers (``milp``, ``linprog``), run in a worker thread so that a long solve stays interruptible.

Python runs signal handlers in the main thread, between bytecodes: while the main thread itself sits in a HiGHS
call of minutes, Ctrl-C and SIGTERM (a cancelled CI job, ``timeout``) wait for the solve to end. HiGHS releases the
GIL, so the main thread can wait for the worker in short joins and take the signal at once; the command then ends
through its ``finally`` blocks, and the abandoned solve (a daemon thread) ends with the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from scipy import optimize

T = TypeVar("T")
# How often the waiting main thread wakes for a signal: quick to stop, nothing to measure on a solve of seconds.
WAKE_SECONDS = 0.1


def interruptible(call: Callable[[], T]) -> T:
    """``call()`` in a worker thread, its result or exception handed back; a signal reaches the caller meanwhile."""
    outcome: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:
            outcome.append((False, exc))

    worker = threading.Thread(target=work, name="highs", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(WAKE_SECONDS)
    done, value = outcome[0]
    if done:
        return value  # type: ignore[no-any-return]
    raise value


def milp(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.milp`, interruptible."""
    return interruptible(lambda: optimize.milp(*args, **kwargs))


def linprog(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.linprog`, interruptible."""
    return interruptible(lambda: optimize.linprog(*args, **kwargs))
