"""scipy's HiGHS solvers (``milp``, ``linprog``), run in a worker thread so that a long solve stays interruptible.

Python runs signal handlers in the main thread, between bytecodes: while the main thread itself sits in a HiGHS
call of minutes, Ctrl-C and SIGTERM (a cancelled CI job, ``timeout``) wait for the solve to end. HiGHS releases the
GIL, so the main thread can wait for the worker (:func:`dizuo.interrupt.interruptible`) and take the signal at once;
the command then ends through its ``finally`` blocks, and the abandoned solve ends with the process.
"""

from __future__ import annotations

from typing import Any

from scipy import optimize

from dizuo.interrupt import interruptible


def milp(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.milp`, interruptible."""
    return interruptible(lambda: optimize.milp(*args, **kwargs), "highs")


def stopped_by(result: Any) -> str | None:
    """The limit that ended a :func:`milp` before it could tell (optimum, or no plan): "work limit" (its node limit,
    the same on any machine) or "time limit" (machine-dependent); None when it finished on its own."""
    # HiGHS ends at its node limit with "Solution limit reached" (scipy knows no status of its own for it).
    message = str(result.message)
    if message.startswith("Time limit"):
        return "time limit"
    return "work limit" if "Solution limit" in message else None


def linprog(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.linprog`, interruptible."""
    return interruptible(lambda: optimize.linprog(*args, **kwargs), "highs")
