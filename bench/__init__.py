"""Tonari benchmarks: ``python -m bench`` (or ``make bench``).

Every result is printed next to a baseline measured in the same run on the same database, so
the ratio means something on any machine. Nothing here asserts on wall-clock time.
"""
