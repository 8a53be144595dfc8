"""Reports of an analysis run: the two result JSON documents and payoff-diagram PNGs of the top strategies."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from optionsv4_lib.analysis.analyze import analysis_moment  # noqa: E402
from optionsv4_lib.analysis.result import AnalysisResult  # noqa: E402
from optionsv4_lib.core.text import money
from optionsv4_lib.strategies.evaluate import horizon_profile  # noqa: E402
from optionsv4_lib.strategies.metrics import positions_from_legs  # noqa: E402


def write_results(result: AnalysisResult, results_dir: Path) -> tuple[Path, Path]:
    """Write options_v4_analysis_<stamp>.json and options_portfolio_allocation_<stamp>.json; return their paths."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = result.finished_at.strftime("%Y%m%d_%H%M%S")
    paths = (
        results_dir / f"options_v4_analysis_{stamp}.json",
        results_dir / f"options_portfolio_allocation_{stamp}.json",
    )
    for path, document in zip(paths, (result.analysis_document(), result.allocation_document())):
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False))
        tmp.replace(path)
    return paths


def payoff_charts(result: AnalysisResult, out_dir: Path, r: float, top: int = 10) -> list[Path]:
    """One PNG per top-scored strategy: P&L at the nearest expiry against the underlying's price (±3σ)."""
    if result.strategies.empty:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    best = result.strategies.sort_values(["score", "candidate_id"], ascending=[False, True]).head(top)
    positions = positions_from_legs(result.legs, analysis_moment(result.trade_date), list(best["candidate_id"]))
    spot, sigma = best["spot"].to_numpy(float), best["atm_iv"].to_numpy(float)
    profile = horizon_profile(positions, spot, sigma, r, 0.0)
    paths = []
    for i, row in enumerate(best.itertuples(index=False)):
        width = 3 * row.atm_iv * np.sqrt(max(row.dte_days, 1) / 365)
        prices = row.spot * np.exp(np.linspace(-width, width, 400))
        pnl = np.interp(prices, profile.x[i], profile.v[i], right=np.nan)
        beyond = prices > profile.x[i, -1]
        pnl[beyond] = profile.v[i, -1] + profile.slope[i] * (prices[beyond] - profile.x[i, -1])
        paths.append(_plot(out_dir / f"payoff_{row.candidate_id.replace(':', '_')}.png", prices, pnl, row))
    return paths


def _plot(path: Path, prices: np.ndarray, pnl: np.ndarray, row) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.plot(prices, pnl, color="black", linewidth=1.5)
    ax.fill_between(prices, pnl, 0, where=pnl > 0, color="tab:green", alpha=0.25)
    ax.fill_between(prices, pnl, 0, where=pnl < 0, color="tab:red", alpha=0.25)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.axvline(row.spot, color="tab:blue", linestyle="--", linewidth=1, label=f"spot {row.spot:,.2f}")
    for be in row.breakevens:
        ax.axvline(be, color="grey", linestyle=":", linewidth=1)
    ax.set_title(f"{row.symbol} — {row.strategy} × {row.lots} lots (expiry {row.expiry:%d %b %Y})", fontsize=10)
    ax.set_xlabel("underlying price at expiry (₹)")
    ax.set_ylabel("P&L (₹)")
    ax.text(
        0.01, 0.02,
        f"PoP {row.pop_net:.0%} net · max profit {money(row.max_profit)} · max loss {money(row.max_loss)} · score {row.score:.0f}",
        transform=ax.transAxes, fontsize=8,
    )
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path




def summary_lines(result: AnalysisResult, top: int = 10) -> list[str]:
    """A plain-text summary of a run for logs: market state, symbols, the top strategies."""
    m, s = result.market, result.strategies
    ok = int((result.symbols["status"] == "ok").sum())
    lines = [
        f"Market state {m.state} (confidence {m.direction_confidence:.0%}), INDIA VIX {m.vix:.2f} ({m.vix_regime})",
        f"Symbols ok {ok}/{len(result.symbols)}; strategies sized {len(s)}; capital at risk "
        f"₹{s['capital_at_risk'].sum():,.0f} of ₹{result.capital:,.0f} ({result.risk_profile})",
    ]
    for row in s.sort_values(["score", "candidate_id"], ascending=[False, True]).head(top).itertuples(index=False):
        lines.append(
            f"{row.score:5.1f}  {row.symbol:<11} {row.strategy:<22} {row.lots:>3} lots  PoP {row.pop_net:.0%}  "
            f"max profit {money(row.max_profit)}  max loss {money(row.max_loss)}"
        )
    return lines
