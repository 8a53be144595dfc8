"""The performance dashboard: execution.status.Performance as one self-contained HTML page."""

import html
from pathlib import Path

import numpy as np
import pandas as pd

from optionsv4_lib.core.text import MISSING, money
from optionsv4_lib.execution.status import GROUPS, Performance
from optionsv4_lib.reporting.html import bar_chart, cards, cumulative_chart, html_table, img, write_page


def write_dashboard(perf: Performance, path: Path) -> Path:
    """Write `perf` as one self-contained HTML page (inline PNG charts, inline CSS, no external resources)."""
    t = perf.totals
    win_rate = MISSING if np.isnan(t["win_rate"]) else f"{t['win_rate']:.0%} ({t['wins']}/{t['closed']})"
    body = [cards([
        ("Realized P&L", money(t["realized_pnl"])), ("Unrealized P&L", money(t["unrealized_pnl"])),
        ("Total P&L", money(t["total_pnl"])), ("Win rate (closed)", win_rate),
        ("Open risk", f"{money(t['open_risk'])} in {t['open_strategies']} strategies"),
        ("Traded strategies", str(t["strategies"])),
    ])]
    notes = []
    if t["unbounded_open"]:
        notes.append(f"{t['unbounded_open']} open strategies have an unbounded max loss: counted at capital at risk.")
    if t["unpriced"]:
        notes.append(f"{t['unpriced']} strategies have open legs without a snapshot price: left out of unrealized "
                     "P&L.")
    body += [f"<p class='note'>{html.escape(note)}</p>" for note in notes]
    if perf.strategies.empty:
        body.append("<p>No traded strategies yet.</p>")
    else:
        charts = [img(bar_chart(perf.groups[key], key, f"P&L by {heading.lower()}"), f"P&L by {heading.lower()}")
                  for key, heading in GROUPS.items()]
        closed = perf.strategies[perf.strategies["status"] == "closed"].sort_values(["updated_at", "strategy_id"])
        if len(closed):  # the running total after each closed strategy, in the order they were last updated
            curve = pd.Series([0.0, *closed["realized_pnl"].cumsum()])
            charts.append(img(cumulative_chart(curve, "closed strategies"), "Cumulative realized P&L"))
        body.append("<div class='charts'>" + "".join(charts) + "</div>")
        for key, heading in GROUPS.items():
            body.append(f"<h2>By {heading.lower()}</h2>" + html_table(perf.groups[key].rename(columns={key: heading})))
        body.append("<h2>Strategies</h2>" + html_table(perf.strategies[
            ["strategy_id", "trade_date", "symbol", "industry", "family", "strategy", "status", "mode", "lots",
             "realized_pnl", "unrealized_pnl", "total_pnl"]]))
    if not perf.open_positions.empty:
        body.append("<h2>Open risk</h2>" + html_table(perf.open_positions[
            ["strategy_id", "symbol", "strategy", "status", "lots", "max_loss", "open_risk"]]))
    return write_page(path, "OptionsV4 performance",
                      f"Generated {perf.generated_at:%Y-%m-%d %H:%M %Z}. Money in ₹; quantities in units.", body)
