"""A backtest's outputs: one self-contained HTML page, its JSON document and its trades (every policy's, with the
policy column) as Parquet, side by side: <name>.html, <name>.json, <name>_trades.parquet.

The page: the ranked picks' totals; the comparison with the baselines (overall, by family, by market state); the PoP
calibration (table, Brier scores, reliability diagram) and predicted against realized E[P&L]; inline PNG charts of
each policy's realized equity, drawdown and margin in use, and the ranked picks' P&L by family and by market state;
tables of the ranked picks' statistics and trades, and the days left out."""

import html
import json
from pathlib import Path

import pandas as pd

from optionsv4_lib.analysis.picks import RANKED
from optionsv4_lib.backtest.engine import GROUPS
from optionsv4_lib.backtest.spec import CLOSE_SOURCES, BacktestResult
from optionsv4_lib.core.text import money
from optionsv4_lib.reporting.html import (
    bar_chart,
    cards,
    html_table,
    img,
    line_chart,
    reliability_chart,
    write_page,
)

STAT_MONEY = ("costs", "avg_win", "avg_loss", "max_drawdown")
"""Money columns of backtest.trade_stats beyond the …pnl ones."""

TRADE_TABLE = ("entry_date", "symbol", "family", "strategy", "market_state", "lots", "status", "exit_date",
               "exit_kind", "days_held", "pop_net", "pop_market", "expected_pnl_net", "margin", "pnl", "costs",
               "pnl_net", "note")
COMPARISON_MONEY = ("max_drawdown", "peak_margin")
PERCENTS = ("max_drawdown_pct", "predicted_pop", "pop_net", "pop_market")
CALIBRATION_NOTE = ("PoP calibration of the ranked picks' closed trades: each bucket's mean predicted probability "
                    "of profit against the share that closed with P&L net of costs > 0, and the predicted E[P&L] "
                    "summed against the realized P&L — under the view (pop_net, expected_pnl_net) and under the "
                    "market (the smile: pop_market, expected_pnl_market). Brier score = mean (PoP − win)²: 0 is "
                    "perfect, always saying 50 % scores 0.25. The predictions hold to expiry; trades leave earlier "
                    "on their exit rules.")


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
    notes.append("The cards above and the tables 'Ranked picks by …' are the ranked picks alone; the baselines "
                 f"({', '.join(spec.baselines) or 'none'}) are in the comparison.")
    body += [f"<p class='note'>{html.escape(note)}</p>" for note in notes]
    if result.trades.empty:
        body.append("<p>No positions were entered.</p>")
    else:
        body += _comparison(result) + _calibration(result) + _charts(result)
        for key, heading in GROUPS.items():
            body.append(f"<h2>Ranked picks by {heading.lower()}</h2>"
                        + html_table(result.summary.groups[key].rename(columns={key: heading}), STAT_MONEY))
        ranked = result.trades[result.trades["policy"] == RANKED]
        trades = ranked[list(TRADE_TABLE)].assign(entry_date=ranked["entry_date"].dt.date,
                                                  exit_date=ranked["exit_date"].dt.date)
        body.append("<h2>Trades</h2><p class='note'>The ranked picks'; every policy's trades are in the Parquet "
                    "file beside this page.</p>" + html_table(trades, ("costs", "margin"), PERCENTS))
    if len(result.skipped):
        body.append("<h2>Left out</h2><p class='note'>Days without an entry or a mark, and positions beyond the "
                    "margin limit (stage capital).</p>" + html_table(result.skipped))
    symbols = f"{len(spec.symbols)} symbols" if len(spec.symbols) > 5 else ", ".join(spec.symbols)
    title = f"OptionsV4 backtest {spec.start} to {spec.end}"
    note = (f"{spec.risk_profile} profile · {spec.source} market (seed {spec.seed}) · {symbols} · top "
            f"{spec.top or 'all'} strategies per entry date · {len(result.entry_days)} entry days · generated "
            f"{result.generated_at:%Y-%m-%d %H:%M %Z}. Money in ₹.")
    return write_page(Path(path), title, note, body)


