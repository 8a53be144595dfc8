"""Execution status per strategy and per leg, and the performance dashboard (the old execution_status.py).

Sources: strategy_execution_status (one row per marked strategy), its strategy and legs, orders (fills:
filled_quantity units at average_price ₹/unit, whatever the order's purpose: entry, exit, rollback, adjustment) and,
for the last traded price, the monitor's latest mark of the leg (positions_snapshots rows with leg_no), or the latest
account row (leg_no NULL) of the leg's security in the strategy's mode when that is newer (its net_qty is the
broker's, for the whole account). A leg's security id is its orders', else the analysed leg's.

P&L of a leg, average cost, in ₹ (quantities in units):
    bought B units at average b, sold S units at average s, over all the leg's fills
    realized   = min(B, S) × (s − b)
    net qty    = B − S                      (> 0 long, < 0 short)
    unrealized = net qty × (ltp − b)  when long,  net qty × (ltp − s)  when short,  0 when flat
                 (NaN when an open leg has no snapshot price)
For a flat leg (B = S) realized = Σ over its fills of sign × qty × price, sign +1 for SELL and −1 for BUY. A
strategy's P&L is the sum of its legs' (its unrealized P&L is NaN when one of its open legs has no price); the
executor's own realized_pnl column is not used.

Performance over the traded strategies (at least one fill): realized, unrealized and total P&L by strategy
(template name), family and industry; win rate = closed strategies (status 'closed') with realized P&L > 0 / closed
strategies; open risk = Σ over open strategies (OPEN_STATUSES) of their max loss as a positive ₹ amount, scaled to
the lots executed (an unbounded max loss counts at the run's capital at risk).
"""

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from optionsv4_lib.calendar import IST  # noqa: E402
from optionsv4_lib.store.db import transaction  # noqa: E402

OPEN_STATUSES = ("placing", "open", "partially_filled", "exiting")
"""Statuses whose strategy holds (or is building or unwinding) positions."""

GROUPS = {"strategy": "Strategy", "family": "Family", "industry": "Industry"}
"""Performance groupings: column → heading."""


@dataclass(frozen=True)
class ExecutionStatus:
    """`strategies`: one row per strategy with a status row (status, mode, lots executed and run lots, entry_value,
    exit_value, note, timestamps, max_loss and capital_at_risk ₹ for the run's lots, realized_pnl, unrealized_pnl,
    total_pnl ₹, filled units). `legs`: one row per leg (planned side, strike, expiry, qty units and entry_price
    ₹/unit; orders, entry_status, exit_status, bought/sold units at buy_avg/sell_avg ₹, net_qty units, broker_qty and
    ltp from the latest snapshot, realized_pnl and unrealized_pnl ₹)."""

    strategies: pd.DataFrame
    legs: pd.DataFrame


@dataclass(frozen=True)
class Performance:
    """`totals`: strategies (traded), closed, wins, win_rate (NaN with nothing closed), realized_pnl,
    unrealized_pnl, total_pnl, open_strategies, open_risk (₹), unbounded_open (open strategies whose max loss is
    unbounded), unpriced (strategies with an open leg that has no price: their unrealized P&L is left out).
    `strategies`: the traded ones.
    `groups`: GROUPS key → P&L by that column (strategies, closed, wins, win_rate, realized_pnl, unrealized_pnl,
    total_pnl). `open_positions`: the open strategies with their open_risk ₹."""

    generated_at: datetime
    totals: dict[str, float]
    strategies: pd.DataFrame
    groups: dict[str, pd.DataFrame]
    open_positions: pd.DataFrame


