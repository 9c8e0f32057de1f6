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
before its first event names its pid. A run's timeout is this module's for the same reason.
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


def run_playbook(
    *, event_handler: Callable[[Event], bool] | None = None, timeout: float | None = None, **settings: Any
) -> Any:
    """``ansible_runner.run(event_handler=..., **settings)``, its Runner returned; a signal during the run stops
    ansible-playbook and its tasks, then reaches the handler it had before the run. A run longer than ``timeout``
    seconds is stopped the same way, and its Runner says so as ansible-runner's own timeout would (status "timeout",
    rc 254), which would leave the hung task running. The cancel callback is this function's: ``settings`` must not
    name one."""
    with held() as interrupted:
        deadline = None if timeout is None else time.monotonic() + timeout
        stop = _Stop(lambda: interrupted() or (deadline is not None and time.monotonic() > deadline))

        def noting_pid(event: Event) -> bool:
            if stop.playbook_pid is None and isinstance(event.get("pid"), int):
                stop.playbook_pid = event["pid"]  # ansible-playbook's: the process that sent the event
            return True if event_handler is None else event_handler(event)

        # Given a cancel callback, ansible-runner sets no signal handler (and off the main thread none is needed).
        runner = ansible_runner.run(cancel_callback=stop.cancel, event_handler=noting_pid, **settings)
        if stop.asked_at is not None and not interrupted():
            # Stopped for the time it took; ansible-playbook may have ended of the SIGTERM before ansible-runner's
            # cancel (its status then "failed", its rc none): said as ansible-runner says its own timeout.
            runner.status, runner.rc = "timeout", 254
        return runner


class _Stop:
    """The run's cancel callback (:meth:`cancel`): once ``wanted()``, SIGTERM to ansible-playbook; True
    (ansible-runner's SIGKILL) when no event has named its pid yet, or :data:`STOP_GRACE_S` after the SIGTERM."""

    def __init__(self, wanted: Callable[[], bool]) -> None:
        self.wanted = wanted
        self.playbook_pid: int | None = None
        self.asked_at: float | None = None

    def cancel(self) -> bool:
        if self.asked_at is None:
            if not self.wanted():
                return False
            self.asked_at = time.monotonic()
            if self.playbook_pid is None:
                return True
            try:
                os.kill(self.playbook_pid, signal.SIGTERM)
            except ProcessLookupError:
                return True
        return time.monotonic() - self.asked_at >= STOP_GRACE_S
