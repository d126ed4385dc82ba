# Two commands do all the set-up on a fresh machine (Python 3.11+, pip, make):
#   make demo   the gateway on the demo upstream, GraphiQL at http://127.0.0.1:8000/graphql
#   make test   the whole test suite (lint, types, tests)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: demo demo-upstream test lint bench clean redis-server regen

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/comet-gateway demo

demo-upstream: $(VENV)/.installed
	$(VENV)/bin/comet-gateway demo-upstream

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check gateway demo_upstream tests tools
	$(VENV)/bin/mypy

# The cache tests start a real Redis; Debian's redis-server is installed when missing.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing Debian's redis-server (needs root)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# Real JavaScript clients (graphql-http's audit, ...) that the tests drive with node.
tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --silent
	touch $@

test: lint redis-server tests/js/node_modules/.installed
	$(PY) -m pytest

# schema.graphql and the README's settings table, from the code (tests check both).
regen: $(VENV)/.installed
	$(PY) tools/regen.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
