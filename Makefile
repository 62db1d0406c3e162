# Bonito Logs developer entry points. Everything runs from a local .venv; the
# Kafka + OpenSearch stack runs without Docker (see README, "The local stack").

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv test unit integration lint run stack-up stack-down stack-status clean

venv: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11+ is required; $(PYTHON) is older (set PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the dependency list changed.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

stack-up: venv
	$(BIN)/bonito-logs stack up

stack-down: venv
	$(BIN)/bonito-logs stack down

stack-status: venv
	$(BIN)/bonito-logs stack status

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`:
# nothing but the package registries can be reached). Installed once, when missing.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium

# Everything: unit tests and integration tests against the real stack.
test: stack-up $(CHROMIUM)
	$(BIN)/pytest tests -q $(PYTEST_ARGS)

# No services needed.
unit: venv
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

integration: stack-up $(CHROMIUM)
	$(BIN)/pytest tests/integration -q $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check bonito_logs tests

# The whole product with demo data: stack (if not running), worker, API; Ctrl-C stops
# everything it started.
run: venv
	$(BIN)/bonito-logs demo

clean:
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
