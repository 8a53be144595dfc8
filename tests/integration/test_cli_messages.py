"""Messages of the real `optionsv4` app (typer's CliRunner on cli.main:app) that issue 19 found wrong: each names
what is wrong, or fits the flags given, and never comes with a traceback."""

import json
from datetime import date

import pytest
from execution_support import CONDOR, DhanEmulator, market, register_contracts, status_of, store_and_mark
from typer.testing import CliRunner

from optionsv4_lib.cli.main import app
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.execution.ledger import orders_of

TRADE_DATE = date(2026, 11, 23)
TOKEN = "eyJ-messages-SECRET-3b7"


@pytest.fixture
def optionsv4(monkeypatch, tmp_path, store_url):
    """Run the CLI with its database, data, results and logs in this test's own places."""
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    for name in ("data", "results", "logs"):
        monkeypatch.setenv(f"OPTIONSV4_{name.upper()}_DIR", str(tmp_path / name))
    monkeypatch.delenv("OPTIONSV4_LIVE_TRADING", raising=False)

    def run(*args: str):
        current_settings.cache_clear()
        ran = CliRunner().invoke(app, list(args))
        assert "Traceback" not in ran.output and (ran.exception is None or isinstance(ran.exception, SystemExit))
        return ran

    yield run
    current_settings.cache_clear()


def analyze_ioc(optionsv4) -> None:
    """Store a run without a single strategy: IOC's synthetic chain is empty."""
    ran = optionsv4("analyze", "--date", TRADE_DATE.isoformat(), "--symbol", "IOC", "--charts", "0")
    assert ran.exit_code == 0 and "strategies sized: 0" in ran.output, ran.output


def test_report_of_an_unknown_risk_profile_says_so(optionsv4, db):
    """Issue 19.12: not "no run for … 'reckless'"."""
    analyze_ioc(optionsv4)
    ran = optionsv4("report", "--risk", "reckless")
    assert ran.exit_code == 2 and "risk profile: unknown 'reckless'" in ran.stderr, ran.output
    assert "no run" not in ran.output


@pytest.mark.usefixtures("fixed_clock")
def test_mark_top_of_a_run_without_strategies_says_so(optionsv4, db):
    """Issue 19.13: it printed nothing and exited 0."""
    analyze_ioc(optionsv4)
    ran = optionsv4("mark", "--top", "2", "--force")
    assert ran.exit_code == 2, ran.output
    assert f"the run of {TRADE_DATE} (moderate) has no sized strategy to mark" in ran.stderr


@pytest.mark.usefixtures("fixed_clock")
def test_a_preview_says_how_to_place_for_the_flags_given(optionsv4, db, monkeypatch):
    """Issue 19.14: --confirm with --preview was told to add --confirm."""
    [sid] = store_and_mark(db, CONDOR, mode="live")
    paper = optionsv4("execute", "--preview")  # the marked strategy is live: nothing to place on paper
    assert paper.exit_code == 0 and "No strategy is marked" in paper.output and "Preview" not in paper.output
    with DhanEmulator(market(), access_token=TOKEN) as emulator:
        register_contracts(db, emulator)
        for name, value in (("DHAN_CLIENT_ID", emulator.client_id), ("DHAN_ACCESS_TOKEN", TOKEN),
                            ("OPTIONSV4_DHAN_BASE_URL", emulator.url), ("OPTIONSV4_DHAN_CHAIN_INTERVAL", "0")):
            monkeypatch.setenv(name, value)
        plain = optionsv4("execute", "--live", "--preview")
        ran = optionsv4("execute", "--live", "--confirm", "--preview")
    assert plain.exit_code == 0 and "To place these orders live, add --confirm." in plain.output, plain.output
    assert ran.exit_code == 0, ran.output
    assert "Preview only: nothing was placed. To place these orders live, drop --preview." in ran.output
    assert "--confirm" not in ran.output and TOKEN not in ran.output
    assert orders_of(db, sid) == [] and status_of(db, sid)[0] == "marked"


