# The README's quick start: `make demo` and `make test`. Both create the virtual environment.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

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
	rm -rf $(VENV) privlog-demo .pytest_cache .mypy_cache .benchmarks
