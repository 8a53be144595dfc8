"""Strategy payoff, probability and candidates: hand-worked cases, closed forms and Monte Carlo as oracles."""

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from chains import make_chain
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from valuations import flat_valuation

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.pricing.black_scholes import black76_price, bs_price
from optionsv4_lib.reference.costs import round_trip_costs
from optionsv4_lib.strategies import evaluate_candidates, strategy_metrics
from optionsv4_lib.strategies.candidates import CandidateRules, generate_candidates
from optionsv4_lib.strategies.catalog import CATALOG, catalog_table, template
from optionsv4_lib.strategies.evaluate import touch_probability

AS_OF = datetime(2026, 11, 23, 9, 15)


def leg(kind, strike, side, premium, qty=1, **extra):
    return {"type": kind, "strike": strike, "side": side, "qty": qty, "premium": premium, **extra}


def iron_condor(qty=65):
    return [
        leg("PE", 23000, "BUY", 20.0, qty),
        leg("PE", 23500, "SELL", 55.0, qty),
        leg("CE", 24500, "SELL", 50.0, qty),
        leg("CE", 25000, "BUY", 15.0, qty),
    ]


def test_iron_condor_hand_worked():
    m = strategy_metrics(iron_condor(), spot=24000, vol=0.14, rate=0.065, years=14 / 365)
    credit = 55 + 50 - 20 - 15  # ₹70 per unit
    assert m["net_premium"] == pytest.approx(credit * 65)
    assert m["breakevens"] == pytest.approx([23500 - credit, 24500 + credit])
    assert m["max_profit"] == pytest.approx(credit * 65)
    assert m["max_loss"] == pytest.approx(-(500 - credit) * 65)
    assert not m["unbounded_profit"] and not m["unbounded_loss"]
    assert m["capital_at_risk"] == pytest.approx((500 - credit) * 65)
    # PoP is the lognormal mass between the breakevens
    sd, mean = 0.14 * np.sqrt(14 / 365), (0.065 - 0.5 * 0.14**2) * 14 / 365
    cdf = lambda x: norm.cdf((np.log(x / 24000) - mean) / sd)  # noqa: E731
    assert m["pop"] == pytest.approx(cdf(24500 + credit) - cdf(23500 - credit), abs=1e-12)


@pytest.mark.parametrize("drift", [None, 0.0, 0.15])
def test_long_call_pop_is_n_d2_at_the_breakeven(drift):
    S, K, premium, vol, r, T = 1000.0, 1020.0, 18.5, 0.3, 0.065, 30 / 365
    m = strategy_metrics([leg("CE", K, "BUY", premium)], S, vol, r, T, drift=drift)
    mu = r if drift is None else drift
    be = K + premium
    d2 = (np.log(S / be) + (mu - 0.5 * vol**2) * T) / (vol * np.sqrt(T))
    d1 = d2 + vol * np.sqrt(T)
    assert m["breakevens"] == pytest.approx([be])
    assert m["pop"] == pytest.approx(norm.cdf(d2), abs=1e-12)
    assert abs(m["pop"] - norm.cdf(d1)) > 0.01  # the classic bug would pass with N(d1)
    assert m["max_profit"] == np.inf and m["max_loss"] == pytest.approx(-premium)
    expected = black76_price("CE", S * np.exp(mu * T), K, T, 0.0, vol) - premium
    assert m["expected_pnl"] == pytest.approx(expected, rel=1e-10)


def test_unbounded_flags():
    short_call = strategy_metrics([leg("CE", 100, "SELL", 3)], 100, 0.2, 0.05, 0.1)
    assert short_call["max_loss"] == -np.inf and short_call["unbounded_loss"]
    assert short_call["max_profit"] == pytest.approx(3)
    covered = strategy_metrics([leg("STK", 0, "BUY", 100), leg("CE", 105, "SELL", 2)], 100, 0.2, 0.05, 0.1)
    assert covered["max_profit"] == pytest.approx(7) and covered["max_loss"] == pytest.approx(-98)
    assert covered["breakevens"] == pytest.approx([98])
    short_put = strategy_metrics([leg("PE", 100, "SELL", 3)], 100, 0.2, 0.05, 0.1)
    assert short_put["max_loss"] == pytest.approx(-97)  # the price cannot go below 0


