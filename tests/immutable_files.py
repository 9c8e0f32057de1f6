"""`immutable`: files that refuse writes even to root (`chattr +i`), as chmod cannot make them, for tests of a refused
write; every one is made mutable again at teardown."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """Make a file immutable with `chattr +i`; every one is made mutable again at teardown, whatever the test did.
    Skips where chattr is missing or refused (not root, or a filesystem without the flag)."""
    made: list[Path] = []

    def make(path: Path) -> None:
        if shutil.which("chattr") is None:
            pytest.skip("chattr (e2fsprogs) is not installed")
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"chattr +i refused here (not root, or a filesystem without the flag): {done.stderr.strip()}")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)
