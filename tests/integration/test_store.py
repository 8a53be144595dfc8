"""Storage on a real PostgreSQL: migrations, idempotent one-transaction loads, failures, reference data, the scrip
master, secrets, the embedded server and the `db` commands."""

import hashlib
import json
import math
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from optionsv4_lib.adapters.dhan.scrip_master import import_scrip_master, read_scrip_master
from optionsv4_lib.analysis.allocation import DATA_DIR, load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.config import Settings
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.universe import load_universe as bundled_universe
from optionsv4_lib.store import (
    EmbeddedPostgres,
    connect,
    fetch_analysis,
    load_allocations_from_db,
    load_universe,
    mask_url,
    migrate,
    open_store,
    pending_migrations,
    replace_allocations,
    replace_universe,
    seed_reference_data,
    store_analysis,
    transaction,
)
from optionsv4_lib.store.db import MIGRATIONS_DIR, read_migrations
from optionsv4_lib.store.instruments import contract_lot, option_security_id
from optionsv4_lib.store.runs import QUERIES, RUN_TABLES, TABLES, failed_expectations, run_query, table_counts

FIXTURES = Path(__file__).parents[1] / "fixtures"
TRADE_DATE = date(2026, 11, 23)
SYMBOLS = 50


@pytest.fixture(scope="module")
def result():
    """A real 50-symbol run of the analysis on the synthetic market (some symbols fail with reasons)."""
    universe = bundled_universe().head(SYMBOLS)
    return analyze_portfolio(SyntheticMarket(42, TRADE_DATE), universe=universe, allocations=load_allocations(),
                             settings=Settings())


def run_counts(conn) -> dict[str, int]:
    counts = table_counts(conn)
    return {table: counts[table] for table in ("analysis_runs", *RUN_TABLES)}


def expected_counts(result) -> dict[str, int]:
    return {"analysis_runs": 1, "market_conditions": 1, "run_symbols": len(result.symbols),
            "run_industries": len(result.industries), "strategies": len(result.strategies),
            "strategy_details": len(result.legs), "strategy_exit_conditions": len(result.exits),
            "data_quality_results": 0, "smile_fits": len(result.smiles), "smile_quotes": len(result.smile_quotes),
            "run_book": len(result.book), "run_book_stress": len(result.book_stress)}


def copy_result(result, **changes):
    """`result` with copies of its frames (free to edit) and `changes`."""
    frames = {name: getattr(result, name).copy()
              for name in ("symbols", "strategies", "legs", "exits", "industries", "smiles", "smile_quotes", "book",
                           "book_stress")}
    return replace(result, **{**frames, **changes})


def comparable(document: dict) -> dict:
    """A result document as plain JSON, its timestamps as UTC instants."""
    plain = json.loads(json.dumps(document, default=str))
    for key in ("started_at", "finished_at"):
        plain["run"][key] = datetime.fromisoformat(plain["run"][key]).timestamp()
    for row in plain.get("symbols", []):
        row["quoted_at"] = row["quoted_at"] and datetime.fromisoformat(row["quoted_at"]).timestamp()
    return plain


# ---------------------------------------------------------------- migrations


def test_migrate_creates_every_table_with_rls_and_roles_then_is_a_no_op(fresh_database):
    conn = connect(fresh_database)
    applied = migrate(conn)
    files = read_migrations()
    assert [m.name for m in applied] == sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    with transaction(conn) as cur:
        cur.execute("SELECT relname, relrowsecurity FROM pg_class WHERE relkind = 'r' "
                    "AND relnamespace = 'public'::regnamespace")
        tables = dict(cur.fetchall())
        cur.execute("SELECT version, checksum FROM optionsv4_migrations ORDER BY version")
        recorded = cur.fetchall()
        cur.execute("SELECT rolname FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')")
        roles = {row[0] for row in cur.fetchall()}
    assert set(tables) == {*TABLES, "optionsv4_migrations"}
    assert all(tables.values()), "row-level security off on " + ", ".join(t for t, on in tables.items() if not on)
    assert roles == {"anon", "authenticated", "service_role"}
    assert recorded == [(m.version, hashlib.sha256(m.sql.encode()).hexdigest()) for m in files]
    assert migrate(conn) == []
    assert pending_migrations(conn) == []
    open_store(Settings(database_url=fresh_database)).close()
    conn.close()


