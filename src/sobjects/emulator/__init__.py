"""A local Salesforce-compatible org: the emulator.

>>> from sobjects.emulator import LocalOrg
>>> org = LocalOrg()
>>> sorted(s.name for s in org.schema)[:3]
['Account', 'Case', 'Contact']

Needs the ``emulator`` extra: ``pip install 'sobjects[emulator]'``.
"""

from sobjects.emulator._errors import ApiError
from sobjects.emulator._faults import Faults
from sobjects.emulator._org import LocalOrg
from sobjects.emulator._schema import Schema
from sobjects.emulator._store import JournalInUse, StoreClosed, UnusableJournal

__all__ = [
    "ApiError",
    "Faults",
    "JournalInUse",
    "LocalOrg",
    "Schema",
    "StoreClosed",
    "UnusableJournal",
]
