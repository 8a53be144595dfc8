"""optionsv4_lib.terminal: the smile's terminal distribution and exact P&L metrics under it and under the view.

Smiles here: a flat one (w = σ²T, which must give the lognormal / Black closed forms exactly) and raw SVI
w(k) = a + b(ρ(k − m) + √((k − m)² + s²)) with NIFTY-like put skew, free of butterfly and calendar arbitrage
(checked below): ATM 14 %, 6 and 34 days, F ≈ 23,000. Monte Carlo checks draw ≥ 1e6 terminal prices by
inverse-CDF sampling on a fine strike grid, the CDF taken from differences of Black prices here (not from the
module's analytic digital), and allow 4.5 standard errors.
"""

import json
import math
import subprocess
import time

import numpy as np
import pytest
from peers.optionlab import RUNNER, optionlab_inputs, optionlab_python
from scipy.special import ndtr

from optionsv4_lib.core.errors import InputError
from optionsv4_lib.pricing.black_scholes import implied_vol
from optionsv4_lib.strategies import evaluate
from optionsv4_lib.strategies import measures as terminal
from optionsv4_lib.strategies.measures import CE, NONE, PE, STK, Legs, LognormalView

RATE = 0.065
T_NEAR, T_FAR = 6 / 365, 34 / 365
F_NEAR = 23000.0
F_FAR = F_NEAR * math.exp(RATE * (T_FAR - T_NEAR))  # no dividends: the forward grows at r
LOT = 75
TICK = 0.05
MC_SAMPLES = 2_000_000
MC_SIGMAS = 4.5


class FlatSmile:
    def __init__(self, forward: float, years: float, rate: float, sigma: float) -> None:
        self.forward, self.years, self.rate, self.sigma = forward, years, rate, sigma

    def total_variance(self, k: np.ndarray) -> np.ndarray:
        return np.full(np.shape(k), self.sigma**2 * self.years)


class SviSmile:
    """Raw SVI with closed-form derivatives (the module uses them instead of differences)."""

    def __init__(self, forward, years, rate, a, b, rho, m, s) -> None:
        self.forward, self.years, self.rate = forward, years, rate
        self.a, self.b, self.rho, self.m, self.s = a, b, rho, m, s

    def total_variance(self, k):
        x = np.asarray(k) - self.m
        return self.a + self.b * (self.rho * x + np.sqrt(x * x + self.s**2))

    def total_variance_derivatives(self, k):
        x = np.asarray(k) - self.m
        root = np.sqrt(x * x + self.s**2)
        return self.a + self.b * (self.rho * x + root), self.b * (self.rho + x / root), self.b * self.s**2 / root**3


class ValuesOnly:
    """The same smile seen through the bare protocol (forces the module's difference path)."""

    def __init__(self, smile) -> None:
        self.forward, self.years, self.rate, self._smile = smile.forward, smile.years, smile.rate, smile

    def total_variance(self, k):
        return self._smile.total_variance(k)


def nifty_svi(forward: float, years: float, rho: float, s: float, skew: float, atm_vol: float = 0.14) -> SviSmile:
    """SVI centred at the money with the given ATM vol and skew dσ/dk at the money."""
    b = skew * 2.0 * atm_vol * years / rho  # w'(0) = bρ = 2σT·dσ/dk
    return SviSmile(forward, years, RATE, atm_vol**2 * years - b * s, b, rho, 0.0, s)


NEAR = nifty_svi(F_NEAR, T_NEAR, rho=-0.6, s=0.02, skew=-1.0)  # 30 % vol at −10 %, 17 % at +10 %
FAR = nifty_svi(F_FAR, T_FAR, rho=-0.5, s=0.05, skew=-0.5)

# name: legs (kind, strike ₹, lots signed); STK strike unused
STRATEGIES = {
    "bull_call_spread": [(CE, 23000, 1), (CE, 23200, -1)],
    "bear_put_spread": [(PE, 23000, 1), (PE, 22800, -1)],
    "iron_condor": [(PE, 22500, 1), (PE, 22700, -1), (CE, 23300, -1), (CE, 23500, 1)],
    "short_strangle": [(PE, 22600, -1), (CE, 23400, -1)],
    "long_straddle": [(CE, 23000, 1), (PE, 23000, 1)],
    "call_ratio_spread": [(CE, 23000, 1), (CE, 23300, -2)],
    "put_ratio_spread": [(PE, 23000, 1), (PE, 22600, -2)],
    "covered_call": [(STK, 0, 1), (CE, 23300, -1)],
}


