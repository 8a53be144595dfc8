"""strategy_metrics against optionlab 1.9.1, an independent implementation, on identical inputs.

17 strategies (single legs, vertical spreads, iron condor and butterfly, straddles, strangles, a
call butterfly, a put ratio spread and a covered call with a stock leg) x 6 markets (NIFTY-,
BANKNIFTY-, stock- and small-cap-like; vol 11-58 %, rate 0-6.8 %, dividend yield 0-1.2 %, 6-88
days, one with a real-world drift) go through both in one optionlab subprocess call. Checked: PoP,
expected P&L (optionlab: PoP x E[P&L | profit] + (1 - PoP) x E[P&L | no profit]), breakevens, max
profit and max loss.

Conventions are aligned, not tolerated (see tests/support/peers/optionlab.py): optionlab counts calendar
days over 365 (`discard_nonbusiness_days=False`), integrates PoP in closed form under the same
risk-neutral lognormal, and is given our drift as its interest rate when we pass `drift`. What is
left differs by construction and is far inside the tolerances: optionlab counts P&L >= 0.01 as
profit (ours: > 0), so its breakevens sit at most 0.01 from ours.

Max profit / max loss: optionlab reports extremes over a price grid, here 0 to 2 x max(spot,
strikes) in steps that hold every strike, so a bounded extreme (always at 0, at a strike or on a
flat wing) is on the grid and must match exactly. An unbounded side has no grid value to match:
ours must then be +/-inf and optionlab's P&L must still be rising (max profit) or falling (max
loss) at the top of its grid, and vice versa.
"""

import math

import pytest
from peers.optionlab import optionlab_inputs, optionlab_python, run_strategies

from optionsv4_lib.reference.calendar import DAYS_PER_YEAR
from optionsv4_lib.strategies import strategy_metrics

POP_TOLERANCE = 0.002
BREAKEVEN_TOLERANCE = 0.5  # ₹ of underlying
EXTREME_RELATIVE_TOLERANCE = 1e-6
EXPECTED_PNL_TOLERANCE = 1e-9  # ₹ per ₹ of notional (spot x total units): both integrate in closed form
TICK = 0.05  # NSE option price tick, ₹

# name: spot ₹, vol, rate, dividend yield, days to expiry, strike step ₹, units per leg, drift (None = r - q)
MARKETS = {
    "nifty_weekly": dict(spot=24137.5, vol=0.11, rate=0.065, q=0.0, days=6, step=50.0, qty=75, drift=None),
    "nifty_monthly": dict(spot=22813.0, vol=0.19, rate=0.065, q=0.0, days=30, step=50.0, qty=75, drift=None),
    "banknifty_quarter": dict(spot=51260.0, vol=0.24, rate=0.068, q=0.0, days=88, step=100.0, qty=30, drift=None),
    "stock_dividend": dict(spot=1482.3, vol=0.32, rate=0.07, q=0.012, days=24, step=20.0, qty=500, drift=None),
    "smallcap_high_vol": dict(spot=97.35, vol=0.58, rate=0.0, q=0.0, days=45, step=2.5, qty=4000, drift=None),
    "stock_real_world_drift": dict(spot=1482.3, vol=0.27, rate=0.065, q=0.0, days=38, step=20.0, qty=500, drift=0.15),
}

# name: legs as (type, strike offset in wing widths from the ATM strike, side, units per lot); STK offset unused
STRATEGIES = {
    "long_call": [("CE", 0, "BUY", 1)],
    "short_call": [("CE", 1, "SELL", 1)],
    "long_put": [("PE", 0, "BUY", 1)],
    "short_put": [("PE", -1, "SELL", 1)],
    "bull_call_spread": [("CE", 0, "BUY", 1), ("CE", 2, "SELL", 1)],
    "bear_put_spread": [("PE", 0, "BUY", 1), ("PE", -2, "SELL", 1)],
    "bull_put_spread": [("PE", -1, "SELL", 1), ("PE", -3, "BUY", 1)],
    "bear_call_spread": [("CE", 1, "SELL", 1), ("CE", 3, "BUY", 1)],
    "iron_condor": [("PE", -3, "BUY", 1), ("PE", -1, "SELL", 1), ("CE", 1, "SELL", 1), ("CE", 3, "BUY", 1)],
    "iron_butterfly": [("PE", -2, "BUY", 1), ("PE", 0, "SELL", 1), ("CE", 0, "SELL", 1), ("CE", 2, "BUY", 1)],
    "long_straddle": [("CE", 0, "BUY", 1), ("PE", 0, "BUY", 1)],
    "short_straddle": [("CE", 0, "SELL", 1), ("PE", 0, "SELL", 1)],
    "long_strangle": [("CE", 1, "BUY", 1), ("PE", -1, "BUY", 1)],
    "short_strangle": [("CE", 2, "SELL", 1), ("PE", -2, "SELL", 1)],
    "call_butterfly": [("CE", -1, "BUY", 1), ("CE", 0, "SELL", 2), ("CE", 1, "BUY", 1)],
    "put_ratio_spread": [("PE", 0, "BUY", 1), ("PE", -2, "SELL", 2)],
    "covered_call": [("STK", 0, "BUY", 1), ("CE", 1, "SELL", 1)],
}


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _quoted_premium(option_type: str, spot: float, strike: float, vol: float, rate: float, q: float, years: float) -> float:
    """A realistic quote to feed both sides: the Black-Scholes value rounded to the tick, at least one tick."""
    d1 = (math.log(spot / strike) + (rate - q + vol * vol / 2) * years) / (vol * math.sqrt(years))
    d2 = d1 - vol * math.sqrt(years)
    forward_spot, discounted_strike = spot * math.exp(-q * years), strike * math.exp(-rate * years)
    if option_type == "CE":
        value = forward_spot * _normal_cdf(d1) - discounted_strike * _normal_cdf(d2)
    else:
        value = discounted_strike * _normal_cdf(-d2) - forward_spot * _normal_cdf(-d1)
    return max(TICK, round(value / TICK) * TICK)


