"""The view: a volatility forecast from price history blended with the market's implied vol, and a drift from the
market state's direction.

Units: closes in rupees, oldest first; returns are daily log returns; variances are per trading day (return²);
vols are annualised decimals (0.124 = 12.4 %) over TRADING_DAYS trading days a year; horizons in trading days, or
in years of ACT/365 calendar time (the project's time to expiry) converted as years × TRADING_DAYS.

History: GARCH(1,1) fitted by Gaussian maximum likelihood on the most recent `garch_window` returns gives the
average variance expected over the option's life. When there are fewer than `garch_min_days` returns, or the fit
fails or is (near) non-stationary, RiskMetrics EWMA stands in (flat over the horizon). The view's σ is
`implied_weight` × implied vol + (1 − `implied_weight`) × the history's vol (a blend of vols, not variances).
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.signal import lfilter

from optionsv4_lib.core.errors import InputError

TRADING_DAYS = 252
Method = Literal["GARCH(1,1)", "EWMA"]
DIRECTION_SIGN = {"Bullish": 1, "Neutral": 0, "Bearish": -1}  # market_state.Direction's values


@dataclass(frozen=True)
class ForecastConfig:
    """Weights as decimals (0.5 = 50 %); histories in daily returns; λ per day; drift an annual decimal."""

    implied_weight: float = 0.5  # share of the implied vol in the view's σ
    ewma_lambda: float = 0.94  # RiskMetrics daily decay
    min_history_days: int = 20  # fewest returns for any forecast
    garch_min_days: int = 500  # fewest returns GARCH is fitted on; fewer → EWMA
    garch_window: int = 1000  # GARCH is fitted on at most this many most recent returns
    garch_max_persistence: float = 0.999  # α + β at or above this is treated as non-stationary → EWMA
    max_drift: float = 0.04  # view drift over the forward at full confidence, per year

    def __post_init__(self) -> None:
        checks = {"implied_weight": 0 <= self.implied_weight <= 1, "ewma_lambda": 0 < self.ewma_lambda < 1,
                  "min_history_days": self.min_history_days >= 1,
                  "garch_min_days": self.garch_min_days >= max(self.min_history_days, 10),
                  "garch_window": self.garch_window >= self.garch_min_days,
                  "garch_max_persistence": 0 < self.garch_max_persistence <= 1,
                  "max_drift": 0 <= self.max_drift < 1}
        for name, ok in checks.items():
            if not ok:
                raise InputError(f"ForecastConfig.{name}: {getattr(self, name)!r} is out of range")


@dataclass(frozen=True)
class GarchParams:
    """σ²_t = omega + alpha · r²_(t−1) + beta · σ²_(t−1), on daily returns; omega in return² per day."""

    omega: float
    alpha: float
    beta: float

    @property
    def persistence(self) -> float:
        """α + β: how much of a variance shock is left the next day."""
        return self.alpha + self.beta

    @property
    def long_run_var(self) -> float:
        """ω / (1 − α − β), return² per day; inf when not stationary."""
        return self.omega / (1 - self.persistence) if self.persistence < 1 else float("inf")


@dataclass(frozen=True)
class GarchFit:
    """A GARCH(1,1) fit; `failure` says why not to use it (None when converged and stationary)."""

    params: GarchParams
    loglik: float  # Gaussian log-likelihood of the returns (natural log)
    n_obs: int  # returns fitted
    last_var: float  # conditional variance of the day after the last return, return² per day
    failure: str | None

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class VolForecast:
    """The view's σ and what it came from; vols annualised decimals, horizon in trading days."""

    sigma: float
    method: Method  # the history's model used
    history_days: int  # returns that model used
    horizon_days: float
    realized_ewma: float
    garch: float | None  # GARCH average vol over the horizon; None when EWMA was used
    implied: float
    blend_weight: float  # share of `implied` in `sigma`
    fallback: str | None = None  # why GARCH was not used
    garch_fit: GarchFit | None = None  # the fit, also when it failed; None when not attempted

    def describe(self) -> str:
        """E.g. "forecast σ 12.4 % vs implied 14.1 % (GARCH(1,1) on 250 days, 50 % implied)"."""
        why = f"; {self.fallback}" if self.fallback else ""
        return (f"forecast σ {self.sigma * 100:.1f} % vs implied {self.implied * 100:.1f} % ({self.method} on "
                f"{self.history_days} days, {self.blend_weight * 100:.0f} % implied{why})")


