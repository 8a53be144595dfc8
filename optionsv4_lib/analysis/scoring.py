"""Scoring: each candidate of a symbol gets a score 0–100, a verdict (eligible or the rejection reasons) and a
one-sentence rationale; `select_top` keeps the best N eligible candidates per symbol.

The score is 100 × the weighted mean of eight factors, each mapped to [0, 1] (higher is better), with the weights
of the risk profile (`RiskLimits.weights`) normalised to sum to 1:
- market_fit: how the strategy's view and volatility side suit the symbol's state (see MARKET_FIT below).
- pop: the probability of profit net of costs, pop_net, as it is.
- return_on_risk: x = expected_pnl_net / capital_at_risk (not annualised), squashed by the logistic
  1 / (1 + e^(−x / ROR_SCALE)): 0 → 0.5, +ROR_SCALE → 0.73, −ROR_SCALE → 0.27.
- reward_risk: max_profit_net / capital_at_risk (the net-of-costs counterpart of the table's reward_risk),
  clipped to [0, REWARD_RISK_CAP] and divided by the cap (an unbounded profit scores 1).
- liquidity: OI_SHARE × o / (o + OI_HALF_LOTS) + VOLUME_SHARE × v / (v + VOLUME_HALF_LOTS)
  + SPREAD_SHARE × (1 − min(max_spread_pct / SPREAD_WORST, 1)), with o = the smallest leg open interest and
  v = the legs' summed volume, both in lots.
- iv_fit: a position that sells volatility (vega < 0) scores the symbol's IV rank / 100, one that buys it
  (vega > 0) scores 1 − IV rank / 100; vega = 0 or an unknown IV rank scores 0.5.
- greeks: with d = position delta / lot size clipped to [−1, 1] (₹ delta exposure over the notional of one lot:
  +1 = long one lot of the underlying), a Bullish bias scores (1 + d) / 2, a Bearish bias (1 − d) / 2, and a
  Neutral bias ½ (1 − |d|) + ½ [theta > 0].
- cost_drag: c = costs / capital_at_risk, scored 1 / (1 + c / COST_HALF): no costs → 1, c = COST_HALF → 0.5.
Ratios over capital at risk are taken as 0 where it is ≤ 0; such rows are rejected anyway.
Each factor reads its own columns only, so at equal everything else a higher pop_net, a higher expected_pnl_net,
more open interest or volume, or a narrower spread never lowers the score.

Eligibility: a row is rejected, with every reason that applies joined by "; ", when the profile does not allow
its family, when it has undefined risk and the profile does not allow that, when pop_net < min_pop, or when its
capital at risk is ≤ 0.
"""

from typing import Literal, get_args

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.limits import RiskLimits, ScoreWeights
from optionsv4_lib.analysis.market_state import Direction, MarketState, VixRegime
from optionsv4_lib.core.domain import FAMILIES, PositionType
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.core.frames import require_columns
from optionsv4_lib.core.text import percent
from optionsv4_lib.strategies.catalog import View

VolSide = Literal["buys volatility", "sells volatility"]
FACTORS: tuple[str, ...] = tuple(ScoreWeights.model_fields)
FACTOR_COLUMNS: tuple[str, ...] = tuple(f"f_{name}" for name in FACTORS)

