# driftline: `make demo` and `make test` each do the whole set-up from nothing and are safe to rerun.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Python keeps its compiled modules (.pyc) here even where the environment says not to
# (PYTHONDONTWRITEBYTECODE): otherwise every test process, worker and CLI the tests start compiles
# River, Faust and scikit-learn again, about 3.5 s of CPU each
export PYTHONDONTWRITEBYTECODE :=

.PHONY: demo docs docs-serve helm test test-unit test-integration test-reliability test-readme test-containers test-containers-all images container-deps bench bench-drift setup system-deps kafka-jars stack-up stack-down lint clean

# DEMO_ARGS passes options on to `driftline demo` (e.g. DEMO_ARGS="--events 8000"); none by default
DEMO_ARGS ?=

demo: setup
	$(BIN)/driftline demo $(DEMO_ARGS)

# The unit tests (and doctests) on both cores; then the integration tests on TEST_WORKERS
# processes, each with a Kafka and a Redis of its own; then the README's commands (one process,
# the default ports, a clone of their own) beside the reliability faults two at a time (each
# starts its own stack): the faults wait on outages and used 1.1 of the 2 cores alone.
# Tests that must share a process are grouped (xdist_group): a module's own broker, the two
# streams that saturate the cores, the README's commands (the largest group: it starts first).
# Each run ends with its slowest tests; PYTEST_TIMEOUT bounds any one test.
# (One pool of four for all three ran 1.7 min faster here, with the load average at 12 and one
# fault test starved past its deadline: not worth it on two cores.)
UNIT := tests/unit tests/support streams agents schemas examples/driftline-acme/tests
TEST_WORKERS ?= 3
PYTEST_TIMEOUT ?= 900

test: setup helm lint docs
	$(BIN)/pytest -n 2 --dist worksteal $(UNIT)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --timeout $(PYTEST_TIMEOUT) tests/integration
	$(BIN)/pytest -n 3 --dist loadgroup --timeout $(PYTEST_TIMEOUT) -m "readme or reliability" tests/readme tests/reliability

# The integration tests alone, in parallel as in make test
test-integration: setup helm
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --timeout $(PYTEST_TIMEOUT) tests/integration

# The README's commands as a new user runs them: a fresh clone, an empty HOME, no DRIFTLINE_*
# variable, the default ports (issue 24)
test-readme: setup
	$(BIN)/pytest -m readme tests/readme

# The faults of issue 13 (broker, Redis, trainer crashes, workers joining and leaving), each
# against processes of its own
test-reliability: setup
	$(BIN)/pytest -n 2 --dist loadgroup --timeout $(PYTEST_TIMEOUT) -m reliability tests/reliability

# docker-compose.yml run for real under podman-compose, with the images built here (issue 14);
# .ci/run runs it beside make test. Needs root (podman's storage and networks).
test-containers: setup container-deps
	$(BIN)/pytest -m containers tests/containers

# The same, with the whole integration suite (not only its smoke set) on testcontainers' Kafka and Redis
test-containers-all: setup container-deps
	TESTCONTAINERS_SUITE=all $(BIN)/pytest -m containers tests/containers

# The worker, Kafka, Redis and Prometheus images, from a Debian base made here with mmdebstrap
images: setup container-deps
	$(BIN)/python -m streams.stack.images

test-unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist worksteal $(UNIT)

lint: $(STAMP)
	$(BIN)/ruff check streams agents schemas tests benchmarks examples

