"""Benchmark: the market-consistent valuation (issue 15).

Tasks:
- "fit every smile of a whole-universe run": pricing.smile.fit_smile and the calendar repair on every expiry the
  analysis reads (near and far) of every symbol of the synthetic market on one trade date, and on the real NIFTY
  chains of 21 Nov 2024 (the bhavcopy fixture, quoted by the valuation tests' stated model).
- "evaluate 100,000 candidates": 100,000 random 4-leg single-expiry positions on one NIFTY expiry under the smile
  (strategies.measures.expiry_metrics: exact E[P&L], PoP, breakevens) against today's lognormal at the ATM vol
  (strategies.evaluate.evaluate_positions: the same metrics plus greeks and capital at risk). Goal: no slower than
  2× the lognormal's per-candidate time. Best of 3.

`rows()` returns dicts with keys task, implementation, n, seconds, per_item_us, note.
"""

import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.analyze import choose_expiries
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.pricing.smile import fit_smile, repair_calendar
from optionsv4_lib.reference.calendar import years_to_expiry
from optionsv4_lib.strategies.candidates import CandidateRules
from optionsv4_lib.strategies.evaluate import CE, PE, Positions, evaluate_positions
from optionsv4_lib.strategies.measures import expiry_metrics

TRADE_DATE = date(2026, 11, 23)
CANDIDATES = 100_000
REPEATS = 3
RATE = 0.065


def _chains(market: SyntheticMarket) -> list[list[pd.DataFrame]]:
    """Per symbol, the chains of the expiries the analysis reads."""
    out = []
    for symbol in market.universe["symbol"]:
        try:
            expiries = choose_expiries(market.expiries(symbol), TRADE_DATE, CandidateRules())
            chains = [market.option_chain(symbol, e) for e in expiries]
            out.append([chain for chain in chains if len(chain)])
        except Exception:  # the synthetic market's broken symbols
            continue
    return out


def _fit_all(chains: list[list[pd.DataFrame]], as_of) -> tuple[int, int]:
    """Fit and repair every symbol's smiles; (smiles fitted, flat fallbacks)."""
    fitted = flat = 0
    for per_symbol in chains:
        smiles = []
        for chain in per_symbol:
            years = float(years_to_expiry(as_of, np.datetime64(pd.Timestamp(chain["expiry"].iloc[0]).date())))
            try:
                smiles.append(fit_smile(chain, years, RATE))
            except Exception:
                continue
        if smiles:
            for smile in repair_calendar(smiles).smiles:
                fitted += 1
                flat += smile.method != "svi"
    return fitted, flat


def _real_chains():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
    from real_chain import CLOSE, real_chain

    chain = real_chain()
    return [[chain[chain["expiry"] == e] for e in sorted(chain["expiry"].unique())]], CLOSE


def _best(fn, repeats: int = REPEATS) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def rows() -> list[dict]:
    market = SyntheticMarket(42, TRADE_DATE)
    as_of = market.as_of
    chains = _chains(market)
    start = time.perf_counter()
    fitted, flat = _fit_all(chains, as_of)
    synthetic_seconds = time.perf_counter() - start
    real, close = _real_chains()
    real_seconds = _best(lambda: _fit_all(real, close), 1)
    out = [
        {"task": "fit every smile of a whole-universe run", "implementation": "optionsv4 fit_smile + repair_calendar",
         "n": fitted, "seconds": synthetic_seconds, "per_item_us": synthetic_seconds / fitted * 1e6,
         "note": f"synthetic market {TRADE_DATE}: {len(chains)} symbols, near and far expiry, {flat} flat "
                 "fallbacks; our IVs, parity forward, SVI with no-butterfly and Lee bounds, calendar repair; one run"},
        {"task": "fit every smile of a whole-universe run", "implementation": "optionsv4 fit_smile + repair_calendar",
         "n": 2, "seconds": real_seconds, "per_item_us": real_seconds / 2 * 1e6,
         "note": "real NIFTY chains of 21 Nov 2024 (bhavcopy closes, stated quote model): 28 Nov and 26 Dec"},
    ]
    smile = fit_smile(chains[0][0], float(years_to_expiry(as_of, np.datetime64(
        pd.Timestamp(chains[0][0]["expiry"].iloc[0]).date()))), RATE)
    positions = _random_condors(smile.forward, smile.years, CANDIDATES)
    atm = smile.curve.atm_vol
    spot = np.full(CANDIDATES, smile.forward * np.exp(-RATE * smile.years))
    sigma = np.full(CANDIDATES, atm)
    lognormal = _best(lambda: evaluate_positions(positions, spot, sigma, RATE, 0.0))
    under_smile = _best(lambda: expiry_metrics(positions, smile.curve))
    out += [
        {"task": f"evaluate {CANDIDATES:,} candidates", "implementation": "optionsv4 evaluate_positions (lognormal)",
         "n": CANDIDATES, "seconds": lognormal, "per_item_us": lognormal / CANDIDATES * 1e6,
         "note": "today's lognormal at the ATM vol: PoP, E[P&L], breakevens, max profit/loss, greeks, touch; best of 3"},
        {"task": f"evaluate {CANDIDATES:,} candidates", "implementation": "optionsv4 expiry_metrics (the smile)",
         "n": CANDIDATES, "seconds": under_smile, "per_item_us": under_smile / CANDIDATES * 1e6,
         "note": f"exact E[P&L] (static replication), PoP and breakevens under NIFTY's fitted smile; "
                 f"{under_smile / lognormal:.2f}× the lognormal (goal ≤ 2×); best of 3"},
    ]
    return out


def _random_condors(forward: float, years: float, n: int) -> Positions:
    """n iron condors with random strikes around the forward and premiums near their value (₹)."""
    rng = np.random.default_rng(5)
    width = forward * rng.uniform(0.005, 0.03, (n, 1))
    inner = forward * rng.uniform(0.0, 0.04, (n, 2)) * np.array([-1.0, 1.0])
    strikes = np.round(np.concatenate([forward + inner[:, :1] - width, forward + inner[:, :1],
                                       forward + inner[:, 1:], forward + inner[:, 1:] + width], axis=1), -1)
    kind = np.tile(np.array([PE, PE, CE, CE], dtype=np.int8), (n, 1))
    qty = np.tile(np.array([65.0, -65.0, -65.0, 65.0]), (n, 1))
    premium = rng.uniform(5.0, 120.0, (n, 4))
    return Positions(kind, strikes, qty, premium, np.full((n, 4), years), np.full((n, 4), 0.15))


if __name__ == "__main__":
    for row in rows():
        print(row)
