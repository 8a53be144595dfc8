# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make demo   — the main job on the embedded defaults
#   make test   — the test suite
# Each creates or refreshes the project-local virtualenv (.venv) first.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
OPTIONLAB_VENV ?= .venv-optionlab

# Airflow on this checkout: a project-local AIRFLOW_HOME (SQLite metadata), this repo's DAGs and plugins, the
# settings for one 2-core machine (include/airflow/local.env) and include/airflow on PYTHONPATH for
# airflow_local_settings.py (task processes start with the library already imported).
AIRFLOW_HOME_DIR := $(CURDIR)/.airflow
AIRFLOW_PORT ?= 8080
REDIS_PORT ?= 6380
AIRFLOW_ENV = AIRFLOW_HOME=$(AIRFLOW_HOME_DIR) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__PLUGINS_FOLDER=$(CURDIR)/plugins $(shell grep -v '^\#' $(CURDIR)/include/airflow/local.env) \
	PYTHONPATH=$(CURDIR)/include/airflow PATH=$(CURDIR)/$(VENV)/bin:$$PATH
AIRFLOW_SERVE = AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$(AIRFLOW_PORT) \
	AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$(AIRFLOW_PORT)/execution/ \
	AIRFLOW_CONN_SUPABASE_DB="$$($(VENV)/bin/optionsv4 db url --show-secret)"
# The demo's trade date: the latest NSE trading day up to today, or up to the last day the holiday calendar covers
# (the demo's market is synthetic, so any covered day will do); override: make demo DEMO_DATE=2026-11-23.
DEMO_DATE ?= $(shell $(PY) -c 'from datetime import datetime; from optionsv4_lib.reference.calendar import IST, \
	holiday_coverage, latest_trading_day; \
	print(latest_trading_day(min(datetime.now(IST).date(), holiday_coverage()[1])))')

.PHONY: venv demo airflow airflow-celery analyze test bench optionlab-venv lock clean

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements-dev.txt -c constraints.txt
	$(PIP) install -q --no-deps -e .
	$(PIP) check
	touch $@

venv: $(VENV)/.installed

# optionlab (a peer used as a test oracle and in bench/) pins pandas<3, so it lives in its own venv.
# Building it may fail on a machine without the package registry: the tests that need it then skip.
$(OPTIONLAB_VENV)/.installed:
	-$(PYTHON) -m venv $(OPTIONLAB_VENV) && $(OPTIONLAB_VENV)/bin/python -m pip install -q --disable-pip-version-check optionlab==1.9.1 && touch $@

optionlab-venv: $(OPTIONLAB_VENV)/.installed

# Metadata DB migrated and the pools the DAGs use (Dhan: option chain 1 request / 3 s; orders).
$(AIRFLOW_HOME_DIR)/.ready: $(VENV)/.installed
	mkdir -p $(AIRFLOW_HOME_DIR)
	$(AIRFLOW_ENV) airflow db migrate > $(AIRFLOW_HOME_DIR)/migrate.log 2>&1 || { tail -20 $(AIRFLOW_HOME_DIR)/migrate.log; exit 1; }
	$(AIRFLOW_ENV) airflow pools set dhan_option_chain 1 "Dhan option chain: one request per 3 s" > /dev/null
	$(AIRFLOW_ENV) airflow pools set dhan_orders 1 "Dhan orders: placement is sequential per account" > /dev/null
	touch $@

# The main job: the daily DAG on the synthetic market for the whole universe, in one process
# (`airflow dags test`), into the embedded PostgreSQL; then the stored run's top strategies and the Data Docs path.
demo: venv $(AIRFLOW_HOME_DIR)/.ready
	$(VENV)/bin/optionsv4 db start
	@echo "Running the daily DAG for $(DEMO_DATE) (log: $(AIRFLOW_HOME_DIR)/demo-$(DEMO_DATE).log) ..."
	@$(AIRFLOW_ENV) airflow dags test options_v4_daily $(DEMO_DATE) > $(AIRFLOW_HOME_DIR)/demo-$(DEMO_DATE).log 2>&1 \
		|| { tail -40 $(AIRFLOW_HOME_DIR)/demo-$(DEMO_DATE).log; exit 1; }
	$(VENV)/bin/optionsv4 report --date $(DEMO_DATE)

# The same analysis without Airflow (the old `python main.py --risk moderate`).
analyze: venv
	$(VENV)/bin/optionsv4 analyze --risk moderate

# The Airflow UI, scheduler and triggers on 127.0.0.1 only, sized for 2 cores, wired to the embedded database.
airflow: venv $(AIRFLOW_HOME_DIR)/.ready
	$(VENV)/bin/optionsv4 db start
	@echo "Airflow: http://127.0.0.1:$(AIRFLOW_PORT) — user admin, password in $(AIRFLOW_HOME_DIR)/simple_auth_manager_passwords.json.generated"
	@test ! -f $(AIRFLOW_HOME_DIR)/simple_auth_manager_passwords.json.generated || cat $(AIRFLOW_HOME_DIR)/simple_auth_manager_passwords.json.generated; echo
	$(AIRFLOW_ENV) $(AIRFLOW_SERVE) airflow standalone

# The same with CeleryExecutor: a local Redis (127.0.0.1:$(REDIS_PORT), nothing saved) as broker and result backend,
# the scheduler, DAG processor, triggerer and API server, and one Celery worker (2 task slots); Ctrl-C stops them all.
# Workers on other machines join by running `airflow celery worker` against the same broker and metadata database
# (README: "Beyond one machine"). Needs redis-server (Debian/Ubuntu: apt-get install redis-server).
airflow-celery: venv $(AIRFLOW_HOME_DIR)/.ready
	@command -v redis-server > /dev/null || { echo "redis-server not found: apt-get install redis-server"; exit 1; }
	$(PIP) install -q -r requirements-celery.txt -c constraints.txt
	$(VENV)/bin/optionsv4 db start
	@echo "Airflow (CeleryExecutor): http://127.0.0.1:$(AIRFLOW_PORT) — user admin, password in $(AIRFLOW_HOME_DIR)/simple_auth_manager_passwords.json.generated"
	$(AIRFLOW_ENV) $(AIRFLOW_SERVE) AIRFLOW__CORE__EXECUTOR=CeleryExecutor \
		AIRFLOW__CELERY__BROKER_URL=redis://127.0.0.1:$(REDIS_PORT)/0 \
		AIRFLOW__CELERY__RESULT_BACKEND=redis://127.0.0.1:$(REDIS_PORT)/1 AIRFLOW__CELERY__WORKER_CONCURRENCY=2 \
		sh -c 'trap "kill 0" EXIT INT TERM; \
			redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --save "" --appendonly no & \
			airflow scheduler & airflow dag-processor & airflow triggerer & airflow api-server & \
			airflow celery worker & wait'

# The import contract (pyproject.toml: each package imports only the ones below it), then every test.
test: venv optionlab-venv
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -n 2

bench: venv optionlab-venv
	$(PY) bench/run.py

# Re-resolve every pin from requirements*.txt into constraints.txt.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q -r requirements-dev.txt -r requirements-celery.txt
	{ sed -n '1,2p' constraints.txt; .venv-lock/bin/pip freeze; } > constraints.txt.new && mv constraints.txt.new constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) $(OPTIONLAB_VENV) $(AIRFLOW_HOME_DIR) .pytest_cache .hypothesis
