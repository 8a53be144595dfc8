"""NSE trading days, session times, expiries, and THE time-to-expiry convention.

Time to expiry, used everywhere in OptionsV4: ACT/365 calendar time, in years, from a moment to the F&O
normal-market close (IST, from session_times.csv) on the expiry day. A naive datetime means IST.

Reference data in include/data/, each row with its source:
- nse_holidays.csv: weekday trading holidays, covering whole calendar years; a year imported from NSE's published
  list (`optionsv4 calendar import-holidays`, reference.holiday_import) into USER_REFERENCE_DIR/nse_holidays.csv
  replaces that year's bundled rows. Outside the covered years every weekday counts as a trading day (trading
  days, sessions, expiries alike), with a warning logged once per uncovered year that its holidays are unconfirmed
  (unconfirmed_holidays gives the sentence for a run's output; coverage_warning warns 30 days ahead).
- special_sessions.csv: sessions on a weekend or holiday (Union Budget on a Saturday or Sunday, Muhurat trading)
  with their open and close: those days are trading days with those hours (both segments). Expiries never move to
  them: an expiry on a holiday moves to the previous regular trading day.
- session_times.csv: normal-market open and close per segment (FO, CM), effective-dated.
- expiry_rules.csv: for each underlying (NIFTY, BANKNIFTY, FINNIFTY; STOCK for every other symbol) and
  kind (weekly, monthly), the expiry weekday for contracts expiring on or after effective_from. Monthly
  contracts expire on the last such weekday of the month; 'none' means no such contracts. An expiry that
  falls on a holiday moves to the previous trading day.
"""

import csv
import functools
import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.paths import DATA_DIR, USER_REFERENCE_DIR
from optionsv4_lib.reference.dated import row_in_force

HOLIDAYS_FILE = DATA_DIR / "nse_holidays.csv"
IMPORTED_HOLIDAYS_FILE = USER_REFERENCE_DIR / "nse_holidays.csv"
HOLIDAY_COLUMNS = ("date", "description", "weekday", "source_circular")
SPECIAL_SESSIONS_FILE = DATA_DIR / "special_sessions.csv"
COVERAGE_WARNING_DAYS = 30  # the daily run warns this many days before the holiday calendar runs out
SESSIONS_FILE = DATA_DIR / "session_times.csv"
EXPIRY_RULES_FILE = DATA_DIR / "expiry_rules.csv"

DAYS_PER_YEAR = 365
IST = ZoneInfo("Asia/Kolkata")
STOCK = "STOCK"

_WEEKDAYS = {"Monday": 0, "Tuesday": 1, "Wednesday": 2, "Thursday": 3, "Friday": 4, "Saturday": 5, "Sunday": 6}
_SECONDS_PER_YEAR = DAYS_PER_YEAR * 24 * 3600

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- reference files


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a reference CSV as dicts of stripped strings; DataError if the file or a column is missing."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = sorted(set(columns) - set(reader.fieldnames or ()))
            if missing:
                raise DataError(f"{path.name}: missing columns {missing}")
            return [{key: (value or "").strip() for key, value in row.items()} for row in reader]
    except FileNotFoundError as exc:
        raise DataError(f"{path}: reference file not found") from exc


def _parse(value: str, parser, path: Path, column: str):
    try:
        return parser(value)
    except (ValueError, KeyError) as exc:
        raise DataError(f"{path.name}: bad {column} {value!r}") from exc


def _holiday_rows(path: Path) -> dict[date, str]:
    rows = _read_csv(path, ("date", "description"))
    return {_parse(row["date"], date.fromisoformat, path, "date"): row["description"] for row in rows}


@functools.cache
def _holidays() -> dict[date, str]:
    """Bundled holidays, with each year found in the imported file taken from it instead."""
    imported = _holiday_rows(IMPORTED_HOLIDAYS_FILE) if IMPORTED_HOLIDAYS_FILE.exists() else {}
    years = {day.year for day in imported}
    return {day: name for day, name in _holiday_rows(HOLIDAYS_FILE).items() if day.year not in years} | imported


