"""Book greeks and stress: checked against QuantLib's Black–Scholes and hand-worked stock legs."""

import numpy as np
import pandas as pd
import pytest
import QuantLib as ql

from optionsv4_lib.analysis.portfolio_risk import StressConfig, beta_to_market, book_greeks, book_risk, scenario_pnl
from optionsv4_lib.strategies.evaluate import CE, NONE, PE, STK, Positions

R = 0.065


def _positions(rows: list[list[tuple[int, float, float, float, float]]]) -> Positions:
    """rows of legs (kind, strike, qty, years, sigma), padded with NONE legs."""
    width = max(map(len, rows))
    pad = (NONE, 0.0, 0.0, 0.0, 0.0)
    arrays = np.array([[*row, *[pad] * (width - len(row))] for row in rows], dtype=float)
    kind = arrays[:, :, 0].astype(np.int8)
    return Positions(kind, arrays[:, :, 1], arrays[:, :, 2], np.zeros(kind.shape), arrays[:, :, 3], arrays[:, :, 4])


def _quantlib_price(is_call: bool, spot: float, strike: float, years: float, sigma: float) -> float:
    """European BS value from QuantLib's analytic engine (continuous rate R, no dividend)."""
    today = ql.Date(7, 12, 2026)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    maturity = today + int(round(years * 365))
    years = day_count.yearFraction(today, maturity)
    process = ql.BlackScholesProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, R, day_count)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), sigma, day_count)))
    option = ql.EuropeanOption(ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike),
                               ql.EuropeanExercise(maturity))
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option.NPV(), years


def test_short_strangle_scenarios_match_quantlib_revaluation():
    spot, beta = 24_000.0, 1.0
    years = 14 / 365
    pos = _positions([[(CE, 25_000, -75, years, 0.13), (PE, 23_000, -75, years, 0.16)]])
    moves, shifts = np.array([-0.10, 0.0, 0.05]), np.array([0.50, 0.0, 0.30])
    pnl = scenario_pnl(pos, np.array([spot]), np.array([beta]), R, moves, shifts)[0]
    for got, move, shift in zip(pnl, moves, shifts):
        want = 0.0
        for is_call, strike, sigma in ((True, 25_000, 0.13), (False, 23_000, 0.16)):
            now, _ = _quantlib_price(is_call, spot, strike, years, sigma)
            then, _ = _quantlib_price(is_call, spot * (1 + move), strike, years, sigma * (1 + shift))
            want += -75 * (then - now)
        assert got == pytest.approx(want, rel=1e-6, abs=1e-6)
    assert pnl[1] == 0.0  # no move, no shift: nothing happens
    assert pnl[0] < -75 * 23_000 * 0.05  # a 10 % gap down with vols up: the short put is deep in the money


def test_stock_legs_move_by_beta():
    pos = _positions([[(STK, 0.0, 500, 0.1, 0.0)]])
    pnl = scenario_pnl(pos, np.array([1_320.0]), np.array([1.4]), R, np.array([-0.05, 0.10]), np.array([0.3, 0.0]))
    np.testing.assert_allclose(pnl[0], [500 * 1_320 * 1.4 * -0.05, 500 * 1_320 * 1.4 * 0.10])


def test_book_greeks_in_nifty_terms():
    stock = _positions([[(STK, 0.0, 500, 0.1, 0.0)]])
    greeks = book_greeks(stock, np.array([1_000.0]), np.array([1.5]), R)[0]
    assert greeks[0] == pytest.approx(500 * 1_000 * 1.5)  # ₹ of NIFTY notional with the same P&L
    assert greeks[1:].tolist() == [0.0, 0.0, 0.0]
    straddle = _positions([[(CE, 24_000, 75, 30 / 365, 0.14), (PE, 24_000, 75, 30 / 365, 0.14)]])
    delta, gamma, vega, theta = book_greeks(straddle, np.array([24_000.0]), np.array([1.0]), R)[0]
    assert gamma > 0 and vega > 0 and theta < 0
    # gamma: the change of the ₹ delta for a 1 % NIFTY move, by finite difference of the ₹ delta
    up = book_greeks(straddle, np.array([24_000.0 * 1.0001]), np.array([1.0]), R)[0][0]
    down = book_greeks(straddle, np.array([24_000.0 * 0.9999]), np.array([1.0]), R)[0][0]
    dollar_delta_slope = (up / 1.0001 - down / 0.9999) / 0.0002 * 0.01  # d(qty·Δ·S)/d(ln S) less the S-term
    assert gamma == pytest.approx(dollar_delta_slope, rel=1e-3)


def test_book_risk_sums_positions_and_names_scenarios():
    years = 20 / 365
    short = _positions([[(CE, 24_500, -75, years, 0.14)], [(PE, 23_500, -75, years, 0.15)]])
    config = StressConfig(moves=(-0.10, 0.05), vol_shifts=(0.0, 0.5))
    spot, beta = np.array([24_000.0, 24_000.0]), np.array([1.0, 1.0])
    each = scenario_pnl(short, spot, beta, R, *config.scenarios())
    risk = book_risk(each, book_greeks(short, spot, beta, R), 3e7, config)
    np.testing.assert_allclose(risk.stress["pnl"], each.sum(axis=0))
    assert risk.stress["scenario"].tolist() == ["NIFTY −10 %", "NIFTY −10 %, IV +50 %", "NIFTY +5 %",
                                                "NIFTY +5 %, IV +50 %"]
    assert risk.worst == risk.stress["pnl"].min() < 0
    np.testing.assert_allclose(risk.stress["pnl_pct_capital"], risk.stress["pnl"] / 3e7 * 100)
    assert risk.greeks["vega"] == pytest.approx(book_greeks(short, spot, beta, R)[:, 2].sum())
    assert risk.greeks["vega"] < 0
    empty = book_risk(np.zeros((0, 4)), np.zeros((0, 4)), 3e7, config)
    assert empty.worst == 0.0 and empty.greeks["delta_nifty_inr"] == 0.0


def test_beta_from_aligned_daily_returns():
    days = pd.bdate_range("2025-01-01", periods=300)
    rng = np.random.default_rng(7)
    market_returns = rng.normal(0, 0.01, len(days))
    own_returns = 1.5 * market_returns + rng.normal(0, 0.002, len(days))
    market = pd.Series(24_000 * np.exp(np.cumsum(market_returns)), index=days)
    own = pd.Series(1_000 * np.exp(np.cumsum(own_returns)), index=days).drop(days[100:110])  # missing days
    beta, note = beta_to_market(own, market)
    assert note is None and beta == pytest.approx(1.5, abs=0.05)
    beta, note = beta_to_market(own.tail(30), market)
    assert beta == 1.0 and "29 common daily returns, need 60" in note
    assert beta_to_market(None, market) == (1.0, "beta to NIFTY 1 assumed (no price history)")


def test_scenario_names_keep_fractional_moves_apart():
    from optionsv4_lib.analysis.portfolio_risk import scenario_name

    assert scenario_name(-0.025, 0.3) == "NIFTY −2.5 %, IV +30 %"
    assert scenario_name(-0.02, 0.0) == "NIFTY −2 %" != scenario_name(-0.015, 0.0)
