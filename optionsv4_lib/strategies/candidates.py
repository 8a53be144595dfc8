"""Candidate generation: concrete strikes and expiries for every catalog template, from one symbol's chain.

Steps: conform the chain to the canonical schema → one quote grid per expiry (strikes × CE/PE) with a
liquidity verdict per quote (two-sided, not crossed, open interest, bid–ask spread) → pick the near and far
expiries → resolve each template variant's strike rules on the grids → keep the variants whose every leg is
liquid. Entry prices are conservative (buy at the ask, sell at the bid); mid is kept beside them.
IVs are ours: implied from each quote's mid at the moment the quotes were taken (`as_of`), whatever the source;
the source's IV is kept beside them as `broker_iv`, a diagnostic. Deltas used by the rules come from our IVs.
Lots are the contracts': every expiry's contracts trade in their own lot (the chain's lot_size, else
reference.lot_sizes), open interest is screened in those lots, and a strategy lot is the least common multiple of
its option legs' lots (a calendar of a 25-lot near leg and a 75-lot far leg is 75 units a strategy lot: 3 near
contract lots against 1 far), so every leg's units are whole lots of its contract.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from optionsv4_lib.core.errors import DataError
from optionsv4_lib.core.frames import conform
from optionsv4_lib.marketdata.checks import IV_BOUND
from optionsv4_lib.marketdata.schema import OPTION_CHAIN
from optionsv4_lib.pricing.black_scholes import bs_greeks, implied_vol
from optionsv4_lib.reference.calendar import DAYS_PER_YEAR, years_to_expiry
from optionsv4_lib.reference.lot_sizes import fill_lot_sizes
from optionsv4_lib.strategies.catalog import CATALOG, Leg, StrategyTemplate, Strike
from optionsv4_lib.strategies.evaluate import CE, NONE, PE, STK, Positions

TYPES = ("CE", "PE")


class CandidateRules(BaseModel):
    """Liquidity filters and expiry choice for candidate generation."""

    model_config = ConfigDict(frozen=True)

    min_oi_lots: float = Field(5, ge=0, description="minimum open interest of every leg, in lots of its contract")
    max_spread_pct: float = Field(0.10, gt=0, description="maximum (ask − bid) / mid of every leg, decimal")
    min_dte_days: float = Field(2, ge=0, description="the near expiry is the first at least this many days away")
    far_gap_days: float = Field(20, gt=0, description="the far expiry is the first at least this many days after the near")
    max_legs: int = Field(4, ge=1)


@dataclass(frozen=True)
class QuoteGrid:
    """One expiry's quotes on its strike grid; per-type arrays have shape (2, n): row 0 CE, row 1 PE."""

    expiry: pd.Timestamp
    years: float
    lot: int  # units per lot of this expiry's contracts
    strikes: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    iv: np.ndarray
    broker_iv: np.ndarray
    delta: np.ndarray
    oi: np.ndarray
    volume: np.ndarray
    security_id: np.ndarray
    usable: np.ndarray
    atm: int  # index of the strike nearest the spot

    @property
    def mid(self) -> np.ndarray:
        return (self.bid + self.ask) / 2

    @property
    def atm_iv(self) -> float:
        """Mean IV (decimal) of the call and put at the strike nearest the spot that has one; NaN without any."""
        known = np.flatnonzero(np.isfinite(self.iv).any(axis=0))
        if not len(known):
            return float("nan")
        return float(np.nanmean(self.iv[:, known[np.argmin(np.abs(known - self.atm))]]))


@dataclass
class CandidateSet:
    """Candidates of one symbol: leg arrays for evaluation plus tables for people and storage."""

    symbol: str
    spot: float
    positions: Positions
    sigma: np.ndarray  # (N,) vol of the terminal distribution: the near expiry's ATM IV
    meta: pd.DataFrame  # one row per candidate; lot_size: units per strategy lot
    legs: pd.DataFrame  # one row per leg; contract_lot: units per lot of the leg's contract
    skipped: dict[str, int] = field(default_factory=dict)  # variants not generated, by reason


