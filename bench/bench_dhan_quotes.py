"""Whole-universe market data over Dhan's API at production rate limits: chains from market quotes (the scrip
master's contracts, 1,000 instruments a request, one request per second) beside chains from the option-chain
endpoint (one request per 3 s). The real dhanhq client talks to the emulator (tests/support/dhan_emulator.py, HTTP
on localhost) enforcing Dhan's limits strictly (quote 1 s, option chain 3 s between requests; 429 otherwise).

Each path asks, from a fresh source, every symbol's listed expiries and the chains of the expiries the analysis
chooses (near and far), then every symbol's price history (candles, data APIs, 5 per second). The quote path reads
the contracts and expiries from the emulator's scrip master as a frame, imported just now (in production: the
`instruments` table); the option-chain path asks Dhan's expiry list of every symbol (data APIs).

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py.
"""

import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from optionsv4_lib.adapters.dhan.market_data import DhanMarketData
from optionsv4_lib.analysis.analyze import FORECAST_HISTORY_DAYS, choose_expiries
from optionsv4_lib.config import Settings
from optionsv4_lib.marketdata.source import option_chains
from optionsv4_lib.marketdata.synthetic import SyntheticMarket

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from dhan_emulator import DhanEmulator  # noqa: E402

TRADE_DATE = date(2026, 11, 23)
TASK = "whole-universe Dhan data, production limits"
LIMITS = {"quote": 1.0, "optionchain": 3.0}  # s between requests the emulator accepts, as Dhan enforces them


def _run(quotes: bool) -> dict:
    """Seconds for the expiry lists + chains and for the candles, and what was asked, over one fresh source."""
    market = SyntheticMarket(42, TRADE_DATE)
    symbols = list(market.universe["symbol"])
    with DhanEmulator(market, intervals=LIMITS) as emulator:
        contracts = None
        if quotes:
            master = emulator.scrip_master().rename(columns={"underlying_symbol": "symbol", "expiry_date": "expiry"})
            master["loaded_at"] = pd.Timestamp.now(tz="UTC")  # imported just now
            contracts = lambda wanted: master[master["symbol"].isin(wanted)]  # noqa: E731
        source = DhanMarketData(emulator.client_id, emulator.access_token, trade_date=TRADE_DATE,
                                base_url=emulator.url, contracts=contracts)
        started = time.perf_counter()
        candidates = Settings().candidates
        wanted = [(symbol, expiry) for symbol in symbols
                  for expiry in choose_expiries(source.expiries(symbol), TRADE_DATE, candidates)]
        chains = option_chains(source, wanted)
        chained = time.perf_counter()
        for symbol in symbols:
            source.candles(symbol, TRADE_DATE - timedelta(days=FORECAST_HISTORY_DAYS), TRADE_DATE)
        done = time.perf_counter()
        asked = {name: sum(1 for r in emulator.requests if r.endpoint == name)
                 for name in ("expirylist", "quote", "optionchain", "historical")}
    failed = sum(1 for chain in chains.values() if isinstance(chain, Exception))
    rows = sum(len(chain) for chain in chains.values() if not isinstance(chain, Exception))
    return {"chains_s": chained - started, "all_s": done - started, "pairs": len(wanted), "failed": failed,
            "rows": rows, "symbols": len(symbols), **asked}


def rows() -> list[dict]:
    out = []
    for quotes, implementation in ((True, "**optionsv4** `option_chains` → market quotes (`/marketfeed/quote`)"),
                                   (False, "**optionsv4** `option_chains` → option-chain endpoint (`/optionchain`)")):
        r = _run(quotes)
        asked = (f"{r['quote']} quote requests + {r['optionchain']} chain requests (pairs without contracts in the master)"
                 if quotes
                 else f"{r['optionchain']} chain requests")
        note = (f"{r['pairs']} chains ({r['rows']:,} contracts, {r['failed']} failed) of {r['symbols']} symbols: "
                f"{r['expirylist']} expiry lists + {asked} (the seconds column); with {r['historical']} price "
                f"histories too {r['all_s']:.1f} s; emulator enforcing quote 1/s and chain 1/3 s; one run")
        out.append({"task": TASK, "implementation": implementation, "n": r["pairs"], "seconds": r["chains_s"],
                    "per_item_us": r["chains_s"] / r["pairs"] * 1e6, "note": note})
    return out


if __name__ == "__main__":
    for row in rows():
        print(row)
