"""NSE calendar: trading days, sessions, expiries and the time-to-expiry convention, against hand-worked dates."""

import csv
import logging
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.reference import calendar as cal

MINUTES_PER_YEAR = 365 * 24 * 60


# ---------------------------------------------------------------- trading days


def test_guru_nanak_jayanti_2026_is_a_holiday_and_its_neighbours_trade():
    assert not cal.is_trading_day(date(2026, 11, 24))
    assert cal.holiday_name(date(2026, 11, 24)) == "Prakash Gurpurb Sri Guru Nanak Dev"
    assert cal.is_trading_day(date(2026, 11, 23))
    assert cal.is_trading_day(date(2026, 11, 25))
    assert cal.holiday_name(date(2026, 11, 25)) is None


def test_weekends_are_closed_but_are_not_named_holidays():
    saturday, sunday = date(2026, 11, 21), date(2026, 11, 22)
    assert not cal.is_trading_day(saturday)
    assert not cal.is_trading_day(sunday)
    assert cal.holiday_name(saturday) is None


def test_trading_days_of_november_2026():
    # 21 weekdays in November 2026, less Diwali-Balipratipada (10th) and Guru Nanak Jayanti (24th).
    days = cal.trading_days(date(2026, 11, 1), date(2026, 11, 30))
    assert len(days) == 19
    assert days[0] == date(2026, 11, 2) and days[-1] == date(2026, 11, 30)
    assert date(2026, 11, 10) not in days and date(2026, 11, 24) not in days
    assert all(isinstance(day, date) for day in days)


def test_trading_days_is_inclusive_of_both_ends():
    assert cal.trading_days(date(2026, 11, 23), date(2026, 11, 23)) == [date(2026, 11, 23)]
    assert cal.trading_days(date(2026, 11, 23), date(2026, 11, 25)) == [date(2026, 11, 23), date(2026, 11, 25)]


def test_previous_and_next_trading_day_skip_holidays_and_weekends():
    assert cal.previous_trading_day(date(2026, 11, 25)) == date(2026, 11, 23)
    assert cal.next_trading_day(date(2026, 11, 23)) == date(2026, 11, 25)
    assert cal.next_trading_day(date(2026, 11, 20)) == date(2026, 11, 23)  # Friday → Monday
    assert cal.previous_trading_day(date(2026, 4, 6)) == date(2026, 4, 2)  # Good Friday 3 April


def test_holiday_file_covers_2025_and_2026():
    assert cal.holiday_coverage() == (date(2025, 1, 1), date(2026, 12, 31))


@pytest.mark.parametrize("day", [date(2027, 1, 26), date(2024, 12, 31)])  # Republic Day 2027 is not in the file
def test_weekdays_outside_the_holiday_file_are_trading_days_with_a_warning(day, caplog):
    cal._warn_year.cache_clear()
    with caplog.at_level(logging.WARNING, logger=cal.__name__):
        assert cal.is_trading_day(day) and cal.closed_reason(day) is None and cal.holiday_name(day) is None
    warning = (f"NSE trading holidays for {day.year} are not in nse_holidays.csv (covers 2025–2026): weekdays of "
               f"{day.year} count as trading days and may be holidays")
    assert cal.unconfirmed_holidays(day) == warning and [r.getMessage() for r in caplog.records] == [warning]
    assert cal.unconfirmed_holidays(date(2026, 12, 31)) is None


def test_stepping_out_of_the_covered_years_counts_weekdays():
    assert cal.previous_trading_day(date(2025, 1, 1)) == date(2024, 12, 31)
    assert cal.next_trading_day(date(2026, 12, 31)) == date(2027, 1, 1)
    assert cal.trading_days(date(2026, 12, 24), date(2027, 1, 5)) == [
        date(2026, 12, 24), date(2026, 12, 28), date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31),
        date(2027, 1, 1), date(2027, 1, 4), date(2027, 1, 5)]  # Christmas 2026 is in the file
    assert cal.closed_reason(date(2027, 1, 30)) == "2027-01-30 is not an NSE trading day (weekend)"
    assert cal.latest_trading_day(date(2027, 1, 31)) == date(2027, 1, 29)


def test_current_or_next_trading_day():
    assert cal.current_or_next_trading_day(date(2026, 11, 23)) == date(2026, 11, 23)
    assert cal.current_or_next_trading_day(date(2026, 11, 24)) == date(2026, 11, 25)  # Gurpurb
    assert cal.current_or_next_trading_day(date(2026, 11, 28)) == date(2026, 11, 30)  # Saturday


def test_bad_day_inputs_raise_input_error():
    with pytest.raises(InputError, match="d:"):
        cal.is_trading_day("2026-11-24")
    with pytest.raises(InputError, match="start"):
        cal.trading_days(date(2026, 11, 30), date(2026, 11, 1))


