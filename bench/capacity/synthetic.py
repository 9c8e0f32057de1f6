"""Seeded synthetic storage-usage series with a hidden continuation, in the public benchmark's format.

Usage: python bench/capacity/synthetic.py --seed 7 --series 500 --out DIR [--mix default|recent-knees]

Writes DIR/synthetic.csv.gz (28 days of history per series, as shared/bench/capacity/FORMAT.md),
DIR/synthetic_truth.jsonl (first 15-minute slot in (asof, asof + 30 d] where the continuation has
used >= capacity, null if none) and DIR/synthetic_kinds.jsonl (the behaviour labels and parameters of
each series). It is an independent, labelled test set: use it to find the behaviours a forecaster
handles badly, not to tune on (the hidden set is another seed and another mix again).

How a series is made: a path in relative units (level 1 at the start of a 40-day warm-up before the
history) from its main kind, sometimes a second kind mixed in, sometimes a future change the history
cannot show; then measurement noise; then a capacity. For most growing series the capacity is aimed at
a sampled lead (the path's running maximum at asof + lead), so the share that fills within 24 h / 4 d /
30 d is controlled; the truth is still read off the integer continuation, never from the aim. Finally
the path is scaled to a sampled volume size, and history samples are dropped (failed scrapes, outages).
Series i depends only on (seed, i, mix), not on --series.

Mixes: `default`, and `recent-knees`, where a rate knee is more common (main-kind weight 0.20, not 0.08)
and lies 0.5-3 days before asof, not 2-10: the mix that comes closest to the public set's anchors (seed 1:
pl6h / pl24h / lin7d medAE 41 / 32 / 48 h; public 59 / 24 / 47 h; default mix 55 / 36 / 31 h).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dizuo.capacity.calendar_cn import is_working_day, local_day

SLOT_S = 900
SLOTS_PER_DAY = 96
HISTORY = 28 * SLOTS_PER_DAY
FUTURE = 30 * SLOTS_PER_DAY
# Warm-up before the history: retention windows (up to 30 d) and threshold cleanups need a past.
PAD = 40 * SLOTS_PER_DAY
N_SLOTS = PAD + HISTORY + FUTURE
ASOF_I = PAD + HISTORY - 1
UTC_OFFSET_S = 8 * 3600
GIB = 2**30
TIB = 2**40

# asof dates: uniform over this range of local days, or (HOLIDAY_ASOF_SHARE) around a holiday week.
ASOF_FIRST = "2024-01-01"
ASOF_LAST = "2026-10-31"
HOLIDAY_ASOF_SHARE = 0.15

# Main kinds and their weights. The public set's mix is unknown in detail; change these to stress a kind.
MAIN_KINDS: dict[str, float] = {
    "steady": 0.11,
    "office_hours": 0.11,
    "log_rotation": 0.08,
    "nightly_backup": 0.09,
    "bulk_imports": 0.09,
    "retention_cleanup": 0.07,
    "threshold_cleanup": 0.06,
    "accelerating": 0.06,
    "flat": 0.08,
    "knee": 0.08,
    "near_full": 0.05,
    "never_fill": 0.06,
    "wandering": 0.06,
}


@dataclass(frozen=True)
class Mix:
    """The weights of the main kinds and how long before asof a rate knee lies (uniform, days)."""

    main_kinds: dict[str, float]
    knee_days_ago: tuple[float, float]


MIXES = {
    "default": Mix(MAIN_KINDS, (2.0, 10.0)),
    "recent-knees": Mix({**MAIN_KINDS, "knee": 0.20}, (0.5, 3.0)),
}
# Kinds that can be mixed into another as a second behaviour, and how often one is.
MIXABLE = ("office_hours", "log_rotation", "nightly_backup", "bulk_imports", "knee", "wandering", "accelerating")
MIX_SHARE = 0.25
# Kinds whose capacity is not aimed at a lead: they never fill, or their capacity follows their own logic.
NEVER_KINDS = ("flat", "never_fill")
UNAIMED_KINDS = ("near_full", "threshold_cleanup")
# Future changes the history cannot show, for growing kinds.
FUTURE_SHARE = 0.22
# Aimed leads for the growing kinds: share per class; "never" puts the capacity above the 30-day maximum.
# The never-filling and unaimed kinds add their own share of non-filling series on top.
LEAD_CLASSES: dict[str, float] = {"24h": 0.09, "4d": 0.17, "30d": 0.21, "never": 0.53}
ENLARGED_SHARE = 0.05


@dataclass
class Series:
    """One generated series: history (with gaps) in bytes, and its truth and labels."""

    series: str
    timestamps: np.ndarray
    used: np.ndarray
    capacity: np.ndarray
    asof: int
    exhaustion_at: int | None
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    # The hidden continuation, one value per 15-minute slot in (asof, asof + 30 d]: never written to the CSV.
    future: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _holiday_weeks(first_day: int, last_day: int) -> list[tuple[int, int]]:
    """Runs of 7 or more consecutive days off (Spring Festival, National Day) as (first, last) day numbers."""
    days = np.arange(first_day, last_day + 1)
    off = ~is_working_day(days)
    runs, start = [], None
    for d, o in zip(days, off, strict=True):
        if o and start is None:
            start = int(d)
        elif not o and start is not None:
            if d - start >= 7:
                runs.append((start, int(d) - 1))
            start = None
    return runs


def _pick_asof(
    rng: np.random.Generator, first_day: int, last_day: int, weeks: list[tuple[int, int]]
) -> tuple[int, bool]:
    """A unix asof on the 15-minute grid, and whether it was drawn around a holiday week."""
    holiday = bool(weeks) and rng.random() < HOLIDAY_ASOF_SHARE
    if holiday:
        lo, hi = weeks[rng.integers(len(weeks))]
        # From a week before the holiday (the horizon crosses it) to its last day (history holds it).
        day = int(rng.integers(lo - 7, hi + 1))
    else:
        day = int(rng.integers(first_day, last_day + 1))
    return day * 86400 - UTC_OFFSET_S + int(rng.integers(SLOTS_PER_DAY)) * SLOT_S, holiday


def _volume_size(rng: np.random.Generator) -> tuple[int, str]:
    """A capacity in bytes and the kind of volume it looks like (PVC, node filesystem, Ceph pool, bucket)."""
    family = rng.choice(["pvc", "node_fs", "ceph_pool", "bucket"], p=[0.3, 0.3, 0.2, 0.2])
    if family == "pvc":
        return int(rng.choice([5, 8, 10, 20, 50, 100, 200, 500])) * GIB, "pvc"
    if family == "node_fs":
        # ext4/xfs overhead: the filesystem is a little smaller than the disk.
        gib = float(rng.choice([20, 40, 50, 100, 200, 500, 1024, 2048, 4096]))
        return int(gib * GIB * rng.uniform(0.93, 0.99)), "node_fs"
    if family == "ceph_pool":
        return int(_loguniform(rng, 10, 500) * TIB), "ceph_pool"
    return int(rng.choice([1, 2, 5, 10, 20, 50, 100, 200])) * TIB, "bucket"


@dataclass
class _Clock:
    """Local time features of the padded grid of one series."""

    hour: np.ndarray  # local hour, float
    slot_of_day: np.ndarray
    day_start: np.ndarray  # index of the first slot of each slot's local day
    working: np.ndarray  # local day is a working day
    day_index: np.ndarray  # 0-based local day per slot

    @classmethod
    def of(cls, asof: int) -> _Clock:
        ts = asof + SLOT_S * (np.arange(N_SLOTS) - ASOF_I)
        day = local_day(ts)
        first = int(day[0])
        working = is_working_day(np.arange(first, int(day[-1]) + 1))[day - first]
        slot_of_day = ((ts + UTC_OFFSET_S) % 86400) // SLOT_S
        starts = np.where(slot_of_day == 0, np.arange(N_SLOTS), 0)
        return cls(
            hour=slot_of_day / 4.0,
            slot_of_day=slot_of_day,
            day_start=np.maximum.accumulate(starts),
            working=working,
            day_index=day - first,
        )


def _activity(rng: np.random.Generator, clock: _Clock, office: bool, p: dict[str, Any]) -> np.ndarray:
    """Relative write activity per slot, averaging ~1 per working day."""
    if office:
        off = rng.uniform(0.0, 0.08)
        p["off_hours_share"] = round(off, 3)
        in_office = clock.working & (clock.hour >= 9) & (clock.hour < 18)
        return np.where(in_office, 1.0, off) * 24 / 9
    amp = rng.uniform(0.0, 0.6)
    weekend = rng.uniform(0.4, 1.0)
    p["diurnal_amplitude"] = round(amp, 3)
    p["off_day_factor"] = round(weekend, 3)
    diurnal = 1 + amp * np.cos(2 * np.pi * (clock.hour - 15) / 24)
    return diurnal * np.where(clock.working, 1.0, weekend)


def _imports(rng: np.random.Generator, clock: _Clock, per_day: float, size: float, future_only: bool) -> np.ndarray:
    """Increments of bulk imports: Poisson at working-day office slots, each spread over 15 min - 2 h."""
    office = clock.working & (clock.hour >= 9) & (clock.hour < 18)
    if future_only:
        office &= np.arange(N_SLOTS) > ASOF_I
    hits = office & (rng.random(N_SLOTS) < per_day / 36)
    inc = np.zeros(N_SLOTS)
    for i in np.flatnonzero(hits):
        width = int(rng.integers(1, 9))
        inc[i : i + width] += size * rng.lognormal(0, 0.6) / width
    return inc


def _single_future_import(rng: np.random.Generator, clock: _Clock, size: float) -> tuple[np.ndarray, int]:
    """One bulk import at a random working-day office slot of the future; increments and its slot."""
    office = clock.working & (clock.hour >= 9) & (clock.hour < 18) & (np.arange(N_SLOTS) > ASOF_I)
    slots = np.flatnonzero(office)
    i = int(rng.choice(slots)) if slots.size else ASOF_I + 1
    inc = np.zeros(N_SLOTS)
    width = int(rng.integers(1, 9))
    inc[i : i + width] = size / width
    return inc, i


def _growth_rate(rng: np.random.Generator, kind: str) -> float:
    """Net growth per working day, relative to the level at the start of the warm-up."""
    if kind == "flat":
        return 0.0
    if kind == "never_fill":
        return rng.uniform(-0.003, 0.002)
    if kind == "near_full":
        return _loguniform(rng, 0.0003, 0.004)
    return _loguniform(rng, 0.002, 0.06)


def _rate_multiplier(
    rng: np.random.Generator, kinds: set[str], p: dict[str, Any], knee_days_ago: tuple[float, float]
) -> np.ndarray:
    """The rate relative to its value at asof, per slot: random walk, acceleration, knee."""
    t_days = (np.arange(N_SLOTS) - ASOF_I) / SLOTS_PER_DAY
    # Every rate wanders (multiplicative random walk, a few % per day); a wandering series more.
    sigma_w = rng.uniform(0.05, 0.12) if "wandering" in kinds else rng.uniform(0.005, 0.05)
    p["rate_wander_per_day"] = round(sigma_w, 4)
    log_m = np.cumsum(rng.normal(0, sigma_w / math.sqrt(SLOTS_PER_DAY), N_SLOTS))
    log_m -= log_m[ASOF_I]
    if "accelerating" in kinds:
        doubling = rng.uniform(4, 30)
        p["doubling_days"] = round(doubling, 2)
        log_m += np.log(2) * t_days / doubling
    if "knee" in kinds:
        ago = rng.uniform(*knee_days_ago)
        factor = _loguniform(rng, 1.8, 5) if rng.random() < 0.65 else _loguniform(rng, 0.15, 0.55)
        p["knee_days_ago"], p["knee_factor"] = round(ago, 2), round(factor, 3)
        # The rate at asof stays r0: the knee changes the past, so r0 is the new rate.
        log_m -= np.where(t_days < -ago, np.log(factor), 0.0)
    return np.exp(log_m)


def _retention(
    rng: np.random.Generator, clock: _Clock, inc: np.ndarray, shape: np.ndarray, p: dict[str, Any]
) -> np.ndarray:
    """Retention cleanups: every day or week, data older than the retention window is deleted."""
    retention = int(rng.choice([3, 7, 14, 30]))
    period = int(rng.choice([1, 1, 7]))
    hour = int(rng.integers(0, 6))
    write = rng.uniform(0.005, 0.05)
    p.update(retention_days=retention, cleanup_period_days=period, cleanup_hour=hour, write_per_day=round(write, 4))
    written = np.cumsum(write / SLOTS_PER_DAY * shape)
    phase = int(rng.integers(period))
    is_cleanup = (clock.slot_of_day == hour * 4) & ((clock.day_index % period) == phase)
    last = np.maximum.accumulate(np.where(is_cleanup, np.arange(N_SLOTS), 0))
    kept_from = np.clip(last - retention * SLOTS_PER_DAY, 0, None)
    # Net growth (inc) is data outside the retention rule; the window's data is written minus deleted.
    return 1 + np.cumsum(inc * rng.uniform(0.1, 0.6)) + written - written[kept_from]


def _threshold(rng: np.random.Generator, inc: np.ndarray, r0: float, p: dict[str, Any]) -> np.ndarray:
    """Threshold cleanups: a periodic job deletes temporary data when usage is above a level."""
    share_perm = rng.uniform(0.1, 0.6)
    check = int(rng.choice([4, 24, 96]))
    threshold = 1 + r0 * rng.uniform(3, 25)
    keep = rng.uniform(0.0, 0.4)
    p.update(permanent_share=round(share_perm, 3), check_every_slots=check, threshold=round(threshold, 5), keep=keep)
    perm = 1 + np.cumsum(inc * share_perm)
    temp = np.cumsum(inc * (1 - share_perm))
    removed = np.zeros(N_SLOTS)
    offset = 0.0
    start = int(rng.integers(check))
    for i in range(start, N_SLOTS, check):
        if perm[i] + temp[i] - offset > threshold:
            # Delete the temporary data down to `keep` of it; what it frees shrinks as perm rises.
            offset += (temp[i] - offset) * (1 - keep)
            removed[i:] = offset
    return perm + temp - removed


def _log_rotation(rng: np.random.Generator, clock: _Clock, act: np.ndarray, r0: float, p: dict[str, Any]) -> np.ndarray:
    """Logs that climb through the day and are deleted at local midnight."""
    # Logs of a day, relative to the net growth: the sawtooth is as visible as the trend, or a few times more.
    daily = max(abs(r0), 0.002) * _loguniform(rng, 0.3, 6)
    p["log_per_day"] = round(daily, 4)
    day_noise = rng.lognormal(0, 0.25, int(clock.day_index[-1]) + 1)[clock.day_index]
    written = daily / SLOTS_PER_DAY * act * day_noise
    logs = np.cumsum(written)
    return logs - (logs[clock.day_start] - written[clock.day_start])


def _backups(rng: np.random.Generator, clock: _Clock, p: dict[str, Any]) -> np.ndarray:
    """Nightly backups: written after midnight, freed hours later; the size is noisy from night to night."""
    size = _loguniform(rng, 0.003, 0.1)
    noise = rng.uniform(0.05, 0.5)
    start_slot = int(rng.integers(0, 13))  # 00:00-03:00
    ramp, hold = int(rng.integers(2, 13)), int(rng.integers(4, 33))
    workdays_only = bool(rng.random() < 0.4)
    p.update(
        backup_size=round(size, 4),
        backup_noise=round(noise, 3),
        backup_start_hour=start_slot / 4,
        backup_ramp_slots=ramp,
        backup_hold_slots=hold,
        backup_workdays_only=workdays_only,
    )
    per_night = size * rng.lognormal(0, noise, int(clock.day_index[-1]) + 1)
    if workdays_only:
        # The backup at night copies the previous working day's data.
        day_working = np.zeros(per_night.size, dtype=bool)
        day_working[clock.day_index] = clock.working
        per_night[1:] *= day_working[:-1]
    phase = clock.slot_of_day - start_slot
    shape = np.clip((phase + 1) / ramp, 0, 1) * (phase >= 0) * (phase < ramp + hold)
    return per_night[clock.day_index] * shape


def _path(
    rng: np.random.Generator, clock: _Clock, kind: str, mixed: list[str], p: dict[str, Any], mix: Mix
) -> np.ndarray:
    """The noiseless usage path in relative units over the padded grid, for a main kind and mixed-in kinds."""
    kinds = {kind, *mixed}
    r0 = _growth_rate(rng, kind)
    p["rate_per_day"] = round(r0, 5)
    m = _rate_multiplier(rng, kinds, p, mix.knee_days_ago)
    act = _activity(rng, clock, "office_hours" in kinds, p)
    jitter = np.clip(1 + rng.normal(0, rng.uniform(0.2, 1.0), N_SLOTS), 0, None)
    inc = r0 / SLOTS_PER_DAY * m * act * jitter

    if "bulk_imports" in kinds:
        per_day = rng.uniform(0.15, 1.0) if kind == "bulk_imports" else rng.uniform(0.05, 0.3)
        size = max(abs(r0), 0.002) * rng.uniform(1, 8)
        p["imports_per_working_day"], p["import_size"] = round(per_day, 3), round(size, 5)
        if kind == "bulk_imports":
            # Most of the growth comes from the imports.
            inc *= rng.uniform(0.05, 0.5)
        inc = inc + _imports(rng, clock, per_day, size, future_only=False)

    if kind == "retention_cleanup":
        level = _retention(rng, clock, inc, m * act * jitter, p)
    elif kind == "threshold_cleanup":
        level = _threshold(rng, inc, r0, p)
    else:
        level = 1 + np.cumsum(inc)
    if "log_rotation" in kinds:
        level = level + _log_rotation(rng, clock, act, r0, p)
    if "nightly_backup" in kinds:
        level = level + _backups(rng, clock, p)
    return level


def _future_change(rng: np.random.Generator, clock: _Clock, level: np.ndarray, p: dict[str, Any]) -> str:
    """Alter the future part of `level` in place: a rate change or a bulk import; returns the label."""
    future = np.arange(N_SLOTS) > ASOF_I
    if rng.random() < 0.6:
        after = rng.uniform(0.2, 20)
        factor = _loguniform(rng, 0.5, 0.8) if rng.random() < 0.5 else _loguniform(rng, 1.25, 2.0)
        start = ASOF_I + int(after * SLOTS_PER_DAY)
        inc = np.diff(level, prepend=level[0])
        inc[start:] *= factor
        level[future] = level[ASOF_I] + np.cumsum(inc[future])
        p["future_rate_after_days"], p["future_rate_factor"] = round(after, 2), round(factor, 3)
        return "future_rate_change"
    daily = max(float(np.mean(np.diff(level[PAD : ASOF_I + 1]))) * SLOTS_PER_DAY, 0.002)
    size = daily * rng.uniform(1, 10)
    inc, at = _single_future_import(rng, clock, size)
    level += np.cumsum(inc)
    p["future_import_size"], p["future_import_after_days"] = round(size, 5), round((at - ASOF_I) / SLOTS_PER_DAY, 2)
    return "future_import"


def _capacity(rng: np.random.Generator, kind: str, obs: np.ndarray, p: dict[str, Any]) -> float:
    """The capacity in relative units: aimed at a sampled lead for growing kinds, else by the kind's logic."""
    hist, fut = obs[PAD : ASOF_I + 1], obs[ASOF_I + 1 :]
    hist_max = float(hist.max())
    if kind in NEVER_KINDS:
        lead_class = "never"
    elif kind in UNAIMED_KINDS:
        lead_class = "unaimed"
    else:
        classes = list(LEAD_CLASSES)
        cw = np.array(list(LEAD_CLASSES.values()))
        lead_class = str(rng.choice(classes, p=cw / cw.sum()))
    p["lead_class"] = lead_class
    if lead_class == "never":
        return max(float(obs[PAD:].max()) * rng.uniform(1.003, 1.1), float(hist[-1]) / rng.uniform(0.03, 0.95))
    if lead_class == "unaimed":
        if kind == "near_full":
            cap = float(hist[-1]) / rng.uniform(0.92, 0.995)
        else:
            cap = p["threshold"] / rng.uniform(0.75, 0.97)
        return max(cap, hist_max * 1.0005)
    if lead_class == "24h":
        lead = int(rng.integers(1, SLOTS_PER_DAY + 1))
    elif lead_class == "4d":
        lead = int(_loguniform(rng, SLOTS_PER_DAY, 4 * SLOTS_PER_DAY)) + 1
    else:
        # Skewed towards the near end (median ~8 d), as storage that fills is usually noticed late.
        lead = int(4 * SLOTS_PER_DAY * 7.5 ** (rng.random() ** 1.6)) + 1
    lead = min(lead, FUTURE)
    p["aimed_lead_h"] = lead / 4
    # Not full during the history: the aim gives way when the future never rises above the past.
    return max(float(np.max(fut[:lead])), hist_max * 1.0001)


