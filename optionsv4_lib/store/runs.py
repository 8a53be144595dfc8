"""Loads and queries: reference data, analysis runs, and the checks and example queries of `optionsv4 db`.

An analysis run is stored in ONE transaction with bulk inserts (psycopg2 execute_values). The run of a (trade_date,
risk_profile) is its latest revision: a load replaces that revision in place, keeping its run_id (its market
conditions, symbols, industries, strategies, legs, exits and data-quality results are deleted and inserted again),
unless its strategies were marked for execution or traded; then the load is stored as the next revision beside it,
and the traded revision stays as it is. Re-running a date and profile thus never duplicates rows, and two re-runs of
a traded day give one new revision; any failure (a constraint, a lost connection) rolls the whole load back and
leaves the previous state as it was. Values: NaN, NA and NaT are stored as NULL; ±inf stays ±Infinity
(max_profit, max_loss); breakevens and stress_pnl are double precision[]; variant, settings and details are jsonb.
"""

import json
import math
from collections.abc import Callable, Sequence
from datetime import date
from textwrap import dedent
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from psycopg2.extras import execute_values

from optionsv4_lib.analysis.allocation import Allocations, load_allocations
from optionsv4_lib.analysis.market_state import MarketState
from optionsv4_lib.analysis.portfolio_risk import STRESS_COLUMNS
from optionsv4_lib.analysis.result import (
    BOOK_COLUMNS,
    EXIT_COLUMNS,
    INDUSTRY_COLUMNS,
    LEG_COLUMNS,
    STRATEGY_COLUMNS,
    SYMBOL_COLUMNS,
    AnalysisResult,
)
from optionsv4_lib.analysis.valuation import SMILE_COLUMNS, SMILE_QUOTE_COLUMNS
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.frames import conform, require_columns
from optionsv4_lib.reference.universe import UNIVERSE
from optionsv4_lib.reference.universe import load_universe as load_bundled_universe
from optionsv4_lib.store.db import transaction, writing

TABLES = (
    "stock_mappings", "sector_allocations_current", "industry_allocations_current", "instruments",
    "market_data_daily", "option_chain_data",
    "analysis_runs", "market_conditions", "run_symbols", "run_industries", "strategies", "strategy_details",
    "strategy_exit_conditions", "data_quality_results", "smile_fits", "smile_quotes", "run_book", "run_book_stress",
    "strategy_execution_status", "orders", "positions_snapshots", "api_pacing",
)
"""Every table of include/sql, parents before children."""

RUN_TABLES = ("market_conditions", "run_symbols", "run_industries", "strategies", "strategy_details",
              "strategy_exit_conditions", "data_quality_results", "smile_fits", "smile_quotes", "run_book",
              "run_book_stress")
"""The tables one analysis run fills besides analysis_runs, in load order."""

QUALITY_COLUMNS = ("suite", "subject", "expectation", "column", "severity", "success", "observed", "unexpected_count", "details")
"""Data-quality results passed to store_analysis: suite and expectation names, the column checked (or missing),
success, and details (a JSON-able dict, e.g. the observed value and unexpected counts)."""

PAGE_SIZE = 1000  # rows per INSERT statement

_INTEGER = {"lot_size", "contract_lot", "lots", "rank", "qty", "leg_no", "oi", "volume", "security_id", "n_candidates", "n_fitted", "n_outside",
            "n_selected", "n_strategies", "exit_no", "ordinal", "dhan_security_id"}
_JSON = {"variant", "details", "indicators", "votes", "settings"}
_ARRAY = {"breakevens", "explanation", "stress_pnl"}
_DATE = {"expiry", "far_expiry", "trade_date", "history_date", "as_of"}

_MARKET_COLUMNS = ("history_date", "state", "direction", "direction_confidence", "vix", "vix_regime", "vix_percentile",
                   "pcr_oi", "pcr_volume", "indicators", "votes", "explanation")
_SECTOR_COLUMNS = ("sector", "weight_pct", "as_of", "note")
_INDUSTRY_ALLOCATION_COLUMNS = ("industry", "sector", "weight_pct", "position_type", "as_of", "note")
_SEED_LOCK = 7_316_442_002  # pg_advisory_xact_lock key: one seeding at a time per database
_LOAD_LOCK = 731_644  # first key of pg_advisory_xact_lock(int, int): one load at a time per date and profile


