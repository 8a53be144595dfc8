"""A one-month backtest over the whole universe on the synthetic market, after imports (no interpreter start).

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py: the whole run (every trade date
analyzed, the top 10 strategies of each entered and carried day by day to their exits) in one process and with a
worker process per core, and the carry on its own, timed from the moment the last entry date was analyzed.
"""

import os
import time

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.config import Settings
from optionsv4_lib.jobs.backtest import make_spec, run_backtest
from optionsv4_lib.reference.universe import load_universe

FROM, TO, TOP = "2026-10-01", "2026-10-30", 10


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
    marked = result.trades["last_marked"].max() - result.trades["entry_date"].min()
    note = (f"{FROM} to {TO}: {len(result.entry_days)} trade dates × {len(universe)} symbols analyzed, top {TOP} "
            f"entered per date; {trades} trades ({t['closed']} closed) carried over {marked.days} calendar days; "
            f"win rate {t['win_rate']:.0%}; one run")
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
    ]


if __name__ == "__main__":
    for row in rows():
        print(row)
