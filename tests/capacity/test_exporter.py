"""The forecasting loop and the HTTP endpoint: last good forecast kept on failure, never a crash."""

from __future__ import annotations

import logging
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from typer.testing import CliRunner

from dizuo.capacity.calendar_cn import CalendarNotCoveredWarning
from dizuo.capacity.collector import Allocation, CapacityCollector
from dizuo.capacity.commands_serve import OncePerDay, log_warnings_plainly
from dizuo.capacity.exporter import ForecastLoop, start_exporter
from dizuo.capacity.prometheus_source import SourceError
from dizuo.capacity.types import Forecast, Reading, UsageHistory
from dizuo.cli import app

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_717_200_000
LABELS = {"kind": "pvc", "volume": "ns/data", "pool": "p", "department": "d", "system": "s"}
HISTORY = UsageHistory(
    series="pvc:ns/data",
    timestamps=np.arange(NOW - 86400, NOW + 1, 900, dtype=np.int64),
    used_bytes=np.linspace(10.0, 90.0, 97),
    capacity_bytes=np.full(97, 100.0),
    labels=LABELS,
)


class Source:
    """Fixture source that can be switched to failing, like a Prometheus going down."""

    def __init__(self) -> None:
        self.down = False

    def histories(self) -> list[UsageHistory]:
        if self.down:
            raise SourceError("http://127.0.0.1:9/api/v1/query_range: cannot connect: refused")
        return [HISTORY, replace(HISTORY, labels={})]  # a duplicate series id must be exported once

    def read(self) -> Reading:
        return Reading(self.histories())

    def write_histories(self, datasets):
        return []


def linear(histories):
    """A trivial forecaster for loop tests: one day ahead, labels NOT copied (the loop must add them)."""
    return [
        Forecast(h.series, int(h.timestamps[-1]), NOW + 3600, None, None, h.used_bytes[-1], h.capacity_bytes[-1])
        for h in histories
    ]


def test_success_publishes_forecasts_with_their_labels():
    """A run publishes one forecast per distinct series, carrying the history's labels."""
    loop = ForecastLoop(Source(), linear, interval=60, clock=lambda: NOW)
    snap = loop.run_once()
    assert snap.error is None
    assert snap.successes == 1
    assert [f.series for f in snap.forecasts] == ["pvc:ns/data"], "duplicate series ids are exported once"
    assert snap.forecasts[0].labels == LABELS


def test_a_source_down_from_the_start_is_not_said_to_serve_a_last_success(caplog):
    """Before any success there is nothing to serve, and the log says so rather than 'serving the last one'."""
    source = Source()
    source.down = True
    with caplog.at_level(logging.WARNING, logger="dizuo.capacity.exporter"):
        snap = ForecastLoop(source, linear, interval=60, clock=lambda: NOW).run_once()
    assert (snap.forecasts, snap.succeeded_at) == ((), None)
    assert "no run has succeeded yet (nothing to serve)" in caplog.text
    assert "serving the forecast of the last success" not in caplog.text


def test_source_failure_keeps_the_last_good_forecast():
    """When the source fails, the previous forecasts stay published and the error is recorded."""
    source = Source()
    loop = ForecastLoop(source, linear, interval=60, clock=lambda: NOW)
    good = loop.run_once()
    source.down = True
    failed = loop.run_once()
    assert failed.forecasts == good.forecasts, "the last good forecast must still be served"
    assert failed.succeeded_at == good.succeeded_at
    assert failed.error is not None
    assert "cannot connect" in failed.error
    assert (failed.successes, failed.failures) == (1, 1)
    source.down = False
    assert loop.run_once().error is None, "the next successful run clears the error"


def test_one_failed_run_is_jitter_and_three_in_a_row_are_stale():
    """One failed run between successes leaves stale 0 (the dataset alerts' `for:` timers read it); the third failed
    run in a row turns it 1, and a success clears it."""
    source = Source()
    loop = ForecastLoop(source, linear, interval=60, clock=lambda: NOW)
    registry = CollectorRegistry()
    CapacityCollector(loop.snapshot, stale_after=180, registry=registry, clock=lambda: NOW)

    def stale() -> float | None:
        return registry.get_sample_value("dizuo_capacity_forecast_stale")

    loop.run_once()
    source.down = True
    loop.run_once()
    assert stale() == 0, "one failed run after a success"
    source.down = False
    loop.run_once()
    source.down = True
    assert [(loop.run_once(), stale())[1] for _run in range(3)] == [0, 0, 1], "stale after three failures in a row"
    source.down = False
    loop.run_once()
    assert stale() == 0, "a success clears it"


