"""The view's volatility forecast and drift: EWMA by hand and against pandas, GARCH(1,1) recovering known parameters
from a seeded simulation and agreeing with the `arch` package, the term vol's limits and a loop oracle, the blend,
both fallback paths, describe(), the drift's mapping of market_state's directions, and errors. A realistic series
takes its volatility path from the real INDIA VIX history (tests/fixtures, NSE's export)."""

import math
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.analysis.forecast import (
    TRADING_DAYS,
    ForecastConfig,
    GarchParams,
    VolForecast,
    ewma_vol,
    forecast_vol,
    garch11_fit,
    garch_term_vol,
    log_returns,
    view_drift,
)
from optionsv4_lib.analysis.market_state import Direction
from optionsv4_lib.core.errors import InputError

TRUE = GarchParams(omega=2e-6, alpha=0.08, beta=0.90)  # long-run vol √(252 · 1e-4) ≈ 15.9 %
VIX_FILE = Path(__file__).parents[2] / "fixtures" / "india_vix_nse.csv.gz"


def simulate(n: int, params: GarchParams = TRUE, seed: int = 7, burn: int = 500) -> tuple[np.ndarray, float]:
    """n GARCH(1,1) returns with Gaussian shocks and the true conditional variance of the day after them."""
    z = np.random.default_rng(seed).standard_normal(n + burn)
    var, r = params.long_run_var, np.empty(n + burn)
    for t in range(n + burn):
        r[t] = math.sqrt(var) * z[t]
        var = params.omega + params.alpha * r[t] ** 2 + params.beta * var
    return r[burn:], var


def closes_of(returns: np.ndarray, start: float = 20_000.0) -> np.ndarray:
    return start * np.exp(np.concatenate(([0.0], np.cumsum(returns))))


def vix_series() -> pd.Series:
    """INDIA VIX closes by date from NSE's export (headers with trailing spaces, dates like 02-JAN-2012)."""
    frame = pd.read_csv(VIX_FILE).rename(columns=str.strip)
    dates = pd.to_datetime(frame["Date"], format="%d-%b-%Y")
    return pd.Series(frame["Close"].to_numpy(dtype=float), index=dates).sort_index()


def vix_driven_returns(seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Daily returns whose true vol on each day is that day's INDIA VIX (annualised), and that vol path."""
    vol = vix_series().to_numpy() / 100
    z = np.random.default_rng(seed).standard_normal(vol.size)
    return vol / math.sqrt(TRADING_DAYS) * z, vol


# ---------------------------------------------------------------- EWMA


def test_ewma_hand_worked_five_returns():
    # log returns 1 %, −2 %, 1.5 %, 0, −1 %; weights λ^4 … λ^0 = 0.78074896, 0.830584, 0.8836, 0.94, 1 (sum
    # 4.43493296); Σ w r² = 1e-4·0.78074896 + 4e-4·0.830584 + 2.25e-4·0.8836 + 0 + 1e-4·1 = 7.09118496e-4;
    # variance 7.09118496e-4 / 4.43493296 = 1.5989385e-4 per day → √(252 · 1.5989385e-4) = 0.2007318
    closes = closes_of(np.array([0.01, -0.02, 0.015, 0.0, -0.01]), start=100.0)
    assert ewma_vol(closes, lam=0.94) == pytest.approx(0.20073179, rel=1e-7)


def test_ewma_matches_pandas_ewm_and_vectorizes_over_symbols():
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.012, size=(300, 3)), axis=0))
    vols = ewma_vol(closes, lam=0.97)
    assert vols.shape == (3,)
    for k in range(3):
        r2 = pd.Series(np.diff(np.log(closes[:, k])) ** 2)
        oracle = math.sqrt(TRADING_DAYS * r2.ewm(alpha=1 - 0.97, adjust=True).mean().iloc[-1])
        assert vols[k] == pytest.approx(oracle, rel=1e-12)
        assert ewma_vol(pd.Series(closes[:, k])) == pytest.approx(ewma_vol(closes[:, k]), rel=1e-15)


