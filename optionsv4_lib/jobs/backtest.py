"""The backtest job over a range of trade dates (backtest.spec): the run the CLI does (every entry date analyzed,
then one carry over all positions), and the steps of the options_v4_backtest DAG (plan → simulate one entry date →
report).

Each entry date is analyzed on the market of that date (the synthetic market, the snapshots recorded that day, or
that day's NSE bhavcopy at its close, or the cached Dhan expired-options data at its close; Dhan's live API has no
historical chains) and its positions are carried by
backtest.engine.carry. Positions are independent, so carrying the entry dates one by one (the DAG) gives the same
trades as carrying them together (the CLI). A date that is not an NSE trading day, or whose data is missing, is a
reason in `skipped`, never a crash.

DAG layout under the data dir, one directory per spec (reruns of the same spec replace it):

    backtests/<spec key>/
        spec.json                                   the spec and its entry days
        universe.parquet, sectors.parquet, industries.parquet   universe and allocations, as planned
        entries/trade_date=<day>/trades.parquet     one entry date's trades (backtest.engine.TRADE_COLUMNS)
        entries/trade_date=<day>/entry.json         its market state, or why it has no trades, and days without data
"""

import json
import logging
import multiprocessing
import shutil
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from optionsv4_lib.analysis.allocation import Allocations
from optionsv4_lib.analysis.analyze import analyze_with_baselines
from optionsv4_lib.analysis.picks import DEFAULT_BASELINE_FAMILIES, RANKED, baseline_policies
from optionsv4_lib.analysis.result import json_records
from optionsv4_lib.backtest.engine import TRADE_COLUMNS, Book, Market, carry, enter
from optionsv4_lib.backtest.spec import BACKTEST_SOURCES, BacktestResult, BacktestSpec, entry_days
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import DataError, InputError, OptionsV4Error
from optionsv4_lib.jobs.venues import open_source
from optionsv4_lib.marketdata.bhavcopy import open_archive
from optionsv4_lib.marketdata.bhavcopy_source import BhavcopyInputs
from optionsv4_lib.marketdata.expired_options import CACHE_DIR_NAME, ExpiredOptionsInputs
from optionsv4_lib.marketdata.source import as_date
from optionsv4_lib.reference.calendar import closed_reason, trading_days
from optionsv4_lib.reporting.backtest_report import summary_lines, write_outputs
from optionsv4_lib.store import stored_universe

log = logging.getLogger(__name__)

