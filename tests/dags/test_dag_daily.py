"""The daily DAG in Airflow itself: it parses without import errors, and `dag.test()` runs it end to end against a
real PostgreSQL — a 10-symbol synthetic run, a recorded day with a corrupted chain replayed from its snapshots, and
an NSE holiday that skips visibly. Airflow is imported inside the tests (see the `airflow_home` fixture)."""

import time
from datetime import date

import dhan_faults  # noqa: E402
import pandas as pd
import pendulum

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.config import Settings
from optionsv4_lib.marketdata.snapshots import SnapshotRecorder
from optionsv4_lib.marketdata.synthetic import DEFAULT_BROKEN, SyntheticMarket
from optionsv4_lib.quality.suites import data_docs_index
from optionsv4_lib.reference.universe import load_universe
from optionsv4_lib.store import connect

DAILY = "options_v4_daily"
IST = "Asia/Kolkata"


def optionsv4(*args: str):
    """The CLI, reading the settings afresh from the environment."""
    from typer.testing import CliRunner

    from optionsv4_lib.cli.main import app
    from optionsv4_lib.config import settings

    settings.cache_clear()
    return CliRunner().invoke(app, list(args))


DEFAULT_CONF = {"risk_profile": "moderate", "source": None, "symbols": 0, "min_success_share": 0.8}


def run_daily(dagbag, day: date, **conf):
    """dag.test() of the daily DAG for the 08:45 IST run of `day`; returns {task_id: [states]} and the run.

    Every param is passed: in one process, dag.test() leaves a run's conf in the DAG's Param objects."""
    dag = dagbag.get_dag(DAILY)
    run = dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, 8, 45, tz=IST),
                   run_conf=DEFAULT_CONF | conf)
    states: dict[str, list[str]] = {}
    for ti in run.get_task_instances():
        states.setdefault(ti.task_id, []).append(str(ti.state))
    return run, states


