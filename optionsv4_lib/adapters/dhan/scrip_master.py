"""Dhan's instrument master (scrip master) read from a file or URL and imported into the `instruments` table.

Both published CSVs are read, by column name (the column order and the detailed file's trailing columns vary):
- compact, https://images.dhan.co/api-data/api-scrip-master.csv: SEM_* columns; it has no underlying column, so
  the underlying of a derivative is its trading symbol up to the "-MonYYYY-" part (NIFTY-Oct2024-25800-CE → NIFTY,
  BAJAJ-AUTO-Dec2026-9000-CE → BAJAJ-AUTO); for cash and index rows it is the trading symbol itself;
- detailed, https://images.dhan.co/api-data/api-scrip-master-detailed.csv: UNDERLYING_SYMBOL and
  UNDERLYING_SECURITY_ID are given; SYMBOL_NAME is the trading symbol of derivatives and the company name otherwise.
Strikes of non-options (−0.01, 0 or blank) and option type XX are stored as NULL; expiry dates keep their date part
(blank and 0001-01-01 are NULL).
"""

import io
import logging
import re
import urllib.request
from pathlib import Path

import pandas as pd

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.store.db import mask_url
from optionsv4_lib.store.instruments import COLUMNS, replace_instruments

log = logging.getLogger(__name__)

COMPACT_URL = "https://images.dhan.co/api-data/api-scrip-master.csv"
DETAILED_URL = "https://images.dhan.co/api-data/api-scrip-master-detailed.csv"

_COMPACT = {
    "SEM_EXM_EXCH_ID": "exchange", "SEM_SEGMENT": "segment", "SEM_SMST_SECURITY_ID": "security_id",
    "SEM_INSTRUMENT_NAME": "instrument", "SEM_TRADING_SYMBOL": "trading_symbol", "SEM_LOT_UNITS": "lot_size",
    "SEM_CUSTOM_SYMBOL": "display_name", "SEM_EXPIRY_DATE": "expiry_date", "SEM_STRIKE_PRICE": "strike",
    "SEM_OPTION_TYPE": "option_type", "SEM_TICK_SIZE": "tick_size", "SEM_EXPIRY_FLAG": "expiry_flag",
    "SEM_EXCH_INSTRUMENT_TYPE": "instrument_type", "SEM_SERIES": "series", "SM_SYMBOL_NAME": "symbol_name",
}
_DETAILED = {
    "EXCH_ID": "exchange", "SEGMENT": "segment", "SECURITY_ID": "security_id", "ISIN": "isin",
    "INSTRUMENT": "instrument", "UNDERLYING_SECURITY_ID": "underlying_security_id",
    "UNDERLYING_SYMBOL": "underlying_symbol", "SYMBOL_NAME": "symbol_name", "DISPLAY_NAME": "display_name",
    "INSTRUMENT_TYPE": "instrument_type", "SERIES": "series", "LOT_SIZE": "lot_size", "SM_EXPIRY_DATE": "expiry_date",
    "STRIKE_PRICE": "strike", "OPTION_TYPE": "option_type", "TICK_SIZE": "tick_size", "EXPIRY_FLAG": "expiry_flag",
}
_REQUIRED = ("exchange", "segment", "security_id", "instrument")
_API_SEGMENT = {("NSE", "E"): "NSE_EQ", ("NSE", "D"): "NSE_FNO", ("NSE", "C"): "NSE_CURRENCY", ("NSE", "I"): "IDX_I",
                ("BSE", "E"): "BSE_EQ", ("BSE", "D"): "BSE_FNO", ("BSE", "C"): "BSE_CURRENCY", ("BSE", "I"): "IDX_I",
                ("MCX", "M"): "MCX_COMM"}
_DERIVATIVE_UNDERLYING = re.compile(r"^(.+?)-\d{0,2}[A-Z][a-z]{2}\d{4}-")
_DOWNLOAD_TIMEOUT = 120  # seconds


