"""Figures for the merchant's dashboard: per-day sales, sign-ups and points, and totals."""
