# The two commands of the README: `make run` (app + demo content) and `make test` (test suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint

# axe-core for the browser tests' accessibility pass, installed from package-lock.json. Without npm
# (or when npm ci fails) the suite still runs: those tests skip, or fail under CI.
AXE_STAMP := node_modules/.installed
$(AXE_STAMP): package.json package-lock.json
	@if ! command -v npm >/dev/null; then \
	  echo "npm not found: the accessibility browser tests will be skipped"; \
	elif npm ci --no-audit --no-fund --loglevel=error; then touch $@; \
	else echo "npm ci failed: the accessibility browser tests will be skipped"; fi

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_models
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_gallery
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP) $(AXE_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
