"""One pass of the position monitor at a moment `now` (IST): mark open strategies to market, record the marks, settle
expired paper legs, evaluate the stored exit conditions and exit what hit — through the executor (execution.exits).

For every strategy 'open' or 'exiting' (its held legs: the filled entry orders, entry price = average fill):
1. chains of the legs' (symbol, expiry) from `source`; a chain the source lacks leaves those legs unpriced;
2. marks and metrics (monitoring.marks); one positions_snapshots row per leg: ltp = mark (₹/unit), net_qty (units,
   − short), unrealized_pnl = s × qty × (mark − entry price) (₹); a re-run at the same moment overwrites its rows;
3. on or after a leg's expiry (after the F&O close on expiry day) paper legs settle at intrinsic value; live legs
   are left to the exchange and reported;
4. exit conditions (strategy_exit_conditions, first hit by exit_no) of 'open' strategies: an exit on the venue of
   the strategy's mode, or — for a mode with no venue (live without the gate) — EXIT PENDING; 'exiting' strategies
   (an interrupted or pending exit) are resumed when their venue is there;
5. physical-settlement warnings for ITM stock options from four trading days before expiry (logged and returned).
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from optionsv4_lib.core.errors import OptionsV4Error
from optionsv4_lib.execution import closing, ledger
from optionsv4_lib.execution.executor import ExecutionPolicy, Hook
from optionsv4_lib.execution.mode import Venue
from optionsv4_lib.marketdata.source import MarketDataSource
from optionsv4_lib.monitoring.exit_decision import exit_hits, first_exits
from optionsv4_lib.monitoring.marks import (
    LEG_COLUMNS,
    fetch_chains,
    mark_legs,
    physical_settlement_warnings,
    position_metrics,
)
from optionsv4_lib.reference.calendar import IST, holiday_name, is_trading_day, session
from optionsv4_lib.reference.universe import index_ids
from optionsv4_lib.store.runs import stored_exit_conditions

log = logging.getLogger(__name__)

SETTLEMENT_PASS = timedelta(minutes=15)  # passes run until this long after the F&O close: the last one settles expiries


def outside_session(now: datetime) -> str | None:
    """Why a monitor pass at `now` has nothing to do (not a trading day, before the F&O open, past the close and its
    settlement pass), or None when it should run."""
    moment = now.astimezone(IST)
    day = moment.date()
    if not is_trading_day(day):
        return f"{day:%a %d %b %Y} is not a trading day ({holiday_name(day) or 'weekend'})"
    open_at, close_at = session(day, "FO")
    last = (datetime.combine(day, close_at) + SETTLEMENT_PASS).time()
    if not open_at <= moment.time() <= last:
        return f"{moment:%H:%M} IST is outside the F&O session {open_at:%H:%M}–{close_at:%H:%M} (+ settlement pass)"
    return None


HOLDING_COLUMNS = (*LEG_COLUMNS, "strategy", "mode", "status", "note", "security_id", "exchange_segment")


def holdings(conn) -> pd.DataFrame:
    """The held legs of every 'open' or 'exiting' strategy (ledger.held_legs: a leg's slices summed): HOLDING_COLUMNS,
    i.e. monitoring.LEG_COLUMNS plus strategy (template name), mode, status, note, security_id, exchange_segment."""
    held = pd.DataFrame(ledger.held_legs(conn), columns=[*HOLDING_COLUMNS, "attempt", "lot_size"])
    return held[list(HOLDING_COLUMNS)].astype({"qty": float, "entry_price": float})


@dataclass
class Evaluation:
    """The open strategies at one moment: held legs marked (monitoring.mark_legs columns + mode, status, note),
    per-strategy metrics, every exit rule with observed, hit and distance (threshold − observed, in the rule's
    unit), and the (symbol, expiry) chains the source could not give."""

    today: date
    marked: pd.DataFrame
    metrics: pd.DataFrame
    rules: pd.DataFrame
    missing: list[str]


def evaluate(conn, source: MarketDataSource, now: datetime) -> Evaluation | None:
    """Mark every open or exiting strategy at `now` from `source` and evaluate its exit rules (writes nothing);
    None when nothing is held."""
    moment = now.astimezone(IST)
    today = moment.date()
    legs = holdings(conn)
    if legs.empty:
        return None
    after_close = not is_trading_day(today) or moment.time() >= session(today, "FO")[1]
    chain, missing = fetch_chains(source, legs)
    marked = mark_legs(legs, chain, today, after_close=after_close)
    metrics = position_metrics(marked, today)
    rules = exit_hits(stored_exit_conditions(conn, metrics["strategy_id"].tolist()), metrics, marked)
    return Evaluation(today, marked, metrics, rules.assign(distance=rules["threshold"] - rules["observed"]), missing)


def monitor_pass(conn, source: MarketDataSource, venues: Mapping[str, Venue], *, now: datetime,
                 index_symbols: set[str] | None = None, policy: ExecutionPolicy = ExecutionPolicy(),
                 hook: Hook | None = None) -> dict[str, Any]:
    """One monitor pass (see the module docstring). venues: mode → the venue its exits go through ("paper"
    always; "live" only when the live gate was passed). Returns counts, hits, exits, pending exits, settlements,
    warnings and unpriced legs."""
    moment = now.astimezone(IST)
    index_symbols = set(index_ids()["fo_symbol"].dropna()) if index_symbols is None else index_symbols
    summary: dict[str, Any] = {"at": moment.isoformat(), "strategies": 0, "legs_marked": 0, "hits": [],
                               "exits": [], "pending": [], "settled": [], "warnings": [], "unpriced": []}
    found = evaluate(conn, source, moment)
    if found is None:
        return summary
    marked, metrics = found.marked, found.metrics
    summary["strategies"] = int(metrics["strategy_id"].nunique())
    summary["legs_marked"] = int(marked["mark"].notna().sum())
    summary["unpriced"] = found.missing + metrics["unpriced_reason"].dropna().tolist()
    ledger.record_marks(conn, marked, moment)

    for warning in physical_settlement_warnings(marked, found.today, index_symbols).itertuples(index=False):
        log.warning("strategy %d: %s", warning.strategy_id, warning.message)
        summary["warnings"].append({"strategy_id": int(warning.strategy_id), "leg_no": int(warning.leg_no),
                                    "message": warning.message})

    done: set[int] = set()
    for sid, expired in marked[marked["settled"]].groupby("strategy_id"):
        if expired["mode"].iloc[0] != "paper":
            summary["warnings"].append({"strategy_id": int(sid), "leg_no": None, "message": (
                "live legs past expiry: settled by the exchange; reconcile the account")})
            continue
        values = dict(zip(expired["leg_no"].astype(int), expired["mark"].astype(float)))
        outcome = closing.settle(conn, int(sid), values, "expiry: settled at intrinsic value")
        summary["settled"].append(outcome.to_document())
        if outcome.status == "closed":
            done.add(int(sid))

    status = marked.drop_duplicates("strategy_id").set_index("strategy_id")
    exits = first_exits(found.rules)
    rules = {int(sid): exit.rule for sid, exit in exits.iterrows() if status.loc[sid, "status"] == "open"}
    summary["hits"] = [{"strategy_id": sid, "rule": rule} for sid, rule in rules.items()]
    resuming = {int(sid): closing.exit_rule(row.note) for sid, row in status.iterrows() if row.status == "exiting"}
    for sid, rule in (rules | resuming).items():
        if sid in done:
            continue
        venue = venues.get(status.loc[sid, "mode"])
        if venue is None:
            summary["pending"].append(closing.exit_pending(conn, sid, rule).to_document())
            continue
        try:
            outcome = closing.close_strategy(conn, venue.broker, sid, rule, quotes=venue.quotes, policy=policy,
                                           hook=hook, today=moment.date())
        except OptionsV4Error as exc:  # the strategy stays 'exiting'; the next pass resumes it
            log.error("strategy %d: exit interrupted: %s", sid, exc)
            outcome = closing.ExitOutcome(sid, "exiting", f"interrupted: {exc}")
        summary["exits"].append(outcome.to_document())
    log.info("monitor %s: %d strategies, %d hits, %d exits, %d pending, %d settled, %d warnings", summary["at"],
             summary["strategies"], len(summary["hits"]), len(summary["exits"]), len(summary["pending"]),
             len(summary["settled"]), len(summary["warnings"]))
    return summary
