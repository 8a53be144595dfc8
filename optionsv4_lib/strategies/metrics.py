"""Strategy metrics as public results: `strategy_metrics` for one strategy given as leg dicts, and
`evaluate_candidates` for a symbol's whole candidate set (tables for ranking, storage and people)."""

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from optionsv4_lib.core.domain import normalize_side
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.reference.calendar import years_to_expiry
from optionsv4_lib.reference.costs import round_trip_costs
from optionsv4_lib.strategies.candidates import CandidateSet
from optionsv4_lib.strategies.evaluate import CE, NONE, PE, STK, Positions, check_market_inputs, evaluate_positions

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
) -> dict[str, Any]:
    """Payoff, probability and risk of one multi-leg position, gross of costs unless `costs` is a trade date.

    legs: dicts {"type": "CE"|"PE"|"STK", "strike": ₹ (not for STK), "side": "BUY"|"SELL", "qty": units,
    "premium": ₹ per unit (for STK the entry price)}; optional per leg "years" (default `years`) and "vol"
    (default `vol`) for calendars and diagonals. spot ₹; vol, rate, q decimals; years to the horizon (ACT/365).
    drift: μ of the lognormal terminal price, default risk-neutral rate − q.
    costs: a trade date; adds round-trip Indian costs (optionsv4_lib.reference.costs) and the *_net metrics.

    Returns (₹ for the whole position): pop (P(expiry P&L > 0)), expected_pnl, max_profit (inf if unbounded),
    max_loss (≤ 0, -inf if unbounded), breakevens (sorted list), net_premium (> 0 credit), capital_at_risk,
    reward_risk, return_on_risk, delta, gamma, vega, theta, touch (per leg, None except short options),
    and with costs: costs, pop_net, expected_pnl_net, max_profit_net, max_loss_net, breakevens_net.
    """
    check_market_inputs(spot, vol, years, rate, q)
    pos = _positions(legs, vol, years)
    cost = None if costs is None else position_costs(pos, costs)
    metrics = evaluate_positions(
        pos, np.array([float(spot)]), np.array([float(vol)]), rate, q, drift=drift, costs=cost, stress_move=stress_move
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
    per_leg = round_trip_costs(instrument, side, pos.premium[real], pos.premium[real], np.abs(pos.qty[real]), trade_date).total
    return np.bincount(np.nonzero(real)[0], weights=per_leg, minlength=len(pos.kind))


def evaluate_candidates(
    cset: CandidateSet, r: float, q: float, trade_date: date, *, drift: float | None = None, stress_move: float = 0.15
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(candidates, legs): the candidate meta table with every metric of evaluate_positions, gross and net of
    round-trip costs, and the legs table with each short leg's touch probability. Breakevens are lists."""
    pos = cset.positions
    metrics = evaluate_positions(
        pos, np.full(len(cset.meta), cset.spot), cset.sigma, r, q,
        drift=drift, costs=position_costs(pos, trade_date), stress_move=stress_move,
    )
    table = cset.meta.copy()
    for key, value in metrics.items():
        if key == "touch":
            continue
        table[key] = [_finite_list(row) for row in value] if value.ndim == 2 else value
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
