"""The Prometheus source: range queries over HTTP, joins, declaration labels, config errors."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import dizuo
from declarations import with_cluster_renamed
from dizuo.capacity import prometheus_source
from dizuo.capacity.config_files import ConfigError
from dizuo.capacity.prometheus_source import (
    DEFAULT_CONFIG,
    Ownership,
    PrometheusSource,
    RangeSeries,
    Reporting,
    SourceError,
    VolumeIdentity,
    completed,
    http_post_json,
    join_series,
    load_config,
    parse_duration,
    query_text,
    relabelled,
)
from dizuo.capacity.types import UsageHistory
from dizuo.cli import app
from dizuo.declaration import load
from loopback import QuietHandler, serving_http
from promtool import assert_promtool_passes

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_717_200_000.0  # a multiple of 900: 2024-06-01 00:00 UTC
GIB = 2**30


def matrix(*series: tuple[dict[str, str], list[tuple[float, float]]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": m, "values": [[t, str(v)] for t, v in points]} for m, points in series],
        },
    }


class FakePrometheus:
    """A Prometheus on loopback answering /api/v1/query_range from a dict query -> (status, JSON answer), keeping each
    request's path, Authorization header and form in ``requests``."""

    def __init__(self, answers: dict[str, tuple[int, Any]]) -> None:
        self.answers = answers
        self.requests: list[dict[str, str]] = []
        self.url = ""
        self._serving = ExitStack()

    def __enter__(self) -> FakePrometheus:
        outer = self

        class Handler(QuietHandler):
            def respond(self) -> None:
                length = int(self.headers["Content-Length"])
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                outer.requests.append(
                    {"path": self.path, "authorization": self.headers.get("Authorization", ""), **form}
                )
                code, answer = outer.answers.get(form.get("query", ""), (200, matrix()))
                self.answer(code, json.dumps(answer).encode(), {"Content-Type": "application/json"})

        self.url = self._serving.enter_context(serving_http(Handler))
        return self

    def __exit__(self, *_exc: object) -> None:
        self._serving.close()


@pytest.fixture(scope="module")
def declaration():
    return load(ROOT / "inventories" / "yulin")


PVC = DEFAULT_CONFIG.selectors[0]
CEPH = DEFAULT_CONFIG.selectors[2]
BUCKET = DEFAULT_CONFIG.selectors[3]


def sent(expression: str) -> str:
    """A selector's expression as the history read sends it."""
    return query_text(expression, 900)


def grid(n: int, step: float = 900) -> list[float]:
    return [NOW - step * (n - 1 - i) for i in range(n)]


@pytest.fixture
def fleet() -> Iterator[FakePrometheus]:
    ts = grid(4)
    pvc_labels = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "data"}
    orphan = {"namespace": "nobody", "persistentvolumeclaim": "scratch"}
    answers = {
        sent(PVC.used): (
            200,
            matrix((pvc_labels, [(t, 10 * GIB + i) for i, t in enumerate(ts)]), (orphan, [(ts[0], 1)])),
        ),
        # Capacity misses the first sample: the join keeps only the timestamps both series have.
        sent(PVC.capacity): (200, matrix((pvc_labels, [(t, 50 * GIB) for t in ts[1:]]))),
        sent(CEPH.used): (200, matrix(({"pool_id": "3", "name": "phase1-ceph"}, [(t, 9e14) for t in ts]))),
        sent(CEPH.capacity): (200, matrix(({"pool_id": "3", "name": "phase1-ceph"}, [(t, 1e15) for t in ts]))),
        sent(BUCKET.used): (200, matrix(({"bucket": "bdc-da", "server": "m1"}, [(t, 3e11) for t in ts]))),
        sent(BUCKET.capacity): (200, matrix(({"bucket": "bdc-da", "server": "m1"}, [(t, 4e11) for t in ts]))),
    }
    with FakePrometheus(answers) as server:
        yield server


def test_pvc_in_a_system_namespace_gets_the_systems_department_and_pool(fleet, declaration):
    """A PVC in namespace <system code> is labelled with that system's department and storage pool."""
    histories = PrometheusSource(fleet.url, declaration=declaration, clock=lambda: NOW + 5).histories()
    by_series = {h.series: h for h in histories}
    pvc = by_series["pvc:sjj-tyrz/data"]
    assert pvc.labels == {
        "kind": "pvc",
        "volume": "sjj-tyrz/data",
        "pool": "xc-ceph",
        "department": "sjj",
        "system": "sjj-tyrz",
    }, f"labels of pvc:sjj-tyrz/data: {pvc.labels}"
    assert pvc.timestamps.tolist() == [int(t) for t in grid(4)[1:]], "only timestamps both series have are kept"
    assert pvc.used_bytes.tolist() == [10 * GIB + 1, 10 * GIB + 2, 10 * GIB + 3]
    assert (pvc.capacity_bytes == 50 * GIB).all()


def test_volume_without_capacity_is_not_forecast(fleet, declaration):
    """A used series with no capacity series cannot fill, so it yields no history."""
    series = {h.series for h in PrometheusSource(fleet.url, declaration=declaration, clock=lambda: NOW).histories()}
    assert "pvc:nobody/scratch" not in series, f"series read: {sorted(series)}"


def test_ceph_pool_and_bucket_are_mapped_through_the_declaration(fleet, declaration):
    """A Ceph pool keeps its name as pool; a bucket named after a dataset gets its owner and pool."""
    by_series = {
        h.series: h for h in PrometheusSource(fleet.url, declaration=declaration, clock=lambda: NOW).histories()
    }
    assert by_series["ceph_pool:phase1-ceph"].labels["pool"] == "phase1-ceph"
    bucket = by_series["bucket:bdc-da"].labels
    assert (bucket["department"], bucket["pool"]) == ("bdc", "datapool-s3"), f"labels of bucket:bdc-da: {bucket}"


def test_a_volume_whose_samples_stopped_is_left_out_and_said_so(caplog):
    """A PVC deleted two hours ago still comes back from a 28-day range query: it is not forecast (it would
    alert on a volume that is gone), and the log names it; a volume sampled until now is kept."""
    live = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "data"}
    deleted = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "old"}
    until_now, until_two_hours_ago = grid(8), [t - 7200 for t in grid(8)]
    answers = {
        sent(PVC.used): (
            200,
            matrix((live, [(t, GIB) for t in until_now]), (deleted, [(t, GIB) for t in until_two_hours_ago])),
        ),
        sent(PVC.capacity): (
            200,
            matrix((live, [(t, 9 * GIB) for t in until_now]), (deleted, [(t, 9 * GIB) for t in until_two_hours_ago])),
        ),
    }
    with FakePrometheus(answers) as server, caplog.at_level("WARNING", logger="dizuo.capacity.source"):
        series = [h.series for h in PrometheusSource(server.url, clock=lambda: NOW).histories()]
    assert series == ["pvc:sjj-tyrz/data"]
    assert "left out 1 volume(s) without a sample in the last 3600s" in caplog.text
    assert "pvc:sjj-tyrz/old" in caplog.text


@pytest.mark.parametrize("refused", [False, True])
def test_a_volume_whose_every_exporter_is_scraped_since_is_gone_not_left_out(caplog, refused):
    """Two claims ended two hours ago. One was reported by two kubelets (it moved), both `up` now: deleted, gone,
    neither forecast nor left out, said once at info. The other's kubelet is down: left out. Where Prometheus refuses
    the scraped_from query, both are left out, as before, and the log says why once."""
    ended = [t - 7200 for t in grid(8)]
    moved = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "tmp"}
    stuck = {"namespace": "gaj-01", "persistentvolumeclaim": "db"}
    at = ended[-1]

    def target(instance: str) -> dict[str, str]:
        return {"job": "kubelet", "instance": instance}

    answers = {
        sent(PVC.used): (200, matrix(*((c, [(t, GIB) for t in ended]) for c in (moved, stuck)))),
        sent(PVC.capacity): (200, matrix(*((c, [(t, 9 * GIB) for t in ended]) for c in (moved, stuck)))),
        # Only the targets up: 10.61.16.33 is down.
        "min by (job, instance) (up) == 1": (
            200,
            matrix((target("10.61.16.31:10250"), [(NOW, 1)]), (target("10.61.16.32:10250"), [(NOW, 1)])),
        ),
        sent(PVC.scraped_from or ""): (422, {"status": "error", "errorType": "execution", "error": "no"})
        if refused
        else (
            200,
            matrix(
                ({**moved, **target("10.61.16.31:10250")}, [(at, GIB)]),
                ({**moved, **target("10.61.16.32:10250")}, [(at, GIB)]),
                ({**stuck, **target("10.61.16.33:10250")}, [(at, GIB)]),
            ),
        ),
        # kube-state-metrics is up, listing the claims there are: neither of these.
        sent(PVC.listed or ""): (200, matrix(({"namespace": "sjj-tyrz", "persistentvolumeclaim": "data"}, [(NOW, 1)]))),
    }
    with FakePrometheus(answers) as server, caplog.at_level("INFO", logger="dizuo.capacity.source"):
        source = PrometheusSource(server.url, clock=lambda: NOW)
        first, second = source.read(), source.read()
    assert sorted(h.series for h in first.left_out) == (
        ["pvc:gaj-01/db", "pvc:sjj-tyrz/tmp"] if refused else ["pvc:gaj-01/db"]
    )
    assert [h.series for h in first.gone] == ([] if refused else ["pvc:sjj-tyrz/tmp"])
    assert first.histories == []
    assert [[h.series for h in r.left_out + r.gone] for r in (first, second)] == [
        [h.series for h in first.left_out + first.gone]
    ] * 2, "the second run reads the same"
    said = "pvc: which exporters are still scraped not read" if refused else "1 volume(s) gone"
    assert caplog.text.count(said) == 1, caplog.text
    asked_at = [r["start"] for r in server.requests if r["query"] == sent(PVC.scraped_from or "")]
    assert asked_at == ([f"{at:.3f}"] * 2 if refused else [f"{at:.3f}"]), "asked once per last sample while it answers"


