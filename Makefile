# Groundcrew: the two commands.
#   make run   - set up .venv, load the demo city and start the server at http://127.0.0.1:8000
#   make test  - set up .venv (+ Debian packages when root) and run lint, import contracts and all tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := dev,postgres,scale,mobile
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# Test processes (pytest-xdist), each taking whole test files (tests/conftest.py keeps the files that share one
# live server together): 18–30 min of tests instead of 32–44 on two cores. `make test TEST_WORKERS=0` runs them
# in this one.
TEST_WORKERS ?= 2

.PHONY: run test install kernels system-deps lint clean console

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	rm -f $(VENV)/.installed-*
	touch $@

# The optimizer's compiled search kernels (numba), compiled once and cached on disk beside their source (~30 s the
# first time; recompiled only when routing/_sisr.py or routing/_day_sisr.py change).
kernels: $(STAMP)
	$(BIN)/python -c "import routing; routing.warm_up()"

install: $(STAMP) kernels

system-deps:
	@bash scripts/system-deps.sh

# The demo accepts unsigned channel deliveries (no provider secrets here); /health and the console warn of it.
run: install
	$(BIN)/groundcrew demo
	GROUNDCREW_INSECURE_CHANNELS=$${GROUNDCREW_INSECURE_CHANNELS:-true} $(BIN)/groundcrew serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: system-deps install lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Rebuild the web console (web/ -> server/console/static/, committed; needs Node 20+ and the npm registry).
# `npm ci` runs under npm 10: npm 11's ci rejects a lock file without every platform's optional rollup binary.
console:
	cd web && npx --yes npm@10 ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) var .pytest_cache
