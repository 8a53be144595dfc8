"""Dhan's expired-options data (/charts/rollingoption) fetched into the cache that marketdata.expired_options reads.
Only `optionsv4 data fetch-expired` downloads; backtests read the cache.

Dhan keeps its expired options as rolling series relative to the money: for a symbol, an expiry flag (WEEK, MONTH)
and code (1 near, 2 next, 3 far — Dhan's own example and its 2026 annexure; the classic docs' 0-based codes are
unverified for this endpoint), a strike ATM+k (k from −10 to 10 for index options, −3 to 3 for the rest) and CALL
or PUT, the bars of whichever contract held that place at each moment, with open, high, low, close, volume, OI,
IV, the contract's strike and the underlying's spot. One request covers at most 30 days (toDate exclusive), so a
range is asked in 30-day windows, every offset and side of each window.

Re-keying, per trade date (IST) of the bars: the strike is Dhan's strike field; the expiry is
reference.calendar.nth_expiry(symbol, date, weekly|monthly, code) — Dhan sends no expiry. Each (date, offset, side)
keeps its last bar (the contract at the ATM+k place at the close: close, OI, IV, spot, bar time); open, high, low
and volume are over the bars of that contract that day (while it was within ATM±N, so volume may be short of the
day's). IV arrives in percent (like the option chain's; unverified for this endpoint) and is kept as a decimal.
A window whose trading days are all cached with the offsets asked is skipped, so a rerun resumes.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from optionsv4_lib.adapters.dhan.client import EXPIRED_FIELDS, EXPIRED_MAX_OFFSET, EXPIRED_WINDOW_DAYS, DhanClient
from optionsv4_lib.adapters.dhan.market_data import column_arrays
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.marketdata.expired_options import EXPIRED_COLUMNS, cached_offsets, write_series
from optionsv4_lib.marketdata.source import as_symbol
from optionsv4_lib.reference.calendar import IST, nth_expiry, trading_days
from optionsv4_lib.reference.universe import load_universe

EXPIRY_KINDS = {"WEEK": "weekly", "MONTH": "monthly"}  # Dhan's expiryFlag → the calendar's kind
STOCK_MAX_OFFSET = 3  # Dhan: ATM±3 for options other than index options
SIDES = (("CALL", "CE"), ("PUT", "PE"))
DEFAULT_INTERVAL = 60  # minutes per bar: the last bar of a day (15:15 IST) closes at the close
_INSTRUMENT = {"IDX_I": "OPTIDX", "NSE_EQ": "OPTSTK"}  # Dhan instrument of the options on an underlying segment


@dataclass(frozen=True)
class Window:
    """One 30-day window of a fetch: from `start` to `until` (exclusive); status 'fetched' or 'present' (every
    trading day already cached); the trading days it wrote."""

    start: date
    until: date
    status: str
    days: tuple[date, ...] = ()


def fetch_expired(client: DhanClient, symbol: str, start: date, end: date, cache: Path, *, flag: str = "WEEK",
                  code: int = 1, strikes: int = 3, interval: int = DEFAULT_INTERVAL,
                  universe: pd.DataFrame | None = None, progress: Callable[[Window], None] | None = None
                  ) -> list[Window]:
    """Fetch symbol's series `flag``code` at ATM−strikes … ATM+strikes, CALL and PUT, for the trading days from
    start to end (inclusive), into the cache; one Window per 30 days. InputError for an unknown symbol, flag or code,
    too many strikes or dates out of order; DataError for an answer that cannot be read."""
    key = as_symbol(symbol)
    if start > end:
        raise InputError(f"from: {start} is after to {end}")
    if flag not in EXPIRY_KINDS:
        raise InputError(f"flag: expected one of {', '.join(EXPIRY_KINDS)}, got {flag!r}")
    if code not in (1, 2, 3) or isinstance(code, bool):
        raise InputError(f"code: expected 1 (near), 2 (next) or 3 (far), got {code!r}")
    rows = (load_universe() if universe is None else universe).set_index("symbol")
    if key not in rows.index:
        raise InputError(f"symbol: {key} is not in the universe (no Dhan security id)")
    segment = str(rows.loc[key, "underlying_segment"])
    if segment not in _INSTRUMENT:
        raise DataError(f"{key}: underlying segment {segment!r} has no options on Dhan")
    limit = EXPIRED_MAX_OFFSET if segment == "IDX_I" else STOCK_MAX_OFFSET
    if not isinstance(strikes, int) or not 0 <= strikes <= limit:
        raise InputError(f"strikes: Dhan keeps ATM±{limit} for {key}; expected 0 to {limit}, got {strikes!r}")
    nth_expiry(key, start, EXPIRY_KINDS[flag], code)  # refuses weeklies where the expiry rules list none
    series, offsets = f"{flag}{code}", range(-strikes, strikes + 1)
    done = []
    for first, until in windows(start, end):
        days = trading_days(first, until - timedelta(days=1))
        if all(set(offsets) <= cached_offsets(cache, key, day, series) for day in days):
            window = Window(first, until, "present")
        else:
            bars = []
            for offset in offsets:
                for side, option_type in SIDES:
                    columns = client.expired_options(
                        int(rows.loc[key, "dhan_security_id"]), "NSE_FNO", _INSTRUMENT[segment], flag, code,
                        strike_label(offset), side, first.isoformat(), until.isoformat(), interval)
                    bars.append(parse_bars(columns, f"{key} {series} {strike_label(offset)} {side} {first}..{until}")
                                .assign(offset=offset, option_type=option_type))
            daily = daily_rows(pd.concat(bars, ignore_index=True), key, series, EXPIRY_KINDS[flag], code)
            written = []
            for day, rows_of_day in daily.groupby("date"):
                if day.date() in days:
                    write_series(cache, key, day.date(), series, rows_of_day)
                    written.append(day.date())
            window = Window(first, until, "fetched", tuple(written))
        done.append(window)
        if progress:
            progress(window)
    return done


def windows(start: date, end: date) -> list[tuple[date, date]]:
    """(from, until exclusive) windows of at most EXPIRED_WINDOW_DAYS days covering start to end inclusive."""
    out, first = [], start
    while first <= end:
        until = min(first + timedelta(days=EXPIRED_WINDOW_DAYS), end + timedelta(days=1))
        out.append((first, until))
        first = until
    return out


def strike_label(offset: int) -> str:
    """Dhan's strike field of an offset: 0 → ATM, 2 → ATM+2, −3 → ATM-3."""
    return "ATM" if offset == 0 else f"ATM{offset:+d}"