def latest_revision(alias: str) -> str:
    """SQL condition: the analysis_runs row `alias` is the latest revision of its trade date and risk profile."""
    return (f"NOT EXISTS (SELECT FROM analysis_runs later WHERE later.trade_date = {alias}.trade_date "
            f"AND later.risk_profile = {alias}.risk_profile AND later.revision > {alias}.revision)")


# ---------------------------------------------------------------- reference data


def replace_universe(conn, universe: pd.DataFrame) -> int:
    """Replace stock_mappings with `universe` (reference.universe.UNIVERSE columns), keeping its row order. Returns the rows."""
    columns, rows = _universe_rows(universe)
    with writing(conn, "stock_mappings") as cur:
        cur.execute("DELETE FROM stock_mappings")
        return _insert(cur, "stock_mappings", columns, rows)


def load_universe(conn) -> pd.DataFrame:
    """stock_mappings as reference.load_universe returns the bundled CSV: reference.universe.UNIVERSE, in file order."""
    columns = [c.name for c in UNIVERSE]
    with transaction(conn) as cur:
        frame = _frame(cur, f"SELECT {', '.join(columns)} FROM stock_mappings ORDER BY ordinal", ())
    if frame.empty:
        raise DataError("stock_mappings: empty; seed it (optionsv4 db migrate --seed) or import a universe")
    return conform(frame, UNIVERSE, "stock_mappings")


def replace_allocations(conn, allocations: Allocations) -> tuple[int, int]:
    """Replace both allocation tables with `allocations` (validate it first). Returns (sectors, industries) rows."""
    batches = _allocation_rows(allocations)
    with writing(conn, "industry_allocations_current") as cur:
        cur.execute("DELETE FROM industry_allocations_current; DELETE FROM sector_allocations_current")
        sectors, industries = (_insert(cur, *batch) for batch in batches)
    return sectors, industries


def load_allocations_from_db(conn) -> Allocations:
    """The allocation tables as allocation.load_allocations returns the CSV files (same frames, in file order)."""
    with transaction(conn) as cur:
        sectors = _frame(cur, f"SELECT {', '.join(_SECTOR_COLUMNS)} FROM sector_allocations_current "
                              "ORDER BY ordinal", ())
        industries = _frame(cur, f"SELECT {', '.join(_INDUSTRY_ALLOCATION_COLUMNS)} FROM industry_allocations_current "
                                 "ORDER BY ordinal", ())
    if sectors.empty or industries.empty:
        raise DataError("sector_allocations_current / industry_allocations_current: empty; import allocations "
                        "(optionsv4 import-allocations PATH)")
    for frame in (sectors, industries):
        frame["as_of"] = frame["as_of"].map(date.isoformat)
    return Allocations(sectors, industries, "sector_allocations_current", "industry_allocations_current")


def seed_reference_data(conn) -> dict[str, int]:
    """Fill empty reference tables from the bundled CSVs (universe; the SAMPLE allocations). Idempotent: a table
    that has rows is left alone, and concurrent callers wait for each other. Returns the rows inserted per table."""
    with writing(conn, "stock_mappings") as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK,))
        cur.execute("SELECT (SELECT count(*) FROM stock_mappings), (SELECT count(*) FROM industry_allocations_current)"
                    " + (SELECT count(*) FROM sector_allocations_current)")
        universe_rows, allocation_rows = cur.fetchone()
        batches = [("stock_mappings", *_universe_rows(load_bundled_universe()))] if universe_rows == 0 else []
        batches += _allocation_rows(load_allocations()) if allocation_rows == 0 else []
        return {table: _insert(cur, table, columns, rows) for table, columns, rows in batches}


def _universe_rows(universe: pd.DataFrame) -> tuple[tuple[str, ...], list[tuple]]:
    frame = conform(universe, UNIVERSE, "universe").reset_index(drop=True)
    columns = (*(c.name for c in UNIVERSE), "ordinal")
    return columns, _rows(frame.assign(ordinal=frame.index), columns, "universe")