@pytest.mark.parametrize(("listing", "gone"), [("lists it", False), ("lists another", True), ("is refused", False)])
def test_a_volume_still_listed_is_left_out_not_gone(caplog, listing, gone):
    """A claim its kubelet (up) stopped reporting is gone only where the listed query (kube-state-metrics' claims)
    answers without it: one it names exists, and one Prometheus refuses to list is not proof of a deletion, so both are
    left out; the refusal is said once."""
    ended = [t - 7200 for t in grid(8)]
    claim = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "archive"}
    kubelet = {"job": "kubelet", "instance": "10.61.16.31:10250"}
    listed: tuple[int, Any] = {
        "lists it": (200, matrix(({**claim, "cluster": "yl-gov"}, [(NOW, 1)]))),
        "lists another": (200, matrix(({"namespace": "sjj-tyrz", "persistentvolumeclaim": "data"}, [(NOW, 1)]))),
        "is refused": (422, {"status": "error", "errorType": "execution", "error": "no"}),
    }[listing]
    answers = {
        sent(PVC.used): (200, matrix((claim, [(t, GIB) for t in ended]))),
        sent(PVC.capacity): (200, matrix((claim, [(t, 9 * GIB) for t in ended]))),
        "min by (job, instance) (up) == 1": (200, matrix((kubelet, [(NOW, 1)]))),
        sent(PVC.scraped_from or ""): (200, matrix(({**claim, **kubelet}, [(ended[-1], GIB)]))),
        sent(PVC.listed or ""): listed,
    }
    with FakePrometheus(answers) as server, caplog.at_level("INFO", logger="dizuo.capacity.source"):
        source = PrometheusSource(server.url, clock=lambda: NOW)
        readings = [source.read(), source.read()]
    for reading in readings:
        assert [h.series for h in reading.gone] == (["pvc:sjj-tyrz/archive"] if gone else [])
        assert [h.series for h in reading.left_out] == ([] if gone else ["pvc:sjj-tyrz/archive"])
    refused = "pvc: which volumes still exist not read"
    assert caplog.text.count(refused) == (1 if listing == "is refused" else 0), caplog.text


@pytest.mark.parametrize("clusters", [True, False])
def test_a_claim_of_a_cluster_whose_lister_names_nothing_is_left_out_not_gone(caplog, clusters):
    """kube-state-metrics down lists no claim at all: a claim its kubelet (up) stopped reporting meanwhile is left
    out, not gone, since an empty listing proves no deletion. With the `cluster` label, this holds per cluster: in
    cluster yl-gov, whose kube-state-metrics lists its other claim, the unlisted claim is gone; in yl-dr, listing
    nothing, it is left out, and the log says why once. Without the label, one listing for all: none, left out."""
    ended = [t - 7200 for t in grid(8)]
    live = [(t, GIB) for t in grid(8)]
    kubelet = {"job": "kubelet", "instance": "10.61.16.31:10250"}
    gov, dr = ({"cluster": c} if clusters else {} for c in ("yl-gov", "yl-dr"))
    deleted = {**gov, "namespace": "sjj-tyrz", "persistentvolumeclaim": "old"}
    still_there = {**gov, "namespace": "sjj-tyrz", "persistentvolumeclaim": "data"}
    unlisted = {**dr, "namespace": "gaj-01", "persistentvolumeclaim": "db"}
    answers = {
        sent(PVC.used): (
            200,
            matrix((deleted, [(t, GIB) for t in ended]), (still_there, live), (unlisted, [(t, GIB) for t in ended])),
        ),
        sent(PVC.capacity): (
            200,
            matrix(
                (deleted, [(t, 9 * GIB) for t in ended]),
                (still_there, [(t, 9 * GIB) for t, _ in live]),
                (unlisted, [(t, 9 * GIB) for t in ended]),
            ),
        ),
        "min by (job, instance) (up) == 1": (200, matrix((kubelet, [(NOW, 1)]))),
        sent(PVC.scraped_from or ""): (
            200,
            matrix(({**deleted, **kubelet}, [(ended[-1], GIB)]), ({**unlisted, **kubelet}, [(ended[-1], GIB)])),
        ),
        # yl-gov's kube-state-metrics lists its live claim; yl-dr's is down. Without cluster labels, none answers.
        sent(PVC.listed or ""): (200, matrix((still_there, [(NOW, 1)])) if clusters else matrix()),
    }
    with FakePrometheus(answers) as server, caplog.at_level("INFO", logger="dizuo.capacity.source"):
        source = PrometheusSource(server.url, clock=lambda: NOW)
        readings = [source.read(), source.read()]
    for reading in readings:
        if clusters:
            assert [h.series for h in reading.gone] == ["pvc:yl-gov/sjj-tyrz/old"], "listed in its cluster: deleted"
            assert [h.series for h in reading.left_out] == ["pvc:yl-dr/gaj-01/db"], "its cluster lists nothing"
        else:
            assert reading.gone == [], "nothing listed: no claim is proven deleted"
            assert sorted(h.series for h in reading.left_out) == ["pvc:gaj-01/db", "pvc:sjj-tyrz/old"]
    said = "pvc: listed names no volume of cluster 'yl-dr'" if clusters else "pvc: listed names no volume at all"
    assert caplog.text.count(said) == 1, caplog.text


def test_a_pool_reporter_still_reports_while_its_cluster_does_whichever_manager_answers():
    """What reported a pool (a scraped_from series: cluster, job, instance) still reports where a reporting series
    (a cluster whose active manager answers) agrees with it on each of its own labels, a metric name aside: another
    instance of the same cluster, after a failover, does; another cluster, or another job's, does not."""
    reporting = Reporting(
        [{"cluster": "ceph"}, {"__name__": "ceph_health_status", "cluster": "job:ceph-old", "job": "ceph-old"}]
    )
    old_active = {"cluster": "ceph", "job": "ceph", "instance": "10.61.16.41:9283", "name": "rbd"}
    assert reporting(old_active), "its cluster reports, from another manager now"
    assert not reporting({**old_active, "cluster": "dr"}), "cluster dr does not report"
    unlabelled = {"cluster": "job:ceph-old", "job": "ceph-old", "instance": "10.61.16.51:9283", "name": "scratch"}
    assert reporting(unlabelled)
    assert not reporting({**unlabelled, "job": "ceph"}), "the same cluster name under another job is another cluster"


def test_queries_ask_for_the_lookback_on_a_step_aligned_grid(fleet):
    """Every query covers [now - lookback, now] rounded down to the step, at the configured step; which volumes exist,
    the last max_age."""
    PrometheusSource(fleet.url, clock=lambda: NOW + 700).histories()
    written, exists = (
        sum(getattr(s, key) is not None for s in DEFAULT_CONFIG.selectors) for key in ("written", "exists")
    )
    spans = asked_spans(fleet.requests, "900")
    assert len(spans) == 2 * len(DEFAULT_CONFIG.selectors) + written + exists, "used, capacity (and others)"
    existing = {query_text(s.exists, 900) for s in DEFAULT_CONFIG.selectors if s.exists}
    for query, span in spans.items():
        assert span == (NOW - (3600 if query in existing else 28 * 86400), NOW), f"span of {query!r}"


def test_a_long_span_is_read_in_slices_no_answer_much_larger_than_the_slice(monkeypatch):
    """A 28-day read of 50 volumes with a slice of 20,000 points is asked as its newest day, then older slices of
    about 20,000 points each (every answer parsed whole takes some 9 times its JSON in memory): no answer holds more,
    and the slices join into exactly the series the whole span holds, in time order. A span of under a day is one
    request."""
    # raising=False: code without the constant reads the whole span at once, and fails on the answers below.
    monkeypatch.setattr(prometheus_source, "SLICE_POINTS", 20_000, raising=False)
    start, end = NOW - 28 * 86400, NOW
    answered: list[int] = []

    def fetch(_url: str, form: Mapping[str, str], _timeout: float, _headers: Mapping[str, str]) -> object:
        lo, hi, step = float(form["start"]), float(form["end"]), float(form["step"])
        stamps = np.arange(lo, hi + 1, step)
        answer = matrix(*(({"volume": f"v{i}"}, [(t, i * t) for t in stamps]) for i in range(50)))
        answered.append(50 * stamps.size)
        return answer

    source = PrometheusSource("http://127.0.0.1:9", fetch=fetch, clock=lambda: NOW)
    series = source.query_range("used", start, end, 900)
    assert max(answered) <= 20_000, f"points per answer: {answered}"
    assert answered[0] == 50 * 96, "the newest day comes first"
    whole = np.arange(start, end + 1, 900)
    assert sorted(s.labels["volume"] for s in series) == sorted(f"v{i}" for i in range(50))
    for one in series:
        i = int(one.labels["volume"][1:])
        assert np.array_equal(one.timestamps, whole.astype(np.int64)), f"timestamps of {one.labels}"
        assert np.array_equal(one.values, i * whole), f"values of {one.labels}"
    answered.clear()
    source.query_range("used", end - 95 * 900, end, 900)
    assert answered == [50 * 96], "under a day: one request"


