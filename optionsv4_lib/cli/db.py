"""`optionsv4 db …`, `optionsv4 import-scrip-master` and `optionsv4 import-allocations`: thin wiring over store/.

Without OPTIONSV4_DATABASE_URL (or SUPABASE_DB_URL) every command uses the embedded PostgreSQL in .optionsv4/ of the
working directory. URLs are printed with the password masked unless `db url --show-secret` is given.
"""

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from optionsv4_lib.adapters.dhan.scrip_master import import_scrip_master as load_scrip_master
from optionsv4_lib.analysis.allocation import (
    DATA_DIR,
    INDUSTRY_FILE,
    SECTOR_FILE,
    load_allocations,
    validate_allocations,
)
from optionsv4_lib.cli.common import console, errors_to_exit
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.store import open_store
from optionsv4_lib.store.db import EmbeddedPostgres, connect, mask_database_url, mask_url, migrate, pending_migrations
from optionsv4_lib.store.runs import (
    QUERIES,
    latest_run,
    load_universe,
    orphan_counts,
    replace_allocations,
    run_query,
    seed_reference_data,
    table_counts,
)

db_app = typer.Typer(no_args_is_help=True, add_completion=False,
                     help="The database: embedded server, migrations, checks and example queries.")
def _configured_url() -> str | None:
    url = current_settings().database_url
    return None if url is None else url.get_secret_value()


def _connection():
    """The configured database as it is (so pending migrations can be reported), else the embedded one, ready."""
    configured = _configured_url()
    return connect(configured) if configured else open_store()


@db_app.command()
def start() -> None:
    """Start the embedded PostgreSQL (or find it running) in .optionsv4/, migrate it and seed its reference tables."""
    with errors_to_exit():
        if _configured_url():
            console.print("A database URL is configured; the embedded server is not used.")
            return
        open_store().close()
        status()


@db_app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL (open sessions are disconnected)."""
    with errors_to_exit():
        stopped = EmbeddedPostgres(current_settings().embedded_dir).stop()
    console.print("stopped" if stopped else "not running")


@db_app.command()
def status() -> None:
    """Which database is used, and whether the embedded server runs (pid, data directory)."""
    configured = _configured_url()
    if configured:
        console.print(f"database: {mask_database_url(configured)} (configured)")
        return
    state = EmbeddedPostgres(current_settings().embedded_dir).status()
    if state.running:
        console.print(f"embedded PostgreSQL running · pid {state.pid} · since {state.started_at:%Y-%m-%d %H:%M:%S}\n"
                      f"data: {state.pgdata}\nurl:  {state.url}")
    else:
        console.print(f"embedded PostgreSQL not running · data: {state.pgdata} (optionsv4 db start)")


@db_app.command()
def url(show_secret: bool = typer.Option(False, "--show-secret", help="Print the password too.")) -> None:
    """Print the database URL (password masked unless --show-secret)."""
    configured = _configured_url()
    if configured:
        typer.echo(configured if show_secret else mask_database_url(configured))
    else:
        typer.echo(EmbeddedPostgres(current_settings().embedded_dir).url())  # trust on a private socket: there is no password


@db_app.command("migrate")
def migrate_command(
    seed: bool = typer.Option(False, "--seed", help="Also fill empty reference tables from the bundled CSVs "
                                                    "(always done for the embedded database)."),
) -> None:
    """Apply pending migrations from include/sql/ (refused if an applied one was edited)."""
    with errors_to_exit():
        configured = _configured_url()
        conn = connect(configured) if configured else connect(EmbeddedPostgres(current_settings().embedded_dir).start())
        try:
            applied = migrate(conn)
            seeded = seed_reference_data(conn) if seed or not configured else {}
        finally:
            conn.close()
    console.print(f"applied: {', '.join(m.name for m in applied)}" if applied else "schema up to date")
    for table, rows in seeded.items():
        console.print(f"seeded {table}: {rows} rows")


@db_app.command()
def check() -> None:
    """Row counts per table, pending migrations, the latest run and orphan checks; exit code 1 if anything is off."""
    with errors_to_exit():
        conn = _connection()
        try:
            pending = pending_migrations(conn)
            counts, orphans, latest = table_counts(conn), orphan_counts(conn), latest_run(conn)
        finally:
            conn.close()
    table = Table(title="Rows per table")
    table.add_column("Table")
    table.add_column("Rows", justify="right")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print("migrations: " + (f"{len(pending)} pending" if pending else "up to date"))
    if latest:
        console.print(f"latest run: {latest['trade_date']} {latest['risk_profile']} ({latest['source']}) · symbols "
                      f"{latest['symbols_ok']}/{latest['symbols_total']} ok · {latest['n_strategies']} strategies · "
                      f"capital at risk ₹{latest['capital_at_risk']:,.0f} · "
                      f"loaded {latest['loaded_at']:%Y-%m-%d %H:%M}")
    else:
        console.print("latest run: none")
    for name, found in orphans.items():
        console.print(f"{'[green]ok[/green]' if found == 0 else f'[red]{found}[/red]'}  {name}")
    if pending or any(orphans.values()):
        raise typer.Exit(1)


@db_app.command()
def queries(name: str = typer.Argument(None, help=f"One of: {', '.join(QUERIES)}. Omit to list them.")) -> None:
    """Run a documented example query, or list them with their SQL."""
    if name is None:
        for key, query in QUERIES.items():
            console.print(f"[bold]{key}[/bold] — {query.title}")
            console.print(query.sql + "\n", highlight=False, markup=False)
        return
    with errors_to_exit():
        conn = _connection()
        try:
            frame = run_query(conn, name)
        finally:
            conn.close()
    table = Table(title=QUERIES[name].title)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*("" if value is None else escape(str(value)) for value in row))
    console.print(table)


def import_scrip_master(
    path_or_url: str = typer.Argument(..., help="A Dhan scrip master CSV (compact or detailed): file path or URL, "
                                                "e.g. https://images.dhan.co/api-data/api-scrip-master.csv"),
) -> None:
    """Load Dhan's instrument master into `instruments` (replacing the segments the file covers)."""
    with errors_to_exit():
        conn = open_store()
        try:
            rows = load_scrip_master(conn, path_or_url)
        finally:
            conn.close()
    console.print(f"instruments: {rows:,} rows loaded from {mask_url(path_or_url)}")


def import_allocations(
    path: Path = typer.Argument(DATA_DIR, help=f"Directory holding {SECTOR_FILE.name} and {INDUSTRY_FILE.name}."),
) -> None:
    """Validate sector and industry allocations against the universe and replace the allocation tables."""
    with errors_to_exit():
        allocations = load_allocations(path / SECTOR_FILE.name, path / INDUSTRY_FILE.name)
        conn = open_store()
        try:
            unallocated = validate_allocations(allocations, load_universe(conn))
            sectors, industries = replace_allocations(conn, allocations)
        finally:
            conn.close()
    console.print(f"allocations: {sectors} sectors, {industries} industries loaded")
    if unallocated:
        console.print(f"[yellow]no allocation (no budget) for:[/yellow] {', '.join(unallocated)}")

