"""Legs above NSE's quantity freeze, end to end on a real PostgreSQL, in paper mode and against the Dhan emulator over
HTTP (the real dhanhq client; the emulator refuses an order above the freeze as Dhan does): placed as slices, buys
first; the preview shows them; a crash between slices and a re-run places only the missing slices; a rejected or
partly filled slice unwinds every filled slice with no naked short; exits and expiry settlement close sliced legs.

The TATAPOWER iron condor (lots of 1,450; freeze 65,250 units = 45 lots in include/data/freeze_quantities.csv) is
marked at 100 lots (3 slices a leg: 34 + 33 + 33 lots) or 225 lots (5 slices of 45), under risk limits wide enough
for it."""

import pytest
import typer
from execution_support import (
    CONDOR,
    FAST,
    NOW,
    TRADE_DATE,
    DhanEmulator,
    dhan_client,
    market,
    net_positions,
    placed,
    register_contracts,
    status_of,
    store_and_mark,
)
from typer.testing import CliRunner

from optionsv4_lib.adapters.dhan.broker import DhanBroker
from optionsv4_lib.analysis.limits import RiskLimits
from optionsv4_lib.cli.execute import execute
from optionsv4_lib.config import Settings
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.execution import execute_plan, plan_execution
from optionsv4_lib.execution.closing import close_strategy, settle
from optionsv4_lib.execution.ledger import orders_of
from optionsv4_lib.execution.monitor_pass import holdings
from optionsv4_lib.execution.paper import PaperBroker
from optionsv4_lib.execution.quotes import ChainQuotes
from optionsv4_lib.jobs.execution import plan_text
from optionsv4_lib.store import connect, transaction

SETTINGS = Settings(profiles={"conservative": RiskLimits(max_loss_per_trade=0.2, max_industry=0.3, max_total=0.6)})
LOT, FREEZE = 1450, 65_250
LEGS = [(0, "BUY", 395.0), (3, "BUY", 520.0), (1, "SELL", 415.0), (2, "SELL", 500.0)]  # execution order
SLICES_100 = [34 * LOT, 33 * LOT, 33 * LOT]  # 100 lots = 145,000 units a leg
SLICES_225 = [45 * LOT] * 5
NIFTY_SPREAD = "NIFTY:bear-call-spread:1"  # leg 0 SELL 26400 CE, leg 1 BUY 26600 CE; lots of 65, freeze 1800


class Crash(Exception):
    """The process dying mid-execution (not an OptionsV4Error: nothing catches it)."""


@pytest.fixture
def emulator():
    with DhanEmulator(market(), balance=1e10) as running:  # funds for hundreds of lots
        yield running


def dhan_broker(emulator) -> DhanBroker:
    return DhanBroker(dhan_client(emulator))


def marked_on(conn, emulator, venue: str, lots: int) -> tuple[int, DhanBroker | PaperBroker]:
    """The condor marked at `lots` for the venue ("paper", or "emulator" as a live strategy), and the venue's broker."""
    [sid] = store_and_mark(conn, CONDOR, mode="live" if venue == "emulator" else "paper", lots=lots)
    register_contracts(conn, emulator)
    return sid, dhan_broker(emulator) if venue == "emulator" else paper_broker(conn)


def paper_broker(conn) -> PaperBroker:
    return PaperBroker(conn, capital=SETTINGS.capital, quotes=ChainQuotes(market()), rate=SETTINGS.risk_free_rate)


def run(conn, broker, hook=None):
    plan = plan_execution(conn, broker, SETTINGS, now=NOW, quotes=ChainQuotes(market()))
    return plan, execute_plan(conn, broker, plan, quotes=ChainQuotes(market()), policy=FAST, hook=hook)


def crash_after(kind: str, count: int, purpose: str = "entry"):
    """A hook that raises Crash at the `count`-th event of `kind` for orders of `purpose` whose order is TRADED (or
    any, for "sent")."""
    seen = []

    def hook(event):
        if event.kind == kind and event.request.purpose == purpose and (
                kind == "sent" or event.order.status == "TRADED"):
            seen.append(event)
            if len(seen) == count:
                raise Crash(f"simulated crash at {purpose} {kind} #{count}")
    return hook


def slice_ids(sid: int, leg: int, purpose: str, count: int) -> list[str]:
    return [f"OV4-{sid}-{leg}{purpose}1S{k}" for k in range(1, count + 1)]