def asked_spans(requests: list[dict[str, str]], step: str) -> dict[str, tuple[float, float]]:
    """The span each query was asked over, from the slices it was asked in: each slice starts one step after the one
    before ends (no gap, no overlap), at ``step``."""
    slices: dict[str, list[tuple[float, float]]] = {}
    for request in requests:
        assert request["path"] == "/api/v1/query_range"
        assert request["step"] == step, f"step of {request['query']!r}"
        slices.setdefault(request["query"], []).append((float(request["start"]), float(request["end"])))
    for query, spans in slices.items():
        spans.sort()
        assert all(b[0] == a[1] + float(step) for a, b in pairwise(spans)), f"slices of {query!r}: {spans}"
    return {query: (spans[0][0], spans[-1][1]) for query, spans in slices.items()}


def test_a_dataset_s_older_past_is_asked_of_the_selectors_that_name_datasets_only(declaration):
    """write_histories asks each selector with an owner label, filtered to the datasets' volumes, over write_lookback
    at write_step; the answer keeps the volumes of the datasets asked for."""
    ts = grid(3, 3600)
    bucket = {"bucket": "yl-dp-bdc-da", "dizuo_keep": "1"}
    codes = Ownership.from_declaration(declaration).dataset_codes(["bdc-da", "ss-dj"])
    assert codes == {"bdc-da", "yl-dp-bdc-da", "ss-dj", "yl-dp-ss-dj", "dp-bdc", "dp-sw"}
    answers = {
        query_text(BUCKET.used, 3600, "bucket", codes): (200, matrix((bucket, [(t, 3e11) for t in ts]))),
        query_text(BUCKET.capacity, 3600, "bucket", codes): (200, matrix((bucket, [(t, 4e11) for t in ts]))),
    }
    with FakePrometheus(answers) as server:
        source = PrometheusSource(server.url, declaration=declaration, clock=lambda: NOW + 3000)
        (older,) = source.write_histories(["bdc-da", "ss-dj"])
    assert (older.series, older.labels["dataset"]) == ("bucket:yl-dp-bdc-da", "bdc-da")
    asked = {r["query"] for r in server.requests}
    assert len(asked) == 6, "used, capacity and bytes written of claims and of buckets"
    # The owners' matcher goes right after each metric name: Prometheus loads those volumes only.
    matcher = "{bucket=~`" + "|".join(re.escape(c) for c in sorted(codes)) + "`}"
    for bucket_usage in ("minio_bucket_usage_total_bytes", "minio_cluster_usage_buckets_total_bytes"):  # v2, v3
        assert bucket_usage + matcher in " ".join(asked), bucket_usage
    assert (
        "max by (cluster, namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes"
        + matcher.replace("bucket", "namespace")
        + ")"
        in asked
    )
    assert "increase(minio_bucket_traffic_received_bytes" + matcher + "[7200s])" in " ".join(asked), "$range: 2 steps"
    assert "kube_persistentvolumeclaim_info" + matcher.replace("bucket", "namespace") in " ".join(asked)
    assert set(asked_spans(server.requests, "3600").values()) == {(NOW - 365 * 86400, NOW)}, "aligned to the hour"
    assert PrometheusSource(server.url, declaration=declaration).write_histories(["no-such"]) == []


def test_a_failing_bytes_written_read_leaves_the_volumes_read_by_growth(caplog: pytest.LogCaptureFixture) -> None:
    """The claims' bytes written join three exporters: when Prometheus refuses that query (too many samples), the
    claims are still read, without bytes written (growth alone dates their writes), warned of once, not every run."""
    claim = {"namespace": "dp-scjg", "persistentvolumeclaim": "fr-jcxx"}
    ts = grid(3)
    refused = {"status": "error", "errorType": "execution", "error": "query processing would load too many samples"}
    answers = {
        sent(PVC.used): (200, matrix((claim, [(t, 3e10) for t in ts]))),
        sent(PVC.capacity): (200, matrix((claim, [(t, 4e10) for t in ts]))),
        sent(PVC.written or ""): (422, refused),
    }
    with FakePrometheus(answers) as server, caplog.at_level("WARNING"):
        source = PrometheusSource(server.url, clock=lambda: NOW)
        for _run in range(2):
            (history,) = source.histories()
            assert history.series == "pvc:dp-scjg/fr-jcxx"
            assert history.written_bytes is None
    warned = [r.getMessage() for r in caplog.records if "bytes written not read" in r.getMessage()]
    assert len(warned) == 1, warned
    assert "too many samples" in warned[0]


def test_prometheus_error_names_the_query():
    """A 400 from Prometheus becomes a SourceError with the URL, the query and Prometheus' own reason."""
    bad = {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}
    with FakePrometheus({sent(PVC.used): (400, bad)}) as server, pytest.raises(SourceError) as caught:
        PrometheusSource(server.url, clock=lambda: NOW).histories()
    message = str(caught.value)
    for part in ("query_range", sent(PVC.used), "parse error at char 5"):
        assert part in message, message


def test_a_selector_prometheus_refuses_is_named_while_the_others_read(fleet):
    """Prometheus refusing one selector's query (a join gone many-to-many) fails that kind of storage only: the read
    names it in ``failed`` and returns the other kinds' volumes; a one-off read (`histories()`, for report and plan)
    fails, naming the kind and the query."""
    refused = {"status": "error", "errorType": "execution", "error": "found duplicate series for the match group"}
    fleet.answers[sent(CEPH.used)] = (422, refused)
    source = PrometheusSource(fleet.url, DEFAULT_CONFIG, clock=lambda: NOW)
    reading = source.read()
    assert {h.labels["kind"] for h in reading.histories} == {"pvc", "bucket"}
    assert reading.kinds == ("pvc", "filesystem", "ceph_pool", "bucket")
    assert list(reading.failed) == ["ceph_pool"]
    assert "found duplicate series" in reading.failed["ceph_pool"]
    with pytest.raises(SourceError, match=r"^ceph_pool: .*query_range query .*found duplicate series"):
        source.histories()


def test_a_prometheus_that_does_not_answer_stops_the_read_at_the_first_query():
    """No connection is no selector's fault: the read fails at once, not after trying each selector in turn (a
    Prometheus that hangs would cost every selector its timeout)."""
    with FakePrometheus({}) as server:
        url = server.url
    asked: list[str] = []

    def refused(endpoint, form, timeout, headers):
        asked.append(form["query"])
        return http_post_json(endpoint, form, timeout, headers)

    with pytest.raises(SourceError, match="cannot connect"):
        PrometheusSource(url, clock=lambda: NOW, fetch=refused).read()
    assert asked == [sent(PVC.used)]


def success(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (success({"resultType": "matrix", "result": [{"metric": {}, "values": [[NOW, "1"], [1, "abc"]]}]}), "abc"),
        (success({"resultType": "matrix", "result": None}), "result is 'null'"),
        (success({"resultType": "matrix", "result": ["x"]}), "'x'"),
        (success({"resultType": "matrix", "result": [{"metric": {}, "values": [[NOW]]}]}), "pairs"),
        (success({"resultType": "matrix", "result": [{"metric": {}}]}), "values"),
        (success("x"), "data is 'x'"),
    ],
)
def test_a_malformed_success_answer_is_a_source_error_naming_the_query(tmp_path, answer, why):
    """An answer that says success but is not a matrix of [timestamp, "value"] pairs is a SourceError naming the
    endpoint, the query and what is wrong; `dizuo capacity report` exits 1 with it, never a traceback."""
    with FakePrometheus({sent(PVC.used): (200, answer)}) as server:
        with pytest.raises(SourceError) as caught:
            PrometheusSource(server.url, clock=lambda: NOW).histories()
        args = ["capacity", "report", "--prometheus-url", server.url, "--out", str(tmp_path / "report")]
        result = CliRunner().invoke(app, args)
    message = str(caught.value)
    for part in (f"{server.url}/api/v1/query_range", sent(PVC.used), "malformed answer: ", why):
        assert part in message, message
    assert result.exit_code == 1, result.output
    assert "malformed answer" in " ".join(result.output.split()), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_unreachable_prometheus_is_a_source_error():
    """A refused connection is a SourceError saying so, not a traceback."""
    with FakePrometheus({}) as server:
        url = server.url
    with pytest.raises(SourceError, match="cannot connect"):
        PrometheusSource(url, clock=lambda: NOW).histories()


