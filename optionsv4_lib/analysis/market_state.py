"""NIFTY trend × INDIA VIX regime (+ put–call ratio) → one of nine market states, with the reasons.

Trend: four standard indicators on NIFTY daily candles, each voting +1 (bullish), −1 (bearish) or 0; a reading
must lie strictly beyond its band to vote:
- price vs SMA: the last close against its `sma_long`-day simple moving average, beyond ±`price_band`;
- SMA cross: the `sma_short`-day SMA against the `sma_long`-day SMA, beyond ±`cross_band`;
- rate of change: the last close over the close `roc_window` trading days earlier, beyond ±`roc_band`;
- ADX: Wilder's ADX(`adx_window`) ≥ `adx_trending` says there is a trend, which votes the sign of +DI − −DI;
  below it there is no trend (vote 0).
The trend score is the mean vote, in [−1, 1].

PCR (put–call ratio of open interest over the near-expiry chain): most NSE index-option open interest is written,
so puts outweighing calls (OI PCR > `pcr_bullish`) means writers see support below — supportive, score
+`pcr_weight`; OI PCR < `pcr_bearish` means call writers cap the upside — score −`pcr_weight`; in between, or
with no chain, no shift. The volume PCR is reported, not voted. Score = clip(trend score + PCR shift, −1, 1).
PCR only moves the score: it can turn a marginal Neutral into a direction or a marginal direction into Neutral,
and it never makes a state of its own.

Direction: Bullish if score ≥ `direction_threshold`, Bearish if score ≤ −`direction_threshold`, else Neutral.
Confidence is 0.5 on the decision boundary and rises linearly to 1 at the far end (|score| = 1 for a direction,
score = 0 for Neutral).

VIX regime, from the last INDIA VIX close: Low if VIX < `vix_low`, High if VIX > `vix_high`, Normal otherwise
(both thresholds are Normal). `vix_percentile` ranks the last close among the previous `vix_percentile_window`
closes (the share strictly below it, %).
"""

from datetime import date
from typing import Literal, get_args

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from optionsv4_lib.core.domain import call_mask
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.frames import conform, require_columns
from optionsv4_lib.marketdata.schema import CANDLES

Direction = Literal["Bullish", "Bearish", "Neutral"]
VixRegime = Literal["Low", "Normal", "High"]
StateName = Literal["Bullish / Low VIX", "Bullish / Normal VIX", "Bullish / High VIX",
                    "Neutral / Low VIX", "Neutral / Normal VIX", "Neutral / High VIX",
                    "Bearish / Low VIX", "Bearish / Normal VIX", "Bearish / High VIX"]
STATES: tuple[StateName, ...] = get_args(StateName)


class MarketStateConfig(BaseModel):
    """Windows in trading days; bands and PCR weight as decimals (0.01 = 1 %); VIX and ADX in their own points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vix_low: float = Field(12.0, gt=0, description="VIX below this is Low; at it, Normal")
    vix_high: float = Field(18.0, gt=0, description="VIX above this is High; at it, Normal")
    vix_plausible_min: float = Field(5.0, ge=0, description="an INDIA VIX close below this is bad data")
    vix_plausible_max: float = Field(90.0, gt=0, description="an INDIA VIX close above this is bad data")
    vix_percentile_window: int = Field(252, ge=1, description="previous closes the VIX percentile ranks against")
    sma_short: int = Field(20, ge=2, description="short simple moving average window")
    sma_long: int = Field(50, ge=3, description="long simple moving average window")
    roc_window: int = Field(20, ge=1, description="rate-of-change lookback")
    adx_window: int = Field(14, ge=2, description="Wilder's ADX / DI window")
    price_band: float = Field(0.01, ge=0, description="close vs long SMA must lie beyond ± this to vote")
    cross_band: float = Field(0.005, ge=0, description="short SMA vs long SMA must lie beyond ± this to vote")
    roc_band: float = Field(0.02, ge=0, description="rate of change must lie beyond ± this to vote")
    adx_trending: float = Field(20.0, ge=0, le=100, description="ADX at or above this is a trend")
    direction_threshold: float = Field(0.5, gt=0, le=1, description="|score| at or above this is a direction")
    pcr_bullish: float = Field(1.2, gt=0, description="OI PCR above this shifts the score up (put writers' support)")
    pcr_bearish: float = Field(0.7, gt=0, description="OI PCR below this shifts the score down (call writers' cap)")
    pcr_weight: float = Field(0.25, ge=0, le=1, description="score shift of a PCR reading outside its bands")
    min_history_days: int = Field(90, ge=1, description="fewest daily candles accepted for NIFTY and for VIX")

    @model_validator(mode="after")
    def _consistent(self) -> "MarketStateConfig":
        if not self.vix_plausible_min < self.vix_low < self.vix_high < self.vix_plausible_max:
            raise ValueError("vix thresholds: need vix_plausible_min < vix_low < vix_high < vix_plausible_max")
        if self.sma_short >= self.sma_long:
            raise ValueError("sma_short: must be shorter than sma_long")
        if self.pcr_bearish >= self.pcr_bullish:
            raise ValueError("pcr_bearish: must be below pcr_bullish")
        needed = max(self.sma_long, self.roc_window + 1, 2 * self.adx_window)
        if self.min_history_days < needed:
            raise ValueError(f"min_history_days: {self.min_history_days} is fewer than the {needed} the indicators "
                             "need")
        return self


class MarketState(BaseModel):
    """The classification of the market at its history's last close and what drove it."""

    model_config = ConfigDict(frozen=True)

    history_date: date = Field(description="last date of the NIFTY and INDIA VIX history (before the open: the "
                                           "previous session's)")
    state: StateName
    direction: Direction
    direction_confidence: float = Field(ge=0, le=1)
    vix: float = Field(description="last INDIA VIX close, points")
    vix_regime: VixRegime
    vix_percentile: float = Field(ge=0, le=100, description="% of the previous closes strictly below the last")
    pcr_oi: float | None = Field(description="put OI / call OI; None without a chain or call OI")
    pcr_volume: float | None = Field(description="put volume / call volume; None without a chain or call volume")
    indicators: dict[str, float] = Field(description="readings; *_pct in %, ADX and DI in points 0–100")
    votes: dict[str, int] = Field(description="each trend indicator's vote (+1, 0, −1) and the PCR vote")
    explanation: list[str]


