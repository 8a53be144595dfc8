"""The monitor DAG in Airflow itself (`dag.test()`, paper mode, synthetic source, a real PostgreSQL): a run inside
the F&O session marks an open paper iron condor into positions_snapshots; a run on a holiday skips."""

from datetime import datetime
from pathlib import Path

import pytest
from execution_support import CONDOR, FAST, NOW, status_of, store_and_mark

from optionsv4_lib.config import Settings
from optionsv4_lib.execution import execute_plan, plan_execution
from optionsv4_lib.jobs.venues import open_venue
from optionsv4_lib.reference.calendar import IST
from optionsv4_lib.store import transaction

MONITOR = "options_v4_monitor"
DEFAULTS = {"source": "synthetic", "confirm_live_exits": False, "confirmation": None}


@pytest.fixture
def env(dag_env) -> Path:
    """The data dir of the tasks (see conftest.dag_env)."""
    return dag_env / "data"


def run_monitor_dag(dagbag, logical_date: datetime, **conf) -> dict[str, str]:
    """dag.test() at `logical_date` with every param passed (see test_dag_execution.run_execution); task → state."""
    run = dagbag.get_dag(MONITOR).test(logical_date=logical_date, run_conf=DEFAULTS | conf)
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_the_dag_runs_every_15_minutes_in_market_hours(dagbag):
    assert dagbag.import_errors == {}
    dag = dagbag.get_dag(MONITOR)
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert dag.timetable.expression == "*/15 9-15 * * 1-5" and str(dag.timetable.timezone) == "Asia/Kolkata"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert set(dag.params) == {"source", "confirm_live_exits", "confirmation"}
    assert dag.params["confirm_live_exits"] is False and dag.params["confirmation"] is None
    confirmation = dag.params.get_param("confirmation")  # the form sends an empty field as null: allowed, means no
    assert confirmation.resolve(None) is None and confirmation.resolve("") == ""
    assert [t.task_id for t in dag.topological_sort()] == ["in_session", "monitor"]


def test_a_paper_run_in_session_marks_the_open_condor(dagbag, env, db):
    [sid] = store_and_mark(db, CONDOR)
    venue = open_venue("paper", db, Settings())
    execute_plan(db, venue.broker, plan_execution(db, venue.broker, Settings(), now=NOW), policy=FAST)
    assert status_of(db, sid)[0] == "open"

    moment = datetime(2026, 11, 25, 11, 0, tzinfo=IST)
    assert run_monitor_dag(dagbag, moment) == {"in_session": "success", "monitor": "success"}
    with transaction(db) as cur:
        cur.execute("""SELECT leg_no, net_qty, ltp, unrealized_pnl FROM positions_snapshots
                       WHERE strategy_id = %s AND snapshot_at = %s ORDER BY leg_no""", (sid, moment))
        rows = cur.fetchall()
    assert [(leg, qty) for leg, qty, _, _ in rows] == [(0, 17400), (1, -17400), (2, -17400), (3, 17400)]
    assert all(ltp > 0 and pnl is not None for _, _, ltp, pnl in rows)


def test_a_run_on_a_holiday_skips(dagbag, env, db):
    holiday = datetime(2026, 11, 24, 11, 0, tzinfo=IST)  # Guru Nanak Jayanti
    assert run_monitor_dag(dagbag, holiday) == {"in_session": "skipped", "monitor": "skipped"}
