"""SPAN-style margin parameters per F&O symbol (include/data/margin_parameters.csv, dated, each row with its source).

A symbol without a row of its own takes its class default: the rows `*INDEX` (index derivatives) and `*STOCK`
(stock derivatives), marked CLASS DEFAULT in their source. Every rate is a decimal share: price_scan of the
underlying price, volatility_scan in absolute vol (0.04 = ±4 vol points), exposure and the extra expiry-day exposure
of the notional (underlying price × units), calendar_spread of the far-month contract value, short_option_minimum
of the notional of short options. extreme_move is a multiple of the price scan range, extreme_weight the share of
that scenario's loss counted (NSE: 2 × PSR at 35 %).
"""

import functools
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.paths import DATA_DIR
from optionsv4_lib.reference.dated import row_in_force
from optionsv4_lib.reference.universe import read_reference_csv

MARGIN_FILE = DATA_DIR / "margin_parameters.csv"
INDEX_CLASS, STOCK_CLASS = "*INDEX", "*STOCK"

RATES = ("price_scan", "volatility_scan", "extreme_move", "extreme_weight", "short_option_minimum", "exposure",
         "expiry_day_exposure", "calendar_spread")
_BOUNDS = {  # column → (low, high), both inclusive: what a rate can sensibly be
    "price_scan": (0.001, 1.0), "volatility_scan": (0.0, 1.0), "extreme_move": (1.0, 10.0),
    "extreme_weight": (0.0, 1.0), "short_option_minimum": (0.0, 1.0), "exposure": (0.0, 1.0),
    "expiry_day_exposure": (0.0, 1.0), "calendar_spread": (0.0, 1.0),
}
_FIRST_DATA_LINE = 2  # line 1 of a CSV is its header


@dataclass(frozen=True)
class MarginParameters:
    """One symbol's margin parameters on one day (decimal shares; see the module docstring)."""

    symbol: str
    effective_from: date
    price_scan: float
    volatility_scan: float
    extreme_move: float
    extreme_weight: float
    short_option_minimum: float
    exposure: float
    expiry_day_exposure: float
    calendar_spread: float
    source: str
    class_default: bool  # True: the symbol has no row of its own; its class's row applies


def margin_parameters(symbol: str, day: date, *, index: bool, path: Path = MARGIN_FILE) -> MarginParameters:
    """The parameters of `symbol` in force on `day`: its own row (latest effective_from ≤ day), else the row of its
    class (`index`: an index derivative, else a stock derivative). DataError naming the file when neither exists."""
    if not isinstance(day, date):
        raise InputError(f"day: expected a date, got {day!r}")
    path = Path(path)
    table = _margin_table(path)
    own = row_in_force(table.get(symbol, []), day)
    if own is not None:
        return MarginParameters(symbol, *own, class_default=False)
    klass = INDEX_CLASS if index else STOCK_CLASS
    default = row_in_force(table.get(klass, []), day)
    if default is None:
        raise DataError(f"{path}: no margin parameters for {symbol} or its class {klass} in force on {day}")
    return MarginParameters(symbol, *default, class_default=True)


@functools.cache
def _margin_table(path: Path) -> dict[str, list[tuple]]:
    """symbol → [(effective_from, *RATES, source)] by date; DataError naming the line and column of a bad row."""
    frame = read_reference_csv(path)
    missing = [c for c in ("symbol", "effective_from", *RATES, "source") if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    table: dict[str, list[tuple]] = {}
    for i, row in enumerate(frame.to_dict("records"), start=_FIRST_DATA_LINE):
        where = f"{path} line {i}"
        if pd.isna(row["symbol"]) or pd.isna(row["source"]) or not str(row["source"]).strip():
            raise DataError(f"{where}: symbol and source are required")
        try:
            effective = date.fromisoformat(str(row["effective_from"]).strip())
        except ValueError:
            raise DataError(f"{where}: effective_from {row['effective_from']!r} is not a YYYY-MM-DD date") from None
        rates = []
        for column in RATES:
            value, (low, high) = pd.to_numeric(row[column], errors="coerce"), _BOUNDS[column]
            if not (pd.notna(value) and low <= value <= high):
                raise DataError(f"{where}: {column} {row[column]!r} is not a number in [{low:g}, {high:g}]")
            rates.append(float(value))
        entries = table.setdefault(str(row["symbol"]).strip(), [])
        if any(existing[0] == effective for existing in entries):
            raise DataError(f"{where}: a second row for {row['symbol']} from {effective}")
        entries.append((effective, *rates, str(row["source"]).strip()))
    return {symbol: sorted(entries, key=lambda entry: entry[0]) for symbol, entries in table.items()}
