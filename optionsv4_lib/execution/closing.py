"""Closing open strategies: exit orders through the Executor, settlement at expiry, and live exits held at the gate.

A strategy's held legs are the filled entry orders of its last attempt, summed per leg over its slices. Its exit is
one order per held leg — or, above the contract's quantity freeze on the exit day, slices of it (plan.leg_orders) —
the opposite side for the filled units, correlation id "OV4-<strategy>-<leg>X<attempt>" (+ "S<slice>" when sliced;
purpose 'exit'), every slice of the shorts bought back before the longs are sold, priced to fill (mid ±
rollback_buffer × half-spread off the quote source's quote). Each goes through Executor.run_order: looked up by
correlation id before it is sent, so a re-run — after a crash mid-exit, or a second monitor pass — finds the orders
already sent and never places an exit twice; exit orders already recorded are kept as they are.

Statuses: open → exiting (the exit is decided; note "EXIT: <rule>") → closed, with
  exit_value   = Σ over exit orders of s × filled units × average price (₹; s = +1 SELL, −1 BUY)
  realized_pnl = entry_value + exit_value (₹, gross of costs; the same Σ over the attempt's entry and exit fills)
An exit order that ends unfilled keeps the strategy 'exiting' with the note "EXIT INCOMPLETE: …" naming the units
still open (an ERROR log line too): a cancelled correlation id is never re-sent, so close those by hand. The other
slices of the leg are still sent: each one filled is exposure closed. While a short leg is still open the long legs
are kept, not sold, so the short is never left naked.

Live exits wait at the same gate as entries: without a live venue the strategy becomes 'exiting' with no exit order
and the note "EXIT PENDING: <rule>" (`exit_pending`). 'exiting' + no exit orders = pending; a later pass with the
gate open resumes it like any interrupted exit.

Paper settlement at expiry (`settle`): the units of each leg not yet exited are closed at intrinsic value (₹/unit) as
one filled exit order written straight to the ledger (broker order id "PAPER-<correlation id>"; no freeze applies to
the exchange's settlement), so the dashboard's P&L from `orders` includes them.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from optionsv4_lib.core.errors import DataError
from optionsv4_lib.execution import ledger
from optionsv4_lib.execution.broker import Broker, BrokerOrder, Contract, OrderRequest, Quote, opposite
from optionsv4_lib.execution.executor import ExecutionPolicy, Executor, Hook
from optionsv4_lib.execution.paper import ORDER_ID_PREFIX
from optionsv4_lib.execution.plan import correlation_id, leg_orders, limit_price
from optionsv4_lib.execution.quotes import NoQuotes, QuoteSource
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.reference.freeze_quantities import freeze_quantity

log = logging.getLogger(__name__)

ExitStatus = Literal["closed", "exiting", "pending", "skipped"]
PENDING_PREFIX, EXIT_PREFIX, INCOMPLETE_PREFIX = "EXIT PENDING: ", "EXIT: ", "EXIT INCOMPLETE: "
GATE_HINT = ("live exit orders need OPTIONSV4_LIVE_TRADING=1 and the monitor's confirm_live_exits with the "
             "confirmation text")


@dataclass(frozen=True)
class HeldLeg:
    """A leg's filled entry orders: its contract, side and units held (lot_size: units per lot of this contract), at
    their average price (₹/unit)."""

    strategy_id: int
    leg_no: int
    attempt: int
    contract: Contract
    side: str
    qty: int
    entry_price: float
    lot_size: int


@dataclass
class ExitOutcome:
    """How an exit ended: closed (with exit_value and realized_pnl, ₹), still exiting (reason says why), pending
    at the live gate, or skipped (not open, or locked by another process)."""

    strategy_id: int
    status: ExitStatus
    reason: str
    exit_value: float | None = None
    realized_pnl: float | None = None
    orders: list[str] = field(default_factory=list)  # the exit orders' correlation ids

    def to_document(self) -> dict:
        return {"strategy_id": self.strategy_id, "status": self.status, "reason": self.reason,
                "exit_value": self.exit_value, "realized_pnl": self.realized_pnl, "orders": self.orders}


def held_legs(conn, strategy_id: int) -> list[HeldLeg]:
    """The strategy's filled entry orders of its last attempt, one HeldLeg per leg (ledger.held_legs)."""
    return [HeldLeg(strategy_id, r["leg_no"], r["attempt"],
                    Contract(r["symbol"], r["instrument"], float(r["strike"]), r["expiry"], r["security_id"],
                             r["exchange_segment"]), r["side"], int(r["qty"]), float(r["entry_price"]),
                    int(r["lot_size"]))
            for r in ledger.held_legs(conn, strategy_id)]


