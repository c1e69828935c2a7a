# Every target creates the virtualenv and installs kevin first, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATE_DIR ?= $(CURDIR)/.kevin
export KEVIN_STATE_DIR ?= $(STATE_DIR)
export DAGSTER_HOME ?= $(STATE_DIR)/dagster_home

.PHONY: venv demo test bench clean db-upgrade

$(BIN)/kevin: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/kevin

venv: $(BIN)/kevin

demo: venv
	$(BIN)/kevin demo

test: venv
	$(BIN)/python -m pytest

bench: venv
	$(BIN)/python -m kevin_pipeline.bench

db-upgrade: venv
	$(BIN)/kevin db upgrade

clean:
	rm -rf $(VENV) $(STATE_DIR) *.egg-info
