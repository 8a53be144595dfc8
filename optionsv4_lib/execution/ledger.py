"""The execution ledger in PostgreSQL: `orders` (one row per correlation id, updated on every state change) and
`strategy_execution_status` (one row per marked strategy), and `positions_snapshots` (position marks).

An order row is written BEFORE the order is sent (status NEW) and committed at once, so a crash at any point leaves
a row whose correlation id can be looked up at the broker. Every write is its own short transaction.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.execution.broker import BrokerOrder, Mode, OrderRequest, Position
from optionsv4_lib.store.db import transaction, writing
from optionsv4_lib.store.runs import latest_revision

STRATEGY_STATUSES = ("marked", "placing", "open", "partially_filled", "exiting", "closed", "rejected", "failed",
                     "cancelled")
HOLDING_STATUSES = ("placing", "open", "partially_filled", "exiting")  # strategies that hold (or may hold) positions
LOCK_NAMESPACE = 731_645  # first key of pg_try_advisory_lock(int, int); the second is the strategy id
_INT4_MAX = 2**31 - 1

_COLUMNS = ("correlation_id", "strategy_id", "leg_no", "purpose", "attempt", "mode", "security_id",
            "exchange_segment", "side", "quantity", "order_type", "product_type", "price", "status",
            "broker_order_id", "filled_quantity", "average_price", "error")


@dataclass(frozen=True)
class LedgerOrder:
    """One row of `orders` (quantities in units, prices ₹/unit)."""

    correlation_id: str
    strategy_id: int
    leg_no: int
    purpose: str
    attempt: int
    mode: str
    security_id: int | None
    exchange_segment: str
    side: str
    quantity: int
    order_type: str
    product_type: str
    price: float | None
    status: str
    broker_order_id: str | None
    filled_quantity: int
    average_price: float | None
    error: str | None

    def as_broker_order(self) -> BrokerOrder:
        return BrokerOrder(self.broker_order_id or "", self.status, self.quantity, self.filled_quantity,
                           self.average_price, self.error, self.correlation_id)


def insert_order(conn, request: OrderRequest, mode: Mode) -> None:
    """Record `request` as NEW unless its correlation id is recorded already."""
    values = (request.correlation_id, request.strategy_id, request.leg_no, request.purpose, request.attempt, mode,
              request.contract.security_id, request.contract.exchange_segment, request.side, request.quantity,
              request.order_type, request.product_type, request.price, "NEW")
    with writing(conn, "orders") as cur:
        cur.execute(f"INSERT INTO orders ({', '.join(_COLUMNS[:14])}) VALUES ({', '.join(['%s'] * 14)}) "
                    "ON CONFLICT (correlation_id) DO NOTHING", values)


def update_order(conn, correlation_id: str, order: BrokerOrder) -> None:
    """Record the broker's view of an order: its id, status, fills and rejection reason."""
    with writing(conn, "orders") as cur:
        cur.execute(
            """UPDATE orders SET broker_order_id = coalesce(%s, broker_order_id), status = %s, filled_quantity = %s,
                      average_price = %s, error = coalesce(%s, error), updated_at = now()
               WHERE correlation_id = %s""",
            (order.order_id or None, order.status, order.filled_quantity, order.average_price, order.reason,
             correlation_id))
        if cur.rowcount != 1:
            raise DataError(f"orders: no order with correlation id {correlation_id!r}")


def fail_order(conn, correlation_id: str, error: str) -> None:
    """Mark an order the broker refused or never received as REJECTED, with the reason."""
    with writing(conn, "orders") as cur:
        cur.execute("UPDATE orders SET status = 'REJECTED', error = %s, updated_at = now() WHERE correlation_id = %s",
                    (error, correlation_id))


def get_order(conn, correlation_id: str) -> LedgerOrder | None:
    rows = _select(conn, "WHERE correlation_id = %s", (correlation_id,))
    return rows[0] if rows else None


def get_order_by_broker_id(conn, broker_order_id: str) -> LedgerOrder | None:
    rows = _select(conn, "WHERE broker_order_id = %s", (broker_order_id,))
    return rows[0] if rows else None


