"""Vectorized European option pricing: Black–Scholes–Merton on spot, Black-76 on a forward, greeks, implied vol.

Conventions, the same for every function here:
- Inputs broadcast together by numpy rules (scalars or arrays); no Python loop runs over options.
  All-scalar inputs return a Python float (or a Greeks of floats); any array input returns ndarrays.
- option_type: "CE"/"PE" ("call"/"put", "c"/"p" in any case also accepted), or a boolean array, True = call.
- Units: S (spot), F (forward), K (strike) and prices in ₹. T in years, ACT/365, computed by the caller
  (optionsv4_lib.reference.calendar). r (risk-free rate) and q (dividend yield), continuously compounded, and sigma
  (annual volatility) are decimals: 0.07 is 7 %, 0.2 is 20 %.
- Greeks: delta per ₹1 of the underlying (S, or F for Black-76); gamma per ₹1²; vega per vol point (σ + 0.01);
  theta per calendar day (∂V/∂t per year / 365, usually negative for a long option); rho per 1 % rate
  (r + 0.01; Black-76 holds F fixed, so its rho is −T·V/100).
- Edges: T == 0 → intrinsic value; delta is the step ±1 in the money, 0 out of it and ±0.5 exactly at the money;
  the other greeks are 0. sigma == 0 with T > 0 → the discounted intrinsic value of the forward, greeks their
  σ → 0 limits except gamma, which is 0.
- Bad input raises InputError naming the field: S, F, K ≤ 0; T < 0; sigma < 0; price < 0; NaN or inf in any
  input; an unknown option type; empty input; shapes that do not broadcast.
- implied_vol returns NaN where no vol exists, and implied_vol_diagnostics says why (IV_REASONS). Round trips
  are exact to 1e-8 in sigma wherever vega per unit σ (∂V/∂σ) ≥ 1e-7·S; elsewhere as exact as the price's
  rounding allows.
"""

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erfcinv, erfinv, ndtr

from optionsv4_lib.core.domain import call_mask
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.reference.calendar import DAYS_PER_YEAR

VOL_POINT = 0.01  # vega is quoted per 0.01 of sigma
RATE_POINT = 0.01  # rho is quoted per 0.01 of r

IV_REASONS = ("ok", "at_intrinsic", "below_intrinsic", "above_upper_bound", "expired", "no_convergence")
"""Reasons from implied_vol_diagnostics:
ok: vol found. at_intrinsic: price == the discounted intrinsic value of the forward (or up to 8 ulps of
max(S·e^{-qT}, K·e^{-rT}) below it, its rounding), vol 0. below_intrinsic: price below that, NaN.
above_upper_bound: price ≥ S·e^{-qT} (call) or K·e^{-rT} (put), NaN. expired: T == 0, NaN.
no_convergence: the solver gave up, NaN (not seen in testing)."""
_OK, _AT_INTRINSIC, _BELOW_INTRINSIC, _ABOVE_UPPER_BOUND, _EXPIRED, _NO_CONVERGENCE = range(len(IV_REASONS))

_POSITIVE_FIELDS = {"S", "F", "K"}
_NON_NEGATIVE_FIELDS = {"T", "sigma", "price"}
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_EPS = np.finfo(float).eps
_TINY = np.finfo(float).tiny
_SMALLEST = np.finfo(float).smallest_subnormal

_INTRINSIC_ULPS = 8  # a price this close below the intrinsic value is taken as equal to it
_MAX_ITERATIONS = 100
_NEWTON_ITERATIONS = 20  # then bisection only: rounding noise near the root can stall Newton
_TOLERANCE = 1e-12  # relative change of σ√T at which the solver stops
_SEARCH_WIDTH = 40.0  # σ√T ≤ √(2|x|) + 40 covers every price below the bound that a float can tell from it


FloatOrArray = float | np.ndarray


class Greeks(NamedTuple):
    """Sensitivities of one option value, in the units of the module docstring."""

    delta: FloatOrArray
    gamma: FloatOrArray
    vega: FloatOrArray
    theta: FloatOrArray
    rho: FloatOrArray


# ---------------------------------------------------------------- Black–Scholes–Merton on spot


def bs_price(
    option_type: ArrayLike, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike, q: ArrayLike = 0.0
) -> FloatOrArray:
    """Black–Scholes–Merton value in ₹ of a European option on spot S with continuous dividend yield q."""
    is_call, (S, K, T, r, sigma, q), scalar = _prepare(option_type, S=S, K=K, T=T, r=r, sigma=sigma, q=q)
    phi, d1, d2 = _phi_d1_d2(is_call, np.log(S / K) + (r - q) * T, sigma * np.sqrt(T))
    price = phi * (S * np.exp(-q * T) * ndtr(phi * d1) - K * np.exp(-r * T) * ndtr(phi * d2))
    return _result(price, scalar)


