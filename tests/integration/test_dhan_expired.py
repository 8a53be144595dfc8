"""Dhan's expired-options data over real HTTP to the emulator: the client's answer equals the synthetic market of
each past day, the emulator enforces the 30-day window, errors are named, the fetch fills the cache once (a rerun
asks nothing), the source reads it back, and `optionsv4 data fetch-expired` then `optionsv4 backtest --source
dhan-expired` run end to end with the report saying the spread is a model."""

import json
from datetime import date

import pandas as pd
import pytest
from dhan_emulator import DhanEmulator  # noqa: E402
from dhanhq import DhanContext, dhanhq

from optionsv4_lib.adapters.dhan.client import RATE_LIMITS, DhanClient
from optionsv4_lib.adapters.dhan.expired_options import fetch_expired
from optionsv4_lib.adapters.pacing import Rate
from optionsv4_lib.core.errors import InputError
from optionsv4_lib.marketdata.expired_options import ExpiredOptionsInputs, read_day
from optionsv4_lib.marketdata.synthetic import SyntheticMarket

NO_LIMITS = {category: Rate(1000, 0.0) for category in RATE_LIMITS}
MON, TUE = date(2025, 6, 2), date(2025, 6, 3)  # NIFTY's weekly expires Thursday 5 Jun 2025
STEP = 50.0  # NIFTY's strike step (include/data/universe.csv)


@pytest.fixture(scope="module")
def emulator():
    with DhanEmulator(SyntheticMarket(42, date(2025, 7, 1))) as running:
        yield running


@pytest.fixture
def client(emulator):
    return DhanClient(emulator.client_id, emulator.access_token, base_url=emulator.url, rate_limits=NO_LIMITS)


def test_the_answer_is_each_days_synthetic_market_at_the_atm_offset(client):
    columns = client.expired_options(13, "NSE_FNO", "OPTIDX", "WEEK", 1, "ATM+2", "PUT", MON.isoformat(),
                                     "2025-06-04", 60)
    assert len(columns["timestamp"]) == 14  # two days of 60-minute bars from 09:15 to 15:15 IST
    assert pd.Timestamp(columns["timestamp"][6], unit="s", tz="UTC").tz_convert("Asia/Kolkata").strftime("%H:%M") \
        == "15:15"
    for n, day in ((0, MON), (7, TUE)):
        market = SyntheticMarket(42, day)
        spot = market.spot("NIFTY")
        strike = round(spot / STEP) * STEP + 2 * STEP
        row = market.option_chain("NIFTY", date(2025, 6, 5)).query("strike == @strike and option_type == 'PE'")
        assert columns["strike"][n] == strike and columns["spot"][n] == spot
        assert columns["close"][n] == row["ltp"].iloc[0] and columns["oi"][n] == row["oi"].iloc[0]
        assert columns["iv"][n] == pytest.approx(row["iv"].iloc[0] * 100)
        assert sum(columns["volume"][n:n + 7]) == row["volume"].iloc[0]


def test_the_emulator_refuses_more_than_30_days_as_dhan_documents(emulator):
    context = DhanContext(emulator.client_id, emulator.access_token)
    context.get_dhan_http().base_url = emulator.url
    raw = dhanhq(context).expired_options_data("13", "NSE_FNO", "OPTIDX", "WEEK", 1, "ATM", "CALL",
                                               ["close"], "2025-06-01", "2025-07-02", 60)
    assert raw["status"] == "failure" and raw["remarks"]["error_code"] == "DH-905"
    assert "at most 30 days" in raw["remarks"]["error_message"]


def test_no_data_is_no_bars_and_a_rate_limit_is_retried(client, emulator):
    emulator.fail_next("rollingoption", status=400, error_code="DH-907")
    assert client.expired_options(13, "NSE_FNO", "OPTIDX", "WEEK", 1, "ATM", "CALL", "2025-06-02", "2025-06-04",
                                  60) == {}
    emulator.fail_next("rollingoption", status=429, error_code="DH-904", retry_after="0")
    assert len(client.expired_options(13, "NSE_FNO", "OPTIDX", "WEEK", 1, "ATM", "CALL", "2025-06-02",
                                      "2025-06-04", 60)["close"]) == 14


def test_an_unknown_security_id_is_an_input_error_naming_the_field(client):
    with pytest.raises(InputError, match="securityId.*Invalid securityId '999999'"):
        client.expired_options(999999, "NSE_FNO", "OPTIDX", "WEEK", 1, "ATM", "CALL", "2025-06-02", "2025-06-04", 60)


@pytest.mark.parametrize("options, message", [
    (dict(symbol="NOSUCH"), "symbol: NOSUCH is not in the universe"),
    (dict(symbol="RELIANCE", strikes=5), "strikes: Dhan keeps ATM±3 for RELIANCE"),
    (dict(symbol="RELIANCE", flag="WEEK"), "RELIANCE: no weekly expiries"),
    (dict(symbol="NIFTY", code=4), "code: expected 1"),
])
def test_fetch_refuses_what_dhan_cannot_answer(client, tmp_path, emulator, options, message):
    asked = len(emulator.requests)
    with pytest.raises(InputError, match=message):
        fetch_expired(client, start=MON, end=TUE, cache=tmp_path, **{"flag": "WEEK"} | options)
    assert len(emulator.requests) == asked  # nothing sent