# ---------------------------------------------------------------- helpers: independent closed forms


def black_call(forward, strike, w):
    sqrt_w = np.sqrt(w)
    d1 = np.log(forward / strike) / sqrt_w + 0.5 * sqrt_w
    return forward * ndtr(d1) - strike * ndtr(d1 - sqrt_w)


def black_put(forward, strike, w):
    sqrt_w = np.sqrt(w)
    d1 = np.log(forward / strike) / sqrt_w + 0.5 * sqrt_w
    return strike * ndtr(sqrt_w - d1) - forward * ndtr(-d1)


def model_prices(smile, kind, strike) -> np.ndarray:
    """₹ today: e^{−rT}·(Black call, Black put at the smile's vol; the forward for stock)."""
    safe = np.where(strike > 0, strike, smile.forward)
    w = smile.total_variance(np.log(safe / smile.forward))
    value = np.select([kind == CE, kind == PE, kind == STK], [black_call(smile.forward, safe, w), black_put(smile.forward, safe, w), smile.forward], 0.0)
    return math.exp(-smile.rate * smile.years) * value


def legs_of(names, smile, premium=None) -> Legs:
    """The named strategies as one Legs batch padded to 4 legs; premiums the model's rounded to the tick."""
    width = max(len(STRATEGIES[n]) for n in names)
    rows = [STRATEGIES[n] + [(NONE, 0, 0)] * (width - len(STRATEGIES[n])) for n in names]
    kind = np.array([[leg[0] for leg in row] for row in rows])
    strike = np.array([[float(leg[1]) for leg in row] for row in rows])
    qty = np.array([[leg[2] * LOT for leg in row] for row in rows], dtype=float)
    if premium is None:
        premium = np.maximum(np.round(model_prices(smile, kind, strike) / TICK) * TICK, TICK)
    return Legs(kind, strike, qty, np.where(kind == NONE, 0.0, premium))


def pnl_on(samples: np.ndarray, legs: Legs, row: int, discount: float) -> np.ndarray:
    """P&L ₹ today of one position at terminal prices `samples`."""
    total = np.full(samples.shape, -(legs.qty[row] * legs.premium[row]).sum())
    for kind, strike, qty in zip(legs.kind[row], legs.strike[row], legs.qty[row]):
        if kind == CE:
            total += discount * qty * np.maximum(samples - strike, 0.0)
        elif kind == PE:
            total += discount * qty * np.maximum(strike - samples, 0.0)
        elif kind == STK:
            total += discount * qty * samples
    return total


def sample_terminal(smile, n: int, seed: int) -> np.ndarray:
    """n draws of S_T by inverse-CDF sampling; the CDF from differences of Black prices on a 2e5-strike grid."""
    k = np.linspace(-1.2, 0.8, 200_001)
    strike = smile.forward * np.exp(k)
    call = black_call(smile.forward, strike, smile.total_variance(k))
    cdf = np.clip(1.0 + np.diff(call) / np.diff(strike), 0.0, 1.0)  # P(S_T ≤ midpoint), O(dK²)
    assert cdf[0] < 1e-12 and cdf[-1] > 1 - 1e-12, "grid too narrow"
    return np.interp(np.random.default_rng(seed).random(n), np.maximum.accumulate(cdf), 0.5 * (strike[1:] + strike[:-1]))


@pytest.fixture(scope="module")
def near_samples() -> np.ndarray:
    return sample_terminal(NEAR, MC_SAMPLES, seed=20240601)


def assert_mc(exact: float, draws: np.ndarray, label: str, bias: float = 0.0) -> None:
    mean, se = draws.mean(), draws.std() / math.sqrt(draws.size)
    assert abs(exact - mean) <= MC_SIGMAS * se + bias, f"{label}: exact {exact}, MC {mean} ± {se}"


# ---------------------------------------------------------------- the distribution