def bs_greeks(
    option_type: ArrayLike, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike, q: ArrayLike = 0.0
) -> Greeks:
    """Black–Scholes–Merton delta, gamma, vega, theta, rho (units in the module docstring)."""
    is_call, (S, K, T, r, sigma, q), scalar = _prepare(option_type, S=S, K=K, T=T, r=r, sigma=sigma, q=q)
    sqrt_T, dividend_discount = np.sqrt(T), np.exp(-q * T)
    phi, d1, d2 = _phi_d1_d2(is_call, np.log(S / K) + (r - q) * T, sigma * sqrt_T)
    spot_pv, strike_pv = S * dividend_discount, K * np.exp(-r * T)  # S·e^{-qT}, K·e^{-rT}
    density, cdf1, cdf2 = _pdf(d1), ndtr(phi * d1), ndtr(phi * d2)  # n(d1), N(φ·d1), N(φ·d2)
    delta = phi * dividend_discount * cdf1
    gamma = _divide_or_zero(dividend_discount * density, S * sigma * sqrt_T)
    vega = spot_pv * density * sqrt_T
    decay = _divide_or_zero(spot_pv * density * sigma, 2.0 * sqrt_T)  # S·e^{-qT}·n(d1)·σ / (2√T)
    theta = -decay - phi * (r * strike_pv * cdf2 - q * spot_pv * cdf1)
    rho = phi * strike_pv * T * cdf2
    return _greeks(delta, gamma, vega, theta, rho, T, scalar)


# ---------------------------------------------------------------- Black-76 on a forward


def black76_price(
    option_type: ArrayLike, F: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike
) -> FloatOrArray:
    """Black-76 value in ₹ of a European option on forward F, discounted at r."""
    is_call, (F, K, T, r, sigma), scalar = _prepare(option_type, F=F, K=K, T=T, r=r, sigma=sigma)
    phi, d1, d2 = _phi_d1_d2(is_call, np.log(F / K), sigma * np.sqrt(T))
    price = np.exp(-r * T) * phi * (F * ndtr(phi * d1) - K * ndtr(phi * d2))
    return _result(price, scalar)


def black76_greeks(
    option_type: ArrayLike, F: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, sigma: ArrayLike
) -> Greeks:
    """Black-76 delta and gamma with respect to F, vega, theta, and rho with F held fixed (units as above)."""
    is_call, (F, K, T, r, sigma), scalar = _prepare(option_type, F=F, K=K, T=T, r=r, sigma=sigma)
    sqrt_T, discount = np.sqrt(T), np.exp(-r * T)
    phi, d1, d2 = _phi_d1_d2(is_call, np.log(F / K), sigma * sqrt_T)
    density, cdf1 = _pdf(d1), ndtr(phi * d1)  # n(d1), N(φ·d1)
    price = discount * phi * (F * cdf1 - K * ndtr(phi * d2))
    delta = phi * discount * cdf1
    gamma = _divide_or_zero(discount * density, F * sigma * sqrt_T)
    vega = discount * F * density * sqrt_T
    theta = r * price - _divide_or_zero(discount * F * density * sigma, 2.0 * sqrt_T)
    rho = -T * price
    return _greeks(delta, gamma, vega, theta, rho, T, scalar)


# ---------------------------------------------------------------- implied volatility


def implied_vol(
    price: ArrayLike, option_type: ArrayLike, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike = 0.0
) -> FloatOrArray:
    """Black–Scholes–Merton implied vol (decimal) of a European option price in ₹; NaN where none exists."""
    return implied_vol_diagnostics(price, option_type, S, K, T, r, q)[0]