def test_fetch_fills_the_cache_once_and_the_source_reads_it(client, emulator, tmp_path):
    asked = len(emulator.requests)
    done = fetch_expired(client, "NIFTY", MON, date(2025, 7, 4), tmp_path, flag="MONTH", code=1, strikes=2)
    # 33 days: two windows (2 Jun – 1 Jul, 2 Jul – 4 Jul), each 5 offsets × CALL and PUT
    assert [(w.start, w.until, w.status) for w in done] == [(MON, date(2025, 7, 2), "fetched"),
                                                           (date(2025, 7, 2), date(2025, 7, 5), "fetched")]
    assert len(emulator.requests) - asked == 20 and len(done[0].days) == 22 and len(done[1].days) == 3
    again = fetch_expired(client, "NIFTY", MON, date(2025, 7, 4), tmp_path, flag="MONTH", code=1, strikes=2)
    assert {w.status for w in again} == {"present"} and len(emulator.requests) - asked == 20
    assert fetch_expired(client, "NIFTY", MON, TUE, tmp_path, flag="MONTH", code=1, strikes=3)[0].status == "fetched"

    rows = read_day(tmp_path, "NIFTY", TUE)
    assert set(rows["expiry"]) == {pd.Timestamp(2025, 6, 26)} and len(rows) == 14  # ATM±3, CE and PE
    source = ExpiredOptionsInputs(tmp_path).open(TUE)
    market = SyntheticMarket(42, TUE)
    chain = source.option_chain("NIFTY", date(2025, 6, 26))
    expected = market.option_chain("NIFTY", date(2025, 6, 26)).set_index(["strike", "option_type"])
    got = chain.set_index(["strike", "option_type"])
    assert (got["ltp"] == expected.loc[got.index, "ltp"]).all()
    assert (got["bid"] < got["ltp"]).all() and (got["ask"] > got["ltp"]).all()
    assert source.spot("NIFTY") == market.spot("NIFTY")


VIX = "tests/fixtures/india_vix_nse.csv.gz"


def test_the_cli_fetches_then_backtests_the_cache_and_says_the_spread_is_a_model(optionsv4, emulator, monkeypatch,
                                                                                  tmp_path):
    monkeypatch.setenv("OPTIONSV4_DHAN_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("OPTIONSV4_DHAN_ACCESS_TOKEN", emulator.access_token)
    monkeypatch.setenv("OPTIONSV4_DHAN_BASE_URL", emulator.url)
    history = tmp_path / "nifty.csv"  # NIFTY's synthetic closes, as the cache's spot
    SyntheticMarket(42, date(2025, 6, 20)).candles("NIFTY", date(2024, 6, 1), date(2025, 6, 19)).to_csv(
        history, index=False, columns=["date", "open", "high", "low", "close"])
    for flag, code in (("WEEK", 1), ("WEEK", 2), ("MONTH", 1)):
        ran = optionsv4("data", "fetch-expired", "--symbol", "NIFTY", "--from", "2025-06-02", "--to", "2025-06-19",
                        "--flag", flag, "--code", str(code), "--strikes", "10")
        assert ran.exit_code == 0, ran.output
        assert f"NIFTY {flag}{code} ATM±10: 14 trading days written" in ran.output
    ran = optionsv4("backtest", "--source", "dhan-expired", "--vix-file", VIX, "--index-history", str(history),
                    "--from", "2025-06-02", "--to", "2025-06-04", "--symbol", "NIFTY", "--top", "3", "--workers", "1",
                    "--output", str(tmp_path / "bt" / "r.html"))
    assert ran.exit_code == 0, ran.output
    assert "modelled spread" in ran.output
    document = json.loads((tmp_path / "bt" / "r.json").read_text())
    assert "Dhan's expired-options closes" in document["backtest"]["basis"]
    assert document["backtest"]["source"] == "dhan-expired"
    assert document["backtest"]["expired_dir"] == str((tmp_path / "data" / "dhan_expired").resolve())
    assert document["totals"]["trades"] > 0
    trades = pd.read_parquet(tmp_path / "bt" / "r_trades.parquet")
    assert set(trades["symbol"]) == {"NIFTY"}


@pytest.mark.parametrize("args, message", [
    (("--source", "dhan-expired"), "--vix-file: required with --source dhan-expired"),
    (("--source", "dhan-expired", "--vix-file", VIX, "--data-dir", "/nowhere"), "/nowhere is not a directory"),
])
def test_bad_dhan_expired_options_exit_2_naming_the_problem(optionsv4, args, message):
    ran = optionsv4("backtest", "--from", "2025-06-02", "--to", "2025-06-04", *args)
    assert ran.exit_code == 2 and message in ran.output, ran.output


def test_a_spec_takes_one_file_source_and_defaults_the_cache_under_the_data_dir(tmp_path):
    from optionsv4_lib.config import Settings
    from optionsv4_lib.jobs.backtest import make_spec
    from optionsv4_lib.reference.universe import load_universe

    settings, universe = Settings(data_dir=tmp_path), load_universe().head(2)
    (tmp_path / "dhan_expired").mkdir()
    spec = make_spec(MON, TUE, settings=settings, universe=universe, source="dhan-expired", vix_file=VIX)
    assert spec.expired_dir == str((tmp_path / "dhan_expired").resolve()) and spec.bhavcopy_dir is None
    with pytest.raises(InputError, match="bhavcopy_dir: only with --source bhavcopy"):
        make_spec(MON, TUE, settings=settings, universe=universe, source="dhan-expired", vix_file=VIX,
                  bhavcopy_dir=tmp_path)
    with pytest.raises(InputError, match="expired_dir: only with --source dhan-expired"):
        make_spec(MON, TUE, settings=settings, universe=universe, source="bhavcopy", vix_file=VIX,
                  bhavcopy_dir=tmp_path, expired_dir=tmp_path)
