"""`optionsv4 analyze` and the dates it may analyse (issue 19): non-trading days are refused with the reason, years
beyond the holiday calendar are analysed with a warning, and a date the reference tables do not cover names the
table. Exit codes and messages through the real entry point, never a traceback."""

import pytest
import time_machine

from optionsv4_lib.store import connect, transaction


def flat(text: str) -> str:
    return " ".join(text.split())


def stored_dates(store_url: str) -> set:
    conn = connect(store_url)
    try:
        with transaction(conn) as cur:
            cur.execute("SELECT trade_date::text FROM analysis_runs")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


@pytest.mark.parametrize("day, reason", [
    ("2025-01-25", "weekend"),
    ("2026-11-24", "Prakash Gurpurb Sri Guru Nanak Dev"),
])
def test_analyze_refuses_a_day_without_a_session(optionsv4, store_url, day, reason):
    ran = optionsv4("analyze", "--date", day, "--symbol", "TCS", "--charts", "0")
    assert ran.exit_code == 2, ran.output
    assert flat(ran.output) == (f"error: date: {day} is not an NSE trading day ({reason}); there is no session to "
                                "analyze (use --force to analyse it anyway)")
    assert "Traceback" not in ran.output and day not in stored_dates(store_url)


def test_force_analyses_a_saturday_with_a_warning(optionsv4, store_url):
    ran = optionsv4("analyze", "--date", "2025-01-25", "--symbol", "TCS", "--charts", "0", "--force")
    assert ran.exit_code == 0, ran.output
    assert ("warning: 2025-01-25 is not an NSE trading day (weekend): analysed anyway (--force), priced as if it "
            "had a session") in flat(ran.output)
    assert "2025-01-25" in stored_dates(store_url)


def test_the_saturday_budget_session_of_2025_is_analysed(optionsv4, store_url):
    ran = optionsv4("analyze", "--date", "2025-02-01", "--symbol", "TCS", "--charts", "0")
    assert ran.exit_code == 0 and "warning" not in ran.output, ran.output
    assert "2025-02-01" in stored_dates(store_url)


def test_a_year_beyond_the_holiday_calendar_is_analysed_with_a_warning(optionsv4, store_url, tmp_path):
    with time_machine.travel("2027-01-26T08:30:00+05:30", tick=True):  # Republic Day, not in the 2025–2026 file
        ran = optionsv4("analyze", "--date", "2027-01-26", "--symbol", "TCS", "--charts", "0")
    assert ran.exit_code == 0, ran.output
    warning = ("warning: NSE trading holidays for 2027 are not in nse_holidays.csv (covers 2025–2026): weekdays of 2027 "
               "count as trading days and may be holidays")
    assert warning in flat(ran.output) and "Traceback" not in ran.output
    assert "2027-01-26" in stored_dates(store_url)
    log = (tmp_path / "logs" / "options_v4_main_20270126.log").read_text()
    assert "NSE trading holidays for 2027 are not in nse_holidays.csv" in log
    reported = optionsv4("report", "--date", "2027-01-26", "--risk", "moderate")
    assert reported.exit_code == 0 and warning in flat(reported.output), reported.output


def test_a_date_before_the_expiry_rules_names_the_table_and_its_dates(optionsv4):
    ran = optionsv4("analyze", "--date", "2024-06-03", "--symbol", "TCS", "--charts", "0")
    assert "Traceback" not in ran.output and "d: no" not in ran.output
    assert ("expiry_rules.csv: no monthly expiry rule for STOCK contracts expiring on 2024-06-30; the table covers "
            "STOCK's contracts expiring from 2025-01-01") in flat(ran.output), ran.output


def test_market_state_query_lists_a_run_under_its_trade_date(optionsv4, store_url):
    """The synthetic run of Monday 23 Nov 2026 is classified on the history up to Friday's close."""
    assert optionsv4("analyze", "--date", "2026-11-23", "--symbol", "TCS", "--charts", "0").exit_code == 0
    ran = optionsv4("db", "queries", "market-state")
    assert ran.exit_code == 0 and "Traceback" not in ran.output, ran.output
    rows = [line.split("│")[1:3] for line in ran.output.splitlines() if line.startswith("│ 2026")]
    assert [[cell.strip() for cell in row] for row in rows] == [["2026-11-23", "2026-11-20"]], ran.output
