"""A one-month and a one-year backtest over the whole universe on the synthetic market, after imports (no
interpreter start), with the default baselines (random, Short Strangle, Iron Condor) run beside the ranked picks.

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py: the month (every trade date
analyzed, the top 10 strategies of each policy entered — as many as fit in the margin limit beside the positions
still held — and carried day by day to their exits) in one process and
with a worker process per core, the carry on its own, timed from the moment the last entry date was analyzed; and
the year with a worker process per core — only with OPTIONSV4_BENCH_YEAR=1 (24 minutes on 2 cores, too long for
every `make bench`). `python bench/bench_backtest.py year` runs the year alone.
"""

import os
import sys
import time

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.config import Settings
from optionsv4_lib.jobs.backtest import make_spec, run_backtest
from optionsv4_lib.reference.universe import load_universe

FROM, TO, TOP = "2026-10-01", "2026-10-30", 10
YEAR_FROM, YEAR_TO = "2025-11-03", "2026-10-30"


def year_rows() -> list[dict]:
    """The one-year whole-universe backtest, a worker process per core, timed once; each analyzed date and the
    seconds so far on stderr."""
    universe, allocations, settings = load_universe(), load_allocations(), Settings()
    spec = make_spec(YEAR_FROM, YEAR_TO, settings=settings, universe=universe, top=TOP)
    workers = os.cpu_count() or 1
    start = time.perf_counter()
    result = run_backtest(spec, settings=settings, universe=universe, allocations=allocations, workers=workers,
                          progress=lambda day: print(f"{day} analyzed, {time.perf_counter() - start:.0f} s",
                                                     file=sys.stderr, flush=True))
    seconds = time.perf_counter() - start
    days = len(result.entry_days)
    compared = ", ".join(f"{row.policy} {row.trades} trades {row.realized_pnl / 1e5:,.1f} lakh"
                         for row in result.evaluation.comparison.itertuples())
    ranked_peak = result.evaluation.comparison.set_index("policy").loc["ranked", "peak_margin"]
    capped = int((result.skipped["stage"] == "capital").sum())
    note = (f"{YEAR_FROM} to {YEAR_TO}: {days} trade dates × {len(universe)} symbols analyzed once, top {TOP} of each "
            f"policy entered per date and carried together; realized net: {compared}; ranked peak margin in use "
            f"₹{ranked_peak / 1e7:.2f} crore (limit ₹{spec.margin_limit / 1e7:.2f} crore), {capped} policy-dates "
            f"with positions left out for margin; one run")
    return [{"task": "backtest, 1 year, whole universe, with baselines", "implementation": f"**optionsv4** "
             f"`run_backtest` (synthetic), {workers} worker processes", "n": days, "seconds": seconds,
             "per_item_us": seconds / days * 1e6, "note": "n = trade dates; " + note}]


def rows() -> list[dict]:
    universe, allocations, settings = load_universe(), load_allocations(), Settings()
    spec = make_spec(FROM, TO, settings=settings, universe=universe, top=TOP)
    workers = os.cpu_count() or 1
    start = time.perf_counter()
    run_backtest(spec, settings=settings, universe=universe, allocations=allocations, workers=workers)
    pooled = time.perf_counter() - start
    entered: list[float] = []
    start = time.perf_counter()
    result = run_backtest(spec, settings=settings, universe=universe, allocations=allocations,
                          progress=lambda day: entered.append(time.perf_counter()))
    total = time.perf_counter() - start
    carrying = start + total - entered[-1]
    trades, t = len(result.trades), result.summary.totals
    closed = int((result.trades["status"] == "closed").sum())
    marked = result.trades["last_marked"].max() - result.trades["entry_date"].min()
    note = (f"{FROM} to {TO}: {len(result.entry_days)} trade dates × {len(universe)} symbols analyzed, top {TOP} of "
            f"each of {len(spec.baselines) + 1} policies entered per date; {trades} trades ({closed} closed) carried "
            f"over {marked.days} calendar days; ranked picks' win rate {t['win_rate']:.0%}; one run")
    return [
        {"task": "backtest, 1 month, whole universe", "implementation": "**optionsv4** `run_backtest` (synthetic), "
         "1 process", "n": len(result.entry_days), "seconds": total,
         "per_item_us": total / len(result.entry_days) * 1e6,
         "note": f"n = trade dates; {total - carrying:.1f} s analyzing them; " + note},
        {"task": "backtest, 1 month, whole universe", "implementation": f"**optionsv4** `run_backtest` (synthetic), "
         f"{workers} worker processes", "n": len(result.entry_days), "seconds": pooled,
         "per_item_us": pooled / len(result.entry_days) * 1e6,
         "note": "`optionsv4 backtest`'s default (--workers = CPU count); same trades as one process"},
        {"task": "backtest carry (marks, exit rules, settlement)", "implementation": "**optionsv4** `carry` "
         "(synthetic)",
         "n": trades, "seconds": carrying, "per_item_us": carrying / trades * 1e6,
         "note": "n = trades; all open positions marked together each trading day, one market per day; chains "
                 "generated included"},
        *(year_rows() if os.environ.get("OPTIONSV4_BENCH_YEAR") else []),  # opt-in: long
    ]


if __name__ == "__main__":
    for row in year_rows() if sys.argv[1:] == ["year"] else rows():
        print(row)