def random_position(rng):
    legs = []
    for _ in range(rng.integers(1, 5)):
        kind = rng.choice(["CE", "PE"])
        legs.append(leg(kind, float(rng.choice(np.arange(80, 125, 5))), rng.choice(["BUY", "SELL"]), float(rng.uniform(0.5, 8)), int(rng.integers(1, 3))))
    return legs


def test_metrics_agree_with_monte_carlo():
    rng = np.random.default_rng(7)
    S, vol, r, T = 100.0, 0.3, 0.06, 45 / 365
    z = rng.standard_normal(400_000)
    terminal = S * np.exp((r - 0.5 * vol**2) * T + vol * np.sqrt(T) * z)
    for _ in range(20):
        legs = random_position(rng)
        m = strategy_metrics(legs, S, vol, r, T)
        pnl = np.zeros_like(terminal)
        for lg in legs:
            payoff = np.maximum(terminal - lg["strike"], 0) if lg["type"] == "CE" else np.maximum(lg["strike"] - terminal, 0)
            pnl += (1 if lg["side"] == "BUY" else -1) * lg["qty"] * (payoff - lg["premium"])
        assert m["pop"] == pytest.approx((pnl > 0).mean(), abs=0.004)
        assert m["expected_pnl"] == pytest.approx(pnl.mean(), abs=0.05 + 4 * pnl.std() / np.sqrt(len(pnl)))
        assert m["max_loss"] <= pnl.min() + 1e-9 and pnl.max() <= m["max_profit"] + 1e-9
        for be in m["breakevens"]:
            value = sum(
                (1 if lg["side"] == "BUY" else -1) * lg["qty"]
                * ((max(be - lg["strike"], 0) if lg["type"] == "CE" else max(lg["strike"] - be, 0)) - lg["premium"])
                for lg in legs
            )
            assert value == pytest.approx(0, abs=1e-9)


def test_expected_pnl_equals_closed_form_over_legs():
    rng = np.random.default_rng(11)
    for _ in range(50):
        legs = random_position(rng)
        S, vol, r, T = 100.0, float(rng.uniform(0.1, 0.8)), 0.07, float(rng.uniform(2, 90)) / 365
        m = strategy_metrics(legs, S, vol, r, T)
        closed = sum(
            (1 if lg["side"] == "BUY" else -1) * lg["qty"]
            * (black76_price(lg["type"], S * np.exp(r * T), lg["strike"], T, 0.0, vol) - lg["premium"])
            for lg in legs
        )
        assert m["expected_pnl"] == pytest.approx(closed, rel=1e-9, abs=1e-9)


def test_calendar_spread_on_the_grid_agrees_with_monte_carlo():
    S, r, T1, T2, vol = 1000.0, 0.065, 10 / 365, 38 / 365, 0.25
    near = bs_price("CE", S, 1000, T1, r, vol)
    far = bs_price("CE", S, 1000, T2, r, vol)
    legs = [leg("CE", 1000, "SELL", near, 100, years=T1), leg("CE", 1000, "BUY", far + 0.5, 100, years=T2)]
    m = strategy_metrics(legs, S, vol, r, T1)
    z = np.random.default_rng(3).standard_normal(200_000)
    terminal = S * np.exp((r - 0.5 * vol**2) * T1 + vol * np.sqrt(T1) * z)
    pnl = 100 * (bs_price("CE", terminal, 1000, T2 - T1, r, vol) - far - 0.5 - np.maximum(terminal - 1000, 0) + near)
    assert m["pop"] == pytest.approx((pnl > 0).mean(), abs=0.005)
    assert m["expected_pnl"] == pytest.approx(pnl.mean(), rel=0.02)
    assert m["max_profit"] == pytest.approx(pnl.max(), rel=0.01)
    assert len(m["breakevens"]) == 2 and m["breakevens"][0] < 1000 < m["breakevens"][1]


