"""The `api_pacing` table: rate-limit grants shared by every process on one database.

Each key (e.g. "dhan:<client id>:quote") keeps the latest grant times of its limiter, in seconds since the epoch on
the database's clock (one clock for every process, whatever machine it runs on). A reservation locks the key's row
(SELECT … FOR UPDATE), so reservations of one key are made one at a time across processes, in the order they lock.
"""

import psycopg2

from optionsv4_lib.core.errors import InputError
from optionsv4_lib.store.db import as_data_error, transaction


def reserve_slot(conn, key: str, count: int, per: float) -> float:
    """Reserve the earliest moment that keeps at most `count` grants of `key` in any window of `per` seconds: now, or
    `per` after the count-th latest grant. Returns the seconds (≥ 0) the caller must wait before its request.
    DataError naming the table when the database refuses (e.g. migration 0014 not applied)."""
    if not isinstance(key, str) or not key:
        raise InputError(f"key: expected a non-empty string, got {key!r}")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise InputError(f"count: expected an integer ≥ 1, got {count!r}")
    if not 0 <= per < float("inf"):
        raise InputError(f"per: expected a finite number of seconds ≥ 0, got {per!r}")
    try:
        with transaction(conn) as cur:
            cur.execute("INSERT INTO api_pacing (key) VALUES (%s) ON CONFLICT (key) DO NOTHING", (key,))
            cur.execute("SELECT grants FROM api_pacing WHERE key = %s FOR UPDATE", (key,))
            grants = list(cur.fetchone()[0])
            cur.execute("SELECT extract(epoch FROM clock_timestamp())::double precision")  # after the lock is held
            now = cur.fetchone()[0]
            latest = grants[-count:]
            slot = max(now, latest[0] + per) if len(latest) == count else now
            cur.execute("UPDATE api_pacing SET grants = %s, updated_at = now() WHERE key = %s",
                        ((latest + [slot])[-count:], key))
    except psycopg2.Error as exc:
        raise as_data_error(exc, "api_pacing") from exc
    return slot - now