# ---------------------------------------------------------------- market fit
#
# How well each catalog view suits a market state, 0–1. Reasoning, row by row:
# - Direction first: the view that agrees with the direction fits 1.0 (0.9 in High VIX, where outright debits
#   are dear), the half-agreeing neutral-x view 0.75–0.9, the neutral view 0.3–0.5, the opposite views ~0.
# - Low VIX: options are cheap and volatility tends to revert upward, so buying premium (the volatile view:
#   long straddles and strangles) is favoured — 1.0 in a Neutral market, still 0.6 in a trend — and selling it
#   (the neutral view, mostly short premium) is less attractive.
# - High VIX: premium is rich and volatility tends to revert downward, so selling it is favoured — the neutral
#   view 1.0 in a Neutral market (iron condors, strangles), the credit-rich neutral-x views as good as the pure
#   direction in a trend — and buying volatility fits worst (0.2–0.3).
# - Normal VIX lies in between. Bearish rows mirror the Bullish ones.
# A view names a direction, not a premium side (a bull call spread and a bull put spread are both "bullish"), so
# VOL_SIDE_FIT adds the side: positions with vega > 0 buy volatility, the rest sell it; Low VIX favours buying,
# High VIX selling. market fit = (1 − VOL_SIDE_SHARE) × view fit + VOL_SIDE_SHARE × side fit.
# Direction confidence: the view fit is w × the row of the symbol's state + (1 − w) × the Neutral row of the same
# VIX regime, with w = the market's direction_confidence (0.5 at its decision boundary, 1 at the far end) when
# the symbol's bias is the market's direction, and POSITION_ONLY_CONFIDENCE when only the industry position
# supplies the direction (LONG or SHORT in a Neutral market).
VIEWS: tuple[View, ...] = ("bullish", "neutral-bullish", "neutral", "neutral-bearish", "bearish", "volatile")
MARKET_FIT = pd.DataFrame.from_dict(
    {  #                        bullish  n-bullish  neutral  n-bearish  bearish  volatile
        "Bullish / Low VIX":     (1.00,    0.75,      0.30,    0.10,      0.00,    0.60),
        "Bullish / Normal VIX":  (1.00,    0.80,      0.40,    0.10,      0.00,    0.40),
        "Bullish / High VIX":    (0.90,    0.90,      0.50,    0.15,      0.00,    0.30),
        "Neutral / Low VIX":     (0.40,    0.55,      0.70,    0.55,      0.40,    1.00),
        "Neutral / Normal VIX":  (0.35,    0.70,      1.00,    0.70,      0.35,    0.50),
        "Neutral / High VIX":    (0.30,    0.70,      1.00,    0.70,      0.30,    0.20),
        "Bearish / Low VIX":     (0.00,    0.10,      0.30,    0.75,      1.00,    0.60),
        "Bearish / Normal VIX":  (0.00,    0.10,      0.40,    0.80,      1.00,    0.40),
        "Bearish / High VIX":    (0.00,    0.15,      0.50,    0.90,      0.90,    0.30),
    },
    orient="index", columns=list(VIEWS),
)
VOL_SIDE_FIT = pd.DataFrame.from_dict(
    {  #         buys   sells volatility
        "Low":    (1.00, 0.30),
        "Normal": (0.60, 0.60),
        "High":   (0.30, 1.00),
    },
    orient="index", columns=list(get_args(VolSide)),
)
VOL_SIDE_SHARE = 0.25
POSITION_ONLY_CONFIDENCE = 0.5

# The symbol's direction: the industry position type read against the market direction. A position agreeing
# with the market, or set against a Neutral market, gives its own direction; a position against the market's
# direction cancels it to Neutral; NEUTRAL (or no position) follows the market.
DIRECTION_BIAS: dict[tuple[PositionType, Direction], Direction] = {
    ("LONG", "Bullish"): "Bullish",    ("LONG", "Neutral"): "Bullish",    ("LONG", "Bearish"): "Neutral",
    ("SHORT", "Bullish"): "Neutral",   ("SHORT", "Neutral"): "Bearish",   ("SHORT", "Bearish"): "Bearish",
    ("NEUTRAL", "Bullish"): "Bullish", ("NEUTRAL", "Neutral"): "Neutral", ("NEUTRAL", "Bearish"): "Bearish",
}

