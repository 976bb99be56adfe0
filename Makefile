# adm-ingest — every target creates its own virtualenv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export AWS_DEFAULT_REGION ?= us-east-1
export POWERTOOLS_TRACE_DISABLED ?= true
export POWERTOOLS_METRICS_NAMESPACE ?= adm-ingest

.PHONY: demo test browser report-sample lint typecheck deadcode bench schema aep-schema countries build deploy check-template clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: run the whole pipeline locally (moto + ADM sandbox) on the sample files in events/
demo: $(STAMP)
	$(BIN)/adm-ingest demo

## test: lint, types (mypy strict), dead code (vulture) + the full test suite (unit, property,
##       end-to-end, template, the HTML report in headless Chromium)
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/vulture
	$(BIN)/python -m pytest -n 2 --dist loadfile

## browser: headless Chromium for the HTML report's browser test (Debian's package, when missing;
##          needs root and the Debian mirrors — without them the browser test says it is skipped)
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		(apt-get update && apt-get install -y --no-install-recommends chromium) || \
		{ [ -z "$$CI" ] || { echo "chromium could not be installed (CI needs the browser test)"; exit 1; }; \
		  echo "chromium could not be installed: the HTML report's browser test will be skipped"; }

## report-sample: the README's screenshot of a sample HTML report (docs/report-sample.png)
report-sample: $(STAMP) browser
	$(BIN)/python -m adm_local.report_sample

## fuzz: a long contract-fuzzing run of the ADM sandbox (Schemathesis from the OpenAPI structure:
##       examples, coverage and fuzzing phases, FUZZ_EXAMPLES per operation; FUZZ_SEED to explore)
FUZZ_EXAMPLES ?= 300
FUZZ_SEED     ?= 20261201
.PHONY: fuzz
fuzz: $(STAMP)
	ADM_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) ADM_FUZZ_SEED=$(FUZZ_SEED) \
	ADM_FUZZ_PHASES=examples,coverage,fuzzing \
		$(BIN)/python -m pytest -n 0 -p no:cacheprovider tests/sandbox/contract_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## typecheck: mypy, strict, on the library (configuration: pyproject.toml [tool.mypy])
typecheck: $(STAMP)
	$(BIN)/mypy

## deadcode: vulture on the library, the handlers and local/ (what frameworks, tests and
##           benchmarks use is listed, each with its reason, in vulture_whitelist.py)
deadcode: $(STAMP)
	$(BIN)/vulture

## bench: throughput and memory benchmarks; figures go into docs/PERFORMANCE.md
bench: $(STAMP)
	$(BIN)/python -m bench

## schema: regenerate the structural API schema from ../shared/reference/openapi
schema: $(STAMP)
	$(BIN)/python scripts/gen_api_schema.py

## aep-schema: regenerate the structural AEP API schema from ../shared/reference/openapi/adobe
aep-schema: $(STAMP)
	$(BIN)/python scripts/gen_aep_schema.py

## countries: regenerate the country table (pycountry + the API schema's countryCode enum)
countries: $(STAMP)
	$(BIN)/python scripts/gen_countries.py

# The SAM CLI pins its own boto3, so it gets a virtualenv of its own.
SAM_VENV := .venv-sam
$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0

build: $(SAM_VENV)/bin/sam
	$(SAM_VENV)/bin/sam build

deploy: build
	$(SAM_VENV)/bin/sam deploy --guided

# checkov pins an older boto3 than the project's, so it gets a virtualenv of its own too; the
# SAM transform runs there as well (aws-sam-translator: the same pin as pyproject.toml's dev).
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/bin/checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==3.3.30 aws-sam-translator==1.115.0

## check-template: checkov on the SAM-transformed template (accepted skips: .checkov.yaml)
check-template: $(CHECKOV_VENV)/bin/checkov
	$(CHECKOV_VENV)/bin/python scripts/transform_template.py .aws-sam/transformed.json
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -f .aws-sam/transformed.json

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .pytest_cache .ruff_cache .mypy_cache .aws-sam
