"""Market state on constructed NIFTY / VIX histories: all nine states, VIX regime boundaries, PCR by hand, PCR's
effect on confidence, the VIX percentile and IV rank by hand, Wilder's ADX against a loop oracle, and errors."""

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from optionsv4_lib.analysis.market_state import STATES, MarketStateConfig, classify_market, iv_rank, pcr
from optionsv4_lib.core.errors import DataError, InputError

DAYS = 120
T = np.arange(DAYS)
END = "2026-06-30"
UP = 20_000 * np.exp(0.002 * T)  # +4 % per 20 days
DOWN = 20_000 * np.exp(-0.002 * T)
FLAT = 20_000 * (1 + 0.003 * np.sin(2 * np.pi * T / 10))  # ±0.3 % chop, no drift


def candles(closes, symbol="NIFTY", spread=0.005, end=END):
    """Daily candles on business days ending at `end`; high/low = close × (1 ± spread)."""
    closes = np.asarray(closes, dtype=float)
    return pd.DataFrame({"symbol": symbol, "date": pd.bdate_range(end=end, periods=len(closes)), "open": closes,
                         "high": closes * (1 + spread), "low": closes * (1 - spread), "close": closes, "volume": 0})


def vix_at(last, days=DAYS, end=END):
    """INDIA VIX candles wobbling ±5 % around `last`, ending exactly at `last`."""
    closes = last * (1 + 0.05 * np.sin(2 * np.pi * np.arange(days) / 7))
    closes[-1] = last
    return candles(closes, "INDIA VIX", end=end)


def chain(call_oi, put_oi, call_volume=100, put_volume=100):
    return pd.DataFrame({"option_type": ["CE", "PE"], "strike": [20_000.0, 20_000.0], "oi": [call_oi, put_oi],
                         "volume": [call_volume, put_volume]})


BULLISH_PCR, NEUTRAL_PCR, BEARISH_PCR = chain(1000, 1500), chain(1000, 1000), chain(1000, 500)

# ---------------------------------------------------------------- the nine states


def test_states_are_the_nine_direction_regime_pairs():
    assert STATES == tuple(f"{d} / {r} VIX" for d in ("Bullish", "Neutral", "Bearish")
                           for r in ("Low", "Normal", "High"))


@pytest.mark.parametrize("path, direction", [(UP, "Bullish"), (FLAT, "Neutral"), (DOWN, "Bearish")])
@pytest.mark.parametrize("vix_level, regime", [(10.5, "Low"), (15.0, "Normal"), (25.0, "High")])
def test_every_state_is_reachable(path, direction, vix_level, regime):
    state = classify_market(candles(path), vix_at(vix_level), None)
    assert (state.direction, state.vix_regime, state.vix) == (direction, regime, vix_level)
    assert state.state == f"{direction} / {regime} VIX"
    assert state.history_date.isoformat() == END
    assert state.direction_confidence == 1.0  # all four votes agree (or all abstain) and no PCR


@pytest.mark.parametrize("last, regime", [(11.99, "Low"), (12.0, "Normal"), (18.0, "Normal"), (18.01, "High")])
def test_vix_regime_boundaries_are_normal_inclusive(last, regime):
    assert classify_market(candles(UP), vix_at(last), None).vix_regime == regime


def test_vix_thresholds_are_configurable():
    config = MarketStateConfig(vix_low=10, vix_high=14)
    assert classify_market(candles(UP), vix_at(15.0), None, config).vix_regime == "High"
    assert classify_market(candles(UP), vix_at(9.9), None, config).vix_regime == "Low"


# ---------------------------------------------------------------- indicators against closed forms and an oracle


def test_trend_readings_of_a_straight_line_match_closed_forms():
    closes = 20_000 + 20.0 * T  # close_t = a + b·t; SMA of the last n = a + b·(T_last − (n − 1)/2)
    state = classify_market(candles(closes), vix_at(15.0), None)
    last, sma50, sma20, close_20_ago = 22_380.0, 20_000 + 20 * (119 - 24.5), 20_000 + 20 * (119 - 9.5), 21_980.0
    ind = state.indicators
    assert ind["close"] == last
    assert ind["sma_long"] == pytest.approx(sma50, rel=1e-12)
    assert ind["sma_short"] == pytest.approx(sma20, rel=1e-12)
    assert ind["price_vs_sma_pct"] == pytest.approx((last / sma50 - 1) * 100, rel=1e-10)
    assert ind["sma_cross_pct"] == pytest.approx((sma20 / sma50 - 1) * 100, rel=1e-10)
    assert ind["roc_pct"] == pytest.approx((last / close_20_ago - 1) * 100, rel=1e-10)


