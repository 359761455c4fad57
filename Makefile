# Portico: `make run` serves the platform, `make test` runs the whole suite.
# Both create .venv and install the pinned dependencies when needed.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: run test test-suite install migrate messages lint format clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $(STAMP)

install: $(STAMP) messages

# Catalogs (.po) are committed; the compiled .mo files are built here.
messages: $(STAMP)
	$(VENV)/bin/pybabel -q compile --domain django --directory portico/locale

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate
	$(PY) manage.py seed_demo
	@echo "Serving Portico at http://$(HOST):$(PORT)/ (Ctrl-C stops the web server and the worker)"
	@DEBUG=$${DEBUG:-true} $(PY) manage.py run_worker & worker=$$!; \
	 trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	 DEBUG=$${DEBUG:-true} $(PY) manage.py runserver $(HOST):$(PORT)

test: install
	scripts/ensure-chromium
	$(MAKE) --no-print-directory test-suite

test-suite:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run >/dev/null
	$(PY) -m pytest $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var staticfiles