def test_leg_codes_are_evaluate_s() -> None:
    assert (CE, PE, STK, NONE) == (evaluate.CE, evaluate.PE, evaluate.STK, evaluate.NONE)


def test_flat_smile_is_the_lognormal() -> None:
    smile = FlatSmile(F_NEAR, T_NEAR, RATE, 0.14)
    strike = np.linspace(20000.0, 26000.0, 61)
    sd = 0.14 * math.sqrt(T_NEAR)
    z = (np.log(strike / F_NEAR) + 0.5 * sd**2) / sd
    assert np.allclose(terminal.undiscounted_call(smile, strike), black_call(F_NEAR, strike, sd**2), rtol=0, atol=1e-9)
    assert np.allclose(terminal.terminal_cdf(smile, strike), ndtr(z), rtol=0, atol=1e-14)
    density = np.exp(-0.5 * z**2) / (strike * sd * math.sqrt(2 * math.pi))
    assert np.allclose(terminal.terminal_density(smile, strike), density, rtol=1e-10, atol=0)


@pytest.mark.parametrize("smile", [NEAR, FAR], ids=["near", "far"])
def test_svi_smiles_are_arbitrage_free_and_cdf_is_monotone(smile) -> None:
    strike = smile.forward * np.exp(np.linspace(-1.5, 1.0, 100_001))
    cdf, density = terminal.terminal_cdf(smile, strike), terminal.terminal_density(smile, strike)
    assert np.all(density >= 0)
    assert np.all(np.diff(cdf) >= 0) and cdf[0] >= 0 and cdf[-1] <= 1
    assert cdf[0] < 1e-9 and cdf[-1] > 1 - 1e-9
    assert np.trapezoid(density, strike) == pytest.approx(1.0, abs=1e-8)
    assert np.trapezoid(strike * density, strike) == pytest.approx(smile.forward, rel=1e-8)
    k = np.linspace(-2.0, 2.0, 4001)
    assert np.all(FAR.total_variance(k) > NEAR.total_variance(k))  # no calendar arbitrage


@pytest.mark.parametrize("smile", [NEAR, FAR], ids=["near", "far"])
def test_svi_cdf_is_the_slope_of_call_prices_with_the_skew_term(smile) -> None:
    strike = smile.forward * np.exp(np.linspace(-0.3, 0.2, 501))
    h = 1e-3  # ₹
    slope = (black_call(smile.forward, strike + h, smile.total_variance(np.log((strike + h) / smile.forward)))
             - black_call(smile.forward, strike - h, smile.total_variance(np.log((strike - h) / smile.forward)))) / (2 * h)
    cdf = terminal.terminal_cdf(smile, strike)
    assert np.allclose(cdf, 1.0 + slope, rtol=0, atol=1e-7)
    sqrt_w = np.sqrt(smile.total_variance(np.log(strike / smile.forward)))
    without_skew_term = ndtr(np.log(strike / smile.forward) / sqrt_w + 0.5 * sqrt_w)  # N(−d2)
    assert np.max(np.abs(cdf - without_skew_term)) > 0.05  # the skew term matters here
    # without closed-form derivatives the module differences w: the same CDF and density
    assert np.allclose(terminal.terminal_cdf(ValuesOnly(smile), strike), cdf, rtol=0, atol=1e-10)
    assert np.allclose(terminal.terminal_density(ValuesOnly(smile), strike), terminal.terminal_density(smile, strike), rtol=1e-6, atol=0)


# ---------------------------------------------------------------- single expiry: closed forms and evaluate.py


def test_flat_smile_metrics_match_evaluate_positions() -> None:
    """evaluate.py values P&L at expiry with premiums not carried; ours is today's value: feed it e^{−rT}·premium."""
    sigma = 0.14
    smile = FlatSmile(F_NEAR, T_NEAR, RATE, sigma)
    legs = legs_of(list(STRATEGIES), smile)
    discount = math.exp(-RATE * T_NEAR)
    n = len(legs.kind)
    pos = evaluate.Positions(legs.kind, legs.strike, legs.qty, legs.premium, np.full(legs.kind.shape, T_NEAR), np.full(legs.kind.shape, sigma))
    ours = terminal.expiry_metrics(Legs(legs.kind, legs.strike, legs.qty, legs.premium * discount), smile)
    theirs = evaluate.evaluate_positions(pos, np.full(n, F_NEAR * discount), np.full(n, sigma), RATE, 0.0)
    assert np.allclose(ours.pop, theirs["pop"], rtol=0, atol=1e-12)
    assert np.allclose(ours.expected_pnl, discount * theirs["expected_pnl"], rtol=1e-9, atol=1e-6)
    assert np.allclose(ours.breakevens, theirs["breakevens"], rtol=1e-12, equal_nan=True)


