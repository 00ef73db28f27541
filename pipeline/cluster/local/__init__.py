"""Real clusters on 127.0.0.1 for development and the cluster tests (``make flink-up``,
``make spark-up``): installing them into the cache, their configuration, starting and stopping
their processes by pid (``lifecycle``, shared), and building Beam's job servers."""
