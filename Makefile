# Tonari — every target says what it does (make help).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The panel's browser test drives Debian's chromium (never a browser Playwright downloads).
browser: ## Install Debian's chromium for the browser test when missing (as root with apt-get)
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 \
	    && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's chromium for the panel's browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

install: $(STAMP) browser ## Create .venv and install Tonari with its dev tools (and chromium)

demo: $(STAMP) ## Start the demo: embedded PostgreSQL, demo brand, API and panel on http://127.0.0.1:8000
	$(BIN)/tonari demo

test: $(STAMP) browser ## Run the whole test suite on real PostgreSQL (embedded unless TONARI_TEST_DATABASE_URL)
	$(BIN)/pytest -n 2 --dist loadfile -q

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP) ## Run the benchmarks (ratios against baselines measured in the same run)
	$(BIN)/python -m bench

clean: ## Remove the virtualenv and caches (not your data in ~/.local/share/tonari)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

.PHONY: help browser install demo test lint bench clean
