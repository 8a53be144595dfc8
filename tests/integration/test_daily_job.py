"""The daily pipeline's steps (what the DAG tasks call) give the same result as one analyze_portfolio call."""

import logging
import shutil
from datetime import date
from functools import partialmethod
from pathlib import Path

import pytest
from dhan_emulator import DhanEmulator  # noqa: E402

from optionsv4_lib.adapters.dhan.market_data import DhanMarketData
from optionsv4_lib.adapters.pacing import RetryPolicy
from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import AuthError, BrokerError, InputError, OptionsV4Error
from optionsv4_lib.jobs import daily
from optionsv4_lib.jobs.daily import NotATradingDay
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.universe import load_universe

TRADE_DATE = date(2026, 11, 23)


def prepared(settings, universe) -> tuple[dict, str]:
    """(the plan, the run dir) of a synthetic run of `universe` up to its market state: chains fetched."""
    plan = daily.plan_run(TRADE_DATE, settings=settings, universe=universe, allocations=load_allocations())
    run_dir = daily.market_context(plan["run_dir"], settings)
    daily.fetch_chains(run_dir, settings)
    daily.market_state(run_dir, settings)
    return plan, run_dir


def steps(settings, universe, excluded=None):
    plan, run_dir = prepared(settings, universe)
    for batch in daily.batches(plan["symbols"], 3):
        daily.analyze_symbols(run_dir, batch, settings, excluded)
    return daily.read_result(daily.allocate(run_dir, settings))


def comparable(document):
    document["run"] = {k: v for k, v in document["run"].items() if k not in ("started_at", "finished_at", "source")}
    return document


def test_steps_equal_one_call(tmp_path):
    settings = Settings(data_dir=tmp_path)
    universe = load_universe().head(12)
    piecewise = steps(settings, universe)
    whole = analyze_portfolio(SyntheticMarket(42, TRADE_DATE), universe=universe, allocations=load_allocations(), settings=settings)
    assert comparable(piecewise.analysis_document()) == comparable(whole.analysis_document())
    assert piecewise.source == "snapshot of synthetic(seed=42)"


def test_excluded_symbol_and_missing_task_become_reasons(tmp_path):
    settings = Settings(data_dir=tmp_path)
    plan, run_dir = prepared(settings, load_universe().head(6))
    for symbol in plan["symbols"][:-1]:  # the last symbol's task "crashed"
        daily.analyze_symbol(run_dir, symbol, settings, excluded={"RELIANCE": "chain failed critical expectations"})
    result = daily.read_result(daily.allocate(run_dir, settings))
    reasons = result.symbols.set_index("symbol")["reason"]
    assert reasons["RELIANCE"] == "chain failed critical expectations"
    assert reasons[plan["symbols"][-1]] == "analysis task did not finish"


def test_rerun_starts_clean(tmp_path):
    settings = Settings(data_dir=tmp_path)
    universe = load_universe().head(4)
    first = steps(settings, universe, excluded={"NIFTY": "excluded once"})
    second = steps(settings, universe)
    assert "excluded once" in set(first.symbols["reason"].dropna())
    assert "excluded once" not in set(second.symbols["reason"].dropna())


def test_holiday_is_not_a_trading_day(tmp_path):
    with pytest.raises(NotATradingDay, match="Guru Nanak|Gurpurb"):
        daily.plan_run(date(2026, 11, 24), settings=Settings(data_dir=tmp_path), universe=load_universe(), allocations=load_allocations())


def test_a_year_beyond_the_holiday_calendar_is_planned_with_a_warning(tmp_path, caplog):
    """The DAG's plan follows the calendar's rule: Republic Day 2027 is not in the file, so it counts as a weekday."""
    plan = daily.plan_run(date(2027, 1, 26), settings=Settings(data_dir=tmp_path), universe=load_universe().head(2),
                          allocations=load_allocations())
    assert plan["symbols"] == ["NIFTY", "BANKNIFTY"]
    assert "NSE trading holidays for 2027 are not in nse_holidays.csv" in caplog.text
    assert daily.RunSpec.read(plan["run_dir"]).warnings[0].startswith("NSE trading holidays for 2027 are not in")


def test_the_plan_warns_30_days_before_the_holiday_calendar_ends(tmp_path, caplog):
    """Today (7 Dec 2026) the file ends in 24 days: the run warns, in its log and run.json, and says what to do."""
    plan = daily.plan_run(date(2026, 12, 7), settings=Settings(data_dir=tmp_path), universe=load_universe().head(1),
                          allocations=load_allocations())
    [warning] = daily.RunSpec.read(plan["run_dir"]).warnings
    assert warning.startswith("the NSE holiday calendar ends on 2026-12-31 (24 days from 2026-12-07)")
    assert "optionsv4 calendar import-holidays FILE" in warning and warning in caplog.text
    plan = daily.plan_run(date(2026, 11, 30), settings=Settings(data_dir=tmp_path), universe=load_universe().head(1),
                          allocations=load_allocations())
    assert daily.RunSpec.read(plan["run_dir"]).warnings == ()


