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
GRPC_PORT ?= 4000
DAGSTER_PROD_HOME ?= $(STATE_DIR)/dagster_home_prod

.PHONY: venv demo test bench up up-prod up-demo check-defs db-upgrade plotly-bundle clean

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
# One stack per Dagster home: a second `make up` (or `make up-prod` on the same home) refuses.
up: venv $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m kevin_pipeline.deploy_stack dev --dagster-home $(DAGSTER_HOME) \
		--web-port $(DAGSTER_PORT) --dash-port $(DASH_PORT)

# The production shape on 127.0.0.1: PostgreSQL (KEVIN_DATABASE_URL + DAGSTER_PG_URL, or a throwaway
# cluster), the gRPC code location, webserver, daemon and the dashboard under gunicorn, as the image
# and the Helm chart run them. Ctrl-C stops everything. See README "Running in production".
up-prod: venv
	$(BIN)/python -m kevin_pipeline.deploy_stack prod --dagster-home $(DAGSTER_PROD_HOME) \
		--web-port $(DAGSTER_PORT) --grpc-port $(GRPC_PORT) --dash-port $(DASH_PORT)

# The same over the database `make demo` filled.
up-demo:
	$(MAKE) up KEVIN_DATABASE_URL=sqlite:///$(STATE_DIR)/demo/kevin.db

check-defs: venv $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster definitions validate -m kevin_pipeline.definitions

db-upgrade: venv
	$(BIN)/kevin db upgrade

# The dashboard's Plotly (kevin_dash/assets/plotly/: plotly-cartesian.min.js and its MIT LICENSE):
# npm's partial bundle plotly.js-cartesian-dist-min at the plotly.js version the installed plotly
# ships. Run after upgrading plotly (tests/dash/test_dash_plotly_bundle.py says when); needs npm.
PLOTLY_DIR := kevin_dash/assets/plotly
plotly-bundle: venv
	v=$$($(BIN)/python -c 'from plotly.offline import get_plotlyjs_version as v; print(v())') && \
	tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent plotly.js-cartesian-dist-min@$$v >/dev/null) && \
	tar -xzf $$tmp/plotly.js-cartesian-dist-min-$$v.tgz -C $$tmp && \
	cp $$tmp/package/plotly-cartesian.min.js $$tmp/package/LICENSE $(PLOTLY_DIR)/ && rm -rf $$tmp && \
	head -2 $(PLOTLY_DIR)/plotly-cartesian.min.js | tail -1

clean:
	rm -rf $(VENV) $(STATE_DIR) *.egg-info
