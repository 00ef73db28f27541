"""Process-level concerns of the launcher: publishing an output (staging, the guard, the
lock), reconciling counts, and the console (logging, the stderr filter, the heartbeat,
signals)."""
