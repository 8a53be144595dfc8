"""The terminal distribution implied by one expiry's smile, and exact P&L metrics of positions under it.

Market measure: the smile's risk-neutral law of S_T. With k = ln(K/F), w = w(k) (total implied variance),
√w, d1 = (−k + w/2)/√w and d2 = d1 − √w:
    c(K) = E[(S_T − K)⁺] = F·N(d1) − K·N(d2)                          (undiscounted call, ₹)
    P(S_T ≤ K) = 1 + ∂c/∂K = N(−d2) + n(d2)·w'(k)/(2√w)              (the digital, with its skew term)
    p(K) = ∂²c/∂K² = n(d2)/(K√w) · [(1 − k·w'/(2w))² − w'²/4·(1/w + 1/4) + w''/2]   (Gatheral's g(k))
w' and w'' come from the smile's `total_variance_derivatives` when it has one (exact), else from 5-point
central differences of w in k (step 1e-4; only w is differenced, the Black part is analytic).

View: a lognormal S_T with E[S_T] = spot·e^{μT} and volatility σ_view, per position — the same formulas
with w = σ_view²·T and w' = w'' = 0.

P&L of a position, in ₹ today: e^{−rT}·Σ qty·payoff(S_T) − Σ qty·premium − costs. Premiums are ₹ per unit
paid today (a stock leg's premium is its entry price; its payoff is S_T, dividends not included). So under
the market measure a position at the smile's own prices (e^{−rT}·c, e^{−rT}·put, e^{−rT}·F for stock) has
E[P&L] = 0 and one entered at the touch −Σ half-spread·|qty|.

Single expiry, exactly: E[payoff] by static replication (Σ qty·c or qty·(c − F + K), qty·F for stock), and
PoP = P(P&L > 0) from the CDF at the breakevens, the closed-form roots of the piecewise-linear P&L between
its kinks (the strikes). Two expiries: see `calendar_metrics`.

Positions are (N, L) arrays (candidates × legs) as in optionsv4_lib.strategies.evaluate.Positions, which
can be passed as is: kind CE/PE/STK/NONE, strike ₹, qty signed units (+ bought), premium ₹ per unit.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.special import ndtr

from optionsv4_lib.core.errors import InputError
from optionsv4_lib.strategies.evaluate import CE, NONE, PE, STK, unique_sorted_roots

DIFF_STEP = 1e-4  # step in k of the central differences of w when the smile has no derivatives
CALENDAR_GRID_POINTS = 401
CALENDAR_GRID_WIDTH = 12.0  # ATM standard deviations of ln S_T1 each side of the near forward
CALENDAR_GRID_STRETCH = 3.0  # ln(S/F) = sd·width·sinh(stretch·u)/sinh(stretch), u even in [−1, 1]: dense in the middle

_SQRT_2PI = np.sqrt(2.0 * np.pi)


class SmileLike(Protocol):
    """One expiry's fitted smile."""

    forward: float  # ₹, the expiry's forward
    years: float  # ACT/365 time to expiry
    rate: float  # continuously compounded

    def total_variance(self, k: np.ndarray) -> np.ndarray:
        """w(k) = σ_imp(k)²·T at k = ln(K/forward), same shape as k."""
        ...