def exit_pending(conn, strategy_id: int, rule: str) -> ExitOutcome:
    """Hold a live exit at the gate: an open strategy becomes 'exiting' with the note "EXIT PENDING: <rule>"."""
    status, note = ledger.strategy_status(conn, strategy_id) or ("not marked", None)
    if status == "open":
        note = f"{PENDING_PREFIX}{rule} — {GATE_HINT}"
        ledger.set_status(conn, strategy_id, "exiting", note=note)
        log.warning("strategy %d: %s", strategy_id, note)
    elif status != "exiting":
        return ExitOutcome(strategy_id, "skipped", f"status is {status}")
    return ExitOutcome(strategy_id, "pending", note or rule)


def close_strategy(conn, broker: Broker, strategy_id: int, rule: str, *, quotes: QuoteSource | None = None,
                   policy: ExecutionPolicy = ExecutionPolicy(), hook: Hook | None = None,
                   today: date | None = None) -> ExitOutcome:
    """Exit an open strategy (or resume an 'exiting' one) on `broker` for the exit rule `rule`, slicing under the
    quantity freeze in force `today` (default: today in IST)."""
    quotes, day = quotes or NoQuotes(), today or datetime.now(IST).date()
    with ledger.strategy_lock(conn, strategy_id) as held:
        if not held:
            return ExitOutcome(strategy_id, "skipped", "being executed by another process")
        status, note = ledger.strategy_status(conn, strategy_id) or ("not marked", None)
        if status not in ("open", "exiting"):
            return ExitOutcome(strategy_id, "skipped", f"status is {status}")
        rule = exit_rule(note) if status == "exiting" else rule
        ledger.set_status(conn, strategy_id, "exiting", note=f"{EXIT_PREFIX}{rule}")
        executor = Executor(conn, broker, quotes=quotes, policy=policy, hook=hook)
        problems, short_open = [], False
        for leg in sorted(held_legs(conn, strategy_id), key=lambda leg: (leg.side != "SELL", leg.leg_no)):
            if leg.side == "BUY" and short_open:  # selling it would leave the short naked
                problems.append(f"leg {leg.leg_no} kept: it hedges a short leg still open")
                continue
            try:
                requests = _exit_requests(conn, leg, quotes, policy.prices.rollback_buffer, day)
                exited = sum(executor.run_order(request).filled_quantity for request in requests)
            except DataError as exc:
                problems.append(f"leg {leg.leg_no}: {exc}")
                exited = 0
            short_open |= leg.side == "SELL" and exited < leg.qty
        return _finish(conn, strategy_id, rule, problems)


def settle(conn, strategy_id: int, values: Mapping[int, float], rule: str) -> ExitOutcome:
    """Close a paper strategy's expired legs (leg_no → intrinsic value, ₹/unit) as filled exit orders; closed once
    every held leg is exited."""
    with ledger.strategy_lock(conn, strategy_id) as held:
        if not held:
            return ExitOutcome(strategy_id, "skipped", "being executed by another process")
        status, mode = ledger.status_and_mode(conn, strategy_id)
        if status not in ("open", "exiting") or mode != "paper":
            return ExitOutcome(strategy_id, "skipped", f"status is {status} ({mode})")
        ledger.set_status(conn, strategy_id, "exiting", note=f"{EXIT_PREFIX}{rule}")
        for leg in held_legs(conn, strategy_id):
            cid = correlation_id(strategy_id, leg.leg_no, "exit", leg.attempt)
            left = leg.qty - sum(o.filled_quantity for o in _exit_orders(conn, leg))
            if leg.leg_no not in values or left <= 0 or ledger.get_order(conn, cid) is not None:
                continue
            value = round(max(float(values[leg.leg_no]), 0.0), 2)
            request = OrderRequest(cid, strategy_id, leg.leg_no, "exit", leg.attempt, leg.contract,
                                   opposite(leg.side), left, value)
            ledger.insert_order(conn, request, "paper")
            ledger.update_order(conn, cid, BrokerOrder(ORDER_ID_PREFIX + cid, "TRADED", left, left, value,
                                                       correlation_id=cid))
        return _finish(conn, strategy_id, rule, [])