@functools.cache
def _special_sessions() -> dict[date, tuple[str, time, time]]:
    """Day → (kind, open, close) of the sessions held on a weekend or holiday."""
    table = {}
    for row in _read_csv(SPECIAL_SESSIONS_FILE, ("date", "kind", "open", "close")):
        day = _parse(row["date"], date.fromisoformat, SPECIAL_SESSIONS_FILE, "date")
        table[day] = (row["kind"], _parse(row["open"], time.fromisoformat, SPECIAL_SESSIONS_FILE, "open"),
                      _parse(row["close"], time.fromisoformat, SPECIAL_SESSIONS_FILE, "close"))
    return table


def reload() -> None:
    """Forget the tables read so far (after an import changed the holidays)."""
    for cached in (_holidays, holiday_coverage, _business_days, _special_sessions, _warn_year):
        cached.cache_clear()


@functools.cache
def holiday_coverage() -> tuple[date, date]:
    """First and last day of the whole calendar years that nse_holidays.csv (and any imported years) cover."""
    years = sorted({day.year for day in _holidays()})
    if not years or years != list(range(years[0], years[-1] + 1)):
        raise DataError(f"{HOLIDAYS_FILE.name} and {IMPORTED_HOLIDAYS_FILE}: expected consecutive whole years, "
                        f"found years {years}")
    return date(years[0], 1, 1), date(years[-1], 12, 31)


@functools.cache
def _business_days() -> np.busdaycalendar:
    return np.busdaycalendar(weekmask="1111100", holidays=sorted(_holidays()))


@functools.cache
def _sessions() -> dict[str, list[tuple[date, time, time]]]:
    table: dict[str, list[tuple[date, time, time]]] = {}
    for row in _read_csv(SESSIONS_FILE, ("effective_from", "segment", "open", "close")):
        table.setdefault(row["segment"], []).append((
            _parse(row["effective_from"], date.fromisoformat, SESSIONS_FILE, "effective_from"),
            _parse(row["open"], time.fromisoformat, SESSIONS_FILE, "open"),
            _parse(row["close"], time.fromisoformat, SESSIONS_FILE, "close"),
        ))
    return {segment: sorted(rows) for segment, rows in table.items()}


@functools.cache
def _expiry_rules() -> dict[tuple[str, str], list[tuple[date, int | None]]]:
    """(underlying, kind) → [(effective_from, weekday number or None)] sorted by date."""
    rules: dict[tuple[str, str], list[tuple[date, int | None]]] = {}
    for row in _read_csv(EXPIRY_RULES_FILE, ("effective_from", "underlying", "kind", "weekday")):
        if row["kind"] not in ("weekly", "monthly"):
            raise DataError(f"{EXPIRY_RULES_FILE.name}: bad kind {row['kind']!r}; expected weekly or monthly")
        weekday = None if row["weekday"] == "none" else _parse(row["weekday"], _WEEKDAYS.__getitem__,
                                                                EXPIRY_RULES_FILE, "weekday")
        effective = _parse(row["effective_from"], date.fromisoformat, EXPIRY_RULES_FILE, "effective_from")
        rules.setdefault((row["underlying"].upper(), row["kind"]), []).append((effective, weekday))
    return {key: sorted(rows) for key, rows in rules.items()}


# ---------------------------------------------------------------- inputs


def _as_date(value, field: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64) and not np.isnat(value):
        return value.astype("datetime64[D]").item()
    raise InputError(f"{field}: expected a date, got {value!r}")


def unconfirmed_holidays(d: date) -> str | None:
    """The warning for a day outside nse_holidays.csv's years (its weekdays count as trading days), else None."""
    day = _as_date(d, "d")
    start, end = holiday_coverage()
    if start <= day <= end:
        return None
    return (f"NSE trading holidays for {day.year} are not in {HOLIDAYS_FILE.name} (covers {start.year}–{end.year}): "
            f"weekdays of {day.year} count as trading days and may be holidays")


def _warn_uncovered(*days: date) -> None:
    """Log unconfirmed_holidays once per uncovered year among `days` and the years between them."""
    for year in range(min(days).year, max(days).year + 1):
        _warn_year(year)


@functools.cache
def _warn_year(year: int) -> None:
    if warning := unconfirmed_holidays(date(year, 1, 1)):
        log.warning("%s", warning)


