"""The daily job: the options_v4_daily DAG as small steps over a run directory (each function named as the task
that calls it), and the same analysis in one call for the CLI (run_analysis).

Every step takes the run directory (a string, so it travels through XCom) and writes its output under it as
Parquet or JSON; nothing is passed in memory. Layout under the data dir:

    runs/trade_date=2026-11-23/risk=moderate/
        run.json                         parameters of the run (source, seed, profile, symbols)
        universe.parquet, budgets.parquet
        market_state.json
        symbols/<SYMBOL>.json            the symbol's outcome row (status, reason, …)
        symbols/<SYMBOL>.selected.parquet, <SYMBOL>.legs.parquet   its ranked strategies (one lot each)
        result/                          the assembled AnalysisResult (analysis.result.save_result)
    snapshots/trade_date=2026-11-23/     every dataset fetched (marketdata.snapshots), replayed by later steps

Fetch steps read the live source through a SnapshotRecorder; analysis steps read only the snapshots, so a rerun
or a backfill of a recorded date is exact. A per-symbol data problem is written as that symbol's reason, and the
step succeeds: the run goes on. Anything else (a network error, a bug) raises, and Airflow retries the task.
"""

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from optionsv4_lib.adapters.dhan.token import settings_credentials
from optionsv4_lib.analysis.allocation import Allocations, budgets
from optionsv4_lib.analysis.analyze import (
    FORECAST_HISTORY_DAYS,
    HISTORY_DAYS,
    SymbolOutcome,
    analyze_portfolio,
    assemble,
    choose_expiries,
    symbol_outcome,
)
from optionsv4_lib.analysis.analyze import market_closes
from optionsv4_lib.analysis.analyze import market_context as read_market_context
from optionsv4_lib.analysis.market_state import MarketState
from optionsv4_lib.analysis.result import AnalysisResult, load_result, save_result
from optionsv4_lib.config import Settings
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.core.errors import AuthError, BrokerError, DataError, InputError, OptionsV4Error
from optionsv4_lib.core.paths import writable_dir
from optionsv4_lib.jobs.venues import open_source
from optionsv4_lib.marketdata.span_file import SpanFile, load_span, save_span, span_for_run
from optionsv4_lib.marketdata.snapshots import ParquetSnapshotSource
from optionsv4_lib.marketdata.source import MARKET_SYMBOL, VIX_SYMBOL, MarketDataSource, as_date, option_chains
from optionsv4_lib.reference.calendar import (
    IST,
    closed_reason,
    coverage_warning,
    current_or_next_trading_day,
    latest_trading_day,
    special_session,
    unconfirmed_holidays,
)
from optionsv4_lib.reporting.analysis_files import payoff_charts, write_results
from optionsv4_lib.store import open_store, store_analysis, stored_iv_history, stored_universe
from optionsv4_lib.strategies.metrics import Valuation

log = logging.getLogger(__name__)

SPAN_FILE = "span.parquet"  # the day's SPAN parameters in a run directory


class NotATradingDay(OptionsV4Error):
    """The trade date is a weekend or an NSE holiday: there is nothing to run."""


@dataclass(frozen=True)
class RunSpec:
    """The parameters of one run, as written to run.json."""

    trade_date: date
    risk_profile: str
    source: str
    seed: int
    data_dir: str
    started_at: str
    warnings: tuple[str, ...] = ()  # calendar_warnings of the trade date

    @staticmethod
    def read(run_dir: str | Path) -> "RunSpec":
        raw = json.loads((Path(run_dir) / "run.json").read_text())
        return RunSpec(**(raw | {"trade_date": date.fromisoformat(raw["trade_date"]),
                                 "warnings": tuple(raw.get("warnings", ()))}))


def calendar_warnings(day: date) -> list[str]:
    """What a run on `day` must say about the calendar: holidays unconfirmed for its year, and the holiday file
    running out within 30 days (with what to do)."""
    return [warning for warning in (unconfirmed_holidays(day), coverage_warning(day)) if warning]