def test_touch_probability_closed_forms():
    # zero log-drift (μ = σ²/2): the reflection principle gives exactly twice the terminal probability
    S, vol, T = 100.0, 0.3, 0.25
    for barrier in (90.0, 110.0, 130.0):
        a = abs(np.log(barrier / S))
        expected = 2 * norm.cdf(-a / (vol * np.sqrt(T)))
        assert touch_probability(S, barrier, vol, T, 0.5 * vol**2) == pytest.approx(expected, abs=1e-12)
    assert touch_probability(S, S, vol, T, 0.05) == 1.0


def test_touch_probability_with_drift_against_simulation():
    rng = np.random.default_rng(5)
    S, vol, T, mu, steps = 100.0, 0.25, 0.2, 0.3, 2000
    dt = T / steps
    paths = np.log(S) + np.cumsum((mu - 0.5 * vol**2) * dt + vol * np.sqrt(dt) * rng.standard_normal((20_000, steps)), axis=1)
    hit = (paths.max(axis=1) >= np.log(108.0)).mean()
    # discrete monitoring misses some touches: the continuous probability is a little higher
    assert 0 < touch_probability(S, 108.0, vol, T, mu) - hit < 0.03


def test_costs_are_the_round_trip_of_every_leg():
    legs = iron_condor()
    trade = date(2026, 5, 4)
    m = strategy_metrics(legs, 24000, 0.14, 0.065, 14 / 365, costs=trade)
    expected = sum(
        round_trip_costs("OPTION", lg["side"], lg["premium"], lg["premium"], lg["qty"], trade).total for lg in legs
    )
    assert m["costs"] == pytest.approx(float(expected))
    assert m["max_profit_net"] == pytest.approx(m["max_profit"] - m["costs"])
    assert m["max_loss_net"] == pytest.approx(m["max_loss"] - m["costs"])
    assert m["expected_pnl_net"] == pytest.approx(m["expected_pnl"] - m["costs"])
    assert m["pop_net"] < m["pop"]
    per_unit = m["costs"] / 65
    assert m["breakevens_net"] == pytest.approx([23500 - 70 + per_unit, 24500 + 70 - per_unit])


@pytest.mark.parametrize(
    "legs, field",
    [
        ([], "legs"),
        ([leg("XX", 100, "BUY", 1)], "legs[0].type"),
        ([leg("CE", 100, "HOLD", 1)], "legs[0].side"),
        ([leg("CE", 100, "BUY", -1)], "legs[0].premium"),
        ([leg("CE", 100, "BUY", float("nan"))], "legs[0].premium"),
        ([leg("CE", -5, "BUY", 1)], "legs[0].strike"),
        ([leg("CE", 100, "BUY", 1, qty=0)], "legs[0].qty"),
        ([{"type": "PE", "side": "SELL", "qty": 1, "premium": 1}], "legs[0].strike"),
    ],
)
def test_bad_legs_name_the_field(legs, field):
    with pytest.raises(InputError, match=field.replace("[", r"\[").replace("]", r"\]")):
        strategy_metrics(legs, 100, 0.2, 0.05, 0.1)


@pytest.mark.parametrize("kwargs, field", [({"spot": -1}, "spot"), ({"vol": float("nan")}, "vol"), ({"years": 0}, "years"), ({"years": -0.1}, "years")])
def test_bad_market_inputs_name_the_field(kwargs, field):
    args = {"spot": 100, "vol": 0.2, "rate": 0.05, "years": 0.1} | kwargs
    with pytest.raises(InputError, match=field):
        strategy_metrics([leg("CE", 100, "BUY", 1)], **args)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["CE", "PE", "STK"]), st.integers(70, 130), st.sampled_from(["BUY", "SELL"]), st.floats(0, 30), st.integers(1, 3)),
        min_size=1, max_size=4,
    ),
    st.floats(0.05, 1.5),
    st.floats(1, 400),
)
def test_metric_invariants(raw, vol, days):
    legs = [leg(k, s, side, p if k != "STK" else 100.0, q) for k, s, side, p, q in raw]
    m = strategy_metrics(legs, 100.0, vol, 0.06, days / 365)
    assert 0.0 <= m["pop"] <= 1.0
    assert m["max_loss"] <= m["expected_pnl"] + 1e-6 <= m["max_profit"] + 2e-6
    assert m["breakevens"] == sorted(m["breakevens"])
    assert not any(np.isnan(v) for v in (m["pop"], m["expected_pnl"], m["max_profit"], m["max_loss"], m["capital_at_risk"]))


