# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv/ from requirements.lock when it is missing or older than the lock.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
# pytest-xdist workers: most of the suite's time is spent waiting on Airflow and MLflow
# subprocesses, so 4 workers on 2 cores run it in about half the time of one (`-n 0`: serial).
TEST_WORKERS ?= 4

LOWEST := .venv-lowest
LOWEST_STAMP := $(LOWEST)/.installed

.PHONY: demo test test-fast test-lowest ui bench bench-memory bench-monitor lock lock-lowest dist clean

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH (or PYTHON=...)"; exit 1; }
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)
	$(UV) pip sync --quiet --compile-bytecode --python $(VENV)/bin/python requirements.lock
	$(UV) pip install --quiet --python $(VENV)/bin/python --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python -m importance_tasks.cli.demo

# MLflow UI on :5000 and Airflow (standalone) on :8080, on the demo's state.
ui: $(STAMP)
	$(VENV)/bin/python -m importance_tasks.cli.demo ui

# Speed and memory against the peers; rewrites benchmarks/RESULTS.md, SEQUENCE.md, EFFECTS.md and
# COVERAGE.md (about 65 minutes).
bench: $(STAMP)
	$(VENV)/bin/python benchmarks/run.py
	$(VENV)/bin/python benchmarks/sequence.py
	$(VENV)/bin/python benchmarks/effects.py
	$(VENV)/bin/python benchmarks/coverage.py

# Peak memory per task on 1,000,000 rows x 100 features; rewrites benchmarks/MEMORY.md.
bench-memory: $(STAMP)
	$(VENV)/bin/python benchmarks/memory.py

# The monitor's false alarms over 60 windows and one daily window through its DAG; rewrites
# benchmarks/MONITOR.md (about 5 minutes).
bench-monitor: $(STAMP)
	$(VENV)/bin/python benchmarks/monitor.py

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=25

# The pure core and the stage's steps on a SQLite MLflow store: no servers, no DAG runs.
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not integration" -n $(TEST_WORKERS) --dist loadgroup

# The ranges pyproject.toml declares, tested at their lowest, on the JAX backend without
# TensorFlow: a second environment from requirements-lowest.lock (uv's cache makes a rebuild
# about 5 s), the fast tests but those that need TensorFlow (string lookups, SavedModels) and
# one run of the feature_importance DAG (the demo, through dag.test()) in it.
$(LOWEST_STAMP): requirements-lowest.lock pyproject.toml $(STAMP)
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(UV) pip sync --quiet --python $(LOWEST)/bin/python requirements-lowest.lock
	$(UV) pip install --quiet --python $(LOWEST)/bin/python --no-deps -e .
	touch $(LOWEST_STAMP)

test-lowest: $(LOWEST_STAMP)
	$(LOWEST)/bin/python -m pytest -m "not integration and not tensorflow" -n $(TEST_WORKERS) \
		--dist loadgroup -p no:cacheprovider
	IMPORTANCE_DEMO_DIR=$$(mktemp -d) $(LOWEST)/bin/python -m importance_tasks.cli.demo

# Re-resolve requirements.in into requirements.lock on this machine (Python 3.11).
lock: $(STAMP)
	$(UV) pip compile --quiet --python-version 3.11 requirements.in -o requirements.lock

# The lowest versions pyproject.toml allows (lowest-direct: the package's own dependencies at
# their minimum, what they pull in at its newest that fits).
lock-lowest: $(STAMP)
	$(UV) pip compile --quiet --python-version 3.11 --resolution lowest-direct \
		--no-emit-package importance-tasks requirements-lowest.in -o requirements-lowest.lock

# Wheel and sdist into dist/ (the version is importance_tasks.__version__).
dist: $(STAMP)
	rm -rf dist
	$(VENV)/bin/python -m build --outdir dist

clean:
	rm -rf $(VENV) $(LOWEST) .demo dist build
