"""The risk a plan adds: the cleared strategies' greeks in NIFTY terms and their stress table, at the marked lots.

Each strategy's scenario P&Ls and greeks were computed by the analysis at its analysed lots (analysis.portfolio_risk);
positions are linear in lots, so a strategy marked for fewer lots contributes that share. The stress grid is the
analysis run's (run_book_stress); strategies from runs on another grid are listed as unknown, never added up.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from optionsv4_lib.analysis.portfolio_risk import BOOK_GREEK_COLUMNS, nifty_terms, scenario_name
from optionsv4_lib.execution import ledger


def plan_book_risk(conn, strategy_ids: Sequence[int], capital: float) -> dict[str, Any]:
    """{"greeks": BOOK_GREEK_COLUMNS → ₹, "stress": [{scenario, nifty_move, vol_shift, pnl, pnl_pct_capital}],
    "worst": ₹ (≤ 0), "unknown": ids without a stored stress on that grid (analysed before it was stored, or on
    another stress grid)} for `strategy_ids`."""
    rows, scenarios = ledger.stress_rows(conn, strategy_ids)
    known = [row for row in rows if row[9] is not None and len(row[9]) == len(scenarios)]
    pnl = np.zeros(len(scenarios))
    greeks = np.zeros(len(BOOK_GREEK_COLUMNS))
    for _, lots, analysed, spot, beta, delta, gamma, vega, theta, stress in known:
        share = lots / analysed
        pnl += share * np.asarray(stress, float)
        greeks += share * nifty_terms(np.array([delta]), np.array([gamma]), np.array([vega]), np.array([theta]),
                                      np.array([spot]), np.array([1.0 if beta is None else beta]))[0]
    stress = [{"scenario": scenario_name(move, shift), "nifty_move": move, "vol_shift": shift, "pnl": float(p),
               "pnl_pct_capital": float(p / capital * 100)} for (move, shift), p in zip(scenarios, pnl)]
    return {"greeks": dict(zip(BOOK_GREEK_COLUMNS, map(float, greeks))), "stress": stress,
            "worst": float(min(0.0, pnl.min())) if len(pnl) else 0.0,
            "unknown": [row[0] for row in rows if row not in known]}
