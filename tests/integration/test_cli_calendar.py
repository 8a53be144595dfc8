"""`optionsv4 calendar show` and `optionsv4 calendar import-holidays` through the real entry point."""

import json

import pytest
from typer.testing import CliRunner

from optionsv4_lib.cli.main import app
from optionsv4_lib.reference import calendar as cal


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(autouse=True)
def imported_file(tmp_path, monkeypatch):
    monkeypatch.setattr(cal, "IMPORTED_HOLIDAYS_FILE", tmp_path / "reference" / "nse_holidays.csv")
    cal.reload()
    yield
    monkeypatch.undo()
    cal.reload()


def test_show_names_a_special_session_and_warns_of_the_calendar_end():
    ran = CliRunner().invoke(app, ["calendar", "show", "--date", "2025-02-01"])
    assert ran.exit_code == 0, ran.output
    assert ("2025-02-01 is an NSE trading day (Union Budget (Saturday), special session 09:15–15:30 IST"
            in flat(ran.output))
    ran = CliRunner().invoke(app, ["calendar", "show", "--date", "2026-12-07"])
    assert "the NSE holiday calendar ends on 2026-12-31 (24 days from 2026-12-07)" in flat(ran.output)


def test_import_holidays_then_show(tmp_path):
    path = tmp_path / "nse.json"
    path.write_text(json.dumps({"FO": [{"tradingDate": "26-Jan-2027", "weekDay": "Tuesday",
                                        "description": "Republic Day", "Sr_no": 1}]}))
    ran = CliRunner().invoke(app, ["calendar", "import-holidays", str(path)])
    assert ran.exit_code == 0, ran.output
    assert "Imported 1 weekday trading holidays for 2027" in flat(ran.output)
    assert "The calendar now covers 2025–2027." in ran.output
    shown = CliRunner().invoke(app, ["calendar", "show", "--date", "2027-01-26"])
    assert "2027-01-26 is not an NSE trading day (Republic Day)" in shown.output and "warning" not in shown.output


def test_a_bad_file_exits_2_naming_the_problem(tmp_path):
    path = tmp_path / "nse.csv"
    path.write_text("Date,Day,Description\n26-Jan-2027,Monday,Republic Day\n")
    ran = CliRunner().invoke(app, ["calendar", "import-holidays", str(path)])
    assert ran.exit_code == 2 and "Traceback" not in ran.output
    assert flat(ran.output) == "error: file: 2027-01-26 is a Tuesday, but the file says 'Monday'"