def load_status(conn, ids: Sequence[int] | None = None, mode: str | None = None) -> ExecutionStatus:
    """The status of the strategies `ids` (default: every strategy with a status row), of `mode` only if given."""
    ids = None if ids is None else [int(i) for i in ids]
    with transaction(conn) as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        strategies = _frame(cur, """
            SELECT e.strategy_id, r.trade_date, r.risk_profile, s.symbol, s.industry, s.family, s.strategy,
                   e.status, e.mode, coalesce(e.lots, s.lots) AS lots, s.lots AS run_lots, s.lot_size, s.max_loss,
                   s.capital_at_risk, e.entry_value, e.exit_value, e.note, e.marked_at, e.updated_at
            FROM strategy_execution_status e JOIN strategies s USING (strategy_id) JOIN analysis_runs r USING (run_id)
            WHERE (%(ids)s::bigint[] IS NULL OR e.strategy_id = ANY(%(ids)s::bigint[]))
              AND (%(mode)s::text IS NULL OR e.mode = %(mode)s)
            ORDER BY e.marked_at, e.strategy_id""", {"ids": ids, "mode": mode})
        key = {"ids": strategies["strategy_id"].tolist()}
        legs = _frame(cur, """
            SELECT s.strategy_id, d.leg_no, d.instrument, d.side, d.strike, d.expiry, d.qty, d.entry_price,
                   d.security_id
            FROM strategy_details d JOIN strategies s USING (run_id, candidate_id)
            WHERE s.strategy_id = ANY(%(ids)s::bigint[]) ORDER BY 1, 2""", key)
        orders = _frame(cur, """
            SELECT strategy_id, leg_no, min(security_id) AS order_security_id, count(*) AS orders,
                   (array_agg(status ORDER BY order_id DESC) FILTER (WHERE purpose = 'entry'))[1] AS entry_status,
                   (array_agg(status ORDER BY order_id DESC) FILTER (WHERE purpose <> 'entry'))[1] AS exit_status,
                   coalesce(sum(filled_quantity) FILTER (WHERE side = 'BUY'), 0) AS bought,
                   coalesce(sum(filled_quantity * average_price) FILTER (WHERE side = 'BUY' AND filled_quantity > 0),
                            0) AS buy_value,
                   coalesce(sum(filled_quantity) FILTER (WHERE side = 'SELL'), 0) AS sold,
                   coalesce(sum(filled_quantity * average_price) FILTER (WHERE side = 'SELL' AND filled_quantity > 0),
                            0) AS sell_value
            FROM orders WHERE strategy_id = ANY(%(ids)s::bigint[]) GROUP BY 1, 2""", key)
        legs = _with_orders(legs, orders).merge(strategies[["strategy_id", "mode"]], on="strategy_id")
        snapshots = _frame(cur, """
            SELECT DISTINCT ON (mode, security_id) mode, security_id, net_qty AS broker_qty, ltp, snapshot_at
            FROM positions_snapshots WHERE leg_no IS NULL AND security_id = ANY(%(securities)s::bigint[])
            ORDER BY mode, security_id, snapshot_at DESC""",
                           {"securities": legs["security_id"].dropna().astype(int).unique().tolist()})
        marks = _frame(cur, """
            SELECT DISTINCT ON (strategy_id, leg_no) strategy_id, leg_no, ltp AS mark, snapshot_at AS marked_at
            FROM positions_snapshots WHERE leg_no IS NOT NULL AND strategy_id = ANY(%(ids)s::bigint[])
            ORDER BY strategy_id, leg_no, snapshot_at DESC""", key)
    legs = legs.merge(snapshots.astype({"security_id": "Int64"}), on=["mode", "security_id"], how="left")
    legs = _with_marks(legs, marks)
    legs = leg_pnl(legs.drop(columns="mode").astype({"ltp": float}))
    return ExecutionStatus(_with_pnl(strategies, legs), legs)


def _with_marks(legs: pd.DataFrame, marks: pd.DataFrame) -> pd.DataFrame:
    """ltp = the monitor's latest mark of the leg unless the account snapshot has a newer price."""
    legs = legs.merge(marks, on=["strategy_id", "leg_no"], how="left")
    ltp, mark = legs["ltp"].astype(float), legs["mark"].astype(float)
    account_newer = pd.to_datetime(legs["snapshot_at"], utc=True) > pd.to_datetime(legs["marked_at"], utc=True)
    use_mark = mark.notna() & (ltp.isna() | ~account_newer)
    return legs.assign(ltp=ltp.where(~use_mark, mark)).drop(columns=["mark", "marked_at"])