def iv_rank(iv_history, current: float) -> tuple[float, float]:
    """(IV rank, IV percentile) of `current` against `iv_history`, both in % (0–100).

    Rank = (current − low) / (high − low) × 100, the range spanning the history and `current` (so 0–100; 50 when
    every value is equal). Percentile = share of history values strictly below `current` × 100. Non-finite
    history values are skipped.
    """
    history = np.asarray(iv_history, dtype=float).ravel()
    history = history[np.isfinite(history)]
    if history.size == 0:
        raise InputError("iv_history: no finite values")
    if (history < 0).any():
        raise InputError("iv_history: negative value")
    if not (np.isfinite(current) and current >= 0):
        raise InputError(f"current: must be a finite number ≥ 0, got {current!r}")
    low, high = min(history.min(), current), max(history.max(), current)
    rank = 50.0 if high == low else (current - low) / (high - low) * 100
    return float(rank), float((history < current).mean() * 100)


def pcr(chain: pd.DataFrame) -> tuple[float | None, float | None]:
    """(put OI / call OI, put volume / call volume) over the whole chain; None where the call side sums to 0."""
    if chain is None or len(chain) == 0:
        raise InputError("chain: empty option chain")
    require_columns(chain, ("option_type", "oi", "volume"), "chain")
    is_call = call_mask(chain["option_type"].to_numpy(), "chain.option_type")
    ratios = []
    for col in ("oi", "volume"):
        values = pd.to_numeric(chain[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if not np.isfinite(values).all() or (values < 0).any():
            raise InputError(f"chain.{col}: must be finite and ≥ 0")
        calls, puts = values[is_call].sum(), values[~is_call].sum()
        ratios.append(float(puts / calls) if calls > 0 else None)
    return ratios[0], ratios[1]


def classify_market(nifty: pd.DataFrame, vix: pd.DataFrame, nifty_chain: pd.DataFrame | None = None,
                    config: MarketStateConfig = MarketStateConfig()) -> MarketState:
    """Classify the last NIFTY trade date into one of STATES from NIFTY and INDIA VIX daily candles
    (schema.CANDLES, ≥ `config.min_history_days` each, VIX up to the same date) and the near-expiry NIFTY
    chain (schema.OPTION_CHAIN; None or empty: no PCR). Raises DataError naming the bad input."""
    cfg = config
    candles = _history(nifty, "nifty", cfg)
    trade_date = candles["date"].iloc[-1]
    vix_candles = _history(vix, "vix", cfg, until=trade_date)
    if vix_candles["date"].iloc[-1] != trade_date:
        raise DataError(f"vix: last close is on {vix_candles['date'].iloc[-1].date()}, "
                        f"not on the nifty trade date {trade_date.date()}")

    indicators, votes, explanation = _trend(candles, cfg)
    trend_score = float(np.mean(list(votes.values())))
    has_chain = nifty_chain is not None and len(nifty_chain) > 0
    pcr_oi, pcr_volume = pcr(nifty_chain) if has_chain else (None, None)
    pcr_vote = 0 if pcr_oi is None else 1 if pcr_oi > cfg.pcr_bullish else -1 if pcr_oi < cfg.pcr_bearish else 0
    shift = cfg.pcr_weight * pcr_vote
    score = float(np.clip(trend_score + shift, -1.0, 1.0))
    direction, confidence = _direction(score, cfg.direction_threshold)
    explanation.append(_pcr_sentence(has_chain, pcr_oi, pcr_volume, pcr_vote, shift, cfg))
    explanation.append(f"Trend score {trend_score:+.2f}, PCR shift {shift:+.2f} → score {score:+.2f} "
                       f"(direction at |score| ≥ {cfg.direction_threshold:.2f}): {direction}, "
                       f"confidence {confidence:.2f}.")

    closes = vix_candles["close"].to_numpy()[-cfg.vix_percentile_window - 1:]
    last = float(closes[-1])
    percentile = iv_rank(closes[:-1], last)[1]
    regime: VixRegime = "Low" if last < cfg.vix_low else "High" if last > cfg.vix_high else "Normal"
    explanation.append(f"INDIA VIX {last:.2f}: {regime} regime (Low < {cfg.vix_low:g} ≤ Normal ≤ "
                       f"{cfg.vix_high:g} < High); percentile {percentile:.0f} of the previous {closes.size - 1} "
                       f"closes.")
    state = f"{direction} / {regime} VIX"
    explanation.append(f"State: {state}.")

    indicators |= {"trend_score": trend_score, "pcr_shift": shift, "score": score}
    return MarketState(history_date=trade_date.date(), state=state, direction=direction,
                       direction_confidence=confidence, vix=last, vix_regime=regime, vix_percentile=percentile,
                       pcr_oi=pcr_oi, pcr_volume=pcr_volume, indicators=indicators, votes=votes | {"pcr": pcr_vote},
                       explanation=explanation)


# ---------------------------------------------------------------- helpers


def _history(frame: pd.DataFrame | None, what: str, cfg: MarketStateConfig,
             until: pd.Timestamp | None = None) -> pd.DataFrame:
    """Candles (up to `until`) conformed to schema.CANDLES, sorted by date, checked for length, duplicates and
    bad prices."""
    if frame is None or len(frame) == 0:
        raise DataError(f"{what}: no candles")
    candles = conform(frame, CANDLES, what).sort_values("date", ignore_index=True)
    if until is not None:
        candles = candles[candles["date"] <= until].reset_index(drop=True)
    if len(candles) < cfg.min_history_days:
        raise DataError(f"{what}: {len(candles)} daily candles, need at least {cfg.min_history_days}")
    duplicated = candles["date"].duplicated()
    if duplicated.any():
        raise DataError(f"{what}: duplicate date {candles['date'][duplicated].iloc[0].date()}")
    if what == "vix":
        used = candles.iloc[-cfg.vix_percentile_window - 1:]
        bad = ~used["close"].between(cfg.vix_plausible_min, cfg.vix_plausible_max)
        if bad.any():
            row = used[bad].iloc[0]
            raise DataError(f"vix: close {row['close']} on {row['date'].date()} is outside the plausible INDIA VIX "
                            f"range {cfg.vix_plausible_min:g}–{cfg.vix_plausible_max:g}")
        return candles
    for col in ("high", "low", "close"):
        bad = ~(candles[col] > 0)  # also catches NaN
        if bad.any():
            raise DataError(f"{what}: column {col!r} is missing or ≤ 0 on {candles['date'][bad].iloc[0].date()}")
    return candles


def _trend(candles: pd.DataFrame, cfg: MarketStateConfig) -> tuple[dict[str, float], dict[str, int], list[str]]:
    """The four trend indicators' readings, votes and one sentence each."""
    close = candles["close"].to_numpy()
    sma_short, sma_long = close[-cfg.sma_short:].mean(), close[-cfg.sma_long:].mean()
    price_vs_sma = close[-1] / sma_long - 1
    cross = sma_short / sma_long - 1
    roc = close[-1] / close[-1 - cfg.roc_window] - 1
    adx, plus_di, minus_di = _adx(candles["high"].to_numpy(), candles["low"].to_numpy(), close, cfg.adx_window)
    votes = {"price_vs_sma": _vote(price_vs_sma, cfg.price_band), "sma_cross": _vote(cross, cfg.cross_band),
             "roc": _vote(roc, cfg.roc_band),
             "adx": int(np.sign(plus_di - minus_di)) if adx >= cfg.adx_trending else 0}
    word = {1: "Bullish", 0: "Neutral", -1: "Bearish"}
    adx_reading = (f"trending (≥ {cfg.adx_trending:g}), +DI {plus_di:.1f} vs −DI {minus_di:.1f}"
                   if adx >= cfg.adx_trending else f"no trend (< {cfg.adx_trending:g})")
    explanation = [
        f"Close {close[-1]:,.2f} is {price_vs_sma:+.2%} vs its {cfg.sma_long}-day SMA {sma_long:,.2f} "
        f"(band ±{cfg.price_band:.2%}): vote {word[votes['price_vs_sma']]}.",
        f"{cfg.sma_short}-day SMA {sma_short:,.2f} is {cross:+.2%} vs the {cfg.sma_long}-day SMA "
        f"(band ±{cfg.cross_band:.2%}): vote {word[votes['sma_cross']]}.",
        f"{cfg.roc_window}-day rate of change {roc:+.2%} (band ±{cfg.roc_band:.2%}): vote {word[votes['roc']]}.",
        f"ADX({cfg.adx_window}) {adx:.1f}: {adx_reading}: vote {word[votes['adx']]}.",
    ]
    indicators = {"close": float(close[-1]), "sma_short": float(sma_short), "sma_long": float(sma_long),
                  "price_vs_sma_pct": float(price_vs_sma * 100), "sma_cross_pct": float(cross * 100),
                  "roc_pct": float(roc * 100), "adx": adx, "plus_di": plus_di, "minus_di": minus_di}
    return indicators, votes, explanation


def _vote(reading: float, band: float) -> int:
    return 1 if reading > band else -1 if reading < -band else 0


def _adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> tuple[float, float, float]:
    """Wilder's (ADX, +DI, −DI) at the last bar, points 0–100.

    +DM = the up move (high − previous high) when it exceeds the down move (previous low − low) and 0, else 0;
    −DM likewise; TR = max(high − low, |high − previous close|, |low − previous close|). TR and ±DM are
    Wilder-smoothed; ±DI = 100 · smoothed ±DM / smoothed TR; DX = 100 · |+DI − −DI| / (+DI + −DI) (0 when both
    are 0); ADX = Wilder-smoothed DX.
    """
    up, down = np.diff(high), -np.diff(low)
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    true_range = np.maximum.reduce([high[1:] - low[1:], np.abs(high[1:] - close[:-1]), np.abs(low[1:] - close[:-1])])
    atr = _wilder(true_range, n)
    plus_di, minus_di = 100 * _ratio(_wilder(plus_dm, n), atr), 100 * _ratio(_wilder(minus_dm, n), atr)
    dx = 100 * _ratio(np.abs(plus_di - minus_di), plus_di + minus_di)
    return float(_wilder(dx, n)[-1]), float(plus_di[-1]), float(minus_di[-1])


def _wilder(values: np.ndarray, n: int) -> np.ndarray:
    """Wilder's smoothing: the mean of the first n values, then m_t = m_(t−1) + (x_t − m_(t−1)) / n."""
    seeded = np.concatenate(([values[:n].mean()], values[n:]))
    return pd.Series(seeded).ewm(alpha=1 / n, adjust=False).mean().to_numpy()


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _direction(score: float, threshold: float) -> tuple[Direction, float]:
    """Direction of a score in [−1, 1] and its confidence: 0.5 on the boundary, 1 at the far end."""
    if abs(score) >= threshold:
        margin = 1.0 if threshold == 1 else (abs(score) - threshold) / (1 - threshold)
        return ("Bullish" if score > 0 else "Bearish"), 0.5 + 0.5 * margin
    return "Neutral", 0.5 + 0.5 * (threshold - abs(score)) / threshold


def _pcr_sentence(has_chain: bool, pcr_oi: float | None, pcr_volume: float | None, vote: int, shift: float,
                  cfg: MarketStateConfig) -> str:
    if not has_chain:
        return "No option chain: PCR not available, no adjustment."
    volume = "n/a (no call volume)" if pcr_volume is None else f"{pcr_volume:.2f}"
    if pcr_oi is None:
        return f"OI PCR n/a (no call open interest): no adjustment; volume PCR {volume} (reported only)."
    reading = {1: f"> {cfg.pcr_bullish:g}, put writers' support", -1: f"< {cfg.pcr_bearish:g}, call writers' cap",
               0: f"within {cfg.pcr_bearish:g}–{cfg.pcr_bullish:g}"}[vote]
    return f"OI PCR {pcr_oi:.2f} ({reading}): score shift {shift:+.2f}; volume PCR {volume} (reported only)."