def orders_of(conn, strategy_id: int, attempt: int | None = None) -> list[LedgerOrder]:
    """The strategy's orders (of one attempt, if given) in the order they were recorded."""
    if attempt is None:
        return _select(conn, "WHERE strategy_id = %s ORDER BY order_id", (strategy_id,))
    return _select(conn, "WHERE strategy_id = %s AND attempt = %s ORDER BY order_id", (strategy_id, attempt))


def open_orders(conn, mode: Mode) -> list[LedgerOrder]:
    """Orders of `mode` not yet in a terminal state."""
    return _select(conn, "WHERE mode = %s AND status IN ('NEW', 'TRANSIT', 'PENDING', 'PART_TRADED') "
                         "ORDER BY order_id", (mode,))


def last_attempt(conn, strategy_id: int) -> int:
    """The highest attempt number among the strategy's orders; 0 when it has none."""
    with transaction(conn) as cur:
        cur.execute("SELECT coalesce(max(attempt), 0) FROM orders WHERE strategy_id = %s", (strategy_id,))
        return int(cur.fetchone()[0])


def held_legs(conn, strategy_id: int | None = None) -> list[dict]:
    """Units held per leg — the filled entry orders of a strategy's last attempt, a leg's slices summed: qty (units)
    at their average entry_price (₹/unit) — with the leg's contract and the strategy's status, mode and note; for
    one strategy whatever its status, or (strategy_id None) for every 'open' or 'exiting' one. By strategy, leg."""
    with transaction(conn) as cur:
        cur.execute(
            """SELECT o.strategy_id, o.leg_no, o.attempt, s.symbol, s.strategy, d.contract_lot AS lot_size,
                      d.instrument, o.side,
                      d.strike, d.expiry, sum(o.filled_quantity) AS qty,
                      sum(o.filled_quantity * o.average_price) / sum(o.filled_quantity) AS entry_price, e.mode,
                      e.status, e.note, o.security_id, o.exchange_segment
               FROM strategy_execution_status e JOIN strategies s USING (strategy_id)
                    JOIN orders o ON o.strategy_id = e.strategy_id AND o.purpose = 'entry' AND o.filled_quantity > 0
                    JOIN strategy_details d ON d.run_id = s.run_id AND d.candidate_id = s.candidate_id
                                               AND d.leg_no = o.leg_no
               WHERE (e.strategy_id = %(sid)s OR (%(sid)s IS NULL AND e.status IN ('open', 'exiting')))
                 AND o.attempt = (SELECT max(attempt) FROM orders x WHERE x.strategy_id = e.strategy_id)
               GROUP BY o.strategy_id, o.leg_no, o.attempt, s.symbol, s.strategy, d.contract_lot, d.instrument, o.side,
                        d.strike, d.expiry, e.mode, e.status, e.note, o.security_id, o.exchange_segment
               ORDER BY 1, 2""", {"sid": strategy_id})
        columns = [c.name for c in cur.description]
        return [dict(zip(columns, row)) for row in cur.fetchall()]


def strategy_status(conn, strategy_id: int) -> tuple[str, str | None] | None:
    """(status, note) of a strategy's execution, or None when it was never marked."""
    with transaction(conn) as cur:
        cur.execute("SELECT status, note FROM strategy_execution_status WHERE strategy_id = %s", (strategy_id,))
        return cur.fetchone()


def set_status(conn, strategy_id: int, status: str, **fields) -> None:
    """Set a strategy's execution status and any of mode, lots, entry_value, exit_value, realized_pnl (₹), note."""
    if status not in STRATEGY_STATUSES:
        raise InputError(f"status: unknown {status!r}; expected one of {', '.join(STRATEGY_STATUSES)}")
    unknown = set(fields) - {"mode", "lots", "entry_value", "exit_value", "realized_pnl", "note"}
    if unknown:
        raise InputError(f"set_status: unknown field(s) {sorted(unknown)}")
    assignments = "".join(f", {name} = %s" for name in fields)
    with writing(conn, "strategy_execution_status") as cur:
        cur.execute(f"UPDATE strategy_execution_status SET status = %s{assignments}, updated_at = now() "
                    "WHERE strategy_id = %s", (status, *fields.values(), strategy_id))
        if cur.rowcount != 1:
            raise DataError(f"strategy_execution_status: strategy {strategy_id} is not marked")


