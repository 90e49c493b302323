r"""Render Python values as SOQL literals and build SOQL text safely.

Why escaping lives here: the REST query endpoint (``GET .../query?q=...``) takes the whole
SOQL statement as one string. There are no bind variables over the API (Apex's ``:name``
binding does not exist there), so every value has to be written *into* the text as a literal.
Gluing user input into that text with f-strings is SOQL injection: ``x' OR Name != '``
turns one comparison into a filter that matches everything. This module is the one place
that knows SOQL's lexical rules, so the ORM's query builder and hand-written queries share
the same, tested rendering:

* strings are single-quoted; ``\`` and ``'`` must be backslash-escaped, and so are the
  control characters SOQL has escapes for (``\n \r \t \b \f``) and ``"``;
* inside ``LIKE`` patterns ``%`` and ``_`` are wildcards and ``\%`` / ``\_`` match them
  literally (those two escapes are an error anywhere else, so they are only emitted on request);
* ``null``, ``true``, ``false``, numbers, dates (``2024-01-02``), datetimes
  (``2024-01-02T03:04:05Z``) and times (``10:00:00.000Z``) are written unquoted;
* ``IN``/``NOT IN``/``INCLUDES`` take a parenthesised, comma-separated list.

Anything that has no faithful SOQL spelling (naive datetimes, NaN, bytes, dicts, empty ``IN``
lists, ...) raises :class:`~sobjects.errors.ConfigurationError` before a request is made,
instead of producing text Salesforce would reject or, worse, misread.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final, Literal

from sobjects.errors import ConfigurationError

__all__ = ["LikeMode", "format_soql", "quote_soql_like", "quote_soql_string", "soql_literal"]

LikeMode = Literal["like", "startswith", "endswith", "contains"]
"""How :func:`quote_soql_like` (and the matching ``format_soql`` specs) wrap a LIKE pattern."""

_STRING_ESCAPES: Final[dict[str, str]] = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",  # backspace (the English docs say "bell"; other locales and Java say backspace)
    "\f": "\\f",
}
_STRING_TABLE: Final = str.maketrans(_STRING_ESCAPES)
_LIKE_TABLE: Final = str.maketrans({**_STRING_ESCAPES, "%": "\\%", "_": "\\_"})

# mode -> (prefix, suffix) wildcards added around the escaped value
_LIKE_MODES: Final[dict[str, tuple[str, str]]] = {
    "like": ("", ""),
    "startswith": ("", "%"),
    "endswith": ("%", ""),
    "contains": ("%", "%"),
}

_COLLECTIONS: Final = (list, tuple, set, frozenset)
_SUPPORTED: Final = (
    "str, bool, int, float, Decimal, date, datetime (tz-aware), time, None, "
    "or a list/tuple/set/frozenset of those"
)


def quote_soql_string(value: str) -> str:
    r"""``value`` as a single-quoted SOQL string literal, with quotes, backslashes and control
    characters escaped.

    >>> print(quote_soql_string("O'Brien"))
    'O\'Brien'
    >>> print(quote_soql_string("C:\\temp\nnext line"))
    'C:\\temp\nnext line'
    """
    if not isinstance(value, str):
        raise ConfigurationError(
            f"quote_soql_string() needs a str, got {type(value).__name__}; "
            "use soql_literal() for other types"
        )
    return "'" + str.translate(value, _STRING_TABLE) + "'"


def quote_soql_like(value: str, mode: LikeMode = "like") -> str:
    r"""``value`` as a quoted LIKE pattern that matches it literally.

    ``%`` and ``_`` in ``value`` are escaped (``\%``, ``\_``) so user input can't act as a
    wildcard; ``mode`` then adds the wildcards you meant: ``"like"`` (none, exact match),
    ``"startswith"`` (``value%``), ``"endswith"`` (``%value``), ``"contains"`` (``%value%``).

    >>> print(quote_soql_like("50%_off", "startswith"))
    '50\%\_off%'
    >>> print(quote_soql_like("O'Brien", "contains"))
    '%O\'Brien%'
    """
    if not isinstance(value, str):
        raise ConfigurationError(
            f"quote_soql_like() needs a str, got {type(value).__name__}: "
            "LIKE only applies to text fields"
        )
    if mode not in _LIKE_MODES:
        raise ConfigurationError(f"unknown LIKE mode {mode!r}; use one of {', '.join(_LIKE_MODES)}")
    return _quote_like(value, mode)


def _quote_like(value: str, mode: str) -> str:
    prefix, suffix = _LIKE_MODES[mode]
    return "'" + prefix + str.translate(value, _LIKE_TABLE) + suffix + "'"


def soql_literal(value: object) -> str:
    r"""``value`` rendered as a SOQL literal.

    Strings are quoted and escaped; ``None``, booleans, numbers, dates, datetimes and times
    are written unquoted, datetimes converted to UTC; collections become ``(a,b,...)`` for
    ``IN``. Values with no faithful SOQL spelling raise
    :class:`~sobjects.errors.ConfigurationError`: naive datetimes, NaN/infinity, empty
    collections, bytes, dicts and any other type.

    >>> from datetime import date, datetime, timedelta, timezone
    >>> print(soql_literal("it's"))
    'it\'s'
    >>> print(soql_literal(None), soql_literal(True), soql_literal(42), soql_literal(1.5))
    null true 42 1.5
    >>> print(soql_literal(date(2024, 1, 2)))
    2024-01-02
    >>> print(soql_literal(datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))))
    2024-01-02T03:04:05Z
    >>> print(soql_literal(["a", "b"]))
    ('a','b')
    """
    return _render(value, "", None)


class _Field:
    """A looked-up placeholder value, carrying its name for error messages."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: object) -> None:
        self.name = name
        self.value = value