def make_spec(start, end, *, settings: Settings, universe: pd.DataFrame, risk_profile: str | None = None,
              source: str = "synthetic", seed: int | None = None, top: int = 10, bhavcopy_dir=None,
              index_history=None, vix_file=None, expired_dir=None,
              baseline_families: tuple[str, ...] | list[str] = DEFAULT_BASELINE_FAMILIES) -> BacktestSpec:
    """A checked spec over `universe`'s symbols, sized against the settings' capital, with the baselines "random"
    and "family:<strategy>" of each of `baseline_families` (catalog names). InputError naming the problem: dates
    out of order, an unknown source, risk profile or baseline strategy, Dhan as the source, a negative top, a range
    without an NSE trading day; for the bhavcopy source no folder or no VIX file, for the dhan-expired source no VIX
    file (its cache folder defaults to <data dir>/dhan_expired), or a path that is not there (the files are given
    only with these sources)."""
    first, last = as_date(start, "from"), as_date(end, "to")
    if first > last:
        raise InputError(f"from: {first} is after to {last}")
    if source == "dhan":
        raise InputError("source: dhan has no historical option chains to replay; backtest on synthetic, snapshot, "
                         "bhavcopy or dhan-expired (Dhan's expired options, cached by `optionsv4 data fetch-expired`)")
    if source not in BACKTEST_SOURCES:
        raise InputError(f"source: unknown {source!r}; expected one of {', '.join(BACKTEST_SOURCES)}")
    if top < 0:
        raise InputError(f"top: expected 0 (every sized strategy) or more, got {top}")
    files = {"--data-dir": bhavcopy_dir, "--index-history": index_history, "--vix-file": vix_file}
    if source == "bhavcopy":
        if expired_dir is not None:
            raise InputError("expired_dir: only with --source dhan-expired")
        for option in ("--data-dir", "--vix-file"):
            if files[option] is None:
                raise InputError(f"{option}: required with --source bhavcopy")
        BhavcopyInputs(*(Path(p) if p is not None else None for p in files.values()))  # refuses a missing path
    elif source == "dhan-expired":
        if bhavcopy_dir is not None:
            raise InputError("bhavcopy_dir: only with --source bhavcopy")
        if vix_file is None:
            raise InputError("--vix-file: required with --source dhan-expired")
        expired_dir = expired_dir or settings.data_dir / CACHE_DIR_NAME
        ExpiredOptionsInputs(*(Path(p) if p is not None else None for p in (expired_dir, index_history, vix_file)))
    elif given := [option for option, path in {**files, "--data-dir": bhavcopy_dir or expired_dir}.items()
                   if path is not None]:
        raise InputError(f"{', '.join(given)}: only with --source bhavcopy or dhan-expired")
    profile = risk_profile or settings.risk_profile
    limits = settings.limits(profile)  # an unknown profile fails here
    baselines = baseline_policies(baseline_families)
    if not trading_days(first, last):
        raise InputError(f"from/to: no NSE trading day from {first} to {last} "
                         f"({'; '.join(closed_reason(d) for d in pd.date_range(first, last).date)})")
    paths = {name: str(Path(path).resolve()) if path is not None else None for name, path in
             zip(("bhavcopy_dir", "index_history", "vix_file", "expired_dir"), (*files.values(), expired_dir))}
    return BacktestSpec(first, last, profile, source, settings.seed if seed is None else seed, top,
                        tuple(universe["symbol"]), float(settings.capital), baselines, **paths,
                        max_margin=limits.max_margin)


def market_of(spec: BacktestSpec, settings: Settings) -> Market:
    """The spec's market on any day: the synthetic market, the snapshots recorded that day, or that day's bhavcopy
    or cached expired-options data (DataError if none)."""
    bhavcopy = expired = None
    if spec.source == "bhavcopy":
        bhavcopy = BhavcopyInputs(*(Path(p) if p else None for p in (spec.bhavcopy_dir, spec.index_history,
                                                                       spec.vix_file)))
    if spec.source == "dhan-expired":
        expired = ExpiredOptionsInputs(*(Path(p) if p else None for p in (spec.expired_dir, spec.index_history,
                                                                            spec.vix_file)))
    return lambda day: open_source(spec.source, day, seed=spec.seed, data_dir=settings.data_dir, record=False,
                                   settings=settings, bhavcopy=bhavcopy, expired=expired)


def prepare_market(spec: BacktestSpec, workers: int = 1) -> None:
    """For the bhavcopy source: parse and cache the folder's days not cached yet, `workers` processes at once, so
    that the entry dates analyzed in parallel do not parse the same files (a file that cannot be read stays its
    day's reason)."""
    if spec.source == "bhavcopy":
        for day, problem in open_archive(spec.bhavcopy_dir).prepare(workers).items():
            log.warning("%s: %s", day, problem)


def enter_on(spec: BacktestSpec, day: date, *, settings: Settings, universe: pd.DataFrame, allocations: Allocations
             ) -> tuple[Book | None, str | None]:
    """The analysis of `day` on the spec's market, its top strategies and each baseline's as one book; or (None,
    why there is none: no analysis, or no ranked strategy sized — the baselines enter on the ranked picks' days)."""
    if settings.capital != spec.capital:
        raise InputError(f"capital: the backtest was planned with ₹{spec.capital:,.0f}, the settings say "
                         f"₹{settings.capital:,.0f}")
    try:
        results = analyze_with_baselines(market_of(spec, settings)(day), universe=universe, allocations=allocations,
                                         settings=settings, risk_profile=spec.risk_profile, baselines=spec.baselines,
                                         seed=spec.seed)
    except OptionsV4Error as exc:
        log.warning("%s: no entry: %s", day, exc)
        return None, str(exc)
    ranked = results[RANKED]
    if ranked.strategies.empty:
        return None, f"no strategy was sized ({(ranked.symbols['status'] == 'ok').sum()} symbols ranked)"
    return Book.combine([enter(result, spec.top, policy, spec.seed) for policy, result in results.items()]), None


