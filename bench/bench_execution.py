"""Placement latency of one 4-leg iron condor (TATAPOWER, lots of 1,450), after imports and planning: the executor
against the Dhan emulator (tests/dhan_emulator.py: the real dhanhq client over HTTP on localhost, so network time
to Dhan is not in it) and in paper mode, each with a real PostgreSQL (embedded, in a temporary directory) recording
every order. Each run starts from a freshly marked strategy (and a fresh emulator). Default policy: first status
read at once, then waits of 20 ms doubling. The emulator moves an order one step per read (TRANSIT → PENDING →
TRADED), so an order costs a look-up, a placement and two reads.

Two sizes: 12 lots (one order a leg), and 450 lots — 10× the 45 lots of TATAPOWER's quantity freeze (65,250 units
in include/data/freeze_quantities.csv), so each leg goes out as 10 slices: 40 orders, buys first. (The synthetic
market's stored analyses hold no NIFTY iron condor, hence TATAPOWER.)

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py. The old script-based system
took about 4.2 s per multi-leg strategy (its own report; it cannot run here), shown for scale.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from optionsv4_lib.adapters.dhan.broker import DhanBroker
from optionsv4_lib.analysis.limits import RiskLimits
from optionsv4_lib.config import Settings
from optionsv4_lib.execution import execute_plan, plan_execution
from optionsv4_lib.execution.paper import PaperBroker
from optionsv4_lib.store import connect, migrate, seed_reference_data, transaction
from optionsv4_lib.store.db import EmbeddedPostgres

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from execution_support import (  # noqa: E402
    CONDOR,
    NOW,
    DhanEmulator,
    condor_analysis,
    dhan_client,
    market,
    register_contracts,
    store_and_mark,
)

TASK = "place a 4-leg iron condor"
SLICED_TASK = "place a 4-leg iron condor at 10× the freeze (40 slices)"
PLAIN = {"name": "plain", "lots": None, "runs": 20, "orders": 4}  # lots as the analysis sized it: 12
SLICED = {"name": "sliced", "lots": 450, "runs": 3, "orders": 40}
# Wide enough for a ₹1.1 crore condor: the pre-trade checks are not what is measured.
SLICED_SETTINGS = Settings(profiles={"conservative": RiskLimits(max_loss_per_trade=0.4, max_industry=0.4,
                                                                max_total=0.6)})


def rows() -> list[dict]:
    condor_analysis()  # analysed once, outside the timings
    with tempfile.TemporaryDirectory() as home:
        server = EmbeddedPostgres(Path(home))
        conn = connect(server.start())
        try:
            migrate(conn)
            seed_reference_data(conn)
            timings = {(size["name"], venue): [_run(conn, venue, size, settings) for _ in range(size["runs"])]
                       for size, settings in ((PLAIN, Settings()), (SLICED, SLICED_SETTINGS))
                       for venue in ("paper", "emulator")}
        finally:
            conn.close()
            server.stop()
    return [
        _row(TASK, "**optionsv4** executor → Dhan emulator (HTTP)", timings["plain", "emulator"], PLAIN,
             "4 LIMIT orders, buys first, each polled to TRADED: 4 HTTP requests and one 20 ms poll wait per leg; "
             "production rate limits"),
        _row(TASK, "**optionsv4** executor, paper", timings["plain", "paper"], PLAIN,
             "fills at mid ± slippage against the stored quotes; 4 orders written to PostgreSQL"),
        {"task": TASK, "implementation": "old script-based system (reported)", "n": 1, "seconds": 4.2,
         "per_item_us": 4.2e6, "note": "its own report; not run here"},
        _row(SLICED_TASK, "**optionsv4** executor → Dhan emulator (HTTP)", timings["sliced", "emulator"], SLICED,
             "40 LIMIT orders of ≤ 65,250 units, each looked up, placed and polled to TRADED; production rate "
             "limits (10 orders/s, 20 status reads/s) set the pace"),
        _row(SLICED_TASK, "**optionsv4** executor, paper", timings["sliced", "paper"], SLICED,
             "fills at mid ± slippage; 40 orders written to PostgreSQL"),
    ]


def _run(conn, venue: str, size: dict, settings: Settings) -> float:
    """Seconds to place one freshly marked condor of size["lots"] (None: as analysed) on the venue."""
    with transaction(conn) as cur:
        cur.execute("TRUNCATE orders, positions_snapshots, strategy_execution_status, instruments")
    store_and_mark(conn, CONDOR, mode="paper" if venue == "paper" else "live", lots=size["lots"])
    if venue == "paper":
        paper = PaperBroker(conn, capital=settings.capital, rate=settings.risk_free_rate)
        return _timed(conn, paper, settings, size["orders"])
    with DhanEmulator(market(), balance=1e10) as emulator:  # funds for 450 lots
        register_contracts(conn, emulator)
        return _timed(conn, DhanBroker(dhan_client(emulator, rate_limits={})), settings, size["orders"])


def _timed(conn, broker, settings: Settings, orders: int) -> float:
    plan = plan_execution(conn, broker, settings, now=NOW)
    if len(plan.strategies[0].orders) != orders:
        raise RuntimeError(f"bench plan has {len(plan.strategies[0].orders)} orders, not {orders}")
    start = time.perf_counter()
    [outcome] = execute_plan(conn, broker, plan)
    seconds = time.perf_counter() - start
    if outcome.status != "open":
        raise RuntimeError(f"bench run did not open the strategy: {outcome.status} {outcome.reason}")
    return seconds


def _row(task: str, implementation: str, seconds: list[float], size: dict, note: str) -> dict:
    total, median = sum(seconds), statistics.median(seconds)
    per_order = f" ({median / size['orders'] * 1e3:.1f} ms an order)" if size["orders"] > 4 else ""
    return {"task": task, "implementation": implementation, "n": len(seconds), "seconds": total,
            "per_item_us": total / len(seconds) * 1e6,
            "note": f"per strategy: median {median * 1e3:.0f} ms, best {min(seconds) * 1e3:.0f} ms, worst "
                    f"{max(seconds) * 1e3:.0f} ms{per_order}; {note}"}


if __name__ == "__main__":
    for row in rows():
        print(row)