def stored(store_url: str, sql: str, params: tuple) -> pd.DataFrame:
    conn = connect(store_url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    finally:
        conn.close()


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert DAILY in dagbag.dag_ids


def test_daily_dag_shape(dagbag):
    dag = dagbag.get_dag(DAILY)
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.timetable.expression == "45 8 * * 1-5" and str(dag.timetable.timezone) == IST
    fetch, analyze = dag.get_task("fetch_chains"), dag.get_task("analyze_symbols")
    assert fetch.pool == "dhan_option_chain" and fetch.retries == 3 and fetch.retry_exponential_backoff
    assert analyze.map_index_template == "{{ batch }}"
    assert dag.get_task("validate_chains").trigger_rule == "all_done_min_one_success"
    assert dag.get_task("allocate").trigger_rule == "all_done_min_one_success"
    order = [t.task_id for t in dag.topological_sort()]
    assert order.index("fetch_chains") < order.index("validate_chains") < order.index("analyze_symbols") \
        < order.index("allocate") < order.index("validate_strategies") < order.index("load") \
        < order.index("report") < order.index("final_check")
    assert dag.doc_md and "NSE holiday" in dag.doc_md


def test_a_synthetic_run_loads_ranked_strategies_and_builds_data_docs(dagbag, dag_env, store_url):
    day = date(2026, 11, 23)
    started = time.time()
    run, states = run_daily(dagbag, day, symbols=10)
    assert str(run.state) == "success", states
    assert states["fetch_chains"] == ["success"] and states["final_check"] == ["success"]
    assert states["analyze_symbols"] == ["success"] * 8  # 10 symbols in 8 batches
    symbols = stored(store_url, "SELECT s.symbol, s.status, s.reason FROM run_symbols s JOIN analysis_runs r USING "
                                "(run_id) WHERE r.trade_date = %s AND r.risk_profile = 'moderate'", (day,))
    assert len(symbols) == 10
    assert set(symbols.loc[symbols["status"] != "ok", "symbol"]) == {"IOC"}  # its synthetic chain is empty
    strategies = stored(store_url, "SELECT count(*) AS n FROM strategies JOIN analysis_runs USING (run_id) "
                                   "WHERE trade_date = %s", (day,))
    assert strategies["n"][0] > 0
    results = list((dag_env / "results").glob("options_v4_analysis_*.json"))
    assert results
    assert list((dag_env / "data" / "snapshots").rglob("*.parquet"))
    # this run's Data Docs: the index rebuilt and a page of its strategy validation (run name <date>_<profile>)
    index = data_docs_index()
    pages = (index.parent / "validations" / "strategies" / f"{day}_moderate").glob("*")
    assert index.stat().st_mtime >= started and any(page.stat().st_mtime >= started for page in pages)


def test_a_corrupted_chain_drops_its_symbol_with_the_failed_expectation(dagbag, dag_env, store_url):
    day = date(2026, 11, 20)
    universe = load_universe().head(10)
    assert "RELIANCE" in set(universe["symbol"])
    market = SyntheticMarket(42, day, broken={**DEFAULT_BROKEN, "RELIANCE": "crossed"})  # bid above ask
    analyze_portfolio(SnapshotRecorder(market, dag_env / "data"), universe=universe,
                      allocations=load_allocations(), settings=Settings())  # records the day as a live run would

    run, states = run_daily(dagbag, day, symbols=10, source="snapshot")
    assert str(run.state) == "success", states
    symbols = stored(store_url, "SELECT s.symbol, s.status, s.reason FROM run_symbols s JOIN analysis_runs r USING "
                                "(run_id) WHERE r.trade_date = %s", (day,)).set_index("symbol")
    assert symbols.loc["RELIANCE", "status"] == "failed" and "bid" in symbols.loc["RELIANCE", "reason"]
    assert (symbols.drop(index=["RELIANCE", "IOC"])["status"] == "ok").all()
    failed = stored(store_url, "SELECT suite, expectation, severity FROM data_quality_results WHERE trade_date = %s "
                               "AND subject = 'RELIANCE' AND NOT success", (day,))
    assert len(failed) > 0 and "critical" in set(failed["severity"])

    shown = optionsv4("dq", "failures", "--date", day.isoformat())
    assert shown.exit_code == 0 and "RELIANCE" in shown.output and "critical" in shown.output, shown.output
    reported = optionsv4("report", "--date", day.isoformat(), "--top", "3")
    assert reported.exit_code == 0 and "Symbols analyzed: 8/10" in reported.output, reported.output
    assert "Data Docs: " in reported.output and optionsv4("dq", "open").output.strip().endswith("index.html")


def test_dhan_faults_of_some_symbols_never_cost_the_others(dagbag, dag_env, store_url, monkeypatch, capfd):
    """The CLI's fault table through the DAG with source=dhan: the run succeeds; each broken symbol is stored with
    its own reason, every clean or recovered one with ranked strategies; the token is in no log or file."""
    day = date(2026, 11, 23)
    with dhan_faults.faulty_dhan(monkeypatch, day):
        run, states = run_daily(dagbag, day, source="dhan", symbols=dhan_faults.SYMBOLS, min_success_share=0.3)
    assert str(run.state) == "success", states
    assert states["fetch_chains"] == ["success"]
    assert set(states["analyze_symbols"]) == {"success"}
    symbols = stored(store_url, "SELECT s.symbol, s.status, s.reason, (SELECT count(*) FROM strategies t WHERE "
                                "t.run_id = s.run_id AND t.symbol = s.symbol) AS n FROM run_symbols s JOIN "
                                "analysis_runs r USING (run_id) WHERE r.trade_date = %s AND r.source = 'snapshot of dhan'", (day,))
    dhan_faults.check_outcomes({row.symbol: (row.status, row.reason, row.n) for row in symbols.itertuples()})
    logged = capfd.readouterr()
    assert dhan_faults.TOKEN not in logged.out + logged.err
    written = [p.read_bytes() for p in dag_env.rglob("*") if p.is_file()]  # snapshots, run dir, results
    assert any(b"DH-907" in content for content in written)  # the reasons are written …
    assert not any(dhan_faults.TOKEN.encode() in content for content in written)  # … never the token


def test_a_rerun_of_a_marked_day_loads_the_next_revision_and_mark_offers_it(dagbag, dag_env, store_url, db):
    """Issue 19.23: after a strategy of the day was marked, the daily DAG of that day runs through; its analysis is
    revision 2 beside the marked revision 1, and mark, report and status offer revision 2. (A day no other test
    runs: the run it leaves marked would make theirs a new revision.)"""
    day = date(2026, 11, 26)
    first, states = run_daily(dagbag, day, symbols=5)
    assert str(first.state) == "success", states
    marked = optionsv4("mark", "--top", "1", "--force")  # the day is past: stale without --force
    assert marked.exit_code == 0 and "marked (paper)" in marked.output, marked.output
    [marked_id] = stored(store_url, "SELECT strategy_id FROM strategy_execution_status", ())["strategy_id"]

    again, states = run_daily(dagbag, day, symbols=5)
    assert str(again.state) == "success", states
    assert states["load"] == ["success"] and [ti.try_number for ti in again.get_task_instances()
                                              if ti.task_id == "load"] == [1]
    runs = stored(store_url, "SELECT run_id, revision, (SELECT count(*) FROM strategies s WHERE s.run_id = r.run_id) "
                             "AS n FROM analysis_runs r WHERE trade_date = %s ORDER BY revision", (day,))
    assert runs["revision"].tolist() == [1, 2] and (runs["n"] > 0).all()
    listed = optionsv4("mark", "--list-recent", "--limit", "50")
    assert listed.exit_code == 0 and "not marked" in listed.output and "marked (paper)" not in listed.output
    newest = stored(store_url, "SELECT strategy_id FROM strategies WHERE run_id = %s ORDER BY score DESC, "
                               "candidate_id LIMIT 1", (int(runs["run_id"][1]),))["strategy_id"][0]
    again_top = optionsv4("mark", "--top", "1", "--force")
    assert again_top.exit_code == 0 and f"marked (paper): {newest}" in again_top.output, again_top.output
    reported = optionsv4("report", "--date", day.isoformat())
    assert reported.exit_code == 0 and "Traceback" not in reported.output, reported.output
    status = optionsv4("status")
    assert status.exit_code == 0 and str(marked_id) in status.output and str(newest) in status.output


def test_a_load_the_database_refuses_fails_at_once_naming_the_constraint(dagbag, dag_env, store_url, monkeypatch,
                                                                         capfd):
    """Issue 19.19: a refusal that a retry cannot change fails `load` on its first try, with the reason."""
    from optionsv4_lib.jobs import daily

    real = daily.store_analysis

    def zero_lots(conn, result, **options):  # a result the strategies table refuses
        result.strategies.loc[0, "lots"] = 0
        return real(conn, result, **options)

    monkeypatch.setattr(daily, "store_analysis", zero_lots)
    day = date(2026, 11, 27)  # a day no other test runs
    run, states = run_daily(dagbag, day, symbols=3, min_success_share=0.5)
    assert states["load"] == ["failed"] and str(run.state) == "failed", states
    assert [ti.try_number for ti in run.get_task_instances() if ti.task_id == "load"] == [1]
    logged = capfd.readouterr()
    assert "violates constraint strategies_lots_check" in logged.out + logged.err
    assert stored(store_url, "SELECT count(*) AS n FROM analysis_runs WHERE trade_date = %s", (day,))["n"][0] == 0


def test_an_nse_holiday_skips_the_run_with_its_name(dagbag, dag_env, store_url, capfd):
    day = date(2026, 11, 24)  # Prakash Gurpurb Sri Guru Nanak Dev
    run, states = run_daily(dagbag, day)
    assert states["plan"] == ["skipped"] and states["load"] == ["skipped"]
    logged = capfd.readouterr()
    assert "2026-11-24 is not an NSE trading day (Prakash Gurpurb" in logged.out + logged.err
    runs = stored(store_url, "SELECT count(*) AS n FROM analysis_runs WHERE trade_date = %s", (day,))
    assert runs["n"][0] == 0


def test_a_run_within_30_days_of_the_calendar_end_warns_what_to_do(dagbag, dag_env, capfd):
    """Today, 7 Dec 2026: nse_holidays.csv ends on 31 Dec; the run succeeds and its plan and report logs say so."""
    run, states = run_daily(dagbag, date(2026, 12, 7), symbols=2, min_success_share=0.5)
    assert str(run.state) == "success", states
    logged = capfd.readouterr()
    logged = logged.out + logged.err
    warning = "the NSE holiday calendar ends on 2026-12-31 (24 days from 2026-12-07)"
    assert warning in logged and "optionsv4 calendar import-holidays FILE" in logged
    assert f"WARNING: {warning}" in logged  # the report task's summary repeats it at the end of the run


def test_run_settings_read_the_airflow_connections(airflow_home, monkeypatch):
    from optionsv4_airflow import run_settings

    monkeypatch.setenv("AIRFLOW_CONN_SUPABASE_DB",
                       "postgresql://postgres.abc:S3cret@aws-0-ap-south-1.pooler.supabase.com:5432/postgres"
                       "?sslmode=require")
    monkeypatch.setenv("AIRFLOW_CONN_DHAN_DEFAULT", '{"conn_type": "generic", "login": "1000000123", '
                                                    '"password": "eyJ-dhan-token"}')
    settings = run_settings()
    url = settings.database_url.get_secret_value()
    assert url.startswith("postgresql://postgres.abc:S3cret@aws-0-ap-south-1.pooler.supabase.com:5432/postgres")
    assert "sslmode=require" in url
    assert settings.dhan_client_id == "1000000123"
    assert settings.dhan_access_token.get_secret_value() == "eyJ-dhan-token"
    assert "eyJ-dhan-token" not in repr(settings) and "S3cret" not in repr(settings)
