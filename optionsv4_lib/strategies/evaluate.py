"""Vectorized payoff, probability and risk of multi-leg positions.

Every function works on N positions at once, each of up to L legs, held as (N, L) arrays (`Positions`).
The P&L at the horizon (the nearest expiry among the legs) is described by a *profile*: points
0 = x_0 ≤ x_1 ≤ … ≤ x_M of the underlying price with the P&L v_k at each, linear in between, and a
slope beyond x_M. For same-expiry positions the points are the strikes and the profile is exact. For
calendars and diagonals the far legs are valued by Black–Scholes at their remaining time on a price grid
around the spot (±GRID_WIDTH standard deviations), flat beyond it.

From a profile, with the terminal price lognormal (drift μ, volatility σ over the horizon T):
    F(x) = P(S_T ≤ x) = N(z(x)),   z(x) = (ln(x/S) − (μ − σ²/2)T) / (σ√T)
    M(x) = E[S_T; S_T ≤ x] = S·e^{μT}·N(z(x) − σ√T)
so on each linear piece v = α + βx the exact contributions are P(v > 0) from F at the piece's positive part,
and E[v] = α·ΔF + β·ΔM. Max profit/loss are the extreme point values (±inf when the tail slope says so),
breakevens the exact zero crossings.

Units: prices in ₹ per unit, quantities in units (lots × lot size) signed + bought / − sold, P&L in ₹ for the
whole position, years ACT/365 (optionsv4_lib.reference.calendar), rates and vols as decimals.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from optionsv4_lib.core.errors import InputError
from optionsv4_lib.pricing.black_scholes import bs_greeks, bs_price

CE, PE, STK, NONE = 0, 1, 2, -1
GRID_POINTS = 241
GRID_WIDTH = 6.0  # standard deviations of ln S_T covered by the grid of multi-expiry positions


@dataclass(frozen=True)
class Positions:
    """N positions of up to L legs as (N, L) arrays; padding legs have kind NONE and qty 0.

    kind: CE, PE, STK or NONE. strike: ₹ (ignored for STK). qty: signed units, + bought, − sold.
    premium: ₹ per unit paid or received at entry (the stock's price for STK), ≥ 0.
    years: years to the leg's expiry (ignored for STK). sigma: the leg's volatility, for its greeks and
    for valuing a leg that outlives the horizon.
    """

    kind: np.ndarray
    strike: np.ndarray
    qty: np.ndarray
    premium: np.ndarray
    years: np.ndarray
    sigma: np.ndarray

    @property
    def is_option(self) -> np.ndarray:
        return (self.kind == CE) | (self.kind == PE)

    @property
    def horizon(self) -> np.ndarray:
        """(N,) years to the nearest option expiry of each position (a stock-only position: its legs' years)."""
        nearest = np.where(self.is_option, self.years, np.inf).min(axis=1)
        return np.where(np.isfinite(nearest), nearest, self.years.min(axis=1))

    @property
    def net_premium(self) -> np.ndarray:
        """(N,) ₹ received at entry minus ₹ paid (> 0 is a net credit)."""
        return -(self.qty * self.premium).sum(axis=1)

    def take(self, rows: np.ndarray) -> "Positions":
        """The positions at `rows` (indices or a boolean mask)."""
        return Positions(*(getattr(self, f)[rows] for f in _FIELDS))

    def scaled(self, lots: np.ndarray) -> "Positions":
        """The same positions with every leg's quantity multiplied by `lots` (N,)."""
        return Positions(self.kind, self.strike, self.qty * np.asarray(lots)[:, None], self.premium, self.years, self.sigma)

    @staticmethod
    def concat(parts: list["Positions"]) -> "Positions":
        """Stack positions with different leg counts, padding each to the widest (padding legs: kind NONE, qty 0)."""
        width = max(p.kind.shape[1] for p in parts)
        stacked = {}
        for f in _FIELDS:
            blocks = []
            for p in parts:
                value, pad = getattr(p, f), width - p.kind.shape[1]
                fill = NONE if f == "kind" else 0.0
                edge = value[:, :1] if f in ("years", "sigma") else np.full((len(value), 1), fill, dtype=value.dtype)
                blocks.append(np.concatenate([value, np.repeat(edge, pad, axis=1)], axis=1))
            stacked[f] = np.concatenate(blocks)
        return Positions(**stacked)


_FIELDS = ("kind", "strike", "qty", "premium", "years", "sigma")


@dataclass(frozen=True)
class Profile:
    """P&L at the horizon: values v (N, M) at points x (N, M), linear between, `slope` (N,) beyond x[:, -1]."""

    x: np.ndarray
    v: np.ndarray
    slope: np.ndarray


def horizon_profile(pos: Positions, spot: np.ndarray, sigma: np.ndarray, r: float, q: float) -> Profile:
    """The P&L profile at each position's horizon: exact for single-expiry positions, a grid otherwise."""
    single = np.all(~pos.is_option | np.isclose(pos.years, pos.horizon[:, None], rtol=0, atol=1e-12), axis=1)
    if single.all():
        return _expiry_profile(pos)
    exact, grid = _expiry_profile(pos.take(single)), _grid_profile(pos.take(~single), spot[~single], sigma[~single], r, q)
    width = max(exact.x.shape[1], grid.x.shape[1])
    x, v, slope = np.empty((len(single), width)), np.empty((len(single), width)), np.empty(len(single))
    for rows, part in ((single, exact), (~single, grid)):
        pad = width - part.x.shape[1]  # repeat the last point: zero-length pieces change nothing
        x[rows] = np.pad(part.x, ((0, 0), (0, pad)), mode="edge")
        v[rows] = np.pad(part.v, ((0, 0), (0, pad)), mode="edge")
        slope[rows] = part.slope
    return Profile(x, v, slope)


def _expiry_profile(pos: Positions) -> Profile:
    """Exact expiry P&L: points at 0 and every strike; tail slope = net calls + stock."""
    kinks = np.where(pos.is_option, pos.strike, 0.0)
    x = np.sort(np.concatenate([np.zeros((len(kinks), 1)), kinks], axis=1), axis=1)
    v = _pnl_at_expiry(pos, x)
    slope = np.where((pos.kind == CE) | (pos.kind == STK), pos.qty, 0.0).sum(axis=1)
    return Profile(x, v, slope)


def _pnl_at_expiry(pos: Positions, x: np.ndarray) -> np.ndarray:
    """(N, M) P&L in ₹ when every leg is settled at intrinsic value at prices x (N, M)."""
    xs = x[:, :, None]
    k, kind = pos.strike[:, None, :], pos.kind[:, None, :]
    value = np.select([kind == CE, kind == PE, kind == STK], [np.maximum(xs - k, 0), np.maximum(k - xs, 0), xs], 0.0)
    return ((value - pos.premium[:, None, :]) * pos.qty[:, None, :]).sum(axis=2)


def _grid_profile(pos: Positions, spot: np.ndarray, sigma: np.ndarray, r: float, q: float) -> Profile:
    """P&L at the horizon on a log-spaced price grid plus the near strikes; far legs valued by BSM."""
    t = pos.horizon
    width = GRID_WIDTH * sigma * np.sqrt(t)
    grid = spot[:, None] * np.exp(np.linspace(-1.0, 1.0, GRID_POINTS)[None, :] * width[:, None])
    near_strikes = np.where(pos.is_option, pos.strike, grid[:, :1])
    x = np.sort(np.concatenate([np.zeros((len(t), 1)), grid, near_strikes], axis=1), axis=1)
    remaining = np.where(pos.is_option, pos.years - t[:, None], 0.0)[:, None, :]
    alive = remaining > 0  # legs that outlive the horizon
    value_later = bs_price(
        (pos.kind == CE)[:, None, :],
        np.maximum(x, 1e-9 * spot[:, None])[:, :, None],
        np.where(pos.is_option, pos.strike, 1.0)[:, None, :],
        remaining,
        r,
        np.where(pos.is_option, pos.sigma, 1.0)[:, None, :],
        q,
    )
    later_pnl = (np.where(alive, value_later - pos.premium[:, None, :], 0.0) * pos.qty[:, None, :]).sum(axis=2)
    settled = _pnl_at_expiry(_mask_legs(pos, alive[:, 0, :]), x)
    return Profile(x, settled + later_pnl, np.zeros(len(t)))


def _mask_legs(pos: Positions, drop: np.ndarray) -> Positions:
    """The same positions with the legs where `drop` is True removed (turned into padding)."""
    return Positions(
        np.where(drop, NONE, pos.kind), pos.strike, np.where(drop, 0.0, pos.qty), pos.premium, pos.years, pos.sigma
    )


@dataclass(frozen=True)
class ProfileMetrics:
    """Per position: extremes, breakevens (N, K; NaN-padded, sorted), PoP and expected P&L, all in ₹."""

    max_profit: np.ndarray
    max_loss: np.ndarray
    breakevens: np.ndarray
    pop: np.ndarray
    expected_pnl: np.ndarray


def profile_metrics(
    profile: Profile, spot: np.ndarray, sigma: np.ndarray, years: np.ndarray, drift: np.ndarray, offset: np.ndarray | float = 0.0
) -> ProfileMetrics:
    """Exact metrics of a piecewise-linear P&L (less `offset` ₹, e.g. costs) under a lognormal terminal price."""
    x, slope = profile.x, profile.slope
    v = profile.v - np.asarray(offset, dtype=float).reshape(-1, 1)
    sd = sigma * np.sqrt(years)
    forward = spot * np.exp(drift * years)
    mean_log = (drift - 0.5 * sigma**2) * years

    def cdf(points: np.ndarray) -> np.ndarray:
        return _lognormal_cdf(points, spot[:, None], mean_log[:, None], sd[:, None])

    def partial_mean(points: np.ndarray) -> np.ndarray:
        z = _z(points, spot[:, None], mean_log[:, None], sd[:, None])
        return np.where(np.isposinf(points), forward[:, None], forward[:, None] * ndtr(z - sd[:, None]))

    # pieces: the finite ones between consecutive points, then the tail [x_M, ∞)
    a = np.concatenate([x[:, :-1], x[:, -1:]], axis=1)
    b = np.concatenate([x[:, 1:], np.full((len(x), 1), np.inf)], axis=1)
    va = np.concatenate([v[:, :-1], v[:, -1:]], axis=1)
    finite_len = x[:, 1:] - x[:, :-1]
    beta = np.concatenate([np.divide(np.diff(v, axis=1), finite_len, out=np.zeros_like(finite_len), where=finite_len > 0), slope[:, None]], axis=1)
    alpha = va - beta * a
    is_tail = np.isposinf(b)
    start_pos = va > 0
    end_pos = np.where(is_tail, (beta > 0) | ((beta == 0) & start_pos), alpha + beta * np.where(is_tail, 0.0, b) > 0)
    crosses = start_pos != end_pos
    root = np.where(crosses, np.divide(-alpha, beta, out=np.zeros_like(beta), where=beta != 0), np.nan)

    low = np.where(start_pos, a, root)
    high = np.where(end_pos, b, root)
    positive = start_pos | end_pos
    pop = np.where(positive, cdf(high) - cdf(low), 0.0).sum(axis=1)
    expected = (alpha * (cdf(b) - cdf(a)) + beta * (partial_mean(b) - partial_mean(a))).sum(axis=1)

    max_profit = np.where(slope > 0, np.inf, v.max(axis=1))
    max_loss = np.where(slope < 0, -np.inf, v.min(axis=1))
    return ProfileMetrics(max_profit, max_loss, unique_sorted_roots(root), np.clip(pop, 0.0, 1.0), expected)


def _z(points: np.ndarray, spot, mean_log, sd) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return (np.log(points / spot) - mean_log) / sd


def _lognormal_cdf(points: np.ndarray, spot, mean_log, sd) -> np.ndarray:
    return ndtr(_z(points, spot, mean_log, sd))


def unique_sorted_roots(roots: np.ndarray) -> np.ndarray:
    """Sort each row (NaN last) and blank out repeats of the same root (a touch at a kink counted twice)."""
    roots = np.sort(roots, axis=1)
    repeat = np.zeros_like(roots, dtype=bool)
    repeat[:, 1:] = np.isclose(roots[:, 1:], roots[:, :-1], rtol=1e-12, atol=1e-9)
    roots = np.sort(np.where(repeat, np.nan, roots), axis=1)
    keep = max(int(np.isfinite(roots).sum(axis=1).max(initial=0)), 1)
    return roots[:, :keep]


def touch_probability(spot: np.ndarray, barrier: np.ndarray, sigma: np.ndarray, years: np.ndarray, drift: np.ndarray) -> np.ndarray:
    """P(the price touches `barrier` before `years`) for a GBM with drift μ: the reflection principle with drift.

    With ν = μ − σ²/2 and a = ln(B/S): up-barrier P = N((−a + νT)/σ√T) + e^{2νa/σ²}·N((−a − νT)/σ√T);
    a down-barrier is the mirror image. A barrier already at or beyond the spot has probability 1.
    """
    spot, barrier, sigma, years, drift = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (spot, barrier, sigma, years, drift)))
    nu = drift - 0.5 * sigma**2
    a = np.log(barrier / spot)
    up = a > 0
    a_up, nu_up = np.where(up, a, -a), np.where(up, nu, -nu)  # mirror down-barriers into up-barriers
    sd = sigma * np.sqrt(years)
    with np.errstate(over="ignore"):
        prob = ndtr((-a_up + nu_up * years) / sd) + np.exp(2 * nu_up * a_up / sigma**2) * ndtr((-a_up - nu_up * years) / sd)
    return np.where(a == 0, 1.0, np.clip(prob, 0.0, 1.0))


