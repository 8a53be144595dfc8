"""`optionsv4 backtest`: the selection replayed over past trade dates, its paper positions carried through the
monitor's exit rules; realized P&L, win rate and drawdown per family and market state; the ranked picks against
baselines run on the same days, and the PoP calibration. Thin wiring over jobs.backtest and backtest_report."""

import json
import math
import os
from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from optionsv4_lib.analysis.picks import DEFAULT_BASELINE_FAMILIES, RANKED
from optionsv4_lib.backtest.engine import GROUPS
from optionsv4_lib.backtest.spec import BACKTEST_SOURCES, BacktestResult
from optionsv4_lib.cli.common import ProgressBar, console, err_console, errors_to_exit
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.core.text import money
from optionsv4_lib.jobs.backtest import make_spec, run_backtest
from optionsv4_lib.jobs.daily import subset_universe
from optionsv4_lib.reference.calendar import IST, trading_days
from optionsv4_lib.reporting.backtest_report import summary_lines, write_outputs
from optionsv4_lib.store import stored_universe

SKIPPED_SHOWN = 10  # days left out listed in the terminal; the HTML page lists them all


def backtest(
    start: str = typer.Option(..., "--from", help="First entry date, YYYY-MM-DD."),
    end: str = typer.Option(..., "--to", help="Last entry date, YYYY-MM-DD (inclusive)."),
    source: str = typer.Option("synthetic", "--source", help=f"Market data: {', '.join(BACKTEST_SOURCES)} "
                                                             "(snapshot: recorded dates; bhavcopy: a folder of NSE "
                                                             "bhavcopies, --data-dir; dhan-expired: Dhan's expired "
                                                             "options cached by `optionsv4 data fetch-expired`); "
                                                             "Dhan's live API has no historical chains."),
    data_dir: Path = typer.Option(None, "--data-dir", help="--source bhavcopy: the folder of NSE F&O bhavcopies "
                                                           "(either format; .csv, .csv.gz or .csv.zip); --source "
                                                           "dhan-expired: the cache (default "
                                                           "<data dir>/dhan_expired)."),
    index_history: Path = typer.Option(None, "--index-history", help="--source bhavcopy or dhan-expired: NIFTY's "
                                                                     "daily history, a CSV with at least date and "
                                                                     "close."),
    vix_file: Path = typer.Option(None, "--vix-file", help="--source bhavcopy or dhan-expired: INDIA VIX history in "
                                                           "NSE's export format (Date, Open, High, Low, Close …)."),
    risk: str = typer.Option(None, "--risk", help="Risk profile: conservative, moderate or aggressive (default from "
                                                  "settings)."),
    symbols: int = typer.Option(None, "--symbols", min=1, help="Only the first N symbols of the universe."),
    symbol: list[str] = typer.Option(None, "--symbol", help="Only this symbol (repeatable), e.g. --symbol DIXON."),
    top: int = typer.Option(10, "--top", min=0, help="Strategies entered per trade date, best score first (0 = every "
                                                     "sized strategy), as `optionsv4 mark --top` takes them."),
    seed: int = typer.Option(None, "--seed", help="Seed of the synthetic market and of the random baseline (default "
                                                  "from settings)."),
    baseline_family: list[str] = typer.Option(
        list(DEFAULT_BASELINE_FAMILIES), "--baseline-family",
        help="A catalog strategy run as a baseline (repeatable): always its best-scored candidate per symbol. "
             "Beside them a random eligible candidate per symbol is always run."),
    output: Path = typer.Option(None, "--output", help="The HTML report (default results/backtest_<stamp>.html); "
                                                       "its JSON and trades Parquet are written beside it."),
    as_json: bool = typer.Option(False, "--json", help="Print the backtest document as JSON on stdout."),
    workers: int = typer.Option(os.cpu_count() or 1, "--workers", min=1,
                                help="Processes analyzing entry dates in parallel (default: the CPU count)."),
) -> None:
    """Replay the analysis over past trade dates: enter the top strategies of each date as paper positions, carry
    them day by day to their exit rule or expiry, and report realized P&L (net of costs, gross alongside), win rate
    and max drawdown per family and market state; the same against baselines run on the same days (a random
    eligible candidate, a fixed strategy), and how well the predicted PoP held (calibration, Brier score) — tables
    here and an HTML page with charts."""
    with errors_to_exit():
        cfg = current_settings()
        universe, allocations = stored_universe(cfg)
        universe = subset_universe(universe, symbol or None, symbols)
        spec = make_spec(start, end, settings=cfg, universe=universe, risk_profile=risk, source=source, seed=seed,
                         top=top, index_history=index_history, vix_file=vix_file,
                         baseline_families=baseline_family,
                         **{"expired_dir" if source == "dhan-expired" else "bhavcopy_dir": data_dir})
        with ProgressBar(None if as_json else err_console, len(trading_days(spec.start, spec.end))) as advance:
            result = run_backtest(spec, settings=cfg, universe=universe, allocations=allocations, progress=advance,
                                  workers=workers)
        stamp = f"{datetime.now(IST):%Y%m%d_%H%M%S}"
        paths = write_outputs(result, output or cfg.results_dir / f"backtest_{stamp}.html")
    if as_json:
        typer.echo(json.dumps(result.document(), indent=2, ensure_ascii=False))
        return
    print_backtest(result)
    console.print(f"Report: {paths['html']}\nTrades: {paths['trades']}\nJSON:   {paths['json']}")


