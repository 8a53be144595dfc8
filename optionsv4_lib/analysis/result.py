"""The analysis result: what one run produces, as frames with fixed columns, and its JSON documents.

`AnalysisResult` is the contract between the analysis (producer), the store (loads it into PostgreSQL in one
transaction), the reports (JSON files, payoff charts) and the DAGs (Parquet between tasks).
Money in ₹ for the whole position (lots × lot size) unless a column says per lot or per unit.
"""

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optionsv4_lib.analysis.market_state import MarketState
from optionsv4_lib.analysis.portfolio_risk import BOOK_GREEK_COLUMNS, STRESS_COLUMNS

SYMBOL_COLUMNS = (
    "symbol", "sector", "industry", "position_type", "status", "reason", "spot", "atm_iv", "iv_rank",
    "n_candidates", "n_selected", "quoted_at", "note", "beta",
)
"""status: ok | failed (reason says why) | skipped (e.g. no allocation); one row per symbol of the universe.
atm_iv: the near smile's at the forward (decimal); quoted_at: when its quotes were taken; note: what was left out
or fell back (a far expiry, a flat smile, the view without a forecast, an unavailable IV rank); beta: to NIFTY, from
daily returns (the stress table moves the symbol by beta × the NIFTY move)."""

STRATEGY_COLUMNS = (
    "candidate_id", "symbol", "sector", "industry", "position_type", "strategy", "family", "view", "risk_type",
    "variant", "expiry", "far_expiry", "dte_days", "spot", "lot_size", "atm_iv", "lots", "net_premium", "max_profit",
    "max_loss", "unbounded_profit", "unbounded_loss", "breakevens", "pop", "pop_net", "expected_pnl",
    "expected_pnl_net", "pop_market", "expected_pnl_market", "edge", "forecast_vol", "implied_vol",
    "capital_at_risk", "reward_risk", "return_on_risk", "delta", "gamma", "vega", "theta", "costs", "min_oi",
    "max_spread_pct", "score", "rank", "rationale", "budget_binding", "margin", "worst_stress", "stress_pnl",
)
"""Selected strategies, sized: every money column and greek is for the whole position (all `lots` strategy lots),
re-evaluated at that size (costs do not scale linearly: brokerage is per order). capital_at_risk is |max loss|
for defined risk; for undefined risk the larger of its worst loss at expiry within ± stress_move and its worst
stress scenario; margin is what a broker blocks (SPAN-style scenarios + exposure, analysis.margin); worst_stress the
worst P&L over the book's stress grid (≤ 0) and stress_pnl its P&L in each scenario of that grid (a list, ₹, in the
order of book_stress). max_profit may be +inf and max_loss −inf (unbounded; the flags say so, and the JSON has null). pop/expected_pnl (gross) and pop_net/expected_pnl_net: the view;
pop_market/expected_pnl_market (net of costs): the smile; edge = expected_pnl_net − expected_pnl_market
(strategies.metrics); forecast_vol (the view's σ) and implied_vol (the near smile's ATM), decimals."""

LEG_COLUMNS = (
    "candidate_id", "leg_no", "instrument", "side", "ratio", "strike", "expiry", "contract_lot", "qty", "bid", "ask",
    "mid",
    "entry_price", "iv", "broker_iv", "delta", "oi", "volume", "security_id", "touch_prob",
)
"""Legs of the selected strategies; qty in units for the whole position (lots × ratio × lot size, the strategy's
units a lot), a whole number of contract_lot (units per lot of the leg's contract; 1 for shares). iv is ours,
implied from the mid at the quote time; broker_iv the source's (a diagnostic); touch_prob under the smile."""

BOOK_COLUMNS = (*BOOK_GREEK_COLUMNS, "margin", "margin_sum", "worst_stress", "margin_limit", "stress_limit")
"""The book in one row, ₹: greeks in NIFTY terms (analysis.portfolio_risk); margin of the book as one position set
(hedges across strategies of an underlying count) and margin_sum, the strategies' own margins added (what sizing
spent); worst_stress, the worst scenario P&L of the stress table (book_stress, STRESS_COLUMNS); the profile's
limits: margin_limit (max_margin × capital) and stress_limit (−max_stress_loss × capital)."""

EXIT_COLUMNS = ("candidate_id", "kind", "metric", "comparison", "threshold", "unit", "leg_no", "action", "description")
"""Exit rules of the selected strategies (optionsv4_lib.strategies.exit_rules)."""

INDUSTRY_COLUMNS = ("industry", "sector", "position_type", "budget", "used", "utilisation", "n_strategies")


