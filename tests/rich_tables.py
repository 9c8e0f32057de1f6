"""Reading a table rich printed: what a user sees in each cell, however rich wrapped or folded it."""

from __future__ import annotations


def table_cells(printed: str) -> list[list[str]]:
    """The rows of a rich table as printed, each cell's lines joined (a wrap's space is lost): a row starts on a line
    whose first cell is filled."""
    rows: list[list[str]] = []
    for line in printed.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if not cells:
            continue
        if cells[0]:
            rows.append(cells)
        elif rows:
            rows[-1] = [joined + more for joined, more in zip(rows[-1], cells, strict=True)]
    return rows
