"""A MarketDataSource over a folder of NSE F&O bhavcopies (marketdata.bhavcopy): the market at the close of one
trade date, for backtests and replays. It never downloads.

- option_chain: the day's contracts of one expiry. ltp = NSE's close; bid/ask = the stated SpreadModel around the
  close when the contract traded that day, else around NSE's settlement price (a theoretical price for untraded
  options); oi in units; volume in units (contracts × lot; the legacy format has no lot, so there the lot is the
  common divisor of the expiry's open interests, bhavcopy.lots_from_open_interest); lot_size from the file
  (NewBrdLotQty; missing in the legacy format); iv and greeks NaN (the pipeline implies its own); no depth (bid_qty,
  ask_qty 0); quoted_at = the F&O close of the trade date.
- spot: the file's underlying price (INDIA VIX: the VIX file's close of the day).
- candles, never after the trade date: NIFTY from the index history when given, INDIA VIX from the VIX file, every
  other symbol (and NIFTY without a history file) from the bhavcopies' underlying prices in the folder (open = high
  = low = close).
"""

from datetime import date, datetime

import numpy as np
import pandas as pd

from optionsv4_lib.core.errors import DataError
from optionsv4_lib.core.frames import conform
from optionsv4_lib.marketdata.bhavcopy import BhavcopyArchive, lots_from_open_interest, open_archive
from optionsv4_lib.marketdata.histories import EndOfDayCandles, EndOfDayInputs
from optionsv4_lib.marketdata.schema import OPTION_CHAIN
from optionsv4_lib.marketdata.source import VIX_SYMBOL, as_date, as_symbol
from optionsv4_lib.marketdata.spread_model import SpreadModel
from optionsv4_lib.reference.calendar import IST, session


class BhavcopyInputs(EndOfDayInputs):
    """Where a bhavcopy market comes from: the folder of bhavcopies, NIFTY's daily history and NSE's INDIA VIX
    export (histories.EndOfDayInputs)."""

    def open(self, trade_date: date, spread: SpreadModel | None = None) -> "BhavcopySource":
        """The market of trade_date (DataError when the folder has no bhavcopy of that day)."""
        index_history, vix = self.histories()
        return BhavcopySource(open_archive(self.directory), trade_date, spread=spread or SpreadModel(),
                              index_history=index_history, vix=vix)


class BhavcopySource(EndOfDayCandles):
    """The MarketDataSource of one trade date's bhavcopy (see the module docstring)."""

    closes_from = "the bhavcopies"

    def __init__(self, archive: BhavcopyArchive, trade_date: date, *, spread: SpreadModel,
                 index_history: pd.DataFrame | None = None, vix: pd.DataFrame | None = None):
        self.trade_date = as_date(trade_date, "trade_date")
        self.archive, self.spread = archive, spread
        self.index_history, self.vix = index_history, vix
        self.name = f"NSE bhavcopy ({archive.files[self.trade_date].name})" if self.trade_date in archive.files \
            else "NSE bhavcopy"
        self.as_of = datetime.combine(self.trade_date, session(self.trade_date)[1], tzinfo=IST)
        frame = archive.day(self.trade_date)
        self._options = frame[frame["instrument"] == "OPT"]
        self._spots = frame.dropna(subset=["underlying_price"]).drop_duplicates("symbol").set_index("symbol")[
            "underlying_price"]

    def expiries(self, symbol: str) -> list[date]:
        rows = self._options[self._options["symbol"] == self._known(symbol)]
        return [stamp.date() for stamp in sorted(rows["expiry"].unique())]

    def option_chain(self, symbol: str, expiry: date) -> pd.DataFrame:
        key, when = self._known(symbol), pd.Timestamp(as_date(expiry, "expiry"))
        rows = self._options[(self._options["symbol"] == key) & (self._options["expiry"] == when)]
        if rows.empty:
            raise DataError(f"{key}: no option expiring {when.date()} in the bhavcopy of {self.trade_date}")
        if rows["lot_size"].isna().all():
            lots = lots_from_open_interest(rows)  # legacy: for volume in units only
        else:
            lots = rows["lot_size"].fillna(0).astype("int64")
        traded = rows["contracts"].to_numpy() > 0
        settle = rows["settle"].to_numpy(float)
        centre = np.where(traded | ~(settle > 0), rows["close"].to_numpy(float), settle)
        spot = rows["underlying_price"].to_numpy(float)
        bid, ask = self.spread.quotes(centre, rows["strike"].to_numpy(float) / spot, rows["contracts"].to_numpy())
        chain = pd.DataFrame({
            "symbol": key, "expiry": rows["expiry"], "strike": rows["strike"], "option_type": rows["option_type"],
            "bid": bid, "ask": ask, "ltp": rows["close"], "bid_qty": 0, "ask_qty": 0, "iv": np.nan,
            "delta": np.nan, "gamma": np.nan, "theta": np.nan, "vega": np.nan, "oi": rows["oi"],
            "volume": rows["contracts"].to_numpy() * lots.to_numpy(), "underlying_price": spot,
            "lot_size": rows["lot_size"], "quoted_at": pd.Timestamp(self.as_of).tz_convert("UTC"),
        })
        return conform(chain.reset_index(drop=True), OPTION_CHAIN, f"{key} {when.date()} chain")

    def spot(self, symbol: str) -> float:
        key = as_symbol(symbol)
        return self._vix_close() if key == VIX_SYMBOL else float(self._spots[self._known(key)])

    def _own_closes(self, symbol: str, first: date, last: date) -> pd.DataFrame:
        closes = self.archive.underlying_closes(first, last)
        return closes.loc[closes["symbol"] == self._known(symbol), ["date", "close"]]

    def _known(self, symbol: str) -> str:
        key = as_symbol(symbol)
        if key not in self._spots.index:
            raise DataError(f"{key}: not in the bhavcopy of {self.trade_date}")
        return key

