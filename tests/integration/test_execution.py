"""Execution end to end on a real PostgreSQL, in paper mode and against the Dhan emulator over HTTP (the real dhanhq
client): a 4-leg iron condor placed buys first with the right units and prices; rejection, partial fill and timeout
unwound; a crash and a re-run never duplicating an order; a 429 storm; the kill switch; reconciliation."""

import logging
from datetime import date

import pytest
from execution_support import (
    CONDOR,
    CONDOR_UNITS,
    FAST,
    NOW,
    DhanEmulator,
    condor_analysis,
    dhan_client,
    mark,
    market,
    net_positions,
    placed,
    register_contracts,
    status_of,
    store_and_mark,
)

from optionsv4_lib.adapters.dhan.broker import DhanBroker
from optionsv4_lib.adapters.pacing import RetryPolicy
from optionsv4_lib.analysis.limits import RiskLimits
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.execution import execute_plan, execute_strategy, marked_strategies, plan_execution, reconcile
from optionsv4_lib.execution.broker import Contract, OrderRequest, Quote
from optionsv4_lib.execution.ledger import orders_of, strategy_lock
from optionsv4_lib.execution.paper import PaperBroker
from optionsv4_lib.execution.plan import finished_strategies
from optionsv4_lib.execution.margin_estimate import estimate_basket_margin
from optionsv4_lib.execution.quotes import ChainQuotes, latest_snapshot_quotes
from optionsv4_lib.jobs.venues import open_venue
from optionsv4_lib.marketdata.snapshots import SnapshotRecorder
from optionsv4_lib.store import connect, transaction

SETTINGS = Settings()
CONDOR_LEGS = [  # (leg_no, side, option type, strike, bid, ask) in execution order: buys first
    (0, "BUY", "PE", 395.0, 2.45, 2.60),
    (3, "BUY", "CE", 520.0, 1.35, 1.45),
    (1, "SELL", "PE", 415.0, 4.25, 4.45),
    (2, "SELL", "CE", 500.0, 2.80, 3.00),
]


class Crash(Exception):
    """The process dying mid-execution (not an OptionsV4Error: nothing catches it)."""


@pytest.fixture
def emulator():
    with DhanEmulator(market()) as running:
        yield running


def dhan_broker(emulator, **options) -> DhanBroker:
    return DhanBroker(dhan_client(emulator, **options))


def paper_broker(conn, **options) -> PaperBroker:
    return PaperBroker(conn, capital=SETTINGS.capital, rate=SETTINGS.risk_free_rate, **options)


def run(conn, broker, strategy_ids=None, hook=None, policy=FAST):
    plan = plan_execution(conn, broker, SETTINGS, strategy_ids=strategy_ids, now=NOW)
    return plan, execute_plan(conn, broker, plan, policy=policy, hook=hook)


def crash_after(kind: str, count: int):
    """A hook that raises Crash at the `count`-th event of `kind` whose order is TRADED (or any, for "sent")."""
    seen = []

    def hook(event):
        if event.kind == kind and (kind == "sent" or event.order.status == "TRADED"):
            seen.append(event)
            if len(seen) == count:
                raise Crash(f"simulated crash at {kind} #{count}")
    return hook


# ---------------------------------------------------------------- the iron condor


def test_paper_iron_condor_fills_buys_first_at_mid_plus_slippage(db):
    [sid] = store_and_mark(db, CONDOR)
    broker = paper_broker(db, slippage=0.5)
    plan, [outcome] = run(db, broker)

    [strategy_plan] = plan.strategies
    assert strategy_plan.reasons == [] and strategy_plan.attempt == 1
    assert [(o.request.leg_no, o.request.side, o.request.contract.option_type, o.request.contract.strike)
            for o in strategy_plan.orders] == [leg[:4] for leg in CONDOR_LEGS]
    assert {o.request.quantity for o in strategy_plan.orders} == {CONDOR_UNITS}
    # limits at the touch (buffer 1): the ask for a buy, the bid for a sell
    assert [o.request.price for o in strategy_plan.orders] == [ask if side == "BUY" else bid
                                                             for _, side, _, _, bid, ask in CONDOR_LEGS]
    assert [o.request.correlation_id for o in strategy_plan.orders] == [f"OV4-{sid}-{leg}E1" for leg, *_ in
                                                                      CONDOR_LEGS]
    assert strategy_plan.margin is None and strategy_plan.required_margin == pytest.approx(295_800.0)
    assert 250 < strategy_plan.costs < 750

    assert outcome.status == "open" and outcome.reason is None
    rows = orders_of(db, sid)
    assert [(r.leg_no, r.side, r.status, r.filled_quantity, r.mode) for r in rows] == [
        (leg, side, "TRADED", CONDOR_UNITS, "paper") for leg, side, *_ in CONDOR_LEGS]
    # mid ± half the half-spread, on the 0.05 tick against us
    assert [r.average_price for r in rows] == [2.6, 1.45, 4.3, 2.85]
    assert all(r.broker_order_id == "PAPER-" + r.correlation_id for r in rows)
    entry_value = CONDOR_UNITS * (-2.6 - 1.45 + 4.3 + 2.85)
    assert status_of(db, sid) == ("open", "paper", 12, pytest.approx(entry_value), None)