def implied_vol_diagnostics(
    price: ArrayLike, option_type: ArrayLike, S: ArrayLike, K: ArrayLike, T: ArrayLike, r: ArrayLike, q: ArrayLike = 0.0
) -> tuple[FloatOrArray, str | np.ndarray]:
    """(vols, reasons): implied vols as in implied_vol, and one reason from IV_REASONS per element.

    Method: put–call parity turns every price into the price of the out-of-the-money option, normalised as
    β = OTM price / (e^{-rT}·√(F·K)). With x = −|ln(F/K)| ≤ 0 and s = σ√T, β = b(x, s) = e^{x/2}·N(x/s + s/2)
    − e^{−x/2}·N(x/s − s/2), which rises with s from 0 to e^{x/2}. Newton's method in s solves ln b(s) = ln β
    where β ≤ e^{x/2}/2, and ln(e^{x/2} − b(s)) = ln(e^{x/2} − β) above that, each computed without
    cancellation. It keeps a bracket and bisects wherever Newton would leave it; after 20 steps it only bisects,
    so it always ends. It stops when σ√T changes by less than 1e-12 relative, so the vol is as exact as the
    price's rounding allows: error ≲ 3·ε·S / (∂V/∂σ) (measured), below 1e-8 wherever ∂V/∂σ ≥ 1e-7·S.
    """
    is_call, (price, S, K, T, r, q), scalar = _prepare(option_type, price=price, S=S, K=K, T=T, r=r, q=q)
    spot_pv, strike_pv = S * np.exp(-q * T), K * np.exp(-r * T)  # S·e^{-qT}, K·e^{-rT}
    intrinsic = np.where(is_call, np.maximum(spot_pv - strike_pv, 0.0), np.maximum(strike_pv - spot_pv, 0.0))
    upper_bound = np.where(is_call, spot_pv, strike_pv)
    scale = np.sqrt(spot_pv * strike_pv)  # e^{-rT}·√(F·K)
    time_value = price - intrinsic  # = the OTM option's price, by put–call parity
    rounding = _INTRINSIC_ULPS * _EPS * np.maximum(spot_pv, strike_pv)  # of intrinsic, computed as a difference
    beta = time_value / scale
    gap = (upper_bound - price) / scale  # e^{x/2} − β, without cancellation

    reason = np.select(
        [T == 0, time_value < -rounding, gap <= 0, beta <= 0],
        [_EXPIRED, _BELOW_INTRINSIC, _ABOVE_UPPER_BOUND, _AT_INTRINSIC],
        _OK,
    )
    vol = np.where(reason == _AT_INTRINSIC, 0.0, np.nan)
    solve = reason == _OK
    x = -np.abs(np.log(S[solve] / K[solve]) + (r[solve] - q[solve]) * T[solve])
    s, converged = _solve_total_vol(x, beta[solve], gap[solve])
    vol[solve] = s / np.sqrt(T[solve])
    reason[np.flatnonzero(solve)[~converged]] = _NO_CONVERGENCE

    reasons = np.asarray(IV_REASONS)[reason]
    return (float(vol[0]), str(reasons[0])) if scalar else (vol, reasons)


def _solve_total_vol(x, beta, gap):
    """s = σ√T with b(x, s) = β, for x ≤ 0, β > 0 and gap = e^{x/2} − β > 0; and where the solver converged."""
    use_gap = beta > 0.5 * np.exp(0.5 * x)  # near the bound, solve for the gap to it
    target = np.where(use_gap, np.log(gap), np.log(beta))
    lo, hi = np.zeros_like(x), np.sqrt(-2.0 * x) + _SEARCH_WIDTH  # b turns from convex to concave at √(2|x|)
    # Start at or left of the root: b(x, s) ≤ b(0, s) = erf(s/√8), and b(x, s) < e^{−x²/2s²}.
    at_the_money = np.sqrt(8.0) * np.where(use_gap, erfcinv(gap), erfinv(beta))
    lower_bound = np.abs(x) / np.sqrt(-2.0 * np.log(np.minimum(beta, 0.5)))  # β ≤ 0.5 keeps ln β away from 0
    s = np.minimum(np.maximum(at_the_money, lower_bound), hi)

    in_range = _objective(x, hi, use_gap, target)[0] > 0
    done = ~in_range
    for iteration in range(_MAX_ITERATIONS):
        i = np.flatnonzero(~done)
        if i.size == 0:
            break
        residual, slope = _objective(x[i], s[i], use_gap[i], target[i])
        lo[i] = np.where(residual < 0, s[i], lo[i])
        hi[i] = np.where(residual > 0, s[i], hi[i])
        newton = s[i] - np.divide(residual, slope, out=np.full_like(residual, np.inf), where=slope > 0)
        use_newton = (newton >= lo[i]) & (newton <= hi[i]) & (iteration < _NEWTON_ITERATIONS)
        s_next = np.where(use_newton, newton, 0.5 * (lo[i] + hi[i]))
        done[i] = (np.abs(s_next - s[i]) <= _TOLERANCE * s_next) | (residual == 0)
        s[i] = s_next
    converged = done & in_range
    return np.where(converged, s, np.nan), converged


