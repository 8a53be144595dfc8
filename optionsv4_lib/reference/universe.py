"""The bundled reference data in include/data/: the F&O universe, the index ids and the quantity freeze.

Provenance of every column: /work/shared/data/sources.md (lot sizes from NSE's market-lot file, security ids from
Dhan's instrument master, approx_price_inr and strike_step approximate, for synthetic data only) and the `source`
column of freeze_quantities.csv (index limits from NSE circulars; stock limits derived, to be replaced by NSE's
qtyfreeze file).
"""

import functools
from datetime import date
from pathlib import Path

import pandas as pd

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.frames import Column, conform
from optionsv4_lib.core.paths import DATA_DIR
from optionsv4_lib.reference.dated import row_in_force

UNIVERSE_FILE = DATA_DIR / "universe.csv"
INDEX_IDS_FILE = DATA_DIR / "index_ids.csv"
FREEZE_FILE = DATA_DIR / "freeze_quantities.csv"

_FIRST_DATA_LINE = 2  # line 1 of a CSV is its header

UNIVERSE: tuple[Column, ...] = (
    Column("symbol", "string", "", "F&O symbol"),
    Column("name", "string", "", "company or index name"),
    Column("sector", "string", "", "NSE sector (Index for indices)"),
    Column("industry", "string", "", "industry within the sector"),
    Column("lot_size", "int64", "units", "F&O market lot"),
    Column("dhan_security_id", "int64", "", "Dhan security id of the underlying"),
    Column("underlying_segment", "string", "", "Dhan exchange segment of the underlying: IDX_I or NSE_EQ"),
    Column("approx_price_inr", "float64", "₹", "approximate price level (synthetic data only)"),
    Column("strike_step", "float64", "₹", "strike interval near the money"),
)


def load_universe(path: Path = UNIVERSE_FILE) -> pd.DataFrame:
    """The F&O universe as UNIVERSE, one row per symbol, in file order (a fresh copy on every call).

    Raises DataError naming the file and line for a missing file, a missing lot size or a duplicate symbol.
    """
    return _universe(Path(path)).copy()


def index_ids(path: Path = INDEX_IDS_FILE) -> pd.DataFrame:
    """index_ids.csv as a frame: index_name, fo_symbol (<NA> for INDIA VIX), dhan_security_id, fo_lot_size, ..."""
    return _index_ids(Path(path)).copy()


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
    frame = _read(path)
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


@functools.cache
def _universe(path: Path) -> pd.DataFrame:
    frame = _read(path)
    for column in ("symbol", "lot_size"):
        if column not in frame.columns:
            raise DataError(f"{path}: missing column {column!r}")
    missing_lot = frame.index[frame["lot_size"].isna()]
    if len(missing_lot):
        lines = ", ".join(f"line {i + _FIRST_DATA_LINE} ({frame.at[i, 'symbol']})" for i in missing_lot)
        raise DataError(f"{path}: missing lot_size at {lines}")
    duplicated = frame.index[frame["symbol"].duplicated(keep=False)]
    if len(duplicated):
        lines = ", ".join(f"line {i + _FIRST_DATA_LINE} ({frame.at[i, 'symbol']})" for i in duplicated)
        raise DataError(f"{path}: duplicate symbol at {lines}")
    return conform(frame, UNIVERSE, str(path))


@functools.cache
def _index_ids(path: Path) -> pd.DataFrame:
    frame = _read(path)
    try:
        return frame.astype({"index_name": "string", "fo_symbol": "string", "dhan_security_id": "int64",
                             "dhan_segment": "string", "fo_lot_size": "Int64"})
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: unexpected columns or values: {exc}") from exc


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: reference file not found") from exc
