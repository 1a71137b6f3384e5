# driftline: `make demo` and `make test` each do the whole set-up from nothing and are safe to rerun.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-unit test-reliability test-readme test-containers images container-deps bench bench-drift setup system-deps kafka-jars stack-up stack-down lint clean

# DEMO_ARGS passes options on to `driftline demo` (e.g. DEMO_ARGS="--events 8000"); none by default
DEMO_ARGS ?=

demo: setup
	$(BIN)/driftline demo $(DEMO_ARGS)

# The unit tests (and doctests) on both cores; then the integration tests, one at a time, against
# one broker and Redis. Each run ends with its ten slowest tests.
UNIT := tests/unit tests/support streams agents schemas

test: setup lint
	$(BIN)/pytest -n 2 --dist worksteal $(UNIT)
	$(BIN)/pytest tests/integration
	$(BIN)/pytest -m reliability tests/reliability
	$(BIN)/pytest -m readme tests/readme

# The README's commands as a new user runs them: a fresh clone, an empty HOME, no DRIFTLINE_*
# variable, the default ports (issue 24)
test-readme: setup
	$(BIN)/pytest -m readme tests/readme

# The faults of issue 13 (broker, Redis, trainer crashes, workers joining and leaving), each
# against processes of its own
test-reliability: setup
	$(BIN)/pytest -m reliability tests/reliability

# docker-compose.yml run for real under podman-compose, with the images built here (issue 14);
# .ci/run runs it after make test. Needs root (podman's storage and networks).
test-containers: setup container-deps
	$(BIN)/pytest -m containers tests/containers

# The worker, Kafka, Redis and Prometheus images, from a Debian base made here with mmdebstrap
images: setup container-deps
	$(BIN)/python -m streams.stack.images

test-unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist worksteal $(UNIT)

lint: $(STAMP)
	$(BIN)/ruff check streams agents schemas tests benchmarks

bench: setup
	@if [ -d benchmarks ]; then $(BIN)/python -m benchmarks; else echo "no benchmarks yet (the performance issue adds them)"; fi

# Drift alerts on streams that never change and on streams with a known change, in process
# (no broker): false alarms, detection rate and delay beside the bare River detector (issue 16)
bench-drift: $(STAMP)
	$(BIN)/python -m benchmarks.drift

setup: system-deps $(STAMP) kafka-jars

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "driftline needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

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

# Apache Kafka's jars, resolved by Maven once per machine into ~/.cache/driftline.
kafka-jars: $(STAMP)
	$(BIN)/driftline stack fetch

stack-up: setup
	$(BIN)/driftline stack up

stack-down:
	$(BIN)/driftline stack down

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache test-artifacts
