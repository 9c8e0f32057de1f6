"""A long HiGHS solve ends at once on SIGTERM (a cancelled CI job, `timeout`), through the command's finally blocks."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ctrl_c import dizuo_with_ctrl_c_at

YULIN = Path(__file__).resolve().parents[2] / "inventories" / "yulin"
# A knapsack-like MILP HiGHS does not close within its 300 s limit on two cores: the signal arrives mid-solve.
SOLVE = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint

    from dizuo.entry import stop_cleanly_on_sigterm
    from dizuo.migration.highs import milp

    stop_cleanly_on_sigterm()
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 20, (200, 400))
    try:
        print("solving", flush=True)
        milp(
            -rng.random(400),
            constraints=LinearConstraint(rows, -np.inf, rows.sum(1) * 0.3),
            integrality=np.ones(400),
            bounds=Bounds(0, 1),
            options={"time_limit": 300},
        )
    finally:
        Path(sys.argv[1]).write_text("cleaned up")
    """
)


def test_sigterm_during_a_solve_ends_the_command_through_its_finally_blocks(tmp_path: Path) -> None:
    """The signal is taken while HiGHS runs (it releases the GIL; the solve runs in a worker thread), not after it."""
    marker = tmp_path / "finally-ran"
    process = subprocess.Popen(
        [sys.executable, "-c", SOLVE, str(marker)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "solving", process.stderr.read() if process.stderr else ""
        time.sleep(2)  # into the solve, which has just begun
        process.send_signal(signal.SIGTERM)
        # Well inside the solve's own 300 s limit: the wait is a deadline for a hang, not a measurement.
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("SIGTERM waited for the solve to finish")
    finally:
        process.kill()
        process.wait()
    assert code == 128 + signal.SIGTERM
    assert marker.read_text() == "cleaned up"


def test_a_city_plan_interrupted_says_nothing_was_written_to_out(tmp_path: Path) -> None:
    """Ctrl-C while the city's plan is solved ends `dizuo migrate city` with 130 and a line saying that nothing was
    written to --out (the plan goes in only whole), which is so."""
    out = tmp_path / "plan"
    done = dizuo_with_ctrl_c_at("dizuo.migration.cli:_solve", "migrate", "city", str(YULIN), "--out", str(out))
    assert done.returncode in (130, -signal.SIGINT), done.stderr[-2000:]
    assert f"interrupted: nothing was written to {out}" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == [], "nothing, not even a staging folder, is left"


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_city_plan_interrupted_while_dizuo_starts_says_so(tmp_path: Path, sent: signal.Signals) -> None:
    """Ctrl-C or SIGTERM while `dizuo migrate` is loaded (the solver's and the forecast's imports take a second or
    two, before the command runs): exit 130 or 143 with a line saying nothing was done, not silently, and nothing at
    --out."""
    out = tmp_path / "plan"
    done = dizuo_with_ctrl_c_at(
        "dizuo.cli:domain_commands", "migrate", "city", str(YULIN), "--out", str(out), sent=sent
    )
    assert done.returncode == 128 + sent, done.stderr[-2000:]
    assert done.stderr.endswith("interrupted while loading dizuo migrate: nothing was done\n"), done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == [], "nothing is made"