def wilder_adx_oracle(high, low, close, n):
    """Wilder (1978) by hand: sums of the first n, then S_t = S_(t−1) − S_(t−1)/n + x_t; ADX seeded by a mean."""
    plus_dm, minus_dm, true_range = [], [], []
    for t in range(1, len(close)):
        up, down = high[t] - high[t - 1], low[t - 1] - low[t]
        plus_dm.append(up if up > down and up > 0 else 0.0)
        minus_dm.append(down if down > up and down > 0 else 0.0)
        true_range.append(max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1])))
    tr_sum, plus_sum, minus_sum = sum(true_range[:n]), sum(plus_dm[:n]), sum(minus_dm[:n])
    dxs = []
    for t in range(n - 1, len(true_range)):
        if t >= n:
            tr_sum = tr_sum - tr_sum / n + true_range[t]
            plus_sum = plus_sum - plus_sum / n + plus_dm[t]
            minus_sum = minus_sum - minus_sum / n + minus_dm[t]
        plus_di, minus_di = 100 * plus_sum / tr_sum, 100 * minus_sum / tr_sum
        dxs.append(100 * abs(plus_di - minus_di) / (plus_di + minus_di))
    adx = sum(dxs[:n]) / n
    for dx in dxs[n:]:
        adx = (adx * (n - 1) + dx) / n
    return adx, plus_di, minus_di


def test_adx_matches_wilders_definition_on_a_random_walk():
    rng = np.random.default_rng(7)
    close = 20_000 * np.exp(np.cumsum(rng.normal(0.001, 0.01, DAYS)))
    frame = candles(close)
    frame["high"] = close * (1 + rng.uniform(0.001, 0.01, DAYS))
    frame["low"] = close * (1 - rng.uniform(0.001, 0.01, DAYS))
    ind = classify_market(frame, vix_at(15.0), None).indicators
    expected = wilder_adx_oracle(frame["high"].to_numpy(), frame["low"].to_numpy(), close, 14)
    assert (ind["adx"], ind["plus_di"], ind["minus_di"]) == pytest.approx(expected, rel=1e-10)


def test_adx_of_a_steady_climb_is_100_with_no_minus_di():
    ind = classify_market(candles(UP), vix_at(15.0), None).indicators
    assert ind["adx"] == pytest.approx(100.0) and ind["minus_di"] == 0.0 and ind["plus_di"] > 0


def test_adx_of_constant_prices_is_zero_not_nan():
    state = classify_market(candles(np.full(DAYS, 20_000.0), spread=0.0), vix_at(15.0), None)
    assert (state.indicators["adx"], state.indicators["plus_di"], state.indicators["minus_di"]) == (0.0, 0.0, 0.0)
    assert state.direction == "Neutral"


# ---------------------------------------------------------------- PCR


def test_pcr_by_hand():
    tiny = pd.DataFrame({"option_type": ["CE", "CE", "PE", "PE", "call"], "strike": [1, 2, 1, 2, 3],
                         "oi": [100, 300, 200, 250, 0], "volume": [10, 30, 5, 15, 0]})
    assert pcr(tiny) == (pytest.approx(450 / 400), pytest.approx(20 / 40))


def test_pcr_is_none_where_the_call_side_is_zero():
    assert pcr(chain(0, 500, call_volume=10, put_volume=5)) == (None, 0.5)
    assert pcr(chain(100, 50, call_volume=0, put_volume=5)) == (0.5, None)


@pytest.mark.parametrize("bad, field", [(pd.DataFrame(), "chain"),
                                        (chain(100, 50).drop(columns="oi"), r"missing column\(s\) oi"),
                                        (chain(-1, 50), "chain.oi"), (chain(1, 50, put_volume=np.nan), "chain.volume"),
                                        (chain(1, 50).assign(option_type=["CE", "XX"]), "option_type")])
def test_pcr_rejects_bad_chains_naming_the_field(bad, field):
    with pytest.raises(InputError, match=field):
        pcr(bad)