# ---------------------------------------------------------------- catalog and candidates


def test_catalog_has_the_22_strategies_with_consistent_legs():
    names = {t.name for t in CATALOG}
    required = {
        "Long Call", "Long Put", "Bull Call Spread", "Bear Call Spread", "Bull Put Spread", "Bear Put Spread",
        "Iron Condor", "Iron Butterfly", "Call Butterfly", "Put Butterfly", "Short Straddle", "Short Strangle",
        "Long Straddle", "Long Strangle", "Cash-Secured Put", "Covered Call", "Calendar Spread", "Diagonal Spread",
        "Call Ratio Spread", "Put Ratio Spread", "Jade Lizard", "Broken Wing Butterfly",
    }
    assert required <= names and len(names) == len(CATALOG) >= 22
    for t in CATALOG:
        for lg in t.legs:
            if lg.strike is not None and lg.strike.anchor == "leg":
                ref = t.legs[lg.strike.leg].strike
                assert ref is not None and ref.anchor != "leg", t.name  # one level of reference
        for variant in t.variants:
            params = {str(v).lstrip("-") for lg in t.legs if lg.strike for v in (lg.strike.offset, lg.strike.delta) if isinstance(v, str)}
            assert params <= set(variant), t.name
    assert template("iron condor").risk_type == "defined"
    assert {row["name"] for row in catalog_table()} == names


def candidates(chain=None, **kwargs):
    args = dict(symbol="TEST", as_of=AS_OF, r=0.065) | kwargs
    return generate_candidates(make_chain() if chain is None else chain, **args)


def test_every_template_yields_candidates_with_its_legs():
    cset = candidates()
    assert set(cset.meta["strategy"]) == {t.name for t in CATALOG}
    legs = cset.legs.merge(cset.meta[["candidate_id", "strategy"]], on="candidate_id")
    for name, group in legs.groupby("strategy"):
        tpl = template(name)
        for _, rows in group.groupby("candidate_id"):
            rows = rows.sort_values("leg_no")
            assert list(rows["instrument"]) == [lg.instrument for lg in tpl.legs]
            assert list(rows["side"]) == [lg.side for lg in tpl.legs]
            assert list(rows["qty"]) == [lg.ratio * 100 for lg in tpl.legs]
    option_legs = cset.legs[cset.legs["instrument"] != "STK"]
    buys = option_legs["side"] == "BUY"
    assert (option_legs.loc[buys, "entry_price"] == option_legs.loc[buys, "ask"]).all()
    assert (option_legs.loc[~buys, "entry_price"] == option_legs.loc[~buys, "bid"]).all()


def test_strike_rules_resolve_as_written():
    cset = candidates()
    legs = cset.legs.set_index(["candidate_id", "leg_no"])
    ic = cset.meta[cset.meta["strategy"] == "Iron Condor"].iloc[0]
    w = ic["variant"]["w"] * 10  # strike step of the test chain
    assert legs.loc[(ic["candidate_id"], 0), "strike"] == legs.loc[(ic["candidate_id"], 1), "strike"] - w
    assert legs.loc[(ic["candidate_id"], 3), "strike"] == legs.loc[(ic["candidate_id"], 2), "strike"] + w
    assert abs(abs(legs.loc[(ic["candidate_id"], 1), "delta"]) - ic["variant"]["d"]) < 0.05
    fly = cset.meta[cset.meta["strategy"] == "Iron Butterfly"].iloc[0]
    assert legs.loc[(fly["candidate_id"], 1), "strike"] == legs.loc[(fly["candidate_id"], 2), "strike"] == 1000
    cal = cset.meta[cset.meta["strategy"] == "Calendar Spread"].iloc[0]
    assert legs.loc[(cal["candidate_id"], 1), "expiry"] > legs.loc[(cal["candidate_id"], 0), "expiry"]


