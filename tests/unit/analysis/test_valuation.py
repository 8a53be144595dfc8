"""Market-consistent valuation on a real-shaped chain and on every candidate of the synthetic market.

The real-shaped chain is NSE's NIFTY option closes of 21 Nov 2024 with a stated quote model (tests/support/
real_chain.py says which).

What must hold (issue 15): the smile fits the quotes closely and without arbitrage; under the market measure (the
smile, its leg prices projected into the quotes) a candidate entered at the mids is worth at most its half-spreads
either way and one entered at the touch exactly that less the half-spreads and costs, never more than −costs; no
ranked strategy shows a positive market-measure E[P&L]; a positive view E[P&L] comes with its forecast in words.
"""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from real_chain import CLOSE, RATE, TRADE_DATE, real_chain

from optionsv4_lib.analysis.analyze import analyze_symbol, choose_expiries
from optionsv4_lib.analysis.limits import DEFAULT_PROFILES
from optionsv4_lib.analysis.market_state import MarketState
from optionsv4_lib.analysis.valuation import value_symbol
from optionsv4_lib.marketdata.checks import check_chain
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.strategies.candidates import CandidateRules, generate_candidates
from optionsv4_lib.strategies.evaluate import NONE, Positions
from optionsv4_lib.strategies.metrics import leg_quotes, position_costs, value_positions


def state(direction="Neutral", confidence=0.5) -> MarketState:
    return MarketState(history_date=TRADE_DATE, state=f"{direction} / Normal VIX", direction=direction,
                       direction_confidence=confidence, vix=15.0, vix_regime="Normal", vix_percentile=50.0,
                       pcr_oi=1.0, pcr_volume=1.0, indicators={}, votes={}, explanation=[])


def nifty_closes(days: int = 600, vol: float = 0.13, seed: int = 7) -> np.ndarray:
    """A NIFTY-like close history (oldest first) for the view's forecast."""
    returns = np.random.default_rng(seed).normal(0.0, vol / np.sqrt(252), days)
    return 23_349.90 * np.exp(np.cumsum(returns) - returns.sum())


def candidates_valued(chain, *, closes=None, is_index=True):
    """Every candidate of the chain with its valuation: (CandidateSet, Valuation, costs at the touch)."""
    chain = check_chain(chain)
    as_of = pd.Timestamp(chain["quoted_at"].max()).tz_convert(IST).to_pydatetime()
    valued = value_symbol(chain, as_of=as_of, r=RATE, state=state(), closes=closes)
    chain = chain[pd.to_datetime(chain["expiry"]).isin(list(valued.smiles))]
    cset = generate_candidates(chain, symbol=str(chain["symbol"].iloc[0]), as_of=as_of, r=RATE,
                               is_index=is_index, rules=CandidateRules())
    far = cset.meta["far_expiry"].dropna()
    valuation = valued.valuation(cset.meta["expiry"].iloc[0], far.iloc[0] if len(far) else None)
    return cset, valuation, position_costs(cset.positions, as_of.date())


def at_mids(cset) -> tuple[Positions, np.ndarray]:
    """The candidate set's positions entered at the mids, and Σ |qty| × half-spread per candidate (₹)."""
    legs = cset.legs.sort_values(["candidate_id", "leg_no"])
    pos = cset.positions
    mid = np.zeros_like(pos.premium)
    half = np.zeros_like(pos.premium)
    row = pd.Series(np.arange(len(cset.meta)), index=cset.meta["candidate_id"])[legs["candidate_id"]].to_numpy()
    col = legs["leg_no"].to_numpy()
    mid[row, col] = legs["mid"].to_numpy(float)
    half[row, col] = ((legs["ask"] - legs["bid"]) / 2).to_numpy(float)
    mid = np.where(pos.kind == NONE, 0.0, mid)
    return Positions(pos.kind, pos.strike, pos.qty, mid, pos.years, pos.sigma), (np.abs(pos.qty) * half).sum(axis=1)


