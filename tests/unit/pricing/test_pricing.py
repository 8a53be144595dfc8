"""optionsv4_lib.pricing.black_scholes against QuantLib (the oracle), closed-form identities, hand-worked edges and validation."""

import warnings

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import given, settings
from hypothesis import strategies as st

from optionsv4_lib.core.errors import InputError
from optionsv4_lib.pricing.black_scholes import (
    IV_REASONS,
    Greeks,
    black76_greeks,
    black76_price,
    bs_greeks,
    bs_price,
    implied_vol,
    implied_vol_diagnostics,
)

EPS = np.finfo(float).eps
TODAY = ql.Date(15, 1, 2025)
GREEK_NAMES = Greeks._fields


def random_market(n: int, seed: int, vol=(0.01, 1.5)) -> dict:
    """Seeded random BSM inputs: spot 10–60,000, moneyness 0.5–1.5, T 1–730 days / 365 (ACT/365, exact in
    QuantLib's date arithmetic), r 0–12 %, q 0–5 %, sigma uniform in vol."""
    rng = np.random.default_rng(seed)
    S = rng.uniform(10.0, 60_000.0, n)
    return {
        "option_type": np.where(rng.random(n) < 0.5, "CE", "PE"),
        "S": S,
        "K": S * rng.uniform(0.5, 1.5, n),
        "T": rng.integers(1, 731, n) / 365.0,
        "r": rng.uniform(0.0, 0.12, n),
        "sigma": rng.uniform(*vol, n),
        "q": rng.uniform(0.0, 0.05, n),
    }


def quantlib_european(m: dict) -> np.ndarray:
    """Rows of (NPV, delta, gamma, vega per 1.00, theta per day, rho per 1.00) from AnalyticEuropeanEngine."""
    ql.Settings.instance().evaluationDate = TODAY
    day_count, calendar = ql.Actual365Fixed(), ql.NullCalendar()
    spot, rate, dividend, vol = (ql.SimpleQuote(0.0) for _ in range(4))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, ql.QuoteHandle(dividend), day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(TODAY, ql.QuoteHandle(rate), day_count)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, calendar, ql.QuoteHandle(vol), day_count)),
    )
    engine = ql.AnalyticEuropeanEngine(process)
    rows = []
    for kind, S, K, T, r, sigma, q in zip(*(m[key] for key in ("option_type", "S", "K", "T", "r", "sigma", "q"))):
        spot.setValue(S)
        rate.setValue(r)
        dividend.setValue(q)
        vol.setValue(sigma)
        payoff = ql.PlainVanillaPayoff(ql.Option.Call if kind == "CE" else ql.Option.Put, K)
        option = ql.VanillaOption(payoff, ql.EuropeanExercise(TODAY + round(T * 365)))
        option.setPricingEngine(engine)
        rows.append((option.NPV(), option.delta(), option.gamma(), option.vega(), option.thetaPerDay(), option.rho()))
    return np.array(rows)


@pytest.fixture(scope="module")
def quantlib_cases():
    market = random_market(10_000, seed=20250115)
    return market, quantlib_european(market)


# ---------------------------------------------------------------- BSM against QuantLib


def test_price_matches_quantlib_within_1e_9_of_spot(quantlib_cases):
    market, expected = quantlib_cases
    price = bs_price(**market)
    assert np.all(np.abs(price - expected[:, 0]) <= 1e-9 * market["S"])


@pytest.mark.parametrize("greek", GREEK_NAMES)
def test_greeks_match_quantlib_within_1e_7_relative(quantlib_cases, greek):
    market, expected = quantlib_cases
    to_quantlib_units = {"vega": 100.0, "rho": 100.0}.get(greek, 1.0)  # QuantLib: per 1.00 of vol, of rate
    ours = getattr(bs_greeks(**market), greek) * to_quantlib_units
    theirs = expected[:, 1 + GREEK_NAMES.index(greek)]  # theta: QuantLib's thetaPerDay
    floor = 1e-12 * {"delta": 1.0, "gamma": 1.0 / market["S"]}.get(greek, market["S"])  # for greeks near 0
    assert np.all(np.abs(ours - theirs) <= 1e-7 * np.abs(theirs) + floor)
    assert np.mean(np.abs(theirs) > 1e3 * floor) > 0.5  # most cases are checked relatively, not by the floor


# ---------------------------------------------------------------- Black-76


