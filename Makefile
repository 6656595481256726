# powerworker: every task is a target; `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
REDIS_HOST ?= 127.0.0.1
REDIS_PORT ?= 6379
export REDIS_URL ?= redis://$(REDIS_HOST):$(REDIS_PORT)/1
export TEST_REDIS_URL ?= redis://$(REDIS_HOST):$(REDIS_PORT)/15

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(BIN)/arq: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

.PHONY: install
install: $(BIN)/arq ## Create .venv with the locked dependencies (installs uv if missing)

.PHONY: redis
redis: ## Start a Redis server on $(REDIS_HOST):$(REDIS_PORT) unless one answers
	@if $(PYTHON) scripts/redis_up.py $(REDIS_HOST) $(REDIS_PORT); then exit 0; fi; \
	if ! command -v redis-server >/dev/null; then \
		echo "installing redis-server"; \
		(apt-get update -qq && apt-get install -y -qq redis-server) >/dev/null || { echo "cannot install redis-server"; exit 1; }; \
	fi; \
	redis-server --daemonize yes --bind $(REDIS_HOST) --port $(REDIS_PORT) --save "" --appendonly no \
		--logfile /tmp/powerworker-redis.log; \
	$(PYTHON) scripts/redis_up.py $(REDIS_HOST) $(REDIS_PORT) --wait 10

CHROMIUM ?= /usr/bin/chromium

.PHONY: browser
browser: ## Install Debian's chromium for the dashboard's browser test, unless it is there
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing chromium"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
			|| { echo "cannot install chromium"; exit 1; }; \
	fi

.PHONY: lint
lint: install ## ruff lint and format check
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

.PHONY: format
format: install ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

.PHONY: typecheck
typecheck: install ## mypy --strict on src/
	$(BIN)/mypy src

.PHONY: test
test: install redis browser lint typecheck ## Everything CI runs: lint, types, the whole suite with branch coverage (>= 90 %)
	$(BIN)/pytest --cov --cov-branch --cov-report=term --cov-fail-under=90 $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: install redis ## The suite without the multi-process and browser tests
	$(BIN)/pytest -m "not slow and not browser" $(PYTEST_ARGS)

.PHONY: bench
bench: install redis ## Benchmarks: worker throughput and latency, HTTP client overhead
	$(BIN)/python bench/bench_worker.py $(BENCH_ARGS)
	$(BIN)/python bench/bench_http.py

.PHONY: run
run: install redis ## Run a worker for real (arq powerworker.WorkerSettings) against $(REDIS_URL)
	$(BIN)/arq powerworker.WorkerSettings

.PHONY: web
web: install redis ## Run the dashboard on http://127.0.0.1:4567 (sign in through BACKEND_API_URL)
	$(BIN)/powerworker web

.PHONY: docker
docker: ## Build the container image (needs a Docker engine)
	docker build -t powerworker:latest .

.PHONY: clean
clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .coverage .coverage.* htmlcov
