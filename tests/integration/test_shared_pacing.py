"""Rate limits that hold across processes: the api_pacing table (store.pacing) reserves slots for every process on
one database; two OS processes asking the emulator for quotes at Dhan's strict one request per second never get a
429 when paced there, and do when each paces itself."""

import os
import subprocess
import sys
import time
from datetime import date
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from dhan_emulator import DhanEmulator

from optionsv4_lib.adapters.pacing import Rate, SharedRateLimiter
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.store import connect
from optionsv4_lib.store.pacing import reserve_slot

PROJECT_DIR = Path(__file__).resolve().parents[2]
WORKER = PROJECT_DIR / "tests" / "support" / "pacing_worker.py"
REQUESTS_EACH = 3
TRADE_DATE = date(2026, 11, 23)


def test_reservations_keep_count_grants_in_any_window(db):
    """Two a second: the first two go at once, the third waits until a second after the first."""
    started = time.monotonic()
    waits = [reserve_slot(db, "test:two-a-second", 2, 1.0) for _ in range(3)]
    elapsed = time.monotonic() - started
    assert waits[:2] == [0.0, 0.0]
    assert 1.0 - elapsed <= waits[2] <= 1.0
    assert reserve_slot(db, "test:another-key", 2, 1.0) == 0.0  # keys are paced apart


def test_reserve_slot_refuses_bad_arguments(db):
    with pytest.raises(InputError, match="count"):
        reserve_slot(db, "k", 0, 1.0)
    with pytest.raises(InputError, match="per"):
        reserve_slot(db, "k", 1, float("inf"))
    with pytest.raises(InputError, match="key"):
        reserve_slot(db, "", 1, 1.0)


def test_a_database_without_the_table_is_a_data_error_naming_it(fresh_database):
    conn = connect(fresh_database)
    try:
        with pytest.raises(DataError, match="api_pacing"):
            reserve_slot(conn, "k", 1, 1.0)
    finally:
        conn.close()


def run_two_processes(emulator, store_url: str, pacing: str) -> list[int]:
    """Exit statuses of two worker processes started together, each asking REQUESTS_EACH quotes."""
    start = time.time() + 4.0  # both past their imports, then at the same moment
    env = os.environ | {"PYTHONPATH": str(PROJECT_DIR)}
    args = [emulator.url, emulator.client_id, emulator.access_token, store_url, pacing, str(REQUESTS_EACH), str(start)]
    workers = [subprocess.Popen([sys.executable, str(WORKER), *args], env=env, cwd=PROJECT_DIR) for _ in range(2)]
    return [worker.wait(timeout=60) for worker in workers]


def test_two_processes_paced_in_the_database_never_break_one_quote_a_second(db, store_url):
    with DhanEmulator(SyntheticMarket(42, TRADE_DATE), intervals={"quote": 1.0}) as emulator:
        statuses = run_two_processes(emulator, store_url, "shared")
        arrivals = [request.at for request in emulator.requests if request.endpoint == "quote"]
    assert statuses == [0, 0]
    assert len(arrivals) == 2 * REQUESTS_EACH  # no retries (none allowed): no 429
    assert np.diff(sorted(arrivals)).min() >= 1.0


def test_two_processes_pacing_themselves_break_it(db, store_url):
    """The control: the same two processes, each with its own limiter, collide at the common start."""
    with DhanEmulator(SyntheticMarket(42, TRADE_DATE), intervals={"quote": 1.0}) as emulator:
        statuses = run_two_processes(emulator, store_url, "local")
    assert 3 in statuses


def test_two_shared_limiters_on_one_key_wait_for_each_other(db, store_url):
    """Two clients' limiters (as in two processes) on one key: the second's first request waits for the first's."""
    waits: list[float] = []
    first, second = (SharedRateLimiter(Rate(1, 1.0), "test:shared", partial(connect, store_url), sleep=waits.append)
                     for _ in range(2))
    try:
        assert first.acquire() == 0.0
        waited = second.acquire()  # recorded, not slept
        assert 0.9 < waited <= 1.0 and waits == [waited]
    finally:
        first.close()
        second.close()
