"""The forecasting loop behind ``dizuo capacity serve`` and the HTTP endpoint that exposes it.

A background thread reads usage history from Prometheus on a timer, forecasts, and publishes an
immutable :class:`Snapshot`. Scrapes only read the latest snapshot (see ``collector.py``). When a
run fails (Prometheus down, bad answer, forecaster error) the last good forecasts stay published
and the snapshot records the error; the collector exposes ``..._stale 1`` once STALE_AFTER_INTERVALS runs in a row
failed, or no run has succeeded for that many intervals, or that many times the last good run's duration where it is
longer (counted from the start before the first success: a restarted exporter's first run is not a failure).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol
from wsgiref.simple_server import WSGIServer

import numpy as np
from prometheus_client import start_http_server
from prometheus_client.registry import CollectorRegistry

from dizuo.capacity.collector import (
    STALE_AFTER_INTERVALS,
    Allocation,
    CapacityCollector,
    DatasetWrite,
    LeftOut,
    RefreshPeriod,
    SelectorRead,
    Snapshot,
)
from dizuo.capacity.prometheus_source import LABELS, Said, SourceError, one_per_volume, read_until
from dizuo.capacity.types import Forecast, Reading, UsageHistory

if TYPE_CHECKING:
    from dizuo.capacity.calendar_cn import WorkingCalendar

log = logging.getLogger("dizuo.capacity.exporter")

HORIZON_SECONDS = 30 * 86400

Forecaster = Callable[[Sequence[UsageHistory]], list[Forecast]]


class NoVolumesError(RuntimeError):
    """The source answered with no volume at all after it had some."""


class HistorySource(Protocol):
    """Where usage histories come from (Prometheus in production, fixtures in tests)."""

    def read(self) -> Reading:
        """Every volume's history as of now, and the volumes left out (no recent sample)."""
        ...

    def write_histories(self, datasets: Collection[str]) -> list[UsageHistory]:
        """The volumes of ``datasets`` over a longer past than ``histories`` reads (coarser is fine): where their
        last write lies before it."""
        ...


def default_forecaster(histories: Sequence[UsageHistory]) -> list[Forecast]:
    """dizuo's forecaster over the standard 30-day horizon, on the shipped working calendar."""
    return forecaster_for(None)(histories)


def forecaster_for(calendar: WorkingCalendar | None, horizon_seconds: int = HORIZON_SECONDS) -> Forecaster:
    """dizuo's forecaster over ``horizon_seconds`` (the standard 30 days), on ``calendar`` (None: the shipped one)."""
    # Imported here: a caller that brings its own forecaster (the tests do) does not load this one and its calendar.
    from dizuo.capacity.calendar_cn import SHIPPED  # noqa: PLC0415
    from dizuo.capacity.forecast import forecast_histories  # noqa: PLC0415

    return partial(
        forecast_histories, horizon_seconds=horizon_seconds, calendar=SHIPPED if calendar is None else calendar
    )


