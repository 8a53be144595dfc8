"""`optionsv4 analyze` end to end: on the synthetic market, replayed from its snapshots, and from Dhan (the real
dhanhq client over HTTP to the emulator), storing each run in a real PostgreSQL; bad input exits 2 with a message
that names the problem and never shows the access token."""

import json
from datetime import date, datetime

import dhan_faults  # noqa: E402
import pytest
import time_machine
from dhan_emulator import DhanEmulator  # noqa: E402
from typer.testing import CliRunner

from optionsv4_lib.cli.main import app
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.store import connect, fetch_analysis

TRADE_DATE = date(2026, 11, 23)
TOKEN = "eyJ-cli-SECRET-5d1e"
SYMBOLS = ("RELIANCE", "TCS")


@pytest.fixture
def optionsv4(monkeypatch, tmp_path, store_url):
    """Run the CLI with its database, data, results and logs in this test's own places."""
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)
    for name in ("data", "results", "logs"):
        monkeypatch.setenv(f"OPTIONSV4_{name.upper()}_DIR", str(tmp_path / name))
    current_settings.cache_clear()

    def run(*args: str):
        current_settings.cache_clear()
        return CliRunner().invoke(app, list(args))

    yield run
    current_settings.cache_clear()


@pytest.fixture
def on_trade_date():
    """The clock at TRADE_DATE's 09:15 open, held there: Dhan quotes only the current session, and its quotes then
    carry the synthetic market's quote time."""
    with time_machine.travel(datetime(2026, 11, 23, 9, 15, tzinfo=IST), tick=False):
        yield


def analyze_json(optionsv4, *extra: str) -> dict:
    args = ["analyze", "--date", TRADE_DATE.isoformat(), "--charts", "0", "--json"]
    for symbol in SYMBOLS:
        args += ["--symbol", symbol]
    ran = optionsv4(*args, *extra)
    assert ran.exit_code == 0, ran.output
    return json.loads(ran.stdout)


def ranked(document: dict) -> list[tuple]:
    return [(s["candidate_id"], s["lots"], round(s["score"], 9)) for s in document["strategies"]]


def test_analyze_prints_the_summary_and_stores_the_run(optionsv4, store_url, tmp_path):
    ran = optionsv4("analyze", "--date", TRADE_DATE.isoformat(), "--symbol", "RELIANCE", "--symbol", "IOC",
                    "--charts", "1")
    assert ran.exit_code == 0, ran.output
    assert "Symbols analyzed: 1/2" in ran.output and "IOC" in ran.output  # IOC's chain is broken in the sample
    assert "Stored as analysis run" in ran.output
    conn = connect(store_url)
    try:
        stored = fetch_analysis(conn, TRADE_DATE, "moderate")
    finally:
        conn.close()
    assert set(stored.symbols["symbol"]) == {"RELIANCE", "IOC"} and len(stored.strategies) > 0
    assert list((tmp_path / "results").glob("*.json")) and list((tmp_path / "results").rglob("*.png"))


def test_a_replayed_snapshot_gives_the_same_strategies(optionsv4):
    recorded = analyze_json(optionsv4)
    replayed = analyze_json(optionsv4, "--source", "snapshot")
    assert ranked(recorded) and ranked(replayed) == ranked(recorded)


