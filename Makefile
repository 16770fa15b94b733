# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
SANDBOX_PORT ?= 8008
export PORT SANDBOX_PORT

.PHONY: run test lint format browsers clean screenshots

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(VENV)/.runtime $@

run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py createcachetable
	PYTHON=$(PY) sh scripts/run-dev.sh

test: $(VENV)/.dev
	PYTHON=$(PY) bash scripts/test-tools.sh
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) manage.py makemigrations --check --dry-run -v 0
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Every page with demo data at 1280 and 390 px: var/screenshots/<page>-<width>.png (own sandbox,
# database and free port; SCREENSHOTS_ARGS="--pages dashboard,security --widths 390" narrows it).
screenshots: $(VENV)/.dev
	$(PY) scripts/screenshots.py $(SCREENSHOTS_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite3 var/staticfiles
