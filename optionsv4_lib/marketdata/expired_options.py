"""Dhan's expired-options data kept on disk, and a MarketDataSource over it: the market at the close of one trade
date, for backtests and replays. It never downloads: `optionsv4 data fetch-expired` (adapters.dhan.expired_options)
fills the cache, this module only reads it.

Cache layout under its folder (default <data dir>/dhan_expired), one Parquet file per symbol, trade date and series
fetched (Dhan's expiry flag and code):

    <SYMBOL>/<YYYY-MM-DD>/<WEEK|MONTH><code>.parquet      EXPIRED_COLUMNS, one row per strike offset and CE/PE

Each row is the last bar of that trade date of one ATM-relative series (ATM+k), already re-keyed to its real strike
(Dhan's strike field) and real expiry (reference.calendar.nth_expiry of the date, flag and code).

The source, per trade date:
- option_chain: the rows of that expiry. ltp = the close; bid/ask = the stated SpreadModel around the close (Dhan's
  rolling data has no bid/ask), contracts = volume / lot; iv = Dhan's IV (kept as the source's diagnostic: the
  pipeline implies its own); oi and volume in units; greeks NaN; no depth; lot_size from the lot table
  (reference.lot_sizes); quoted_at = the F&O close of the trade date.
- spot: the data's spot at the close (INDIA VIX: the VIX file's close of the day).
- candles, never after the trade date: NIFTY from the index history when given, INDIA VIX from the VIX file, every
  other symbol (and NIFTY without a history file) from the cached spot closes (open = high = low = close).
"""

import os
import tempfile
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from optionsv4_lib.core.errors import DataError
from optionsv4_lib.core.frames import conform
from optionsv4_lib.marketdata.histories import EndOfDayCandles, EndOfDayInputs
from optionsv4_lib.marketdata.schema import OPTION_CHAIN
from optionsv4_lib.marketdata.source import VIX_SYMBOL, as_date, as_symbol
from optionsv4_lib.marketdata.spread_model import SpreadModel
from optionsv4_lib.reference.calendar import IST, session
from optionsv4_lib.reference.lot_sizes import fill_lot_sizes

CACHE_DIR_NAME = "dhan_expired"  # under the data dir
EXPIRED_COLUMNS = (
    "symbol",       # universe symbol
    "date",         # trade date (datetime64 at midnight)
    "series",       # Dhan's expiry flag and code, e.g. WEEK1, MONTH2
    "offset",       # strikes from the money: ATM+2 → 2
    "expiry",       # the contract's expiry (datetime64 at midnight), from the calendar
    "strike",       # ₹, Dhan's strike field
    "option_type",  # CE | PE
    "open", "high", "low", "close",  # ₹/unit over the day's bars of this series
    "volume",       # units traded in the day's bars of this series
    "oi",           # units, at the last bar
    "iv",           # decimal, Dhan's IV at the last bar (sent in percent); NaN when 0 or missing
    "spot",         # ₹, the underlying at the last bar
    "bar_time",     # the last bar's start (UTC)
)


def day_dir(cache: Path, symbol: str, day: date) -> Path:
    """The folder of one symbol's trade date."""
    return Path(cache) / symbol / day.isoformat()


def write_series(cache: Path, symbol: str, day: date, series: str, rows: pd.DataFrame) -> Path:
    """rows (EXPIRED_COLUMNS of one symbol, day and series) to their file, whole or not at all."""
    path = day_dir(cache, symbol, day) / f"{series}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        rows.reindex(columns=EXPIRED_COLUMNS).to_parquet(temporary, index=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def cached_offsets(cache: Path, symbol: str, day: date, series: str) -> set[int]:
    """The strike offsets a day's series file holds (empty when there is no file)."""
    path = day_dir(cache, symbol, day) / f"{series}.parquet"
    return set(pd.read_parquet(path, columns=["offset"])["offset"]) if path.is_file() else set()


def read_day(cache: Path, symbol: str, day: date) -> pd.DataFrame:
    """Every series cached for symbol on day (EXPIRED_COLUMNS; empty when none)."""
    files = sorted(day_dir(cache, symbol, day).glob("*.parquet"))
    if not files:
        return pd.DataFrame(columns=EXPIRED_COLUMNS)
    try:
        return pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
    except (OSError, ValueError) as exc:
        raise DataError(f"{day_dir(cache, symbol, day)}: cannot read the cached expired-options data: {exc}") from exc


