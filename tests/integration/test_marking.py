"""Marking strategies for execution on a real PostgreSQL: top N, best of a symbol, by id, unmark rules, stale runs,
idempotency; and `optionsv4 mark` / `optionsv4 unmark` through the CLI (interactive marking too)."""

import threading
from dataclasses import replace
from datetime import date, datetime, time

import pytest
from typer import Typer
from typer.testing import CliRunner

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.cli.trade import mark as mark_command
from optionsv4_lib.cli.trade import unmark as unmark_command
from optionsv4_lib.config import Settings
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.execution.marking import mark, mark_best, mark_top, recent_strategies, unmark
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.calendar import IST, latest_trading_day, previous_trading_day
from optionsv4_lib.reference.universe import load_universe
from optionsv4_lib.store import connect, store_analysis, transaction

TRADE_DATE = date(2026, 11, 23)  # a Monday
pytestmark = pytest.mark.usefixtures("fixed_clock")  # "now" decides staleness and market hours: a fixed evening
TODAY = date(2026, 11, 24)  # a trading holiday (Guru Nanak Jayanti): the latest trading day is TRADE_DATE
LATER = date(2026, 11, 25)  # the next trading day: TRADE_DATE's run is stale


@pytest.fixture(scope="module")
def result():
    """The synthetic market's run for the first 8 symbols of the universe (IOC fails: its chain is empty)."""
    return analyze_portfolio(SyntheticMarket(42, TRADE_DATE), universe=load_universe().head(8),
                             allocations=load_allocations(), settings=Settings())


@pytest.fixture
def ranked(db, result) -> list[int]:
    """Store `result`; its strategy ids, best score first (ties by candidate id)."""
    store_analysis(db, result)
    with transaction(db) as cur:
        cur.execute("SELECT strategy_id FROM strategies ORDER BY score DESC, candidate_id")
        return [row[0] for row in cur.fetchall()]


def status_rows(conn) -> dict[int, tuple]:
    """strategy_id → (status, mode, lots)."""
    with transaction(conn) as cur:
        cur.execute("SELECT strategy_id, status, mode, lots FROM strategy_execution_status")
        return {row[0]: row[1:] for row in cur.fetchall()}


def set_status(conn, strategy_id: int, status: str) -> None:
    with transaction(conn) as cur:
        cur.execute("UPDATE strategy_execution_status SET status = %s WHERE strategy_id = %s", (status, strategy_id))


def strategy_lots(conn, strategy_id: int) -> int:
    with transaction(conn) as cur:
        cur.execute("SELECT lots FROM strategies WHERE strategy_id = %s", (strategy_id,))
        return cur.fetchone()[0]


def insert_order(conn, strategy_id: int, correlation_id: str) -> None:
    with transaction(conn) as cur:
        cur.execute("""INSERT INTO orders (strategy_id, leg_no, purpose, correlation_id, mode, security_id,
                                           exchange_segment, side, quantity, order_type, product_type, price, status)
                       VALUES (%s, 0, 'entry', %s, 'paper', 1, 'NSE_FNO', 'BUY', 65, 'LIMIT', 'MARGIN', 10, 'NEW')""",
                    (strategy_id, correlation_id))


# ---------------------------------------------------------------- library


def test_recent_strategies_lists_the_latest_runs_best_first_with_status(db, result, ranked):
    store_analysis(db, replace(result, trade_date=previous_trading_day(TRADE_DATE)))  # an older run: not listed
    store_analysis(db, replace(result, risk_profile="aggressive"))
    mark(db, [ranked[1]], today=TODAY)
    recent = recent_strategies(db)
    assert len(recent) == 2 * len(result.strategies) and set(recent["trade_date"]) == {TRADE_DATE}
    assert list(recent["score"]) == sorted(recent["score"], reverse=True)
    moderate = recent_strategies(db, "moderate")
    assert list(moderate["strategy_id"]) == ranked
    assert moderate.set_index("strategy_id").loc[ranked[1], ["status", "mode"]].tolist() == ["marked", "paper"]
    assert moderate["status"].isna().sum() == len(ranked) - 1
    assert len(recent_strategies(db, "moderate", limit=3)) == 3
    with pytest.raises(InputError, match="reckless"):
        recent_strategies(db, "reckless")