def test_runs_slower_than_three_intervals_that_all_succeed_are_not_stale(monkeypatch):
    """Runs that each take four intervals, all succeeding, leave stale 0 while the next is under way (a blinking flag
    would restart the dataset alerts' `for:` timers); a run still going after three such durations is stale."""
    now = [NOW]
    # The loop times its runs on the monotonic clock: the exporter's alone is replaced, not the process's.
    monkeypatch.setattr("dizuo.capacity.exporter.time", SimpleNamespace(monotonic=lambda: now[0]))

    class Slow(Source):
        def read(self) -> Reading:
            now[0] += 240  # four 60-second intervals
            return super().read()

    loop = ForecastLoop(Slow(), linear, interval=60, clock=lambda: now[0])
    registry = CollectorRegistry()
    CapacityCollector(loop.snapshot, stale_after=180, registry=registry, clock=lambda: now[0])
    assert loop.run_once().duration_seconds == 240
    now[0] += 200  # the next run, back to back, is under way
    assert registry.get_sample_value("dizuo_capacity_forecast_stale") == 0, "the next run is under way"
    now[0] += 3 * 240
    assert registry.get_sample_value("dizuo_capacity_forecast_stale") == 1, "no success for three run durations"


def test_source_answering_with_no_volume_keeps_the_last_good_forecast():
    """Every volume gone at once is a failed run (last good forecast kept); empty from the start is a success."""
    source = Source()
    loop = ForecastLoop(source, linear, interval=60, clock=lambda: NOW)
    good = loop.run_once()
    source.histories = lambda: []
    failed = loop.run_once()
    assert failed.forecasts == good.forecasts, "the last good forecast must still be served"
    assert failed.error is not None
    assert "no volume (1 at the last success)" in failed.error
    assert (failed.successes, failed.failures) == (1, 1)
    empty_from_start = ForecastLoop(source, linear, interval=60, clock=lambda: NOW).run_once()
    assert (empty_from_start.error, empty_from_start.forecasts, empty_from_start.successes) == (None, (), 1)


def test_forecaster_exception_does_not_kill_the_loop():
    """A bug in the forecaster is a failed run, not a dead exporter."""

    def broken(_histories):
        raise ZeroDivisionError("boom")

    snap = ForecastLoop(Source(), broken, interval=60).run_once()
    assert snap.error == "ZeroDivisionError: boom"
    assert snap.failures == 1


