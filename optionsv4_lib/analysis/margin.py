"""What a broker blocks for an option position: SPAN-style scenario margin + exposure margin, hedge-aware.

Vectorized over N positions × L legs of one underlying (quantity 0 pads a position shorter than L). Per position:
- scan risk: the 16 SPAN scenarios revalue every leg with Black–Scholes on spot (q = 0, time to expiry unchanged):
  the underlying at 0, ±1/3, ±2/3, ±1 price scan range with the vol up and down by the volatility scan range
  (14 scenarios, loss counted in full), and ±extreme_move × the range at today's vol, extreme_weight of the loss
  counted (NSE: 2 × at 35 %). Scan risk = the worst weighted loss of the whole position (≥ 0): legs offset, which
  is the hedge benefit. With a SPAN risk-parameter file, its risk arrays (per unit, extremes already weighted)
  replace our revaluation for positions whose every leg the file lists.
- calendar spread charge: calendar_spread × spot × the delta matched between expiries (per expiry the net delta of
  its legs; matched = the smaller of the long and the short net deltas summed). NSE forms spreads pair by pair in a
  priority order; for two expiries both give the same figure.
- expiry day: legs expiring today (under one day to the close) are scanned on their own, with no offset against
  other expiries (SEBI, from 1-Feb-2025), and their short index options pay the extra expiry-day exposure.
- SPAN margin = max(max(scan risk + calendar charge, short option minimum) − net option value, 0). Net option value
  = the legs' value today (₹, + long, − short), as in CME SPAN as NSE uses it: a short's premium is added (NSE
  credits the premium received to the account separately), a long's value is credited. So a long-only position
  needs 0 beyond the premium paid.
- exposure margin = exposure × spot × short option units (+ expiry_day_exposure on those expiring today).
Money in ₹, quantities in units (+ long, − short), years ACT/365, vols as decimals.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from optionsv4_lib.core.errors import InputError
from optionsv4_lib.marketdata.span_file import RiskArrays, SpanFile
from optionsv4_lib.pricing.black_scholes import bs_greeks, bs_price
from optionsv4_lib.reference.calendar import DAYS_PER_YEAR
from optionsv4_lib.reference.margin_parameters import MarginParameters

SCAN_MOVES = np.array([0, 0, 1, 1, -1, -1, 2, 2, -2, -2, 3, 3, -3, -3]) / 3  # × price scan range
SCAN_VOLS = np.array([1, -1] * 7)  # × volatility scan range
N_SCENARIOS = 16
_CHUNK = 8_192  # positions revalued at once (bounds memory: chunk × L × 16 floats per array)

COMPONENTS = ("scan_risk", "calendar_spread", "short_option_minimum", "net_option_value", "span", "exposure",
              "total")


@dataclass(frozen=True)
class MarginBreakdown:
    """Per position (arrays of shape (N,)), ₹: the SPAN components, the SPAN margin, exposure and the total."""

    scan_risk: np.ndarray
    calendar_spread: np.ndarray
    short_option_minimum: np.ndarray
    net_option_value: np.ndarray
    span: np.ndarray
    exposure: np.ndarray
    total: np.ndarray

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({name: getattr(self, name) for name in COMPONENTS})


def strategy_margin(strike: ArrayLike, is_call: ArrayLike, quantity: ArrayLike, years: ArrayLike, vol: ArrayLike,
                    *, spot: ArrayLike, rate: float, params: MarginParameters,
                    risk_arrays: RiskArrays | None = None) -> MarginBreakdown:
    """Margin (₹) of N positions of L legs on one underlying: legs as (N, L) arrays (strike ₹, is_call bool,
    quantity in signed units, 0 = pad; years to expiry; implied vol decimal), spot ₹ (scalar or (N,)), rate
    continuously compounded. `risk_arrays`: a SPAN file's arrays for these legs (used where `covered`)."""
    strike, is_call, quantity, years, vol = _legs(strike, is_call, quantity, years, vol)
    n = strike.shape[0]
    spot = np.broadcast_to(np.asarray(spot, dtype=float), (n,))
    if not np.all(np.isfinite(spot) & (spot > 0)):
        raise InputError("spot: expected ₹ > 0 for every position")
    parts = [_chunk(strike[i:i + _CHUNK], is_call[i:i + _CHUNK], quantity[i:i + _CHUNK], years[i:i + _CHUNK],
                    vol[i:i + _CHUNK], spot[i:i + _CHUNK], rate, params,
                    None if risk_arrays is None else _slice(risk_arrays, slice(i, i + _CHUNK)))
             for i in range(0, n, _CHUNK)]
    return MarginBreakdown(*(np.concatenate([getattr(p, name) for p in parts]) for name in COMPONENTS))


