"""segments (issue 5)."""