def test_view_metrics_are_the_lognormal_closed_forms_per_candidate() -> None:
    legs = legs_of(list(STRATEGIES), NEAR)
    n = len(legs.kind)
    spot = np.full(n, F_NEAR * math.exp(-RATE * T_NEAR))
    sigma = np.linspace(0.09, 0.25, n)
    drift = np.linspace(-0.3, 0.4, n)
    view = LognormalView(spot, sigma, drift, T_NEAR, RATE)
    discount = math.exp(-RATE * T_NEAR)
    ours = terminal.expiry_metrics(Legs(legs.kind, legs.strike, legs.qty, legs.premium * discount), view)
    pos = evaluate.Positions(legs.kind, legs.strike, legs.qty, legs.premium, np.full(legs.kind.shape, T_NEAR), np.repeat(sigma[:, None], legs.kind.shape[1], axis=1))
    theirs = evaluate.evaluate_positions(pos, spot, sigma, RATE, 0.0, drift=drift)
    assert np.allclose(ours.pop, theirs["pop"], rtol=0, atol=1e-12)
    assert np.allclose(ours.expected_pnl, discount * theirs["expected_pnl"], rtol=1e-9, atol=1e-6)
    assert np.allclose(ours.breakevens, theirs["breakevens"], rtol=1e-12, equal_nan=True)
    # one row at a time: the same numbers (the vectorization does not mix candidates)
    for row in range(n):
        one = Legs(*(a[row : row + 1] for a in (legs.kind, legs.strike, legs.qty, legs.premium * discount)))
        alone = terminal.expiry_metrics(one, LognormalView(spot[row], sigma[row], drift[row], T_NEAR, RATE))
        assert alone.expected_pnl[0] == pytest.approx(ours.expected_pnl[row], rel=1e-12, abs=1e-9)
        assert alone.pop[0] == pytest.approx(ours.pop[row], abs=1e-14)


# ---------------------------------------------------------------- single expiry under the skewed smile


def test_svi_metrics_match_monte_carlo(near_samples) -> None:
    legs = legs_of(list(STRATEGIES), NEAR)
    ours = terminal.expiry_metrics(legs, NEAR)
    discount = math.exp(-RATE * T_NEAR)
    for row, name in enumerate(STRATEGIES):
        pnl = pnl_on(near_samples, legs, row, discount)
        assert_mc(ours.expected_pnl[row], pnl, f"{name} E[P&L]")
        assert_mc(ours.pop[row], (pnl > 0).astype(float), f"{name} PoP")
        for breakeven in ours.breakevens[row][np.isfinite(ours.breakevens[row])]:
            at = pnl_on(np.array([breakeven - 1e-6, breakeven + 1e-6]), legs, row, discount)
            assert at[0] * at[1] < 0 or np.abs(at).max() < 1e-3, f"{name}: no sign change at {breakeven}"


def test_svi_metrics_without_derivatives_agree() -> None:
    legs = legs_of(list(STRATEGIES), NEAR)
    exact, differenced = terminal.expiry_metrics(legs, NEAR), terminal.expiry_metrics(legs, ValuesOnly(NEAR))
    assert np.allclose(exact.pop, differenced.pop, rtol=0, atol=1e-10)
    assert np.array_equal(exact.expected_pnl, differenced.expected_pnl)  # static replication needs no derivative


