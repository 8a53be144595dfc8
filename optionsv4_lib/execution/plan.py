"""The order plan of marked strategies: every leg as a LIMIT order with its units, price, costs and correlation id,
the margin it needs — and the reasons it cannot be placed. Planning sends no order.

Legs are ordered buys (the hedges) before sells, each group by leg number, so a short is only sold once the longs
that cover it are held. Units = lots × ratio × lot size, where lots are the marked lots (default: the analysed lots)
and lot size the strategy's units a lot (the LCM of its legs' contract lots), so every leg is whole lots of its own
contract (the leg's stored contract_lot), which its orders and slices are multiples of.
A limit price is mid ± buffer × half-spread (buffer 1 = at the touch: the ask for a buy, the bid for a sell),
rounded to the 0.05 tick against us. The quote is the quote source's (live chain or latest snapshot), else the
analysed leg's bid and ask. A leg of more units than the contract's quantity freeze on the day
(reference.freeze_quantities) is planned as several orders, slices of whole lots (execution.slicing); each slice
is one PlannedOrder, a leg's slices consecutive, larger first.

Correlation ids are "OV4-<strategy>-<leg><E|X|R|A><attempt>" (entry, exit, rollback, adjustment) for a leg sent as
one order, and that id + "S<slice>" (slice 1, 2, … of the leg, e.g. OV4-123-1E1S3) for each order of a sliced leg;
at most 25 characters (Dhan's limit), deterministic, so a re-run of an attempt finds the orders it already sent.
A resumed attempt keeps the orders already recorded for a leg as they are and slices only the units not yet
ordered (`leg_orders`), so a freeze that changed in between never re-sizes a slice that was sent.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from optionsv4_lib.core.errors import DataError, InputError, OptionsV4Error
from optionsv4_lib.execution import ledger
from optionsv4_lib.execution.broker import Broker, Contract, Mode, OrderRequest, Purpose, Quote
from optionsv4_lib.execution.quotes import QuoteSource
from optionsv4_lib.execution.slicing import slice_units
from optionsv4_lib.reference.costs import leg_costs
from optionsv4_lib.reference.freeze_quantities import freeze_quantity
from optionsv4_lib.store.instruments import option_security_id

TICK = 0.05  # ₹, NSE option tick size
_PURPOSE_LETTER = {"entry": "E", "exit": "X", "rollback": "R", "adjustment": "A"}
_CORRELATION_ID = re.compile(r"[A-Za-z0-9_-]{1,25}")


@dataclass(frozen=True)
class PricePolicy:
    """How limit prices are set: buffer is the share of the half-spread beyond the mid (entries), rollback_buffer
    the same for unwinding orders, which must fill."""

    buffer: float = 1.0
    rollback_buffer: float = 3.0

    def __post_init__(self) -> None:
        for name in ("buffer", "rollback_buffer"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 <= value < math.inf):
                raise InputError(f"{name}: expected a share of the half-spread ≥ 0, got {value!r}")


def correlation_id(strategy_id: int, leg_no: int, purpose: Purpose, attempt: int,
                   slice_no: int | None = None) -> str:
    """The order's idempotency key, e.g. OV4-123-0E1 (strategy 123, leg 0, entry, attempt 1), or OV4-123-0E1S2 for
    slice 2 of that leg's order (slice_no None: the leg is one order)."""
    if purpose not in _PURPOSE_LETTER:
        raise InputError(f"purpose: unknown {purpose!r}; expected one of {', '.join(_PURPOSE_LETTER)}")
    if slice_no is not None and (not isinstance(slice_no, int) or slice_no < 1):
        raise InputError(f"slice_no: expected a whole number ≥ 1 or None, got {slice_no!r}")
    text = f"OV4-{strategy_id}-{leg_no}{_PURPOSE_LETTER[purpose]}{attempt}{'' if slice_no is None else f'S{slice_no}'}"
    if not _CORRELATION_ID.fullmatch(text):
        raise InputError(f"correlation_id: {text!r} is longer than 25 characters (strategy {strategy_id}, leg "
                         f"{leg_no}, attempt {attempt}, slice {slice_no})")
    return text