def test_a_configured_database_behind_its_migrations_is_refused(fresh_database):
    with pytest.raises(DataError, match=r"schema is behind: \d+ pending migration\(s\) from 0001_roles\.sql"):
        open_store(Settings(database_url=fresh_database))


def test_edited_removed_or_out_of_order_migrations_are_refused(fresh_database, tmp_path):
    directory = tmp_path / "sql"
    shutil.copytree(MIGRATIONS_DIR, directory)
    conn = connect(fresh_database)
    migrate(conn, directory)
    (directory / "0099_extra.sql").write_text("CREATE TABLE extra (id int);\n")
    edited = directory / "0002_reference.sql"
    original = edited.read_text()
    edited.write_text(original + "\n-- a harmless-looking comment\n")
    with pytest.raises(DataError, match=r"0002_reference\.sql was edited after it was applied"):
        migrate(conn, directory)
    edited.write_text(original)
    (directory / "0005_execution.sql").unlink()
    with pytest.raises(DataError, match=r"0005_execution\.sql is applied in the database but missing"):
        migrate(conn, directory)
    shutil.copy(MIGRATIONS_DIR / "0005_execution.sql", directory)
    (directory / "0099_extra.sql").rename(directory / "0000_early.sql")
    with pytest.raises(DataError, match=r"0000_early\.sql is older than the latest applied"):
        migrate(conn, directory)
    with transaction(conn) as cur:
        cur.execute("SELECT to_regclass('extra') IS NULL, count(*) FROM optionsv4_migrations")
        assert cur.fetchone() == (True, len(read_migrations()))
    conn.close()


def test_contract_lots_are_backfilled_from_the_strategys_lot(fresh_database, result):
    """0011 on legs stored before it: an option leg's contract lot is its strategy's lot (one lot per strategy then),
    a share leg's 1; every stored quantity is whole contract lots."""
    conn = connect(fresh_database)
    migrate(conn)
    seed_reference_data(conn)
    store_analysis(conn, result)
    with transaction(conn) as cur:  # back to the schema before 0011, with its legs
        cur.execute("ALTER TABLE strategy_details DROP COLUMN contract_lot")
        cur.execute((MIGRATIONS_DIR / "0011_contract_lots.sql").read_text())
        cur.execute("""SELECT d.instrument, d.contract_lot, s.lot_size, d.qty FROM strategy_details d
                       JOIN strategies s USING (run_id, candidate_id)""")
        rows = cur.fetchall()
    assert len(rows) == len(result.legs) > 0
    assert all(lot == (1 if kind == "STK" else strategy_lot) and qty % lot == 0
               for kind, lot, strategy_lot, qty in rows)
    conn.close()


def test_a_failing_migration_applies_nothing_of_itself(fresh_database, tmp_path):
    directory = tmp_path / "sql"
    shutil.copytree(MIGRATIONS_DIR, directory)
    (directory / "0099_broken.sql").write_text("CREATE TABLE half_done (id int);\nCREATE TABLE oops (id nosuchtype);\n")
    conn = connect(fresh_database)
    with pytest.raises(DataError, match=r"0099_broken\.sql.*nosuchtype"):
        migrate(conn, directory)
    with transaction(conn) as cur:
        cur.execute("SELECT to_regclass('half_done') IS NULL, max(version) FROM optionsv4_migrations")
        assert cur.fetchone() == (True, read_migrations()[-1].version)
    conn.close()


def test_concurrent_migrations_apply_each_file_once(fresh_database):
    applied, errors = [], []

    def worker():
        conn = connect(fresh_database)
        try:
            applied.extend(m.version for m in migrate(conn))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(applied) == [m.version for m in read_migrations()]


# ---------------------------------------------------------------- analysis runs