# ---------------------------------------------------------------- sessions


def test_fo_close_moves_to_1540_on_3_august_2026():
    assert cal.session(date(2026, 7, 31)) == (time(9, 15), time(15, 30))
    assert cal.session(date(2026, 8, 3)) == (time(9, 15), time(15, 40))
    assert cal.session(date(2026, 11, 23), "FO") == (time(9, 15), time(15, 40))


def test_cash_market_keeps_0915_to_1530():
    assert cal.session(date(2026, 7, 31), "CM") == (time(9, 15), time(15, 30))
    assert cal.session(date(2026, 8, 3), "CM") == (time(9, 15), time(15, 30))


def test_session_errors():
    with pytest.raises(InputError, match="segment"):
        cal.session(date(2026, 8, 3), "CDS")
    with pytest.raises(DataError, match=r"^session_times\.csv: no FO session times for 2023-12-29; the table covers "
                                        r"2024-01-01 onwards$"):
        cal.session(date(2023, 12, 29))  # before the table's first row


# ---------------------------------------------------------------- expiries


def test_march_2026_monthly_moves_from_holiday_31st_to_30th():
    assert cal.monthly_expiry("NIFTY", 2026, 3) == date(2026, 3, 30)
    assert cal.monthly_expiry("BANKNIFTY", 2026, 3) == date(2026, 3, 30)
    assert cal.monthly_expiry("RELIANCE", 2026, 3) == date(2026, 3, 30)


def test_nifty_weekly_tuesdays_with_holiday_tuesdays_moved_to_monday():
    # 10 and 24 Nov 2026 are Tuesday holidays; the 24th would also have been the monthly expiry.
    assert cal.expiries("NIFTY", date(2026, 11, 1), months_ahead=1) == [
        date(2026, 11, 3), date(2026, 11, 9), date(2026, 11, 17), date(2026, 11, 23)]
    assert cal.monthly_expiry("NIFTY", 2026, 11) == date(2026, 11, 23)


def test_expiries_start_on_from_date_and_span_months_ahead_monthlies():
    got = cal.expiries("NIFTY", date(2026, 11, 18), months_ahead=2)
    assert got[0] == date(2026, 11, 23)
    assert got[-1] == date(2026, 12, 29)  # last Tuesday of December
    assert got == sorted(set(got))
    assert all(day.weekday() in (0, 1) for day in got)  # Tuesdays, or Mondays when Tuesday is a holiday


def test_expiries_after_the_monthly_expiry_roll_to_the_next_month():
    got = cal.expiries("BANKNIFTY", date(2026, 6, 30), months_ahead=1)
    assert got == [date(2026, 6, 30)]
    got = cal.expiries("BANKNIFTY", date(2026, 7, 1), months_ahead=1)
    assert got == [date(2026, 7, 28)]


@pytest.mark.parametrize("symbol", ["BANKNIFTY", "FINNIFTY", "RELIANCE", "dixon"])
def test_bank_fin_nifty_and_stocks_have_monthly_expiries_only(symbol):
    assert cal.expiries(symbol, date(2026, 6, 1)) == [date(2026, 6, 30), date(2026, 7, 28), date(2026, 8, 25)]


def test_thursday_rule_before_september_2025_and_tuesday_after():
    # Last Thursday weekly/monthly 28 Aug 2025; the first Tuesday weekly was 2 Sep 2025.
    assert cal.expiries("NIFTY", date(2025, 8, 25), months_ahead=2) == [
        date(2025, 8, 28), date(2025, 9, 2), date(2025, 9, 9), date(2025, 9, 16), date(2025, 9, 23),
        date(2025, 9, 30)]
    assert cal.monthly_expiry("RELIANCE", 2025, 8) == date(2025, 8, 28)
    assert cal.monthly_expiry("RELIANCE", 2025, 9) == date(2025, 9, 30)
    assert cal.monthly_expiry("BANKNIFTY", 2025, 1) == date(2025, 1, 30)


def test_thursday_holiday_in_april_2025_moves_nifty_weekly_to_wednesday():
    # Mahavir Jayanti, Thursday 10 April 2025.
    assert cal.expiries("NIFTY", date(2025, 4, 1), months_ahead=1) == [
        date(2025, 4, 3), date(2025, 4, 9), date(2025, 4, 17), date(2025, 4, 24)]


def test_diwali_tuesday_2025_moves_nifty_weekly_to_monday():
    assert date(2025, 10, 20) in cal.expiries("NIFTY", date(2025, 10, 15), months_ahead=1)


