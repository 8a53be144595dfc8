"""Placement latency of one 4-leg iron condor (TATAPOWER, 20 lots), after imports and planning: the executor
against the Dhan emulator (tests/dhan_emulator.py: the real dhanhq client over HTTP on localhost, so network time
to Dhan is not in it) and in paper mode, each with a real PostgreSQL (embedded, in a temporary directory) recording
every order. Each run starts from a freshly marked strategy (and a fresh emulator). Default policy: first status
read at once, then waits of 20 ms doubling. The emulator moves an order one step per read (TRANSIT → PENDING →
TRADED), so a leg costs a look-up, a placement and two reads.

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py. The old script-based system
took about 4.2 s per multi-leg strategy (its own report; it cannot run here), shown for scale.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from optionsv4_lib.config import Settings
from optionsv4_lib.execution import execute_plan, plan_execution
from optionsv4_lib.execution.dhan import DhanBroker
from optionsv4_lib.execution.paper import PaperBroker
from optionsv4_lib.store import connect, migrate, seed_reference_data, transaction
from optionsv4_lib.store.db import EmbeddedPostgres

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from execution_support import (CONDOR, NOW, DhanEmulator, condor_analysis, dhan_client, market,  # noqa: E402
                               register_contracts, store_and_mark)

RUNS = 20
TASK = "place a 4-leg iron condor"


def rows() -> list[dict]:
    settings = Settings()
    condor_analysis()  # analysed once, outside the timings
    with tempfile.TemporaryDirectory() as home:
        server = EmbeddedPostgres(Path(home))
        conn = connect(server.start())
        try:
            migrate(conn)
            seed_reference_data(conn)
            paper = [_paper_run(conn, settings) for _ in range(RUNS)]
            emulator = [_emulator_run(conn, settings) for _ in range(RUNS)]
        finally:
            conn.close()
            server.stop()
    return [
        _row("optionsv4 executor → Dhan emulator (HTTP)", emulator, "4 LIMIT orders, buys first, each polled to "
             "TRADED: 4 HTTP requests and one 20 ms poll wait per leg; production rate limits"),
        _row("optionsv4 executor, paper", paper, "fills at mid ± slippage against the stored quotes; 4 orders "
             "written to PostgreSQL"),
        {"task": TASK, "implementation": "old script-based system (reported)", "n": 1, "seconds": 4.2,
         "per_item_us": 4.2e6, "note": "its own report; not run here"},
    ]


def _fresh(conn, mode: str) -> None:
    with transaction(conn) as cur:
        cur.execute("TRUNCATE orders, positions_snapshots, strategy_execution_status, instruments")
    store_and_mark(conn, CONDOR, mode=mode)


def _paper_run(conn, settings: Settings) -> float:
    _fresh(conn, "paper")
    broker = PaperBroker(conn, capital=settings.capital)
    return _timed(conn, broker, settings)


def _emulator_run(conn, settings: Settings) -> float:
    _fresh(conn, "live")
    with DhanEmulator(market()) as emulator:
        register_contracts(conn, emulator)
        return _timed(conn, DhanBroker(dhan_client(emulator, rate_limits={})), settings)


def _timed(conn, broker, settings: Settings) -> float:
    plan = plan_execution(conn, broker, settings, now=NOW)
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
                    f"ms, worst {max(seconds) * 1e3:.0f} ms; {note}"}


if __name__ == "__main__":
    for row in rows():
        print(row)
