"""The whole-universe analysis over Dhan's API: the real dhanhq client against the emulator (tests/dhan_emulator.py,
HTTP on localhost), once clean and once with the fault table of tests/dhan_faults.py (nine symbols broken nine
ways, three rate-limited or answering 503 before a clean answer), each from a fresh source. The option-chain pace
is set to 0 s; the clean run is measured with the data category at Dhan's 5 requests per second and with no pacing
at all (the difference is what Dhan's data limit costs). With Dhan's limit of one chain per 3 s, a run's floor is
3 s × the chains asked, which the note gives.

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py.
"""

import sys
import time
from datetime import date
from pathlib import Path

from optionsv4_lib.adapters.dhan.market_data import DhanMarketData
from optionsv4_lib.adapters.pacing import Rate
from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.config import Settings
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.universe import load_universe

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
import dhan_faults  # noqa: E402
from dhan_emulator import DhanEmulator  # noqa: E402

TRADE_DATE = date(2026, 11, 23)
TASK = "analysis over Dhan, whole universe"


def _run(faults: bool, data_paced: bool) -> tuple[float, int, int, int]:
    """(seconds, symbols, symbols with strategies, chain requests) of one analyze_portfolio over the emulator: chains
    unpaced; expiry lists and candles at Dhan's 5 per second (data_paced) or unpaced."""
    universe = load_universe()
    limits = {"option_chain": Rate(1, 0.0)} | ({} if data_paced else {"data": Rate(1, 0.0)})
    with DhanEmulator(SyntheticMarket(42, TRADE_DATE), access_token=dhan_faults.TOKEN) as emulator:
        if faults:
            dhan_faults.install(emulator)
        source = DhanMarketData(emulator.client_id, dhan_faults.TOKEN, trade_date=TRADE_DATE, base_url=emulator.url,
                                rate_limits=limits)
        started = time.perf_counter()
        result = analyze_portfolio(source, universe=universe, allocations=load_allocations(), settings=Settings())
        seconds = time.perf_counter() - started
        chains = sum(1 for r in emulator.requests if r.endpoint == "optionchain")
    with_strategies = int((result.symbols["n_selected"] > 0).sum())
    return seconds, len(universe), with_strategies, chains


def rows() -> list[dict]:
    _run(False, False)  # warm-up: imports, the synthetic market's caches
    out = []
    for faults, paced, label in ((False, False, "clean, no pacing"), (False, True, "clean"),
                                 (True, True, "9 broken + 3 recovering symbols")):
        seconds, n, ok, chains = _run(faults, paced)
        pace = "expiry lists and candles at Dhan's 5 per s" if paced else "expiry lists and candles unpaced too"
        out.append({"task": f"{TASK} ({label})", "implementation": "**optionsv4** `analyze_portfolio` → dhanhq → "
                    "Dhan emulator (HTTP)", "n": n, "seconds": seconds, "per_item_us": seconds / n * 1e6,
                    "note": f"{ok} symbols with strategies; {chains} chain requests at pace 0 s (Dhan's 1 per 3 s "
                            f"would make the floor {3 * chains:,} s); {pace}; default retry policy, backoff "
                            "included"})
    return out