def book_margin(legs: pd.DataFrame, *, spot: dict[str, float], rate: float,
                params: dict[str, MarginParameters], span: SpanFile | None = None) -> pd.DataFrame:
    """Margin (₹) of a whole book: legs netted per contract, every contract of one underlying margined together
    (scenarios combined — the hedge benefit between positions), summed across underlyings. `legs` columns: symbol,
    strike, option_type (CE/PE), quantity (signed units), years, iv, and expiry (dates) when `span` is given: an
    underlying whose every contract the SPAN file lists is margined on its risk arrays. Returns one row per symbol
    (COMPONENTS) and a last row "TOTAL"."""
    need = ["symbol", "strike", "option_type", "quantity", "years", "iv"] + (["expiry"] if span is not None else [])
    missing = [c for c in need if c not in legs.columns]
    if missing:
        raise InputError(f"legs: missing column(s) {', '.join(missing)}")
    keys = ["symbol", "option_type", "strike", "years"] + (["expiry"] if span is not None else [])
    net = legs.groupby(keys, as_index=False).agg(
        quantity=("quantity", "sum"), iv=("iv", "mean"))  # a contract held by two positions is one net position
    rows = {}
    for symbol, group in net.groupby("symbol", sort=True):
        if symbol not in spot or symbol not in params:
            raise InputError(f"{symbol}: no spot or margin parameters given")
        strike, is_call = group["strike"].to_numpy(float)[None], (group["option_type"] == "CE").to_numpy()[None]
        quantity = group["quantity"].to_numpy(float)[None]
        arrays = None if span is None else span.risk_arrays(
            symbol, strike, is_call, pd.to_datetime(group["expiry"]).to_numpy().astype("datetime64[D]")[None],
            quantity)
        one = strategy_margin(strike, is_call, quantity, group["years"].to_numpy(float)[None],
                              group["iv"].to_numpy(float)[None], spot=spot[symbol], rate=rate, params=params[symbol],
                              risk_arrays=arrays)
        rows[symbol] = one.frame().iloc[0]
    frame = pd.DataFrame(rows).T.reindex(columns=list(COMPONENTS))
    frame.loc["TOTAL"] = frame.sum()
    return frame


def _chunk(strike, is_call, quantity, years, vol, spot, rate, params, risk_arrays) -> MarginBreakdown:
    """strategy_margin on one chunk of positions."""
    s = spot[:, None]
    today_value = bs_price(is_call, s, strike, years, rate, vol)  # (n, L) ₹/unit
    unit_loss = _weights(params) * (today_value[..., None] - _scenario_values(strike, is_call, years, vol, s, rate,
                                                                              params))
    delta = bs_greeks(is_call, s, strike, years, rate, vol).delta
    if risk_arrays is not None:
        use = risk_arrays.covered[:, None]
        unit_loss = np.where(use[..., None], risk_arrays.losses, unit_loss)
        delta = np.where(use, risk_arrays.delta, delta)
        today_value = np.where(use, risk_arrays.price, today_value)
    expiring = (years < 1.0 / DAYS_PER_YEAR) & (quantity != 0)
    leg_loss = quantity[..., None] * unit_loss  # (n, L, 16) ₹
    scan = _worst(np.where(expiring[..., None], 0.0, leg_loss).sum(axis=1)) + \
        _worst(np.where(expiring[..., None], leg_loss, 0.0).sum(axis=1))
    calendar = params.calendar_spread * spot * _matched_delta(np.where(expiring, 0.0, quantity * delta), years)
    short_units = np.where(quantity < 0, -quantity, 0.0)
    som = params.short_option_minimum * spot * short_units.sum(axis=1)
    nov = (quantity * today_value).sum(axis=1)
    span = np.maximum(np.maximum(scan + calendar, som) - nov, 0.0)
    exposure = spot * (params.exposure * short_units.sum(axis=1)
                       + params.expiry_day_exposure * np.where(expiring, short_units, 0.0).sum(axis=1))
    return MarginBreakdown(scan, calendar, som, nov, span, exposure, span + exposure)


