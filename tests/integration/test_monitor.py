"""The position monitor on a real PostgreSQL in paper mode: five trading days replayed on scripted option chains, four
iron condors each closed by a different exit kind (profit target, stop loss, short-leg delta, time) at hand-computed
realized P&L; two passes at one moment never exit twice; a pass killed mid-exit and re-run finishes the exit once;
expiry settlement at intrinsic value; physical-settlement warnings; a live exit held at the gate."""

import json
from datetime import date, datetime

import pandas as pd
import pytest
import typer
from execution_support import (
    CONDOR,
    FAST,
    NOW,
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
from optionsv4_lib.cli.positions import positions
from optionsv4_lib.config import Settings
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.execution import LiveTradingRefused, Venue, execute_plan, plan_execution
from optionsv4_lib.execution.ledger import orders_of
from optionsv4_lib.execution.monitor_pass import monitor_pass
from optionsv4_lib.execution.paper import PaperBroker
from optionsv4_lib.execution.quotes import ChainQuotes
from optionsv4_lib.execution.status import load_status
from optionsv4_lib.jobs.monitor import monitor as run_monitor
from optionsv4_lib.reference.calendar import IST, trading_days
from optionsv4_lib.store import transaction

SETTINGS = Settings()
CONDORS = {  # candidate → lot size (units held at 1 lot); legs: 0 BUY PE, 1 SELL PE, 2 SELL CE, 3 BUY CE
    "TATAPOWER:iron-condor:3": 1450, "HCLTECH:iron-condor:3": 400, "SBIN:iron-condor:2": 750,
    "HEROMOTOCO:iron-condor:3": 150}
ENTRY = (4.00, 6.00, 6.00, 4.00)  # ₹/unit per leg: a ₹4.00 credit per unit
EXPIRY = date(2026, 12, 29)
DAYS = trading_days(date(2026, 11, 24), date(2026, 12, 1))  # 25, 26, 27, 30 Nov, 1 Dec (24 Nov is a holiday)
SPOT = {"TATAPOWER": 455.0, "HCLTECH": 1600.0, "SBIN": 1170.0, "HEROMOTOCO": 4900.0, "NIFTY": 26400.0}


class ScriptedMarket:
    """Option chains of the marked strategies' contracts at prices set per leg: bid/ask = price ∓ ₹0.05, so a paper fill
    with no slippage is exactly the price. Unscripted contracts quote at ENTRY, delta 0.20; a contract of a scripted
    strategy and of an unscripted one (two condors sharing a short strike) quotes as scripted."""

    def __init__(self, conn, prices: dict[str, tuple] | None = None, deltas: dict[str, tuple] | None = None,
                 spot: dict[str, float] | None = None):
        with transaction(conn) as cur:
            cur.execute("""SELECT d.candidate_id, s.symbol, d.leg_no, d.instrument, d.strike, d.expiry
                           FROM strategy_details d JOIN strategies s USING (run_id, candidate_id)
                           WHERE s.strategy_id IN (SELECT strategy_id FROM strategy_execution_status)""")
            legs = cur.fetchall()
        rows = []
        for candidate, symbol, leg_no, kind, strike, expiry in legs:
            price = (prices or {}).get(candidate, ENTRY)[leg_no] if leg_no < 4 else 50.0
            delta = (deltas or {}).get(candidate, (0.20,) * 4)[leg_no] if leg_no < 4 else 0.20
            rows.append({"scripted": candidate in (prices or {}) or candidate in (deltas or {}),
                         "symbol": symbol, "expiry": pd.Timestamp(expiry), "strike": float(strike),
                         "option_type": kind, "bid": price - 0.05, "ask": price + 0.05, "ltp": price,
                         "delta": delta if kind == "CE" else -delta, "gamma": 0.001, "vega": 0.1,
                         "underlying_price": (spot or SPOT)[symbol], "security_id": pd.NA})
        rows = pd.DataFrame(rows).sort_values("scripted", ascending=False, kind="stable")
        self.chain = rows.drop_duplicates(["symbol", "expiry", "strike", "option_type"]).drop(columns="scripted")

    def option_chain(self, symbol: str, expiry: date) -> pd.DataFrame:
        chain = self.chain
        return chain[(chain["symbol"] == symbol) & (chain["expiry"] == pd.Timestamp(expiry))].reset_index(drop=True)


def paper(db, market: ScriptedMarket) -> dict[str, Venue]:
    """The paper venue, filling at the scripted prices (no slippage)."""
    quotes = ChainQuotes(market)
    paper = PaperBroker(db, capital=SETTINGS.capital, rate=SETTINGS.risk_free_rate, quotes=quotes, slippage=0.0)
    return {"paper": Venue(paper, quotes)}


def open_condors(db, *candidates: str, prices=None) -> dict[str, int]:
    """Store, mark at 1 lot and open the condors in paper mode at ENTRY prices (or `prices`); candidate → id."""
    ids = dict(zip(candidates, store_and_mark(db, *candidates, lots=1)))
    market = ScriptedMarket(db, prices)
    venue = paper(db, market)["paper"]
    plan = plan_execution(db, venue.broker, SETTINGS, quotes=venue.quotes, now=NOW)
    outcomes = execute_plan(db, venue.broker, plan, quotes=venue.quotes, policy=FAST)
    assert [o.status for o in outcomes] == ["open"] * len(candidates)
    return ids


def set_rules(db, candidate: str, *rules: tuple) -> None:
    """Replace a strategy's exit rules with (kind, metric, comparison, threshold, leg_no) rows."""
    with transaction(db) as cur:
        cur.execute("DELETE FROM strategy_exit_conditions WHERE candidate_id = %s", (candidate,))
        for exit_no, (kind, metric, comparison, threshold, leg_no) in enumerate(rules):
            cur.execute("""INSERT INTO strategy_exit_conditions (run_id, candidate_id, exit_no, kind, metric,
                               comparison, threshold, unit, leg_no, action, description)
                           SELECT run_id, %s, %s, %s, %s, %s, %s, '₹', %s, 'close', %s FROM strategies
                           WHERE candidate_id = %s""",
                        (candidate, exit_no, kind, metric, comparison, threshold, leg_no, f"{kind} rule", candidate))


def standard_rules(db, candidate: str, units: int) -> None:
    set_rules(db, candidate,
              ("profit_target", "pnl", "≥", 2.00 * units, None),       # half the ₹4.00/unit credit
              ("stop_loss", "pnl", "≤", -4.00 * units, None),           # once the credit is lost
              ("short_delta", "leg_abs_delta", "≥", 0.40, 2),           # the short call tested
              ("time_exit", "dte", "≤", (EXPIRY - DAYS[4]).days, None))  # 28 days: from 1 Dec


def at(day: date, hour: int = 11) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=IST)


