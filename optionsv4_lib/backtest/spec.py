"""What a backtest replays (BacktestSpec: entry dates, profile, source, top, symbols, capital, baselines), its entry
days, and what it produced (BacktestResult: trades of every pick policy, days left out, the ranked picks' statistics,
the comparison with the baselines and the PoP calibration, and the JSON document)."""

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from optionsv4_lib.analysis.picks import RANKED
from optionsv4_lib.analysis.result import json_records
from optionsv4_lib.backtest.capital import within_capital
from optionsv4_lib.backtest.engine import TRADE_COLUMNS, Summary, summarize
from optionsv4_lib.backtest.evaluation import Evaluation, evaluate, policy_order
from optionsv4_lib.reference.calendar import IST, closed_reason, trading_days

log = logging.getLogger(__name__)

BACKTEST_SOURCES = ("synthetic", "snapshot", "bhavcopy", "dhan-expired")
"""Sources with past trade dates: the synthetic market (any date), recorded snapshots, a folder of NSE
bhavcopies (marketdata.bhavcopy_source) and the cache of Dhan's expired-options data (marketdata.expired_options)."""
CLOSE_SOURCES = ("bhavcopy", "dhan-expired")
"""Sources of end-of-day prices without bid/ask: quoted at the close through the stated spread model."""

SKIPPED_COLUMNS = ("day", "stage", "reason")
"""A day left out: stage 'entry' (no positions entered that day), 'capital' (some of a policy's positions of that
day left out: their margin did not fit in the book's margin limit, backtest.capital) or 'mark' (open positions not,
or not all, marked that day)."""

BASIS = ("P&L net of costs (reference.costs: both legs of every round trip; legs settled at expiry pay no closing costs), "
         "gross alongside")


@dataclass(frozen=True)
class BacktestSpec:
    """What a backtest replays: entry dates from `start` to `end` (inclusive), the risk profile, the market source
    and its seed (also the random baseline's), the `top` strategies entered per date (0 = all sized), the universe's
    symbols, the capital (₹) the analysis sizes against, the baseline pick policies run beside the ranked picks
    (analysis.picks, e.g. "random", "family:Iron Condor"); for the bhavcopy source its folder, for the dhan-expired
    source its cache folder, and for both NIFTY's history file and the INDIA VIX file (paths as given); max_margin:
    the share of the capital the book may block as margin (the risk profile's, analysis.limits), which the positions
    of overlapping days share (backtest.capital)."""

    start: date
    end: date
    risk_profile: str
    source: str
    seed: int
    top: int
    symbols: tuple[str, ...]
    capital: float
    baselines: tuple[str, ...]
    bhavcopy_dir: str | None = None
    index_history: str | None = None
    vix_file: str | None = None
    expired_dir: str | None = None
    max_margin: float = 1.0

    @property
    def margin_limit(self) -> float:
        """₹ the book may block as margin: max_margin × capital."""
        return self.max_margin * self.capital

    @property
    def key(self) -> str:
        """A directory name unique to the spec (the symbols, capital, baselines and a file source's files, as a
        digest), e.g. '2026-10-05_2026-10-09_moderate_synthetic_seed42_top10_1a2b3c4d'."""
        files = [str(v) for v in (self.bhavcopy_dir, self.index_history, self.vix_file, self.expired_dir)
                 if v is not None]
        parts = [*self.symbols, f"capital={self.capital:g}", *self.baselines, *files]
        digest = hashlib.blake2b(",".join(parts).encode(), digest_size=4).hexdigest()
        return (f"{self.start}_{self.end}_{self.risk_profile}_{self.source}_seed{self.seed}_top{self.top}"
                f"_{digest}")

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON-safe values (dates as ISO strings)."""
        return asdict(self) | {"start": self.start.isoformat(), "end": self.end.isoformat(),
                               "symbols": list(self.symbols), "baselines": list(self.baselines)}

    @staticmethod
    def from_json(raw: dict[str, Any]) -> "BacktestSpec":
        """The spec in a to_json document (other keys ignored)."""
        fields = {name: raw[name] for name in BacktestSpec.__dataclass_fields__ if name in raw}
        return BacktestSpec(**fields | {"start": date.fromisoformat(raw["start"]),
                                        "end": date.fromisoformat(raw["end"]), "symbols": tuple(raw["symbols"]),
                                        "baselines": tuple(raw["baselines"])})


def entry_days(spec: BacktestSpec) -> tuple[list[date], list[dict]]:
    """The NSE trading days of the spec's range, and the other days as skipped rows (each logged with its reason)."""
    days = trading_days(spec.start, spec.end)
    open_days = set(days)
    skipped = [{"day": d, "stage": "entry", "reason": closed_reason(d)}
               for d in pd.date_range(spec.start, spec.end).date if d not in open_days]
    for row in skipped:
        log.info("skipped %s", row["reason"])
    return days, skipped