def test_classify_reports_pcr_of_the_chain():
    state = classify_market(candles(UP), vix_at(15.0), chain(800, 1000, call_volume=40, put_volume=30))
    assert (state.pcr_oi, state.pcr_volume) == (1.25, 0.75)


@pytest.mark.parametrize("missing", [None, pd.DataFrame(columns=["option_type", "oi", "volume"])])
def test_missing_or_empty_chain_gives_no_pcr_and_says_so(missing):
    state = classify_market(candles(UP), vix_at(15.0), missing)
    assert state.pcr_oi is None and state.pcr_volume is None and state.indicators["pcr_shift"] == 0.0
    assert any("No option chain" in line for line in state.explanation)


def test_chain_without_call_oi_gives_no_pcr_and_says_so():
    state = classify_market(candles(UP), vix_at(15.0), chain(0, 500))
    assert state.pcr_oi is None and state.votes["pcr"] == 0
    assert any("no call open interest" in line for line in state.explanation)


def test_pcr_moves_confidence_in_the_documented_direction():
    def confidence(path, pcr_chain):
        return classify_market(candles(path), vix_at(15.0), pcr_chain).direction_confidence

    # score ±1 → 0.75 against the trend: confidence 0.5 + 0.5·(0.75 − 0.5)/(1 − 0.5) = 0.75
    assert confidence(UP, NEUTRAL_PCR) == 1.0 and confidence(UP, BEARISH_PCR) == 0.75
    assert confidence(UP, BULLISH_PCR) == 1.0  # already at the top: clipped
    assert confidence(DOWN, NEUTRAL_PCR) == 1.0 and confidence(DOWN, BULLISH_PCR) == 0.75
    # Neutral at score 0 → ±0.25: confidence 0.5 + 0.5·(0.5 − 0.25)/0.5 = 0.75, either way
    assert confidence(FLAT, NEUTRAL_PCR) == 1.0
    assert confidence(FLAT, BULLISH_PCR) == confidence(FLAT, BEARISH_PCR) == 0.75


def test_pcr_on_a_band_edge_does_not_shift():
    assert classify_market(candles(UP), vix_at(15.0), chain(1000, 1200)).votes["pcr"] == 0
    assert classify_market(candles(UP), vix_at(15.0), chain(1000, 700)).votes["pcr"] == 0


def test_pcr_turns_a_marginal_direction_neutral_and_a_marginal_neutral_into_a_direction():
    two_votes = MarketStateConfig(price_band=1.0, roc_band=1.0)  # only the SMA cross and ADX can vote
    marginal = classify_market(candles(UP), vix_at(15.0), NEUTRAL_PCR, two_votes)
    assert (marginal.indicators["trend_score"], marginal.direction, marginal.direction_confidence) == (
        0.5, "Bullish", 0.5)
    assert classify_market(candles(UP), vix_at(15.0), BEARISH_PCR, two_votes).state == "Neutral / Normal VIX"

    one_vote = MarketStateConfig(price_band=1.0, roc_band=1.0, cross_band=1.0)  # only ADX can vote
    neutral = classify_market(candles(UP), vix_at(15.0), NEUTRAL_PCR, one_vote)
    assert (neutral.indicators["trend_score"], neutral.direction) == (0.25, "Neutral")
    turned = classify_market(candles(UP), vix_at(15.0), BULLISH_PCR, one_vote)
    assert (turned.state, turned.direction_confidence) == ("Bullish / Normal VIX", 0.5)


# ---------------------------------------------------------------- VIX percentile and IV rank by hand


def test_vix_percentile_by_hand():
    prior = np.tile([11.0, 13.0, 15.0, 17.0], 25)  # 100 previous closes
    for last, expected in [(14.0, 50.0), (16.0, 75.0), (11.0, 0.0), (17.5, 100.0)]:
        vix = candles(np.append(prior, last), "INDIA VIX")
        assert classify_market(candles(UP[-101:]), vix, None).vix_percentile == expected
    short_window = MarketStateConfig(vix_percentile_window=4)  # ranks against 11, 13, 15, 17 only
    vix = candles(np.append(np.append(np.full(96, 30.0), [11.0, 13.0, 15.0, 17.0]), 12.0), "INDIA VIX")
    assert classify_market(candles(UP[-101:]), vix, None, short_window).vix_percentile == 25.0


