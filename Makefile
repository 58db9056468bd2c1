# Everything a user types is `make demo` or `make test`: both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT := demo-out

.PHONY: help setup test lint format demo bench exe clean

help:
	@echo "make demo   set up .venv, run the example on three simulated hosts, merge"
	@echo "make test   set up .venv and run the test suite"
	@echo "make lint   ruff check, ruff format --check, mypy"
	@echo "make bench  benchmarks (printed, not asserted)"
	@echo "make exe ENTRY=example_main.py [NAME=...] [CONFIGS=configs]  one-file binary in dist/"

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,exe]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench example_main.py
	$(BIN)/ruff format --check src tests bench example_main.py
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench example_main.py
	$(BIN)/ruff format src tests bench example_main.py

demo: $(STAMP)
	$(BIN)/python example_main.py plan

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf build dist $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