def test_at_model_prices_expected_pnl_is_zero_and_minus_half_spreads_at_the_touch() -> None:
    legs = legs_of(list(STRATEGIES), NEAR)
    fair = model_prices(NEAR, legs.kind, legs.strike)
    at_model = terminal.expiry_metrics(Legs(legs.kind, legs.strike, legs.qty, fair), NEAR)
    scale = (np.abs(legs.qty) * fair).sum(axis=1)
    assert np.all(np.abs(at_model.expected_pnl) <= 1e-6 * scale)

    half_spread = np.where(legs.kind == NONE, 0.0, np.array([0.5, 1.25, 2.0, 3.5]))  # ₹ per unit
    touch = np.where(legs.qty > 0, fair + half_spread, fair - half_spread)
    at_touch = terminal.expiry_metrics(Legs(legs.kind, legs.strike, legs.qty, touch), NEAR, costs=40.0)
    expected = -(half_spread * np.abs(legs.qty)).sum(axis=1) - 40.0
    assert np.allclose(at_touch.expected_pnl, expected, rtol=1e-6, atol=0)


def test_optionlab_array_model_on_the_same_density_agrees(near_samples, tmp_path) -> None:
    """optionlab's "array" model on draws of the smile's density: its PoP and mean P&L against our exact ones.

    optionlab counts P&L at expiry (premiums not carried) and profit as P&L ≥ 0.01; it gets e^{rT}·our premiums
    so that its P&L is ours / e^{−rT}. Options only: optionlab wants premium > 0 on every leg.
    """
    python = optionlab_python()
    names = [n for n in STRATEGIES if n != "covered_call"]
    legs = legs_of(names, NEAR)
    discount = math.exp(-RATE * T_NEAR)
    cases = []
    for row in range(len(names)):
        ol_legs = [
            {"type": {CE: "CE", PE: "PE"}[int(k)], "strike": float(s), "side": "BUY" if q > 0 else "SELL", "qty": abs(int(q)), "premium": float(p) / discount}
            for k, s, q, p in zip(legs.kind[row], legs.strike[row], legs.qty[row], legs.premium[row])
            if k != NONE
        ]
        cases.append(optionlab_inputs(ol_legs, F_NEAR, 0.14, 0.0, 6, max_stock=2 * F_NEAR, price_step=1.0))
    path = tmp_path / "samples.npy"
    np.save(path, near_samples)
    runner = RUNNER.with_name("optionlab_array_runner.py")
    request = json.dumps({"samples": str(path), "cases": cases})
    done = subprocess.run([str(python), "-I", str(runner)], input=request, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)["results"]

    ours = terminal.expiry_metrics(legs, NEAR)
    for row, (name, peer) in enumerate(zip(names, results, strict=True)):
        assert "error" not in peer, peer
        pnl = pnl_on(near_samples, legs, row, discount)
        # the same draws: optionlab and our sample mean agree to rounding
        assert peer["expected_pnl"] * discount == pytest.approx(pnl.mean(), rel=1e-9, abs=1e-6)
        assert peer["probability_of_profit"] == pytest.approx((pnl >= 0.01 * discount).mean(), abs=1e-12)
        # and both are within Monte Carlo error of the exact values
        assert_mc(ours.expected_pnl[row], pnl, f"{name} E[P&L] vs optionlab")
        p = ours.pop[row]
        assert abs(peer["probability_of_profit"] - p) <= MC_SIGMAS * math.sqrt(p * (1 - p) / pnl.size) + 1e-5, name


# ---------------------------------------------------------------- touch probabilities


def test_touch_flat_is_the_reflection_principle() -> None:
    smile = FlatSmile(F_NEAR, T_NEAR, RATE, 0.14)
    barrier = np.linspace(21000.0, 25000.0, 81)
    expected = evaluate.touch_probability(F_NEAR, barrier, 0.14, T_NEAR, 0.0)
    assert np.allclose(terminal.touch_probability(smile, barrier), expected, rtol=0, atol=1e-12)


def test_touch_is_exact_for_a_symmetric_smile_of_a_lognormal_mixture() -> None:
    """A forward that is GBM with a vol drawn once (10 % or 25 %, even odds) has a smile symmetric in k, and
    its touch probability is the mixture of the two reflection-principle ones: the replication is exact."""
    vols, weights = np.array([0.10, 0.25]), np.array([0.5, 0.5])

    class MixtureSmile:
        forward, years, rate = F_NEAR, T_NEAR, 0.0

        def total_variance(self, k):
            k = np.asarray(k, dtype=float)
            strike = F_NEAR * np.exp(k)
            price = sum(wt * black_call(F_NEAR, strike, v**2 * T_NEAR) for v, wt in zip(vols, weights))
            return implied_vol(price, "CE", F_NEAR, strike, T_NEAR, 0.0) ** 2 * T_NEAR

    barrier = np.concatenate([np.linspace(21500.0, 22950.0, 30), np.linspace(23050.0, 24500.0, 30)])
    mixture = sum(wt * evaluate.touch_probability(F_NEAR, barrier, v, T_NEAR, 0.0) for v, wt in zip(vols, weights))
    assert np.allclose(terminal.touch_probability(MixtureSmile(), barrier), mixture, rtol=0, atol=2e-5)


