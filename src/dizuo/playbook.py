"""ansible-runner in this process, with Ctrl-C and SIGTERM left as they were, and a stop that stops every task.

``ansible_runner.run`` given no ``cancel_callback`` sets SIGINT and SIGTERM handlers of its own (they only set an event
the run polls, to stop ansible-playbook) and never puts the previous ones back: after the run, in the same process (a
test session, a program embedding dizuo), Ctrl-C and SIGTERM would set an event nobody reads any more, and be ignored.
Every in-process run goes through :func:`run_playbook` instead: the signals are held for the run
(:func:`dizuo.interrupt.held`), one arriving stops ansible-playbook, and as the run ends the previous handlers are back
and the signal is handed to its own (KeyboardInterrupt, the CLI's SystemExit 143).

ansible-runner's own cancel SIGKILLs ansible-playbook's process group; but Ansible runs each task in a worker process
of its own session, out of that group, which goes on running the task on its host (a package upgrade, a reboot) after
the command has ended. So the stop is ansible-playbook's own: SIGTERM, which it passes to its workers, each ending its
task's processes. ansible-runner's cancel comes only if ansible-playbook is still there :data:`STOP_GRACE_S` later, or
before its first event names its pid.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import ansible_runner

from dizuo.interrupt import held

# Time for ansible-playbook to stop its workers after SIGTERM (each ends its task's processes at once) before
# ansible-runner kills it; ansible-runner looks at the cancel callback every few seconds (pexpect_timeout, 5 s).
STOP_GRACE_S = 10.0

Event = dict[str, Any]


def run_playbook(*, event_handler: Callable[[Event], bool] | None = None, **settings: Any) -> Any:
    """``ansible_runner.run(event_handler=..., **settings)``, its Runner returned; a signal during the run stops
    ansible-playbook and its tasks, then reaches the handler it had before the run. The cancel callback is this
    function's: ``settings`` must not name one."""
    playbook_pid: list[int] = []  # ansible-playbook's, from its events (their pid is the process that sent them)

    def noting_pid(event: Event) -> bool:
        if not playbook_pid and isinstance(event.get("pid"), int):
            playbook_pid.append(event["pid"])
        return True if event_handler is None else event_handler(event)

    with held() as interrupted:
        # Given a cancel callback, ansible-runner sets no signal handler (and off the main thread none is needed).
        cancel = _stopping(interrupted, playbook_pid)
        return ansible_runner.run(cancel_callback=cancel, event_handler=noting_pid, **settings)


def _stopping(interrupted: Callable[[], bool], playbook_pid: list[int]) -> Callable[[], bool]:
    """The run's cancel callback: once ``interrupted``, SIGTERM to ansible-playbook; True (ansible-runner's SIGKILL)
    when it has no pid to send it to, or :data:`STOP_GRACE_S` after it."""
    asked_at: list[float] = []

    def cancel() -> bool:
        if not interrupted():
            return False
        if not playbook_pid:
            return True
        if not asked_at:
            asked_at.append(time.monotonic())
            try:
                os.kill(playbook_pid[0], signal.SIGTERM)
            except ProcessLookupError:
                return True
        return time.monotonic() - asked_at[0] >= STOP_GRACE_S

    return cancel
