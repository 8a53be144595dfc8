"""Scoring on the real candidate table of tests/chains.py and on hand-built rows: the fit tables, direction bias,
hand-worked factors, monotonicity (PoP, expected return, liquidity), market-fit direction, profile filters,
determinism and tie-breaking, select_top per symbol, rationales, and input checking."""

import math
from datetime import date, datetime
from typing import get_args

import numpy as np
import pandas as pd
import pytest
from chains import make_chain  # noqa: E402
from hypothesis import given, settings
from hypothesis import strategies as st
from valuations import flat_valuation

from optionsv4_lib.analysis.limits import DEFAULT_PROFILES, RiskLimits, ScoreWeights
from optionsv4_lib.analysis.market_state import STATES, MarketState, VixRegime
from optionsv4_lib.analysis.scoring import (
    FACTOR_COLUMNS,
    FACTORS,
    MARKET_FIT,
    VOL_SIDE_FIT,
    WEAK_BELOW,
    direction_bias,
    score_candidates,
    select_top,
)
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.strategies import evaluate_candidates
from optionsv4_lib.strategies.candidates import generate_candidates
from optionsv4_lib.strategies.catalog import View

MODERATE, CONSERVATIVE = DEFAULT_PROFILES["moderate"], DEFAULT_PROFILES["conservative"]
EQUAL_WEIGHTS = RiskLimits(weights=ScoreWeights(**{name: 1.0 for name in FACTORS}))


def market(direction="Neutral", regime="Normal", confidence=1.0) -> MarketState:
    return MarketState(history_date=date(2026, 11, 23), state=f"{direction} / {regime} VIX", direction=direction,
                       direction_confidence=confidence, vix=15.0, vix_regime=regime, vix_percentile=50.0,
                       pcr_oi=None, pcr_volume=None, indicators={}, votes={}, explanation=[])


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    cs = generate_candidates(make_chain(), symbol="TEST", as_of=datetime(2026, 11, 23, 9, 15), r=0.065)
    return evaluate_candidates(cs, 0.065, 0.0, date(2026, 11, 23), valuation=flat_valuation(cs, 0.065))[0]


def row_of(table, strategy, variant=0) -> pd.Series:
    return table[table["strategy"] == strategy].iloc[variant]


def frame_of(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows)).reset_index(drop=True)


def relabel(row: pd.Series, candidate_id: str, **changes) -> pd.Series:
    out = row.copy()
    out["candidate_id"] = candidate_id
    for key, value in changes.items():
        out[key] = value
    return out


# ---------------------------------------------------------------- tables


def test_fit_tables_cover_every_state_view_and_regime():
    assert tuple(MARKET_FIT.index) == STATES
    assert set(MARKET_FIT.columns) == set(get_args(View))
    assert tuple(VOL_SIDE_FIT.index) == get_args(VixRegime)
    for fit in (MARKET_FIT, VOL_SIDE_FIT):
        assert fit.notna().all().all() and ((fit >= 0) & (fit <= 1)).all().all()
    assert FACTORS == tuple(ScoreWeights.model_fields)


@pytest.mark.parametrize("regime", get_args(VixRegime))
def test_bearish_rows_mirror_bullish_rows(regime):
    swap = {"bullish": "bearish", "bearish": "bullish", "neutral-bullish": "neutral-bearish",
            "neutral-bearish": "neutral-bullish"}
    bullish = MARKET_FIT.loc[f"Bullish / {regime} VIX"].rename(lambda view: swap.get(view, view))
    pd.testing.assert_series_equal(bullish.sort_index(), MARKET_FIT.loc[f"Bearish / {regime} VIX"].sort_index(),
                                   check_names=False)


