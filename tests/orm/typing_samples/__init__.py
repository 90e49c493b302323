"""User code for the type checker tests (tests/orm/test_typing.py); never run."""
