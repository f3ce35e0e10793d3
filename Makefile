# The two commands: `make run` and `make test`. Needs only Python 3.11+ and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test venv lint typecheck unit migrate clean browser wheel-smoke fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# urllib3-future (via caldav -> niquests) would overwrite urllib3 on every start unless it
	# is built from source with URLLIB3_NO_OVERRIDE=1; tests/unit/test_urllib3.py checks.
	URLLIB3_NO_OVERRIDE=1 $(BIN)/python -m pip install --quiet --no-binary urllib3-future -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

.env: | $(STAMP)
	$(BIN)/growthguard init-env

migrate: $(STAMP) .env
	$(BIN)/growthguard migrate

run: migrate
	$(BIN)/growthguard serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

# Browser tests drive Debian's chromium (installed here when missing and running as root).
test: lint typecheck
	sh scripts/ensure-chromium.sh
	$(BIN)/pytest
	PYTHON=$(BIN)/python sh scripts/wheel-smoke.sh

# Schemathesis with many more cases than `make test` runs (prints how many).
fuzz: $(STAMP)
	GG_FUZZ_EXAMPLES=$${GG_FUZZ_EXAMPLES:-60} $(BIN)/pytest tests/fuzz -q -s

# The wheel the image is built from, installed alone: migrates and answers /healthz.
wheel-smoke: $(STAMP)
	PYTHON=$(BIN)/python sh scripts/wheel-smoke.sh

browser: $(STAMP)
	sh scripts/ensure-chromium.sh
	$(BIN)/pytest tests/browser -q

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis artifacts