def test_store_and_fetch_round_trip_keeps_every_value(db, result):
    stored = copy_result(result)
    stored.strategies.loc[0, "max_profit"] = math.inf  # +inf is rare in real runs; −inf max_loss is common
    run_id = store_analysis(db, stored)
    assert run_counts(db) == expected_counts(result)
    back = fetch_analysis(db, TRADE_DATE, result.risk_profile)
    assert comparable(back.analysis_document()) == comparable(stored.analysis_document())
    assert comparable(back.allocation_document()) == comparable(stored.allocation_document())
    assert back.market == stored.market
    with transaction(db) as cur:
        cur.execute("SELECT count(*) FILTER (WHERE max_profit = 'Infinity'), count(*) FILTER (WHERE max_loss = "
                    "'-Infinity') FROM strategies WHERE run_id = %s", (run_id,))
        assert cur.fetchone() == (1, int(np.isneginf(result.strategies["max_loss"]).sum()))
        cur.execute("SELECT count(*) FROM run_symbols WHERE status = 'failed' AND spot IS NULL AND reason <> ''")
        assert cur.fetchone()[0] == int((result.symbols["status"] == "failed").sum()) > 0
        cur.execute("SELECT breakevens FROM strategies WHERE run_id = %s ORDER BY strategy_id", (run_id,))
        assert [row[0] for row in cur.fetchall()] == [list(b) for b in result.strategies["breakevens"]]


def test_storing_a_run_again_replaces_it(db, result):
    run_id = store_analysis(db, result)
    assert store_analysis(db, result) == run_id
    assert run_counts(db) == expected_counts(result)
    fewer = copy_result(result, strategies=result.strategies.iloc[::2].reset_index(drop=True))
    kept = set(fewer.strategies["candidate_id"])
    fewer.legs = result.legs[result.legs["candidate_id"].isin(kept)].reset_index(drop=True)
    fewer.exits = result.exits[result.exits["candidate_id"].isin(kept)].reset_index(drop=True)
    assert store_analysis(db, fewer) == run_id
    assert run_counts(db) == expected_counts(fewer)
    other = store_analysis(db, copy_result(result, risk_profile="aggressive"))
    assert other != run_id
    assert run_counts(db)["strategies"] == len(fewer.strategies) + len(result.strategies)


def killer(store_url: str, loader, table: str):
    """An on_batch hook that, once `table` is written, terminates the loader's backend from another connection and
    waits until it is gone: the load then fails on its next statement."""
    pid = loader.get_backend_pid()

    def on_batch(done: str) -> None:
        if done != table:
            return
        other = connect(store_url)
        other.autocommit = True
        with other.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            while True:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
                if cur.fetchone()[0] == 0:
                    break
                time.sleep(0.01)
        other.close()

    return on_batch


def test_a_connection_killed_mid_load_leaves_no_partial_run(db, store_url, result):
    with pytest.raises(DataError, match="strategy_exit_conditions: database connection lost"):
        store_analysis(db, result, on_batch=killer(store_url, db, "strategy_details"))
    conn = connect(store_url)
    assert run_counts(conn) == dict.fromkeys(expected_counts(result), 0)
    store_analysis(conn, result)
    before = comparable(fetch_analysis(conn, TRADE_DATE, result.risk_profile).analysis_document())
    with pytest.raises(DataError, match="database connection lost"):
        store_analysis(conn, copy_result(result, capital=result.capital * 2),
                       on_batch=killer(store_url, conn, "strategies"))
    fresh = connect(store_url)
    assert comparable(fetch_analysis(fresh, TRADE_DATE, result.risk_profile).analysis_document()) == before
    assert run_counts(fresh) == expected_counts(result)
    fresh.close()