def run_dir_for(data_dir: Path, trade_date: date, risk_profile: str) -> Path:
    return Path(data_dir) / "runs" / f"trade_date={trade_date.isoformat()}" / f"risk={risk_profile}"


def plan_run(
    trade_date: date | str,
    *,
    settings: Settings,
    universe: pd.DataFrame,
    allocations: Allocations,
    risk_profile: str | None = None,
    source: str = "synthetic",
    seed: int | None = None,
    iv_history: pd.DataFrame | None = None,
) -> dict:
    """Check the date, write the run's parameters, universe, budgets and the stored ATM IV history (symbol,
    trade_date, atm_iv; for IV ranks); return {"run_dir", "symbols"}.

    Raises NotATradingDay (with the holiday's name) for a weekend or NSE holiday; logs the calendar_warnings (a
    year whose holidays are not in the calendar, the calendar running out) and records them in run.json. With Dhan
    as the source, raises AuthError when the access token will not last the run and cannot be renewed.
    """
    day = as_date(trade_date, "trade_date")
    if closed := closed_reason(day):
        raise NotATradingDay(closed)
    if special := special_session(day):
        log.info("%s: %s", day, special)
    warnings = calendar_warnings(day)
    for warning in warnings:
        log.warning("%s", warning)
    profile = risk_profile or settings.risk_profile
    settings.limits(profile)  # an unknown profile fails here, before any work
    if source == "dhan":
        settings_credentials(settings)  # an expiring token that cannot be renewed fails here, with the reason
    run_dir = run_dir_for(settings.data_dir, day, profile)
    for stale in ("symbols", "result"):  # a rerun starts from a clean slate
        shutil.rmtree(run_dir / stale, ignore_errors=True)
    (run_dir / "symbols").mkdir(parents=True, exist_ok=True)
    spec = RunSpec(day, profile, source, settings.seed if seed is None else seed, str(settings.data_dir),
                   datetime.now(IST).isoformat(), tuple(warnings))
    (run_dir / "run.json").write_text(json.dumps(spec.__dict__ | {"trade_date": day.isoformat()}, indent=2))
    universe.to_parquet(run_dir / "universe.parquet", index=False)
    budgets(universe, allocations, settings.capital).to_parquet(run_dir / "budgets.parquet", index=False)
    history = pd.DataFrame(columns=["symbol", "trade_date", "atm_iv"]) if iv_history is None else iv_history
    history.astype({"atm_iv": float}).to_parquet(run_dir / "iv_history.parquet", index=False)
    span = span_for_run(day, settings.span_dir, set(universe["symbol"]))
    (run_dir / SPAN_FILE).unlink(missing_ok=True)
    if span is not None:
        save_span(span, run_dir / SPAN_FILE)
        log.info("margins from NSE's SPAN file of %s (%d option contracts)", span.business_date, len(span.contracts))
    return {"run_dir": str(run_dir), "symbols": list(universe["symbol"])}


def _run_span(run_dir: str) -> SpanFile | None:
    """The SPAN parameters plan_run kept for the run, if it found a file."""
    path = Path(run_dir) / SPAN_FILE
    return load_span(path) if path.exists() else None


def plan(trade_date: date | str, *, settings: Settings, risk_profile: str | None = None,
         source: str = "synthetic", first: int = 0) -> dict:
    """plan_run over the universe, allocations and ATM IV history stored in the database (the first `first`
    symbols; 0 = all)."""
    universe, allocations = stored_universe(settings)
    return plan_run(trade_date, settings=settings, universe=universe.head(first) if first else universe,
                    allocations=allocations, risk_profile=risk_profile, source=source,
                    iv_history=stored_iv_history(as_date(trade_date, "trade_date"), settings))


def symbols_of(run_dir: str) -> list[str]:
    """The symbols of the run, in universe order."""
    return list(pd.read_parquet(Path(run_dir) / "universe.parquet", columns=["symbol"])["symbol"])


