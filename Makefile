# Two commands for a newcomer: `make run` (demo system) and `make test` (whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DB ?= sqlite:///$(CURDIR)/instance/chengxin.sqlite3
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgresql install lint bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/chengxin --db $(DB) demo
	$(VENV)/bin/chengxin --db $(DB) tasks --as office
	@echo "Timer worker running on $(DB); Ctrl-C stops it."
	$(VENV)/bin/chengxin --db $(DB) worker

lint: install
	$(VENV)/bin/lint-imports

test-sqlite: install
	CHENGXIN_TEST_DATABASE=sqlite $(PY) -m pytest -q

test-postgresql: install
	CHENGXIN_TEST_DATABASE=$(PG_TEST_URL) $(PY) -m pytest -q

test: lint test-sqlite test-postgresql

bench: install
	$(PY) bench/engine_bench.py

clean:
	rm -rf $(VENV) instance *.egg-info