def quote_grids(chain: pd.DataFrame, as_of: datetime, rules: CandidateRules, r: float,
                q: float) -> dict[pd.Timestamp, QuoteGrid]:
    """Quote grids by expiry. Raises DataError for an empty chain, a stale expiry, a contract without a lot size (in
    the chain or reference.lot_sizes), two lots in one expiry, or no usable quote."""
    chain = conform(chain, OPTION_CHAIN, "option chain")
    if chain.empty:
        raise DataError("empty option chain")
    chain = fill_lot_sizes(chain)
    spot = _spot(chain)
    expiries = sorted(chain["expiry"].unique())
    try:
        years = np.atleast_1d(years_to_expiry(as_of, np.array(expiries, dtype="datetime64[D]")))
    except ValueError as exc:
        raise DataError(f"option chain: {exc}") from exc
    grids = {}
    reasons: dict[str, int] = {}
    for expiry, t in zip(expiries, years):
        rows = chain[chain["expiry"] == expiry]
        lots = rows["lot_size"].unique()
        if len(lots) != 1:
            raise DataError(f"option chain: contracts expiring {pd.Timestamp(expiry).date()} in lots of "
                            f"{', '.join(map(str, sorted(lots)))}: expected one lot per expiry")
        grid, rejected = _grid(rows, pd.Timestamp(expiry), float(t), spot, int(lots[0]), rules, r, q)
        grids[grid.expiry] = grid
        for reason, count in rejected.items():
            reasons[reason] = reasons.get(reason, 0) + count
    if not any(g.usable.any() for g in grids.values()):
        detail = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
        raise DataError(f"no liquid two-sided quotes in the chain ({len(chain)} rows: {detail})")
    return grids


def _spot(chain: pd.DataFrame) -> float:
    prices = chain["underlying_price"].to_numpy(dtype=float)
    if not np.all(np.isfinite(prices)) or prices.min() <= 0:
        raise DataError("option chain: underlying_price must be a positive number on every row")
    return float(np.median(prices))


def _grid(rows: pd.DataFrame, expiry: pd.Timestamp, years: float, spot: float, lot_size: int, rules: CandidateRules, r: float, q: float) -> tuple[QuoteGrid, dict[str, int]]:
    strikes = np.unique(rows["strike"].to_numpy(dtype=float))
    n = len(strikes)
    shape = (2, n)
    table = {name: np.full(shape, np.nan) for name in ("bid", "ask", "iv", "oi", "volume", "security_id")}
    for t, option_type in enumerate(TYPES):
        side = rows[rows["option_type"] == option_type].drop_duplicates("strike", keep="last")
        at = np.searchsorted(strikes, side["strike"].to_numpy(dtype=float))
        for name in table:
            table[name][t, at] = side[name].to_numpy(dtype=float, na_value=np.nan)
    bid, ask, oi = table["bid"], table["ask"], table["oi"]
    mid = (bid + ask) / 2
    is_call = np.array([[True], [False]])
    with np.errstate(invalid="ignore"):
        checks = {
            "no two-sided quote": ~((bid > 0) & (ask > 0)),
            "crossed quote": bid > ask,
            "low open interest": ~(oi >= rules.min_oi_lots * lot_size),
            "wide spread": ~((ask - bid) <= rules.max_spread_pct * mid),
        }
    usable = ~np.logical_or.reduce(list(checks.values()))
    broker_iv = np.where((table["iv"] > 0) & (table["iv"] < IV_BOUND), table["iv"], np.nan)  # diagnostic only
    iv = np.full(shape, np.nan)
    if usable.any():
        iv[usable] = implied_vol(mid[usable], is_call.repeat(n, 1)[usable], spot, strikes[np.nonzero(usable)[1]],
                                 years, r, q)
    usable &= iv > 0
    delta = np.full(shape, np.nan)
    if usable.any():
        k = np.broadcast_to(strikes, shape)[usable]
        delta[usable] = bs_greeks(is_call.repeat(n, 1)[usable], spot, k, years, r, iv[usable], q).delta
    rejected = {reason: int((bad & ~np.isnan(bid + ask)).sum()) for reason, bad in checks.items()}
    grid = QuoteGrid(
        expiry, years, lot_size, strikes, bid, ask, iv, broker_iv, delta, oi, table["volume"], table["security_id"],
        usable, atm=int(np.argmin(np.abs(strikes - spot))),
    )
    return grid, {k: v for k, v in rejected.items() if v}