@pytest.mark.parametrize(("frame", "column", "value", "constraint"), [
    ("strategies", "pop", 1.5, "strategies_pop_check"),
    ("strategies", "lots", 0, "strategies_lots_check"),
    ("legs", "side", "HOLD", "strategy_details_side_check"),
    ("symbols", "iv_rank", 140.0, "run_symbols_iv_rank_check"),
    ("exits", "comparison", "=", "strategy_exit_conditions_comparison_check"),
])
def test_constraint_violations_name_table_and_constraint_and_store_nothing(db, result, frame, column, value,
                                                                           constraint):
    broken = copy_result(result)
    getattr(broken, frame).loc[1, column] = value
    with pytest.raises(DataError, match=rf"violates constraint {constraint}"):
        store_analysis(db, broken)
    assert run_counts(db) == dict.fromkeys(expected_counts(result), 0)


def test_bad_frames_are_rejected_before_the_database(db, result):
    with pytest.raises(InputError, match=r"strategies: missing column\(s\) pop"):
        store_analysis(db, copy_result(result, strategies=result.strategies.drop(columns="pop")))
    fractional = copy_result(result)
    fractional.legs["qty"] = fractional.legs["qty"].astype(float)
    fractional.legs.loc[0, "qty"] = 12.5
    with pytest.raises(InputError, match=r"strategy_details\.qty: must be a whole number"):
        store_analysis(db, fractional)
    assert table_counts(db)["analysis_runs"] == 0


def revisions(conn) -> list[tuple]:
    """(run_id, trade_date, risk_profile, revision, strategies) of every stored run, oldest revision first."""
    with transaction(conn) as cur:
        cur.execute("""SELECT r.run_id, r.trade_date, r.risk_profile, r.revision, count(s.strategy_id)
                       FROM analysis_runs r LEFT JOIN strategies s USING (run_id)
                       GROUP BY 1 ORDER BY r.trade_date, r.risk_profile, r.revision""")
        return cur.fetchall()


def test_a_rerun_of_a_traded_run_is_the_next_revision_beside_it(db, result):
    """Issue 19.23: the marked revision stays (its status row references it); the rerun is stored beside it, read
    as the run of the date, and a second rerun replaces the new revision in place."""
    run_id = store_analysis(db, result)
    with transaction(db) as cur:
        cur.execute("INSERT INTO strategy_execution_status (strategy_id, status, mode) "
                    "SELECT min(strategy_id), 'marked', 'paper' FROM strategies WHERE run_id = %s", (run_id,))
    rerun = copy_result(result, capital=result.capital * 2)
    second = store_analysis(db, rerun)
    n = len(result.strategies)
    assert second != run_id
    assert revisions(db) == [(run_id, TRADE_DATE, result.risk_profile, 1, n),
                             (second, TRADE_DATE, result.risk_profile, 2, n)]
    assert fetch_analysis(db, TRADE_DATE, result.risk_profile).capital == rerun.capital
    assert store_analysis(db, rerun) == second  # idempotent: no third revision
    assert [row[3] for row in revisions(db)] == [1, 2]
    other = store_analysis(db, copy_result(result, risk_profile="aggressive"))  # its own revision 1
    assert revisions(db)[0] == (other, TRADE_DATE, "aggressive", 1, n)


def test_quality_failures_of_a_date_are_those_of_its_latest_revision(db, result):
    quality = pd.DataFrame({"suite": ["option_chain"], "subject": ["NIFTY"], "expectation": ["between"],
                            "column": ["iv"], "severity": ["warning"], "success": [False], "observed": ["3 rows"],
                            "unexpected_count": [3], "details": [{}]})
    run_id = store_analysis(db, result, quality=quality)
    with transaction(db) as cur:
        cur.execute("INSERT INTO strategy_execution_status (strategy_id, status, mode) "
                    "SELECT min(strategy_id), 'marked', 'paper' FROM strategies WHERE run_id = %s", (run_id,))
    store_analysis(db, result, quality=quality.assign(subject="BANKNIFTY"))
    assert [row[2] for row in failed_expectations(db, TRADE_DATE)] == ["BANKNIFTY"]


