"""Per-expiry volatility smiles: our implied vols from quotes, an arbitrage-free SVI fit, calendar checks.

Conventions (as optionsv4_lib.pricing.black_scholes): strikes, forwards and prices in ₹; `years` to expiry ACT/365; `rate`
continuously compounded decimal; vols decimal (0.14 = 14 %); k = ln(K/F) is log forward moneyness; total implied
variance w = σ²·T (decimal² × years).

Every price ↔ vol conversion here is Black-76 on the forward F, computed as Black–Scholes–Merton with spot
F·e^{-rT} and q = 0 (identical), so our IVs, the fitted smile and its prices use one convention.

The fit: SVI raw, w(k) = a + b·(ρ(k−m) + √((k−m)² + σ²)), on out-of-the-money two-sided quotes (calls at K ≥ F, puts
below). Each quote's residual is (w_model − w_mid) / h, where h is the quote's half-spread in total variance
(floored at a quarter of the median half-spread so that one tight quote cannot dominate); a residual inside ±1 is
about inside the quote. Since the price is monotone in w, a model w within [w_bid, w_ask] is a model price within
[bid, ask]; a hinge term penalises leaving that band. Constraints: b ≥ 0, |ρ| < 1, σ > 0, min w = a + bσ√(1−ρ²) ≥ 0,
Lee's wing bound b(1+|ρ|) ≤ 2, and Gatheral–Jacquier's g(k) ≥ 0 (no butterfly arbitrage): penalised on a coarse
grid with a margin, then verified on a dense one (butterfly_grid) that covers the quotes and k ∈ [−3, 3].
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import least_squares

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.pricing.black_scholes import bs_price, implied_vol_diagnostics

MIN_QUOTES = 5  # fewer usable quotes than this → a flat smile
PARITY_STRIKES = 5  # put–call parity forwards from this many strikes nearest the money; their median is F
PARITY_TOLERANCE = 0.10  # a parity forward further than this (relative) from spot·e^{rT} is not believed
PRICE_TOLERANCE = 1e-6  # ₹: a model price this close outside the quote counts as inside
_LEE_BOUND = 2.0  # b(1+|ρ|) ≤ 2: the wings of w grow at most like 2|k| (Lee's moment formula)
_RHO_MAX = 0.999
_SIGMA_MIN = 1e-4
_PENALTY = 1e4  # weight of constraint-violation residuals against fit residuals of order 1 (half-spreads)
_BAND_WEIGHT = 3.0  # extra weight of the part of a residual outside [w_bid, w_ask]
_G_MARGIN = 1e-4  # the penalty asks g ≥ this on its grid, so that g ≥ 0 survives the solver and holds between points
_OUTSIDE = "; model outside the quote: "  # starts the note's sentence on fitted quotes the model leaves outside
_G_BLEND_MARGIN = 1e-6  # blending toward flat stops at g ≥ this on the dense grid, so g stays ≥ 0 between its points
_MAX_NFEV = 200  # evaluations per polish: bounds the time of a fit that converges slowly
_REFINEMENTS = 2  # polishes with the penalty grid refined where g fails on the dense grid
_SEARCH_M, _SEARCH_SIGMA = 15, 12  # global search grid of (m, σ)
_POLISH_STARTS = 3


class SVIParams(NamedTuple):
    """SVI raw parameters of total variance w(k) (decimal² × years): level a, slope b, skew ρ, shift m, curvature σ."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float


def svi_total_variance(params: SVIParams, k: ArrayLike) -> np.ndarray:
    """w(k) = a + b(ρ(k−m) + √((k−m)² + σ²)) at log forward moneyness k."""
    a, b, rho, m, sigma = params
    x = np.asarray(k, dtype=float) - m
    return a + b * (rho * x + np.sqrt(x * x + sigma * sigma))