# ---------------------------------------------------------------- factor scales
ROR_SCALE = 0.05  # expected return on capital at risk that scores 0.73 (its negative: 0.27)
REWARD_RISK_CAP = 3.0  # max profit / capital at risk at or above which reward/risk scores 1
OI_HALF_LOTS = 250.0  # smallest leg open interest, lots, that scores 0.5
VOLUME_HALF_LOTS = 500.0  # summed leg volume, lots, that scores 0.5
SPREAD_WORST = 0.10  # widest leg bid–ask spread / mid that scores 0 (the candidate filter's default)
OI_SHARE, VOLUME_SHARE, SPREAD_SHARE = 0.4, 0.2, 0.4
COST_HALF = 0.10  # round-trip costs / capital at risk that scores 0.5
WEAK_BELOW = 0.35  # a factor below this is named as a weakness in the rationale

REQUIRED = ("candidate_id", "symbol", "family", "view", "risk_type", "lot_size", "min_oi", "total_volume",
            "max_spread_pct", "pop_net", "expected_pnl_net", "max_profit_net", "capital_at_risk", "delta", "vega",
            "theta", "costs")
_NUMBERS = REQUIRED[5:]


def direction_bias(position_type: PositionType | str | None, market_direction: Direction) -> Direction:
    """The symbol's direction from its industry position type (LONG/SHORT/NEUTRAL, any case; None = NEUTRAL)
    and the market direction, by DIRECTION_BIAS."""
    position = "NEUTRAL" if position_type is None else str(position_type).strip().upper()
    if position not in get_args(PositionType):
        raise InputError(f"position_type: unknown {position_type!r}; expected 'LONG', 'SHORT', 'NEUTRAL' or None")
    if market_direction not in get_args(Direction):
        raise InputError(f"market_direction: unknown {market_direction!r}; expected one of {get_args(Direction)}")
    return DIRECTION_BIAS[(position, market_direction)]


def score_candidates(table: pd.DataFrame, *, state: MarketState, limits: RiskLimits, iv_rank: float | None = None,
                     position_type: PositionType | str | None = None) -> pd.DataFrame:
    """One symbol's evaluated candidates (evaluate_candidates' table) plus `score` (0–100), the factors
    (FACTOR_COLUMNS, each 0–1), `eligible`, `rejection` (reasons, or None) and `rationale`.

    iv_rank: the symbol's IV rank in % (0–100; None: unknown). position_type: its industry position, which with
    the market direction gives the direction the market fit and greeks factors use (see direction_bias).
    """
    frame = _checked(table)
    weights = _weights(limits.weights)
    rank = _iv_rank(iv_rank)
    bias = direction_bias(position_type, state.direction)
    confidence = state.direction_confidence if bias == state.direction else POSITION_ONLY_CONFIDENCE
    symbol_state = f"{bias} / {state.vix_regime} VIX"

    vega = frame["vega"].to_numpy()
    factors = np.column_stack([
        _market_fit(frame["view"], vega, bias, state.vix_regime, confidence),
        np.clip(frame["pop_net"].to_numpy(), 0.0, 1.0),
        _logistic(frame["ror"].to_numpy() / ROR_SCALE),
        np.clip(frame["reward_risk_net"].to_numpy(), 0.0, REWARD_RISK_CAP) / REWARD_RISK_CAP,
        _liquidity(frame["oi_lots"].to_numpy(), frame["volume_lots"].to_numpy(), frame["max_spread_pct"].to_numpy()),
        _iv_fit(vega, rank),
        _greeks_fit(frame["delta_lots"].to_numpy(), frame["theta"].to_numpy(), bias),
        1.0 / (1.0 + frame["cost_share"].to_numpy() / COST_HALF),
    ])
    rejection = _rejections(frame, limits)
    rationale = _rationales(frame, factors, weights, symbol_state, rank, bias)
    out = table.copy()
    out["score"] = 100.0 * factors @ weights
    for j, column in enumerate(FACTOR_COLUMNS):
        out[column] = factors[:, j]
    out["eligible"] = rejection.isna().to_numpy()
    out["rejection"] = rejection.to_numpy()
    out["rationale"] = rationale
    return out


