# Two commands on a fresh machine: `make serve` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
INDEX_DIR ?= var/index
PYTEST_ARGS ?=
N ?= 3

.PHONY: install serve index test lint browser-deps cluster-deps cluster bench eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

$(VENV)/.installed-bench: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(VENV)/.installed $(VENV)/.installed-test $@

## install: .venv with healthsearch installed
install: $(VENV)/.installed

## serve: index ./corpus if there is no index yet, then serve it on http://$(HOST):$(PORT)
serve: $(VENV)/.installed
	$(BIN)/healthsearch serve --host $(HOST) --port $(PORT) --index-dir $(INDEX_DIR) --processes 0

## index: incremental update of the index from ./corpus
index: $(VENV)/.installed
	$(BIN)/healthsearch index --index-dir $(INDEX_DIR)

## browser-deps: Debian's chromium for the browser tests (skipped, with a reason, without it)
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; }

## cluster-deps: Debian's haproxy and rsync for the replica cluster and its test (skipped, with a reason, without them)
cluster-deps:
	@for tool in haproxy rsync; do command -v $$tool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $$tool for the replica cluster"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$tool >/dev/null) \
	      || echo "could not install $$tool: the cluster test will be skipped"; \
	  else echo "$$tool missing and not root: the cluster test will be skipped"; fi; }; done

## cluster: N read replicas of $(INDEX_DIR) behind HAProxy on http://$(HOST):$(PORT) (Ctrl-C stops them all)
cluster: $(VENV)/.installed cluster-deps
	$(BIN)/healthsearch cluster up --replicas $(N) --index-dir $(INDEX_DIR) --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

## test: the whole suite (lint, unit, integration, browser, slow robustness tests)
test: $(VENV)/.installed-test browser-deps cluster-deps
	$(BIN)/ruff check .
	$(BIN)/pytest -q $(PYTEST_ARGS)

## bench: speed and scale figures side by side with peers (not part of test)
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run

## eval: relevance figures on the shared data sets, side by side with peers
eval: $(VENV)/.installed-bench
	$(BIN)/python -m bench.eval

clean:
	rm -rf var .pytest_cache
