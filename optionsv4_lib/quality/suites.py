"""Data quality: Great Expectations suites over option chains, the market context and the selected strategies.

The suites are data: the GX file context in include/gx/ (expectations/*.json) holds every expectation with its
`severity` and a one-line `description`; this module prepares the frames the suites check — adding computed columns
such as `symbol_matches`, `present` (one row per missing trading day) and `legs_match_template` — runs their
checkpoints, and turns GX's results into one row per expectation and subject (RESULT_COLUMNS).

Severity: "critical" means the data must not be used (the symbol fails; the run's final check fails); "warning" means
usable but suspect and is only reported — an illiquid chain warns, and the analysis's own liquidity filter decides.
A report succeeds when no critical expectation failed.

Speed: a GX run costs about 7 ms per expectation whatever the number of rows, so `validate_chains` checks all
chains in one run (with a `subject` column, the symbol asked for) and splits the results per symbol through the
unexpected rows' `subject`; the chain suites therefore hold column-map expectations only. Checkpoints have no
actions: `build_data_docs` renders a run's results once at the end. GX is imported lazily (≈3 s); its progress bars
and analytics are off in great_expectations.yml, its logger is set to WARNING, and nothing reaches the network.
"""

import functools
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.frames import require_columns
from optionsv4_lib.core.paths import PROJECT_DIR
from optionsv4_lib.marketdata.source import MARKET_SYMBOL, VIX_SYMBOL
from optionsv4_lib.reference import calendar
from optionsv4_lib.strategies.catalog import CATALOG

GX_DIR = PROJECT_DIR / "include" / "gx"  # the GX file context (great_expectations.yml, suites, checkpoints)
DATA_DOCS_INDEX = Path("uncommitted", "data_docs", "local_site", "index.html")  # per great_expectations.yml

CHAIN_SUITE, CHAIN_SUMMARY_SUITE = "option_chain", "option_chain_summary"
CONTEXT_SUITE, STRATEGY_SUITE, BOOK_SUITE = "market_context", "strategies", "book"

RESULT_COLUMNS = (
    "suite", "subject", "expectation", "column", "severity", "success", "observed", "unexpected_count", "details",
)
"""One row per expectation and subject; `details` is JSON text (description, arguments, unexpected rows)."""

CHAIN_COLUMNS = (
    "symbol", "expiry", "strike", "option_type", "bid", "ask", "ltp", "bid_qty", "ask_qty", "iv", "delta", "gamma",
    "oi", "volume", "underlying_price",
)
CANDLE_COLUMNS = ("symbol", "date", "close")
STRATEGY_INPUT_COLUMNS = (
    "candidate_id", "strategy", "expiry", "far_expiry", "lot_size", "lots", "pop", "pop_net", "pop_market", "max_profit",
    "max_loss", "capital_at_risk", "breakevens",
)
LEG_INPUT_COLUMNS = ("candidate_id", "leg_no", "instrument", "side", "ratio", "expiry", "contract_lot", "qty")

BUDGET_TOLERANCE = 1e-9  # relative; capital at risk may exceed the per-trade budget by float rounding only
MAX_LISTED = 20  # unexpected rows kept in `details` per expectation and subject
MAX_OBSERVED_CHARS = 160


@dataclass(frozen=True)
class QualityReport:
    """The outcome of one suite for one subject (a symbol, "market" or "portfolio")."""

    suite: str
    subject: str
    results: pd.DataFrame  # RESULT_COLUMNS, one row per expectation

    @property
    def critical_failures(self) -> int:
        return int(self._failed("critical").sum())

    @property
    def warnings(self) -> int:
        return int(self._failed("warning").sum())

    @property
    def success(self) -> bool:
        """True when no critical expectation failed (warnings do not fail a report)."""
        return self.critical_failures == 0

    def summary(self) -> str:
        """One line for logs and reasons, e.g. 'option_chain BANKBARODA: 1 critical, 0 warnings — bid ≤ ask …'."""
        failed = self.results[~self.results["success"]].sort_values("severity")
        what = "; ".join(f"{row.severity}: {json.loads(row.details)['description']} ({row.observed})"
                         for row in failed.itertuples())
        head = f"{self.suite} {self.subject}: {self.critical_failures} critical, {self.warnings} warnings"
        return f"{head} — {what}" if what else head

    def _failed(self, severity: str) -> pd.Series:
        return ~self.results["success"] & (self.results["severity"] == severity)


# ---------------------------------------------------------------- public API