def select_top(scored: pd.DataFrame, top_n: int, shorts: pd.Series | None = None) -> pd.DataFrame:
    """Per symbol, the `top_n` best eligible rows of a scored table, with `rank` (1 = best): by score, highest
    first, ties broken by candidate_id ascending. Rows ordered by symbol, then rank.

    shorts: candidate_id → the set of contracts it sells (e.g. (expiry, strike, option type)); when given, a row
    selling a contract that a better-ranked row of its symbol already sells is passed over, so no two picks are
    short the same strike and expiry."""
    _require(scored, "scored", ("symbol", "candidate_id", "score", "eligible"))
    if isinstance(top_n, bool) or not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise InputError(f"top_n: must be an integer ≥ 1, got {top_n!r}")
    eligible = scored[scored["eligible"].astype(bool).to_numpy()]
    ordered = eligible.sort_values(["symbol", "score", "candidate_id"], ascending=[True, False, True],
                                   kind="mergesort")
    if shorts is not None:
        ordered = ordered[_distinct_shorts(ordered, shorts)]
    rank = ordered.groupby("symbol", sort=False).cumcount() + 1
    return ordered.assign(rank=rank.astype("int64"))[rank <= top_n].reset_index(drop=True)


def _distinct_shorts(ordered: pd.DataFrame, shorts: pd.Series) -> np.ndarray:
    """Mask of the rows, in order, that sell no contract a kept row of the same symbol sells."""
    sold: dict[str, set] = {}
    keep = np.zeros(len(ordered), dtype=bool)
    for i, (symbol, cid) in enumerate(zip(ordered["symbol"], ordered["candidate_id"])):
        mine = shorts.get(cid, frozenset())
        taken = sold.setdefault(symbol, set())
        if not taken & mine:
            keep[i] = True
            taken |= mine
    return keep


# ---------------------------------------------------------------- factors


def _market_fit(views: pd.Series, vega: np.ndarray, bias: Direction, regime: VixRegime,
                confidence: float) -> np.ndarray:
    own = MARKET_FIT.loc[f"{bias} / {regime} VIX"]
    neutral = MARKET_FIT.loc[f"Neutral / {regime} VIX"]
    view_fit = confidence * views.map(own).to_numpy() + (1 - confidence) * views.map(neutral).to_numpy()
    buys, sells = VOL_SIDE_FIT.loc[regime]
    return (1 - VOL_SIDE_SHARE) * view_fit + VOL_SIDE_SHARE * np.where(vega > 0, buys, sells)


def _liquidity(oi_lots: np.ndarray, volume_lots: np.ndarray, spread: np.ndarray) -> np.ndarray:
    return (OI_SHARE * oi_lots / (oi_lots + OI_HALF_LOTS)
            + VOLUME_SHARE * volume_lots / (volume_lots + VOLUME_HALF_LOTS)
            + SPREAD_SHARE * (1 - np.minimum(spread / SPREAD_WORST, 1.0)))


def _iv_fit(vega: np.ndarray, rank: float | None) -> np.ndarray:
    if rank is None:
        return np.full(vega.shape, 0.5)
    return np.select([vega < 0, vega > 0], [rank / 100, 1 - rank / 100], 0.5)


def _greeks_fit(delta_per_lot: np.ndarray, theta: np.ndarray, bias: Direction) -> np.ndarray:
    d = np.clip(delta_per_lot, -1.0, 1.0)
    if bias == "Bullish":
        return (1 + d) / 2
    if bias == "Bearish":
        return (1 - d) / 2
    return 0.5 * (1 - np.abs(d)) + 0.5 * (theta > 0)


def _logistic(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(x / 2))  # = 1 / (1 + e^−x), without overflow


def _per_capital(values: np.ndarray, capital: np.ndarray) -> np.ndarray:
    """values / capital at risk, 0 where capital ≤ 0; inf / capital stays inf."""
    return np.divide(values, capital, out=np.zeros_like(values), where=capital > 0)


