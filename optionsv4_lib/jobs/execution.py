"""The execution job: the steps of the options_v4_execution DAG, each named as the task that calls it. Each step opens
its own database connection (tasks run in separate processes) and hands the next step ids, paths or small dicts.

Files, under the data dir: executions/<run name>/plan.json (the plan with every check's findings, written whether
or not anything is placed), preview.txt (the same as text) and summary.json (what was placed and how it ended).
"""

import itertools
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import OptionsV4Error
from optionsv4_lib.execution.executor import ExecutionPolicy, execute_strategy, plan_execution
from optionsv4_lib.execution.mode import resolve_mode
from optionsv4_lib.execution.plan import finished_strategies, marked_strategies
from optionsv4_lib.execution.reconcile import reconcile as reconcile_account
from optionsv4_lib.execution.slicing import describe
from optionsv4_lib.jobs.venues import open_venue
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.store import open_store

log = logging.getLogger(__name__)

BAD_OUTCOMES = ("failed", "partially_filled", "interrupted")


class PreviewOnly(OptionsV4Error):
    """The run was not confirmed: the plan is recorded and nothing is placed."""


class ExecutionFailed(OptionsV4Error):
    """At least one strategy failed, was interrupted, or was left with open legs."""


def execution_dir(data_dir: Path | str, run_name: str) -> Path:
    """data_dir/executions/<run name with anything but [A-Za-z0-9_.-] replaced by _>."""
    return Path(data_dir) / "executions" / re.sub(r"[^A-Za-z0-9_.-]", "_", run_name)


def load_marked(settings: Settings, mode: str, strategy_ids: Sequence[int] = (),
                max_strategies: int | None = None) -> list[int]:
    """Ids of the strategies to execute in `mode`: `strategy_ids` (each must be marked for it; those whose
    execution already finished are logged and left out), else every one."""
    conn = open_store(settings)
    try:
        for done in finished_strategies(conn, strategy_ids, mode):
            log.info("strategy %d: already %s; nothing to place", done.strategy_id, done.status)
        return [s.strategy_id for s in marked_strategies(conn, list(strategy_ids) or None, max_strategies, mode)]
    finally:
        conn.close()


def pre_trade_checks(settings: Settings, mode: str, strategy_ids: Sequence[int], run_name: str) -> str:
    """Plan the strategies in `mode` with every pre-trade check; write the run's plan.json; return its path."""
    document = {"mode": mode, "created_at": datetime.now(IST).isoformat(), "cleared": [], "strategies": []}
    if strategy_ids:
        conn = open_store(settings)
        try:
            venue = open_venue(mode, conn, settings)
            plan = plan_execution(conn, venue.broker, settings, strategy_ids=list(strategy_ids), quotes=venue.quotes)
        finally:
            conn.close()
        document = plan.to_document()
    path = execution_dir(settings.data_dir, run_name) / "plan.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False))
    return str(path)


def preview(plan_path: str) -> tuple[str, list[int]]:
    """The plan as text (also written to preview.txt next to it) and the ids it cleared."""
    document = json.loads(Path(plan_path).read_text())
    text = plan_text(document)
    Path(plan_path).with_name("preview.txt").write_text(text)
    return text, list(document["cleared"])


def plan_text(document: dict[str, Any]) -> str:
    """A plan document as lines: per strategy its verdict, one line per leg (its units, and its slices when the
    quantity freeze splits it), money and findings."""
    lines = [f"Order plan ({document['mode']}, {document['created_at']}): {len(document['cleared'])} of "
             f"{len(document['strategies'])} strategies cleared"]
    for s in document["strategies"]:
        verdict = "BLOCKED" if s["blocked"] else "cleared"
        lines.append(f"#{s['strategy_id']} {s['symbol']} {s['strategy']} ({s['lots']} lots × {s['lot_size']}, "
                     f"attempt {s['attempt']}{', resuming' if s['resume'] else ''}): {verdict}")
        for _, group in itertools.groupby(s["orders"], key=lambda order: order["leg_no"]):
            leg = list(group)
            o, quantities = leg[0], [order["quantity"] for order in leg]
            ids = o["correlation_id"] if len(leg) == 1 else \
                f"in {describe(quantities, o['freeze_qty'])}: {o['correlation_id']} … {leg[-1]['correlation_id']}"
            lines.append(f"  {o['side']:<4} {sum(quantities):>8,} × {o['contract']} @ ₹{o['limit_price']:.2f} "
                         f"(bid {o['bid']:.2f} / ask {o['ask']:.2f}, {o['quote_source']}) {ids}")
        lines.append(f"  capital at risk ₹{s['capital_at_risk']:,.0f} · margin ₹{s['required_margin']:,.0f} · "
                     f"costs ₹{s['costs']:,.0f} · entry value ₹{s['entry_value']:,.0f}")
        lines += [f"  blocked: {reason}" for reason in s["reasons"]]
        lines += [f"  warning: {warning}" for warning in s["warnings"]]
    return "\n".join(lines + book_lines(document.get("book")))


