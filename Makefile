# adm-ingest — every target creates its own virtualenv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export AWS_DEFAULT_REGION ?= us-east-1
export POWERTOOLS_TRACE_DISABLED ?= true
export POWERTOOLS_METRICS_NAMESPACE ?= adm-ingest

.PHONY: demo test lint bench schema build deploy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: run the whole pipeline locally (moto + ADM sandbox) on the sample files in events/
demo: $(STAMP)
	$(BIN)/adm-ingest demo

## test: lint + the full test suite (unit, property, end-to-end, template)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## bench: throughput and memory benchmarks; figures go into docs/PERFORMANCE.md
bench: $(STAMP)
	$(BIN)/python -m bench

## schema: regenerate the structural API schema from ../shared/reference/openapi
schema: $(STAMP)
	$(BIN)/python scripts/gen_api_schema.py

build: $(STAMP)
	$(BIN)/sam build

deploy: build
	$(BIN)/sam deploy --guided

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .aws-sam