def exit_rule(note: str | None) -> str:
    """The exit rule a note of an 'exiting' strategy records."""
    text = note or "exit"
    for prefix in (PENDING_PREFIX, EXIT_PREFIX, INCOMPLETE_PREFIX):
        if text.startswith(prefix):
            text = text.removeprefix(prefix)
    return text.split(" — ", 1)[0].split("; still open", 1)[0]


def _exit_requests(conn, leg: HeldLeg, quotes: QuoteSource, buffer: float, day: date) -> list[OrderRequest]:
    """The leg's exit orders: those already recorded as they are, the units not yet ordered priced to fill off a
    fresh quote and sliced under the freeze in force on `day`."""
    cid = correlation_id(leg.strategy_id, leg.leg_no, "exit", leg.attempt)
    side, recorded = opposite(leg.side), _exit_orders(conn, leg)
    price, quote = 0.0, None
    if leg.qty > sum(o.quantity for o in recorded):
        quote = quotes.quote(leg.contract)
        if quote is None or not quote.two_sided:
            raise DataError(f"no two-sided quote for {leg.contract} ({quote}): exit not sent")
        price, quote = limit_price(side, quote, buffer), Quote(quote.bid, quote.ask)
    whole = OrderRequest(cid, leg.strategy_id, leg.leg_no, "exit", leg.attempt, leg.contract, side, leg.qty, price,
                         quote)
    return leg_orders(whole, leg.lot_size, freeze_quantity(leg.contract.symbol, day), recorded)


def _exit_orders(conn, leg: HeldLeg) -> list[ledger.LedgerOrder]:
    """The exit orders recorded for the leg, in the order they were recorded."""
    return [o for o in ledger.orders_of(conn, leg.strategy_id, leg.attempt)
            if o.purpose == "exit" and o.leg_no == leg.leg_no]


def _finish(conn, strategy_id: int, rule: str, problems: list[str]) -> ExitOutcome:
    """closed when every held leg's units are exited, else still exiting with what is open."""
    legs = held_legs(conn, strategy_id)
    attempt = legs[0].attempt if legs else ledger.last_attempt(conn, strategy_id)
    orders = [o for o in ledger.orders_of(conn, strategy_id, attempt) if o.purpose in ("entry", "exit")]
    exited: dict[int, int] = {}  # leg → units exited over its exit orders
    for o in orders:
        if o.purpose == "exit":
            exited[o.leg_no] = exited.get(o.leg_no, 0) + o.filled_quantity
    still_open = [f"leg {leg.leg_no} {leg.side} {leg.qty - exited.get(leg.leg_no, 0)} units of {leg.contract}"
                  for leg in legs if exited.get(leg.leg_no, 0) < leg.qty]
    ids = [o.correlation_id for o in orders if o.purpose == "exit"]
    if still_open:
        note = f"{INCOMPLETE_PREFIX}{rule}; still open: {', '.join(still_open)}"
        if problems:
            note += f" ({'; '.join(problems)})"
        log.error("strategy %d: %s", strategy_id, note)
        ledger.set_status(conn, strategy_id, "exiting", note=note)
        return ExitOutcome(strategy_id, "exiting", note, orders=ids)
    value = {purpose: round(sum((1 if o.side == "SELL" else -1) * o.filled_quantity * (o.average_price or 0.0)
                                for o in orders if o.purpose == purpose), 2) for purpose in ("entry", "exit")}
    realized = round(value["entry"] + value["exit"], 2)
    ledger.set_status(conn, strategy_id, "closed", exit_value=value["exit"], realized_pnl=realized,
                      note=f"closed: {rule}")
    log.info("strategy %d: closed (%s), realized P&L ₹%.2f", strategy_id, rule, realized)
    return ExitOutcome(strategy_id, "closed", rule, value["exit"], realized, ids)
