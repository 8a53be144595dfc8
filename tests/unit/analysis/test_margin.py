"""SPAN-style margin (analysis/margin.py) against hand-worked positions, the per-leg sum, a loop, and the book."""

import math
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.analysis.margin import book_margin, strategy_margin
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.reference.margin_parameters import margin_parameters

NIFTY = margin_parameters("NIFTY", date(2026, 12, 7), index=True)  # PSR 9.2844 %, VSR 4 points, ELM 2 %
S, R, T, VOL, LOT = 24_000.0, 0.065, 14 / 365, 0.13, 65
UP = S * (1 + NIFTY.price_scan)  # 26,228.26: the underlying at +1 price scan range
DOWN = S * (1 - NIFTY.price_scan)  # 21,771.74
DISCOUNT = math.exp(-R * T)  # 0.997510
ELM = NIFTY.exposure * S  # ₹480 of exposure margin per short unit


def margin(strikes, calls, quantities, years=T, vol=VOL, params=NIFTY):
    return strategy_margin([strikes], [calls], [quantities], years, vol, spot=S, rate=R, params=params)


def per_leg_sum(strikes, calls, quantities):
    return sum(margin([k], [c], [q]).total[0] for k, c, q in zip(strikes, calls, quantities))


IRON_CONDOR = ([23_000, 23_500, 24_500, 25_000], [False, False, True, True], [LOT, -LOT, -LOT, LOT])


def test_iron_condor_is_its_width_plus_exposure_and_far_below_the_per_leg_sum():
    # Hand: at +1 PSR (26,228) both calls are deep in the money, so the call spread costs its width discounted:
    # 500 × e^{-rT} × 65 = ₹32,419 to buy back (the put spread is worthless) — SPAN = scan loss − net option value
    # = that cost. Exposure: 2 % × 24,000 × 130 short units = ₹62,400. Total ₹94,819.
    hand = 500 * DISCOUNT * LOT + ELM * 2 * LOT
    result = margin(*IRON_CONDOR)
    assert result.total[0] == pytest.approx(hand, rel=0.10)
    assert result.exposure[0] == pytest.approx(62_400.0)
    assert result.total[0] < 0.4 * per_leg_sum(*IRON_CONDOR)  # each short leg alone needs its naked margin


def test_short_straddle_pays_the_scan_move_of_its_call():
    # Hand: at +1 PSR the short call is worth about S_up − K·e^{-rT} = 2,288 (plus a little time value, and the put
    # a little), × 65 = ₹148,7xx; exposure 480 × 130 = ₹62,400; ≈ ₹211,100.
    hand = (UP - S * DISCOUNT) * LOT + ELM * 2 * LOT
    assert margin([S, S], [True, False], [-LOT, -LOT]).total[0] == pytest.approx(hand, rel=0.10)


def test_bull_put_spread_is_its_width_plus_exposure_on_the_short_leg():
    # Hand: at −1 PSR (21,772) both puts are deep in the money: the spread costs 500 × e^{-rT} × 65 = ₹32,419;
    # exposure 480 × 65 = ₹31,200. Total ₹63,619.
    hand = 500 * DISCOUNT * LOT + ELM * LOT
    result = margin([23_000, 23_500], [False, False], [LOT, -LOT])
    assert result.total[0] == pytest.approx(hand, rel=0.10)
    assert result.total[0] < 0.6 * per_leg_sum([23_000, 23_500], [False, False], [LOT, -LOT])


def test_one_by_two_ratio_spread_is_margined_at_the_scan_move_not_at_zero():
    # Hand: at +1 PSR, long 24,000 CE − 2 × short 24,500 CE ≈ (S_up − 24,000 d) − 2 (S_up − 24,500 d) = −S_up +
    # 25,000 d = −1,290.5 per 65 → ₹83,883 to close; exposure 480 × 130 = ₹62,400; ≈ ₹146,283 — where the loss at
    # NIFTY = 0 would say ₹14.7 lakh.
    hand = (UP - 25_000 * DISCOUNT) * LOT + ELM * 2 * LOT
    assert margin([24_000, 24_500], [True, True], [LOT, -2 * LOT]).total[0] == pytest.approx(hand, rel=0.10)


def test_calendar_pays_the_calendar_spread_charge_on_the_matched_delta():
    # Hand: short 14-day and long 42-day 24,000 CE, 65 each. Deltas N(d1), d1 = (r + σ²/2)·T / (σ√T):
    near, far = (0.5 * (1 + math.erf((R + VOL ** 2 / 2) * t / (VOL * math.sqrt(t)) / math.sqrt(2)))
                 for t in (T, 3 * T))
    # near 0.5348, far 0.5603: matched min(0.5348, 0.5603) × 65 units; charge 1.75 % × 24,000 × 34.76 = ₹14,601.
    hand_charge = NIFTY.calendar_spread * S * min(near, far) * LOT
    result = margin([S, S], [True, True], [-LOT, LOT], years=[[T, 3 * T]])
    assert result.calendar_spread[0] == pytest.approx(hand_charge, rel=1e-9)
    assert result.exposure[0] == pytest.approx(ELM * LOT)
    same_expiry = margin([S, S + 500], [True, True], [-LOT, LOT])
    assert same_expiry.calendar_spread[0] == 0.0


