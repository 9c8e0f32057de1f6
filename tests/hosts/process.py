"""Process and state-file helpers shared by the container and VM test hosts."""

from __future__ import annotations

import fcntl
import json
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hosts.nspawn import BootedHost


class HostError(RuntimeError):
    """A test host could not be booted; the message says which step and shows its log."""


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie is gone, only not yet reaped)."""
    if pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> str:
    """The process's command line, words joined by spaces ('' if gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def try_lock(path: Path) -> IO[str] | None:
    """The lock file at ``path``, open and exclusively locked (held until closed), or None if another session
    holds it. How parallel sessions share out addresses: whoever holds a slot's lock owns the slot."""
    lock = path.open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def write_state(path: Path, state: Any) -> None:
    """Record a booted host (a dataclass) atomically: a later session reads all of it or nothing."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(asdict(state)))
    partial.rename(path)


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a console log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console log)"


def wait_for_ssh(host: BootedHost, process: subprocess.Popen[bytes], *, timeout_s: float, what: str) -> None:
    """Until the admin logs in over SSH; HostError with the console's tail if ``process`` (the ``what``) exits
    first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HostError(
                f"{host.name}: {what} exited with {process.returncode} while booting:\n{tail(host.console_log)}"
            )
        done = subprocess.run(host.ssh_command("true"), capture_output=True, text=True, check=False, timeout=60)
        if done.returncode == 0:
            return
        last = done.stderr.strip()
        time.sleep(1)
    raise HostError(
        f"{host.name}: no SSH login as {host.user}@{host.address}:{host.port} within {timeout_s} s "
        f"(last error: {last}):\n{tail(host.console_log)}"
    )
