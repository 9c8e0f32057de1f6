"""Writing output files whole: readers (Prometheus, kubectl, a web server) see the old file or the new one.

Every file dizuo writes goes to a temporary name in the same directory and is renamed over the target.
Temporary files are created private (0600) by the standard library; they are given the mode a plain
``open(path, "w")`` would have (0666 less the umask) before the rename, so that, say, Prometheus running as
its own user can read a rule file root wrote. A folder of outputs (a build, a report) is written the same way:
into a staging directory beside it (``make_staging``), then swapped in whole (``swap_in``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def umask() -> int:
    """The process umask (reading it means setting it: set it straight back)."""
    current = os.umask(0o022)
    os.umask(current)
    return current


def plain_mode(*, directory: bool = False) -> int:
    """The mode ``open``/``mkdir`` would give a new file or directory under the current umask."""
    return (0o777 if directory else 0o666) & ~umask()


@contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary path next to ``path`` to write to; on success it replaces ``path``, else it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    partial = Path(name)
    try:
        yield partial
        partial.chmod(plain_mode())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole; return ``path``."""
    with atomic_path(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return path


def make_staging(out: Path) -> Path:
    """An empty directory beside ``out`` to build its next content in, for :func:`swap_in`.

    Beside it means on the same file system, so the swap is a rename. Its mode is the one ``mkdir`` would give
    (mkdtemp's 0700 would hide the output from the web server, CI or reviewer that reads it). Raises OSError.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(plain_mode(directory=True))
    return staging


def swap_in(staging: Path, out: Path) -> None:
    """Replace the directory ``out`` (if any) with ``staging`` as a whole: nothing of the old content stays, and
    a reader never sees a mix of the two (for an instant, neither)."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old)
    else:
        staging.rename(out)