def test_black76_matches_quantlib_black_formula_and_calculator():
    m = random_market(2_000, seed=76)
    F = m["S"] * np.exp((m["r"] - m["q"]) * m["T"])
    price = black76_price(m["option_type"], F, m["K"], m["T"], m["r"], m["sigma"])
    greeks = black76_greeks(m["option_type"], F, m["K"], m["T"], m["r"], m["sigma"])
    for j, kind in enumerate(m["option_type"]):
        ql_type = ql.Option.Call if kind == "CE" else ql.Option.Put
        stddev, discount = m["sigma"][j] * np.sqrt(m["T"][j]), np.exp(-m["r"][j] * m["T"][j])
        calculator = ql.BlackCalculator(ql.PlainVanillaPayoff(ql_type, m["K"][j]), F[j], stddev, discount)
        assert price[j] == pytest.approx(ql.blackFormula(ql_type, m["K"][j], F[j], stddev, discount), abs=1e-9 * F[j])
        assert greeks.delta[j] == pytest.approx(calculator.deltaForward(), rel=1e-7, abs=1e-12)
        assert greeks.gamma[j] == pytest.approx(calculator.gammaForward(), rel=1e-7, abs=1e-12 / F[j])
        assert greeks.vega[j] * 100 == pytest.approx(calculator.vega(m["T"][j]), rel=1e-7, abs=1e-12 * F[j])


def test_black76_theta_and_rho_match_finite_differences_with_forward_fixed():
    F, K, T, r, sigma, h = 24_000.0, np.array([20_000.0, 24_000.0, 27_000.0]), 0.3, 0.068, 0.18, 1e-5
    for kind in ("CE", "PE"):
        greeks = black76_greeks(kind, F, K, T, r, sigma)
        dV_dT = (black76_price(kind, F, K, T + h, r, sigma) - black76_price(kind, F, K, T - h, r, sigma)) / (2 * h)
        dV_dr = (black76_price(kind, F, K, T, r + h, sigma) - black76_price(kind, F, K, T, r - h, sigma)) / (2 * h)
        np.testing.assert_allclose(greeks.theta, -dV_dT / 365, rtol=1e-6)
        np.testing.assert_allclose(greeks.rho, dV_dr / 100, rtol=1e-6)


spots = st.floats(1.0, 1e5)
moneyness = st.floats(0.2, 5.0)
expiries = st.floats(0.0, 5.0)
rates = st.floats(-0.05, 0.2)
dividends = st.floats(0.0, 0.1)
vols = st.floats(0.0, 3.0)
short_to_long = st.floats(1e-4, 5.0)  # an hour to five years
real_vols = st.floats(1e-3, 3.0)


@settings(max_examples=300, deadline=None)
@given(S=spots, moneyness=moneyness, T=expiries, r=rates, q=dividends, sigma=vols)
def test_put_call_parity(S, moneyness, T, r, q, sigma):
    K = S * moneyness
    call, put = bs_price("CE", S, K, T, r, sigma, q), bs_price("PE", S, K, T, r, sigma, q)
    assert call - put == pytest.approx(S * np.exp(-q * T) - K * np.exp(-r * T), abs=64 * EPS * (S + K))


@settings(max_examples=300, deadline=None)
@given(S=spots, moneyness=moneyness, T=short_to_long, r=rates, q=dividends, sigma=real_vols, call=st.booleans())
def test_black76_on_the_forward_equals_bsm(S, moneyness, T, r, q, sigma, call):
    """σ√T ≥ 1e-5: rounding F = S·e^{(r−q)T} moves d1 by ε/σ√T, which a smaller σ√T would blow up (at σ = 0 into
    a step, as F rounds across K)."""
    K, F, kind = S * moneyness, S * np.exp((r - q) * T), "CE" if call else "PE"
    bsm, b76 = bs_greeks(kind, S, K, T, r, sigma, q), black76_greeks(kind, F, K, T, r, sigma)
    dF_dS, money = np.exp((r - q) * T), S + K
    b76_price = black76_price(kind, F, K, T, r, sigma)
    assert bs_price(kind, S, K, T, r, sigma, q) == pytest.approx(b76_price, abs=64 * EPS * money)
    assert bsm.delta == pytest.approx(b76.delta * dF_dS, rel=1e-9, abs=1e-12)
    assert bsm.gamma == pytest.approx(b76.gamma * dF_dS**2, rel=1e-9, abs=1e-12 / S)
    assert bsm.vega == pytest.approx(b76.vega, rel=1e-9, abs=1e-12 * money)
    # Holding S instead of F fixed adds ∂V/∂F·∂F/∂t = −δ_F·(r − q)·F to theta, and ∂V/∂F·∂F/∂r = δ_F·F·T to rho.
    assert bsm.theta == pytest.approx(b76.theta - b76.delta * (r - q) * F / 365, rel=1e-9, abs=1e-12 * money)
    assert bsm.rho == pytest.approx(b76.rho + b76.delta * F * T / 100, rel=1e-9, abs=1e-12 * money)


