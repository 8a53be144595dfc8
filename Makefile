# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make demo   — the main job on the embedded defaults
#   make test   — the test suite
# Each creates or refreshes the project-local virtualenv (.venv) first.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
OPTIONLAB_VENV ?= .venv-optionlab

.PHONY: venv demo test bench optionlab-venv lock clean

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

demo: venv
	$(VENV)/bin/optionsv4 analyze --risk moderate

test: venv optionlab-venv
	$(PY) -m pytest -n 2

bench: venv optionlab-venv
	$(PY) bench/run.py

# Re-resolve every pin from requirements*.txt into constraints.txt.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q -r requirements-dev.txt
	{ sed -n '1,2p' constraints.txt; .venv-lock/bin/pip freeze; } > constraints.txt.new && mv constraints.txt.new constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) $(OPTIONLAB_VENV) .pytest_cache .hypothesis
