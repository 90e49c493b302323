"""``sobjects generate``: typed ``SObject`` model modules from describe metadata.

``generate(describes)`` returns the source files of a model package (one module per sObject
and an ``__init__`` that resolves the references between them); ``describe_changes(old, new)``
lists what changed between two sets of describes, and ``source_changes(out_dir, files)`` how
the modules on disk differ from freshly generated ones. The command line is
``sobjects generate`` (see ``sobjects generate --help``).
"""

from sobjects.codegen._drift import describe_changes, source_changes
from sobjects.codegen._generate import HEADER, TYPES, generate

__all__ = ["HEADER", "TYPES", "describe_changes", "generate", "source_changes"]
