"""Writing output files whole: readers (Prometheus, kubectl, a web server) see the old file or the new one.

Every file dizuo writes goes to a temporary name in the same directory and is renamed over the target.
Temporary files are created private (0600) by the standard library; they are given the mode a plain
``open(path, "w")`` would have (0666 less the umask) before the rename, so that, say, Prometheus running as
its own user can read a rule file root wrote. A folder of outputs (a build, a report) is written the same way:
into a staging directory beside it (``make_staging``), then swapped in whole (``swap_in``).
"""

from __future__ import annotations

import errno
import io
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TextIO

from dizuo.interrupt import held


def umask() -> int:
    """The process umask (reading it means setting it: set it straight back)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


def plain_mode(*, directory: bool = False) -> int:
    """The mode ``open``/``mkdir`` would give a new file or directory under the current umask."""
    return (0o777 if directory else 0o666) & ~umask()


@contextmanager
def _temporary_beside(path: Path, suffix: str = "") -> Iterator[Path]:
    """A new empty temporary file next to ``path`` (same directory, so a rename over ``path`` is atomic), removed on
    the way out unless it was renamed meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    partial = Path(name)
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: Path, suffix: str = "", mode: int | None = None) -> Iterator[Path]:
    """A temporary path next to ``path`` to write to; on success it replaces ``path`` with permission bits ``mode``
    (:func:`plain_mode` where None), else it is removed."""
    with _temporary_beside(path, suffix) as partial:
        yield partial
        _install(partial, path, mode)


def _install(partial: Path, path: Path, mode: int | None = None) -> None:
    """Give the written temporary file ``partial`` its permission bits ``mode`` (:func:`plain_mode` where None), then
    rename it over ``path``."""
    partial.chmod(plain_mode() if mode is None else mode)
    partial.replace(path)