def test_quality_load_report_and_final_check(tmp_path, store_url):
    from optionsv4_lib.jobs.daily import RunCheckFailed
    from optionsv4_lib.store import connect, fetch_analysis

    settings = Settings(data_dir=tmp_path / "data", results_dir=tmp_path / "results", database_url=store_url)
    universe = load_universe().head(8)  # includes IOC, whose synthetic chain is empty
    plan = daily.plan_run(TRADE_DATE, settings=settings, universe=universe, allocations=load_allocations())
    run_dir = daily.market_context(plan["run_dir"], settings)
    daily.fetch_chains(run_dir, settings)
    excluded = daily.validate_chains(run_dir, settings)
    assert set(excluded) == {"IOC"} and "row" in excluded["IOC"]
    assert daily.validate_context(run_dir)
    daily.market_state(run_dir, settings)
    for symbol in plan["symbols"]:
        daily.analyze_symbol(run_dir, symbol, settings, excluded)
    result_dir = daily.allocate(run_dir, settings)
    assert daily.validate_strategies(run_dir, result_dir, settings)
    run_id = daily.load(run_dir, result_dir, settings)
    conn = connect(store_url)
    try:
        stored = fetch_analysis(conn, TRADE_DATE, "moderate")
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), count(*) FILTER (WHERE NOT success AND severity = 'critical') "
                        "FROM data_quality_results WHERE run_id = %s", (run_id,))
            total, critical = cur.fetchone()
    finally:
        conn.close()
    assert stored.symbols.set_index("symbol").loc["IOC", "reason"].startswith("data quality")
    assert total > 50 and critical >= 1  # IOC's empty chain
    report = daily.report(run_dir, result_dir, settings)
    assert Path(report["data_docs"]).exists() and Path(report["analysis"]).exists()
    assert daily.final_check(result_dir, context_ok=True, strategies_ok=True, min_success_share=0.8)
    with pytest.raises(RunCheckFailed, match="symbols succeeded"):
        daily.final_check(result_dir, context_ok=True, strategies_ok=True, min_success_share=0.95)
    with pytest.raises(RunCheckFailed, match="strategies failed"):
        daily.final_check(result_dir, context_ok=True, strategies_ok=False, min_success_share=0.5)


# ---------------------------------------------------------------- Dhan trouble in the fetch step

FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.0, max_delay=1.0)


@pytest.fixture
def dhan_run(tmp_path, monkeypatch, migrated_database):
    """A planned dhan run of NIFTY and RELIANCE against the emulator (fast retries), its context recorded; the
    database holds no scrip master, so chains come from the option-chain endpoint."""
    universe = load_universe()
    universe = universe[universe["symbol"].isin(["NIFTY", "RELIANCE"])].reset_index(drop=True)
    with DhanEmulator(SyntheticMarket(42, TRADE_DATE), access_token="eyJ-pipeline-token") as emulator:
        settings = Settings(data_dir=tmp_path, database_url=migrated_database, dhan_client_id=emulator.client_id,
                            dhan_access_token="eyJ-pipeline-token", dhan_base_url=emulator.url, dhan_chain_interval=0)
        monkeypatch.setattr(DhanMarketData, "__init__", partialmethod(DhanMarketData.__init__, retry=FAST_RETRY))
        plan = daily.plan_run(TRADE_DATE, settings=settings, universe=universe, allocations=load_allocations(),
                        source="dhan")
        yield emulator, settings, daily.market_context(plan["run_dir"], settings)


def test_broker_trouble_is_retried_by_the_orchestrator_then_becomes_the_reason(dhan_run):
    emulator, settings, run_dir = dhan_run
    emulator.respond_next("optionchain", status=502, body="Bad Gateway", content_type="text/plain", times=4,
                          symbol="RELIANCE")
    with pytest.raises(BrokerError, match="HTTP 502"):  # an earlier attempt: Airflow will retry the task
        daily.fetch_chains(run_dir, settings, final_attempt=False)
    assert not list((Path(run_dir) / "symbols").glob("*.json"))
    daily.fetch_chains(run_dir, settings, final_attempt=True)  # the last attempt records the reason of RELIANCE only
    excluded = daily.validate_chains(run_dir, settings)
    assert excluded == {}  # RELIANCE's reason is already written; NIFTY's chains are recorded
    daily.market_state(run_dir, settings)
    daily.analyze_symbols(run_dir, ["NIFTY", "RELIANCE"], settings, excluded)
    symbols = daily.read_result(daily.allocate(run_dir, settings)).symbols.set_index("symbol")
    assert symbols.loc["RELIANCE", "reason"].startswith("fetch: option chain 2885/NSE_FNO")
    assert "HTTP 502" in symbols.loc["RELIANCE", "reason"] and symbols.loc["NIFTY", "status"] == "ok"


def test_the_nifty_near_chain_is_fetched_once_per_run(dhan_run):
    """market_context records the NIFTY near chain; the fetch of the same run reads it back, asking Dhan only for
    the chains the context did not take."""
    emulator, settings, run_dir = dhan_run
    asked = lambda: [(r.body["UnderlyingScrip"], r.body["Expiry"])  # noqa: E731
                     for r in emulator.requests if r.endpoint == "optionchain"]
    [context_chain] = asked()
    daily.fetch_chains(run_dir, settings, final_attempt=True)  # one symbol at a time: the option-chain endpoint
    fetched = asked()[1:]
    assert context_chain not in fetched and fetched  # NIFTY's far chain and the others, not the near one again
    assert sum(scrip == 13 for scrip, _ in fetched) == 1