def leg_orders(base: OrderRequest, lot_size: int, freeze_qty: int,
               recorded: Sequence[ledger.LedgerOrder] = ()) -> list[OrderRequest]:
    """The orders that carry `base` — one leg's whole quantity (units) for one purpose — within the freeze: the
    orders already recorded for it, as recorded (ids, units, limit prices), then the units not yet ordered in slices
    numbered on from them. One order in all keeps the unsliced correlation id."""
    left = base.quantity - sum(order.quantity for order in recorded)
    if left < 0:
        raise DataError(f"orders: leg {base.leg_no} has {base.quantity - left} units of {base.purpose} orders "
                        f"recorded, more than its {base.quantity}")
    sizes = slice_units(left, lot_size, freeze_qty) if left else []
    sliced = len(recorded) + len(sizes) > 1
    requests = [replace(base, correlation_id=order.correlation_id, quantity=order.quantity,
                        price=base.price if order.price is None else order.price) for order in recorded]
    for number, units in enumerate(sizes, start=len(recorded) + 1):
        requests.append(replace(base, quantity=units, correlation_id=correlation_id(
            base.strategy_id, base.leg_no, base.purpose, base.attempt, number if sliced else None)))
    return requests


def limit_price(side: str, quote: Quote, buffer: float) -> float:
    """₹/unit: mid + buffer × half-spread for a BUY (rounded up to the tick), mid − … for a SELL (rounded down,
    at least one tick)."""
    half_spread = (quote.ask - quote.bid) / 2
    if side == "BUY":
        return round(math.ceil(round((quote.mid + buffer * half_spread) / TICK, 6)) * TICK, 2)
    return round(max(TICK, math.floor(round((quote.mid - buffer * half_spread) / TICK, 6)) * TICK), 2)


@dataclass(frozen=True)
class MarkedStrategy:
    """A strategy marked for execution (or being placed), with its analysis run. Money in ₹ for the marked lots."""

    strategy_id: int
    status: str
    mode: str
    note: str | None
    lots: int
    run_id: int
    trade_date: date
    risk_profile: str
    capital: float
    candidate_id: str
    symbol: str
    industry: str
    strategy: str
    risk_type: str
    lot_size: int
    capital_at_risk: float
    max_loss: float
    net_premium: float
    quoted_at: datetime | None = None  # the run's latest quote time (None when not stored)


@dataclass(frozen=True)
class PlannedOrder:
    """One order of a leg — the whole leg, or slice `slice_no` of `slices` — with where its quote came from
    ("quotes" or "analysis"), its costs (₹) and the contract's freeze quantity (units per order) on the day."""

    request: OrderRequest
    lots: float  # lots of the leg's contract
    contract_lot: int  # units per lot of the leg's contract
    quote_source: str
    costs: float
    freeze_qty: int
    slice_no: int | None = None
    slices: int = 1

    @property
    def value(self) -> float:
        """₹ of premium: + received for a sale, − paid for a purchase, at the limit price."""
        sign = 1 if self.request.side == "SELL" else -1
        return sign * self.request.price * self.request.quantity


@dataclass
class StrategyPlan:
    """What executing one strategy would send. reasons: why it cannot be placed now (empty = cleared)."""

    strategy: MarkedStrategy
    attempt: int
    resume: bool
    orders: list[PlannedOrder]
    margin: float | None = None  # ₹ from the broker's basket calculator; None: the capital at risk stands in
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return bool(self.reasons)

    @property
    def required_margin(self) -> float:
        """₹ the broker will block: its margin figure, else the capital at risk."""
        return self.strategy.capital_at_risk if self.margin is None else self.margin

    @property
    def costs(self) -> float:
        return sum(order.costs for order in self.orders)

    @property
    def entry_value(self) -> float:
        return sum(order.value for order in self.orders)

    def to_document(self) -> dict[str, Any]:
        s = self.strategy
        return {
            "strategy_id": s.strategy_id, "candidate_id": s.candidate_id, "symbol": s.symbol, "industry": s.industry,
            "strategy": s.strategy, "risk_type": s.risk_type, "trade_date": s.trade_date.isoformat(),
            "risk_profile": s.risk_profile, "lots": s.lots, "lot_size": s.lot_size, "attempt": self.attempt,
            "resume": self.resume, "capital_at_risk": s.capital_at_risk, "max_loss": _finite(s.max_loss),
            "margin": self.margin, "required_margin": self.required_margin, "costs": self.costs,
            "entry_value": self.entry_value, "blocked": self.blocked, "reasons": self.reasons,
            "warnings": self.warnings,
            "orders": [{
                "leg_no": o.request.leg_no, "correlation_id": o.request.correlation_id,
                "contract": str(o.request.contract),
                "security_id": o.request.contract.security_id, "side": o.request.side, "lots": o.lots,
                "quantity": o.request.quantity, "bid": o.request.quote.bid if o.request.quote else None,
                "ask": o.request.quote.ask if o.request.quote else None, "limit_price": o.request.price,
                "quote_source": o.quote_source, "costs": o.costs, "slice_no": o.slice_no, "slices": o.slices,
                "freeze_qty": o.freeze_qty,
            } for o in self.orders],
        }


