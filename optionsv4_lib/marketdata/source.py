"""The market-data source protocol: what every source (synthetic, Parquet snapshot, Dhan) offers the pipeline.

A source is bound to one trade date. Frames follow optionsv4_lib.marketdata.schema: option chains are
schema.OPTION_CHAIN (one expiry per call), candles are schema.CANDLES (daily, start and end inclusive).
Symbols are universe symbols, plus "INDIA VIX" for candles and spot. An unknown symbol or expiry raises DataError.
"""

from datetime import date, datetime
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from optionsv4_lib.core.errors import DataError, InputError

MARKET_SYMBOL = "NIFTY"
VIX_SYMBOL = "INDIA VIX"


@runtime_checkable
class MarketDataSource(Protocol):
    """Market data as seen on `trade_date`; `name` says where it comes from (for logs and reports)."""

    name: str
    trade_date: date

    def expiries(self, symbol: str) -> list[date]:
        """Listed option expiries of symbol, sorted."""
        ...

    def option_chain(self, symbol: str, expiry: date) -> pd.DataFrame:
        """The chain of one expiry as schema.OPTION_CHAIN (may be empty)."""
        ...

    def candles(self, symbol: str, start: date, end: date) -> pd.DataFrame:
        """Daily candles from start to end inclusive as schema.CANDLES, sorted by date."""
        ...

    def spot(self, symbol: str) -> float:
        """Last price of symbol in ₹ (index points for indices and INDIA VIX)."""
        ...


def option_chains(source: MarketDataSource,
                  wanted: list[tuple[str, date]]) -> dict[tuple[str, date], pd.DataFrame | DataError]:
    """The chains of many (symbol, expiry) pairs at once: each pair → its chain, or the DataError that says why it
    could not be had (one pair's problem never costs another). A source that can fetch in batches (Dhan's market-quote
    endpoint: 1,000 instruments a request) offers `option_chains(wanted)` with this contract; others are asked one
    chain at a time. Other errors (AuthError, broker trouble that outlasted the retries) propagate."""
    batch = getattr(source, "option_chains", None)
    if batch is not None:
        return batch(wanted)
    chains: dict[tuple[str, date], pd.DataFrame | DataError] = {}
    for symbol, expiry in wanted:
        try:
            chains[(symbol, expiry)] = source.option_chain(symbol, expiry)
        except DataError as exc:
            chains[(symbol, expiry)] = exc
    return chains


def as_date(value, field: str) -> date:
    """A date from a date, datetime, pandas Timestamp, numpy datetime64 or ISO string; InputError naming field."""
    if isinstance(value, datetime) and value == value:  # NaT is the one datetime unequal to itself
        return value.date()
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, np.datetime64) and not np.isnat(value):
        return value.astype("datetime64[D]").item()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"{field}: expected a date, got {value!r}")


def as_symbol(value, field: str = "symbol") -> str:
    """A non-empty symbol, stripped and upper-cased; InputError naming field."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{field}: expected a non-empty symbol, got {value!r}")
    return value.strip().upper()
