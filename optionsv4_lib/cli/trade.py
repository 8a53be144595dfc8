"""`optionsv4 mark`, `optionsv4 unmark` and `optionsv4 status`: thin wiring over marking and dashboard.

Exit codes: 0 done; 1 when some strategies were refused (each printed with its reason); 2 for an error.
"""

import math
from pathlib import Path

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from optionsv4_lib.cli.common import console, errors_to_exit, money_cell
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.execution.marking import MODES, Outcome, mark_best, mark_top, recent_strategies
from optionsv4_lib.execution.marking import mark as mark_ids
from optionsv4_lib.execution.marking import unmark as unmark_ids
from optionsv4_lib.execution.status import ExecutionStatus, Performance, load_status, performance
from optionsv4_lib.reporting.dashboard import write_dashboard
from optionsv4_lib.store import open_store


def mark(
    ids: list[int] = typer.Argument(None, help="Strategy ids to mark (see --list-recent)."),
    list_recent: bool = typer.Option(False, "--list-recent", help="List the latest run's strategies, best first, "
                                                                  "with their execution status."),
    interactive: bool = typer.Option(False, "--interactive", help="Choose strategies to mark from a numbered list."),
    top: int = typer.Option(None, "--top", min=1, metavar="N", help="Mark the N best-scored strategies of the "
                                                                      "latest run."),
    best: str = typer.Option(None, "--best", metavar="SYMBOL", help="Mark the best-scored strategy of SYMBOL."),
    risk: str = typer.Option(None, "--risk", help="Risk profile of the run to choose from (default: the latest run "
                                                  "of any profile)."),
    mode: str = typer.Option("paper", "--mode", help=f"{' or '.join(MODES)}; live orders also need "
                                                     "OPTIONSV4_LIVE_TRADING=1 and confirmation when executed."),
    force: bool = typer.Option(False, "--force", help="Also mark strategies of a stale run (trade date before the "
                                                      "latest trading day)."),
    limit: int = typer.Option(20, "--limit", min=1, help="Strategies shown by --list-recent and --interactive."),
) -> None:
    """Mark strategies for execution (paper unless --mode live): by id, the top N, the best of a symbol, or
    interactively. Marking is idempotent: already marked or executed strategies are left as they are, except that
    marking by id (or interactively) marks again one whose execution failed, was rejected or cancelled."""
    with errors_to_exit():
        actions = [bool(ids), list_recent, interactive, top is not None, best is not None]
        if sum(actions) != 1:
            raise InputError("mark: choose one of strategy IDs, --list-recent, --interactive, --top N or "
                             "--best SYMBOL")
        conn = open_store()
        try:
            if list_recent:
                _print_recent(recent_strategies(conn, risk, limit))
                return
            if interactive:
                chosen = _choose(recent_strategies(conn, risk, limit))
                if not chosen:
                    console.print("nothing marked")
                    return
                outcome = mark_ids(conn, chosen, mode=mode, force=force)
            elif top is not None:
                outcome = mark_top(conn, top, risk_profile=risk, mode=mode, force=force)
            elif best is not None:
                outcome = mark_best(conn, best, risk_profile=risk, mode=mode, force=force)
            else:
                outcome = mark_ids(conn, ids, mode=mode, force=force)
            shown = load_status(conn, [*outcome.done, *outcome.already]) if outcome.done or outcome.already else None
        finally:
            conn.close()
    if shown is not None:
        _print_strategies(shown, "Execution status")
    _print_outcome(outcome, f"marked ({mode})")


def unmark(ids: list[int] = typer.Argument(..., help="Strategy ids to unmark.")) -> None:
    """Unmark strategies that are marked and not yet being executed; anything further along is refused."""
    with errors_to_exit():
        conn = open_store()
        try:
            outcome = unmark_ids(conn, ids)
        finally:
            conn.close()
    _print_outcome(outcome, "unmarked")


