"""The daily DAG under a real Airflow scheduler, as a user deploys it: `airflow standalone` (scheduler, DAG processor,
API server, triggerer; LocalExecutor, a process per task) with include/airflow/local.env in a fresh AIRFLOW_HOME,
the DAG unpaused and triggered through the REST API (v2, a JWT from /auth/token), whole universe, synthetic market,
into a fresh embedded PostgreSQL. Each run is timed from the trigger to its final state as the API reports it.

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py; OPTIONSV4_BENCH_SKIP_AIRFLOW=1
leaves it out (it takes a few minutes). `python bench/bench_airflow.py [symbols] [runs] [celery]` prints the runs
(`celery`: on CeleryExecutor with a local Redis and one worker, as `make airflow-celery` runs it).
"""

import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from optionsv4_lib.core.paths import PROJECT_DIR
from optionsv4_lib.reference.calendar import previous_trading_day
from optionsv4_lib.reference.universe import load_universe

sys.path.insert(0, str(PROJECT_DIR / "tests" / "support"))
from real_airflow import airflow_running, celery, free_port, logical, unpause_and_settle  # noqa: E402

DAG_ID = "options_v4_daily"
RUNS = 3
FIRST_DAY = date(2026, 11, 23)  # the runs analyse this and the trading days before it (distinct dates, no holiday)


def trading_days(count: int) -> list[date]:
    days = [FIRST_DAY]
    while len(days) < count:
        days.append(previous_trading_day(days[-1]))
    return days


def measure(symbols: int = 0, runs: int = RUNS, on_celery: bool = False) -> tuple[list[float], list[dict], dict]:
    """(seconds of each run, the runs the scheduler started by itself on unpause, task states of the last run);
    `on_celery`: CeleryExecutor with a local Redis and one worker instead of standalone."""
    commands, env = celery(free_port()) if on_celery else ([["airflow", "standalone"]], {})
    with tempfile.TemporaryDirectory(prefix="optionsv4-bench-airflow-") as tmp:
        with airflow_running(Path(tmp), *commands, extra_env=env) as (api, _):
            scheduled = unpause_and_settle(api, DAG_ID)
            seconds, states = [], {}
            for day in trading_days(runs):
                started = time.monotonic()
                run_id = api.trigger(DAG_ID, logical(day), {"symbols": symbols, "source": "synthetic"})
                run = api.wait(DAG_ID, run_id, timeout=1800)
                seconds.append(time.monotonic() - started)
                states = api.task_states(DAG_ID, run_id)
                if os.environ.get("OPTIONSV4_BENCH_TIMELINE"):
                    print_timeline(run, api.task_instances(DAG_ID, run_id))
                if run["state"] != "success":
                    raise RuntimeError(f"run {run_id} {run['state']}: {states}")
    return seconds, scheduled, states


def print_timeline(run: dict, instances: list[dict]) -> None:
    """Each task instance's queued, start and end, in seconds from the run's start (OPTIONSV4_BENCH_TIMELINE=1)."""
    from datetime import datetime

    zero = datetime.fromisoformat(run["start_date"])
    at = lambda stamp: f"{(datetime.fromisoformat(stamp) - zero).total_seconds():6.1f}" if stamp else "     -"
    for ti in sorted(instances, key=lambda ti: ti["start_date"] or ""):
        print(f"{ti['task_id']:20} {ti['map_index']:3} {ti['state']:8} queued {at(ti['queued_when'])} "
              f"start {at(ti['start_date'])} end {at(ti['end_date'])}")
    print(f"run {run['dag_run_id']}: {at(run['end_date'])} s")


def rows() -> list[dict]:
    if os.environ.get("OPTIONSV4_BENCH_SKIP_AIRFLOW"):
        return []
    seconds, _, states = measure()
    n = len(load_universe())
    tasks = sum(len(v) for v in states.values())
    runs = ", ".join(f"{s:.0f}" for s in seconds)
    return [{"task": "daily DAG, whole universe", "implementation": "optionsv4 under `airflow standalone`",
             "n": n, "seconds": min(seconds), "per_item_us": min(seconds) / n * 1e6,
             "note": f"synthetic market, {n} symbols, {tasks} task instances (a process each, LocalExecutor, "
                     f"include/airflow/local.env); REST trigger to success, best of {len(seconds)}: {runs} s"}]


if __name__ == "__main__":
    symbols, runs = (int(a) for a in (sys.argv[1:] + ["0", str(RUNS)])[:2])
    seconds, scheduled, states = measure(symbols, runs, on_celery="celery" in sys.argv[3:])
    print("runs started by the scheduler on unpause:", [(r["dag_run_id"], r["state"]) for r in scheduled])
    print("task states of the last run:", {k: (len(v), sorted(set(v))) for k, v in states.items()})
    print("seconds per run:", [round(s, 1) for s in seconds])