class ExpiredOptionsInputs(EndOfDayInputs):
    """Where a Dhan expired-options market comes from: the cache folder, NIFTY's daily history and NSE's INDIA VIX
    export (histories.EndOfDayInputs)."""

    fill_hint = " (fill it with `optionsv4 data fetch-expired`)"

    def open(self, trade_date: date, spread: SpreadModel | None = None) -> "ExpiredOptionsSource":
        """The market of trade_date (its chains raise DataError when the cache has nothing for that day)."""
        index_history, vix = self.histories()
        return ExpiredOptionsSource(Path(self.directory), trade_date, spread=spread or SpreadModel(),
                                    index_history=index_history, vix=vix)


class ExpiredOptionsSource(EndOfDayCandles):
    """The MarketDataSource of one trade date of cached Dhan expired-options data (see the module docstring)."""

    closes_from = "the expired-options cache"

    def __init__(self, cache: Path, trade_date: date, *, spread: SpreadModel, index_history: pd.DataFrame | None = None,
                 vix: pd.DataFrame | None = None):
        self.trade_date = as_date(trade_date, "trade_date")
        self.cache, self.spread = Path(cache), spread
        self.index_history, self.vix = index_history, vix
        self.name = f"Dhan expired options ({self.cache})"
        self.as_of = datetime.combine(self.trade_date, session(self.trade_date)[1], tzinfo=IST)
        self._days: dict[str, pd.DataFrame] = {}

    def expiries(self, symbol: str) -> list[date]:
        rows = self._rows(symbol)
        return [stamp.date() for stamp in sorted(rows["expiry"].unique())]

    def option_chain(self, symbol: str, expiry: date) -> pd.DataFrame:
        key, when = as_symbol(symbol), pd.Timestamp(as_date(expiry, "expiry"))
        rows = self._rows(key)
        rows = rows[rows["expiry"] == when].sort_values("bar_time").drop_duplicates(
            ["strike", "option_type"], keep="last").sort_values(["strike", "option_type"], ignore_index=True)
        if rows.empty:
            raise DataError(f"{key}: no cached option expiring {when.date()} on {self.trade_date}")
        lots = fill_lot_sizes(rows[["symbol", "expiry"]])["lot_size"].to_numpy(dtype="int64")
        close, spot = rows["close"].to_numpy(float), rows["spot"].to_numpy(float)
        volume = rows["volume"].to_numpy("int64")
        bid, ask = self.spread.quotes(close, rows["strike"].to_numpy(float) / spot, volume / lots)
        chain = pd.DataFrame({
            "symbol": key, "expiry": rows["expiry"], "strike": rows["strike"], "option_type": rows["option_type"],
            "bid": bid, "ask": ask, "ltp": close, "bid_qty": 0, "ask_qty": 0, "iv": rows["iv"],
            "delta": np.nan, "gamma": np.nan, "theta": np.nan, "vega": np.nan, "oi": rows["oi"], "volume": volume,
            "underlying_price": spot, "lot_size": lots, "quoted_at": pd.Timestamp(self.as_of).tz_convert("UTC"),
        })
        return conform(chain, OPTION_CHAIN, f"{key} {when.date()} chain")

    def spot(self, symbol: str) -> float:
        key = as_symbol(symbol)
        if key == VIX_SYMBOL:
            return self._vix_close()
        return float(self._rows(key).sort_values("bar_time")["spot"].iloc[-1])

    def _rows(self, symbol: str) -> pd.DataFrame:
        key = as_symbol(symbol)
        if key not in self._days:
            self._days[key] = read_day(self.cache, key, self.trade_date)
        if self._days[key].empty:
            raise DataError(f"{key}: no expired-options data cached for {self.trade_date} in {self.cache} "
                            f"(`optionsv4 data fetch-expired --symbol {key}`)")
        return self._days[key]

    def _own_closes(self, symbol: str, first: date, last: date) -> pd.DataFrame:
        """The spot at the last bar of each cached day of symbol from first to last: date, close."""
        folder = self.cache / symbol
        days = sorted(d for d in (date.fromisoformat(p.name) for p in folder.glob("????-??-??") if p.is_dir())
                      if first <= d <= last) if folder.is_dir() else []
        closes = []
        for day in days:
            rows = read_day(self.cache, symbol, day)
            if not rows.empty:
                closes.append((pd.Timestamp(day), float(rows.sort_values("bar_time")["spot"].iloc[-1])))
        return pd.DataFrame(closes, columns=["date", "close"])