@dataclass
class AnalysisResult:
    """One analysis run: the market state, per-symbol outcomes, and the selected, sized strategies."""

    trade_date: date
    risk_profile: str
    source: str
    capital: float
    market: MarketState
    symbols: pd.DataFrame
    strategies: pd.DataFrame
    legs: pd.DataFrame
    exits: pd.DataFrame
    industries: pd.DataFrame
    started_at: datetime
    finished_at: datetime
    settings: dict[str, Any] = field(default_factory=dict)
    smiles: pd.DataFrame = field(default_factory=pd.DataFrame)  # analysis.valuation.SMILE_COLUMNS
    smile_quotes: pd.DataFrame = field(default_factory=pd.DataFrame)  # analysis.valuation.SMILE_QUOTE_COLUMNS
    book: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BOOK_COLUMNS))
    book_stress: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=STRESS_COLUMNS))

    @property
    def run_key(self) -> tuple[date, str]:
        """The natural key of a run: re-running a trade date and risk profile replaces it."""
        return self.trade_date, self.risk_profile

    def analysis_document(self) -> dict[str, Any]:
        """The options_v4_analysis JSON: run, market state, per-symbol outcomes, strategies with legs and exits."""
        legs = self.legs.groupby("candidate_id")
        exits = self.exits.groupby("candidate_id")
        strategies = []
        for row in json_records(self.strategies):
            cid = row["candidate_id"]
            row["legs"] = json_records(legs.get_group(cid)) if cid in legs.groups else []
            row["exits"] = json_records(exits.get_group(cid)) if cid in exits.groups else []
            strategies.append(row)
        return {
            "run": self._run_header(),
            "market_state": json.loads(self.market.model_dump_json()),
            "symbols": json_records(self.symbols),
            "smiles": json_records(self.smiles),
            "strategies": strategies,
            "book": (json_records(self.book) or [None])[0],
            "book_stress": json_records(self.book_stress),
        }

    def allocation_document(self) -> dict[str, Any]:
        """The options_portfolio_allocation JSON: capital, industry budgets and use, sized positions."""
        cols = ["candidate_id", "symbol", "industry", "strategy", "lots", "capital_at_risk", "margin", "worst_stress",
                "score", "budget_binding"]
        return {
            "run": self._run_header(),
            "capital": self.capital,
            "capital_at_risk": float(self.strategies["capital_at_risk"].sum()) if len(self.strategies) else 0.0,
            "industries": json_records(self.industries),
            "positions": json_records(self.strategies[[c for c in cols if c in self.strategies]]),
        }

    def _run_header(self) -> dict[str, Any]:
        return {
            "trade_date": self.trade_date.isoformat(),
            "risk_profile": self.risk_profile,
            "source": self.source,
            "capital": self.capital,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "symbols_ok": int((self.symbols["status"] == "ok").sum()),
            "symbols_total": len(self.symbols),
            "settings": self.settings,
        }


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as JSON-safe dicts (see _jsonable)."""
    return [{k: _jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _jsonable(value: Any) -> Any:
    """JSON-safe scalars: NaN, NaT and ±inf → None (an unbounded amount has its flag beside it), timestamps → ISO
    dates, numpy → Python."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.date().isoformat() if isinstance(value, pd.Timestamp) and value == value.normalize() else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return None
    if value is pd.NA:
        return None
    return value


_FRAMES = ("symbols", "strategies", "legs", "exits", "industries", "smiles", "smile_quotes", "book", "book_stress")


def save_result(result: AnalysisResult, directory: Path) -> Path:
    """Write the result as Parquet frames plus run.json (header, market state, settings) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in _FRAMES:
        frame = getattr(result, name).copy()
        if "variant" in frame:
            frame["variant"] = frame["variant"].map(json.dumps)
        frame.to_parquet(directory / f"{name}.parquet", index=False)
    header = {
        "trade_date": result.trade_date.isoformat(), "risk_profile": result.risk_profile, "source": result.source,
        "capital": result.capital, "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(), "settings": result.settings,
        "market": json.loads(result.market.model_dump_json()),
    }
    (directory / "run.json").write_text(json.dumps(header, indent=2))
    return directory


def load_result(directory: Path) -> AnalysisResult:
    """Read a result written by save_result."""
    header = json.loads((directory / "run.json").read_text())
    frames = {name: pd.read_parquet(directory / f"{name}.parquet") for name in _FRAMES}
    if "variant" in frames["strategies"]:
        frames["strategies"]["variant"] = frames["strategies"]["variant"].map(json.loads)
    for column in ("breakevens", "stress_pnl"):
        if column in frames["strategies"]:
            frames["strategies"][column] = frames["strategies"][column].map(list)
    return AnalysisResult(
        trade_date=date.fromisoformat(header["trade_date"]), risk_profile=header["risk_profile"],
        source=header["source"], capital=header["capital"], market=MarketState.model_validate(header["market"]),
        started_at=datetime.fromisoformat(header["started_at"]), finished_at=datetime.fromisoformat(header["finished_at"]),
        settings=header["settings"], **frames,
    )