def committed_capital(conn, mode: Mode, exclude: tuple[int, ...] = ()) -> dict[str, float]:
    """₹ of capital at risk per industry held by strategies of `mode` that hold or may hold positions (placing,
    open, partially filled, exiting), scaled to their executed lots; strategies in `exclude` are left out."""
    with transaction(conn) as cur:
        cur.execute(
            """SELECT coalesce(s.industry, s.symbol), sum(s.capital_at_risk * coalesce(e.lots, s.lots) / s.lots)
               FROM strategy_execution_status e JOIN strategies s USING (strategy_id)
               WHERE e.mode = %s AND e.status = ANY(%s) AND NOT (e.strategy_id = ANY(%s))
               GROUP BY 1""", (mode, list(HOLDING_STATUSES), list(exclude)))
        return {industry: float(amount) for industry, amount in cur.fetchall()}


@contextmanager
def strategy_lock(conn, strategy_id: int) -> Iterator[bool]:
    """A session advisory lock on one strategy for the block: yields False (and holds nothing) when another
    session holds it, so two executors never work on the same strategy at once."""
    if not 0 < strategy_id <= _INT4_MAX:
        raise InputError(f"strategy_id: expected 1…{_INT4_MAX}, got {strategy_id}")
    with transaction(conn) as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, strategy_id))
        held = bool(cur.fetchone()[0])
    try:
        yield held
    finally:
        if held and not conn.closed:
            with transaction(conn) as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, strategy_id))


def _select(conn, where: str, params: tuple) -> list[LedgerOrder]:
    with writing(conn, "orders") as cur:  # a lost connection is a DataError naming the table
        cur.execute(f"SELECT {', '.join(_COLUMNS)} FROM orders {where}", params)
        return [LedgerOrder(*row) for row in cur.fetchall()]


def record_marks(conn, marked: pd.DataFrame, now: datetime) -> int:
    """One positions_snapshots row per leg at `now` (see execution.monitor_pass); rows written."""
    rows = []
    for leg in marked.itertuples(index=False):
        sign = 1 if leg.side == "BUY" else -1
        mark = None if np.isnan(leg.mark) else float(leg.mark)
        rows.append((now, leg.mode, leg.exchange_segment, None if pd.isna(leg.security_id) else int(leg.security_id),
                     f"{leg.symbol} {leg.expiry:%d-%b-%Y} {leg.strike:g} {leg.instrument}", int(leg.strategy_id),
                     int(leg.leg_no), sign * int(leg.qty), leg.entry_price if sign > 0 else None,
                     leg.entry_price if sign < 0 else None, mark,
                     None if mark is None else round(sign * leg.qty * (mark - leg.entry_price), 2)))
    with transaction(conn) as cur:
        cur.executemany(
            """INSERT INTO positions_snapshots (snapshot_at, mode, exchange_segment, security_id, trading_symbol,
                   strategy_id, leg_no, net_qty, buy_avg, sell_avg, ltp, unrealized_pnl)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (snapshot_at, mode, strategy_id, leg_no) WHERE leg_no IS NOT NULL
               DO UPDATE SET ltp = EXCLUDED.ltp, unrealized_pnl = EXCLUDED.unrealized_pnl,
                             net_qty = EXCLUDED.net_qty""", rows)
    return len(rows)


# ---------------------------------------------------------------- marking for execution (execution.marking's rules)


def recent_strategies(conn, risk_profile: str | None, limit: int | None) -> pd.DataFrame:
    """The strategies of the latest trade date's run(s), their latest revisions, with their execution status (see
    marking.recent_strategies)."""
    with transaction(conn) as cur:
        cur.execute(
            f"""SELECT s.strategy_id, r.trade_date, r.risk_profile, s.symbol, s.industry, s.family, s.strategy, s.lots,
                      s.lot_size, s.score, s.pop, s.max_profit, s.max_loss, s.capital_at_risk, e.status, e.mode
               FROM strategies s JOIN analysis_runs r USING (run_id)
               LEFT JOIN strategy_execution_status e USING (strategy_id)
               WHERE r.trade_date = (SELECT max(trade_date) FROM analysis_runs
                                     WHERE %(profile)s::text IS NULL OR risk_profile = %(profile)s)
                 AND (%(profile)s::text IS NULL OR r.risk_profile = %(profile)s) AND {latest_revision("r")}
               ORDER BY s.score DESC, s.candidate_id, r.risk_profile
               LIMIT %(limit)s""",
            {"profile": risk_profile, "limit": limit},
        )
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


