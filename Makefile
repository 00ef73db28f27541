# The two set-up commands of the README:
#   make run [INPUT=path/to/reviews.csv]  # creates .venv, installs, runs the whole product
#   make test                             # creates .venv, installs, runs the test suite
# Without INPUT, `imdb-sentiment run` downloads the official aclImdb archive.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
INPUT ?=
RUN_ARGS ?=
OUTPUT ?= runs/latest

.PHONY: setup run test clean

$(BIN)/imdb-sentiment: setup.py constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or pass PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

setup: $(BIN)/imdb-sentiment

# explore -> preprocess -> train -> score (eval split, and aclImdb/test when downloaded)
run: setup
	$(BIN)/imdb-sentiment run $(if $(INPUT),--input $(INPUT)) --output $(OUTPUT) $(RUN_ARGS)
	@echo "Open $(OUTPUT)/index.html"

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