def validate_chain(chain: pd.DataFrame, *, symbol: str, gx_dir: Path | None = None,
                   run_name: str | None = None) -> QualityReport:
    """Validate one symbol's option chain (schema.OPTION_CHAIN, any number of expiries)."""
    return validate_chains({symbol: chain}, gx_dir=gx_dir, run_name=run_name)[symbol]


def validate_chains(chains: Mapping[str, pd.DataFrame], *, gx_dir: Path | None = None,
                    run_name: str | None = None) -> dict[str, QualityReport]:
    """Validate the option chains of many symbols in one GX run each for the contract and summary suites.

    chains: symbol → chain (schema.OPTION_CHAIN); an empty chain is a critical failure, not an error.
    Returns symbol → QualityReport whose results hold both suites' rows for that symbol.
    """
    contracts, summary = chain_frames(chains)
    subjects = list(summary["subject"])
    rows = pd.concat([
        _result_rows(CHAIN_SUITE, _run(CHAIN_SUITE, contracts, gx_dir, run_name), subjects),
        _result_rows(CHAIN_SUMMARY_SUITE, _run(CHAIN_SUMMARY_SUITE, summary, gx_dir, run_name), subjects),
    ], ignore_index=True)
    return {s: QualityReport(CHAIN_SUITE, s, rows[rows["subject"] == s].reset_index(drop=True)) for s in subjects}


def validate_market_context(nifty: pd.DataFrame, vix: pd.DataFrame, trade_date: date, *, gx_dir: Path | None = None,
                            run_name: str | None = None) -> QualityReport:
    """Validate the NIFTY and INDIA VIX daily candles (schema.CANDLES) seen before the open of trade_date."""
    frame = context_frame(nifty, vix, trade_date)
    result = _run(CONTEXT_SUITE, frame, gx_dir, run_name)
    return QualityReport(CONTEXT_SUITE, "market", _result_rows(CONTEXT_SUITE, result, ["market"]))


def validate_strategies(strategies: pd.DataFrame, legs: pd.DataFrame, *, max_loss_per_trade: float,
                        subject: str = "portfolio", gx_dir: Path | None = None,
                        run_name: str | None = None) -> QualityReport:
    """Validate selected, sized strategies and their legs (AnalysisResult.strategies and .legs).

    max_loss_per_trade: the per-trade budget in ₹ (e.g. RiskLimits.max_loss_per_trade × capital); capital at risk
    may not exceed it.
    """
    budget = _positive(max_loss_per_trade, "max_loss_per_trade")
    frame = strategy_frame(strategies, legs)
    parameters = {"max_loss_per_trade": budget * (1 + BUDGET_TOLERANCE)}
    result = _run(STRATEGY_SUITE, frame, gx_dir, run_name, parameters)
    return QualityReport(STRATEGY_SUITE, subject, _result_rows(STRATEGY_SUITE, result, [subject]))


def build_data_docs(run_name: str | None = None, *, gx_dir: Path | None = None) -> Path:
    """Render Data Docs once for a run: the suites, the validation results of run_name (all if None), the index.

    Returns the path of index.html.
    """
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    root = _root(gx_dir)
    context = _context(root)
    results = [key for key in context.validation_results_store.list_keys()
               if run_name is None or key.run_id.run_name == run_name]
    suites = [ExpectationSuiteIdentifier(suite.name) for suite in context.suites.all()]
    context.build_data_docs(resource_identifiers=[*suites, *results])
    return data_docs_index(root)


def data_docs_index(gx_dir: Path | None = None) -> Path:
    """Path of the Data Docs index.html (it exists once build_data_docs ran)."""
    return _root(gx_dir) / DATA_DOCS_INDEX


# ---------------------------------------------------------------- frames the suites check


