# The two set-up commands of the README:
#   make run [INPUT=path/to/reviews.csv] [MOVIES=path/to/row_movie_rating.csv] [UNLABELED=...]
#                                         # creates .venv, installs, runs the whole product
#   make test                             # creates .venv, installs, runs the test suite
# Without INPUT, `imdb-sentiment run` downloads the official aclImdb archive.
PYTHON ?= python3.11
VENV ?= .venv
AIRFLOW_VENV ?= .venv-airflow
BIN := $(VENV)/bin
INPUT ?=
UNLABELED ?=
MOVIES ?=
RUN_ARGS ?=
OUTPUT ?= runs/latest

.PHONY: setup run test clean airflow-env

$(BIN)/imdb-sentiment: setup.py constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or pass PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

setup: $(BIN)/imdb-sentiment

# explore -> preprocess -> train -> score (eval split, and aclImdb/test when downloaded)
run: setup
	$(BIN)/imdb-sentiment run $(if $(INPUT),--input $(INPUT)) $(if $(MOVIES),--movies $(MOVIES)) \
		$(foreach u,$(UNLABELED),--unlabeled $(u)) --output $(OUTPUT) $(RUN_ARGS)
	@echo "Open $(OUTPUT)/index.html"

# Airflow's own environment for the DAG in pipeline/schedules/ (its tests skip without it).
$(AIRFLOW_VENV)/bin/airflow: pipeline/schedules/requirements-airflow.txt pipeline/schedules/constraints-airflow.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or pass PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/pip install --quiet -r pipeline/schedules/requirements-airflow.txt
	@touch $@

airflow-env: $(AIRFLOW_VENV)/bin/airflow

test: setup
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) *.egg-info .pytest_cache

# A real Flink cluster on 127.0.0.1 for the Beam jobs (pipeline/cluster/local/flink.py): a JobManager,
# two TaskManagers, a Python worker pool beside each, Beam's Flink job server. The first run
# downloads Flink (PyPI) and builds the job server (Maven Central) into ~/.cache/imdb-sentiment.
.PHONY: flink-up flink-down
flink-up: setup
	$(BIN)/python -m pipeline.cluster.local.flink up

flink-down:
	$(BIN)/python -m pipeline.cluster.local.flink down

# A real Spark standalone cluster on 127.0.0.1 (pipeline/cluster/local/spark.py): a master, one
# worker, a Python worker pool beside it, Beam's Spark job server (the driver). The first run
# downloads Spark (PyPI's pyspark) and builds the job server (Maven Central) into the same cache.
# SPARK_UP_FLAGS="--parallelism 40 --executor-memory 3g": its partitions and executor memory.
SPARK_UP_FLAGS ?=
.PHONY: spark-up spark-down
spark-up: setup
	$(BIN)/python -m pipeline.cluster.local.spark up $(SPARK_UP_FLAGS)

spark-down:
	$(BIN)/python -m pipeline.cluster.local.spark down