def test_long_only_positions_need_nothing_beyond_their_premium():
    for strikes, calls in (([24_500], [True]), ([23_500, 24_500], [False, True]), ([S, S], [True, False])):
        result = margin(strikes, calls, [LOT] * len(strikes))
        assert result.total[0] == 0.0 and result.exposure[0] == 0.0 and result.net_option_value[0] > 0


def test_short_option_minimum_floors_the_scan_risk():
    # A far out-of-the-money short put (13,000) loses almost nothing in any scenario; a 3 % minimum of its notional
    # (24,000 × 65 × 3 % = ₹46,800) is the SPAN risk instead.
    floored = replace(NIFTY, short_option_minimum=0.03)
    result = margin([13_000], [False], [-LOT], params=floored)
    assert result.short_option_minimum[0] == pytest.approx(46_800.0)
    assert result.span[0] == pytest.approx(46_800.0 - result.net_option_value[0])


def test_expiry_day_short_index_options_pay_the_extra_exposure_and_scan_apart():
    today = 5 / 24 / 365  # five hours to the close: expiring today
    result = margin([S], [True], [-LOT], years=today)
    assert result.exposure[0] == pytest.approx((NIFTY.exposure + NIFTY.expiry_day_exposure) * S * LOT)
    # a long next-week call does not offset the expiring short call on its expiry day
    hedged = margin([S, S], [True, True], [-LOT, LOT], years=[[today, 7 / 365]])
    long_alone = margin([S], [True], [LOT], years=7 / 365)
    assert hedged.scan_risk[0] == pytest.approx(result.scan_risk[0] + long_alone.scan_risk[0], rel=1e-12)
    assert margin([S, S], [True, True], [-LOT, LOT], years=[[2 / 365, 7 / 365]]).scan_risk[0] < \
        result.scan_risk[0]  # a day earlier they offset
    assert hedged.calendar_spread[0] == 0.0


def test_vectorized_equals_a_loop_over_positions():
    rng = np.random.default_rng(7)
    n, legs = 300, 4
    strike = rng.choice(np.arange(21_000, 27_001, 100), (n, legs)).astype(float)
    is_call = rng.random((n, legs)) < 0.5
    quantity = rng.choice([-2, -1, 0, 1, 2], (n, legs)) * LOT
    years = rng.choice([2 / 365, T, 3 * T], (n, legs))
    vol = rng.uniform(0.08, 0.4, (n, legs))
    spot = rng.uniform(23_000, 25_000, n)
    together = strategy_margin(strike, is_call, quantity, years, vol, spot=spot, rate=R, params=NIFTY).frame()
    for i in range(0, n, 37):
        alone = strategy_margin(strike[i], is_call[i], quantity[i], years[i], vol[i], spot=spot[i], rate=R,
                                params=NIFTY).frame()
        pd.testing.assert_series_equal(together.iloc[i], alone.iloc[0], check_names=False, rtol=1e-12)


def book(rows):
    return pd.DataFrame(rows, columns=["symbol", "strike", "option_type", "quantity", "years", "iv"])


def test_the_book_gives_the_hedge_benefit_between_positions_and_sums_across_underlyings():
    short_strangle = [("NIFTY", 23_500, "PE", -LOT, T, VOL), ("NIFTY", 24_500, "CE", -LOT, T, VOL)]
    long_wings = [("NIFTY", 23_000, "PE", LOT, T, VOL), ("NIFTY", 25_000, "CE", LOT, T, VOL)]
    params, spot = {"NIFTY": NIFTY, "BANKNIFTY": margin_parameters("BANKNIFTY", date(2026, 12, 7), index=True)}, \
        {"NIFTY": S, "BANKNIFTY": 58_000.0}
    alone = [book_margin(book(p), spot=spot, rate=R, params=params).loc["TOTAL", "total"]
             for p in (short_strangle, long_wings)]
    together = book_margin(book(short_strangle + long_wings), spot=spot, rate=R, params=params)
    assert together.loc["TOTAL", "total"] < 0.6 * sum(alone)  # the wings turn the strangle into a condor
    assert together.loc["NIFTY", "total"] == pytest.approx(margin(*IRON_CONDOR).total[0], rel=1e-12)
    offsetting = book(short_strangle + [(s, k, t, -q, y, v) for s, k, t, q, y, v in short_strangle])
    assert book_margin(offsetting, spot=spot, rate=R, params=params).loc["TOTAL", "total"] == 0.0
    banknifty = [("BANKNIFTY", 58_000, "CE", -30, T, 0.15)]
    mixed = book_margin(book(short_strangle + banknifty), spot=spot, rate=R, params=params)
    assert mixed.loc["TOTAL", "total"] == pytest.approx(mixed.loc["NIFTY", "total"] + mixed.loc["BANKNIFTY", "total"])


def test_bad_legs_are_named():
    with pytest.raises(InputError, match="vol: invalid value"):
        margin([S], [True], [-LOT], vol=float("nan"))
    with pytest.raises(InputError, match="strike"):
        margin([-1.0], [True], [-LOT])
    with pytest.raises(InputError, match="spot"):
        strategy_margin([[S]], [[True]], [[-LOT]], T, VOL, spot=0.0, rate=R, params=NIFTY)
    with pytest.raises(InputError, match="no spot or margin parameters"):
        book_margin(book([("TCS", 4_000, "CE", -175, T, 0.2)]), spot={}, rate=R, params={})
    assert margin([-1.0, S], [True, True], [0, -LOT]).total[0] > 0  # a pad's values are never looked at
