# Two commands do everything on a fresh machine with Python 3.11+:
#   make run    the portal with its embedded defaults (SQLite, a local mail sink, the worker)
#   make test   lint, format check, type check and the test suite (PostgreSQL too when
#               TEST_DATABASE_URL is set; installs the Debian packages its end-to-end tests
#               use, listed in scripts/install-test-tools, when run as root)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint typecheck format messages bench mutation clean

# setuptools boxes a note for package authors into every editable install ("Editable
# installation. Please be careful with folders in your working directory..."), which pip
# shows since version 25; it asks nothing of whoever runs `make`. Only that note is silenced.
PIP_INSTALL := PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install --quiet

$(INSTALLED): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)
	$(BIN)/pybabel -q compile -d app/translations

# axe-core for the browser tests' accessibility checks, from package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# exec: make's own child is the demo, which ends with status 0 on Ctrl-C, so make prints no
# error (a shell between them would report the interrupt).
run: install
	@exec scripts/run-demo

test: install
	@scripts/install-test-tools || echo "Postfix/rbldnsd/Chromium missing: their end-to-end tests will be skipped"
	@$(MAKE) --no-print-directory node_modules/.installed || echo "npm missing: the accessibility checks will be skipped"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-extract translatable strings after changing texts, then update the catalogs.
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project delist-portal -o app/translations/messages.pot .
	$(BIN)/pybabel -q update --no-fuzzy-matching -i app/translations/messages.pot -d app/translations

# Every benchmark on SQLite and PostgreSQL (about half an hour); writes docs/benchmarks.md.
bench: install
	@scripts/install-test-tools || echo "some tools are missing; the benchmarks that need them fail"
	@$(MAKE) --no-print-directory node_modules/.installed
	$(BIN)/python bench/run.py

# Mutation testing of the modules in [tool.mutmut] only_mutate (a few minutes; docs/mutation.md).
# Fails if a module has fewer than 90 % of its mutants killed. Starts afresh: mutmut keeps a
# mutant's verdict until its function changes, so new tests would not be seen.
mutation: install
	rm -rf mutants
	$(BIN)/mutmut run
	$(BIN)/python scripts/mutation_report.py --min-killed 0.9

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .mypy_cache node_modules mutants
