"""Placing a planned strategy leg by leg: idempotent, resumable, and never leaving a naked short silently.

For each order of the plan (buys before sells; a leg above the quantity freeze is several orders, its slices, all
placed before the next leg's):
1. look it up by its correlation id — in the `orders` table first, then at the broker — and place it only if
   neither knows it (the NEW row is committed before the order is sent, so a crash at any point is recoverable);
2. poll it to a terminal state (first read at once, then waits doubling from poll_interval to poll_max), cancelling
   what is still open after leg_timeout;
3. record every state change in `orders`.
When an order ends unfilled or partly filled (rejected, cancelled, timed out), the orders still open are cancelled
and the filled quantity of every leg — the sum over its slices — is unwound with opposite LIMIT orders (purpose
'rollback', themselves sliced under the freeze; every slice of the shorts bought back before the longs are sold),
and the strategy becomes 'failed' with the reason. If an unwinding order does not fill, the strategy becomes
'partially_filled' and the note (and an ERROR log line) says which positions are still open; while a short is
still open the long legs are kept, not sold, so that it is never left naked. A strategy that fills
completely becomes 'open' with its entry value (₹ received − paid).

Re-running after a crash resumes the same attempt ('placing' strategies are planned again with the same correlation
ids, slices already recorded kept as they are); a strategy marked again after it failed starts a new attempt. A
session advisory lock keeps two executors off the same strategy.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import BrokerError, InputError, OptionsV4Error
from optionsv4_lib.execution.book_risk import plan_book_risk
from optionsv4_lib.execution import ledger
from optionsv4_lib.execution.broker import OPEN_STATUSES, Broker, BrokerOrder, OrderRequest, opposite
from optionsv4_lib.execution.checks import apply_checks, check_context
from optionsv4_lib.execution.plan import (
    ExecutionPlan,
    PlannedOrder,
    PricePolicy,
    StrategyPlan,
    correlation_id,
    finished_strategies,
    leg_orders,
    limit_price,
    marked_strategies,
    plan_strategy,
)
from optionsv4_lib.execution.quotes import NoQuotes, QuoteSource
from optionsv4_lib.reference.calendar import IST

log = logging.getLogger(__name__)

OutcomeStatus = Literal["open", "failed", "partially_filled", "blocked", "skipped", "interrupted", "done"]
"""How executing a strategy ended; "done": its execution had finished before this run (the reason says how)."""


@dataclass(frozen=True)
class ExecutionPolicy:
    """Seconds to wait for each order to end (leg_timeout) and between status reads (poll_interval, doubling up
    to poll_max), and how limit prices are set."""

    leg_timeout: float = 30.0
    poll_interval: float = 0.02
    poll_max: float = 0.5
    prices: PricePolicy = PricePolicy()

    def __post_init__(self) -> None:
        for name in ("leg_timeout", "poll_interval", "poll_max"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value < float("inf")):
                raise InputError(f"{name}: expected a finite number of seconds ≥ 0, got {value!r}")


@dataclass(frozen=True)
class Event:
    """What the executor just did with an order: "sending" (recorded NEW, about to send), "sent" (the broker
    answered, not yet recorded) or "status" (a new state recorded)."""

    kind: Literal["sending", "sent", "status"]
    request: OrderRequest
    order: BrokerOrder | None = None


Hook = Callable[[Event], None]


@dataclass
class StrategyOutcome:
    """How executing one strategy ended. entry_value in ₹ (+ received, − paid) when it opened."""

    strategy_id: int
    status: OutcomeStatus
    reason: str | None = None
    entry_value: float | None = None
    orders: list[ledger.LedgerOrder] = field(default_factory=list)
    seconds: float = 0.0

    def to_document(self) -> dict[str, Any]:
        return {"strategy_id": self.strategy_id, "status": self.status, "reason": self.reason,
                "entry_value": self.entry_value, "seconds": round(self.seconds, 3),
                "orders": [{"correlation_id": o.correlation_id, "leg_no": o.leg_no, "purpose": o.purpose,
                            "side": o.side, "quantity": o.quantity, "price": o.price, "status": o.status,
                            "filled_quantity": o.filled_quantity, "average_price": o.average_price,
                            "broker_order_id": o.broker_order_id, "error": o.error} for o in self.orders]}


def plan_execution(conn, broker: Broker, settings: Settings, *, strategy_ids: Sequence[int] | None = None,
                   max_strategies: int | None = None, quotes: QuoteSource | None = None,
                   now: datetime | None = None, prices: PricePolicy = PricePolicy()) -> ExecutionPlan:
    """The order plan of the strategies marked for the broker's mode (all, or `strategy_ids`; at most
    `max_strategies`) with the pre-trade checks applied and the risk the cleared ones add (execution.book_risk).
    Sends no order."""
    moment = (now or datetime.now(IST)).astimezone(IST)
    strategies = marked_strategies(conn, strategy_ids, max_strategies, broker.mode)
    plans = [plan_strategy(conn, broker, strategy, quotes or NoQuotes(), today=moment.date(), prices=prices)
             for strategy in strategies]
    context = check_context(conn, broker, settings.profiles, now=moment,
                            exclude=tuple(s.strategy_id for s in strategies))
    apply_checks(plans, context)
    cleared = [plan.strategy.strategy_id for plan in plans if not plan.blocked]
    return ExecutionPlan(broker.mode, moment, plans, finished_strategies(conn, strategy_ids or (), broker.mode),
                         book=plan_book_risk(conn, cleared, settings.capital))


def execute_plan(conn, broker: Broker, plan: ExecutionPlan, *, quotes: QuoteSource | None = None,
                 policy: ExecutionPolicy = ExecutionPolicy(), hook: Hook | None = None) -> list[StrategyOutcome]:
    """Report the plan's finished strategies as done, then execute its strategies in order (blocked ones are
    reported, not placed). An unexpected broker or data error interrupts the run: that strategy stays 'placing' with
    the orders it recorded (a re-run resumes it) and later ones are not started."""
    if plan.mode != broker.mode:
        raise InputError(f"plan: made for {plan.mode} mode, broker is {broker.mode}")
    executor = Executor(conn, broker, quotes=quotes, policy=policy, hook=hook)
    outcomes = [StrategyOutcome(s.strategy_id, "done", f"already {s.status}{f' ({s.note})' if s.note else ''}; "
                                "nothing placed", orders=ledger.orders_of(conn, s.strategy_id))
                for s in plan.finished]
    for strategy_plan in plan.strategies:
        try:
            outcomes.append(executor.execute(strategy_plan))
        except OptionsV4Error as exc:
            sid = strategy_plan.strategy.strategy_id
            reason = f"interrupted: {exc}; it stays placing with its orders as recorded, and a rerun resumes it"
            log.error("strategy %d: %s", sid, reason)
            outcomes.append(StrategyOutcome(sid, "interrupted", reason,
                                            orders=ledger.orders_of(conn, sid, strategy_plan.attempt)))
            break
    return outcomes


def execute_strategy(conn, broker: Broker, settings: Settings, strategy_id: int, *,
                     quotes: QuoteSource | None = None, policy: ExecutionPolicy = ExecutionPolicy(),
                     now: datetime | None = None, hook: Hook | None = None) -> StrategyOutcome:
    """Plan, check and execute one marked strategy (what each mapped task of the execution DAG runs); the checks
    see what strategies executed before it committed. A strategy already executed (open, failed, partially filled:
    a retried task) is reported as it stands."""
    done = ledger.strategy_status(conn, strategy_id)
    if done is not None and done[0] in ("open", "failed", "partially_filled"):
        return StrategyOutcome(strategy_id, done[0], done[1], orders=ledger.orders_of(conn, strategy_id))
    plan = plan_execution(conn, broker, settings, strategy_ids=[strategy_id], quotes=quotes, now=now,
                          prices=policy.prices)
    return Executor(conn, broker, quotes=quotes, policy=policy, hook=hook).execute(plan.strategies[0])


class Executor:
    """Executes strategy plans on one broker, recording orders over `conn` (see the module docstring)."""

    def __init__(self, conn, broker: Broker, *, quotes: QuoteSource | None = None,
                 policy: ExecutionPolicy = ExecutionPolicy(), hook: Hook | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.conn, self.broker, self.policy = conn, broker, policy
        self.quotes = quotes or NoQuotes()
        self._hook = hook or (lambda event: None)
        self._clock, self._sleep = clock, sleep
        self._timed_out: set[str] = set()  # correlation ids this executor cancelled for want of a fill

    def execute(self, plan: StrategyPlan) -> StrategyOutcome:
        sid, started = plan.strategy.strategy_id, self._clock()
        if plan.blocked:
            return StrategyOutcome(sid, "blocked", "; ".join(plan.reasons))
        with ledger.strategy_lock(self.conn, sid) as held:
            if not held:
                return StrategyOutcome(sid, "skipped", "being executed by another process")
            status = (ledger.strategy_status(self.conn, sid) or ("not marked",))[0]
            if status not in ("marked", "placing"):
                return StrategyOutcome(sid, "skipped", f"status is {status}, no longer marked")
            ledger.set_status(self.conn, sid, "placing", mode=self.broker.mode, lots=plan.strategy.lots)
            outcome = self._enter(plan)
        outcome.orders = ledger.orders_of(self.conn, sid, plan.attempt)
        outcome.seconds = self._clock() - started
        log.info("strategy %d (%s): %s%s in %.3f s", sid, plan.strategy.candidate_id, outcome.status,
                 f" — {outcome.reason}" if outcome.reason else "", outcome.seconds)
        return outcome

    # ---------------------------------------------------------------- entry and unwind

    def _enter(self, plan: StrategyPlan) -> StrategyOutcome:
        sid = plan.strategy.strategy_id
        if any(o.purpose == "rollback" for o in ledger.orders_of(self.conn, sid, plan.attempt)):
            return self._unwind(plan, plan.strategy.note or "resumed an interrupted unwind")
        for planned in plan.orders:  # slices of a leg in order: a failed slice stops the entry
            order = self._run(planned.request)
            if not order.complete:
                timed_out = planned.request.correlation_id in self._timed_out
                return self._unwind(plan, _leg_failure(planned, order, self.policy.leg_timeout if timed_out else None))
        entry_value = round(sum((1 if o.side == "SELL" else -1) * o.filled_quantity * (o.average_price or 0.0)
                                for o in ledger.orders_of(self.conn, sid, plan.attempt) if o.purpose == "entry"), 2)
        ledger.set_status(self.conn, sid, "open", entry_value=entry_value)
        return StrategyOutcome(sid, "open", entry_value=entry_value)

    def _unwind(self, plan: StrategyPlan, reason: str) -> StrategyOutcome:
        """Cancel what is open, close every leg's filled entry units (shorts first); failed or partially_filled."""
        sid = plan.strategy.strategy_id
        ledger.set_status(self.conn, sid, "placing", note=reason)  # survives a crash during the unwind
        for row in ledger.orders_of(self.conn, sid, plan.attempt):
            if row.purpose == "entry" and row.status in OPEN_STATUSES and row.broker_order_id:
                ledger.update_order(self.conn, row.correlation_id, self._cancel(row.as_broker_order()))
        orders = ledger.orders_of(self.conn, sid, plan.attempt)
        filled: dict[tuple[int, str], int] = {}  # (leg, entry side) → units filled over the leg's slices
        for row in orders:
            if row.purpose == "entry" and row.filled_quantity:
                filled[row.leg_no, row.side] = filled.get((row.leg_no, row.side), 0) + row.filled_quantity
        planned = {order.request.leg_no: order for order in plan.orders}
        still_open, unwound, short_open = [], 0, False
        for (leg_no, side), units in sorted(filled.items(), key=lambda item: (item[0][1] != "SELL", item[0][0])):
            contract = planned[leg_no].request.contract
            if side == "BUY" and short_open:  # selling it would leave the short naked
                still_open.append(f"leg {leg_no} BUY {units} units of {contract} (kept: it hedges the open short)")
                continue
            recorded = [o for o in orders if o.purpose == "rollback" and o.leg_no == leg_no]
            requests = leg_orders(self._rollback_request(plan, planned[leg_no], side, units),
                                  planned[leg_no].contract_lot, planned[leg_no].freeze_qty, recorded)
            left = units - sum(self._run(request).filled_quantity for request in requests)
            if left:
                still_open.append(f"leg {leg_no} {side} {left} units of {contract}")
                short_open |= side == "SELL"
            else:
                unwound += 1
        if still_open:
            note = (f"{reason}; UNWIND INCOMPLETE — still open: {', '.join(still_open)}; close these positions by "
                    "hand")
            log.error("strategy %d: %s", sid, note)
            ledger.set_status(self.conn, sid, "partially_filled", note=note)
            return StrategyOutcome(sid, "partially_filled", note)
        note = f"{reason}; unwound {unwound} filled leg(s)" if unwound else reason
        ledger.set_status(self.conn, sid, "failed", note=note)
        return StrategyOutcome(sid, "failed", note)

    def _rollback_request(self, plan: StrategyPlan, planned: PlannedOrder, side: str, units: int) -> OrderRequest:
        """The opposite order for a leg's filled `units` (entry `side`), priced to fill (rollback buffer) off a fresh
        quote; leg_orders slices it."""
        original = planned.request
        quote = self.quotes.quote(original.contract)
        if quote is None or not quote.two_sided:
            quote = original.quote
        closing = opposite(side)
        return OrderRequest(correlation_id(original.strategy_id, original.leg_no, "rollback", plan.attempt),
                            original.strategy_id, original.leg_no, "rollback", plan.attempt, original.contract,
                            closing, units, limit_price(closing, quote, self.policy.prices.rollback_buffer), quote)

    # ---------------------------------------------------------------- one order

    def run_order(self, request: OrderRequest) -> BrokerOrder:
        """One order in a terminal state: found by its correlation id (ledger, then broker) or placed, then polled
        (cancelled after leg_timeout) — what exits (execution.exits) reuse."""
        return self._run(request)

    def _run(self, request: OrderRequest) -> BrokerOrder:
        """The order of `request` in a terminal state: found (ledger, then broker) or placed, then polled."""
        order = self._existing(request)
        if order is None:
            order = self._place(request)
        return self._await(request, order)

    def _existing(self, request: OrderRequest) -> BrokerOrder | None:
        row = ledger.get_order(self.conn, request.correlation_id)
        if row is not None and row.broker_order_id:
            return row.as_broker_order()
        found = self.broker.find(request.correlation_id)
        if found is not None:
            ledger.insert_order(self.conn, request, self.broker.mode)
            self._record(request, found)
            return found
        if row is not None and row.status == "REJECTED":  # refused before the broker took it
            return row.as_broker_order()
        return None

    def _place(self, request: OrderRequest) -> BrokerOrder:
        ledger.insert_order(self.conn, request, self.broker.mode)
        self._hook(Event("sending", request))
        try:
            order = self.broker.place(request)
        except (BrokerError, InputError) as exc:  # refused, or no answer: did it arrive anyway?
            found = self.broker.find(request.correlation_id)
            if found is None:
                ledger.fail_order(self.conn, request.correlation_id, str(exc))
                return BrokerOrder("", "REJECTED", request.quantity, reason=str(exc),
                                   correlation_id=request.correlation_id)
            order = found
        self._hook(Event("sent", request, order))
        self._record(request, order)
        return order

    def _await(self, request: OrderRequest, order: BrokerOrder) -> BrokerOrder:
        deadline = self._clock() + self.policy.leg_timeout
        wait = self.policy.poll_interval
        while not order.terminal:
            if self._clock() >= deadline:
                self._timed_out.add(request.correlation_id)
                order = self._cancel(order)
                self._record(request, order)
                break
            latest = self.broker.order(order.order_id)
            if latest != order:
                self._record(request, latest)
            order = latest
            if not order.terminal:
                self._sleep(max(0.0, min(wait, deadline - self._clock())))
                wait = min(wait * 2, self.policy.poll_max)
        return order

    def _cancel(self, order: BrokerOrder) -> BrokerOrder:
        """Cancel an open order; if the broker refuses because it just ended, its final state."""
        try:
            return self.broker.cancel(order.order_id)
        except BrokerError:
            latest = self.broker.order(order.order_id)
            if not latest.terminal:
                raise
            return latest

    def _record(self, request: OrderRequest, order: BrokerOrder) -> None:
        ledger.update_order(self.conn, request.correlation_id, order)
        self._hook(Event("status", request, order))


def _leg_failure(planned: PlannedOrder, order: BrokerOrder, timeout: float | None) -> str:
    """Why a leg failed; timeout: the seconds waited when the executor cancelled it."""
    request = planned.request
    part = f" slice {planned.slice_no} of {planned.slices}" if planned.slice_no is not None else ""
    what = f"leg {request.leg_no}{part} ({request.side} {request.quantity} × {request.contract} @ ₹{request.price:.2f})"
    if order.status == "REJECTED":
        return f"{what} rejected: {order.reason or 'no reason given'}"
    ending = f"cancelled after {timeout:g} s" if timeout is not None else order.status.lower()
    if order.filled_quantity:
        return f"{what} filled {order.filled_quantity} of {order.quantity} units, then {ending}"
    return f"{what} not filled: {ending}"
