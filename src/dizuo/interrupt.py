"""Ctrl-C and SIGTERM end a command at once, through its ``finally`` blocks, and never halfway through a commit.

Python runs signal handlers in the main thread, between bytecodes. Work that keeps the main thread elsewhere for long
(a HiGHS solve in C, a Pulumi program pumping its own event loop, which swallows the KeyboardInterrupt raised inside
it and then waits for futures nobody will resolve) runs through :func:`interruptible`: in a worker thread, while the
main thread waits in short joins and takes the signal at once. The abandoned worker (a daemon thread) ends with the
process; it must therefore write nothing that the command's cleanup removes.

The other side is a commit (a build swapped in for the previous one): a signal in its middle would leave neither.
:func:`held` keeps the signals out of such a block and hands them to their handlers as it ends.

A handler's exception is raised wherever the main thread is, also inside a weakref callback or a ``__del__`` the
interpreter runs (a worker thread's object freed as :func:`interruptible` returns): there Python prints "Exception
ignored" and the Ctrl-C is lost, and the command would go on to commit. Under :func:`watching` (the CLI's whole run)
each such exception is noted as it is raised; one that was swallowed is raised again at the next checkpoint (each wait
of :func:`interruptible`, the start of :func:`held`) and not printed where it was swallowed.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
# How often the waiting main thread wakes for a signal: quick to stop, nothing to measure on work of seconds.
WAKE_SECONDS = 0.1
HELD = (signal.SIGINT, signal.SIGTERM)


# Under `watching`: the exceptions its signal handlers raised (to know them again), and those of them Python swallowed
# where they were raised (it hands each to sys.unraisablehook), to be raised again at the next checkpoint.
_raised: list[BaseException] = []
_lost: list[BaseException] = []
_watching: list[bool] = []  # one block at a time: nested ones are the outer one


def raise_lost() -> None:
    """A checkpoint: raise again a signal's exception that was swallowed where it was raised (see the module's doc)."""
    if _lost:
        lost = _lost[-1]
        _lost.clear()
        _raised.clear()
        raise lost


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
        raise_lost()
    # Freed here, not as this returns: a signal landing in the weakref callbacks this runs is caught just below.
    del worker
    raise_lost()
    done, value = outcome[0]
    if done:
        return value  # type: ignore[no-any-return]
    raise value


@contextmanager
def watching() -> Iterator[None]:
    """Within the block, a signal's exception swallowed where it was raised (a weakref callback, a ``__del__``) is
    raised again at the next checkpoint, and at the end of the block, instead of being printed and lost. Main thread
    only; nested blocks are one."""
    if threading.current_thread() is not threading.main_thread() or _watching:
        yield
        return

    def noting(handler: Callable[[int, FrameType | None], Any]) -> Callable[[int, FrameType | None], Any]:
        def on_signal(signum: int, frame: FrameType | None) -> Any:
            try:
                return handler(signum, frame)
            except BaseException as exc:
                _raised.append(exc)
                raise

        return on_signal

    def quiet(unraisable: Any) -> None:
        if any(unraisable.exc_value is r for r in _raised):
            _lost.append(unraisable.exc_value)  # not printed: raised again at the next checkpoint
        else:
            previous_hook(unraisable)  # anything else is printed as before

    handlers = {s: h for s in HELD if callable(h := signal.getsignal(s))}
    previous_hook = sys.unraisablehook
    restore: dict[signal.Signals, Any] = {}
    _watching.append(True)
    try:
        for number, handler in handlers.items():
            signal.signal(number, noting(handler))
            restore[number] = handler
        sys.unraisablehook = quiet
        yield
        raise_lost()
    finally:
        sys.unraisablehook = previous_hook
        for number, handler in restore.items():
            signal.signal(number, handler)
        _raised.clear()
        _lost.clear()
        _watching.clear()


@contextmanager
def held(on_signal: Callable[[int], None] | None = None) -> Iterator[Callable[[], bool]]:
    """Keep SIGINT and SIGTERM out of the block: one arriving meanwhile is noted, and handed to its own handler (which
    raises KeyboardInterrupt, SystemExit or ends the process) as the block ends. Yields a test of whether one has
    arrived, for the block to leave undone what must not happen after the signal. ``on_signal`` is called with each
    one as it arrives (to ask a child process to stop). Only the main thread runs Python's handlers; elsewhere nothing
    is held, and nothing interrupts the block either."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    raise_lost()  # a signal swallowed before the block ends the command here, not after its commit
    arrived: list[int] = []

    def note(signum: int, _frame: FrameType | None) -> None:
        arrived.append(signum)
        if on_signal is not None:
            on_signal(signum)

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