def _allocation_rows(allocations: Allocations) -> list[tuple[str, tuple[str, ...], list[tuple]]]:
    """(table, columns, rows) of the sector table, then of the industry table."""
    batches = []
    for table, frame, columns, name in (
        ("sector_allocations_current", allocations.sectors, _SECTOR_COLUMNS, allocations.sector_table),
        ("industry_allocations_current", allocations.industries, _INDUSTRY_ALLOCATION_COLUMNS,
         allocations.industry_table),
    ):
        frame = frame.reset_index(drop=True)
        columns = (*columns, "ordinal")
        batches.append((table, columns, _rows(frame.assign(ordinal=frame.index), columns, name)))
    return batches


# ---------------------------------------------------------------- analysis runs


def store_analysis(conn, result: AnalysisResult, *, quality: pd.DataFrame | None = None,
                   on_batch: Callable[[str], None] | None = None) -> int:
    """Store `result` (and its data-quality results, QUALITY_COLUMNS) in one transaction; return its run_id.

    The latest revision of (trade_date, risk_profile) is replaced and keeps its run_id; when its strategies were
    marked for execution or traded, `result` becomes the next revision instead. `on_batch(table)` is called after each
    table's rows are sent, inside the transaction (progress reporting; tests use it to break a load midway).
    Raises InputError for a frame missing a contract column and DataError naming the table (and the violated
    constraint) when the database refuses the load; nothing is then changed.
    """
    batches = _run_batches(result, quality)
    table = "analysis_runs"  # the table being written, named by an error (the lambda reads it when one happens)
    with writing(conn, lambda: table) as cur:
        run_id = _run_row(cur, result)
        for child in ("strategies", "market_conditions", "run_symbols", "run_industries", "data_quality_results",
                      "smile_fits", "run_book", "run_book_stress"):  # strategies cascade to legs and exits,
            # smile fits to their quotes
            cur.execute(f"DELETE FROM {child} WHERE run_id = %s", (run_id,))
        for table, columns, rows in batches:
            _insert(cur, table, ("run_id", *columns), [(run_id, *row) for row in rows])
            if on_batch:
                on_batch(table)
    return run_id


def fetch_analysis(conn, trade_date: date, risk_profile: str) -> AnalysisResult:
    """The stored run of (trade_date, risk_profile), its latest revision, as an AnalysisResult (one consistent
    snapshot).

    Date columns come back as datetime64, NULLs as NaN/None. Raises DataError if there is no such run.
    """
    with transaction(conn) as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        runs = _frame(cur, "SELECT * FROM analysis_runs WHERE trade_date = %s AND risk_profile = %s "
                           "ORDER BY revision DESC LIMIT 1", (trade_date, risk_profile))
        if runs.empty:
            raise DataError(f"analysis_runs: no run for trade date {trade_date} and risk profile {risk_profile!r}")
        run = runs.iloc[0]
        key = (int(run["run_id"]),)
        market = _frame(cur, f"SELECT {', '.join(_MARKET_COLUMNS)} FROM market_conditions WHERE run_id = %s", key)
        symbols = _frame(cur, f"SELECT {', '.join(SYMBOL_COLUMNS)} FROM run_symbols WHERE run_id = %s ORDER BY ordinal",
                         key)
        industries = _frame(cur, f"SELECT {', '.join(INDUSTRY_COLUMNS)} FROM run_industries WHERE run_id = %s "
                                 "ORDER BY ordinal", key)
        strategies = _frame(cur, f"SELECT {', '.join(STRATEGY_COLUMNS)} FROM strategies WHERE run_id = %s "
                                 "ORDER BY strategy_id", key)
        legs = _frame(cur, _children_sql("strategy_details", LEG_COLUMNS, "leg_no"), key)
        exits = _frame(cur, _children_sql("strategy_exit_conditions", EXIT_COLUMNS, "exit_no"), key)
        smiles = _frame(cur, f"SELECT {', '.join(SMILE_COLUMNS)} FROM smile_fits WHERE run_id = %s "
                             "ORDER BY symbol, expiry", key)
        book = _frame(cur, f"SELECT {', '.join(BOOK_COLUMNS)} FROM run_book WHERE run_id = %s", key)
        book_stress = _frame(cur, f"SELECT {', '.join(STRESS_COLUMNS)} FROM run_book_stress WHERE run_id = %s "
                                  "ORDER BY nifty_move, vol_shift", key)
        smile_quotes = _frame(cur, f"SELECT {', '.join(SMILE_QUOTE_COLUMNS)} FROM smile_quotes WHERE run_id = %s "
                                   "ORDER BY symbol, expiry, strike, option_type", key)
    if market.empty:
        raise DataError(f"market_conditions: missing for run {key[0]} ({trade_date}, {risk_profile})")
    state = market.iloc[0].to_dict()
    state["indicators"] = {k: math.nan if v is None else v for k, v in state["indicators"].items()}
    for frame in (strategies, legs):
        for column in _DATE & set(frame.columns):
            frame[column] = pd.to_datetime(frame[column])
    exits["leg_no"] = exits["leg_no"].astype("Int64")
    return AnalysisResult(
        trade_date=run["trade_date"], risk_profile=run["risk_profile"], source=run["source"],
        capital=float(run["capital"]), market=MarketState(**state), symbols=symbols, strategies=strategies,
        legs=legs, exits=exits, industries=industries, started_at=run["started_at"].to_pydatetime(),
        finished_at=run["finished_at"].to_pydatetime(), settings=run["settings"], smiles=smiles,
        smile_quotes=smile_quotes, book=book.reindex(columns=BOOK_COLUMNS),
        book_stress=book_stress.reindex(columns=STRESS_COLUMNS),
    )


