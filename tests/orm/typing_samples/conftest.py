# The samples are only read by mypy and pyright (tests/orm/test_typing.py); errors.py is meant
# to be wrong, so pytest must not import them (--doctest-modules would).
collect_ignore_glob = ["*.py"]
