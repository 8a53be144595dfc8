"""Placement latency of a sliced strategy: the TATAPOWER iron condor at 450 lots, 10× its freeze quantity per leg
(65,250 units = 45 lots in include/data/freeze_quantities.csv), so each leg goes out as 10 slices: 40 orders, buys
first. After imports and planning; the executor against the Dhan emulator (tests/dhan_emulator.py: the real dhanhq
client over HTTP on localhost, production rate limits) and in paper mode, each with a real PostgreSQL (embedded, in a
temporary directory) recording every order. Each run starts from a freshly marked strategy (and a fresh emulator).
The synthetic market's stored analyses hold no NIFTY iron condor, hence TATAPOWER (the condor of bench_execution).

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from optionsv4_lib.config import RiskLimits, Settings
from optionsv4_lib.execution import execute_plan, plan_execution
from optionsv4_lib.execution.dhan import DhanBroker
from optionsv4_lib.execution.paper import PaperBroker
from optionsv4_lib.store import connect, migrate, seed_reference_data, transaction
from optionsv4_lib.store.db import EmbeddedPostgres

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from execution_support import (CONDOR, NOW, DhanEmulator, condor_analysis, dhan_client, market,  # noqa: E402
                               register_contracts, store_and_mark)

RUNS = 3
LOTS = 450  # 10 × the 45 lots of TATAPOWER's freeze quantity
ORDERS = 40
TASK = "place a 4-leg iron condor at 10× the freeze (40 slices)"
# Wide enough for a ₹55 lakh condor: the pre-trade checks are not what is measured.
SETTINGS = Settings(profiles={"conservative": RiskLimits(max_loss_per_trade=0.3, max_industry=0.3, max_total=0.6)})


def rows() -> list[dict]:
    condor_analysis()  # analysed once, outside the timings
    with tempfile.TemporaryDirectory() as home:
        server = EmbeddedPostgres(Path(home))
        conn = connect(server.start())
        try:
            migrate(conn)
            seed_reference_data(conn)
            paper = [_paper_run(conn) for _ in range(RUNS)]
            emulator = [_emulator_run(conn) for _ in range(RUNS)]
        finally:
            conn.close()
            server.stop()
    return [
        _row("optionsv4 executor → Dhan emulator (HTTP)", emulator, "40 LIMIT orders of ≤ 65,250 units, each "
             "looked up, placed and polled to TRADED; production rate limits (10 orders/s, 20 status reads/s) set "
             "the pace"),
        _row("optionsv4 executor, paper", paper, "fills at mid ± slippage; 40 orders written to PostgreSQL"),
    ]


def _fresh(conn, mode: str) -> None:
    with transaction(conn) as cur:
        cur.execute("TRUNCATE orders, positions_snapshots, strategy_execution_status, instruments")
    store_and_mark(conn, CONDOR, mode=mode, lots=LOTS)


def _paper_run(conn) -> float:
    _fresh(conn, "paper")
    return _timed(conn, PaperBroker(conn, capital=SETTINGS.capital))


def _emulator_run(conn) -> float:
    _fresh(conn, "live")
    with DhanEmulator(market(), balance=1e10) as emulator:  # funds for 450 lots
        register_contracts(conn, emulator)
        return _timed(conn, DhanBroker(dhan_client(emulator, rate_limits={})))


def _timed(conn, broker) -> float:
    plan = plan_execution(conn, broker, SETTINGS, now=NOW)
    if len(plan.strategies[0].orders) != ORDERS:
        raise RuntimeError(f"bench plan has {len(plan.strategies[0].orders)} orders, not {ORDERS}")
    start = time.perf_counter()
    [outcome] = execute_plan(conn, broker, plan)
    seconds = time.perf_counter() - start
    if outcome.status != "open":
        raise RuntimeError(f"bench run did not open the strategy: {outcome.status} {outcome.reason}")
    return seconds


def _row(implementation: str, seconds: list[float], note: str) -> dict:
    total = sum(seconds)
    return {"task": TASK, "implementation": implementation, "n": len(seconds), "seconds": total,
            "per_item_us": total / len(seconds) * 1e6,
            "note": f"per strategy: median {statistics.median(seconds) * 1e3:.0f} ms, best {min(seconds) * 1e3:.0f} "
                    f"ms, worst {max(seconds) * 1e3:.0f} ms ({statistics.median(seconds) / ORDERS * 1e3:.1f} ms an "
                    f"order); {note}"}


if __name__ == "__main__":
    for row in rows():
        print(row)