def parse_bars(columns: dict, what: str) -> pd.DataFrame:
    """One series' column arrays as bars: timestamp (UTC), open, high, low, close, volume, oi, iv (decimal; NaN for 0),
    strike, spot. DataError naming a missing or misaligned array, or a value that is not a finite number, a strike or
    spot not > 0."""
    names = (*EXPIRED_FIELDS, "timestamp")
    if not columns:
        return pd.DataFrame(columns=names)
    values = column_arrays(columns, names, what)
    unpriced = [name for name in ("strike", "spot") if not (values[name] > 0).all()]
    if unpriced:
        raise DataError(f"{what}: {' and '.join(unpriced)} not > 0 in some bars")
    frame = pd.DataFrame(values)
    frame["timestamp"] = pd.to_datetime(np.round(values["timestamp"]).astype("int64"), unit="s", utc=True)
    frame["iv"] = np.where(values["iv"] > 0, values["iv"] / 100, np.nan)  # percent → decimal; 0 = unknown
    frame[["volume", "oi"]] = np.round(frame[["volume", "oi"]]).astype("int64")
    return frame


def daily_rows(bars: pd.DataFrame, symbol: str, series: str, kind: str, code: int) -> pd.DataFrame:
    """Bars (parse_bars plus offset and option_type) re-keyed to real strikes and expiries, one row per trade date,
    offset and side (see the module docstring), as EXPIRED_COLUMNS."""
    if bars.empty:
        return pd.DataFrame(columns=EXPIRED_COLUMNS)
    bars = bars.assign(date=bars["timestamp"].dt.tz_convert(IST).dt.tz_localize(None).dt.normalize())
    bars = bars.sort_values("timestamp", kind="stable")
    last = bars.groupby(["date", "offset", "option_type"], as_index=False).last()
    contract = bars.groupby(["date", "strike", "option_type"], as_index=False).agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"), volume=("volume", "sum"))
    daily = last.drop(columns=["open", "high", "low", "volume"]).merge(contract, on=["date", "strike", "option_type"])
    daily = daily.sort_values("timestamp", kind="stable").drop_duplicates(  # a contract in two places: its latest bar
        ["date", "strike", "option_type"], keep="last")
    expiries = {day: pd.Timestamp(nth_expiry(symbol, day.date(), kind, code)) for day in daily["date"].unique()}
    daily = daily.assign(symbol=symbol, series=series, expiry=daily["date"].map(expiries),
                         bar_time=daily["timestamp"])
    return daily.sort_values(["date", "strike", "option_type"], ignore_index=True).reindex(columns=EXPIRED_COLUMNS)