def leg_pnl(legs: pd.DataFrame) -> pd.DataFrame:
    """`legs` (bought, buy_value, sold, sell_value, ltp) with buy_avg, sell_avg, net_qty, realized_pnl and
    unrealized_pnl added, by the module's formulas (₹; quantities in units)."""
    bought, sold = legs["bought"].to_numpy(float), legs["sold"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        buy_avg = np.where(bought > 0, legs["buy_value"].to_numpy(float) / bought, np.nan)
        sell_avg = np.where(sold > 0, legs["sell_value"].to_numpy(float) / sold, np.nan)
    closed = np.minimum(bought, sold)
    net = bought - sold
    ltp = legs["ltp"].to_numpy(float)
    realized = np.where(closed > 0, closed * (sell_avg - buy_avg), 0.0)
    unrealized = np.where(net == 0, 0.0, net * (ltp - np.where(net > 0, buy_avg, sell_avg)))
    return legs.assign(buy_avg=buy_avg, sell_avg=sell_avg, net_qty=net.astype(int), realized_pnl=realized,
                       unrealized_pnl=unrealized)


def performance(status: ExecutionStatus, now: datetime | None = None) -> Performance:
    """P&L by strategy, family and industry, win rate and open risk of `status` (see the module docstring)."""
    traded = status.strategies[status.strategies["filled"] > 0]
    groups = {key: _group(traded, key) for key in GROUPS}
    opened = status.strategies[status.strategies["status"].isin(OPEN_STATUSES)]
    max_loss = opened["max_loss"].to_numpy(float)
    risk = (np.where(np.isfinite(max_loss), -max_loss, opened["capital_at_risk"].to_numpy(float))
            * opened["lots"].to_numpy(float) / opened["run_lots"].to_numpy(float))
    open_positions = opened.assign(open_risk=risk)
    closed = traded[traded["status"] == "closed"]
    wins = int((closed["realized_pnl"] > 0).sum())
    totals = {
        "strategies": len(traded), "closed": len(closed), "wins": wins,
        "win_rate": wins / len(closed) if len(closed) else float("nan"),
        "realized_pnl": float(traded["realized_pnl"].sum()),
        "unrealized_pnl": float(traded["unrealized_pnl"].sum()),
        "total_pnl": float(traded["realized_pnl"].sum() + traded["unrealized_pnl"].sum()),
        "open_strategies": len(opened), "open_risk": float(risk.sum()),
        "unbounded_open": int((~np.isfinite(max_loss)).sum()),
        "unpriced": int(traded["unrealized_pnl"].isna().sum()),
    }
    return Performance(now or datetime.now(IST), totals, traded, groups, open_positions)


def write_dashboard(perf: Performance, path: Path) -> Path:
    """Write `perf` as one self-contained HTML page (inline PNG charts, inline CSS, no external resources)."""
    t = perf.totals
    win_rate = "n/a" if np.isnan(t["win_rate"]) else f"{t['win_rate']:.0%} ({t['wins']}/{t['closed']})"
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


# ---------------------------------------------------------------- page and chart helpers (the backtest report's too)


def write_page(path: Path, title: str, note: str, body: list[str]) -> Path:
    """Write a self-contained HTML page (inline CSS) — the `title` heading, a `note` line, then the `body` HTML
    fragments — atomically (a temporary file moved into place)."""
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class='note'>{html.escape(note)}</p>" + "".join(body) + "</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def cards(items: Sequence[tuple[str, str]]) -> str:
    """(label, value) pairs as a row of HTML cards."""
    return "<div class='cards'>" + "".join(f"<div class='card'><div class='label'>{html.escape(label)}</div>"
                                           f"<div class='value'>{html.escape(value)}</div></div>"
                                           for label, value in items) + "</div>"


def bar_chart(frame: pd.DataFrame, key: str, title: str) -> str:
    """Horizontal bars of realized_pnl and unrealized_pnl (₹) per `key` value, ordered by total_pnl, as base64 PNG."""
    data = frame.sort_values("total_pnl")
    y = np.arange(len(data))
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.5 * len(data) + 1.2)), dpi=100)
    ax.barh(y - 0.2, data["realized_pnl"], height=0.4, color="tab:blue", label="realized")
    ax.barh(y + 0.2, data["unrealized_pnl"], height=0.4, color="tab:orange", label="unrealized")
    ax.set_yticks(y, data[key].fillna("—"))
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))  # room for ₹ labels in the crores
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("P&L (₹)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def cumulative_chart(curve: pd.Series, xlabel: str) -> str:
    """A cumulative realized P&L curve (₹) over its index — counts (whole numbers) or dates — as base64 PNG."""
    fig, ax = plt.subplots(figsize=(8, 3.5), dpi=100)
    ax.plot(curve.index, curve.to_numpy(float), color="black", marker="o")
    if pd.api.types.is_integer_dtype(curve.index):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        fig.autofmt_xdate()
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("P&L (₹)")
    ax.set_title("Cumulative realized P&L", fontsize=10)
    return _png(fig)


def img(png: str, alt: str) -> str:
    """An <img> showing a base64 PNG."""
    return f"<img src='data:image/png;base64,{png}' alt='{html.escape(alt)}'>"


def html_table(frame: pd.DataFrame, money_columns: Sequence[str] = ()) -> str:
    """`frame` as an HTML table, money columns (…pnl, max_loss, open_risk and `money_columns`) as ₹ and win_rate
    as %."""
    shown = frame.copy()
    for column in shown.columns:
        if column.endswith("pnl") or column in ("max_loss", "open_risk", *money_columns):
            shown[column] = shown[column].map(money)
        elif column == "win_rate":
            shown[column] = shown[column].map(lambda v: "n/a" if pd.isna(v) else f"{v:.0%}")
    shown.columns = [str(c).replace("_pnl", " P&L").replace("_", " ") for c in shown.columns]
    return shown.to_html(index=False, border=0, na_rep="", escape=True)


def money(value: float) -> str:
    """₹ to the rupee; 'n/a' for NaN, 'unlimited' for ±inf."""
    if pd.isna(value):
        return "n/a"
    if np.isinf(value):
        return "unlimited"
    return f"₹{value:,.0f}"


# ---------------------------------------------------------------- internals


def _frame(cur, sql: str, params: dict) -> pd.DataFrame:
    cur.execute(sql, params)
    return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def _with_orders(legs: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """Planned legs with their orders' fills (none: zeros) and security id (the orders', else the analysed leg's)."""
    joined = legs.merge(orders, on=["strategy_id", "leg_no"], how="left")
    joined["security_id"] = joined["order_security_id"].astype("Int64").fillna(joined["security_id"].astype("Int64"))
    filled = {"orders": 0, "bought": 0, "buy_value": 0.0, "sold": 0, "sell_value": 0.0}
    return joined.drop(columns="order_security_id").fillna(filled).astype({"orders": int, "bought": int, "sold": int})


def _with_pnl(strategies: pd.DataFrame, legs: pd.DataFrame) -> pd.DataFrame:
    per = (legs.assign(filled=legs["bought"] + legs["sold"])
           .groupby("strategy_id")
           .agg(realized_pnl=("realized_pnl", "sum"),
                unrealized_pnl=("unrealized_pnl", lambda v: v.sum(skipna=False)),
                filled=("filled", "sum")))
    per = per.reindex(strategies["strategy_id"], fill_value=0)  # a strategy without legs has no P&L
    out = strategies.merge(per, left_on="strategy_id", right_index=True)
    return out.assign(total_pnl=out["realized_pnl"] + out["unrealized_pnl"])


def _group(traded: pd.DataFrame, key: str) -> pd.DataFrame:
    frame = traded.assign(closed=traded["status"] == "closed",
                          win=(traded["status"] == "closed") & (traded["realized_pnl"] > 0))
    out = (frame.groupby(key, dropna=False)
           .agg(strategies=("strategy_id", "count"), closed=("closed", "sum"), wins=("win", "sum"),
                realized_pnl=("realized_pnl", "sum"), unrealized_pnl=("unrealized_pnl", "sum"))
           .reset_index())
    out = out.assign(win_rate=out["wins"] / out["closed"].where(out["closed"] > 0),  # NaN with nothing closed
                     total_pnl=out["realized_pnl"] + out["unrealized_pnl"])
    columns = [key, "strategies", "closed", "wins", "win_rate", "realized_pnl", "unrealized_pnl", "total_pnl"]
    return out[columns].sort_values(["total_pnl", key], ascending=[False, True], ignore_index=True)


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", metadata={"Software": None})  # no matplotlib URL inside the file
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.cards { display: flex; flex-wrap: wrap; gap: 1em; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 0.6em 1em; min-width: 10em; }
.card .label { font-size: 0.85em; color: #666; } .card .value { font-size: 1.3em; font-weight: 600; }
.charts img { max-width: 100%; margin: 0.5em 0; display: block; }
table { border-collapse: collapse; margin-bottom: 1.5em; } th, td { padding: 0.25em 0.7em; text-align: right; }
th { background: #f0f0f0; } tr:nth-child(even) td { background: #fafafa; }
.note { color: #666; font-size: 0.9em; }
"""