# ---------------------------------------------------------------- implied vol


def test_implied_vol_round_trip_is_as_exact_as_the_price():
    """Vols 1–300 %, moneyness 0.25–4, T one hour to two years: σ back to 1e-8 wherever vega ≥ 1e-7·S."""
    n, rng = 30_000, np.random.default_rng(365)
    S = rng.uniform(10.0, 60_000.0, n)
    m = {
        "option_type": np.where(rng.random(n) < 0.5, "CE", "PE"),
        "S": S,
        "K": S * np.exp(rng.uniform(np.log(0.25), np.log(4.0), n)),
        "T": np.exp(rng.uniform(np.log(1 / (365 * 24)), np.log(2.0), n)),
        "r": rng.uniform(0.0, 0.12, n),
        "sigma": np.exp(rng.uniform(np.log(0.01), np.log(3.0), n)),
        "q": rng.uniform(0.0, 0.05, n),
    }
    price = bs_price(**m)
    vega_per_unit = bs_greeks(**m).vega * 100
    market = {key: value for key, value in m.items() if key != "sigma"}
    vol, reason = implied_vol_diagnostics(price, **market)

    assert set(reason) <= {"ok", "at_intrinsic"}
    ok = reason == "ok"
    error = np.abs(vol - m["sigma"])
    meaningful = ok & (vega_per_unit >= 1e-7 * m["S"])
    assert meaningful.sum() > n // 4
    assert np.all(error[meaningful] <= 1e-8)
    # Everywhere else too, the error is what rounding the price to a double allows, no more.
    rounding_bound = 1e-12 + 16 * EPS * np.maximum(m["S"], m["K"]) / np.maximum(vega_per_unit, 1e-300)
    assert np.all(error[ok] <= rounding_bound[ok])
    # at_intrinsic: the price carries no time value a double can hold, and vol 0 reproduces it.
    at_intrinsic = reason == "at_intrinsic"
    assert np.all(vol[at_intrinsic] == 0.0)
    zero_vol_price = bs_price(**{**m, "sigma": 0.0})
    assert np.all(np.abs(zero_vol_price - price)[at_intrinsic] <= 4 * EPS * np.maximum(m["S"], m["K"])[at_intrinsic])
    np.testing.assert_array_equal(implied_vol(price, **market), vol)


def test_implied_vol_agrees_with_quantlib_black_formula_implied_stddev():
    m = random_market(1_000, seed=1976, vol=(0.01, 3.0))
    price = bs_price(**m)
    vega_per_unit = bs_greeks(**m).vega * 100
    ours = implied_vol(price, m["option_type"], m["S"], m["K"], m["T"], m["r"], m["q"])
    F, discount = m["S"] * np.exp((m["r"] - m["q"]) * m["T"]), np.exp(-m["r"] * m["T"])
    checked = 0
    for j in np.flatnonzero(vega_per_unit >= 1e-7 * m["S"]):
        ql_type = ql.Option.Call if m["option_type"][j] == "CE" else ql.Option.Put
        stddev = ql.blackFormulaImpliedStdDev(
            ql_type, m["K"][j], F[j], price[j], discount[j], 0.0, ql.nullDouble(), 1e-12, 1000  # accuracy, iterations
        )
        assert ours[j] == pytest.approx(stddev / np.sqrt(m["T"][j]), abs=1e-8)
        checked += 1
    assert checked > 500