def read_scrip_master(path_or_url: str | Path) -> pd.DataFrame:
    """The compact or detailed scrip master (a file path or an http(s) URL) as a frame of COLUMNS.

    Raises InputError for an unreadable file or one that is neither format, DataError for a failed download.
    """
    raw = pd.read_csv(_open(path_or_url), dtype=str, keep_default_na=False, skipinitialspace=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    if "SEM_SMST_SECURITY_ID" in raw.columns:
        source, mapping = "compact", _COMPACT
    elif {"SECURITY_ID", "UNDERLYING_SYMBOL"} <= set(raw.columns):
        source, mapping = "detailed", _DETAILED
    else:
        raise InputError(f"{path_or_url}: not a Dhan scrip master (no SEM_SMST_SECURITY_ID or SECURITY_ID column)")
    frame = raw.loc[:, [c for c in mapping if c in raw.columns]].rename(columns=mapping)
    frame = frame.apply(lambda column: column.str.strip()).replace({"": None, "NA": None})
    missing = [c for c in _REQUIRED if c not in frame.columns or frame[c].isna().any()]
    if missing:
        raise InputError(f"{path_or_url}: column {missing[0]!r} is missing or has empty cells")
    frame = frame.reindex(columns=COLUMNS)
    frame["source"] = source
    return _normalise(frame, source, str(path_or_url))


def import_scrip_master(conn, path_or_url: str | Path) -> int:
    """Read a scrip master and replace the `instruments` rows of its exchange segments. Returns the rows stored."""
    return replace_instruments(conn, read_scrip_master(path_or_url), mask_url(str(path_or_url)))


def _open(path_or_url: str | Path):
    text = str(path_or_url)
    if text.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(text, timeout=_DOWNLOAD_TIMEOUT) as response:
                return io.BytesIO(response.read())
        except OSError as exc:
            raise DataError(f"{mask_url(text)}: download failed: {exc}") from None
    if not Path(text).is_file():
        raise InputError(f"{text}: scrip master file not found")
    return text


def _normalise(frame: pd.DataFrame, source: str, what: str) -> pd.DataFrame:
    """Types and NULLs as the instruments table wants them; derived exchange_segment and underlying_symbol."""
    for column in ("security_id", "underlying_security_id"):
        frame[column] = _numbers(frame[column], what, column).astype("Int64")
    for column in ("lot_size", "strike", "tick_size"):
        frame[column] = _numbers(frame[column], what, column)
    frame["expiry_date"] = pd.to_datetime(frame["expiry_date"].str[:10], format="%Y-%m-%d", errors="coerce")
    frame.loc[frame["expiry_date"].dt.year <= 1, "expiry_date"] = pd.NaT
    frame["expiry_date"] = frame["expiry_date"].dt.strftime("%Y-%m-%d")
    is_option = frame["option_type"].isin(["CE", "PE"])
    frame.loc[~is_option, ["option_type", "strike"]] = None
    bad_strike = is_option & ~(frame["strike"] > 0)
    if bad_strike.any():
        first = frame.loc[bad_strike, "security_id"].iloc[0]
        raise InputError(f"{what}: option with a missing or non-positive strike, security id {first}")
    keys = list(zip(frame["exchange"], frame["segment"]))
    frame["exchange_segment"] = [_API_SEGMENT.get(key, f"{key[0]}_{key[1]}") for key in keys]
    derivative = frame["instrument"].str.startswith(("OPT", "FUT"))
    if source == "compact":
        underlying = frame["trading_symbol"].str.extract(_DERIVATIVE_UNDERLYING, expand=False)
        frame["underlying_symbol"] = underlying.where(derivative, frame["trading_symbol"])
    else:  # SYMBOL_NAME is the trading symbol of a derivative, the company name of a share
        frame["trading_symbol"] = frame["symbol_name"].where(derivative, frame["underlying_symbol"])
    repeated = frame.duplicated(["exchange", "segment", "security_id"], keep="last")
    if repeated.any():
        log.warning("%s: %d repeated security ids; the last row of each is kept", what, int(repeated.sum()))
        frame = frame.loc[~repeated]
    return frame.reset_index(drop=True)


def _numbers(column: pd.Series, what: str, name: str) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce")
    unreadable = values.isna() & column.notna()
    if unreadable.any():
        raise InputError(f"{what}: {name} {column[unreadable].iloc[0]!r} is not a number")
    return values
