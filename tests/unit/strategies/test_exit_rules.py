"""Exit rules against hand-worked positions, the policy table's ordering, and input checking."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.stats import norm

from optionsv4_lib.core.domain import FAMILIES, RISK_PROFILES
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.strategies.exit_rules import COLUMNS, EXIT_POLICIES, KINDS, ExitPolicy, exit_conditions

SPOT, LOT = 24_000.0, 75
MOVE = 0.01 * SPOT  # the 1 % move the position-greek limits are stated for: ₹240


def candidate(candidate_id, family, net_premium, max_profit, max_loss, capital_at_risk=None, risk_type="defined",
              dte_days=45, delta=0.0, gamma=0.0, vega=0.0, spot=SPOT, strategy="test"):
    return dict(candidate_id=candidate_id, strategy=strategy, family=family, risk_type=risk_type,
                net_premium=net_premium, max_profit=max_profit, max_loss=max_loss,
                capital_at_risk=-max_loss if capital_at_risk is None else capital_at_risk, dte_days=dte_days,
                delta=delta, gamma=gamma, vega=vega, theta=0.0, spot=spot, lot_size=LOT)


def leg(candidate_id, leg_no, instrument, side, strike, delta, qty=LOT, entry_price=100.0):
    return dict(candidate_id=candidate_id, leg_no=leg_no, instrument=instrument, side=side, strike=strike, qty=qty,
                entry_price=entry_price, delta=delta)


IRON_CONDOR = candidate("ic", "neutral", 10_000.0, 10_000.0, -40_000.0, delta=-5.0, gamma=-0.02, vega=-600.0,
                        strategy="Iron Condor")
IRON_CONDOR_LEGS = [leg("ic", 1, "PE", "BUY", 23_200, -0.08), leg("ic", 2, "PE", "SELL", 23_400, -0.16),
                    leg("ic", 3, "CE", "SELL", 24_600, 0.16), leg("ic", 4, "CE", "BUY", 24_800, 0.08)]
LONG_CALL = candidate("lc", "directional", -18_000.0, math.inf, -18_000.0, delta=40.0, gamma=0.01, vega=1_200.0,
                      strategy="Long Call")
LONG_CALL_LEGS = [leg("lc", 1, "CE", "BUY", 24_000, 0.55)]
STRANGLE = candidate("ss", "neutral", 15_000.0, 15_000.0, -math.inf, capital_at_risk=2_00_000.0,
                     risk_type="undefined", delta=-8.0, gamma=-0.03, vega=-2_100.0, strategy="Short Strangle")
STRANGLE_LEGS = [leg("ss", 1, "PE", "SELL", 23_400, -0.16), leg("ss", 2, "CE", "SELL", 24_600, 0.16)]


def frames(*pairs):
    """(candidate, legs) pairs → (candidates, legs) DataFrames."""
    return (pd.DataFrame([candidate_row for candidate_row, _ in pairs]),
            pd.DataFrame([leg_row for _, legs in pairs for leg_row in legs]))


def relabel(legs, candidate_id):
    return [dict(leg_row, candidate_id=candidate_id) for leg_row in legs]


def rule(rows, candidate_id, kind):
    """The one row of kind for candidate_id."""
    chosen = rows[(rows["candidate_id"] == candidate_id) & (rows["kind"] == kind)]
    assert len(chosen) == 1, (candidate_id, kind, len(chosen))
    return chosen.iloc[0]


# ---------------------------------------------------------------- hand-worked positions


def test_iron_condor_moderate():
    rows = exit_conditions(*frames((IRON_CONDOR, IRON_CONDOR_LEGS)), "moderate")
    target, stop = rule(rows, "ic", "profit_target"), rule(rows, "ic", "stop_loss")
    # 50 % of the ₹10,000 max profit; 1.5 × the ₹10,000 credit, inside the ₹40,000 max loss.
    assert (target["metric"], target["comparison"], target["threshold"], target["unit"]) == ("pnl", "≥", 5_000, "₹")
    assert (stop["metric"], stop["comparison"], stop["threshold"], stop["unit"]) == ("pnl", "≤", -15_000, "₹")
    assert "₹5,000" in target["description"] and "-₹15,000" in stop["description"]
    assert rule(rows, "ic", "time_exit")["threshold"] == 21  # 45 DTE at entry: the policy's 21 DTE
    # Greek limits, each 20 / 10 / 20 % of the ₹10,000 credit for a 1 % (₹240) move or one vol point:
    assert rule(rows, "ic", "position_delta")["threshold"] == pytest.approx(0.20 * 10_000 / 240)
    assert rule(rows, "ic", "position_gamma")["threshold"] == pytest.approx(-2 * 0.10 * 10_000 / 240**2)
    assert rule(rows, "ic", "position_vega")["threshold"] == pytest.approx(0.20 * 10_000)


def test_stop_is_capped_at_a_finite_max_loss():
    narrow = candidate("narrow", "neutral", 10_000.0, 10_000.0, -12_000.0)
    rows = exit_conditions(*frames((narrow, relabel(IRON_CONDOR_LEGS, "narrow"))), "aggressive")
    stop = rule(rows, "narrow", "stop_loss")
    assert stop["threshold"] == -12_000  # 2 × ₹10,000 would be beyond the ₹12,000 max loss
    assert "capped at the ₹12,000 maximum loss" in stop["description"]
    assert rule(rows, "narrow", "profit_target")["threshold"] == 7_500  # 75 % of ₹10,000


def test_long_call_debit_uses_gain_on_debit():
    rows = exit_conditions(*frames((LONG_CALL, LONG_CALL_LEGS)), "moderate")
    assert rule(rows, "lc", "profit_target")["threshold"] == pytest.approx(0.60 * 18_000)  # unbounded max profit
    assert rule(rows, "lc", "stop_loss")["threshold"] == pytest.approx(-0.50 * 18_000)
    assert rule(rows, "lc", "time_exit")["threshold"] == 10
    assert "60 % gain on the ₹18,000 debit paid" in rule(rows, "lc", "profit_target")["description"]
    kinds = set(rows["kind"])
    assert "position_delta" not in kinds  # directional: delta is the thesis, no rule
    assert "position_gamma" not in kinds  # no short option: cannot be short gamma
    assert "short_delta" not in kinds


def test_debit_spread_target_is_capped_at_max_profit():
    spread = candidate("bcs", "directional", -4_000.0, 1_000.0, -4_000.0)
    spread_legs = [leg("bcs", 1, "CE", "BUY", 24_000, 0.55), leg("bcs", 2, "CE", "SELL", 24_100, 0.45)]
    rows = exit_conditions(*frames((spread, spread_legs)), "moderate")
    target = rule(rows, "bcs", "profit_target")
    assert target["threshold"] == 1_000  # 60 % of the ₹4,000 debit is ₹2,400, beyond the ₹1,000 max profit
    assert "capped at the maximum profit" in target["description"]


def test_short_strangle_stop_is_a_multiple_of_the_credit():
    for profile, multiple in [("conservative", 1.0), ("moderate", 1.5), ("aggressive", 2.0)]:
        rows = exit_conditions(*frames((STRANGLE, STRANGLE_LEGS)), profile)
        assert rule(rows, "ss", "stop_loss")["threshold"] == pytest.approx(-multiple * 15_000), profile
    rows = exit_conditions(*frames((STRANGLE, STRANGLE_LEGS)), "moderate")
    assert rule(rows, "ss", "profit_target")["threshold"] == 7_500
    # 20 % of the credit is ₹3,000 per vol point, but 1.5 × the ₹2,100 entry vega is more: headroom applies.
    assert rule(rows, "ss", "position_vega")["threshold"] == pytest.approx(1.5 * 2_100)


def test_costless_position_uses_capital_at_risk_as_basis():
    collar = candidate("zc", "advanced", 0.0, 30_000.0, -20_000.0)
    collar_legs = [leg("zc", 1, "CE", "SELL", 24_500, 0.3), leg("zc", 2, "PE", "BUY", 23_500, -0.3),
                   leg("zc", 3, "STK", "BUY", math.nan, 1.0)]
    rows = exit_conditions(*frames((collar, collar_legs)), "moderate")
    assert rule(rows, "zc", "profit_target")["threshold"] == pytest.approx(0.60 * 20_000)
    assert rule(rows, "zc", "stop_loss")["threshold"] == pytest.approx(-0.50 * 20_000)
    assert "capital at risk" in rule(rows, "zc", "stop_loss")["description"]


@pytest.mark.parametrize("dte, expected", [(45, 21), (42, 21), (30, 15), (7, 3), (1, 0), (0, 0)])
def test_time_exit_is_the_policy_dte_or_half_the_days_left(dte, expected):
    position = dict(IRON_CONDOR, dte_days=dte)
    rows = exit_conditions(*frames((position, IRON_CONDOR_LEGS)), "moderate")
    time_exit = rule(rows, "ic", "time_exit")
    assert (time_exit["metric"], time_exit["comparison"], time_exit["unit"]) == ("dte", "≤", "days")
    assert time_exit["threshold"] == expected


def test_indian_digit_grouping_in_descriptions():
    big = candidate("big", "neutral", 1_50_000.0, 1_50_000.0, -math.inf, capital_at_risk=25_00_000.0,
                    risk_type="undefined")
    rows = exit_conditions(*frames((big, [leg("big", 1, "CE", "SELL", 1_02_500, 0.2)])), "aggressive")
    assert "Stop out when P&L ≤ -₹3,00,000: 2× the ₹1,50,000 credit received." == rule(
        rows, "big", "stop_loss")["description"]
    assert "Short CE 1,02,500 (leg 1)" in rule(rows, "big", "short_delta")["description"]


# ---------------------------------------------------------------- short legs and adjustments


def test_short_delta_rows_exist_exactly_for_sell_option_legs():
    covered = candidate("cc", "income", -17_00_000.0, 60_000.0, -17_00_000.0)
    covered_legs = [leg("cc", 1, "STK", "BUY", math.nan, 1.0, qty=LOT), leg("cc", 2, "CE", "SELL", 24_500, 0.50)]
    short_stock = candidate("sp", "advanced", 20_00_000.0, 20_00_000.0, -math.inf, capital_at_risk=4_00_000.0,
                            risk_type="undefined")
    short_stock_legs = [leg("sp", 1, "STK", "SELL", math.nan, 1.0), leg("sp", 2, "PE", "SELL", 23_000, -0.2)]
    pairs = [(IRON_CONDOR, IRON_CONDOR_LEGS), (LONG_CALL, LONG_CALL_LEGS), (STRANGLE, STRANGLE_LEGS),
             (covered, covered_legs), (short_stock, short_stock_legs)]
    candidates, legs = frames(*pairs)
    rows = exit_conditions(candidates, legs, "moderate")
    short = rows[rows["kind"] == "short_delta"]
    expected = legs[(legs["side"] == "SELL") & legs["instrument"].isin(["CE", "PE"])]
    assert sorted(zip(short["candidate_id"], short["leg_no"])) == sorted(zip(expected["candidate_id"],
                                                                             expected["leg_no"]))
    assert (short["metric"] == "leg_abs_delta").all() and (short["comparison"] == "≥").all()
    assert rows.loc[rows["kind"] != "short_delta", "leg_no"].isna().all()
    by_leg = short.set_index(["candidate_id", "leg_no"])["threshold"]
    assert by_leg[("ic", 2)] == pytest.approx(0.35)  # sold at 0.16: the moderate limit
    assert by_leg[("cc", 2)] == pytest.approx(0.60)  # sold at 0.50, beyond the limit: entry + 0.10


def test_adjustments_fit_the_position():
    rows = exit_conditions(*frames((IRON_CONDOR, IRON_CONDOR_LEGS), (STRANGLE, STRANGLE_LEGS),
                                   (LONG_CALL, LONG_CALL_LEGS)), "moderate")
    suggested = rows[rows["kind"] == "adjustment"]
    assert list(suggested.loc[suggested["candidate_id"] == "ic", "action"]) == ["roll_untested_side",
                                                                              "roll_tested_side"]
    assert list(suggested.loc[suggested["candidate_id"] == "ss", "action"]) == [
        "roll_untested_side", "roll_tested_side", "add_protective_wing"]  # the wing only for undefined risk
    assert list(suggested.loc[suggested["candidate_id"] == "lc", "action"]) == ["convert_to_spread"]
    assert suggested["threshold"].isna().all()
    assert rows.loc[rows["kind"] != "adjustment", "threshold"].notna().all()


def test_every_candidate_gets_the_three_core_rules_in_order():
    pairs = [(IRON_CONDOR, IRON_CONDOR_LEGS), (LONG_CALL, LONG_CALL_LEGS), (STRANGLE, STRANGLE_LEGS)]
    rows = exit_conditions(*frames(*pairs), "conservative")
    assert list(rows.columns) == list(COLUMNS)
    assert set(rows["kind"]) <= set(KINDS)
    for candidate_row, _ in pairs:
        own = rows[rows["candidate_id"] == candidate_row["candidate_id"]]
        assert list(own["kind"][:3]) == ["profit_target", "stop_loss", "time_exit"]
        ranks = own["kind"].map(KINDS.index)
        assert ranks.is_monotonic_increasing
    assert list(pd.unique(rows["candidate_id"])) == ["ic", "lc", "ss"]


# ---------------------------------------------------------------- the policy table


def test_table_covers_every_profile_and_family():
    assert set(EXIT_POLICIES) == {(profile, family) for profile in RISK_PROFILES for family in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_conservative_is_never_looser_than_moderate_or_aggressive(family):
    conservative, moderate, aggressive = (EXIT_POLICIES[(profile, family)] for profile in RISK_PROFILES)
    for tighter, looser in [(conservative, moderate), (moderate, aggressive)]:
        assert tighter.profit_target_credit <= looser.profit_target_credit
        assert tighter.profit_target_debit <= looser.profit_target_debit
        assert tighter.stop_loss_credit <= looser.stop_loss_credit
        assert tighter.stop_loss_debit <= looser.stop_loss_debit
        assert tighter.time_exit_dte >= looser.time_exit_dte
        assert tighter.short_delta <= looser.short_delta
        for limit in ("position_delta", "position_gamma", "position_vega"):
            tight, loose = getattr(tighter, limit), getattr(looser, limit)
            assert loose is None or (tight is not None and tight <= loose), limit
    assert conservative.profit_target_credit < aggressive.profit_target_credit
    assert conservative.stop_loss_credit < aggressive.stop_loss_credit


def test_table_stays_in_the_conventional_ranges():
    for (profile, family), policy in EXIT_POLICIES.items():
        assert 0.25 <= policy.profit_target_credit <= 0.75
        assert policy.stop_loss_credit <= 2.0 and policy.stop_loss_debit <= 1.0
        assert 7 <= policy.time_exit_dte <= 21
        assert 0.30 <= policy.short_delta <= 0.40
        # long-premium (volatility) positions leave no later than any other family, to limit theta decay
        assert policy.time_exit_dte <= EXIT_POLICIES[(profile, "volatility")].time_exit_dte
    for family in ("neutral", "income"):
        assert EXIT_POLICIES[("moderate", family)].time_exit_dte == 21


def random_positions(count: int, seed: int):
    """count mixed candidates (credit, debit, costless; all families) with one to four option legs each."""
    rng = np.random.default_rng(seed)
    premium = rng.choice([-1.0, 0.0, 1.0], count, p=[0.45, 0.1, 0.45]) * rng.uniform(1e3, 1e5, count)
    undefined = rng.random(count) < 0.3
    max_loss = np.where(undefined, -np.inf, -rng.uniform(1e3, 2e5, count))
    candidates = pd.DataFrame({
        "candidate_id": [f"c{i}" for i in range(count)], "strategy": "random",
        "family": rng.choice(FAMILIES, count), "risk_type": np.where(undefined, "undefined", "defined"),
        "net_premium": premium, "max_profit": np.where(rng.random(count) < 0.2, np.inf, rng.uniform(5e2, 2e5, count)),
        "max_loss": max_loss, "capital_at_risk": np.where(undefined, rng.uniform(5e4, 5e5, count), -max_loss),
        "dte_days": rng.integers(0, 60, count), "delta": rng.normal(0, 30, count),
        "gamma": rng.normal(0, 0.03, count), "vega": rng.normal(0, 2_000, count), "theta": 0.0,
        "spot": rng.uniform(100, 50_000, count), "lot_size": LOT})
    legs_per = rng.integers(1, 5, count)
    owner = np.repeat(np.arange(count), legs_per)
    legs = pd.DataFrame({
        "candidate_id": candidates["candidate_id"].to_numpy()[owner],
        "leg_no": np.concatenate([np.arange(1, n + 1) for n in legs_per]),
        "instrument": rng.choice(["CE", "PE", "STK"], len(owner), p=[0.45, 0.45, 0.1]),
        "side": rng.choice(["BUY", "SELL"], len(owner)), "strike": rng.uniform(100, 50_000, len(owner)),
        "qty": LOT, "entry_price": 100.0, "delta": rng.uniform(-1, 1, len(owner))})
    return candidates, legs


def test_conservative_rows_are_never_looser_than_aggressive_rows():
    candidates, legs = random_positions(300, seed=7)
    by_profile = {profile: exit_conditions(candidates, legs, profile).set_index(["candidate_id", "kind", "leg_no"])
                  for profile in ("conservative", "aggressive")}
    rules = by_profile["conservative"].join(by_profile["aggressive"], how="outer", suffixes=("_c", "_a"))
    rules = rules[rules.index.get_level_values("kind") != "adjustment"]
    looser_when_higher = rules["comparison_a"] == "≥"  # higher threshold = later trigger for "≥" rules
    kind = rules.index.get_level_values("kind")
    time_exit = kind == "time_exit"
    both = rules["threshold_c"].notna() & rules["threshold_a"].notna()
    c, a = rules["threshold_c"], rules["threshold_a"]
    assert (c[both & looser_when_higher & ~time_exit] <= a[both & looser_when_higher & ~time_exit] + 1e-9).all()
    assert (c[both & ~looser_when_higher] >= a[both & ~looser_when_higher] - 1e-9).all()
    assert (c[both & time_exit] >= a[both & time_exit]).all()  # earlier exit = more days left
    # a rule that aggressive sets, conservative sets too
    assert rules.loc[rules["threshold_a"].notna(), "threshold_c"].notna().all()


def test_vectorized_equals_one_candidate_at_a_time():
    candidates, legs = random_positions(12, seed=3)
    together = exit_conditions(candidates, legs, "moderate")
    one_by_one = pd.concat([exit_conditions(candidates.iloc[[i]], legs[legs["candidate_id"] == candidate_id],
                                            "moderate")
                            for i, candidate_id in enumerate(candidates["candidate_id"])], ignore_index=True)
    pd.testing.assert_frame_equal(together, one_by_one)


# ---------------------------------------------------------------- realistic positions: nothing fires at entry


def bsm(is_call, strike, T, sigma=0.14, r=0.065):
    """Black–Scholes price, delta, gamma and vega (per vol point) per unit, for the no-fire-at-entry check."""
    d1 = (math.log(SPOT / strike) + (r + sigma**2 / 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    if is_call:
        price, delta = SPOT * norm.cdf(d1) - strike * math.exp(-r * T) * norm.cdf(d2), norm.cdf(d1)
    else:
        price, delta = strike * math.exp(-r * T) * norm.cdf(-d2) - SPOT * norm.cdf(-d1), norm.cdf(d1) - 1
    return price, delta, norm.pdf(d1) / (SPOT * sigma * math.sqrt(T)), SPOT * norm.pdf(d1) * math.sqrt(T) / 100


def priced(candidate_id, family, option_legs, dte=30, margin=None):
    """A candidate and its legs from (CE?, strike, +1 buy / -1 sell) option legs of one lot, priced by BSM."""
    T = dte / 365
    rows, net_premium, greeks = [], 0.0, np.zeros(3)
    for leg_no, (is_call, strike, sign) in enumerate(option_legs, start=1):
        price, delta, gamma, vega = bsm(is_call, strike, T)
        net_premium -= sign * price * LOT
        greeks += sign * LOT * np.array([delta, gamma, vega])
        rows.append(leg(candidate_id, leg_no, "CE" if is_call else "PE", "BUY" if sign > 0 else "SELL", strike,
                        delta, entry_price=price))
    strikes = sorted(strike for _, strike, _ in option_legs)
    width = (strikes[1] - strikes[0]) * LOT if len(strikes) > 1 else 0.0
    if margin is not None:
        max_profit, max_loss, risk_type, capital = net_premium, -math.inf, "undefined", margin
    elif net_premium > 0:
        max_profit, max_loss, risk_type, capital = net_premium, net_premium - width, "defined", None
    else:
        max_profit, max_loss, risk_type, capital = (math.inf if len(strikes) == 1 or family == "volatility"
                                                    else width + net_premium), net_premium, "defined", None
    return candidate(candidate_id, family, net_premium, max_profit, max_loss, capital, risk_type, dte, *greeks), rows


def test_no_rule_fires_at_entry_for_typical_positions():
    pairs = [priced("ic", "neutral", [(False, 23_200, 1), (False, 23_400, -1), (True, 24_600, -1),
                                      (True, 24_800, 1)]),
             priced("strangle", "neutral", [(False, 23_400, -1), (True, 24_600, -1)], margin=2_00_000.0),
             priced("straddle", "volatility", [(False, 24_000, 1), (True, 24_000, 1)]),
             priced("call", "directional", [(True, 24_000, 1)]),
             priced("bull_put", "directional", [(False, 23_500, 1), (False, 23_700, -1)]),
             priced("short_straddle", "neutral", [(False, 24_000, -1), (True, 24_000, -1)], margin=2_50_000.0)]
    candidates, legs = frames(*pairs)
    entry = candidates.set_index("candidate_id")
    leg_delta = legs.set_index(["candidate_id", "leg_no"])["delta"].abs()
    for profile in RISK_PROFILES:
        rows = exit_conditions(candidates, legs, profile)
        for row in rows[rows["kind"] != "adjustment"].itertuples():
            position = entry.loc[row.candidate_id]
            measured = {"pnl": 0.0, "dte": position["dte_days"], "abs_delta": abs(position["delta"]),
                        "gamma": position["gamma"], "abs_vega": abs(position["vega"]),
                        "leg_abs_delta": leg_delta.get((row.candidate_id, row.leg_no))}[row.metric]
            fires = measured >= row.threshold if row.comparison == "≥" else measured <= row.threshold
            assert not fires, (profile, row.candidate_id, row.kind, measured, row.threshold)


# ---------------------------------------------------------------- policies and bad input


def test_exit_policy_is_frozen_and_validated():
    policy = EXIT_POLICIES[("moderate", "neutral")]
    with pytest.raises(ValidationError):
        policy.time_exit_dte = 7
    with pytest.raises(ValidationError):
        ExitPolicy.model_validate({**policy.model_dump(), "stop_loss_credit": 3.0})
    with pytest.raises(ValidationError):
        ExitPolicy.model_validate({**policy.model_dump(), "adjustments": ("hope",)})


def test_a_replacement_table_is_used():
    tighter = {key: policy.model_copy(update={"profit_target_credit": 0.3}) for key, policy in EXIT_POLICIES.items()}
    rows = exit_conditions(*frames((IRON_CONDOR, IRON_CONDOR_LEGS)), "moderate", policies=tighter)
    assert rule(rows, "ic", "profit_target")["threshold"] == pytest.approx(3_000)


def bad(candidate_changes=None, leg_changes=None, drop_candidate=None, drop_leg=None):
    candidates, legs = frames((IRON_CONDOR, IRON_CONDOR_LEGS), (LONG_CALL, LONG_CALL_LEGS))
    for frame, changes in ((candidates, candidate_changes or {}), (legs, leg_changes or {})):
        for column, value in changes.items():
            frame[column] = frame[column].astype(object)  # room for a value of another type
            frame.loc[1, column] = value
    return candidates.drop(columns=drop_candidate or []), legs.drop(columns=drop_leg or [])


@pytest.mark.parametrize("inputs, field", [
    (bad(drop_candidate=["dte_days", "spot"]), "missing column(s) dte_days, spot"),
    (bad(drop_leg=["side"]), "legs: missing column(s) side"),
    (bad(candidate_changes={"net_premium": math.nan}), "candidates.net_premium"),
    (bad(candidate_changes={"family": "hedging"}), "candidates.family"),
    (bad(candidate_changes={"risk_type": "some"}), "candidates.risk_type"),
    (bad(candidate_changes={"capital_at_risk": 0.0}), "candidates.capital_at_risk"),
    (bad(candidate_changes={"max_loss": -math.inf}), "candidates.max_loss"),
    (bad(candidate_changes={"max_profit": -1.0}), "candidates.max_profit"),
    (bad(candidate_changes={"dte_days": -1}), "candidates.dte_days"),
    (bad(candidate_changes={"candidate_id": "ic"}), "candidates.candidate_id"),
    (bad(candidate_changes={"gamma": math.inf}), "candidates.gamma"),
    (bad(leg_changes={"side": "HOLD"}), "legs.side"),
    (bad(leg_changes={"instrument": "FUT"}), "legs.instrument"),
    (bad(leg_changes={"delta": math.nan}), "legs.delta"),
    (bad(leg_changes={"candidate_id": "zz"}), "legs.candidate_id"),
    (bad(leg_changes={"leg_no": 1}), "legs.leg_no"),
    (bad(leg_changes={"leg_no": 1.5}), "legs.leg_no"),
    (bad(leg_changes={"strike": 0.0}), "legs.strike"),
])
def test_bad_input_names_the_field(inputs, field):
    with pytest.raises(InputError, match=re.escape(field)):
        exit_conditions(*inputs, "moderate")


def test_bad_arguments_name_the_field():
    candidates, legs = frames((IRON_CONDOR, IRON_CONDOR_LEGS), (LONG_CALL, LONG_CALL_LEGS))
    with pytest.raises(InputError, match="risk_profile"):
        exit_conditions(candidates, legs, "reckless")
    with pytest.raises(InputError, match="candidates: empty"):
        exit_conditions(candidates.iloc[:0], legs, "moderate")
    with pytest.raises(InputError, match="no legs"):
        exit_conditions(candidates, legs[legs["candidate_id"] == "ic"], "moderate")
    with pytest.raises(InputError, match="policies"):
        exit_conditions(candidates, legs, "moderate",
                        policies={key: value for key, value in EXIT_POLICIES.items() if key[1] != "directional"})
    with pytest.raises(InputError, match="DataFrame"):
        exit_conditions(candidates.to_dict(), legs, "moderate")