def status(
    ids: list[int] = typer.Argument(None, help="Only these strategy ids (default: every marked or executed one)."),
    mode: str = typer.Option(None, "--mode", help=f"Only {' or '.join(MODES)} strategies."),
    performance_dashboard: bool = typer.Option(False, "--performance-dashboard",
                                               help="P&L by strategy, family and industry, win rate and open risk: "
                                                    "a summary here and an HTML page with charts."),
    output: Path = typer.Option(None, "--output", help="The dashboard's HTML file (default: "
                                                       "results/performance_dashboard_<stamp>.html)."),
) -> None:
    """Execution status per strategy and per leg (orders, fills, positions, P&L), or the performance dashboard."""
    with errors_to_exit():
        if mode is not None and mode not in MODES:
            raise InputError(f"mode: unknown {mode!r}; expected one of {', '.join(MODES)}")
        conn = open_store()
        try:
            report = load_status(conn, ids or None, mode)
        finally:
            conn.close()
        if performance_dashboard:
            perf = performance(report)
            stamp = f"{perf.generated_at:%Y%m%d_%H%M%S}"
            path = write_dashboard(perf, output or current_settings().results_dir
                                   / f"performance_dashboard_{stamp}.html")
    if performance_dashboard:
        _print_performance(perf)
        console.print(f"Dashboard: {path}")
        return
    if report.strategies.empty:
        console.print("No strategies marked or executed (optionsv4 mark …).")
        return
    _print_strategies(report, "Strategies")
    _print_legs(report)


# ---------------------------------------------------------------- interactive choice


def _choose(recent: pd.DataFrame) -> list[int]:
    """Show `recent` numbered and ask which to mark; returns their strategy ids (none when the answer is empty)."""
    if recent.empty:
        raise InputError("mark: no analysis run stored; run `optionsv4 analyze` first")
    _print_recent(recent, numbered=True)
    rows = typer.prompt("Mark which? (numbers such as 1,3-5; empty to cancel)", default="", show_default=False,
                        value_proc=lambda text: _parse_choice(text, len(recent)))
    return [int(recent["strategy_id"].iloc[row - 1]) for row in rows]


def _parse_choice(text: str, n: int) -> list[int]:
    """'1,3-5' → [1, 3, 4, 5] (each within 1..n, in order, no repeats). Raises typer.BadParameter (prompted again)."""
    rows: list[int] = []
    for part in filter(None, (p.strip() for p in text.replace(" ", ",").split(","))):
        first, _, last = part.partition("-")
        if not (first.isdigit() and (last.isdigit() or not last)):
            raise typer.BadParameter(f"{part!r} is not a number or a range such as 3-5")
        span = range(int(first), int(last or first) + 1)
        if not span or span[0] < 1 or span[-1] > n:
            raise typer.BadParameter(f"{part!r}: choose numbers from 1 to {n}")
        rows += [r for r in span if r not in rows]
    return rows


# ---------------------------------------------------------------- printing


def _print_outcome(outcome: Outcome, verb: str) -> None:
    if outcome.done:
        console.print(f"{verb}: {', '.join(map(str, outcome.done))}")
    for strategy_id, state in outcome.already.items():
        console.print(f"{strategy_id}: already {state}, left as it is")
    for strategy_id, reason in outcome.refused.items():
        console.print(f"[yellow]refused[/yellow] {strategy_id}: {escape(reason)}")
    if outcome.refused:
        raise typer.Exit(1)


def _print_recent(recent: pd.DataFrame, numbered: bool = False) -> None:
    if recent.empty:
        console.print("No analysis run stored (optionsv4 analyze).")
        return
    first = recent.iloc[0]
    table = Table(title=f"Strategies of {first['trade_date']} ({', '.join(sorted(set(recent['risk_profile'])))}), "
                        "best score first")
    columns = (["#"] if numbered else []) + ["ID", "Symbol", "Strategy", "Family", "Lots", "Score", "PoP",
                                             "Max profit", "Max loss", "Capital", "Status"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("Symbol", "Strategy", "Family", "Status") else "right")
    for number, row in enumerate(recent.itertuples(index=False), start=1):
        state = "not marked" if row.status is None else f"{row.status} ({row.mode})"
        table.add_row(*([str(number)] if numbered else []), str(row.strategy_id), row.symbol, row.strategy,
                      row.family, str(row.lots), f"{row.score:.1f}", f"{row.pop:.0%}", money_cell(row.max_profit),
                      money_cell(row.max_loss), money_cell(row.capital_at_risk), state)
    console.print(table)


