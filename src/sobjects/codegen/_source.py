"""Small pieces of Python source, written the way ``ruff format`` leaves them.

Generated code must pass ``ruff format --check`` without running ruff (it is not a dependency
of sobjects). Lines are kept within 88 characters (ruff's default); anything longer is split
one item per line with a trailing comma, which ruff keeps split at any longer line length too,
so the output is stable for projects formatted at 88 or 100 columns alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["LINE_LENGTH", "bracketed", "natural_key", "py_string"]

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
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
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


def natural_key(name: str) -> tuple[int, list[tuple[int, int, str]]]:
    """The order of ruff's ``__all__`` sort (RUF022): CONSTANTS, then Classes, then the rest,
    each in natural order (``Model2`` before ``Model10``)."""
    if name.isupper() or re.fullmatch(r"[A-Z0-9_]+", name):
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    parts = [
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", name)
        if part
    ]
    return group, parts