def _rejections(frame: pd.DataFrame, limits: RiskLimits) -> pd.Series:
    """The rejection reasons of each row joined by "; ", None where there is none."""
    pop = frame["pop_net"]
    reasons = [
        (~frame["family"].isin(limits.families), "family " + frame["family"] + " not allowed by the profile"),
        ((frame["risk_type"] == "undefined") & (not limits.allow_undefined_risk), "undefined risk not allowed"),
        (pop < limits.min_pop,
         "PoP " + (pop * 100).map("{:.1f}".format) + f" % below the minimum {limits.min_pop * 100:.1f} %"),
        (frame["capital_at_risk"] <= 0, "capital at risk ≤ 0"),
    ]
    text = pd.Series("", index=frame.index, dtype="str")
    for mask, message in reasons:
        text = text.where(~mask, text + np.where(text == "", "", "; ") + message)
    return pd.Series(np.where(text != "", text.to_numpy(dtype=object), None), index=frame.index, dtype=object)


# ---------------------------------------------------------------- rationale


def _rationales(frame: pd.DataFrame, factors: np.ndarray, weights: np.ndarray, symbol_state: str,
                rank: float | None, bias: Direction) -> list[str]:
    """One sentence per row naming what drove the score. A factor's lift is weight × (factor − ½), its pull on
    the score away from a middling 50: the sentence names the (up to) three factors with the largest positive
    lift — the one largest lift when none is positive — then, as a weakness, the factor with the most negative
    lift among those below WEAK_BELOW, if not already named."""
    used = weights > 0
    lift = np.where(used, weights * (factors - 0.5), -np.inf)
    order = np.argsort(-lift, axis=1, kind="stable")[:, :3]
    named = (np.take_along_axis(lift, order, axis=1) > 0) | (np.arange(3) == 0)
    drag = np.where(used & (factors < WEAK_BELOW), lift, np.inf)
    weakest, has_weakness = np.argmin(drag, axis=1), np.isfinite(drag.min(axis=1))
    rows = frame[["pop_net", "ror", "reward_risk_net", "oi_lots", "max_spread_pct", "vega", "delta_lots", "theta",
                  "cost_share"]].to_dict("records")
    sentences = []
    for i, row in enumerate(rows):
        chosen = list(order[i][named[i]])
        parts = [_phrase(FACTORS[j], row, factors[i, j], symbol_state, rank, bias) for j in chosen]
        if has_weakness[i] and weakest[i] not in chosen:
            j = weakest[i]
            parts.append("weak: " + _phrase(FACTORS[j], row, factors[i, j], symbol_state, rank, bias))
        text = "; ".join(parts)
        sentences.append(text[:1].upper() + text[1:] + ".")
    return sentences


def _phrase(factor: str, row: dict, value: float, symbol_state: str, rank: float | None, bias: Direction) -> str:
    """A few words on one factor of one row; `value` is the factor (0–1), which picks the wording."""
    good = value >= 0.5
    if factor == "market_fit":
        return f"fits {symbol_state}" if good else f"poor fit to {symbol_state}"
    if factor == "pop":
        return f"PoP {percent(row['pop_net'], 0)}"
    if factor == "return_on_risk":
        return f"expected return {row['ror'] * 100:+.1f} % of risk"
    if factor == "reward_risk":
        ratio = row["reward_risk_net"]
        return "unbounded reward" if np.isinf(ratio) else f"reward/risk {ratio:.2g}:1"
    if factor == "liquidity":
        spread = percent(row["max_spread_pct"], 1)
        return f"{'liquid' if good else 'thin'}: OI {row['oi_lots']:,.0f} lots, spread {spread}"
    if factor == "iv_fit":
        side = "buys" if row["vega"] > 0 else "sells"
        return f"{side} volatility at IV rank {rank:.0f}" if rank is not None else "IV rank unknown"
    if factor == "greeks":
        theta = f", theta ₹{row['theta']:+,.0f}/day" if bias == "Neutral" else ""
        return f"delta {row['delta_lots']:+.2f}/lot vs {bias}{theta}"
    return f"costs {row['cost_share'] * 100:.2g} % of risk"


