"""The top layer: what runs in the launching process.

``cli`` (the ``imdb-sentiment`` command), ``flags`` (every command's flags, parsed once),
``launcher`` (the skeleton every job shares); ``jobs/`` one module per command;
``runtime/`` publishing (staging, guard, lock), reconciliation and the console (logging,
stderr, heartbeat, signals); ``cluster/`` what a Flink or Spark cluster runs beside its
workers, with ``cluster/local/`` the tooling of ``make flink-up`` and ``make spark-up``; ``schedules/`` cron and
Airflow recipes.
"""