def _run_batches(result: AnalysisResult, quality: pd.DataFrame | None) -> list[tuple[str, tuple, list[tuple]]]:
    """(table, columns, rows) for every child table of a run, in load order, converted before any SQL runs."""
    market = pd.DataFrame([json.loads(result.market.model_dump_json())])  # NaN readings become null
    market = market.assign(trade_date=result.trade_date)  # the run's; the state's own date is its history_date
    symbols = result.symbols.reset_index(drop=True).assign(ordinal=lambda f: f.index)
    industries = result.industries.reset_index(drop=True).assign(ordinal=lambda f: f.index)
    exits = result.exits.reset_index(drop=True)
    exits = exits.assign(exit_no=exits.groupby("candidate_id").cumcount() if len(exits) else [])
    quality = pd.DataFrame(columns=QUALITY_COLUMNS) if quality is None else quality.reset_index(drop=True)
    quality = quality.assign(trade_date=result.trade_date).rename(columns={"column": "column_name"})
    batches = [
        ("market_conditions", ("trade_date", *_MARKET_COLUMNS), market),
        ("run_symbols", (*SYMBOL_COLUMNS, "ordinal"), symbols),
        ("run_industries", (*INDUSTRY_COLUMNS, "ordinal"), industries),
        ("strategies", STRATEGY_COLUMNS, result.strategies),
        ("strategy_details", LEG_COLUMNS, result.legs),
        ("strategy_exit_conditions", (*EXIT_COLUMNS, "exit_no"), exits),
        ("data_quality_results", ("trade_date", "suite", "subject", "expectation", "column_name", "severity", "success",
                                  "observed", "unexpected_count", "details"), quality),
        ("smile_fits", SMILE_COLUMNS, result.smiles.reindex(columns=SMILE_COLUMNS)),
        ("smile_quotes", SMILE_QUOTE_COLUMNS, result.smile_quotes.reindex(columns=SMILE_QUOTE_COLUMNS)),
        ("run_book", BOOK_COLUMNS, result.book.reindex(columns=BOOK_COLUMNS)),
        ("run_book_stress", STRESS_COLUMNS, result.book_stress.reindex(columns=STRESS_COLUMNS)),
    ]
    return [(table, columns, _rows(frame, columns, table)) for table, columns, frame in batches]


