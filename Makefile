# Everything a user types is `make demo` or `make test`: both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT := demo-out

.PHONY: help setup test lint format demo bench exe clean slurm-test

help:
	@echo "make demo   set up .venv, run the example on three simulated hosts, merge, report"
	@echo "make test   set up .venv and run the test suite"
	@echo "make lint   ruff check, ruff format --check, mypy"
	@echo "make slurm-test  start a one-node Slurm here (root) and run the Slurm tests"
	@echo "make bench  benchmarks (printed, not asserted)"
	@echo "make exe    the generic binary dist/splitter (task files: splitter run --tasks FILE)"
	@echo "make exe ENTRY=my_main.py [NAME=...] [CONFIGS=configs]  your entry script as dist/NAME"

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,exe,dask,report,pandas,parquet]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench packaging example_main.py
	$(BIN)/ruff format --check src tests bench packaging example_main.py
	$(BIN)/mypy

# A one-node Slurm cluster on this machine (tests/slurm/start.sh, needs root and
# .ci/install-slurm.sh), then the tests that submit to it; here a missing
# cluster fails them instead of skipping them.
SLURM_DIR ?= /tmp/splitter-slurm

slurm-test: $(STAMP)
	SPLITTER_SLURM_DIR=$(SLURM_DIR) bash tests/slurm/start.sh
	SLURM_CONF=$(SLURM_DIR)/slurm.conf SPLITTER_REQUIRE_SLURM=1 \
		$(BIN)/python -m pytest -q tests/test_slurm_cluster.py

format: $(STAMP)
	$(BIN)/ruff check --fix src tests bench packaging example_main.py
	$(BIN)/ruff format src tests bench packaging example_main.py

# Three simulated hosts, one after another, each with its own --machine and its
# own output folder as real hosts would have; then status, merge and the HTML report. Run it
# again and every host resumes (nothing left to do) and merge --force redoes.
demo: $(STAMP)
	$(BIN)/python example_main.py plan
	for machine in alpha beta gamma; do \
		$(BIN)/python example_main.py run --machine $$machine --yes --out $(DEMO_OUT)/host-$$machine \
			|| exit $$?; \
	done
	$(BIN)/splitter status $(DEMO_OUT)/host-*/*
	$(BIN)/python example_main.py merge $(DEMO_OUT)/host-*/* --out $(DEMO_OUT)/merged --force
	$(BIN)/splitter report $(DEMO_OUT)/merged

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# `make exe ENTRY=path/to/entry.py [NAME=name] [CONFIGS=dir]`: a one-file binary at
# $(EXE_DIST)/NAME (packaging/build_exe.py; README.md, "Shipping the binary"). PyInstaller's
# work files stay under $(EXE_WORK)/NAME. NAME comes from the command line or the
# entry's file stem, never from the environment (WSL sets NAME to the host name).
# Without ENTRY: the generic binary $(EXE_DIST)/splitter, the console script frozen
# (task files, plan, digest, status, merge, init).
ENTRY ?=
EXE_ENTRY := $(if $(ENTRY),$(ENTRY),packaging/splitter_cli.py)
ifneq ($(origin NAME),command line)
NAME := $(if $(ENTRY),$(basename $(notdir $(ENTRY))),splitter)
endif
CONFIGS ?=
EXE_DIST ?= dist
EXE_WORK ?= build/exe

exe: $(STAMP)
	$(BIN)/python packaging/build_exe.py $(EXE_ENTRY) --name $(NAME) \
		--dist $(EXE_DIST) --work $(EXE_WORK) $(if $(CONFIGS),--configs $(CONFIGS))

clean:
	rm -rf build dist $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
