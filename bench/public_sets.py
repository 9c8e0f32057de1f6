"""Where the benchmarks' public sets live, and a clear exit when they are not there.

The public sets (bench data, FORMAT.md of each benchmark) are not part of the repository: they sit in the shared
folder next to the clone, `../shared/bench/<benchmark>/`. `--bench-data DIR` or the environment variable
DIZUO_BENCH_DATA names another folder holding `capacity/` and `migration/`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = "DIZUO_BENCH_DATA"
# Exit code of a run given nothing to score: dizuo's "nothing ran because of what was given" (dizuo.exit_codes).
BAD_INPUT = 2


def default_root() -> Path:
    """DIZUO_BENCH_DATA, else the shared folder next to the clone."""
    return Path(os.environ.get(ENV) or ROOT.parent / "shared" / "bench")


def folder(bench_data: Path | None, benchmark: str) -> tuple[Path, str]:
    """One benchmark's public folder, and what chose it (for the message when something is missing)."""
    if bench_data is not None:
        return bench_data / benchmark, "--bench-data"
    return default_root() / benchmark, ENV if os.environ.get(ENV) else "the default"


def add_option(parser: argparse.ArgumentParser) -> None:
    """`--bench-data DIR`: the folder holding each benchmark's public set."""
    parser.add_argument(
        "--bench-data",
        type=Path,
        default=None,
        help=f"folder holding capacity/ and migration/ (default: ${ENV}, else ../shared/bench next to the clone: "
        f"{default_root()})",
    )


def require(paths: Iterable[tuple[str, Path]]) -> None:
    """Exit 2 unless every path exists, naming each missing one and what chose it: (chosen by, path) pairs."""
    missing = [(chosen_by, path) for chosen_by, path in paths if not path.exists()]
    if not missing:
        return
    lines = [f"error: {path}: not found (from {chosen_by})" for chosen_by, path in missing]
    lines.append(
        "The public benchmark sets are not in the repository: they are expected in ../shared/bench/ next to the "
        f"clone (here {ROOT.parent / 'shared' / 'bench'}), one folder per benchmark with its FORMAT.md. "
        f"Point --bench-data DIR or {ENV} at the folder that holds them, or name the files with the options above."
    )
    sys.stderr.write("\n".join(lines) + "\n")
    raise SystemExit(BAD_INPUT)


def locate(bench_data: Path | None, benchmark: str, files: Sequence[tuple[str, Path | None, str]]) -> list[Path]:
    """Each (option, value given, default name) as a path: the value given, else the default name in the
    benchmark's public folder. Exits 2, naming what is missing, unless all of them exist."""
    shared, chosen_by = folder(bench_data, benchmark)
    found = [(option, given) if given is not None else (chosen_by, shared / name) for option, given, name in files]
    require(found)
    return [path for _, path in found]
