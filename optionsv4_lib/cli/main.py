"""`optionsv4 …`: the command line. Thin wiring over the library."""

import json

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from optionsv4_lib.cli.backtest import backtest
from optionsv4_lib.cli.calendar import calendar_app
from optionsv4_lib.cli.common import ProgressBar, err_console, errors_to_exit
from optionsv4_lib.cli.data import data_app
from optionsv4_lib.cli.db import db_app, import_allocations, import_scrip_master
from optionsv4_lib.cli.dq import dq_app
from optionsv4_lib.cli.execute import execute
from optionsv4_lib.cli.positions import positions
from optionsv4_lib.cli.trade import mark, status, unmark
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.core.text import money
from optionsv4_lib.strategies.catalog import catalog_table

class SettingsCheckedGroup(typer.core.TyperGroup):
    """The top-level command group: before any command runs, the settings are read, and an invalid one stops it,
    named on one line — unless help is asked for, which a broken setting must not hide."""

    def invoke(self, ctx: click.Context):
        rest = [*getattr(ctx, "_protected_args", ()), *ctx.args]  # the command line after the group's own options
        if not set(rest) & set(ctx.help_option_names):
            with errors_to_exit():
                current_settings()
        return super().invoke(ctx)


app = typer.Typer(cls=SettingsCheckedGroup, no_args_is_help=True, help="OptionsV4: NSE F&O options-strategy pipeline.",
                  add_completion=False)
console = Console(width=None if Console().is_terminal else 160)  # tables wrap within it; logs and pipes get 160


app.add_typer(db_app, name="db")
app.add_typer(dq_app, name="dq")
app.add_typer(data_app, name="data")
app.add_typer(calendar_app, name="calendar")
app.command("mark")(mark)
app.command("unmark")(unmark)
app.command("execute")(execute)
app.command("status")(status)
app.command("positions")(positions)
app.command("backtest")(backtest)
app.command("import-scrip-master")(import_scrip_master)
app.command("import-allocations")(import_allocations)


@app.callback()
def main() -> None:
    """OptionsV4: find, rank, size and execute multi-leg option strategies on NSE F&O."""


@app.command()
def strategies(as_json: bool = typer.Option(False, "--json", help="Print the catalog as JSON.")) -> None:
    """List the strategy catalog: family, view, risk type, legs and variants."""
    rows = catalog_table()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"Strategy catalog ({len(rows)} templates)")
    for column in ("Strategy", "Family", "View", "Risk", "Legs", "Variants"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["family"], row["view"], row["risk_type"], "\n".join(row["legs"]), str(len(row["variants"])))
    console.print(table)


@app.command()
def analyze(
    risk: str = typer.Option(None, "--risk", help="Risk profile: conservative, moderate or aggressive (default from settings)."),
    symbol: list[str] = typer.Option(None, "--symbol", help="Analyze only this symbol (repeatable), e.g. --symbol DIXON."),
    symbols: int = typer.Option(None, "--symbols", min=1, help="Analyze only the first N symbols of the universe."),
    trade_date: str = typer.Option(None, "--date", help="Trade date YYYY-MM-DD (default: the latest trading day up to today)."),
    source: str = typer.Option("synthetic", "--source", help="Market data: synthetic, snapshot (replay a recorded date) or dhan."),
    seed: int = typer.Option(None, "--seed", help="Seed of the synthetic market (default from settings)."),
    charts: int = typer.Option(10, "--charts", min=0, help="Payoff-diagram PNGs for this many top strategies."),
    as_json: bool = typer.Option(False, "--json", help="Print the analysis result document as JSON on stdout."),
    force: bool = typer.Option(False, "--force", help="Analyse a weekend or NSE holiday anyway (refused without it)."),
) -> None:
    """Market state → candidates → scores → industry-first sizing → exits, for the universe; results to results/."""
    from optionsv4_lib.jobs.daily import run_analysis

    with errors_to_exit(), ProgressBar(None if as_json else err_console, total=None) as advance:
        outcome = run_analysis(
            risk=risk, symbols=symbol or None, first=symbols, trade_date=trade_date, source=source, seed=seed,
            charts=charts, progress=advance, force=force,
        )
    for warning in outcome.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    if as_json:
        typer.echo(json.dumps(outcome.result.analysis_document(), indent=2, ensure_ascii=False))
        return
    print_summary(outcome.result)
    console.print(f"Stored as analysis run {outcome.run_id} in the database.")
    console.print(f"Results: {outcome.analysis_path}\n         {outcome.allocation_path}")
    if outcome.charts:
        console.print(f"Payoff charts: {outcome.charts[0].parent}/ ({len(outcome.charts)} PNG)")
    console.print(f"Log: {outcome.log_path}")


@app.command()
def report(
    trade_date: str = typer.Option(None, "--date", help="Trade date YYYY-MM-DD (default: the latest stored run)."),
    risk: str = typer.Option(None, "--risk", help="Risk profile of the run (default: the latest stored run's)."),
    top: int = typer.Option(15, "--top", min=1, help="How many strategies to show."),
) -> None:
    """Show a stored analysis run — market state, symbols, top strategies — and where the Data Docs are."""
    from optionsv4_lib.marketdata.source import as_date
    from optionsv4_lib.quality.suites import data_docs_index
    from optionsv4_lib.reference.calendar import unconfirmed_holidays
    from optionsv4_lib.store import fetch_analysis, open_store
    from optionsv4_lib.store.runs import latest_run

    with errors_to_exit():
        if risk is not None:
            current_settings().limits(risk)  # an unknown profile is named as such, not as a missing run
        conn = open_store()
        try:
            latest = latest_run(conn) if trade_date is None or risk is None else None
            if trade_date is None and latest is None:
                raise InputError("date: no analysis run is stored yet (run `optionsv4 analyze` or the daily DAG)")
            day = as_date(trade_date, "date") if trade_date else latest["trade_date"]
            result = fetch_analysis(conn, day, risk or (latest or {}).get("risk_profile") or "moderate")
        finally:
            conn.close()
    print_summary(result, top)
    if warning := unconfirmed_holidays(result.trade_date):
        err_console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    docs = data_docs_index()
    console.print(f"Data Docs: {docs}" if docs.exists() else "Data Docs: not built yet (the daily DAG builds them)")


