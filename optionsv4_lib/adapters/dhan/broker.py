"""DhanBroker: live orders on a Dhan account through DhanClient (dhanhq 2.3.0, typed errors, rate limits, retries).

Every order is a LIMIT order in segment NSE_FNO with product MARGIN (carry-forward), quantity in units (a multiple
of the lot size), sent with its correlation id. Margin is Dhan's basket margin calculator (/margincalculator/multi)
over all the orders of a strategy together, so hedges offset as at the exchange. Order statuses other than the
documented seven (e.g. MODIFIED, TRIGGERED) count as PENDING.
"""

from collections.abc import Sequence

from optionsv4_lib.adapters.dhan.client import DhanClient
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.execution.broker import BrokerOrder, Mode, OrderRequest, Position

_STATUSES = {"TRANSIT", "PENDING", "PART_TRADED", "TRADED", "REJECTED", "CANCELLED", "EXPIRED"}
_STILL_OPEN = {"MODIFIED", "TRIGGERED", "INACTIVE", "CONFIRM"}


class DhanBroker:
    """Orders on the Dhan account behind `client` (share the client with market data so the limits hold)."""

    mode: Mode = "live"

    def __init__(self, client: DhanClient):
        self.client = client

    def __repr__(self) -> str:
        return f"DhanBroker({self.client!r})"

    def place(self, request: OrderRequest) -> BrokerOrder:
        contract = request.contract
        if contract.security_id is None:
            raise InputError(f"security_id: unknown for {contract}; import a current scrip master")
        answer = self.client.place_order(
            security_id=str(contract.security_id), exchange_segment=contract.exchange_segment,
            transaction_type=request.side, quantity=request.quantity, order_type=request.order_type,
            product_type=request.product_type, price=request.price, correlation_id=request.correlation_id)
        return BrokerOrder(str(answer["orderId"]), _status(answer.get("orderStatus", "TRANSIT")), request.quantity,
                           correlation_id=request.correlation_id)

    def order(self, order_id: str) -> BrokerOrder:
        return _order(self.client.order(order_id))

    def find(self, correlation_id: str) -> BrokerOrder | None:
        record = self.client.order_by_correlation_id(correlation_id)
        return None if record is None else _order(record)

    def cancel(self, order_id: str) -> BrokerOrder:
        self.client.cancel_order(order_id)
        return self.order(order_id)

    def available_funds(self) -> float:
        return float(self.client.fund_limits()["availabelBalance"])  # sic: Dhan's spelling

    def basket_margin(self, requests: Sequence[OrderRequest]) -> float | None:
        legs = []
        for request in requests:
            if request.contract.security_id is None:
                raise InputError(f"security_id: unknown for {request.contract}; import a current scrip master")
            legs.append({"securityId": str(request.contract.security_id),
                         "exchangeSegment": request.contract.exchange_segment, "transactionType": request.side,
                         "quantity": request.quantity, "productType": request.product_type, "price": request.price,
                         "triggerPrice": 0.0})
        return self.client.basket_margin(legs)

    def kill_switch_active(self) -> bool:
        return self.client.kill_switch_active()

    def positions(self) -> list[Position]:
        return [Position(int(p["securityId"]), str(p["exchangeSegment"]), int(p["netQty"]),
                         trading_symbol=p.get("tradingSymbol"), buy_average=_number(p.get("buyAvg")),
                         sell_average=_number(p.get("sellAvg")), unrealized_pnl=_number(p.get("unrealizedProfit")),
                         realized_pnl=_number(p.get("realizedProfit")))
                for p in self.client.positions()]


def _status(value: str) -> str:
    if value in _STATUSES:
        return value
    if value in _STILL_OPEN:
        return "PENDING"
    raise DataError(f"order status: unknown {value!r}; expected one of {sorted(_STATUSES | _STILL_OPEN)}")


def _order(record: dict) -> BrokerOrder:
    """An order-book record → BrokerOrder (Dhan writes placeholders such as "NA" and 0 for empty values)."""
    status = _status(str(record.get("orderStatus")))
    filled = int(record.get("filledQty") or 0)
    average = _number(record.get("averageTradedPrice"))
    reason = str(record.get("omsErrorDescription") or "").strip() or None
    correlation_id = record.get("correlationId")
    return BrokerOrder(str(record["orderId"]), status, int(record["quantity"]), filled,
                       average if filled else None, reason if status == "REJECTED" else None,
                       None if correlation_id in (None, "", "NA") else str(correlation_id))


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