def test_is_monthly_expiry():
    assert cal.is_monthly_expiry("NIFTY", date(2026, 11, 23))
    assert not cal.is_monthly_expiry("NIFTY", date(2026, 11, 17))
    assert not cal.is_monthly_expiry("NIFTY", date(2026, 11, 24))
    assert cal.is_monthly_expiry("HDFCBANK", date(2025, 8, 28))


def test_projection_beyond_the_holiday_file_uses_weekends_and_warns(caplog):
    cal._warn_year.cache_clear()
    with caplog.at_level(logging.WARNING, logger="optionsv4_lib.reference.calendar"):
        assert cal.monthly_expiry("NIFTY", 2028, 2) == date(2028, 2, 29)  # leap day, a Tuesday
        cal.monthly_expiry("NIFTY", 2028, 3)
    warnings = [record for record in caplog.records if "2028" in record.getMessage()]
    assert len(warnings) == 1
    assert "weekdays of 2028 count as trading days" in warnings[0].getMessage()


def test_far_monthly_projection_keeps_weekend_rule():
    # BANKNIFTY's third monthly from Nov 2026 is in January 2027, beyond the holiday file.
    assert cal.expiries("BANKNIFTY", date(2026, 11, 1)) == [date(2026, 11, 23), date(2026, 12, 29), date(2027, 1, 26)]


def test_expiry_input_errors():
    with pytest.raises(InputError, match="month"):
        cal.monthly_expiry("NIFTY", 2026, 13)
    with pytest.raises(InputError, match="symbol"):
        cal.monthly_expiry(" ", 2026, 3)
    with pytest.raises(InputError, match="months_ahead"):
        cal.expiries("NIFTY", date(2026, 11, 1), months_ahead=0)
    with pytest.raises(DataError, match=r"^expiry_rules\.csv: no monthly expiry rule for NIFTY contracts expiring on "
                                        r"2024-12-31; the table covers NIFTY's contracts expiring from 2025-01-01$"):
        cal.monthly_expiry("NIFTY", 2024, 12)


# ---------------------------------------------------------------- time to expiry


def test_years_to_expiry_from_open_to_the_1540_close_on_expiry_day():
    # 09:15 → 15:40 is 6 h 25 min = 385 minutes.
    got = cal.years_to_expiry(datetime(2026, 11, 23, 9, 15), date(2026, 11, 23))
    assert isinstance(got, float)
    assert got == pytest.approx(385 / MINUTES_PER_YEAR, rel=1e-12)


def test_years_to_expiry_before_august_2026_uses_the_1530_close():
    got = cal.years_to_expiry(datetime(2026, 7, 28, 9, 15), date(2026, 7, 28))
    assert got == pytest.approx(375 / MINUTES_PER_YEAR, rel=1e-12)


def test_years_to_expiry_counts_calendar_days():
    # Friday close to Monday close is exactly three days of calendar time.
    got = cal.years_to_expiry(datetime(2026, 11, 20, 15, 40), date(2026, 11, 23))
    assert got == pytest.approx(3 / 365, rel=1e-12)
    assert cal.DAYS_PER_YEAR == 365


def test_tz_aware_as_of_is_converted_to_ist():
    utc = datetime(2026, 11, 23, 3, 45, tzinfo=timezone.utc)  # 09:15 IST
    assert cal.years_to_expiry(utc, date(2026, 11, 23)) == pytest.approx(385 / MINUTES_PER_YEAR, rel=1e-12)
    ist = datetime(2026, 11, 23, 9, 15, tzinfo=cal.IST)
    assert cal.years_to_expiry(ist, date(2026, 11, 23)) == pytest.approx(385 / MINUTES_PER_YEAR, rel=1e-12)


def test_years_to_expiry_is_vectorized_over_expiries():
    as_of = datetime(2026, 11, 23, 9, 15)
    expected = np.array([385, 36 * 24 * 60 + 385]) / MINUTES_PER_YEAR  # 23 Nov → 29 Dec is 36 days
    as_datetime64 = np.array(["2026-11-23", "2026-12-29"], dtype="datetime64[D]")
    np.testing.assert_allclose(cal.years_to_expiry(as_of, as_datetime64), expected, rtol=1e-12)
    np.testing.assert_allclose(cal.years_to_expiry(as_of, [date(2026, 11, 23), date(2026, 12, 29)]), expected,
                               rtol=1e-12)
    grid = np.array([["2026-11-23", "2026-12-29"], ["2026-12-29", "2026-11-23"]], dtype="datetime64[ns]")
    got = cal.years_to_expiry(as_of, grid)
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got, [expected, expected[::-1]], rtol=1e-12)