def _comparison(result: BacktestResult) -> list[str]:
    """The comparison tables: overall, by family and by market state."""
    evaluation = result.evaluation
    parts = ["<h2>Ranked picks against the baselines</h2><p class='note'>"
             + html.escape("Same entry days, source, sizing rules and exits; random: one eligible candidate per "
                           f"symbol drawn at random (seed {result.spec.seed}); family:<strategy>: always the "
                           "best-scored candidate of that strategy. P&L net of costs; mean per closed trade; "
                           "drawdown of the realized equity, % of the peak equity (capital + realized P&L); peak "
                           "margin: the most the positions held on one day blocked (₹, at entry).") + "</p>",
             html_table(evaluation.comparison, COMPARISON_MONEY, PERCENTS)]
    for key, heading in GROUPS.items():
        parts.append(f"<h3>By {heading.lower()}</h3>"
                     + html_table(evaluation.groups[key].rename(columns={key: heading})))
    return parts


def _calibration(result: BacktestResult) -> list[str]:
    """The ranked picks' calibration table and Brier scores."""
    evaluation = result.evaluation
    table = evaluation.calibration[evaluation.calibration["policy"] == RANKED].drop(columns=["policy", "low", "high"])
    brier = evaluation.brier.assign(brier=evaluation.brier["brier"].round(4))
    return ["<h2>PoP calibration</h2><p class='note'>" + html.escape(CALIBRATION_NOTE) + "</p>",
            html_table(table, (), PERCENTS) if len(table) else "<p>No ranked trade closed.</p>",
            "<h3>Brier scores and E[P&amp;L], every policy</h3>" + html_table(brier)]


def _charts(result: BacktestResult) -> list[str]:
    """Equity, drawdown and margin in use of every policy; reliability diagram; the ranked P&L by group."""
    evaluation, start = result.evaluation, pd.Timestamp(result.spec.start)
    charts = []
    curves = {policy: pd.Series([0.0, *own["cumulative"]], index=[start, *own["exit_date"]])
              for policy, own in evaluation.equity.groupby("policy", sort=False)}
    if curves:
        drawdowns = {policy: pd.Series([0.0, *-own["drawdown"]], index=[start, *own["exit_date"]])
                     for policy, own in evaluation.equity.groupby("policy", sort=False)}
        charts += [img(line_chart(curves, "Cumulative realized P&L (net of costs)", "P&L (₹)"), "Equity curves"),
                   img(line_chart(drawdowns, "Drawdown from the running peak", "₹"), "Drawdowns")]
    margin = {policy: own.set_index("day")["margin"] for policy, own in evaluation.margin.groupby("policy",
                                                                                                 sort=False)}
    if margin:
        charts.append(img(line_chart(margin, "Margin in use (positions held, margin at entry)", "₹", step=True),
                          "Margin in use"))
    ranked = evaluation.calibration[evaluation.calibration["policy"] == RANKED]
    if len(ranked):
        charts.append(img(reliability_chart({measure: own for measure, own in ranked.groupby("measure", sort=False)},
                                            "Reliability of the ranked picks' PoP"), "Reliability diagram"))
    charts += [img(bar_chart(result.summary.groups[key], key, f"Ranked picks' P&L by {heading.lower()} (net of "
                             "costs)"), f"P&L by {heading.lower()}") for key, heading in GROUPS.items()]
    return ["<div class='charts'>" + "".join(charts) + "</div>"]


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
    compared = result.evaluation.comparison
    if len(compared) > 1:
        lines.append("Against the baselines, same days (realized net, win rate): " + " · ".join(
            f"{row.policy} {money(row.realized_pnl)}, "
            f"{'n/a' if pd.isna(row.win_rate) else f'{row.win_rate:.0%}'}" for row in compared.itertuples()))
    scores = result.evaluation.brier[result.evaluation.brier["policy"] == RANKED]
    if len(scores) and scores["trades"].iloc[0]:
        lines.append(f"PoP calibration of the ranked picks ({scores['trades'].iloc[0]} closed): Brier " + ", ".join(
            f"{row.measure} {row.brier:.3f}" for row in scores.itertuples()) + " (0 perfect, 0.25 a coin)")
    exits = result.trades.loc[result.trades["policy"] == RANKED, "exit_kind"].value_counts()
    if len(exits):
        lines.append("Exits: " + ", ".join(f"{kind} {n}" for kind, n in exits.items()))
    return lines
