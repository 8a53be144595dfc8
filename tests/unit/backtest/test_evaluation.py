"""Does the ranking work? — the evaluation of a backtest's trades on a tiny hand-made table of two policies: the
comparison, per family and market state, PoP buckets, Brier scores, predicted against realized E[P&L], equity and
drawdown (₹ and %), and margin in use, each worked by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.backtest.evaluation import (
    brier,
    bucket_of,
    calibration,
    evaluate,
    margin_in_use,
    policy_order,
)

CAPITAL = 1000.0
D = pd.Timestamp
TRADES = pd.DataFrame({
    "trade_id": ["r1", "r2", "r3", "r4", "b1", "b2", "b3"],
    "policy": ["ranked"] * 4 + ["family:Iron Condor"] * 3,
    "family": ["neutral", "income", "neutral", "income", "neutral", "neutral", "neutral"],
    "market_state": ["A", "A", "B", "B", "A", "A", "B"],
    "status": ["closed", "closed", "closed", "open", "closed", "closed", "closed"],
    "entry_date": [D("2026-10-01"), D("2026-10-01"), D("2026-10-02"), D("2026-10-05"), D("2026-10-01"),
                   D("2026-10-02"), D("2026-10-05")],
    "exit_date": [D("2026-10-02"), D("2026-10-05"), D("2026-10-06"), pd.NaT, D("2026-10-05"), D("2026-10-05"),
                  D("2026-10-06")],
    "pnl_net": [100.0, -150.0, 30.0, 20.0, -10.0, 40.0, -5.0],
    "pop_net": [0.82, 0.65, 0.68, 0.9, 0.75, 0.75, 0.79],
    "pop_market": [0.70, 0.55, 0.60, 0.8, 0.70, 0.72, 0.71],
    "expected_pnl_net": [20.0, 10.0, 5.0, 1.0, 2.0, 3.0, 4.0],
    "expected_pnl_market": [-5.0, -6.0, -2.0, -1.0, -1.0, -1.0, -1.0],
    "margin": [500.0, 300.0, 200.0, 400.0, 100.0, 100.0, 100.0],
    "pnl": [110.0, -140.0, 35.0, 25.0, -5.0, 45.0, 0.0],
    "costs": [10.0, 10.0, 5.0, 5.0, 5.0, 5.0, 5.0],
})


def test_policies_are_ordered_ranked_random_then_families():
    assert policy_order(["family:Short Strangle", "random", "ranked", "family:Iron Condor", "ranked"]) == \
        ["ranked", "random", "family:Iron Condor", "family:Short Strangle"]


def test_brier_and_buckets_by_hand():
    assert brier([0.8, 0.6], [1, 0]) == pytest.approx((0.2 ** 2 + 0.6 ** 2) / 2)  # 0.2
    assert math.isnan(brier([], []))
    assert bucket_of(np.array([0.0, 0.0999, 0.1, 0.65, 0.7, 0.99, 1.0])).tolist() == [0, 0, 1, 6, 7, 9, 9]


def test_the_comparison_of_the_ranked_picks_and_a_baseline_by_hand():
    evaluation = evaluate(TRADES, CAPITAL)
    table = evaluation.comparison.set_index("policy")
    assert list(table.index) == ["ranked", "family:Iron Condor"]
    ranked, condor = table.loc["ranked"], table.loc["family:Iron Condor"]
    # ranked: closed r1 +100, r2 −150, r3 +30 → realized −20 over 3 closed, 2 wins; r4 open +20
    assert (ranked["trades"], ranked["closed"], ranked["open"], ranked["wins"]) == (4, 3, 1, 2)
    assert ranked["win_rate"] == pytest.approx(2 / 3) and ranked["realized_pnl"] == pytest.approx(-20.0)
    assert ranked["mean_pnl"] == pytest.approx(-20 / 3) and ranked["total_pnl"] == pytest.approx(0.0)
    # equity by exit date: 2 Oct +100, 5 Oct −150, 6 Oct +30 → 100, −50, −20: the fall 100 → −50 is ₹150,
    # 150 / (1000 + 100) of the peak equity
    assert ranked["max_drawdown"] == pytest.approx(150.0)
    assert ranked["max_drawdown_pct"] == pytest.approx(150 / 1100)
    # condor: 5 Oct −10 + 40 = +30, 6 Oct −5 → 30, 25: a ₹5 fall from 1030
    assert condor["realized_pnl"] == pytest.approx(25.0) and condor["win_rate"] == pytest.approx(1 / 3)
    assert condor["max_drawdown"] == pytest.approx(5.0) and condor["max_drawdown_pct"] == pytest.approx(5 / 1030)
    # margin in use peaks on 2 Oct for ranked (r1, r2, r3: 500 + 300 + 200); on 5 Oct all three condors (300)
    assert ranked["peak_margin"] == pytest.approx(1000.0) and condor["peak_margin"] == pytest.approx(300.0)


def test_per_family_and_market_state():
    evaluation = evaluate(TRADES, CAPITAL)
    family = evaluation.groups["family"].set_index(["policy", "family"])
    assert family.loc[("ranked", "neutral"), ["closed", "wins", "realized_pnl", "mean_pnl"]].tolist() == \
        pytest.approx([2, 2, 130.0, 65.0])
    income = family.loc[("ranked", "income")]
    assert (income["trades"], income["closed"], income["realized_pnl"], income["total_pnl"]) == (2, 1, -150.0, -130.0)
    state = evaluation.groups["market_state"].set_index(["policy", "market_state"])
    assert state.loc[("family:Iron Condor", "A"), ["trades", "wins", "realized_pnl"]].tolist() == [2, 1, 30.0]
    assert state.loc[("family:Iron Condor", "B"), "win_rate"] == 0.0


def test_pop_calibration_and_brier_scores_by_hand():
    table = calibration(TRADES).set_index(["policy", "measure", "bucket"]).sort_index()
    # ranked, view: r1 0.82 (win) in 80–90 %; r2 0.65 (loss) and r3 0.68 (win) in 60–70 %; r4 is open: left out
    sixty = table.loc[("ranked", "view", "60%–70%")]
    assert (sixty["trades"], sixty["low"], sixty["high"]) == (2, pytest.approx(0.6), pytest.approx(0.7))
    assert sixty["predicted_pop"] == pytest.approx(0.665) and sixty["win_rate"] == pytest.approx(0.5)
    assert sixty["predicted_pnl"] == pytest.approx(15.0) and sixty["realized_pnl"] == pytest.approx(-120.0)
    eighty = table.loc[("ranked", "view", "80%–90%")]
    assert (eighty["trades"], eighty["win_rate"], eighty["predicted_pnl"]) == (1, 1.0, 20.0)
    assert len(table.loc[("ranked", "view")]) == 2  # empty buckets are not rows
    # market: r1 0.70 → 70–80 %; r2 0.55 → 50–60 %; r3 0.60 → 60–70 %
    assert table.loc[("ranked", "market")].index.tolist() == ["50%–60%", "60%–70%", "70%–80%"]
    assert table.loc[("ranked", "market", "70%–80%"), "predicted_pnl"] == -5.0

    scores = evaluate(TRADES, CAPITAL).brier.set_index(["policy", "measure"])
    view = scores.loc[("ranked", "view")]
    # (0.82 − 1)² + (0.65 − 0)² + (0.68 − 1)² = 0.0324 + 0.4225 + 0.1024 = 0.5573, over 3
    assert view["trades"] == 3 and view["brier"] == pytest.approx(0.5573 / 3)
    assert view["predicted_pnl"] == pytest.approx(35.0) and view["realized_pnl"] == pytest.approx(-20.0)
    # (0.70 − 1)² + 0.55² + (0.60 − 1)² = 0.09 + 0.3025 + 0.16
    assert scores.loc[("ranked", "market"), "brier"] == pytest.approx(0.5525 / 3)
    assert scores.loc[("ranked", "market"), "predicted_pnl"] == pytest.approx(-13.0)
    # condor, view: b1 0.75 loss, b2 0.75 win, b3 0.79 loss: 0.5625 + 0.0625 + 0.6241
    assert scores.loc[("family:Iron Condor", "view"), "brier"] == pytest.approx(1.2491 / 3)


def test_equity_curves_per_policy():
    equity = evaluate(TRADES, CAPITAL).equity
    ranked = equity[equity["policy"] == "ranked"]
    assert ranked["cumulative"].tolist() == [100.0, -50.0, -20.0]
    assert ranked["drawdown"].tolist() == [0.0, 150.0, 120.0]
    assert ranked["drawdown_pct"].tolist() == pytest.approx([0.0, 150 / 1100, 120 / 1100])


def test_margin_in_use_counts_positions_from_entry_through_exit_and_open_ones_to_the_end():
    margin = margin_in_use(TRADES)
    ranked = margin[margin["policy"] == "ranked"].set_index("day")
    # days of any entry or exit: 1, 2, 5, 6 Oct. r1 1–2 Oct (500), r2 1–5 Oct (300), r3 2–6 Oct (200),
    # r4 open from 5 Oct to the end (400)
    assert ranked.index.tolist() == [D("2026-10-01"), D("2026-10-02"), D("2026-10-05"), D("2026-10-06")]
    assert ranked["margin"].tolist() == [800.0, 1000.0, 900.0, 600.0]
    assert ranked["positions"].tolist() == [2, 3, 3, 2]
    assert margin_in_use(TRADES.iloc[:0]).empty
