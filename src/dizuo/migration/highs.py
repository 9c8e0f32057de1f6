"""scipy's HiGHS solvers (``milp``, ``linprog``), run in a worker thread so that a long solve stays interruptible.

Python runs signal handlers in the main thread, between bytecodes: while the main thread itself sits in a HiGHS
call of minutes, Ctrl-C and SIGTERM (a cancelled CI job, ``timeout``) wait for the solve to end. HiGHS releases the
GIL, so the main thread can wait for the worker (:func:`dizuo.interrupt.interruptible`) and take the signal at once;
the command then ends through its ``finally`` blocks, and the abandoned solve ends with the process.
"""

from __future__ import annotations

import re
from typing import Any

from scipy import optimize

from dizuo.interrupt import interruptible


def milp(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.milp`, interruptible."""
    return interruptible(lambda: optimize.milp(*args, **kwargs), "highs")


# HiGHS's model status codes (enum HighsModelStatus, src/lp_data/HConst.h; Highs::modelStatusToString names them
# "Time limit reached" and "Solution limit reached", the latter also for its node limit, mip_max_nodes).
TIME_LIMIT_STATUS = 13  # kTimeLimit
SOLUTION_LIMIT_STATUS = 16  # kSolutionLimit
LIMIT_OF_STATUS = {SOLUTION_LIMIT_STATUS: "work limit", TIME_LIMIT_STATUS: "time limit"}
# scipy's milp has no field for HiGHS's model status: its own status folds the node limit into 4 ("other") and the
# time limit into 1; only its message keeps HiGHS's code, "... (HiGHS Status 16: Solution limit reached)"
# (scipy.optimize._linprog_highs._highs_to_scipy_status_message, as read in scipy 1.17).
_MODEL_STATUS = re.compile(r"\(HiGHS Status (\d+): ")
_FINISHED = (0, 2, 3)  # scipy's optimal, infeasible, unbounded: HiGHS ended on its own, no limit to name


def model_status(result: Any) -> int | None:
    """HiGHS's model status code of a :func:`milp` result, read from scipy's message; None where the message carries
    none (a scipy that words it otherwise)."""
    found = _MODEL_STATUS.search(str(result.message))
    return int(found.group(1)) if found else None


def stopped_by(result: Any) -> str | None:
    """The limit that ended a :func:`milp` before it could tell (optimum, or no plan): "work limit" (its node limit,
    the same on any machine) or "time limit" (machine-dependent); None when it finished on its own (or ended for
    another reason, such as a numerical failure, which no limit explains)."""
    if result.status in _FINISHED:
        return None
    status = model_status(result)
    if status is None:
        # A scipy whose message names no model status: the plan is still made, and is said to depend on the machine
        # (the time limit's wording), the claim that promises least, rather than crashing after a long solve.
        return "time limit"
    return LIMIT_OF_STATUS.get(status)


def linprog(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.linprog`, interruptible."""
    return interruptible(lambda: optimize.linprog(*args, **kwargs), "highs")
