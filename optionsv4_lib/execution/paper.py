"""PaperBroker: the default broker. Simulated fills, deterministic, with its order book in PostgreSQL.

A LIMIT order is decided when it is placed, against the contract's quote (the quote source — e.g. the latest
recorded snapshot — else the quote the order was priced from, i.e. the analysed leg's bid and ask):
  fill price = mid + slippage × half-spread for a BUY, mid − slippage × half-spread for a SELL, on the 0.05 tick
  (rounded against us); the order TRADES in full at that price if its limit reaches it, else it stays PENDING
  (the quotes of a paper market do not move) until cancelled. No two-sided quote → REJECTED, and so is a quantity
  that is not whole lots of the contract (its lot in the `instruments` table, else reference.lot_sizes), as NSE's
  would be.
Orders live in the `orders` table (mode 'paper'; broker order id "PAPER-<correlation id>"), so the book survives a
restart and the executor's idempotency works as it does with Dhan. Funds are the configured capital less the capital
at risk of paper strategies that hold positions; there is no kill switch. Margin is our SPAN-style basket estimate
(execution.margin_estimate) when the quote source has the strategy's chain, else none (capital at risk stands in).
"""

import math
from collections.abc import Sequence

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.execution import ledger
from optionsv4_lib.execution.broker import BrokerOrder, Mode, OrderRequest, Position, Quote
from optionsv4_lib.execution.margin_estimate import estimate_basket_margin
from optionsv4_lib.execution.plan import limit_price
from optionsv4_lib.execution.quotes import NoQuotes, QuoteSource
from optionsv4_lib.reference.lot_sizes import lot_sizes
from optionsv4_lib.store.instruments import contract_lot

ORDER_ID_PREFIX = "PAPER-"


class PaperBroker:
    """Paper trading over `conn` (see the module docstring).

    quotes: where fills are priced. slippage: share of the half-spread paid beyond the mid (0 = fills at the mid,
    1 = at the touch). capital: ₹ of paper funds. rate: the risk-free rate of the margin estimate (decimal).
    """

    mode: Mode = "paper"

    def __init__(self, conn, *, capital: float, quotes: QuoteSource | None = None, slippage: float = 0.5,
                 rate: float):
        if not (isinstance(slippage, (int, float)) and 0 <= slippage < math.inf):
            raise InputError(f"slippage: expected a share of the half-spread ≥ 0, got {slippage!r}")
        if not (isinstance(capital, (int, float)) and 0 < capital < math.inf):
            raise InputError(f"capital: expected ₹ > 0, got {capital!r}")
        self.conn, self.capital, self.slippage, self.rate = conn, float(capital), float(slippage), float(rate)
        self.quotes = quotes or NoQuotes()

    def __repr__(self) -> str:
        return f"PaperBroker(capital=₹{self.capital:,.0f}, slippage={self.slippage}, quotes={self.quotes!r})"

    def fill_price(self, side: str, quote: Quote) -> float:
        """₹/unit a marketable order of `side` fills at: mid ± slippage × half-spread, on the tick against us."""
        return limit_price(side, quote, self.slippage)

    def place(self, request: OrderRequest) -> BrokerOrder:
        quote = self.quotes.quote(request.contract) or request.quote
        order_id = ORDER_ID_PREFIX + request.correlation_id
        lot = self.contract_lot(request.contract)
        if request.quantity % lot:
            order = BrokerOrder(order_id, "REJECTED", request.quantity, reason=f"paper: quantity {request.quantity} "
                                f"is not whole lots of {lot} units of {request.contract}",
                                correlation_id=request.correlation_id)
        elif quote is None or not quote.two_sided:
            order = BrokerOrder(order_id, "REJECTED", request.quantity, reason=f"paper: no two-sided quote for "
                                f"{request.contract} ({quote})", correlation_id=request.correlation_id)
        else:
            price = self.fill_price(request.side, quote)
            marketable = request.price >= price if request.side == "BUY" else request.price <= price
            order = (BrokerOrder(order_id, "TRADED", request.quantity, request.quantity, price,
                                 correlation_id=request.correlation_id) if marketable
                     else BrokerOrder(order_id, "PENDING", request.quantity, correlation_id=request.correlation_id))
        ledger.insert_order(self.conn, request, self.mode)
        ledger.update_order(self.conn, request.correlation_id, order)
        return order

    def contract_lot(self, contract) -> int:
        """Units per lot of the contract: the stored instrument master's, else the lot table's by expiry."""
        stored = contract_lot(self.conn, contract.symbol, contract.expiry)
        return stored if stored is not None else int(lot_sizes(contract.symbol, [contract.expiry])[0])

    def order(self, order_id: str) -> BrokerOrder:
        row = ledger.get_order_by_broker_id(self.conn, order_id)
        if row is None:
            raise DataError(f"paper: no order {order_id}")
        return row.as_broker_order()

    def find(self, correlation_id: str) -> BrokerOrder | None:
        row = ledger.get_order(self.conn, correlation_id)
        return row.as_broker_order() if row is not None and row.broker_order_id else None

    def cancel(self, order_id: str) -> BrokerOrder:
        order = self.order(order_id)
        if order.terminal:
            raise DataError(f"paper: order {order_id} is {order.status} and cannot be cancelled")
        cancelled = BrokerOrder(order.order_id, "CANCELLED", order.quantity, order.filled_quantity,
                                order.average_price, correlation_id=order.correlation_id)
        ledger.update_order(self.conn, order.correlation_id, cancelled)
        return cancelled

    def available_funds(self) -> float:
        return self.capital - sum(ledger.committed_capital(self.conn, self.mode).values())

    def basket_margin(self, requests: Sequence[OrderRequest]) -> float | None:
        """Our SPAN + exposure estimate for the orders together (execution.margin_estimate), on the underlying's
        price and time of the quotes; None when the quote source has no chain for the first order's contract."""
        underlying = self.quotes.underlying(requests[0].contract) if requests else None
        if underlying is None:
            return None
        spot, quoted_at = underlying
        return estimate_basket_margin(requests, spot=spot, as_of=quoted_at, rate=self.rate)

    def kill_switch_active(self) -> bool:
        return False

    def positions(self) -> list[Position]:
        """Net paper positions per contract, named by it; the security id where the orders had one."""
        return [Position(None if sid is None else int(sid), segment, net, contract, buy_average=buy, sell_average=sell)
                for sid, segment, contract, net, buy, sell, _ in ledger.paper_positions(self.conn)]