def never_naked(orders: list[dict]) -> bool:
    """Whether, after every fill in placement order, the units held short never exceed the units held long."""
    net: dict[str, int] = {}
    for order in orders:
        sign = 1 if order["transactionType"] == "BUY" else -1
        net[order["securityId"]] = net.get(order["securityId"], 0) + sign * order["filledQty"]
        if -sum(q for q in net.values() if q < 0) > sum(q for q in net.values() if q > 0):
            return False
    return True


# ---------------------------------------------------------------- placing slices


def test_paper_condor_above_the_freeze_is_placed_in_slices_buys_first(db):
    [sid] = store_and_mark(db, CONDOR, lots=100)
    plan, [outcome] = run(db, paper_broker(db))

    [strategy_plan] = plan.strategies
    assert strategy_plan.reasons == []
    assert [(o.request.leg_no, o.request.side, o.request.quantity, o.request.correlation_id, o.slice_no)
            for o in strategy_plan.orders] == [
        (leg, side, units, cid, k) for leg, side, _ in LEGS
        for k, (units, cid) in enumerate(zip(SLICES_100, slice_ids(sid, leg, "E", 3)), start=1)]
    assert {(o.freeze_qty, o.slices) for o in strategy_plan.orders} == {(FREEZE, 3)}
    text = plan_text(plan.to_document())
    assert (f"  BUY   145,000 × TATAPOWER 29-Dec-2026 395 PE @ ₹2.60 (bid 2.45 / ask 2.60, quotes) in 3 slices of "
            f"≤ 65,250 units (1 × 49,300 + 2 × 47,850): OV4-{sid}-0E1S1 … OV4-{sid}-0E1S3") in text

    assert outcome.status == "open", outcome.reason
    rows = orders_of(db, sid)
    assert [(r.correlation_id, r.quantity, r.status, r.filled_quantity) for r in rows] == [
        (o.request.correlation_id, o.request.quantity, "TRADED", o.request.quantity) for o in strategy_plan.orders]
    legs = holdings(db)  # the monitor sees one position per leg, its slices summed
    assert sorted(zip(legs["leg_no"], legs["qty"])) == [(leg, 145_000.0) for leg in range(4)]
    prices = {r.leg_no: r.average_price for r in rows}
    assert status_of(db, sid)[3] == pytest.approx(145_000 * (-prices[0] - prices[3] + prices[1] + prices[2]))