def _run_row(cur, result: AnalysisResult) -> int:
    """The run_id `result` is loaded into: the latest revision's, its row updated, unless that revision was marked
    or traded; else a new revision's. Loads of one date and profile wait for each other, and the strategies of the
    revision being replaced are locked against marking until the load commits."""
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                (_LOAD_LOCK, f"{result.trade_date}/{result.risk_profile}"))
    cur.execute("""SELECT run_id, revision FROM analysis_runs WHERE trade_date = %s AND risk_profile = %s
                   ORDER BY revision DESC LIMIT 1""", (result.trade_date, result.risk_profile))
    latest = cur.fetchone()
    strategies = result.strategies
    values = (result.source, float(result.capital), result.started_at, result.finished_at, len(result.symbols),
              int((result.symbols["status"] == "ok").sum()), len(strategies),
              float(strategies["capital_at_risk"].sum()) if len(strategies) else 0.0,
              _json_text(result.settings, "analysis_runs.settings"))
    if latest is not None and not _traded(cur, latest[0]):
        cur.execute("""UPDATE analysis_runs SET source = %s, capital = %s, started_at = %s, finished_at = %s,
                              symbols_total = %s, symbols_ok = %s, n_strategies = %s, capital_at_risk = %s,
                              settings = %s, loaded_at = now()
                       WHERE run_id = %s""", (*values, latest[0]))
        return latest[0]
    cur.execute(
        """INSERT INTO analysis_runs (source, capital, started_at, finished_at, symbols_total, symbols_ok,
                                      n_strategies, capital_at_risk, settings, trade_date, risk_profile, revision)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING run_id""",
        (*values, result.trade_date, result.risk_profile, 1 if latest is None else latest[1] + 1))
    return cur.fetchone()[0]


def _traded(cur, run_id: int) -> bool:
    """Whether a strategy of the run was marked for execution or traded; its strategies stay locked (FOR UPDATE
    conflicts with the key-share lock a new status row takes), so none is marked until the transaction ends."""
    cur.execute("SELECT FROM strategies WHERE run_id = %s FOR UPDATE", (run_id,))
    cur.execute(
        """SELECT EXISTS (SELECT FROM strategies s WHERE s.run_id = %s AND (
               EXISTS (SELECT FROM strategy_execution_status e WHERE e.strategy_id = s.strategy_id)
               OR EXISTS (SELECT FROM orders o WHERE o.strategy_id = s.strategy_id)
               OR EXISTS (SELECT FROM positions_snapshots p WHERE p.strategy_id = s.strategy_id)))""",
        (run_id,),
    )
    return cur.fetchone()[0]


def _children_sql(table: str, columns: Sequence[str], order: str) -> str:
    selected = ", ".join(f"c.{c}" for c in columns)
    return (f"SELECT {selected} FROM {table} c JOIN strategies s USING (run_id, candidate_id) "
            f"WHERE c.run_id = %s ORDER BY s.strategy_id, c.{order}")


# ---------------------------------------------------------------- checks and example queries


def stored_exit_conditions(conn, strategy_ids: list[int]) -> pd.DataFrame:
    """The stored exit rules of these strategies (strategy_exit_conditions with strategy_id)."""
    with transaction(conn) as cur:
        cur.execute("""SELECT s.strategy_id, c.exit_no, c.kind, c.metric, c.comparison, c.threshold, c.leg_no,
                              c.action, c.description
                       FROM strategy_exit_conditions c JOIN strategies s USING (run_id, candidate_id)
                       WHERE s.strategy_id = ANY(%s) ORDER BY 1, 2""", (strategy_ids,))
        columns = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns).astype({"threshold": float})


def atm_iv_history(conn, before: date) -> pd.DataFrame:
    """The ATM IV (decimal) each symbol had in the stored runs before `before`, one per trade date (the latest
    loaded run's): symbol, trade_date, atm_iv, oldest first."""
    with transaction(conn) as cur:
        cur.execute("""SELECT DISTINCT ON (s.symbol, r.trade_date) s.symbol, r.trade_date, s.atm_iv
                       FROM run_symbols s JOIN analysis_runs r USING (run_id)
                       WHERE r.trade_date < %s AND s.atm_iv IS NOT NULL
                       ORDER BY s.symbol, r.trade_date, r.loaded_at DESC""", (before,))
        frame = pd.DataFrame(cur.fetchall(), columns=["symbol", "trade_date", "atm_iv"])
    return frame.astype({"atm_iv": float})