@pytest.mark.parametrize("position, market_direction, expected", [
    ("LONG", "Bullish", "Bullish"), ("LONG", "Neutral", "Bullish"), ("LONG", "Bearish", "Neutral"),
    ("SHORT", "Bullish", "Neutral"), ("SHORT", "Neutral", "Bearish"), ("SHORT", "Bearish", "Bearish"),
    ("NEUTRAL", "Bullish", "Bullish"), ("NEUTRAL", "Neutral", "Neutral"), ("NEUTRAL", "Bearish", "Bearish"),
    (None, "Bullish", "Bullish"), (None, "Bearish", "Bearish"), (" long ", "Neutral", "Bullish"),
])
def test_direction_bias(position, market_direction, expected):
    assert direction_bias(position, market_direction) == expected


def test_direction_bias_rejects_unknown_labels():
    with pytest.raises(InputError, match="position_type"):
        direction_bias("FLAT", "Bullish")
    with pytest.raises(InputError, match="market_direction"):
        direction_bias("LONG", "Sideways")


# ---------------------------------------------------------------- factors by hand


def test_factors_and_score_by_hand(table):
    """One row with round numbers: every factor worked out from the documented transforms."""
    capital = 10_000.0
    row = relabel(row_of(table, "Bull Call Spread"), "hand", capital_at_risk=capital,
                  pop_net=0.60,
                  expected_pnl_net=0.05 * capital,  # +ROR_SCALE → logistic(1)
                  max_profit_net=1.5 * capital,  # half the reward/risk cap of 3
                  min_oi=250 * 100, total_volume=500 * 100, max_spread_pct=0.05,  # each liquidity part 0.5
                  vega=-10.0, delta=100.0, costs=0.10 * capital, lot_size=100)
    scored = score_candidates(frame_of(row), state=market("Bullish", "High", 1.0), limits=EQUAL_WEIGHTS,
                              iv_rank=80.0).iloc[0]
    expected = {
        "f_market_fit": 0.75 * 0.90 + 0.25 * 1.00,  # Bullish / High VIX, bullish view; sells volatility in High
        "f_pop": 0.60,
        "f_return_on_risk": 1 / (1 + math.exp(-1)),
        "f_reward_risk": 0.5,
        "f_liquidity": 0.5,
        "f_iv_fit": 0.80,  # sells volatility at IV rank 80
        "f_greeks": 1.0,  # delta of one full lot, Bullish bias
        "f_cost_drag": 0.5,
    }
    for column, value in expected.items():
        assert scored[column] == pytest.approx(value, abs=1e-12), column
    assert scored["score"] == pytest.approx(100 * np.mean(list(expected.values())), abs=1e-9)


def test_neutral_greeks_reward_flat_delta_and_positive_theta(table):
    base = row_of(table, "Iron Condor")
    rows = frame_of(relabel(base, "flat-earning", delta=0.0, theta=50.0),
                    relabel(base, "flat-paying", delta=0.0, theta=-50.0),
                    relabel(base, "half-lot-earning", delta=-50.0, theta=50.0))
    greeks = score_candidates(rows, state=market("Neutral", "Normal"), limits=MODERATE)["f_greeks"]
    assert greeks.tolist() == pytest.approx([1.0, 0.5, 0.75])


def test_iv_fit_follows_the_volatility_side(table):
    high = score_candidates(table, state=market(), limits=MODERATE, iv_rank=90.0)
    sells, buys = high["vega"] < 0, high["vega"] > 0
    assert sells.any() and buys.any()
    assert high.loc[sells, "f_iv_fit"].tolist() == pytest.approx([0.9] * sells.sum())
    assert high.loc[buys, "f_iv_fit"].tolist() == pytest.approx([0.1] * buys.sum())
    unknown = score_candidates(table, state=market(), limits=MODERATE, iv_rank=None)
    assert (unknown["f_iv_fit"] == 0.5).all()


# ---------------------------------------------------------------- the real table


@pytest.mark.parametrize("state", [market(d, v, c) for d in ("Bullish", "Neutral", "Bearish")
                                   for v, c in (("Low", 0.6), ("High", 1.0))], ids=lambda s: s.state)