def test_mark_top_marks_the_best_with_the_runs_lots_then_changes_nothing(db, ranked):
    first = mark_top(db, 3, today=TODAY)
    assert first.done == ranked[:3] and not first.already and not first.refused
    rows = status_rows(db)
    assert rows == {i: ("marked", "paper", strategy_lots(db, i)) for i in ranked[:3]}
    again = mark_top(db, 3, today=TODAY)
    assert again.done == [] and again.already == {i: "marked" for i in ranked[:3]}
    assert status_rows(db) == rows


def test_mark_top_skips_executed_strategies_and_leaves_them_as_they_are(db, ranked):
    mark(db, [ranked[0]], today=TODAY)
    set_status(db, ranked[0], "open")
    outcome = mark_top(db, 2, today=TODAY)
    assert outcome.done == [ranked[1]] and outcome.already == {ranked[0]: "open"}
    assert status_rows(db)[ranked[0]][0] == "open"


def test_mark_top_chooses_from_the_latest_run_of_the_risk_profile(db, result, ranked):
    store_analysis(db, replace(result, trade_date=previous_trading_day(TRADE_DATE), risk_profile="aggressive"))
    with pytest.raises(DataError, match="stale"):  # the aggressive run is a day older
        mark_top(db, 1, risk_profile="aggressive", today=TODAY)
    with pytest.raises(DataError, match="no run for risk profile 'conservative'"):
        mark_top(db, 1, risk_profile="conservative", today=TODAY)
    assert mark_top(db, 1, risk_profile="moderate", today=TODAY).done == ranked[:1]
    with pytest.raises(InputError, match="at least 1"):
        mark_top(db, 0, today=TODAY)


def test_mark_best_marks_a_symbols_best_strategy_or_says_why_there_is_none(db, ranked):
    with transaction(db) as cur:
        cur.execute("SELECT strategy_id FROM strategies WHERE symbol = 'ONGC' ORDER BY score DESC LIMIT 1")
        best = cur.fetchone()[0]
    assert mark_best(db, " ongc", mode="live", today=TODAY).done == [best]
    assert status_rows(db)[best][:2] == ("marked", "live")
    assert mark_best(db, "ONGC", today=TODAY).already == {best: "marked"}
    with pytest.raises(DataError, match="IOC: .*failed: empty option chain"):
        mark_best(db, "IOC", today=TODAY)
    with pytest.raises(DataError, match="DIXON: .*not in the run's universe"):
        mark_best(db, "DIXON", today=TODAY)


def test_mark_by_id_is_idempotent_and_refuses_unknown_ids(db, ranked):
    outcome = mark(db, [ranked[4], 99_999, ranked[2], ranked[4]], mode="live", today=TODAY)
    assert outcome.done == [ranked[4], ranked[2]] and outcome.refused == {99_999: "no such strategy"}
    again = mark(db, [ranked[2]], mode="paper", today=TODAY)  # a second mark never changes the first
    assert again.done == [] and again.already == {ranked[2]: "marked"}
    assert status_rows(db) == {i: ("marked", "live", strategy_lots(db, i)) for i in (ranked[4], ranked[2])}
    with pytest.raises(InputError, match="mode: unknown 'real'"):
        mark(db, [ranked[0]], mode="real", today=TODAY)
    with pytest.raises(InputError, match="at least one"):
        mark(db, [], today=TODAY)
    with pytest.raises(InputError, match="positive whole numbers"):
        mark(db, [0], today=TODAY)