@contextmanager
def answering(respond: Callable[[socket.socket], None], host: str = "127.0.0.1") -> Iterator[str]:
    """The URL of a one-connection server on ``host`` that reads the request and leaves the answer to ``respond``."""
    with socket.socket() as listener:
        listener.bind((host, 0))
        listener.listen(1)

        def serve() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                respond(connection)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield f"http://{host}:{listener.getsockname()[1]}"
        finally:
            thread.join(5)


def test_a_port_that_does_not_speak_http_is_a_source_error():
    """A URL pointing at something that is not an HTTP server (here a line of garbage) is a SourceError, not a
    traceback."""
    garbage = answering(lambda connection: connection.sendall(b"GARBAGE\r\n\r\n"))
    with garbage as url, pytest.raises(SourceError, match="not an HTTP answer"):
        PrometheusSource(url, clock=lambda: NOW).histories()


@pytest.mark.parametrize("trickled", ["body", "headers"])
def test_a_server_trickling_its_answer_is_given_up_at_the_timeout(trickled):
    """`timeout` bounds the whole request: a server sending its answer (its body, or already its status line and
    headers) a byte at a time, each byte well within the timeout, is a SourceError "timed out after 1 s", not a
    run that waits for as long as the server likes."""
    body = json.dumps(matrix()).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    sent_at_once, trickle = (head, body) if trickled == "body" else (b"", head + body)
    done = threading.Event()

    def answer_slowly(connection: socket.socket) -> None:
        connection.sendall(sent_at_once)
        for byte in trickle:  # 0.2 s a byte: the whole answer would take 20 s or more
            if done.wait(0.2):
                return
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                return

    config = DEFAULT_CONFIG.model_copy(update={"timeout": 1.0})
    with answering(answer_slowly, "127.0.0.3") as url:
        try:
            with pytest.raises(SourceError) as caught:
                PrometheusSource(url, config, clock=lambda: NOW).histories()
        finally:
            done.set()
    assert str(caught.value) == f"{url}/api/v1/query_range query {sent(PVC.used)!r}: timed out after 1 s"


def test_an_error_answer_that_is_not_a_json_object_is_a_source_error():
    """A proxy answering 502 with a JSON list still gives a SourceError naming the status and what it said."""
    with FakePrometheus({sent(PVC.used): (502, ["bad gateway"])}) as server, pytest.raises(SourceError) as caught:
        PrometheusSource(server.url, clock=lambda: NOW).histories()
    assert "HTTP 502: ['bad gateway']" in str(caught.value)


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(caplog):
    """user:password@ in --prometheus-url is sent as an Authorization header (Prometheus' web config, or a proxy in
    front of it), and is in no URL the source prints or puts into an error."""
    bad = {"status": "error", "errorType": "bad_data", "error": "parse error"}
    with FakePrometheus({sent(PVC.used): (400, bad)}) as server:
        address = server.url.removeprefix("http://")
        with caplog.at_level("WARNING", logger="dizuo.capacity.source"):
            source = PrometheusSource(f"http://ops%40yl:s3cr%3At@{address}", clock=lambda: NOW)
        assert source.url == server.url
        assert "plain http" in caplog.text
        assert "s3cr" not in caplog.text
        with pytest.raises(SourceError) as caught:
            source.histories()
    assert "s3cr" not in str(caught.value)
    assert server.url in str(caught.value)
    expected = "Basic " + base64.b64encode(b"ops@yl:s3cr:t").decode()
    assert server.requests[0]["authorization"] == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://dizuo:S3cr/et@127.0.0.1:9",  # an unencoded / ends the authority early: "S3cr" would be a port
        "http://dizuo:1234/xY@prom.yl:9090",  # ... or a valid port, and the rest a path
        "dizuo:S3cret@prom.yl:9090",  # no scheme
    ],
)
def test_a_malformed_url_with_credentials_is_refused_without_showing_them(url):
    """Credentials urllib cannot take apart are refused, and the message hides them."""
    with pytest.raises(ConfigError) as caught:
        PrometheusSource(url)
    assert "S3cr" not in str(caught.value)
    assert "xY" not in str(caught.value)
    assert "***@" in str(caught.value)


@pytest.mark.parametrize("code", [301, 303, 307, 308])
def test_a_redirect_is_not_followed_and_names_where_it_points(code):
    """A Prometheus answering with a redirect (urllib would resend a POST as a GET without the query on a 301-303,
    and not follow a 308) fails naming the URL it points at, to use instead; nothing, credentials least of all, is
    sent to the host it names."""
    seen: list[str] = []

    class Elsewhere(QuietHandler):
        def respond(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            self.answer(404)

    with serving_http(Elsewhere) as elsewhere:
        target = f"{elsewhere}/api/v1/query_range"

        class Redirect(QuietHandler):
            def respond(self) -> None:
                self.answer(code, headers={"Location": target})

        with serving_http(Redirect) as redirect:
            address = redirect.removeprefix("http://")
            expected = f"HTTP {code}: Prometheus redirects to {re.escape(target)}: use that"
            with pytest.raises(SourceError, match=expected):
                PrometheusSource(f"http://ops:s3cret@{address}", clock=lambda: NOW).histories()
    assert seen == [], "the redirect was followed"


@pytest.mark.parametrize("old_until", [2, 4], ids=["job retired", "both scraping"])
def test_a_volume_returned_twice_is_counted_once(caplog, old_until):
    """The same filesystem scraped by two jobs comes back twice: it is one volume, the one sampled last winning where
    both have a sample; warned of while both are scraped, not once the second job is retired."""
    ts = grid(4)
    old_job = {"instance": "node1:9100", "mountpoint": "/srv", "job": "node-old"}
    job = {"instance": "node1:9100", "mountpoint": "/srv", "job": "node"}
    fs = DEFAULT_CONFIG.selectors[1]
    old = ts[:old_until]
    answers = {
        fs.used: (200, matrix((old_job, [(t, GIB) for t in old]), (job, [(t, 2 * GIB) for t in ts]))),
        fs.capacity: (200, matrix((old_job, [(t, 9 * GIB) for t in old]), (job, [(t, 9 * GIB) for t in ts]))),
    }
    with FakePrometheus(answers) as server, caplog.at_level("WARNING", logger="dizuo.capacity.source"):
        histories = PrometheusSource(server.url, clock=lambda: NOW).histories()
    assert [(h.series, h.used_bytes.tolist()) for h in histories] == [("filesystem:node1:9100//srv", [2 * GIB] * 4)]
    assert ("1 volume(s) returned more than once by selectors[1]" in caplog.text) == (old_until == len(ts))


def test_warnings_that_hold_run_after_run_are_logged_when_another_volume_joins_them(caplog):
    """A deleted PVC stays in the 28-day range query for 28 days, a filesystem scraped twice stays so: the exporter
    logs each once, and again when another volume is left out or comes twice, not on every 5-minute run."""
    ts = grid(8)
    stopped = [t - 7200 for t in ts]
    live, old = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "data"}, {"namespace": "sjj-tyrz"}
    fs = DEFAULT_CONFIG.selectors[1]
    twice = [{"instance": "node1:9100", "mountpoint": "/srv", "job": j} for j in ("node", "node-old")]

    def answers(claims: list[str]) -> dict[str, tuple[int, Any]]:
        used = [(live, [(t, GIB) for t in ts])] + [
            ({**old, "persistentvolumeclaim": c}, [(t, GIB) for t in stopped]) for c in claims
        ]
        full = [(labels, [(t, 9 * GIB) for t, _ in points]) for labels, points in used]
        return {
            sent(PVC.used): (200, matrix(*used)),
            sent(PVC.capacity): (200, matrix(*full)),
            fs.used: (200, matrix(*[(j, [(t, GIB) for t in ts]) for j in twice])),
            fs.capacity: (200, matrix(*[(j, [(t, 9 * GIB) for t in ts]) for j in twice])),
        }

    with FakePrometheus(answers(["old"])) as server, caplog.at_level("WARNING", logger="dizuo.capacity.source"):
        source = PrometheusSource(server.url, clock=lambda: NOW)
        for _run in range(3):
            source.histories()
        said = [r.getMessage() for r in caplog.records]
        server.answers = answers(["old", "older"])
        caplog.clear()
        source.histories()
        source.histories()
        said_after = [r.getMessage() for r in caplog.records]
    assert [m.split(" (")[0] for m in said] == [
        "1 volume(s) returned more than once by selectors[1]",
        "left out 1 volume(s) without a sample in the last 3600s",
    ], said
    assert said_after == [
        "left out 2 volume(s) without a sample in the last 3600s (exporter stopped, or deleted where that cannot be "
        "told): pvc:sjj-tyrz/old, pvc:sjj-tyrz/older"
    ], said_after


def test_url_must_be_http():
    """A Prometheus URL without http(s):// is refused up front, naming the value."""
    with pytest.raises(ConfigError, match="'localhost:9090'"):
        PrometheusSource("localhost:9090")


def test_committed_sources_file_spells_out_the_defaults():
    """monitoring/capacity-sources.yaml is exactly the built-in default configuration."""
    assert load_config(ROOT / "monitoring" / "capacity-sources.yaml") == DEFAULT_CONFIG


