# Each target bootstraps .venv from the pinned versions in requirements.lock when it is missing; the
# test targets add the `test` extra from requirements-test.lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.test-installed

.PHONY: demo demo-lake test test-fast lint lint-fix bench bench-scale dev readme clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) requirements-test.lock
	$(BIN)/pip install --quiet -r requirements-test.lock -c requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e '.[test]'
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/billrecon demo

# the demo with two partner accounts on a DuckLake (README, Scale out); the test extra brings the pgserver
# wheel's PostgreSQL, used where the machine has none
demo-lake: $(TEST_STAMP)
	$(BIN)/billrecon demo --lake

# lint (Python style and import order, the SQL style, the layering contract in pyproject.toml), then every test
test: lint
	$(BIN)/python -m pytest -q

# the unit and asset tests without the `slow` marker (every integration test has it: tests/conftest.py)
test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint --processes 2 sql
	$(BIN)/lint-imports

# what the linters can fix themselves (import order, unused imports, SQL capitalisation); then `make lint`
lint-fix: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/sqlfluff fix --processes 2 sql

bench: $(STAMP)
	$(BIN)/python -m bench.run

# N partner accounts' months at once, into one DuckLake and into DuckDB files (bench/README.md); the
# lake's PostgreSQL is the machine's or the test extra's pgserver wheel, hence the test install
bench-scale: $(TEST_STAMP)
	$(BIN)/python -m bench.scale

# the instance `billrecon demo` recorded its runs in (pipelines/instance.py)
dev: $(STAMP)
	$(BIN)/python -m pipelines.instance $(CURDIR)/.dagster_home
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/dagster dev

# the README's warehouse tables, from the contract in schemas/warehouse_contract.py
readme: $(STAMP)
	$(BIN)/python -m schemas.warehouse_contract --write-readme

clean:
	rm -rf $(VENV) warehouse reports/out .dagster_home .demo-lake
