# The two commands of the README: `make up` runs the system, `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint install clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# axe-core for the accessibility test (tests/browser), from the npm registry; the system itself needs no npm
	@if command -v npm >/dev/null 2>&1; then npm install --prefix $(VENV)/npm --no-audit --no-fund --silent axe-core@4.11; \
	else echo "npm not found: the accessibility test will fail until axe-core is installed (make install)"; fi
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/hjemtilos up $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var .pytest_cache
