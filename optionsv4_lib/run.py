"""One analysis run as the CLI does it: choose the universe and date, log to a file, analyze, write the reports."""

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from optionsv4_lib.analysis import analyze_portfolio
from optionsv4_lib.calendar import latest_trading_day
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.errors import InputError
from optionsv4_lib.marketdata import open_source
from optionsv4_lib.marketdata.source import as_date
from optionsv4_lib.reports import payoff_charts, write_results
from optionsv4_lib.results import AnalysisResult
from optionsv4_lib.store import load_allocations_from_db, load_universe, open_store, store_analysis


@dataclass
class RunOutcome:
    result: AnalysisResult
    run_id: int
    analysis_path: Path
    allocation_path: Path
    charts: list[Path]
    log_path: Path


def run_analysis(
    *,
    risk: str | None = None,
    symbols: list[str] | None = None,
    first: int | None = None,
    trade_date: str | date | None = None,
    source: str = "synthetic",
    seed: int | None = None,
    charts: int = 10,
    console: Console | None = None,
) -> RunOutcome:
    """Analyze the (sub-)universe on one trade date; store the run in the database and write the result JSONs,
    payoff PNGs and the run log. Universe and allocations come from the database (seeded from include/data/)."""
    cfg = current_settings()
    cfg.limits(risk)  # an unknown risk profile fails before any work
    day = as_date(trade_date, "date") if trade_date else latest_trading_day()
    log_path = _log_to_file(cfg.logs_dir, day)
    conn = open_store(cfg)
    try:
        universe = subset_universe(load_universe(conn), symbols, first)
        market = open_source(source, day, seed=cfg.seed if seed is None else seed, data_dir=cfg.data_dir,
                             settings=cfg)
        logging.getLogger(__name__).info("analysis of %d symbols on %s from %s", len(universe), day, market.name)
        with ProgressBar(console, len(universe)) as advance:
            result = analyze_portfolio(
                market, universe=universe, allocations=load_allocations_from_db(conn), settings=cfg,
                risk_profile=risk, progress=advance,
            )
        run_id = store_analysis(conn, result)
    finally:
        conn.close()
    analysis_path, allocation_path = write_results(result, cfg.results_dir)
    stamp = result.finished_at.strftime("%Y%m%d_%H%M%S")
    pngs = payoff_charts(result, cfg.results_dir / f"payoffs_{stamp}", cfg.risk_free_rate, top=charts) if charts else []
    return RunOutcome(result, run_id, analysis_path, allocation_path, pngs, log_path)


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


def _log_to_file(logs_dir: Path, day: date) -> Path:
    """Append this process's log records to logs/options_v4_main_YYYYMMDD.log: optionsv4's from INFO, other
    libraries' from WARNING. The handler sits on the root logger because dhanhq logs through the root logger
    itself (logging.warning), which without a root handler would print to the terminal."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = logs_dir / f"options_v4_main_{day:%Y%m%d}.log"
    root = logging.getLogger()
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.resolve() for h in root.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    logging.getLogger("optionsv4_lib").setLevel(logging.INFO)
    return path


class ProgressBar:
    """A rich progress bar over `total` items, e.g. symbols (or nothing without a console); yields the per-item
    callback, which takes the item's name."""

    def __init__(self, console: Console | None, total: int):
        self.bar = None if console is None else Progress(
            TextColumn("analyzing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self.total = total

    def __enter__(self):
        if self.bar is None:
            return None
        self.bar.start()
        task = self.bar.add_task("", total=self.total)
        return lambda symbol: self.bar.update(task, advance=1, description=symbol)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