def test_touch_under_skew_is_bounded_and_monotone() -> None:
    barrier = np.linspace(21000.0, 25000.0, 401)
    touch = terminal.touch_probability(NEAR, barrier)
    cdf = terminal.terminal_cdf(NEAR, barrier)
    up, down = barrier > F_NEAR, barrier < F_NEAR
    assert np.all(touch[up] >= 1 - cdf[up]) and np.all(touch[down] >= cdf[down]) and np.all(touch <= 1)
    # Doob: P(max S ≥ B) ≤ F/B for a martingale. The approximation breaks it within ~0.5 sd above the forward,
    # where under this skew it exceeds 1 (and is clipped): P(S_T ≥ F) > ½ there.
    away = barrier[up] > F_NEAR * math.exp(0.5 * 0.14 * math.sqrt(T_NEAR))
    assert np.all(touch[up][away] <= F_NEAR / barrier[up][away])
    assert touch[up][0] == 1.0
    assert np.all(np.diff(touch[up]) <= 0) and np.all(np.diff(touch[down]) >= 0)
    assert terminal.touch_probability(NEAR, np.array([F_NEAR]))[0] == 1.0
    flat = terminal.touch_probability(FlatSmile(F_NEAR, T_NEAR, RATE, 0.14), barrier)
    assert touch[barrier == 22000.0][0] > flat[barrier == 22000.0][0]  # the put skew fattens the downside


# ---------------------------------------------------------------- two expiries


def calendar_legs(premium_smiles=None) -> tuple[Legs, np.ndarray]:
    """Call and put calendars, a diagonal and a double diagonal: (legs, far_leg)."""
    rows = [
        [(CE, 23000, -1, False), (CE, 23000, 1, True)],
        [(PE, 22800, -1, False), (PE, 22800, 1, True)],
        [(CE, 23200, -1, False), (CE, 23300, 1, True)],
        [(PE, 22700, -1, False), (PE, 22600, 1, True), (CE, 23300, -1, False), (CE, 23400, 1, True)],
    ]
    rows = [r + [(NONE, 0, 0, False)] * (4 - len(r)) for r in rows]
    kind = np.array([[leg[0] for leg in r] for r in rows])
    strike = np.array([[float(leg[1]) for leg in r] for r in rows])
    qty = np.array([[leg[2] * LOT for leg in r] for r in rows], dtype=float)
    far_leg = np.array([[leg[3] for leg in r] for r in rows])
    near, far = premium_smiles or (NEAR, FAR)
    premium = np.where(far_leg, model_prices(far, kind, strike), model_prices(near, kind, strike))
    return Legs(kind, strike, qty, premium), far_leg


def calendar_pnl_on(samples, legs, far_leg, row, near, far) -> np.ndarray:
    """P&L ₹ today at S_T1 = samples: near legs settled, far legs at Black with the far smile's vol at their strike."""
    d1, d2 = math.exp(-near.rate * near.years), math.exp(-far.rate * far.years)
    total = np.full(samples.shape, -(legs.qty[row] * legs.premium[row]).sum())
    for kind, strike, qty, later in zip(legs.kind[row], legs.strike[row], legs.qty[row], far_leg[row]):
        if kind == NONE:
            continue
        if later:
            w = far.total_variance(np.log(strike / far.forward)) * (far.years - near.years) / far.years
            pricer = black_call if kind == CE else black_put
            total += d2 * qty * pricer(samples * far.forward / near.forward, strike, w)
        else:
            total += d1 * qty * (np.maximum(samples - strike, 0.0) if kind == CE else np.maximum(strike - samples, 0.0))
    return total