def book_lines(book: dict[str, Any] | None) -> list[str]:
    """The risk the cleared strategies add: greeks in NIFTY terms and the stress table, as lines."""
    if not book or not book["stress"]:
        return []
    g = book["greeks"]
    lines = [f"Risk added: delta ₹{g['delta_nifty_inr']:,.0f} of NIFTY · gamma ₹{g['gamma_nifty_inr']:,.0f} per 1 % · "
             f"vega ₹{g['vega']:,.0f} per vol pt · theta ₹{g['theta']:,.0f} a day; stress (instant gaps, stocks by "
             f"beta):"]
    lines += [f"  {row['scenario']:<24} ₹{row['pnl']:>14,.0f}  {row['pnl_pct_capital']:+.2f} %"
              for row in book["stress"]]
    if book["unknown"]:
        lines.append(f"  not in the stress table (no stored stress on this grid): {book['unknown']}")
    return lines


def gate(settings: Settings, mode: str, *, confirm: bool, confirmation: str | None,
              cleared: Sequence[int]) -> list[int]:
    """The cleared ids, once the run is confirmed: PreviewOnly without `confirm`; LiveTradingRefused for live
    without the environment flag or the exact confirmation text."""
    if not confirm:
        raise PreviewOnly("preview only: the plan is recorded; trigger with confirm=true to place the orders")
    resolve_mode(mode, confirm=True, settings=settings, confirmation=confirmation, require_text=True)
    return list(cleared)


def place(settings: Settings, mode: str, strategy_id: int, *, confirmation: str | None = None,
               policy: ExecutionPolicy = ExecutionPolicy()) -> dict[str, Any]:
    """Execute one cleared strategy (the gate is asked again: this may run on another worker) → its outcome."""
    mode = resolve_mode(mode, confirm=True, settings=settings, confirmation=confirmation, require_text=mode == "live")
    conn = open_store(settings)
    try:
        venue = open_venue(mode, conn, settings)
        outcome = execute_strategy(conn, venue.broker, settings, strategy_id, quotes=venue.quotes, policy=policy)
    finally:
        conn.close()
    return outcome.to_document()


def reconcile(settings: Settings, mode: str) -> dict[str, Any]:
    """Refresh the mode's open orders and snapshot its positions."""
    conn = open_store(settings)
    try:
        return reconcile_account(conn, open_venue(mode, conn, settings).broker)
    finally:
        conn.close()


def summary(plan_path: str | None, outcomes: Sequence[dict[str, Any]], reconciled: dict[str, Any] | None) -> dict:
    """Write summary.json next to the plan (none without a plan: the pre-trade checks failed); ExecutionFailed
    (after writing it) if a strategy did not end well. Any upstream step may have failed: what is missing is None
    or empty."""
    outcomes = [o for o in outcomes or [] if o]
    document = {"plan": plan_path, "outcomes": outcomes, "reconciled": reconciled,
                "counts": dict(Counter(o["status"] for o in outcomes))}
    if plan_path:
        Path(plan_path).with_name("summary.json").write_text(json.dumps(document, indent=2, ensure_ascii=False))
    bad = [o for o in outcomes if o["status"] in BAD_OUTCOMES]
    if bad:
        raise ExecutionFailed("; ".join(f"strategy {o['strategy_id']} {o['status']}: {o['reason']}" for o in bad))
    return document