@dataclass(frozen=True)
class PositionGreeks:
    """Net position greeks in ₹: delta per ₹1 move, gamma per ₹1², vega per vol point, theta per day."""

    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray


def position_greeks(pos: Positions, spot: np.ndarray, r: float, q: float) -> PositionGreeks:
    """Sum of qty × greeks over the legs, each option with its own vol and expiry; stock has delta 1."""
    option = pos.is_option
    g = bs_greeks(
        pos.kind == CE,
        np.broadcast_to(spot[:, None], pos.kind.shape),
        np.where(option, pos.strike, spot[:, None]),
        np.where(option, pos.years, 1.0),
        r,
        np.where(option, pos.sigma, 0.2),
        q,
    )
    qty = np.where(option, pos.qty, 0.0)
    stock_delta = np.where(pos.kind == STK, pos.qty, 0.0).sum(axis=1)
    return PositionGreeks(
        delta=(qty * g.delta).sum(axis=1) + stock_delta,
        gamma=(qty * g.gamma).sum(axis=1),
        vega=(qty * g.vega).sum(axis=1),
        theta=(qty * g.theta).sum(axis=1),
    )


def stress_loss(profile: Profile, spot: np.ndarray, move: float) -> np.ndarray:
    """(N,) the worst P&L (₹, ≤ 0 unless riskless) for prices within spot·(1 ± move): a margin estimate."""
    lo, hi = spot * (1 - move), spot * (1 + move)
    x, v = profile.x, profile.v
    inside = (x >= lo[:, None]) & (x <= hi[:, None])
    ends = np.stack([_value_at(profile, lo), _value_at(profile, hi)], axis=1)
    return np.minimum(np.where(inside, v, np.inf).min(axis=1), ends.min(axis=1))


