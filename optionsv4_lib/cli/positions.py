"""`optionsv4 positions`: open positions marked to market now, and how far each is from its exit triggers. Thin wiring
over monitor.evaluate; it writes nothing and places nothing (the monitor DAG does that)."""

import json
from datetime import datetime

import pandas as pd
import typer
from rich.table import Table

from optionsv4_lib.cli.common import console, errors_to_exit, money_cell
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.execution.monitor_pass import evaluate
from optionsv4_lib.jobs.venues import open_source
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.store import open_store


def positions(
    source: str = typer.Option("synthetic", "--source", help="Market data for the marks: synthetic, snapshot or dhan."),
    at: str = typer.Option(None, "--at", help="Mark at this moment, YYYY-MM-DDTHH:MM in IST (default: now)."),
    as_json: bool = typer.Option(False, "--json", help="Print positions and exit triggers as JSON."),
) -> None:
    """Open positions (open or exiting strategies): MTM value and P&L (₹), greeks, days to expiry, and the distance
    to each exit trigger (threshold − observed, in the rule's unit; HIT when reached)."""
    with errors_to_exit():
        now = _moment(at)
        settings = current_settings()
        market = open_source(source, now.date(), seed=settings.seed, data_dir=settings.data_dir, record=False,
                             settings=settings)
        conn = open_store(settings)
        try:
            found = evaluate(conn, market, now)
        finally:
            conn.close()
    if found is None:
        console.print("no open positions")
        return
    held = found.marked.drop_duplicates("strategy_id").set_index("strategy_id")[["symbol", "strategy", "status",
                                                                                   "mode", "note"]]
    metrics = found.metrics.set_index("strategy_id").join(held)
    if as_json:
        typer.echo(json.dumps({"at": now.isoformat(), "positions": _records(metrics.reset_index()),
                               "triggers": _records(found.rules), "unpriced": found.missing}, indent=2,
                              ensure_ascii=False, default=str))
        return
    table = Table(title=f"Open positions at {now:%d %b %Y %H:%M} IST ({source})")
    for column in ("Id", "Symbol", "Strategy", "Mode", "Status", "Value", "P&L", "|Δ|", "Γ", "|Vega|", "DTE"):
        table.add_column(column, justify="right" if column in ("Id", "Value", "P&L", "DTE") else "left")
    for sid, row in metrics.iterrows():
        table.add_row(str(sid), row["symbol"], row["strategy"], row["mode"], row["status"], money_cell(row["value"]),
                      money_cell(row["pnl"]), f"{row['abs_delta']:,.1f}", f"{row['gamma']:,.3f}",
                      f"{row['abs_vega']:,.0f}", _number(row["dte"]))
    console.print(table)
    triggers = Table(title="Exit triggers")
    for column in ("Id", "Rule", "Metric", "Observed", "Threshold", "Distance", ""):
        triggers.add_column(column)
    for rule in found.rules.itertuples(index=False):
        metric = rule.metric if pd.isna(rule.leg_no) else f"{rule.metric} (leg {int(rule.leg_no)})"
        triggers.add_row(str(rule.strategy_id), rule.kind, metric, _number(rule.observed),
                         f"{rule.comparison} {rule.threshold:,.2f}", _number(rule.distance), "HIT" if rule.hit else "")
    console.print(triggers)
    for reason in found.missing + metrics["unpriced_reason"].dropna().tolist():
        console.print(f"[yellow]unpriced:[/yellow] {reason}")
    for sid, row in metrics[metrics["note"].fillna("").str.startswith("EXIT")].iterrows():
        console.print(f"[red]#{sid}:[/red] {row['note']}")


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(IST)
    try:
        return datetime.fromisoformat(text).replace(tzinfo=IST)
    except ValueError:
        raise InputError(f"--at: expected YYYY-MM-DDTHH:MM, got {text!r}") from None


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))




def _number(value: float) -> str:
    return "" if pd.isna(value) else f"{value:,.2f}"
