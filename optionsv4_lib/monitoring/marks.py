"""Open positions marked to market, and their stored exit conditions evaluated — the monitor's pure half, shared
with the backtest: no database; `fetch_chains` only reads a MarketDataSource.

Frames are long-format over every open strategy at once (one vectorized pass, no loop over positions):

- legs: strategy_id, leg_no, symbol, instrument ("CE"/"PE"/"STK"), side ("BUY"/"SELL"), strike (₹; NaN for
  STK), expiry (date; NaT for STK), qty (units, > 0), entry_price (₹ per unit: the fill average).
- chain: the canonical option chain (marketdata.schema.OPTION_CHAIN) of the legs' symbols: bid, ask, ltp (₹ per
  unit), delta, gamma (per unit), vega (₹ per vol point per unit), underlying_price.

A leg's mark is the mid of a two-sided quote, else its last traded price; on or after its expiry (the close
given) it is the intrinsic value at the underlying price. A leg with no usable price leaves its strategy
unpriced: P&L rules are then not evaluated, and the reason says which leg. Stock legs are marked at the
underlying price with delta 1.

Position metrics (the `metric` names of strategies.exit_rules), per strategy:
  pnl = Σ s·qty·(mark − entry_price) in ₹, s = +1 for BUY and −1 for SELL (gross of costs, as the targets are);
  abs_delta = |Σ s·qty·delta| (₹ per ₹ of underlying), gamma = Σ s·qty·gamma, abs_vega = |Σ s·qty·vega| (₹ per
  vol point); dte = calendar days from today to the nearest option expiry; leg_abs_delta = |delta| of one leg.
"""

from datetime import date

import numpy as np
import pandas as pd

from optionsv4_lib.core.errors import DataError
from optionsv4_lib.core.frames import require_columns
from optionsv4_lib.marketdata.source import MarketDataSource
from optionsv4_lib.reference.calendar import is_trading_day, trading_days

LEG_COLUMNS = ("strategy_id", "leg_no", "symbol", "instrument", "side", "strike", "expiry", "qty", "entry_price")
PHYSICAL_SETTLEMENT_WARNING_DAYS = 4  # trading days before expiry from which an ITM stock option is flagged
_KEY = ["symbol", "expiry", "strike", "instrument"]


