"""The daily DAG under a real Airflow scheduler, as a user deploys it: `airflow standalone` (scheduler, DAG processor,
API server, triggerer; LocalExecutor, a process per task) with include/airflow/local.env in a fresh AIRFLOW_HOME,
the DAG unpaused and triggered through the REST API (v2, a JWT from /auth/token), whole universe, synthetic market,
into a fresh embedded PostgreSQL. Each run is timed from the trigger to its final state as the API reports it.

rows() -> [{task, implementation, n, seconds, per_item_us, note}] for bench/run.py; OPTIONSV4_BENCH_SKIP_AIRFLOW=1
leaves it out (it takes a few minutes). `python bench/bench_airflow.py [symbols] [runs]` prints the runs.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from optionsv4_lib.core.paths import PROJECT_DIR
from optionsv4_lib.reference.calendar import previous_trading_day
from optionsv4_lib.reference.universe import load_universe
from optionsv4_lib.store import EmbeddedPostgres

DAG_ID = "options_v4_daily"
LOCAL_ENV = PROJECT_DIR / "include" / "airflow" / "local.env"
AIRFLOW = Path(sys.executable).with_name("airflow")
RUNS = 3
FIRST_DAY = date(2026, 11, 23)  # the runs analyse this and the trading days before it (distinct dates, no holiday)
DONE = {"success", "failed"}


def local_env() -> dict[str, str]:
    """include/airflow/local.env as a dict."""
    lines = [line.strip() for line in LOCAL_ENV.read_text().splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow_env(home: Path, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of `make airflow` for an AIRFLOW_HOME and API port: this repo's DAGs and plugins,
    local.env, the store in home/embedded (its own embedded PostgreSQL), data and results under home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OPTIONSV4_"))}
    return env | local_env() | {
        "AIRFLOW_HOME": str(home / "airflow"), "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
        "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "OPTIONSV4_EMBEDDED_DIR": str(home / "embedded"), "OPTIONSV4_DATA_DIR": str(home / "data"),
        "OPTIONSV4_RESULTS_DIR": str(home / "results"), "OPTIONSV4_LOGS_DIR": str(home / "logs"),
        "PATH": f"{AIRFLOW.parent}:{env.get('PATH', '')}", # this checkout's library; airflow_local_settings (the task processes' preloaded modules)
        "PYTHONPATH": f"{PROJECT_DIR}:{PROJECT_DIR / 'include' / 'airflow'}",
    } | (extra or {})


class Api:
    """The Airflow REST API v2 with a JWT from /auth/token."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    @staticmethod
    def login(url: str, username: str, password: str) -> "Api":
        answer = _request("POST", f"{url}/auth/token", {"username": username, "password": password})
        return Api(url, answer["access_token"])

    def __call__(self, method: str, path: str, body: dict | None = None) -> dict:
        return _request(method, f"{self.url}/api/v2{path}", body, {"Authorization": f"Bearer {self.token}"})

    def trigger(self, dag_id: str, logical_date: str | None, conf: dict) -> str:
        return self("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": conf})["dag_run_id"]

    def wait(self, dag_id: str, run_id: str, timeout: float) -> dict:
        """The run once it is success or failed; TimeoutError naming its state otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in DONE:
                return run
            time.sleep(0.5)
        raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f} s")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, list[str]]:
        states: dict[str, list[str]] = {}
        for ti in self.task_instances(dag_id, run_id):
            states.setdefault(ti["task_id"], []).append(ti["state"])
        return states


def _request(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 180) -> None:
    """Until the API server answers and the scheduler and DAG processor report healthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow exited with {process.returncode} before it was healthy")
        try:
            health = _request("GET", f"{url}/api/v2/monitor/health")
            if all(health.get(part, {}).get("status") == "healthy" for part in ("scheduler", "dag_processor")):
                return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"airflow at {url} not healthy after {timeout:.0f} s")


@contextmanager
def airflow_running(home: Path, command: list[str], extra_env: dict[str, str] | None = None,
                    extra_processes: tuple[list[str], ...] = ()):
    """A migrated AIRFLOW_HOME with the pools, the store's embedded PostgreSQL started, then `airflow <command>`
    (and any extra processes) until the block ends; yields (Api logged in as admin, env). Logs go to home/*.log."""
    port = free_port()
    env = airflow_env(home, port, extra_env)
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    quiet = {"env": env, "check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
    subprocess.run([AIRFLOW, "db", "migrate"], **quiet)
    subprocess.run([AIRFLOW, "pools", "set", "dhan_option_chain", "1", "Dhan option chain"], **quiet)
    server = EmbeddedPostgres(home / "embedded")
    server.start()
    processes = []
    try:
        for name, args in (("airflow", command), *((f"extra{i}", a) for i, a in enumerate(extra_processes))):
            log = open(home / f"{name}.log", "wb")
            processes.append(subprocess.Popen(args if name != "airflow" else [AIRFLOW, *args], env=env, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, processes[0])
        passwords = json.loads((home / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())
        yield Api.login(url, "admin", passwords["admin"]), env
    finally:
        for process in processes:
            _stop(process)
        server.stop()


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group started for it, SIGKILL after 30 s."""
    import signal

    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def unpause_and_settle(api: Api, dag_id: str, timeout: float = 300) -> list[dict]:
    """Unpause the DAG (waiting until the DAG processor has parsed it) and wait for any run the scheduler starts on
    its own (the missed slot) to end; returns those runs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            api("PATCH", f"/dags/{dag_id}", {"is_paused": False})
            break
        except urllib.error.HTTPError as exc:
            if exc.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(1)
    time.sleep(3)  # a scheduler loop or two: the missed slot's run, if any, is created
    runs = api("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]
    return [api.wait(dag_id, run["dag_run_id"], timeout) for run in runs]


def trading_days(count: int) -> list[date]:
    days = [FIRST_DAY]
    while len(days) < count:
        days.append(previous_trading_day(days[-1]))
    return days


def logical(day: date) -> str:
    """08:45 IST of `day` as the API's UTC timestamp."""
    return f"{day.isoformat()}T03:15:00Z"


def measure(symbols: int = 0, runs: int = RUNS) -> tuple[list[float], list[dict], dict]:
    """(seconds of each run, the runs the scheduler started by itself on unpause, task states of the last run)."""
    with tempfile.TemporaryDirectory(prefix="optionsv4-bench-airflow-") as tmp:
        with airflow_running(Path(tmp), ["standalone"]) as (api, _):
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
    return [{"task": "daily DAG, whole universe", "implementation": "optionsv4 under `airflow standalone` (REST trigger)",
             "n": n, "seconds": min(seconds), "per_item_us": min(seconds) / n * 1e6,
             "note": f"synthetic market, {n} symbols, {tasks} task instances (a process each, LocalExecutor, "
                     f"include/airflow/local.env); trigger to success; runs: {', '.join(f'{s:.0f}' for s in seconds)} s"}]


if __name__ == "__main__":
    symbols, runs = (int(a) for a in (sys.argv[1:] + ["0", str(RUNS)])[:2])
    seconds, scheduled, states = measure(symbols, runs)
    print("runs started by the scheduler on unpause:", [(r["dag_run_id"], r["state"]) for r in scheduled])
    print("task states of the last run:", {k: (len(v), sorted(set(v))) for k, v in states.items()})
    print("seconds per run:", [round(s, 1) for s in seconds])