_QUOTED_AT = "(SELECT max(q.quoted_at) FROM run_symbols q WHERE q.run_id = r.run_id)"
"""A run's latest quote time (NULL when none is stored)."""


def latest_run(cur, risk_profile: str | None, until: date) -> tuple | None:
    """(run_id, trade_date, risk_profile, latest quote time or None) of the run of `risk_profile` (of any when None)
    dated up to `until` whose quotes were taken last (then the latest trade date and load), its latest revision, or
    None."""
    cur.execute(f"""SELECT r.run_id, r.trade_date, r.risk_profile, {_QUOTED_AT} AS quoted_at FROM analysis_runs r
                    WHERE (%(profile)s::text IS NULL OR r.risk_profile = %(profile)s) AND r.trade_date <= %(until)s
                      AND {latest_revision("r")}
                    ORDER BY quoted_at DESC NULLS LAST, r.trade_date DESC, r.loaded_at DESC LIMIT 1""",
                {"profile": risk_profile, "until": until})
    return cur.fetchone()


def top_strategy_ids(cur, run_id: int, n: int) -> list[int]:
    """The run's `n` best-scored strategy ids (ties by candidate id)."""
    cur.execute("SELECT strategy_id FROM strategies WHERE run_id = %s ORDER BY score DESC, candidate_id LIMIT %s",
                (run_id, n))
    return [row[0] for row in cur.fetchall()]


def best_strategy_id(cur, run_id: int, symbol: str) -> int | None:
    """The run's best-scored strategy id of `symbol`, or None."""
    cur.execute("""SELECT strategy_id FROM strategies WHERE run_id = %s AND symbol = %s
                   ORDER BY score DESC, candidate_id LIMIT 1""", (run_id, symbol))
    found = cur.fetchone()
    return None if found is None else found[0]


def symbol_outcome(cur, run_id: int, symbol: str) -> tuple[str, str | None] | None:
    """(status, reason) of `symbol` in the run, or None when it was not in the run's universe."""
    cur.execute("SELECT status, reason FROM run_symbols WHERE run_id = %s AND symbol = %s", (run_id, symbol))
    return cur.fetchone()


def marking_rows(cur, ids: Sequence[int]) -> dict[int, tuple]:
    """strategy_id → (lots, trade_date, risk_profile, the run's latest quote time or None, execution status or None,
    whether its run is the latest revision of its day) of the strategies that exist."""
    cur.execute(f"""SELECT s.strategy_id, s.lots, r.trade_date, r.risk_profile, {_QUOTED_AT}, e.status,
                          {latest_revision("r")}
                   FROM strategies s JOIN analysis_runs r USING (run_id)
                   LEFT JOIN strategy_execution_status e USING (strategy_id)
                   WHERE s.strategy_id = ANY(%s)""", (list(ids),))
    return {row[0]: row[1:] for row in cur.fetchall()}


def insert_marked(cur, mode: Mode, lots: dict[int, int]) -> set[int]:
    """'marked' rows for the strategies of `lots` (id → lots) that have none; the ids inserted."""
    cur.execute("""INSERT INTO strategy_execution_status (strategy_id, status, mode, lots)
                   SELECT strategy_id, 'marked', %s, lots
                   FROM unnest(%s::bigint[], %s::integer[]) AS t(strategy_id, lots)
                   ON CONFLICT (strategy_id) DO NOTHING RETURNING strategy_id""",
                (mode, list(lots), list(lots.values())))
    return {row[0] for row in cur.fetchall()}


def mark_again(cur, mode: Mode, ids: Sequence[int], statuses: Sequence[str]) -> set[int]:
    """The rows of `ids` whose status is one of `statuses` back to 'marked' (the note keeps the earlier outcome);
    the ids changed."""
    cur.execute("""UPDATE strategy_execution_status e
                   SET status = 'marked', mode = %s, lots = s.lots, marked_at = now(), updated_at = now(),
                       note = 'marked again after ' || e.status || coalesce(': ' || e.note, '')
                   FROM strategies s
                   WHERE s.strategy_id = e.strategy_id AND e.strategy_id = ANY(%s) AND e.status = ANY(%s)
                   RETURNING e.strategy_id""", (mode, list(ids), list(statuses)))
    return {row[0] for row in cur.fetchall()}


