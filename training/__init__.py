"""Offline training of the underwriting models."""
