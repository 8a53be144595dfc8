"""Quotes for pricing and paper-filling orders: the bid and ask of one contract from an option chain.

`ChainQuotes` reads chains from any market-data source — the Parquet snapshot of the latest recorded trade date, or
Dhan's live option chain — caching each (symbol, expiry) chain for `max_age` seconds. A contract the source does not
have gives None, and the caller falls back to the bid and ask stored with the analysed leg.
"""

import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

import pandas as pd

from optionsv4_lib.core.errors import DataError
from optionsv4_lib.execution.broker import Contract, Quote
from optionsv4_lib.marketdata.snapshots import ParquetSnapshotSource
from optionsv4_lib.marketdata.source import MarketDataSource


class QuoteSource(Protocol):
    """Where orders are priced from."""

    def quote(self, contract: Contract) -> Quote | None:
        """The contract's current bid and ask, or None when this source has no quote for it."""
        ...

    def security_id(self, contract: Contract) -> int | None:
        """The contract's broker security id, or None when this source does not know it."""
        ...

    def underlying(self, contract: Contract) -> tuple[float, datetime] | None:
        """(₹ price of the contract's underlying, the moment it was quoted), or None when this source has none."""
        ...


class NoQuotes:
    """A source with no quotes: prices come from the stored legs."""

    def __repr__(self) -> str:
        return "NoQuotes()"

    def quote(self, contract: Contract) -> Quote | None:
        return None

    def security_id(self, contract: Contract) -> int | None:
        return None

    def underlying(self, contract: Contract) -> tuple[float, datetime] | None:
        return None


class ChainQuotes:
    """Quotes from `source`'s option chains; a chain is fetched once per (symbol, expiry) and kept `max_age` s."""

    def __init__(self, source: MarketDataSource, *, max_age: float = float("inf"),
                 clock: Callable[[], float] = time.monotonic):
        self.source, self.max_age, self._clock = source, max_age, clock
        self._chains: dict[tuple[str, date], tuple[float, pd.DataFrame | None]] = {}

    def __repr__(self) -> str:
        return f"ChainQuotes({getattr(self.source, 'name', self.source)!r})"

    def quote(self, contract: Contract) -> Quote | None:
        row = self._row(contract)
        return None if row is None else Quote(float(row["bid"]), float(row["ask"]))

    def security_id(self, contract: Contract) -> int | None:
        """The contract's broker security id when the chain carries one (Dhan's chain since API v2.5)."""
        row = self._row(contract)
        return None if row is None or pd.isna(row["security_id"]) else int(row["security_id"])

    def underlying(self, contract: Contract) -> tuple[float, datetime] | None:
        """The underlying's price carried by the contract's chain and when the chain was quoted; None when the chain
        does not say when."""
        row = self._row(contract)
        if row is None or pd.isna(row.get("quoted_at")):
            return None
        return float(row["underlying_price"]), pd.Timestamp(row["quoted_at"]).to_pydatetime()

    def _row(self, contract: Contract) -> pd.Series | None:
        chain = self._chain(contract.symbol, contract.expiry)
        if chain is None:
            return None
        match = chain[(chain["strike"] == contract.strike) & (chain["option_type"] == contract.option_type)]
        return None if match.empty else match.iloc[0]

    def _chain(self, symbol: str, expiry: date) -> pd.DataFrame | None:
        key, now = (symbol, expiry), self._clock()
        fetched = self._chains.get(key)
        if fetched is None or now - fetched[0] > self.max_age:
            try:
                chain: pd.DataFrame | None = self.source.option_chain(symbol, expiry)
            except DataError:  # not recorded or not listed: no quote here
                chain = None
            fetched = self._chains[key] = (now, chain)
        return fetched[1]


def latest_snapshot_quotes(data_dir: Path | str) -> QuoteSource:
    """ChainQuotes over the newest recorded trade date under data_dir/snapshots, or NoQuotes if none is recorded."""
    recorded = sorted(Path(data_dir).glob("snapshots/trade_date=*/source.json"))
    if not recorded:
        return NoQuotes()
    day = date.fromisoformat(recorded[-1].parent.name.removeprefix("trade_date="))
    return ChainQuotes(ParquetSnapshotSource(data_dir, day))