def pick_expiries(grids: dict[pd.Timestamp, QuoteGrid], rules: CandidateRules) -> tuple[QuoteGrid, QuoteGrid | None]:
    """The near expiry (first ≥ min_dte_days away with usable quotes) and the far one (≥ far_gap_days later)."""
    usable = [g for g in sorted(grids.values(), key=lambda g: g.years) if g.usable.any()]
    near = next((g for g in usable if g.years * DAYS_PER_YEAR >= rules.min_dte_days), None)
    if near is None:
        raise DataError(f"no expiry at least {rules.min_dte_days} days away has liquid quotes")
    far = next((g for g in usable if (g.years - near.years) * DAYS_PER_YEAR >= rules.far_gap_days), None)
    return near, far


def generate_candidates(
    chain: pd.DataFrame,
    *,
    symbol: str,
    as_of: datetime,
    r: float,
    q: float = 0.0,
    is_index: bool = False,
    rules: CandidateRules = CandidateRules(),
    templates: tuple[StrategyTemplate, ...] = CATALOG,
) -> CandidateSet:
    """Every template's variants resolved on this chain, liquid legs only, one strategy lot each (the least common
    multiple of its option legs' contract lots, in units).

    Raises DataError (a per-symbol reason) for a missing or invalid lot size, an unusable chain, or no candidate.
    """
    grids = quote_grids(chain, as_of, rules, r, q)
    near, far = pick_expiries(grids, rules)
    spot = _spot(conform(chain, OPTION_CHAIN, "option chain"))
    skipped: dict[str, int] = {}
    seen: set[tuple] = set()
    built: list[tuple[StrategyTemplate, int, list[tuple[Leg, QuoteGrid | None, int]]]] = []
    for tpl in templates:
        if tpl.stocks_only and is_index:
            reason = "a strategy about the shares: an index settles in cash"
            skipped[reason] = skipped.get(reason, 0) + len(tpl.variants)
            continue
        if tpl.multi_expiry and far is None:
            skipped["no far expiry"] = skipped.get("no far expiry", 0) + len(tpl.variants)
            continue
        for number, variant in enumerate(tpl.variants):
            legs, reason = _resolve(tpl, variant, near, far)
            if reason is None:
                key = tuple((leg.instrument, leg.side, leg.ratio, g.expiry if g else None, i) for leg, g, i in legs)
                reason = "duplicate of another variant" if key in seen else None
                seen.add(key)
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            built.append((tpl, number, legs))
    if not built:
        raise DataError(f"{symbol}: no strategy candidate has all legs liquid ({_reasons(skipped)})")
    return _assemble(symbol, spot, as_of, near, far, built, skipped)


def _resolve(tpl: StrategyTemplate, variant: dict, near: QuoteGrid, far: QuoteGrid | None) -> tuple[list, str | None]:
    """(leg, grid, strike index) for every leg in template order, or the reason the variant cannot be built.

    Legs anchored on another leg are resolved after the legs with their own anchor.
    """
    legs: list[tuple[Leg, QuoteGrid | None, int] | None] = [None] * len(tpl.legs)
    order = sorted(range(len(tpl.legs)), key=lambda i: tpl.legs[i].strike is not None and tpl.legs[i].strike.anchor == "leg")
    for number in order:
        leg = tpl.legs[number]
        if leg.instrument == "STK":
            legs[number] = (leg, None, -1)
            continue
        grid = far if leg.expiry == "far" else near
        t = TYPES.index(leg.instrument)
        index = _strike_index(leg.strike, variant, grid, t, legs)
        if index is None or not 0 <= index < len(grid.strikes):
            return [], "strike outside the chain"
        if not grid.usable[t, index]:
            return [], "illiquid leg"
        legs[number] = (leg, grid, index)
    return legs, None


def _strike_index(rule: Strike, variant: dict, grid: QuoteGrid, t: int, legs: list) -> int | None:
    offset = int(round(_param(rule.offset, variant)))
    if rule.anchor == "atm":
        return grid.atm + offset
    if rule.anchor == "leg":
        _, ref_grid, ref_index = legs[rule.leg]
        base = int(np.argmin(np.abs(grid.strikes - ref_grid.strikes[ref_index])))
        return base + offset
    target = _param(rule.delta, variant)
    distance = np.where(grid.usable[t], np.abs(np.abs(grid.delta[t]) - target), np.inf)
    return int(np.argmin(distance)) if np.isfinite(distance).any() else None