def test_a_huge_broken_allocation_file_is_refused_in_a_short_line(optionsv4, db, tmp_path):
    """Issue 19.9: every broken row used to be listed (15.9 MB for a 50 MB file); now the first few and a count."""
    from optionsv4_lib.analysis.allocation import INDUSTRY_FILE, LISTED, SECTOR_FILE

    folder = tmp_path / "alloc"
    folder.mkdir()
    (folder / SECTOR_FILE.name).write_bytes(SECTOR_FILE.read_bytes())
    rows = 20_000
    lines = [f"Banks,Financial Services,abc,LONG,2026-11-23,{'x' * 200}" for _ in range(rows)]
    (folder / INDUSTRY_FILE.name).write_text("industry,sector,weight_pct,position_type,as_of,note\n" + "\n".join(lines))
    ran = optionsv4("import-allocations", str(folder))
    assert ran.exit_code == 2, ran.output
    assert ran.stderr.count("\n") == 1 and len(ran.stderr) < 2_000, len(ran.stderr)
    assert ran.stderr.count("weight_pct 'abc' is not a number") == LISTED
    assert f"and {rows - LISTED} more problems" in ran.stderr


def test_repeated_rows_are_listed_up_to_a_count(optionsv4, db, tmp_path):
    from optionsv4_lib.analysis.allocation import INDUSTRY_FILE, LISTED, SECTOR_FILE

    folder = tmp_path / "alloc"
    folder.mkdir()
    (folder / SECTOR_FILE.name).write_bytes(SECTOR_FILE.read_bytes())
    lines = ["Banks,Financial Services,0.001,LONG,2026-11-23,"] * 5_000
    (folder / INDUSTRY_FILE.name).write_text("industry,sector,weight_pct,position_type,as_of,note\n" + "\n".join(lines))
    ran = optionsv4("import-allocations", str(folder))
    assert ran.exit_code == 2, ran.output
    listed = ", ".join(str(i) for i in range(1, LISTED + 1))
    assert f"rows {listed} and {5_000 - LISTED} more: industry 'Banks' repeated" in ran.stderr, ran.stderr[:500]
    assert len(ran.stderr) < 2_000