def test_quality_results_are_stored_with_the_run(db, result):
    quality = pd.DataFrame({
        "suite": ["option_chain", "option_chain", "strategies"], "subject": ["NIFTY", "NIFTY", "portfolio"],
        "expectation": ["not_null", "between", "between"], "column": ["bid", "iv", None],
        "severity": ["critical", "warning", "critical"], "success": [True, False, True],
        "observed": [None, "3 of 164 rows", None], "unexpected_count": [0, 3, 0],
        "details": [{}, {"unexpected_count": 3, "observed": [0.1, 9.5]}, {"rows": 57}],
    })
    store_analysis(db, result, quality=quality)
    store_analysis(db, result, quality=quality)
    with transaction(db) as cur:
        cur.execute("SELECT suite, subject, column_name, severity, success, unexpected_count, details"
                    " FROM data_quality_results ORDER BY result_id")
        assert cur.fetchall() == [("option_chain", "NIFTY", "bid", "critical", True, 0, {}),
                                  ("option_chain", "NIFTY", "iv", "warning", False, 3, {"unexpected_count": 3, "observed": [0.1, 9.5]}),
                                  ("strategies", "portfolio", None, "critical", True, 0, {"rows": 57})]


# ---------------------------------------------------------------- reference data


def test_seeded_reference_data_reads_back_as_the_csv_loaders_give_it(db):
    pd.testing.assert_frame_equal(load_universe(db), bundled_universe())
    from_db, from_csv = load_allocations_from_db(db), load_allocations()
    pd.testing.assert_frame_equal(from_db.sectors, from_csv.sectors)
    pd.testing.assert_frame_equal(from_db.industries, from_csv.industries)
    counts = table_counts(db)
    assert seed_reference_data(db) == {}
    assert table_counts(db) == counts


def test_replacing_universe_and_allocations(db):
    subset = bundled_universe().iloc[[5, 2, 9]]
    assert replace_universe(db, subset) == 3
    pd.testing.assert_frame_equal(load_universe(db), subset.reset_index(drop=True))
    alloc = load_allocations()
    smaller = type(alloc)(alloc.sectors.head(3), alloc.industries[alloc.industries["sector"].isin(
        alloc.sectors.head(3)["sector"])])
    assert replace_allocations(db, smaller) == (3, len(smaller.industries))
    pd.testing.assert_frame_equal(load_allocations_from_db(db).industries, smaller.industries)
    with transaction(db) as cur:
        cur.execute("DELETE FROM stock_mappings")
    with pytest.raises(DataError, match="stock_mappings: empty"):
        load_universe(db)


# ---------------------------------------------------------------- scrip master


@pytest.mark.parametrize("kind", ["compact", "detailed"])
def test_scrip_master_import_and_option_lookup(db, kind):
    assert import_scrip_master(db, FIXTURES / f"scrip_master_{kind}.csv") == 24
    lookup = lambda *args, **kw: option_security_id(db, *args, **kw)  # noqa: E731
    assert lookup("NIFTY", date(2026, 12, 1), 26000, "CE") == 71381  # weekly
    assert lookup("NIFTY", date(2026, 12, 29), 26000, "CE") == 66701  # monthly, same trading symbol
    assert lookup("nifty", date(2026, 12, 1), 26050.0, "put") == 71384
    assert lookup("BANKNIFTY", date(2026, 12, 29), 58000, "CE") == 66811
    assert lookup("BAJAJ-AUTO", date(2026, 12, 29), 9000, "CE") == 104611
    assert lookup("M&M", date(2026, 12, 29), 3400, "PE") == 104702
    assert lookup("ITC", date(2026, 12, 29), 412.5, "PE") == 104802
    assert lookup("SENSEX", date(2026, 12, 3), 85000, "CE", exchange="BSE") == 1130001
    with pytest.raises(DataError, match="no option NIFTY 2026-12-29 26050 CE"):
        lookup("NIFTY", date(2026, 12, 29), 26050, "CE")
    with pytest.raises(InputError, match="option_type"):
        lookup("NIFTY", date(2026, 12, 1), 26000, "XX")
    assert contract_lot(db, "NIFTY", date(2026, 12, 1)) == 65
    assert contract_lot(db, "banknifty", date(2026, 12, 29)) == 30
    assert contract_lot(db, "ITC", date(2026, 12, 29)) == 1600  # the master's lot (SEM_LOT_UNITS), not the table's
    assert contract_lot(db, "NIFTY", date(2027, 1, 5)) is None  # not in the master: the lot table's
    with transaction(db) as cur:
        cur.execute("SELECT exchange_segment, count(*) FROM instruments GROUP BY 1 ORDER BY 1")
        assert cur.fetchall() == [("BSE_FNO", 1), ("IDX_I", 4), ("MCX_COMM", 1), ("NSE_EQ", 4), ("NSE_FNO", 14)]
        cur.execute("SELECT count(*) FROM instruments WHERE option_type IS NULL AND strike IS NULL")
        assert cur.fetchone()[0] == 9  # indices, shares and the future