@pytest.mark.parametrize("profile", list(DEFAULT_PROFILES))
def test_scores_bounded_and_finite_on_the_real_table(table, state, profile):
    assert np.isinf(table["reward_risk"]).any() and np.isinf(table["max_profit"]).any()
    assert np.isinf(table["max_loss"]).any()
    scored = score_candidates(table, state=state, limits=DEFAULT_PROFILES[profile], iv_rank=35.0)
    assert len(scored) == len(table) and (scored.index == table.index).all()
    values = scored[["score", *FACTOR_COLUMNS]].to_numpy(dtype=float)
    assert np.isfinite(values).all()
    assert ((scored["score"] >= 0) & (scored["score"] <= 100)).all()
    assert ((scored[list(FACTOR_COLUMNS)] >= 0) & (scored[list(FACTOR_COLUMNS)] <= 1)).all().all()
    assert scored["rationale"].map(lambda text: isinstance(text, str) and len(text) > 10).all()
    assert (scored["eligible"] == scored["rejection"].isna()).all()
    pd.testing.assert_frame_equal(scored[table.columns], table)  # the input columns pass through untouched


# ---------------------------------------------------------------- monotonicity


STATES_FOR_PROPERTIES = [market(d, v, c) for d in ("Bullish", "Neutral", "Bearish") for v in ("Low", "High")
                         for c in (0.5, 1.0)]


@settings(max_examples=60, deadline=None)
@given(row=st.integers(0, 50), state=st.sampled_from(STATES_FOR_PROPERTIES),
       low=st.floats(0, 1), high=st.floats(0, 1), iv=st.one_of(st.none(), st.floats(0, 100)),
       position=st.sampled_from([None, "LONG", "SHORT"]))
def test_higher_pop_never_scores_lower(table, row, state, low, high, iv, position):
    low, high = min(low, high), max(low, high)
    base = table.iloc[row % len(table)]
    rows = frame_of(relabel(base, "low", pop=low, pop_net=low), relabel(base, "high", pop=high, pop_net=high))
    score = score_candidates(rows, state=state, limits=MODERATE, iv_rank=iv, position_type=position)["score"]
    assert score[1] >= score[0]


@settings(max_examples=60, deadline=None)
@given(row=st.integers(0, 50), state=st.sampled_from(STATES_FOR_PROPERTIES),
       low=st.floats(-1e5, 1e5), high=st.floats(-1e5, 1e5))
def test_higher_expected_pnl_never_scores_lower(table, row, state, low, high):
    low, high = min(low, high), max(low, high)
    base = table.iloc[row % len(table)]
    rows = frame_of(relabel(base, "low", expected_pnl_net=low), relabel(base, "high", expected_pnl_net=high))
    score = score_candidates(rows, state=state, limits=MODERATE)["score"]
    assert score[1] >= score[0]


@settings(max_examples=60, deadline=None)
@given(row=st.integers(0, 50), state=st.sampled_from(STATES_FOR_PROPERTIES),
       oi=st.floats(0, 1e7), more_oi=st.floats(0, 1e7), volume=st.floats(0, 1e7), more_volume=st.floats(0, 1e7),
       spread=st.floats(0, 0.3), tighter_by=st.floats(0, 0.3))
def test_more_liquidity_never_scores_lower(table, row, state, oi, more_oi, volume, more_volume, spread, tighter_by):
    base = table.iloc[row % len(table)]
    thin = relabel(base, "thin", min_oi=oi, total_volume=volume, max_spread_pct=spread)
    liquid = relabel(base, "liquid", min_oi=oi + more_oi, total_volume=volume + more_volume,
                     max_spread_pct=max(spread - tighter_by, 0.0))
    scored = score_candidates(frame_of(thin, liquid), state=state, limits=MODERATE)
    assert scored["f_liquidity"][1] >= scored["f_liquidity"][0]
    assert scored["score"][1] >= scored["score"][0]


# ---------------------------------------------------------------- market fit