# The filesystem selector of monitoring/capacity-sources.yaml before shares were read once (5610463): a share mounted
# on N nodes is N volumes.
_OLD_FS = (
    'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|iso9660",mountpoint!~"/run.*|/var/lib/(docker|containerd|kubelet)/.+"'
)
OLD_FILESYSTEM_SELECTOR = {
    "kind": "filesystem",
    "used": f"node_filesystem_size_bytes{{{_OLD_FS}}} - node_filesystem_avail_bytes{{{_OLD_FS}}}",
    "capacity": f"node_filesystem_size_bytes{{{_OLD_FS}}}",
    "volume": ["instance", "mountpoint"],
    "scraped_from": f"max by (instance, mountpoint, job) (node_filesystem_size_bytes{{{_OLD_FS}}})",
    "listed": f"max by (instance, mountpoint) (node_filesystem_device_error{{{_OLD_FS}}})",
}


def test_an_older_copy_of_the_sources_file_is_read_with_one_warning_saying_what_to_copy(tmp_path, caplog):
    """A city's --config copied from an older monitoring/capacity-sources.yaml is still read, and the log says once,
    naming the file and the selector, what its shares are read as and to copy the current filesystem selector: one
    from before shares were read once (each share once per node), and one from before a CephFS share's device was
    read without its Ceph user; the current file, spaced or quoted otherwise, and a city's own filesystem selectors
    (reading no node_exporter metric, or local disks only) say nothing."""
    committed = (ROOT / "monitoring" / "capacity-sources.yaml").read_text(encoding="utf-8")
    per_user = committed.replace(', "mountpoint", "$1", "device", "[^@/=]*@([^@/=]+=/.*)")', ")").replace(
        "label_replace(label_replace(", "label_replace("
    )
    local = 'node_filesystem_size_bytes{fstype=~"ext4|xfs"}'
    local_disks = {
        "kind": "filesystem",
        "used": f'{local} - node_filesystem_avail_bytes{{fstype=~"ext4|xfs"}}',
        "capacity": local,
        "volume": ["instance", "mountpoint"],
        "scraped_from": f"max by (instance, mountpoint, job) ({local})",
        "listed": 'max by (instance, mountpoint) (node_filesystem_device_error{fstype=~"ext4|xfs"})',
    }
    own = [
        {"kind": "filesystem", "used": "my_fs_used_bytes", "capacity": "my_fs_size_bytes", "volume": ["host"]},
        local_disks,
    ]
    files = {
        "current.yaml": committed,
        "current-unspaced.yaml": committed.replace('"device", "(.+)"', '"device","(.+)"'),
        "current-single-quoted.yaml": committed.replace('"device", "(.+)"', "'device', '(.+)'"),
        "per-user.yaml": per_user,
        "before-shares.yaml": json.dumps(
            {"selectors": [DEFAULT_CONFIG.selectors[0].model_dump(), OLD_FILESYSTEM_SELECTOR]}
        ),
        "own.yaml": json.dumps({"selectors": own}),
    }
    said = {}
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        caplog.clear()
        with caplog.at_level("WARNING", logger="dizuo.capacity.source"):
            PrometheusSource("http://127.0.0.1:9", load_config(path), config_path=path)
        said[name] = [r.getMessage() for r in caplog.records]
    assert {name: said[name] for name in files if "current" in name or name == "own.yaml"} == {
        name: [] for name in files if "current" in name or name == "own.yaml"
    }
    copy = (
        "to read a share as one volume, copy into it the filesystem selector of monitoring/capacity-sources.yaml in "
        f"dizuo {dizuo.__version__}'s source (the built-in selectors, spelled out; read without --config)"
    )
    assert said["before-shares.yaml"] == [
        f"{tmp_path / 'before-shares.yaml'} is an older copy of monitoring/capacity-sources.yaml: selectors[1] (used, "
        f"capacity, scraped_from, listed) reads each network share once per node that mounts it; {copy}"
    ]
    assert said["per-user.yaml"] == [
        f"{tmp_path / 'per-user.yaml'} is an older copy of monitoring/capacity-sources.yaml: selectors[1] (used, "
        f"capacity, scraped_from, listed) reads a kernel CephFS share once per Ceph user its nodes mount it as; {copy}"
    ]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_a_network_share_mounted_on_two_nodes_is_one_filesystem_local_ones_one_per_node(tmp_path):
    """The default filesystem selector, evaluated by promtool over two nodes each with a local /data and the same NFS
    export mounted: each /data is its node's volume, with its labels as before; the share is one volume, named by its
    device, read once; its scraped_from and listed series keep each node's instance (deleted only when both are
    scraped without it), naming the share's volume by its device."""
    fs = DEFAULT_CONFIG.selectors[1]
    share = "10.61.16.5:/export"
    nodes = ("10.61.16.21:9100", "10.61.16.22:9100")
    local = [
        {"instance": n, "job": "node", "mountpoint": "/data", "device": "/dev/sdb1", "fstype": "xfs"} for n in nodes
    ]
    shared = [
        {"instance": n, "job": "node", "mountpoint": "/mnt/share", "device": share, "fstype": "nfs4"} for n in nodes
    ]

    inputs = [series("node_filesystem_size_bytes", labels, 100) for labels in [*local, *shared]]
    inputs += [series("node_filesystem_avail_bytes", labels, 30) for labels in local]
    # The nodes read the share's free space a moment apart: its one volume takes the larger used bytes.
    inputs += [
        series("node_filesystem_avail_bytes", labels, free) for labels, free in zip(shared, (12, 10), strict=True)
    ]
    inputs += [series("node_filesystem_device_error", labels, 0) for labels in [*local, *shared]]
    per_node = [{"instance": n, "job": "node", "mountpoint": m} for n in nodes for m in ("/data", share)]
    cases = [
        (fs.used, [sample(labels, 70) for labels in local] + [sample({"mountpoint": share}, 90)]),
        (
            fs.capacity,
            [sample({"__name__": "node_filesystem_size_bytes", **labels}, 100) for labels in local]
            + [sample({"mountpoint": share}, 100)],
        ),
        (fs.scraped_from, [sample(labels, 100) for labels in per_node]),
        (fs.listed, [sample({k: v for k, v in labels.items() if k != "job"}, 0) for labels in per_node]),
    ]
    assert_promtool_evaluates(tmp_path, inputs, cases)


def series(metric: str, labels: dict[str, str], value: float) -> dict[str, str]:
    """A promtool input series of ``value`` at 0m, 1m and 2m."""
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{inner}}}", "values": f"{value}x2"}


def sample(labels: dict[str, str], value: float) -> dict[str, Any]:
    """A sample promtool is to find in an expression's result."""
    return {"labels": "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}", "value": value}


def assert_promtool_evaluates(tmp_path: Path, inputs: list[dict[str, str]], cases: list[tuple[str, Any]]) -> None:
    """promtool, over ``inputs``, evaluates each expression of ``cases`` at 1m to its samples."""
    tests = {
        "interval": "1m",
        "input_series": inputs,
        "promql_expr_test": [{"expr": e, "eval_time": "1m", "exp_samples": exp} for e, exp in cases],
    }
    assert_promtool_passes(tmp_path, {"rule_files": [], "tests": [tests]})


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_a_kernel_cephfs_share_is_one_volume_whichever_user_each_node_mounts_it_as(tmp_path):
    """The default filesystem selector, evaluated by promtool over two nodes mounting one CephFS path in the new
    device syntax, each as its own Ceph user (`yl-app-01@<fsid>.cephfs=/vol`), and a third mounting a second Ceph
    cluster's filesystem at the same path: each filesystem is one volume named `<fsid>.<fs_name>=/<path>`, read once,
    its scraped_from and listed series keeping each node's instance; a fourth node's old-syntax mount, whose device
    names only the monitors the node listed, stays its own volume."""
    fs = DEFAULT_CONFIG.selectors[1]
    fsid, other_fsid = "07fe3187-00d9-42a3-814b-72a4d5e7d5be", "5b9a2c4e-1f0d-4e7a-9c3b-2d8e6f1a0b7c"
    nodes = ("yl-app-01", "yl-app-02", "yl-app-03")
    mounts = [(f"{n}:9100", f"{n}@{fsid}.cephfs=/vol", free) for n, free in zip(nodes[:2], (12, 10), strict=True)] + [
        (f"{nodes[2]}:9100", f"{nodes[2]}@{other_fsid}.cephfs=/vol", 50),
        ("yl-app-04:9100", "10.61.20.1:6789:/vol", 60),
    ]
    labels = [
        {"instance": i, "job": "node", "mountpoint": "/mnt/vol", "device": d, "fstype": "ceph"} for i, d, _ in mounts
    ]
    inputs = [series("node_filesystem_size_bytes", one, 100) for one in labels]
    inputs += [
        series("node_filesystem_avail_bytes", one, free) for one, (_, _, free) in zip(labels, mounts, strict=True)
    ]
    inputs += [series("node_filesystem_device_error", one, 0) for one in labels]
    volume = {mounts[0][1]: f"{fsid}.cephfs=/vol", mounts[1][1]: f"{fsid}.cephfs=/vol"}
    volume |= {mounts[2][1]: f"{other_fsid}.cephfs=/vol", mounts[3][1]: mounts[3][1]}
    used = {f"{fsid}.cephfs=/vol": 90, f"{other_fsid}.cephfs=/vol": 50, mounts[3][1]: 40}
    per_node = [{"instance": i, "job": "node", "mountpoint": volume[d]} for i, d, _ in mounts]
    cases = [
        (fs.used, [sample({"mountpoint": v}, bytes_used) for v, bytes_used in used.items()]),
        (fs.capacity, [sample({"mountpoint": v}, 100) for v in used]),
        (fs.scraped_from, [sample(one, 100) for one in per_node]),
        (fs.listed, [sample({k: v for k, v in one.items() if k != "job"}, 0) for one in per_node]),
    ]
    assert_promtool_evaluates(tmp_path, inputs, cases)