def _live(spec: RunSpec, settings: Settings) -> MarketDataSource:
    """The run's source, recorded; a chain another task of this run recorded (the NIFTY near chain of the market
    context) is read back, not fetched again."""
    return open_source(spec.source, spec.trade_date, seed=spec.seed, data_dir=Path(spec.data_dir), settings=settings,
                       reuse_since=datetime.fromisoformat(spec.started_at))


def _replay(spec: RunSpec) -> ParquetSnapshotSource:
    return ParquetSnapshotSource(Path(spec.data_dir), spec.trade_date)


def market_context(run_dir: str, settings: Settings) -> str:
    """Record NIFTY and INDIA VIX history and the NIFTY near-expiry chain (what the market state reads)."""
    read_market_context(_live(RunSpec.read(run_dir), settings), settings)
    return run_dir


def market_state(run_dir: str, settings: Settings) -> MarketState:
    """The market state from the recorded context; written to market_state.json for the analysis steps."""
    state = read_market_context(_replay(RunSpec.read(run_dir)), settings)
    (Path(run_dir) / "market_state.json").write_text(state.model_dump_json(indent=2))
    return state


def read_market_state(run_dir: str) -> MarketState:
    return MarketState.model_validate_json((Path(run_dir) / "market_state.json").read_text())


def fetch_chains(run_dir: str, settings: Settings, *, final_attempt: bool = True) -> list[str]:
    """Record every symbol's expiry list, the chains the analysis will use and its price history; returns the
    symbols. The chains of all symbols are asked for at once (marketdata.source.option_chains: one batch where the
    source can), except on the final attempt, which asks symbol by symbol so that broker trouble costs only the
    symbols it hit. A problem of a symbol's own becomes its reason and the others go on. A far chain or a price history
    the source cannot give is left out (the analysis notes what it misses), not a failure. One log line per symbol:
    its source, each chain's and the history's rows, and the seconds of its own requests.

    A data problem is recorded at once. Broker trouble that outlasted the client's own retries (rate limits, 5xx,
    no answer) raises while the orchestrator will try the task again (final_attempt False), and is recorded as the
    reason of the symbols it cost on the final attempt. AuthError always raises: it is no symbol's problem.
    """
    spec = RunSpec.read(run_dir)
    source = _live(spec, settings)
    symbols = symbols_of(run_dir)
    wanted: dict[str, list[date]] = {}
    seconds: dict[str, float] = {}
    for symbol in symbols:
        with _symbol_problems(run_dir, [symbol], final_attempt):
            started = time.monotonic()
            wanted[symbol] = choose_expiries(source.expiries(symbol), spec.trade_date, settings.candidates)
            seconds[symbol] = time.monotonic() - started
    started, chains = time.monotonic(), {}
    for group in ([[symbol] for symbol in wanted] if final_attempt else [list(wanted)]):
        with _symbol_problems(run_dir, group, final_attempt):
            chains |= option_chains(source, [(symbol, expiry) for symbol in group for expiry in wanted[symbol]])
    log.info("%d chains of %d symbols (%s) in %.1f s", len(chains), len(wanted), source.name,
             time.monotonic() - started)
    history_from = spec.trade_date - timedelta(days=FORECAST_HISTORY_DAYS)
    for symbol, (near, *far) in wanted.items():
        if (symbol, near) not in chains:
            continue  # broker trouble on the final attempt: its reason is written
        if isinstance(chains[(symbol, near)], DataError):
            _write_failure(run_dir, symbol, f"fetch: {chains[(symbol, near)]}")
            continue
        fetched = [f"chain {expiry}: {len(chains[(symbol, expiry)])} rows" for expiry in (near, *far)
                   if not isinstance(chains[(symbol, expiry)], DataError)]
        for expiry in far:
            if isinstance(chains[(symbol, expiry)], DataError):
                log.info("%s: left out of the snapshot: %s", symbol, chains[(symbol, expiry)])
        with _symbol_problems(run_dir, [symbol], final_attempt):
            started = time.monotonic()
            try:
                fetched.append(f"price history: {len(source.candles(symbol, history_from, spec.trade_date))} rows")
            except DataError as exc:
                log.info("%s: left out of the snapshot: %s", symbol, exc)
            seconds[symbol] += time.monotonic() - started
            log.info("%s (%s): fetched %s in %.1f s", symbol, source.name, "; ".join(fetched), seconds[symbol])
    return symbols


