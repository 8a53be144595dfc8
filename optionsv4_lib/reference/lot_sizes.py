"""NSE's market lot per F&O contract (include/data/lot_sizes.csv).

A lot belongs to a contract, not to a symbol: NSE revises lots for contracts listed after a circular, so around a
revision two lots trade side by side (on 24-Jan-2025 the NIFTY 30-Jan-2025 contract traded in 25s and every later
expiry in 75s). The table therefore gives a symbol's lot by the contract's EXPIRY: each row holds for expiries from
`expiry_from` to `expiry_to` (inclusive; empty = open-ended), with its `source` and a `status` (official / derived /
unverified, like the freeze file). A source that knows a contract's lot (Dhan's scrip master `SEM_LOT_UNITS`, the
bhavcopy's `NewBrdLotQty`) wins over the table: `fill_lot_sizes` only fills what the source left missing.
"""

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.paths import DATA_DIR
from optionsv4_lib.reference.universe import read_reference_csv

LOT_SIZES_FILE = DATA_DIR / "lot_sizes.csv"
STATUSES = ("official", "derived", "unverified")

_FIRST_DATA_LINE = 2  # line 1 of a CSV is its header
_OPEN_END = np.datetime64("9999-12-31", "D")


@functools.cache
def _table(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """symbol → (expiry_from, expiry_to, lot) arrays sorted by expiry_from, contiguous and non-overlapping.

    DataError naming the file and line of a missing column, a bad date or number, an unknown status, an overlap or a
    gap between a symbol's rows.
    """
    frame = read_reference_csv(path)
    missing = [c for c in ("symbol", "lot_size", "expiry_from", "expiry_to", "status", "source") if c not in frame]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    rows: dict[str, list[tuple[np.datetime64, np.datetime64, int, int]]] = {}
    for line, row in enumerate(frame.itertuples(index=False), start=_FIRST_DATA_LINE):
        where = f"{path} line {line}"
        if pd.isna(row.symbol) or not str(row.symbol).strip():
            raise DataError(f"{where}: symbol is required")
        if pd.isna(row.source) or not str(row.source).strip():
            raise DataError(f"{where}: source is required")
        if row.status not in STATUSES:
            raise DataError(f"{where}: status {row.status!r} is not one of {', '.join(STATUSES)}")
        lot = pd.to_numeric(row.lot_size, errors="coerce")
        if not (pd.notna(lot) and lot == int(lot) and lot > 0):
            raise DataError(f"{where}: lot_size {row.lot_size!r} is not a whole number of units > 0")
        start = _day(row.expiry_from, "expiry_from", where)
        end = _OPEN_END if pd.isna(row.expiry_to) else _day(row.expiry_to, "expiry_to", where)
        if end < start:
            raise DataError(f"{where}: expiry_to {end} is before expiry_from {start}")
        rows.setdefault(str(row.symbol).strip(), []).append((start, end, int(lot), line))
    table = {}
    for symbol, entries in rows.items():
        entries.sort()
        for (_, end, _, line), (start, _, _, next_line) in zip(entries, entries[1:]):
            if start <= end:
                raise DataError(f"{path} lines {line} and {next_line}: {symbol} expiries overlap (to {end}, "
                                f"from {start})")
            if start != end + 1:
                raise DataError(f"{path} lines {line} and {next_line}: {symbol} has no lot for expiries "
                                f"{end + 1} to {start - 1}")
        table[symbol] = tuple(np.array([e[i] for e in entries]) for i in range(3))
    return table


def _day(value, column: str, where: str) -> np.datetime64:
    try:
        return np.datetime64(pd.Timestamp(str(value).strip()).date(), "D")
    except ValueError:
        raise DataError(f"{where}: {column} {value!r} is not a YYYY-MM-DD date") from None


def lot_sizes(symbols, expiries, path: Path = LOT_SIZES_FILE) -> np.ndarray:
    """Units per lot (int64) of each contract (symbols[i], expiries[i]) — a scalar symbol applies to every expiry —
    from the table row covering the expiry.

    Raises DataError naming the file, symbol and expiry for a contract the table does not cover.
    """
    days = np.atleast_1d(np.asarray(pd.to_datetime(np.atleast_1d(expiries)), dtype="datetime64[D]"))
    names = np.broadcast_to(np.asarray(symbols, dtype=object), days.shape)
    if np.isnat(days).any():
        raise InputError("expiries: every contract needs an expiry date")
    table, out = _table(Path(path)), np.zeros(days.shape, dtype=np.int64)
    for symbol in pd.unique(names):
        where = names == symbol
        if symbol not in table:
            raise DataError(f"{path}: no lot size for {symbol!r}")
        start, end, lot = table[symbol]
        row = np.searchsorted(start, days[where], side="right") - 1
        covered = (row >= 0) & (days[where] <= end[np.maximum(row, 0)])
        if not covered.all():
            raise DataError(f"{path}: no lot size for {symbol} contracts expiring {days[where][~covered][0]} "
                            f"(rows cover {start[0]} to {'open end' if end[-1] == _OPEN_END else end[-1]})")
        out[where] = lot[row]
    return out


def fill_lot_sizes(chain: pd.DataFrame, path: Path = LOT_SIZES_FILE) -> pd.DataFrame:
    """A copy of `chain` (columns symbol, expiry and optionally lot_size) whose lot_size (Int64, units) is the
    source's where it gave one and the table's where it is missing.

    Raises DataError for a lot the source gave that is not a whole number ≥ 1, or a contract the table does not cover.
    """
    out = chain.copy()
    given = out["lot_size"] if "lot_size" in out else pd.Series(pd.NA, index=out.index, dtype="Int64")
    given = pd.to_numeric(given, errors="coerce")
    bad = given.notna() & ((given < 1) | (given != given.round()))
    if bad.any():
        first = out.loc[bad].iloc[0]
        raise DataError(f"{first['symbol']}: invalid lot size {given[bad].iloc[0]} for the contract expiring "
                        f"{pd.Timestamp(first['expiry']).date()} in the chain")
    missing = given.isna().to_numpy()
    lots = given.astype("Int64")
    if missing.any():
        lots[missing] = lot_sizes(out["symbol"].to_numpy()[missing], out["expiry"].to_numpy()[missing], path)
    out["lot_size"] = lots
    return out
