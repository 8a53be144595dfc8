"""NSE's published trading-holiday list → the calendar's imported holidays (USER_REFERENCE_DIR/nse_holidays.csv).

NSE publishes the list as JSON (its holiday-master API: {"FO": [{"tradingDate": "26-Jan-2027", "weekDay":
"Tuesday", "description": "Republic Day", "Sr_no": 1}, ...], "CM": [...], ...}) and as a CSV export of the same rows
(columns tradingDate/Date, weekDay/Day, description/Description, any case). The equity-derivatives list (FO) is
read; a file without one is refused. Each row must parse, its weekday must agree with its date, and the file must hold
one calendar year, at most one past the years the calendar already covers. Weekend rows are left out (no session
anyway). The year's rows replace any earlier rows of that year in the imported file, with the file named as source.
"""

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from optionsv4_lib.core.errors import InputError
from optionsv4_lib.reference import calendar

_DATE_FORMATS = ("%d-%b-%Y", "%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")
_COLUMNS = {"date": ("tradingdate", "date", "trading date"), "weekday": ("weekday", "day", "week day"),
            "description": ("description", "holiday", "holidays")}
_SEGMENT = "FO"


@dataclass(frozen=True)
class ImportedHolidays:
    """What an import wrote: the year, its weekday holidays (date → description), the weekend rows left out, and
    the file written."""

    year: int
    holidays: dict[date, str]
    weekend: list[date]
    path: Path


def read_nse_holidays(path: Path) -> list[dict[str, str]]:
    """The FO rows of NSE's holiday file (JSON or CSV) as {date, weekday, description} strings; InputError naming
    the file when it cannot be read or lacks the FO list or a column."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"file: cannot read {path} ({exc.strerror or exc})") from None
    if text.lstrip().startswith(("{", "[")):
        return _json_rows(text, path)
    return _csv_rows(text, path)


def _json_rows(text: str, path: Path) -> list[dict[str, str]]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise InputError(f"file: {path} is not JSON ({exc})") from None
    rows = document.get(_SEGMENT) if isinstance(document, dict) else document
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise InputError(f"file: {path} has no {_SEGMENT} (equity derivatives) list of holidays")
    return [_pick(row, path) for row in rows]


def _csv_rows(text: str, path: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise InputError(f"file: {path} has no rows")
    return [_pick(row, path) for row in rows]


def _pick(row: dict, path: Path) -> dict[str, str]:
    by_name = {str(key).strip().lower(): value for key, value in row.items() if key is not None}
    picked = {}
    for column, names in _COLUMNS.items():
        found = next((by_name[name] for name in names if name in by_name), None)
        if found is None:
            raise InputError(f"file: {path} has no {column} column (expected one of {list(names)}); "
                             f"got {sorted(by_name)}")
        picked[column] = str(found).strip()
    return picked


def _parse_date(text: str) -> date:
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise InputError(f"file: date {text!r} is not a date (expected e.g. 26-Jan-2027 or 2027-01-26)")


def validated(rows: list[dict[str, str]]) -> tuple[int, dict[date, str], list[date]]:
    """(year, weekday holidays, weekend dates) of NSE's rows; InputError for a bad date, a weekday that disagrees
    with its date, a repeated date, rows of more than one year, or a year the calendar cannot join to its years."""
    if not rows:
        raise InputError("file: no holidays in it")
    holidays: dict[date, str] = {}
    weekend: list[date] = []
    for row in rows:
        day = _parse_date(row["date"])
        if row["weekday"] and row["weekday"].lower() != f"{day:%A}".lower():
            raise InputError(f"file: {day} is a {day:%A}, but the file says {row['weekday']!r}")
        if day in holidays or day in weekend:
            raise InputError(f"file: {day} appears twice")
        if day.weekday() >= 5:
            weekend.append(day)
        else:
            holidays[day] = row["description"] or "holiday"
    years = sorted({day.year for day in [*holidays, *weekend]})
    if len(years) != 1:
        raise InputError(f"file: holidays of one calendar year expected, found years {years}")
    first, last = (day.year for day in calendar.holiday_coverage())
    if not first - 1 <= years[0] <= last + 1:
        raise InputError(f"file: the calendar covers {first}–{last}; a {years[0]} list would leave a gap "
                         f"(import the years in between first)")
    if not holidays:
        raise InputError(f"file: no weekday holidays for {years[0]} in it")
    return years[0], holidays, weekend


def import_holidays(path: Path) -> ImportedHolidays:
    """Validate NSE's holiday file at `path` and write its year into the imported holidays (replacing that year's
    rows), then reload the calendar."""
    year, holidays, weekend = validated(read_nse_holidays(path))
    target = calendar.IMPORTED_HOLIDAYS_FILE
    kept = []
    if target.exists():
        with target.open(newline="", encoding="utf-8") as handle:
            kept = [row for row in csv.DictReader(handle) if not row["date"].startswith(f"{year}-")]
    source = f"NSE holiday list imported from {Path(path).name} on {date.today()} (FO segment)"
    rows = kept + [{"date": day.isoformat(), "description": name, "weekday": f"{day:%A}", "source_circular": source}
                   for day, name in holidays.items()]
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=calendar.HOLIDAY_COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda row: row["date"]))
    calendar.reload()
    return ImportedHolidays(year, holidays, weekend, target)