def coverage_warning(today: date, days_ahead: int = COVERAGE_WARNING_DAYS) -> str | None:
    """What to do when the holiday calendar ends within `days_ahead` days of `today` (or has ended), else None."""
    day = _as_date(today, "today")
    end = holiday_coverage()[1]
    left = (end - day).days
    if left > days_ahead:
        return None
    when = f"ends on {end} ({left} days from {day})" if left >= 0 else f"ended on {end}"
    return (f"the NSE holiday calendar {when}: from {end + timedelta(days=1)} every weekday counts as a trading day "
            f"and holidays are unconfirmed; import NSE's {end.year + 1} list with `optionsv4 calendar "
            f"import-holidays FILE` (the JSON or CSV NSE publishes)")


# ---------------------------------------------------------------- trading days


def is_trading_day(d: date) -> bool:
    """True if NSE's equity and F&O segments trade on d: a weekday that is not a trading holiday, or a day with a
    special session."""
    day = _as_date(d, "d")
    _warn_uncovered(day)
    return day in _special_sessions() or bool(np.is_busday(np.datetime64(day), busdaycal=_business_days()))


def trading_days(start: date, end: date) -> list[date]:
    """Trading days from start to end, both inclusive."""
    first, last = _as_date(start, "start"), _as_date(end, "end")
    if first > last:
        raise InputError(f"start: {first} is after end {last}")
    _warn_uncovered(first, last)
    days = np.arange(np.datetime64(first), np.datetime64(last) + 1)
    special = np.isin(days, np.array(sorted(_special_sessions()), dtype="datetime64[D]"))
    return days[np.is_busday(days, busdaycal=_business_days()) | special].tolist()


def previous_trading_day(d: date) -> date:
    """The last trading day strictly before d."""
    day = _as_date(d, "d")
    regular = np.busday_offset(np.datetime64(day) - 1, 0, roll="backward", busdaycal=_business_days()).item()
    previous = max((s for s in _special_sessions() if regular < s < day), default=regular)
    _warn_uncovered(previous, day)
    return previous


def next_trading_day(d: date) -> date:
    """The first trading day strictly after d."""
    day = _as_date(d, "d")
    regular = np.busday_offset(np.datetime64(day) + 1, 0, roll="forward", busdaycal=_business_days()).item()
    following = min((s for s in _special_sessions() if day < s < regular), default=regular)
    _warn_uncovered(day, following)
    return following


def special_session(d: date) -> str | None:
    """'<kind>, special session <open>–<close> IST' if d has a session on a weekend or holiday, else None."""
    found = _special_sessions().get(_as_date(d, "d"))
    if found is None:
        return None
    kind, open_at, close_at = found
    return f"{kind}, special session {open_at:%H:%M}–{close_at:%H:%M} IST"


def holiday_name(d: date) -> str | None:
    """The holiday's description if d is a weekday trading holiday, else None (weekends, and days outside
    nse_holidays.csv's years, give None)."""
    day = _as_date(d, "d")
    _warn_uncovered(day)
    return _holidays().get(day)


def closed_reason(d: date) -> str | None:
    """'<d> is not an NSE trading day (<holiday name> | weekend)', or None when d is a trading day."""
    if is_trading_day(d):
        return None
    return f"{d} is not an NSE trading day ({holiday_name(d) or 'weekend'})"


def current_or_next_trading_day(today: date | None = None) -> date:
    """`today` if it is a trading day, else the next one (default: today in IST): the session live quotes taken on
    `today` are for."""
    day = today or datetime.now(IST).date()
    return day if is_trading_day(day) else next_trading_day(day)


def latest_trading_day(today: date | None = None) -> date:
    """The latest NSE trading day on or before `today` (default: today in IST)."""
    day = today or datetime.now(IST).date()
    return day if is_trading_day(day) else previous_trading_day(day)


# ---------------------------------------------------------------- sessions