def chain_frames(chains: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(contracts, summary): every chain's rows with `subject` and `symbol_matches`; one summary row per subject.

    Summary columns: rows, calls, puts, two_sided_share (share of rows with bid > 0 and ask > 0; 0 for an empty
    chain), oi_total and volume_total in units.
    """
    if not isinstance(chains, Mapping) or not chains:
        raise InputError("chains: expected a mapping symbol → option chain with at least one symbol")
    contracts, summary = [], []
    for symbol, chain in chains.items():
        if not isinstance(symbol, str) or not symbol.strip():
            raise InputError(f"symbol: expected a non-empty string, got {symbol!r}")
        rows = _columns(chain, CHAIN_COLUMNS, f"chain of {symbol}")
        rows.insert(0, "subject", symbol)
        rows["symbol_matches"] = rows["symbol"].eq(symbol).fillna(False).astype(bool)
        contracts.append(rows)
        two_sided = (rows["bid"] > 0) & (rows["ask"] > 0)
        summary.append({
            "subject": symbol, "rows": len(rows), "calls": int((rows["option_type"] == "CE").sum()),
            "puts": int((rows["option_type"] == "PE").sum()),
            "two_sided_share": float(two_sided.mean()) if len(rows) else 0.0,
            "oi_total": float(rows["oi"].sum()), "volume_total": float(rows["volume"].sum()),
        })
    return pd.concat(contracts, ignore_index=True), pd.DataFrame(summary)


def context_frame(nifty: pd.DataFrame, vix: pd.DataFrame, trade_date: date) -> pd.DataFrame:
    """Both candle histories in long form, plus one row per missing NSE trading day (present = False).

    The window runs from the earliest candle (not before the holiday calendar's coverage, which is all that can be
    checked) to the last trading day before trade_date; both instruments must have a candle on each of its days.
    Columns: symbol (NIFTY | INDIA VIX, by role), date, close, symbol_matches (the input's own symbol agrees),
    present, trading_day, before_trade_date.
    """
    if not isinstance(trade_date, date):
        raise InputError(f"trade_date: expected a date, got {trade_date!r}")
    trade_day = pd.Timestamp(trade_date).normalize()
    nifty = _columns(nifty, CANDLE_COLUMNS, f"{MARKET_SYMBOL} candles")
    vix = _columns(vix, CANDLE_COLUMNS, f"{VIX_SYMBOL} candles")
    for candles in (nifty, vix):
        candles["date"] = pd.to_datetime(candles["date"]).dt.normalize().astype("datetime64[s]")
    expected = _expected_days(pd.concat([nifty["date"], vix["date"]]), trade_day)
    frame = pd.concat([_history(MARKET_SYMBOL, nifty, expected), _history(VIX_SYMBOL, vix, expected)],
                      ignore_index=True)
    frame["trading_day"] = _on_trading_days(frame["date"])
    frame["before_trade_date"] = (frame["date"] < trade_day).to_numpy(bool)
    return frame


def validate_book(book: pd.DataFrame, stress: pd.DataFrame, *, gx_dir: Path | None = None,
                  run_name: str | None = None) -> QualityReport:
    """Validate the book (AnalysisResult.book, one row) and its stress table (.book_stress): the worst scenario
    within the profile's stress limit, the margin within the funds limit. An empty book passes."""
    require_columns(book, ("margin", "stress_limit", "margin_limit"), "book")
    frame = _columns(stress, ("scenario", "nifty_move", "vol_shift", "pnl"), "book_stress")
    row = book.iloc[0] if len(book) else pd.Series({"margin": 0.0, "stress_limit": -math.inf, "margin_limit": math.inf})
    frame["book_margin"] = float(row["margin"])
    parameters = {"stress_limit": float(row["stress_limit"]) * (1 + BUDGET_TOLERANCE),
                  "margin_limit": float(row["margin_limit"]) * (1 + BUDGET_TOLERANCE)}
    result = _run(BOOK_SUITE, frame, gx_dir, run_name, parameters)
    return QualityReport(BOOK_SUITE, "book", _result_rows(BOOK_SUITE, result, ["book"]))


def strategy_frame(strategies: pd.DataFrame, legs: pd.DataFrame) -> pd.DataFrame:
    """The strategy columns the suite checks, plus n_breakevens and legs_match_template."""
    frame = _columns(strategies, STRATEGY_INPUT_COLUMNS, "strategies")
    frame["n_breakevens"] = frame["breakevens"].map(_count_finite).astype("int64")
    frame["legs_match_template"] = legs_match_template(strategies, legs).to_numpy()
    return frame.drop(columns=["breakevens", "expiry", "far_expiry", "lot_size"])


def legs_match_template(strategies: pd.DataFrame, legs: pd.DataFrame) -> pd.Series:
    """Per strategy row: do its legs match its catalog template?

    Checks the number of legs and, leg by leg (leg_no = the template's leg index): instrument, side, ratio, expiry
    (near legs on the strategy's expiry, far legs on far_expiry, stock legs none), qty = lots × ratio × lot_size and
    qty a whole number of the leg's contract_lot (≥ 1).
    An unknown strategy name or a candidate without legs does not match.
    """
    heads = _columns(strategies, ("candidate_id", "strategy", "expiry", "far_expiry", "lots", "lot_size"), "strategies")
    legs = _columns(legs, LEG_INPUT_COLUMNS, "legs")
    template = pd.DataFrame(
        [(t.name, number, leg.instrument, leg.side, leg.ratio, leg.expiry)
         for t in CATALOG for number, leg in enumerate(t.legs)],
        columns=["strategy", "leg_no", "instrument", "side", "ratio", "expiry_rule"],
    )
    actual = legs.merge(heads.drop_duplicates("candidate_id"), on="candidate_id", suffixes=("", "_strategy"))
    actual = actual.merge(template, on=["strategy", "leg_no"], how="left", suffixes=("", "_template"))
    is_stock = actual["instrument_template"] == "STK"
    expiry_ok = np.where(
        is_stock, actual["expiry"].isna(),
        np.where(actual["expiry_rule"] == "far", actual["expiry"] == actual["far_expiry"],
                 actual["expiry"] == actual["expiry_strategy"]),
    )
    leg_ok = (
        (actual["instrument"] == actual["instrument_template"]) & (actual["side"] == actual["side_template"])
        & (actual["ratio"] == actual["ratio_template"]) & expiry_ok
        & (actual["qty"] == actual["lots"] * actual["ratio"] * actual["lot_size"])
        & (actual["contract_lot"] >= 1) & (actual["qty"] % actual["contract_lot"] == 0)
    ).fillna(False)
    per_candidate = leg_ok.groupby(actual["candidate_id"]).agg(["all", "size"])
    legs_needed = heads["strategy"].map(template.groupby("strategy").size())
    legs_found = heads["candidate_id"].map(per_candidate["size"])
    all_ok = heads["candidate_id"].map(per_candidate["all"]).astype("boolean")
    matches = (all_ok & (legs_found == legs_needed)).fillna(False).astype(bool)
    return matches.set_axis(strategies.index).rename("legs_match_template")


# ---------------------------------------------------------------- running GX


def _root(gx_dir: Path | None) -> Path:
    return Path(gx_dir).resolve() if gx_dir is not None else GX_DIR


@functools.cache
def _context(root: Path):
    """The file context at root, one per process; DataError when root holds no GX project."""
    if not (root / "great_expectations.yml").is_file():
        raise DataError(f"{root}: no great_expectations.yml; expected the GX file context (see include/gx/)")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx.get_context(mode="file", context_root_dir=root)


@functools.cache
def _checkpoint(root: Path, name: str):
    return _context(root).checkpoints.get(name)


def _run(suite: str, frame: pd.DataFrame, gx_dir: Path | None, run_name: str | None,
         parameters: dict[str, Any] | None = None):
    """Run the checkpoint named like the suite over frame; the ExpectationSuiteValidationResult."""
    from great_expectations.core.run_identifier import RunIdentifier

    checkpoint = _checkpoint(_root(gx_dir), suite)
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(timezone.utc))  # else GX parses run_name as a time
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters or {},
                             run_id=run_id)
    (validation,) = outcome.run_results.values()
    return validation


