# The two set-up commands of the README:
#   make run INPUT=path/to/reviews.csv   # creates .venv, installs, runs the main job
#   make test                            # creates .venv, installs, runs the test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
INPUT ?= ../shared/data/imdb/train.csv
OUTPUT ?= runs/latest

.PHONY: setup run test clean

$(BIN)/imdb-sentiment: setup.py constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or pass PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

setup: $(BIN)/imdb-sentiment

# preprocess -> train -> score the held-out eval split (its reviews keep their ids)
run: setup
	$(BIN)/imdb-sentiment preprocess --input $(INPUT) --output $(OUTPUT)/preprocess
	$(BIN)/imdb-sentiment train --data $(OUTPUT)/preprocess --output $(OUTPUT)/model $(TRAIN_ARGS)
	$(BIN)/imdb-sentiment score --input '$(OUTPUT)/preprocess/eval_reviews/eval-*.csv' \
	    --model $(OUTPUT)/model --output $(OUTPUT)/score
	@echo "Report: $(OUTPUT)/score/report.html"

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
