# Every target creates the virtualenv and installs kevin first, so a fresh clone needs only
# `make demo` / `make test`. State (SQLite database, Dagster home) lives in the gitignored .kevin/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATE_DIR ?= $(CURDIR)/.kevin
export KEVIN_STATE_DIR ?= $(STATE_DIR)
export DAGSTER_HOME ?= $(STATE_DIR)/dagster_home
DAGSTER_PORT ?= 3000
DASH_PORT ?= 8050

.PHONY: venv demo test bench up up-demo check-defs db-upgrade clean

$(BIN)/kevin: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/kevin

venv: $(BIN)/kevin

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

demo: venv $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/kevin demo

# The browser tests need Debian's chromium: installed when missing and allowed, else one line says how.
test: venv
	scripts/ensure_chromium.sh
	$(BIN)/python -m pytest

bench: venv
	$(BIN)/python -m kevin_pipeline.bench

# The Dagster UI + daemon (sensor, schedule) and the dashboard, both on 127.0.0.1; Ctrl-C stops both.
up: venv $(DAGSTER_HOME)/dagster.yaml
	@echo "Dagster UI: http://127.0.0.1:$(DAGSTER_PORT)   dashboard: http://127.0.0.1:$(DASH_PORT)"
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/dagster dev -m kevin_pipeline.definitions -h 127.0.0.1 -p $(DAGSTER_PORT) & \
	$(BIN)/kevin dash --host 127.0.0.1 --port $(DASH_PORT) & \
	wait

# The same over the database `make demo` filled.
up-demo:
	$(MAKE) up KEVIN_DATABASE_URL=sqlite:///$(STATE_DIR)/demo/kevin.db

check-defs: venv $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster definitions validate -m kevin_pipeline.definitions

db-upgrade: venv
	$(BIN)/kevin db upgrade

clean:
	rm -rf $(VENV) $(STATE_DIR) *.egg-info