def test_indices_get_no_strategy_about_the_shares():
    """A cash-settled index has no shares to own (covered call) or to take delivery of (cash-secured put)."""
    cset = candidates(is_index=True)
    assert not {"Covered Call", "Cash-Secured Put"} & set(cset.meta["strategy"])
    expected = len(template("Covered Call").variants) + len(template("Cash-Secured Put").variants)
    assert cset.skipped["a strategy about the shares: an index settles in cash"] == expected
    assert {"Covered Call", "Cash-Secured Put"} <= set(candidates(is_index=False).meta["strategy"])


def test_vectorized_evaluation_matches_strategy_metrics():
    cset = candidates()
    table, legs = evaluate_candidates(cset, 0.065, 0.0, date(2026, 11, 23), valuation=flat_valuation(cset, 0.065))
    for _, row in table.sample(12, random_state=1).iterrows():
        rows = legs[legs["candidate_id"] == row["candidate_id"]]
        if rows["expiry"].nunique() > 1:
            continue
        single = strategy_metrics(
            [leg(r.instrument, r.strike if r.instrument != "STK" else 0, r.side, r.entry_price, r.qty) for r in rows.itertuples()],
            row["spot"], row["atm_iv"], 0.065, row["years"], costs=date(2026, 11, 23),
            defined_risk=row["risk_type"] == "defined",
        )
        # the view's P&L is in ₹ today: P(e^{−rT}·payoff > premium) = P(payoff > premium·e^{rT})
        growth = np.exp(0.065 * row["years"])
        forward_paid = strategy_metrics(
            [leg(r.instrument, r.strike if r.instrument != "STK" else 0, r.side, r.entry_price * growth, r.qty)
             for r in rows.itertuples()], row["spot"], row["atm_iv"], 0.065, row["years"],
        )
        for key in ("max_profit", "max_loss", "costs", "capital_at_risk"):  # measure-free
            assert row[key] == pytest.approx(single[key], rel=1e-9), key
        # the view is the same lognormal here (flat smiles, no drift)
        assert row["pop"] == pytest.approx(forward_paid["pop"], abs=1e-9)
        assert row["expected_pnl"] == pytest.approx(forward_paid["expected_pnl"] / growth, rel=1e-6, abs=1e-6)
        assert row["breakevens"] == pytest.approx(single["breakevens"])
    short = legs[(legs["side"] == "SELL") & (legs["instrument"] != "STK")]
    assert short["touch_prob"].between(0, 1).all() and legs.loc[legs["side"] == "BUY", "touch_prob"].isna().all()


def test_illiquid_strikes_are_filtered():
    wide = make_chain(spread=0.5)
    with pytest.raises(DataError, match="wide spread"):
        candidates(wide)
    thin = make_chain(oi=300)  # 3 lots of 100 < 5 lots
    with pytest.raises(DataError, match="low open interest"):
        candidates(thin)


def test_per_symbol_data_problems_are_clear_errors():
    with pytest.raises(DataError, match="empty option chain"):
        candidates(make_chain().iloc[0:0])
    crossed = make_chain()
    crossed["bid"], crossed["ask"] = crossed["ask"] + 1, crossed["bid"]
    with pytest.raises(DataError, match="crossed quote"):
        candidates(crossed)
    with pytest.raises(DataError, match="stale expiry 2026-11-20"):
        candidates(make_chain(expiries=(date(2026, 11, 20), date(2026, 12, 29)), as_of=datetime(2026, 11, 19, 9, 15)))
    with pytest.raises(DataError, match="TEST: invalid lot size 0 for the contract expiring 2026-11-30"):
        candidates(make_chain(lot_size=0))
    with pytest.raises(DataError, match="lot_sizes.csv: no lot size for 'TEST'"):  # neither chain nor table
        candidates(make_chain(lot_size=None))
    two = make_chain()
    two.loc[two.index[:3], "lot_size"] = 50
    with pytest.raises(DataError, match="contracts expiring 2026-11-30 in lots of 50, 100: expected one lot"):
        candidates(two)
    with pytest.raises(DataError, match="missing column 'bid'"):
        candidates(make_chain().drop(columns="bid"))