def print_summary(result, top: int = 15) -> None:
    """Market state, per-symbol outcome and the top strategies with legs and exits."""
    m = result.market
    pcr = "n/a" if m.pcr_oi is None else f"{m.pcr_oi:.2f}"
    console.print(Panel(
        f"[bold]{m.state}[/bold]  (confidence {m.direction_confidence:.0%})\n"
        f"INDIA VIX {m.vix:.2f} — {m.vix_regime}, {m.vix_percentile:.0f}th percentile · PCR (OI) {pcr}\n"
        + "\n".join(f"• {line}" for line in m.explanation),
        title=f"Market state on {result.trade_date} ({result.source})",
    ))
    ok = result.symbols["status"] == "ok"
    console.print(f"Symbols analyzed: [bold]{int(ok.sum())}/{len(result.symbols)}[/bold] · strategies sized: "
                  f"{len(result.strategies)} · capital at risk ₹{result.strategies['capital_at_risk'].sum():,.0f} "
                  f"of ₹{result.capital:,.0f} ({result.risk_profile})")
    for row in result.symbols[result.symbols["reason"].notna()].itertuples(index=False):  # failed, or not sized
        console.print(f"  [{'dim' if row.status == 'ok' else 'yellow'}]{row.symbol}[/]: {escape(str(row.reason))}")
    table = Table(title=f"Top {min(top, len(result.strategies))} strategies by score",
                  caption="view: the forecast vol and the state's drift · mkt: the fitted smiles, at the entry "
                          "prices; E[P&L] and PoP net of costs")
    numbers = ("Lots", "PoP view/mkt", "E[P&L] view/mkt", "Max profit", "Max loss", "Capital", "Margin", "Score")
    for column in ("Symbol", "Strategy", "Legs", *numbers[:3], "Max profit", "Max loss", "Breakevens", "Capital",
                   "Margin", "Score", "Exits"):
        table.add_column(column, justify="right" if column in numbers else "left")
    best = result.strategies.sort_values(["score", "candidate_id"], ascending=[False, True]).head(top)
    for row in best.itertuples(index=False):
        legs = result.legs[result.legs["candidate_id"] == row.candidate_id]
        exits = result.exits[(result.exits["candidate_id"] == row.candidate_id) & result.exits["kind"].isin(["profit_target", "stop_loss", "time_exit"])]
        table.add_row(
            row.symbol, row.strategy,
            "\n".join(_leg_text(leg) for leg in legs.itertuples(index=False)),
            str(row.lots), f"{row.pop_net:.0%}\n{row.pop_market:.0%}",
            f"{money(row.expected_pnl_net)}\n{money(row.expected_pnl_market)}", money(row.max_profit), money(row.max_loss),
            ", ".join(f"{b:,.1f}" for b in row.breakevens), money(row.capital_at_risk), money(row.margin),
            f"{row.score:.0f}",
            "\n".join(_exit_text(e) for e in exits.itertuples(index=False)),
        )
    console.print(table)
    print_book(result)


def print_book(result) -> None:
    """The book: greeks in NIFTY terms, margin against the funds limit, and the stress table against its limit."""
    if result.book.empty:
        return
    book = result.book.iloc[0]
    console.print(
        f"Book: delta ₹{book['delta_nifty_inr']:,.0f} of NIFTY · gamma ₹{book['gamma_nifty_inr']:,.0f} per 1 % · "
        f"vega ₹{book['vega']:,.0f} per vol pt · theta ₹{book['theta']:,.0f} a day\n"
        f"Margin ₹{book['margin']:,.0f} as one book (₹{book['margin_sum']:,.0f} strategy by strategy) of the "
        f"₹{book['margin_limit']:,.0f} limit")
    table = Table(title="Stress: instant NIFTY gaps with volatility spikes (stocks by beta)",
                  caption=f"limit: worst loss ₹{-book['stress_limit']:,.0f} "
                          f"({-book['stress_limit'] / result.capital:.0%} of capital)")
    table.add_column("Scenario")
    table.add_column("P&L", justify="right")
    table.add_column("% of capital", justify="right")
    worst = result.book_stress["pnl"].min()
    for row in result.book_stress.itertuples(index=False):
        style = "bold red" if row.pnl == worst and worst < 0 else ""
        table.add_row(row.scenario, money(row.pnl), f"{row.pnl_pct_capital:+.2f} %", style=style)
    console.print(table)


def _leg_text(leg) -> str:
    """e.g. 'S 325 25800PE 01Dec @187.30' (quantity in units)."""
    if leg.instrument == "STK":
        return f"{leg.side[0]} {leg.qty:,.0f} sh @{leg.entry_price:,.2f}"
    return f"{leg.side[0]} {leg.qty:,.0f} {leg.strike:g}{leg.instrument} {leg.expiry:%d%b} @{leg.entry_price:,.2f}"


_EXIT_LABELS = {"profit_target": "target", "stop_loss": "stop", "time_exit": "exit at"}


def _exit_text(rule) -> str:
    value = f"₹{rule.threshold:,.0f}" if rule.unit == "₹" else f"{rule.threshold:g} {rule.unit} left"
    return f"{_EXIT_LABELS[rule.kind]} {value}"
