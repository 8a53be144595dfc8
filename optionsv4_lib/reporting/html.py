"""Self-contained HTML pages: inline CSS, inline PNG charts (matplotlib, no display), ₹ tables — used by the
performance dashboard and the backtest report."""

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from optionsv4_lib.core.text import MISSING, money  # noqa: E402


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


def line_chart(lines: Mapping[str, pd.Series], title: str, ylabel: str, *, step: bool = False) -> str:
    """One line per name over dates (each Series indexed by date; `step`: held until the next date) — e.g. the equity
    or the margin of each policy — as base64 PNG; y in ₹."""
    fig, ax = plt.subplots(figsize=(8, 3.5), dpi=100)
    for name, series in lines.items():
        if step:
            ax.step(series.index, series.to_numpy(float), where="post", label=name)
        else:
            ax.plot(series.index, series.to_numpy(float), marker="o", markersize=3, label=name)
    fig.autofmt_xdate()
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def reliability_chart(points: Mapping[str, pd.DataFrame], title: str) -> str:
    """A reliability diagram as base64 PNG: per name, the mean predicted probability (x) against the realized rate
    (y) of each bucket (frames with predicted_pop, win_rate, trades; the marker's area grows with trades), and the
    diagonal of perfect calibration."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--", label="perfect calibration")
    for name, frame in points.items():
        line, = ax.plot(frame["predicted_pop"], frame["win_rate"], marker="o", label=name)
        ax.scatter(frame["predicted_pop"], frame["win_rate"], s=10 + 90 * frame["trades"] / frame["trades"].max(),
                   alpha=0.4, color=line.get_color())
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted PoP (bucket mean)")
    ax.set_ylabel("realized win rate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def img(png: str, alt: str) -> str:
    """An <img> showing a base64 PNG."""
    return f"<img src='data:image/png;base64,{png}' alt='{html.escape(alt)}'>"


def html_table(frame: pd.DataFrame, money_columns: Sequence[str] = (), percent_columns: Sequence[str] = ()) -> str:
    """`frame` as an HTML table, money columns (…pnl, max_loss, open_risk and `money_columns`) as ₹, win_rate as %
    and `percent_columns` (decimals) as % to one decimal."""
    shown = frame.copy()
    for column in shown.columns:
        if column.endswith("pnl") or column in ("max_loss", "open_risk", *money_columns):
            shown[column] = shown[column].map(money)
        elif column == "win_rate":
            shown[column] = shown[column].map(lambda v: MISSING if pd.isna(v) else f"{v:.0%}")
        elif column in percent_columns:
            shown[column] = shown[column].map(lambda v: MISSING if pd.isna(v) else f"{v:.1%}")
    shown.columns = [str(c).replace("_pnl", " P&L").replace("_", " ") for c in shown.columns]
    return shown.to_html(index=False, border=0, na_rep="", escape=True)


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