def test_ewma_tracks_a_realistic_vol_path():
    """Returns drawn with the real INDIA VIX as their true vol: EWMA(0.94) follows it within sampling error, through
    2020's spike too (a reversed weighting or a wrong annualisation would not)."""
    returns, vol = vix_driven_returns()
    closes = closes_of(returns)
    days = np.arange(60, returns.size, 20)
    ratios = np.array([ewma_vol(closes[: d + 1]) / vol[d - 1] for d in days])
    assert np.median(np.abs(ratios - 1)) < 0.15
    peak = int(np.argmax(vol))
    assert ewma_vol(closes[: peak + 2]) > 2 * np.median(vol)


# ---------------------------------------------------------------- GARCH(1,1)


def test_garch_recovers_known_parameters():
    """5000 simulated days; tolerances ≈ 3 asymptotic standard errors at this length (α ±0.007, β ±0.01)."""
    returns, next_var = simulate(5000)
    fit = garch11_fit(returns)
    assert fit.ok and fit.n_obs == 5000
    assert fit.params.alpha == pytest.approx(TRUE.alpha, abs=0.02)
    assert fit.params.beta == pytest.approx(TRUE.beta, abs=0.03)
    assert fit.params.persistence == pytest.approx(TRUE.persistence, abs=0.01)
    assert math.sqrt(fit.params.long_run_var) == pytest.approx(math.sqrt(TRUE.long_run_var), rel=0.1)
    assert math.sqrt(fit.last_var) == pytest.approx(math.sqrt(next_var), rel=0.1)


def test_garch_loglik_and_last_var_by_a_loop():
    returns, _ = simulate(600, seed=5)
    fit = garch11_fit(returns)
    p = fit.params
    var, loglik = float(np.mean(returns**2)), 0.0
    for r in returns:
        loglik += -0.5 * (math.log(2 * math.pi) + math.log(var) + r * r / var)
        var = p.omega + p.alpha * r * r + p.beta * var
    assert fit.loglik == pytest.approx(loglik, rel=1e-10)
    assert fit.last_var == pytest.approx(var, rel=1e-10)


@pytest.mark.parametrize("series", ["simulated", "vix-driven"])
def test_garch_matches_arch_package(series):
    """Same model in `arch` (zero mean, normal shocks, fitted on percent returns). The two differ only in the first
    day's variance (arch back-casts it), so each optimum must be near-optimal in the other's likelihood."""
    arch = pytest.importorskip("arch")
    returns = simulate(3000, seed=21)[0] if series == "simulated" else vix_driven_returns()[0][-1500:]
    fit = garch11_fit(returns)
    model = arch.arch_model(100 * returns, mean="Zero", vol="GARCH", p=1, q=1, dist="normal", rescale=False)
    theirs = model.fit(disp="off")
    omega, alpha, beta = theirs.params["omega"] / 100**2, theirs.params["alpha[1]"], theirs.params["beta[1]"]
    assert fit.ok and theirs.convergence_flag == 0
    assert fit.params.alpha == pytest.approx(alpha, abs=0.01)
    assert fit.params.beta == pytest.approx(beta, abs=0.01)
    assert fit.params.omega == pytest.approx(omega, rel=0.1)
    ours_in_arch = model.fix([fit.params.omega * 100**2, fit.params.alpha, fit.params.beta]).loglikelihood
    assert ours_in_arch == pytest.approx(theirs.loglikelihood, abs=0.1)
    assert ours_in_arch <= theirs.loglikelihood + 1e-6
    term = garch_term_vol(fit.params, fit.last_var, 21)
    their_last = theirs.forecast(horizon=1).variance.iloc[-1, 0] / 100**2
    assert term == pytest.approx(garch_term_vol(GarchParams(omega, alpha, beta), their_last, 21), rel=0.01)


def test_garch_flags_a_fit_above_the_persistence_limit():
    fit = garch11_fit(simulate(2000)[0], max_persistence=0.5)
    assert not fit.ok and "non-stationary" in fit.failure and fit.params.persistence >= 0.5


# ---------------------------------------------------------------- term vol


