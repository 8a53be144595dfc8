"""optionsv4_lib.smile: round trips from known SVI smiles, QuantLib as the IV oracle, no-arbitrage checks made
independently of the module (butterflies of model call prices, finite-difference g), a Dhan-shaped chain with its
junk, the flat fallback, and calendar arbitrage detection and repair."""

import time
from datetime import date

import numpy as np
import pandas as pd
import pytest
import QuantLib as ql

from optionsv4_lib.adapters.dhan.market_data import parse_chain
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.pricing.black_scholes import bs_price
from optionsv4_lib.pricing.smile import (
    MIN_QUOTES,
    SVIParams,
    calendar_arbitrage,
    fit_smile,
    fit_surface,
    fit_svi,
    implied_forward,
    quote_ivs,
    svi_g,
    svi_total_variance,
)

SPOT, RATE, DIVIDEND = 23_000.0, 0.065, 0.012
TICK = 0.05
# NIFTY-like, arbitrage-free (g ≥ 0.25 everywhere, b(1+|ρ|) ≪ 2): put skew, ATM about 14 %.
WEEKLY = (6, SVIParams(0.00026, 0.0045, -0.55, 0.004, 0.012))
MONTHLY = (34, SVIParams(0.0008, 0.020, -0.5, 0.01, 0.05))


def forward_of(days: float, spot: float = SPOT) -> float:
    return spot * np.exp((RATE - DIVIDEND) * days / 365)


def true_prices(params: SVIParams, days: float, strikes: np.ndarray) -> dict[str, np.ndarray]:
    """Black-76 values (₹) of calls and puts under the SVI smile `params`."""
    years, forward = days / 365, forward_of(days)
    vol = np.sqrt(svi_total_variance(params, np.log(strikes / forward)) / years)
    return {t: bs_price(t, forward * np.exp(-RATE * years), strikes, years, RATE, vol) for t in ("CE", "PE")}