def test_dhanhq_root_logger_lines_go_to_the_run_log_during_a_live_execute(db, store_url, tmp_path):
    """Issue 19.21: dhanhq logs through the root logger (logging.warning/error); without a root handler Python
    prints those lines on the terminal. A subprocess, because pytest's own root handlers would hide the leak."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    store_and_mark(db, CONDOR, mode="live")
    with DhanEmulator(market(), access_token=TOKEN) as emulator:
        register_contracts(db, emulator)
        emulator.respond_next("fundlimit", body=b'{"availabelBalance": 1')  # truncated JSON
        env = {key: value for key, value in os.environ.items() if not key.startswith(("OPTIONSV4_", "DHAN_"))}
        env |= {"OPTIONSV4_DATABASE_URL": store_url, "OPTIONSV4_DATA_DIR": str(tmp_path / "data"),
                "OPTIONSV4_LOGS_DIR": str(tmp_path / "logs"), "DHAN_CLIENT_ID": emulator.client_id,
                "DHAN_ACCESS_TOKEN": TOKEN, "OPTIONSV4_DHAN_BASE_URL": emulator.url,
                "OPTIONSV4_DHAN_CHAIN_INTERVAL": "0"}
        ran = subprocess.run([sys.executable, "-c", "from optionsv4_lib.cli.main import app; app()", "execute",
                              "--live", "--preview"], cwd=Path(__file__).parents[2], env=env, capture_output=True,
                             text=True, timeout=120, check=False)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr == ("error: fund limits: HTTP 200 with a body that is not JSON (application/json: "
                          "'{\"availabelBalance\": 1')\n")  # our one line, not dhanhq's
    assert "dhanhq" not in ran.stdout
    [log] = (tmp_path / "logs").glob("options_v4_execution_*.log")
    assert "WARNING root: Exception found in dhanhq>>find_error_code" in log.read_text()
    assert TOKEN not in log.read_text() + ran.stdout + ran.stderr


def test_a_database_that_dies_during_the_analysis_keeps_the_result_and_says_what_failed(optionsv4, postgres,
                                                                                        monkeypatch, tmp_path):
    """Issue 19.10: the computed analysis was thrown away, the message named a table no load had touched and the run
    log had no error line. Now the result JSON is written first, the message says the store failed, the log too."""
    from optionsv4_lib.jobs import daily
    from optionsv4_lib.store import connect, migrate, seed_reference_data

    url = postgres.create_database()
    conn = connect(url)
    try:
        migrate(conn)
        seed_reference_data(conn)
    finally:
        conn.close()
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", url)
    analyze = daily.analyze_portfolio

    def analyze_then_lose_the_database(*args, **kwargs):
        result = analyze(*args, **kwargs)
        postgres.drop_database(url)  # the server ends every session and the database is gone
        return result

    monkeypatch.setattr(daily, "analyze_portfolio", analyze_then_lose_the_database)
    ran = optionsv4("analyze", "--date", TRADE_DATE.isoformat(), "--symbol", "TCS", "--charts", "0")
    assert ran.exit_code == 2, ran.output
    [written] = (tmp_path / "results").glob("options_v4_analysis_*.json")
    assert ran.stderr.strip().count("\n") == 0 and "storing the run in the database failed" in ran.stderr, ran.stderr
    assert str(written) in ran.stderr and "cannot connect" in ran.stderr
    assert [s["symbol"] for s in json.loads(written.read_text())["symbols"]] == ["TCS"]
    [log] = (tmp_path / "logs").glob("options_v4_main_*.log")
    assert "ERROR optionsv4_lib.jobs.daily: storing the run in the database failed" in log.read_text()


@pytest.mark.parametrize("setting", ["OPTIONSV4_RESULTS_DIR", "OPTIONSV4_LOGS_DIR", "OPTIONSV4_DATA_DIR"])
def test_an_unwritable_directory_stops_analyze_before_any_work(optionsv4, db, monkeypatch, tmp_path, setting):
    """Issue 19.4: a traceback, and with results/ the run was already stored. (A file where the directory should be:
    the tests run as root, whom permissions do not stop.)"""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    monkeypatch.setenv(setting, str(blocker))
    ran = optionsv4("analyze", "--date", TRADE_DATE.isoformat(), "--symbol", "TCS", "--charts", "0")
    assert ran.exit_code == 2, ran.output
    directory, reason = (blocker / "snapshots", "Not a directory") if setting == "OPTIONSV4_DATA_DIR" else \
        (blocker, "File exists")
    assert ran.stderr.strip() == f"error: {setting}: cannot write to {directory} ({reason})", ran.stderr
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM analysis_runs")
        assert cur.fetchone()[0] == 0  # nothing stored


def test_an_unwritable_embedded_home_is_named(optionsv4, monkeypatch, tmp_path):
    (tmp_path / "blocker").write_text("a file, not a directory")
    monkeypatch.delenv("OPTIONSV4_DATABASE_URL")
    monkeypatch.setenv("OPTIONSV4_EMBEDDED_DIR", str(tmp_path / "blocker" / ".optionsv4"))
    ran = optionsv4("report")
    assert ran.exit_code == 2, ran.output
    assert ran.stderr.strip() == (f"error: embedded PostgreSQL: OPTIONSV4_EMBEDDED_DIR: cannot write to "
                                  f"{tmp_path / 'blocker' / '.optionsv4'} (Not a directory); set "
                                  "OPTIONSV4_EMBEDDED_DIR or OPTIONSV4_DATABASE_URL"), ran.stderr