@contextmanager
def _symbol_problems(run_dir: str, symbols: list[str], final_attempt: bool) -> Iterator[None]:
    """A DataError inside becomes the reason of `symbols`, and so does broker trouble on the final attempt (before,
    it raises for the orchestrator to retry); AuthError and anything else propagate."""
    try:
        yield
    except AuthError:
        raise
    except DataError as exc:
        for symbol in symbols:
            _write_failure(run_dir, symbol, f"fetch: {exc}")
    except BrokerError as exc:
        if not final_attempt:
            raise
        for symbol in symbols:
            _write_failure(run_dir, symbol, f"fetch: {exc}")


@dataclass(frozen=True)
class RunInputs:
    """What every symbol's analysis of a run reads from its directory, read once per task: the universe, budgets,
    stored ATM IVs, market state, the snapshot source, NIFTY's closes and the day's SPAN parameters."""

    spec: RunSpec
    universe: pd.DataFrame
    plan: pd.DataFrame
    iv_history: pd.DataFrame
    state: MarketState
    source: ParquetSnapshotSource
    nifty: pd.Series | None
    span: SpanFile | None

    @classmethod
    def read(cls, run_dir: str) -> "RunInputs":
        spec = RunSpec.read(run_dir)
        source = _replay(spec)
        return cls(spec, pd.read_parquet(Path(run_dir) / "universe.parquet"),
                   pd.read_parquet(Path(run_dir) / "budgets.parquet").set_index("symbol"),
                   pd.read_parquet(Path(run_dir) / "iv_history.parquet"), read_market_state(run_dir), source,
                   market_closes(source), _run_span(run_dir))


def analyze_symbol(run_dir: str, symbol: str, settings: Settings, excluded: dict[str, str] | None = None,
                   inputs: RunInputs | None = None) -> str:
    """Analyze one symbol from the snapshots; writes its outcome (and strategies) under symbols/. `inputs`: the
    run's, when the caller has read them already."""
    if _outcome_path(run_dir, symbol).exists() and _read_outcome_row(run_dir, symbol)["status"] == "failed":
        return symbol  # failed while fetching: keep that reason
    if excluded and symbol in excluded:
        _write_failure(run_dir, symbol, excluded[symbol])
        return symbol
    run = inputs or RunInputs.read(run_dir)
    row = next(run.universe[run.universe["symbol"] == symbol].itertuples(index=False))
    history = run.iv_history
    outcome = symbol_outcome(
        run.source, row, plan=run.plan, state=run.state, settings=settings,
        limits=settings.limits(run.spec.risk_profile), iv_history=history.loc[history["symbol"] == symbol, "atm_iv"],
        market_closes=run.nifty, span=run.span,
    )
    _write_outcome(run_dir, outcome)
    return symbol


def batches(symbols: list[str], count: int) -> list[list[str]]:
    """`symbols` in at most `count` consecutive batches of near-equal size (universe order kept; none empty)."""
    if count < 1:
        raise InputError(f"batches: need at least 1, got {count}")
    return [list(batch) for batch in np.array_split(np.asarray(symbols, dtype=object), count) if len(batch)]


def analyze_symbols(run_dir: str, symbols: list[str], settings: Settings,
                    excluded: dict[str, str] | None = None) -> list[str]:
    """analyze_symbol for each of `symbols`, each on its own: a symbol that raises is logged with its traceback and
    the others go on; then, if any raised, an OptionsV4Error naming them (the task fails and its retry analyses the
    batch again; a symbol never analysed gets "analysis task did not finish" from allocate). Returns `symbols`."""
    crashed = []
    inputs = RunInputs.read(run_dir)
    for symbol in symbols:
        started = time.monotonic()
        try:
            analyze_symbol(run_dir, symbol, settings, excluded, inputs)
        except Exception:
            log.exception("%s: the analysis raised", symbol)
            crashed.append(symbol)
            continue
        log.info("%s: %s in %.1f s", symbol, _read_outcome_row(run_dir, symbol)["status"], time.monotonic() - started)
    if crashed:
        raise OptionsV4Error(f"the analysis of {', '.join(crashed)} raised (tracebacks above); "
                             f"{len(symbols) - len(crashed)} of {len(symbols)} symbols of the batch were analysed")
    return symbols