def scrape(port: int) -> dict[str, list]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def wait_for(predicate, what: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_http_endpoint_serves_forecasts_and_turns_stale_when_the_source_fails():
    """Over HTTP: forecasts appear after the first run; when the source fails they stay and stale=1."""
    source = Source()
    loop = ForecastLoop(source, linear, interval=0.1)
    exporter = start_exporter(loop, [Allocation("department", "d", 1e3)], "127.0.0.1", 0)
    try:
        metrics = wait_for(
            lambda: (m := scrape(exporter.port)).get("dizuo_storage_exhaustion_timestamp_seconds") and m,
            "the first forecast",
        )
        assert metrics["dizuo_capacity_forecast_stale"][0].value == 0
        source.down = True
        metrics = wait_for(
            lambda: (m := scrape(exporter.port))["dizuo_capacity_forecast_stale"][0].value == 1 and m,
            "stale=1 after the source failed",
        )
        served = metrics["dizuo_storage_exhaustion_timestamp_seconds"]
        assert [s.labels["volume"] for s in served] == ["ns/data"], "the last good forecast is still served"
        assert served[0].value == NOW + 3600
    finally:
        exporter.close()


def test_a_restarted_exporter_is_not_stale_during_its_first_run():
    """A just-started exporter whose first run is still going serves stale 0 (a restart is no failure: 1 would end the
    `for:` timers of the dataset alerts, which hold while no exporter is stale), and 1 once that run has taken longer
    than stale_after without a success."""
    release = threading.Event()

    class Slow(Source):
        def histories(self) -> list[UsageHistory]:
            release.wait(10)
            return super().histories()

    loop = ForecastLoop(Slow(), linear, interval=60)
    exporter = start_exporter(loop, [], "127.0.0.1", 0)
    try:
        metrics = scrape(exporter.port)
        assert metrics["dizuo_capacity_forecast_stale"][0].value == 0, "first run under way"
        assert metrics["dizuo_capacity_forecast_series"][0].value == 0
        registry = CollectorRegistry()
        CapacityCollector(loop.snapshot, stale_after=180, registry=registry, clock=lambda: time.time() + 181)
        assert registry.get_sample_value("dizuo_capacity_forecast_stale") == 1, "no success for stale_after"
        release.set()
        wait_for(lambda: scrape(exporter.port).get("dizuo_storage_exhaustion_timestamp_seconds"), "the first run")
    finally:
        release.set()
        exporter.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "9782"], "--listen: expected HOST:PORT"),
        (["--interval", "1e10"], "Invalid value for '--interval': Input should be less than or equal to 86400"),
        (["--config", "missing.yaml"], "missing.yaml: file is missing"),
        (["--config", "bad.yaml"], "bad.yaml: selectors[0].kind: "),
        (["--declaration", "nowhere"], "not a directory holding a city declaration"),
        (
            ["--calendar", "calendar.yaml"],
            "calendar.yaml: years[2027].makeup_working_days.元旦: '2027-01-05' is a Tuesday",
        ),
    ],
)
def test_serve_rejects_bad_input_before_serving(tmp_path, monkeypatch, args, message):
    """`dizuo capacity serve` exits 2 naming the bad option, file or key; it never starts half-configured."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("selectors:\n- {kind: nfs, used: a, capacity: b, volume: [x]}\n")
    (tmp_path / "calendar.yaml").write_text(
        "years:\n  2027:\n    holidays:\n      元旦: 2027-01-01\n    makeup_working_days:\n      元旦: 2027-01-05\n",
        encoding="utf-8",
    )
    base = ["capacity", "serve", "--prometheus-url", "http://127.0.0.1:9", "--listen", "127.0.0.1:0"]
    result = CliRunner().invoke(app, [*base, *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output


def test_serve_refuses_a_refresh_period_no_float_holds(tmp_path):
    """A dataset refreshed every 10^310 days (seconds past any float) is refused by `dizuo capacity serve
    --declaration` with exit 2 naming the file and key, not an OverflowError traceback."""
    city = tmp_path / "yulin"
    shutil.copytree(ROOT / "inventories" / "yulin", city)
    datasets = city / "datasets.yaml"
    datasets.write_text(
        datasets.read_text(encoding="utf-8").replace("refresh_days: 1,", f"refresh_days: {10**310},", 1),
        encoding="utf-8",
    )
    base = ["capacity", "serve", "--prometheus-url", "http://127.0.0.1:9", "--listen", "127.0.0.1:0"]
    result = CliRunner().invoke(app, [*base, "--declaration", str(city)])
    assert result.exit_code == 2, result.output
    assert "datasets.yaml: datasets[0].refresh_days: Input should be less than or equal to 36500" in " ".join(
        result.output.split()
    )


def test_serve_logs_the_calendar_warning_as_one_plain_line(monkeypatch, caplog):
    """The exporter's log says which year the calendar lacks in one line, without Python's file:line and source."""
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # restored after the test
    # catch_warnings restores showwarning on exit; captureWarnings(False) first, as a serve run earlier in this
    # process leaves warnings captured, and capturing twice does nothing.
    captured = logging.getLogger("py.warnings")
    filters = list(captured.filters)
    try:
        with caplog.at_level(logging.WARNING, logger="py.warnings"), warnings.catch_warnings():
            warnings.simplefilter("always")
            logging.captureWarnings(False)
            for f in captured.filters[:]:
                captured.removeFilter(f)
            log_warnings_plainly()
            # Every forecast run warns again; the log says it once (a day), not every five minutes.
            for _run in range(3):
                warnings.warn("the working calendar does not know 2027 yet", CalendarNotCoveredWarning, stacklevel=1)
            logging.captureWarnings(False)
    finally:
        for f in captured.filters[:]:
            captured.removeFilter(f)
        for f in filters:
            captured.addFilter(f)
    assert [r.getMessage() for r in caplog.records] == [
        "CalendarNotCoveredWarning: the working calendar does not know 2027 yet"
    ]


def test_once_per_day_passes_a_message_again_after_a_day():
    """The filter of the exporter's warnings: the same message is dropped within 24 h and passed after."""
    now = [0.0]
    once = OncePerDay(clock=lambda: now[0])

    def passes(message: str) -> bool:
        return once.filter(logging.LogRecord("py.warnings", logging.WARNING, __file__, 1, message, None, None))

    assert passes("calendar lacks 2027")
    now[0] = 3600.0
    assert not passes("calendar lacks 2027")
    assert passes("calendar lacks 2028"), "another message is not held back"
    now[0] = 86400.0
    assert passes("calendar lacks 2027")