def _value_at(profile: Profile, price: np.ndarray) -> np.ndarray:
    """(N,) the profile's P&L at one price per position (linear inside, tail slope beyond the last point)."""
    x, v = profile.x, profile.v
    k = np.clip((x <= price[:, None]).sum(axis=1) - 1, 0, x.shape[1] - 1)
    rows = np.arange(len(x))
    nxt = np.minimum(k + 1, x.shape[1] - 1)
    span = x[rows, nxt] - x[rows, k]
    inner = np.divide(v[rows, nxt] - v[rows, k], span, out=np.zeros_like(span), where=span > 0)
    beyond = price >= x[:, -1]
    slope = np.where(beyond, profile.slope, inner)
    return v[rows, k] + slope * (price - x[rows, k])


def check_market_inputs(spot, sigma, years, rate, q) -> None:
    """Raise InputError naming the field for impossible market inputs."""
    for name, value, ok in (
        ("spot", spot, lambda a: a > 0),
        ("vol", sigma, lambda a: a > 0),
        ("years", years, lambda a: a > 0),
        ("rate", rate, lambda a: np.abs(a) < 1),
        ("q", q, lambda a: np.abs(a) < 1),
    ):
        arr = np.asarray(value, dtype=float)
        if arr.size == 0:
            raise InputError(f"{name}: empty")
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{name}: must be a finite number, got {value!r}")
        if not np.all(ok(arr)):
            raise InputError(f"{name}: out of range, got {value!r}")