def test_bullish_low_vix_prefers_a_bull_call_spread_to_an_equal_bear_put_spread(table):
    bull = row_of(table, "Bull Call Spread")
    bear = relabel(bull, "bear", strategy="Bear Put Spread", view="bearish")
    for direction, winner in (("Bullish", 0), ("Bearish", 1)):
        score = score_candidates(frame_of(bull, bear), state=market(direction, "Low"), limits=MODERATE)["score"]
        assert score[winner] > score[1 - winner], direction


def test_neutral_high_vix_prefers_an_iron_condor_to_an_equal_long_straddle(table):
    condor = row_of(table, "Iron Condor")
    straddle = relabel(condor, "straddle", strategy="Long Straddle", family="volatility", view="volatile")
    high = score_candidates(frame_of(condor, straddle), state=market("Neutral", "High"), limits=MODERATE)["score"]
    low = score_candidates(frame_of(condor, straddle), state=market("Neutral", "Low"), limits=MODERATE)["score"]
    assert high[0] > high[1]
    assert low[1] > low[0]  # Low VIX favours buying premium


def test_real_rows_follow_the_state(table):
    """Without equalising metrics: long premium tops the fit in Neutral / Low VIX, short premium in Neutral /
    High VIX, bullish debit in Bullish / Low VIX."""
    def best_fit(state):
        scored = score_candidates(table, state=state, limits=MODERATE)
        return set(scored.loc[scored["f_market_fit"] == scored["f_market_fit"].max(), "strategy"])

    assert best_fit(market("Neutral", "Low")) == {"Long Straddle", "Long Strangle"}
    assert "Iron Condor" in best_fit(market("Neutral", "High"))
    assert best_fit(market("Bullish", "Low")) == {"Long Call", "Bull Call Spread"}


def test_low_confidence_pulls_fit_towards_the_neutral_row(table):
    spread = frame_of(row_of(table, "Bull Call Spread"))  # bullish view, buys volatility (vega > 0)
    fit = {c: score_candidates(spread, state=market("Bullish", "Low", c), limits=MODERATE)["f_market_fit"][0]
           for c in (1.0, 0.75, 0.5)}
    # view fit: Bullish / Low VIX 1.00, Neutral / Low VIX 0.40; side fit (buys, Low) 1.00
    assert fit[1.0] == pytest.approx(0.75 * 1.00 + 0.25 * 1.00)
    assert fit[0.75] == pytest.approx(0.75 * (0.75 * 1.00 + 0.25 * 0.40) + 0.25)
    assert fit[0.5] == pytest.approx(0.75 * (0.5 * 1.00 + 0.5 * 0.40) + 0.25)


def test_position_type_sets_the_symbol_direction(table):
    condor = frame_of(row_of(table, "Iron Condor"))
    neutral = score_candidates(condor, state=market("Neutral", "High", 0.9), limits=MODERATE)
    long_in_bear = score_candidates(condor, state=market("Bearish", "High", 0.9), limits=MODERATE,
                                    position_type="LONG")
    assert long_in_bear["f_market_fit"][0] == pytest.approx(neutral["f_market_fit"][0])
    assert "Neutral / High VIX" in long_in_bear["rationale"][0]
    # SHORT in a Neutral market: Bearish, half-confident: 0.75 × (½ × 0.50 + ½ × 1.00) + 0.25 × 1.00
    short = score_candidates(condor, state=market("Neutral", "High", 0.9), limits=MODERATE, position_type="short")
    assert short["f_market_fit"][0] == pytest.approx(0.75 * 0.75 + 0.25)


# ---------------------------------------------------------------- profile filters


