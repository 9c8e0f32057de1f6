"""Ctrl-C and SIGTERM end a command at once, through its ``finally`` blocks, and never halfway through a commit.

Python runs signal handlers in the main thread, between bytecodes. Work that keeps the main thread elsewhere for long
(a HiGHS solve in C, a Pulumi program pumping its own event loop, which swallows the KeyboardInterrupt raised inside
it and then waits for futures nobody will resolve) runs through :func:`interruptible`: in a worker thread, while the
main thread waits in short joins and takes the signal at once. The abandoned worker (a daemon thread) ends with the
process; it must therefore write nothing that the command's cleanup removes.

The other side is a commit (a build swapped in for the previous one): a signal in its middle would leave neither.
:func:`held` keeps the signals out of such a block and hands them to their handlers as it ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
# How often the waiting main thread wakes for a signal: quick to stop, nothing to measure on work of seconds.
WAKE_SECONDS = 0.1
HELD = (signal.SIGINT, signal.SIGTERM)


def interruptible(call: Callable[[], T], name: str = "interruptible") -> T:
    """``call()`` in a worker thread, its result or exception handed back; a signal reaches the caller meanwhile."""
    outcome: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:
            outcome.append((False, exc))

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(WAKE_SECONDS)
    done, value = outcome[0]
    if done:
        return value  # type: ignore[no-any-return]
    raise value


@contextmanager
def held() -> Iterator[Callable[[], bool]]:
    """Keep SIGINT and SIGTERM out of the block: one arriving meanwhile is noted, and handed to its own handler (which
    raises KeyboardInterrupt, SystemExit or ends the process) as the block ends. Yields a test of whether one has
    arrived, for the block to leave undone what must not happen after the signal. Only the main thread runs Python's
    handlers; elsewhere nothing is held, and nothing interrupts the block either."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    arrived: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        arrived.append(signum)

    # A handler not set from Python (None) could not be put back, and an ignored signal ends nothing: both stay as is.
    handlers = {s: h for s in HELD if (h := signal.getsignal(s)) not in (None, signal.SIG_IGN)}
    restore: dict[signal.Signals, Any] = {}
    try:
        for number, handler in handlers.items():
            signal.signal(number, note)  # a signal that came before runs its own handler here, before the block
            restore[number] = handler
        yield lambda: bool(arrived)
    finally:
        for number, handler in restore.items():
            signal.signal(number, handler)
        for signum in dict.fromkeys(arrived):
            signal.raise_signal(signum)  # its handler runs now, as it would have when the signal came