def write_atomically(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole; return ``path``."""
    with atomic_path(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return path


def write_all_atomically(contents: Mapping[Path, str | bytes]) -> list[Path]:
    """Write each file of ``contents`` whole, all or none: every file is written to its temporary name first and
    renamed into place only once they all are, so a full disk or a failed write leaves every old file as it was
    (not some files of the new set beside the others of the old). Text is written as UTF-8. Returns the paths.

    A write refused raises an OSError whose ``filename`` is the file it was for. A rename refused (a file made
    immutable with `chattr +i` refuses it even to root) puts back the files renamed before it, each with the bytes and
    mode it had, and raises an OSError whose ``filename`` is the file refused: the old set stays whole there too. Its
    ``strerror`` says that no file was replaced, or names those that could not be put back.

    Ctrl-C and SIGTERM are held meanwhile (:func:`dizuo.interrupt.held`): one that comes while the files are written
    leaves the old ones (InterruptedError, if its handler did not end the command), one that comes during the renames
    is taken once they are all done."""
    with held() as interrupted, ExitStack() as stack:
        partials: dict[Path, Path] = {}
        for path, content in contents.items():
            try:
                partials[path] = partial = stack.enter_context(_temporary_beside(path))
                if isinstance(content, bytes):
                    partial.write_bytes(content)
                else:
                    partial.write_text(content, encoding="utf-8")
            except OSError as exc:  # named by the file it was to replace, not by its temporary name
                raise OSError(exc.errno, exc.strerror, str(path)) from exc
        if interrupted():
            raise InterruptedError(errno.EINTR, "interrupted before the files were replaced; they are as they were")
        _rename_all(partials)
    return list(contents)


def _rename_all(partials: Mapping[Path, Path]) -> None:
    """Rename each temporary file of ``partials`` (path: its temporary file) over its path, in order; when one rename
    is refused, put back the paths renamed before it as they were, then raise the refusal naming its path."""
    # What each path holds, to put back should a later rename be refused; read before any is replaced.
    kept = {path: _contents_and_mode(path) for path in partials}
    renamed: list[Path] = []
    for path, partial in partials.items():
        try:
            _install(partial, path)
        except OSError as exc:
            lost = [str(done) for done in reversed(renamed) if not _put_back(done, kept[done])]
            said = f"{', '.join(lost)} replaced already, and not put back" if lost else "no file was replaced"
            raise OSError(exc.errno, f"{exc.strerror} ({said})", str(path)) from exc
        renamed.append(path)


def _contents_and_mode(path: Path) -> tuple[bytes, int] | None:
    """The bytes and permission bits of the file at ``path``; None where there is none."""
    try:
        return path.read_bytes(), stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


def _put_back(path: Path, kept: tuple[bytes, int] | None) -> bool:
    """Make ``path`` what ``kept`` says it was (atomically), or remove it where it was not there; False where that
    fails too (a disk full since)."""
    try:
        if kept is None:
            path.unlink(missing_ok=True)
            return True
        data, mode = kept
        with atomic_path(path, mode=mode) as partial:
            partial.write_bytes(data)
    except OSError:
        return False
    return True


class StdoutError(Exception):
    """Standard output cannot take what a command writes (a full disk behind `>`, stdout closed): the CLI says so in
    one line and exits 1."""


@contextmanager
def _stdout_failure_reported() -> Iterator[None]:
    """A write to standard output failing (OSError) becomes StdoutError, stdout dropped; a reader gone (`| head -1`)
    stays the BrokenPipeError click ends quietly."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as err:
        _drop_stdout()
        raise StdoutError(f"cannot write to standard output: {err.strerror or err}") from None


class _GuardedBuffer(io.BufferedIOBase):
    """:class:`GuardedStdout`'s binary layer (``sys.stdout.buffer``): its writes and flushes fail as the text layer's
    do. One object for the command, so that what a library sets on it (Ansible's fork-safety lock) stays set."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        with _stdout_failure_reported():
            if self._stream is None:
                raise OSError(errno.EBADF, "standard output is closed")
            return int(self._stream.buffer.write(data))

    def flush(self) -> None:
        if self._stream is not None:
            with _stdout_failure_reported():
                self._stream.buffer.flush()


class GuardedStdout(io.TextIOBase):
    """Standard output for a whole command: print, rich and click write to it as to ``sys.stdout``, and a write or
    flush it cannot take raises StdoutError. With file descriptor 1 closed there is no stream (Python's stdout is
    None, and would swallow everything): the first write says so. It has the ``buffer`` and ``reconfigure`` of the
    stream it guards, as libraries expect of ``sys.stdout`` (Ansible, imported in-process by `dizuo harden` and
    `dizuo audit`, would otherwise warn on every run that it could not patch stdout)."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self._stream = stream
        # A stream without one (a test's StringIO capture) gives none, as it would unguarded.
        self._buffer = _GuardedBuffer(stream) if stream is None or hasattr(stream, "buffer") else None

    @property
    def buffer(self) -> io.BufferedIOBase:
        if self._buffer is None:
            raise AttributeError("buffer")
        return self._buffer

    def reconfigure(self, **options: Any) -> None:
        """The guarded stream's ``reconfigure`` (its errors handler, line buffering...); nothing without a stream."""
        if self._stream is not None and hasattr(self._stream, "reconfigure"):
            self._stream.reconfigure(**options)

    @property
    def encoding(self) -> str:  # type: ignore[override]  # TextIOBase declares it a plain attribute
        return self._stream.encoding if self._stream is not None else "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]  # as encoding
        return self._stream.errors if self._stream is not None else "strict"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def fileno(self) -> int:
        if self._stream is None:
            raise OSError(errno.EBADF, "standard output is closed")
        return self._stream.fileno()

    def write(self, text: str) -> int:
        with _stdout_failure_reported():
            return self._open().write(text)

    def require_open(self) -> None:
        """StdoutError now, as the first write would raise it, when there is no standard output (descriptor 1 closed:
        ``>&-``)."""
        with _stdout_failure_reported():
            self._open()

    def _open(self) -> TextIO:
        if self._stream is None:
            raise OSError(errno.EBADF, "standard output is closed")
        return self._stream

    def flush(self) -> None:
        if self._stream is not None:
            with _stdout_failure_reported():
                self._stream.flush()


@contextmanager
def guarded_stdout() -> Iterator[None]:
    """Run a command with :class:`GuardedStdout` as ``sys.stdout``, flushed as the command ends (a plain ``print``
    fails only then), so that whatever a command prints fails the same way: StdoutError."""
    if sys.stdout is None:
        _hold_closed_descriptor_1()
    original = sys.stdout
    guard = sys.stdout = GuardedStdout(original)
    try:
        yield
    finally:
        try:
            sys.stdout.flush()
        finally:
            if sys.stdout is guard:  # click puts its own wrapper over it when the reader went away: that one stays
                sys.stdout = original


def require_stdout() -> None:
    """For a command whose product is its standard output, before the work that makes it: StdoutError when there is
    no standard output (``>&-``), rather than after the work, at the first write. Only that can be told in advance: a
    write of nothing succeeds on a full disk (or /dev/full), and a test write would be part of the output; those are
    still found at the first real write. Outside :func:`guarded_stdout` (a test's CliRunner), nothing is checked."""
    if isinstance(sys.stdout, GuardedStdout):
        sys.stdout.require_open()


def _hold_closed_descriptor_1() -> None:
    """With file descriptor 1 closed, the next file the command opens would be given it, and what writes to
    descriptor 1 directly (HiGHS's C++ diagnostics, a child process) would land in that file; and moving it aside
    (the migration planner sends it to stderr while HiGHS runs) fails with EBADF. /dev/null holds its place; Python's
    stdout stays absent, so the first write still says standard output is closed."""
    try:
        os.fstat(1)
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        if devnull != 1:
            os.dup2(devnull, 1)
            os.close(devnull)


def _drop_stdout() -> None:
    """Point stdout at /dev/null: what its buffer still holds would fail again as Python exits, and be reported a
    second time, as an "Exception ignored" with its traceback."""
    try:
        fileno = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no stdout, or one that is not a file (a test's capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)


def make_staging(out: Path) -> Path:
    """An empty directory beside ``out`` to build its next content in, for :func:`swap_in`.

    Beside it means on the same file system, so the swap is a rename. Its mode is the one ``mkdir`` would give
    (mkdtemp's 0700 would hide the output from the web server, CI or reviewer that reads it). Raises OSError.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(plain_mode(directory=True))
    return staging


class ChangedWhileWritingError(Exception):
    """``out`` came to hold something its writer may not replace while the new content was made; it is as it was."""


def resolved_out(out: Path) -> Path:
    """Where ``out`` is, as the operating system resolves it: its parent's real path and its own name. `link/../x`
    is `x` beside the link's target, not beside the link (``os.path.abspath`` would drop `link/..` as text, and a
    check of one folder would be followed by a write over another). ``out`` itself stays unresolved: a symbolic
    link is its caller's to refuse."""
    if out.name in {"", ".", ".."}:
        return Path(os.path.realpath(out))
    return Path(os.path.realpath(out.parent)) / out.name


def is_mount_point(path: Path) -> bool:
    """Whether something is mounted on ``path``. ``os.path.ismount`` compares devices, so it misses a bind mount of
    the same file system (a folder of the disk mounted onto another, as containers and CI runners do); the kernel's
    table of this process's mounts names them all."""
    if os.path.ismount(path):
        return True
    try:
        table = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:  # not Linux: the device comparison is all there is
        return False
    real = os.path.realpath(path)
    # Field 5 is the mount point, with space, tab, newline and backslash written as octal escapes.
    unescape = re.compile(r"\\([0-7]{3})")
    return any(
        unescape.sub(lambda m: chr(int(m.group(1), 8)), fields[4]) == real
        for line in table.splitlines()
        if len(fields := line.split(" ")) > 4
    )


def output_place_problem(out: Path, what: str) -> str | None:
    """Why the folder ``out`` (as :func:`resolved_out` gives it) cannot be replaced whole by ``what`` (say "the
    report"), or None. What it may already hold is its writer's to judge; this is the place itself: not a symbolic
    link or a file, not under a file, not the working directory or one holding it (the shell standing in it would
    be left in a deleted folder), not a mount point (nothing can be renamed onto one), and writable where ``what``
    is made (beside ``out``) and swapped in."""
    return _unusable_place(out, what) or _unwritable_place(out, what)


def _unusable_place(out: Path, what: str) -> str | None:
    if out.is_symlink():
        return "is a symbolic link; name the directory itself"
    if out.exists() and not out.is_dir():
        return "exists and is not a directory; choose a new or empty directory"
    blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        return f"{blocking} is a file, not a directory"
    if Path.cwd().resolve().is_relative_to(out.resolve()):
        return f"is the working directory or holds it; {what} replaces its directory whole: name a new one"
    if out.is_dir() and is_mount_point(out):
        return f"is a mount point, which {what} cannot be renamed onto; name a new directory inside it"
    return None


def _unwritable_place(out: Path, what: str) -> str | None:
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        return "is not writable"
    existing = next(p for p in out.parents if p.exists())
    beside = f"{what} is written beside {out.name} and renamed into place"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable ({beside})"
    # Permissions do not say it all (root may write anywhere, yet not in /proc, an immutable folder, a full disk;
    # access(2) does see a read-only mount): a folder made where the first one would be, and removed at once
    # (signals held: none stays behind), does.
    try:
        with held():
            Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=existing)).rmdir()
    except OSError as err:
        return f"{existing} cannot take a new folder: {err.strerror} ({beside})"
    return None


