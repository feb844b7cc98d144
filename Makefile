# The two commands of README: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3000

.PHONY: run test lint template unit e2e invoke events bench clean

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

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit tests/integration

e2e: $(VENV)/.installed
	$(BIN)/pytest tests/e2e

# What `sam local invoke` does, without Docker: make invoke FN=LoginFunction EVENT=events/login-start.json
invoke: $(VENV)/.installed
	$(BIN)/python -m securelogin_local.invoke $(FN) $(EVENT)

events: $(VENV)/.installed
	$(BIN)/python -m securelogin_local.events

# Measures crypto, cold starts and request latency on this machine (docs/benchmark.md)
bench: $(VENV)/.installed
	$(BIN)/python -m securelogin_local.bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
