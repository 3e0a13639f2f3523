"""Cuida: an open-source customer-care hub."""

__version__ = "0.1.0"