def test_emulator_receives_every_slice_within_the_freeze_buys_before_sells(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live", lots=100)
    register_contracts(db, emulator)
    _, [outcome] = run(db, dhan_broker(emulator))

    assert outcome.status == "open", outcome.reason
    sent = placed(emulator)
    assert [(o["transactionType"], o["drvStrikePrice"], o["quantity"], o["correlationId"]) for o in sent] == [
        (side, strike, units, cid) for leg, side, strike in LEGS
        for units, cid in zip(SLICES_100, slice_ids(sid, leg, "E", 3))]
    assert all(o["quantity"] <= FREEZE and o["orderStatus"] == "TRADED" for o in sent)
    assert sorted(net_positions(emulator).values()) == [-145_000, -145_000, 145_000, 145_000]
    assert never_naked(sent)


def test_nifty_one_lot_over_the_freeze_is_two_slices_and_a_freeze_off_the_lot_rounds_down(db, emulator):
    """NIFTY: lots of 65, freeze 1,800 units → at most 27 lots (1,755 units) an order."""
    [sid] = store_and_mark(db, NIFTY_SPREAD, mode="live", lots=27)
    register_contracts(db, emulator)

    def planned(lots: int) -> list[tuple]:
        with transaction(db) as cur:
            cur.execute("UPDATE strategy_execution_status SET lots = %s WHERE strategy_id = %s", (lots, sid))
        plan = plan_execution(db, dhan_broker(emulator), SETTINGS, now=NOW)
        assert plan.strategies[0].reasons == []
        return [(o.request.leg_no, o.request.quantity, o.request.correlation_id) for o in plan.strategies[0].orders]

    assert planned(27) == [(1, 1755, f"OV4-{sid}-1E1"), (0, 1755, f"OV4-{sid}-0E1")]  # at the limit: unsliced
    assert planned(277)[:3] == [(1, 1690, f"OV4-{sid}-1E1S1"), (1, 1690, f"OV4-{sid}-1E1S2"),
                                (1, 1625, f"OV4-{sid}-1E1S3")]  # 18,005 units: 2 × 26 lots + 9 × 25
    assert planned(28) == [(1, 910, f"OV4-{sid}-1E1S1"), (1, 910, f"OV4-{sid}-1E1S2"),
                           (0, 910, f"OV4-{sid}-0E1S1"), (0, 910, f"OV4-{sid}-0E1S2")]
    _, [outcome] = run(db, dhan_broker(emulator))
    assert outcome.status == "open", outcome.reason
    assert [(o["transactionType"], o["quantity"]) for o in placed(emulator)] == [("BUY", 910)] * 2 + [
        ("SELL", 910)] * 2


# ---------------------------------------------------------------- crash and re-run


@pytest.mark.parametrize("venue", ["paper", "emulator"])
def test_a_crash_between_slices_then_a_rerun_places_only_the_missing_slices(db, store_url, emulator, venue):
    sid, broker = marked_on(db, emulator, venue, lots=100)
    with pytest.raises(Crash):
        run(db, broker, hook=crash_after("status", 4))  # leg 0's three slices and leg 3's first are filled
    assert [r.correlation_id for r in orders_of(db, sid)] == [*slice_ids(sid, 0, "E", 3), f"OV4-{sid}-3E1S1"]

    fresh = connect(store_url)  # a new process: new connection, new broker
    try:
        plan, [outcome] = run(fresh, dhan_broker(emulator) if venue == "emulator" else paper_broker(fresh))
    finally:
        fresh.close()
    assert plan.strategies[0].resume and outcome.status == "open"
    ids = [r.correlation_id for r in orders_of(db, sid)]
    assert ids == [cid for leg, _, _ in LEGS for cid in slice_ids(sid, leg, "E", 3)]
    if venue == "emulator":
        assert [o["correlationId"] for o in placed(emulator)] == ids  # 12 orders: none sent twice
        assert sorted(net_positions(emulator).values()) == [-145_000, -145_000, 145_000, 145_000]


def test_a_crash_between_sending_a_slice_and_recording_it_finds_it_at_the_broker(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live", lots=100)
    register_contracts(db, emulator)
    with pytest.raises(Crash):
        run(db, dhan_broker(emulator), hook=crash_after("sent", 5))  # leg 3's slice 2 sent, not recorded
    assert [(r.correlation_id, r.broker_order_id is None) for r in orders_of(db, sid)][-1] == (
        f"OV4-{sid}-3E1S2", True)

    _, [outcome] = run(db, dhan_broker(emulator))
    assert outcome.status == "open"
    assert len(placed(emulator)) == 12
    assert orders_of(db, sid)[4].broker_order_id == placed(emulator)[4]["orderId"]


# ---------------------------------------------------------------- a slice fails: unwind


def test_slice_3_of_a_5_slice_short_leg_rejected_unwinds_every_filled_slice(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live", lots=225)
    register_contracts(db, emulator)
    emulator.reject_leg(13, reason="RMS: margin exceeds available balance")  # leg 1 (SELL 370 PE), slice 3
    _, [outcome] = run(db, dhan_broker(emulator))

    assert outcome.status == "failed"
    assert ("leg 1 slice 3 of 5 (SELL 65250 × TATAPOWER 29-Dec-2026 415 PE @ ₹4.25) rejected: RMS: margin "
            "exceeds available balance; unwound 3 filled leg(s)") == outcome.reason
    sent = placed(emulator)
    assert [(o["transactionType"], o["drvStrikePrice"], o["quantity"], o["orderStatus"]) for o in sent] == (
        [("BUY", 395.0, 65_250, "TRADED")] * 5 + [("BUY", 520.0, 65_250, "TRADED")] * 5
        + [("SELL", 415.0, 65_250, "TRADED")] * 2 + [("SELL", 415.0, 65_250, "REJECTED")]
        + [("BUY", 415.0, 65_250, "TRADED")] * 2  # the short's two filled slices bought back first
        + [("SELL", 395.0, 65_250, "TRADED")] * 5 + [("SELL", 520.0, 65_250, "TRADED")] * 5)
    assert [o["correlationId"] for o in sent[13:]] == (
        slice_ids(sid, 1, "R", 2) + slice_ids(sid, 0, "R", 5) + slice_ids(sid, 3, "R", 5))
    assert set(net_positions(emulator).values()) == {0} and never_naked(sent)
    assert status_of(db, sid)[0] == "failed"


def test_a_partly_filled_slice_is_cancelled_and_its_fill_unwound_with_the_rest(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live", lots=225)
    register_contracts(db, emulator)
    emulator.partial_fill(13, 10 * LOT)  # leg 1's slice 3 fills 10 of its 45 lots, then hangs
    _, [outcome] = run(db, dhan_broker(emulator))

    assert outcome.status == "failed"
    assert "leg 1 slice 3 of 5 (SELL 65250 × TATAPOWER 29-Dec-2026 415 PE @ ₹4.25) filled 14500 of 65250 units, " \
        "then cancelled after 0.4 s" in outcome.reason
    sent = placed(emulator)
    assert sent[12]["orderStatus"] == "CANCELLED" and sent[12]["filledQty"] == 14_500
    # 2 × 65,250 + 14,500 = 145,000 units short = 100 lots, bought back in 3 slices before any long is sold
    assert [(o["transactionType"], o["drvStrikePrice"], o["quantity"]) for o in sent[13:16]] == [
        ("BUY", 415.0, units) for units in SLICES_100]
    assert {o["transactionType"] for o in sent[16:]} == {"SELL"} and len(sent) == 26
    assert set(net_positions(emulator).values()) == {0} and never_naked(sent)


def test_a_rollback_slice_that_does_not_fill_is_never_silent(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live", lots=225)
    register_contracts(db, emulator)
    emulator.reject_leg(13)  # leg 1's slice 3
    emulator.reject_leg(15, reason="RMS: blocked")  # the buy-back's slice 2
    _, [outcome] = run(db, dhan_broker(emulator))
    assert outcome.status == "partially_filled"
    assert ("UNWIND INCOMPLETE — still open: leg 1 SELL 65250 units of TATAPOWER 29-Dec-2026 415 PE, "
            "leg 0 BUY 326250 units of TATAPOWER 29-Dec-2026 395 PE (kept: it hedges the open short), "
            "leg 3 BUY 326250 units of TATAPOWER 29-Dec-2026 520 CE (kept: it hedges the open short); close these "
            "positions by hand") in outcome.reason
    assert status_of(db, sid)[0] == "partially_filled"
    assert sorted(net_positions(emulator).values()) == [-65_250, 326_250, 326_250]  # the longs still cover it
    assert never_naked(placed(emulator))


@pytest.mark.parametrize("venue", ["paper", "emulator"])
def test_an_exit_whose_short_cannot_be_bought_back_keeps_the_longs(db, emulator, venue):
    sid, broker = marked_on(db, emulator, venue, lots=100)
    assert run(db, broker)[1][0].status == "open"
    if venue == "emulator":
        emulator.reject_leg(14, reason="RMS: blocked")  # leg 1's second buy-back slice
        quotes = ChainQuotes(market())
    else:
        quotes = _NoQuoteFor(ChainQuotes(market()), leg_strike=415.0)  # leg 1 cannot be priced: nothing sent

    outcome = close_strategy(db, broker, sid, "stop loss", quotes=quotes, policy=FAST, today=TRADE_DATE)
    assert outcome.status == "exiting"
    assert "leg 0 kept: it hedges a short leg still open" in outcome.reason
    assert "leg 3 kept: it hedges a short leg still open" in outcome.reason
    exits = [r for r in orders_of(db, sid) if r.purpose == "exit"]
    assert {r.leg_no for r in exits} <= {1, 2}  # no long was sold
    if venue == "emulator":
        assert sorted(net_positions(emulator).values()) == [-33 * LOT, 0, 145_000, 145_000]
        assert never_naked(placed(emulator))


class _NoQuoteFor:
    """Quotes as given, but none for the put at one strike (an illiquid short leg on the exit day)."""

    def __init__(self, quotes, leg_strike: float):
        self.quotes, self.strike = quotes, leg_strike

    def quote(self, contract):
        if contract.strike == self.strike and contract.option_type == "PE":
            return None
        return self.quotes.quote(contract)


def test_a_crash_during_a_sliced_unwind_resumes_it_without_a_second_buy_back(db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live", lots=225)
    register_contracts(db, emulator)
    emulator.reject_leg(13)
    with pytest.raises(Crash):
        run(db, dhan_broker(emulator), hook=crash_after("status", 1, "rollback"))  # after the first buy-back slice
    assert status_of(db, sid)[0] == "placing"

    plan, [outcome] = run(db, dhan_broker(emulator))
    assert plan.strategies[0].resume and outcome.status == "failed"
    ids = [o["correlationId"] for o in placed(emulator)]
    assert len(ids) == len(set(ids)) == 25 and set(net_positions(emulator).values()) == {0}


# ---------------------------------------------------------------- exits


@pytest.mark.parametrize("venue", ["paper", "emulator"])
def test_exits_slice_and_buy_back_every_short_slice_first(db, emulator, venue):
    sid, broker = marked_on(db, emulator, venue, lots=100)
    assert run(db, broker)[1][0].status == "open"

    outcome = close_strategy(db, broker, sid, "stop loss", quotes=ChainQuotes(market()), policy=FAST,
                             today=TRADE_DATE)
    assert outcome.status == "closed", outcome.reason
    exits = [r for r in orders_of(db, sid) if r.purpose == "exit"]
    assert [(r.leg_no, r.side, r.quantity, r.correlation_id) for r in exits] == [
        (leg, side, units, cid) for leg, side in ((1, "BUY"), (2, "BUY"), (0, "SELL"), (3, "SELL"))
        for units, cid in zip(SLICES_100, slice_ids(sid, leg, "X", 3))]
    assert outcome.orders == [r.correlation_id for r in exits]
    assert {r.status for r in exits} == {"TRADED"}
    entry_value, exit_value = status_of(db, sid)[3], outcome.exit_value
    assert outcome.realized_pnl == pytest.approx(entry_value + exit_value)
    if venue == "emulator":
        assert set(net_positions(emulator).values()) == {0} and never_naked(placed(emulator))


def test_an_exit_interrupted_between_slices_finishes_once(db):
    [sid] = store_and_mark(db, CONDOR, lots=100)
    broker = paper_broker(db)
    run(db, broker)
    with pytest.raises(Crash):
        close_strategy(db, broker, sid, "time exit", quotes=ChainQuotes(market()), policy=FAST, today=TRADE_DATE,
                       hook=crash_after("status", 4, "exit"))
    assert status_of(db, sid)[0] == "exiting"
    outcome = close_strategy(db, broker, sid, "time exit", quotes=ChainQuotes(market()), policy=FAST,
                             today=TRADE_DATE)
    assert outcome.status == "closed"
    exits = [r.correlation_id for r in orders_of(db, sid) if r.purpose == "exit"]
    assert len(exits) == len(set(exits)) == 12


def test_expiry_settlement_closes_each_sliced_leg_in_one_settlement_order(db):
    [sid] = store_and_mark(db, CONDOR, lots=100)
    run(db, paper_broker(db))
    outcome = settle(db, sid, {0: 0.0, 1: 0.0, 2: 2.5, 3: 0.0}, "expiry: settled at intrinsic value")
    assert outcome.status == "closed"
    exits = [(r.leg_no, r.quantity, r.correlation_id) for r in orders_of(db, sid) if r.purpose == "exit"]
    assert sorted(exits) == [(leg, 145_000, f"OV4-{sid}-{leg}X1") for leg in range(4)]
    assert outcome.exit_value == pytest.approx(-145_000 * 2.5)


def test_the_preview_command_shows_each_legs_slices(db, store_url, tmp_path, monkeypatch, fixed_clock):
    [sid] = store_and_mark(db, CONDOR, lots=100)
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    monkeypatch.setenv("OPTIONSV4_DATA_DIR", str(tmp_path / "data"))
    app = typer.Typer()
    app.command()(execute)
    current_settings.cache_clear()
    try:
        ran = CliRunner().invoke(app, ["--preview"])
    finally:
        current_settings.cache_clear()
    assert ran.exit_code == 0, ran.output
    assert ran.output.count("3 slices of ≤ 65,250") == 4  # one row per leg (blocked here by the default budget)
    assert all(f"OV4-{sid}-{leg}E1S1 …" in ran.output for leg in range(4))
