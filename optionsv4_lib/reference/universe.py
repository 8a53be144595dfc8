"""The bundled reference data in include/data/: the F&O universe and the index ids.

Provenance of every column: /work/shared/data/sources.md (lot sizes from NSE's market-lot file, security ids from
Dhan's instrument master, approx_price_inr and strike_step approximate, for synthetic data only). lot_size is the
symbol's current lot (NSE's 2026-08-01 file), kept for reference and the old system's stock_mappings: lots belong to
contracts, and everything that trades or sizes takes reference.lot_sizes (by expiry) or its source's lot.
"""

import functools
from pathlib import Path

import pandas as pd

from optionsv4_lib.core.errors import DataError
from optionsv4_lib.core.frames import Column, conform
from optionsv4_lib.core.paths import DATA_DIR

UNIVERSE_FILE = DATA_DIR / "universe.csv"
INDEX_IDS_FILE = DATA_DIR / "index_ids.csv"

_FIRST_DATA_LINE = 2  # line 1 of a CSV is its header

UNIVERSE: tuple[Column, ...] = (
    Column("symbol", "string", "", "F&O symbol"),
    Column("name", "string", "", "company or index name"),
    Column("sector", "string", "", "NSE sector (Index for indices)"),
    Column("industry", "string", "", "industry within the sector"),
    Column("lot_size", "int64", "units", "current F&O market lot (2026-08-01 file), reference only: contracts take "
           "reference.lot_sizes"),
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


@functools.cache
def _universe(path: Path) -> pd.DataFrame:
    frame = read_reference_csv(path)
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
    frame = read_reference_csv(path)
    try:
        return frame.astype({"index_name": "string", "fo_symbol": "string", "dhan_security_id": "int64",
                             "dhan_segment": "string", "fo_lot_size": "Int64"})
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: unexpected columns or values: {exc}") from exc


def read_reference_csv(path: Path) -> pd.DataFrame:
    """A bundled reference CSV; DataError naming the file when it is missing."""
    try:
        return pd.read_csv(path, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: reference file not found") from exc
