"""messaging (issue 5)."""
