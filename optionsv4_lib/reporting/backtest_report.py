"""A backtest's outputs: one self-contained HTML page (inline PNG charts: the realized equity curve, P&L by family and
by market state; tables of the statistics, the trades and the days left out), its JSON document and its trades as
Parquet, side by side: <name>.html, <name>.json, <name>_trades.parquet;."""

import html
import json
from pathlib import Path

import pandas as pd

from optionsv4_lib.backtest.engine import GROUPS
from optionsv4_lib.backtest.spec import CLOSE_SOURCES, BacktestResult
from optionsv4_lib.core.text import money
from optionsv4_lib.reporting.html import bar_chart, cards, cumulative_chart, html_table, img, write_page

STAT_MONEY = ("costs", "avg_win", "avg_loss", "max_drawdown")
"""Money columns of backtest.trade_stats beyond the …pnl ones."""

TRADE_TABLE = ("entry_date", "symbol", "family", "strategy", "market_state", "lots", "status", "exit_date",
               "exit_kind", "days_held", "pnl", "costs", "pnl_net", "note")


def write_outputs(result: BacktestResult, html_path: Path) -> dict[str, Path]:
    """Write the HTML page at `html_path`, and beside it the JSON document and the trades Parquet; their paths."""
    html_path = Path(html_path)
    paths = {"html": write_report(result, html_path), "json": html_path.with_suffix(".json"),
             "trades": html_path.with_name(f"{html_path.stem}_trades.parquet")}
    paths["json"].write_text(json.dumps(result.document(), indent=2, ensure_ascii=False))
    result.trades.to_parquet(paths["trades"], index=False)
    return paths


def write_report(result: BacktestResult, path: Path) -> Path:
    """The backtest as one HTML page at `path`."""
    spec, t = result.spec, result.summary.totals
    win_rate = "n/a" if pd.isna(t["win_rate"]) else f"{t['win_rate']:.0%} ({t['wins']}/{t['closed']})"
    body = [cards([
        ("Realized P&L (net)", money(t["realized_pnl"])), ("Realized P&L (gross)", money(t["gross_realized_pnl"])),
        ("Costs", money(t["costs"])), ("Win rate", win_rate), ("Max drawdown", money(t["max_drawdown"])),
        ("Average win / loss", f"{money(t['avg_win'])} / {money(t['avg_loss'])}"),
        ("Trades", f"{t['trades']} ({t['closed']} closed, {t['open']} open)"),
        ("Unrealized P&L (open)", money(t["unrealized_pnl"])),
    ])]
    moment = "close" if spec.source in CLOSE_SOURCES else "F&O open"
    notes = [result.basis + ".", f"Entries at the analysis prices (buy at the ask, sell at the bid) at the {moment} of "
             "each trade date; marked once a day at the source's quotes; exits at the touch on the first day an exit "
             "rule holds; positions left at expiry settle at intrinsic value at the day's underlying price."]
    if t["open"]:
        never = f" ({t['unpriced']} never fully marked)" if t["unpriced"] else ""
        notes.append(f"{t['open']} positions were still open when the data ended: their P&L is unrealized, at the last "
                     f"complete marks{never}.")
    body += [f"<p class='note'>{html.escape(note)}</p>" for note in notes]
    if result.trades.empty:
        body.append("<p>No positions were entered.</p>")
    else:
        equity = result.summary.equity
        charts = []
        if len(equity):
            curve = pd.Series([0.0, *equity["cumulative"]], index=[pd.Timestamp(spec.start), *equity["exit_date"]])
            charts.append(img(cumulative_chart(curve, "exit date"), "Equity curve: cumulative realized P&L"))
        charts += [img(bar_chart(result.summary.groups[key], key, f"P&L by {heading.lower()} (net of costs)"),
                       f"P&L by {heading.lower()}") for key, heading in GROUPS.items()]
        body.append("<div class='charts'>" + "".join(charts) + "</div>")
        for key, heading in GROUPS.items():
            body.append(f"<h2>By {heading.lower()}</h2>"
                        + html_table(result.summary.groups[key].rename(columns={key: heading}), STAT_MONEY))
        trades = result.trades[list(TRADE_TABLE)].assign(
            entry_date=result.trades["entry_date"].dt.date, exit_date=result.trades["exit_date"].dt.date)
        body.append("<h2>Trades</h2>" + html_table(trades, ("costs",)))
    if len(result.skipped):
        body.append("<h2>Days left out</h2>" + html_table(result.skipped))
    symbols = f"{len(spec.symbols)} symbols" if len(spec.symbols) > 5 else ", ".join(spec.symbols)
    title = f"OptionsV4 backtest {spec.start} to {spec.end}"
    note = (f"{spec.risk_profile} profile · {spec.source} market (seed {spec.seed}) · {symbols} · top "
            f"{spec.top or 'all'} strategies per entry date · {len(result.entry_days)} entry days · generated "
            f"{result.generated_at:%Y-%m-%d %H:%M %Z}. Money in ₹.")
    return write_page(Path(path), title, note, body)


def summary_lines(result: BacktestResult) -> list[str]:
    """The backtest in a few plain lines: what was replayed, the totals, the exits by rule."""
    spec, t = result.spec, result.summary.totals
    win_rate = "n/a" if pd.isna(t["win_rate"]) else f"{t['win_rate']:.0%} ({t['wins']}/{t['closed']})"
    lines = [f"Backtest {spec.start} to {spec.end} · {spec.risk_profile} · {spec.source} (seed {spec.seed}) · "
             f"{len(spec.symbols)} symbols · top {spec.top or 'all'} per date · {len(result.entry_days)} entry days",
             f"Trades {t['trades']} ({t['closed']} closed, {t['open']} open) · realized {money(t['realized_pnl'])} net "
             f"({money(t['gross_realized_pnl'])} gross, costs {money(t['costs'])}) · win rate {win_rate} · avg win "
             f"{money(t['avg_win'])} · avg loss {money(t['avg_loss'])} · max drawdown {money(t['max_drawdown'])} · "
             f"unrealized {money(t['unrealized_pnl'])}"]
    exits = result.trades["exit_kind"].value_counts()
    if len(exits):
        lines.append("Exits: " + ", ".join(f"{kind} {n}" for kind, n in exits.items()))
    return lines
