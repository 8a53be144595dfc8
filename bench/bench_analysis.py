"""The analysis phase over the whole universe on the synthetic market, after imports (no interpreter start).

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py. The old script-based system
analyzed 34 of 50 symbols in about 18 minutes (its own report; it cannot run here), shown for scale.
"""

import time
from datetime import date

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.config import Settings
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.universe import load_universe

TRADE_DATE = date(2026, 11, 23)
RUNS = 3


def rows() -> list[dict]:
    universe, allocations, settings = load_universe(), load_allocations(), Settings()
    best, result = float("inf"), None
    for _ in range(RUNS):
        start = time.perf_counter()
        result = analyze_portfolio(SyntheticMarket(42, TRADE_DATE), universe=universe, allocations=allocations, settings=settings)
        best = min(best, time.perf_counter() - start)
    n = len(universe)
    ok = int((result.symbols["status"] == "ok").sum())
    candidates = int(result.symbols["n_candidates"].sum())
    return [
        {"task": "analysis, whole universe", "implementation": "optionsv4 analyze_portfolio (synthetic)", "n": n,
         "seconds": best, "per_item_us": best / n * 1e6,
         "note": f"{ok}/{n} symbols ranked, {candidates:,} candidates evaluated, {len(result.strategies)} sized; "
                 f"market data generation included; best of {RUNS}"},
        {"task": "analysis, whole universe", "implementation": "old script-based system (reported)", "n": 50,
         "seconds": 18 * 60, "per_item_us": 18 * 60 / 50 * 1e6, "note": "34 of 50 symbols analyzed; not run here"},
    ]


if __name__ == "__main__":
    for row in rows():
        print(row)