def exit_orders(db, sid: int) -> list:
    return [o for o in orders_of(db, sid) if o.purpose == "exit"]


def realized(db, sid: int) -> float:
    with transaction(db) as cur:
        cur.execute("SELECT realized_pnl FROM strategy_execution_status WHERE strategy_id = %s", (sid,))
        return cur.fetchone()[0]


def pnl(units: int, entry: tuple, exit_: tuple) -> float:
    """Σ sign × qty × price over entry and exit fills (sign +1 sold, −1 bought) for a condor BUY/SELL/SELL/BUY."""
    entry_sides, exit_sides = (-1, 1, 1, -1), (1, -1, -1, 1)
    return round(units * (sum(s * p for s, p in zip(entry_sides, entry))
                          + sum(s * p for s, p in zip(exit_sides, exit_))), 2)


def test_five_days_each_exit_kind_closes_once_at_hand_computed_pnl(db):
    ids = open_condors(db, *CONDORS)
    for candidate, units in CONDORS.items():
        standard_rules(db, candidate, units)
    tata, hcl, sbin, hero = CONDORS
    script = {  # day index → (prices, deltas) of the strategy that hits that day
        1: {tata: (0.50, 1.50, 1.50, 0.50)},                          # pnl +2.00/unit: profit target
        2: {hcl: (6.00, 10.00, 10.00, 6.00)},                        # pnl −4.00/unit: stop loss
        3: {sbin: (3.50, 5.00, 7.00, 5.00)},                           # pnl +0.50/unit, short call delta 0.45
        4: {hero: (3.50, 5.00, 5.00, 3.50)},                        # pnl +1.00/unit, dte 28 ≤ 28: time
    }
    deltas = {3: {sbin: (0.20, 0.20, 0.45, 0.20)}}
    closed_on = {}
    for index, day in enumerate(DAYS):
        market = ScriptedMarket(db, script.get(index), deltas.get(index))
        for _ in range(2):  # a second pass at the same moment changes nothing
            summary = monitor_pass(db, market, paper(db, market), now=at(day), index_symbols={"NIFTY"}, policy=FAST)
        for candidate, sid in ids.items():
            if status_of(db, sid)[0] == "closed" and candidate not in closed_on:
                closed_on[candidate] = index
        assert summary["hits"] == []  # the second pass: nothing left to hit
    assert closed_on == {tata: 1, hcl: 2, sbin: 3, hero: 4}

    # hand-computed: units × (entry credit 4.00 + exit value), exit fills = the scripted prices
    assert realized(db, ids[tata]) == pnl(1450, ENTRY, script[1][tata]) == 2900.00      # 1450 × (4 − 2)
    assert realized(db, ids[hcl]) == pnl(400, ENTRY, script[2][hcl]) == -1600.00     # 400 × (4 − 8)
    assert realized(db, ids[sbin]) == pnl(750, ENTRY, script[3][sbin]) == 375.00         # 750 × (4 − 3.5)
    assert realized(db, ids[hero]) == pnl(150, ENTRY, script[4][hero]) == 150.00      # 150 × (4 − 3)
    for candidate, sid in ids.items():
        orders = orders_of(db, sid)
        assert sorted(o.correlation_id for o in orders if o.purpose == "exit") == [
            f"OV4-{sid}-{leg}X1" for leg in range(4)]
        assert len(orders) == 8 and all(o.status == "TRADED" for o in orders)
    assert status_of(db, ids[tata])[4].startswith("closed: profit_target")
    assert status_of(db, ids[hcl])[4].startswith("closed: stop_loss")
    assert status_of(db, ids[sbin])[4].startswith("closed: short_delta")
    assert status_of(db, ids[hero])[4].startswith("closed: time_exit")

    # every pass marked the open legs into positions_snapshots, one row per leg and moment
    with transaction(db) as cur:
        cur.execute("""SELECT snapshot_at, ltp, unrealized_pnl, net_qty FROM positions_snapshots
                       WHERE strategy_id = %s AND leg_no = 1 ORDER BY snapshot_at""", (ids[hcl],))
        rows = cur.fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [(6.0, 0.0, -400), (6.0, 0.0, -400), (10.0, -1600.0, -400)]

    # the dashboard's P&L from the same orders agrees
    strategies = load_status(db).strategies.set_index("strategy_id")
    assert strategies.loc[list(ids.values()), "realized_pnl"].tolist() == [2900.0, -1600.0, 375.0, 150.0]
    assert strategies.loc[list(ids.values()), "unrealized_pnl"].tolist() == [0.0] * 4


