"""PostgreSQL storage: connections and migrations (db), loads and queries (repository), Dhan's scrip master.

`open_store()` is the one call the pipeline needs: with a configured URL it connects and checks the schema is
current (apply migrations explicitly with `optionsv4 db migrate`); with none it starts or reuses the embedded
server, migrates it and seeds empty reference tables from the bundled CSVs.
"""

from pathlib import Path

from optionsv4_lib.config import Settings, settings as current_settings
from optionsv4_lib.errors import DataError
from optionsv4_lib.store.db import (EMBEDDED_HOME, EmbeddedPostgres, connect, mask_url, migrate, pending_migrations,
                                    transaction)
from optionsv4_lib.store.repository import (fetch_analysis, load_allocations_from_db, load_universe,
                                            replace_allocations, replace_universe, seed_reference_data, store_analysis)

__all__ = [
    "EMBEDDED_HOME", "EmbeddedPostgres", "connect", "fetch_analysis", "load_allocations_from_db", "load_universe",
    "mask_url", "migrate", "open_store", "pending_migrations", "replace_allocations", "replace_universe",
    "seed_reference_data", "store_analysis", "transaction",
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
