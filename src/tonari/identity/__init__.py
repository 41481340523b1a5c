"""Identity resolution: one profile per person from many source records."""