def allocate(run_dir: str, settings: Settings) -> str:
    """Gather every symbol's outcome (a symbol whose task never finished gets that as its reason), size, exits."""
    spec = RunSpec.read(run_dir)
    universe = pd.read_parquet(Path(run_dir) / "universe.parquet")
    outcomes = []
    for row in universe.itertuples(index=False):
        if _outcome_path(run_dir, row.symbol).exists():
            outcomes.append(_read_outcome(run_dir, row.symbol))
        else:
            outcomes.append(SymbolOutcome({"symbol": row.symbol, "sector": row.sector, "industry": row.industry,
                                           "status": "failed", "reason": "analysis task did not finish"}))
    result = assemble(
        spec.trade_date, outcomes, profile=spec.risk_profile, source_name=_replay(spec).name,
        state=read_market_state(run_dir), plan=pd.read_parquet(Path(run_dir) / "budgets.parquet").set_index("symbol"),
        settings=settings, started=datetime.fromisoformat(spec.started_at), span=_run_span(run_dir),
    )
    return str(save_result(result, Path(run_dir) / "result"))


def read_result(result_dir: str) -> AnalysisResult:
    return load_result(Path(result_dir))


# ---------------------------------------------------------------- data quality, load, report, final check


def _dq_path(run_dir: str, suite: str) -> Path:
    return Path(run_dir) / "dq" / f"{suite}.parquet"


def _write_dq(run_dir: str, suite: str, reports) -> None:
    path = _dq_path(run_dir, suite)
    path.parent.mkdir(exist_ok=True)
    frames = [r.results for r in reports]
    (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()).to_parquet(path, index=False)


def validate_chains(run_dir: str, settings: Settings) -> dict[str, str]:
    """Validate every recorded chain in one GX run; return {symbol: reason} for chains with critical failures. A far
    chain the fetch left out is not a failure (the analysis drops the multi-expiry strategies and says so)."""
    from optionsv4_lib.quality import suites as quality

    spec = RunSpec.read(run_dir)
    source, chains, unreadable = _replay(spec), {}, {}
    for symbol in pd.read_parquet(Path(run_dir) / "universe.parquet")["symbol"]:
        if _outcome_path(run_dir, symbol).exists():
            continue  # failed while fetching: its reason is already written
        try:
            near, *far = choose_expiries(source.expiries(symbol), spec.trade_date, settings.candidates)
            chains[symbol] = pd.concat([source.option_chain(symbol, near), *_recorded(source, symbol, far)],
                                       ignore_index=True)
        except DataError as exc:  # e.g. its fetch task failed without recording a reason
            unreadable[symbol] = f"fetch: no usable recorded chain ({exc})"
    reports = quality.validate_chains(chains, run_name=_run_name(spec)) if chains else {}
    _write_dq(run_dir, "option_chain", reports.values())
    failed = {symbol: f"data quality: {report.summary()}" for symbol, report in reports.items() if not report.success}
    return unreadable | failed


def _recorded(source: MarketDataSource, symbol: str, expiries: list[date]) -> list[pd.DataFrame]:
    """The chains of `expiries` the snapshot holds (a far chain may have been left out)."""
    chains = []
    for expiry in expiries:
        try:
            chains.append(source.option_chain(symbol, expiry))
        except DataError:
            continue
    return chains


