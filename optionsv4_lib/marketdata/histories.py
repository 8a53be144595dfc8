"""Daily histories read from files, as schema.CANDLES: an index's closes from a plain CSV (`--index-history`) and
INDIA VIX from NSE's historical export (`--vix-file`).

- Index history: a CSV (optionally .gz) with at least the columns date and close (any case, spaces trimmed), and
  optionally open, high, low (missing ones are the close); dates as 2025-01-20, 20-Jan-2025 or 20 Jan 2025.
- NSE's INDIA VIX export: headers `Date ,Open ,High ,Low ,Close ,Prev. Close ,Change ,% Change` (trailing spaces),
  dates like 02-JAN-2012. NSE's file has days whose open, high and low are 0 (12-Feb-2021, 30-Mar-2021): a
  missing or non-positive open, high or low is taken as the close.
Errors are DataError naming the file and what is wrong in it.
"""

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import pandas as pd

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.frames import conform
from optionsv4_lib.marketdata.schema import CANDLES
from optionsv4_lib.marketdata.source import MARKET_SYMBOL, VIX_SYMBOL, as_date, as_symbol

DATE_FORMATS = ("%Y-%m-%d", "%d-%b-%Y", "%d %b %Y")


def read_index_history(path: Path | str, symbol: str) -> pd.DataFrame:
    """The CANDLES of `symbol` in an index-history CSV (see the module docstring), sorted by date, volume 0."""
    return _candles(_read(path), path, symbol)


def read_vix_history(path: Path | str) -> pd.DataFrame:
    """The INDIA VIX CANDLES in NSE's historical export (see the module docstring), sorted by date."""
    return _candles(_read(path), path, VIX_SYMBOL)


def cached_index_history(path: Path) -> pd.DataFrame:
    """read_index_history of NIFTY (MARKET_SYMBOL), read once per version of the file."""
    return _read_cached("index", str(path), Path(path).stat().st_mtime_ns)


def cached_vix_history(path: Path) -> pd.DataFrame:
    """read_vix_history, read once per version of the file."""
    return _read_cached("vix", str(path), Path(path).stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _read_cached(kind: str, path: str, mtime_ns: int) -> pd.DataFrame:
    return read_vix_history(path) if kind == "vix" else read_index_history(path, MARKET_SYMBOL)


def _read(path: Path | str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read it as CSV: {exc}") from exc
    return frame.rename(columns=lambda name: str(name).strip().lower())


def _candles(raw: pd.DataFrame, path: Path | str, symbol: str) -> pd.DataFrame:
    missing = [c for c in ("date", "close") if c not in raw.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} (found {', '.join(raw.columns)})")
    raw = raw.dropna(subset=["date", "close"]).reset_index(drop=True)
    frame = pd.DataFrame({"symbol": symbol, "date": _dates(raw["date"], path)})
    for column in ("close", "open", "high", "low"):
        values = raw[column] if column in raw.columns else raw["close"]
        number = pd.to_numeric(values.str.replace(",", "").str.strip(), errors="coerce")
        if column == "close" and not (number > 0).all():
            bad = values[~(number > 0)].iloc[0]
            raise DataError(f"{path}: column close: {bad!r} is not a price > 0")
        frame[column] = number.where(number > 0, frame.get("close")).to_numpy(float)
    frame["volume"] = 0
    if frame["date"].duplicated().any():
        raise DataError(f"{path}: date {frame['date'][frame['date'].duplicated()].iloc[0].date()} appears twice")
    return conform(frame.sort_values("date", ignore_index=True), CANDLES, str(path))


def _dates(values: pd.Series, path: Path | str) -> pd.Series:
    """Each distinct date string parsed with the first of DATE_FORMATS that reads it; DataError naming one none
    reads."""
    parsed = {}
    for text in values.unique():
        cleaned = text.strip().title()
        for form in DATE_FORMATS:
            try:
                parsed[text] = datetime.strptime(cleaned, form)
                break
            except ValueError:
                continue
        else:
            raise DataError(f"{path}: date {text!r} is not like 2025-01-20, 20-Jan-2025 or 20 Jan 2025")
    return pd.to_datetime(values.map(parsed)).to_numpy()


@dataclass(frozen=True)
class EndOfDayInputs:
    """Where an end-of-day market comes from: its folder, NIFTY's daily history (CSV, optional) and NSE's INDIA VIX
    export (optional: without it the market state cannot be read); checked when made."""

    directory: Path
    index_history: Path | None = None
    vix_file: Path | None = None
    fill_hint: ClassVar[str] = ""  # how a user fills the folder, for the error naming a missing one

    def __post_init__(self) -> None:
        if not Path(self.directory).is_dir():
            raise InputError(f"data dir: {self.directory} is not a directory{self.fill_hint}")
        for name in ("index_history", "vix_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise InputError(f"{name.replace('_', ' ')}: {path} is not a file")

    def histories(self) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        """(NIFTY's history, INDIA VIX's), each None when its file was not given."""
        return (cached_index_history(self.index_history) if self.index_history else None,
                cached_vix_history(self.vix_file) if self.vix_file else None)


class EndOfDayCandles:
    """Candles and INDIA VIX's spot of an end-of-day source bound to `trade_date`: INDIA VIX from the VIX file, NIFTY
    from the index history when given, every other symbol from the source's own daily closes (`_own_closes`: date,
    close), never past the trade date's close."""

    trade_date: date
    index_history: pd.DataFrame | None
    vix: pd.DataFrame | None
    closes_from: str  # where _own_closes reads, for messages

    def candles(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        key, first, last = as_symbol(symbol), as_date(start, "start"), as_date(end, "end")
        if first > last:
            raise InputError(f"start: {first} is after end {last}")
        last = min(last, self.trade_date)  # nothing after the close of the trade date
        if key == VIX_SYMBOL:
            if self.vix is None:
                raise DataError(f"{VIX_SYMBOL}: no VIX file given (--vix-file, NSE's historical export)")
            frame = self.vix
        elif key == MARKET_SYMBOL and self.index_history is not None:
            frame = self.index_history
        else:
            closes = self._own_closes(key, first, last)
            frame = conform(closes.assign(symbol=key, open=closes["close"], high=closes["close"], low=closes["close"],
                                          volume=0), CANDLES, f"{key} closes from {self.closes_from}")
        inside = (frame["date"] >= pd.Timestamp(first)) & (frame["date"] <= pd.Timestamp(last))
        return frame[inside].reset_index(drop=True)

    def _vix_close(self) -> float:
        """INDIA VIX's close on the trade date, from the VIX file."""
        today = self.candles(VIX_SYMBOL, self.trade_date, self.trade_date)
        if today.empty:
            raise DataError(f"{VIX_SYMBOL}: no close of {self.trade_date} in the VIX file")
        return float(today["close"].iloc[0])

    def _own_closes(self, symbol: str, first: date, last: date) -> pd.DataFrame:
        raise NotImplementedError
