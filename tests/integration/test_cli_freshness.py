"""A run's trade date is the session whose quotes it holds, and freshness is judged by when its quotes were taken
(issue 19.2): `analyze` refuses a date after the next session (from Dhan, any date but the current session), `mark`
chooses the run quoted last among those dated up to the next session and refuses one whose quotes are older than
the previous session's close. Through the real entry point, on a fixed clock (Friday 4 Dec 2026, 18:00 IST)."""

from dataclasses import replace
from datetime import date, datetime

import pytest
from typer.testing import CliRunner

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.cli.main import app
from optionsv4_lib.config import Settings
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.reference.universe import load_universe
from optionsv4_lib.store import store_analysis, transaction

pytestmark = pytest.mark.usefixtures("fixed_clock")
TODAY = date(2026, 12, 4)  # the fixed clock's day, a Friday
FUTURE = date(2026, 12, 21)


@pytest.fixture
def optionsv4(monkeypatch, tmp_path, store_url):
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    for name in ("data", "results", "logs"):
        monkeypatch.setenv(f"OPTIONSV4_{name.upper()}_DIR", str(tmp_path / name))
    for name in ("DHAN_CLIENT_ID", "DHAN_ACCESS_TOKEN"):
        monkeypatch.setenv(name, "not-used")

    def run(*args: str):
        current_settings.cache_clear()
        return CliRunner().invoke(app, list(args))

    yield run
    current_settings.cache_clear()


@pytest.fixture(scope="module")
def result():
    """The synthetic market's run of TODAY for the first 4 symbols."""
    return analyze_portfolio(SyntheticMarket(42, TODAY), universe=load_universe().head(4),
                             allocations=load_allocations(), settings=Settings())


def quoted(result, trade_date: date, at: datetime):
    """`result` as the run of `trade_date` whose symbols' quotes were taken `at`."""
    return replace(result, trade_date=trade_date, symbols=result.symbols.assign(quoted_at=at))


def marked_runs(conn) -> set[date]:
    with transaction(conn) as cur:
        cur.execute("""SELECT DISTINCT r.trade_date FROM strategy_execution_status e JOIN strategies s USING (strategy_id)
                       JOIN analysis_runs r USING (run_id)""")
        return {row[0] for row in cur.fetchall()}


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("source, message", [
    ("dhan", "date: Dhan quotes the session of 2026-12-04 (today's, or the next one), not 2026-12-21; a run holds "
             "the quotes of its own session"),
    ("synthetic", "date: 2026-12-21 is after the next session 2026-12-04; the synthetic source analyses past "
                  "sessions and the next one, never later ones"),
])
def test_analyze_refuses_a_date_after_the_next_session(optionsv4, db, source, message):
    ran = optionsv4("analyze", "--source", source, "--date", FUTURE.isoformat(), "--symbol", "TCS", "--charts", "0")
    assert ran.exit_code == 2 and flat(ran.output) == f"error: {message}", ran.output
    assert "Traceback" not in ran.output
    with transaction(db) as cur:
        cur.execute("SELECT count(*) FROM analysis_runs")
        assert cur.fetchone()[0] == 0


def test_dhan_refuses_a_past_session(optionsv4, db):
    ran = optionsv4("analyze", "--source", "dhan", "--date", "2026-12-03", "--symbol", "TCS", "--charts", "0")
    assert ran.exit_code == 2 and "Traceback" not in ran.output
    assert "Dhan quotes the session of 2026-12-04 (today's, or the next one), not 2026-12-03" in flat(ran.output)


def test_mark_top_takes_the_run_quoted_last_not_a_future_dated_one(optionsv4, db, result):
    """Today's chains stored under 21 Dec (the attack) and today's own run: the future-dated one is never chosen."""
    store_analysis(db, quoted(result, TODAY, datetime(2026, 12, 4, 9, 15, tzinfo=IST)))
    store_analysis(db, quoted(result, FUTURE, datetime(2026, 12, 21, 9, 15, tzinfo=IST)))
    ran = optionsv4("mark", "--top", "2")
    assert ran.exit_code == 0 and "Traceback" not in ran.output, ran.output
    assert "marked (paper):" in ran.output and marked_runs(db) == {TODAY}


def test_mark_refuses_a_run_whose_quotes_predate_the_previous_close(optionsv4, db, result):
    """Dated today, but its quotes were taken on Wednesday: older than Thursday's close."""
    store_analysis(db, quoted(result, TODAY, datetime(2026, 12, 2, 14, 0, tzinfo=IST)))
    ran = optionsv4("mark", "--top", "2")
    assert ran.exit_code == 2 and "Traceback" not in ran.output
    assert flat(ran.output) == ("error: the run of 2026-12-04 (moderate) is stale: its quotes were taken at "
                                "2026-12-02 14:00 IST, before the close of 2026-12-03 15:40 IST; re-run the "
                                "analysis, or force it")
    assert marked_runs(db) == set()
    assert optionsv4("mark", "--top", "1", "--force").exit_code == 0 and marked_runs(db) == {TODAY}


def test_mark_by_id_refuses_a_future_dated_run(optionsv4, db, result):
    store_analysis(db, quoted(result, FUTURE, datetime(2026, 12, 21, 9, 15, tzinfo=IST)))
    with transaction(db) as cur:
        cur.execute("SELECT min(strategy_id) FROM strategies")
        strategy_id = cur.fetchone()[0]
    ran = optionsv4("mark", str(strategy_id))
    assert ran.exit_code == 1 and "Traceback" not in ran.output
    assert (f"the run of {FUTURE} (moderate) is dated after the next session 2026-12-04: a run holds the quotes of "
            "its own session") in flat(ran.output)