def validate_context(run_dir: str) -> bool:
    """Validate the recorded NIFTY and INDIA VIX history; True when no critical expectation failed."""
    from optionsv4_lib.quality import suites as quality

    spec = RunSpec.read(run_dir)
    source = _replay(spec)
    start = spec.trade_date - timedelta(days=HISTORY_DAYS)
    report = quality.validate_market_context(
        source.candles(MARKET_SYMBOL, start, spec.trade_date), source.candles(VIX_SYMBOL, start, spec.trade_date),
        spec.trade_date, run_name=_run_name(spec),
    )
    _write_dq(run_dir, "market_context", [report])
    return report.success


def validate_strategies(run_dir: str, result_dir: str, settings: Settings) -> bool:
    """Validate the sized strategies of the result and the book (stress and margin within the profile's limits);
    True when no critical expectation failed."""
    from optionsv4_lib.quality import suites as quality

    spec, result = RunSpec.read(run_dir), read_result(result_dir)
    budget = settings.limits(spec.risk_profile).max_loss_per_trade * settings.capital
    report = quality.validate_strategies(result.strategies, result.legs, max_loss_per_trade=budget,
                                         run_name=_run_name(spec))
    book = quality.validate_book(result.book, result.book_stress, run_name=_run_name(spec))
    _write_dq(run_dir, "strategies", [report, book])
    return report.success and book.success


def quality_results(run_dir: str) -> pd.DataFrame:
    """Every data-quality row of the run (store.QUALITY_COLUMNS), details parsed from JSON."""
    frames = [pd.read_parquet(p) for p in sorted((Path(run_dir) / "dq").glob("*.parquet"))]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame()
    rows = pd.concat(frames, ignore_index=True)
    return rows.assign(details=rows["details"].map(json.loads))


def load(run_dir: str, result_dir: str, settings: Settings) -> int:
    """Store the result and its data-quality rows in PostgreSQL in one transaction; returns the run id."""
    conn = open_store(settings)
    try:
        return store_analysis(conn, read_result(result_dir), quality=quality_results(run_dir))
    finally:
        conn.close()


def report(run_dir: str, result_dir: str, settings: Settings) -> dict:
    """Result JSONs, payoff charts and the Data Docs of this run; returns their paths and a text summary."""
    from optionsv4_lib.quality import suites as quality
    from optionsv4_lib.reporting.analysis_files import summary_lines

    spec, result = RunSpec.read(run_dir), read_result(result_dir)
    analysis_path, allocation_path = write_results(result, settings.results_dir)
    stamp = result.finished_at.strftime("%Y%m%d_%H%M%S")
    charts = payoff_charts(result, settings.results_dir / f"payoffs_{stamp}", settings.risk_free_rate)
    docs = quality.build_data_docs(_run_name(spec))
    return {"analysis": str(analysis_path), "allocation": str(allocation_path), "charts": len(charts),
            "data_docs": str(docs), "summary": summary_lines(result), "warnings": list(spec.warnings)}


class RunCheckFailed(OptionsV4Error):
    """The run finished but must not be trusted: too few symbols succeeded or a critical expectation failed."""


def final_check(result_dir: str, *, context_ok: bool, strategies_ok: bool, min_success_share: float) -> str:
    """Raise RunCheckFailed when the run is not good enough; otherwise a one-line verdict."""
    symbols = read_result(result_dir).symbols
    share = float((symbols["status"] == "ok").mean()) if len(symbols) else 0.0
    problems = []
    if share < min_success_share:
        problems.append(f"only {share:.0%} of symbols succeeded (minimum {min_success_share:.0%})")
    if not context_ok:
        problems.append("the market context failed a critical expectation")
    if not strategies_ok:
        problems.append("the strategies failed a critical expectation")
    if problems:
        raise RunCheckFailed("; ".join(problems))
    return f"{share:.0%} of {len(symbols)} symbols succeeded; all critical expectations passed"


def _run_name(spec: RunSpec) -> str:
    return f"{spec.trade_date.isoformat()}_{spec.risk_profile}"



def _outcome_path(run_dir: str, symbol: str) -> Path:
    return Path(run_dir) / "symbols" / f"{symbol}.json"