@dataclass(frozen=True)
class BacktestResult:
    """A finished backtest: its trades (backtest.engine.TRADE_COLUMNS; every policy's, ranked first), the days left
    out (SKIPPED_COLUMNS), the statistics of the ranked picks (summary) and the evaluation of all policies."""

    spec: BacktestSpec
    entry_days: list[date]
    trades: pd.DataFrame
    skipped: pd.DataFrame
    summary: Summary
    evaluation: Evaluation
    generated_at: datetime = field(default_factory=lambda: datetime.now(IST))

    @staticmethod
    def of(spec: BacktestSpec, days: list[date], trades: pd.DataFrame, skipped: list[dict]) -> "BacktestResult":
        """The result of `trades` held within the spec's margin limit (backtest.capital), ordered by policy (ranked
        first), entry date and trade id, with its statistics."""
        trades, left_out = within_capital(trades.reindex(columns=TRADE_COLUMNS), spec.margin_limit)
        skipped = [*skipped, *left_out]
        order = trades["policy"].map({p: n for n, p in enumerate(policy_order(trades["policy"]))})
        trades = trades.assign(order=order).sort_values(["order", "entry_date", "trade_id"], ignore_index=True
                                                        ).drop(columns="order")
        frame = pd.DataFrame(skipped, columns=SKIPPED_COLUMNS).sort_values(["day", "stage"], ignore_index=True)
        return BacktestResult(spec, days, trades, frame, summarize(trades[trades["policy"] == RANKED]),
                              evaluate(trades, spec.capital))

    @property
    def basis(self) -> str:
        """What the P&L is: BASIS, and for the end-of-day sources that their entry and exit prices come from a
        model."""
        prices = {"bhavcopy": "NSE bhavcopy closes — bhavcopies carry no bid/ask",
                  "dhan-expired": "Dhan's expired-options closes (ATM-relative series re-keyed to strikes and "
                                  "calendar expiries) — they carry no bid/ask"}.get(self.spec.source)
        return BASIS + (f"; prices: {prices}, so entries and exits use a modelled spread (marketdata.spread_model, "
                        "settings spread_model), not quotes" if prices else "")

    def document(self) -> dict[str, Any]:
        """The backtest as one JSON-safe document: spec, basis, the ranked picks' totals, groups and equity; the
        comparison with the baselines (overall, by family, by market state), the PoP calibration and Brier scores,
        every policy's equity and margin in use; trades and skipped days."""
        evaluation = self.evaluation
        return {
            "backtest": self.spec.to_json() | {"entry_days": [d.isoformat() for d in self.entry_days],
                                               "generated_at": self.generated_at.isoformat(), "basis": self.basis},
            "totals": json_records(pd.DataFrame([self.summary.totals]))[0],
            **{f"by_{key}": json_records(frame) for key, frame in self.summary.groups.items()},
            "equity": json_records(self.summary.equity),
            "comparison": json_records(evaluation.comparison),
            **{f"comparison_by_{key}": json_records(frame) for key, frame in evaluation.groups.items()},
            "calibration": json_records(evaluation.calibration),
            "brier": json_records(evaluation.brier),
            "policy_equity": json_records(evaluation.equity),
            "margin_in_use": json_records(evaluation.margin),
            "trades": json_records(self.trades),
            "skipped": json_records(self.skipped),
        }