def test_the_dashboard_prices_open_legs_at_the_monitors_marks(db):
    candidate = "TATAPOWER:iron-condor:3"
    sid = open_condors(db, candidate)[candidate]
    set_rules(db, candidate)  # no rules: the position stays open
    market = ScriptedMarket(db, {candidate: (0.50, 1.50, 1.50, 0.50)})
    monitor_pass(db, market, paper(db, market), now=at(DAYS[0]), index_symbols=set())
    row = load_status(db).strategies.set_index("strategy_id").loc[sid]
    assert row["status"] == "open" and row["unrealized_pnl"] == 1450 * 2.00  # pnl +2.00/unit


class Crash(Exception):
    """The monitor's process dying mid-exit."""


def test_a_pass_killed_mid_exit_is_finished_once_by_the_next(db):
    candidate = "TATAPOWER:iron-condor:3"
    sid = open_condors(db, candidate)[candidate]
    standard_rules(db, candidate, 1450)
    market = ScriptedMarket(db, {candidate: (0.50, 1.50, 1.50, 0.50)})

    def crash(event):
        if event.kind == "status" and event.request.purpose == "exit" and event.order.status == "TRADED":
            raise Crash("killed after the first exit leg")

    with pytest.raises(Crash):
        monitor_pass(db, market, paper(db, market), now=at(DAYS[1]), index_symbols=set(), policy=FAST, hook=crash)
    assert status_of(db, sid)[0] == "exiting" and len(exit_orders(db, sid)) == 1

    summary = monitor_pass(db, market, paper(db, market), now=at(DAYS[1], 12), index_symbols=set(), policy=FAST)
    assert [e["status"] for e in summary["exits"]] == ["closed"]
    assert len(exit_orders(db, sid)) == 4 and len({o.correlation_id for o in exit_orders(db, sid)}) == 4
    assert status_of(db, sid)[0] == "closed" and realized(db, sid) == 2900.00