def _write_failure(run_dir: str, symbol: str, reason: str) -> None:
    universe = pd.read_parquet(Path(run_dir) / "universe.parquet").set_index("symbol")
    row = universe.loc[symbol]
    _write_outcome(run_dir, SymbolOutcome({"symbol": symbol, "sector": row["sector"], "industry": row["industry"],
                                           "status": "failed", "reason": reason}))


def _write_outcome(run_dir: str, outcome: SymbolOutcome) -> None:
    symbol = outcome.row["symbol"]
    base = Path(run_dir) / "symbols"
    if outcome.selected is not None:
        selected = outcome.selected.assign(variant=outcome.selected["variant"].map(json.dumps))
        selected.to_parquet(base / f"{symbol}.selected.parquet", index=False)
        outcome.legs.to_parquet(base / f"{symbol}.legs.parquet", index=False)
        outcome.smiles.to_parquet(base / f"{symbol}.smiles.parquet", index=False)
        outcome.smile_quotes.to_parquet(base / f"{symbol}.smile_quotes.parquet", index=False)
        (base / f"{symbol}.valuation.json").write_text(json.dumps(outcome.valuation.to_dict()))
        np.save(base / f"{symbol}.stress.npy", outcome.stress)
    row = {k: (None if isinstance(v, float) and v != v else v) for k, v in outcome.row.items()}
    tmp = base / f"{symbol}.json.tmp"
    tmp.write_text(json.dumps(row, default=str))
    tmp.replace(_outcome_path(run_dir, symbol))  # the outcome file appears last: its presence means complete


def _read_outcome_row(run_dir: str, symbol: str) -> dict:
    return json.loads(_outcome_path(run_dir, symbol).read_text())


def _read_outcome(run_dir: str, symbol: str) -> SymbolOutcome:
    row = _read_outcome_row(run_dir, symbol)
    if row["status"] != "ok":
        return SymbolOutcome(row)
    base = Path(run_dir) / "symbols"
    selected = pd.read_parquet(base / f"{symbol}.selected.parquet")
    selected["variant"] = selected["variant"].map(json.loads)
    selected["breakevens"] = selected["breakevens"].map(list)
    valuation = Valuation.from_dict(json.loads((base / f"{symbol}.valuation.json").read_text()))
    return SymbolOutcome(row | {"quoted_at": datetime.fromisoformat(row["quoted_at"])}, selected,
                         stress=np.load(base / f"{symbol}.stress.npy"),
                         legs=pd.read_parquet(base / f"{symbol}.legs.parquet"), valuation=valuation,
                         smiles=pd.read_parquet(base / f"{symbol}.smiles.parquet"),
                         smile_quotes=pd.read_parquet(base / f"{symbol}.smile_quotes.parquet"))


# ---------------------------------------------------------------- the same analysis without Airflow (optionsv4 analyze)


@dataclass
class RunOutcome:
    result: AnalysisResult
    run_id: int
    analysis_path: Path
    allocation_path: Path
    charts: list[Path]
    log_path: Path
    warnings: list[str]