def execution_statuses(cur, ids: Sequence[int]) -> dict[int, str | None]:
    """strategy_id → its execution status (None when never marked) of the strategies that exist."""
    cur.execute("""SELECT s.strategy_id, e.status FROM strategies s
                   LEFT JOIN strategy_execution_status e USING (strategy_id) WHERE s.strategy_id = ANY(%s)""",
                (list(ids),))
    return dict(cur.fetchall())


def unmark_rows(cur, ids: Sequence[int]) -> set[int]:
    """Unmark the still-'marked' rows of `ids`: deleted, or 'cancelled' where orders of earlier attempts exist; the
    ids changed."""
    cur.execute("""DELETE FROM strategy_execution_status e WHERE strategy_id = ANY(%s) AND status = 'marked'
                     AND NOT EXISTS (SELECT FROM orders o WHERE o.strategy_id = e.strategy_id)
                   RETURNING strategy_id""", (list(ids),))
    changed = {row[0] for row in cur.fetchall()}
    cur.execute("""UPDATE strategy_execution_status SET status = 'cancelled', updated_at = now(),
                       note = 'unmarked' || coalesce(' (' || note || ')', '')
                   WHERE strategy_id = ANY(%s) AND status = 'marked' RETURNING strategy_id""", (list(ids),))
    return changed | {row[0] for row in cur.fetchall()}


# ---------------------------------------------------------------- planning, closing, positions


def status_and_mode(conn, strategy_id: int) -> tuple[str, str | None]:
    """(execution status, mode) of a strategy; ('not marked', None) without a status row."""
    with transaction(conn) as cur:
        cur.execute("SELECT status, mode FROM strategy_execution_status WHERE strategy_id = %s", (strategy_id,))
        row = cur.fetchone()
    return (row[0], row[1]) if row else ("not marked", None)


def marked_rows(conn, ids: Sequence[int]) -> list[tuple]:
    """Strategies marked or mid-placement, plus `ids` whatever their status, oldest mark first: strategy_id, status,
    mode, note, lots, run_id, trade_date, risk_profile, capital, candidate_id, symbol, industry, strategy, risk_type,
    lot_size, capital_at_risk, max_loss, net_premium (₹ for the analysed lots), analysed lots, the run's latest quote
    time (None when not stored)."""
    with transaction(conn) as cur:
        cur.execute(
            f"""SELECT e.strategy_id, e.status, e.mode, e.note, coalesce(e.lots, s.lots), s.run_id, r.trade_date,
                      r.risk_profile, r.capital, s.candidate_id, s.symbol, coalesce(s.industry, s.symbol),
                      s.strategy, s.risk_type, s.lot_size, s.capital_at_risk, s.max_loss, s.net_premium, s.lots,
                      {_QUOTED_AT}
               FROM strategy_execution_status e JOIN strategies s USING (strategy_id)
                    JOIN analysis_runs r USING (run_id)
               WHERE (e.status IN ('marked', 'placing') OR e.strategy_id = ANY(%s))
               ORDER BY e.marked_at, e.strategy_id""", (list(ids),))
        return cur.fetchall()


def stress_rows(conn, ids: Sequence[int]) -> tuple[list[tuple], list[tuple]]:
    """(strategies, scenarios) for the book risk of `ids`. strategies: strategy_id, marked lots (else the analysed),
    analysed lots, spot, beta (None when not stored), delta, gamma, vega, theta, stress_pnl (₹ at the analysed lots;
    None for runs before it was stored, or for a run whose stress grid differs from the first run's). scenarios:
    (nifty_move, vol_shift) of the first run's stress grid (of the lowest strategy id), in the order of stress_pnl."""
    with transaction(conn) as cur:
        cur.execute("""SELECT s.strategy_id, coalesce(e.lots, s.lots), s.lots, s.spot, y.beta, s.delta, s.gamma,
                              s.vega, s.theta, s.stress_pnl,
                              (SELECT array_agg(ARRAY[b.nifty_move, b.vol_shift] ORDER BY b.nifty_move, b.vol_shift)
                               FROM run_book_stress b WHERE b.run_id = s.run_id)
                       FROM strategies s LEFT JOIN strategy_execution_status e USING (strategy_id)
                            LEFT JOIN run_symbols y ON y.run_id = s.run_id AND y.symbol = s.symbol
                       WHERE s.strategy_id = ANY(%s) ORDER BY s.strategy_id""", (list(ids),))
        rows = cur.fetchall()
    grid = next((row[-1] for row in rows if row[-1]), None) or []
    return ([(*row[:9], row[9] if row[-1] == grid else None) for row in rows],
            [tuple(scenario) for scenario in grid])


