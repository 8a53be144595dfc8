"""`optionsv4 execute`: the order plan of the marked strategies (--preview), or placing it (--confirm): paper by
default, live on Dhan only with --live, --confirm and OPTIONSV4_LIVE_TRADING=1. Thin wiring over
optionsv4_lib.execution. Exit codes: 0 done (or preview), 1 a strategy failed or was interrupted, 2 bad input or
refused. Log records (dhanhq's too) go to logs/options_v4_execution_YYYYMMDD.log, not the terminal."""

import itertools
from datetime import datetime

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from optionsv4_lib.cli.common import errors_to_exit
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.core.text import money
from optionsv4_lib.execution import (
    ExecutionPlan,
    StrategyOutcome,
    StrategyPlan,
    execute_plan,
    plan_execution,
    resolve_mode,
)
from optionsv4_lib.execution.slicing import describe
from optionsv4_lib.jobs.daily import log_to_file
from optionsv4_lib.jobs.execution import book_lines
from optionsv4_lib.jobs.venues import open_venue
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.store import open_store

console = Console(width=None if Console().is_terminal else 160)  # tables wrap within it
_BAD_OUTCOMES = ("failed", "partially_filled", "interrupted")


def execute(
    strategy_ids: list[int] = typer.Argument(None, help="Strategy ids to execute (default: every marked strategy)."),
    preview: bool = typer.Option(False, "--preview", help="Show the full order plan — limit prices, units, costs, "
                                 "margin, pre-trade checks — and place nothing."),
    confirm: bool = typer.Option(False, "--confirm", help="Place the orders (paper unless --live)."),
    live: bool = typer.Option(False, "--live", help="Live orders on Dhan; also needs OPTIONSV4_LIVE_TRADING=1 and "
                              "--confirm."),
    max_strategies: int = typer.Option(None, "--max", min=1, help="Execute at most this many strategies."),
) -> None:
    """Preview or place the marked strategies: buys before sells, unwinding a strategy whose leg fails."""
    settings = current_settings()
    placing, requested = confirm and not preview, "live" if live else "paper"
    with errors_to_exit():
        log_path = log_to_file(settings.logs_dir, "execution", datetime.now(IST).date())  # dhanhq's lines too
        mode = resolve_mode(requested, confirm=True, settings=settings) if placing else requested
        conn = open_store(settings)
        try:
            venue = open_venue(mode, conn, settings)
            plan = plan_execution(conn, venue.broker, settings, strategy_ids=strategy_ids or None,
                                  max_strategies=max_strategies, quotes=venue.quotes)
            print_plan(plan)
            if not placing:
                if plan.strategies:
                    how = "drop --preview" if confirm else "add --confirm"
                    console.print(f"Preview only: nothing was placed. To place these orders "
                                  f"{'live' if live else 'on paper'}, {how}.\nLog: {log_path}")
                return
            outcomes = execute_plan(conn, venue.broker, plan, quotes=venue.quotes)
        finally:
            conn.close()
    print_outcomes(outcomes)
    console.print(f"Log: {log_path}")
    if any(outcome.status in _BAD_OUTCOMES for outcome in outcomes):
        raise typer.Exit(1)


def print_plan(plan: ExecutionPlan) -> None:
    """The strategies already finished, one table of orders per strategy, its reasons and warnings, then the
    totals of what is cleared."""
    for done in plan.finished:
        console.print(f"#{done.strategy_id} {done.symbol} {done.strategy}: already {done.status}, nothing to place",
                      highlight=False)
    if not plan.strategies:
        if not plan.finished:
            console.print("No strategy is marked for execution (mark some with `optionsv4 mark`).")
        return
    console.print(f"[bold]Order plan[/bold] · {plan.mode} · {plan.created_at:%Y-%m-%d %H:%M:%S} IST")
    for strategy_plan in plan.strategies:
        console.print(_orders_table(strategy_plan))
        for reason in strategy_plan.reasons:
            console.print(f"  [red]blocked:[/red] {escape(reason)}", highlight=False)
        for warning in strategy_plan.warnings:
            console.print(f"  [yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    cleared = plan.cleared
    console.print(f"Cleared {len(cleared)} of {len(plan.strategies)} strategies · margin "
                  f"{money(sum(p.required_margin for p in cleared))} · costs {money(sum(p.costs for p in cleared))}"
                  f" · entry value {money(sum(p.entry_value for p in cleared))}")
    for line in book_lines(plan.book):
        console.print(escape(line), highlight=False)


def _orders_table(plan: StrategyPlan) -> Table:
    s = plan.strategy
    margin = money(plan.margin) + " (broker)" if plan.margin is not None else \
        money(s.capital_at_risk) + " (capital at risk)"
    title = (f"#{s.strategy_id} {s.symbol} {s.strategy} · {s.lots} lots × {s.lot_size} · trade date {s.trade_date} · "
             f"attempt {plan.attempt}{' (resuming)' if plan.resume else ''}")
    caption = (f"capital at risk {money(s.capital_at_risk)} · max loss {money(s.max_loss)} · margin {margin} · "
               f"costs {money(plan.costs)} · entry value {money(plan.entry_value)}")
    table = Table(title=escape(title), caption=escape(caption), title_justify="left", caption_justify="left")
    for column in ("Leg", "Side", "Contract", "Security id", "Lots", "Units", "Orders", "Bid", "Ask", "Limit",
                   "Quote", "Costs", "Correlation id"):
        table.add_column(column, justify="right" if column in ("Lots", "Units", "Bid", "Ask", "Limit", "Costs")
                         else "left")
    for _, group in itertools.groupby(plan.orders, key=lambda order: order.request.leg_no):
        leg = list(group)  # the leg's order, or its slices under the quantity freeze
        order, r, quantities = leg[0], leg[0].request, [o.request.quantity for o in leg]
        ids = r.correlation_id if len(leg) == 1 else f"{r.correlation_id} … {leg[-1].request.correlation_id}"
        table.add_row(str(r.leg_no), r.side, str(r.contract), str(r.contract.security_id or "–"),
                      f"{sum(o.lots for o in leg):g}", f"{sum(quantities):,}", describe(quantities, order.freeze_qty),
                      f"{r.quote.bid:.2f}" if r.quote else "–", f"{r.quote.ask:.2f}" if r.quote else "–",
                      f"{r.price:.2f}", order.quote_source, f"{sum(o.costs for o in leg):,.2f}", ids)
    return table


def print_outcomes(outcomes: list[StrategyOutcome]) -> None:
    table = Table(title="Execution")
    for column in ("Strategy", "Status", "Entry value", "Orders", "Seconds", "Reason"):
        table.add_column(column)
    colours = {"open": "green", "done": "green", "blocked": "yellow", "skipped": "yellow"}
    for outcome in outcomes:
        colour = colours.get(outcome.status, "red")
        table.add_row(str(outcome.strategy_id), f"[{colour}]{outcome.status}[/{colour}]",
                      money(outcome.entry_value) if outcome.entry_value is not None else "–",
                      str(len(outcome.orders)), f"{outcome.seconds:.2f}", escape(outcome.reason or ""))
    console.print(table)
