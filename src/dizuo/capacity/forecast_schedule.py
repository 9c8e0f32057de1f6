"""Weekly cleanups at a fixed hour: taken out of the history the growth is read from, put back on the path ahead.

A job that frees space once a week at the same hour (a weekly retention run, a Friday purge) turns every seventh
change of the daily peak into a fall. The daily model reads those falls as one-off steps or, where they land on
days off (two weeks hold only four of them), as what days off do. Public p0294 grows 2.8 % of its capacity a day,
every day, and is cleaned every Friday at 01:15: its days off were read as shrinking, its growth as 2.3 %/day on
working days only, and its fill on the Wednesday, before the next Friday, forecast 24 h late. Nor does the
model know when the next cleanup is due, only, through its repeated-cleanup ceiling, the level cleanups start
from.

Where the last falls of a history came exactly a week apart (MIN_FALLS of them in a row, the last within a week
of asof, each leaving the volume below where it stood a day before: a cleanup, not a weekly backup freed hours
after it was written), those falls are added back to every sample after them, so the model reads the growth
between cleanups; and the first passage counts the cleanups still due: at each, the headroom grows by the size of
the last one. A run that came at the schedule's hour but freed less than a fall (public p0082: 8-10 % three Fridays
running, then 1 %) is the chain's last run, at its size: taken as no run, it left the schedule unseen and the
falls read as what days off do (forecast 65 h, truth 50.75 h).
Everything is [series, ...] arrays; the falls of all series are handled together, never one series at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dizuo.capacity.types import FloatArray, IntArray

# A week of 15-minute slots, and how far (two slots: half an hour) a run may start from the week before's hour.
DAY_SLOTS = 96
PERIOD_SLOTS = 7 * DAY_SLOTS
TOLERANCE_SLOTS = 2
# Falls in a row a week apart before they are a schedule: three, two weeks of the history agreeing (two falls
# a week apart could be chance, e.g. two threshold cleanups of a steady grower).
MIN_FALLS = 3


@dataclass(frozen=True, kw_only=True, slots=True)
class WeeklyCleanups:
    """The weekly cleanups found in a batch; series without one have ``next_step`` inf and nothing added."""

    used: FloatArray  # [series, column] the samples with the scheduled falls added back (the input where none)
    added: FloatArray  # [series] bytes added back at asof: the scheduled falls of the history together
    next_step: FloatArray  # [series] slots from the asof slot to the next cleanup due; inf where there is none
    size: FloatArray  # [series] bytes each cleanup ahead frees: the last one's size; 0 where there is none

    @property
    def scheduled(self) -> npt.NDArray[np.bool_]:
        """[series] a weekly cleanup was found."""
        return np.isfinite(self.next_step)

    def freed_by(self, series: IntArray, steps: IntArray) -> FloatArray:
        """[pair, step] bytes the cleanups due from asof up to ``steps`` slots after it free, for ``series[k]``."""
        first = self.next_step[series, None]
        with np.errstate(invalid="ignore"):  # inf - inf where none is due: none counted there
            due = np.where(steps >= first, np.floor((steps - first) / PERIOD_SLOTS) + 1, 0.0)
        freed: FloatArray = due * self.size[series, None]
        return freed


def weekly_cleanups(used: FloatArray, capacity: FloatArray, asof_column: IntArray, drop: float) -> WeeklyCleanups:
    """Find each series' weekly cleanup, if any, in ``used`` [series, column] (NaN where a sample is missing).

    A fall is a run of slot-to-slot drops each of more than ``drop`` times the capacity; its size is the drop from
    the slot before the run to the slot after it; only a fall to below the level of a day before (by half of
    ``drop`` or more) is a cleanup, not a backup freed. A series has a weekly cleanup when its last MIN_FALLS falls or
    more each started within TOLERANCE_SLOTS of a week after the one before, the last no more than a week (and
    the tolerance) before ``asof_column``; the last may be a light run (``_light_runs``).
    """
    n = used.shape[0]
    none = WeeklyCleanups(used=used, added=np.zeros(n), next_step=np.full(n, np.inf), size=np.zeros(n))
    falling = np.diff(used, axis=1) < -drop * capacity[:, None]
    starts = falling.copy()
    starts[:, 1:] &= ~falling[:, :-1]
    ends = falling.copy()
    ends[:, :-1] &= ~falling[:, 1:]
    # Both in row-major order, so the k-th start and the k-th end are one run.
    rows, first = np.nonzero(starts)
    _, last = np.nonzero(ends)
    size = used[rows, first] - used[rows, last + 1]
    # A cleanup takes the volume below where it stood a day before the fall (it frees more than a day's writes); a
    # backup freed hours after it was written (a weekly full backup) leaves it at that level or above, by the day's
    # growth. Only cleanups make a schedule; half a fall's threshold of margin keeps noise on a flat volume out.
    day_before = used[rows, np.maximum(first - DAY_SLOTS, 0)]
    freed_spike = used[rows, last + 1] >= day_before - drop / 2 * capacity[rows]
    rows, first, last, size = rows[~freed_spike], first[~freed_spike], last[~freed_spike], size[~freed_spike]
    count = len(rows)
    if not count:
        return none
    week_after = np.zeros(count, dtype=bool)
    week_after[1:] = (rows[1:] == rows[:-1]) & (np.abs(np.diff(first) - PERIOD_SLOTS) <= TOLERANCE_SLOTS)
    # Each fall's chain head: the latest fall at or before it that did not come a week after the one before.
    index = np.arange(count)
    head = np.maximum.accumulate(np.where(week_after, -1, index))
    row_last = np.ones(count, dtype=bool)
    row_last[:-1] = rows[1:] != rows[:-1]
    last_fall = np.full(n, -1)
    last_fall[rows[row_last]] = index[row_last]
    has_falls = last_fall >= 0
    chain_head = np.where(has_falls, head[np.maximum(last_fall, 0)], 0)
    chain_length = np.where(has_falls, last_fall - chain_head + 1, 0)
    # The fall shows in column first + 1 (the first sample after the first drop).
    last_column = np.where(has_falls, first[np.maximum(last_fall, 0)] + 1, 0)
    # A chain whose run a week after its last fall freed less than a fall ends with that run.
    light_column, light_size = _light_runs(used, asof_column, last_column, chain_length)
    light = light_size > 0
    last_column = np.where(light, light_column, last_column)
    scheduled = (chain_length >= MIN_FALLS) & (asof_column - last_column <= PERIOD_SLOTS + TOLERANCE_SLOTS)
    if not scheduled.any():
        return none
    member = scheduled[rows] & (head == chain_head[rows])
    # Added back to every sample after each scheduled fall: a running sum of the falls along each row.
    back = np.zeros_like(used)
    np.add.at(back, (rows[member], last[member] + 1), size[member])
    back[light, light_column[light]] += light_size[light]
    added = np.bincount(rows[member], weights=size[member], minlength=n).astype(np.float64) + light_size
    # The next cleanup due: whole weeks after the last one, the first after the asof slot.
    weeks = (asof_column - last_column) // PERIOD_SLOTS + 1
    next_step = np.where(scheduled, last_column + weeks * PERIOD_SLOTS - asof_column, np.inf)
    size_ahead = np.zeros(n)
    size_ahead[rows[member & row_last]] = size[member & row_last]
    size_ahead = np.where(light, light_size, size_ahead)
    return WeeklyCleanups(
        used=used + np.cumsum(back, axis=1), added=added, next_step=next_step.astype(np.float64), size=size_ahead
    )


def _light_runs(
    used: FloatArray, asof_column: IntArray, last_column: IntArray, chain_length: IntArray
) -> tuple[IntArray, FloatArray]:
    """[series] the column and size of the run due a week after a chain's last fall, where it came (usage fell
    within TOLERANCE_SLOTS of its slot, to below the sample before) but freed less than a fall: a light week of the
    same job. Size 0 where there is none, or where the chain is too short or the run is not yet due or a week past.

    Its size is the window's slot-to-slot drops together, as a fall's is; it shows at the steepest one. The cleanups
    ahead are expected to free as little (the last run's size, as for any schedule): the earlier forecast while it
    is unknown whether the job frees less from now on.
    """
    n = used.shape[0]
    rows = np.arange(n)
    due = last_column + PERIOD_SLOTS
    candidate = (chain_length >= MIN_FALLS) & (due + TOLERANCE_SLOTS <= asof_column)
    candidate &= asof_column - last_column <= 2 * PERIOD_SLOTS + TOLERANCE_SLOTS
    window = np.clip(due[:, None] + np.arange(-TOLERANCE_SLOTS, TOLERANCE_SLOTS + 1)[None, :], 1, used.shape[1] - 1)
    inside = used[rows[:, None], window]
    steps = np.nan_to_num(inside - used[rows[:, None], window - 1])  # a missing sample: no step seen there
    fell = -np.minimum(steps, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore"):  # a window without samples: NaN, no run seen
        below = np.fmin.reduce(inside, axis=1) < used[rows, window[:, 0] - 1]
    ok = candidate & below & (fell > 0)
    steepest = window[rows, np.argmin(steps, axis=1)]
    return np.where(ok, steepest, 0), np.where(ok, fell, 0.0)