def test_a_dataset_s_last_write_is_its_last_growth_past_the_noise():
    """The last sample that grew by more than 1 MiB and 0.01 % of the volume; kilobytes of metadata jitter and a
    retention purge are no loads; a history without one reads as its first sample, unseen; volumes that hold no
    dataset are not counted; of two volumes of one dataset the later write counts, with the kind it was read from."""
    from dizuo.capacity.exporter import dataset_writes  # noqa: PLC0415

    gib = 2.0**30
    ts = np.arange(0, 10 * 900, 900, dtype=np.int64) + 1_717_200_000
    labels = {"kind": "bucket", "volume": "rk-jcxx", "pool": "datapool-s3", "department": "gaj", "dataset": "rk-jcxx"}
    loaded = np.array([1, 1, 2, 2, 2, 5, 5, 5, 5, 5.0]) * gib + np.tile([0, 4096], 5)  # loads at 2 and 5, jitter
    written = UsageHistory("bucket:rk-jcxx", ts, loaded, np.full(10, 90 * gib), labels)
    purged = np.linspace(30, 20, 10) * gib  # shrinking only: a retention purge
    flat = UsageHistory("bucket:fr-jcxx", ts, purged, np.full(10, 90 * gib), labels | {"dataset": "fr-jcxx"})
    other = UsageHistory("pvc:sjj-tyrz/data", ts, np.arange(10.0) * gib, np.full(10, 90 * gib), dict(LABELS))
    older = np.array([1, 2, 2, 2, 2, 2, 2, 2, 2, 2.0]) * gib
    second = UsageHistory("pvc:dp-gaj/rk-jcxx", ts, older, np.full(10, 90 * gib), labels | {"kind": "pvc"})
    writes = {w.dataset: w for w in dataset_writes([written, flat, other, second])}
    assert set(writes) == {"rk-jcxx", "fr-jcxx"}
    assert (writes["rk-jcxx"].at, writes["rk-jcxx"].seen) == (int(ts[5]), True)
    assert (writes["fr-jcxx"].at, writes["fr-jcxx"].seen) == (int(ts[0]), False)
    assert (writes["rk-jcxx"].department, writes["rk-jcxx"].pool) == ("gaj", "datapool-s3")
    assert writes["rk-jcxx"].kind == "bucket", "the kind of the volume the write was read from"