def swap_in(staging: Path, out: Path, problem_with: Callable[[Path], str | None] | None = None) -> None:
    """Replace the directory ``out`` (if any) with ``staging`` as a whole: nothing of the old content stays, and
    a reader never sees a mix of the two (for an instant, neither).

    ``problem_with`` judges the old content once it is set aside (what the caller checked before it began may have
    changed since): on a problem it is put back and :class:`ChangedWhileWritingError` raised. Any failure puts the
    old content back. Removing the old content afterwards is best effort: a failure there is a warning.

    Ctrl-C and SIGTERM are held for the swap (:func:`dizuo.interrupt.held`) and taken as it ends: one that came before
    the new content was renamed into place leaves ``out`` as it was, one that came after finds the swap complete, the
    old content removed. Either way the signal's handler then ends the command (InterruptedError if it did not)."""
    with held() as interrupted:
        swapped = _swap(staging, out, problem_with, interrupted)
    if not swapped:
        raise InterruptedError(errno.EINTR, f"interrupted before {out.name} was replaced; it is as it was")


def _swap(
    staging: Path, out: Path, problem_with: Callable[[Path], str | None] | None, interrupted: Callable[[], bool]
) -> bool:
    """:func:`swap_in`'s work, with signals held; False when a signal came before the commit (``out`` as it was)."""
    if not out.exists():
        if interrupted():
            return False
        staging.rename(out)
        return True
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    out.rename(old)  # onto the empty directory mkdtemp made: a name no other run holds
    try:
        if problem_with is not None and (problem := problem_with(old)):
            raise ChangedWhileWritingError(problem)
        if interrupted():
            old.rename(out)
            return False
        staging.rename(out)  # the commit
    except BaseException:
        old.rename(out)
        raise
    try:
        shutil.rmtree(old)
    except OSError as exc:
        warnings.warn(f"the previous {out.name} could not be removed and is kept at {old}: {exc}", stacklevel=3)
    return True


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file or folder ``path`` is (device and inode), None when there is none."""
    try:
        found = path.stat(follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return found.st_dev, found.st_ino


def _holds_something(path: Path) -> bool:
    """Whether ``path`` is a file, or a folder with anything in it."""
    try:
        return not path.is_dir() or any(path.iterdir())
    except OSError:  # gone, or not readable: nothing to say was kept
        return False


@contextmanager
def interruption_said(
    out: Path, what: str, say: Callable[[str], None], *, files: Sequence[str] = (), plural: bool = False
) -> Iterator[None]:
    """A command writing ``what`` (say "build", or "reports" with ``plural``) to ``out`` says, when Ctrl-C or SIGTERM
    ends it within the block (KeyboardInterrupt, or the CLI's SystemExit 143), what became of ``out``, in one line
    handed to ``say`` before the exception goes on: 'interrupted: the previous build in OUT is left unchanged',
    'interrupted: nothing was written to OUT', or, for a signal that came after the commit, 'interrupted after the new
    build was in place: OUT holds it, complete'.

    Which one is true is read from ``out`` itself: its output goes in by renames (:func:`swap_in` and the like for a
    folder replaced whole; for ``files``, names inside ``out`` each renamed over by :func:`write_all_atomically`), and
    a rename keeps a file's or a folder's inode, so what is there is the same as before unless the new output got
    there. Neither writer leaves half of it: a signal is held until the commit is done or undone."""
    targets = [resolved_out(out) / name for name in files] if files else [resolved_out(out)]
    before = [_identity(target) for target in targets]
    held_before = any(_holds_something(target) for target, found in zip(targets, before, strict=True) if found)
    try:
        yield
    except (KeyboardInterrupt, SystemExit) as exc:
        if isinstance(exc, SystemExit) and exc.code != 128 + signal.SIGTERM:
            raise  # an exit of the command's own, not a signal
        if [_identity(target) for target in targets] != before:
            were, them = ("were", "them") if plural else ("was", "it")
            say(f"interrupted after the new {what} {were} in place: {out} holds {them}, complete")
        elif held_before:
            say(f"interrupted: the previous {what} in {out} {'are' if plural else 'is'} left unchanged")
        else:
            say(f"interrupted: nothing was written to {out}")
        raise