def session(d: date, segment: str = "FO") -> tuple[time, time]:
    """Normal-market (open, close) in IST for segment ('FO' or 'CM') in force on d; a special session's hours on
    its day."""
    day = _as_date(d, "d")
    rows = _sessions().get(segment)
    if rows is None:
        raise InputError(f"segment: unknown segment {segment!r}; expected one of {sorted(_sessions())}")
    if day in _special_sessions():
        return _special_sessions()[day][1:]
    in_force = row_in_force(rows, day)
    if in_force is None:
        raise DataError(f"{SESSIONS_FILE.name}: no {segment} session times for {day}; the table covers "
                        f"{rows[0][0]} onwards")
    _, open_at, close_at = in_force
    return open_at, close_at


def previous_close(d: date) -> datetime:
    """The F&O close (IST) of the trading day before d: quotes taken earlier are not d's session's."""
    previous = previous_trading_day(d)
    return datetime.combine(previous, session(previous, "FO")[1], tzinfo=IST)


# ---------------------------------------------------------------- expiries


def _underlying(symbol: str) -> str:
    """The expiry-rule key of a symbol: the index name for NIFTY, BANKNIFTY, FINNIFTY; STOCK otherwise."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise InputError(f"symbol: expected a non-empty symbol, got {symbol!r}")
    key = symbol.strip().upper()
    indices = {underlying for underlying, _ in _expiry_rules()} - {STOCK}
    return key if key in indices else STOCK


def _expiry_weekday(underlying: str, kind: str, day: date) -> int | None:
    """Weekday number of the (underlying, kind) rule in force for contracts expiring on day; None if none."""
    rows = _expiry_rules().get((underlying, kind), [])
    in_force = row_in_force(rows, day)
    if in_force is None:
        covers = f"covers {underlying}'s contracts expiring from {rows[0][0]}" if rows else f"has no {underlying} rows"
        raise DataError(f"{EXPIRY_RULES_FILE.name}: no {kind} expiry rule for {underlying} contracts expiring on "
                        f"{day}; the table {covers}")
    return in_force[1]


def _roll_back_to_trading_day(day: date) -> date:
    """day if it is a regular trading day, else the previous one (never a special session)."""
    _warn_uncovered(day)
    return np.busday_offset(np.datetime64(day), 0, roll="backward", busdaycal=_business_days()).item()


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def _monthly_expiry(underlying: str, year: int, month: int) -> date:
    last = _month_end(year, month)
    for offset in range(last.day):
        day = last - timedelta(days=offset)
        if day.weekday() == _expiry_weekday(underlying, "monthly", day):
            return _roll_back_to_trading_day(day)
    raise DataError(f"no monthly expiry for {underlying} in {year}-{month:02d} in {EXPIRY_RULES_FILE.name}")


def monthly_expiry(symbol: str, year: int, month: int) -> date:
    """Expiry day of symbol's monthly contract for (year, month), holiday-adjusted."""
    if not isinstance(year, int) or isinstance(year, bool):
        raise InputError(f"year: expected an integer year, got {year!r}")
    if not isinstance(month, int) or isinstance(month, bool) or not 1 <= month <= 12:
        raise InputError(f"month: expected an integer 1–12, got {month!r}")
    return _monthly_expiry(_underlying(symbol), year, month)


def expiries(symbol: str, from_date: date, months_ahead: int = 3) -> list[date]:
    """Weekly and monthly expiries on or after from_date, up to the months_ahead-th monthly expiry.

    Sorted, unique, holiday-adjusted. The horizon counts monthly expiries on or after from_date, so just after
    a monthly expiry the next month is the first one.
    """
    underlying, start = _underlying(symbol), _as_date(from_date, "from_date")
    if not isinstance(months_ahead, int) or isinstance(months_ahead, bool) or months_ahead < 1:
        raise InputError(f"months_ahead: expected a positive integer, got {months_ahead!r}")
    monthlies: list[date] = []
    year, month = start.year, start.month
    while len(monthlies) < months_ahead:
        expiry = _monthly_expiry(underlying, year, month)
        if expiry >= start:
            monthlies.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    horizon = monthlies[-1]
    # A nominal weekly day up to a week past the horizon can roll back into it.
    nominal_days = (start + timedelta(days=offset) for offset in range((horizon - start).days + 8))
    weeklies = [_roll_back_to_trading_day(day) for day in nominal_days
                if day.weekday() == _expiry_weekday(underlying, "weekly", day)]
    return sorted({*monthlies, *(day for day in weeklies if start <= day <= horizon)})