def test_conservative_profile_filters(table):
    scored = score_candidates(table, state=market(), limits=CONSERVATIVE)
    allowed = scored["family"].isin(CONSERVATIVE.families)
    defined = scored["risk_type"] == "defined"
    enough_pop = scored["pop_net"] >= CONSERVATIVE.min_pop
    assert (scored["eligible"] == (allowed & defined & enough_pop)).all()
    # each filter bites on the real table
    assert (~allowed).any() and (~defined).any() and (~enough_pop).any() and scored["eligible"].any()
    reasons = scored["rejection"].fillna("")
    assert reasons[~allowed].str.contains("family").all()
    assert reasons[~defined].str.contains("undefined risk not allowed").all()
    assert reasons[~enough_pop].str.contains("below the minimum 55.0 %").all()
    straddle = scored[scored["strategy"] == "Long Straddle"].iloc[0]
    assert "family volatility not allowed" in straddle["rejection"]
    ratio = scored[scored["strategy"] == "Put Ratio Spread"].iloc[0]  # every reason but capital, joined
    assert ratio["rejection"] == ("family advanced not allowed by the profile; undefined risk not allowed; "
                                  f"PoP {ratio['pop_net'] * 100:.1f} % below the minimum 55.0 %")


def test_moderate_allows_undefined_risk(table):
    scored = score_candidates(table, state=market(), limits=MODERATE)
    strangles = scored[scored["strategy"] == "Short Strangle"]
    assert strangles["eligible"].all()


def test_non_positive_capital_is_rejected_with_a_finite_score(table):
    row = relabel(row_of(table, "Iron Condor"), "zero", capital_at_risk=0.0)
    scored = score_candidates(frame_of(row), state=market(), limits=MODERATE).iloc[0]
    assert not scored["eligible"] and "capital at risk ≤ 0" in scored["rejection"]
    assert np.isfinite(scored[["score", *FACTOR_COLUMNS]].to_numpy(dtype=float)).all()


# ---------------------------------------------------------------- determinism, ties, select_top


def test_scoring_is_deterministic_and_order_free(table):
    first = score_candidates(table, state=market("Bullish", "High", 0.7), limits=MODERATE, iv_rank=60.0)
    again = score_candidates(table, state=market("Bullish", "High", 0.7), limits=MODERATE, iv_rank=60.0)
    pd.testing.assert_frame_equal(first, again)
    shuffled = table.sample(frac=1.0, random_state=7)
    other = score_candidates(shuffled, state=market("Bullish", "High", 0.7), limits=MODERATE, iv_rank=60.0)
    pd.testing.assert_frame_equal(other.loc[first.index], first)
    pd.testing.assert_frame_equal(select_top(other, 5), select_top(first, 5))


def test_ties_break_by_candidate_id(table):
    base = row_of(table, "Iron Condor")
    rows = frame_of(*(relabel(base, name) for name in ("c", "a", "b")))
    scored = score_candidates(rows, state=market(), limits=MODERATE)
    assert scored["score"].nunique() == 1
    top = select_top(scored, 3)
    assert top["candidate_id"].tolist() == ["a", "b", "c"] and top["rank"].tolist() == [1, 2, 3]


def test_select_top_per_symbol(table):
    other = table.assign(symbol="OTHER", candidate_id="OTHER:" + table["candidate_id"],
                         pop_net=table["pop_net"] * 0.9)
    none_eligible = table.head(3).assign(symbol="NONE", candidate_id="NONE:" + table["candidate_id"].head(3),
                                         capital_at_risk=0.0)
    scored = pd.concat([score_candidates(frame, state=market("Neutral", "High"), limits=MODERATE)
                        for frame in (other, table, none_eligible)], ignore_index=True)
    top = select_top(scored, 3)
    assert top["symbol"].tolist() == ["OTHER"] * 3 + ["TEST"] * 3
    assert top["rank"].tolist() == [1, 2, 3] * 2
    assert top["eligible"].all()
    for symbol, picked in top.groupby("symbol"):
        pool = scored[(scored["symbol"] == symbol) & scored["eligible"]]
        assert picked["score"].tolist() == sorted(pool["score"], reverse=True)[:3]
    assert len(select_top(scored, 100)) == scored["eligible"].sum()