@runtime_checkable
class SmileWithDerivatives(Protocol):
    """A smile that also gives w, ∂w/∂k and ∂²w/∂k² in closed form (used instead of differences)."""

    def total_variance_derivatives(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


class LegsLike(Protocol):
    """(N, L) arrays of legs; optionsv4_lib.strategies.evaluate.Positions is one."""

    kind: np.ndarray
    strike: np.ndarray
    qty: np.ndarray
    premium: np.ndarray


@dataclass(frozen=True)
class Legs:
    """N positions of L legs: kind CE/PE/STK/NONE, strike ₹, qty signed units, premium ₹ per unit paid today."""

    kind: np.ndarray
    strike: np.ndarray
    qty: np.ndarray
    premium: np.ndarray


@dataclass(frozen=True)
class LognormalView:
    """The view: S_T lognormal with E[S_T] = spot·e^{drift·years}, volatility sigma; P&L discounted at rate.

    spot ₹ (the level the drift moves from: the valuation passes the expiry's forward, so that drift is the view's
    excess over the forward's own), sigma and drift (annual decimals): scalars or (N,) per position. years: ACT/365.
    rate: cont. comp.
    """

    spot: np.ndarray | float
    sigma: np.ndarray | float
    drift: np.ndarray | float
    years: float
    rate: float


@dataclass(frozen=True)
class MeasureMetrics:
    """Per position, in ₹ today: expected P&L (N,), PoP = P(P&L > 0) (N,), breakevens (N, K) ₹ sorted, NaN-padded."""

    expected_pnl: np.ndarray
    pop: np.ndarray
    breakevens: np.ndarray


# ---------------------------------------------------------------- the smile's terminal distribution


def undiscounted_call(smile: SmileLike, strike: np.ndarray) -> np.ndarray:
    """E[(S_T − K)⁺] in ₹ under the smile, at strikes K > 0 of any shape."""
    strike = _positive("strike", strike)
    return _black_call(smile.forward, strike, _smile_at(smile, strike, derivatives=0)[1])


def terminal_cdf(smile: SmileLike, strike: np.ndarray) -> np.ndarray:
    """P(S_T ≤ K) under the smile at K > 0 ₹: N(−d2) + n(d2)·w'(k)/(2√w)."""
    k, w, dw, _ = _smile_at(smile, _positive("strike", strike), derivatives=1)
    return _cdf(k, w, dw)


def terminal_density(smile: SmileLike, strike: np.ndarray) -> np.ndarray:
    """∂P(S_T ≤ K)/∂K in 1/₹ under the smile at K > 0 ₹ (negative only where the smile has butterfly arbitrage)."""
    strike = _positive("strike", strike)
    k, w, dw, d2w = _smile_at(smile, strike, derivatives=2)
    sqrt_w = np.sqrt(w)
    d2 = -k / sqrt_w - 0.5 * sqrt_w
    g = (1.0 - 0.5 * k * dw / w) ** 2 - 0.25 * dw**2 * (1.0 / w + 0.25) + 0.5 * d2w
    return g * _pdf(d2) / (strike * sqrt_w)


def touch_probability(smile: SmileLike, barrier: np.ndarray) -> np.ndarray:
    """P(the forward touches `barrier` ₹ before expiry), same shape as barrier; 1 at the forward.

    Put–call-symmetry static replication (Carr–Bowie): a one-touch pays like 1{S_T beyond B}·(1 + S_T/B), so
        up (B > F):   P ≈ P(S_T ≥ B) + E[S_T; S_T ≥ B]/B = 2·P(S_T ≥ B) + c(B)/B
        down (B < F): P ≈ P(S_T ≤ B) + E[S_T; S_T ≤ B]/B = 2·P(S_T ≤ B) − put(B)/B
    with the smile's digital and prices at the barrier. Exact for a continuous driftless forward whose smile is
    symmetric in k (flat: the reflection principle for a GBM martingale). Under skew it is an approximation that
    is good in the wings and poor near the money: against a Heston simulation with NIFTY-like weekly skew
    (bench/terminal_touch_check.py) it errs by ≤ 0.015 beyond 1.5 ATM sd but by up to ±0.09 within 0.5 sd,
    where it can exceed 1 (clipped). The barrier is on the forward: a spot barrier differs by the carry
    (r − q)·T in log terms over the life.
    """
    barrier = _positive("barrier", barrier)
    k, w, dw, _ = _smile_at(smile, barrier, derivatives=1)
    below, above = _tails(k, w, dw)
    call = _black_call(smile.forward, barrier, w)
    up = 2.0 * above + call / barrier
    down = 2.0 * below - (call - smile.forward + barrier) / barrier
    prob = np.select([barrier > smile.forward, barrier < smile.forward], [up, down], 1.0)
    return np.clip(prob, 0.0, 1.0)


# ---------------------------------------------------------------- metrics of positions


def expiry_metrics(legs: LegsLike, measure: SmileLike | LognormalView, costs: np.ndarray | float = 0.0) -> MeasureMetrics:
    """Exact E[P&L], PoP and breakevens of N single-expiry positions under the smile or the view.

    Every option leg expires at the measure's expiry. costs: ₹ today per position, (N,) or scalar.
    """
    kind, strike, qty, premium = _validated_legs(legs)
    dist = _distribution(measure, len(kind))
    cash = (qty * premium).sum(axis=1) + np.asarray(costs, dtype=float)
    option = (kind == CE) | (kind == PE)
    # kinks: option strikes sorted; other legs sit at the forward and change no slope
    node = np.where(option, strike, dist.forward)
    order = np.argsort(node, axis=1)
    node, kind, qty = (np.take_along_axis(a, order, axis=1) for a in (node, kind, qty))
    option = (kind == CE) | (kind == PE)
    call, cdf = dist.call_cdf(node)

    d = dist.discount
    put_qty = np.where(kind == PE, qty, 0.0)
    stock_qty = np.where(kind == STK, qty, 0.0).sum(axis=1)
    payoff = (np.where(option, qty * call, 0.0) + put_qty * (node - dist.forward)).sum(axis=1) + stock_qty * dist.forward[:, 0]
    expected = d * payoff - cash

    # P&L at 0 and at each kink; slope after each kink (both ends of every leg's payoff are linear)
    v0 = d * (put_qty * node).sum(axis=1) - cash
    below_all = stock_qty - put_qty.sum(axis=1)  # slope below every strike, per unit of discount
    slope = d * np.concatenate([below_all[:, None], below_all[:, None] + np.cumsum(np.where(option, qty, 0.0), axis=1)], axis=1)
    x = np.concatenate([np.zeros((len(node), 1)), node], axis=1)
    v = v0[:, None] + np.concatenate([np.zeros((len(node), 1)), np.cumsum(slope[:, :-1] * np.diff(x, axis=1), axis=1)], axis=1)
    pop, breakevens = _pop_and_breakevens(x, v, slope, np.concatenate([np.zeros((len(node), 1)), cdf], axis=1), dist)
    return MeasureMetrics(expected, pop, breakevens)


def calendar_metrics(
    legs: LegsLike,
    far_leg: np.ndarray,
    near: SmileLike,
    far: SmileLike,
    measure: SmileLike | LognormalView | None = None,
    costs: np.ndarray | float = 0.0,
    grid_points: int = CALENDAR_GRID_POINTS,
) -> MeasureMetrics:
    """E[P&L], PoP and breakevens at the near expiry T1 of N positions with legs on two expiries.

    far_leg (N, L) bool: option legs expiring at far.years (> near.years); the others expire at T1 or are stock.
    measure: the law of S_T1, default the near smile; a LognormalView must have years == near.years.
    Approximation: at T1 a far leg is worth e^{−(r2·T2 − r1·T1)}·Black(F2·S/F1, K, σ_far(K)²·(T2 − T1)), its
    vol the far smile's at its strike (sticky strike), the far forward moving with S (deterministic carry).
    The P&L is taken piecewise linear between nodes 0, the near strikes and `grid_points` prices over ±12 ATM
    standard deviations of ln S_T1 (sinh-spaced: 0.018 sd apart at the centre for 401 points, wider in the
    tails), with the exact limiting slope beyond; E[P&L] and
    P(P&L > 0) of that profile are exact under the measure (its call prices and CDF at the nodes), so the
    only error is the interpolation of the far legs' smooth value, O(node spacing²): with 401 points about
    0.0014 ₹ per unit of |qty| in E[P&L] and 1e-5 in PoP on NIFTY-like smiles (a quarter of that per doubling).
    """
    kind, strike, qty, premium = _validated_legs(legs)
    far_leg = np.asarray(far_leg, dtype=bool)
    if far_leg.shape != kind.shape or np.any(far_leg & (kind != CE) & (kind != PE)):
        raise InputError("far_leg: must be (N, L) like the legs and mark option legs only")
    if not far.years > near.years:
        raise InputError(f"far.years: must be > near.years, got {far.years} and {near.years}")
    measure = near if measure is None else measure
    if not np.isclose(measure.years, near.years, rtol=0.0, atol=1e-12):
        raise InputError(f"measure.years: must be the near expiry's {near.years}, got {measure.years}")
    if grid_points < 2:
        raise InputError(f"grid_points: must be ≥ 2, got {grid_points}")
    n = len(kind)
    dist = _distribution(measure, n)
    near_option = ((kind == CE) | (kind == PE)) & ~far_leg

    u = np.linspace(-1.0, 1.0, grid_points)
    z = CALENDAR_GRID_WIDTH * np.sinh(CALENDAR_GRID_STRETCH * u) / np.sinh(CALENDAR_GRID_STRETCH)
    grid = dist.forward * np.exp(z[None, :] * dist.sd)
    x = np.sort(np.concatenate([np.zeros((n, 1)), grid, np.where(near_option, strike, dist.forward)], axis=1), axis=1)

    d1, d2 = dist.discount, np.exp(-far.rate * far.years)
    carry = far.forward / near.forward
    # far legs moved to the first columns, as many columns as the most far legs of any position
    first = np.argsort(~far_leg, axis=1, kind="stable")[:, : max(int(far_leg.sum(axis=1).max()), 1)]
    f_kind, f_strike, f_qty, f_far = (np.take_along_axis(a, first, axis=1) for a in (kind, strike, qty, far_leg))
    f_strike = np.where(f_far, f_strike, far.forward)
    f_qty = np.where(f_far, f_qty, 0.0)
    far_w = _smile_at(far, f_strike, derivatives=0)[1] * (far.years - near.years) / far.years
    later = _black_call(carry * np.maximum(x, 1e-300)[:, :, None], f_strike[:, None, :], far_w[:, None, :])
    later = np.where((f_kind == PE)[:, None, :], later - carry * x[:, :, None] + f_strike[:, None, :], later)
    settled = _payoff(np.where(far_leg, NONE, kind), strike, qty, x)
    cash = (qty * premium).sum(axis=1) + np.asarray(costs, dtype=float)
    v = d1 * settled + d2 * (f_qty[:, None, :] * later).sum(axis=2) - cash[:, None]
    top_slope = d1 * np.where((kind == STK) | ((kind == CE) & ~far_leg), qty, 0.0).sum(axis=1)
    top_slope = top_slope + d2 * carry * np.where(f_kind == CE, f_qty, 0.0).sum(axis=1)
    span = np.diff(x, axis=1)
    inner = np.divide(np.diff(v, axis=1), span, out=np.zeros_like(span), where=span > 0)
    slope = np.concatenate([inner, top_slope[:, None]], axis=1)

    call, cdf = dist.call_cdf(np.maximum(x[:, 1:], 1e-300))
    call = np.concatenate([dist.forward + np.zeros((n, 1)), call], axis=1)
    cdf = np.concatenate([np.zeros((n, 1)), cdf], axis=1)
    # E[S_T; S_T ≤ x] = x·P(S_T ≤ x) − put(x), put = c − F + x; pieces v = α + βS, the last one to ∞
    partial_mean = x * cdf - (call - dist.forward + x)
    alpha = v - slope * x
    cdf_end = np.concatenate([cdf[:, 1:], np.ones((n, 1))], axis=1)
    mean_end = np.concatenate([partial_mean[:, 1:], dist.forward + np.zeros((n, 1))], axis=1)
    expected = (alpha * (cdf_end - cdf) + slope * (mean_end - partial_mean)).sum(axis=1)
    pop, breakevens = _pop_and_breakevens(x, v, slope, cdf, dist)
    return MeasureMetrics(expected, pop, breakevens)


# ---------------------------------------------------------------- internals


class _Distribution(ABC):
    """A law of S_T per position: forward (N, 1) ₹, sd (N, 1) ATM log-sd, discount e^{−rT}, call_cdf."""

    def __init__(self, forward: np.ndarray, sd: np.ndarray, discount: float) -> None:
        self.forward, self.sd, self.discount = forward, sd, discount

    @abstractmethod
    def call_cdf(self, x: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(undiscounted call price ₹, P(S_T ≤ x)) at x > 0: (N, M), or flat with the row of each point."""


class _SmileDistribution(_Distribution):
    def __init__(self, smile: SmileLike, n: int) -> None:
        atm = _smile_at(smile, np.array([smile.forward]), derivatives=0)[1]
        super().__init__(np.full((n, 1), float(smile.forward)), np.full((n, 1), np.sqrt(atm[0])), np.exp(-smile.rate * smile.years))
        self.smile = smile

    def call_cdf(self, x, rows=None):
        k, w, dw, _ = _smile_at(self.smile, x, derivatives=1)
        return _black_call(self.smile.forward, x, w), _cdf(k, w, dw)


class _LognormalDistribution(_Distribution):
    def __init__(self, view: LognormalView, n: int) -> None:
        spot, sigma, drift = (np.broadcast_to(np.asarray(a, dtype=float), (n,)).reshape(n, 1) for a in (view.spot, view.sigma, view.drift))
        if not (np.all(spot > 0) and np.all(sigma > 0) and np.all(np.isfinite(drift)) and view.years > 0):
            raise InputError("view: spot, sigma and years must be > 0 and drift finite")
        super().__init__(spot * np.exp(drift * view.years), sigma * np.sqrt(view.years), np.exp(-view.rate * view.years))

    def call_cdf(self, x, rows=None):
        forward, sd = (self.forward, self.sd) if rows is None else (self.forward[rows, 0], self.sd[rows, 0])
        w = sd**2
        k = np.log(x / forward)
        return _black_call(forward, x, w), _cdf(k, w, 0.0)


def _distribution(measure: SmileLike | LognormalView, n: int) -> _Distribution:
    return _LognormalDistribution(measure, n) if isinstance(measure, LognormalView) else _SmileDistribution(measure, n)


def _pop_and_breakevens(x, v, slope, cdf, dist: _Distribution) -> tuple[np.ndarray, np.ndarray]:
    """PoP and breakevens of the P&L v at nodes x (N, M; x[:, 0] = 0), slope (N, M) after each node, to ∞ after
    the last; cdf (N, M) = P(S_T ≤ x)."""
    n = len(x)
    right = np.concatenate([x[:, 1:], np.full((n, 1), np.inf)], axis=1)
    start_pos = v > 0
    end_pos = np.concatenate([v[:, 1:] > 0, (slope[:, -1:] > 0) | ((slope[:, -1:] == 0) & start_pos[:, -1:])], axis=1)
    crosses = start_pos != end_pos
    rows, cols = np.nonzero(crosses)
    root_at = np.clip(x[rows, cols] - v[rows, cols] / slope[rows, cols], x[rows, cols], right[rows, cols])
    root_cdf = np.zeros_like(root_at)
    inside = root_at > 0
    root_cdf[inside] = dist.call_cdf(root_at[inside], rows[inside])[1]

    cdf_end = np.concatenate([cdf[:, 1:], np.ones((n, 1))], axis=1)
    at_root = np.zeros_like(v)
    at_root[rows, cols] = root_cdf
    low = np.where(start_pos, cdf, at_root)
    high = np.where(end_pos, cdf_end, at_root)
    pop = np.where(start_pos | end_pos, high - low, 0.0).sum(axis=1)

    roots = np.full_like(v, np.nan)
    roots[rows, cols] = root_at
    return np.clip(pop, 0.0, 1.0), unique_sorted_roots(roots)


def _payoff(kind: np.ndarray, strike: np.ndarray, qty: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(N, M) Σ qty·payoff in ₹ at expiry prices x (N, M) of legs (N, L)."""
    xs, k, kind = x[:, :, None], strike[:, None, :], kind[:, None, :]
    value = np.select([kind == CE, kind == PE, kind == STK], [np.maximum(xs - k, 0.0), np.maximum(k - xs, 0.0), xs], 0.0)
    return (value * qty[:, None, :]).sum(axis=2)


def _smile_at(smile: SmileLike, strike: np.ndarray, derivatives: int) -> tuple[np.ndarray, ...]:
    """(k, w, w', w'') at strikes ₹; w', w'' are None unless asked for (derivatives = 1 or 2)."""
    if not (smile.forward > 0 and smile.years > 0 and np.isfinite(smile.rate)):
        raise InputError(f"smile: forward and years must be > 0, rate finite; got {smile.forward}, {smile.years}, {smile.rate}")
    k = np.log(strike / smile.forward)
    if derivatives and isinstance(smile, SmileWithDerivatives):
        w, dw, d2w = (np.asarray(a, dtype=float) for a in smile.total_variance_derivatives(k))
    elif derivatives:
        h = DIFF_STEP
        w, up1, dn1, up2, dn2 = (np.asarray(smile.total_variance(k + s), dtype=float) for s in (0.0, h, -h, 2 * h, -2 * h))
        dw = (8.0 * (up1 - dn1) - (up2 - dn2)) / (12.0 * h)
        d2w = (16.0 * (up1 + dn1) - (up2 + dn2) - 30.0 * w) / (12.0 * h * h) if derivatives == 2 else None
    else:
        w, dw, d2w = np.asarray(smile.total_variance(k), dtype=float), None, None
    if not np.all(w > 0):
        raise InputError("smile: total variance must be > 0 and finite at every strike asked for")
    return k, w, dw, d2w


def _black_call(forward, strike, w):
    """Undiscounted Black call F·N(d1) − K·N(d2) in ₹ with total variance w > 0."""
    sqrt_w = np.sqrt(w)
    d1 = np.log(forward / strike) / sqrt_w + 0.5 * sqrt_w
    return forward * ndtr(d1) - strike * ndtr(d1 - sqrt_w)


def _tails(k, w, dw):
    """(P(S_T ≤ K), P(S_T > K)) = (N(−d2) + n(d2)·w'/(2√w), N(d2) − n(d2)·w'/(2√w)), each clipped to [0, 1]."""
    sqrt_w = np.sqrt(w)
    d2 = -k / sqrt_w - 0.5 * sqrt_w
    skew = _pdf(d2) * dw / (2.0 * sqrt_w)
    return np.clip(ndtr(-d2) + skew, 0.0, 1.0), np.clip(ndtr(d2) - skew, 0.0, 1.0)


def _cdf(k, w, dw):
    """P(S_T ≤ K), from whichever tail is the smaller so that it rises monotonically in floating point too."""
    below, above = _tails(k, w, dw)
    return np.where(below <= 0.5, below, 1.0 - above)


def _pdf(d):
    d = np.clip(d, -40.0, 40.0)
    return np.exp(-0.5 * d * d) / _SQRT_2PI


def _positive(name: str, value) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(array) & (array > 0)):
        raise InputError(f"{name}: must be finite and > 0")
    return array


def _validated_legs(legs: LegsLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(kind, strike, qty, premium) as (N, L) arrays, or InputError naming the field."""
    kind = np.asarray(legs.kind)
    if kind.ndim != 2 or kind.shape[0] == 0:
        raise InputError(f"kind: must be a non-empty (N, L) array, got shape {kind.shape}")
    if not np.all(np.isin(kind, (CE, PE, STK, NONE))):
        raise InputError("kind: must be CE, PE, STK or NONE")
    fields = []
    for name in ("strike", "qty", "premium"):
        array = np.asarray(getattr(legs, name), dtype=float)
        if array.shape != kind.shape:
            raise InputError(f"{name}: shape {array.shape}, expected {kind.shape}")
        if not np.all(np.isfinite(array)):
            raise InputError(f"{name}: must be finite")
        fields.append(array)
    strike, qty, premium = fields
    if np.any(((kind == CE) | (kind == PE)) & ~(strike > 0)):
        raise InputError("strike: must be > 0 for option legs")
    return kind, strike, qty, premium