def test_analyze_from_dhan_equals_the_market_the_emulator_served(optionsv4, monkeypatch, on_trade_date):
    direct = analyze_json(optionsv4)
    with DhanEmulator(SyntheticMarket(42, TRADE_DATE), access_token=TOKEN) as emulator:
        monkeypatch.setenv("DHAN_CLIENT_ID", emulator.client_id)
        monkeypatch.setenv("DHAN_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("OPTIONSV4_DHAN_BASE_URL", emulator.url)
        monkeypatch.setenv("OPTIONSV4_DHAN_CHAIN_INTERVAL", "0.05")
        via_dhan = analyze_json(optionsv4, "--source", "dhan")
        chains = [r for r in emulator.requests if r.endpoint == "optionchain"]
    assert via_dhan["run"]["source"] == "dhan" and ranked(via_dhan) == ranked(direct)
    assert {r.body["UnderlyingScrip"] for r in chains} >= {2885, 11536}  # RELIANCE, TCS (universe.csv)


def test_dhan_faults_of_some_symbols_never_cost_the_others(optionsv4, monkeypatch, store_url, tmp_path, on_trade_date):
    """Nine symbols broken in nine ways, three that recover within the retry policy, two clean: one run, exit 0,
    each broken symbol with its own reason (JSON and database), every other one with ranked strategies, no
    traceback, and the token nowhere."""
    with dhan_faults.faulty_dhan(monkeypatch, TRADE_DATE):
        ran = optionsv4("analyze", "--source", "dhan", "--date", TRADE_DATE.isoformat(), "--symbols",
                        str(dhan_faults.SYMBOLS), "--charts", "1", "--json")
    assert ran.exit_code == 0, ran.output
    assert "Traceback" not in ran.stdout + ran.stderr and ran.stderr == ""
    document = json.loads(ran.stdout)
    counts = {}
    for strategy in document["strategies"]:
        counts[strategy["symbol"]] = counts.get(strategy["symbol"], 0) + 1
    dhan_faults.check_outcomes({s["symbol"]: (s["status"], s["reason"], counts.get(s["symbol"], 0))
                                for s in document["symbols"]})
    conn = connect(store_url)
    try:
        stored = fetch_analysis(conn, TRADE_DATE, "moderate")
    finally:
        conn.close()
    by_symbol = stored.strategies.groupby("symbol").size()
    dhan_faults.check_outcomes({row.symbol: (row.status, row.reason, int(by_symbol.get(row.symbol, 0)))
                                for row in stored.symbols.itertuples()})
    written = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]  # results, charts, snapshots, logs
    assert any(b"DH-907" in content for content in written)  # the log and results hold the reasons …
    assert not any(dhan_faults.TOKEN.encode() in content for content in written)  # … never the token
    assert dhan_faults.TOKEN not in ran.stdout + ran.stderr
    assert dhan_faults.TOKEN not in " ".join(stored.symbols["reason"].dropna())


def test_a_wrong_token_exits_2_without_showing_it(optionsv4, monkeypatch, on_trade_date):
    with DhanEmulator(SyntheticMarket(42, TRADE_DATE), access_token="the-right-one") as emulator:
        monkeypatch.setenv("DHAN_CLIENT_ID", emulator.client_id)
        monkeypatch.setenv("DHAN_ACCESS_TOKEN", TOKEN)
        monkeypatch.setenv("OPTIONSV4_DHAN_BASE_URL", emulator.url)
        ran = optionsv4("analyze", "--date", TRADE_DATE.isoformat(), "--symbol", "TCS", "--source", "dhan")
    assert ran.exit_code == 2
    assert "client ID or access token invalid" in " ".join(ran.output.split()) and TOKEN not in ran.output


@pytest.mark.parametrize("args, message", [
    (["--source", "yahoo"], "source: unknown 'yahoo'"),
    (["--source", "dhan"], "dhan_client_id: Dhan credentials are not configured"),
    (["--risk", "reckless"], "reckless"),
    (["--symbol", "NOSUCH"], "NOSUCH"),
])
def test_bad_input_exits_2_naming_the_problem(optionsv4, monkeypatch, args, message, on_trade_date):
    for name in ("DHAN_CLIENT_ID", "DHAN_ACCESS_TOKEN", "OPTIONSV4_DHAN_CLIENT_ID", "OPTIONSV4_DHAN_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    ran = optionsv4("analyze", "--date", TRADE_DATE.isoformat(), *args)
    assert ran.exit_code == 2 and message in " ".join(ran.output.split()), ran.output
