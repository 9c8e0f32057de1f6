"""`harden.run` through the real ansible-runner (connection local, a throwaway playbook) leaves Ctrl-C and SIGTERM to
the process that called it: during the run they stop ansible-playbook, after it they act as they did before."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml

from dizuo.baseline import harden
from dizuo.declaration import load
from hosts.process import cmdline

REPO = Path(__file__).resolve().parents[2]
YULIN = REPO / "inventories" / "yulin"
HELD = (signal.SIGINT, signal.SIGTERM)


class SignalledError(Exception):
    """What the test's own SIGINT and SIGTERM handlers raise."""


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise SignalledError(signal.Signals(signum).name)


@contextmanager
def _handlers(handler: Callable[[int, FrameType | None], Any]) -> Iterator[None]:
    """``handler`` for SIGINT and SIGTERM within the block, pytest's own again after it."""
    before = {number: signal.getsignal(number) for number in HELD}
    try:
        for number in HELD:
            signal.signal(number, handler)
        yield
    finally:
        for number, previous in before.items():
            signal.signal(number, previous)


def _playbook(tmp_path: Path, tasks: list[dict[str, Any]]) -> Path:
    playbook = tmp_path / "baseline.yml"
    play = {"hosts": "all", "connection": "local", "gather_facts": False, "tasks": tasks}
    playbook.write_text(yaml.safe_dump([play]), encoding="utf-8")
    return playbook


@pytest.fixture(autouse=True)
def _local_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_PYTHON_INTERPRETER", sys.executable)


def test_the_signal_handlers_after_a_run_are_those_before_it(tmp_path: Path) -> None:
    """After a run, SIGINT and SIGTERM reach the handlers the caller had set (ansible-runner's own, which only set an
    event nobody reads once the run is over, would leave Ctrl-C and SIGTERM ignored for the rest of the process)."""
    playbook = _playbook(tmp_path, [{"name": "Say", "ansible.builtin.debug": {"msg": "ran"}}])
    with _handlers(_interrupted):
        result = harden.run(load(YULIN), limit="yl-log-01", playbook=playbook)
        after = {signal.Signals(number).name: signal.getsignal(number) for number in HELD}
    assert result.ok, result
    assert after == {"SIGINT": _interrupted, "SIGTERM": _interrupted}, after


@pytest.mark.parametrize("signum", HELD, ids=[s.name for s in HELD])
def test_a_signal_during_a_run_stops_ansible_and_reaches_the_caller_s_handler(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """A Ctrl-C or SIGTERM arriving while ansible-playbook runs stops the playbook (its next task never runs) and is
    then handed to the handler the caller had, which ends the run with its exception, instead of being swallowed
    into a "canceled" result."""
    reached, done = tmp_path / "reached", tmp_path / "done"
    signal_the_caller = {"argv": ["kill", f"-{signum.name}", str(os.getpid())]}
    playbook = _playbook(
        tmp_path,
        [
            {"name": "Signal the caller", "ansible.builtin.command": signal_the_caller},
            # Until the test is over: a task left running by a stop that failed ends with the test.
            {"name": "Wait to be stopped", "ansible.builtin.wait_for": {"path": str(done), "timeout": 300}},
            {"name": "Never", "ansible.builtin.file": {"path": str(reached), "state": "touch"}},
        ],
    )
    try:
        with _handlers(_interrupted), pytest.raises(SignalledError, match=signum.name):
            harden.run(load(YULIN), limit="yl-log-01", playbook=playbook)
    finally:
        done.touch()
    assert not reached.exists(), "the playbook went on after the signal"


def _processes_with(marker: str) -> list[int]:
    """The processes whose command line holds ``marker`` (this test's own folder)."""
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and marker in cmdline(int(p.name))]


@contextmanager
def _left_running(marker: str) -> Iterator[list[int]]:
    """After the block: the processes holding ``marker`` still running once the run's stop has had its time (given
    in the yielded list), then killed: the test's own, whatever the outcome."""
    left: list[int] = []
    try:
        yield left
        deadline = time.monotonic() + 30  # a worker ends its task's processes as it takes SIGTERM: at once
        while (still := _processes_with(marker)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left.extend(still)
    finally:
        for pid in _processes_with(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_signal_during_a_run_stops_the_task_running_on_the_host(tmp_path: Path) -> None:
    """The task running when Ctrl-C came ends with the run: Ansible runs it in a worker of its own session, which a
    kill of ansible-playbook's process group (ansible-runner's own cancel) leaves running it to its end."""
    marker = str(tmp_path / "long-task")
    signal_then_wait = f"import os, signal, time; os.kill({os.getpid()}, signal.SIGINT); time.sleep(300)"
    long_task = {"argv": [sys.executable, "-c", signal_then_wait, marker]}
    playbook = _playbook(tmp_path, [{"name": "Run a long task", "ansible.builtin.command": long_task}])
    with _left_running(marker) as left, _handlers(_interrupted), pytest.raises(SignalledError):
        harden.run(load(YULIN), limit="yl-log-01", playbook=playbook)
    assert not left, f"the task running at the signal is still running: pids {left}"


def test_a_run_past_its_timeout_stops_its_hung_task_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run stopped for its timeout (a hung connection) says "timeout" and leaves no task running behind it: the
    task's worker, in a session of its own, outlived ansible-runner's own timeout kill."""
    marker = str(tmp_path / "hung-task")
    hung = {"argv": [sys.executable, "-c", "import time; time.sleep(300)", marker]}
    playbook = _playbook(tmp_path, [{"name": "Hang", "ansible.builtin.command": hung}])
    monkeypatch.setattr(harden, "RUN_TIMEOUT_S", 3)
    with _left_running(marker) as left:
        result = harden.run(load(YULIN), limit="yl-log-01", playbook=playbook)
    assert (result.status, result.ok) == ("timeout", False), result
    assert not left, f"the hung task is still running after the run's timeout: pids {left}"
