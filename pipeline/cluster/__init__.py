"""What a Flink or Spark cluster runs beside its TaskManagers or workers for the Beam jobs: the
Python worker pool (EXTERNAL environment) and the SDK harness it starts. ``local/`` is the
tooling of ``make flink-up`` and ``make spark-up``: real clusters on 127.0.0.1 for development
and the cluster tests."""
