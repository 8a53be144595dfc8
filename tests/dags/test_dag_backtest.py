"""The backtest DAG in Airflow itself: its shape, and `dag.test()` over a range with two trade dates and three symbols
(synthetic market, universe and allocations from a real PostgreSQL): every date simulated in its own mapped task, the
report written — with exactly the trades of the CLI's run (the ranked picks and the baselines), which carries all dates
together."""

import re
import shutil
from pathlib import Path

import pandas as pd

from optionsv4_lib.analysis.allocation import load_allocations
from optionsv4_lib.config import Settings
from optionsv4_lib.jobs.backtest import make_spec, run_backtest
from optionsv4_lib.reference.universe import load_universe

BACKTEST = "options_v4_backtest"
CONF = {"from_date": "2026-11-20", "to_date": "2026-11-24", "risk_profile": "moderate", "source": "synthetic",
        "symbols": 3, "top": 3}  # trade dates 20 and 23 Nov (21–22 a weekend, 24 a holiday); NIFTY, BANKNIFTY, FINNIFTY


def test_the_dag_is_manual_with_a_mapped_simulation(dagbag):
    assert dagbag.import_errors == {}
    dag = dagbag.get_dag(BACKTEST)
    assert type(dag.timetable).__name__ == "NullTimetable" and dag.catchup is False and dag.max_active_runs == 1
    assert set(dag.params) == {"from_date", "to_date", "risk_profile", "source", "bhavcopy_dir", "expired_dir",
                               "index_history", "vix_file", "symbols", "top", "baseline_families"}
    assert [t.task_id for t in dag.topological_sort()] == ["plan", "simulate", "report"]
    simulate = dag.get_task("simulate")
    assert simulate.map_index_template == "{{ day }}" and simulate.retries == 2
    assert dag.get_task("report").trigger_rule == "all_done"
    assert dag.doc_md and "left out" in dag.doc_md


def test_a_run_simulates_each_date_and_reports_the_trades_of_the_combined_run(dagbag, dag_env):
    run = dagbag.get_dag(BACKTEST).test(run_conf=CONF)
    states: dict[str, list[str]] = {}
    for ti in run.get_task_instances():
        states.setdefault(ti.task_id, []).append(str(ti.state))
    assert str(run.state) == "success", states
    assert states == {"plan": ["success"], "simulate": ["success", "success"], "report": ["success"]}

    universe = load_universe().head(3)
    settings = Settings(data_dir=dag_env / "data", results_dir=dag_env / "results")
    spec = make_spec(CONF["from_date"], CONF["to_date"], settings=settings, universe=universe, top=3)
    page = dag_env / "results" / f"backtest_{spec.key}.html"
    assert len(re.findall(r"<img src='data:image/png;base64,", page.read_text())) == 6
    assert "Ranked picks against the baselines" in page.read_text()
    assert sorted(p.name for p in (dag_env / "data" / "backtests" / spec.key / "entries").iterdir()) == \
        ["trade_date=2026-11-20", "trade_date=2026-11-23"]

    reported = pd.read_parquet(dag_env / "results" / f"backtest_{spec.key}_trades.parquet")
    combined = run_backtest(spec, settings=settings, universe=universe, allocations=load_allocations())
    combined.trades.to_parquet(dag_env / "combined.parquet", index=False)
    assert (reported["policy"] == "ranked").sum() == 6
    assert set(reported["policy"]) == {"ranked", "random", "family:Short Strangle", "family:Iron Condor"}
    pd.testing.assert_frame_equal(reported, pd.read_parquet(dag_env / "combined.parquet"))


def test_on_bhavcopies_the_dag_reports_the_trades_of_the_cli(dagbag, dag_env, tmp_path):
    fixtures = Path(__file__).parents[1] / "fixtures"
    folder = shutil.copytree(fixtures / "bhavcopy" / "udiff", tmp_path / "bhav")
    files = {"bhavcopy_dir": str(folder), "index_history": str(fixtures / "bhavcopy" / "nifty_history.csv"),
             "vix_file": str(fixtures / "india_vix_nse.csv.gz")}
    conf = CONF | files | {"from_date": "2025-01-20", "to_date": "2025-01-21", "source": "bhavcopy", "top": 2,
                           "baseline_families": ["Short Strangle"]}
    run = dagbag.get_dag(BACKTEST).test(run_conf=conf)
    assert str(run.state) == "success"

    universe = load_universe().head(3)
    settings = Settings(data_dir=dag_env / "data", results_dir=dag_env / "results")
    spec = make_spec(conf["from_date"], conf["to_date"], settings=settings, universe=universe, source="bhavcopy",
                     top=2, baseline_families=["Short Strangle"], **files)
    reported = pd.read_parquet(dag_env / "results" / f"backtest_{spec.key}_trades.parquet")
    combined = run_backtest(spec, settings=settings, universe=universe, allocations=load_allocations())
    combined.trades.to_parquet(dag_env / "combined.parquet", index=False)
    assert len(reported) > 0 and set(reported["policy"]) <= {"ranked", "random", "family:Short Strangle"}
    pd.testing.assert_frame_equal(reported, pd.read_parquet(dag_env / "combined.parquet"))
