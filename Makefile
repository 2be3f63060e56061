# Development entry points. Everything runs from .venv/bin; nothing needs activating.
#   make run    the whole product on this machine (Ctrl-C, SIGINT or SIGTERM stops everything)
#   make test   the test suite (PYTEST_ARGS="-k invite -x" to narrow it)
#   make lint   ruff check + ruff format --check
#   make clean  delete var/ (databases, mail); keeps .venv

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; pip runs again only when pyproject.toml is newer.
INSTALLED := $(VENV)/.installed
PYTEST_ARGS ?=
# What `make run` starts (tests/test_running.py runs a small one).
PROCFILE ?= Procfile

.DEFAULT_GOAL := help
.PHONY: help install run test test-postgres lint clean histories screenshots

help:
	@echo "make run    start Temporal, the mail catcher, the Amazon stand-in, the worker and the web app"
	@echo "make test   run the test suite (PYTEST_ARGS=... passes options to pytest)"
	@echo "make test-postgres   the same suite on PostgreSQL at 127.0.0.1:5432 (database test)"
	@echo "make histories       record workflow histories for the replay test"
	@echo "make screenshots     the README's pictures, from the browser tests"
	@echo "make lint   ruff check and ruff format --check"
	@echo "make clean  remove var/ (app database, Temporal database, caught mail)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $@

install: $(INSTALLED)

run: $(INSTALLED)
	@mkdir -p var
	$(BIN)/flask --app web db upgrade
	@echo
	@echo "  Web app                http://127.0.0.1:8000    (sign up at /signup)"
	@echo "  Temporal Web UI        http://127.0.0.1:8233"
	@echo "  Mail catcher           http://127.0.0.1:1080    (every email sent lands here)"
	@echo "  Amazon stand-in        http://127.0.0.1:8100    (seller-us@example.com / demo)"
	@echo "  Temporal gRPC          127.0.0.1:7233"
	@echo
	@echo "  Ctrl-C stops everything."
	@echo
	@# bin/run: a stop asked for by SIGINT or SIGTERM exits 0, so make reports no error.
	exec env PYTHONUNBUFFERED=1 $(BIN)/python bin/run -f $(PROCFILE)

test: $(INSTALLED)
	$(BIN)/pytest $(PYTEST_ARGS)

# Save workflow histories of every end-to-end path for tests/test_replay.py (commit the folder).
histories: $(INSTALLED)
	$(BIN)/pytest -q tests/test_connection_request.py tests/test_request_lifecycle.py \
		tests/test_reminders_and_actions.py tests/test_amazon_outcomes.py \
		tests/test_members.py tests/test_auth_and_access.py tests/test_one_truth.py \
		tests/test_reconcile.py tests/test_amazon_errors.py tests/test_connection_life.py \
		tests/test_same_seller.py tests/test_login_uri.py \
		--record-histories tests/histories/$$(git rev-parse --short HEAD)

# The README's pictures, taken by the browser tests.
screenshots: $(INSTALLED)
	$(BIN)/pytest -q tests/test_browser.py --screenshots docs/screenshots

# The same suite on PostgreSQL (trust auth on 127.0.0.1:5432, database `test`, emptied first).
# The process-level fault tests run once, on SQLite: they lock the SQLite file on purpose.
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
test-postgres: $(INSTALLED)
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest --ignore=tests/test_faults.py $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf var