def svi_derivatives(params: SVIParams, k: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(w, ∂w/∂k, ∂²w/∂k²) of SVI at log forward moneyness k."""
    _a, b, rho, m, sigma = params
    x = np.asarray(k, dtype=float) - m
    root = np.sqrt(x * x + sigma * sigma)
    return svi_total_variance(params, k), b * (rho + x / root), b * sigma * sigma / root**3


@dataclass(frozen=True)
class SmileCurve:
    """What a valuation needs of one expiry's smile: forward (₹), years (ACT/365), rate (cont. comp.), the SVI
    parameters and how they were obtained ('svi' or 'flat'). A fitted Smile gives its curve; a curve travels
    between tasks as a plain dict (to_dict / from_dict)."""

    forward: float
    years: float
    rate: float
    params: SVIParams
    method: str

    def total_variance(self, k: ArrayLike) -> np.ndarray:
        """w(k), decimal² × years, at k = ln(K/F)."""
        return svi_total_variance(self.params, k)

    def total_variance_derivatives(self, k: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(w, w', w'') at k, in closed form."""
        return svi_derivatives(self.params, k)

    def iv(self, strikes: ArrayLike) -> np.ndarray:
        """Model implied vol (decimal) at strikes (₹)."""
        k = np.log(np.asarray(strikes, dtype=float) / self.forward)
        return np.sqrt(np.maximum(self.total_variance(k), 0.0) / self.years)

    @property
    def atm_vol(self) -> float:
        """Implied vol (decimal) at the forward."""
        return float(np.sqrt(max(float(self.total_variance(0.0)), 0.0) / self.years))

    def to_dict(self) -> dict:
        return {"forward": self.forward, "years": self.years, "rate": self.rate, "method": self.method,
                **self.params._asdict()}

    @staticmethod
    def from_dict(raw: dict) -> "SmileCurve":
        return SmileCurve(float(raw["forward"]), float(raw["years"]), float(raw["rate"]),
                          SVIParams(*(float(raw[name]) for name in SVIParams._fields)), str(raw["method"]))


def _svi_gradient(params, k: np.ndarray) -> np.ndarray:
    """∂w/∂(a, b, ρ, m, σ) at each k, shape (len(k), 5)."""
    _a, b, rho, m, sigma = params
    x = k - m
    root = np.sqrt(x * x + sigma * sigma)
    return np.stack([np.ones_like(x), rho * x + root, b * x, -b * (rho + x / root), b * sigma / root], axis=1)


def svi_g(params: SVIParams, k: ArrayLike) -> np.ndarray:
    """Gatheral–Jacquier g(k) = (1 − k·w'/2w)² − (w'²/4)(1/w + 1/4) + w''/2; the density is ≥ 0 iff g ≥ 0.

    −1 where w(k) ≤ 0 (no density there).
    """
    a, b, rho, m, sigma = params
    k = np.asarray(k, dtype=float)
    x = k - m
    root = np.sqrt(x * x + sigma * sigma)
    w = a + b * (rho * x + root)
    w1 = b * (rho + x / root)
    w2 = b * sigma * sigma / root**3
    safe_w = np.where(w > 0, w, 1.0)
    g = (1.0 - k * w1 / (2.0 * safe_w)) ** 2 - 0.25 * w1 * w1 * (1.0 / safe_w + 0.25) + 0.5 * w2
    return np.where(w > 0, g, -1.0)


def butterfly_grid(k_quoted: ArrayLike) -> np.ndarray:
    """Dense k grid on which g(k) ≥ 0 is verified: 2001 points over the quotes ± half their span (at least ±0.02),
    and every 0.002 over [−3, 3]."""
    lo, hi, pad = _quoted_range(k_quoted)
    return np.union1d(np.linspace(lo - pad, hi + pad, 2001), np.linspace(-3.0, 3.0, 3001))


def _penalty_grid(k_quoted: ArrayLike) -> np.ndarray:
    """Coarser k grid on which the optimiser penalises g < _G_MARGIN: 201 points over the quotes ± pad, 121 on
    [−3, 3]."""
    lo, hi, pad = _quoted_range(k_quoted)
    return np.union1d(np.linspace(lo - pad, hi + pad, 201), np.linspace(-3.0, 3.0, 121))


def _quoted_range(k_quoted: ArrayLike) -> tuple[float, float, float]:
    """(min k, max k, pad = max(half the span, 0.02))."""
    k_quoted = np.asarray(k_quoted, dtype=float)
    lo, hi = float(k_quoted.min()), float(k_quoted.max())
    return lo, hi, max(0.5 * (hi - lo), 0.02)


# ---------------------------------------------------------------- forward and quote IVs


@dataclass(frozen=True)
class Forward:
    """The forward F (₹) of one expiry, where it came from ('parity' or 'spot_carry'), and the strikes used."""

    value: float
    source: str
    strikes: tuple[float, ...]
    note: str


def implied_forward(
    strikes: ArrayLike, call_mid: ArrayLike, put_mid: ArrayLike, years: float, rate: float, spot: float
) -> Forward:
    """Forward from put–call parity, F = K + e^{rT}(C − P), median over the PARITY_STRIKES strikes with both mids.

    Strikes are taken nearest the money by |C − P|. call_mid/put_mid are ₹ mids aligned with strikes, NaN where the
    quote is not two-sided. Falls back to spot·e^{rT} (source 'spot_carry') when no strike has both mids, or when the
    parity forward is more than PARITY_TOLERANCE away from it (the note says which and why).
    """
    _check_positive(years=years, spot=spot)
    strikes, call_mid, put_mid = (np.asarray(v, dtype=float) for v in (strikes, call_mid, put_mid))
    if not strikes.shape == call_mid.shape == put_mid.shape:
        shapes = f"{strikes.shape}, {call_mid.shape}, {put_mid.shape}"
        raise InputError(f"strikes, call_mid, put_mid: shapes differ {shapes}")
    carry = spot * np.exp(rate * years)
    both = np.isfinite(call_mid) & np.isfinite(put_mid)
    if not both.any():
        return Forward(carry, "spot_carry", (), "no strike has two-sided call and put quotes: F = spot·e^{rT}")
    difference = (call_mid - put_mid)[both]
    nearest = np.argsort(np.abs(difference), kind="stable")[:PARITY_STRIKES]
    used = strikes[both][nearest]
    parity = float(np.median(used + np.exp(rate * years) * difference[nearest]))
    if abs(parity / carry - 1.0) > PARITY_TOLERANCE:
        return Forward(carry, "spot_carry", (), f"parity forward ₹{parity:,.2f} is more than "
                       f"{PARITY_TOLERANCE:.0%} from spot·e^{{rT}} ₹{carry:,.2f}: F = spot·e^{{rT}}")
    used_text = ", ".join(f"{k:g}" for k in np.sort(used))
    return Forward(parity, "parity", tuple(np.sort(used).tolist()),
                   f"F ₹{parity:,.2f} from put–call parity at strikes {used_text} (spot·e^{{rT}} ₹{carry:,.2f})")


def quote_ivs(chain: pd.DataFrame, forward: float, years: float, rate: float) -> pd.DataFrame:
    """Our Black-76 IVs (decimal) from each quote's bid, mid and ask on `forward` (₹), and which quotes a fit may use.

    chain: OPTION_CHAIN rows of one expiry (strike, option_type, bid, ask; 0 = no side; iv optional, the broker's).
    Returns one row per quote: strike, option_type, k, otm, bid, ask, mid (NaN unless two-sided and not crossed),
    iv_bid, iv_mid, iv_ask, reason_bid, reason_mid, reason_ask (pricing.IV_REASONS, or no_bid / no_ask /
    crossed), half_spread_vol, broker_iv (NaN where the broker gave 0 or nothing), iv_gap (iv_mid − broker_iv),
    use (True for an out-of-the-money, two-sided quote with all three IVs) and drop (why not; '' when used):
    itm_side (we fit the OTM side: deep ITM quotes are junk), no_bid, no_ask, crossed, or iv_bid:/iv_mid:/iv_ask:
    and the IV reason.
    """
    _check_positive(forward=forward, years=years)
    strike = chain["strike"].to_numpy(dtype=float)
    is_call = _is_call(chain["option_type"])
    bid = np.nan_to_num(chain["bid"].to_numpy(dtype=float), nan=0.0)
    ask = np.nan_to_num(chain["ask"].to_numpy(dtype=float), nan=0.0)
    has_bid, has_ask = bid > 0, ask > 0
    crossed = has_bid & has_ask & (bid > ask)
    two_sided = has_bid & has_ask & ~crossed
    mid = np.where(two_sided, 0.5 * (bid + ask), np.nan)

    prices = np.concatenate([bid, mid, ask])
    exists = np.concatenate([has_bid, two_sided, has_ask])
    reasons = np.concatenate([np.where(has_bid, "", "no_bid"),
                              np.select([~has_bid, ~has_ask, crossed], ["no_bid", "no_ask", "crossed"], ""),
                              np.where(has_ask, "", "no_ask")]).astype(object)
    vols = np.full(prices.shape, np.nan)
    if exists.any():
        calls, strikes3 = np.tile(is_call, 3)[exists], np.tile(strike, 3)[exists]
        spot_equivalent = forward * np.exp(-rate * years)
        vols[exists], reasons[exists] = implied_vol_diagnostics(prices[exists], calls, spot_equivalent, strikes3,
                                                                years, rate, 0.0)
    iv_bid, iv_mid, iv_ask = vols.reshape(3, -1)
    reason_bid, reason_mid, reason_ask = reasons.reshape(3, -1)

    otm = np.where(is_call, strike >= forward, strike < forward)
    drop = np.select(
        [~otm, ~has_bid, ~has_ask, crossed, reason_bid != "ok", reason_mid != "ok", reason_ask != "ok"],
        ["itm_side", "no_bid", "no_ask", "crossed", "iv_bid:" + reason_bid, "iv_mid:" + reason_mid,
         "iv_ask:" + reason_ask], "").astype(object)
    broker = chain["iv"].to_numpy(dtype=float) if "iv" in chain else np.full(strike.shape, np.nan)
    broker = np.where(broker > 0, broker, np.nan)
    return pd.DataFrame({
        "strike": strike, "option_type": np.where(is_call, "CE", "PE"), "k": np.log(strike / forward), "otm": otm,
        "bid": bid, "ask": ask, "mid": mid, "iv_bid": iv_bid, "iv_mid": iv_mid, "iv_ask": iv_ask,
        "reason_bid": reason_bid.astype(str), "reason_mid": reason_mid.astype(str),
        "reason_ask": reason_ask.astype(str), "half_spread_vol": 0.5 * (iv_ask - iv_bid),
        "broker_iv": broker, "iv_gap": iv_mid - broker, "use": drop == "", "drop": drop.astype(str),
    }, index=chain.index)


# ---------------------------------------------------------------- SVI fit


@dataclass(frozen=True)
class SVIFit:
    """Result of fit_svi: params, g_min (min g on the butterfly grid), rms residual in half-spreads, the count of
    quotes whose model w is outside [w_bid, w_ask], ok (every constraint holds) and message (what failed, or '')."""

    params: SVIParams
    g_min: float
    rms: float
    n_outside: int
    ok: bool
    message: str


def fit_svi(
    k: ArrayLike,
    w_mid: ArrayLike,
    w_bid: ArrayLike,
    w_ask: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    floor: tuple[ArrayLike, ArrayLike] | None = None,
    start: SVIParams | None = None,
) -> SVIFit:
    """Fit SVI raw to total variances (decimal² × years) at log moneyness k, free of static arbitrage.

    weights: per quote, 1/h with h the half-spread in total variance (floored at a quarter of the median) unless
    given. floor: (k grid, w) that w(k) must not go below (calendar repair: an earlier expiry's w). start: params to
    polish instead of the search's starts (calendar repair: the smile lifted above the floor, which the search's
    starts, blind to the floor, are far from).
    Method: a vectorized global search over (m, σ) solving the linear least squares in (a, bσ(1+ρ), bσ(1−ρ)) for
    each; scipy least_squares (analytic Jacobian) on all five parameters with penalty residuals for the constraints,
    from the best start, then from the next best ones (up to _POLISH_STARTS) while a constraint fails or a model w
    lies outside its quote, until one ends where an earlier one did; where g fails on the dense grid, those points
    join the penalty grid and the fit is polished again (up to _REFINEMENTS times); if a constraint still fails,
    the fit is blended with a flat smile, as little as keeps every constraint (SVIFit.message says so).
    """
    k, w_mid, w_bid, w_ask = (np.asarray(v, dtype=float) for v in (k, w_mid, w_bid, w_ask))
    if not k.shape == w_mid.shape == w_bid.shape == w_ask.shape or k.ndim != 1:
        raise InputError("k, w_mid, w_bid, w_ask: must be 1-d arrays of the same length")
    if k.size < MIN_QUOTES:
        raise InputError(f"k: {k.size} quotes, at least {MIN_QUOTES} are needed to fit SVI")
    if not all(np.isfinite(v).all() for v in (k, w_mid, w_bid, w_ask)):
        raise InputError("k, w_mid, w_bid, w_ask: must be finite")
    if np.any(w_bid > w_mid) or np.any(w_mid > w_ask) or np.any(w_bid < 0):
        raise InputError("w_bid ≤ w_mid ≤ w_ask and w_bid ≥ 0 must hold for every quote")
    if weights is None:
        half = 0.5 * (w_ask - w_bid)
        weights = 1.0 / np.maximum(half, 0.25 * np.median(half) + 1e-12)
    weights = np.asarray(weights, dtype=float)
    if weights.shape != k.shape or not np.all(np.isfinite(weights) & (weights > 0)):
        raise InputError("weights: must be positive, finite, one per quote")
    floor_k, floor_w = (np.empty(0), np.empty(0)) if floor is None else (np.asarray(v, dtype=float) for v in floor)
    floor_scale = float(np.median(weights))
    problem = _Problem(k, w_mid, w_bid, w_ask, weights, _penalty_grid(k), butterfly_grid(k), floor_k, floor_w,
                       floor_scale)

    span = k.max() - k.min()
    w_top = float(w_ask.max())
    lower = np.array([-2.0 * w_top - 1e-6, 0.0, -_RHO_MAX, k.min() - span, _SIGMA_MIN])
    upper = np.array([2.0 * w_top + 1e-6, _LEE_BOUND, _RHO_MAX, k.max() + span, 10.0 * span + 1.0])
    best = None
    starts = _search_starts(k, w_mid, weights) if start is None else [np.asarray(start, dtype=float)]
    for x0 in starts:  # the next start only while the best leaves quotes outside
        x0 = np.clip(x0, lower + 1e-12, upper - 1e-12)
        result = least_squares(problem.residuals, x0, jac=problem.jacobian, bounds=(lower, upper), x_scale="jac",
                               max_nfev=_MAX_NFEV)
        found_again = best is not None and abs(result.cost - best.cost) <= 1e-6 * best.cost
        if best is None or result.cost < best.cost:
            best = result
        if found_again or problem.clean(best.x):
            break
    x, message = best.x, ""
    for _ in range(_REFINEMENTS):  # g < 0 between points of the penalty grid: penalise there too, polish again
        if problem.violation(x) == 0:
            break
        failing = problem.check_grid[svi_g(x, problem.check_grid) < _G_MARGIN]
        problem = replace(problem, grid=np.union1d(problem.grid, failing))
        x = least_squares(problem.residuals, x, jac=problem.jacobian, bounds=(lower, upper), x_scale="jac",
                          max_nfev=_MAX_NFEV).x
    if problem.violation(x) > 0:
        x, t = problem.toward_flat(x)
        message = f"constraints met by blending the fit with a flat smile (weight {t:.4f} on the fit)"
    params = SVIParams(*map(float, x))
    w = svi_total_variance(params, k)
    outside = (w < w_bid - 1e-15) | (w > w_ask + 1e-15)
    failures = problem.failures(x)
    rms = float(np.sqrt(np.mean(((w - w_mid) * weights) ** 2)))
    return SVIFit(params, float(svi_g(params, problem.check_grid).min()), rms, int(outside.sum()), not failures,
                  "; ".join(failures) or message)


@dataclass(frozen=True, eq=False)
class _Problem:
    """The fit's residuals and constraints for one set of quotes."""

    k: np.ndarray
    w_mid: np.ndarray
    w_bid: np.ndarray
    w_ask: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    check_grid: np.ndarray
    floor_k: np.ndarray
    floor_w: np.ndarray
    floor_scale: float

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """Fit residuals in half-spreads, band hinges, then penalised constraint violations."""
        w = svi_total_variance(x, self.k)
        fit = (w - self.w_mid) * self.weights
        band = _BAND_WEIGHT * self.weights * (np.maximum(w - self.w_ask, 0.0) + np.maximum(self.w_bid - w, 0.0))
        return np.concatenate([fit, band, _PENALTY * np.maximum(-self.constraints(x), 0.0)])

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """∂residuals/∂x: closed form, except the active g rows (central differences on those k only)."""
        _a, b, rho, _m, sigma = x
        dw = _svi_gradient(x, self.k)
        w = svi_total_variance(x, self.k)
        side = (w > self.w_ask).astype(float) - (w < self.w_bid)
        active = self.constraints(x) < 0
        n_grid = self.grid.size
        penalty = np.zeros((active.size, 5))  # ∂(−constraint)/∂x on the active rows, 0 elsewhere (hinge)
        if active[0]:
            penalty[0] = [0.0, 1.0 + abs(rho), b * np.sign(rho), 0.0, 0.0]
        if active[1]:
            root = np.sqrt(1.0 - rho * rho)
            penalty[1] = -self.floor_scale * np.array([1.0, sigma * root, -b * sigma * rho / root, 0.0, b * root])
        g_rows = 2 + np.flatnonzero(active[2:2 + n_grid])
        if g_rows.size:
            step = 1e-7 * np.maximum(np.abs(x), 1e-4)
            k_active = self.grid[g_rows - 2]
            penalty[g_rows] = -np.stack([(svi_g(x + e, k_active) - svi_g(x - e, k_active)) / (2.0 * h)
                                         for e, h in zip(np.diag(step), step)], axis=1)
        floor_rows = 2 + n_grid + np.flatnonzero(active[2 + n_grid:])
        penalty[floor_rows] = -self.floor_scale * _svi_gradient(x, self.floor_k[floor_rows - 2 - n_grid])
        return np.vstack([dw * self.weights[:, None], _BAND_WEIGHT * (side * self.weights)[:, None] * dw,
                          _PENALTY * penalty])

    def constraints(self, x: np.ndarray) -> np.ndarray:
        """Values that must be ≥ 0: Lee's bound, min variance, g − margin on the grid, w − floor (scaled)."""
        a, b, rho, _m, sigma = x
        lee = _LEE_BOUND - b * (1.0 + abs(rho))
        min_variance = (a + b * sigma * np.sqrt(1.0 - rho * rho)) * self.floor_scale
        g = svi_g(x, self.grid) - _G_MARGIN
        above_floor = (svi_total_variance(x, self.floor_k) - self.floor_w) * self.floor_scale
        return np.concatenate([[lee, min_variance], g, above_floor])

    def clean(self, x: np.ndarray) -> bool:
        """True when x meets every constraint and puts every model w inside [w_bid, w_ask]."""
        w = svi_total_variance(x, self.k)
        return self.violation(x) == 0 and bool(np.all((w >= self.w_bid) & (w <= self.w_ask)))

    def violation(self, x: np.ndarray, g_margin: float = 0.0) -> float:
        """Largest constraint violation, g ≥ g_margin checked on the dense grid (0 when every constraint holds)."""
        a, b, rho, _m, sigma = x
        values = np.concatenate([[_LEE_BOUND - b * (1.0 + abs(rho)), a + b * sigma * np.sqrt(1.0 - rho * rho)],
                                 svi_g(x, self.check_grid) - g_margin,
                                 svi_total_variance(x, self.floor_k) - self.floor_w])
        return float(np.maximum(-values, 0.0).max())

    def failures(self, x: np.ndarray) -> list[str]:
        """Each constraint that fails at x, in words."""
        a, b, rho, _m, sigma = x
        g_min = svi_g(x, self.check_grid).min()
        checks = [
            (b * (1.0 + abs(rho)) <= _LEE_BOUND, f"Lee bound b(1+|ρ|) = {b * (1 + abs(rho)):.4f} > 2"),
            (a + b * sigma * np.sqrt(1.0 - rho * rho) >= 0.0, "negative total variance"),
            (g_min >= 0.0, f"butterfly arbitrage: g_min = {g_min:.3g}"),
            (np.all(svi_total_variance(x, self.floor_k) >= self.floor_w),
             "w below the floor (an earlier expiry's total variance)"),
        ]
        return [message for holds, message in checks if not holds]

    def toward_flat(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """x blended with a flat smile until every constraint holds: w_t = t·w_x + (1 − t)·level, level the weighted
        mean of w_mid (or the floor's top, if higher), t ∈ [0, 1] the largest found by bisection with g ≥
        _G_BLEND_MARGIN on the dense grid (t = 0 is flat, g = 1, which meets every constraint); returns (params, t)."""
        level = max(float(np.average(self.w_mid, weights=self.weights)), float(np.max(self.floor_w, initial=0.0)))

        def blend(t):
            return np.array([t * x[0] + (1.0 - t) * level, t * x[1], x[2], x[3], x[4]])

        feasible, infeasible = 0.0, 1.0
        for _ in range(40):
            t = 0.5 * (feasible + infeasible)
            feasible, infeasible = (t, infeasible) if self.violation(blend(t), _G_BLEND_MARGIN) == 0 else (feasible, t)
        return blend(feasible), feasible


def _search_starts(k: np.ndarray, w: np.ndarray, weights: np.ndarray) -> list[np.ndarray]:
    """The best _POLISH_STARTS (a, b, ρ, m, σ) of a grid over (m, σ), each with its weighted linear least squares
    in (a, u = bσ(1+ρ), v = bσ(1−ρ)), u and v clipped to [0, 2σ] (b ≥ 0, |ρ| ≤ 1, Lee) and a refitted."""
    span = k.max() - k.min()
    m, sigma = np.meshgrid(np.linspace(k.min(), k.max(), _SEARCH_M),
                           np.geomspace(0.01 * span + 1e-4, 2.0 * span + 1e-3, _SEARCH_SIGMA))
    m, sigma = m.ravel()[:, None], sigma.ravel()[:, None]
    y = (k - m) / sigma
    root = np.sqrt(y * y + 1.0)
    up, down = 0.5 * (root + y), 0.5 * (root - y)  # w = a + u·up + v·down
    design = np.stack([np.ones_like(y), up, down], axis=-1)  # (grid, n, 3)
    weighted = design * (weights**2)[None, :, None]
    normal = np.einsum("gni,gnj->gij", weighted, design) + 1e-14 * np.eye(3)
    a, u, v = np.linalg.solve(normal, np.einsum("gni,n->gi", weighted, w)[..., None])[..., 0].T
    u, v = np.clip(u, 0.0, 2.0 * sigma[:, 0]), np.clip(v, 0.0, 2.0 * sigma[:, 0])
    rest = w - u[:, None] * up - v[:, None] * down
    a = np.maximum((rest * weights**2).sum(axis=1) / (weights**2).sum(), -np.sqrt(u * v))
    cost = (((rest - a[:, None]) * weights) ** 2).sum(axis=1)
    b = (u + v) / (2.0 * sigma[:, 0])
    rho = np.divide(u - v, u + v, out=np.zeros_like(u), where=u + v > 0)
    order = np.argsort(cost)[:_POLISH_STARTS]
    return [np.array([a[i], b[i], rho[i], m[i, 0], sigma[i, 0]]) for i in order]


# ---------------------------------------------------------------- the smile of one expiry


@dataclass(frozen=True, eq=False)
class Smile:
    """The fitted smile of one expiry.

    forward (₹), years, rate; params (SVI raw; a flat smile is a = σ²T, b = 0); method 'svi' or 'flat'; note (the
    forward's source, what was dropped, why a fallback was used, any calendar repair, quotes left outside);
    quotes (quote_ivs of the chain, with drop reasons); residuals (one row per two-sided quote with a mid IV:
    strike, option_type, k, used (in the fit), bid, ask, mid, iv_mid, model_iv, model_price, resid_vol = model −
    mid IV, resid_inr = model − mid ₹, outside_inr = how far (₹) the model price lies outside [bid, ask], inside);
    g_min (min of g(k) on butterfly_grid);
    forward_detail (implied_forward's result); expiry (from the chain, when it has one).
    """

    forward: float
    years: float
    rate: float
    params: SVIParams
    method: str
    note: str
    quotes: pd.DataFrame = field(repr=False)
    residuals: pd.DataFrame = field(repr=False)
    g_min: float
    forward_detail: Forward = field(repr=False)
    expiry: pd.Timestamp | None = None

    @property
    def butterfly_ok(self) -> bool:
        """True when g(k) ≥ 0 on the whole butterfly grid (no butterfly arbitrage)."""
        return self.g_min >= 0.0

    @property
    def n_outside(self) -> int:
        """How many quotes used in the fit have a model price outside their bid–ask."""
        return int((self.residuals["used"] & ~self.residuals["inside"]).sum())

    @property
    def k_range(self) -> tuple[float, float]:
        """(min, max) log moneyness of the quotes in `residuals`, the range the smile is backed by."""
        return float(self.residuals["k"].min()), float(self.residuals["k"].max())

    @property
    def curve(self) -> SmileCurve:
        """The fitted curve alone (what the valuation uses)."""
        return SmileCurve(self.forward, self.years, self.rate, self.params, self.method)

    def total_variance(self, k: ArrayLike) -> np.ndarray:
        """w(k), decimal² × years, at log forward moneyness k = ln(K/F)."""
        return self.curve.total_variance(k)

    def iv(self, strikes: ArrayLike) -> np.ndarray:
        """Model implied vol (decimal) at strikes (₹)."""
        return self.curve.iv(strikes)

    def price(self, option_type: ArrayLike, strikes: ArrayLike) -> np.ndarray:
        """Model value (₹) of options of option_type ('CE'/'PE', or per strike) at strikes (₹)."""
        strikes = np.asarray(strikes, dtype=float)
        spot_equivalent = self.forward * np.exp(-self.rate * self.years)
        return np.asarray(bs_price(option_type, spot_equivalent, strikes, self.years, self.rate, self.iv(strikes)))

    def call_price(self, strikes: ArrayLike) -> np.ndarray:
        """Model call value (₹) at strikes (₹)."""
        return self.price("CE", strikes)

    def put_price(self, strikes: ArrayLike) -> np.ndarray:
        """Model put value (₹) at strikes (₹)."""
        return self.price("PE", strikes)


def fit_smile(chain: pd.DataFrame, years: float, rate: float) -> Smile:
    """The smile of one expiry from its OPTION_CHAIN rows: forward by parity, our IVs, SVI fit (or a flat fallback).

    Falls back to method 'flat' (at the mid IV of the usable quote nearest the forward) when fewer than
    MIN_QUOTES quotes are usable or the SVI fit cannot meet its constraints; the note says why. DataError when
    no quote gives a mid IV at all.
    """
    _check_positive(years=years)
    if chain.empty:
        raise DataError("option chain: no rows")
    expiries = chain["expiry"].unique() if "expiry" in chain else np.array([None])
    if len(expiries) > 1:
        raise InputError(f"chain: one expiry expected, got {len(expiries)}")
    if chain.duplicated(["strike", "option_type"]).any():
        raise DataError("option chain: a strike and option type appear twice")
    spot = float(np.median(chain["underlying_price"].to_numpy(dtype=float)))
    forward = _forward_of_chain(chain, years, rate, spot)
    quotes = quote_ivs(chain, forward.value, years, rate)
    used = quotes[quotes["use"]]
    expiry = None if expiries[0] is None else pd.Timestamp(expiries[0])
    base = Smile(forward.value, years, rate, SVIParams(0.0, 0.0, 0.0, 0.0, 1.0), "flat", "", quotes,
                 pd.DataFrame(), 0.0, forward, expiry)
    if len(used) < MIN_QUOTES:
        return _flat(base, f"only {len(used)} usable quotes (< {MIN_QUOTES}) to fit SVI; dropped: {_drops(quotes)}")
    fit = fit_svi(used["k"], used["iv_mid"] ** 2 * years, used["iv_bid"] ** 2 * years, used["iv_ask"] ** 2 * years)
    if not fit.ok:
        return _flat(base, f"the SVI fit failed its constraints ({fit.message}); dropped: {_drops(quotes)}")
    how = f" ({fit.message})" if fit.message else ""
    return _finish(base, fit.params, "svi", f"SVI on {len(used)} OTM quotes{how}; dropped: {_drops(quotes)}")


def _drops(quotes: pd.DataFrame) -> str:
    """Counts of dropped quotes by reason, e.g. '12 itm_side, 3 no_bid'."""
    dropped = quotes.loc[~quotes["use"], "drop"].str.split(":").str[0].value_counts()
    return ", ".join(f"{n} {reason}" for reason, n in dropped.items()) or "none"


def _forward_of_chain(chain: pd.DataFrame, years: float, rate: float, spot: float) -> Forward:
    """implied_forward on the chain's two-sided call and put mids per strike."""
    bid, ask = chain["bid"].to_numpy(dtype=float), chain["ask"].to_numpy(dtype=float)
    mid = np.where((bid > 0) & (ask >= bid), 0.5 * (bid + ask), np.nan)
    sides = pd.DataFrame({"strike": chain["strike"].to_numpy(dtype=float),
                          "call": _is_call(chain["option_type"]), "mid": mid})
    table = sides.pivot(index="strike", columns="call", values="mid").reindex(columns=[True, False])
    return implied_forward(table.index.to_numpy(), table[True].to_numpy(), table[False].to_numpy(), years, rate, spot)


def _flat(base: Smile, why: str) -> Smile:
    """A flat smile at the mid IV of the quote nearest the forward (OTM side preferred)."""
    quotes = base.quotes[np.isfinite(base.quotes["iv_mid"])]
    if quotes.empty:
        raise DataError(f"option chain: no two-sided quote gives an implied vol, not even a flat smile ({why})")
    nearest = quotes.iloc[np.lexsort((quotes["k"].abs().to_numpy(), ~quotes["otm"].to_numpy()))[0]]
    level = float(nearest["iv_mid"])
    note = f"{why}: flat at the {nearest['option_type']} {nearest['strike']:g} mid IV {level:.2%}"
    return _finish(base, SVIParams(level**2 * base.years, 0.0, 0.0, 0.0, 1.0), "flat", note)


def _finish(base: Smile, params: SVIParams, method: str, note: str) -> Smile:
    """base with params and method, residuals and g_min computed, and a note: the forward's, `note`, and any
    fitted quote the model prices outside."""
    smile = replace(base, params=params, method=method)
    residuals = _residuals(smile)
    outside = residuals[residuals["used"] & ~residuals["inside"]]
    if len(outside):
        worst = outside.loc[outside["outside_inr"].idxmax()]
        note += (f"{_OUTSIDE}{len(outside)} of {int(residuals['used'].sum())} fitted quotes have the model price "
                 f"outside their bid–ask (worst ₹{worst['outside_inr']:.2f} at "
                 f"{worst['option_type']} {worst['strike']:g}): "
                 f"SVI could not put them inside")
    g_min = float(svi_g(params, butterfly_grid(residuals["k"])).min())
    return replace(smile, note=f"{base.forward_detail.note}; {note}", residuals=residuals, g_min=g_min)


def _residuals(smile: Smile) -> pd.DataFrame:
    """Model against every two-sided quote with a mid IV (see Smile)."""
    q = smile.quotes[np.isfinite(smile.quotes["iv_mid"])]
    model_iv = smile.iv(q["strike"])
    model_price = smile.price(q["option_type"].to_numpy(dtype=object), q["strike"])
    outside = np.maximum.reduce([q["bid"] - model_price, model_price - q["ask"], np.zeros(len(q))])
    return pd.DataFrame({
        "strike": q["strike"], "option_type": q["option_type"], "k": q["k"], "used": q["use"],
        "bid": q["bid"], "ask": q["ask"], "mid": q["mid"], "iv_mid": q["iv_mid"], "model_iv": model_iv,
        "model_price": model_price, "resid_vol": model_iv - q["iv_mid"], "resid_inr": model_price - q["mid"],
        "outside_inr": outside, "inside": outside <= PRICE_TOLERANCE,
    }).reset_index(drop=True)


# ---------------------------------------------------------------- across expiries


def calendar_arbitrage(smiles: Sequence[Smile], k: ArrayLike | None = None) -> pd.DataFrame:
    """Where total variance falls with time to expiry at the same forward moneyness k (calendar arbitrage).

    k: the grid to check (default 201 points over the union of the smiles' quoted k ranges: beyond them the wings
    are extrapolation). Returns one row per violation: expiry/years of the earlier and the later smile, k,
    w_earlier, w_later, shortfall = w_earlier − w_later > 0. Each smile is compared with every earlier one.
    """
    ordered = sorted(smiles, key=lambda s: s.years)
    grid = _calendar_grid(ordered) if k is None else np.asarray(k, dtype=float)
    rows = []
    for j, later in enumerate(ordered):
        w_later = later.total_variance(grid)
        for earlier in ordered[:j]:
            w_earlier = earlier.total_variance(grid)
            bad = w_earlier > w_later * (1 + 1e-12)
            rows.append(pd.DataFrame({
                "earlier_expiry": earlier.expiry, "earlier_years": earlier.years, "later_expiry": later.expiry,
                "later_years": later.years, "k": grid[bad], "w_earlier": w_earlier[bad], "w_later": w_later[bad],
                "shortfall": (w_earlier - w_later)[bad]}))
    columns = ["earlier_expiry", "earlier_years", "later_expiry", "later_years", "k", "w_earlier", "w_later",
               "shortfall"]
    frames = [r for r in rows if len(r)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


@dataclass(frozen=True)
class Surface:
    """Smiles of one underlying by increasing years, and the calendar repairs made: one row per repaired smile
    (expiry, years, max_shortfall before, how: 'refit_with_floor' or 'raise_level', max_shortfall_after)."""

    smiles: tuple[Smile, ...]
    repairs: pd.DataFrame


def fit_surface(expiries: Sequence[tuple[pd.DataFrame, float]], rate: float) -> Surface:
    """fit_smile for each (chain of one expiry, years), then calendar repair: where a later smile's w dips below the
    envelope of the earlier ones on the calendar grid, refit it with that envelope as a floor; if that refit fails
    its constraints (or the smile is flat), raise its level a by the largest shortfall. Every repair is recorded."""
    return repair_calendar([fit_smile(chain, years, rate) for chain, years in expiries])


def repair_calendar(smiles: Sequence[Smile]) -> Surface:
    """The smiles of one underlying by increasing years, each later one lifted where its w dips below the earlier
    ones' (see fit_surface); every repair recorded."""
    smiles = sorted(smiles, key=lambda s: s.years)
    grid = _calendar_grid(smiles)
    repaired: list[Smile] = []
    repairs = []
    for smile in smiles:
        if repaired:
            envelope = np.max([s.total_variance(grid) for s in repaired], axis=0)
            shortfall = float((envelope - smile.total_variance(grid)).max())
            if shortfall > 0:
                smile, how = _repair(smile, grid, envelope, shortfall)
                after = float((envelope - smile.total_variance(grid)).max())
                repairs.append({"expiry": smile.expiry, "years": smile.years, "max_shortfall": shortfall,
                                "how": how, "max_shortfall_after": max(after, 0.0)})
        repaired.append(smile)
    columns = ["expiry", "years", "max_shortfall", "how", "max_shortfall_after"]
    return Surface(tuple(repaired), pd.DataFrame(repairs, columns=columns))


def _repair(smile: Smile, grid: np.ndarray, envelope: np.ndarray, shortfall: float) -> tuple[Smile, str]:
    """smile lifted to w ≥ envelope on grid, and how."""
    floor_w = envelope * (1 + 1e-9)
    lift = float((floor_w - smile.total_variance(grid)).max())
    lifted = smile.params._replace(a=smile.params.a + lift)
    if smile.method == "svi":
        used = smile.quotes[smile.quotes["use"]]
        t = smile.years
        fit = fit_svi(used["k"], used["iv_mid"] ** 2 * t, used["iv_bid"] ** 2 * t, used["iv_ask"] ** 2 * t,
                      floor=(grid, floor_w), start=lifted)
        if fit.ok:
            note = (f"SVI on {len(used)} OTM quotes, refit with the earlier expiries' w as a floor (calendar repair: "
                    f"w was up to {shortfall:.3g} below it); dropped: {_drops(smile.quotes)}")
            return _finish(smile, fit.params, "svi", note), "refit_with_floor"
    fit_note = smile.note.removeprefix(f"{smile.forward_detail.note}; ").split(_OUTSIDE)[0].split("; calendar")[0]
    note = f"{fit_note}; calendar repair: level a raised by {lift:.3g} to the earlier expiries' w"
    return _finish(smile, lifted, smile.method, note), "raise_level"


def _calendar_grid(smiles: Sequence[Smile]) -> np.ndarray:
    """201 k points over the union of the smiles' quoted k ranges."""
    ranges = np.array([s.k_range for s in smiles])
    return np.linspace(ranges[:, 0].min(), ranges[:, 1].max(), 201)


def _is_call(option_type: pd.Series) -> np.ndarray:
    """True for 'CE', False for 'PE'; InputError for anything else."""
    values = option_type.astype(str).str.upper().to_numpy()
    unknown = ~np.isin(values, ("CE", "PE"))
    if unknown.any():
        raise InputError(f"option_type: expected 'CE' or 'PE', got {values[unknown][0]!r}")
    return values == "CE"


def _check_positive(**values: float) -> None:
    """InputError naming the first value that is not a finite number > 0."""
    for name, value in values.items():
        if not (np.isfinite(value) and value > 0):
            raise InputError(f"{name}: must be a finite number > 0, got {value!r}")