class _SoqlFormatter(string.Formatter):
    """``str.format`` syntax whose every replacement field is rendered by :func:`soql_literal`.

    Stateless, so one module-level instance is shared (also across threads).
    """

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, int):
            if key >= len(args):
                raise ConfigurationError(
                    f"no value for placeholder {{{key}}}: format_soql() got "
                    f"{len(args)} positional argument{'' if len(args) == 1 else 's'}"
                )
            return args[key]
        if key not in kwargs:
            raise ConfigurationError(
                f"no value for placeholder {{{key}}}: pass {key}=... to format_soql()"
            )
        return kwargs[key]

    def get_field(
        self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> tuple[_Field, int | str]:
        try:
            value, first = super().get_field(field_name, args, kwargs)
        except ConfigurationError:
            raise
        except (LookupError, AttributeError, TypeError) as exc:
            # ``{contact.Name}`` / ``{ids[0]}`` whose attribute or item doesn't exist
            raise ConfigurationError(
                f"cannot resolve placeholder {{{field_name}}}: {type(exc).__name__}: {exc}"
            ) from exc
        return _Field(field_name, value), first

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:
            name = value.name if isinstance(value, _Field) else "?"
            raise ConfigurationError(
                f"conversion !{conversion} on placeholder {{{name}}} is not allowed: "
                "format_soql() always renders values as SOQL literals"
            )
        return value

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, _Field):
            return _render(value.value, format_spec, value.name)
        return _render(value, format_spec, None)  # pragma: no cover - get_field always wraps


_FORMATTER: Final = _SoqlFormatter()


def format_soql(template: str, /, *args: object, **values: object) -> str:
    r"""Fill a SOQL ``template`` with values rendered as SOQL literals, never as raw text.

    Placeholders use ``str.format`` syntax: ``{name}``, ``{}``, ``{0}``, and attribute or
    item access such as ``{contact.LastName}`` or ``{ids[0]}``. Each value is rendered by
    :func:`soql_literal`, so strings arrive quoted and escaped: write ``= {name}``, not
    ``= '{name}'``. Write ``{{`` / ``}}`` for literal braces.

    For LIKE, the format specs ``like``, ``startswith``, ``endswith`` and ``contains`` escape
    ``%`` and ``_`` in the value and add the matching wildcards (see :func:`quote_soql_like`).
    Any other format spec, and any ``!r``/``!s``/``!a`` conversion, raises
    :class:`~sobjects.errors.ConfigurationError`, as do a missing placeholder value and a
    value that has no SOQL spelling.

    >>> print(format_soql("SELECT Id FROM Contact WHERE LastName = {name}", name="O'Brien"))
    SELECT Id FROM Contact WHERE LastName = 'O\'Brien'
    >>> print(format_soql("SELECT Id FROM Account WHERE Id IN {} LIMIT {}", ["001A", "001B"], 5))
    SELECT Id FROM Account WHERE Id IN ('001A','001B') LIMIT 5
    >>> print(format_soql("SELECT Id FROM Account WHERE Name LIKE {p:startswith}", p="100%"))
    SELECT Id FROM Account WHERE Name LIKE '100\%%'
    """
    if not isinstance(template, str):
        raise ConfigurationError(f"a SOQL template must be a str, got {type(template).__name__}")
    try:
        return _FORMATTER.vformat(template, args, values)
    except ConfigurationError:
        raise
    except ValueError as exc:
        # unbalanced braces, mixing "{}" with "{0}", ...: the template itself is malformed
        raise ConfigurationError(f"invalid SOQL template: {exc}") from exc


