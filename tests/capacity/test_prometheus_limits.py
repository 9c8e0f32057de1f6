"""A Prometheus whose limits refuse a large read (`--query.max-samples`) is read in shorter spans, not given up on.

A fleet of thousands of volumes, or the year of RBD write counters the look further back reads, loads more samples
than Prometheus's default 50 million at once; the same answer comes in pieces.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest

from dizuo.capacity.prometheus_source import (
    PrometheusSource,
    QueryTooLargeError,
    SourceError,
    http_post_json,
)
from prometheus_server import MISSING, MISSING_REASON, backfill, openmetrics, serving

pytestmark = [pytest.mark.prometheus, pytest.mark.skipif(MISSING, reason=MISSING_REASON)]

STEP = 900
DAYS = 14
CLAIMS = 12
GIB = 2**30
QUERY = "max by (namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes)"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int, np.ndarray]:
    work = tmp_path_factory.mktemp("prometheus-limits")
    end = int(time.time()) // STEP * STEP - STEP
    stamps = np.arange(end - DAYS * 86400, end + 1, STEP)
    used = np.array([(10 + c) * GIB + (stamps - stamps[0]) * (c + 1) for c in range(CLAIMS)], dtype=np.float64)
    labels = [{"namespace": f"sys-{c:02d}", "persistentvolumeclaim": "data"} for c in range(CLAIMS)]
    tsdb = backfill(
        work, openmetrics(stamps, {"kubelet_volume_stats_used_bytes": list(zip(labels, used, strict=True))})
    )
    return work, tsdb, end, used


@pytest.fixture(scope="module")
def limited(history) -> Iterator[tuple[str, int, np.ndarray]]:
    """Prometheus holding 12 claims' 14 days (16,140 samples), allowed to load 6,000 at once."""
    work, tsdb, end, used = history
    with serving(work, tsdb, {"global": {}}, work / "prometheus.log", ["--query.max-samples=6000"]) as (_, url):
        yield url, end, used


class Counting:
    """http_post_json, counting the queries sent."""

    def __init__(self) -> None:
        self.sent = 0

    def __call__(self, url: str, form: Mapping[str, str], timeout: float, headers: Mapping[str, str]) -> object:
        self.sent += 1
        return http_post_json(url, form, timeout, headers)


def test_a_read_refused_as_too_large_is_read_in_shorter_spans(limited):
    """Two weeks of 12 claims are refused at once; the same points, every one, come back in pieces."""
    url, end, used = limited
    start = end - DAYS * 86400
    form = {"query": QUERY, "start": str(start), "end": str(end), "step": str(STEP)}
    with pytest.raises(QueryTooLargeError, match="too many samples"):
        http_post_json(f"{url}/api/v1/query_range", form, 30, {})

    counting = Counting()
    series = PrometheusSource(url, fetch=counting).query_range(QUERY, start, end, STEP)
    assert counting.sent > 1, "the refusal must have been met by asking again"
    read = {s.labels["namespace"]: s for s in series}
    assert sorted(read) == [f"sys-{c:02d}" for c in range(CLAIMS)]
    for c in range(CLAIMS):
        got = read[f"sys-{c:02d}"]
        assert got.timestamps.tolist() == list(range(start, end + 1, STEP)), f"sys-{c:02d}: a point lost or doubled"
        assert np.array_equal(got.values, used[c]), f"sys-{c:02d}: values differ from the history"


def test_a_single_step_too_large_is_an_error_after_few_queries(history):
    """Where not even one step fits, the read fails naming the limit, after one query per halving, not thousands."""
    work, tsdb, end, _used = history
    with serving(work, tsdb, {"global": {}}, work / "prometheus-tiny.log", ["--query.max-samples=5"]) as (_, url):
        counting = Counting()
        with pytest.raises(SourceError, match="too many samples"):
            PrometheusSource(url, fetch=counting).query_range(QUERY, end - DAYS * 86400, end, STEP)
    assert counting.sent <= 2 + int(np.log2(DAYS * 86400 / STEP)), counting.sent