def test_concurrent_marking_of_the_same_strategies_inserts_each_once(db, store_url, ranked):
    ids = ranked[:6]
    barrier = threading.Barrier(4)
    outcomes = []

    def mark_all() -> None:
        conn = connect(store_url)
        try:
            barrier.wait()
            outcomes.append(mark(conn, ids, today=TODAY))
        finally:
            conn.close()

    threads = [threading.Thread(target=mark_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [i for outcome in outcomes for i in outcome.done]
    assert sorted(done) == sorted(ids) and all(set(o.done) | set(o.already) == set(ids) for o in outcomes)
    assert set(status_rows(db)) == set(ids)


def test_a_stale_run_is_refused_unless_forced(db, ranked):
    with pytest.raises(DataError, match=f"the run of {TRADE_DATE} \\(moderate\\) is stale: the latest trading day "
                                        f"is {LATER}"):
        mark_top(db, 2, today=LATER)
    with pytest.raises(DataError, match="stale"):
        mark_best(db, "NIFTY", today=LATER)
    refused = mark(db, ranked[:2], today=LATER)
    assert refused.done == [] and set(refused.refused) == set(ranked[:2]) and "stale" in refused.refused[ranked[0]]
    assert status_rows(db) == {}
    assert mark_top(db, 2, today=LATER, force=True).done == ranked[:2]
    assert mark(db, [ranked[0]], today=LATER).already == {ranked[0]: "marked"}  # already marked beats stale


def test_unmark_only_while_marked(db, ranked):
    mark(db, ranked[:4], today=TODAY)
    set_status(db, ranked[1], "open")
    set_status(db, ranked[2], "closed")
    outcome = unmark(db, [ranked[0], ranked[1], ranked[2], ranked[5], 99_999])
    assert outcome.done == [ranked[0]] and outcome.already == {ranked[5]: "not marked"}
    assert outcome.refused == {
        ranked[1]: "status is open: it has open positions; exit it through the executor",
        ranked[2]: "status is closed: its execution is finished; the record is kept",
        99_999: "no such strategy",
    }
    assert set(status_rows(db)) == set(ranked[1:4])
    assert unmark(db, [ranked[3]]).done == [ranked[3]] and unmark(db, [ranked[3]]).already == {ranked[3]: "not marked"}


def test_a_strategy_that_ended_flat_is_marked_again_only_by_id(db, ranked):
    mark(db, ranked[:4], today=TODAY)
    for strategy_id, status in zip(ranked[:4], ("failed", "rejected", "cancelled", "closed")):
        set_status(db, strategy_id, status)
    with transaction(db) as cur:
        cur.execute("UPDATE strategy_execution_status SET note = 'leg 2 rejected' WHERE strategy_id = %s",
                    (ranked[0],))
    assert mark_top(db, 4, today=TODAY).already == dict(zip(ranked[:4], ("failed", "rejected", "cancelled", "closed")))
    again = mark(db, ranked[:4], mode="live", today=TODAY)
    assert again.done == ranked[:3] and again.already == {ranked[3]: "closed"}
    assert [status_rows(db)[i][:2] for i in ranked[:4]] == [("marked", "live")] * 3 + [("closed", "paper")]
    with transaction(db) as cur:
        cur.execute("SELECT note FROM strategy_execution_status WHERE strategy_id = ANY(%s) ORDER BY strategy_id",
                    (ranked[:2],))
        notes = {row[0] for row in cur.fetchall()}
    assert notes == {"marked again after failed: leg 2 rejected", "marked again after rejected"}
    assert mark(db, ranked[:3], today=TODAY).already == {i: "marked" for i in ranked[:3]}


def test_unmarking_a_strategy_marked_again_keeps_its_record_as_cancelled(db, ranked):
    mark(db, [ranked[0]], today=TODAY)
    insert_order(db, ranked[0], "OV4-test-1E1")  # the first attempt's order
    set_status(db, ranked[0], "failed")
    mark(db, [ranked[0]], today=TODAY)
    assert unmark(db, [ranked[0]]).done == [ranked[0]]
    with transaction(db) as cur:
        cur.execute("SELECT status, note FROM strategy_execution_status WHERE strategy_id = %s", (ranked[0],))
        assert cur.fetchone() == ("cancelled", "unmarked (marked again after failed)")


def test_a_rerun_after_marking_is_offered_and_the_marked_revision_kept(db, result, ranked):
    """Issue 19.23: the day's new revision is what --top, --best and the list offer; the marked strategies stay."""
    mark_top(db, 2, today=TODAY)
    store_analysis(db, replace(result, capital=result.capital * 2))
    recent = recent_strategies(db)
    assert len(recent) == len(ranked) and not set(recent["strategy_id"]) & set(ranked)
    assert recent["status"].isna().all()
    assert mark_top(db, 1, today=TODAY).done == [recent["strategy_id"].iloc[0]]
    assert set(status_rows(db)) == {*ranked[:2], recent["strategy_id"].iloc[0]}
    unmark(db, ranked[:2])
    assert unmark(db, [recent["strategy_id"].iloc[0]]).done == [recent["strategy_id"].iloc[0]]
    store_analysis(db, result)  # the untouched latest revision is replaced in place: no third revision
    with transaction(db) as cur:
        cur.execute("SELECT revision FROM analysis_runs ORDER BY revision")
        assert [row[0] for row in cur.fetchall()] == [1, 2]


def test_a_strategy_of_a_superseded_revision_is_refused_by_id_unless_forced(db, result, ranked):
    """A re-run of a marked day supersedes its run: the old run's other strategies are no longer offered by id."""
    mark(db, ranked[:1], today=TODAY)
    store_analysis(db, replace(result, capital=result.capital * 2))  # revision 2 of the day
    refused = mark(db, [ranked[1]], today=TODAY)
    assert refused.done == [] and "superseded by a later revision" in refused.refused[ranked[1]]
    assert mark(db, [ranked[1]], today=TODAY, force=True).done == [ranked[1]]


# ---------------------------------------------------------------- CLI


@pytest.fixture
def optionsv4(monkeypatch, store_url, tmp_path):
    """`optionsv4 mark|unmark …` on the test database (registered as the lead registers them in cli.py)."""
    app = Typer()
    app.command("mark")(mark_command)
    app.command("unmark")(unmark_command)
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    monkeypatch.setenv("OPTIONSV4_RESULTS_DIR", str(tmp_path / "results"))

    def run(*args: str, input: str | None = None):
        current_settings.cache_clear()
        return CliRunner().invoke(app, list(args), input=input)

    yield run
    current_settings.cache_clear()


@pytest.fixture
def todays(db, result) -> list[int]:
    """`result` stored as the run of the latest trading day (the CLI judges staleness by today's date: the fixed
    clock's); its strategy ids, best first."""
    today = latest_trading_day()
    store_analysis(db, replace(result, trade_date=today, symbols=result.symbols.assign(
        quoted_at=datetime.combine(today, time(9, 15), tzinfo=IST))))
    return recent_strategies(db)["strategy_id"].tolist()


def flat(output: str) -> str:
    return " ".join(output.split())


def test_cli_list_recent_top_best_and_ids(optionsv4, db, todays):
    listed = optionsv4("mark", "--list-recent", "--limit", "5")
    assert listed.exit_code == 0, listed.output
    assert "not marked" in listed.output and "RELIANCE" in listed.output and str(todays[0]) in listed.output
    top = optionsv4("mark", "--top", "2")
    assert top.exit_code == 0 and f"marked (paper): {todays[0]}, {todays[1]}" in top.output, top.output
    again = optionsv4("mark", "--top", "2")
    assert again.exit_code == 0 and f"{todays[0]}: already marked" in again.output
    best = optionsv4("mark", "--best", "COALINDIA", "--mode", "live")
    assert best.exit_code == 0 and "marked (live)" in best.output and "COALINDIA" in best.output, best.output
    by_id = optionsv4("mark", str(todays[5]), "99999")
    assert by_id.exit_code == 1 and f"marked (paper): {todays[5]}" in by_id.output
    assert "refused 99999: no such strategy" in flat(by_id.output)
    assert len(status_rows(db)) == 4


def test_cli_interactive_marks_the_chosen_numbers_and_asks_again_on_a_typo(optionsv4, db, todays):
    ran = optionsv4("mark", "--interactive", "--limit", "6", input="7\n1,3-4\n")
    assert ran.exit_code == 0, ran.output
    assert "choose numbers from 1 to 6" in ran.output
    assert set(status_rows(db)) == {todays[0], todays[2], todays[3]}
    cancelled = optionsv4("mark", "--interactive", input="\n")
    assert cancelled.exit_code == 0 and "nothing marked" in cancelled.output
    assert len(status_rows(db)) == 3


def test_cli_unmark_reports_refusals_with_exit_1(optionsv4, db, todays):
    mark(db, todays[:2])
    set_status(db, todays[1], "placing")
    ran = optionsv4("unmark", str(todays[0]), str(todays[1]))
    assert ran.exit_code == 1
    assert f"unmarked: {todays[0]}" in ran.output
    assert f"refused {todays[1]}: status is placing: its orders are being placed" in flat(ran.output)


def test_cli_refuses_a_stale_run_unless_forced(optionsv4, db, result):
    store_analysis(db, replace(result, trade_date=previous_trading_day(latest_trading_day())))
    stale = optionsv4("mark", "--top", "1")
    assert stale.exit_code == 2 and "stale" in stale.output and "error:" in stale.output
    forced = optionsv4("mark", "--top", "1", "--force")
    assert forced.exit_code == 0 and "marked (paper)" in forced.output


@pytest.mark.parametrize("args, message", [
    ([], "choose one of"),
    (["--top", "2", "--best", "NIFTY"], "choose one of"),
    (["--top", "1", "--mode", "real"], "mode: unknown 'real'"),
    (["--list-recent", "--risk", "reckless"], "risk profile: unknown 'reckless'"),
])
def test_cli_bad_input_exits_2(optionsv4, todays, args, message):
    ran = optionsv4("mark", *args)
    assert ran.exit_code == 2 and message in flat(ran.output), ran.output