@pytest.mark.parametrize("down", [False, True], ids=["both nodes up", "one node down"])
def test_a_network_share_is_gone_once_every_node_that_mounted_it_is_scraped_without_it(caplog, down):
    """A share (one volume, named by its device) whose series ended two hours ago on both nodes that mounted it: gone
    where both nodes' exporters are up now, each node's scraped_from series naming the share by its device; left out
    where one of them is down (its exporter stopped, not the mount)."""
    fs = DEFAULT_CONFIG.selectors[1]
    share = {"mountpoint": "10.61.16.5:/export"}
    ended = [t - 7200 for t in grid(8)]
    nodes = ("10.61.16.21:9100", "10.61.16.22:9100")
    up = nodes[:1] if down else nodes
    answers = {
        fs.used: (200, matrix((share, [(t, GIB) for t in ended]))),
        fs.capacity: (200, matrix((share, [(t, 9 * GIB) for t in ended]))),
        "min by (job, instance) (up) == 1": (200, matrix(*(({"job": "node", "instance": n}, [(NOW, 1)]) for n in up))),
        fs.scraped_from or "": (
            200,
            matrix(*(({**share, "job": "node", "instance": n}, [(ended[-1], 9 * GIB)]) for n in nodes)),
        ),
        fs.listed or "": (200, matrix(({"instance": nodes[0], "mountpoint": "/"}, [(NOW, 0)]))),
    }
    with FakePrometheus(answers) as server, caplog.at_level("INFO", logger="dizuo.capacity.source"):
        reading = PrometheusSource(server.url, clock=lambda: NOW).read()
    assert [h.series for h in reading.gone] == ([] if down else ["filesystem:10.61.16.5:/export"])
    assert [h.series for h in reading.left_out] == (["filesystem:10.61.16.5:/export"] if down else [])


