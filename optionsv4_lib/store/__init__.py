"""PostgreSQL storage: connections and migrations (db), loads and queries (repository), Dhan's scrip master.

`open_store()` is the one call the pipeline needs: with a configured URL it connects and checks the schema is
current (apply migrations explicitly with `optionsv4 db migrate`); with none it starts or reuses the embedded
server, migrates it and seeds empty reference tables from the bundled CSVs.
"""

from datetime import date
from pathlib import Path

import pandas as pd

from optionsv4_lib.analysis.allocation import Allocations
from optionsv4_lib.config import Settings
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.core.errors import DataError
from optionsv4_lib.store.db import (
    EMBEDDED_HOME,
    EmbeddedPostgres,
    connect,
    mask_url,
    migrate,
    pending_migrations,
    transaction,
)
from optionsv4_lib.store.runs import (
    atm_iv_history,
    fetch_analysis,
    load_allocations_from_db,
    load_universe,
    replace_allocations,
    replace_universe,
    seed_reference_data,
    store_analysis,
)

__all__ = [
    "EMBEDDED_HOME", "EmbeddedPostgres", "connect", "fetch_analysis", "load_allocations_from_db", "load_universe",
    "mask_url", "migrate", "open_store", "pending_migrations", "replace_allocations", "replace_universe",
    "seed_reference_data", "store_analysis", "stored_iv_history", "stored_universe", "transaction",
]


def open_store(settings: Settings | None = None, home: Path | None = None):
    """A connection to the pipeline's database, ready to use (see the module docstring). The caller closes it.

    Raises DataError when a configured database has pending migrations or an edited one.
    """
    cfg = settings or current_settings()
    if cfg.database_url is not None:
        conn = connect(cfg.database_url.get_secret_value())
    else:
        conn = connect(EmbeddedPostgres(home or cfg.embedded_dir).start())
    try:
        if cfg.database_url is None:
            migrate(conn)
            seed_reference_data(conn)
        elif pending := pending_migrations(conn):
            raise DataError(f"database schema is behind: {len(pending)} pending migration(s) from "
                            f"{pending[0].name}; run `optionsv4 db migrate`")
    except BaseException:
        conn.close()
        raise
    return conn


def stored_universe(settings: Settings | None = None) -> tuple[pd.DataFrame, Allocations]:
    """The universe and the sector/industry allocations stored in the pipeline's database."""
    conn = open_store(settings)
    try:
        return load_universe(conn), load_allocations_from_db(conn)
    finally:
        conn.close()


def stored_iv_history(before: date, settings: Settings | None = None) -> pd.DataFrame:
    """runs.atm_iv_history of the pipeline's database: symbol, trade_date, atm_iv of the stored runs before `before`."""
    conn = open_store(settings)
    try:
        return atm_iv_history(conn, before)
    finally:
        conn.close()
