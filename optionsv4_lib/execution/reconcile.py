"""Reconciliation after placement: bring open orders up to date from the broker, and snapshot its positions.

Every order of the broker's mode still open in `orders` is read again (by broker order id, else by correlation id)
and its new state recorded. The broker's net positions go to `positions_snapshots` at one instant, each tied to the
strategy whose orders traded that security when exactly one did.
"""

from datetime import datetime
from typing import Any

from optionsv4_lib.execution import ledger
from optionsv4_lib.execution.broker import Broker
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.store.db import transaction


def reconcile(conn, broker: Broker, *, now: datetime | None = None) -> dict[str, Any]:
    """Refresh open orders and record a positions snapshot; returns counts and the orders still open."""
    refreshed = 0
    for row in ledger.open_orders(conn, broker.mode):
        latest = broker.order(row.broker_order_id) if row.broker_order_id else broker.find(row.correlation_id)
        if latest is not None and latest != row.as_broker_order():
            ledger.update_order(conn, row.correlation_id, latest)
            refreshed += 1
    still_open = [row.correlation_id for row in ledger.open_orders(conn, broker.mode)]
    positions = broker.positions()
    moment = (now or datetime.now(IST)).astimezone(IST)
    with transaction(conn) as cur:
        cur.execute("""SELECT security_id, min(strategy_id) FROM orders
                       WHERE mode = %s AND filled_quantity > 0 AND security_id IS NOT NULL
                       GROUP BY security_id HAVING count(DISTINCT strategy_id) = 1""", (broker.mode,))
        owner = dict(cur.fetchall())
        for p in positions:
            cur.execute(
                """INSERT INTO positions_snapshots (snapshot_at, mode, exchange_segment, security_id, trading_symbol,
                       strategy_id, net_qty, buy_avg, sell_avg, ltp, unrealized_pnl, realized_pnl)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (moment, broker.mode, p.exchange_segment, p.security_id, p.trading_symbol, owner.get(p.security_id),
                 p.net_quantity, p.buy_average, p.sell_average, p.last_price, p.unrealized_pnl, p.realized_pnl))
    return {"orders_refreshed": refreshed, "orders_open": still_open, "positions": len(positions),
            "snapshot_at": moment.isoformat()}
