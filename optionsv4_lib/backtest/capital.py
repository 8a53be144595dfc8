"""The margin a backtest's book may block: every entry date is analyzed and sized on its own, its positions held to the
risk profile's margin limit (max_margin × capital, analysis.allocation), so positions held over overlapping days could
block more than that together. `within_capital` enters each policy's positions in date order (within a date in their
entry order, engine.enter's `entry_no`) and leaves out a position whose margin (₹, at entry) would take the policy's
margin in use above the limit: the margin in use on a day is the margin of the positions entered before or on it and
not closed before it (a position closing that day still counts, one still open at the end is held to the end — as
backtest.evaluation.margin_in_use reads it). A later, smaller position of the same date may still fit. Positions are
independent, so leaving one out changes no other's outcome, and the CLI (all dates carried together) and the DAG
(each date carried alone) keep the same trades.
"""

import numpy as np
import pandas as pd

from optionsv4_lib.core.text import money

ROUNDING = 0.01  # ₹: sums that differ by less than a paisa are equal (the evaluation adds in another order)


def within_capital(trades: pd.DataFrame, limit: float) -> tuple[pd.DataFrame, list[dict]]:
    """(the trades entered, on `trades`' index; one {day, stage "capital", reason} per policy and date with a position
    left out) for a margin `limit` in ₹. A missing margin counts as 0."""
    kept = np.ones(len(trades), dtype=bool)
    left_out: list[dict] = []
    order = trades.assign(_row=np.arange(len(trades))).sort_values(["policy", "entry_date", "entry_no", "trade_id"],
                                                                    na_position="last")
    for policy, own in order.groupby("policy", sort=True):
        entered = own["entry_date"].to_numpy("datetime64[D]")
        until = own["exit_date"].to_numpy("datetime64[D]")
        until = np.where(np.isnat(until), np.datetime64("9999-12-31"), until)  # still open: held to the end
        margin = np.nan_to_num(own["margin"].to_numpy(float))
        rows, taken = own["_row"].to_numpy(), np.zeros(len(own), dtype=bool)
        for day in np.unique(entered):
            today = np.flatnonzero(entered == day)
            in_use = margin[taken & (until >= day)].sum()
            refused = []
            for i in today:
                if in_use + margin[i] <= limit + ROUNDING:
                    taken[i], in_use = True, in_use + margin[i]
                else:
                    refused.append(i)
            if refused:
                kept[rows[refused]] = False
                left_out.append({"day": pd.Timestamp(day).date(), "stage": "capital", "reason": (
                    f"{policy}: {len(refused)} of {len(today)} positions not entered: margin in use {money(in_use)} "
                    f"+ their margin {money(margin[refused].sum())} exceeds the margin limit {money(limit)}")})
    return trades[kept], left_out
