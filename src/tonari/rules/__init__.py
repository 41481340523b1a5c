"""Pure loyalty rules: plain data in, effects and an explanation out. No I/O in this package."""
