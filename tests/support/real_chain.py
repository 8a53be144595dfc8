"""NSE's NIFTY option closes of 21 Nov 2024 (tests/fixtures, UDiFF bhavcopy; spot 23,349.90; expiries 28 Nov and
26 Dec 2024) as a chain, with a stated quote model, as a bhavcopy carries no bid/ask: the close is the mid, the
half-spread is max(₹0.05, 0.5 % of it) rounded to the tick, and only contracts that traded with a strike within ±6 %
of the spot are quoted (the farther closes are stale last trades, not prices anyone would deal at); the quotes are
taken at the close (15:30 IST). Used by the valuation tests and bench/bench_valuation."""

from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd

from optionsv4_lib.core.frames import conform
from optionsv4_lib.marketdata.bhavcopy import read_bhavcopy
from optionsv4_lib.marketdata.schema import OPTION_CHAIN
from optionsv4_lib.reference.calendar import IST

BHAVCOPY = Path(__file__).parents[1] / "fixtures" / "BhavCopy_NSE_FO_0_0_0_20241121_F_0000.csv.gz"
TRADE_DATE = date(2024, 11, 21)
CLOSE = datetime.combine(TRADE_DATE, time(15, 30), tzinfo=IST)
RATE = 0.065
TICK = 0.05
HALF_SPREAD_SHARE = 0.005  # of the close
QUOTED_MONEYNESS = 0.06  # strikes within this share of the spot are quoted


def real_chain(expiries=("2024-11-28", "2024-12-26")) -> pd.DataFrame:
    """NIFTY's option closes of 21 Nov 2024 as OPTION_CHAIN rows, quoted by the module's stated model."""
    raw = read_bhavcopy(BHAVCOPY)
    rows = raw[(raw["symbol"] == "NIFTY") & (raw["instrument"] == "OPT") & raw["expiry"].isin(pd.to_datetime(expiries))]
    close = rows["close"].to_numpy(float)
    near_money = np.abs(rows["strike"] / rows["underlying_price"] - 1).to_numpy() <= QUOTED_MONEYNESS
    traded = (rows["contracts"].to_numpy() > 0) & near_money
    half = np.maximum(TICK, np.round(HALF_SPREAD_SHARE * close / TICK) * TICK)
    frame = pd.DataFrame({
        "symbol": "NIFTY", "expiry": rows["expiry"].to_numpy(), "strike": rows["strike"],
        "option_type": rows["option_type"], "bid": np.where(traded, np.maximum(close - half, 0.0), 0.0),
        "ask": np.where(traded, close + half, 0.0), "ltp": close, "bid_qty": 1000, "ask_qty": 1000,
        "iv": np.nan, "delta": np.nan, "gamma": np.nan, "theta": np.nan, "vega": np.nan,
        "oi": rows["oi"], "volume": rows["contracts"] * rows["lot_size"], "underlying_price": rows["underlying_price"],
        "lot_size": rows["lot_size"], "quoted_at": pd.Timestamp(CLOSE).tz_convert("UTC"),
    })
    return conform(frame.sort_values(["expiry", "strike", "option_type"]).reset_index(drop=True), OPTION_CHAIN,
                   "NIFTY 21 Nov 2024")