def _capacity_history(rng: np.random.Generator, used_hist: np.ndarray, cap_b: int, p: dict[str, Any]) -> np.ndarray:
    """Capacity per history slot: constant, or (a few series) enlarged once when the volume got fuller."""
    capacity = np.full(HISTORY, cap_b, dtype=np.int64)
    p["enlarged"] = False
    if rng.random() < ENLARGED_SHARE:
        at = HISTORY - int(rng.uniform(1, 25) * SLOTS_PER_DAY)
        before = int(used_hist[:at].max() / rng.uniform(0.85, 0.98))
        if before < 0.95 * cap_b:
            capacity[:at] = before
            p["enlarged"] = True
            p["enlarged_days_ago"] = round((HISTORY - at) / SLOTS_PER_DAY, 2)
    return capacity


def _present(rng: np.random.Generator) -> np.ndarray:
    """Which history samples were scraped: random failures, outages up to a day; first and last always."""
    present = np.ones(HISTORY, dtype=bool)
    if rng.random() < 0.5:
        present &= rng.random(HISTORY) >= rng.uniform(0, 0.01)
    if rng.random() < 0.15:
        for _ in range(int(rng.integers(1, 3))):
            length = int(rng.integers(1, SLOTS_PER_DAY + 1))
            first = int(rng.integers(1, HISTORY - length))
            present[first : first + length] = False
    present[[0, -1]] = True
    return present