def test_implied_vol_at_short_expiry_and_deep_in_the_wings():
    """Hand-picked hard cases: an hour to expiry, deep ITM and OTM, very high and very low vol."""
    hour = 1 / (365 * 24)
    cases = [  # option_type, S, K, T, sigma
        ("CE", 24_000.0, 24_000.0, hour, 0.01),
        ("PE", 24_000.0, 23_900.0, hour, 0.15),
        ("CE", 24_000.0, 12_000.0, 0.5, 0.3),  # deep ITM call
        ("PE", 24_000.0, 48_000.0, 0.5, 0.3),  # deep ITM put
        ("CE", 24_000.0, 36_000.0, 0.1, 0.25),  # deep OTM call
        ("PE", 100.0, 100.0, 2.0, 3.0),
        ("CE", 100.0, 300.0, 2.0, 3.0),
    ]
    option_type, S, K, T, sigma = (np.array(column) for column in zip(*cases))
    price = bs_price(option_type, S, K, T, 0.065, sigma, 0.01)
    vol, reason = implied_vol_diagnostics(price, option_type, S, K, T, 0.065, 0.01)
    assert list(reason) == ["ok"] * len(cases)
    np.testing.assert_allclose(vol, sigma, rtol=0, atol=1e-8)


def test_implied_vol_reasons():
    S, K, T, r = 100.0, 90.0, 0.5, 0.07
    intrinsic = S - K * np.exp(-r * T)  # call; q = 0
    cases = [  # price, option_type, T, expected vol, expected reason
        (intrinsic - 0.01, "CE", T, np.nan, "below_intrinsic"),
        (intrinsic, "CE", T, 0.0, "at_intrinsic"),
        (intrinsic - 4 * EPS * S, "CE", T, 0.0, "at_intrinsic"),  # below it only by rounding
        (0.0, "PE", T, 0.0, "at_intrinsic"),  # an OTM put worth nothing
        (S, "CE", T, np.nan, "above_upper_bound"),
        (S + 1.0, "CE", T, np.nan, "above_upper_bound"),
        (K * np.exp(-r * T), "PE", T, np.nan, "above_upper_bound"),
        (10.0, "CE", 0.0, np.nan, "expired"),
        (bs_price("CE", S, K, T, r, 0.2), "CE", T, 0.2, "ok"),
    ]
    price, option_type, expiry, expected_vol, expected_reason = (np.array(column) for column in zip(*cases))
    vol, reason = implied_vol_diagnostics(price, option_type, S, K, expiry, r)
    assert list(reason) == list(expected_reason)
    np.testing.assert_allclose(vol, expected_vol, atol=1e-12)  # NaN where NaN is expected
    assert set(reason) <= set(IV_REASONS)


# ---------------------------------------------------------------- edges: T = 0, sigma = 0


@pytest.fixture
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.usefixtures("warnings_are_errors")
def test_at_expiry_price_is_intrinsic_and_delta_a_step():
    K = np.array([90.0, 100.0, 110.0])
    for kind, intrinsic, delta in [("CE", [10, 0, 0], [1, 0.5, 0]), ("PE", [0, 0, 10], [0, -0.5, -1])]:
        for greeks, price in [
            (bs_greeks(kind, 100.0, K, 0.0, 0.07, 0.2, 0.02), bs_price(kind, 100.0, K, 0.0, 0.07, 0.2, 0.02)),
            (black76_greeks(kind, 100.0, K, 0.0, 0.07, 0.2), black76_price(kind, 100.0, K, 0.0, 0.07, 0.2)),
        ]:
            np.testing.assert_array_equal(price, intrinsic)
            np.testing.assert_array_equal(greeks.delta, delta)
            for name in ("gamma", "vega", "theta", "rho"):
                np.testing.assert_array_equal(getattr(greeks, name), 0.0)
    vol, reason = implied_vol_diagnostics(10.0, "CE", 100.0, 90.0, 0.0, 0.07)
    assert np.isnan(vol) and reason == "expired"


@pytest.mark.usefixtures("warnings_are_errors")
def test_zero_vol_prices_the_discounted_intrinsic_of_the_forward():
    S, T, r, q = 100.0, 0.5, 0.08, 0.02
    F, discount = S * np.exp((r - q) * T), np.exp(-r * T)
    K = np.array([80.0, F, 120.0])
    np.testing.assert_allclose(bs_price("CE", S, K, T, r, 0.0, q), discount * np.maximum(F - K, 0), atol=1e-12)
    np.testing.assert_allclose(bs_price("PE", S, K, T, r, 0.0, q), discount * np.maximum(K - F, 0), atol=1e-12)
    np.testing.assert_allclose(black76_price("PE", F, K, T, r, 0.0), discount * np.maximum(K - F, 0), atol=1e-12)
    greeks = bs_greeks("CE", S, K, T, r, 0.0, q)
    assert greeks.delta[0] == pytest.approx(np.exp(-q * T)) and greeks.delta[2] == 0.0
    np.testing.assert_array_equal(greeks.gamma, 0.0)
    assert greeks.vega[0] == greeks.vega[2] == 0.0  # away from the forward the value does not move with σ
    # The ITM call at σ = 0 is a discounted forward contract: theta = (q·S·e^{-qT} − r·K·e^{-rT}) / 365.
    assert greeks.theta[0] == pytest.approx((q * S * np.exp(-q * T) - r * 80.0 * discount) / 365)
    # Exactly at the forward, vega is its σ → 0 limit F·e^{-rT}·√T·n(0), per vol point.
    at_the_forward = black76_greeks("CE", 100.0, 100.0, T, r, 0.0)
    assert at_the_forward.vega == pytest.approx(100.0 * discount * np.sqrt(T / (2 * np.pi)) / 100)