def test_term_vol_limits_and_a_loop_oracle():
    last_var = 4 * TRUE.long_run_var  # a stressed day: twice the long-run vol
    assert garch_term_vol(TRUE, last_var, 1) == pytest.approx(math.sqrt(TRADING_DAYS * last_var), rel=1e-12)
    assert garch_term_vol(TRUE, last_var, 0.3) == garch_term_vol(TRUE, last_var, 1)
    assert garch_term_vol(TRUE, last_var, 1e6) == pytest.approx(math.sqrt(TRADING_DAYS * TRUE.long_run_var),
                                                                 rel=1e-4)
    expected, total = last_var, 0.0
    for _ in range(21):  # E[σ²] one day further: ω + (α + β) E[σ²]
        total += expected
        expected = TRUE.omega + TRUE.persistence * expected
    assert garch_term_vol(TRUE, last_var, 21) == pytest.approx(math.sqrt(TRADING_DAYS * total / 21), rel=1e-12)
    curve = garch_term_vol(TRUE, last_var, np.array([1, 5, 21, 63, 252]))
    assert curve.shape == (5,) and (np.diff(curve) < 0).all()


def test_term_vol_refuses_non_stationary_params_and_bad_inputs():
    with pytest.raises(InputError, match="params"):
        garch_term_vol(GarchParams(1e-6, 0.1, 0.9), 1e-4, 21)
    with pytest.raises(InputError, match="last_var"):
        garch_term_vol(TRUE, 0.0, 21)
    with pytest.raises(InputError, match="horizon_days"):
        garch_term_vol(TRUE, 1e-4, np.array([21, 0]))


# ---------------------------------------------------------------- forecast_vol


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.5, 1.0])
def test_forecast_blends_garch_and_implied(weight):
    returns, _ = simulate(1200)
    forecast = forecast_vol(closes_of(returns), 30 / 365, 0.14, ForecastConfig(implied_weight=weight))
    fit = forecast.garch_fit
    assert forecast.method == "GARCH(1,1)" and forecast.fallback is None and fit.ok
    assert forecast.history_days == fit.n_obs == 1000  # the GARCH window
    assert forecast.horizon_days == pytest.approx(30 / 365 * 252)
    assert forecast.garch == pytest.approx(garch_term_vol(fit.params, fit.last_var, 30 / 365 * 252), rel=1e-12)
    assert forecast.sigma == pytest.approx(weight * 0.14 + (1 - weight) * forecast.garch, rel=1e-12)
    assert forecast.blend_weight == weight and forecast.implied == 0.14
    assert forecast.realized_ewma == pytest.approx(ewma_vol(closes_of(returns)), rel=1e-12)


def test_forecast_falls_back_to_ewma_on_short_history():
    closes = closes_of(simulate(300)[0])
    forecast = forecast_vol(closes, 0.1, 0.14)
    assert forecast.method == "EWMA" and forecast.garch is None and forecast.garch_fit is None
    assert forecast.history_days == 300 and "300 daily returns, fewer than 500" in forecast.fallback
    assert forecast.sigma == pytest.approx(0.5 * 0.14 + 0.5 * ewma_vol(closes), rel=1e-12)


def test_forecast_falls_back_to_ewma_when_the_fit_fails():
    closes = closes_of(simulate(800)[0])
    forecast = forecast_vol(closes, 0.1, 0.14, ForecastConfig(garch_max_persistence=0.5))
    assert forecast.method == "EWMA" and forecast.garch is None and forecast.history_days == 800
    assert not forecast.garch_fit.ok and forecast.fallback == forecast.garch_fit.failure
    assert forecast.sigma == pytest.approx(0.5 * 0.14 + 0.5 * forecast.realized_ewma, rel=1e-12)