def failed_expectations(conn, trade_date: date | None) -> list[tuple]:
    """The failed expectations stored for `trade_date` (default: the latest with results), of the latest revision
    of each run and of no run: trade_date, suite, subject, expectation, column_name, severity, observed,
    unexpected_count — critical first."""
    with transaction(conn) as cur:
        cur.execute(f"""SELECT q.trade_date, q.suite, q.subject, q.expectation, q.column_name, q.severity, q.observed,
                              q.unexpected_count
                       FROM data_quality_results q LEFT JOIN analysis_runs r USING (run_id)
                       WHERE NOT q.success AND (q.run_id IS NULL OR {latest_revision("r")})
                         AND q.trade_date = COALESCE(%s, (SELECT max(trade_date) FROM data_quality_results))
                       ORDER BY q.severity, q.suite, q.subject, q.expectation""", (trade_date,))
        return cur.fetchall()


class Query(NamedTuple):
    title: str
    sql: str


QUERIES: dict[str, Query] = {
    "top-strategies": Query("Top 3 strategies per industry in the latest run (by score)", dedent("""\
        WITH latest AS (SELECT run_id FROM analysis_runs ORDER BY trade_date DESC, loaded_at DESC LIMIT 1)
        SELECT industry, symbol, strategy, lots, round(score::numeric, 2) AS score, round(pop::numeric, 3) AS pop,
               round(capital_at_risk::numeric) AS capital_at_risk,
               round(expected_pnl_net::numeric) AS expected_pnl_net
        FROM (SELECT s.*, row_number() OVER (PARTITION BY industry ORDER BY score DESC) AS n
              FROM strategies s JOIN latest USING (run_id)) ranked
        WHERE n <= 3
        ORDER BY industry, n""")),
    "market-state": Query("Latest market state per trade date (classified on the history up to history_date)", dedent("""\
        SELECT DISTINCT ON (m.trade_date) m.trade_date, m.history_date, m.state,
               round(m.direction_confidence::numeric, 2) AS confidence, m.vix,
               round(m.vix_percentile::numeric) AS vix_percentile, round(m.pcr_oi::numeric, 2) AS pcr_oi
        FROM market_conditions m JOIN analysis_runs r USING (run_id)
        ORDER BY m.trade_date DESC, r.loaded_at DESC
        LIMIT 10""")),
    "strategies-by-status": Query("Strategies by execution status per run ('not marked' when never marked)", dedent("""\
        SELECT r.trade_date, r.risk_profile, coalesce(e.status, 'not marked') AS status, count(*) AS strategies,
               round(sum(s.capital_at_risk)::numeric) AS capital_at_risk
        FROM strategies s JOIN analysis_runs r USING (run_id)
        LEFT JOIN strategy_execution_status e USING (strategy_id)
        GROUP BY 1, 2, 3
        ORDER BY 1 DESC, 2, 3""")),
}
"""The documented example queries of `optionsv4 db queries`."""

ORPHAN_CHECKS: dict[str, str] = {
    "runs without market conditions": """SELECT count(*) FROM analysis_runs r
        WHERE NOT EXISTS (SELECT FROM market_conditions m WHERE m.run_id = r.run_id)""",
    "strategies without legs": """SELECT count(*) FROM strategies s WHERE NOT EXISTS
        (SELECT FROM strategy_details d WHERE d.run_id = s.run_id AND d.candidate_id = s.candidate_id)""",
    "strategies whose symbol is not in stock_mappings": """SELECT count(*) FROM strategies s
        WHERE NOT EXISTS (SELECT FROM stock_mappings m WHERE m.symbol = s.symbol)""",
    "universe industries without an allocation": """SELECT count(DISTINCT industry) FROM stock_mappings m
        WHERE NOT EXISTS (SELECT FROM industry_allocations_current a WHERE a.industry = m.industry)""",
    "allocated industries without a symbol": """SELECT count(*) FROM industry_allocations_current a
        WHERE NOT EXISTS (SELECT FROM stock_mappings m WHERE m.industry = a.industry)""",
}
"""Consistency checks of `optionsv4 db check`: each counts rows that should not exist (0 is healthy)."""


