"""One module per command: its graph builder (Beam jobs) or its work, and what it writes."""
