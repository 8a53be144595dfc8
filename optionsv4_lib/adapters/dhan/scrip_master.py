"""Dhan's instrument master (scrip master) read from a file or URL and imported into the `instruments` table.

Both published CSVs are read, by column name (the column order and the detailed file's trailing columns vary):
- compact, https://images.dhan.co/api-data/api-scrip-master.csv: SEM_* columns; it has no underlying column, so
  the underlying of a derivative is its trading symbol up to the "-MonYYYY-" part (NIFTY-Oct2024-25800-CE → NIFTY,
  BAJAJ-AUTO-Dec2026-9000-CE → BAJAJ-AUTO); for cash and index rows it is the trading symbol itself;
- detailed, https://images.dhan.co/api-data/api-scrip-master-detailed.csv: UNDERLYING_SYMBOL and
  UNDERLYING_SECURITY_ID are given; SYMBOL_NAME is the trading symbol of derivatives and the company name otherwise.
Strikes of non-options (−0.01, 0 or blank) and option type XX are stored as NULL; expiry dates keep their date part
(blank and 0001-01-01 are NULL).

A file that is not UTF-8 text, is empty or has rows of another length than its header is refused, and so is one
with any row that would be stored wrong: an unreadable number or expiry, a security id outside 1 … 2⁶³−1, an
option type other than CE, PE or XX (case matters), an option without CE/PE or a positive strike, or one option
contract under two security ids. The InputError names every such row by its line number; nothing is imported.
"""

import csv
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
_MAX_ID = 2**63 - 1  # security ids are bigint
_WHOLE = re.compile(r"^(\d+)(?:\.0*)?$")


def read_scrip_master(path_or_url: str | Path) -> pd.DataFrame:
    """The compact or detailed scrip master (a file path or an http(s) URL) as a frame of COLUMNS.

    Raises InputError for an unreadable file, one that is neither format, or bad rows (see the module docstring);
    DataError for a failed download.
    """
    raw = _table(path_or_url)
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


def _table(path_or_url: str | Path) -> pd.DataFrame:
    """The CSV's cells as strings, indexed by line number (the header is line 1). InputError for a file that is not
    UTF-8 text, is empty, or has rows of another length than the header (naming their lines)."""
    handle = _open(path_or_url)
    data = handle.getvalue() if isinstance(handle, io.BytesIO) else Path(handle).read_bytes()
    what = mask_url(str(path_or_url))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what}: not a CSV text file (byte {exc.start} is not UTF-8)") from None
    if "\x00" in text:
        raise InputError(f"{what}: not a CSV text file (it holds NUL bytes)")
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    rows, lines = [], []
    try:
        for row in reader:
            if row:  # blank lines are skipped
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise InputError(f"{what}: line {reader.line_num}: {exc}") from None
    if not rows:
        raise InputError(f"{what}: empty file (no header row)")
    header, body = rows[0], rows[1:]
    ragged = [f"line {line}: {len(row)} fields, the header has {len(header)}"
              for line, row in zip(lines[1:], body) if len(row) != len(header)]
    _refuse(what, ragged)
    return pd.DataFrame(body, columns=header, index=lines[1:], dtype=str)


def _refuse(what: str, problems: list[str]) -> None:
    """InputError listing `problems` (one per bad row, the first 20 in full) when there are any."""
    if problems:
        shown = "; ".join(problems[:20]) + (f"; … and {len(problems) - 20} more" if len(problems) > 20 else "")
        rows = "1 bad row" if len(problems) == 1 else f"{len(problems)} bad rows"
        raise InputError(f"{what}: {rows}, nothing imported: {shown}")


def _normalise(frame: pd.DataFrame, source: str, what: str) -> pd.DataFrame:
    """Types and NULLs as the instruments table wants them; derived exchange_segment and underlying_symbol. The
    frame is indexed by line number; InputError naming every bad row's line (see the module docstring)."""
    problems: dict[int, str] = {}
    for column in ("security_id", "underlying_security_id"):
        frame[column] = _ids(frame[column], column, problems)
    for column in ("lot_size", "strike", "tick_size"):
        frame[column] = _numbers(frame[column], column, problems)
    written = frame["expiry_date"]
    expiry = pd.to_datetime(written.str[:10], format="%Y-%m-%d", errors="coerce")
    _note(problems, written[expiry.isna() & written.notna()], "expiry_date {!r} is not YYYY-MM-DD")
    expiry[expiry.dt.year <= 1] = pd.NaT
    frame["expiry_date"] = expiry.dt.strftime("%Y-%m-%d")
    kind = frame["option_type"]
    _note(problems, kind[kind.notna() & ~kind.isin(["CE", "PE", "XX"])], "option type {!r} is not CE, PE or XX")
    is_option = kind.isin(["CE", "PE"])
    listed_as_option = frame["instrument"].str.startswith("OPT")
    _note(problems, frame.loc[listed_as_option & (kind.isna() | kind.eq("XX")), "instrument"],
          "{} without option type CE or PE")
    frame.loc[~is_option, ["option_type", "strike"]] = None
    _note(problems, frame.loc[is_option & ~(frame["strike"] > 0), "strike"], "option with strike {}, not > 0")
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
    contract = ["exchange", "segment", "underlying_symbol", "expiry_date", "strike", "option_type"]
    options = frame.loc[frame["option_type"].notna()]
    for _, same in options[options.duplicated(contract, keep=False)].groupby(contract, sort=False):
        first = same.iloc[0]
        for line in same.index[1:]:
            problems.setdefault(line, f"option {first['underlying_symbol']} {first['expiry_date']} "
                                      f"{first['strike']:g} {first['option_type']} is also line {same.index[0]} "
                                      f"(security ids {same.loc[line, 'security_id']} and {first['security_id']})")
    _refuse(what, [f"line {line}: {problem}" for line, problem in sorted(problems.items())])
    return frame.reset_index(drop=True)


def _note(problems: dict[int, str], cells: pd.Series, message: str) -> None:
    """Record `message` (formatted with the cell) for each line of `cells` that has no problem recorded yet."""
    for line, value in cells.items():
        problems.setdefault(line, message.format(value))


def _ids(column: pd.Series, name: str, problems: dict[int, str]) -> pd.Series:
    """The column as whole numbers 1 … 2⁶³−1 (Int64, NA where blank); other cells are noted as problems."""
    found = [_WHOLE.match(value) if isinstance(value, str) else None for value in column]
    values = [int(m[1]) if m and 1 <= int(m[1]) <= _MAX_ID else None for m in found]
    ids = pd.Series(values, index=column.index, dtype="Int64")
    _note(problems, column[ids.isna() & column.notna()], f"{name} {{!r}} is not a whole number 1 … {_MAX_ID}")
    return ids


def _numbers(column: pd.Series, name: str, problems: dict[int, str]) -> pd.Series:
    """The column as floats (NaN where blank); unreadable cells are noted as problems and become NaN."""
    values = pd.to_numeric(column, errors="coerce")
    _note(problems, column[values.isna() & column.notna()], f"{name} {{!r}} is not a number")
    return values