def log_returns(closes: ArrayLike, what: str = "closes") -> np.ndarray:
    """Daily log returns of closes (days,) or (days, symbols), oldest first; InputError names a NaN, a price ≤ 0 or
    fewer than two closes."""
    if isinstance(closes, (pd.Series, pd.DataFrame)):
        closes = closes.to_numpy(dtype=float, na_value=np.nan)
    try:
        prices = np.asarray(closes, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: not numeric ({exc})") from None
    if prices.ndim not in (1, 2):
        raise InputError(f"{what}: need a 1-D (days) or 2-D (days × symbols) array, got {prices.ndim}-D")
    if prices.shape[0] < 2:
        raise InputError(f"{what}: {prices.shape[0]} closes, need at least 2")
    bad = ~np.isfinite(prices)
    if bad.any():
        raise InputError(f"{what}: NaN or infinite price at row {np.argwhere(bad)[0][0]}")
    bad = prices <= 0
    if bad.any():
        row = np.argwhere(bad)[0]
        raise InputError(f"{what}: non-positive price {float(prices[tuple(row)]):g} at row {row[0]}")
    return np.diff(np.log(prices), axis=0)


def ewma_vol(closes: ArrayLike, lam: float = 0.94) -> float | np.ndarray:
    """RiskMetrics EWMA vol of closes (days,) → float or (days, symbols) → (symbols,), annualised.

    Next-day variance = Σ λ^(n−i) r_i² / Σ λ^(n−i) over the n zero-mean log returns (i = n the latest), i.e.
    σ²_(t+1) = λ σ²_t + (1 − λ) r²_t with weights normalised over the finite history (no seed value).
    """
    if not 0 < lam < 1:
        raise InputError(f"lam: must lie in (0, 1), got {lam!r}")
    var = _ewma_var(log_returns(closes), lam)
    vol = np.sqrt(TRADING_DAYS * var)
    return float(vol) if vol.ndim == 0 else vol


def garch11_fit(returns: ArrayLike, max_persistence: float = 0.999) -> GarchFit:
    """GARCH(1,1) on zero-mean daily returns by Gaussian maximum likelihood (SLSQP; ω > 0, α, β ≥ 0, α + β < 1).

    σ²_1 is the mean of r² (the sample variance about zero). The fit runs on returns scaled to unit mean square and
    is reported in the returns' units. `failure` is set when the optimizer does not converge or α + β ≥
    `max_persistence`.
    """
    r = np.asarray(returns, dtype=float)
    if r.ndim != 1 or r.size < 10:
        raise InputError(f"returns: need a 1-D series of at least 10 returns, got shape {r.shape}")
    if not np.isfinite(r).all():
        raise InputError(f"returns: NaN or infinite value at {np.argwhere(~np.isfinite(r))[0][0]}")
    scale = float(np.mean(r**2))
    if scale == 0:
        raise InputError("returns: all zero, no variance to model")
    z2 = r**2 / scale

    def nll(theta: np.ndarray) -> float:
        var = _garch_path(theta, z2)[:-1]
        if not (np.isfinite(var).all() and (var > 0).all()):
            return 1e12
        return 0.5 * float(np.sum(np.log(var) + z2 / var))

    grid = [(a, b) for a in (0.02, 0.05, 0.1, 0.2) for b in (0.5, 0.7, 0.8, 0.9, 0.95) if a + b < 0.99]
    starts = [np.array([1 - a - b, a, b]) for a, b in grid]
    start = min(starts, key=nll)
    bound = 1 - 1e-6
    result = minimize(nll, start, method="SLSQP", bounds=[(1e-10, 10.0), (0.0, 1.0), (0.0, 1.0)],
                      constraints=[{"type": "ineq", "fun": lambda t: bound - t[1] - t[2]}],
                      options={"ftol": 1e-10, "maxiter": 500})
    omega, alpha, beta = (float(x) for x in result.x)
    params = GarchParams(omega * scale, alpha, beta)
    loglik = -float(result.fun) - 0.5 * r.size * (np.log(2 * np.pi) + np.log(scale))
    failure = None
    if not result.success:
        failure = f"GARCH(1,1) fit did not converge: {result.message}"
    elif params.persistence >= max_persistence:
        failure = f"GARCH(1,1) fit is non-stationary: α + β = {params.persistence:.4f} ≥ {max_persistence:g}"
    last_var = float(_garch_path(result.x, z2)[-1]) * scale
    return GarchFit(params, loglik, int(r.size), last_var, failure)


def garch_term_vol(params: GarchParams, last_var: float, horizon_days: ArrayLike) -> float | np.ndarray:
    """Annualised vol of the average expected variance over the next `horizon_days` trading days.

    With φ = α + β and V = the long-run variance, E[σ²_(k)] = V + φ^(k−1) (last_var − V) for the k-th day ahead
    (k = 1: `last_var`), averaged over k = 1…H: V + (last_var − V)(1 − φ^H) / (H (1 − φ)). Horizons under one day
    take the one-day variance.
    """
    if not params.persistence < 1:
        raise InputError(f"params: α + β = {params.persistence!r} is not < 1, no long-run variance")
    if not (np.isfinite(last_var) and last_var > 0):
        raise InputError(f"last_var: must be a finite variance > 0, got {last_var!r}")
    days = np.asarray(horizon_days, dtype=float)
    if not (np.isfinite(days).all() and (days > 0).all()):
        raise InputError("horizon_days: must be finite and > 0")
    h, phi, long_run = np.maximum(days, 1.0), params.persistence, params.long_run_var
    var = long_run + (last_var - long_run) * (1 - phi**h) / (h * (1 - phi))
    vol = np.sqrt(TRADING_DAYS * var)
    return float(vol) if vol.ndim == 0 else vol


def forecast_vol(closes: ArrayLike, horizon_years: float, implied_vol: float,
                 config: ForecastConfig = ForecastConfig()) -> VolForecast:
    """The view's σ for an option `horizon_years` (ACT/365) away, from one symbol's daily closes (oldest first,
    e.g. schema.CANDLES' close sorted by date) and its implied vol (annualised decimal)."""
    cfg = config
    if not (np.isfinite(horizon_years) and horizon_years > 0):
        raise InputError(f"horizon_years: must be a finite number > 0, got {horizon_years!r}")
    if not (np.isfinite(implied_vol) and 0 < implied_vol <= 5):
        raise InputError(f"implied_vol: must be an annualised decimal in (0, 5] (0.14 = 14 %), got {implied_vol!r}")
    returns = log_returns(closes)
    if returns.ndim != 1:
        raise InputError("closes: need one symbol's closes (1-D)")
    n = returns.size
    if n < cfg.min_history_days:
        raise InputError(f"closes: {n} daily returns, need at least {cfg.min_history_days} for a forecast")
    horizon_days = horizon_years * TRADING_DAYS
    realized = float(np.sqrt(TRADING_DAYS * _ewma_var(returns, cfg.ewma_lambda)))

    fit, garch, fallback = None, None, None
    if n < cfg.garch_min_days:
        fallback = f"GARCH not fitted: {n} daily returns, fewer than {cfg.garch_min_days}"
    else:
        fit = garch11_fit(returns[-cfg.garch_window:], cfg.garch_max_persistence)
        if fit.ok:
            garch = garch_term_vol(fit.params, fit.last_var, horizon_days)
        else:
            fallback = fit.failure
    history = realized if garch is None else garch
    w = cfg.implied_weight
    return VolForecast(sigma=w * implied_vol + (1 - w) * history, method="EWMA" if garch is None else "GARCH(1,1)",
                       history_days=n if garch is None else fit.n_obs, horizon_days=horizon_days,
                       realized_ewma=realized, garch=garch, implied=float(implied_vol), blend_weight=w,
                       fallback=fallback, garch_fit=fit)


def view_drift(direction: str, confidence: float, config: ForecastConfig = ForecastConfig()) -> float:
    """The view's annual drift over the forward (decimal, continuous) from market_state's direction and confidence:
    ±`max_drift` × (2 · confidence − 1) for Bullish / Bearish, floored at 0; 0 for Neutral.

    market_state's confidence is 0.5 on the direction boundary, so the drift starts at 0 there and reaches
    ±`max_drift` at confidence 1.
    """
    if direction not in DIRECTION_SIGN:
        raise InputError(f"direction: {direction!r} is not one of {', '.join(DIRECTION_SIGN)}")
    if not (np.isfinite(confidence) and 0 <= confidence <= 1):
        raise InputError(f"confidence: must lie in [0, 1], got {confidence!r}")
    return DIRECTION_SIGN[direction] * config.max_drift * max(2 * confidence - 1, 0.0)


# ---------------------------------------------------------------- helpers


def _ewma_var(returns: np.ndarray, lam: float) -> np.ndarray:
    """Next-day EWMA variance (return² per day) along axis 0, weights λ^(n−i) normalised."""
    weights = lam ** np.arange(returns.shape[0] - 1, -1, -1, dtype=float)
    return weights @ returns**2 / weights.sum()


def _garch_path(theta: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """σ²_1 … σ²_(n+1) of GARCH(1,1) θ = (ω, α, β) on squared returns z2 (n,), from σ²_1 = mean(z2)."""
    omega, alpha, beta = theta
    start = np.mean(z2)
    rest = lfilter([1.0], [1.0, -beta], omega + alpha * z2, zi=[beta * start])[0]
    return np.concatenate(([start], rest))