def strategy_legs(conn, run_id: int, candidate_id: str) -> list[dict]:
    """The analysed legs of a strategy, by leg_no: instrument, side, ratio, strike, expiry, contract_lot (units per
    lot of the leg's contract), qty, bid, ask, security_id."""
    with transaction(conn) as cur:
        cur.execute("""SELECT leg_no, instrument, side, ratio, strike, expiry, contract_lot, qty, bid, ask, security_id
                       FROM strategy_details WHERE run_id = %s AND candidate_id = %s ORDER BY leg_no""",
                    (run_id, candidate_id))
        return [dict(zip([c.name for c in cur.description], row)) for row in cur.fetchall()]


def paper_positions(conn) -> list[tuple]:
    """Net paper positions per contract: (security_id or None, exchange_segment, contract, net units, buy average,
    sell average, the one strategy that traded it or None), the contract as 'SYMBOL 29-Dec-2026 395 PE'."""
    with transaction(conn) as cur:
        cur.execute(
            """SELECT o.security_id, o.exchange_segment, s.symbol, d.expiry, d.strike, d.instrument,
                      sum(CASE o.side WHEN 'BUY' THEN o.filled_quantity ELSE -o.filled_quantity END),
                      sum(o.filled_quantity * o.average_price) FILTER (WHERE o.side = 'BUY')
                          / nullif(sum(o.filled_quantity) FILTER (WHERE o.side = 'BUY'), 0),
                      sum(o.filled_quantity * o.average_price) FILTER (WHERE o.side = 'SELL')
                          / nullif(sum(o.filled_quantity) FILTER (WHERE o.side = 'SELL'), 0),
                      CASE WHEN count(DISTINCT o.strategy_id) = 1 THEN min(o.strategy_id) END
               FROM orders o JOIN strategies s USING (strategy_id)
               JOIN strategy_details d ON (d.run_id, d.candidate_id, d.leg_no) = (s.run_id, s.candidate_id, o.leg_no)
               WHERE o.mode = 'paper' AND o.filled_quantity > 0
               GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 3, 4, 6, 5""")
        return [(sid, segment, _contract(symbol, expiry, strike, instrument), int(net), buy, sell, owner)
                for sid, segment, symbol, expiry, strike, instrument, net, buy, sell, owner in cur.fetchall()]


def _contract(symbol: str, expiry, strike, instrument: str) -> str:
    """A leg's contract as text: 'SYMBOL 29-Dec-2026 395 PE' (broker.Contract's words), or the symbol for stock."""
    return symbol if instrument == "STK" else f"{symbol} {expiry:%d-%b-%Y} {strike:g} {instrument}"


def record_positions(conn, mode: Mode, positions: Sequence[Position], moment: datetime) -> None:
    """The broker's net positions as positions_snapshots rows at `moment`, each tied to the strategy whose orders
    traded that security (a paper contract without one: that contract) when exactly one did."""
    owner_of_contract = {contract: owner for _, _, contract, _, _, _, owner in paper_positions(conn)} \
        if mode == "paper" else {}
    with transaction(conn) as cur:
        cur.execute("""SELECT security_id, min(strategy_id) FROM orders
                       WHERE mode = %s AND filled_quantity > 0 AND security_id IS NOT NULL
                       GROUP BY security_id HAVING count(DISTINCT strategy_id) = 1""", (mode,))
        owner_of_security = dict(cur.fetchall())
        for p in positions:
            owner = owner_of_contract.get(p.trading_symbol) if p.security_id is None \
                else owner_of_security.get(p.security_id)
            cur.execute(
                """INSERT INTO positions_snapshots (snapshot_at, mode, exchange_segment, security_id, trading_symbol,
                       strategy_id, net_qty, buy_avg, sell_avg, ltp, unrealized_pnl, realized_pnl)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (moment, mode, p.exchange_segment, p.security_id, p.trading_symbol, owner,
                 p.net_quantity, p.buy_average, p.sell_average, p.last_price, p.unrealized_pnl, p.realized_pnl))
