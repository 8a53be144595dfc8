"""The broker protocol: what the executor needs from a trading venue, and the records it exchanges with one.

Quantities are units (lots × lot size), prices ₹ per unit. Order statuses are Dhan's, which the `orders` table
also uses: NEW (recorded by us, not yet sent or not yet acknowledged) → TRANSIT → PENDING → PART_TRADED → TRADED,
or REJECTED / CANCELLED / EXPIRED. Two brokers implement the protocol: execution.paper.PaperBroker (the default;
mode "paper") and execution.dhan.DhanBroker (mode "live").
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from optionsv4_lib.core.domain import Side

Mode = Literal["paper", "live"]
MODES: tuple[Mode, ...] = ("paper", "live")
Purpose = Literal["entry", "exit", "rollback", "adjustment"]
OrderStatus = Literal["NEW", "TRANSIT", "PENDING", "PART_TRADED", "TRADED", "REJECTED", "CANCELLED", "EXPIRED"]
OPEN_STATUSES: frozenset[str] = frozenset({"NEW", "TRANSIT", "PENDING", "PART_TRADED"})
TERMINAL_STATUSES: frozenset[str] = frozenset({"TRADED", "REJECTED", "CANCELLED", "EXPIRED"})

EXCHANGE_SEGMENT = "NSE_FNO"  # Dhan's segment of NSE equity derivatives
PRODUCT_TYPE = "MARGIN"  # carry-forward F&O (Dhan's NRML)
ORDER_TYPE = "LIMIT"


def opposite(side: Side) -> Side:
    return "SELL" if side == "BUY" else "BUY"


@dataclass(frozen=True)
class Contract:
    """One option contract: symbol, CE/PE, strike (₹) and expiry; Dhan's security id when known."""

    symbol: str
    option_type: str
    strike: float
    expiry: date
    security_id: int | None = None
    exchange_segment: str = EXCHANGE_SEGMENT

    def __str__(self) -> str:
        return f"{self.symbol} {self.expiry:%d-%b-%Y} {self.strike:g} {self.option_type}"


@dataclass(frozen=True)
class Quote:
    """Best bid and ask, ₹ per unit (0 when that side is empty)."""

    bid: float
    ask: float

    @property
    def two_sided(self) -> bool:
        return 0 < self.bid <= self.ask

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True)
class OrderRequest:
    """One LIMIT order to send: the contract, side, units and limit price (₹/unit), with the correlation id that
    makes it idempotent and the strategy leg it belongs to. `quote` is the quote the price was computed from."""

    correlation_id: str
    strategy_id: int
    leg_no: int
    purpose: Purpose
    attempt: int
    contract: Contract
    side: Side
    quantity: int
    price: float
    quote: Quote | None = None
    order_type: str = ORDER_TYPE
    product_type: str = PRODUCT_TYPE


@dataclass(frozen=True)
class BrokerOrder:
    """The broker's view of one order: status, units filled and their average price (₹/unit), and why it was
    rejected if it was."""

    order_id: str
    status: OrderStatus
    quantity: int
    filled_quantity: int = 0
    average_price: float | None = None
    reason: str | None = None
    correlation_id: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def complete(self) -> bool:
        """Fully filled."""
        return self.status == "TRADED" and self.filled_quantity == self.quantity


@dataclass(frozen=True)
class Position:
    """A net position the broker holds in one security (units: > 0 long, < 0 short; ₹ amounts). A paper position in
    a contract without a security id has none, and its contract as trading_symbol."""

    security_id: int | None
    exchange_segment: str
    net_quantity: int
    trading_symbol: str | None = None
    buy_average: float | None = None
    sell_average: float | None = None
    last_price: float | None = None
    unrealized_pnl: float | None = None
    realized_pnl: float | None = None


class Broker(Protocol):
    """A trading venue. `mode` is "paper" or "live"; it is recorded with every order."""

    mode: Mode

    def place(self, request: OrderRequest) -> BrokerOrder:
        """Send one order; never retried by the broker after an unanswered request (look it up with find)."""
        ...

    def order(self, order_id: str) -> BrokerOrder:
        """The current state of an order."""
        ...

    def find(self, correlation_id: str) -> BrokerOrder | None:
        """The order sent with this correlation id, or None if the broker has none."""
        ...

    def cancel(self, order_id: str) -> BrokerOrder:
        """Cancel an open order; returns its state afterwards (fills made before the cancel stay)."""
        ...

    def available_funds(self) -> float:
        """₹ available for new positions."""
        ...

    def basket_margin(self, requests: Sequence[OrderRequest]) -> float | None:
        """₹ of margin the orders need together, as one basket (hedges offset), or None when the broker cannot tell
        (the strategy's capital at risk stands in)."""
        ...

    def kill_switch_active(self) -> bool:
        """Whether trading is disabled for the day."""
        ...

    def positions(self) -> list[Position]:
        """Net positions held."""
        ...