def test_scrip_master_reimport_replaces_only_the_segments_in_the_file(db, tmp_path):
    import_scrip_master(db, FIXTURES / "scrip_master_compact.csv")
    import_scrip_master(db, FIXTURES / "scrip_master_detailed.csv")
    lines = (FIXTURES / "scrip_master_compact.csv").read_text().splitlines()
    nse_fno = [lines[0]] + [line for line in lines[1:] if line.startswith("NSE,D,")][:3]
    (tmp_path / "nse_fno.csv").write_text("\n".join(nse_fno) + "\n")
    assert import_scrip_master(db, tmp_path / "nse_fno.csv") == 3
    with transaction(db) as cur:
        cur.execute("SELECT exchange_segment, source, count(*) FROM instruments GROUP BY 1, 2 ORDER BY 1, 2")
        assert cur.fetchall() == [("BSE_FNO", "detailed", 1), ("IDX_I", "detailed", 4), ("MCX_COMM", "detailed", 1),
                                  ("NSE_EQ", "detailed", 4), ("NSE_FNO", "compact", 3)]


def test_scrip_master_rejects_other_files(tmp_path):
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a Dhan scrip master"):
        read_scrip_master(tmp_path / "other.csv")
    with pytest.raises(InputError, match="not found"):
        read_scrip_master(tmp_path / "missing.csv")


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql://postgres.abc:S3cret!pw@aws-0.pooler.supabase.com:5432/postgres?sslmode=require",
     "postgresql://postgres.abc:***@aws-0.pooler.supabase.com:5432/postgres?sslmode=require"),
    ("postgres://u:p@ss@host/db", "postgres://u:***@host/db"),
    ("postgresql://u@host/db?password=S3cret&sslmode=require", "postgresql://u@host/db?password=***&sslmode=require"),
    ("host=db user=u password='S3 cret' dbname=x", "host=db user=u password=*** dbname=x"),
    ("postgresql://postgres@/optionsv4?host=/tmp/x", "postgresql://postgres@/optionsv4?host=/tmp/x"),
    ("postgresql//admin:S3cret@localhost/db", "postgresql//admin:***@localhost/db"),
    ("postgresql://u:pa%40ss@host/db", "postgresql://u:***@host/db"),
])
def test_mask_url_hides_the_password(url, masked):
    assert mask_url(url) == masked


@pytest.mark.parametrize("url", [
    "postgresql://admin:S3cretPw@127.0.0.1:1/postgres",  # nothing listens on port 1
    "postgresql//admin:S3cretPw@localhost/postgres",  # not a URI: libpq echoes the whole string
])
def test_connection_errors_never_show_the_password(url):
    with pytest.raises(DataError) as caught:
        connect(url)
    assert "S3cretPw" not in str(caught.value) and "***" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # no original to print or log


# ---------------------------------------------------------------- the db commands


@pytest.fixture
def cli(monkeypatch, store_url):
    """The db commands wired as cli.py wires them, on the session's database."""
    from optionsv4_lib.cli.db import db_app, import_allocations
    from optionsv4_lib.cli.db import import_scrip_master as import_command

    app = typer.Typer()
    app.add_typer(db_app, name="db")
    app.command("import-scrip-master")(import_command)
    app.command("import-allocations")(import_allocations)
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    current_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, list(args))
    current_settings.cache_clear()