def test_calendar_at_model_prices_under_flat_equal_vols_is_worth_zero() -> None:
    """With one flat vol for both expiries the far leg's Black value at T1 is a martingale: E[P&L] = 0 at model
    prices, up to the interpolation of the far legs between grid nodes."""
    near, far = FlatSmile(F_NEAR, T_NEAR, RATE, 0.14), FlatSmile(F_FAR, T_FAR, RATE, 0.14)
    legs, far_leg = calendar_legs((near, far))
    scale = (np.abs(legs.qty) * legs.premium).sum(axis=1)
    units = np.abs(legs.qty).sum(axis=1)
    default = terminal.calendar_metrics(legs, far_leg, near, far)
    fine = terminal.calendar_metrics(legs, far_leg, near, far, grid_points=3201)
    assert np.all(np.abs(default.expected_pnl) <= 0.002 * units), default.expected_pnl / units  # ₹ per unit
    assert np.all(np.abs(fine.expected_pnl) <= 1e-6 * scale), fine.expected_pnl / scale


def test_flat_calendar_matches_evaluate_positions() -> None:
    """evaluate.py's grid (±6 sd, 241 points, BSM at the remaining time) on the same flat market."""
    sigma = 0.14
    near, far = FlatSmile(F_NEAR, T_NEAR, RATE, sigma), FlatSmile(F_FAR, T_FAR, RATE, sigma)
    legs, far_leg = calendar_legs((near, far))
    d1 = math.exp(-RATE * T_NEAR)
    n = len(legs.kind)
    years = np.where(far_leg, T_FAR, T_NEAR)
    pos = evaluate.Positions(legs.kind, legs.strike, legs.qty, legs.premium, years, np.full(years.shape, sigma))
    ours = terminal.calendar_metrics(Legs(legs.kind, legs.strike, legs.qty, legs.premium * d1), far_leg, near, far)
    theirs = evaluate.evaluate_positions(pos, np.full(n, F_NEAR * d1), np.full(n, sigma), RATE, 0.0)
    assert np.allclose(ours.pop, theirs["pop"], rtol=0, atol=2e-4)
    scale = (np.abs(legs.qty) * legs.premium).sum(axis=1)
    assert np.all(np.abs(ours.expected_pnl - d1 * theirs["expected_pnl"]) <= 2e-4 * scale)
    assert np.allclose(ours.breakevens, theirs["breakevens"], rtol=0, atol=0.5, equal_nan=True)


def test_svi_calendar_matches_monte_carlo(near_samples) -> None:
    legs, far_leg = calendar_legs()
    legs = Legs(legs.kind, legs.strike, legs.qty, np.round(legs.premium / TICK) * TICK + 0.7 * np.sign(legs.qty))
    ours = terminal.calendar_metrics(legs, far_leg, NEAR, FAR)
    fine = terminal.calendar_metrics(legs, far_leg, NEAR, FAR, grid_points=6401)
    units = np.abs(legs.qty).sum(axis=1)
    assert np.all(np.abs(ours.expected_pnl - fine.expected_pnl) <= 0.002 * units)  # ₹ per unit of |qty|
    assert np.allclose(ours.pop, fine.pop, rtol=0, atol=2e-5)
    for row in range(len(legs.kind)):
        pnl = calendar_pnl_on(near_samples, legs, far_leg, row, NEAR, FAR)
        assert_mc(fine.expected_pnl[row], pnl, f"calendar {row} E[P&L]")
        assert_mc(fine.pop[row], (pnl > 0).astype(float), f"calendar {row} PoP")
        for breakeven in ours.breakevens[row][np.isfinite(ours.breakevens[row])]:
            at = calendar_pnl_on(np.array([breakeven - 2.0, breakeven + 2.0]), legs, far_leg, row, NEAR, FAR)
            assert at[0] * at[1] < 0, f"calendar {row}: no sign change near {breakeven}"