@dataclass
class ExecutionPlan:
    """The plans of the strategies asked for, in execution order, for one mode; `finished`: those asked for by id
    whose execution had already finished (finished_strategies), reported and not planned."""

    mode: Mode
    created_at: datetime
    strategies: list[StrategyPlan]
    finished: list[MarkedStrategy] = field(default_factory=list)
    book: dict[str, Any] | None = None  # the cleared strategies' greeks and stress table (execution.book_risk)

    @property
    def cleared(self) -> list[StrategyPlan]:
        return [plan for plan in self.strategies if not plan.blocked]

    def to_document(self) -> dict[str, Any]:
        return {"mode": self.mode, "created_at": self.created_at.isoformat(),
                "cleared": [plan.strategy.strategy_id for plan in self.cleared],
                "strategies": [plan.to_document() for plan in self.strategies],
                "finished": [{"strategy_id": s.strategy_id, "status": s.status, "note": s.note} for s in self.finished],
                "book": self.book}


def marked_strategies(conn, strategy_ids: Sequence[int] | None = None, max_strategies: int | None = None,
                      mode: Mode | None = None) -> list[MarkedStrategy]:
    """Strategies marked for execution (in `mode`, if given) or left mid-placement ('placing'), oldest mark first;
    only `strategy_ids` (in that order) when given — InputError naming any that is not marked, or marked for the
    other mode; those whose execution already finished are left out (finished_strategies) — and at most
    `max_strategies`."""
    if max_strategies is not None and (not isinstance(max_strategies, int) or max_strategies < 1):
        raise InputError(f"max_strategies: expected a whole number ≥ 1, got {max_strategies!r}")
    chosen = [s for s in _asked(conn, strategy_ids, mode) if s.status in ("marked", "placing")]
    return chosen[:max_strategies] if max_strategies else chosen


def finished_strategies(conn, strategy_ids: Sequence[int], mode: Mode | None = None) -> list[MarkedStrategy]:
    """Those of `strategy_ids` whose execution already finished (any status past 'placing': open, failed, closed,
    …), in that order: a rerun after a crash reports them and executes the rest. InputError as marked_strategies."""
    return [s for s in _asked(conn, strategy_ids, mode) if s.status not in ("marked", "placing")] \
        if strategy_ids else []


def _asked(conn, strategy_ids: Sequence[int] | None, mode: Mode | None) -> list[MarkedStrategy]:
    """Every marked or placing strategy (of `mode`), or `strategy_ids` whatever their status past marking, in that
    order; InputError naming an id never marked, or marked for the other mode."""
    ids = [int(i) for i in strategy_ids or ()]
    found = {}
    for *head, capital_at_risk, max_loss, net_premium, analysed_lots, quoted_at in ledger.marked_rows(conn, ids):
        scale = head[4] / analysed_lots
        found[head[0]] = MarkedStrategy(*head, capital_at_risk * scale, max_loss * scale, net_premium * scale,
                                        quoted_at)
    if not ids:
        return [s for s in found.values() if mode is None or s.mode == mode]
    problems = []
    for i in ids:
        if i not in found:
            problems.append(f"strategy {i}: not marked for execution")
        elif mode is not None and found[i].mode != mode:
            problems.append(f"strategy {i}: marked for {found[i].mode} execution, not {mode}")
    if problems:
        raise InputError("; ".join(problems))
    return [found[i] for i in dict.fromkeys(ids)]


