# Every target sets up the same virtual environment first; nothing is assumed installed
# beyond Python itself.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv run test lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,lint,bench]'
	touch $(STAMP)

run: venv
	$(BIN)/python -m examples.demo

test: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: venv
	$(BIN)/ruff check tornadish tests examples bench
	$(BIN)/ruff format --check tornadish
	$(BIN)/mypy tornadish

# Throughput (hello, JSON) first, then static files and uploads, WebSockets, the client.
bench: venv
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.web_bench
	$(BIN)/python -m bench.ws_bench
	$(BIN)/python -m bench.client_bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
