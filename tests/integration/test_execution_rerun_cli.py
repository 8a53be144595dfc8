"""`optionsv4 execute --live --confirm` after a crash or an interruption, through the real entry point
(optionsv4_lib.cli.main:app) against the Dhan emulator, at 10:00 IST on the analysis' trade date (inside the session,
the analysis fresh): issue 19.16 and 19.17."""

import pytest
import time_machine
from execution_support import (
    CONDOR,
    FAST,
    NOW,
    DhanEmulator,
    dhan_client,
    market,
    placed,
    register_contracts,
    status_of,
    store_and_mark,
)
from typer.testing import CliRunner

from optionsv4_lib.adapters.dhan.broker import DhanBroker
from optionsv4_lib.cli.main import app
from optionsv4_lib.config import Settings
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.execution import execute_plan, plan_execution
from optionsv4_lib.execution.ledger import orders_of

TOKEN = "eyJ-rerun-SECRET-5d1e"
HCLTECH = "HCLTECH:iron-condor:3"


class Crash(Exception):
    """The process dying mid-execution (not an OptionsV4Error: nothing catches it)."""


@pytest.fixture
def emulator():
    with DhanEmulator(market(), access_token=TOKEN) as running:
        yield running


@pytest.fixture
def optionsv4(monkeypatch, tmp_path, store_url, emulator):
    """`optionsv4 …` on this test's database and data dir, live trading allowed on the emulator, at NOW."""
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    monkeypatch.setenv("OPTIONSV4_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPTIONSV4_LIVE_TRADING", "1")
    monkeypatch.setenv("DHAN_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("DHAN_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("OPTIONSV4_DHAN_BASE_URL", emulator.url)
    monkeypatch.setenv("OPTIONSV4_DHAN_CHAIN_INTERVAL", "0")

    def run(*args: str):
        current_settings.cache_clear()
        return CliRunner().invoke(app, list(args))

    with time_machine.travel(NOW, tick=True):
        yield run
    current_settings.cache_clear()


def flat(output: str) -> str:
    return " ".join(output.split())


def test_a_rerun_after_a_crash_resumes_the_unfinished_and_reports_the_finished_as_done(optionsv4, db, emulator):
    condor, hcl = store_and_mark(db, CONDOR, HCLTECH, mode="live")
    register_contracts(db, emulator)
    traded = []

    def crash_at_fifth_fill(event):  # the condor's four legs, then HCLTECH's first
        if event.kind == "status" and event.order.status == "TRADED":
            traded.append(event)
            if len(traded) == 5:
                raise Crash("simulated crash")

    broker = DhanBroker(dhan_client(emulator))
    with pytest.raises(Crash):
        execute_plan(db, broker, plan_execution(db, broker, Settings(), now=NOW), policy=FAST,
                     hook=crash_at_fifth_fill)
    assert (status_of(db, condor)[0], status_of(db, hcl)[0]) == ("open", "placing")

    ran = optionsv4("execute", "--live", "--confirm", str(condor), str(hcl))
    assert ran.exit_code == 0, ran.output
    assert "Traceback" not in ran.output and "error:" not in ran.output
    text = flat(ran.output)
    assert f"#{condor} TATAPOWER Iron Condor: already open, nothing to place" in text
    assert f"│ {condor} │ done │" in text and "already open; nothing placed" in text
    assert f"│ {hcl} │ open │" in text
    assert (status_of(db, condor)[0], status_of(db, hcl)[0]) == ("open", "open")
    assert len(placed(emulator)) == 8  # four legs each, none sent twice
    assert len({o["correlationId"] for o in placed(emulator)}) == 8


def test_an_interrupted_strategy_counts_its_orders_and_says_a_rerun_resumes_it(optionsv4, db, emulator):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    register_contracts(db, emulator)
    emulator.fail_next("get_order", status=401, error_code="DH-901")  # the first leg's first status read

    ran = optionsv4("execute", "--live", "--confirm", str(sid))
    assert ran.exit_code == 1, ran.output
    assert "Traceback" not in ran.output and TOKEN not in ran.output
    text = flat(ran.output)
    assert f"│ {sid} │ interrupted │ – │ 1 │" in text, ran.output  # the first leg is live at the broker
    assert "a rerun resumes it" in text
    assert len(placed(emulator)) == 1 and [o.status for o in orders_of(db, sid)] == ["TRANSIT"]

    shown = optionsv4("status", str(sid))
    assert shown.exit_code == 0 and "Traceback" not in shown.output, shown.output
    assert "placing" in shown.output
    assert "interrupted mid-placement: `optionsv4 execute --confirm" in shown.output  # the cell wraps here
    assert f"--live {sid}` resumes it" in shown.output

    again = optionsv4("execute", "--live", "--confirm", str(sid))
    assert again.exit_code == 0, again.output
    assert f"│ {sid} │ open │" in flat(again.output) and len(placed(emulator)) == 4
    assert "interrupted" not in flat(optionsv4("status", str(sid)).output)
