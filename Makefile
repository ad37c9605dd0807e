# Two commands for a newcomer: `make run` (demo system) and `make test` (whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DB ?= sqlite:///$(CURDIR)/instance/chengxin.sqlite3
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run serve test test-sqlite test-postgresql install lint bench clean translations

VENDOR := webui/static/vendor

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# Front-end assets come from the npm registry at set-up time and are served locally.
$(VENDOR)/.installed: webui/package.json
	cd webui && npm install --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp webui/node_modules/bootstrap/dist/css/bootstrap.min.css webui/node_modules/bootstrap/dist/js/bootstrap.bundle.min.js \
	   webui/node_modules/htmx.org/dist/htmx.min.js webui/node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	mkdir -p $(VENDOR)/bpmn-js $(VENDOR)/dmn-js
	cp -r webui/node_modules/bpmn-js/dist/assets webui/node_modules/bpmn-js/dist/*.production.min.js $(VENDOR)/bpmn-js/
	cp -r webui/node_modules/dmn-js/dist/assets webui/node_modules/dmn-js/dist/*.production.min.js $(VENDOR)/dmn-js/
	touch $@

# Translations: the .po files are in the repository, the .mo files are compiled here (gitignored).
# A catalog that does not compile stops the build. webui/translations/update.sh re-extracts the
# strings after templates or views change.
translations: $(VENV)/.installed
	$(VENV)/bin/pybabel -q compile -d webui/translations

# Browser tests drive Debian's chromium; install it when missing (CI runs as root). The WQY font
# draws Chinese in screenshots, diagram images and document charts; it is checked on its own,
# because a machine may have chromium without it.
WQY_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
/usr/bin/chromium:
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

$(WQY_FONT):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-wqy-microhei

install: $(VENV)/.installed $(VENDOR)/.installed translations

run: install
	$(VENV)/bin/chengxin --db $(DB) demo
	@echo "诚信 running on http://127.0.0.1:8000 (demo password in README.md); Ctrl-C stops it."
	$(VENV)/bin/chengxin --db $(DB) serve --host 127.0.0.1 --port 8000

lint: install
	$(VENV)/bin/lint-imports

# Tests run on every core (pytest-xdist): each worker migrates its own SQLite template or
# PostgreSQL schema, so workers share nothing but the server.
PYTEST := $(PY) -m pytest -q -n auto --dist worksteal

test-sqlite: install
	CHENGXIN_TEST_DATABASE=sqlite $(PYTEST)

test-postgresql: install
	CHENGXIN_TEST_DATABASE=$(PG_TEST_URL) $(PYTEST)

test: /usr/bin/chromium $(WQY_FONT) lint test-sqlite test-postgresql

bench: install
	$(PY) bench/engine_bench.py

clean:
	rm -rf $(VENV) instance *.egg-info webui/node_modules $(VENDOR)