def _print_strategies(report: ExecutionStatus, title: str) -> None:
    table = Table(title=title)
    for column in ("ID", "Date", "Symbol", "Strategy", "Status", "Mode", "Lots", "Entry", "Realized", "Unrealized",
                   "Note"):
        table.add_column(column, justify="right" if column in ("ID", "Lots", "Entry", "Realized", "Unrealized")
                         else "left")
    for row in report.strategies.itertuples(index=False):
        table.add_row(str(row.strategy_id), str(row.trade_date), row.symbol, row.strategy, row.status, row.mode,
                      str(row.lots), money_cell(row.entry_value), money_cell(row.realized_pnl), money_cell(row.unrealized_pnl),
                      escape(_note(row)))
    console.print(table)


def _print_legs(report: ExecutionStatus) -> None:
    table = Table(title="Legs (quantities in units)")
    for column in ("ID", "Leg", "Planned", "Entry order", "Exit order", "Bought", "Sold", "Net", "Broker", "LTP",
                   "Realized", "Unrealized"):
        table.add_column(column, justify="left" if column in ("Planned", "Entry order", "Exit order") else "right")
    for leg in report.legs.itertuples(index=False):
        table.add_row(str(leg.strategy_id), str(leg.leg_no), _planned(leg), _text(leg.entry_status),
                      _text(leg.exit_status), _fill(leg.bought, leg.buy_avg), _fill(leg.sold, leg.sell_avg),
                      f"{leg.net_qty:,}", _quantity(leg.broker_qty), _price(leg.ltp), money_cell(leg.realized_pnl),
                      money_cell(leg.unrealized_pnl))
    console.print(table)


def _print_performance(perf: Performance) -> None:
    t = perf.totals
    win_rate = "n/a" if math.isnan(t["win_rate"]) else f"{t['win_rate']:.0%} ({t['wins']}/{t['closed']} closed)"
    console.print(f"Traded strategies: {t['strategies']} · realized {money_cell(t['realized_pnl'])} · unrealized "
                  f"{money_cell(t['unrealized_pnl'])} · total {money_cell(t['total_pnl'])} · win rate {win_rate}")
    console.print(f"Open risk: {money_cell(t['open_risk'])} in {t['open_strategies']} open strategies"
                  + (f" ({t['unbounded_open']} unbounded, counted at capital at risk)" if t["unbounded_open"] else ""))
    if t["unpriced"]:
        console.print(f"[yellow]{t['unpriced']} strategies have open legs without a price: left out of unrealized "
                      "P&L[/yellow]")
    for key, frame in perf.groups.items():
        if frame.empty:
            continue
        table = Table(title=f"P&L by {key}")
        for column in (key.capitalize(), "Strategies", "Closed", "Win rate", "Realized", "Unrealized", "Total"):
            table.add_column(column, justify="left" if column == key.capitalize() else "right")
        for row in frame.itertuples(index=False):
            table.add_row(escape(str(getattr(row, key))), str(row.strategies), str(row.closed),
                          "n/a" if math.isnan(row.win_rate) else f"{row.win_rate:.0%}", money_cell(row.realized_pnl),
                          money_cell(row.unrealized_pnl), money_cell(row.total_pnl))
        console.print(table)


def _planned(leg) -> str:
    """e.g. 'S 3250 26100PE 01Dec @241.30' (planned quantity in units and entry price ₹/unit)."""
    what = "sh" if leg.instrument == "STK" else f"{leg.strike:g}{leg.instrument} {leg.expiry:%d%b}"
    return f"{leg.side[0]} {leg.qty:,} {what} @{leg.entry_price:,.2f}"


def _fill(quantity: int, average: float) -> str:
    return "0" if quantity == 0 else f"{quantity:,} @{average:,.2f}"


def _quantity(value) -> str:
    return "" if pd.isna(value) else f"{int(value):,}"


def _price(value: float) -> str:
    return "" if pd.isna(value) else f"{value:,.2f}"


def _note(row) -> str:
    """The strategy's note, led by what to do when its placement was interrupted."""
    if not row.interrupted:
        return _text(row.note)
    rerun = f"optionsv4 execute --confirm{' --live' if row.mode == 'live' else ''} {row.strategy_id}"
    return "; ".join(filter(None, [f"interrupted mid-placement: `{rerun}` resumes it", _text(row.note)]))


def _text(value) -> str:
    return "" if pd.isna(value) else str(value)