def test_the_real_chain_fits_a_smile_free_of_arbitrage_inside_its_quotes():
    valued = value_symbol(real_chain(), as_of=CLOSE, r=RATE, state=state(), closes=None)
    assert len(valued.smiles) == 2
    fits, quotes = valued.smile_rows("NIFTY")
    assert (fits["method"] == "svi").all() and (fits["g_min"] >= 0).all()
    assert (fits["rms_resid_vol"] < 0.003).all(), fits  # within 0.3 vol points of our mid IVs, RMS
    used = quotes[quotes["used"]]
    assert (used["resid_vol"].abs() < 0.01).all()  # and within 1 vol point everywhere
    near = fits.iloc[0]
    assert 0.10 < near["atm_vol"] < 0.20 and near["forward_source"] == "parity"
    skew = valued.smiles[pd.Timestamp("2024-11-28")].iv(np.array([22_800.0, 23_350.0, 23_900.0]))
    assert skew[0] > skew[1], "NIFTY's put wing is above ATM"


@pytest.mark.parametrize("chain_of", ["real", "synthetic"])
def test_every_candidate_is_worth_nothing_at_the_mids_and_minus_frictions_at_the_touch(chain_of):
    if chain_of == "real":
        sets = [candidates_valued(real_chain())]
    else:
        market = SyntheticMarket(42, date(2026, 11, 23))
        sets = []
        for row in market.universe.itertuples():  # every symbol of a full run, its near and far chain
            if row.symbol in market.broken:
                continue
            expiries = choose_expiries(market.expiries(row.symbol), market.trade_date, CandidateRules())
            chain = pd.concat([market.option_chain(row.symbol, e) for e in expiries])
            sets.append(candidates_valued(chain, is_index=row.sector == "Index"))
        assert len(sets) >= 55
    for cset, valuation, costs in sets:
        mids, half_spreads = at_mids(cset)
        quotes = leg_quotes(cset.legs, list(cset.meta["candidate_id"]), cset.positions.kind.shape[1])
        at_mid = value_positions(mids, valuation, np.zeros(len(costs)), quotes)["expected_pnl_market"]
        at_touch = value_positions(cset.positions, valuation, costs, quotes)["expected_pnl_market"]
        # the touch differs from the mids by the half-spreads paid, exactly, and the costs
        np.testing.assert_allclose(at_touch, at_mid - half_spreads - costs, rtol=1e-9, atol=1e-6)
        # leg values inside the quotes: |E at the mids| ≤ the half-spreads, so E at the touch ≤ −costs
        assert (np.abs(at_mid) <= half_spreads * (1 + 1e-9) + 1e-6).all()
        assert (at_touch <= -costs + 1e-6).all()
        if chain_of == "synthetic":  # the smile itself lies inside these quotes: no projection needed
            pure = value_positions(mids, valuation, np.zeros(len(costs)))["expected_pnl_market"]
            assert (np.abs(pure) <= half_spreads * (1 + 1e-9) + 1e-6).mean() >= 0.99


def test_no_ranked_strategy_on_the_real_chain_shows_a_market_profit_and_the_view_says_why():
    analysis = analyze_symbol(
        "NIFTY", real_chain(), is_index=True, state=state("Bearish", 0.8), as_of=CLOSE, r=RATE,
        limits=DEFAULT_PROFILES["aggressive"], rules=CandidateRules(), closes=nifty_closes(),
    )
    top = analysis.selected
    assert len(top) > 0
    assert (top["expected_pnl_market"] <= 0).all(), top[["candidate_id", "expected_pnl_market"]]
    np.testing.assert_allclose(top["edge"], top["expected_pnl_net"] - top["expected_pnl_market"])
    assert top["rationale"].str.contains("forecast σ").all() and top["rationale"].str.contains("edge").all()
    assert (top["forecast_vol"] > 0).all() and np.allclose(top["implied_vol"], analysis.atm_iv)


def test_a_far_chain_without_a_smile_drops_only_the_multi_expiry_candidates():
    chain = real_chain()
    far = chain["expiry"] == pd.Timestamp("2024-12-26")
    chain.loc[far, ["bid", "ask"]] = 0.0  # no quote of the far expiry gives an implied vol
    valued = value_symbol(chain, as_of=CLOSE, r=RATE, state=state(), closes=None)
    assert list(valued.smiles) == [pd.Timestamp("2024-11-28")]
    assert any("2024-12-26 dropped" in note for note in valued.notes)


def test_without_history_the_view_is_the_implied_vol_and_says_so():
    valued = value_symbol(real_chain(), as_of=CLOSE, r=RATE, state=state(), closes=None)
    near = valued.smiles[pd.Timestamp("2024-11-28")]
    assert valued.view_sigma == pytest.approx(near.curve.atm_vol)
    assert "no price history" in valued.view_text and valued.view_drift == 0.0
