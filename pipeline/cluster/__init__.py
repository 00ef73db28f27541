"""What a Flink cluster runs beside its TaskManagers for the Beam jobs: the Python worker pool
(EXTERNAL environment) and the SDK harness it starts. ``local/`` is the tooling of
``make flink-up``: a real cluster on 127.0.0.1 for development and the cluster tests."""
