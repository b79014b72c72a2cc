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
OS_PACKAGES := mosquitto mosquitto-clients python3-venv
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get
PYTEST_ARGS ?=

.PHONY: help setup demo test clean distclean

help:
	@echo "make setup      OS packages, virtualenv in $(VENV)/ with the project, front-end packages"
	@echo "make demo       broker, worker, API, five meters replaying 95 days then live; Ctrl-C stops all"
	@echo "make test       the whole test suite (PYTEST_ARGS='-k broker' to pass pytest options)"
	@echo "make clean      caches, build output and set-up stamps (keeps $(VENV)/ and data/)"
	@echo "make distclean  clean, and delete $(VENV)/ too"

setup: $(STAMPS)/os-packages $(STAMPS)/python
# HOOK (lead): front-end packages: add $(STAMPS)/npm above, made by a rule that runs `npm ci`
#              and depends on package-lock.json, like $(STAMPS)/python below.
# HOOK (lead): browser tests: add `chromium` to OS_PACKAGES above (installed the same way).

demo: setup
	$(PY) -m demo

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Installs only what dpkg lacks; `apt-get update` only when the install fails (stale lists on a
# fresh machine), so a machine that has everything never touches the network.
$(STAMPS)/os-packages:
	@missing=""; \
	for package in $(OS_PACKAGES); do \
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

clean:
	rm -rf .pytest_cache .hypothesis test-output build dist *.egg-info $(STAMPS)
	find . -path ./$(VENV) -prune -o -path ./node_modules -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
