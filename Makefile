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

install: $(STAMP) ## Create .venv and install Tonari with its dev tools

demo: $(STAMP) ## Start the demo: embedded PostgreSQL, demo brand, API on http://127.0.0.1:8000
	$(BIN)/tonari demo

test: $(STAMP) ## Run the whole test suite on real PostgreSQL (embedded unless TONARI_TEST_DATABASE_URL)
	$(BIN)/pytest -n 2 --dist loadfile -q

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP) ## Run the benchmarks (ratios against baselines measured in the same run)
	$(BIN)/python -m bench

clean: ## Remove the virtualenv and caches (not your data in ~/.local/share/tonari)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

.PHONY: help install demo test lint bench clean
