"""Small pieces of Python source, written the way ``ruff format`` leaves them.

Generated code must pass ``ruff format --check`` without running ruff (it is not a dependency
of sobjects). Lines are kept within 88 characters (ruff's default); anything longer is split
one item per line with a trailing comma, which ruff keeps split at any longer line length too,
so the output is stable for projects formatted at 88 or 100 columns alike.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

__all__ = ["LINE_LENGTH", "bracketed", "import_key", "natord_compare", "natural_key", "py_string"]

LINE_LENGTH = 88

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def py_string(value: str) -> str:
    """A string literal: double quotes, unless single quotes need fewer escapes (as ruff does).

    >>> print(py_string("Mr."), py_string('Say "hi"'), py_string("it's"))
    "Mr." 'Say "hi"' "it's"
    """
    quote = "'" if value.count('"') > value.count("'") else '"'
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char == quote:
            out.append("\\" + char)
        elif not char.isprintable():
            code = ord(char)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
        else:
            out.append(char)
    return quote + "".join(out) + quote


def bracketed(head: str, items: Sequence[str], tail: str, indent: str = "") -> list[str]:
    """``head + ", ".join(items) + tail`` on one line if it fits, else one item a line.

    ``head`` ends with the opening bracket and ``tail`` starts with the closing one.

    >>> bracketed("X = Literal[", ['"a"', '"b"'], "]")
    ['X = Literal["a", "b"]']
    >>> for line in bracketed("X = Literal[", [f'"{n:040}"' for n in (1, 2)], "]"):
    ...     print(line)
    X = Literal[
        "0000000000000000000000000000000000000001",
        "0000000000000000000000000000000000000002",
    ]
    """
    line = f"{indent}{head}{', '.join(items)}{tail}"
    if len(line) <= LINE_LENGTH:
        return [line]
    return [
        f"{indent}{head}",
        *(f"{indent}    {item}," for item in items),
        f"{indent}{tail}",
    ]


def natord_compare(left: str, right: str) -> int:
    """Compare two strings as the ``natord`` crate does (ruff's isort and RUF022 use it):
    runs of digits by value (``a2`` < ``a10``), left-aligned when either starts with ``0``
    (``a015`` < ``a12``), whitespace skipped, anything else by code point. -1, 0 or 1.

    >>> natord_compare("Model2", "Model10"), natord_compare("a015", "a12"), natord_compare("a", "a")
    (-1, -1, 0)
    """
    i = j = 0
    n, m = len(left), len(right)
    while True:
        while i < n and left[i].isspace():
            i += 1
        while j < m and right[j].isspace():
            j += 1
        if i >= n or j >= m:
            return (i < n) - (j < m)
        a, b = left[i], right[j]
        if _digit(a) and _digit(b):
            if a == "0" or b == "0":
                # Left-aligned: digit by digit; the longer run wins when one is a prefix.
                while True:
                    if a != b:
                        return -1 if a < b else 1
                    i += 1
                    j += 1
                    a = left[i] if i < n else ""
                    b = right[j] if j < m else ""
                    if not _digit(a) or not _digit(b):
                        if _digit(a) or _digit(b):
                            return 1 if _digit(a) else -1
                        break
            else:
                # Right-aligned: the longer run wins, else the first differing digit.
                last = 0
                while True:
                    if not last and a != b:
                        last = -1 if a < b else 1
                    i += 1
                    j += 1
                    a = left[i] if i < n else ""
                    b = right[j] if j < m else ""
                    if not _digit(a) or not _digit(b):
                        if _digit(a) or _digit(b):
                            return 1 if _digit(a) else -1
                        break
                if last:
                    return last
            continue  # the characters after the digits are compared next
        if a != b:
            return -1 if a < b else 1
        i += 1
        j += 1


def _digit(char: str) -> bool:
    return "0" <= char <= "9"


_natord = functools.cmp_to_key(natord_compare)


def import_key(module: str) -> tuple[Any, Any]:
    """The order ruff's isort gives ``from .module import ...`` lines of one section (default
    settings): case-insensitive natural order of the module, then case-sensitive.

    >>> sorted(["model10", "model2", "hub"], key=import_key)
    ['hub', 'model2', 'model10']
    """
    return _natord(module.lower()), _natord(module)


def natural_key(name: str) -> tuple[int, Any]:
    """The order of ruff's ``__all__`` sort (RUF022): CONSTANTS (more than one character, all
    cased characters upper case), then Classes, then the rest, each in natural order
    (``Model2`` before ``Model10``).

    >>> sorted(["Model10", "Model2", "ABC", "A", "x"], key=natural_key)
    ['ABC', 'A', 'Model2', 'Model10', 'x']
    """
    if len(name) > 1 and name.isupper():
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    return group, _natord(name)
