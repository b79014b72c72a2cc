# Set-up, demo and tests (SPEC §2). Works as root on a fresh Debian 12 with python3 (as another
# user it asks sudo for the OS packages). `make setup` is idempotent and near-instant once done:
# every step leaves a stamp in .venv/.stamps and runs again only when its input changes.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON3 ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := $(VENV)/.stamps
# mosquitto-dev, libmosquitto-dev, gcc, libc6-dev: to build the broker's session guard plugin
# (broker/guard.py); chromium, chromium-l10n: the browser tests (pt-BR date inputs need l10n).
OS_PACKAGES := mosquitto mosquitto-clients python3-venv mosquitto-dev libmosquitto-dev gcc libc6-dev openssl \
	chromium chromium-l10n
# npm comes from Debian's package only when no npm is on the PATH (a NodeSource nodejs has its own).
NPM_PACKAGE := $(if $(shell command -v npm),,npm)
VENDOR := api/static/vendor
# The front-end files the pages serve, copied from node_modules/ (nothing comes from a CDN).
VENDOR_FILES := $(VENDOR)/chart.umd.min.js $(VENDOR)/chart.umd.min.js.map $(VENDOR)/chart.js-LICENSE.md
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get
PYTEST_ARGS ?=

.PHONY: help setup demo test clean distclean

help:
	@echo "make setup      OS packages, virtualenv in $(VENV)/ with the project, front-end packages"
	@echo "make demo       broker, worker, API, five meters replaying 95 days then live; Ctrl-C stops all"
	@echo "make test       the whole test suite on SQLite, then its database tests on PostgreSQL"
	@echo "                (PYTEST_ARGS='-k broker' to pass pytest options)"
	@echo "make clean      caches, build output and set-up stamps (keeps $(VENV)/ and data/)"
	@echo "make distclean  clean, and delete $(VENV)/, node_modules/ and $(VENDOR)/ too"

setup: $(STAMPS)/os-packages $(STAMPS)/python $(STAMPS)/npm $(VENDOR_FILES)

demo: setup
	$(PY) -m demo

# Two passes: everything on SQLite (with the PostgreSQL-only tests when a server answers), then
# every test that uses a database again on PostgreSQL (skipped without a server). Both always run;
# the target fails if either did. Exit code 5 is "nothing selected" (a PYTEST_ARGS filter).
test: setup
	@status=0; \
	$(PY) -m pytest -q $(PYTEST_ARGS) || status=$$?; \
	echo "--- the tests that use a database, on PostgreSQL (ENERGY_TEST_PG_URL)"; \
	$(PY) -m pytest -q --backend=postgresql $(PYTEST_ARGS) || { code=$$?; [ $$code -eq 5 ] || status=$$code; }; \
	exit $$status

# Installs only what dpkg lacks; `apt-get update` only when the install fails (stale lists on a
# fresh machine), so a machine that has everything never touches the network. The check runs
# again when the Makefile changes, so a package added to the list is installed on the next setup.
$(STAMPS)/os-packages: Makefile
	@missing=""; \
	for package in $(OS_PACKAGES) $(NPM_PACKAGE); do \
	  dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing OS packages:$$missing"; \
	  $(APT_GET) install -y --no-install-recommends $$missing \
	    || { $(APT_GET) update && $(APT_GET) install -y --no-install-recommends $$missing; }; \
	fi
	@mkdir -p $(@D) && touch $@

$(PY): | $(STAMPS)/os-packages
	$(PYTHON3) -m venv $(VENV)

# Re-installs only when pyproject.toml changed since the last install.
$(STAMPS)/python: pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -e '.[test]'
	@mkdir -p $(@D) && touch $@

# Re-installs only when package-lock.json changed; `npm ci` installs exactly the locked versions.
$(STAMPS)/npm: package-lock.json | $(STAMPS)/os-packages
	npm ci --ignore-scripts --no-audit --no-fund
	@mkdir -p $(@D) && touch $@

$(VENDOR)/chart.umd.min.js $(VENDOR)/chart.umd.min.js.map: $(VENDOR)/%: $(STAMPS)/npm
	@mkdir -p $(@D) && cp node_modules/chart.js/dist/$* $@

$(VENDOR)/chart.js-LICENSE.md: $(STAMPS)/npm
	@mkdir -p $(@D) && cp node_modules/chart.js/LICENSE.md $@

clean:
	rm -rf .pytest_cache .hypothesis test-output build dist *.egg-info $(STAMPS)
	find . -path ./$(VENV) -prune -o -path ./node_modules -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) node_modules $(VENDOR)