def _scenario_values(strike, is_call, years, vol, spot, rate, params: MarginParameters) -> np.ndarray:
    """(n, L, 16) ₹/unit: every leg revalued in the 16 scenarios."""
    moves = np.concatenate([SCAN_MOVES, [params.extreme_move, -params.extreme_move]])
    vols = np.concatenate([SCAN_VOLS, [0, 0]]) * params.volatility_scan
    scenario_spot = spot[..., None] * (1.0 + moves * params.price_scan)
    if np.any(scenario_spot <= 0):
        raise InputError(f"margin parameters: extreme move {params.extreme_move:g} × price scan "
                         f"{params.price_scan:g} takes the underlying to ≤ 0")
    return bs_price(is_call[..., None], scenario_spot, strike[..., None], years[..., None], rate,
                    np.maximum(vol[..., None] + vols, 0.0))


def _weights(params: MarginParameters) -> np.ndarray:
    """(16,) the share of each scenario's loss counted: 1, and extreme_weight for the two extremes."""
    return np.concatenate([np.ones(N_SCENARIOS - 2), [params.extreme_weight] * 2])


def _worst(scenario_loss: np.ndarray) -> np.ndarray:
    """(n,) the largest of the 16 scenario losses (n, 16), at least 0."""
    return np.maximum(scenario_loss.max(axis=1), 0.0)


def _matched_delta(leg_delta: np.ndarray, years: np.ndarray) -> np.ndarray:
    """(n,) units of delta matched between expiries: per expiry the net delta of its legs; the smaller of the
    summed long and the summed short nets."""
    same = years[:, :, None] == years[:, None, :]  # (n, L, L) legs k of the same expiry as leg j
    net = (same * leg_delta[:, None, :]).sum(axis=2)  # the net delta of leg j's expiry
    first = ~np.tril(same, k=-1).any(axis=2)  # leg j is the first of its expiry: count each expiry once
    net = np.where(first, net, 0.0)
    return np.minimum(np.where(net > 0, net, 0.0).sum(axis=1), np.where(net < 0, -net, 0.0).sum(axis=1))


def _legs(strike, is_call, quantity, years, vol) -> tuple[np.ndarray, ...]:
    """Validated (N, L) leg arrays; pads (quantity 0) get harmless values so pricing never sees them."""
    arrays = [np.atleast_2d(np.asarray(a)) for a in (strike, is_call, quantity, years, vol)]
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        raise InputError("legs: strike, is_call, quantity, years and vol must have one shape (N, L)") from None
    strike, is_call, quantity, years, vol = (a.astype(float) if i != 1 else a.astype(bool)
                                             for i, a in enumerate(arrays))
    live = quantity != 0
    for name, values, ok in (("quantity", quantity, np.isfinite(quantity)),
                             ("strike", strike, np.isfinite(strike) & (strike > 0)),
                             ("years", years, np.isfinite(years) & (years >= 0)),
                             ("vol", vol, np.isfinite(vol) & (vol >= 0))):
        bad = ~ok & (live if name != "quantity" else True)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"{name}: invalid value {values[where]!r} at position {where[0]}, leg {where[1]}")
    return (np.where(live, strike, 1.0), is_call, quantity, np.where(live, years, 1.0), np.where(live, vol, 0.2))


def _slice(arrays: RiskArrays, rows: slice) -> RiskArrays:
    return RiskArrays(arrays.losses[rows], arrays.delta[rows], arrays.price[rows], arrays.covered[rows])