def _objective(x, s, use_gap, target):
    """Residual and its slope in s of ln b(x, s) − ln β, or ln(e^{x/2} − β) − ln(e^{x/2} − b(x, s))."""
    d1, d2 = x / s + 0.5 * s, x / s - 0.5 * s
    b = np.exp(0.5 * x) * ndtr(d1) - np.exp(-0.5 * x) * ndtr(d2)
    gap = np.exp(0.5 * x) * ndtr(-d1) + np.exp(-0.5 * x) * ndtr(d2)
    db_ds = np.exp(-0.5 * (x / s) ** 2 - 0.125 * s**2) / _SQRT_2PI
    value = np.where(use_gap, gap, b)
    sign = np.where(use_gap, -1.0, 1.0)  # ln b rises with s, ln(e^{x/2} − b) falls
    residual = sign * (np.log(np.maximum(value, _SMALLEST)) - target)
    slope = np.divide(db_ds, value, out=np.zeros_like(value), where=value >= _TINY)  # 0 → bisect where b underflows
    return residual, slope


# ---------------------------------------------------------------- helpers


def _phi_d1_d2(is_call, log_moneyness, stddev):
    """φ (+1 call, −1 put) and Black's d1, d2 for ln(F/K) and σ√T; where σ√T == 0, their limits ±inf, 0 at the money."""
    has_vol = stddev > 0
    safe_stddev = np.where(has_vol, stddev, 1.0)
    limit = np.select([log_moneyness > 0, log_moneyness < 0], [np.inf, -np.inf], 0.0)
    with np.errstate(over="ignore"):  # d1 → ±inf is the right limit as σ√T → 0
        d1 = np.where(has_vol, log_moneyness / safe_stddev + 0.5 * safe_stddev, limit)
    return np.where(is_call, 1.0, -1.0), d1, d1 - stddev


def _pdf(d):
    """Standard normal density; |d| is capped at 40 (density 0 in float64 already) so that d² cannot overflow."""
    d = np.clip(d, -40.0, 40.0)
    return np.exp(-0.5 * d * d) / _SQRT_2PI


def _divide_or_zero(numerator, denominator):
    """numerator / denominator, 0 where the denominator is 0 (inf, the limit, where a subnormal one overflows)."""
    with np.errstate(over="ignore"):
        return np.divide(numerator, denominator, out=np.zeros(np.shape(numerator)), where=denominator != 0)


def _greeks(delta, gamma, vega, theta_per_year, rho, T, scalar) -> Greeks:
    """Greeks in quoted units: vega per vol point, theta per day (0 at expiry), rho per 1 % rate."""
    theta = np.where(T > 0, theta_per_year / DAYS_PER_YEAR, 0.0)
    values = (delta, gamma, vega * VOL_POINT, theta, rho * RATE_POINT)
    return Greeks(*(_result(value, scalar) for value in values))


def _result(value, scalar):
    """A Python float for all-scalar inputs, else the array."""
    return float(value[0]) if scalar else value


def _prepare(option_type, **fields) -> tuple[np.ndarray, list[np.ndarray], bool]:
    """Validated inputs broadcast together, at least 1-d: (is_call, arrays in the order given, all scalars?)."""
    arrays = [_validated(name, value) for name, value in fields.items()]
    is_call = call_mask(option_type)
    scalar = is_call.ndim == 0 and all(array.ndim == 0 for array in arrays)
    inputs = {"option_type": option_type, **fields}
    try:
        is_call, *arrays = np.broadcast_arrays(np.atleast_1d(is_call), *arrays)
    except ValueError:
        shapes = ", ".join(f"{name} {np.shape(value)}" for name, value in inputs.items())
        raise InputError(f"inputs do not broadcast together: {shapes}") from None
    if is_call.size == 0:
        empty = [name for name, value in inputs.items() if np.size(value) == 0]
        raise InputError(f"{', '.join(empty)}: empty input")
    return is_call, arrays, scalar


def _validated(name, value) -> np.ndarray:
    """value as a float array, or InputError naming the field."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected numbers, got {value!r}") from None
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name}: must be finite, got NaN or inf")
    if name in _POSITIVE_FIELDS and np.any(array <= 0):
        raise InputError(f"{name}: must be > 0, got {array.min()}")
    if name in _NON_NEGATIVE_FIELDS and np.any(array < 0):
        raise InputError(f"{name}: must be ≥ 0, got {array.min()}")
    return array