def test_emulator_iron_condor_sends_limit_margin_orders_in_units(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    broker = dhan_broker(emulator)
    plan, [outcome] = run(db, broker)

    assert outcome.status == "open", outcome.reason
    asked = [request.endpoint for request in emulator.requests]
    assert asked.count("margincalculator_multi") == 1 and "margincalculator" not in asked  # one basket, no per leg
    orders = [order.request for order in plan.strategies[0].orders]
    chain = market().option_chain("TATAPOWER", orders[0].contract.expiry).iloc[0]
    moment = dict(spot=float(chain["underlying_price"]), as_of=chain["quoted_at"].to_pydatetime(), rate=0.065)
    per_leg = sum(estimate_basket_margin([order], **moment) for order in orders)
    assert plan.strategies[0].margin == pytest.approx(estimate_basket_margin(orders, **moment), abs=0.01)
    assert plan.strategies[0].margin < 0.6 * per_leg  # the hedge benefit Dhan's basket calculator gives
    paper = paper_broker(db, quotes=ChainQuotes(market()))
    assert paper.basket_margin(orders) == pytest.approx(plan.strategies[0].margin, abs=0.01)
    sent = placed(emulator)
    assert [(o["transactionType"], o["drvOptionType"], o["drvStrikePrice"]) for o in sent] == [
        (side, "PUT" if kind == "PE" else "CALL", strike) for _, side, kind, strike, _, _ in CONDOR_LEGS]
    assert {(o["quantity"], o["orderType"], o["productType"], o["exchangeSegment"]) for o in sent} == {
        (CONDOR_UNITS, "LIMIT", "MARGIN", "NSE_FNO")}
    assert [o["price"] for o in sent] == [2.6, 1.45, 4.25, 2.8]
    assert [o["correlationId"] for o in sent] == [f"OV4-{sid}-{leg}E1" for leg, *_ in CONDOR_LEGS]
    rows = orders_of(db, sid)
    assert [(r.broker_order_id, r.status, r.filled_quantity, r.mode) for r in rows] == [
        (o["orderId"], "TRADED", CONDOR_UNITS, "live") for o in sent]
    assert sorted(net_positions(emulator).values()) == [-CONDOR_UNITS, -CONDOR_UNITS, CONDOR_UNITS, CONDOR_UNITS]
    status, mode, lots, entry_value, _ = status_of(db, sid)
    assert (status, mode, lots) == ("open", "live", 12)
    assert entry_value == pytest.approx(CONDOR_UNITS * (-2.6 - 1.45 + 4.25 + 2.8))


def test_marked_lots_scale_the_units(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live", lots=3)
    register_contracts(db, emulator)
    _, [outcome] = run(db, dhan_broker(emulator))
    assert outcome.status == "open"
    assert {o["quantity"] for o in placed(emulator)} == {3 * 1450}
    assert status_of(db, sid)[2] == 3


def test_live_venue_prices_and_identifies_contracts_from_dhans_chain(db, emulator, migrated_database):
    """The live path as the CLI and DAG open it: DhanMarketData's chain gives quotes and security ids."""
    [sid] = store_and_mark(db, CONDOR, mode="live")
    settings = Settings(dhan_client_id=emulator.client_id, dhan_access_token=emulator.access_token,
                        dhan_base_url=emulator.url, dhan_chain_interval=0.0,
                        database_url=migrated_database)  # no instruments rows: the chain's security_id is used
    venue = open_venue("live", db, settings, today=NOW.date())
    plan = plan_execution(db, venue.broker, settings, now=NOW, quotes=venue.quotes)
    assert plan.strategies[0].reasons == []
    assert {o.quote_source for o in plan.strategies[0].orders} == {"quotes"}
    [outcome] = execute_plan(db, venue.broker, plan, quotes=venue.quotes, policy=FAST)
    assert outcome.status == "open"
    assert [int(o["securityId"]) for o in placed(emulator)] == [
        emulator.security_id("TATAPOWER", o.request.contract.expiry, o.request.contract.strike,
                             o.request.contract.option_type) for o in plan.strategies[0].orders]
    assert status_of(db, sid)[0] == "open"


def test_live_plan_without_a_security_id_is_blocked(db, emulator):
    store_and_mark(db, CONDOR, mode="live")  # neither legs nor instruments know the contracts
    plan = plan_execution(db, dhan_broker(emulator), SETTINGS, now=NOW)
    assert len(plan.strategies[0].reasons) == 4
    assert "no Dhan security id for TATAPOWER 29-Dec-2026 395 PE" in plan.strategies[0].reasons[0]
    assert "optionsv4 import-scrip-master" in plan.strategies[0].reasons[0]


# ---------------------------------------------------------------- failures unwind


def test_leg_3_rejected_unwinds_legs_1_and_2_and_fails_the_strategy(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    emulator.reject_leg(3, reason="RMS: margin exceeds available balance")
    _, [outcome] = run(db, dhan_broker(emulator))

    assert outcome.status == "failed"
    assert "leg 1 (SELL 17400 × TATAPOWER 29-Dec-2026 415 PE @ ₹4.25) rejected: RMS: margin exceeds" \
        in outcome.reason and "unwound 2 filled leg(s)" in outcome.reason
    sent = placed(emulator)
    assert [(o["transactionType"], o["drvStrikePrice"], o["orderStatus"]) for o in sent] == [
        ("BUY", 395.0, "TRADED"), ("BUY", 520.0, "TRADED"), ("SELL", 415.0, "REJECTED"),
        ("SELL", 395.0, "TRADED"), ("SELL", 520.0, "TRADED")]
    assert set(net_positions(emulator).values()) == {0}  # flat: nothing left open
    rows = orders_of(db, sid)
    assert [(r.leg_no, r.purpose, r.side, r.status) for r in rows] == [
        (0, "entry", "BUY", "TRADED"), (3, "entry", "BUY", "TRADED"), (1, "entry", "SELL", "REJECTED"),
        (0, "rollback", "SELL", "TRADED"), (3, "rollback", "SELL", "TRADED")]
    assert rows[2].error == "RMS: margin exceeds available balance"
    assert [r.correlation_id for r in rows[3:]] == [f"OV4-{sid}-0R1", f"OV4-{sid}-3R1"]
    status, _, _, entry_value, note = status_of(db, sid)
    assert status == "failed" and entry_value is None and note == outcome.reason


def test_partial_fill_is_cancelled_then_unwound_shorts_first(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    emulator.partial_fill(3, 5 * 1450)
    _, [outcome] = run(db, dhan_broker(emulator))

    assert outcome.status == "failed"
    assert "filled 7250 of 17400 units, then cancelled after 0.4 s" in outcome.reason
    sent = placed(emulator)
    assert [(o["transactionType"], o["drvStrikePrice"], o["quantity"], o["orderStatus"]) for o in sent] == [
        ("BUY", 395.0, CONDOR_UNITS, "TRADED"), ("BUY", 520.0, CONDOR_UNITS, "TRADED"),
        ("SELL", 415.0, CONDOR_UNITS, "CANCELLED"),
        ("BUY", 415.0, 7250, "TRADED"),  # the short is bought back before the longs are sold
        ("SELL", 395.0, CONDOR_UNITS, "TRADED"), ("SELL", 520.0, CONDOR_UNITS, "TRADED")]
    assert sent[2]["filledQty"] == 7250
    assert set(net_positions(emulator).values()) == {0}
    assert orders_of(db, sid)[2].filled_quantity == 7250


def test_unfilled_first_leg_times_out_with_nothing_to_unwind(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    emulator.leave_pending(1)
    _, [outcome] = run(db, dhan_broker(emulator))
    assert outcome.status == "failed"
    assert outcome.reason.endswith("not filled: cancelled after 0.4 s")
    assert [o["orderStatus"] for o in placed(emulator)] == ["CANCELLED"]
    assert status_of(db, sid)[0] == "failed"


def test_an_unwind_that_does_not_fill_is_never_silent(db, emulator, caplog):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    emulator.reject_leg(3)  # the first sell
    emulator.reject_leg(4, reason="RMS: blocked")  # the first unwinding order
    with caplog.at_level(logging.ERROR, logger="optionsv4_lib.execution.executor"):
        _, [outcome] = run(db, dhan_broker(emulator))
    assert outcome.status == "partially_filled"
    assert "UNWIND INCOMPLETE — still open: leg 0 BUY 17400 units of TATAPOWER 29-Dec-2026 395 PE" in outcome.reason
    assert "close these positions by hand" in outcome.reason
    assert status_of(db, sid)[0] == "partially_filled" and status_of(db, sid)[4] == outcome.reason
    assert any("UNWIND INCOMPLETE" in record.message for record in caplog.records)


def test_paper_limit_below_the_fill_price_times_out_and_is_unwound(db):
    [sid] = store_and_mark(db, CONDOR)
    # fills beyond the touch: buys never reach
    broker = paper_broker(db, slippage=2.0)
    _, [outcome] = run(db, broker)
    assert outcome.status == "failed" and "not filled: cancelled after" in outcome.reason
    assert [(r.status, r.filled_quantity) for r in orders_of(db, sid)] == [("CANCELLED", 0)]


# ---------------------------------------------------------------- idempotency


@pytest.mark.parametrize("venue", ["paper", "emulator"])
def test_crash_after_leg_2_then_rerun_completes_without_duplicates(db, store_url, emulator, venue):
    [sid] = store_and_mark(db, CONDOR, mode="live" if venue == "emulator" else "paper")
    register_contracts(db, emulator)
    broker = dhan_broker(emulator) if venue == "emulator" else paper_broker(db)
    with pytest.raises(Crash):
        run(db, broker, hook=crash_after("status", 2))
    assert status_of(db, sid)[0] == "placing"
    assert [r.status for r in orders_of(db, sid)] == ["TRADED", "TRADED"]

    fresh = connect(store_url)  # a new process: new connection, new broker
    try:
        broker = dhan_broker(emulator) if venue == "emulator" else paper_broker(fresh)
        plan, [outcome] = run(fresh, broker)
    finally:
        fresh.close()
    assert plan.strategies[0].resume and plan.strategies[0].attempt == 1
    assert outcome.status == "open"
    rows = orders_of(db, sid)
    assert [r.correlation_id for r in rows] == [f"OV4-{sid}-{leg}E1" for leg, *_ in CONDOR_LEGS]
    if venue == "emulator":
        assert [o["correlationId"] for o in placed(emulator)] == [r.correlation_id for r in rows]


def test_crash_between_send_and_record_finds_the_order_at_the_broker(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    with pytest.raises(Crash):
        run(db, dhan_broker(emulator), hook=crash_after("sent", 2))
    rows = orders_of(db, sid)
    assert [(r.status, r.broker_order_id is None) for r in rows] == [("TRADED", False), ("NEW", True)]

    _, [outcome] = run(db, dhan_broker(emulator))
    assert outcome.status == "open"
    assert len(placed(emulator)) == 4  # the second leg was found by its correlation id, not sent again
    assert orders_of(db, sid)[1].broker_order_id == placed(emulator)[1]["orderId"]


def test_a_crash_during_the_unwind_resumes_the_unwind(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    emulator.reject_leg(3)

    def crash_at_first_rollback(event):
        if event.kind == "status" and event.request.purpose == "rollback" and event.order.status == "TRADED":
            raise Crash("simulated crash while unwinding")

    with pytest.raises(Crash):
        run(db, dhan_broker(emulator), hook=crash_at_first_rollback)
    status, *_, note = status_of(db, sid)
    assert status == "placing" and "rejected" in note  # the reason survives the crash

    plan, [outcome] = run(db, dhan_broker(emulator))
    assert plan.strategies[0].resume and outcome.status == "failed"
    assert outcome.reason == f"{note}; unwound 2 filled leg(s)"
    assert len(placed(emulator)) == 5 and set(net_positions(emulator).values()) == {0}


def test_executing_an_already_executed_strategy_reports_it_as_it_stands(db):
    """What a retried DAG task sees after its strategy opened."""
    [sid] = store_and_mark(db, CONDOR)
    broker = paper_broker(db)
    first = execute_strategy(db, broker, SETTINGS, sid, now=NOW, policy=FAST)
    again = execute_strategy(db, broker, SETTINGS, sid, now=NOW, policy=FAST)
    assert first.status == again.status == "open"
    assert [o.correlation_id for o in again.orders] == [o.correlation_id for o in first.orders]
    assert len(orders_of(db, sid)) == 4


def test_a_failed_strategy_marked_again_starts_a_new_attempt(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    emulator.leave_pending(1)
    run(db, dhan_broker(emulator))
    with transaction(db) as cur:
        cur.execute("UPDATE strategy_execution_status SET status = 'marked' WHERE strategy_id = %s", (sid,))
    plan, [outcome] = run(db, dhan_broker(emulator))
    assert plan.strategies[0].attempt == 2 and outcome.status == "open"
    assert [r.correlation_id for r in orders_of(db, sid, attempt=2)] == [f"OV4-{sid}-{leg}E2"
                                                                         for leg, *_ in CONDOR_LEGS]


def test_a_strategy_locked_by_another_executor_is_skipped(db, store_url):
    [sid] = store_and_mark(db, CONDOR)
    other = connect(store_url)
    try:
        with strategy_lock(other, sid) as held:
            assert held
            _, [outcome] = run(db, paper_broker(db))
    finally:
        other.close()
    assert (outcome.status, outcome.reason) == ("skipped", "being executed by another process")
    assert orders_of(db, sid) == [] and status_of(db, sid)[0] == "marked"


# ---------------------------------------------------------------- the broker pushing back


def test_a_429_storm_on_orders_backs_off_then_succeeds(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    waits = []
    broker = dhan_broker(emulator, sleep=waits.append)
    emulator.fail_next("place_order", status=429, error_code="DH-904", times=3)
    _, [outcome] = run(db, broker)
    assert outcome.status == "open"
    assert sum(r.endpoint == "place_order" for r in emulator.requests) == 4 + 3
    assert len(placed(emulator)) == 4
    backoff = [w for w in waits if w > 0]
    assert len(backoff) == 3 and backoff[0] < backoff[-1]  # exponential, with jitter


def test_a_rate_limit_that_outlasts_the_retries_fails_the_leg_and_unwinds(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    broker = dhan_broker(emulator, retry=RetryPolicy(attempts=2, base_delay=0.0))
    sending = []

    def storm_on_leg_2(event):
        if event.kind == "sending":
            sending.append(event)
            if len(sending) == 2:
                emulator.fail_next("place_order", status=429, error_code="DH-904", times=2)

    _, [outcome] = run(db, broker, hook=storm_on_leg_2)
    assert outcome.status == "failed"
    assert "leg 3 (BUY 17400 × TATAPOWER 29-Dec-2026 520 CE @ ₹1.45) rejected: place order" in outcome.reason
    assert "too many requests" in outcome.reason and "unwound 1 filled leg(s)" in outcome.reason
    assert set(net_positions(emulator).values()) == {0}
    assert [(r.leg_no, r.purpose, r.status) for r in orders_of(db, sid)] == [
        (0, "entry", "TRADED"), (3, "entry", "REJECTED"), (0, "rollback", "TRADED")]


def test_kill_switch_blocks_every_strategy(db, emulator):
    sids = store_and_mark(db, CONDOR, "HCLTECH:iron-condor:3", mode="live")
    register_contracts(db, emulator)
    emulator.kill_switch = True
    plan, outcomes = run(db, dhan_broker(emulator))
    assert [o.status for o in outcomes] == ["blocked", "blocked"]
    assert all("kill switch is active" in reason for p in plan.strategies for reason in p.reasons)
    assert placed(emulator) == [] and [status_of(db, sid)[0] for sid in sids] == ["marked", "marked"]


# ---------------------------------------------------------------- planning and reconciliation


def test_marked_strategies_in_mark_order_with_a_maximum_and_named_errors(db):
    sids = store_and_mark(db, CONDOR, "HCLTECH:iron-condor:3", "SBIN:iron-condor:2")
    live = mark(db, "HEROMOTOCO:iron-condor:3", mode="live")
    assert [s.strategy_id for s in marked_strategies(db)] == [*sids, live]
    assert [s.strategy_id for s in marked_strategies(db, mode="paper")] == sids
    assert [s.strategy_id for s in marked_strategies(db, mode="live")] == [live]
    with pytest.raises(InputError, match=rf"strategy {live}: marked for live execution, not paper"):
        marked_strategies(db, [live], mode="paper")
    assert [s.strategy_id for s in marked_strategies(db, max_strategies=2)] == sids[:2]
    assert [s.strategy_id for s in marked_strategies(db, [sids[2], sids[0]])] == [sids[2], sids[0]]
    with pytest.raises(InputError, match=r"strategy 999: not marked for execution"):
        marked_strategies(db, [sids[0], 999])
    with pytest.raises(InputError, match=r"max_strategies: expected a whole number ≥ 1, got 0"):
        marked_strategies(db, max_strategies=0)


def test_ids_whose_execution_finished_are_left_out_of_the_marked_and_listed_as_finished(db):
    """Issue 19.16: a rerun naming a strategy that opened before the crash executes the others."""
    sids = store_and_mark(db, CONDOR, "HCLTECH:iron-condor:3")
    with transaction(db) as cur:
        cur.execute("UPDATE strategy_execution_status SET status = 'open' WHERE strategy_id = %s", (sids[0],))
    assert [s.strategy_id for s in marked_strategies(db, sids)] == [sids[1]]
    assert [(s.strategy_id, s.status) for s in finished_strategies(db, sids)] == [(sids[0], "open")]
    with pytest.raises(InputError, match=rf"strategy {sids[0]}: marked for paper execution, not live"):
        finished_strategies(db, sids, mode="live")
    assert finished_strategies(db, []) == []


def test_each_mode_executes_the_strategies_marked_for_it(db, emulator):
    paper, live = store_and_mark(db, CONDOR), mark(db, "HCLTECH:iron-condor:3", mode="live")
    register_contracts(db, emulator)
    plan, [outcome] = run(db, paper_broker(db))
    assert [p.strategy.strategy_id for p in plan.strategies] == paper and outcome.status == "open"
    assert status_of(db, live)[0] == "marked"
    plan, [outcome] = run(db, dhan_broker(emulator))
    assert [p.strategy.strategy_id for p in plan.strategies] == [live] and outcome.status == "open"
    assert {o["drvStrikePrice"] for o in placed(emulator)} == {1280.0, 1360.0, 1900.0, 1980.0}


def test_caps_count_the_strategies_cleared_or_executed_before(db):
    """Two strategies of one industry under a 1.5 % industry cap: the second is blocked in the plan, and again
    when it is executed alone after the first has opened (what each mapped DAG task does)."""
    first, second = store_and_mark(db, CONDOR, "HCLTECH:iron-condor:3")
    with transaction(db) as cur:
        cur.execute("UPDATE strategies SET industry = 'Power' WHERE strategy_id = %s", (second,))
    settings = Settings(profiles={"conservative": RiskLimits(max_loss_per_trade=0.01, max_industry=0.015,
                                                             max_total=0.4)})
    broker = PaperBroker(db, capital=settings.capital, rate=settings.risk_free_rate)
    plan = plan_execution(db, broker, settings, now=NOW)
    assert plan.strategies[0].reasons == []
    assert plan.strategies[1].reasons == [
        "industry cap: Power would hold ₹583,120 at risk, over ₹450,000 (1.5% of capital; ₹295,800 held)"]
    assert [o.status for o in execute_plan(db, broker, plan, policy=FAST)] == ["open", "blocked"]
    alone = execute_strategy(db, broker, settings, second, now=NOW, policy=FAST)
    assert alone.status == "blocked" and alone.reason.startswith("industry cap: Power would hold ₹583,120")
    assert status_of(db, second)[0] == "marked"


def test_paper_quotes_come_from_the_latest_recorded_snapshot(db, tmp_path):
    [sid] = store_and_mark(db, CONDOR)
    legs = condor_analysis().legs
    expiry = legs.loc[legs["candidate_id"] == CONDOR, "expiry"].iloc[0].date()
    SnapshotRecorder(market(), tmp_path).option_chain("TATAPOWER", expiry)
    quotes = latest_snapshot_quotes(tmp_path)
    broker = paper_broker(db, quotes=quotes, slippage=0.0)
    plan = plan_execution(db, broker, SETTINGS, now=NOW, quotes=quotes)
    assert {o.quote_source for o in plan.strategies[0].orders} == {"quotes"}
    [outcome] = execute_plan(db, broker, plan, quotes=quotes, policy=FAST)
    assert outcome.status == "open"
    assert [r.average_price for r in orders_of(db, sid)] == [2.55, 1.4, 4.35, 2.9]  # mids on the tick


def test_reconcile_refreshes_open_orders_and_snapshots_positions(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    broker = dhan_broker(emulator)
    run(db, broker)
    summary = reconcile(db, broker, now=NOW)
    assert summary["orders_open"] == [] and summary["positions"] == 4
    with transaction(db) as cur:
        cur.execute("SELECT mode, strategy_id, net_qty FROM positions_snapshots ORDER BY net_qty")
        assert cur.fetchall() == [("live", sid, -CONDOR_UNITS)] * 2 + [("live", sid, CONDOR_UNITS)] * 2


def test_paper_reconcile_snapshots_paper_positions_by_contract(db):
    """Before: paper contracts have no security id (no scrip master), so reconcile recorded 0 positions."""
    [sid] = store_and_mark(db, CONDOR)
    broker = PaperBroker(db, capital=SETTINGS.capital, rate=SETTINGS.risk_free_rate)
    run(db, broker)
    assert {o.security_id for o in orders_of(db, sid)} == {None}
    summary = reconcile(db, broker, now=NOW)
    assert summary["orders_open"] == [] and summary["positions"] == 4
    with transaction(db) as cur:
        cur.execute("""SELECT mode, strategy_id, security_id, trading_symbol, net_qty FROM positions_snapshots
                       WHERE leg_no IS NULL ORDER BY trading_symbol""")
        rows = cur.fetchall()
        cur.execute("SELECT DISTINCT expiry FROM strategy_details WHERE candidate_id = %s", (CONDOR,))
        [(expiry,)] = cur.fetchall()
    expected = [("paper", sid, None, f"TATAPOWER {expiry:%d-%b-%Y} {strike:g} {kind}",
                 (1 if side == "BUY" else -1) * CONDOR_UNITS) for _, side, kind, strike, *_ in CONDOR_LEGS]
    assert rows == sorted(expected, key=lambda row: row[3])


def test_executor_refuses_a_plan_for_another_mode(db, emulator):
    store_and_mark(db, CONDOR)
    plan = plan_execution(db, paper_broker(db), SETTINGS, now=NOW)
    with pytest.raises(InputError, match="plan: made for paper mode, broker is live"):
        execute_plan(db, dhan_broker(emulator), plan)


def test_paper_refuses_a_quantity_that_is_not_whole_lots_of_its_contract(db):
    """TATAPOWER's lot is 1450 (include/data/lot_sizes.csv): 1450 units fill, 725 are rejected as NSE would."""
    [sid] = store_and_mark(db, CONDOR)
    broker = PaperBroker(db, capital=SETTINGS.capital, rate=SETTINGS.risk_free_rate)
    contract = Contract("TATAPOWER", "PE", 395.0, date(2026, 11, 24))
    assert broker.contract_lot(contract) == 1450
    quote = Quote(2.5, 2.7)
    whole = broker.place(OrderRequest(f"OV4-{sid}-0E1", sid, 0, "entry", 1, contract, "BUY", 1450, 2.7, quote))
    half = broker.place(OrderRequest(f"OV4-{sid}-0E2", sid, 0, "entry", 2, contract, "BUY", 725, 2.7, quote))
    assert whole.status == "TRADED"
    assert half.status == "REJECTED" and "quantity 725 is not whole lots of 1450 units" in half.reason
