# Two commands on a fresh machine: `make run` and `make test`.
VENV    := .venv
BIN     := $(CURDIR)/$(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
PYTHON  ?= python3
export PATH := $(BIN):$(PATH)

.PHONY: install browser prometheus run lint test bench demo clean mutate

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Temporal dev server (Web UI http://localhost:8233) + worker + codec server (:8234), in the foreground
## until Ctrl-C. The payload key ring .data/codec-keys.json (mode 0600) is made on the first run.
## The worker serves Prometheus metrics at COMPLAINTS_METRICS_ADDRESS (default 127.0.0.1:9464).
## WORKERS=3 runs three worker processes on the one task queue (worker.1-3); the n-th serves its
## metrics at that port plus n - 1 (9464, 9465, 9466).
run: export COMPLAINTS_METRICS_ADDRESS ?= 127.0.0.1:9464
run: WORKERS ?= 1
run: install
	mkdir -p .data
	$(BIN)/complaints codec init --if-missing
	$(BIN)/complaints keys demo
	@echo "Payloads are encrypted; to read them in the Web UI, open the link of: $(BIN)/complaints codec login-url --as S-MGR-001"
	@host=$${COMPLAINTS_METRICS_ADDRESS%:*}; port=$${COMPLAINTS_METRICS_ADDRESS##*:}; \
	  for n in $$(seq 1 $(WORKERS)); do \
	    echo "Metrics (SDK and business) for Prometheus, worker.$$n: http://$$host:$$((port + n - 1))/metrics"; \
	  done
	$(BIN)/honcho -f Procfile start -c worker=$(WORKERS)

## Debian's Chromium and CJK fonts for the browser tests (Playwright drives it; no browser download).
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list | grep -qi 'noto sans cjk'; } || { [ "$$(id -u)" = 0 ] && \
	  command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; } || \
	  echo "note: could not install chromium (needs root and apt); the Web UI test will skip, and fail under CI=true"

## Debian's Prometheus for the metrics test (a real server scraping a worker; no download of its own).
prometheus:
	@command -v prometheus >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } || \
	  echo "note: could not install prometheus (needs root and apt); the metrics test will skip, and fail under CI=true"

## Lint, import order and format (ruff, whole tree) and types (mypy; config in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## The whole suite against a dev server the tests start, on SQLite and PostgreSQL (after lint).
test: install browser prometheus lint
	$(BIN)/pytest

## Throughput, capacity and history size, side by side with a bare Temporal workflow
## (ONLY=closure,burst,capacity,history,analysis,recall picks lines; N, BURST, CAPACITY, ANALYSIS, RECALL set their sizes).
bench: install
	$(BIN)/python -m bench.run $(if $(ONLY),--only $(ONLY),) $(if $(N),--count $(N),) \
	  $(if $(BURST),--burst $(BURST),) $(if $(CAPACITY),--capacity $(CAPACITY),) \
	  $(if $(ANALYSIS),--analysis-count $(ANALYSIS),) $(if $(RECALL),--recall $(RECALL),)

## A realistic mix of complaints worked through the CLI (uses `make run`'s server, or starts one).
demo: install
	$(BIN)/python -m demo.run

## Mutation testing of the pure rules in domain/ against their unit tests (no server, a few
## minutes); prints the mutants the tests did not kill. Config: [tool.mutmut] in pyproject.toml.
## `mutmut show NAME` prints one's diff. JOBS=n runs n at a time (default: one per core).
mutate: install
	rm -rf mutants
	$(BIN)/mutmut run $(if $(JOBS),--max-children $(JOBS),)
	@echo "Mutants not killed (survived, timeout, no tests):"
	@$(BIN)/mutmut results

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
