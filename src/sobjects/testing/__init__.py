"""Helpers for testing code that uses sobjects: a local org per test (see ``plugin``)."""