def test_bad_config_names_file_key_and_value(tmp_path):
    """An unknown key, a bad kind and a bad duration are each reported with file, key path and value."""
    path = tmp_path / "sources.yaml"
    path.write_text(
        "step: 15 minutes\nselectors:\n- kind: nfs\n  used: a\n  capacity: b\n  volume: [x]\n  colour: red\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}: step: " in message, message
    assert "'15 minutes'" in message, message
    assert f"{path}: selectors[0].kind: " in message, message
    assert "'nfs'" in message, message
    # dizuo schema prints the declaration files' schemas only: a config file's keys are listed, however many.
    assert f"{path}: selectors[0].colour: unknown key (the keys here are kind, used, capacity, volume," in message, (
        message
    )


def test_a_mistyped_key_is_told_the_key_it_stands_for(tmp_path):
    """`lookbak` in a sources file is told '(did you mean 'lookback'?)', as a declaration's mistyped key is."""
    path = tmp_path / "sources.yaml"
    path.write_text("lookbak: 14d\nselectors:\n- {kind: pvc, used: a, capacity: b, volume: [persistentvolumeclaim]}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: lookbak: unknown key (did you mean 'lookback'?)"


def test_a_label_name_prometheus_does_not_take_is_refused_at_its_key(tmp_path):
    """An owner label with a dash (it goes into the look further back's PromQL, which Prometheus then refuses on every
    exporter start), a volume label with a space (no series carries it: every volume merged into one) and an empty
    pool label are refused naming the file, the key path and the value."""
    path = tmp_path / "sources.yaml"
    path.write_text(
        "selectors:\n- {kind: pvc, used: a, capacity: b, volume: [cluster, persistentvolume claim],"
        " owner_label: name-space, pool_label: ''}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    why = "not a Prometheus label name: letters, digits and _, not starting with a digit"
    assert f"{path}: selectors[0].volume[1]: {why}: 'persistentvolume claim'" in lines, lines
    assert f"{path}: selectors[0].owner_label: {why}: 'name-space'" in lines, lines
    assert f"{path}: selectors[0].pool_label: {why}: ''" in lines, lines


def test_a_timeout_longer_than_a_day_is_refused_at_its_key(tmp_path):
    """`timeout: 400d` is refused naming the file, the key and the value, by `report` as a bad input (exit 2): no
    forecast waits for a day's answer (and one of 1000y met a Python traceback, OverflowError, at the first request)."""
    path = tmp_path / "sources.yaml"
    path.write_text("timeout: 400d\nselectors:\n- {kind: pvc, used: a, capacity: b, volume: [x]}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}: timeout: must be at most 1d" in str(caught.value), caught.value
    assert "'400d'" in str(caught.value), caught.value
    args = ["capacity", "report", "--prometheus-url", "http://127.0.0.1:9", "--config", str(path)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "report")])
    assert result.exit_code == 2, result.output
    assert "timeout: must be at most 1d" in result.output, result.output


def test_too_many_points_per_series_is_refused(tmp_path):
    """lookback/step above Prometheus' 11,000-point limit is refused before any query."""
    path = tmp_path / "sources.yaml"
    path.write_text("lookback: 28d\nstep: 60s\nselectors:\n- {kind: pvc, used: a, capacity: b, volume: [x]}\n")
    with pytest.raises(ConfigError, match="40320 points per series"):
        load_config(path)


def test_a_write_lookback_prometheus_cannot_answer_is_refused_at_its_key(tmp_path):
    """The look further back is checked against Prometheus' point limit, reported at write_step with its value."""
    path = tmp_path / "sources.yaml"
    path.write_text(
        "write_lookback: 365d\nwrite_step: 15m\nselectors:\n- {kind: pvc, used: a, capacity: b, volume: [x]}\n"
    )
    with pytest.raises(ConfigError, match=r"write_step: write_lookback/write_step is 35040 points per series.*'15m'"):
        load_config(path)


@pytest.mark.parametrize(
    ("expression", "history", "look_back"),
    [
        ("m$owners", "m", "m{bucket=~`a|b\\-c`}"),
        ('m{job="x"}$owners', 'm{job="x"}', 'm{job="x",bucket=~`a|b\\-c`}'),
        ('m$owners{job="x"}', 'm{job="x"}', 'm{bucket=~`a|b\\-c`,job="x"}'),
        ("increase(c$owners[$range]) / $step", "increase(c[1800s]) / 900s", None),
    ],
)
def test_placeholders_are_filled_for_each_read(expression, history, look_back):
    """$owners after a metric name or its braces takes the owners' matcher in the look further back (merged into the
    braces), nothing in the history read; $step and $range are the step and twice it."""
    assert query_text(expression, 900) == history
    if look_back is not None:
        assert query_text(expression, 900, "bucket", ["b-c", "a"]) == look_back


@pytest.mark.parametrize(("seconds", "text"), [(900, "900s"), (1_209_600, "1209600s"), (1.5, "1500ms")])
def test_steps_are_written_as_durations_prometheus_parses(seconds, text):
    assert query_text("x[$step]", seconds) == f"x[{text}]"


def test_a_history_longer_than_prometheus_answers_at_the_default_step_is_refused(tmp_path):
    """lookback 120d at the default 15m is 11,520 points: refused at step, though step was not given."""
    path = tmp_path / "sources.yaml"
    path.write_text("lookback: 120d\nselectors:\n- {kind: pvc, used: a, capacity: b, volume: [x]}\n")
    with pytest.raises(ConfigError, match=r"step: lookback/step is 11520 points per series"):
        load_config(path)
    path.write_text("lookback: 500d\nstep: 2h\nselectors:\n- {kind: pvc, used: a, capacity: b, volume: [x]}\n")
    with pytest.raises(ConfigError, match=r"write_step: write_lookback/write_step is 12000 points per series"):
        load_config(path)


def test_a_write_lookback_shorter_than_the_history_reaches_as_far_as_the_history(tmp_path):
    """A config from before write_lookback existed (a 400-day history at 1 h) still loads: the look further back
    reaches at least as far as the history read."""
    path = tmp_path / "sources.yaml"
    path.write_text("lookback: 400d\nstep: 1h\nselectors:\n- {kind: pvc, used: a, capacity: b, volume: [x]}\n")
    assert load_config(path).write_lookback_seconds == 400 * 86400
    assert DEFAULT_CONFIG.write_lookback_seconds == 365 * 86400


def test_missing_config_file_is_a_config_error(tmp_path):
    """A config path that does not exist is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=r"missing\.yaml: file is missing"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("28d", 28 * 86400), ("1h30m", 5400), (300, 300), ("500ms", 0.5), ("292y", 292 * 365 * 86400)],
)
def test_durations_read_like_prometheus(text, seconds):
    """Durations use Prometheus' syntax (units ms..y, combined) or plain seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("value", ["293y", "106752d", 9_223_372_037, 1e300])
def test_a_duration_longer_than_prometheus_holds_is_refused(value):
    """Past Prometheus' longest duration (int64 nanoseconds, some 292 years) a duration, written or in seconds, is
    refused: it would go into a query or rule file Prometheus refuses ("duration out of range")."""
    with pytest.raises(ValueError, match="at most 292y"):
        parse_duration(value)


def test_bytes_written_are_joined_on_the_volume_and_the_timestamps(declaration):
    """A selector's written series joins its volume on the volume labels (extra labels such as MinIO's server do not
    matter), at the volume's timestamps: NaN where it has no sample; a volume without one has none."""
    ts = grid(4)
    bucket = {"bucket": "yl-dp-gtkj-jcsj"}
    used = [RangeSeries(bucket, np.array(ts, dtype=np.int64), np.full(4, 3e11))]
    used.append(RangeSeries({"bucket": "yl-dp-bdc-da"}, np.array(ts, dtype=np.int64), np.full(4, 3e11)))
    capacity = [RangeSeries(s.labels, s.timestamps, np.full(4, 4e11)) for s in used]
    written = [RangeSeries({**bucket, "job": "minio"}, np.array(ts[1:3], dtype=np.int64), np.array([5.0, 7.0]))]
    ownership = Ownership.from_declaration(declaration)
    joined = {h.series: h for h in join_series(BUCKET, used, capacity, ownership, written)}
    reloaded = joined["bucket:yl-dp-gtkj-jcsj"].written_bytes
    assert reloaded is not None
    np.testing.assert_array_equal(reloaded, [np.nan, 5.0, 7.0, np.nan])
    assert joined["bucket:yl-dp-bdc-da"].written_bytes is None


def test_join_keeps_arrays_typed(fleet):
    """Histories carry int64 timestamps and float64 bytes, as the forecaster expects."""
    history = PrometheusSource(fleet.url, clock=lambda: NOW).histories()[0]
    assert history.timestamps.dtype == np.int64
    assert history.used_bytes.dtype == np.float64


def test_a_data_pool_claim_belongs_to_its_dataset_owner_and_pool(declaration):
    """The data pool's claims live in dp-<owner>, named after their dataset: a claim rk-jcxx there is gaj's dataset
    on datapool-ceph; any other claim in that namespace is still gaj's (pool unknown); nothing is a system's."""
    ownership = Ownership.from_declaration(declaration)
    dataset = ownership.labels(PVC, {"namespace": "dp-gaj", "persistentvolumeclaim": "rk-jcxx"})
    assert (dataset["department"], dataset["pool"], dataset["system"]) == ("gaj", "datapool-ceph", ""), dataset
    other = ownership.labels(PVC, {"namespace": "dp-gaj", "persistentvolumeclaim": "scratch"})
    assert (other["department"], other["pool"], other["system"]) == ("gaj", "", ""), other
    # The same claim name in a system's namespace stays the system's.
    system = ownership.labels(PVC, {"namespace": "sjj-tyrz", "persistentvolumeclaim": "rk-jcxx"})
    assert (system["department"], system["system"]) == ("sjj", "sjj-tyrz"), system


def test_a_data_pool_claim_in_a_csv_belongs_to_its_dataset(declaration):
    """`--csv` series pvc:dp-gaj/rk-jcxx: labelled as the exporter labels the claim."""
    from dizuo.capacity.report import label_from_declaration  # noqa: PLC0415

    history = UsageHistory("pvc:dp-gaj/rk-jcxx", np.array([int(NOW)]), np.array([1.0]), np.array([2.0]))
    (labelled,) = label_from_declaration([history], Ownership.from_declaration(declaration))
    assert (labelled.labels["department"], labelled.labels["pool"]) == ("gaj", "datapool-ceph"), labelled.labels


def test_a_bucket_named_as_the_datapool_stack_names_it_belongs_to_its_dataset(declaration):
    """The datapool stack creates bucket <prefix>-dp-<dataset>: yl-dp-bdc-da is bdc's dataset bdc-da on datapool-s3."""
    bucket = DEFAULT_CONFIG.selectors[3]
    labels = Ownership.from_declaration(declaration).labels(bucket, {"bucket": "yl-dp-bdc-da"})
    assert (labels["department"], labels["pool"], labels.get("dataset")) == ("bdc", "datapool-s3", "bdc-da"), labels


def test_a_namespace_is_a_systems_only_in_the_cluster_the_system_is_declared_in(declaration):
    """sjj-tyrz runs in yl-gov: its namespace name in yl-dmz is someone else's (no department), and a dataset's claim
    only in its pool's cluster; a `cluster` value the declaration does not name (another naming scheme) still
    goes by the namespace, as without the label."""
    ownership = Ownership.from_declaration(declaration)

    def owner(cluster: str, namespace: str, claim: str = "data") -> tuple[str, str]:
        labels = ownership.labels(PVC, {"cluster": cluster, "namespace": namespace, "persistentvolumeclaim": claim})
        return labels["department"], labels["system"]

    assert owner("yl-gov", "sjj-tyrz") == ("sjj", "sjj-tyrz")
    assert owner("yl-dmz", "sjj-tyrz") == ("", "")
    assert owner("prod-east", "sjj-tyrz") == ("sjj", "sjj-tyrz")
    assert owner("yl-gov", "dp-gaj", "rk-jcxx") == ("gaj", "")
    assert owner("yl-dmz", "dp-gaj", "rk-jcxx") == ("", "")


def test_a_csv_volume_named_with_its_cluster_belongs_to_its_owner_there(declaration):
    """`--csv` ids as the exporter names claims where Prometheus labels the cluster, `<cluster>/<ns>/<claim>`:
    looked up by namespace and claim within that cluster, not by the cluster's name."""
    from dizuo.capacity.report import label_from_declaration  # noqa: PLC0415

    ids = ["pvc:yl-gov/dp-gaj/rk-jcxx", "yl-gov/sjj-tyrz/data", "yl-dmz/sjj-tyrz/data"]
    histories = [UsageHistory(i, np.array([int(NOW)]), np.array([1.0]), np.array([2.0])) for i in ids]
    labelled = label_from_declaration(histories, Ownership.from_declaration(declaration))
    assert [(h.labels["department"], h.labels["system"], h.labels["pool"]) for h in labelled] == [
        ("gaj", "", "datapool-ceph"),
        ("sjj", "sjj-tyrz", "xc-ceph"),
        ("", "", ""),
    ]


def test_a_csv_claim_of_an_undeclared_cluster_is_labelled_as_prometheus_labels_it(declaration):
    """A `cluster` value the declaration does not name (prod-east) still goes by the namespace: a `--csv` claim id
    `pvc:prod-east/<ns>/<claim>` gets the labels the source gives the same claim's series, a system's, a dataset's
    and a department's namespace alike (not the owner of a code `prod-east`, which is none)."""
    from dizuo.capacity.report import label_from_declaration  # noqa: PLC0415

    ownership = Ownership.from_declaration(declaration)
    claims = [("prod-east", "sjj-tyrz", "data"), ("prod-east", "dp-gaj", "rk-jcxx"), ("prod-east", "dp-gaj", "tmp")]
    ids = [f"pvc:{'/'.join(claim)}" for claim in claims]
    histories = [UsageHistory(i, np.array([int(NOW)]), np.array([1.0]), np.array([2.0])) for i in ids]
    from_csv = [h.labels for h in label_from_declaration(histories, ownership)]
    from_prometheus = [ownership.labels(PVC, dict(zip(PVC.volume, claim, strict=True))) for claim in claims]
    assert from_csv == from_prometheus
    assert [(labels["department"], labels["system"]) for labels in from_csv] == [
        ("sjj", "sjj-tyrz"),
        ("gaj", ""),
        ("gaj", ""),
    ]


def test_a_csv_id_of_a_kind_is_split_into_labels_as_its_series_are_named(declaration):
    """A `--csv` id of a kind names the labels its series would carry: `pvc:<code>` alone is that namespace's, a
    system's claim with its owner and pool; a pool's id keeps its last part as the pool whatever its cluster holds
    (`ceph_pool:a/b/xc-ceph`, as names_ceph_pool reads it); a share's id is one mountpoint; and a claim of an
    undeclared cluster without its `pvc:` is of no kind and no owner."""
    from dizuo.capacity.report import label_from_declaration  # noqa: PLC0415

    ids = ["pvc:sjj-tyrz", "ceph_pool:a/b/xc-ceph", "filesystem:10.0.0.5:/export/data", "prod-east/sjj-tyrz/data"]
    histories = [UsageHistory(i, np.array([int(NOW)]), np.array([1.0]), np.array([2.0])) for i in ids]
    labelled = label_from_declaration(histories, Ownership.from_declaration(declaration))
    system = next(s for s in declaration.systems if s.code == "sjj-tyrz")
    assert [{k: h.labels[k] for k in ("kind", "volume", "pool", "department", "system")} for h in labelled] == [
        {"kind": "pvc", "volume": "sjj-tyrz", "pool": system.storage_pool, "department": "sjj", "system": "sjj-tyrz"},
        {"kind": "ceph_pool", "volume": "a/b/xc-ceph", "pool": "xc-ceph", "department": "", "system": ""},
        {"kind": "filesystem", "volume": "10.0.0.5:/export/data", "pool": "", "department": "", "system": ""},
        {"kind": "", "volume": "prod-east/sjj-tyrz/data", "pool": "", "department": "", "system": ""},
    ]


def test_a_renamed_cluster_s_volumes_belong_to_their_owners_under_either_name(declaration):
    """yl-gov renamed yl-egov (renamed_from): its claims labelled with either name, by Prometheus or in a CSV id, are
    their owners' there (until the city relabels its `cluster`, its series carry the former name), and still no one's
    in yl-dmz."""
    from dizuo.capacity.report import label_from_declaration  # noqa: PLC0415

    ownership = Ownership.from_declaration(with_cluster_renamed(declaration, "yl-gov", "yl-egov"))

    def owner(cluster: str, namespace: str, claim: str = "data") -> tuple[str, str, str]:
        labels = ownership.labels(PVC, {"cluster": cluster, "namespace": namespace, "persistentvolumeclaim": claim})
        return labels["department"], labels["system"], labels["pool"]

    for name in ("yl-egov", "yl-gov"):
        assert owner(name, "sjj-tyrz") == ("sjj", "sjj-tyrz", "xc-ceph"), name
        assert owner(name, "dp-gaj", "rk-jcxx") == ("gaj", "", "datapool-ceph"), name
    assert owner("yl-dmz", "sjj-tyrz") == ("", "", "")
    ids = ["pvc:yl-gov/dp-gaj/rk-jcxx", "yl-gov/sjj-tyrz/data", "yl-egov/sjj-tyrz/data", "yl-dmz/sjj-tyrz/data"]
    histories = [UsageHistory(i, np.array([int(NOW)]), np.array([1.0]), np.array([2.0])) for i in ids]
    labelled = label_from_declaration(histories, ownership)
    assert [(h.labels["department"], h.labels["system"], h.labels.get("dataset", "")) for h in labelled] == [
        ("gaj", "", "rk-jcxx"),
        ("sjj", "sjj-tyrz", ""),
        ("sjj", "sjj-tyrz", ""),
        ("", "", ""),
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://ops:s3cret@[::1", "--prometheus-url: not a URL"),
        ("http://ops:s3cret@127.0.0.1:9/?x=1", "--prometheus-url: no query string or fragment"),
        ("http://127.0.0.1:9/prometheus#top", "--prometheus-url: no query string or fragment"),
    ],
)
def test_a_url_that_cannot_take_the_api_path_is_a_clear_error(tmp_path, url, message):
    """An unclosed IPv6 bracket, a query string or a fragment in --prometheus-url: exit 2 naming the option, no
    traceback, the password never shown (the API paths are appended to the URL: `/?x=1/api/v1/query_range`)."""
    result = CliRunner().invoke(app, ["capacity", "report", "--prometheus-url", url, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert "s3cret" not in result.output


def test_a_key_lacking_a_label_joins_the_one_volume_that_carries_it_only_when_it_came_before():
    """An unlabelled claim id joins `<cluster>/<namespace>/<claim>` where one cluster has that claim and the labelled
    series came after (a scrape gained the label); with two clusters, or both sampled last at once (one cluster
    labelled, another not), it stays its own volume."""
    old, gov, dmz = ("", "ns", "db"), ("yl-gov", "ns", "db"), ("yl-dmz", "ns", "db")
    assert completed({old: 100, gov: 200}) == {old: gov}
    assert completed({old: 100, gov: 200, dmz: 200}) == {}, "two clusters have that claim"
    assert completed({old: 200, gov: 200}) == {}, "both scraped now: two volumes"


def test_a_claim_s_history_under_its_cluster_s_former_name_joins_the_one_after_the_relabel(declaration):
    """yl-gov renamed yl-egov, and the city's Prometheus relabelled its `cluster` label two samples before the end:
    the claim is one volume under the new name with its whole history (its bytes written, still labelled with the
    former name, joined to it), not a new one beside an ended one; with both names sampled last at once (one scrape
    relabelled, another not) they are two, as with a claim lacking the label; a listed claim under one name, where
    the volumes read carry only the other, is that volume."""
    ts = np.array(grid(6), dtype=np.int64)
    claim = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "data"}
    before, after = {**claim, "cluster": "yl-gov"}, {**claim, "cluster": "yl-egov"}
    used = [RangeSeries(before, ts[:4], np.arange(4.0)), RangeSeries(after, ts[4:], np.arange(4.0, 6.0))]
    capacity = [RangeSeries(s.labels, s.timestamps, np.full(s.timestamps.size, 10.0)) for s in used]
    written = [RangeSeries(before, ts, np.ones(6))]
    ownership = Ownership.from_declaration(with_cluster_renamed(declaration, "yl-gov", "yl-egov"))
    [joined] = join_series(PVC, used, capacity, ownership, written)
    assert joined.series == "pvc:yl-egov/sjj-tyrz/data"
    np.testing.assert_array_equal(joined.timestamps, ts)
    np.testing.assert_array_equal(joined.used_bytes, np.arange(6.0))
    np.testing.assert_array_equal(joined.written_bytes, np.ones(6))
    assert (joined.labels["department"], joined.labels["system"]) == ("sjj", "sjj-tyrz")
    both = [RangeSeries(before, ts, np.arange(6.0)), RangeSeries(after, ts, np.arange(6.0))]
    capacities = [RangeSeries(s.labels, ts, np.full(6, 10.0)) for s in both]
    assert sorted(h.series for h in join_series(PVC, both, capacities, ownership)) == [
        "pvc:yl-egov/sjj-tyrz/data",
        "pvc:yl-gov/sjj-tyrz/data",
    ]
    # One exporter's scrape relabelled, the other's not yet: kube-state-metrics' claim is kubelet's by either name.
    former, new = ("yl-gov", "sjj-tyrz", "data"), ("yl-egov", "sjj-tyrz", "data")
    for read, listed in ((former, new), (new, former)):
        one = [RangeSeries(dict(zip(PVC.volume, read, strict=True)), ts, np.arange(6.0))]
        assert VolumeIdentity(PVC, one, one, ownership.former_names())(listed) == read, f"{listed} is not {read}"


def test_a_rolled_back_relabelling_joins_the_history_under_the_name_sampled_last():
    """yl-gov renamed yl-egov: a key under either name joins the same key under the other where that was sampled
    after it (relabelled, or the relabelling rolled back); both sampled last at once, or another cluster, stay apart."""
    renamed = {"yl-gov": "yl-egov"}
    gov, egov, dmz = ("yl-gov", "ns", "db"), ("yl-egov", "ns", "db"), ("yl-dmz", "ns", "db")
    assert relabelled({gov: 100, egov: 200}, 0, renamed) == {gov: egov}
    assert relabelled({gov: 300, egov: 200}, 0, renamed) == {egov: gov}, "rolled back: yl-gov's history goes on"
    assert relabelled({gov: 200, egov: 200}, 0, renamed) == {}, "both scraped now: two volumes"
    assert relabelled({dmz: 100, egov: 200}, 0, renamed) == {}


@pytest.mark.parametrize(("kubelet", "state"), [("yl-gov", ""), ("", "yl-gov")])
def test_bytes_written_join_a_claim_where_one_exporter_only_carries_the_cluster_label(declaration, kubelet, state):
    """Bytes written, joined from kube-state-metrics' claims, reach kubelet's claim where only one of the two
    exporters' series carry `cluster` (a relabelling on one scrape job): a nightly reload of the same bytes still
    dates the dataset; where the claim is in two clusters, the unlabelled written series joins neither."""
    ts = np.array(grid(4), dtype=np.int64)
    claim = {"namespace": "dp-scjg", "persistentvolumeclaim": "fr-jcxx"}
    used = [RangeSeries({**claim, "cluster": kubelet} if kubelet else claim, ts, np.full(4, 5e10))]
    capacity = [RangeSeries(used[0].labels, ts, np.full(4, 2e11))]
    written = [RangeSeries({**claim, "cluster": state} if state else claim, ts[1:3], np.array([5.0, 7.0]))]
    ownership = Ownership.from_declaration(declaration)
    [joined] = join_series(PVC, used, capacity, ownership, written)
    assert joined.written_bytes is not None, "the written series joined no claim"
    np.testing.assert_array_equal(joined.written_bytes, [np.nan, 5.0, 7.0, np.nan])
    if kubelet:
        other = RangeSeries({**claim, "cluster": "yl-dmz"}, ts, np.full(4, 5e10))
        identity = VolumeIdentity(PVC, [*used, other], [*capacity, other])
        both = join_series(PVC, [*used, other], [*capacity, other], ownership, written, identity)
        assert [h.written_bytes for h in both] == [None, None], "a write of one cluster's claim given to both"
        assert identity.ambiguous == {("", "dp-scjg", "fr-jcxx")}, "the log names it"
