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
    ledger.record_positions(conn, broker.mode, positions, moment)
    return {"orders_refreshed": refreshed, "orders_open": still_open, "positions": len(positions),
            "snapshot_at": moment.isoformat()}
