"""Real-time behavioural events: ingest, identity stitching, partitions and the timeline."""
