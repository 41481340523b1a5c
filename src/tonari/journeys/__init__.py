"""Journeys (triggers): durable per-customer flows entered by events, segments or dates."""