class ForecastLoop:
    """Runs source -> forecaster on a timer and publishes each outcome as a new snapshot."""

    def __init__(
        self,
        source: HistorySource,
        forecaster: Forecaster = default_forecaster,
        *,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self._forecaster = forecaster
        self.interval = interval
        self._clock = clock
        # Replaced, never mutated: reading one attribute is atomic, so readers need no lock.
        self._snapshot = Snapshot(started_at=clock())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Datasets whose last write was looked for further back: once per process (after that, runs carry it); after
        # a failed look, not again before this (it reads a year of their volumes: not every run if it keeps failing).
        self._looked_back: set[str] = set()
        self._look_back_after = 0.0
        self._said = Said()

    def snapshot(self) -> Snapshot:
        """The latest published outcome."""
        return self._snapshot

    def run_once(self) -> Snapshot:
        """One run; never raises. On failure the last good forecasts stay, with the error recorded."""
        started = time.monotonic()
        previous = self._snapshot
        try:
            # Whatever the source: one id exported twice would be two samples of one label set.
            reading = self._source.read()
            histories = one_per_volume(reading.histories, self._said)
            failed = {**blank_kinds(previous, reading), **reading.failed}
            if not histories and previous.forecasts:
                # Every volume gone at once is the source's doing (a selector changed, a Prometheus restarted
                # without its data), not a city without storage: keep the last good forecast and let it go stale.
                if reading.failed:  # some kind was refused: say why, not only that nothing came
                    raise SourceError("; ".join(f"{kind}: {why}" for kind, why in failed.items()))
                raise NoVolumesError(
                    f"the source returned no volume ({len(previous.forecasts)} at the last success): check the "
                    "selectors and the Prometheus URL"
                )
            for kind, why in failed.items():
                log.warning("%s: not read, serving its volumes from the last run that read them: %s", kind, why)
            forecasts = _with_labels(self._forecaster(histories), histories) + carried(previous, failed, histories)
            # A volume not sampled now (unmounted, or left out) still holds its past: a claim only a nightly loader
            # mounts drops out of kubelet's stats by day, and its last write is in the history read all the same.
            past = [*histories, *reading.unmounted, *reading.left_out, *reading.gone]
            writes = self._older_writes(carried_writes(previous.writes, dataset_writes(past)), past)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if previous.succeeded_at is None:
                log.warning("forecast run failed, and no run has succeeded yet (nothing to serve): %s", message)
            else:
                log.warning("forecast run failed, serving the forecast of the last success: %s", message)
            self._snapshot = replace(
                previous, error=message, failures=previous.failures + 1, failed_in_a_row=previous.failed_in_a_row + 1
            )
            return self._snapshot
        duration = time.monotonic() - started
        if not histories:
            log.warning(
                "the source returned no volume%s: check the selectors and the Prometheus URL", read_until(reading)
            )
        log.info("forecast run ok: %d volumes in %.2f s", len(forecasts), duration)
        now = self._clock()
        left_out = left_out_volumes(reading.left_out)
        self._snapshot = Snapshot(
            forecasts=tuple(forecasts),
            writes=writes,
            succeeded_at=now,
            duration_seconds=duration,
            error=None,
            successes=previous.successes + 1,
            failures=previous.failures,
            left_out=left_out + carried_left_out(previous, failed, left_out),
            started_at=previous.started_at,
            selectors=selector_reads(previous.selectors, reading.kinds, failed, now),
        )
        return self._snapshot

    def _older_writes(
        self, writes: tuple[DatasetWrite, ...], histories: Sequence[UsageHistory]
    ) -> tuple[DatasetWrite, ...]:
        """``writes``, with the last write of each dataset that has none in the history read looked for further back,
        once: a just-started exporter would otherwise date a dataset untouched since before its history to that
        history's start, and alert on it weeks late. A failed look fails nothing; it is tried again an hour on."""
        unseen = [d for d in unseen_datasets(writes) if d not in self._looked_back]
        if not unseen or self._clock() < self._look_back_after:
            return writes
        try:
            older = self._source.write_histories(unseen)
        except Exception as exc:
            self._look_back_after = self._clock() + LOOK_BACK_RETRY_SECONDS
            log.warning(
                "could not look further back for the last write of %s, trying again in %d s: %s: %s",
                ", ".join(unseen),
                LOOK_BACK_RETRY_SECONDS,
                type(exc).__name__,
                exc,
            )
            return writes
        self._looked_back.update(unseen)
        return with_older_writes(writes, histories, older)

    def start(self) -> None:
        """Run now, then every ``interval`` seconds, in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="dizuo-forecast-loop", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to end after its current run and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.run_once()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))


# After a failed look for datasets' older writes, the next is tried this much later (it reads a year of their volumes).
LOOK_BACK_RETRY_SECONDS = 3600

# A dataset's volume grew by more than this share of its capacity, and at least WRITE_MIN_BYTES, since its last write
# (or its start): a load. Filesystem metadata jitters by kilobytes; a retention purge shrinks a volume nobody loads.
WRITE_MIN_SHARE = 1e-4
# Bytes written (a counter's increase) are no noise that grows with the volume: more than WRITE_MIN_BYTES of them
# since the last write is a load, whatever the capacity. Not any increase: a reader's pod mounting and unmounting an
# ext4 claim writes its superblock, 4 KiB each way (measured on a loop device), and that is no load either.
WRITE_MIN_BYTES = 2**20


def last_write_index(
    used: np.ndarray[Any, np.dtype[np.float64]],
    written: np.ndarray[Any, np.dtype[np.float64]] | None,
    threshold: np.ndarray[Any, np.dtype[np.float64]],
) -> int | None:
    """The index of the last sample by which the volume had been written past the noise since the write before it,
    or since the first sample: it grew above its lowest point since (a purge lowers that point) by more than
    ``threshold`` (per sample), or more than WRITE_MIN_BYTES were written since (where the source counts them; NaN,
    not known, is none). Both add up across steps: a loader trickling 2 MiB every 15 minutes into 200 GiB writes past
    the noise every few hours, though no single step does. None when nothing was written past it."""
    counted = np.zeros(used.size) if written is None else np.nan_to_num(written, nan=0.0)
    # A step past the noise on its own is a write whatever came before (its growth from the low point since the
    # write before is at least its own): the walk starts at the last such step, and continues only for what the
    # steps after it add up to.
    alone = np.flatnonzero((np.diff(used) > threshold[1:]) | (counted[1:] > WRITE_MIN_BYTES)) + 1
    last = int(alone[-1]) if alone.size else None
    start = last or 0
    while start < used.size - 1:
        since = used[start:]
        grown = since[1:] - np.minimum.accumulate(since)[1:]
        past = (grown > threshold[start + 1 :]) | (np.cumsum(counted[start + 1 :]) > WRITE_MIN_BYTES)
        hits = np.flatnonzero(past)
        if not hits.size:
            break
        start = last = start + 1 + int(hits[0])
    return last


def dataset_writes(histories: Sequence[UsageHistory]) -> tuple[DatasetWrite, ...]:
    """The last write of each data-pool dataset's volume (``last_write_index``), or, where there is none, the
    history's first sample (``seen`` False: no write since at least then). A dataset held in two volumes counts its
    latest write."""
    latest: dict[str, DatasetWrite] = {}
    for h in histories:
        dataset = h.labels.get("dataset")
        if not dataset:
            continue
        threshold = np.maximum(WRITE_MIN_SHARE * h.capacity_bytes, WRITE_MIN_BYTES)
        index = last_write_index(h.used_bytes, h.written_bytes, threshold)
        department, pool, kind = (h.labels.get(label, "") for label in ("department", "pool", "kind"))
        if index is not None:
            write = DatasetWrite(dataset, department, pool, int(h.timestamps[index]), kind=kind)
        else:
            write = DatasetWrite(dataset, department, pool, int(h.timestamps[0]), seen=False, kind=kind)
        held = latest.get(dataset)
        if held is None or (write.seen, write.at) > (held.seen, held.at):
            latest[dataset] = write
    return tuple(latest[d] for d in sorted(latest))


def unseen_datasets(writes: Sequence[DatasetWrite]) -> list[str]:
    """The datasets of ``writes`` that have no write in the history read (a bound, not a date)."""
    return sorted(w.dataset for w in writes if not w.seen)


def carried_writes(previous: Sequence[DatasetWrite], now: Sequence[DatasetWrite]) -> tuple[DatasetWrite, ...]:
    """This run's writes, with what earlier runs knew: a write seen before stands while none is seen since (the
    history read is only so long, and a claim no pod mounts drops out of kubelet's stats: unmounted, unwritten)."""
    merged = {w.dataset: w for w in previous}
    for write in now:
        held = merged.get(write.dataset)
        if held is None or (write.seen and (not held.seen or write.at > held.at)):
            # A write seen beats a bound ("none since"), even an older one: a longer read found what a shorter missed.
            merged[write.dataset] = write
        elif not write.seen and held.at > write.at:
            merged[write.dataset] = write  # no growth since the first sample: an older write it must be
    return tuple(merged[d] for d in sorted(merged))


def with_older_writes(
    writes: Sequence[DatasetWrite], histories: Sequence[UsageHistory], older: Sequence[UsageHistory]
) -> tuple[DatasetWrite, ...]:
    """``writes``, where one of them has no write in ``histories`` (a bound), with what ``older``, a longer past of the
    same volumes, says before each volume's first sample in ``histories``: after it the history's verdict stands (the
    longer past is read at a coarser step, which sees other low points: its verdict on the history's span may differ,
    and the exported date would flip between runs). That first sample ends each longer past, so a write between its
    last sample and the history's start counts; a volume the history does not hold ends at its dataset's bound."""
    bounds = {w.dataset: w.at for w in writes if not w.seen}
    first = {h.series: h for h in histories}
    cut = [
        _joined(h, first.get(h.series), bounds[h.labels["dataset"]]) for h in older if h.labels.get("dataset") in bounds
    ]
    return carried_writes(writes, dataset_writes([h for h in cut if h.timestamps.size]))


def _joined(older: UsageHistory, history: UsageHistory | None, bound: int) -> UsageHistory:
    """``older``'s samples before ``history``'s first, then that first sample; without ``history``, up to ``bound``."""
    if history is None:
        return _head(older, int(np.searchsorted(older.timestamps, bound, side="right")))
    return _then(_head(older, int(np.searchsorted(older.timestamps, history.timestamps[0]))), _head(history, 1))


def _head(h: UsageHistory, n: int) -> UsageHistory:
    """The first ``n`` samples of ``h``."""
    written = None if h.written_bytes is None else h.written_bytes[:n]
    return replace(
        h, timestamps=h.timestamps[:n], used_bytes=h.used_bytes[:n], capacity_bytes=h.capacity_bytes[:n],
        written_bytes=written,
    )  # fmt: skip


def _then(a: UsageHistory, b: UsageHistory) -> UsageHistory:
    """``a``'s samples, then ``b``'s, labelled as ``a``; bytes written NaN where one of them does not count them."""

    def written(h: UsageHistory) -> np.ndarray[Any, Any]:
        return np.full(h.timestamps.size, np.nan) if h.written_bytes is None else h.written_bytes

    return replace(
        a,
        timestamps=np.concatenate([a.timestamps, b.timestamps]),
        used_bytes=np.concatenate([a.used_bytes, b.used_bytes]),
        capacity_bytes=np.concatenate([a.capacity_bytes, b.capacity_bytes]),
        written_bytes=None
        if a.written_bytes is None and b.written_bytes is None
        else np.concatenate([written(a), written(b)]),
    )


def blank_kinds(previous: Snapshot, reading: Reading) -> dict[str, str]:
    """The kinds of ``reading`` that read no volume at all, not even one left out or gone, though the last good run
    forecast some: as with every volume gone at once, that is the source's doing (a selector or a relabelling changed),
    not storage removed (a deleted volume stays in the history read, gone or left out, for its whole length). So is a
    kind whose volumes all exist (its ``exists`` query) but none is sampled now: its exporter's scrape is gone, not
    every claim unmounted at once."""
    had = Counter(f.labels.get("kind", "") for f in previous.forecasts)
    now = {h.labels.get("kind", "") for h in (*reading.histories, *reading.left_out, *reading.gone)}
    unsampled = Counter(h.labels.get("kind", "") for h in reading.unmounted)
    return {
        kind: f"returned no volume ({had[kind]} at the last run that read it): check its selector"
        + (f" ({unsampled[kind]} exist, none sampled now: is its exporter scraped?)" if unsampled[kind] else "")
        for kind in reading.kinds
        if had[kind] and kind not in now
    }


def carried(previous: Snapshot, failed: Collection[str], histories: Sequence[UsageHistory]) -> list[Forecast]:
    """The last good forecasts of the kinds not read this run, but for volumes this run read (two selectors of one
    kind, one of which read)."""
    fresh = {h.series for h in histories}
    return [f for f in previous.forecasts if f.labels.get("kind") in failed and f.series not in fresh]


def carried_left_out(previous: Snapshot, failed: Collection[str], left_out: Sequence[LeftOut]) -> tuple[LeftOut, ...]:
    """The volumes the last good run left out, of the kinds not read this run (but for those this run left out)."""
    now = {g.labels for g in left_out}
    return tuple(g for g in previous.left_out if g.labels[LABELS.index("kind")] in failed and g.labels not in now)


def selector_reads(
    previous: Sequence[SelectorRead], kinds: Sequence[str], failed: Mapping[str, str], now: float
) -> tuple[SelectorRead, ...]:
    """How each kind's reads went, with this run's: read now, or failed once more."""
    reads = {r.kind: r for r in previous}
    for kind in kinds:
        held = reads.get(kind, SelectorRead(kind))
        why = failed.get(kind)
        reads[kind] = (
            SelectorRead(kind, read_at=now)
            if why is None
            else replace(held, failed_in_a_row=held.failed_in_a_row + 1, error=why)
        )
    return tuple(reads[k] for k in sorted(reads))


def left_out_volumes(left_out: Sequence[UsageHistory]) -> tuple[LeftOut, ...]:
    """Each volume left out once (by its forecast labels), at its last sample."""
    last: dict[tuple[str, ...], float] = {}
    for h in left_out:
        key = tuple(h.labels.get(label, "") for label in LABELS)
        if h.timestamps.size:
            last[key] = max(last.get(key, 0.0), float(h.timestamps[-1]))
    return tuple(LeftOut(key, at) for key, at in sorted(last.items()))


def _with_labels(forecasts: Sequence[Forecast], histories: Sequence[UsageHistory]) -> list[Forecast]:
    """Forecasts carrying their history's labels, whether or not the forecaster copied them."""
    labels = {h.series: h.labels for h in histories}
    return [replace(f, labels={**labels.get(f.series, {}), **f.labels}) for f in forecasts]


@dataclass
class RunningExporter:
    """A started exporter: its loop, HTTP server and registry; ``close()`` stops both."""

    loop: ForecastLoop
    server: WSGIServer
    registry: CollectorRegistry

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        """Where the metrics are served: the address and port actually bound (``--listen :0``: a port the system
        chose; ``:9782``: every address, 0.0.0.0)."""
        host = str(self.server.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and stop the loop."""
        self.server.shutdown()
        self.server.server_close()
        self.loop.stop()


def start_exporter(
    loop: ForecastLoop,
    allocated: Sequence[Allocation],
    host: str,
    port: int,
    refresh: Sequence[RefreshPeriod] = (),
) -> RunningExporter:
    """Serve the loop's snapshots on http://host:port/metrics and start the loop."""
    registry = CollectorRegistry()
    stale_after = STALE_AFTER_INTERVALS * loop.interval
    CapacityCollector(loop.snapshot, allocated, refresh, stale_after=stale_after, registry=registry)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    loop.start()
    return RunningExporter(loop=loop, server=server, registry=registry)
