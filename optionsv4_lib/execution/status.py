"""Execution status per strategy and per leg, and performance (the old execution_status.py; the page is
reporting.dashboard).

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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from optionsv4_lib.execution import ledger
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.store.db import transaction

OPEN_STATUSES = ("placing", "open", "partially_filled", "exiting")
"""Statuses whose strategy holds (or is building or unwinding) positions."""

GROUPS = {"strategy": "Strategy", "family": "Family", "industry": "Industry"}
"""Performance groupings: column → heading."""


@dataclass(frozen=True)
class ExecutionStatus:
    """`strategies`: one row per strategy with a status row (status, mode, lots executed and run lots, entry_value,
    exit_value, note, timestamps, max_loss and capital_at_risk ₹ for the run's lots, interrupted — placing with no
    executor at work on it, so a rerun resumes it —, realized_pnl, unrealized_pnl, total_pnl ₹, filled units). `legs`: one row per leg (planned side, strike, expiry, qty units and entry_price
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
                   s.capital_at_risk, e.entry_value, e.exit_value, e.note, e.marked_at, e.updated_at,
                   e.status = 'placing' AND NOT EXISTS (
                       SELECT FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                         AND l.classid = %(lock)s::oid AND l.objid = e.strategy_id::oid) AS interrupted
            FROM strategy_execution_status e JOIN strategies s USING (strategy_id) JOIN analysis_runs r USING (run_id)
            WHERE (%(ids)s::bigint[] IS NULL OR e.strategy_id = ANY(%(ids)s::bigint[]))
              AND (%(mode)s::text IS NULL OR e.mode = %(mode)s)
            ORDER BY e.marked_at, e.strategy_id""", {"ids": ids, "mode": mode, "lock": ledger.LOCK_NAMESPACE})
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