def test_a_loader_trickling_below_the_noise_per_step_writes_when_its_growth_adds_up():
    """2 MiB every 15 minutes into 211 GiB (threshold ~22 MB a step): no single step is a write, ten days of them
    are; the write is where the growth since the last one passed the noise, hours ago at most, not the history's
    start. Kilobytes of jitter up and down never add up; a purge and then a trickle counts from the purged low; a
    bytes-written counter of 1 MiB a step adds up the same way."""
    from dizuo.capacity.exporter import dataset_writes  # noqa: PLC0415

    gib, mib = 2.0**30, 2.0**20
    steps = 10 * 96
    ts = np.arange(steps, dtype=np.int64) * 900 + 1_717_200_000
    capacity = np.full(steps, 211 * gib)
    labels = {"kind": "pvc", "volume": "dp-gaj/rk-jcxx", "pool": "datapool-ceph", "department": "gaj"}

    def history(dataset: str, used: np.ndarray, written: np.ndarray | None = None) -> UsageHistory:
        return UsageHistory(f"pvc:{dataset}", ts, used, capacity, labels | {"dataset": dataset}, written)

    trickle = 100 * gib + 2 * mib * np.arange(steps)
    jitter = 100 * gib + np.tile([0.0, 64 * 1024], steps // 2)
    purged = np.where(np.arange(steps) < 500, 150 * gib, 100 * gib + 2 * mib * (np.arange(steps) - 500))
    flat = np.full(steps, 100 * gib)
    writes = {
        w.dataset: w
        for w in dataset_writes(
            [
                history("trickle", trickle),
                history("jitter", jitter),
                history("purged", purged),
                history("counted", flat, np.full(steps, 1 * mib)),
            ]
        )
    }
    threshold_steps = int(np.ceil(1e-4 * 211 * gib / (2 * mib)))  # steps of 2 MiB past the noise
    for name in ("trickle", "purged"):
        assert writes[name].seen, f"{name}: {writes[name]}"
        assert ts[-1] - writes[name].at <= threshold_steps * 900, f"{name}: last write {writes[name]}"
    assert (writes["jitter"].at, writes["jitter"].seen) == (int(ts[0]), False)
    assert writes["counted"].seen
    assert ts[-1] - writes["counted"].at <= 2 * threshold_steps * 900


def test_bytes_written_without_growth_are_a_write():
    """A reload of the same bytes (or of fewer) writes without growing the volume: where the source counts bytes
    written, a step that wrote more than 1 MiB is a write; a few KiB (a listing, a HEAD) and steps not counted (NaN)
    are not."""
    from dizuo.capacity.exporter import dataset_writes  # noqa: PLC0415

    gib = 2.0**30
    ts = np.arange(0, 6 * 900, 900, dtype=np.int64) + 1_717_200_000
    labels = {"kind": "bucket", "volume": "yl-dp-gtkj-jcsj", "pool": "datapool-s3", "department": "zrzy"}
    same = np.full(6, 123 * gib)
    written = np.array([np.nan, 0, 40 * gib, 2048, np.nan, 4096])
    history = UsageHistory("bucket:yl-dp-gtkj-jcsj", ts, same, np.full(6, 1000 * gib), labels | {"dataset": "g"})
    (reloaded,) = dataset_writes([replace(history, written_bytes=written)])
    assert (reloaded.at, reloaded.seen) == (int(ts[2]), True)
    (unknown,) = dataset_writes([history])
    assert (unknown.at, unknown.seen) == (int(ts[0]), False), "without a count, no growth is no write"


def test_a_daily_load_counted_in_bytes_written_is_a_write_every_night_whatever_the_claim_size():
    """10 MiB written a night into a 211 GiB claim (below 0.01 % of it) is a write each night, not every third one
    (DizuoDatasetStale at 1.5 days would fire on a dataset loaded daily); a reader's mount and unmount (8 KiB of
    ext4 superblock a day) is none."""
    from dizuo.capacity.exporter import dataset_writes  # noqa: PLC0415

    gib, kib, mib = 2.0**30, 2.0**10, 2.0**20
    steps = 28 * 96
    ts = np.arange(steps, dtype=np.int64) * 900 + 1_717_200_000
    nightly = np.arange(steps) % 96 == 8  # 02:00 each night
    labels = {"kind": "pvc", "volume": "dp-gaj/rk-jcxx", "pool": "datapool-ceph", "department": "gaj"}
    for night in range(20, 28):
        end = night * 96 + 10
        loaded, mounted = (
            UsageHistory(
                f"pvc:{dataset}",
                ts[:end],
                np.full(end, 100 * gib),
                np.full(end, 211 * gib),
                labels | {"dataset": dataset},
                np.where(nightly, written, 0.0)[:end],
            )
            for dataset, written in (("loaded", 10 * mib), ("mounted", 8 * kib))
        )
        write, unwritten = dataset_writes([loaded, mounted])
        assert (write.seen, write.at) == (True, int(ts[night * 96 + 8])), f"night {night}: {write}"
        assert (unwritten.seen, unwritten.at) == (False, int(ts[0])), f"night {night}: {unwritten}"


def test_a_write_seen_once_stands_beyond_the_history_and_while_the_volume_is_unseen():
    """Run after run the exporter keeps the oldest bound it knows: a history that slid past the last write, or a
    claim unmounted (not in kubelet's stats), does not make a dataset look freshly written."""
    from dizuo.capacity.collector import DatasetWrite  # noqa: PLC0415
    from dizuo.capacity.exporter import carried_writes  # noqa: PLC0415

    before = (DatasetWrite("a", "d", "p", 1000), DatasetWrite("b", "d", "p", 500, seen=False))
    now = (
        DatasetWrite("a", "d", "p", 90_000, seen=False),  # no growth since its (later) first sample
        DatasetWrite("b", "d", "p", 2000),  # a new load
        DatasetWrite("c", "d", "p", 3000, seen=False),  # first seen
    )
    merged = {w.dataset: w for w in carried_writes(before, now)}
    assert merged["a"].at == 1000, "the old write stands: nothing grew since"
    assert (merged["b"].at, merged["b"].seen) == (2000, True)
    assert merged["c"].at == 3000
    unseen = {w.dataset: w for w in carried_writes(before, ())}
    assert {k: w.at for k, w in unseen.items()} == {"a": 1000, "b": 500}, "a volume not seen keeps its write"
    older = carried_writes(before, (DatasetWrite("b", "d", "p", 200),))
    assert {w.dataset: (w.at, w.seen) for w in older}["b"] == (200, True), "a write beats a later 'none since'"


def test_the_loop_keeps_a_dataset_s_write_when_its_claim_drops_out_of_the_source():
    """A dataset claim seen loaded in one run and gone from the next (no pod mounts it) keeps its last write; a
    failed run keeps it too (the snapshot of the last success)."""
    gib = 2.0**30
    labels = {"kind": "pvc", "volume": "dp-gaj/rk-jcxx", "pool": "datapool-ceph", "department": "gaj"}
    loaded = UsageHistory(
        "pvc:dp-gaj/rk-jcxx",
        HISTORY.timestamps,
        np.where(np.arange(97) >= 40, 20 * gib, 10 * gib),
        np.full(97, 100 * gib),
        labels | {"dataset": "rk-jcxx"},
    )

    class Unmounted(Source):
        runs = 0

        def histories(self) -> list[UsageHistory]:
            self.runs += 1
            return [HISTORY, loaded] if self.runs == 1 else super().histories()

    source = Unmounted()
    loop = ForecastLoop(source, linear, interval=60, clock=lambda: NOW)
    first = loop.run_once().writes
    assert [(w.dataset, w.at) for w in first] == [("rk-jcxx", int(HISTORY.timestamps[40]))]
    assert loop.run_once().writes == first, "an unmounted claim is unwritten: its last write stands"
    source.down = True
    assert loop.run_once().writes == first


def test_a_dataset_without_a_write_in_the_history_read_is_looked_for_further_back_once():
    """A dataset whose volume did not grow in the history read is dated by its longer past, asked of the source once
    per exporter (later runs carry it); a failed look fails no forecast and is tried again an hour later, not every
    run; the look counts in the run's duration."""
    from dizuo.capacity.exporter import LOOK_BACK_RETRY_SECONDS  # noqa: PLC0415

    gib = 2.0**30
    labels = {"kind": "bucket", "volume": "yl-dp-bdc-da", "pool": "datapool-s3", "department": "bdc"}
    flat = UsageHistory(
        "bucket:yl-dp-bdc-da",
        HISTORY.timestamps,
        np.full(97, 300 * gib),
        np.full(97, 1000 * gib),
        labels | {"dataset": "bdc-da"},
    )
    loaded_at = NOW - 35 * 86400
    longer = replace(
        flat,
        timestamps=np.array([loaded_at - 3600, loaded_at, NOW], dtype=np.int64),
        used_bytes=np.array([290, 300, 300]) * gib,
        capacity_bytes=np.full(3, 1000 * gib),
    )

    class Flat(Source):
        def __init__(self) -> None:
            super().__init__()
            self.asked: list[list[str]] = []
            self.deep_down = True

        def histories(self) -> list[UsageHistory]:
            return [*super().histories(), flat]

        def write_histories(self, datasets):
            self.asked.append(list(datasets))
            time.sleep(0.05)
            if self.deep_down:
                raise SourceError("query_range: timeout")
            return [longer]

    source = Flat()
    now = [float(NOW)]
    loop = ForecastLoop(source, linear, interval=60, clock=lambda: now[0])
    first = loop.run_once()
    assert first.error is None, "a failed look further back fails no forecast"
    assert first.duration_seconds >= 0.05, "the look is part of the run"
    assert [(w.at, w.seen) for w in first.writes] == [(int(HISTORY.timestamps[0]), False)], "a bound meanwhile"
    source.deep_down = False
    assert loop.run_once().writes == first.writes, "not again the next run"
    now[0] += LOOK_BACK_RETRY_SECONDS
    second = loop.run_once().writes
    assert [(w.dataset, w.at, w.seen) for w in second] == [("bdc-da", loaded_at, True)]
    assert loop.run_once().writes == second
    assert source.asked == [["bdc-da"], ["bdc-da"]], "asked again an hour after the failure, then never"


def _volume(series: str, dataset: str, start: int, step: int, used: np.ndarray) -> UsageHistory:
    """A data-pool volume of ``dataset`` sampled every ``step`` from ``start``, 10 GiB in size."""
    labels = {"kind": "pvc", "volume": series, "pool": "datapool-ceph", "department": "sw", "dataset": dataset}
    ts = start + step * np.arange(used.size, dtype=np.int64)
    return UsageHistory(f"pvc:{series}", ts, used, np.full(used.size, 10 * 2.0**30), labels)


def test_a_longer_past_only_dates_what_lies_before_the_history_read():
    """The longer past dates only what lies before the history read: within it the history's verdict stands (flat
    but for kilobytes of jitter: no write), so the exported date does not flip back on the next run; the history's
    first sample ends the longer past, so the growth of the hour before it is a write there."""
    from dizuo.capacity.exporter import carried_writes, dataset_writes, with_older_writes  # noqa: PLC0415

    gib, mib = 2.0**30, 2.0**20
    start = NOW - 28 * 86400
    history = _volume("dp-sw/ss-dj", "ss-dj", start, 900, 5 * gib + (np.arange(28 * 96 + 1) % 2) * 64 * 1024)
    older = _volume(
        "dp-sw/ss-dj", "ss-dj", NOW - 40 * 86400, 3600, 5 * gib + (np.arange(40 * 24 + 1) - 12 * 24) * 2.4 * mib
    )
    writes = dataset_writes([history])
    assert [(w.seen, w.at) for w in writes] == [(False, start)]
    merged = with_older_writes(writes, [history], [older])
    assert [(w.seen, w.at) for w in merged] == [(True, start)], "the last write before the history read: its start"
    assert carried_writes(merged, writes) == merged, "and it stands on the next run"


def test_a_longer_past_is_cut_at_each_volume_s_own_history():
    """A dataset in two volumes: its old bucket, last loaded 40 days ago and flat since (kilobytes of jitter), and a
    claim made empty 2 days ago. The old volume's longer past ends where its own history starts (28 days ago), not
    at the new claim's: the dataset is 40 days old, not 2."""
    from dizuo.capacity.exporter import dataset_writes, with_older_writes  # noqa: PLC0415

    gib, mib = 2.0**30, 2.0**20
    start = NOW - 28 * 86400
    jitter = 5 * gib + (np.arange(28 * 96 + 1) % 2) * 64 * 1024
    old = _volume("dp-sw/ss-dj", "ss-dj", start, 900, jitter)
    new = _volume("dp-sw/ss-dj-2", "ss-dj", NOW - 2 * 86400, 900, np.zeros(2 * 96 + 1))
    hours = np.arange(40 * 24 + 1)
    loaded = np.where(hours >= 24, 5 * gib, 3 * gib) + np.maximum(hours - 13 * 24, 0) * 2.4 * mib
    older = _volume("dp-sw/ss-dj", "ss-dj", NOW - 41 * 86400, 3600, loaded)
    writes = dataset_writes([old, new])
    assert [(w.seen, w.at) for w in writes] == [(False, NOW - 2 * 86400)], "the newest volume's start bounds it"
    (merged,) = with_older_writes(writes, [old, new], [older])
    assert (merged.seen, merged.at) == (True, NOW - 40 * 86400)


def test_a_write_just_before_the_history_read_is_found():
    """Loaded 10 minutes before the history's first sample, which is not on the hour: between the longer past's last
    hourly sample and the history's start, the load is in neither read alone."""
    from dizuo.capacity.exporter import dataset_writes, with_older_writes  # noqa: PLC0415

    gib = 2.0**30
    start = NOW - 28 * 86400 + 1800
    history = _volume("dp-sw/ss-dj", "ss-dj", start, 900, np.full(28 * 96 - 1, 6 * gib))
    older = _volume("dp-sw/ss-dj", "ss-dj", NOW - 60 * 86400, 3600, np.full(60 * 24 + 1, 5 * gib))
    older = replace(older, used_bytes=np.where(older.timestamps >= start - 600, 6 * gib, 5 * gib))
    (merged,) = with_older_writes(dataset_writes([history]), [history], [older])
    assert (merged.seen, merged.at) == (True, start)


POOL = UsageHistory(
    series="ceph_pool:yl-gov-ceph/phase1-ceph",
    timestamps=HISTORY.timestamps,
    used_bytes=HISTORY.used_bytes,
    capacity_bytes=HISTORY.capacity_bytes,
    labels={**LABELS, "kind": "ceph_pool", "volume": "yl-gov-ceph/phase1-ceph"},
)
STOPPED_POOL = replace(POOL, series="ceph_pool:yl-gov-ceph/old", labels={**POOL.labels, "volume": "yl-gov-ceph/old"})


class TwoKinds:
    """Fixture source reading claims and Ceph pools, whose Ceph read can fail alone (Prometheus refusing its query)
    or come back empty (its selector matching nothing any more)."""

    def __init__(self) -> None:
        self.ceph = "reads"  # "reads", "fails", "empty" or "unmounted" (every pool exists, none sampled now)
        self.claims = True
        self.runs = 0

    def read(self) -> Reading:
        histories = [HISTORY] if self.claims else []
        left_out, failed = [], {}
        if self.ceph == "reads":
            histories.append(replace(POOL, timestamps=POOL.timestamps + self.runs * 900))
            left_out.append(STOPPED_POOL)
        elif self.ceph == "fails":
            failed["ceph_pool"] = "query 'ceph_pool_stored': Prometheus answered 'found duplicate series'"
        unmounted = [POOL, STOPPED_POOL] if self.ceph == "unmounted" else []
        self.runs += 1
        return Reading(histories, left_out, kinds=("pvc", "ceph_pool"), failed=failed, unmounted=unmounted)

    def write_histories(self, datasets):
        return []


def test_one_kind_that_cannot_be_read_is_served_from_its_last_read_and_the_others_stay_fresh(caplog):
    """A run in which Prometheus refuses one selector's query succeeds with the others: the refused kind's forecasts
    and left-out volumes are those of the last run that read it, `dizuo_capacity_selector_stale{kind}` turns 1 after
    three such runs in a row (the whole forecast is not stale), and a read clears it."""
    source = TwoKinds()
    loop = ForecastLoop(source, linear, interval=60, clock=lambda: NOW)
    registry = CollectorRegistry()
    CapacityCollector(loop.snapshot, stale_after=180, registry=registry, clock=lambda: NOW)
    read = loop.run_once()
    pool_forecast = next(f for f in read.forecasts if f.labels["kind"] == "ceph_pool")
    source.ceph = "fails"
    with caplog.at_level(logging.WARNING, logger="dizuo.capacity.exporter"):
        runs = [loop.run_once() for _run in range(3)]
    assert all(run.error is None for run in runs), "a run that reads the claims succeeds"
    assert pool_forecast in runs[-1].forecasts, "the Ceph pool is served from the last run that read it"
    assert {f.series for f in runs[-1].forecasts} == {"pvc:ns/data", POOL.series}
    assert runs[-1].left_out == read.left_out, "the pool left out then is still said to be left out"
    assert "ceph_pool: not read, serving its volumes from the last run that read them" in caplog.text

    def stale(kind: str) -> float | None:
        return registry.get_sample_value("dizuo_capacity_selector_stale", {"kind": kind})

    assert (stale("ceph_pool"), stale("pvc")) == (1, 0)
    assert registry.get_sample_value("dizuo_capacity_forecast_stale") == 0, "the claims are fresh"
    assert registry.get_sample_value("dizuo_capacity_selector_last_read_timestamp_seconds", {"kind": "pvc"}) == NOW
    source.ceph = "reads"
    fresh = loop.run_once()
    assert stale("ceph_pool") == 0, "a read clears it"
    assert pool_forecast not in fresh.forecasts, "the pool is forecast anew from its new samples"


def test_a_kind_that_reads_no_volume_after_it_had_some_is_served_from_its_last_read():
    """A selector that matches nothing at all any more (not even volumes left out) while the others read is the
    source's doing, as every volume gone at once is: its kind is served from the last read and counts as not read;
    a run that reads nothing fresh while some kind failed is a failed run."""
    source = TwoKinds()
    loop = ForecastLoop(source, linear, interval=60, clock=lambda: NOW)
    good = loop.run_once()
    source.ceph = "empty"
    run = loop.run_once()
    assert run.error is None
    assert {f.series for f in run.forecasts} == {f.series for f in good.forecasts}
    assert next(r for r in run.selectors if r.kind == "ceph_pool").error.startswith("returned no volume (1 at")
    source.claims, source.ceph = False, "fails"
    failed = loop.run_once()
    assert failed.error is not None
    assert "ceph_pool: query 'ceph_pool_stored'" in failed.error
    assert failed.forecasts == run.forecasts, "nothing fresh: the whole run failed, the last good forecast served"


def test_a_kind_whose_volumes_all_exist_but_none_is_sampled_is_served_from_its_last_read():
    """Every volume of a kind existing (its `exists` query) but none sampled now is its upstream exporter's scrape
    gone (kubelet's), not every claim unmounted at once: the kind counts as not read (DizuoCapacitySelectorStale),
    not as volumes quietly not mounted."""
    source = TwoKinds()
    loop = ForecastLoop(source, linear, interval=60, clock=lambda: NOW)
    good = loop.run_once()
    source.ceph = "unmounted"
    run = loop.run_once()
    assert {f.series for f in run.forecasts} == {f.series for f in good.forecasts}
    assert next(r for r in run.selectors if r.kind == "ceph_pool").error.startswith("returned no volume (1 at")


def test_every_kind_reading_no_volume_at_once_is_still_no_volumes():
    """Every kind empty at once (a Prometheus restarted without its data) is the whole run's NoVolumesError, as the
    runbook names it, not a list of kinds that 'returned no volume'."""
    source = TwoKinds()
    loop = ForecastLoop(source, linear, interval=60, clock=lambda: NOW)
    loop.run_once()
    source.claims, source.ceph = False, "empty"
    failed = loop.run_once()
    assert failed.error is not None
    assert failed.error.startswith("NoVolumesError: the source returned no volume (2 at the last success)")


def test_serve_prints_the_address_it_bound():
    """`serve --listen 127.0.0.1:0` prints the port the system chose, and /metrics is served there (not at `:0`); a
    SIGTERM (`systemctl stop`) is its normal end, exit 0, as README says, not a failed unit."""
    serve = [sys.executable, "-c", "from dizuo.cli import main; main()", "capacity", "serve", "--listen", "127.0.0.1:0"]
    serve += ["--prometheus-url", "http://127.0.0.1:9", "--interval", "60"]
    process = subprocess.Popen(serve, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stderr is not None
        line = next((line for line in process.stderr if line.startswith("serving ")), "")
        match = re.match(r"serving (http://127\.0\.0\.1:(\d+)/metrics),", line)
        assert match, f"printed: {line!r}"
        assert match[2] != "0", line
        with urllib.request.urlopen(match[1], timeout=10) as response:  # noqa: S310 - the loopback URL it printed
            assert b"dizuo_capacity_forecast_stale" in response.read()
    finally:
        process.send_signal(signal.SIGTERM)
        _, said = process.communicate(timeout=30)
    assert process.returncode == 0, said


def test_serve_warns_of_a_dataset_refreshed_less_often_than_it_looks_back(tmp_path):
    """A yearly dataset against the default write_lookback of 365 days can never seem stale, its last write being
    looked for no further back: `serve --declaration` says so at start, naming datasets.yaml, the key path, the value
    and the setting to raise."""
    city = tmp_path / "yulin"
    shutil.copytree(ROOT / "inventories" / "yulin", city)
    datasets = city / "datasets.yaml"
    datasets.write_text(
        datasets.read_text(encoding="utf-8").replace("refresh_days: 1,", "refresh_days: 365,", 1), encoding="utf-8"
    )
    with socket.socket() as taken:  # serve stops right after its start-up checks: its port is taken
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        base = ["capacity", "serve", "--prometheus-url", "http://127.0.0.1:9", "--listen", listen]
        result = CliRunner().invoke(app, [*base, "--declaration", str(city)])
    # The console folds lines at 80 columns, inside a long path too: compared without any whitespace.
    output = "".join(result.output.split())
    assert "cannotlisten" in output, result.output
    expected = (
        f"warning: {datasets}: datasets[0].refresh_days: 365 days (rk-jcxx), no shorter than write_lookback (365 days, "
        "the default)"
    )
    assert "".join(expected.split()) in output, result.output
    assert output.count("refresh_days:") == 1, "only the yearly dataset is named"
