"""Strategy metrics as public results: `strategy_metrics` for one strategy given as leg dicts, and
`evaluate_candidates` for a symbol's whole candidate set (tables for ranking, storage and people).

A candidate set is valued under two measures (ARCHITECTURE.md, "Valuation"), both in ₹ today at the entry
prices (buys at the ask, sells at the bid) and net of round-trip costs where the name says so:
- the market: the smile of each expiry (pricing.smile) — pop_market, expected_pnl_market (net of costs). Its
  density gives the probabilities; a traded leg is valued at the smile's price projected into the leg's two-sided
  quote (the fit's residual there, reported per quote with the smile, is not counted as value). So a trade
  entered at the touch is worth −(half-spreads + costs) up to the model's distance from the mid: never above
  −costs.
- the view: a lognormal at the forecast volatility with the market state's drift (analysis.forecast) — pop and
  expected_pnl (gross), pop_net and expected_pnl_net. edge = expected_pnl_net − expected_pnl_market: what the
  view adds to the market's price, the only source of a positive expectation.
Payoff extremes, breakevens, greeks and capital at risk do not depend on the measure (strategies.evaluate)."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from optionsv4_lib.core.domain import normalize_side
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.pricing.smile import SmileCurve
from optionsv4_lib.reference.calendar import years_to_expiry
from optionsv4_lib.reference.costs import round_trip_costs
from optionsv4_lib.strategies.candidates import CandidateSet
from optionsv4_lib.strategies.evaluate import (
    CE,
    NONE,
    PE,
    STK,
    Positions,
    check_market_inputs,
    evaluate_positions,
    over_capital,
)
from optionsv4_lib.strategies.measures import (
    LognormalView,
    calendar_metrics,
    expiry_metrics,
    touch_probability,
    undiscounted_call,
)

_SAME_EXPIRY = 1e-9  # years: a leg expiring later than the near expiry by more than this is a far leg

_KINDS = {"CE": CE, "CALL": CE, "PE": PE, "PUT": PE, "STK": STK, "STOCK": STK}


def strategy_metrics(
    legs: list[dict[str, Any]],
    spot: float,
    vol: float,
    rate: float,
    years: float,
    q: float = 0.0,
    *,
    drift: float | None = None,
    costs: date | None = None,
    stress_move: float = 0.15,
    defined_risk: bool | None = None,
    risk_floor: float | None = None,
) -> dict[str, Any]:
    """Payoff, probability and risk of one multi-leg position, gross of costs unless `costs` is a trade date.

    legs: dicts {"type": "CE"|"PE"|"STK", "strike": ₹ (not for STK), "side": "BUY"|"SELL", "qty": units,
    "premium": ₹ per unit (for STK the entry price)}; optional per leg "years" (default `years`) and "vol"
    (default `vol`) for calendars and diagonals. spot ₹; vol, rate, q decimals; years to the horizon (ACT/365).
    drift: μ of the lognormal terminal price, default risk-neutral rate − q.
    costs: a trade date; adds round-trip Indian costs (optionsv4_lib.reference.costs) and the *_net metrics.
    stress_move, defined_risk, risk_floor (₹): the capital at risk, as for evaluate.evaluate_positions.

    Returns (₹ for the whole position): pop (P(expiry P&L > 0)), expected_pnl, max_profit (inf if unbounded),
    max_loss (≤ 0, -inf if unbounded), breakevens (sorted list), net_premium (> 0 credit), capital_at_risk,
    reward_risk, return_on_risk, delta, gamma, vega, theta, touch (per leg, None except short options),
    and with costs: costs, pop_net, expected_pnl_net, max_profit_net, max_loss_net, breakevens_net.
    """
    check_market_inputs(spot, vol, years, rate, q)
    pos = _positions(legs, vol, years)
    cost = None if costs is None else position_costs(pos, costs)
    metrics = evaluate_positions(
        pos, np.array([float(spot)]), np.array([float(vol)]), rate, q, drift=drift, costs=cost, stress_move=stress_move,
        defined_risk=None if defined_risk is None else np.array([defined_risk]),
        risk_floor=None if risk_floor is None else np.array([float(risk_floor)]),
    )
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        row = value[0]
        if key.startswith("breakevens"):
            out[key] = _finite_list(row)
        elif key == "touch":
            out[key] = [None if np.isnan(t) else float(t) for t in row]
        elif isinstance(row, np.bool_):
            out[key] = bool(row)
        else:
            out[key] = float(row)
    return out


def _positions(legs: list[dict[str, Any]], vol: float, years: float) -> Positions:
    """Validate the leg dicts and turn them into a one-row Positions."""
    if not isinstance(legs, (list, tuple)) or not legs:
        raise InputError("legs: need a non-empty list of leg dicts")
    kind, strike, qty, premium, leg_years, sigma = [], [], [], [], [], []
    for i, leg in enumerate(legs):
        where = f"legs[{i}]"
        leg_type = str(leg.get("type", "")).strip().upper()
        if leg_type not in _KINDS:
            raise InputError(f"{where}.type: unknown leg type {leg.get('type')!r}; expected 'CE', 'PE' or 'STK'")
        side = normalize_side(leg.get("side", ""), f"{where}.side")
        size = _number(leg, "qty", where)
        if size <= 0:
            raise InputError(f"{where}.qty: must be > 0 units, got {size}")
        price = _number(leg, "premium", where)
        if price < 0:
            raise InputError(f"{where}.premium: must be ≥ 0 ₹ per unit, got {price}")
        k = 0.0
        if _KINDS[leg_type] != STK:
            k = _number(leg, "strike", where)
            if k <= 0:
                raise InputError(f"{where}.strike: must be > 0, got {k}")
        t = _number(leg, "years", where, default=years)
        s = _number(leg, "vol", where, default=vol)
        if t <= 0 or s <= 0:
            raise InputError(f"{where}: years and vol must be > 0, got years={t}, vol={s}")
        kind.append(_KINDS[leg_type])
        strike.append(k)
        qty.append(size if side == "BUY" else -size)
        premium.append(price)
        leg_years.append(t)
        sigma.append(s)
    row = lambda values, dtype=float: np.array([values], dtype=dtype)  # noqa: E731
    return Positions(row(kind, np.int8), row(strike), row(qty), row(premium), row(leg_years), row(sigma))


def _number(leg: dict, key: str, where: str, default: float | None = None) -> float:
    if key not in leg:
        if default is None:
            raise InputError(f"{where}.{key}: missing")
        return float(default)
    try:
        value = float(leg[key])
    except (TypeError, ValueError):
        raise InputError(f"{where}.{key}: not a number: {leg[key]!r}") from None
    if not np.isfinite(value):
        raise InputError(f"{where}.{key}: must be finite, got {leg[key]!r}")
    return value


def position_costs(pos: Positions, trade_date: date) -> np.ndarray:
    """(N,) ₹ round-trip costs of each position: every leg opened at its entry price and closed at the same price."""
    real = pos.kind != NONE
    instrument = np.where(pos.kind[real] == STK, "STOCK", "OPTION")
    side = np.where(pos.qty[real] > 0, "BUY", "SELL")
    per_leg = round_trip_costs(instrument, side, pos.premium[real], pos.premium[real], np.abs(pos.qty[real]),
                               trade_date).total
    return np.bincount(np.nonzero(real)[0], weights=per_leg, minlength=len(pos.kind))


@dataclass(frozen=True)
class Valuation:
    """How one symbol's positions are valued: the market (the near expiry's smile, and the far one's for
    calendars) and the view (σ_view, the forecast vol, decimal; drift, annual decimal over the forward's own)."""

    near: SmileCurve
    far: SmileCurve | None
    view_sigma: float
    view_drift: float

    def view(self) -> LognormalView:
        """The view's law of S at the near expiry: lognormal around the near forward moved by the drift."""
        return LognormalView(self.near.forward, self.view_sigma, self.view_drift, self.near.years, self.near.rate)

    def to_dict(self) -> dict:
        """JSON-safe: how a valuation travels between tasks."""
        return {"near": self.near.to_dict(), "far": None if self.far is None else self.far.to_dict(),
                "view_sigma": self.view_sigma, "view_drift": self.view_drift}

    @staticmethod
    def from_dict(raw: dict) -> "Valuation":
        return Valuation(SmileCurve.from_dict(raw["near"]), None if raw["far"] is None else
                         SmileCurve.from_dict(raw["far"]), float(raw["view_sigma"]), float(raw["view_drift"]))


def value_positions(pos: Positions, valuation: Valuation, costs: np.ndarray,
                    quotes: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The measure-dependent metrics of N positions (module docstring), ₹ for the whole positions: pop,
    expected_pnl, pop_net, expected_pnl_net (the view), pop_market, expected_pnl_market (the smile, net of
    `costs`), edge, and touch (N, L): the smile's probability that each short option leg's strike is touched
    before the near expiry (NaN elsewhere). Legs expiring after the near expiry need `valuation.far`.
    quotes: (bid, ask) ₹/unit per leg, (N, L), 0 where a side is missing: the legs' quotes the smile's prices are
    projected into."""
    far_leg = pos.is_option & (pos.years > valuation.near.years + _SAME_EXPIRY)
    calendar = far_leg.any(axis=1)
    if calendar.any() and valuation.far is None:
        raise InputError("valuation: positions with a far leg need the far expiry's smile")
    out = {key: np.full(len(pos.kind), np.nan) for key in
           ("pop", "expected_pnl", "pop_net", "expected_pnl_net", "pop_market", "expected_pnl_market")}
    for rows in (~calendar, calendar):
        if not rows.any():
            continue
        part, part_costs = pos.take(rows), costs[rows]

        def measure(law, cost):
            if rows is calendar:
                return calendar_metrics(part, far_leg[rows], valuation.near, valuation.far, law, cost)
            return expiry_metrics(part, valuation.near if law is None else law, cost)

        view, view_net, market = (measure(valuation.view(), 0.0), measure(valuation.view(), part_costs),
                                  measure(None, part_costs))
        anchor = _far_anchor(part, far_leg[rows], valuation) if rows is calendar else 0.0
        out["pop"][rows], out["expected_pnl"][rows] = view.pop, view.expected_pnl + anchor
        out["pop_net"][rows], out["expected_pnl_net"][rows] = view_net.pop, view_net.expected_pnl + anchor
        out["pop_market"][rows], out["expected_pnl_market"][rows] = market.pop, market.expected_pnl + anchor
    if quotes is not None:
        out["expected_pnl_market"] += _projection(pos, valuation, far_leg, *quotes)
    out["edge"] = out["expected_pnl_net"] - out["expected_pnl_market"]
    short_option = pos.is_option & (pos.qty < 0)
    strikes = np.where(short_option, pos.strike, valuation.near.forward)
    out["touch"] = np.where(short_option, touch_probability(valuation.near, strikes), np.nan)
    return out


def _far_anchor(pos: Positions, far_leg: np.ndarray, valuation: Valuation) -> np.ndarray:
    """(N,) ₹: Σ over far legs of qty × (the far smile's price today − the near smile's expectation of the leg's
    discounted value at the near expiry, as calendar_metrics values it). Added to a calendar's E[P&L] so that under
    the market a far leg is worth its own smile's price, not what the sticky-strike approximation makes of it; the
    view gets the same correction, so the edge is the two laws' difference at T1 alone."""
    near, far = valuation.near, valuation.far
    anchor = np.zeros(len(pos.kind))
    for column in range(pos.kind.shape[1]):  # one far leg at a time: one unit of it, expected at T1
        rows = np.flatnonzero(far_leg[:, column])
        if not len(rows):
            continue
        one = np.s_[rows, column:column + 1]
        unit = Positions(pos.kind[one], pos.strike[one], np.ones((len(rows), 1)), np.zeros((len(rows), 1)),
                         pos.years[one], pos.sigma[one])
        expected = calendar_metrics(unit, np.ones((len(rows), 1), dtype=bool), near, far).expected_pnl
        today = _option_value(far, pos.kind[rows, column], pos.strike[rows, column])
        anchor[rows] += pos.qty[rows, column] * (today - expected)
    return anchor


def _option_value(curve: SmileCurve, kind: np.ndarray, strike: np.ndarray) -> np.ndarray:
    """₹/unit today of options of `kind` (CE/PE) at `strike` under `curve`: discounted call, or put by parity."""
    call = undiscounted_call(curve, strike)
    return np.exp(-curve.rate * curve.years) * np.where(kind == CE, call, call - curve.forward + strike)


def _projection(pos: Positions, valuation: Valuation, far_leg: np.ndarray, bid: np.ndarray,
                ask: np.ndarray) -> np.ndarray:
    """(N,) ₹: Σ qty × (the smile's leg value projected into [bid, ask] − the smile's leg value) over the legs with
    a two-sided quote (a stock leg's is its price)."""
    model = np.zeros_like(pos.premium)
    for is_far, curve in ((False, valuation.near), (True, valuation.far)):
        legs = pos.is_option & (far_leg == is_far)
        if curve is not None and legs.any():
            model[legs] = _option_value(curve, pos.kind[legs], pos.strike[legs])
    stock = pos.kind == STK  # worth the near forward, discounted; its quote is the spot
    model[stock] = np.exp(-valuation.near.rate * valuation.near.years) * valuation.near.forward
    two_sided = (pos.is_option | stock) & (bid > 0) & (ask >= bid)
    return (pos.qty * np.where(two_sided, np.clip(model, bid, ask) - model, 0.0)).sum(axis=1)


def leg_quotes(legs: pd.DataFrame, ids: list[str], width: int) -> tuple[np.ndarray, np.ndarray]:
    """(bid, ask) ₹/unit as (N, width) arrays in the row order of `ids` and the column order of leg_no (0 where a
    leg has no quote or does not exist)."""
    row = pd.Series(np.arange(len(ids)), index=ids)[legs["candidate_id"]].to_numpy()
    col = legs["leg_no"].to_numpy(int)
    quotes = []
    for side in ("bid", "ask"):
        matrix = np.zeros((len(ids), width))
        matrix[row, col] = np.nan_to_num(legs[side].to_numpy(float))
        quotes.append(matrix)
    return quotes[0], quotes[1]


def evaluate_candidates(cset: CandidateSet, r: float, q: float, trade_date: date, *, valuation: Valuation,
                        stress_move: float = 0.15, risk_floor: np.ndarray | None = None,
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(candidates, legs): the candidate meta table with the measure-free metrics of evaluate_positions (gross and
    net of round-trip costs), the metrics of both measures (value_positions), forecast_vol and implied_vol; and
    the legs table with each short leg's touch probability. Breakevens are lists."""
    pos = cset.positions
    costs = position_costs(pos, trade_date)
    defined = (cset.meta["risk_type"] == "defined").to_numpy()
    metrics = evaluate_positions(pos, np.full(len(cset.meta), cset.spot), cset.sigma, r, q, costs=costs,
                                 stress_move=stress_move, defined_risk=defined, risk_floor=risk_floor)
    ids = list(cset.meta["candidate_id"])
    metrics |= value_positions(pos, valuation, costs, leg_quotes(cset.legs, ids, pos.kind.shape[1]))
    metrics["return_on_risk"] = over_capital(metrics["expected_pnl"], metrics["capital_at_risk"])
    table = cset.meta.copy()
    for key, value in metrics.items():
        if key == "touch":
            continue
        table[key] = [_finite_list(row) for row in value] if value.ndim == 2 else value
    table["forecast_vol"], table["implied_vol"] = valuation.view_sigma, valuation.near.atm_vol
    legs = cset.legs.copy()
    row_of = pd.Series(np.arange(len(table)), index=table["candidate_id"])
    legs["touch_prob"] = metrics["touch"][row_of[legs["candidate_id"]].to_numpy(), legs["leg_no"].to_numpy()]
    return table, legs


def _finite_list(row: np.ndarray) -> list[float]:
    return [float(v) for v in row if np.isfinite(v)]


def positions_from_legs(legs: pd.DataFrame, as_of: datetime, ids: list[str]) -> Positions:
    """Rebuild the Positions of the candidates `ids` (in that order) from a legs table (analysis.result.LEG_COLUMNS).

    Leg prices are the entry prices, expiries turn into years from `as_of`; a stock leg's years are its
    position's nearest option expiry.
    """
    kinds = {"CE": CE, "PE": PE, "STK": STK}
    parts = []
    for cid in ids:
        rows = legs[legs["candidate_id"] == cid].sort_values("leg_no")
        if rows.empty:
            raise InputError(f"legs: no legs for candidate {cid!r}")
        options = rows["instrument"] != "STK"
        years = np.zeros(len(rows))
        years[options.to_numpy()] = years_to_expiry(as_of, rows.loc[options, "expiry"].to_numpy(dtype="datetime64[D]"))
        years[~options.to_numpy()] = years[options.to_numpy()].min() if options.any() else 1 / 365
        sign = np.where(rows["side"] == "BUY", 1.0, -1.0)
        iv = rows["iv"].to_numpy(dtype=float)
        parts.append(Positions(
            rows["instrument"].map(kinds).to_numpy(np.int8)[None, :],
            np.nan_to_num(rows["strike"].to_numpy(dtype=float))[None, :],
            (sign * rows["qty"].to_numpy(dtype=float))[None, :],
            rows["entry_price"].to_numpy(dtype=float)[None, :],
            years[None, :],
            np.where(np.isfinite(iv), iv, np.nanmean(iv) if np.isfinite(iv).any() else 0.2)[None, :],
        ))
    return Positions.concat(parts)