def quotes_around(price: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Tick-rounded bid and ask around each true price: half-spread max(₹0.05, 0.4 % of the price), the true price
    off-centre but always inside; a bid below one tick is no bid (0)."""
    half = np.maximum(TICK, 0.004 * price)
    centre = price + rng.uniform(-0.6, 0.6, price.size) * half
    bid = np.floor((centre - half) / TICK + 1e-9) * TICK
    ask = np.ceil((centre + half) / TICK - 1e-9) * TICK
    return np.where(bid < TICK, 0.0, bid), ask


def svi_chain(params: SVIParams, days: float, low: float = 0.88, high: float = 1.10, seed: int = 0) -> pd.DataFrame:
    """An OPTION_CHAIN-shaped frame of one expiry, strikes every 50, quotes around the SVI values."""
    rng = np.random.default_rng(seed)
    strikes = np.arange(np.ceil(SPOT * low / 50) * 50, SPOT * high, 50.0)
    prices = true_prices(params, days, strikes)
    frames = []
    for option_type, price in prices.items():
        bid, ask = quotes_around(price, rng)
        frames.append(pd.DataFrame({"symbol": "NIFTY", "expiry": pd.Timestamp("2025-01-30"), "strike": strikes,
                                    "option_type": option_type, "bid": bid, "ask": ask, "ltp": price,
                                    "iv": np.nan, "underlying_price": SPOT}))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize("days, params", [WEEKLY, MONTHLY], ids=["6DTE", "34DTE"])
def test_round_trip_recovers_the_smile(days, params):
    chain = svi_chain(params, days)
    smile = fit_smile(chain, days / 365, RATE)
    assert smile.method == "svi" and smile.forward_detail.source == "parity"
    assert smile.forward == pytest.approx(forward_of(days), rel=2e-5)  # within ₹0.5 of the true forward
    strikes = np.arange(21_500.0, 24_501.0, 50.0)  # the liquid range, ±7 %
    true_vol = np.sqrt(svi_total_variance(params, np.log(strikes / forward_of(days))) / (days / 365))
    assert np.abs(smile.iv(strikes) - true_vol).max() < 0.002  # 0.2 vol points
    assert np.abs(smile.residuals.loc[smile.residuals["used"], "resid_vol"]).max() < 0.01


@pytest.mark.parametrize("days, params", [WEEKLY, MONTHLY], ids=["6DTE", "34DTE"])
def test_model_prices_sit_inside_every_fitted_two_sided_quote(days, params):
    smile = fit_smile(svi_chain(params, days, seed=3), days / 365, RATE)
    used = smile.residuals[smile.residuals["used"]]
    assert len(used) >= 60
    assert smile.n_outside == 0
    model = np.where(used["option_type"] == "CE", smile.call_price(used["strike"]), smile.put_price(used["strike"]))
    assert np.all((model >= used["bid"] - 1e-6) & (model <= used["ask"] + 1e-6))


def test_a_model_price_the_smile_cannot_reach_is_reported_not_hidden():
    days, params = WEEKLY
    chain = svi_chain(params, days)
    forward = forward_of(days)
    kink = (chain["option_type"] == "CE") & (chain["strike"] == 23_300.0)  # OTM call quoted 30 % too rich, tight
    price = float(true_prices(params, days, np.array([23_300.0]))["CE"][0]) * 1.3
    chain.loc[kink, ["bid", "ask"]] = [price - TICK, price + TICK]
    smile = fit_smile(chain, days / 365, RATE)
    assert forward < 23_300
    row = smile.residuals[(smile.residuals["option_type"] == "CE") & (smile.residuals["strike"] == 23_300.0)].iloc[0]
    assert not row["inside"] and row["outside_inr"] > 0
    assert smile.n_outside >= 1 and "SVI could not put them inside" in smile.note


# ---------------------------------------------------------------- our IVs against QuantLib


def test_quote_ivs_match_quantlib_black_formula():
    days, params = MONTHLY
    years = days / 365
    chain = svi_chain(params, days)
    forward = forward_of(days)
    quotes = quote_ivs(chain, forward, years, RATE)
    sample = quotes[quotes["use"]].iloc[::12]
    assert len(sample) >= 8
    discount = np.exp(-RATE * years)
    for row in sample.itertuples():
        for price, ours in ((row.bid, row.iv_bid), (row.mid, row.iv_mid), (row.ask, row.iv_ask)):
            kind = ql.Option.Call if row.option_type == "CE" else ql.Option.Put
            std_dev = ql.blackFormulaImpliedStdDev(kind, row.strike, forward, price, discount, 0.0, ql.nullDouble(),
                                                   1e-12, 1000)
            assert ours == pytest.approx(std_dev / np.sqrt(years), abs=1e-7)


def test_quote_ivs_say_why_a_quote_has_no_vol():
    years, forward = 6 / 365, 23_000.0
    chain = pd.DataFrame({
        "strike": [23_500.0, 23_500.0, 22_000.0, 23_600.0, 23_700.0],
        "option_type": ["CE", "PE", "CE", "CE", "CE"],
        # no bid; fine (intrinsic ≈ ₹499); below intrinsic (≈ ₹998); crossed; fine
        "bid": [0.0, 520.0, 900.0, 12.0, 3.0],
        "ask": [5.0, 0.0, 1_400.0, 10.0, 23_500.0],  # ask above the call's bound F·e^{-rT}
        "iv": [0.0, 0.15, np.nan, 0.2, 0.3],
    })
    q = quote_ivs(chain, forward, years, RATE)
    assert list(q["drop"]) == ["no_bid", "itm_side", "itm_side", "crossed", "iv_ask:above_upper_bound"]
    assert list(q["reason_bid"]) == ["no_bid", "ok", "below_intrinsic", "ok", "ok"]
    assert list(q["reason_mid"]) == ["no_bid", "no_ask", "ok", "crossed", "ok"]
    assert np.isnan(q["broker_iv"].iloc[0])  # IV 0 from the broker means unknown
    assert not q["use"].any()


# ---------------------------------------------------------------- forward


def test_implied_forward_from_parity_ignores_an_outlier_strike():
    days = 20
    years, forward = days / 365, forward_of(days)
    strikes = np.arange(22_500.0, 23_600.0, 50.0)
    discount = np.exp(-RATE * years)
    call_mid = bs_price("CE", forward * discount, strikes, years, RATE, 0.14)
    put_mid = bs_price("PE", forward * discount, strikes, years, RATE, 0.14)
    put_mid[np.argmin(np.abs(strikes - forward))] += 40.0  # one junk put at the money
    result = implied_forward(strikes, call_mid, put_mid, years, RATE, SPOT)
    assert result.source == "parity" and len(result.strikes) == 5
    assert result.value == pytest.approx(forward, abs=1e-6)
    assert abs(result.value - SPOT * np.exp(RATE * years)) > 10  # the dividend shows: not the spot carry


def test_implied_forward_falls_back_to_spot_carry_and_says_so():
    years = 6 / 365
    result = implied_forward([23_000.0, 23_050.0], [np.nan, 80.0], [70.0, np.nan], years, RATE, SPOT)
    assert result.source == "spot_carry" and "no strike" in result.note
    assert result.value == pytest.approx(SPOT * np.exp(RATE * years))
    wild = implied_forward([23_000.0], [3_000.0], [10.0], years, RATE, SPOT)
    assert wild.source == "spot_carry" and "parity forward" in wild.note


# ---------------------------------------------------------------- no butterfly arbitrage, Lee's bound


def finite_difference_g(w_of_k, k: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """g(k) from central differences of w, independent of the module's closed form."""
    w = w_of_k(k)
    w1 = (w_of_k(k + h) - w_of_k(k - h)) / (2 * h)
    w2 = (w_of_k(k + h) - 2 * w + w_of_k(k - h)) / h**2
    return (1 - k * w1 / (2 * w)) ** 2 - w1**2 / 4 * (1 / w + 0.25) + w2 / 2


def test_fit_to_an_arbitrageable_smile_is_arbitrage_free():
    """Quotes from Vogt's SVI (a = −0.041, b = 0.1331, ρ = 0.306, m = 0.3586, σ = 0.4153, T = 1), whose density
    is negative: the fit must keep g ≥ 0 and the butterflies of its call prices ≥ 0."""
    vogt = SVIParams(-0.0410, 0.1331, 0.3060, 0.3586, 0.4153)
    k = np.linspace(-1.5, 1.5, 61)
    assert svi_g(vogt, k).min() < -0.03  # the input does have butterfly arbitrage
    w = svi_total_variance(vogt, k)
    fit = fit_svi(k, w, w * 0.98, w * 1.02)
    assert fit.ok and fit.g_min >= 0
    dense = np.linspace(-3, 3, 6001)
    assert finite_difference_g(lambda x: svi_total_variance(fit.params, x), dense).min() > -1e-6
    a, b, rho, _m, sigma = fit.params
    assert b * (1 + abs(rho)) <= 2 + 1e-12 and a + b * sigma * np.sqrt(1 - rho**2) >= 0


@pytest.mark.parametrize("days, params", [WEEKLY, MONTHLY], ids=["6DTE", "34DTE"])
def test_fitted_call_prices_have_non_negative_butterflies(days, params):
    smile = fit_smile(svi_chain(params, days), days / 365, RATE)
    assert smile.butterfly_ok and smile.g_min >= 0
    strikes = np.linspace(15_000, 32_000, 3401)  # every ₹5, far beyond the quotes
    calls = smile.call_price(strikes)
    butterflies = calls[:-2] - 2 * calls[1:-1] + calls[2:]
    assert butterflies.min() > -1e-6
    assert np.all(np.diff(calls) <= 1e-9)  # calls fall with the strike


def test_steep_wings_are_held_to_lees_bound():
    k = np.linspace(-1.0, 1.0, 41)
    w = 0.04 + 3.0 * np.abs(k)  # slope 3 > 2: more than any arbitrage-free smile allows
    fit = fit_svi(k, w, 0.95 * w, 1.05 * w)
    _a, b, rho, _m, _sigma = fit.params
    assert b * (1 + abs(rho)) <= 2 + 1e-9
    assert fit.ok and fit.g_min >= 0
    assert fit.n_outside > 0  # it cannot match those wings, and says so


# ---------------------------------------------------------------- a Dhan chain with its junk


def dhan_side(price: float, bid: float, ask: float, iv_percent: float, ltp: float | None = None) -> dict:
    """One `ce`/`pe` object of Dhan's /optionchain response."""
    return {"greeks": {"delta": 0.0, "theta": 0.0, "gamma": 0.0, "vega": 0.0}, "implied_volatility": iv_percent,
            "last_price": price if ltp is None else ltp, "oi": 150_000, "previous_oi": 140_000, "volume": 2_000_000,
            "previous_volume": 1_800_000, "previous_close_price": price, "top_bid_price": bid,
            "top_bid_quantity": 750 if bid else 0, "top_ask_price": ask, "top_ask_quantity": 750 if ask else 0}


def dhan_chain_response() -> dict:
    """A 6-DTE NIFTY /optionchain response in Dhan's documented format, built from the WEEKLY smile, with what real
    chains carry: wings with no bid, IV 0 from Dhan, a deep-ITM call with a stale LTP and a junk bid below
    intrinsic, a crossed quote, and an illiquid strike with every field 0."""
    days, params = WEEKLY
    rng = np.random.default_rng(7)
    strikes = np.arange(20_500.0, 25_501.0, 50.0)
    prices = true_prices(params, days, strikes)
    vol = 100 * np.sqrt(svi_total_variance(params, np.log(strikes / forward_of(days))) / (days / 365))
    quotes = {t: quotes_around(prices[t], rng) for t in prices}
    oc = {}
    for i, strike in enumerate(strikes):
        oc[f"{strike:.6f}"] = {side: dhan_side(float(prices[t][i]), float(quotes[t][0][i]), float(quotes[t][1][i]),
                                               float(vol[i] + rng.normal(0, 0.3)))
                               for side, t in (("ce", "CE"), ("pe", "PE"))}
    oc["23300.000000"]["ce"]["implied_volatility"] = 0.0  # Dhan gives IV 0 on a good quote
    itm = oc["21000.000000"]["ce"]
    itm.update(top_bid_price=1_500.0, top_ask_price=2_600.0, last_price=1_650.0)  # intrinsic ≈ ₹2,000; stale LTP
    crossed = oc["22700.000000"]["pe"]
    crossed.update(top_bid_price=crossed["top_ask_price"] + 3.0)
    dead = oc["24950.000000"]["ce"]
    dead.update({key: 0 for key in dead if key != "greeks"})
    del oc["25500.000000"]["pe"]  # either side may be absent
    return {"data": {"last_price": SPOT, "oc": oc}, "status": "success"}


def test_a_dhan_chain_fits_and_flags_what_it_drops():
    chain = parse_chain(dhan_chain_response()["data"], "NIFTY", date(2025, 1, 30))
    days, params = WEEKLY
    smile = fit_smile(chain, days / 365, RATE)
    assert smile.method == "svi" and smile.butterfly_ok and smile.n_outside == 0
    q = smile.quotes.set_index(["strike", "option_type"])
    assert q.loc[(21_000.0, "CE"), "drop"] == "itm_side"
    assert q.loc[(21_000.0, "CE"), "reason_bid"] == "below_intrinsic"
    assert q.loc[(22_700.0, "PE"), "drop"] == "crossed"
    assert q.loc[(24_950.0, "CE"), "drop"] == "no_bid"
    assert (q["drop"] == "no_bid").sum() >= 5  # far wings with no bid
    assert q.loc[(23_300.0, "CE"), "use"] and np.isnan(q.loc[(23_300.0, "CE"), "broker_iv"])
    used = q[q["use"]]
    assert (used["otm"]).all() and not used["drop"].any()
    assert np.nanmax(np.abs(used["iv_gap"])) < 0.02  # Dhan's IV (percent → decimal) is near ours: a diagnostic
    for reason in ("itm_side", "no_bid", "crossed"):
        assert reason in smile.note
    strikes = np.arange(22_000.0, 24_001.0, 100.0)
    true_vol = np.sqrt(svi_total_variance(params, np.log(strikes / forward_of(days))) / (days / 365))
    assert np.abs(smile.iv(strikes) - true_vol).max() < 0.003


# ---------------------------------------------------------------- fallbacks and bad input


def test_too_few_liquid_strikes_give_a_flat_smile_that_says_why():
    days, params = WEEKLY
    chain = svi_chain(params, days)
    keep = chain["strike"].isin([22_900.0, 22_950.0, 23_000.0, 23_050.0])  # 4 OTM quotes, the rest one-sided
    chain.loc[~keep, "bid"] = 0.0
    smile = fit_smile(chain, days / 365, RATE)
    assert smile.method == "flat"
    assert f"only 4 usable quotes (< {MIN_QUOTES})" in smile.note
    atm = smile.quotes[smile.quotes["use"]].assign(dist=lambda f: f["k"].abs()).sort_values("dist").iloc[0]
    assert smile.iv([20_000.0, 23_000.0, 26_000.0]) == pytest.approx(atm["iv_mid"])
    assert smile.butterfly_ok


def test_no_usable_quote_at_all_is_a_data_error():
    chain = svi_chain(WEEKLY[1], WEEKLY[0])
    chain["bid"] = 0.0
    with pytest.raises(DataError, match="no two-sided quote"):
        fit_smile(chain, 6 / 365, RATE)


def test_bad_input_raises_input_error_naming_the_field():
    with pytest.raises(InputError, match="years"):
        fit_smile(svi_chain(WEEKLY[1], WEEKLY[0]), 0.0, RATE)
    with pytest.raises(InputError, match="at least 5"):
        fit_svi([0.0, 0.1], [0.01, 0.02], [0.009, 0.019], [0.011, 0.021])
    with pytest.raises(InputError, match="w_bid ≤ w_mid ≤ w_ask"):
        fit_svi(np.linspace(-0.1, 0.1, 6), np.full(6, 0.01), np.full(6, 0.012), np.full(6, 0.013))


# ---------------------------------------------------------------- calendar


def test_consistent_expiries_have_no_calendar_arbitrage():
    surface = fit_surface([(svi_chain(MONTHLY[1], MONTHLY[0]), MONTHLY[0] / 365),
                           (svi_chain(WEEKLY[1], WEEKLY[0]), WEEKLY[0] / 365)], RATE)
    assert [s.years for s in surface.smiles] == [6 / 365, 34 / 365]
    assert surface.repairs.empty
    assert calendar_arbitrage(surface.smiles).empty


def test_calendar_arbitrage_is_detected_and_repaired():
    """A 13-DTE smile with a flatter put wing than the 6-DTE one: its w falls below the weekly's on the downside."""
    thirteen = (13, SVIParams(0.00055, 0.0025, -0.2, 0.004, 0.015))
    k = np.linspace(-0.12, 0.1, 200)
    assert (svi_total_variance(WEEKLY[1], k) > svi_total_variance(thirteen[1], k)).any()
    expiries = [(svi_chain(p, d), d / 365) for d, p in (WEEKLY, thirteen)]
    smiles = [fit_smile(chain, years, RATE) for chain, years in expiries]
    violations = calendar_arbitrage(smiles)
    assert len(violations) > 0 and (violations["shortfall"] > 0).all()
    assert (violations["k"] < 0).all()  # on the put side
    surface = fit_surface(expiries, RATE)
    assert len(surface.repairs) == 1
    repair = surface.repairs.iloc[0]
    assert repair["years"] == 13 / 365 and repair["max_shortfall"] > 0 and repair["max_shortfall_after"] == 0
    assert calendar_arbitrage(surface.smiles).empty
    repaired = surface.smiles[1]
    assert repair["how"] == "refit_with_floor" and "calendar repair" in repaired.note and repaired.butterfly_ok
    # the 13-DTE quotes themselves sit below the weekly's variance: the repaired smile cannot reach them, and says so
    assert repaired.n_outside > 0 and "SVI could not put them inside" in repaired.note


# ---------------------------------------------------------------- speed


def test_a_fit_of_a_hundred_strikes_takes_well_under_50_ms():
    days, params = MONTHLY
    chain = svi_chain(params, days, low=0.80, high=1.20)
    quotes = quote_ivs(chain, forward_of(days), days / 365, RATE)
    used = quotes[quotes["use"]]
    assert len(used) >= 100
    w = [used[c].to_numpy() ** 2 * days / 365 for c in ("iv_mid", "iv_bid", "iv_ask")]
    k = used["k"].to_numpy()
    timings = []
    for _ in range(7):
        start = time.perf_counter()
        fit = fit_svi(k, *w)
        timings.append(time.perf_counter() - start)
    assert fit.ok and np.median(timings) < 0.050
