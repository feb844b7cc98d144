# The two commands of README: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
# The SAM CLI, in a venv of its own (its pins conflict with the dev tools'): `make build`.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
PORT ?= 3000

.PHONY: run test lint template unit e2e invoke events openapi bench build clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml requirements-dev.txt layers/securelogin/requirements.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m securelogin_local --port $(PORT)

test: lint template unit e2e

lint: $(VENV)/.installed
	$(BIN)/ruff check .

template: $(VENV)/.installed
	$(BIN)/cfn-lint template.yaml
	$(BIN)/pytest tests/template

# Unit and integration tests in TEST_WORKERS processes (pytest-xdist; 1: in this one).
# Every test makes its own AWS fakes and picks free ports, so any test can run beside any other.
TEST_WORKERS ?= 2
unit: $(VENV)/.installed
	$(BIN)/pytest -n $(TEST_WORKERS) tests/unit tests/integration

# Headless Chromium and its driver for the browser journeys (tests/e2e/browser): Debian's packages,
# installed when missing (as root, or through sudo).
BROWSER := /usr/bin/chromium /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(BROWSER):
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver

e2e: $(VENV)/.installed $(BROWSER)
	$(BIN)/pytest tests/e2e

# What `sam local invoke` does, without Docker: make invoke FN=LoginFunction EVENT=events/login-start.json
invoke: $(VENV)/.installed
	$(BIN)/python -m securelogin_local.invoke $(FN) $(EVENT)

events: $(VENV)/.installed
	$(BIN)/python -m securelogin_local.events

# docs/openapi.json: the document GET /openapi.json serves, generated from the functions' routes.
# tests/unit/test_openapi_document.py fails when the file is stale.
openapi: $(VENV)/.installed
	$(BIN)/python -m securelogin_local.document --write docs/openapi.json

# What the service costs on this machine, against its targets: service CPU per request,
# AWS calls, latency and throughput at 1/4/16 clients and 0/10k/100k extra items, memory,
# cold starts of the `sam build` artifact, and privacyIDEA side by side if set up
# (../shared/peer). Prints the report, writes docs/benchmark.md (raw numbers: build/benchmark.json).
# About 10 minutes; BENCH_ARGS=--quick for a check, BENCH_ARGS="--only coldstart,inprocess" for some parts.
bench: $(VENV)/.installed $(SAM)
	$(BIN)/python -m securelogin_local.bench --write docs/benchmark.md --json build/benchmark.json --sam $(SAM) $(BENCH_ARGS)

# ------------------------------------------------------------------ sam build
# `make build`: the deployable artifact in .aws-sam/build. template.yaml builds the layer and every
# function through the build-* rules below (BuildMethod: makefile), which `sam build` runs
# in a scratch copy of the resource's code with ARTIFACTS_DIR set.
# Wheels for the functions' architecture (template.yaml: arm64) and for python3.12's Amazon Linux
# 2023 (glibc 2.34); pip matches the tags given, so each manylinux level is named. The bench
# builds for this machine's architecture (LAMBDA_ARCH=x86_64), to run what it built.
LAMBDA_ARCH ?= aarch64
LAMBDA_PLATFORMS = $(foreach tag,manylinux_2_34 manylinux_2_28 manylinux2014,--platform $(tag)_$(LAMBDA_ARCH))
# The interpreter of the build rules (a 3.12, for the bytecode): the project's venv if made, found
# from this Makefile's place, since the rules run in a scratch directory where a pyenv shim may
# not find python3.12.
PROJECT_DIR := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
LAMBDA_PYTHON ?= $(firstword $(wildcard $(PROJECT_DIR)$(BIN)/python) python3.12)
# Bytecode compiled at build time: Lambda's /var/task and /opt are read-only, so without .pyc
# every cold start compiles the sources again (about 1 s). unchecked-hash: valid whatever the
# files' times become in the zip.
COMPILE = $(LAMBDA_PYTHON) -m compileall -q -j0 --invalidation-mode unchecked-hash

$(SAM):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli

build: $(VENV)/.installed $(SAM)
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint
	$(SAM) build

# Run by `sam build` (not by hand): the layer's python/ and each function's directory.
build-DomainLayer:
	$(LAMBDA_PYTHON) -m pip install --quiet --disable-pip-version-check --no-compile --target "$(ARTIFACTS_DIR)/python" \
		$(LAMBDA_PLATFORMS) --implementation cp --python-version 3.12 --only-binary=:all: \
		-r requirements.txt
	cp -R securelogin "$(ARTIFACTS_DIR)/python/"
	find "$(ARTIFACTS_DIR)/python/securelogin" -name __pycache__ -prune -exec rm -rf {} +
	$(COMPILE) "$(ARTIFACTS_DIR)/python"

build-%Function:
	cp -R . "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +
	$(COMPILE) "$(ARTIFACTS_DIR)"

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .ruff_cache .hypothesis
