"""The `instruments` table (Dhan's instrument master, read by adapters.dhan.scrip_master): replace the rows of some
exchange segments in one transaction, and find an option's security id, lot, or every option contract of some
underlyings.

An import replaces the rows of every (exchange, segment) present in the file, in one transaction, so a daily refresh
drops expired contracts and a one-segment file leaves the other segments alone.
"""

import io
import logging
from datetime import date

import numpy as np
import pandas as pd
import psycopg2

from optionsv4_lib.core.domain import normalize_option_type
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.store.db import as_data_error, transaction

log = logging.getLogger(__name__)

COLUMNS = ("exchange", "segment", "security_id", "exchange_segment", "instrument", "underlying_symbol",
           "underlying_security_id", "trading_symbol", "display_name", "symbol_name", "isin", "instrument_type",
           "series", "lot_size", "expiry_date", "strike", "option_type", "tick_size", "expiry_flag", "source")
"""The columns of `instruments` an import writes (and of the frame adapters.dhan.scrip_master reads)."""


def replace_instruments(conn, frame: pd.DataFrame, what: str) -> int:
    """Replace the `instruments` rows of the (exchange, segment) pairs in `frame` (COLUMNS) with its rows, in one
    transaction. Returns the rows stored; DataError naming the table when the database refuses them."""
    segments = list(frame[["exchange", "segment"]].drop_duplicates().itertuples(index=False, name=None))
    buffer = io.StringIO(frame.to_csv(index=False, header=False))  # missing values are empty, unquoted: NULL
    try:
        with transaction(conn) as cur:
            cur.execute("DELETE FROM instruments WHERE (exchange, segment) IN "
                        "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                        ([e for e, _ in segments], [s for _, s in segments]))
            cur.copy_expert(f"COPY instruments ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buffer)
    except psycopg2.Error as exc:
        raise as_data_error(exc, "instruments") from exc
    log.info("scrip master %s: %d instruments in %d segments", what, len(frame), len(segments))
    return len(frame)


def option_security_id(conn, symbol: str, expiry: date, strike: float, option_type: str, exchange: str = "NSE") -> int:
    """Dhan's security id of the `symbol` option expiring on `expiry` at `strike` (₹), CE or PE, on `exchange`.

    Raises InputError for a bad argument, DataError when `instruments` has no such contract (import a fresh scrip
    master) or more than one.
    """
    kind = normalize_option_type(option_type)
    if not (isinstance(strike, (int, float, np.number)) and np.isfinite(strike) and strike > 0):
        raise InputError(f"strike: must be a finite price > 0, got {strike!r}")
    if not isinstance(expiry, date):
        raise InputError(f"expiry: must be a date, got {expiry!r}")
    with transaction(conn) as cur:
        cur.execute(
            """SELECT security_id FROM instruments
               WHERE underlying_symbol = %s AND expiry_date = %s AND option_type = %s AND abs(strike - %s) < 0.001
                 AND exchange = %s AND instrument IN ('OPTIDX', 'OPTSTK')""",
            (symbol.strip().upper(), expiry, kind, float(strike), exchange),
        )
        found = [row[0] for row in cur.fetchall()]
    contract = f"{symbol} {expiry} {strike:g} {kind} on {exchange}"
    if not found:
        raise DataError(f"instruments: no option {contract}; import a current scrip master")
    if len(found) > 1:
        raise DataError(f"instruments: {len(found)} options match {contract}: {found}")
    return found[0]


def contract_lot(conn, symbol: str, expiry: date, exchange: str = "NSE") -> int | None:
    """Units per lot of `symbol`'s option contracts expiring on `expiry` in `instruments` (Dhan's SEM_LOT_UNITS);
    None when none is stored. DataError when the stored contracts of that expiry disagree."""
    with transaction(conn) as cur:
        cur.execute(
            """SELECT DISTINCT lot_size FROM instruments
               WHERE underlying_symbol = %s AND expiry_date = %s AND exchange = %s
                 AND instrument IN ('OPTIDX', 'OPTSTK') AND lot_size > 0""",
            (symbol.strip().upper(), expiry, exchange),
        )
        lots = sorted(int(row[0]) for row in cur.fetchall())
    if len(lots) > 1:
        raise DataError(f"instruments: {symbol} options expiring {expiry} in lots of {lots}: expected one lot")
    return lots[0] if lots else None


CONTRACT_COLUMNS = ("symbol", "expiry", "strike", "option_type", "security_id", "lot_size", "loaded_at")


def option_contracts(conn, symbols: list[str], exchange: str = "NSE") -> pd.DataFrame:
    """Every option contract of `symbols` in `instruments` on `exchange`: symbol, expiry (date), strike (₹),
    option_type (CE/PE), security_id, lot_size (units; <NA> when not stored), loaded_at (when the row was imported,
    UTC), by symbol, expiry, strike, type."""
    wanted = sorted({symbol.strip().upper() for symbol in symbols})
    with transaction(conn) as cur:
        cur.execute(
            """SELECT underlying_symbol, expiry_date, strike, option_type, security_id, lot_size, loaded_at
               FROM instruments
               WHERE underlying_symbol = ANY(%s) AND exchange = %s AND instrument IN ('OPTIDX', 'OPTSTK')
               ORDER BY underlying_symbol, expiry_date, strike, option_type""",
            (wanted, exchange),
        )
        rows = cur.fetchall()
    frame = pd.DataFrame(rows, columns=list(CONTRACT_COLUMNS))
    frame["strike"] = frame["strike"].astype("float64")
    frame["security_id"] = frame["security_id"].astype("int64")
    lots = pd.to_numeric(frame["lot_size"], errors="coerce")
    frame["lot_size"] = lots.where(lots > 0).round().astype("Int64")
    frame["loaded_at"] = pd.to_datetime(frame["loaded_at"], utc=True)
    return frame