def fetch_chains(source: MarketDataSource, legs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The option chains of the option legs' (symbol, expiry) pairs (stock legs need none), and the pairs the source
    could not give."""
    options = legs[legs["instrument"] != "STK"]
    pairs = pd.DataFrame({"symbol": options["symbol"], "expiry": pd.to_datetime(options["expiry"]).dt.date})
    chains, missing = [], []
    for symbol, expiry in pairs.drop_duplicates().itertuples(index=False):
        try:
            chains.append(source.option_chain(symbol, expiry))
        except DataError as exc:
            missing.append(f"{symbol} {expiry}: {exc}")
    return (pd.concat(chains, ignore_index=True) if chains else pd.DataFrame(columns=[
        "symbol", "expiry", "strike", "option_type", "bid", "ask", "ltp", "delta", "gamma", "vega",
        "underlying_price"])), missing


def mark_legs(legs: pd.DataFrame, chain: pd.DataFrame, today: date, *, after_close: bool = False) -> pd.DataFrame:
    """legs + mark (₹/unit), delta, gamma, vega (per unit), spot (₹), settled (bool), unpriced_reason.

    after_close: today's session is over, so legs expiring today settle at intrinsic value.
    """
    require_columns(legs, LEG_COLUMNS, "legs")
    frame = legs.assign(expiry=pd.to_datetime(legs["expiry"]), strike=legs["strike"].astype(float))
    quotes = chain.assign(expiry=pd.to_datetime(chain["expiry"]), instrument=chain["option_type"])
    quotes = quotes[_KEY + ["bid", "ask", "ltp", "delta", "gamma", "vega"]].drop_duplicates(_KEY)
    frame = frame.merge(quotes, on=_KEY, how="left").astype(
        {c: float for c in ("bid", "ask", "ltp", "delta", "gamma", "vega")})
    spots = chain.groupby("symbol")["underlying_price"].first()
    frame["spot"] = frame["symbol"].map(spots).astype(float)

    two_sided = (frame["bid"] > 0) & (frame["ask"] > 0)
    traded = frame["ltp"] > 0
    mark = np.where(two_sided, (frame["bid"] + frame["ask"]) / 2, np.where(traded, frame["ltp"], np.nan))
    call, put, stock = (frame["instrument"] == kind for kind in ("CE", "PE", "STK"))
    today_ts = pd.Timestamp(today)
    settled = (call | put) & ((frame["expiry"] < today_ts) | ((frame["expiry"] == today_ts) & after_close))
    intrinsic = np.where(call, np.maximum(frame["spot"] - frame["strike"], 0.0),
                         np.maximum(frame["strike"] - frame["spot"], 0.0))
    mark = np.where(settled, intrinsic, np.where(stock, frame["spot"], mark)).astype(float)
    frame["mark"] = mark
    frame["settled"] = settled.astype(bool)
    frame.loc[stock, ["delta", "gamma", "vega"]] = [1.0, 0.0, 0.0]
    frame.loc[settled, ["gamma", "vega"]] = 0.0
    frame.loc[settled, "delta"] = np.where(intrinsic[settled] > 0, np.where(call[settled], 1.0, -1.0), 0.0)
    frame["unpriced_reason"] = np.where(
        np.isnan(mark),
        "leg " + frame["leg_no"].astype(str) + " (" + frame["strike"].map("{:g}".format) + frame["instrument"]
        + "): no two-sided quote or last price", None)
    return frame


def position_metrics(marked: pd.DataFrame, today: date) -> pd.DataFrame:
    """Per strategy_id: pnl (₹), abs_delta, gamma, abs_vega, dte (days), value (₹, Σ s·qty·mark), unpriced_reason."""
    sign = np.where(marked["side"] == "BUY", 1.0, -1.0)
    units = sign * marked["qty"].to_numpy(dtype=float)
    parts = pd.DataFrame({
        "strategy_id": marked["strategy_id"],
        "pnl": units * (marked["mark"] - marked["entry_price"]),
        "value": units * marked["mark"],
        "delta": units * marked["delta"], "gamma": units * marked["gamma"], "vega": units * marked["vega"],
        "expiry": marked["expiry"].where(marked["instrument"] != "STK"),
    })
    grouped = parts.groupby("strategy_id", sort=True)
    metrics = grouped[["pnl", "value", "delta", "gamma", "vega"]].sum(min_count=1)
    metrics.loc[marked.groupby("strategy_id")["mark"].apply(lambda m: m.isna().any()), ["pnl", "value"]] = np.nan
    metrics["abs_delta"], metrics["abs_vega"] = metrics.pop("delta").abs(), metrics.pop("vega").abs()
    nearest = grouped["expiry"].min()
    metrics["dte"] = (nearest - pd.Timestamp(today)).dt.days
    reasons = marked.dropna(subset=["unpriced_reason"]).groupby("strategy_id")["unpriced_reason"].agg("; ".join)
    metrics["unpriced_reason"] = reasons.reindex(metrics.index)
    return metrics.reset_index()


def physical_settlement_warnings(marked: pd.DataFrame, today: date, index_symbols: set[str]) -> pd.DataFrame:
    """ITM stock-option legs within PHYSICAL_SETTLEMENT_WARNING_DAYS trading days of expiry (stock F&O settles
    by delivery at NSE): strategy_id, leg_no, symbol, expiry, trading_days_left (after today, expiry day
    included; 0 on expiry day), message."""
    options = marked[marked["instrument"].isin(["CE", "PE"]) & ~marked["symbol"].isin(index_symbols)
                     & ~marked["settled"]]
    itm = np.where(options["instrument"] == "CE", options["spot"] > options["strike"],
                   options["spot"] < options["strike"])
    soon = (options["expiry"] - pd.Timestamp(today)).dt.days <= 2 * PHYSICAL_SETTLEMENT_WARNING_DAYS + 4  # holidays
    options = options[itm & soon.to_numpy()]
    left = np.array([len(trading_days(today, e.date())) for e in options["expiry"]], dtype=int) \
        - int(is_trading_day(today))
    near = options.assign(trading_days_left=left)[left <= PHYSICAL_SETTLEMENT_WARNING_DAYS]
    message = [f"{leg.symbol} {leg.strike:g}{leg.instrument} expiring {leg.expiry:%d %b} is in the money with "
               f"{leg.trading_days_left} trading day(s) left: held to expiry it settles by physical delivery of "
               f"{leg.qty:.0f} shares" for leg in near.itertuples(index=False)]
    return near.assign(message=pd.Series(message, index=near.index, dtype="str"))[
        ["strategy_id", "leg_no", "symbol", "expiry", "trading_days_left", "message"]]