def test_forecast_mean_reverts_after_the_2020_vix_spike():
    """At the real INDIA VIX peak the GARCH view of a month lies between today's conditional vol and the long-run
    vol, and a year's view lies lower still."""
    returns, vol = vix_driven_returns()
    closes = closes_of(returns[: int(np.argmax(vol)) + 1])
    month, year = forecast_vol(closes, 30 / 365, 0.8), forecast_vol(closes, 1.0, 0.8)
    fit = month.garch_fit
    today = math.sqrt(TRADING_DAYS * fit.last_var)
    long_run = math.sqrt(TRADING_DAYS * fit.params.long_run_var)
    assert month.method == "GARCH(1,1)" and long_run < year.garch < month.garch < today


def test_describe_text():
    garch = VolForecast(sigma=0.124, method="GARCH(1,1)", history_days=250, horizon_days=21.0, realized_ewma=0.11,
                        garch=0.107, implied=0.141, blend_weight=0.5)
    assert garch.describe() == "forecast σ 12.4 % vs implied 14.1 % (GARCH(1,1) on 250 days, 50 % implied)"
    ewma = forecast_vol(closes_of(simulate(120)[0]), 0.1, 0.2, ForecastConfig(implied_weight=0.25))
    assert ewma.describe() == (f"forecast σ {ewma.sigma * 100:.1f} % vs implied 20.0 % (EWMA on 120 days, 25 % "
                               "implied; GARCH not fitted: 120 daily returns, fewer than 500)")


# ---------------------------------------------------------------- drift


def test_drift_covers_market_state_directions():
    for direction in get_args(Direction):
        assert view_drift(direction, 1.0) in (0.04, 0.0, -0.04)


@pytest.mark.parametrize("direction,confidence,drift", [
    ("Bullish", 1.0, 0.04), ("Bullish", 0.75, 0.02), ("Bullish", 0.5, 0.0), ("Bullish", 0.2, 0.0),
    ("Bearish", 1.0, -0.04), ("Bearish", 0.9, -0.032), ("Neutral", 1.0, 0.0), ("Neutral", 0.6, 0.0),
])
def test_drift_scales_with_confidence(direction, confidence, drift):
    assert view_drift(direction, confidence) == pytest.approx(drift, abs=1e-15)


def test_drift_errors_and_config():
    assert view_drift("Bullish", 1.0, ForecastConfig(max_drift=0.02)) == 0.02
    with pytest.raises(InputError, match="direction"):
        view_drift("bullish", 1.0)
    with pytest.raises(InputError, match="confidence"):
        view_drift("Bearish", 1.5)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("closes,match", [
    ([100, 101, float("nan"), 102], "NaN or infinite price at row 2"),
    ([100, 0, 101], "non-positive price 0 at row 1"),
    ([100, -5, 101], "non-positive price -5 at row 1"),
    ([100], "1 closes, need at least 2"),
    ([["a", "b"]], "not numeric"),
    (np.ones((3, 2, 2)), "3-D"),
    (pd.Series([100.0, None, 101.0], dtype="Float64"), "NaN"),
])
def test_bad_closes_are_named(closes, match):
    with pytest.raises(InputError, match=match):
        log_returns(closes)


def test_forecast_input_errors():
    closes = closes_of(simulate(100)[0])
    with pytest.raises(InputError, match="closes: 10 daily returns, need at least 20"):
        forecast_vol(closes[:11], 0.1, 0.14)
    with pytest.raises(InputError, match="horizon_years"):
        forecast_vol(closes, 0.0, 0.14)
    with pytest.raises(InputError, match="implied_vol"):
        forecast_vol(closes, 0.1, 14.1)  # percent, not a decimal
    with pytest.raises(InputError, match="1-D"):
        forecast_vol(np.column_stack([closes, closes]), 0.1, 0.14)
    with pytest.raises(InputError, match="ForecastConfig.implied_weight"):
        ForecastConfig(implied_weight=1.2)
    with pytest.raises(InputError, match="ForecastConfig.garch_window"):
        ForecastConfig(garch_window=100)
    with pytest.raises(InputError, match="returns: all zero"):
        garch11_fit(np.zeros(50))
    with pytest.raises(InputError, match="at least 10 returns"):
        garch11_fit(np.ones(5))
    with pytest.raises(InputError, match="lam"):
        ewma_vol(closes, lam=1.0)