def test_select_top_checks_its_input(table):
    scored = score_candidates(table, state=market(), limits=MODERATE)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="top_n"):
            select_top(scored, bad)
    with pytest.raises(InputError, match="eligible"):
        select_top(scored.drop(columns="eligible"), 3)


# ---------------------------------------------------------------- rationale

KEYWORDS = {"market_fit": "fit", "pop": "PoP", "return_on_risk": "expected return", "reward_risk": "reward",
            "liquidity": "OI", "iv_fit": "IV rank", "greeks": "delta", "cost_drag": "costs"}


@pytest.mark.parametrize("state, profile", [(market("Neutral", "High"), "moderate"),
                                            (market("Bullish", "Low", 0.6), "aggressive"),
                                            (market("Bearish", "Normal"), "conservative")])
def test_rationale_names_the_top_factor(table, state, profile):
    limits = DEFAULT_PROFILES[profile]
    scored = score_candidates(table, state=state, limits=limits, iv_rank=75.0)
    weights = np.array([getattr(limits.weights, name) for name in FACTORS])
    lift = (weights / weights.sum()) * (scored[list(FACTOR_COLUMNS)].to_numpy() - 0.5)
    top = np.array(FACTORS)[np.argmax(lift, axis=1)]
    for factor, text in zip(top, scored["rationale"], strict=True):
        strengths = text.split("weak:")[0]
        assert KEYWORDS[factor].lower() in strengths.lower(), (factor, text)
    all_strong = (scored[list(FACTOR_COLUMNS)] >= WEAK_BELOW).all(axis=1)
    assert not scored.loc[all_strong, "rationale"].str.contains("weak:").any()


def test_rationale_names_a_weakness(table):
    row = relabel(row_of(table, "Iron Condor"), "weak", pop_net=0.05)
    text = score_candidates(frame_of(row), state=market("Neutral", "High"), limits=MODERATE)["rationale"][0]
    assert text.startswith("Fits Neutral / High VIX") and "weak: PoP 5 %" in text


# ---------------------------------------------------------------- bad input


def test_missing_columns_are_named(table):
    with pytest.raises(InputError, match=r"missing column\(s\) pop_net, costs"):
        score_candidates(table.drop(columns=["pop_net", "costs"]), state=market(), limits=MODERATE)


@pytest.mark.parametrize("column, value", [("pop_net", np.nan), ("pop_net", 1.2), ("expected_pnl_net", np.inf),
                                           ("capital_at_risk", np.nan), ("max_profit_net", -np.inf),
                                           ("max_spread_pct", -0.01), ("lot_size", 0), ("delta", "n/a")])
def test_bad_values_are_named(table, column, value):
    bad = table.copy()
    bad[column] = bad[column].astype(object)
    bad.loc[bad.index[3], column] = value
    with pytest.raises(InputError, match=f"table.{column}"):
        score_candidates(bad, state=market(), limits=MODERATE)


def test_other_bad_input(table):
    with pytest.raises(InputError, match="table.view"):
        score_candidates(table.assign(view="sideways"), state=market(), limits=MODERATE)
    with pytest.raises(InputError, match="table: no candidates"):
        score_candidates(table.head(0), state=market(), limits=MODERATE)
    with pytest.raises(InputError, match="iv_rank"):
        score_candidates(table, state=market(), limits=MODERATE, iv_rank=120.0)
    with pytest.raises(InputError, match="position_type"):
        score_candidates(table, state=market(), limits=MODERATE, position_type="HEDGED")
    zero = RiskLimits(weights=ScoreWeights(**{name: 0.0 for name in FACTORS}))
    with pytest.raises(InputError, match="limits.weights"):
        score_candidates(table, state=market(), limits=zero)
    with pytest.raises(InputError, match="table"):
        score_candidates([1, 2], state=market(), limits=MODERATE)
    with pytest.raises(InputError, match="table.candidate_id: duplicates"):
        score_candidates(pd.concat([table, table.head(2)]), state=market(), limits=MODERATE)