def _result_rows(suite: str, validation, subjects: list[str]) -> pd.DataFrame:
    """RESULT_COLUMNS rows: per expectation, one per subject (split through the unexpected rows' `subject`)."""
    rows = [row for outcome in validation.results for row in _expectation_rows(suite, outcome, subjects)]
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS)).astype({"success": bool, "unexpected_count": "Int64"})


def _expectation_rows(suite: str, outcome, subjects: list[str]) -> list[dict[str, Any]]:
    """One expectation's outcome as one row per subject.

    Column-map outcomes list their unexpected rows with `subject`, so each subject gets its own count and success;
    an aggregate outcome (e.g. a table row count) belongs to a single subject; a GX error fails every subject.
    """
    config, result = outcome.expectation_config, outcome.result or {}
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    info = {"description": config.description or config.type, "kwargs": kwargs}

    def row(subject: str, success: bool, observed: str, unexpected_count, details: dict[str, Any]) -> dict[str, Any]:
        return {"suite": suite, "subject": subject, "expectation": config.type, "column": _checked_columns(kwargs),
                "severity": getattr(config.severity, "value", str(config.severity)), "success": success,
                "observed": observed[:MAX_OBSERVED_CHARS], "unexpected_count": unexpected_count,
                "details": _json({**info, **details})}

    error = _error_message(outcome.exception_info or {})
    if error is not None:
        return [row(subject, False, f"error: {error}", pd.NA, {"error": error}) for subject in subjects]
    unexpected = result.get("unexpected_index_list")
    if unexpected is None:
        if len(subjects) > 1:
            raise DataError(f"suite {suite}: {config.type} is not a column-map expectation and cannot be split "
                            f"per subject")
        observed = result.get("observed_value", result.get("partial_missing_list"))
        return [row(subjects[0], bool(outcome.success), _json(observed), pd.NA, {"observed_value": observed})]
    if len(subjects) == 1:
        mine = [_plain(u) for u in unexpected]
        return [row(subjects[0], bool(outcome.success), _describe_unexpected(mine), len(mine),
                    {"unexpected": mine[:MAX_LISTED]})]
    if kwargs.get("mostly", 1) < 1:
        raise DataError(f"suite {suite}: {config.type} uses mostly < 1, which cannot be split per subject")
    rows = []
    for subject in subjects:
        mine = [_plain(u) for u in unexpected if u.get("subject") == subject]
        rows.append(row(subject, not mine, _describe_unexpected(mine), len(mine), {"unexpected": mine[:MAX_LISTED]}))
    return rows