def is_monthly_expiry(symbol: str, d: date) -> bool:
    """True if d is the (holiday-adjusted) monthly expiry day of symbol's contract for d's month."""
    day = _as_date(d, "d")
    return day == _monthly_expiry(_underlying(symbol), day.year, day.month)


def nth_expiry(symbol: str, day: date, kind: str, n: int) -> date:
    """The n-th (1 = nearest) weekly or monthly expiry of symbol's contracts on or after `day` (an expiry day's own
    contract is still the nearest that day). Weekly counts every expiry of the weekly cycle, the monthly one among
    them. InputError for a bad kind or n, or weeklies asked where the rules list none (stocks; BANKNIFTY and
    FINNIFTY from 2025)."""
    start = _as_date(day, "day")
    if kind not in ("weekly", "monthly"):
        raise InputError(f"kind: expected 'weekly' or 'monthly', got {kind!r}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(f"n: expected a whole number ≥ 1, got {n!r}")
    underlying = _underlying(symbol)
    if kind == "monthly":
        return [d for d in expiries(symbol, start, n) if is_monthly_expiry(symbol, d)][n - 1]
    if _expiry_weekday(underlying, "weekly", start) is None:
        raise InputError(f"{symbol}: no weekly expiries on {start} ({EXPIRY_RULES_FILE.name})")
    listed = expiries(symbol, start, 1 + n // 4 + 1)  # at least n expiries: a month holds four or five weeklies
    return listed[n - 1]


# ---------------------------------------------------------------- time to expiry


def _as_ist_naive(as_of: datetime) -> np.datetime64:
    if not isinstance(as_of, datetime):
        raise InputError(f"as_of: expected a datetime (naive = IST), got {as_of!r}")
    if as_of != as_of:  # pandas NaT, the one datetime unequal to itself
        raise InputError("as_of: got NaT")
    if as_of.tzinfo is not None and as_of.utcoffset() is not None:
        as_of = as_of.astimezone(IST).replace(tzinfo=None)
    return np.datetime64(as_of, "us")


def as_days(values, field: str) -> np.ndarray:
    """Dates (a date, datetime, datetime64 or an array of them) as datetime64[D]; InputError naming `field` when
    empty, not dates, or NaT."""
    if isinstance(values, datetime):
        values = values.date()
    array = np.asarray(values)
    if array.dtype.kind not in "MO":
        raise InputError(f"{field}: expected dates or datetime64, got dtype {array.dtype}")
    if array.size == 0:
        raise InputError(f"{field}: empty")
    try:
        days = array.astype("datetime64[D]")
    except (TypeError, ValueError) as exc:
        raise InputError(f"{field}: cannot read {values!r} as dates") from exc
    if np.any(np.isnat(days)):
        raise InputError(f"{field}: contains NaT")
    return days


def years_to_expiry(as_of: datetime, expiry) -> float | np.ndarray:
    """ACT/365 years from as_of to the F&O close (IST) on each expiry day.

    as_of: naive = IST; tz-aware is converted to Asia/Kolkata. expiry: a date or datetime64, or an array of
    them; a scalar gives a float, an array an array of its shape. A moment after an expiry's close raises
    InputError ("stale expiry").
    """
    moment = _as_ist_naive(as_of)
    days = as_days(expiry, "expiry")
    unique_days, inverse = np.unique(days.ravel(), return_inverse=True)
    closes = np.array([np.datetime64(day, "us") + _since_midnight(session(day.item(), "FO")[1])
                       for day in unique_days])
    close_at = closes[inverse].reshape(days.shape)
    seconds = (close_at - moment) / np.timedelta64(1, "s")
    stale = seconds < 0
    if np.any(stale):
        first = days[stale].min()
        raise InputError(f"expiry: stale expiry {first}: as_of {moment} IST is after its F&O close")
    years = seconds / _SECONDS_PER_YEAR
    return float(years) if years.ndim == 0 else years


def _since_midnight(moment: time) -> np.timedelta64:
    return np.timedelta64((moment.hour * 60 + moment.minute) * 60 + moment.second, "s")
