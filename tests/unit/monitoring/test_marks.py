"""Marking open positions to market and evaluating their exit rules, checked by hand-worked numbers."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.core.errors import InputError
from optionsv4_lib.monitoring.exit_decision import exit_hits
from optionsv4_lib.monitoring.marks import mark_legs, physical_settlement_warnings, position_metrics

EXPIRY = date(2026, 12, 1)
TODAY = date(2026, 11, 25)

# A NIFTY iron condor, 65 units a leg, entered for a ₹70/unit credit (₹4,550).
CONDOR = pd.DataFrame({
    "strategy_id": 7, "leg_no": [0, 1, 2, 3], "symbol": "NIFTY", "instrument": ["PE", "PE", "CE", "CE"],
    "side": ["BUY", "SELL", "SELL", "BUY"], "strike": [23000.0, 23500.0, 24500.0, 25000.0], "expiry": EXPIRY,
    "qty": 65, "entry_price": [20.0, 55.0, 50.0, 15.0],
})


def chain(rows, spot=24000.0, symbol="NIFTY", expiry=EXPIRY) -> pd.DataFrame:
    """(strike, type, bid, ask, ltp, delta) rows as a canonical chain with gamma 0.001 and vega 10 per unit."""
    frame = pd.DataFrame(rows, columns=["strike", "option_type", "bid", "ask", "ltp", "delta"])
    return frame.assign(symbol=symbol, expiry=pd.Timestamp(expiry), gamma=0.001, vega=10.0, underlying_price=spot)


QUOTES = chain([(23000, "PE", 9, 11, 10.5, -0.10), (23500, "PE", 29, 31, 30.5, -0.25),
                (24500, "CE", 24, 26, 25.5, 0.22), (25000, "CE", 6.5, 7.5, 7.2, 0.08)])
RULES = pd.DataFrame({
    "strategy_id": 7, "exit_no": range(6),
    "kind": ["profit_target", "stop_loss", "time_exit", "short_delta", "short_delta", "adjustment"],
    "metric": ["pnl", "pnl", "dte", "leg_abs_delta", "leg_abs_delta", None],
    "comparison": ["≥", "≤", "≤", "≥", "≥", None],
    "threshold": [2275.0, -6825.0, 7, 0.30, 0.20, np.nan],
    "leg_no": [np.nan, np.nan, np.nan, 1, 2, np.nan],
    "action": ["close", "close", "close", "adjust", "adjust", "roll_untested_side"],
})


def test_mid_marks_give_the_hand_worked_pnl_and_greeks():
    marked = mark_legs(CONDOR, QUOTES, TODAY)
    assert marked["mark"].tolist() == [10.0, 30.0, 25.0, 7.0]
    metrics = position_metrics(marked, TODAY).set_index("strategy_id").loc[7]
    # 65 × [(10 − 20) − (30 − 55) − (25 − 50) + (7 − 15)] = 65 × 32
    assert metrics["pnl"] == pytest.approx(2080.0)
    # value: 65 × (10 − 30 − 25 + 7) = −2,470 (the cost to close is ₹2,470)
    assert metrics["value"] == pytest.approx(-2470.0)
    # 65 × (−0.10 + 0.25 − 0.22 + 0.08) = 0.65; gamma 65 × 0.001 × (1 − 1 − 1 + 1) = 0
    assert metrics["abs_delta"] == pytest.approx(0.65) and metrics["gamma"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["dte"] == 6 and pd.isna(metrics["unpriced_reason"])


def test_exit_rules_hit_by_hand():
    marked = mark_legs(CONDOR, QUOTES, TODAY)
    hits = exit_hits(RULES, position_metrics(marked, TODAY), marked).set_index("exit_no")
    assert 5 not in hits.index  # adjustments are suggestions, not rules
    assert hits["observed"].tolist() == pytest.approx([2080.0, 2080.0, 6, 0.25, 0.22])
    assert hits["hit"].tolist() == [False, False, True, False, True]


def test_a_leg_without_a_price_leaves_the_position_unpriced_and_pnl_rules_silent():
    quotes = QUOTES.copy()
    quotes.loc[quotes["strike"] == 24500, ["bid", "ask", "ltp"]] = [0.0, 27.0, 0.0]  # one-sided, never traded
    marked = mark_legs(CONDOR, quotes, TODAY)
    metrics = position_metrics(marked, TODAY)
    assert np.isnan(metrics.loc[0, "pnl"]) and "leg 2 (24500CE)" in metrics.loc[0, "unpriced_reason"]
    rules = RULES.assign(threshold=[-1e9, 1e9, 7, 0.30, 0.20, np.nan])  # would hit on any pnl
    hits = exit_hits(rules, metrics, marked).set_index("exit_no")
    assert not hits.loc[0, "hit"] and not hits.loc[1, "hit"] and hits.loc[2, "hit"]


def test_last_price_marks_a_leg_without_a_two_sided_quote():
    quotes = QUOTES.copy()
    quotes.loc[quotes["strike"] == 25000, ["bid", "ask"]] = [0.0, 0.0]
    marked = mark_legs(CONDOR, quotes, TODAY)
    assert marked.loc[3, "mark"] == 7.2


def test_expiry_settles_at_intrinsic_value_after_the_close():
    # spot 24,600: only the 24,500 call is in the money (₹100); 65 × [(0 − 20) − (0 − 55) − (100 − 50) + (0 − 15)]
    spot_chain = QUOTES.assign(underlying_price=24600.0)
    marked = mark_legs(CONDOR, spot_chain, EXPIRY, after_close=True)
    assert marked["settled"].all() and marked["mark"].tolist() == [0.0, 0.0, 100.0, 0.0]
    assert position_metrics(marked, EXPIRY).loc[0, "pnl"] == pytest.approx(-1950.0)
    before_close = mark_legs(CONDOR, spot_chain, EXPIRY)
    assert not before_close["settled"].any() and before_close["mark"].tolist() == [10.0, 30.0, 25.0, 7.0]


def test_itm_stock_options_are_flagged_from_four_trading_days_before_expiry():
    expiry = date(2026, 12, 29)  # Tuesday; 25 Dec is a holiday
    legs = pd.DataFrame({
        "strategy_id": [1, 1, 2], "leg_no": [0, 1, 0], "symbol": ["RELIANCE", "RELIANCE", "NIFTY"],
        "instrument": ["CE", "CE", "CE"], "side": ["BUY", "SELL", "BUY"], "strike": [1300.0, 1400.0, 23000.0],
        "expiry": expiry, "qty": [500, 500, 65], "entry_price": [60.0, 20.0, 900.0],
    })
    quotes = pd.concat([
        chain([(1300, "CE", 54, 56, 55, 0.8), (1400, "CE", 4, 6, 5, 0.2)], spot=1350.0, symbol="RELIANCE",
              expiry=expiry),
        chain([(23000, "CE", 990, 1010, 1000, 0.9)], spot=24000.0, expiry=expiry)])
    warned = physical_settlement_warnings(mark_legs(legs, quotes, date(2026, 12, 22)), date(2026, 12, 22),
                                          {"NIFTY"})
    # after 22 Dec: 23, 24, 28, 29 Dec → 4 trading days; only the ITM stock leg (1300 CE at spot 1350) is flagged
    assert warned[["strategy_id", "leg_no", "trading_days_left"]].values.tolist() == [[1, 0, 4]]
    assert "physical delivery of 500 shares" in warned["message"].iloc[0]
    earlier = date(2026, 12, 21)
    assert physical_settlement_warnings(mark_legs(legs, quotes, earlier), earlier, {"NIFTY"}).empty


def test_bad_input_names_the_problem():
    with pytest.raises(InputError, match="entry_price"):
        mark_legs(CONDOR.drop(columns="entry_price"), QUOTES, TODAY)
    marked = mark_legs(CONDOR, QUOTES, TODAY)
    with pytest.raises(InputError, match="theta_decay"):
        exit_hits(RULES.assign(metric="theta_decay"), position_metrics(marked, TODAY), marked)
