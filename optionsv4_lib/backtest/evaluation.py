"""Does the ranking work? The trades of a backtest (backtest.engine.TRADE_COLUMNS, every pick policy's — the ranked
picks and the baselines run on the same days) compared and checked against their own predictions. Pure over the
trades; money in ₹, net of costs.

- Comparison: per policy (and per policy × family, × market state at entry): trades, closed, wins, win rate, realized
  P&L, mean realized P&L per closed trade, unrealized P&L of positions still open, max drawdown (₹, and % of the
  peak equity, equity = capital + cumulative realized P&L in exit-date order) and the peak margin in use.
- PoP calibration: closed trades bucketed by a predicted probability of profit (PoP_BUCKETS wide, e.g. 0.6 ≤ pop <
  0.7; pop = 1 in the top bucket), under the view (pop_net) and under the market (pop_market); per bucket the mean
  predicted PoP against the realized win rate (a win: pnl_net > 0), and the predicted E[P&L] (expected_pnl_net,
  expected_pnl_market) summed against the realized P&L. Brier score = mean of (pop − win)² over the closed trades
  (0 is perfect; always saying 0.5 scores 0.25). The predictions are at expiry; the trades leave on their exit rules,
  usually before — a gap between the two is partly that.
- Equity: per policy and exit date, realized P&L, cumulative, drawdown ₹ and % (as above).
- Margin in use: per policy on every day a position entered or left, the sum of the stored margin (₹, at entry) of
  the positions held that day: entered on or before it and not closed before it (a position closed that day counts,
  so does one still open at the end).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.picks import RANDOM, RANKED
from optionsv4_lib.backtest.engine import trade_stats

PoP_BUCKETS = 0.1  # width of a calibration bucket (probability)
MEASURES = {"view": ("pop_net", "expected_pnl_net"), "market": ("pop_market", "expected_pnl_market")}
"""The two measures a prediction is made under: name → (PoP column, E[P&L] column) of the trades."""

COMPARISON_COLUMNS = ("policy", "trades", "closed", "open", "wins", "win_rate", "realized_pnl", "mean_pnl",
                      "unrealized_pnl", "total_pnl", "max_drawdown", "max_drawdown_pct", "peak_margin")
GROUP_COLUMNS = ("policy", "trades", "closed", "wins", "win_rate", "realized_pnl", "mean_pnl", "total_pnl")
CALIBRATION_COLUMNS = ("policy", "measure", "bucket", "low", "high", "trades", "predicted_pop", "win_rate",
                       "predicted_pnl", "realized_pnl")
BRIER_COLUMNS = ("policy", "measure", "trades", "brier", "predicted_pnl", "realized_pnl")
EQUITY_COLUMNS = ("policy", "exit_date", "realized_pnl", "cumulative", "drawdown", "drawdown_pct")
MARGIN_COLUMNS = ("policy", "day", "margin", "positions")


@dataclass(frozen=True)
class Evaluation:
    """The frames of the module docstring: comparison (COMPARISON_COLUMNS), groups (family / market_state →
    GROUP_COLUMNS with the key after policy), calibration (CALIBRATION_COLUMNS), brier (BRIER_COLUMNS, with the
    predicted and realized P&L summed over the closed trades), equity (EQUITY_COLUMNS), margin (MARGIN_COLUMNS)."""

    comparison: pd.DataFrame
    groups: dict[str, pd.DataFrame]
    calibration: pd.DataFrame
    brier: pd.DataFrame
    equity: pd.DataFrame
    margin: pd.DataFrame


def policy_order(policies) -> list[str]:
    """The distinct policies: ranked, random, then the families in name order."""
    return sorted(set(policies), key=lambda p: (p != RANKED, p != RANDOM, p))


def evaluate(trades: pd.DataFrame, capital: float) -> Evaluation:
    """Every frame of the module docstring for `trades` (all policies), drawdown % against `capital` (₹)."""
    equity = equity_curves(trades, capital)
    margin = margin_in_use(trades)
    return Evaluation(comparison(trades, equity, margin),
                      {key: group_comparison(trades, key) for key in ("family", "market_state")},
                      calibration(trades), brier_scores(trades), equity, margin)


def _by_policy(trades: pd.DataFrame):
    return [(policy, trades[trades["policy"] == policy]) for policy in policy_order(trades["policy"])]


def _mean_pnl(stats: dict) -> float:
    return stats["realized_pnl"] / stats["closed"] if stats["closed"] else float("nan")


def comparison(trades: pd.DataFrame, equity: pd.DataFrame, margin: pd.DataFrame) -> pd.DataFrame:
    """One row per policy (COMPARISON_COLUMNS) from its trades, equity curve and margin in use."""
    rows = []
    for policy, own in _by_policy(trades):
        stats = trade_stats(own)
        curve, used = equity[equity["policy"] == policy], margin[margin["policy"] == policy]
        rows.append({**{k: stats[k] for k in ("trades", "closed", "open", "wins", "win_rate", "realized_pnl",
                                              "unrealized_pnl", "total_pnl", "max_drawdown")},
                     "policy": policy, "mean_pnl": _mean_pnl(stats),
                     "max_drawdown_pct": float(curve["drawdown_pct"].max()) if len(curve) else 0.0,
                     "peak_margin": float(used["margin"].max()) if len(used) else 0.0})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def group_comparison(trades: pd.DataFrame, key: str) -> pd.DataFrame:
    """One row per policy and value of `key` (GROUP_COLUMNS, `key` second), in policy then value order."""
    rows = []
    for policy, own in _by_policy(trades):
        for value, group in own.groupby(key, sort=True):
            stats = trade_stats(group)
            rows.append({"policy": policy, key: value, **{k: stats[k] for k in GROUP_COLUMNS[1:] if k in stats},
                         "mean_pnl": _mean_pnl(stats)})
    return pd.DataFrame(rows, columns=[GROUP_COLUMNS[0], key, *GROUP_COLUMNS[1:]])


def bucket_of(pop: np.ndarray) -> np.ndarray:
    """The calibration bucket of each PoP: 0 for [0, 0.1), …, 9 for [0.9, 1]."""
    n = round(1 / PoP_BUCKETS)
    return np.clip(np.floor(np.asarray(pop, dtype=float) / PoP_BUCKETS + 1e-9), 0, n - 1).astype(int)


def _closed(trades: pd.DataFrame) -> pd.DataFrame:
    return trades[(trades["status"] == "closed") & trades["pnl_net"].notna()]


def calibration(trades: pd.DataFrame) -> pd.DataFrame:
    """Per policy, measure and non-empty PoP bucket of the closed trades: CALIBRATION_COLUMNS."""
    rows = []
    for policy, own in _by_policy(_closed(trades)):
        for measure, (pop_column, pnl_column) in MEASURES.items():
            known = own[own[pop_column].notna()]
            win = (known["pnl_net"] > 0).to_numpy(float)
            frame = pd.DataFrame({"bucket": bucket_of(known[pop_column].to_numpy()), "pop": known[pop_column],
                                  "win": win, "predicted": known[pnl_column], "realized": known["pnl_net"]})
            for bucket, group in frame.groupby("bucket", sort=True):
                low = bucket * PoP_BUCKETS
                rows.append({"policy": policy, "measure": measure, "bucket": f"{low:.0%}–{low + PoP_BUCKETS:.0%}",
                             "low": low, "high": low + PoP_BUCKETS, "trades": len(group),
                             "predicted_pop": float(group["pop"].mean()), "win_rate": float(group["win"].mean()),
                             "predicted_pnl": float(group["predicted"].sum()),
                             "realized_pnl": float(group["realized"].sum())})
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


def brier(pop, win) -> float:
    """Mean of (pop − win)² (win 1 or 0); NaN without any."""
    pop, win = np.asarray(pop, dtype=float), np.asarray(win, dtype=float)
    return float(np.mean((pop - win) ** 2)) if len(pop) else float("nan")


def brier_scores(trades: pd.DataFrame) -> pd.DataFrame:
    """Per policy and measure over the closed trades with that PoP: BRIER_COLUMNS."""
    rows = []
    for policy, own in _by_policy(_closed(trades)):
        for measure, (pop_column, pnl_column) in MEASURES.items():
            known = own[own[pop_column].notna()]
            rows.append({"policy": policy, "measure": measure, "trades": len(known),
                         "brier": brier(known[pop_column], known["pnl_net"] > 0),
                         "predicted_pnl": float(known[pnl_column].sum()),
                         "realized_pnl": float(known["pnl_net"].sum())})
    return pd.DataFrame(rows, columns=BRIER_COLUMNS)


def equity_curves(trades: pd.DataFrame, capital: float) -> pd.DataFrame:
    """Per policy and exit date: EQUITY_COLUMNS (see the module docstring)."""
    frames = []
    for policy, own in _by_policy(_closed(trades)):
        daily = own.groupby("exit_date")["pnl_net"].sum().sort_index()
        cumulative = daily.cumsum().to_numpy()
        peak = np.maximum.accumulate(np.concatenate(([0.0], cumulative)))[1:]
        frames.append(pd.DataFrame({"policy": policy, "exit_date": daily.index, "realized_pnl": daily.to_numpy(),
                                    "cumulative": cumulative, "drawdown": peak - cumulative,
                                    "drawdown_pct": (peak - cumulative) / (capital + peak)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=EQUITY_COLUMNS)


def margin_in_use(trades: pd.DataFrame) -> pd.DataFrame:
    """Per policy on each day a position of any policy entered or closed: MARGIN_COLUMNS (see the module
    docstring)."""
    if trades.empty:
        return pd.DataFrame(columns=MARGIN_COLUMNS)
    days = np.unique(np.concatenate([trades["entry_date"].to_numpy("datetime64[D]"),
                                     trades["exit_date"].dropna().to_numpy("datetime64[D]")]))
    frames = []
    for policy, own in _by_policy(trades):
        entered = own["entry_date"].to_numpy("datetime64[D]")
        left = own["exit_date"].to_numpy("datetime64[D]")
        left = np.where(np.isnat(left), days[-1], left)  # still open: held to the end
        held = (entered[None, :] <= days[:, None]) & (days[:, None] <= left[None, :])  # (days, trades)
        margin = np.nan_to_num(own["margin"].to_numpy(float))
        frames.append(pd.DataFrame({"policy": policy, "day": pd.to_datetime(days), "margin": held @ margin,
                                    "positions": held.sum(axis=1)}))
    return pd.concat(frames, ignore_index=True)
