"""`optionsv4 execute` (the typer command in cli_execute, registered by cli.py): preview, paper placement, the live
gate, Dhan behind the pre-trade checks, and named errors. Runs at a fixed evening after the 2026-11-23 analysis
(conftest.FIXED_NOW), so in paper mode the market-hours and staleness findings are warnings, and they block the
live run."""

import pytest
import typer
from execution_support import CONDOR, DhanEmulator, market, placed, register_contracts, status_of, store_and_mark
from typer.testing import CliRunner

from optionsv4_lib.cli.execute import execute
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.execution.ledger import orders_of

app = typer.Typer()
app.command()(execute)
TOKEN = "eyJ-execute-SECRET-91c2"
pytestmark = pytest.mark.usefixtures("fixed_clock")  # "now" decides staleness and market hours: a fixed evening


@pytest.fixture
def optionsv4(monkeypatch, tmp_path, store_url):
    """Run `execute` with its database and data dir in this test's own places."""
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    monkeypatch.setenv("OPTIONSV4_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OPTIONSV4_LIVE_TRADING", raising=False)

    def run(*args: str):
        current_settings.cache_clear()
        return CliRunner().invoke(app, list(args))

    yield run
    current_settings.cache_clear()


def test_preview_prints_the_plan_and_places_nothing(optionsv4, db):
    [sid] = store_and_mark(db, CONDOR)
    ran = optionsv4("--preview")
    assert ran.exit_code == 0, ran.output
    assert f"#{sid} TATAPOWER Iron Condor · 12 lots × 1450" in ran.output
    for leg in (0, 3, 1, 2):
        assert f"OV4-{sid}-{leg}E1" in ran.output
    assert "Cleared 1 of 1 strategies" in ran.output and "Preview only: nothing was placed" in ran.output
    assert orders_of(db, sid) == [] and status_of(db, sid)[0] == "marked"


def test_the_preview_shows_the_risk_the_cleared_strategies_add(optionsv4, db):
    """The book risk at the marked lots: a condor marked for 3 of its analysed lots adds 3/analysed of its stored
    scenario P&Ls; every scenario of the run's grid is listed."""
    [sid] = store_and_mark(db, CONDOR, lots=3)
    with db.cursor() as cur:
        cur.execute("SELECT lots, stress_pnl FROM strategies WHERE strategy_id = %s", (sid,))
        analysed, stress = cur.fetchone()
    db.rollback()
    ran = optionsv4("--preview")
    assert ran.exit_code == 0, ran.output
    assert "Risk added: delta ₹" in ran.output and "stress (instant gaps, stocks by beta)" in ran.output
    assert len(stress) == 12 and ran.output.count(" IV +50 %") == 4
    worst = min(stress) * 3 / analysed
    assert f"₹{worst:>14,.0f}" in ran.output


def test_without_confirm_it_is_a_preview(optionsv4, db):
    [sid] = store_and_mark(db, CONDOR)
    assert "Preview only" in optionsv4(str(sid)).output
    assert orders_of(db, sid) == []


def test_confirm_places_on_paper(optionsv4, db):
    [sid, _] = store_and_mark(db, CONDOR, "HCLTECH:iron-condor:3")
    ran = optionsv4("--confirm", str(sid))
    assert ran.exit_code == 0, ran.output
    assert "open" in ran.output
    assert status_of(db, sid)[:2] == ("open", "paper")
    assert [r.status for r in orders_of(db, sid)] == ["TRADED"] * 4


def test_live_is_refused_without_the_environment_flag(optionsv4, db):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    ran = optionsv4("--confirm", "--live")
    assert ran.exit_code == 2
    assert "live trading refused: the environment flag OPTIONSV4_LIVE_TRADING=1 is not set" in ran.output
    assert orders_of(db, sid) == [] and status_of(db, sid)[0] == "marked"


def test_live_with_every_key_asks_dhan_and_is_blocked_by_a_stale_analysis(optionsv4, db, monkeypatch):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    with DhanEmulator(market(), access_token=TOKEN) as emulator:
        register_contracts(db, emulator)
        monkeypatch.setenv("OPTIONSV4_LIVE_TRADING", "1")
        monkeypatch.setenv("DHAN_CLIENT_ID", emulator.client_id)
        monkeypatch.setenv("DHAN_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("OPTIONSV4_DHAN_BASE_URL", emulator.url)
        monkeypatch.setenv("OPTIONSV4_DHAN_CHAIN_INTERVAL", "0")
        ran = optionsv4("--confirm", "--live")
        asked = {request.endpoint for request in emulator.requests}
        sent = placed(emulator)
    assert TOKEN not in ran.output
    assert {"killswitch_status", "fundlimit", "margincalculator_multi"} <= asked  # the checks asked Dhan
    assert "blocked: stale analysis: trade date 2026-11-23 is older than today's trading day" in ran.output
    assert sent == [] and status_of(db, sid)[0] == "marked"  # live refuses an analysis of a past day


def test_named_errors_exit_2(optionsv4, db):
    store_and_mark(db, CONDOR)
    ran = optionsv4("--preview", "999")
    assert ran.exit_code == 2 and "strategy 999: not marked for execution" in ran.output


def test_nothing_marked(optionsv4, db):
    ran = optionsv4("--preview")
    assert ran.exit_code == 0 and "No strategy is marked for execution" in ran.output