def run_backtest(spec: BacktestSpec, *, settings: Settings, universe: pd.DataFrame, allocations: Allocations,
                 progress: Callable[[str], None] | None = None, workers: int = 1) -> BacktestResult:
    """Enter every trading day of the spec (progress(day) as each is done; the days analyzed by `workers`
    processes), then carry all positions together. The result does not depend on `workers`.

    Raises DataError when no entry date could be analyzed (e.g. no snapshot recorded in the range)."""
    if not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers: expected a whole number ≥ 1, got {workers!r}")
    days, skipped = entry_days(spec)
    prepare_market(spec, workers)
    enter_day = partial(enter_on, spec, settings=settings, universe=universe, allocations=allocations)
    entered: dict[date, tuple[Book | None, str | None]] = {}
    with _pool(min(workers, len(days))) as pool:
        for day, outcome in zip(days, pool.map(enter_day, days)):  # in day order, as each finishes
            entered[day] = outcome
            if progress:
                progress(day.isoformat())
    books = []
    for day in days:
        book, reason = entered[day]
        if book is None:
            skipped.append({"day": day, "stage": "entry", "reason": reason})
        else:
            books.append(book)
    if not books:
        reasons = [row for row in skipped if row["day"] in days]
        raise DataError(f"no positions entered from {spec.start} to {spec.end}: {reasons[0]['day']}: "
                        f"{reasons[0]['reason']}")
    carried = carry(Book.combine(books), market_of(spec, settings))
    skipped += [{"day": row.day, "stage": "mark", "reason": row.reason} for row in carried.skipped.itertuples()]
    return BacktestResult.of(spec, days, carried.trades, skipped)


def _pool(workers: int) -> Executor:
    """A pool of `workers` processes, or — for one — a thread of this process (no fork, same logging)."""
    if workers <= 1:
        return ThreadPoolExecutor(max_workers=1)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver"))


# ---------------------------------------------------------------- the options_v4_backtest DAG's tasks


def backtest_dir_for(data_dir: Path, spec: BacktestSpec) -> Path:
    """The spec's directory under the data dir."""
    return Path(data_dir) / "backtests" / spec.key


