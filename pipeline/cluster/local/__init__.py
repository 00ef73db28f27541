"""A real cluster on 127.0.0.1 for development and the cluster tests (``make flink-up``):
installing it into the cache, its configuration, starting and stopping its processes by
pid, and building Beam's job server."""