def print_backtest(result: BacktestResult) -> None:
    """The totals, the statistics per family and per market state, and the days left out."""
    headline, *lines = summary_lines(result)
    console.print(f"[bold]{escape(headline)}[/bold]")
    for line in lines:
        console.print(escape(line))
    console.print(f"[dim]{escape(result.basis)}.[/dim]")
    for key, heading in GROUPS.items():
        frame = result.summary.groups[key]
        if frame.empty:
            continue
        table = Table(title=f"By {heading.lower()}")
        for column in (heading, "Trades", "Closed", "Open", "Win rate", "Realized (net)", "Gross", "Avg win",
                       "Avg loss", "Max drawdown", "Unrealized"):
            table.add_column(column, justify="left" if column == heading else "right")
        for row in frame.itertuples(index=False):
            table.add_row(escape(str(getattr(row, key))), str(row.trades), str(row.closed), str(row.open),
                          "n/a" if math.isnan(row.win_rate) else f"{row.win_rate:.0%}", money(row.realized_pnl),
                          money(row.gross_realized_pnl), money(row.avg_win), money(row.avg_loss),
                          money(row.max_drawdown), money(row.unrealized_pnl))
        console.print(table)
    print_comparison(result)
    print_calibration(result)
    weekend = result.skipped["reason"].str.endswith("(weekend)")  # calendar.closed_reason's words
    shown = result.skipped[~weekend]
    for row in shown.head(SKIPPED_SHOWN).itertuples(index=False):
        console.print(f"[yellow]left out[/yellow] {row.day} ({row.stage}): {escape(row.reason)}")
    more = [f"{len(shown) - SKIPPED_SHOWN} more (see the report)"] if len(shown) > SKIPPED_SHOWN else []
    more += [f"{int(weekend.sum())} weekend days"] if weekend.any() else []
    if more:
        console.print("Also left out: " + " and ".join(more))


def _rate(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0%}"


def print_comparison(result: BacktestResult) -> None:
    """The ranked picks against the baselines, one row per policy."""
    table = Table(title="Ranked picks against the baselines (same days, sizing and exits; net of costs)")
    for column in ("Policy", "Trades", "Closed", "Win rate", "Realized (net)", "Mean / trade", "Unrealized",
                   "Max drawdown", "Drawdown %", "Peak margin"):
        table.add_column(column, justify="left" if column == "Policy" else "right")
    for row in result.evaluation.comparison.itertuples(index=False):
        table.add_row(escape(row.policy), str(row.trades), str(row.closed), _rate(row.win_rate),
                      money(row.realized_pnl), money(row.mean_pnl), money(row.unrealized_pnl), money(row.max_drawdown),
                      f"{row.max_drawdown_pct:.1%}", money(row.peak_margin))
    console.print(table)


def print_calibration(result: BacktestResult) -> None:
    """The ranked picks' PoP calibration per bucket and measure, and the Brier scores."""
    evaluation = result.evaluation
    buckets = evaluation.calibration[evaluation.calibration["policy"] == RANKED]
    if buckets.empty:
        console.print("PoP calibration: no ranked trade closed.")
        return
    table = Table(title="PoP calibration of the ranked picks (closed trades; view = pop_net, market = pop_market)")
    for column in ("Measure", "PoP bucket", "Trades", "Predicted PoP", "Win rate", "Predicted E[P&L]",
                   "Realized P&L"):
        table.add_column(column, justify="left" if column in ("Measure", "PoP bucket") else "right")
    for row in buckets.itertuples(index=False):
        table.add_row(row.measure, row.bucket, str(row.trades), f"{row.predicted_pop:.0%}", _rate(row.win_rate),
                      money(row.predicted_pnl), money(row.realized_pnl))
    console.print(table)
    for row in evaluation.brier.itertuples(index=False):
        if row.trades:
            console.print(f"Brier {escape(row.policy)} ({row.measure}): {row.brier:.3f} over {row.trades} closed · "
                          f"E[P&L] predicted {money(row.predicted_pnl)}, realized {money(row.realized_pnl)}")