def plan_backtest(spec: BacktestSpec, *, settings: Settings, universe: pd.DataFrame, allocations: Allocations
                  ) -> dict[str, Any]:
    """Write the spec, its entry days, universe and allocations (a rerun starts clean); return {"backtest_dir",
    "days" (ISO dates)}."""
    directory = backtest_dir_for(settings.data_dir, spec)
    shutil.rmtree(directory / "entries", ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    days, skipped = entry_days(spec)
    prepare_market(spec)
    (directory / "spec.json").write_text(json.dumps(
        spec.to_json() | {"days": [d.isoformat() for d in days], "skipped": json_records(pd.DataFrame(skipped))},
        indent=2))
    universe[universe["symbol"].isin(spec.symbols)].to_parquet(directory / "universe.parquet", index=False)
    allocations.sectors.to_parquet(directory / "sectors.parquet", index=False)
    allocations.industries.to_parquet(directory / "industries.parquet", index=False)
    return {"backtest_dir": str(directory), "days": [d.isoformat() for d in days]}


def plan(start, end, *, settings: Settings, risk_profile: str | None = None, source: str = "synthetic", top: int = 10,
         first: int = 0, bhavcopy_dir=None, index_history=None, vix_file=None, expired_dir=None,
         baseline_families: tuple[str, ...] | list[str] = DEFAULT_BASELINE_FAMILIES) -> dict[str, Any]:
    """The DAG's `plan`: plan_backtest over the universe and allocations stored in the database (the first `first`
    symbols; 0 = all); the bhavcopy and dhan-expired sources' files and the baseline families as make_spec takes
    them."""
    universe, allocations = stored_universe(settings)
    universe = universe.head(first) if first else universe
    spec = make_spec(start, end, settings=settings, universe=universe, risk_profile=risk_profile, source=source,
                     top=top, bhavcopy_dir=bhavcopy_dir, index_history=index_history, vix_file=vix_file,
                     expired_dir=expired_dir, baseline_families=baseline_families)
    return plan_backtest(spec, settings=settings, universe=universe, allocations=allocations)


def simulate(backtest_dir: str, day: str, settings: Settings) -> str:
    """The DAG's `simulate`: enter `day` and carry its positions to their exits; write its trades and entry.json;
    return its directory."""
    directory = Path(backtest_dir)
    spec = BacktestSpec.from_json(json.loads((directory / "spec.json").read_text()))
    universe = pd.read_parquet(directory / "universe.parquet")
    allocations = Allocations(pd.read_parquet(directory / "sectors.parquet"),
                              pd.read_parquet(directory / "industries.parquet"))
    trade_date = date.fromisoformat(day)
    book, reason = enter_on(spec, trade_date, settings=settings, universe=universe, allocations=allocations)
    entry: dict[str, Any] = {"day": day, "reason": reason, "market_state": None, "skipped": []}
    trades = pd.DataFrame(columns=TRADE_COLUMNS)
    if book is not None:
        carried = carry(book, market_of(spec, settings))
        trades = carried.trades
        entry |= {"market_state": book.positions["market_state"].iloc[0], "skipped": json_records(carried.skipped)}
    out = directory / "entries" / f"trade_date={day}"
    out.mkdir(parents=True, exist_ok=True)
    trades.to_parquet(out / "trades.parquet", index=False)
    (out / "entry.json").write_text(json.dumps(entry, indent=2))
    return str(out)


def collect_backtest(backtest_dir: str, entry_dirs: list[str]) -> BacktestResult:
    """The result of the simulated entry dates in `entry_dirs`; a planned date without one (its task failed) is a
    skipped entry."""
    raw = json.loads((Path(backtest_dir) / "spec.json").read_text())
    spec, days = BacktestSpec.from_json(raw), raw["days"]
    skipped = [row | {"day": date.fromisoformat(row["day"])} for row in raw["skipped"]]
    frames, done = [], set()
    for entry_dir in entry_dirs:
        entry = json.loads((Path(entry_dir) / "entry.json").read_text())
        done.add(entry["day"])
        if entry["reason"]:
            skipped.append({"day": date.fromisoformat(entry["day"]), "stage": "entry", "reason": entry["reason"]})
        skipped += [{"day": date.fromisoformat(row["day"]), "stage": "mark", "reason": row["reason"]}
                    for row in entry["skipped"]]
        frames.append(pd.read_parquet(Path(entry_dir) / "trades.parquet"))
    skipped += [{"day": date.fromisoformat(d), "stage": "entry", "reason": "its simulate task did not succeed"}
                for d in days if d not in done]
    skipped = list({(row["day"], row["stage"], row["reason"]): row for row in skipped}.values())  # each once
    trades = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else \
        pd.DataFrame(columns=TRADE_COLUMNS)
    return BacktestResult.of(spec, [date.fromisoformat(d) for d in days], trades, skipped)


def report(backtest_dir: str, entry_dirs: list[str], settings: Settings) -> dict:
    """The DAG's report: the simulated entry dates collected, written to the results dir; paths and summary lines."""
    result = collect_backtest(backtest_dir, entry_dirs)
    paths = write_outputs(result, settings.results_dir / f"backtest_{result.spec.key}.html")
    return {**{name: str(path) for name, path in paths.items()}, "summary": summary_lines(result)}
