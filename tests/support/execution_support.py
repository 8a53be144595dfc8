"""Shared pieces of the execution tests: a stored analysis with iron condors, marking, the Dhan emulator's contracts
in `instruments`, and a DhanClient pointed at the emulator."""

import functools
from datetime import date, datetime

from dhan_emulator import DhanEmulator  # noqa: E402,F401  (re-exported for the test modules)

from optionsv4_lib.adapters.dhan.client import RATE_LIMITS, DhanClient
from optionsv4_lib.adapters.pacing import Rate, RetryPolicy
from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.analysis.result import AnalysisResult
from optionsv4_lib.config import Settings
from optionsv4_lib.execution import ExecutionPolicy
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.reference.universe import load_universe
from optionsv4_lib.store import store_analysis, transaction

TRADE_DATE = date(2026, 11, 23)  # a Monday
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=IST)  # inside the F&O session
SYMBOLS = ("NIFTY", "TATAPOWER", "HCLTECH", "SBIN", "HEROMOTOCO")
CONDOR = "TATAPOWER:iron-condor:3"  # buy 395 PE, sell 415 PE, sell 500 CE, buy 520 CE; 12 lots of 1450
CONDOR_UNITS = 12 * 1450
FAST = ExecutionPolicy(leg_timeout=0.4, poll_interval=0.005, poll_max=0.05)
NO_LIMITS = {category: Rate(1000, 0.0) for category in RATE_LIMITS}


@functools.cache
def condor_analysis() -> AnalysisResult:
    """The conservative analysis of SYMBOLS on the synthetic market: four iron condors (TATAPOWER, HCLTECH, SBIN, HEROMOTOCO) and a bear call spread."""
    universe = load_universe()
    universe = universe[universe["symbol"].isin(SYMBOLS)]
    return analyze_portfolio(SyntheticMarket(42, TRADE_DATE), universe=universe, allocations=load_allocations(),
                             settings=Settings(risk_profile="conservative"))


def market() -> SyntheticMarket:
    return SyntheticMarket(42, TRADE_DATE)


def store_and_mark(conn, *candidate_ids: str, mode: str = "paper", lots: int | None = None) -> list[int]:
    """Store the analysis and mark these strategies (as marking.py would); their strategy ids, in that order."""
    store_analysis(conn, condor_analysis())
    return [mark(conn, candidate_id, mode=mode, lots=lots) for candidate_id in candidate_ids]


def mark(conn, candidate_id: str, *, mode: str = "paper", lots: int | None = None) -> int:
    with transaction(conn) as cur:
        cur.execute("""INSERT INTO strategy_execution_status (strategy_id, status, mode, lots)
                       SELECT strategy_id, 'marked', %s, %s FROM strategies WHERE candidate_id = %s
                       RETURNING strategy_id""", (mode, lots, candidate_id))
        return cur.fetchone()[0]


def register_contracts(conn, emulator: DhanEmulator) -> None:
    """Put every stored leg's contract in `instruments` with the emulator's security id (a scrip-master import)."""
    with transaction(conn) as cur:
        cur.execute("""SELECT DISTINCT s.symbol, d.expiry, d.strike, d.instrument, d.contract_lot
                       FROM strategy_details d JOIN strategies s USING (run_id, candidate_id)""")
        for symbol, expiry, strike, option_type, lot in cur.fetchall():
            cur.execute(
                """INSERT INTO instruments (exchange, segment, security_id, exchange_segment, instrument,
                       underlying_symbol, lot_size, expiry_date, strike, option_type, source)
                   VALUES ('NSE', 'D', %s, 'NSE_FNO', %s, %s, %s, %s, %s, %s, 'compact')""",
                (emulator.security_id(symbol, expiry, strike, option_type),
                 "OPTIDX" if symbol == "NIFTY" else "OPTSTK", symbol, lot, expiry, strike, option_type))


def dhan_client(emulator: DhanEmulator, **options) -> DhanClient:
    options = {"base_url": emulator.url, "rate_limits": NO_LIMITS, "timeout": 2.0,
               "retry": RetryPolicy(attempts=5, base_delay=0.01, max_delay=1.0)} | options
    return DhanClient(emulator.client_id, emulator.access_token, **options)


def status_of(conn, strategy_id: int) -> tuple:
    """(status, mode, lots, entry_value, note) of a strategy."""
    with transaction(conn) as cur:
        cur.execute("SELECT status, mode, lots, entry_value, note FROM strategy_execution_status "
                    "WHERE strategy_id = %s", (strategy_id,))
        return cur.fetchone()


def placed(emulator: DhanEmulator) -> list[dict]:
    """The order-book records of the orders the emulator accepted, in placement order."""
    return [order.record for order in emulator.orders.values()]


def net_positions(emulator: DhanEmulator) -> dict[str, int]:
    return {p["securityId"]: p["netQty"] for p in emulator._positions()}
