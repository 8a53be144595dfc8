"""The execution DAG in Airflow itself (`dag.test()`, paper mode, a real PostgreSQL): confirmed runs place the marked
iron condors and record plan, preview and summary; an unconfirmed run records the plan and skips; a live run without
the exact confirmation fails at the gate and the run ends failed; a run whose checks fail still writes its summary
and ends failed. Airflow is imported inside the tests (see the `airflow_home` fixture)."""

import json
from pathlib import Path

import pytest
from execution_support import CONDOR, DhanEmulator, market, placed, register_contracts, status_of, store_and_mark

from optionsv4_lib.execution.ledger import orders_of

EXECUTION = "options_v4_execution"
pytestmark = pytest.mark.usefixtures("fixed_clock")  # "now" decides staleness and market hours: a fixed evening
DEFAULTS = {"mode": "paper", "strategy_ids": [], "max_strategies": 10, "confirm": False, "confirmation": None}


@pytest.fixture
def env(dag_env) -> Path:
    """The data dir of the tasks (see conftest.dag_env)."""
    return dag_env / "data"


def run_execution(dagbag, **conf) -> dict[str, list[str]]:
    """dag.test() of the execution DAG; {task_id: [states]} and the run's own state under "run". Every param is
    passed: in one process, Airflow 3.3's process_params resolves a run's conf into the DAG's own Param objects, so a
    value would leak into the next dag.test() (a deployment parses the DAG afresh per task process)."""
    run = dagbag.get_dag(EXECUTION).test(run_conf=DEFAULTS | conf)
    states: dict[str, list[str]] = {}
    for ti in run.get_task_instances():
        states.setdefault(ti.task_id, []).append(str(ti.state))
    return states | {"run": [str(run.state)]}


def recorded(data_dir: Path, name: str) -> Path:
    [path] = (data_dir / "executions").glob(f"*/{name}")
    return path


def test_the_dag_is_manual_with_a_form_and_a_pool(dagbag):
    assert dagbag.import_errors == {}
    dag = dagbag.get_dag(EXECUTION)
    assert type(dag.timetable).__name__ == "NullTimetable" and dag.catchup is False and dag.max_active_runs == 1
    assert set(dag.params) == {"mode", "strategy_ids", "max_strategies", "confirm", "confirmation"}
    assert dag.params["mode"] == "paper" and dag.params["confirm"] is False and dag.params["confirmation"] is None
    confirmation = dag.params.get_param("confirmation")  # the form sends an empty field as null: allowed, means no
    assert confirmation.resolve(None) is None and confirmation.resolve("") == ""
    place = dag.get_task("place")
    assert place.pool == "dhan_orders" and place.retries == 2 and place.map_index_template == "{{ strategy_id }}"
    order = [t.task_id for t in dag.topological_sort()]
    assert order == ["load_marked", "pre_trade_checks", "preview", "gate", "place", "reconcile", "summary", "verdict"]
    assert dag.get_task("verdict").upstream_task_ids == set(order[:-1])  # the leaf that fails a run with a failure
    assert "PLACE LIVE ORDERS" in dag.doc_md


def test_paper_run_places_the_marked_condors(dagbag, env, db):
    sids = store_and_mark(db, CONDOR, "HCLTECH:iron-condor:3")
    states = run_execution(dagbag, mode="paper", confirm=True)
    assert states == {"load_marked": ["success"], "pre_trade_checks": ["success"], "preview": ["success"],
                      "gate": ["success"], "place": ["success", "success"], "reconcile": ["success"],
                      "summary": ["success"], "verdict": ["skipped"], "run": ["success"]}
    assert [status_of(db, sid)[:2] for sid in sids] == [("open", "paper")] * 2
    assert [len(orders_of(db, sid)) for sid in sids] == [4, 4]
    plan = json.loads(recorded(env, "plan.json").read_text())
    assert plan["mode"] == "paper" and plan["cleared"] == sids
    assert "OV4-" in recorded(env, "preview.txt").read_text()
    summary = json.loads(recorded(env, "summary.json").read_text())
    assert summary["counts"] == {"open": 2}
    assert summary["reconciled"]["positions"] == 8  # the condors' legs, by contract (no security ids in paper)


def test_an_unconfirmed_run_records_the_plan_and_places_nothing(dagbag, env, db):
    [sid] = store_and_mark(db, CONDOR)
    states = run_execution(dagbag, mode="paper", strategy_ids=[sid])
    assert states["gate"] == ["skipped"] and states["place"] == ["skipped"]
    assert states["summary"] == ["success"] and states["verdict"] == ["skipped"] and states["run"] == ["success"]
    assert json.loads(recorded(env, "plan.json").read_text())["cleared"] == [sid]
    assert orders_of(db, sid) == [] and status_of(db, sid)[0] == "marked"


@pytest.mark.parametrize("flag, text, missing", [
    ("1", "place live orders", "the confirmation text must be exactly 'PLACE LIVE ORDERS', got 'place live orders'"),
    ("0", "PLACE LIVE ORDERS", "the environment flag OPTIONSV4_LIVE_TRADING=1 is not set"),
])
def test_live_without_every_key_fails_at_the_gate(dagbag, env, db, monkeypatch, capfd, flag, text, missing):
    [sid] = store_and_mark(db, CONDOR, mode="live")
    with DhanEmulator(market()) as emulator:  # the live plan asks Dhan for margins, funds and the kill switch
        register_contracts(db, emulator)
        for name, value in {"OPTIONSV4_LIVE_TRADING": flag, "DHAN_CLIENT_ID": emulator.client_id,
                            "DHAN_ACCESS_TOKEN": emulator.access_token, "OPTIONSV4_DHAN_BASE_URL": emulator.url,
                            "OPTIONSV4_DHAN_CHAIN_INTERVAL": "0"}.items():
            monkeypatch.setenv(name, value)
        states = run_execution(dagbag, mode="live", confirm=True, confirmation=text)
        sent = placed(emulator)
    assert states["pre_trade_checks"] == ["success"] and states["gate"] == ["failed"]
    assert states["place"] == ["upstream_failed"] and states["summary"] == ["success"]
    assert states["verdict"] == ["failed"] and states["run"] == ["failed"]  # red in the UI, not a green 'Success'
    assert missing in capfd.readouterr().out
    assert sent == [] and orders_of(db, sid) == [] and status_of(db, sid)[0] == "marked"


def test_failed_pre_trade_checks_still_write_a_summary_and_fail_the_run(dagbag, env, db, monkeypatch):
    """Before: `summary` got no plan path and crashed with a TypeError (Path(None)), hiding the real failure."""
    from optionsv4_lib.core.errors import InputError
    from optionsv4_lib.jobs import execution

    def refuse(*args, **kwargs):
        raise InputError("checks: the plan cannot be made")

    monkeypatch.setattr(execution, "plan_execution", refuse)
    [sid] = store_and_mark(db, CONDOR)
    states = run_execution(dagbag, mode="paper", strategy_ids=[sid], confirm=True)
    assert states["pre_trade_checks"] == ["failed"] and states["summary"] == ["success"]
    assert states["verdict"] == ["failed"] and states["run"] == ["failed"]
    assert orders_of(db, sid) == []