def _case(strategy: str, market: str) -> dict:
    """Our legs and market inputs for one strategy in one market, plus optionlab's grid."""
    m = MARKETS[market]
    years = m["days"] / DAYS_PER_YEAR
    atm = round(m["spot"] / m["step"]) * m["step"]
    # Wing width: about 0.4 standard deviations of the expiry price, in whole strike steps.
    width = max(1, round(0.4 * m["spot"] * m["vol"] * math.sqrt(years) / m["step"])) * m["step"]
    legs = []
    for option_type, offset, side, lots in STRATEGIES[strategy]:
        if option_type == "STK":
            # Bought earlier, 2 % below today's spot: the entry price is not the spot.
            legs.append({"type": "STK", "strike": 0.0, "side": side, "qty": lots * m["qty"], "premium": round(m["spot"] * 0.98, 2)})
            continue
        strike = atm + offset * width
        premium = _quoted_premium(option_type, m["spot"], strike, m["vol"], m["rate"], m["q"], years)
        legs.append({"type": option_type, "strike": strike, "side": side, "qty": lots * m["qty"], "premium": premium})
    strikes = [leg["strike"] for leg in legs if leg["type"] != "STK"]
    price_step = min(1.0, m["step"] / 5)
    assert all(abs(k / price_step - round(k / price_step)) < 1e-9 for k in strikes), "every strike must be on optionlab's grid"
    return {**m, "legs": legs, "years": years, "price_step": price_step, "max_stock": 2 * math.ceil(max(m["spot"], *strikes))}


CASES = {f"{strategy}-{market}": _case(strategy, market) for strategy in STRATEGIES for market in MARKETS}


def _optionlab_case(case: dict) -> dict:
    # optionlab's lognormal drift is interest_rate - dividend_yield, and with every leg expiring on the
    # target date r and q enter nowhere else: a real-world drift mu goes in as rate mu, no dividend.
    rate, q = (case["rate"], case["q"]) if case["drift"] is None else (case["drift"], 0.0)
    return optionlab_inputs(
        case["legs"], case["spot"], case["vol"], rate, case["days"], q,
        max_stock=case["max_stock"], price_step=case["price_step"],
    )


@pytest.fixture(scope="module")
def optionlab_results() -> dict[str, dict]:
    results = run_strategies([_optionlab_case(case) for case in CASES.values()])
    return dict(zip(CASES, results))


@pytest.mark.parametrize("case_id", list(CASES))
def test_strategy_metrics_match_optionlab(case_id: str, optionlab_results: dict[str, dict]) -> None:
    case = CASES[case_id]
    peer = optionlab_results[case_id]
    assert "error" not in peer, peer.get("error")
    ours = strategy_metrics(case["legs"], case["spot"], case["vol"], case["rate"], case["years"], case["q"], drift=case["drift"])

    assert ours["pop"] == pytest.approx(peer["pop"], abs=POP_TOLERANCE)
    notional = case["spot"] * sum(leg["qty"] for leg in case["legs"])
    assert ours["expected_pnl"] == pytest.approx(peer["expected_pnl"], abs=EXPECTED_PNL_TOLERANCE * notional)

    assert len(ours["breakevens"]) == len(peer["breakevens"]), (ours["breakevens"], peer["breakevens"])
    assert list(ours["breakevens"]) == pytest.approx(peer["breakevens"], abs=BREAKEVEN_TOLERANCE)

    unbounded_profit = peer["top_slope"] > 0.5  # P&L still rising by at least half a unit per ₹ at the grid's top
    unbounded_loss = peer["top_slope"] < -0.5
    assert (ours["max_profit"] == math.inf) == unbounded_profit
    assert (ours["max_loss"] == -math.inf) == unbounded_loss
    if not unbounded_profit:
        assert ours["max_profit"] == pytest.approx(peer["max_in_domain"], rel=EXTREME_RELATIVE_TOLERANCE)
    if not unbounded_loss:
        assert ours["max_loss"] == pytest.approx(peer["min_in_domain"], rel=EXTREME_RELATIVE_TOLERANCE)


def test_helper_skips_when_the_venv_is_missing(tmp_path) -> None:
    with pytest.raises(pytest.skip.Exception, match="optionlab venv not available: .* is missing"):
        optionlab_python(tmp_path / "no-such-python")


def test_helper_skips_when_the_venv_is_broken(tmp_path) -> None:
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: optionlab' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(pytest.skip.Exception, match="optionlab venv not available: .* cannot import optionlab"):
        optionlab_python(broken)
