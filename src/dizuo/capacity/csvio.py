"""Read usage series from the benchmark CSV (plain or gzip): ``series,timestamp,used_bytes,capacity_bytes``.

A fast path parses well-formed files with numpy in C; anything it does not accept is re-read row by
row, which either copes (unsorted rows, decimal values) or raises a `UsageCsvError` that names the
file, the line, the column and the bad value.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dizuo.capacity.types import IntArray, UsageHistory

COLUMNS = ("series", "timestamp", "used_bytes", "capacity_bytes")
# Unix seconds from 2000 to 2100: outside it a value is most often milliseconds, or not a time at all.
TIMESTAMP_RANGE = (946_684_800, 4_102_444_800)
# 8 EiB: no volume or pool is larger; beyond it float arithmetic on bytes loses its meaning.
MAX_BYTES = 2.0**63
_GZIP_MAGIC = b"\x1f\x8b"
# The first k bytes of a little-endian word read at an id's offset: _WORD_MASKS[k].
_WORD_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
# Characters of a wrong header, row or cell shown in its error: a file without line breaks is one "line" of megabytes.
SHOWN_CHARS = 200


class UsageCsvError(ValueError):
    """A usage CSV that cannot be read; the message names the file, line, column and value."""


def read_usage_csv(path: Path) -> list[UsageHistory]:
    """All series of a usage CSV, in file order of first appearance, samples oldest first."""
    raw = _read_bytes(path).removeprefix(b"\xef\xbb\xbf")  # the byte-order mark spreadsheet programs write
    newline = raw.find(b"\n")
    _check_header(path, raw if newline < 0 else raw[:newline])
    body = b"" if newline < 0 else raw[newline + 1 :]
    histories = _fast_parse(body)
    if histories is None:
        histories = _slow_parse(path, body)
    if not histories:
        raise UsageCsvError(f"{path}: no samples after the header")
    return histories


def _check_header(path: Path, line: bytes) -> None:
    """UsageCsvError unless ``line`` is the header COLUMNS (cells may be quoted or padded)."""
    try:
        header = line.decode("utf-8").strip()
    except UnicodeDecodeError:
        header = None
    if header is None or "\x00" in header:
        # xz, zstd or zip data, or UTF-16 text (what Windows PowerShell redirects write): no header to show.
        raise UsageCsvError(
            f"{path}:1: not CSV text in UTF-8 (data compressed other than with gzip, or text in UTF-16?): "
            f"expected the header {','.join(COLUMNS)!r}"
        )
    try:
        cells = tuple(part.strip() for part in next(csv.reader([header]), []))
    except csv.Error:  # a carriage return inside the line (old Mac line endings): not this header either
        cells = ()
    if cells != COLUMNS:
        raise UsageCsvError(f"{path}:1: header is {_shown(header)}, expected {','.join(COLUMNS)!r}")


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UsageCsvError(f"{path}: cannot read: {err.strerror or err}") from None
    if raw.startswith(_GZIP_MAGIC):
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise UsageCsvError(f"{path}: broken gzip data: {err}") from None
    return raw


def _fast_parse(body: bytes) -> list[UsageHistory] | None:
    """Parse a clean, sorted, integer-only body; None when anything is unusual."""
    if b'"' in body:  # quoted cells: the csv module reads them, quotes off, as it does every other row
        return None
    if b"\r" in body:
        body = body.replace(b"\r", b"")
    if not body.endswith(b"\n"):
        body += b"\n"
    data = np.frombuffer(body, dtype=np.uint8)
    line_ends = np.flatnonzero(data == ord("\n"))
    commas = np.flatnonzero(data == ord(","))
    per_line = np.diff(np.searchsorted(commas, line_ends), prepend=0)
    if line_ends.size == 0 or (per_line != 3).any():
        return None
    try:
        values = np.loadtxt(io.BytesIO(body), delimiter=",", usecols=(1, 2, 3), dtype=np.int64, ndmin=2)
    except ValueError:
        return None
    starts = np.concatenate([[0], line_ends[:-1] + 1])
    id_ends = commas[0::3]
    lengths = id_ends - starts
    if (lengths <= 0).any() or (series := _series(data, starts, id_ends)) is None:
        return None
    first_rows, names = series
    timestamps, used, capacity = values[:, 0], values[:, 1], values[:, 2]
    bounds = np.append(first_rows, len(values))
    step = np.diff(timestamps)
    same_series = np.ones(len(step), dtype=bool)
    same_series[first_rows[1:] - 1] = False
    sorted_ok = len(set(names)) == len(names) and bool((step[same_series] > 0).all())
    in_range = (timestamps >= TIMESTAMP_RANGE[0]) & (timestamps < TIMESTAMP_RANGE[1])
    if not sorted_ok or not in_range.all() or (used < 0).any() or (capacity <= 0).any():
        return None
    return [
        UsageHistory(
            series=name,
            timestamps=timestamps[a:b].copy(),
            used_bytes=used[a:b].astype(np.float64),
            capacity_bytes=capacity[a:b].astype(np.float64),
        )
        for name, a, b in zip(names, bounds[:-1], bounds[1:], strict=True)
    ]


def _series(data: npt.NDArray[np.uint8], starts: IntArray, id_ends: IntArray) -> tuple[IntArray, list[str]] | None:
    """The first row of each series and its id; None for an id the row-by-row parser must judge (blank, not UTF-8)."""
    lengths = id_ends - starts
    # Rows are sorted by series: a new series starts where the id differs from the row above. Ids are compared 8 bytes
    # at a time (a uint64 read at any byte offset), so memory and time grow with the rows, not rows x id length: a
    # rows x bytes matrix of 1,000 series with 70-character ids took 3.9 GB. Each word read ends at most 7 bytes past
    # an id, inside its row (",timestamp,used,capacity\n"); a file too short for that is not one to read fast.
    if int((starts + (lengths + 7) // 8 * 8).max()) > data.size:
        return None
    words = np.ndarray(shape=(data.size - 7,), dtype="<u8", buffer=data, strides=(1,))
    differs = lengths[1:] != lengths[:-1]
    for offset in range(0, int(lengths.max()), 8):
        # An id shorter than the offset reads some word and keeps none of it (mask 0).
        word = words[np.minimum(starts + offset, words.size - 1)]
        word &= _WORD_MASKS[np.clip(lengths - offset, 0, 8)]
        differs |= word[1:] != word[:-1]
    first_rows = np.concatenate([[0], np.flatnonzero(differs) + 1])
    # The id as written: an opaque string, so " a" and "a" are two series (the truth names them so).
    try:
        names = [data[starts[r] : id_ends[r]].tobytes().decode("utf-8") for r in first_rows]
    except UnicodeDecodeError:
        return None
    return (first_rows, names) if all(name.strip() for name in names) else None


def _slow_parse(path: Path, body: bytes) -> list[UsageHistory]:
    """Row by row: tolerate order and decimals, reject anything else with its location."""
    samples: dict[str, dict[int, tuple[float, float]]] = {}
    for line_no, row in _rows(path, body):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(COLUMNS):
            raise UsageCsvError(f"{path}:{line_no}: {len(row)} columns, expected {len(COLUMNS)}: {_shown(row)}")
        series = row[0]
        if not series.strip():
            raise UsageCsvError(f"{path}:{line_no}: column 'series' is empty")
        stamp = _number(path, line_no, "timestamp", row[1])
        if not TIMESTAMP_RANGE[0] <= stamp < TIMESTAMP_RANGE[1]:
            raise UsageCsvError(
                f"{path}:{line_no}: column 'timestamp' {_shown(row[1])} is not unix seconds between 2000 and 2100"
                " (milliseconds?)"
            )
        if stamp != int(stamp):
            raise UsageCsvError(f"{path}:{line_no}: column 'timestamp' {_shown(row[1])} is not whole seconds")
        used = _number(path, line_no, "used_bytes", row[2])
        capacity = _number(path, line_no, "capacity_bytes", row[3])
        if used < 0:
            raise UsageCsvError(f"{path}:{line_no}: column 'used_bytes' {_shown(row[2])} is negative")
        if capacity <= 0:
            raise UsageCsvError(f"{path}:{line_no}: column 'capacity_bytes' {_shown(row[3])} is not positive")
        for column, value, cell in (("used_bytes", used, row[2]), ("capacity_bytes", capacity, row[3])):
            if _too_large(cell, value):
                raise UsageCsvError(f"{path}:{line_no}: column {column!r} {_shown(cell)} is 2^63 bytes or more")
        # A repeated timestamp keeps the later row, as a re-scrape would.
        samples.setdefault(series, {})[int(stamp)] = (used, capacity)
    histories = []
    for series, by_time in samples.items():
        stamps = sorted(by_time)
        histories.append(
            UsageHistory(
                series=series,
                timestamps=np.array(stamps, dtype=np.int64),
                used_bytes=np.array([by_time[s][0] for s in stamps], dtype=np.float64),
                capacity_bytes=np.array([by_time[s][1] for s in stamps], dtype=np.float64),
            )
        )
    return histories


def _too_large(cell: str, value: float) -> bool:
    """Whether a byte count is 2^63 or more, as the fast path's int64 cannot hold it. Decided on the exact number:
    ``float`` rounds 2^63 - 1 (the largest int64, which the fast path reads) up to 2^63."""
    if value < MAX_BYTES:
        return False
    try:
        return Decimal(cell.strip()) >= 2**63
    except InvalidOperation:
        return True


def _gbk_hint(body: bytes) -> str:
    """Where the text reads as GBK: Excel on a Chinese Windows saves "CSV" in it (its "CSV UTF-8" is another type)."""
    try:
        body.decode("gb18030")
    except UnicodeDecodeError:
        return ""
    return "; it reads as GBK (GB18030), as Excel on a Chinese Windows saves CSV: save it as CSV UTF-8"


def _rows(path: Path, body: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        line_no = body[: err.start].count(b"\n") + 2
        raise UsageCsvError(f"{path}:{line_no}: not UTF-8 text{_gbk_hint(body)}") from None
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            yield reader.line_num + 1, row  # +1: the header line was cut off
    except csv.Error as err:
        raise UsageCsvError(f"{path}:{reader.line_num + 1}: {err}") from None


def _shown(value: str | list[str]) -> str:
    """A header or cell quoted, a row as its list, cut after SHOWN_CHARS characters."""
    if isinstance(value, list):
        text = repr(value)
        return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}..."
    return repr(value if len(value) <= SHOWN_CHARS else f"{value[:SHOWN_CHARS]}...")


def _number(path: Path, line_no: int, column: str, cell: str) -> float:
    try:
        value = float(cell.strip())
    except ValueError:
        raise UsageCsvError(f"{path}:{line_no}: column {column!r} {_shown(cell)} is not a number") from None
    if not math.isfinite(value):
        raise UsageCsvError(f"{path}:{line_no}: column {column!r} {_shown(cell)} is not a finite number")
    return value