def run_analysis(
    *,
    risk: str | None = None,
    symbols: list[str] | None = None,
    first: int | None = None,
    trade_date: str | date | None = None,
    source: str = "synthetic",
    seed: int | None = None,
    charts: int = 10,
    progress: Callable[[str, int], None] | None = None,
    force: bool = False,
) -> RunOutcome:
    """Analyze the (sub-)universe on one trade date; write the result JSONs, payoff PNGs and the run log, then store
    the run in the database (progress(symbol, symbols in all) as each symbol is done). Universe and allocations come
    from the database (seeded from include/data/). A failed store is a DataError naming the JSON already written.

    The trade date (default: the latest trading day; from Dhan, the next session) is the session whose quotes the
    run holds: Dhan quotes today's session, or the next one on a day without a session; the synthetic and snapshot
    sources may analyse past dates, never one after the next session (InputError). Raises NotATradingDay for a
    weekend or NSE holiday unless `force` (then analysed as if it had a session, with a warning). The
    calendar_warnings (holidays unconfirmed for the year, the calendar running out) are logged and in the outcome's
    `warnings`."""
    cfg = current_settings()
    cfg.limits(risk)  # an unknown risk profile fails before any work, and so does a directory it cannot write
    writable_dir(cfg.results_dir, "OPTIONSV4_RESULTS_DIR")
    writable_dir(cfg.data_dir / "snapshots", "OPTIONSV4_DATA_DIR")
    upcoming = current_or_next_trading_day()
    day = as_date(trade_date, "date") if trade_date else upcoming if source == "dhan" else latest_trading_day()
    closed = closed_reason(day)
    if closed and not force:
        raise NotATradingDay(f"date: {closed}; there is no session to analyze (use --force to analyse it anyway)")
    if source == "dhan" and day != upcoming:
        raise InputError(f"date: Dhan quotes the session of {upcoming} (today's, or the next one), not {day}; "
                         "a run holds the quotes of its own session")
    if day > upcoming:
        raise InputError(f"date: {day} is after the next session {upcoming}; the {source} source analyses past "
                         "sessions and the next one, never later ones")
    log_path = log_to_file(cfg.logs_dir, "main", day)
    forced = [f"{closed}: analysed anyway (--force), priced as if it had a session"] if closed else []
    warnings = forced + calendar_warnings(day)
    for text in warnings:
        log.warning("%s", text)
    universe, allocations = stored_universe(cfg)
    universe = subset_universe(universe, symbols, first)
    market = open_source(source, day, seed=cfg.seed if seed is None else seed, data_dir=cfg.data_dir, settings=cfg,
                         forced=bool(closed))
    logging.getLogger(__name__).info("analysis of %d symbols on %s from %s", len(universe), day, market.name)
    advance = (lambda symbol: progress(symbol, len(universe))) if progress else None
    history = stored_iv_history(day, cfg)
    span = span_for_run(day, cfg.span_dir, set(universe["symbol"]))
    result = analyze_portfolio(market, universe=universe, allocations=allocations, settings=cfg, risk_profile=risk,
                               progress=advance, iv_history={s: g["atm_iv"].to_numpy() for s, g in
                                                             history.groupby("symbol")}, span=span)
    analysis_path, allocation_path = write_results(result, cfg.results_dir)  # kept even if the store fails
    stamp = result.finished_at.strftime("%Y%m%d_%H%M%S")
    pngs = payoff_charts(result, cfg.results_dir / f"payoffs_{stamp}", cfg.risk_free_rate, top=charts) if charts else []
    try:
        conn = open_store(cfg)
        try:
            run_id = store_analysis(conn, result)
        finally:
            conn.close()
    except OptionsV4Error as exc:
        log.error("storing the run in the database failed: %s", exc)
        raise DataError(f"the analysis is written to {analysis_path}, but storing the run in the database failed: "
                        f"{exc}") from None
    return RunOutcome(result, run_id, analysis_path, allocation_path, pngs, log_path, warnings)


def subset_universe(universe, symbols: list[str] | None, first: int | None):
    """The universe's rows of `symbols` (any case; InputError naming the unknown ones), then the first `first`."""
    if symbols:
        wanted = [s.strip().upper() for s in symbols]
        unknown = sorted(set(wanted) - set(universe["symbol"]))
        if unknown:
            raise InputError(f"symbol: not in the universe: {', '.join(unknown)}")
        universe = universe[universe["symbol"].isin(wanted)]
    if first:
        universe = universe.head(first)
    return universe.reset_index(drop=True)


def log_to_file(logs_dir: Path, job: str, day: date) -> Path:
    """Append this process's log records to logs/options_v4_<job>_YYYYMMDD.log (job: main for the analysis,
    execution): optionsv4's from INFO, other libraries' from WARNING. The handler sits on the root logger because
    dhanhq logs through the root logger itself (logging.error), which without a root handler would print to the
    terminal."""
    path = writable_dir(logs_dir, "OPTIONSV4_LOGS_DIR") / f"options_v4_{job}_{day:%Y%m%d}.log"
    root = logging.getLogger()
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.resolve() for h in root.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    logging.getLogger("optionsv4_lib").setLevel(logging.INFO)
    return path
