"""Benchmark: SPAN-style margin (issue 16).

Tasks:
- "margin for 100,000 candidates": analysis.margin.strategy_margin on 100,000 random 4-leg NIFTY positions (strikes
  around the money, one or two expiries, long and short legs): 16 scenarios revalued per leg, calendar charge,
  exposure. Best of 3.
- "margin for a 50-position book": analysis.margin.book_margin over 50 open 4-leg positions spread over 10
  underlyings (legs netted per contract, scenarios combined per underlying). Best of 3.
- the same book margined position by position (the sum a per-strategy figure would give), for the hedge benefit.

`rows()` returns dicts with keys task, implementation, n, seconds, per_item_us, note.
"""

import time
from datetime import date

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.margin import book_margin, strategy_margin
from optionsv4_lib.reference.margin_parameters import margin_parameters

DAY = date(2026, 11, 23)
CANDIDATES, POSITIONS, SYMBOLS, LEGS = 100_000, 50, 10, 4
REPEATS = 3
RATE = 0.065


def _best(function) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def _positions(rng: np.random.Generator, n: int, spot: float) -> dict[str, np.ndarray]:
    """n random 4-leg positions on one underlying at `spot` (quantities in units of 65)."""
    step = round(spot / 500, -1) or 10.0
    return {"strike": spot + step * rng.integers(-10, 11, (n, LEGS)), "is_call": rng.random((n, LEGS)) < 0.5,
            "quantity": 65.0 * rng.choice([-2, -1, 1, 2], (n, LEGS)),
            "years": rng.choice([7 / 365, 35 / 365], (n, LEGS)), "vol": rng.uniform(0.1, 0.3, (n, LEGS))}


def rows() -> list[dict]:
    rng = np.random.default_rng(16)
    nifty = margin_parameters("NIFTY", DAY, index=True)
    legs = _positions(rng, CANDIDATES, 24_000.0)
    seconds, _ = _best(lambda: strategy_margin(**legs, spot=24_000.0, rate=RATE, params=nifty))
    out = [{"task": "margin for 100,000 candidates (4 legs, 16 SPAN scenarios, calendar, exposure)",
            "implementation": "**optionsv4** `strategy_margin` (vectorized)", "n": CANDIDATES, "seconds": seconds,
            "per_item_us": seconds / CANDIDATES * 1e6, "note": "random NIFTY positions, one or two expiries"}]

    symbols = [f"SYM{i}" for i in range(SYMBOLS)]
    spot = {s: float(rng.uniform(200, 30_000)) for s in symbols}
    params = {s: margin_parameters(s, DAY, index=i < 2) for i, s in enumerate(symbols)}
    frames = []
    for p in range(POSITIONS):
        symbol = symbols[p % SYMBOLS]
        one = _positions(rng, 1, spot[symbol])
        frames.append(pd.DataFrame({"position": p, "symbol": symbol, "strike": one["strike"][0],
                                    "option_type": np.where(one["is_call"][0], "CE", "PE"),
                                    "quantity": one["quantity"][0], "years": one["years"][0], "iv": one["vol"][0]}))
    book = pd.concat(frames, ignore_index=True)
    seconds, margined = _best(lambda: book_margin(book, spot=spot, rate=RATE, params=params))
    separate, summed = _best(lambda: sum(book_margin(group, spot=spot, rate=RATE, params=params).loc["TOTAL", "total"]
                                         for _, group in book.groupby("position")))
    total = margined.loc["TOTAL", "total"]
    out.append({"task": "margin for a 50-position book (10 underlyings, 200 legs)",
                "implementation": "**optionsv4** `book_margin`", "n": POSITIONS, "seconds": seconds,
                "per_item_us": seconds / POSITIONS * 1e6,
                "note": f"book ₹{total:,.0f} vs ₹{summed:,.0f} position by position "
                        f"({1 - total / summed:.0%} hedge benefit)"})
    out.append({"task": "the same book, position by position", "implementation": "**optionsv4** `book_margin` × 50",
                "n": POSITIONS, "seconds": separate, "per_item_us": separate / POSITIONS * 1e6, "note": ""})
    return out


if __name__ == "__main__":
    for row in rows():
        print(row)