def plan_strategy(conn, broker: Broker, strategy: MarkedStrategy, quotes: QuoteSource, *, today: date,
                  prices: PricePolicy = PricePolicy()) -> StrategyPlan:
    """The orders of one strategy (buys first), their costs and the broker's margin; problems become reasons."""
    resume, last = strategy.status == "placing", ledger.last_attempt(conn, strategy.strategy_id)
    attempt = max(last, 1) if resume else last + 1  # a re-run resumes its attempt; a new mark starts the next
    plan = StrategyPlan(strategy, attempt, resume, [])
    if strategy.mode != broker.mode:
        plan.reasons.append(f"marked for {strategy.mode} execution, not {broker.mode}")
    legs = ledger.strategy_legs(conn, strategy.run_id, strategy.candidate_id)
    if not legs:
        plan.reasons.append(f"no legs stored for {strategy.candidate_id}")
    recorded = [o for o in ledger.orders_of(conn, strategy.strategy_id, attempt) if o.purpose == "entry"] \
        if resume else []
    for leg in legs:
        try:
            plan.orders += _planned_orders(conn, broker, strategy, leg, attempt, quotes, today, prices,
                                           [o for o in recorded if o.leg_no == leg["leg_no"]])
        except (DataError, InputError) as exc:
            plan.reasons.append(f"leg {leg['leg_no']}: {exc}")
    plan.orders.sort(key=lambda o: (o.request.side != "BUY", o.request.leg_no))  # stable: slices stay in order
    for order in {o.request.leg_no: o for o in plan.orders}.values():
        if order.quote_source == "analysis" and broker.mode == "live":
            plan.warnings.append(f"leg {order.request.leg_no}: no live quote; priced from the analysis quote of "
                                 f"{strategy.trade_date}")
    if not plan.reasons:
        try:
            plan.margin = broker.basket_margin([order.request for order in plan.orders])
        except OptionsV4Error as exc:
            plan.reasons.append(f"margin: {exc}")
    return plan


def _planned_orders(conn, broker: Broker, strategy: MarkedStrategy, leg: dict, attempt: int, quotes: QuoteSource,
                    today: date, prices: PricePolicy, recorded: Sequence[ledger.LedgerOrder]) -> list[PlannedOrder]:
    """The leg's orders: one, or its slices under the freeze in force `today` (those in `recorded` as recorded)."""
    if leg["instrument"] not in ("CE", "PE"):
        raise InputError(f"instrument {leg['instrument']}: only option legs are executed")
    units = strategy.lots * leg["ratio"] * strategy.lot_size
    lot = int(leg["contract_lot"])
    if units != round(units) or round(units) % lot:
        raise InputError(f"quantity: {strategy.lots} lots × ratio {leg['ratio']} × lot size {strategy.lot_size} is "
                         f"not a whole number of the contract's lots of {lot} units")
    contract = Contract(strategy.symbol, leg["instrument"], float(leg["strike"]), leg["expiry"],
                        _security_id(conn, strategy.symbol, leg, quotes))
    if contract.security_id is None and broker.mode == "live":
        raise DataError(f"no Dhan security id for {contract}: import a current scrip master "
                        "(optionsv4 import-scrip-master)")
    quote, source = quotes.quote(contract), "quotes"
    if quote is None and leg["bid"] is not None and leg["ask"] is not None:
        quote, source = Quote(float(leg["bid"]), float(leg["ask"])), "analysis"
    if quote is None or not quote.two_sided:
        raise DataError(f"no two-sided quote for {contract} ({quote})")
    price = limit_price(leg["side"], quote, prices.buffer)
    freeze_qty = freeze_quantity(strategy.symbol, today)
    whole = OrderRequest(correlation_id(strategy.strategy_id, leg["leg_no"], "entry", attempt),
                         strategy.strategy_id, leg["leg_no"], "entry", attempt, contract, leg["side"],
                         int(round(units)), price, quote)
    requests = leg_orders(whole, lot, freeze_qty, recorded)
    sliced = len(requests) > 1
    return [PlannedOrder(request, request.quantity / lot, lot, source,
                         float(leg_costs("OPTION", request.side, request.price, request.quantity, today).total),
                         freeze_qty, number if sliced else None, len(requests))
            for number, request in enumerate(requests, start=1)]


def _security_id(conn, symbol: str, leg: dict, quotes: QuoteSource) -> int | None:
    """The leg's stored security id, else the scrip master's (`instruments`), else the quote source's."""
    if leg["security_id"] is not None:
        return int(leg["security_id"])
    try:
        return option_security_id(conn, symbol, leg["expiry"], float(leg["strike"]), leg["instrument"])
    except DataError:
        pass
    return quotes.security_id(Contract(symbol, leg["instrument"], float(leg["strike"]), leg["expiry"]))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
