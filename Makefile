# The README's quick start: `make demo` and `make test`. Both create the virtual environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-min lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/privlog demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python -m pytest benchmarks --benchmark-only --benchmark-json=.benchmarks/latest.json -p no:randomly
	$(BIN)/python benchmarks/report.py .benchmarks/latest.json

clean:
	rm -rf $(VENV) $(MIN_VENV) privlog-demo .pytest_cache .mypy_cache .benchmarks

# The oldest Flask, Werkzeug and Django we support, against the adapter tests.
MIN_VENV := .venv-min
test-min: $(BIN)/.installed
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MIN_VENV)/bin/python -m pip install --quiet -e ".[dev]" "flask==2.3.*" "werkzeug==2.3.*" "django==4.2.*"
	$(MIN_VENV)/bin/python -m pytest -q tests/unit/test_wsgi.py tests/unit/test_flask.py tests/unit/test_django.py tests/unit/test_frameworks_agree.py tests/unit/test_examples_wsgi.py tests/integration/test_uwsgi.py