def test_expiry_day_after_the_close_settles_paper_legs_at_intrinsic(db):
    candidate = "NIFTY:bear-call-spread:1"  # SELL 26400 CE, BUY 26600 CE expiring 1 Dec 2026; 65 units a lot
    sid = store_and_mark(db, candidate, lots=1)[0]
    entry = ScriptedMarket(db, {candidate: (60.00, 30.00, 0, 0)})
    venue = paper(db, entry)["paper"]
    execute_plan(db, venue.broker, plan_execution(db, venue.broker, SETTINGS, quotes=venue.quotes, now=NOW),
                 quotes=venue.quotes, policy=FAST)
    set_rules(db, candidate)  # no rules: only the expiry closes it
    market = ScriptedMarket(db, {candidate: (60.00, 30.00, 0, 0)}, spot=SPOT | {"NIFTY": 26500.0})

    before = monitor_pass(db, market, paper(db, market), now=at(date(2026, 12, 1), 15), index_symbols={"NIFTY"})
    assert before["settled"] == [] and status_of(db, sid)[0] == "open"
    after = monitor_pass(db, market, paper(db, market), now=at(date(2026, 12, 1), 16), index_symbols={"NIFTY"})
    assert [s["status"] for s in after["settled"]] == ["closed"]
    # 65 × (60 − 30) entry credit; settled: 26400 CE bought back at 100 (spot 26500), 26600 CE sold at 0
    assert realized(db, sid) == 65 * (60.00 - 30.00) + 65 * (-100.00 + 0.00) == -4550.00
    assert sorted((o.leg_no, o.side, o.average_price) for o in exit_orders(db, sid)) == [(0, "BUY", 100.0),
                                                                                       (1, "SELL", 0.0)]


def test_itm_stock_option_warns_of_physical_settlement_four_trading_days_out(db):
    candidate = "TATAPOWER:iron-condor:3"  # 395/415 PE, 500/520 CE expiring 29 Dec 2026
    open_condors(db, candidate)
    set_rules(db, candidate)
    market = ScriptedMarket(db, spot=SPOT | {"TATAPOWER": 410.0})  # the short 415 PE is in the money
    early = monitor_pass(db, market, paper(db, market), now=at(date(2026, 12, 18)), index_symbols={"NIFTY"})
    near = monitor_pass(db, market, paper(db, market), now=at(date(2026, 12, 23)), index_symbols={"NIFTY"})
    assert early["warnings"] == []
    [warning] = near["warnings"]
    assert warning["leg_no"] == 1 and "physical delivery of 1450 shares" in warning["message"]


