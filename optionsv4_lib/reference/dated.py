"""The one rule every dated reference table follows: a row is in force from its effective date until the next row
of the same key (lot sizes, freeze quantities, sessions, expiry weekdays, cost rates)."""

from bisect import bisect_right
from collections.abc import Sequence
from datetime import date
from typing import TypeVar

Row = TypeVar("Row", bound=tuple)


def row_in_force(rows: Sequence[Row], day: date) -> Row | None:
    """The row of `rows` (tuples whose first item is the effective date, sorted by it) in force on `day`: the last
    one effective on or before it; None when every row starts later."""
    position = bisect_right(rows, day, key=lambda row: row[0])
    return rows[position - 1] if position else None