def make_series(
    seed_seq: np.random.SeedSequence, name: str, calendar: tuple[int, int, list[tuple[int, int]]], mix: Mix
) -> Series:
    """One series from its own seed sequence."""
    rng = np.random.default_rng(seed_seq)
    asof, holiday = _pick_asof(rng, *calendar)
    clock = _Clock.of(asof)
    kinds = list(mix.main_kinds)
    weights = np.array(list(mix.main_kinds.values()))
    kind = str(rng.choice(kinds, p=weights / weights.sum()))
    mixed: list[str] = []
    if kind not in NEVER_KINDS and rng.random() < MIX_SHARE:
        choices = [k for k in MIXABLE if k != kind]
        mixed.append(str(rng.choice(choices)))
    p: dict[str, Any] = {"mixed": mixed, "future": None, "holiday_asof": holiday}
    level = _path(rng, clock, kind, mixed, p, mix)
    if kind not in NEVER_KINDS and rng.random() < FUTURE_SHARE:
        p["future"] = _future_change(rng, clock, level, p)

    # Measurement noise, relative to the level; archived volumes can be exactly constant. The range gives the
    # spread of the public set's 15-minute jitter (robust second differences of the samples, as a share of
    # capacity: 10th / 50th / 90th percentile 1.1e-5 / 8.5e-5 / 6.7e-4 public, 1.0e-5 / 7.4e-5 / 6.9e-4 seed 1).
    sigma = 0.0 if kind == "flat" and rng.random() < 0.4 else _loguniform(rng, 1e-5, 2e-3)
    p["noise_rel"] = float(f"{sigma:.2g}")
    obs = np.maximum(level * (1 + sigma * rng.standard_normal(N_SLOTS)), 1e-6)
    cap = _capacity(rng, kind, obs, p)

    size, p["volume"] = _volume_size(rng)
    scale = size / cap
    used_all = np.rint(obs[PAD:] * scale).astype(np.int64)
    cap_b = round(cap * scale)
    used_hist, used_fut = used_all[:HISTORY], used_all[HISTORY:]
    # The truth is read off the integer continuation, never from the aim.
    full = np.flatnonzero(used_fut >= cap_b)
    exhaustion = asof + SLOT_S * (int(full[0]) + 1) if full.size else None
    capacity = _capacity_history(rng, used_hist, cap_b, p)
    present = _present(rng)
    ts = asof + SLOT_S * (np.arange(HISTORY) - (HISTORY - 1))
    return Series(
        name, ts[present], used_hist[present], capacity[present], asof, exhaustion, kind, _json_clean(p), used_fut
    )


