"""The daily DAG under real Airflow processes, as a user deploys it (tests/support/real_airflow.py): `airflow
standalone` (LocalExecutor, a process per task, SQLite metadata) and CeleryExecutor with a local Redis and one
worker. Each run is triggered through the REST API for a few symbols of the synthetic market; its stored analysis
must equal the one-call analysis (what `optionsv4 analyze` runs) of the same symbols and date. Unpausing the DAG
must not analyse the missed morning slot: a scheduled run that starts after the F&O open skips at `plan`."""

import importlib.metadata
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from real_airflow import airflow_running, celery, free_port, logical, unpause_and_settle  # noqa: E402

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.analysis.analyze import analyze_portfolio
from optionsv4_lib.analysis.result import load_result
from optionsv4_lib.config import Settings
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.calendar import IST, session
from optionsv4_lib.reference.universe import load_universe
from optionsv4_lib.store import EmbeddedPostgres, connect, fetch_analysis

pytestmark = pytest.mark.slow

DAG_ID = "options_v4_daily"
DAY = date(2026, 11, 23)
SYMBOLS = 4


def installed(distribution: str) -> bool:
    """Whether a distribution is installed, from its metadata: importing airflow.providers here would load
    Airflow's configuration at collection, before the airflow_home fixture of the other DAG tests sets its home."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def comparable(document: dict) -> dict:
    document["run"] = {k: v for k, v in document["run"].items() if k not in ("started_at", "finished_at", "source")}
    return document


def check_run(api, home: Path) -> None:
    """Trigger the 08:45 IST run of DAY for the first SYMBOLS symbols; it succeeds, each batch of symbols is a
    mapped task, and what it stored equals the one-call analysis."""
    run_id = api.trigger(DAG_ID, logical(DAY), {"symbols": SYMBOLS, "source": "synthetic"})
    run = api.wait(DAG_ID, run_id, timeout=600)
    states = api.task_states(DAG_ID, run_id)
    assert run["state"] == "success", states
    assert states["fetch_chains"] == ["success"] and states["analyze_symbols"] == ["success"] * SYMBOLS
    labels = sorted(ti["rendered_map_index"] for ti in api.task_instances(DAG_ID, run_id)
                    if ti["task_id"] == "analyze_symbols")
    universe = load_universe().head(SYMBOLS)
    assert labels == sorted(universe["symbol"])  # 4 symbols in 8 batches: one each, named in the UI

    result_dir = home / "data" / "runs" / f"trade_date={DAY}" / "risk=moderate" / "result"
    piecewise = load_result(result_dir)
    whole = analyze_portfolio(SyntheticMarket(42, DAY), universe=universe, allocations=load_allocations(),
                              settings=Settings())
    assert comparable(piecewise.analysis_document()) == comparable(whole.analysis_document())
    server = EmbeddedPostgres(home / "embedded")  # running: started by airflow_running
    conn = connect(server.url())
    try:
        stored = fetch_analysis(conn, DAY, "moderate")
    finally:
        conn.close()
    assert list(stored.symbols["symbol"]) == list(whole.symbols["symbol"])
    key = ["symbol", "strategy", "lots"]
    assert sorted(map(tuple, stored.strategies[key].to_numpy())) == sorted(map(tuple, whole.strategies[key].to_numpy()))
    assert len(whole.strategies) > 0


def check_missed_slot_skipped(scheduled: list[dict], api) -> None:
    """Runs the scheduler started on unpause: each one whose F&O open had passed skipped at `plan`."""
    now = datetime.now(IST)
    for run in scheduled:
        slot = datetime.fromisoformat(run["logical_date"]).astimezone(IST)
        opened = datetime.combine(slot.date(), session(slot.date())[0], IST)
        states = api.task_states(DAG_ID, run["dag_run_id"])
        if now > opened:
            assert run["state"] == "success" and states["plan"] == ["skipped"], states
            assert set(states["load"]) == {"skipped"}


def test_the_daily_dag_under_airflow_standalone(tmp_path):
    with airflow_running(tmp_path, ["airflow", "standalone"]) as (api, _):
        check_missed_slot_skipped(unpause_and_settle(api, DAG_ID), api)
        check_run(api, tmp_path)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed "
                    "(Debian/Ubuntu: apt-get install redis-server)")
@pytest.mark.skipif(not installed("apache-airflow-providers-celery"),
                    reason="the Celery provider is not installed (pip install -r requirements-celery.txt "
                           "-c constraints.txt, as `make airflow-celery` does)")
def test_the_daily_dag_on_celery_with_redis(tmp_path):
    commands, env = celery(free_port())
    with airflow_running(tmp_path, *commands, extra_env=env) as (api, _):
        unpause_and_settle(api, DAG_ID)
        check_run(api, tmp_path)
