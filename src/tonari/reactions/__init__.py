"""What happened to a customer, queued for the modules that react to it (segments, journeys)."""