def test_a_live_exit_without_the_gate_is_held_as_exit_pending(db):
    candidate = "TATAPOWER:iron-condor:3"
    sid = open_condors(db, candidate)[candidate]
    standard_rules(db, candidate, 1450)
    with transaction(db) as cur:  # the same position held live (paper fills stand in for Dhan's)
        cur.execute("UPDATE strategy_execution_status SET mode = 'live' WHERE strategy_id = %s", (sid,))
        cur.execute("UPDATE orders SET mode = 'live', security_id = 50000 + leg_no WHERE strategy_id = %s", (sid,))
    market = ScriptedMarket(db, {candidate: (0.50, 1.50, 1.50, 0.50)})
    for _ in range(2):
        summary = monitor_pass(db, market, paper(db, market), now=at(DAYS[1]), index_symbols=set(), policy=FAST)
    assert [p["status"] for p in summary["pending"]] == ["pending"]
    status, _, _, _, note = status_of(db, sid)
    assert status == "exiting" and note.startswith("EXIT PENDING: profit_target") and exit_orders(db, sid) == []


def test_positions_command_shows_mtm_and_the_distance_to_each_trigger(db, store_url, tmp_path, monkeypatch):
    candidate = "TATAPOWER:iron-condor:3"
    sid = open_condors(db, candidate)[candidate]
    standard_rules(db, candidate, 1450)
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    monkeypatch.setenv("OPTIONSV4_DATA_DIR", str(tmp_path / "data"))
    current_settings.cache_clear()
    app = typer.Typer()
    app.command()(positions)
    try:
        table = CliRunner().invoke(app, ["--source", "synthetic", "--at", "2026-11-25T11:00"])
        document = CliRunner().invoke(app, ["--source", "synthetic", "--at", "2026-11-25T11:00", "--json"])
    finally:
        current_settings.cache_clear()
    assert table.exit_code == 0, table.output
    assert "TATAPOWER" in table.output and "Exit triggers" in table.output and "profit_target" in table.output
    found = json.loads(document.output)
    [position] = found["positions"]
    assert position["strategy_id"] == sid and position["status"] == "open" and position["dte"] == 34
    time_rule = next(r for r in found["triggers"] if r["kind"] == "time_exit")
    assert time_rule["observed"] == 34 and time_rule["distance"] == 28 - 34 and time_rule["hit"] is False


def test_a_pending_live_exit_is_placed_at_dhan_once_the_gate_is_passed(db):
    with DhanEmulator(market()) as emulator:
        [sid] = store_and_mark(db, CONDOR, mode="live")
        register_contracts(db, emulator)
        broker = DhanBroker(dhan_client(emulator))
        execute_plan(db, broker, plan_execution(db, broker, SETTINGS, now=NOW), policy=FAST)
        set_rules(db, CONDOR, ("stop_loss", "pnl", "≤", 1e12, None))  # always hit
        source = market()  # the emulator's own market: marks and exit quotes agree
        pending = monitor_pass(db, source, paper(db, ScriptedMarket(db)), now=at(DAYS[0]), index_symbols=set())
        assert [p["status"] for p in pending["pending"]] == ["pending"] and status_of(db, sid)[0] == "exiting"
        assert [o["correlationId"][-2:] for o in placed(emulator)] == ["E1"] * 4

        live = {"live": Venue(broker, ChainQuotes(source))}
        for _ in range(2):
            summary = monitor_pass(db, source, live, now=at(DAYS[0], 12), index_symbols=set(), policy=FAST)
        assert summary["exits"] == [] and status_of(db, sid)[0] == "closed"
        exits_sent = [o["correlationId"] for o in placed(emulator)][4:]
        assert sorted(exits_sent) == [f"OV4-{sid}-{leg}X1" for leg in range(4)]  # each exactly once
        assert set(net_positions(emulator).values()) == {0}


def test_confirming_live_exits_without_the_environment_flag_is_refused(db, store_url, tmp_path):
    settings = Settings(database_url=store_url, data_dir=tmp_path, live_trading=False)
    with pytest.raises(LiveTradingRefused, match="OPTIONSV4_LIVE_TRADING"):
        run_monitor(settings, "synthetic", at(DAYS[0]), confirm_live_exits=True, confirmation="PLACE LIVE ORDERS")
