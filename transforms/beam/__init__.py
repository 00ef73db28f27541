"""Beam stages: composite PTransforms and DoFns, one stage per module, each named for the
step it labels in a job's graph (read, validate, intake, split, movies, profile, inference,
sinks, progress counters)."""