def test_at_the_close_time_to_expiry_is_zero_and_after_it_is_stale():
    assert cal.years_to_expiry(datetime(2026, 11, 23, 15, 40), date(2026, 11, 23)) == 0.0
    with pytest.raises(InputError, match="stale expiry 2026-11-23"):
        cal.years_to_expiry(datetime(2026, 11, 23, 15, 41), [date(2026, 11, 30), date(2026, 11, 23)])
    with pytest.raises(InputError, match="stale expiry 2026-07-28"):
        cal.years_to_expiry(datetime(2026, 7, 28, 15, 35), date(2026, 7, 28))  # 15:30 close then


def test_years_to_expiry_input_errors():
    with pytest.raises(InputError, match="as_of"):
        cal.years_to_expiry(date(2026, 11, 23), date(2026, 11, 23))
    with pytest.raises(InputError, match="as_of"):
        cal.years_to_expiry(pd.NaT, date(2026, 11, 23))
    with pytest.raises(InputError, match="expiry"):
        cal.years_to_expiry(datetime(2026, 11, 23, 9, 15), [])
    with pytest.raises(InputError, match="expiry"):
        cal.years_to_expiry(datetime(2026, 11, 23, 9, 15), np.array(["NaT"], dtype="datetime64[D]"))
    with pytest.raises(InputError, match="expiry"):
        cal.years_to_expiry(datetime(2026, 11, 23, 9, 15), 20261123)


# ---------------------------------------------------------------- reference data hygiene


@pytest.mark.parametrize("path", [cal.SESSIONS_FILE, cal.EXPIRY_RULES_FILE])
def test_every_reference_row_is_dated_and_sourced(path):
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        date.fromisoformat(row["effective_from"])
        assert row["source"].strip()


def test_every_2026_nifty_monthly_is_the_last_tuesday_or_a_trading_day_just_before():
    # nominal: the Tuesday on or after the expiry; it must be the last Tuesday of the month.
    for month in range(1, 13):
        expiry = cal.monthly_expiry("NIFTY", 2026, month)
        nominal = expiry + timedelta(days=(1 - expiry.weekday()) % 7)
        assert nominal.weekday() == 1 and (nominal + timedelta(days=7)).month != month
        assert cal.is_trading_day(expiry)


# ---------------------------------------------------------------- special sessions and coverage


def test_the_saturday_budget_session_of_1_feb_2025_is_a_trading_day_with_normal_hours():
    budget = date(2025, 2, 1)  # NSE circular of 23-Dec-2024: live session 09:15-15:30 on a Saturday
    assert cal.is_trading_day(budget) and cal.closed_reason(budget) is None
    assert cal.session(budget, "FO") == (time(9, 15), time(15, 30)) == cal.session(budget, "CM")
    assert cal.next_trading_day(date(2025, 1, 31)) == budget and cal.previous_trading_day(date(2025, 2, 3)) == budget
    assert cal.trading_days(date(2025, 1, 31), date(2025, 2, 3)) == [date(2025, 1, 31), budget, date(2025, 2, 3)]
    assert cal.special_session(budget) == "Union Budget (Saturday), special session 09:15–15:30 IST"
    assert not cal.is_trading_day(date(2025, 2, 2)) and cal.special_session(date(2025, 2, 3)) is None


def test_muhurat_2025_trades_one_hour_on_a_holiday_but_hosts_no_expiry():
    muhurat = date(2025, 10, 21)  # Diwali Laxmi Pujan, a Tuesday holiday: Muhurat session 13:45-14:45
    assert cal.is_trading_day(muhurat) and cal.session(muhurat) == (time(13, 45), time(14, 45))
    assert cal.holiday_name(muhurat).startswith("Diwali Laxmi Pujan")
    # The NIFTY weekly of Tuesday 21-Oct-2025 expired on Monday 20-Oct, the regular trading day before.
    assert cal.expiries("NIFTY", date(2025, 10, 15), 1) == [date(2025, 10, 20), date(2025, 10, 28)]
    after_close = datetime(2025, 10, 21, 14, 45)
    assert cal.previous_close(date(2025, 10, 23)) == after_close.replace(tzinfo=cal.IST)  # 22nd: Balipratipada


def test_the_coverage_warning_starts_30_days_before_the_calendar_ends():
    assert cal.coverage_warning(date(2026, 11, 30)) is None  # 31 days left
    assert cal.coverage_warning(date(2026, 12, 1)).startswith("the NSE holiday calendar ends on 2026-12-31 (30 days")
    warning = cal.coverage_warning(date(2026, 12, 7))
    assert warning.startswith("the NSE holiday calendar ends on 2026-12-31 (24 days from 2026-12-07): from "
                              "2027-01-01 every weekday counts as a trading day")
    assert "optionsv4 calendar import-holidays FILE" in warning
    assert cal.coverage_warning(date(2027, 3, 1)).startswith("the NSE holiday calendar ended on 2026-12-31")
