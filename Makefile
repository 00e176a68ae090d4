# pipeline-kit — `make` (or `make help`) lists every target.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV ?= local
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv synth package new-plugin run plan deploy destroy down emulator validate test test-fast bench clean

help: ## List every target (the default)
	@echo "pipeline-kit: make <target> [ENV=local|dev|test|staging|prod]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(STAMP) ## Create .venv and install the pinned requirements (every target does this itself)

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pipeline-kit needs Python >= 3.11 (found " + sys.version.split()[0] + "); set PYTHON=python3.x")'
	@command -v node >/dev/null || { echo "pipeline-kit needs Node.js (cdktf runs on jsii): install Node.js 18+"; exit 1; }
	@echo "==> creating $(VENV) and installing pinned requirements"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

synth: $(STAMP) ## Synthesize Terraform JSON for every environment (cdktf.out/stacks/<env>)
	@$(PY) main.py

package: $(STAMP) ## Build the deterministic plug-in zips and their manifest (build/artifacts)
	@$(PY) -m kit.package

plan: $(STAMP) ## Synthesize, init and plan ENV (saved plan file, nothing applied)
	@$(PY) -m kit plan --env $(ENV)

deploy: $(STAMP) ## Deploy ENV (default local: starts the emulator, then terraform init/plan/apply)
	@$(PY) -m kit deploy --env $(ENV)

new-plugin: $(STAMP) ## Scaffold a working plug-in: make new-plugin NAME=<name> (lambdas/<name> + tests)
	@test -n "$(NAME)" || { echo "usage: make new-plugin NAME=<name>"; exit 2; }
	@$(PY) -m kit.scaffold "$(NAME)"

run: $(STAMP) ## Drive the deployed local pipeline: sample files into landing, stages run, a table per file
	@$(PY) -m kit run --env local

destroy: $(STAMP) ## Destroy ENV (prod needs CONFIRM=prod)
	@$(PY) -m kit destroy --env $(ENV)

emulator: $(STAMP) ## Start the local emulator (moto server on 127.0.0.1, EMULATOR_PORT to change) if not running
	@$(PY) -m kit emulator-up --env local

down: $(STAMP) ## Stop the local emulator the kit started
	@$(PY) -m kit down --env local

validate: $(STAMP) ## terraform validate every environment (no credentials needed)
	@$(PY) -m kit validate

test: $(STAMP) ## Run the whole test suite: unit, functional, infra, end-to-end on the emulator
	@$(PY) -m pytest

test-fast: $(STAMP) ## Run the tests that need neither Terraform nor the emulator
	@$(PY) -m pytest -m "not infra and not e2e"

bench: $(STAMP) ## Benchmarks: synth time vs a bare bindings import (target ratio <= 0.30)
	@$(PY) -m kit.bench

clean: ## Remove synthesized output and caches (keeps .venv and local state)
	rm -rf cdktf.out .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
