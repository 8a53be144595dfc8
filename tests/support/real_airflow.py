"""Airflow as a user runs it, for the real-scheduler tests and bench/bench_airflow.py: `airflow standalone` (or the
scheduler, DAG processor, API server and a Celery worker as separate processes) in a fresh AIRFLOW_HOME with this
checkout's DAGs, plugins and include/airflow/local.env, the store in its own embedded PostgreSQL, and the REST API
(v2, a JWT from /auth/token with the admin password the simple auth manager generates)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from optionsv4_lib.core.paths import PROJECT_DIR
from optionsv4_lib.store import EmbeddedPostgres

LOCAL_ENV = PROJECT_DIR / "include" / "airflow" / "local.env"
AIRFLOW = Path(sys.executable).with_name("airflow")
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
        "PATH": f"{AIRFLOW.parent}:{env.get('PATH', '')}",
        # this checkout's library, and airflow_local_settings (the modules task processes start with)
        "PYTHONPATH": os.pathsep.join([str(PROJECT_DIR), str(PROJECT_DIR / "include" / "airflow"),
                                       env.get("PYTHONPATH", "")]),
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


def wait_healthy(url: str, processes: list[subprocess.Popen], timeout: float = 180) -> None:
    """Until the API server answers and the scheduler and DAG processor report healthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode} before Airflow was healthy")
        try:
            health = _request("GET", f"{url}/api/v2/monitor/health")
            if all(health.get(part, {}).get("status") == "healthy" for part in ("scheduler", "dag_processor")):
                return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"airflow at {url} not healthy after {timeout:.0f} s")


@contextmanager
def airflow_running(home: Path, *commands: list[str], extra_env: dict[str, str] | None = None):
    """A migrated AIRFLOW_HOME under `home` with the pools, the store's embedded PostgreSQL started, then `commands`
    (argv lists; "airflow" is this venv's) started in order and stopped when the block ends; yields (Api logged in as
    admin, env). Each command's output goes to home/<n>.log."""
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
        for number, command in enumerate(commands):
            argv = [str(AIRFLOW), *command[1:]] if command[0] == "airflow" else command
            with open(home / f"{number}.log", "wb") as log:
                processes.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                  start_new_session=True))
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, processes)
        passwords = json.loads((home / "airflow" / "simple_auth_manager_passwords.json.generated").read_text())
        yield Api.login(url, "admin", passwords["admin"]), env
    finally:
        for process in reversed(processes):
            _stop(process)
        server.stop()


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group started for it, SIGKILL after 30 s."""
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


def celery(port: int) -> tuple[list[list[str]], dict[str, str]]:
    """(commands, environment) of Airflow on CeleryExecutor with a local Redis on `port` (broker and result backend,
    nothing saved) and one worker of 2 slots: the layout of `make airflow-celery`, for airflow_running."""
    commands = [["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                ["airflow", "celery", "worker"], ["airflow", "scheduler"], ["airflow", "dag-processor"],
                ["airflow", "api-server"]]
    return commands, {"AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                      "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{port}/0",
                      "AIRFLOW__CELERY__RESULT_BACKEND": f"redis://127.0.0.1:{port}/1",
                      "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2"}


def logical(day) -> str:
    """08:45 IST of `day` (the daily DAG's slot) as the API's UTC timestamp."""
    return f"{day.isoformat()}T03:15:00Z"