def _error_message(exception_info: dict[str, Any]) -> str | None:
    """The message of an exception GX caught while validating (its info is flat, or keyed by metric)."""
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    messages = [info.get("exception_message") or "error" for info in infos
                if isinstance(info, dict) and info.get("raised_exception")]
    return "; ".join(dict.fromkeys(messages)) or None


def _describe_unexpected(rows: list[dict[str, Any]]) -> str:
    """'3 unexpected: strike=105.0 bid=2.1 ask=1.9; …' — the count and the first two rows, without `subject`."""
    shown = "; ".join(" ".join(f"{k}={v}" for k, v in r.items() if k != "subject") for r in rows[:2])
    return f"{len(rows)} unexpected" + (f": {shown}" if shown else "")


# ---------------------------------------------------------------- helpers


def _columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """A copy of frame's columns; InputError naming what and the missing columns."""
    require_columns(frame, columns, what)
    return frame.loc[:, list(columns)].reset_index(drop=True)


def _positive(value: float, field: str) -> float:
    number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        raise InputError(f"{field}: expected a finite amount > 0 ₹, got {value!r}")
    return float(value)


def _expected_days(dates: pd.Series, trade_day: pd.Timestamp) -> np.ndarray:
    """NSE trading days from the earliest date (clipped to the calendar's coverage) to the day before trade_day."""
    first = dates.min()
    start = None if pd.isna(first) else max(first.date(), calendar.holiday_coverage()[0])
    end = trade_day.date() - timedelta(days=1)
    days = calendar.trading_days(start, end) if start is not None and start <= end else []
    return np.array(days, dtype="datetime64[s]")


def _history(role: str, candles: pd.DataFrame, expected: np.ndarray) -> pd.DataFrame:
    """One instrument's candles (present) followed by its missing expected days (not present, close NaN)."""
    missing = expected[~np.isin(expected, candles["date"].to_numpy("datetime64[s]"))]
    return pd.DataFrame({
        "symbol": role,
        "date": np.concatenate([candles["date"].to_numpy("datetime64[s]"), missing]),
        "close": np.concatenate([candles["close"].to_numpy(float, na_value=np.nan), np.full(len(missing), np.nan)]),
        "symbol_matches": np.concatenate([candles["symbol"].eq(role).fillna(False).to_numpy(bool),
                                          np.ones(len(missing), bool)]),
        "present": np.repeat([True, False], [len(candles), len(missing)]),
    })


def _on_trading_days(dates: pd.Series) -> np.ndarray:
    """Is each date an NSE trading day (a weekday outside the holiday calendar's coverage; NaT is not)."""
    start, end = (pd.Timestamp(day) for day in calendar.holiday_coverage())
    known = calendar.trading_days(start.date(), end.date())
    inside = (dates >= start) & (dates <= end)
    weekday = np.is_busday(dates.fillna(start).to_numpy("datetime64[D]"))
    return (dates.notna() & np.where(inside, dates.isin(pd.to_datetime(known)), weekday)).to_numpy(bool)


def _count_finite(value: Any) -> int:
    if isinstance(value, (list, tuple, np.ndarray)):
        return int(sum(1 for v in value if isinstance(v, (int, float, np.number)) and math.isfinite(v)))
    return 0


def _checked_columns(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"])
    return None


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars → Python, timestamps → ISO text, NaN/NaT → None, containers recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, date)):
        midnight = isinstance(value, pd.Timestamp) and value == value.normalize()
        return value.date().isoformat() if midnight else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _json(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, default=str)
