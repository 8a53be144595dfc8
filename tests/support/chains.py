"""A small, fully specified option chain for strategy tests: BSM prices at a known smile, quoted with a spread."""

from datetime import date

import numpy as np
import pandas as pd

from optionsv4_lib.pricing.black_scholes import bs_greeks, bs_price
from optionsv4_lib.reference.calendar import years_to_expiry


def make_chain(
    symbol: str = "TEST",
    spot: float = 1000.0,
    step: float = 10.0,
    expiries: tuple[date, ...] = (date(2026, 11, 30), date(2026, 12, 29)),
    as_of=None,
    vol: float = 0.25,
    skew: float = -0.10,
    r: float = 0.065,
    n_strikes: int = 15,
    spread: float = 0.02,
    oi: int = 100_000,
    lot_size: int | None = 100,
) -> pd.DataFrame:
    """Strikes spot ± n_strikes steps, CE and PE, IV = vol + skew·ln(K/S); bid/ask = mid·(1 ∓ spread/2), ticks of 0.05;
    every contract in lots of lot_size units (None: no lot_size column, the lot table's)."""
    from datetime import datetime

    as_of = as_of or datetime(2026, 11, 23, 9, 15)
    rows = []
    strikes = spot + step * np.arange(-n_strikes, n_strikes + 1)
    for expiry in expiries:
        t = years_to_expiry(as_of, expiry)
        iv = vol + skew * np.log(strikes / spot)
        for option_type in ("CE", "PE"):
            mid = bs_price(option_type, spot, strikes, t, r, iv)
            g = bs_greeks(option_type, spot, strikes, t, r, iv)
            bid = np.maximum(np.floor(mid * (1 - spread / 2) / 0.05) * 0.05, 0.05)
            ask = np.maximum(np.ceil(mid * (1 + spread / 2) / 0.05) * 0.05, bid + 0.05)
            rows.append(
                pd.DataFrame(
                    {
                        "symbol": symbol, "expiry": pd.Timestamp(expiry), "strike": strikes, "option_type": option_type,
                        "bid": bid, "ask": ask, "ltp": mid, "bid_qty": 1000, "ask_qty": 1000, "iv": iv,
                        "delta": g.delta, "gamma": g.gamma, "theta": g.theta, "vega": g.vega,
                        "oi": oi, "volume": oi // 2, "underlying_price": spot,
                    }
                )
            )
    chain = pd.concat(rows, ignore_index=True)
    return chain if lot_size is None else chain.assign(lot_size=lot_size)