def test_calendar_under_the_view_uses_the_view_for_s_t1() -> None:
    legs, far_leg = calendar_legs()
    flat_near = FlatSmile(F_NEAR * math.exp(0.2 * T_NEAR), T_NEAR, RATE, 0.18)
    view = LognormalView(F_NEAR * math.exp(-RATE * T_NEAR), 0.18, RATE + 0.2, T_NEAR, RATE)
    by_view = terminal.calendar_metrics(legs, far_leg, NEAR, FAR, measure=view)
    by_smile = terminal.calendar_metrics(legs, far_leg, NEAR, FAR, measure=flat_near)
    assert np.allclose(by_view.expected_pnl, by_smile.expected_pnl, rtol=1e-10, atol=1e-6)
    assert np.allclose(by_view.pop, by_smile.pop, rtol=0, atol=1e-10)


# ---------------------------------------------------------------- input errors


def test_bad_inputs_raise_input_error() -> None:
    legs = legs_of(["iron_condor"], NEAR)
    with pytest.raises(InputError, match="kind"):
        terminal.expiry_metrics(Legs(legs.kind + 7, legs.strike, legs.qty, legs.premium), NEAR)
    with pytest.raises(InputError, match="strike"):
        terminal.expiry_metrics(Legs(legs.kind, -legs.strike, legs.qty, legs.premium), NEAR)
    with pytest.raises(InputError, match="qty"):
        terminal.expiry_metrics(Legs(legs.kind, legs.strike, legs.qty[:, :2], legs.premium), NEAR)
    with pytest.raises(InputError, match="strike"):
        terminal.terminal_cdf(NEAR, np.array([0.0, 100.0]))
    with pytest.raises(InputError, match="total variance"):
        terminal.terminal_cdf(FlatSmile(F_NEAR, T_NEAR, RATE, 0.0), np.array([23000.0]))
    with pytest.raises(InputError, match="view"):
        terminal.expiry_metrics(legs, LognormalView(23000.0, -0.1, 0.0, T_NEAR, RATE))
    cal, far_leg = calendar_legs()
    with pytest.raises(InputError, match="far_leg"):
        terminal.calendar_metrics(cal, far_leg | (cal.kind == NONE), NEAR, FAR)
    with pytest.raises(InputError, match="measure.years"):
        terminal.calendar_metrics(cal, far_leg, NEAR, FAR, measure=FAR)


# ---------------------------------------------------------------- speed (logged, not asserted)


def test_batch_of_100k_candidates_matches_single_rows_and_logs_its_speed(capsys) -> None:
    rng = np.random.default_rng(7)
    n = 100_000
    chain = np.arange(21000.0, 25001.0, 50.0)
    kind = rng.choice([CE, PE], size=(n, 4))
    strike = rng.choice(chain, size=(n, 4))
    qty = rng.choice([-2.0, -1.0, 1.0, 2.0], size=(n, 4)) * LOT
    premium = model_prices(NEAR, kind, strike) + rng.uniform(-2.0, 2.0, size=(n, 4))
    legs = Legs(kind, strike, qty, np.maximum(premium, TICK))
    view = LognormalView(F_NEAR * math.exp(-RATE * T_NEAR), rng.uniform(0.1, 0.2, n), rng.uniform(-0.2, 0.2, n), T_NEAR, RATE)

    timings = {}
    for label, measure in (("smile (closed-form w', w'')", NEAR), ("smile (differenced w)", ValuesOnly(NEAR)), ("view", view)):
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            result = terminal.expiry_metrics(legs, measure)
            best = min(best, time.perf_counter() - start)
        timings[label] = (best, result)
    with capsys.disabled():
        for label, (seconds, _) in timings.items():
            print(f"\nterminal.expiry_metrics, {n} 4-leg candidates, {label}: {seconds:.3f} s = {seconds / n * 1e6:.2f} µs/candidate")

    batch = timings["smile (closed-form w', w'')"][1]
    for row in rng.choice(n, 20, replace=False):
        one = terminal.expiry_metrics(Legs(*(a[row : row + 1] for a in (kind, strike, qty, legs.premium))), NEAR)
        assert one.expected_pnl[0] == pytest.approx(batch.expected_pnl[row], rel=1e-12, abs=1e-8)
        assert one.pop[0] == pytest.approx(batch.pop[row], abs=1e-14)
        width = np.isfinite(one.breakevens[0]).sum()
        assert np.allclose(one.breakevens[0][:width], batch.breakevens[row][:width], rtol=1e-12)
        assert not np.isfinite(batch.breakevens[row][width:]).any()
