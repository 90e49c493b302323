"""Examples of sobjects in applications; each has a README and tests in tests/examples/."""