def test_an_auth_failure_always_fails_the_task(dhan_run):
    emulator, settings, run_dir = dhan_run
    emulator.fail_next("optionchain", status=401, error_code="DH-901", symbol="RELIANCE")
    with pytest.raises(AuthError, match="DH-901"):
        daily.fetch_chains(run_dir, settings, final_attempt=True)


def test_a_symbol_whose_fetch_task_died_is_excluded_not_fatal_to_the_others(tmp_path):
    settings = Settings(data_dir=tmp_path)
    universe = load_universe().head(5)
    plan = daily.plan_run(TRADE_DATE, settings=settings, universe=universe, allocations=load_allocations())
    run_dir = daily.market_context(plan["run_dir"], settings)
    daily.fetch_chains(run_dir, settings)
    last = plan["symbols"][-1]  # as if the fetch task had died before recording its chains
    shutil.rmtree(tmp_path / "snapshots" / f"trade_date={TRADE_DATE}" / "option_chain" / f"symbol={last}")
    excluded = daily.validate_chains(run_dir, settings)
    assert set(excluded) == {plan["symbols"][-1]} and excluded[plan["symbols"][-1]].startswith(
        "fetch: no usable recorded chain")


def test_fetch_chains_logs_what_it_fetched(tmp_path, caplog):
    """One line per symbol: the source, each expiry's chain and the price history with their rows, and the seconds."""
    settings = Settings(data_dir=tmp_path)
    plan = daily.plan_run(TRADE_DATE, settings=settings, universe=load_universe().head(3).tail(1),
                          allocations=load_allocations())
    [symbol] = plan["symbols"]
    market = SyntheticMarket(settings.seed, TRADE_DATE)
    with caplog.at_level(logging.INFO, logger=daily.__name__):
        daily.fetch_chains(plan["run_dir"], settings)
    [line] = [r.getMessage() for r in caplog.records if "fetched" in r.getMessage()]
    near, far = daily.choose_expiries(market.expiries(symbol), TRADE_DATE, settings.candidates)
    assert line.startswith(f"{symbol} (synthetic(seed=42)): fetched chain {near}: "
                           f"{len(market.option_chain(symbol, near))} rows; chain {far}: "
                           f"{len(market.option_chain(symbol, far))} rows; price history: ")
    assert line.endswith(" s")


def test_fetch_chains_asks_a_batching_source_once_for_every_symbol(tmp_path, monkeypatch):
    """A source with option_chains (Dhan's market-quote path) gets one call with every symbol's pairs; what it
    returns is recorded and replayed like chains fetched one by one."""
    calls = []

    def batched(market, wanted):
        calls.append(list(wanted))
        return {(symbol, expiry): market.option_chain(symbol, expiry) for symbol, expiry in wanted}

    monkeypatch.setattr(SyntheticMarket, "option_chains", batched, raising=False)
    settings = Settings(data_dir=tmp_path)
    universe = load_universe().head(6)
    plan = daily.plan_run(TRADE_DATE, settings=settings, universe=universe, allocations=load_allocations())
    run_dir = daily.market_context(plan["run_dir"], settings)
    daily.fetch_chains(run_dir, settings, final_attempt=False)
    [pairs] = calls
    # near and far of every symbol, but NIFTY's near chain once: market_context recorded it, and it is read back
    assert [symbol for symbol, _ in pairs] == [s for s in plan["symbols"] for _ in range(1 if s == "NIFTY" else 2)]
    assert daily.validate_chains(run_dir, settings) == {}


def test_a_symbol_whose_analysis_raises_costs_only_itself_and_fails_the_batch(tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path)
    plan, run_dir = prepared(settings, load_universe().head(4))
    real = daily.symbol_outcome

    def broken(source, row, **kwargs):
        if row.symbol == plan["symbols"][1]:
            raise ZeroDivisionError("a bug")
        return real(source, row, **kwargs)

    monkeypatch.setattr(daily, "symbol_outcome", broken)
    with pytest.raises(OptionsV4Error, match=f"analysis of {plan['symbols'][1]} raised.*3 of 4 symbols"):
        daily.analyze_symbols(run_dir, plan["symbols"], settings)
    symbols = daily.read_result(daily.allocate(run_dir, settings)).symbols.set_index("symbol")
    assert symbols.loc[plan["symbols"][1], "reason"] == "analysis task did not finish"
    assert (symbols.drop(index=plan["symbols"][1])["status"] == "ok").all()


def test_batches_keep_universe_order_in_near_equal_parts():
    assert daily.batches(list("abcdefg"), 3) == [["a", "b", "c"], ["d", "e"], ["f", "g"]]
    assert daily.batches(list("ab"), 8) == [["a"], ["b"]]
    with pytest.raises(InputError, match="at least 1"):
        daily.batches(["a"], 0)