def _where(placeholder: str | None) -> str:
    return "value" if placeholder is None else f"placeholder {{{placeholder}}}"


def _render(value: object, spec: str, placeholder: str | None) -> str:
    if spec:
        if spec not in _LIKE_MODES:
            raise ConfigurationError(
                f"unsupported format spec {spec!r} on {_where(placeholder)}; "
                f"the only specs are {', '.join(_LIKE_MODES)} (for LIKE patterns)"
            )
        if not isinstance(value, str):
            raise ConfigurationError(
                f"format spec {spec!r} on {_where(placeholder)} needs a str, got "
                f"{type(value).__name__}: LIKE only applies to text fields"
            )
        return _quote_like(value, spec)
    if isinstance(value, _COLLECTIONS):
        if not value:
            raise ConfigurationError(
                f"{_where(placeholder)} is an empty {type(value).__name__}: "
                "IN () is not valid SOQL, so handle the no-values case before querying"
            )
        items = [_render_scalar(item, placeholder, in_collection=True) for item in value]
        if isinstance(value, set | frozenset):
            items.sort()  # by rendered text: deterministic for any mix of item types
        return "(" + ",".join(items) + ")"
    return _render_scalar(value, placeholder, in_collection=False)


def _render_scalar(value: object, placeholder: str | None, *, in_collection: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):  # before anything else: StrEnum members are str
        return quote_soql_string(value)
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)  # decimal digits, whatever a subclass's __str__ says
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigurationError(
                f"{_where(placeholder)} is {value!r}; SOQL has no NaN or infinity literal"
            )
        # shortest round-tripping digits, positional notation (no exponent: "1e+16")
        return format(Decimal(float.__repr__(value)), "f")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ConfigurationError(
                f"{_where(placeholder)} is Decimal({str(value)!r}); "
                "SOQL has no NaN or infinity literal"
            )
        return format(value, "f")
    if isinstance(value, datetime):  # before date: datetime is a date subclass
        return _render_datetime(value, placeholder)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return _render_time(value, placeholder)
    if isinstance(value, _COLLECTIONS):
        raise ConfigurationError(
            f"{_where(placeholder)} holds a nested {type(value).__name__}; IN lists must be flat"
        )
    hint = ""
    if isinstance(value, bytes | bytearray | memoryview):
        hint = "; decode bytes to str first"
    elif isinstance(value, Mapping):
        hint = "; pass the field values themselves, not a mapping"
    item = " item" if in_collection else ""
    raise ConfigurationError(
        f"cannot render {_where(placeholder)}{item} of type {type(value).__name__} "
        f"as a SOQL literal (supported: {_SUPPORTED}){hint}"
    )


def _render_datetime(value: datetime, placeholder: str | None) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(
            f"{_where(placeholder)} is a naive datetime ({value.isoformat()}); SOQL compares "
            "instants, so pass a tz-aware datetime (e.g. datetime.now(timezone.utc))"
        )
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ConfigurationError(
            f"{_where(placeholder)} ({value.isoformat()}) is out of range in UTC"
        ) from exc
    # Salesforce stores datetimes to the second, so sub-second digits are dropped. The year is
    # padded by hand: strftime("%Y") does not zero-pad years below 1000 on every platform.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


def _render_time(value: time, placeholder: str | None) -> str:
    offset = value.utcoffset()
    if offset is not None and offset != timedelta(0):
        raise ConfigurationError(
            f"{_where(placeholder)} is a time with UTC offset {offset}; Salesforce time "
            "fields have no time zone, so pass a naive (or UTC) time"
        )
    return f"{value:%H:%M:%S}.{value.microsecond // 1000:03d}Z"