# mkdocs-material and a plugin print banners about MkDocs' future on every build: not ours to read each time
DOCS_ENV := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true
# The docs site (mkdocs.yml) into site/: a warning, a broken link or a missing page fails the build.
# The reference pages are generated from the code as it builds (docs/gen_reference.py).
docs: $(STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs build --strict

# The docs site served at http://127.0.0.1:8000, rebuilt as pages change
docs-serve: $(STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs serve

bench: setup
	@if [ -d benchmarks ]; then $(BIN)/python -m benchmarks; else echo "no benchmarks yet (the performance issue adds them)"; fi

# Drift alerts on streams that never change and on streams with a known change, in process
# (no broker): false alarms, detection rate and delay beside the bare River detector (issue 16)
bench-drift: $(STAMP)
	$(BIN)/python -m benchmarks.drift

setup: system-deps $(STAMP) kafka-jars

# requirements.lock (make lock) holds every package at the version CI runs: installed as constraints,
# by uv (pinned here): the same packages as pip in 2 s, not 45 (it unpacks in parallel, from its
# cache). uv is fetched once per machine (by pip, beside Kafka's jars) and makes the venv too: no pip
# in it, 5 s less. uv reads no pip.conf: where only pip reaches the packages (a mirror named there),
# or where this Python has no pip to fetch uv with, a venv with pip installs them. uv trusts the
# system's certificates.
UV_VERSION := 0.13.9
CACHE_DIR := $(or $(DRIFTLINE_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/driftline)
UV_DIR := $(CACHE_DIR)/uv-$(UV_VERSION)
UV := $(UV_DIR)/bin/uv
# The example plugin package (a team's own estimator and feature functions, found by entry point):
# installed beside driftline, so its tests and the pipeline test that names it run with make test
PLUGIN_EXAMPLE := examples/driftline-acme
$(STAMP): pyproject.toml requirements.lock $(PLUGIN_EXAMPLE)/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "driftline needs Python >= 3.11")'
	@test -x "$(UV)" || { rm -rf "$(UV_DIR).part" && $(PYTHON) -m pip install -q --target "$(UV_DIR).part" uv==$(UV_VERSION) 2>/dev/null && \
	  rm -rf "$(UV_DIR)" && mv "$(UV_DIR).part" "$(UV_DIR)"; } || echo "uv could not be fetched: pip installs instead"
	{ test -x "$(UV)" && { test -x $(BIN)/python || "$(UV)" venv -q --python $(PYTHON) $(VENV); } && \
	  "$(UV)" pip install -q --system-certs --python $(BIN)/python -c requirements.lock -e '.[test]' -e $(PLUGIN_EXAMPLE); } || \
	{ { test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV); } && $(BIN)/pip install -q -c requirements.lock -e '.[test]' -e $(PLUGIN_EXAMPLE); }
	touch $@

# requirements.lock again: pyproject.toml resolved in a throwaway venv under /tmp, frozen to
# name==version lines. The packages it names keep their versions (a dependency added to pyproject.toml
# gets its newest); `make lock UPGRADE=1` resolves everything afresh (faust-streaming, mode-streaming
# and aiokafka stay at their == pins). After it, `make setup` installs the new versions; the unit
# tests check the lock against pyproject.toml. Make it with the oldest Python 3.11 at hand (Debian 12's
# python3 is 3.11.2: make lock PYTHON=/usr/bin/python3), so that pip picks versions that install there:
# one made with 3.11.7 held a package needing 3.11.5, and make demo failed there (tests/unit/test_declared_imports.py).
UPGRADE ?=
.PHONY: lock
lock:
	@set -e; tmp=$$(mktemp -d /tmp/driftline-lock.XXXXXX); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	if [ -z "$(UPGRADE)" ]; then grep -v '^#' requirements.lock > "$$tmp/keep.txt"; else : > "$$tmp/keep.txt"; fi; \
	"$$tmp/venv/bin/pip" install -q -c "$$tmp/keep.txt" -e '.[test]'; \
	{ echo "# Every package of pip install -e '.[test]', at the version CI runs (name==version, no hashes)."; \
	  echo "# Generated by \`make lock\` with $$("$$tmp/venv/bin/python" -V) on $$(uname -sm);"; \
	  echo "# regenerate it the same way, never by hand: pyproject.toml resolved in a throwaway venv (make lock)."; \
	  echo "# make (the .venv) and the worker image (Dockerfile) install with it: pip install -c requirements.lock ..."; \
	  "$$tmp/venv/bin/pip" freeze --exclude-editable; } > "$$tmp/requirements.lock"; \
	"$$tmp/venv/bin/pip" check; \
	cp "$$tmp/requirements.lock" requirements.lock; \
	echo "requirements.lock: $$(grep -vc '^#' requirements.lock) packages"

# The Debian packages a recipe put in $$missing: installed when we may (root, apt-get), else named
APT_INSTALL = if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing:$$missing - install them (Debian: sudo apt-get install$$missing)"; exit 1; \
	  fi; \
	fi

# Redis, kcat (a Kafka client that is not ours, for tests), Java/Maven and Chromium (the report
# and dashboard tests open pages in it, headless): Debian packages when
# missing and we may install them; otherwise a clear message.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v kcat >/dev/null || missing="$$missing kcat"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	$(APT_INSTALL)

# The container engine (podman with runc and netavark, podman-compose) and mmdebstrap for the
# local Debian base: Debian packages, when missing and we may install them.
container-deps:
	@missing=""; \
	for cmd in podman podman-compose runc mmdebstrap; do command -v $$cmd >/dev/null || missing="$$missing $$cmd"; done; \
	[ -x /usr/lib/podman/netavark ] || command -v netavark >/dev/null || missing="$$missing netavark aardvark-dns"; \
	[ -x /usr/sbin/iptables ] || command -v iptables >/dev/null || missing="$$missing iptables"; \
	$(APT_INSTALL)

# Helm, built from its Go module once per machine into ~/.cache/driftline: the tests check the chart
# (deploy/helm/driftline) with helm lint and helm template, offline. Building it needs Go (1.24 or
# newer) and the Go module proxy, once.
HELM_VERSION := v4.3.2
HELM := $(CACHE_DIR)/helm-$(HELM_VERSION)/helm
GO := $(or $(shell command -v go 2>/dev/null),/usr/local/go/bin/go)
helm: $(HELM)
$(HELM):
	@test -x "$(GO)" || { echo "make helm: building Helm needs Go (1.24 or newer), and none was found"; exit 1; }
	rm -rf "$(@D).part" && mkdir -p "$(@D).part"
	GOBIN="$(@D).part" "$(GO)" install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)
	rm -rf "$(@D)" && mv "$(@D).part" "$(@D)"

# Apache Kafka's jars, resolved by Maven once per machine into ~/.cache/driftline.
kafka-jars: $(STAMP)
	$(BIN)/driftline stack fetch

stack-up: setup
	$(BIN)/driftline stack up

stack-down:
	$(BIN)/driftline stack down

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache test-artifacts
