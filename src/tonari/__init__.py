"""Tonari: customer loyalty and customer data platform."""

__version__ = "0.1.0"
