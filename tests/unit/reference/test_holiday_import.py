"""Importing NSE's holiday list (holiday-master JSON or its CSV export) into the calendar, on hand-made files."""

import json
from datetime import date

import pytest

from optionsv4_lib.core.errors import InputError
from optionsv4_lib.reference import calendar as cal
from optionsv4_lib.reference.holiday_import import import_holidays

FO_2027 = [  # the shape of NSE's holiday-master API; dates and names invented for the test
    {"tradingDate": "26-Jan-2027", "weekDay": "Tuesday", "description": "Republic Day", "Sr_no": 1},
    {"tradingDate": "15-Aug-2027", "weekDay": "Sunday", "description": "Independence Day", "Sr_no": 2},
    {"tradingDate": "02-Oct-2027", "weekDay": "Saturday", "description": "Gandhi Jayanti", "Sr_no": 3},
    {"tradingDate": "25-Mar-2027", "weekDay": "Thursday", "description": "Test Holiday", "Sr_no": 4},
]


@pytest.fixture(autouse=True)
def imported_file(tmp_path, monkeypatch):
    """The imported holidays in a temp dir; the calendar forgets them afterwards."""
    monkeypatch.setattr(cal, "IMPORTED_HOLIDAYS_FILE", tmp_path / "reference" / "nse_holidays.csv")
    cal.reload()
    yield cal.IMPORTED_HOLIDAYS_FILE
    monkeypatch.undo()
    cal.reload()


def write_json(tmp_path, rows, name="holidays.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"CM": rows[:1], "FO": rows}))
    return path


def test_a_2027_json_list_extends_the_calendar(tmp_path, imported_file):
    assert cal.is_trading_day(date(2027, 1, 26)) and cal.unconfirmed_holidays(date(2027, 1, 26))
    imported = import_holidays(write_json(tmp_path, FO_2027))
    assert imported.year == 2027 and imported.path == imported_file
    assert imported.holidays == {date(2027, 1, 26): "Republic Day", date(2027, 3, 25): "Test Holiday"}
    assert imported.weekend == [date(2027, 8, 15), date(2027, 10, 2)]
    assert cal.holiday_coverage() == (date(2025, 1, 1), date(2027, 12, 31))
    assert cal.closed_reason(date(2027, 1, 26)) == "2027-01-26 is not an NSE trading day (Republic Day)"
    assert cal.unconfirmed_holidays(date(2027, 1, 27)) is None
    assert cal.next_trading_day(date(2027, 1, 25)) == date(2027, 1, 27)
    assert cal.coverage_warning(date(2026, 12, 7)) is None
    assert "imported from holidays.json" in imported_file.read_text()


def test_a_csv_export_replaces_the_bundled_rows_of_its_year(tmp_path):
    path = tmp_path / "nse.csv"  # 2026 reissued with Christmas only (header in NSE's export style)
    path.write_text("Sr. No.,Date,Day,Description\n1,25-Dec-2026,Friday,Christmas\n")
    import_holidays(path)
    assert cal.holiday_name(date(2026, 12, 25)) == "Christmas"
    assert cal.is_trading_day(date(2026, 11, 24))  # Guru Nanak Jayanti is not in the reissued list
    assert cal.holiday_name(date(2025, 2, 26)) == "Mahashivratri"  # other years untouched


@pytest.mark.parametrize("rows, message", [
    ([{"tradingDate": "26-Jan-2027", "weekDay": "Monday", "description": "Republic Day"}],
     "2027-01-26 is a Tuesday, but the file says 'Monday'"),
    ([{"tradingDate": "31-Feb-2027", "weekDay": "", "description": "x"}], "date '31-Feb-2027' is not a date"),
    ([{"tradingDate": "26-Jan-2027", "weekDay": "Tuesday", "description": "a"},
      {"tradingDate": "01-Jan-2028", "weekDay": "Saturday", "description": "b"}],
     "holidays of one calendar year expected, found years [2027, 2028]"),
    ([{"tradingDate": "26-Jan-2029", "weekDay": "Friday", "description": "a"}],
     "the calendar covers 2025–2026; a 2029 list would leave a gap"),
    ([{"tradingDate": "26-Jan-2027", "weekDay": "Tuesday", "description": "a"}] * 2, "2027-01-26 appears twice"),
    ([{"date": "26-Jan-2027", "weekDay": "Tuesday"}], "has no description column"),
])
def test_a_bad_list_is_refused_naming_what_is_wrong_and_nothing_is_written(tmp_path, imported_file, rows, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        import_holidays(write_json(tmp_path, rows))
    assert not imported_file.exists()


def test_a_json_without_the_fo_list_is_refused(tmp_path):
    path = tmp_path / "cm.json"
    path.write_text(json.dumps({"CM": FO_2027}))
    with pytest.raises(InputError, match="has no FO"):
        import_holidays(path)
