"""Audit speed on a real Debian 12 test host: dizuo's audit next to its anchor.

Usage (root, debootstrap + systemd-nspawn installed): python bench/baseline/run.py [--repeats N]

Boots one host from the cached tree (tests/hosts), then audits it untouched, every host control of
the catalogue: with one shared SSH connection per host (what `dizuo audit` does) and with testinfra's
default of one SSH connection per command (the anchor). Also reports the warm boot time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dizuo.baseline.audit import prepare_audit, run_audit

ROOT = Path(__file__).resolve().parents[2]
# The test host library lives with the tests; it is not part of the installed package.
sys.path.insert(0, str(ROOT / "tests"))
from hosts import booted_host, missing_tools, write_declaration  # noqa: E402
from hosts.nspawn import generate_key  # noqa: E402
from hosts.rootfs import ensure_rootfs_tarball  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    reasons = missing_tools()
    if reasons:
        console.print(f"skipped: cannot boot a test host here ({', '.join(reasons)})")
        return
    started = time.monotonic()
    ensure_rootfs_tarball()
    tree_s = time.monotonic() - started
    with tempfile.TemporaryDirectory(prefix="dizuo-bench-") as scratch:
        work = Path(scratch)
        started = time.monotonic()
        with booted_host("yl-bench-01", generate_key(work / "ssh")) as host:
            boot_s = time.monotonic() - started
            prepared = prepare_audit(write_declaration(work / "city", [host]))
            rows = []
            for label, reuse, repeats in (
                ("dizuo audit (shared SSH connection)", True, args.repeats),
                ("anchor: one SSH connection per command", False, 1),
            ):
                times = []
                for i in range(repeats):
                    started = time.monotonic()
                    run = run_audit(prepared, work / f"report-{reuse}-{i}", reuse_ssh=reuse)
                    times.append(time.monotonic() - started)
                rows.append((label, len(run.results), statistics.median(times), repeats))
    table = Table(title="Audit of one untouched Debian 12 host (all host controls)")
    for column in ("Run", "Controls", "Median s", "Repeats"):
        table.add_column(column)
    for label, controls, median, repeats in rows:
        table.add_row(label, str(controls), f"{median:.1f}", str(repeats))
    console.print(table)
    console.print(f"root filesystem ready in {tree_s:.1f} s (cached when < 5 s); warm boot to SSH {boot_s:.1f} s")


if __name__ == "__main__":
    main()
