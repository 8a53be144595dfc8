"""NSE's quantity freeze per F&O symbol (include/data/freeze_quantities.csv, dated; the `source` column says where
each row comes from: index limits from NSE circulars, stock limits derived, to be replaced by NSE's qtyfreeze file)."""

import functools
from datetime import date
from pathlib import Path

import pandas as pd

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.paths import DATA_DIR
from optionsv4_lib.reference.dated import row_in_force
from optionsv4_lib.reference.universe import read_reference_csv

FREEZE_FILE = DATA_DIR / "freeze_quantities.csv"

_FIRST_DATA_LINE = 2  # line 1 of a CSV is its header


def freeze_quantity(symbol: str, day: date, path: Path = FREEZE_FILE) -> int:
    """Units: the most one order of `symbol`'s F&O contracts may carry on `day` (NSE's quantity freeze; a larger
    order is rejected), from the row of freeze_quantities.csv in force then (the latest effective_from ≤ day).

    Raises DataError naming the file for a symbol it does not list or a day before the symbol's first row.
    """
    if not isinstance(day, date):
        raise InputError(f"day: expected a date, got {day!r}")
    path = Path(path)
    rows = _freeze_table(path).get(symbol)
    if not rows:
        raise DataError(f"{path}: no freeze quantity for {symbol!r}")
    in_force = row_in_force(rows, day)
    if in_force is None:
        raise DataError(f"{path}: no freeze quantity for {symbol} in force on {day} (its first row is from "
                        f"{rows[0][0]})")
    return in_force[1]


@functools.cache
def _freeze_table(path: Path) -> dict[str, list[tuple[date, int]]]:
    """symbol → [(effective_from, freeze_qty units)] by date; DataError naming the line and column of a bad row."""
    frame = read_reference_csv(path)
    missing = [c for c in ("symbol", "freeze_qty", "effective_from", "source") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    table: dict[str, list[tuple[date, int]]] = {}
    for i, row in enumerate(frame.itertuples(index=False), start=_FIRST_DATA_LINE):
        where = f"{path} line {i}"
        try:
            effective = date.fromisoformat(str(row.effective_from).strip())
        except ValueError:
            raise DataError(f"{where}: effective_from {row.effective_from!r} is not a YYYY-MM-DD date") from None
        units = pd.to_numeric(row.freeze_qty, errors="coerce")
        if not (pd.notna(units) and units == int(units) and units > 0):
            raise DataError(f"{where}: freeze_qty {row.freeze_qty!r} is not a whole number of units > 0")
        if pd.isna(row.symbol) or pd.isna(row.source) or not str(row.source).strip():
            raise DataError(f"{where}: symbol and source are required")
        entries = table.setdefault(str(row.symbol).strip(), [])
        if any(existing == effective for existing, _ in entries):
            raise DataError(f"{where}: a second freeze_qty for {row.symbol} from {effective}")
        entries.append((effective, int(units)))
    return {symbol: sorted(entries) for symbol, entries in table.items()}