def evaluate_positions(
    pos: Positions,
    spot: np.ndarray,
    sigma: np.ndarray,
    r: float,
    q: float,
    *,
    drift: np.ndarray | float | None = None,
    costs: np.ndarray | None = None,
    stress_move: float = 0.15,
    defined_risk: np.ndarray | None = None,
    risk_floor: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """All metrics of N positions as arrays keyed by name (₹ for the whole position unless said otherwise).

    spot (N,) ₹ and sigma (N,) decimal: the underlying and the volatility of its terminal distribution.
    drift: μ of that distribution, default risk-neutral r − q. costs: (N,) ₹ round-trip costs; when given,
    the *_net metrics are added. stress_move: the ±price move (decimal) whose worst loss is the capital at risk
    of an undefined-risk position. defined_risk: (N,) bool, the catalog's verdict per position (default: a finite
    max loss); capital at risk is |max loss| for defined risk, the stress loss otherwise — so a 1×2 put ratio
    spread, whose finite max loss sits at a price of 0, is sized by its stress loss. risk_floor: (N,) ₹, a loss the
    capital at risk of an undefined-risk position is at least (e.g. its worst instant gap with a volatility spike).
    Keys: net_premium, max_profit, max_loss, unbounded_profit, unbounded_loss, breakevens (N, K; NaN-padded),
    pop, expected_pnl, capital_at_risk, reward_risk, return_on_risk, delta, gamma, vega, theta,
    touch (N, L: probability that each short option leg's strike is touched before the horizon; NaN elsewhere).
    """
    years = pos.horizon
    mu = np.broadcast_to(np.asarray(r - q if drift is None else drift, dtype=float), years.shape)
    profile = horizon_profile(pos, spot, sigma, r, q)
    gross = profile_metrics(profile, spot, sigma, years, mu)
    defined = np.isfinite(gross.max_loss) if defined_risk is None else np.asarray(defined_risk, bool)
    undefined = -stress_loss(profile, spot, stress_move)
    if risk_floor is not None:
        undefined = np.maximum(undefined, risk_floor)
    capital = np.where(defined & np.isfinite(gross.max_loss), -gross.max_loss, undefined)
    greeks = position_greeks(pos, spot, r, q)
    short_option = pos.is_option & (pos.qty < 0)
    barrier = np.where(short_option, pos.strike, spot[:, None])
    touch = touch_probability(spot[:, None], barrier, sigma[:, None], years[:, None], mu[:, None])
    out = {
        "net_premium": pos.net_premium,
        "max_profit": gross.max_profit,
        "max_loss": gross.max_loss,
        "unbounded_profit": np.isposinf(gross.max_profit),
        "unbounded_loss": np.isneginf(gross.max_loss),
        "breakevens": gross.breakevens,
        "pop": gross.pop,
        "expected_pnl": gross.expected_pnl,
        "capital_at_risk": capital,
        "reward_risk": over_capital(gross.max_profit, capital),
        "return_on_risk": over_capital(gross.expected_pnl, capital),
        "delta": greeks.delta,
        "gamma": greeks.gamma,
        "vega": greeks.vega,
        "theta": greeks.theta,
        "touch": np.where(short_option, touch, np.nan),
    }
    if costs is not None:
        net = profile_metrics(profile, spot, sigma, years, mu, offset=costs)
        out |= {
            "costs": costs,
            "max_profit_net": net.max_profit,
            "max_loss_net": net.max_loss,
            "breakevens_net": net.breakevens,
            "pop_net": net.pop,
            "expected_pnl_net": net.expected_pnl,
        }
    return out


def over_capital(numerator: np.ndarray, capital: np.ndarray) -> np.ndarray:
    """numerator / capital at risk; a position with nothing at risk gets ±inf (never NaN)."""
    fallback = np.where(numerator >= 0, np.inf, -np.inf)
    with np.errstate(over="ignore"):  # a tiny capital at risk: the ratio's limit is ±inf
        return np.divide(numerator, capital, out=fallback.astype(float), where=capital > 0)
