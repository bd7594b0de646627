# Each target bootstraps .venv from the pinned versions in requirements.lock when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench dev readme clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/billrecon demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.run

# the instance `billrecon demo` recorded its runs in (pipelines/instance.py)
dev: $(STAMP)
	$(BIN)/python -m pipelines.instance $(CURDIR)/.dagster_home
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/dagster dev

# the README's warehouse tables, from the contract in schemas/warehouse_contract.py
readme: $(STAMP)
	$(BIN)/python -m schemas.warehouse_contract --write-readme

clean:
	rm -rf $(VENV) warehouse reports/out .dagster_home
