"""ansible-runner in this process, with Ctrl-C and SIGTERM left as they were.

``ansible_runner.run`` given no ``cancel_callback`` sets SIGINT and SIGTERM handlers of its own (they only set an event
the run polls, to stop ansible-playbook) and never puts the previous ones back: after the run, in the same process (a
test session, a program embedding dizuo), Ctrl-C and SIGTERM would set an event nobody reads any more, and be ignored.
Every in-process run goes through :func:`run_playbook` instead: the signals are held for the run
(:func:`dizuo.interrupt.held`), one arriving stops ansible-playbook through the run's cancel callback, and as the run
ends the previous handlers are back and the signal is handed to its own (KeyboardInterrupt, the CLI's SystemExit 143).
"""

from __future__ import annotations

from typing import Any

import ansible_runner

from dizuo.interrupt import held


def run_playbook(**settings: Any) -> Any:
    """``ansible_runner.run(**settings)``, its Runner returned; a signal during the run cancels it, then reaches the
    handler it had before the run. The cancel callback is this function's: ``settings`` must not name one."""
    with held() as interrupted:
        # Given a cancel callback, ansible-runner sets no signal handler (and off the main thread none is needed).
        return ansible_runner.run(cancel_callback=interrupted, **settings)
