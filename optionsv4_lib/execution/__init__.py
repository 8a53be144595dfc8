"""Execution of marked strategies: plan (orders, prices, costs, margin, pre-trade checks) → gate (paper or live) →
place leg by leg (idempotent, resumable, unwinding on failure) → reconcile.

    venue = jobs.venues.open_venue(resolve_mode("paper", confirm=True, settings=settings), conn, settings)
    plan = plan_execution(conn, venue.broker, settings, quotes=venue.quotes)      # sends nothing
    outcomes = execute_plan(conn, venue.broker, plan, quotes=venue.quotes)

Modules: broker (protocol and records) · quotes · plan · slicing (legs above the quantity freeze as several
orders) · checks · mode (the live gate, brokers per mode) · executor · exits (closing open strategies, expiry
settlement, live exits held at the gate) · ledger (the orders and status tables) · reconcile · paper (PaperBroker)
· dhan (DhanBroker).
"""

from optionsv4_lib.execution.broker import Broker, BrokerOrder, Contract, Mode, OrderRequest, Position, Quote
from optionsv4_lib.execution.checks import CheckContext, apply_checks, check_context
from optionsv4_lib.execution.executor import (
                                              Event,
                                              ExecutionPolicy,
                                              Executor,
                                              StrategyOutcome,
                                              execute_plan,
                                              execute_strategy,
                                              plan_execution,
)
from optionsv4_lib.execution.mode import CONFIRMATION_TEXT, LiveTradingRefused, Venue, resolve_mode
from optionsv4_lib.execution.plan import ExecutionPlan, PricePolicy, StrategyPlan, correlation_id, marked_strategies
from optionsv4_lib.execution.reconcile import reconcile

__all__ = [
    "Broker", "BrokerOrder", "CONFIRMATION_TEXT", "CheckContext", "Contract", "Event", "ExecutionPlan",
    "ExecutionPolicy", "Executor", "LiveTradingRefused", "Mode", "OrderRequest", "Position", "PricePolicy", "Quote",
    "StrategyOutcome", "StrategyPlan", "Venue", "apply_checks", "check_context", "correlation_id", "execute_plan",
    "execute_strategy", "marked_strategies", "plan_execution", "reconcile", "resolve_mode",
]