def test_db_url_masks_the_password_unless_asked(cli, monkeypatch):
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", "postgresql://u:S3cretPw@db.example.com:5432/postgres")
    current_settings.cache_clear()
    assert cli("db", "url").output.strip() == "postgresql://u:***@db.example.com:5432/postgres"
    assert cli("db", "status").output.strip() == \
        "database: postgresql://u:***@db.example.com:5432/postgres (configured)"
    assert cli("db", "url", "--show-secret").output.strip() == "postgresql://u:S3cretPw@db.example.com:5432/postgres"
    failed = cli("db", "check")
    assert failed.exit_code == 2 and "S3cretPw" not in failed.output and "cannot connect" in failed.output


def test_db_commands_on_a_stored_run(cli, db, result, tmp_path):
    store_analysis(db, result)
    checked = cli("db", "check")
    assert checked.exit_code == 0, checked.output
    assert f"strategies {len(result.strategies)}" in " ".join(checked.output.replace("│", " ").split())
    assert f"latest run: {TRADE_DATE} moderate" in checked.output
    listed = cli("db", "queries")
    assert all(name in listed.output for name in QUERIES)
    top = cli("db", "queries", "top-strategies")
    assert top.exit_code == 0 and "Banks" in top.output
    assert len(run_query(db, "top-strategies")) <= 3 * result.strategies["industry"].nunique()
    assert cli("db", "queries", "nope").exit_code == 2
    assert cli("db", "migrate").output.strip() == "schema up to date"
    imported = cli("import-scrip-master", str(FIXTURES / "scrip_master_detailed.csv"))
    assert imported.exit_code == 0 and "24 rows" in imported.output
    bad = tmp_path / "alloc"
    bad.mkdir()
    shutil.copy(DATA_DIR / "sector_allocations.csv", bad)
    (bad / "industry_allocations.csv").write_text(
        (DATA_DIR / "industry_allocations.csv").read_text().replace("Banks,Financial Services,16,",
                                                                    "Banks,Financial Services,160,"))
    refused = cli("import-allocations", str(bad))
    assert refused.exit_code == 2 and "weight_pct 160 outside 0–100" in refused.output, refused.output
    assert load_allocations_from_db(db).industries["weight_pct"].max() < 100  # the tables were left as they were
    assert cli("import-allocations", str(DATA_DIR)).exit_code == 0


# ---------------------------------------------------------------- the embedded server


def test_embedded_server_racing_starts_share_one_server_that_persists(tmp_path_factory):
    home = tmp_path_factory.mktemp("race")  # short: a Unix socket path has at most 107 bytes
    script = ("import sys; from optionsv4_lib.store.db import EmbeddedPostgres; "
              "print(EmbeddedPostgres(sys.argv[1]).start())")
    starters = [subprocess.Popen([sys.executable, "-c", script, str(home)], stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
    urls = [p.communicate(timeout=120)[0].strip() for p in starters]
    server = EmbeddedPostgres(home)
    try:
        assert [p.returncode for p in starters] == [0, 0]
        assert urls == [server.url()] * 2
        status = server.status()
        assert status.running and status.pid > 0
        conn = connect(urls[0])
        with transaction(conn) as cur:
            cur.execute("SHOW listen_addresses")
            assert cur.fetchone()[0] == ""  # no TCP: never collides with a server on 5432
            cur.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        conn.close()
        assert server.stop() is True
        assert not server.status().running and server.stop() is False
        assert server.start() == urls[0]
        conn = open_store(Settings(database_url=None), home)  # the embedded default: migrated and seeded
        with transaction(conn) as cur:
            cur.execute("SELECT x FROM kept")
            assert cur.fetchone() == (42,)
        assert pending_migrations(conn) == []
        pd.testing.assert_frame_equal(load_universe(conn), bundled_universe())
        conn.close()
    finally:
        server.stop()