def test_each_leg_takes_its_contracts_lot_and_a_strategy_lot_is_their_lcm():
    """Around a lot revision the near contract trades in 25s and the far in 75s: single-expiry strategies keep their
    contract's lot, a calendar's strategy lot is lcm(25, 75) = 75 units (3 near contract lots against 1 far)."""
    chain = make_chain()
    near = chain["expiry"] == chain["expiry"].min()
    chain["lot_size"] = np.where(near, 25, 75)
    chain["oi"] = 10_000
    cset = candidates(chain)
    meta, legs = cset.meta.set_index("candidate_id"), cset.legs
    single = meta["far_expiry"].isna()
    assert (meta.loc[single, "lot_size"] == 25).all()
    assert (meta.loc[~single, "lot_size"] == 75).all() and (~single).sum() > 0
    cal = legs[legs["candidate_id"] == meta.index[meta["strategy"] == "Calendar Spread"][0]].sort_values("leg_no")
    assert list(cal["contract_lot"]) == [25, 75] and list(cal["qty"]) == [75, 75]
    options = legs[legs["instrument"] != "STK"]
    assert (options["qty"] % options["contract_lot"] == 0).all()
    assert (options["contract_lot"] == np.where(options["expiry"] == chain["expiry"].min(), 25, 75)).all()
    units = legs["candidate_id"].map(meta["lot_size"]) * legs["ratio"]
    assert (legs["qty"] == units).all()


def test_lcm_of_coprime_lots_and_the_oi_screen_in_contract_lots():
    chain = make_chain(oi=1_000)  # 5 lots of 200 pass, 5 lots of 300 = 1,500 do not
    near = chain["expiry"] == chain["expiry"].min()
    chain["lot_size"] = np.where(near, 200, 300)
    cset = candidates(chain)
    assert set(cset.meta["lot_size"]) == {200}  # the far contracts are all screened out: no calendar
    chain["lot_size"] = np.where(near, 40, 60)
    cset = candidates(chain)
    assert set(cset.meta.loc[cset.meta["far_expiry"].notna(), "lot_size"]) == {120}


def test_missing_iv_is_implied_from_the_mid():
    chain = make_chain()
    with_iv = candidates(chain)
    chain["iv"] = np.nan
    without = candidates(chain)
    pd.testing.assert_series_equal(with_iv.legs["strike"], without.legs["strike"])
    assert np.allclose(with_iv.legs["iv"], without.legs["iv"], atol=0.01, equal_nan=True)


def test_near_expiry_respects_minimum_days():
    cset = candidates(rules=CandidateRules(min_dte_days=10))
    assert (cset.meta["expiry"] == pd.Timestamp("2026-12-29")).all()
    assert "no far expiry" in cset.skipped


def test_atm_iv_comes_from_the_nearest_strike_with_a_usable_quote():
    """The strike nearest the spot may have no usable quote (a real chain's gaps): its neighbour's IV is the ATM IV."""
    from optionsv4_lib.strategies.candidates import QuoteGrid

    nan = np.nan
    iv = np.array([[0.16, nan, 0.14], [0.17, nan, 0.15]])  # rows CE, PE; the middle strike (ATM) unquoted
    shape = iv.shape
    grid = QuoteGrid(pd.Timestamp("2026-12-29"), 0.1, 100, np.array([95.0, 100.0, 105.0]), np.ones(shape),
                     np.ones(shape), iv, np.full(shape, nan), np.zeros(shape), np.ones(shape), np.ones(shape),
                     np.full(shape, nan), np.isfinite(iv), atm=1)
    assert grid.atm_iv == pytest.approx(0.165)  # the lower neighbour wins the tie; no RuntimeWarning (an error here)
    empty = QuoteGrid(grid.expiry, 0.1, grid.lot, grid.strikes, grid.bid, grid.ask, np.full(shape, nan), grid.broker_iv,
                      grid.delta, grid.oi, grid.volume, grid.security_id, np.zeros(shape, bool), atm=1)
    assert np.isnan(empty.atm_iv)
