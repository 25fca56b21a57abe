# Two commands do everything: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint format bench loadtest deploy-check clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## Start PostgreSQL/Redis (embedded unless DATABASE_URL/REDIS_URL are set), migrate, serve API + worker.
run: install
	@$(BIN)/app run

## The whole test suite against real PostgreSQL and Redis (embedded unless the URLs are set).
test: install
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	@$(BIN)/ruff check src tests loadtests db
	@$(BIN)/ruff format --check src tests loadtests db
	@$(BIN)/mypy

format: install
	@$(BIN)/ruff format src tests loadtests db
	@$(BIN)/ruff check --fix src tests loadtests db

## Benchmarks (parsers, audit, migration, WebSocket latency); JSON reports in loadtests/reports/.
bench: install
	@$(BIN)/python loadtests/run_benchmarks.py

## Zero-downtime deploy under load (migration, API processes one at a time, workers); loadtests/reports/deploy.json.
deploy-check: install
	@$(BIN)/python loadtests/deploy_zero_downtime.py

## Load test of the API with locust (default 200 users for 60 s); report in loadtests/reports/load.json.
loadtest: install
	@$(BIN)/python loadtests/run_load.py $(LOAD_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