# ---------------------------------------------------------------- shapes and types


def test_scalars_give_floats_and_arrays_broadcast():
    assert type(bs_price("CE", 100, 100, 0.5, 0.07, 0.2)) is float
    assert all(type(value) is float for value in bs_greeks("PE", 100, 100, 0.5, 0.07, 0.2))
    vol, reason = implied_vol_diagnostics(6.0, "call", 100, 100, 0.5, 0.07)
    assert type(vol) is float and type(reason) is str
    prices = bs_price(np.array([["CE"], ["PE"], ["c"]]), 100.0, np.array([90.0, 100.0, 110.0, 120.0]), 0.5, 0.07, 0.2)
    assert prices.shape == (3, 4)
    np.testing.assert_array_equal(prices[0], prices[2])  # "c" is a call
    np.testing.assert_array_equal(bs_price(np.array([True, False]), 100.0, 100.0, 0.5, 0.07, 0.2), prices[:2, 1])
    assert black76_greeks("CE", [100.0], 100.0, 0.5, 0.07, 0.2).delta.shape == (1,)


# ---------------------------------------------------------------- validation

CALLS = {
    "bs_price": (bs_price, dict(option_type="CE", S=100.0, K=100.0, T=0.5, r=0.07, sigma=0.2, q=0.01)),
    "bs_greeks": (bs_greeks, dict(option_type="CE", S=100.0, K=100.0, T=0.5, r=0.07, sigma=0.2, q=0.01)),
    "black76_price": (black76_price, dict(option_type="PE", F=100.0, K=100.0, T=0.5, r=0.07, sigma=0.2)),
    "black76_greeks": (black76_greeks, dict(option_type="PE", F=100.0, K=100.0, T=0.5, r=0.07, sigma=0.2)),
    "implied_vol": (implied_vol, dict(price=6.0, option_type="CE", S=100.0, K=100.0, T=0.5, r=0.07, q=0.01)),
    "implied_vol_diagnostics": (
        implied_vol_diagnostics,
        dict(price=6.0, option_type="CE", S=100.0, K=100.0, T=0.5, r=0.07, q=0.01),
    ),
}
IMPOSSIBLE = {"S": [0.0, -1.0], "F": [0.0, -1.0], "K": [0.0, -5.0], "T": [-1e-9], "sigma": [-0.1], "price": [-0.01]}
NOT_FINITE = [np.nan, np.inf, -np.inf]
BAD_INPUTS = [
    (function_name, field, bad)
    for function_name, (_, arguments) in CALLS.items()
    for field in arguments
    for bad in (["XX", ["CE", "straddle"]] if field == "option_type" else IMPOSSIBLE.get(field, []) + NOT_FINITE)
]


@pytest.mark.parametrize(("function_name", "field", "bad"), BAD_INPUTS)
def test_bad_input_raises_input_error_naming_the_field(function_name, field, bad):
    function, arguments = CALLS[function_name]
    with pytest.raises(InputError, match=f"^{field}:"):
        function(**{**arguments, field: bad})
    with pytest.raises(InputError, match=f"^{field}:"):  # one bad element in an array is enough
        function(**{**arguments, field: [arguments[field], bad] if field != "option_type" else bad})


def test_empty_and_mismatched_inputs_raise_input_error():
    with pytest.raises(InputError, match="K: empty input"):
        bs_price("CE", 100.0, [], 0.5, 0.07, 0.2)
    with pytest.raises(InputError, match="do not broadcast"):
        bs_price("CE", [100.0, 101.0], [90.0, 100.0, 110.0], 0.5, 0.07, 0.2)
    with pytest.raises(InputError, match="^sigma: expected numbers"):
        bs_price("CE", 100.0, 100.0, 0.5, 0.07, "twenty percent")
