"""A real Prometheus for tests: history backfilled with promtool, the server on a free loopback port, stopped after.

Debian's `prometheus` package provides both binaries; tests that use this are marked `prometheus`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import yaml

from loopback import QuietHandler, serving_http

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
MISSING = PROMETHEUS is None or PROMTOOL is None
MISSING_REASON = "prometheus/promtool (Debian package prometheus) not installed"
# The marks of a test module that starts a real Prometheus.
REAL_PROMETHEUS = [pytest.mark.prometheus, pytest.mark.slow, pytest.mark.skipif(MISSING, reason=MISSING_REASON)]

# metric name -> [(labels, values)], all on one timestamp grid
Series = Mapping[str, Sequence[tuple[Mapping[str, str], npt.NDArray[np.float64]]]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URLs we built
        return bytes(response.read())


def wait_for(predicate: Callable[[], Any], what: str, logs: Sequence[Path], timeout: float = 90.0) -> Any:
    """Poll ``predicate`` until it is truthy; fail naming ``what`` with the tails of ``logs``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (urllib.error.URLError, OSError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process we started (by PID), SIGKILL if it does not exit in 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def openmetrics(ts: npt.NDArray[np.int64], series: Series) -> str:
    """OpenMetrics text of gauges sampled at ``ts`` (unix s), as promtool backfills it; a NaN value is no sample (the
    series did not exist yet), an infinite one is +Inf or -Inf."""
    lines = []
    for metric, volumes in series.items():
        lines.append(f"# TYPE {metric} gauge")
        for labels, values in volumes:
            shown = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines += [
                f"{metric}{{{shown}}} {f'{v:.0f}' if np.isfinite(v) else f'{v:+}'.title()} {t}"
                for t, v in zip(ts, values, strict=True)
                if not np.isnan(v)
            ]
    return "\n".join([*lines, "# EOF", ""])


def backfill(work: Path, text: str) -> Path:
    """A TSDB in ``work`` holding the OpenMetrics ``text``."""
    (work / "history.om").write_text(text)
    tsdb = work / "tsdb"
    # One block per 30 days instead of the default 2 h: 2 blocks instead of ~170, seconds faster.
    subprocess.run(
        [
            str(PROMTOOL),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=720h",
            "history.om",
            str(tsdb),
        ],
        cwd=work,
        check=True,
        capture_output=True,
    )
    return tsdb


@contextmanager
def serving(
    work: Path, tsdb: Path, config: Mapping[str, Any], log: Path, flags: Sequence[str] = ()
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Prometheus on a free 127.0.0.1 port over ``tsdb`` with ``config`` (prometheus.yml) and command-line ``flags``,
    ready; stopped after."""
    (work / "prometheus.yml").write_text(yaml.safe_dump(dict(config)))
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={tsdb}",
                # The default 15 d retention would start deleting the backfilled history.
                "--storage.tsdb.retention.time=60d",
                f"--web.listen-address=127.0.0.1:{port}",
                *flags,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{url}/-/ready"), "Prometheus to be ready", [log])
        yield process, url
    finally:
        stop(process)


@contextmanager
def answering_with(text: str) -> Iterator[str]:
    """A scrape target on a free 127.0.0.1 port answering every request with the Prometheus text ``text`` (empty: an
    answer with no metrics, as a standby ceph-mgr gives); its address, ``host:port``. Stopped after."""
    body = text.encode()

    class Handler(QuietHandler):
        def respond(self) -> None:
            self.answer(200, body, {"Content-Type": "text/plain; version=0.0.4"})

    with serving_http(Handler) as url:
        yield url.removeprefix("http://")


def quick_rules(work: Path, rules: Path) -> Path:
    """The rule file ``rules`` copied into ``work`` with every `for:` cut to 3 s, so a test need not wait 30 min to
    1 h; expressions, labels and annotations are exactly the committed ones."""
    document = yaml.safe_load(rules.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule["for"] = "3s"
    quick = work / rules.name
    quick.write_text(yaml.safe_dump(document))
    return quick


def start_exporter(
    root: Path, prometheus_url: str, listen: str, log: Path, *flags: str, declaration: Path | None = None
) -> subprocess.Popen[bytes]:
    """`dizuo capacity serve` of the real CLI, reading ``prometheus_url`` with Yulin's declaration (or
    ``declaration``) every 2 s and serving on ``listen``, its output in ``log``; stop it with :func:`stop`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from dizuo.cli import main; main()",
                "capacity",
                "serve",
                "--prometheus-url",
                prometheus_url,
                "--listen",
                listen,
                "--declaration",
                str(declaration or root / "inventories" / "yulin"),
                *flags,
                "--interval",
                "2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
