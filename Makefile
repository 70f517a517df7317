# The README's quick start: `make demo` and `make test`. Both create the virtual environment:
# `make demo` installs only what the demo needs (`.[demo]`), `make test` adds the dev set.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-python native test-nofcntl test-min test-versions lint bench release-check docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BIN)/.installed: pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(BIN)/.demo-installed

$(BIN)/.demo-installed: pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $@

demo: $(BIN)/.demo-installed
	$(BIN)/privlog demo

# The compiled batch path (native/, Rust): built into a wheel when its sources change, then
# installed, so the suite runs its differential tests against the Python pipeline.
NATIVE_WHEELS := native/target/wheels
export PATH := $(if $(wildcard $(HOME)/.cargo/bin),$(HOME)/.cargo/bin:)$(PATH)
NATIVE_SOURCES := native/Cargo.toml native/Cargo.lock native/pyproject.toml $(wildcard native/src/*.rs native/python/privlog_native/* native/vendor/*/Cargo.toml native/vendor/*/src/*.rs)
$(NATIVE_WHEELS)/.built: $(NATIVE_SOURCES) | $(BIN)/.installed
	rm -rf $(NATIVE_WHEELS)
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir $(NATIVE_WHEELS) ./native
	touch $@

native: $(NATIVE_WHEELS)/.built
	$(BIN)/python -m pip install --quiet --no-deps --force-reinstall $(NATIVE_WHEELS)/privlog_native-*.whl

# The whole suite with the extension (its differential tests included), then without it.
test: native
	$(BIN)/python -m pytest

test-python: $(BIN)/.installed
	$(BIN)/python -m pip uninstall --quiet --yes privlog-native
	$(BIN)/python -m pytest

# The unit tests as on a platform without fcntl (Windows): privlog locks with a lock file.
test-nofcntl: $(BIN)/.installed
	PRIVLOG_TEST_WITHOUT_FCNTL=1 $(BIN)/python -m pytest -q tests/unit

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks examples tools
	$(BIN)/mypy

# What a user gets: wheel and sdist built, installed in fresh venvs, imported without fcntl,
# every command's --help, the FastAPI, Flask and Django examples on real servers.
release-check: $(BIN)/.installed
	$(BIN)/python tools/release_check.py

# The API reference, generated from the docstrings into build/api/ (CI builds it: it cannot rot).
docs: $(BIN)/.installed
	$(BIN)/python tools/apidocs.py build/api

# Every benchmark in one run, both worker paths side by side (the extension is built first),
# then the plot of requests/s versus load (docs/load.png), the memory over a million requests
# per path, and the report: the tables, written into README.md and docs/benchmarks.md. wrk is a Debian
# package (.ci/install-wrk); without it the wrk rows are skipped and reported as not measured.
$(BIN)/.bench-installed: pyproject.toml $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	touch $@

bench: native $(BIN)/.bench-installed
	.ci/install-wrk || true
	mkdir -p .benchmarks && rm -f .benchmarks/load.json .benchmarks/memory.json
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-json=.benchmarks/latest.json -p no:randomly
	if command -v wrk >/dev/null; then $(BIN)/python benchmarks/plot_load.py --json .benchmarks/load.json --png docs/load.png; fi
	$(BIN)/python benchmarks/memory_flat.py --json .benchmarks/memory.json
	$(BIN)/python benchmarks/report.py .benchmarks/latest.json --load .benchmarks/load.json --memory .benchmarks/memory.json --write

clean:
	rm -rf $(VENV) $(MIN_VENV) .venv-py310 .venv-py313 privlog-demo .pytest_cache .mypy_cache .benchmarks native/target

# The oldest Flask, Werkzeug and Django we support, against the adapter tests.
MIN_VENV := .venv-min
test-min: $(BIN)/.installed
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/python -m pip install --quiet -e ".[dev]" "flask==2.3.*" "werkzeug==2.3.*" "django==4.2.*"
	$(MIN_VENV)/bin/python -m pytest -q tests/unit/test_wsgi.py tests/unit/test_flask.py tests/unit/test_django.py tests/unit/test_frameworks_agree.py tests/unit/test_examples_wsgi.py tests/integration/test_uwsgi.py tests/unit/test_server_log_filters.py tests/integration/test_server_logs_flask_dev_server.py tests/integration/test_server_logs_django_runserver.py tests/integration/test_server_logs_gunicorn_sync.py

# The unit tests on the oldest and newest Python the metadata claims (3.10 and 3.13), where
# this machine's pyenv has them; a version that is missing is reported and skipped.
PYENV_ROOT ?= $(HOME)/.pyenv
VERSIONS_EXTRAS := ".[demo,flask,django,otlp,geo]" pytest pytest-benchmark hypothesis flask-login waitress mmdb-writer starlette httpx2 gunicorn uvicorn-worker hypercorn structlog pyyaml opentelemetry-semantic-conventions
test-versions:
	@for v in 3.10 3.13; do \
	  py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python3 2>/dev/null | tail -1); \
	  if [ -z "$$py" ]; then echo "Python $$v: not installed here, skipped"; continue; fi; \
	  venv=.venv-py$$(echo $$v | tr -d .); \
	  [ -x $$venv/bin/python ] || $$py -m venv $$venv; \
	  $$venv/bin/python -m pip install --quiet --upgrade pip; \
	  $$venv/bin/python -m pip install --quiet -e $(VERSIONS_EXTRAS); \
	  echo "== Python $$v: unit tests"; \
	  $$venv/bin/python -m pytest -q -p no:cacheprovider tests/unit || exit 1; \
	done