def run_query(conn, name: str) -> pd.DataFrame:
    """The result of QUERIES[name] as a frame. Raises InputError for an unknown name."""
    if name not in QUERIES:
        raise InputError(f"query: unknown {name!r}; expected one of {', '.join(QUERIES)}")
    with transaction(conn) as cur:
        return _frame(cur, QUERIES[name].sql, ())


def table_counts(conn) -> dict[str, int]:
    """Rows per table of TABLES."""
    with transaction(conn) as cur:
        cur.execute(" UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in TABLES))
        return dict(cur.fetchall())


def orphan_counts(conn) -> dict[str, int]:
    """ORPHAN_CHECKS evaluated: check → rows found."""
    with transaction(conn) as cur:
        counts = {}
        for check, sql in ORPHAN_CHECKS.items():
            cur.execute(sql)
            counts[check] = cur.fetchone()[0]
        return counts


def latest_run(conn) -> dict[str, Any] | None:
    """The most recently loaded run, a latest revision: trade_date, risk_profile, revision, source, symbols_ok,
    symbols_total, n_strategies, capital_at_risk (₹), loaded_at; None when no run is stored."""
    with transaction(conn) as cur:
        frame = _frame(cur, f"""SELECT trade_date, risk_profile, revision, source, symbols_ok, symbols_total,
                                       n_strategies, capital_at_risk, loaded_at
                                FROM analysis_runs r WHERE {latest_revision("r")}
                                ORDER BY loaded_at DESC LIMIT 1""", ())
    return None if frame.empty else frame.iloc[0].to_dict()


# ---------------------------------------------------------------- rows in and out


def _insert(cur, table: str, columns: Sequence[str], rows: list[tuple]) -> int:
    if rows:
        execute_values(cur, f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s", rows, page_size=PAGE_SIZE)
    return len(rows)


def _frame(cur, sql: str, params: tuple) -> pd.DataFrame:
    cur.execute(sql, params)
    return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def _rows(frame: pd.DataFrame, columns: Sequence[str], what: str) -> list[tuple]:
    """Rows of frame[columns] as tuples of values psycopg2 adapts (none for an empty frame). Raises InputError for
    a missing column."""
    if frame.empty:
        return []
    require_columns(frame, columns, what)
    return list(zip(*(_values(frame[c], f"{what}.{c}") for c in columns)))


def _values(series: pd.Series, field: str) -> list:
    """One column as Python values: NaN/NA/NaT → None, ±inf kept, whole numbers for integer columns, dates for date
    columns, JSON text for jsonb columns, lists for array columns."""
    name = field.rsplit(".", 1)[-1]
    if name in _JSON:
        return [None if _missing(v) else _json_text(v, field) for v in series]
    if name in _ARRAY:
        return [None if _missing(v) else [_scalar(x) for x in v] for v in series]
    if name in _DATE:
        try:
            stamps = pd.to_datetime(series)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{field}: not a date: {exc}") from exc
        return [None if pd.isna(t) else t.date() for t in stamps]
    if name in _INTEGER:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        unreadable = np.isnan(numbers) & ~series.isna().to_numpy()
        fractional = ~np.isnan(numbers) & ((numbers != np.round(numbers)) | np.isinf(numbers))
        if (unreadable | fractional).any():
            bad = series[unreadable | fractional].iloc[0]
            raise InputError(f"{field}: must be a whole number, got {bad!r}")
        return [None if math.isnan(v) else int(v) for v in numbers]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return [None if math.isnan(v) else v for v in series.to_numpy(dtype=float, na_value=np.nan).tolist()]
    return [None if _missing(v) else _scalar(v) for v in series]


def _missing(value: Any) -> bool:
    return (value is None or value is pd.NA or value is pd.NaT
            or (isinstance(value, (float, np.floating)) and math.isnan(value)))


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _json_text(value: Any, field: str) -> str:
    """`value` as JSON text; NaN or ±inf inside it is an error (JSON has neither)."""
    try:
        return json.dumps(value, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{field}: cannot be stored as JSON: {exc}") from exc


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