def _param(value: float | str | None, variant: dict) -> float:
    if isinstance(value, str):
        sign = -1.0 if value.startswith("-") else 1.0
        return sign * float(variant[value.lstrip("-")])
    return float(value or 0.0)


def _reasons(skipped: dict[str, int]) -> str:
    return ", ".join(f"{reason}: {n}" for reason, n in sorted(skipped.items())) or "no templates"


def _assemble(symbol, spot, as_of, near, far, built, skipped) -> CandidateSet:
    """Leg arrays (N, L) and the meta / legs tables; a strategy lot is the LCM of its option legs' contract lots
    (a stock leg, bought in units, takes any)."""
    n, width = len(built), max(len(legs) for _, _, legs in built)
    kind = np.full((n, width), NONE, dtype=np.int8)
    strike, qty, premium, years, sigma = (np.zeros((n, width)) for _ in range(5))
    meta, leg_rows = [], []
    for row, (tpl, number, legs) in enumerate(built):
        candidate_id = f"{symbol}:{tpl.name.lower().replace(' ', '-')}:{number}"
        unit = math.lcm(*(grid.lot for _, grid, _ in legs if grid is not None))
        for col, (leg, grid, index) in enumerate(legs):
            sign = 1 if leg.side == "BUY" else -1
            units = leg.ratio * unit
            if grid is None:  # stock leg at the spot
                quote = dict(bid=spot, ask=spot, iv=np.nan, broker_iv=np.nan, delta=1.0, oi=np.nan, volume=np.nan,
                             security_id=np.nan)
                kind[row, col], strike[row, col], expiry = STK, 0.0, pd.NaT
                years[row, col], sigma[row, col] = near.years, near.atm_iv
            else:
                t = TYPES.index(leg.instrument)
                quote = {name: getattr(grid, name)[t, index]
                         for name in ("bid", "ask", "iv", "broker_iv", "delta", "oi", "volume", "security_id")}
                kind[row, col], strike[row, col], expiry = (CE if t == 0 else PE), grid.strikes[index], grid.expiry
                years[row, col], sigma[row, col] = grid.years, quote["iv"]
            price = quote["ask"] if sign > 0 else quote["bid"]
            qty[row, col], premium[row, col] = sign * units, price
            leg_rows.append(
                {
                    "candidate_id": candidate_id, "leg_no": col, "instrument": leg.instrument, "side": leg.side,
                    "ratio": leg.ratio, "strike": strike[row, col] if grid is not None else np.nan, "expiry": expiry,
                    "contract_lot": 1 if grid is None else grid.lot, "qty": units, "bid": quote["bid"], "ask": quote["ask"],
                    "mid": (quote["bid"] + quote["ask"]) / 2, "entry_price": price, "iv": quote["iv"],
                    "broker_iv": quote["broker_iv"],
                    "delta": quote["delta"], "oi": quote["oi"], "volume": quote["volume"],
                    "security_id": quote["security_id"],
                }
            )
        meta.append(
            {
                "candidate_id": candidate_id, "symbol": symbol, "strategy": tpl.name, "family": tpl.family,
                "view": tpl.view, "risk_type": tpl.risk_type, "variant": dict(tpl.variants[number]),
                "expiry": near.expiry, "far_expiry": far.expiry if tpl.multi_expiry else pd.NaT,
                "dte_days": (near.expiry.date() - as_of.date()).days, "years": near.years, "spot": spot,
                "lot_size": unit, "atm_iv": near.atm_iv,
            }
        )
    positions = Positions(kind, strike, qty, premium, np.where(kind == NONE, near.years, years), np.where(kind == NONE, near.atm_iv, sigma))
    legs_df = pd.DataFrame(leg_rows).astype({"security_id": "Int64"})  # broker ids are integers; <NA> when unknown
    options = legs_df[legs_df["instrument"] != "STK"].assign(spread_pct=lambda d: (d["ask"] - d["bid"]) / d["mid"])
    liquidity = options.groupby("candidate_id").agg(
        min_oi=("oi", "min"), total_volume=("volume", "sum"), max_spread_pct=("spread_pct", "max")
    )
    meta_df = pd.DataFrame(meta).join(liquidity, on="candidate_id")
    return CandidateSet(symbol, spot, positions, np.full(n, near.atm_iv), meta_df, legs_df, skipped)