# ---------------------------------------------------------------- input checks


def _require(table, name: str, columns) -> None:
    require_columns(table, columns, name)


def _checked(table) -> pd.DataFrame:
    """The required columns, with labels normalised and numbers as float64, plus the ratios the factors use (ror,
    reward_risk_net, cost_share: over capital at risk; oi_lots, volume_lots, delta_lots: over the lot size);
    raises InputError naming the field."""
    _require(table, "table", REQUIRED)
    if len(table) == 0:
        raise InputError("table: no candidates")
    frame = pd.DataFrame(index=table.index)
    for column in ("candidate_id", "symbol"):
        if table[column].isna().any():
            raise InputError(f"table.{column}: missing values")
        frame[column] = table[column].astype(str)
    duplicated = frame["candidate_id"].duplicated()
    if duplicated.any():
        raise InputError(f"table.candidate_id: duplicates {sorted(set(frame['candidate_id'][duplicated]))[:5]}")
    for column, allowed in (("family", FAMILIES), ("view", VIEWS), ("risk_type", ("defined", "undefined"))):
        labels = table[column].astype(str).str.strip().str.lower()
        unknown = sorted(set(labels) - set(allowed))
        if unknown:
            raise InputError(f"table.{column}: unknown {unknown}; expected one of {list(allowed)}")
        frame[column] = labels
    for column in _NUMBERS:
        values = pd.to_numeric(table[column], errors="coerce").astype("float64")
        bad = values.isna() | (np.isinf(values) if column != "max_profit_net" else values == -np.inf)
        if bad.any():
            raise InputError(f"table.{column}: must be a finite number"
                             f"{' (+inf allowed)' if column == 'max_profit_net' else ''}, bad at candidate "
                             f"{table['candidate_id'][bad].iloc[0]!r}")
        frame[column] = values
    rules = {"lot_size": (frame["lot_size"] > 0, "> 0"),
             "min_oi": (frame["min_oi"] >= 0, "≥ 0"), "total_volume": (frame["total_volume"] >= 0, "≥ 0"),
             "max_spread_pct": (frame["max_spread_pct"] >= 0, "≥ 0"), "costs": (frame["costs"] >= 0, "≥ 0"),
             "pop_net": (frame["pop_net"].between(0, 1), "within [0, 1]")}
    for column, (ok, rule) in rules.items():
        if not ok.all():
            raise InputError(f"table.{column}: must be {rule}, bad at candidate "
                             f"{table['candidate_id'][~ok].iloc[0]!r}")
    capital = frame["capital_at_risk"].to_numpy()
    return frame.assign(
        ror=_per_capital(frame["expected_pnl_net"].to_numpy(), capital),
        reward_risk_net=_per_capital(frame["max_profit_net"].to_numpy(), capital),
        cost_share=_per_capital(frame["costs"].to_numpy(), capital),
        oi_lots=frame["min_oi"] / frame["lot_size"], volume_lots=frame["total_volume"] / frame["lot_size"],
        delta_lots=frame["delta"] / frame["lot_size"])


def _weights(weights: ScoreWeights) -> np.ndarray:
    """The profile's weights in FACTORS order, normalised to sum to 1."""
    raw = np.array([getattr(weights, name) for name in FACTORS], dtype=float)
    if raw.sum() <= 0:
        raise InputError("limits.weights: all zero; at least one factor needs a positive weight")
    return raw / raw.sum()


def _iv_rank(rank: float | None) -> float | None:
    if rank is None:
        return None
    try:
        value = float(rank)
    except (TypeError, ValueError):
        raise InputError(f"iv_rank: not a number: {rank!r}") from None
    if not (np.isfinite(value) and 0 <= value <= 100):
        raise InputError(f"iv_rank: must be within [0, 100] (%), got {rank!r}")
    return value

