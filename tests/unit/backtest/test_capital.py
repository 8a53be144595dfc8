"""A backtest's book held within its margin limit (backtest.capital.within_capital), worked by hand on a small table
of two policies; the entry order (entry_no), not the trade ids, decides who enters first; the margin in use of what
is kept is never above the limit."""

import pandas as pd

from optionsv4_lib.backtest.capital import within_capital
from optionsv4_lib.backtest.evaluation import margin_in_use

D = pd.Timestamp
LIMIT = 1000.0
TRADES = pd.DataFrame({
    "trade_id": ["r1", "r2", "r3", "r4", "r5", "r6", "b1", "b2", "b3", "b4"],
    "policy": ["ranked"] * 6 + ["random"] * 4,
    "entry_date": [D("2026-10-01"), D("2026-10-01"), D("2026-10-02"), D("2026-10-02"), D("2026-10-02"),
                   D("2026-10-06"), D("2026-10-01"), D("2026-10-02"), D("2026-10-07"), D("2026-10-07")],
    "entry_no": [0, 1, 0, 1, 2, 0, 0, 0, 1, 0],
    "exit_date": [D("2026-10-05"), D("2026-10-02"), pd.NaT, D("2026-10-07"), D("2026-10-07"), D("2026-10-08"),
                  D("2026-10-06"), D("2026-10-03"), pd.NaT, pd.NaT],
    "margin": [600.0, 300.0, 200.0, 150.0, 50.0, 900.0, 1000.0, 1.0, 700.0, 600.0],
})


def test_positions_beyond_the_limit_are_left_out_in_entry_order_by_hand():
    kept, left_out = within_capital(TRADES, LIMIT)
    # ranked, 1 Oct: r1 600 + r2 300 = 900 ≤ 1000, both in.
    #   2 Oct: r1 and r2 still held (r2 closes that day and still counts): 900; r3 200 → 1100 out; r4 150 → out;
    #          r5 50 → 950 in (a later, smaller one fits).
    #   6 Oct: r1 closed on 5 Oct, r2 on 2 Oct; r5 held (exits 7 Oct): 50; r6 900 → 950 in.
    # random, 1 Oct: b1 takes the whole limit; 2 Oct: b2 (₹1) does not fit. 7 Oct: b1 closed on 6 Oct; b4 enters
    #   first (entry_no 0, though its id sorts after b3's): 600; then b3 700 → 1300 out.
    assert kept["trade_id"].tolist() == ["r1", "r2", "r5", "r6", "b1", "b4"]
    assert kept.index.tolist() == [0, 1, 4, 5, 6, 9]  # the input's rows
    assert sorted((row["day"].isoformat(), row["reason"]) for row in left_out) == [
        ("2026-10-02", "random: 1 of 1 positions not entered: margin in use ₹1,000 + their margin ₹1 exceeds the "
                       "margin limit ₹1,000"),
        ("2026-10-02", "ranked: 2 of 3 positions not entered: margin in use ₹950 + their margin ₹350 exceeds the "
                       "margin limit ₹1,000"),
        ("2026-10-07", "random: 1 of 2 positions not entered: margin in use ₹600 + their margin ₹700 exceeds the "
                       "margin limit ₹1,000"),
    ]
    assert {row["stage"] for row in left_out} == {"capital"}


def test_what_is_kept_never_uses_more_margin_than_the_limit_and_a_large_limit_keeps_everything():
    kept, _ = within_capital(TRADES, LIMIT)
    assert margin_in_use(kept)["margin"].max() <= LIMIT
    assert margin_in_use(TRADES)["margin"].max() > LIMIT  # the gate had work to do
    everything, left_out = within_capital(TRADES, 1e9)
    assert everything.equals(TRADES) and left_out == []


def test_the_order_of_the_rows_does_not_change_what_is_kept():
    shuffled = TRADES.sample(frac=1.0, random_state=7)
    kept, _ = within_capital(shuffled, LIMIT)
    assert sorted(kept["trade_id"]) == ["b1", "b4", "r1", "r2", "r5", "r6"]