def _json_clean(p: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in p.items()}


def generate(seed: int, count: int, mix: str = "default") -> list[Series]:
    first = int(np.datetime64(ASOF_FIRST, "D").astype(np.int64))
    last = int(np.datetime64(ASOF_LAST, "D").astype(np.int64))
    calendar = (first, last, _holiday_weeks(first - 30, last + 30))
    width = max(4, len(str(count)))
    seqs = np.random.SeedSequence(seed).spawn(count)
    return [make_series(s, f"s{i + 1:0{width}d}", calendar, MIXES[mix]) for i, s in enumerate(seqs)]


def write(series: list[Series], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    for s in series:
        lines.extend(
            f"{s.series},{t},{u},{c}"
            for t, u, c in zip(s.timestamps.tolist(), s.used.tolist(), s.capacity.tolist(), strict=True)
        )
    # mtime 0: the same seed gives the same bytes.
    with (out / "synthetic.csv.gz").open("wb") as raw, gzip.GzipFile("", "wb", 5, raw, mtime=0) as fh:
        fh.write(("\n".join(lines) + "\n").encode())
    with (out / "synthetic_truth.jsonl").open("w") as fh:
        for s in series:
            fh.write(json.dumps({"series": s.series, "asof": s.asof, "exhaustion_at": s.exhaustion_at}) + "\n")
    with (out / "synthetic_kinds.jsonl").open("w") as fh:
        for s in series:
            fh.write(json.dumps({"series": s.series, "kind": s.kind, "params": s.params}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--mix", choices=sorted(MIXES), default="default")
    args = parser.parse_args()
    series = generate(args.seed, args.series, args.mix)
    write(series, args.out)
    leads = np.array([(s.exhaustion_at - s.asof) if s.exhaustion_at else np.inf for s in series])
    n = len(series)
    print(
        f"{n} series, {sum(len(s.timestamps) for s in series):,} rows -> {args.out}; fill within 24 h: "
        f"{np.sum(leads <= 86400)}, 4 d: {np.sum(leads <= 4 * 86400)}, 30 d: {np.sum(np.isfinite(leads))}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