def test_iv_rank_by_hand():
    history = [0.10, 0.20, np.nan, 0.30, 0.40]
    assert iv_rank(history, 0.25) == (pytest.approx(50.0), 50.0)  # (0.25−0.10)/(0.40−0.10); 2 of 4 below
    assert iv_rank(history, 0.35) == (pytest.approx(250 / 3), 75.0)
    assert iv_rank(history, 0.10) == (0.0, 0.0)
    assert iv_rank(history, 0.50) == (100.0, 100.0)  # above the history's high: the range includes today
    assert iv_rank(history, 0.05) == (0.0, 0.0)
    assert iv_rank([0.2, 0.2], 0.2) == (50.0, 0.0)  # no range at all


@pytest.mark.parametrize("history, current, field", [([], 0.2, "iv_history"), ([np.nan, np.nan], 0.2, "iv_history"),
                                                     ([0.1, -0.2], 0.2, "iv_history"), ([0.1, 0.2], np.nan, "current"),
                                                     ([0.1, 0.2], -0.1, "current")])
def test_iv_rank_rejects_bad_input_naming_the_field(history, current, field):
    with pytest.raises(InputError, match=field):
        iv_rank(history, current)


# ---------------------------------------------------------------- explanation


def test_explanation_names_every_indicator_its_vote_vix_and_pcr():
    state = classify_market(candles(UP), vix_at(15.0), BEARISH_PCR)
    text = "\n".join(state.explanation)
    for phrase in ("50-day SMA", "20-day SMA", "20-day rate of change", "ADX(14)", "+DI", "−DI",
                   "INDIA VIX 15.00", "Normal regime", f"percentile {state.vix_percentile:.0f}",
                   "OI PCR 0.50", "score shift -0.25", "volume PCR 1.00", "State: Bullish / Normal VIX"):
        assert phrase in text, phrase
    assert sum("vote Bullish" in line for line in state.explanation) == 4
    assert set(state.votes) == {"price_vs_sma", "sma_cross", "roc", "adx", "pcr"}
    assert all(math.isfinite(v) for v in state.indicators.values())


# ---------------------------------------------------------------- errors


def test_short_history_raises_naming_the_input():
    with pytest.raises(DataError, match=r"nifty: 89 daily candles, need at least 90"):
        classify_market(candles(UP[:89]), vix_at(15.0), None)
    with pytest.raises(DataError, match=r"vix: 60 daily candles"):
        classify_market(candles(UP), vix_at(15.0, days=60), None)


@pytest.mark.parametrize("last", [4.9, 90.5, np.nan])
def test_implausible_vix_raises(last):
    with pytest.raises(DataError, match=r"vix: close .* outside the plausible INDIA VIX range 5–90"):
        classify_market(candles(UP), vix_at(15.0).assign(close=lambda f: np.append(f["close"][:-1], last)), None)


@pytest.mark.parametrize("nifty, vix, message", [
    (None, vix_at(15.0), "nifty: no candles"),
    (candles(UP).iloc[:0], vix_at(15.0), "nifty: no candles"),
    (candles(UP), vix_at(15.0).iloc[:0], "vix: no candles"),
    (candles(UP).drop(columns="close"), vix_at(15.0), "nifty: missing column 'close'"),
    (candles(UP).assign(close=np.append(UP[:-1], np.nan)), vix_at(15.0), "nifty: column 'close' is missing"),
    (pd.concat([candles(UP), candles(UP).iloc[[-1]]]), vix_at(15.0), "nifty: duplicate date 2026-06-30"),
    (candles(UP), vix_at(15.0, end="2026-06-29"), "vix: last close is on 2026-06-29, not on the nifty trade date"),
])
def test_bad_inputs_raise_naming_the_problem(nifty, vix, message):
    with pytest.raises(DataError, match=message):
        classify_market(nifty, vix, None)


def test_vix_after_the_trade_date_is_ignored():
    vix = pd.concat([vix_at(15.0), candles([40.0], "INDIA VIX", end="2026-07-01")])
    assert classify_market(candles(UP), vix, None).vix == 15.0


@pytest.mark.parametrize("fields, name", [(dict(vix_low=18, vix_high=12), "vix thresholds"),
                                          (dict(sma_short=50, sma_long=20), "sma_short"),
                                          (dict(pcr_bearish=1.3), "pcr_bearish"),
                                          (dict(min_history_days=40), "min_history_days")])
def test_config_rejects_inconsistent_settings(fields, name):
    with pytest.raises(ValidationError, match=name):
        MarketStateConfig(**fields)
