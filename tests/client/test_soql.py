"""format_soql / soql_literal: every value becomes exactly one well-formed SOQL literal."""

from __future__ import annotations

import doctest
import enum
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from sobjects.client import _soql
from sobjects.client._soql import (
    format_soql,
    quote_soql_like,
    quote_soql_string,
    soql_literal,
)
from sobjects.errors import ConfigurationError

# --- a tiny SOQL lexer, independent of the code under test -----------------------------------

# SOQL's documented escapes: \n \r \t \b \f (either case), \" \' \\ and \uXXXX;
# \% and \_ only inside LIKE patterns. Any other backslash is an error.
_ESCAPES = {
    "n": "\n",
    "N": "\n",
    "r": "\r",
    "R": "\r",
    "t": "\t",
    "T": "\t",
    "b": "\b",
    "B": "\b",
    "f": "\f",
    "F": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
_WORD = re.compile(r"[A-Za-z0-9_.:+\-]+")


def lex(soql: str) -> list[tuple[str, str]]:
    """Split SOQL into ("string", raw literal incl. quotes), ("word", text), ("punct", char)."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(soql):
        ch = soql[i]
        if ch.isspace():
            i += 1
        elif ch == "'":
            j = i + 1
            while True:
                if j >= len(soql):
                    raise AssertionError(f"unterminated string literal in {soql!r}")
                if soql[j] == "\\":
                    j += 2
                elif soql[j] == "'":
                    break
                else:
                    j += 1
            tokens.append(("string", soql[i : j + 1]))
            i = j + 1
        elif ch == '"':
            raise AssertionError(f"double-quoted string in {soql!r}")
        elif m := _WORD.match(soql, i):
            tokens.append(("word", m.group()))
            i = m.end()
        else:
            tokens.append(("punct", ch))
            i += 1
    return tokens


def _decode(raw: str, *, like: bool) -> list[tuple[str, bool]]:
    """A literal's characters as (char, is_wildcard) pairs; invalid escapes fail the test."""
    assert len(raw) >= 2, raw
    assert raw[0] == raw[-1] == "'", raw
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "'":
            raise AssertionError(f"unescaped quote inside {raw!r}")
        if ch != "\\":
            out.append((ch, like and ch in "%_"))
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append((_ESCAPES[nxt], False))
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2 : i + 6]):
            out.append((chr(int(body[i + 2 : i + 6], 16)), False))
            i += 6
        elif like and nxt in "%_":
            out.append((nxt, False))
            i += 2
        else:
            raise AssertionError(f"invalid escape \\{nxt} in {raw!r} (like={like})")
    return out


def unquote(raw: str) -> str:
    """The value of a plain (non-LIKE) string literal."""
    return "".join(ch for ch, _ in _decode(raw, like=False))


def like_regex(raw: str) -> re.Pattern[str]:
    """The LIKE pattern in ``raw`` as a regex: ``%`` any run, ``_`` one char."""
    parts = [
        (".*" if ch == "%" else ".") if wild else re.escape(ch)
        for ch, wild in _decode(raw, like=True)
    ]
    return re.compile("".join(parts), re.DOTALL)


NASTY = [
    "",
    "'",
    "''",
    "\\",
    "\\\\",
    "\\'",
    "\\\\'",
    "'\\",
    "x' OR Name != '",
    "' OR ''='",
    "x\\' OR Name != \\'",
    "'; DELETE FROM Account --",
    "O'Brien",
    '"double"',
    "\n",
    "\r\n",
    "line1\nline2\tTabbed\b\f",
    "%",
    "_",
    "50%_off",
    "\\%",
    "\\_",
    "\\n",
    "\\u0027",
    "{name}",
    "}{",
    "é",
    "日本語",
    "😀 emoji",
    "\x00nul",
    "\x07bell\x1bescape\x7f",
    "\u2028\u2029",
    "\ufeffbom",
    "a" * 1000 + "'",
]


# --- rendering rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "'plain'"),
        ("O'Brien", r"'O\'Brien'"),
        ("back\\slash", r"'back\\slash'"),
        ('say "hi"', r"'say \"hi\"'"),
        ("a\nb\rc\td\be\ff", r"'a\nb\rc\td\be\ff'"),
        ("50%_off", "'50%_off'"),  # wildcards are only escaped for LIKE specs
        ("é😀", "'é😀'"),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-42, "-42"),
        (10**30, "1" + "0" * 30),
        (1.5, "1.5"),
        (-0.25, "-0.25"),
        (1.0, "1.0"),
        (1e16, "10000000000000000"),
        (1e-7, "0.0000001"),
        (0.1, "0.1"),
        (Decimal("12.3400"), "12.3400"),
        (Decimal("-0.001"), "-0.001"),
        (Decimal("1E+3"), "1000"),
        (date(2024, 1, 2), "2024-01-02"),
        (date(5, 6, 7), "0005-06-07"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (time(10, 0), "10:00:00.000Z"),
        (time(23, 59, 58, 123456), "23:59:58.123Z"),
        (time(8, 30, tzinfo=UTC), "08:30:00.000Z"),
        (["a", "b"], "('a','b')"),
        (("x'y",), r"('x\'y')"),
        ([1, 2.5, None, True], "(1,2.5,null,true)"),
        ({"b", "a", "c"}, "('a','b','c')"),
        (frozenset({3, 1, 2}), "(1,2,3)"),
        ([date(2024, 1, 2), Decimal("1.0")], "(2024-01-02,1.0)"),
    ],
)
def test_soql_literal_renders_each_type(value: object, expected: str) -> None:
    assert soql_literal(value) == expected
    assert format_soql("{v}", v=value) == expected


def test_aware_datetime_is_converted_to_utc() -> None:
    plus_two = datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    minus_five = datetime(2023, 12, 31, 22, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert soql_literal(plus_two) == "2024-01-02T03:04:05Z"
    assert soql_literal(minus_five) == "2024-01-01T03:30:00Z"  # crosses midnight and year


def test_naive_datetime_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigurationError, match=r"naive datetime.*tz-aware") as exc_info:
        format_soql(
            "SELECT Id FROM Contact WHERE CreatedDate > {since}", since=datetime(2024, 1, 2)
        )
    assert "{since}" in str(exc_info.value)
    assert isinstance(exc_info.value, ValueError)


def test_time_with_non_utc_offset_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="UTC offset"):
        soql_literal(time(10, 0, tzinfo=timezone(timedelta(hours=1))))


def test_bool_is_not_rendered_as_int() -> None:
    assert format_soql("{}, {}", True, 1) == "true, 1"


def test_enum_members() -> None:
    class Stage(enum.StrEnum):
        WON = "Closed Won"

    class Size(enum.IntEnum):
        BIG = 3

    class Color(enum.Enum):
        RED = "red"

    assert soql_literal(Stage.WON) == "'Closed Won'"
    assert soql_literal(Size.BIG) == "3"
    with pytest.raises(ConfigurationError, match="Color"):
        soql_literal(Color.RED)


def test_int_subclass_cannot_smuggle_text() -> None:
    class Evil(int):
        def __str__(self) -> str:
            return "1 OR Name != null"

        __repr__ = __str__

    assert soql_literal(Evil(7)) == "7"


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -float("inf"), Decimal("NaN"), Decimal("-Infinity")]
)
def test_non_finite_numbers_are_refused(value: object) -> None:
    with pytest.raises(ConfigurationError, match="NaN or infinity"):
        format_soql("{x}", x=value)


@pytest.mark.parametrize("empty", [[], (), set(), frozenset()])
def test_empty_collection_is_refused(empty: object) -> None:
    with pytest.raises(ConfigurationError, match=r"IN \(\) is not valid SOQL") as exc_info:
        format_soql("SELECT Id FROM Account WHERE Id IN {ids}", ids=empty)
    assert "{ids}" in str(exc_info.value)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (b"bytes", "bytes"),
        (bytearray(b"x"), "bytearray"),
        ({"a": 1}, "dict"),
        (object(), "object"),
        (iter([1]), "list_iterator"),
        (1 + 2j, "complex"),
        (timedelta(days=1), "timedelta"),
    ],
)
def test_unsupported_types_name_placeholder_and_type(value: object, type_name: str) -> None:
    with pytest.raises(ConfigurationError) as exc_info:
        format_soql("SELECT Id FROM Account WHERE Name = {the_value}", the_value=value)
    message = str(exc_info.value)
    assert "{the_value}" in message
    assert type_name in message


def test_unsupported_item_inside_collection() -> None:
    with pytest.raises(ConfigurationError, match=r"\{ids\} item of type bytes"):
        format_soql("{ids}", ids=["ok", b"no"])
    with pytest.raises(ConfigurationError, match="nested list"):
        format_soql("{ids}", ids=[["a"]])


def test_quote_soql_string_rejects_non_str() -> None:
    with pytest.raises(ConfigurationError, match="soql_literal"):
        quote_soql_string(5)  # type: ignore[arg-type]


# --- injection resistance ----------------------------------------------------------------------


@pytest.mark.parametrize("value", NASTY)
def test_nasty_string_stays_one_literal_and_round_trips(value: str) -> None:
    soql = format_soql(
        "SELECT Id FROM Contact WHERE LastName = {name} AND IsDeleted = false", name=value
    )
    tokens = lex(soql)
    assert [kind for kind, _ in tokens] == [
        *["word"] * 6,
        "punct",  # =
        "string",
        "word",  # AND
        "word",  # IsDeleted
        "punct",  # =
        "word",  # false
    ]
    assert tokens[-4:] == [
        ("word", "AND"),
        ("word", "IsDeleted"),
        ("punct", "="),
        ("word", "false"),
    ]
    assert unquote(tokens[7][1]) == value
    assert quote_soql_string(value) == tokens[7][1]


def test_nasty_strings_in_an_in_list_stay_separate_literals() -> None:
    soql = format_soql("SELECT Id FROM Contact WHERE LastName IN {names} LIMIT 5", names=NASTY)
    tokens = lex(soql)
    assert tokens[-2:] == [("word", "LIMIT"), ("word", "5")]
    assert tokens[:7] == [
        ("word", w) for w in ["SELECT", "Id", "FROM", "Contact", "WHERE", "LastName", "IN"]
    ]
    in_list = tokens[7:-2]
    assert in_list[0] == ("punct", "(")
    assert in_list[-1] == ("punct", ")")
    literals = in_list[1:-1:2]
    assert all(tok == ("punct", ",") for tok in in_list[2:-1:2])
    assert [unquote(raw) for kind, raw in literals if kind == "string"] == NASTY
    assert len(literals) == len(NASTY)


def test_classic_injection_is_neutralised() -> None:
    soql = format_soql("SELECT Id FROM User WHERE Username = {u}", u="x' OR Name != '")
    assert soql == r"SELECT Id FROM User WHERE Username = 'x\' OR Name != \''"
    assert [kind for kind, _ in lex(soql)][-1] == "string"


def test_braces_in_values_are_not_reinterpreted() -> None:
    assert format_soql("{a} {b}", a="{b}", b="x") == "'{b}' 'x'"


# --- LIKE specs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("like", r"'50\%\_off'"),
        ("startswith", r"'50\%\_off%'"),
        ("endswith", r"'%50\%\_off'"),
        ("contains", r"'%50\%\_off%'"),
    ],
)
def test_like_specs_escape_wildcards(spec: str, expected: str) -> None:
    assert format_soql(f"Name LIKE {{p:{spec}}}", p="50%_off") == f"Name LIKE {expected}"
    assert quote_soql_like("50%_off", spec) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", NASTY)
def test_like_specs_match_the_value_literally(value: str) -> None:
    for spec, matches, misses in [
        ("like", [value], [value + "x", "x" + value]),
        ("startswith", [value, value + "tail"], ["x" + value]),
        ("endswith", [value, "head" + value], [value + "x"]),
        ("contains", [value, "head" + value + "tail"], []),
    ]:
        tokens = lex(format_soql(f"Name LIKE {{v:{spec}}} AND X = 1", v=value))
        assert tokens[2][0] == "string"
        assert tokens[3:] == [("word", "AND"), ("word", "X"), ("punct", "="), ("word", "1")]
        pattern = like_regex(tokens[2][1])
        for text in matches:
            assert pattern.fullmatch(text), (spec, value, text)
        for text in misses if value else []:  # '%' alone rightly matches anything
            assert not pattern.fullmatch(text), (spec, value, text)


def test_like_wildcards_in_value_do_not_act_as_wildcards() -> None:
    pattern = like_regex(format_soql("{v:startswith}", v="a_c%"))
    assert pattern.fullmatch("a_c% and more")
    assert not pattern.fullmatch("abcd")  # "_" and "%" of the value are literal
    assert not pattern.fullmatch("a_cX")


def test_like_spec_on_non_string_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"needs a str, got int"):
        format_soql("{v:like}", v=5)
    with pytest.raises(ConfigurationError, match=r"needs a str, got list"):
        format_soql("{v:contains}", v=["a"])
    with pytest.raises(ConfigurationError, match="needs a str"):
        quote_soql_like(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["s", ">10", "d", "LIKE", "like ", "prefix"])
def test_other_format_specs_are_refused(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="unsupported format spec"):
        format_soql(f"{{v:{spec}}}", v="x")


def test_unknown_like_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown LIKE mode"):
        quote_soql_like("x", "prefix")  # type: ignore[arg-type]


# --- template handling -------------------------------------------------------------------------


def test_named_positional_and_auto_numbered_placeholders() -> None:
    since = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    soql = format_soql(
        "SELECT Id FROM Contact WHERE LastName = {name} AND CreatedDate > {since}",
        name="O'Brien",
        since=since,
    )
    assert soql == (
        r"SELECT Id FROM Contact WHERE LastName = 'O\'Brien' "
        "AND CreatedDate > 2024-01-02T03:04:05Z"
    )
    assert format_soql("{} {}", "a", 1) == "'a' 1"
    assert format_soql("{1} {0} {1}", "a", "b") == "'b' 'a' 'b'"


def test_template_keyword_is_usable_as_placeholder() -> None:
    assert format_soql("Name = {template}", template="t") == "Name = 't'"


def test_attribute_and_item_access() -> None:
    class Contact:
        LastName = "D'Arcy"

    assert format_soql("{c.LastName} {ids[1]} {m[k]}", c=Contact(), ids=["a", "b"], m={"k": 3}) == (
        r"'D\'Arcy' 'b' 3"
    )


def test_literal_braces() -> None:
    assert format_soql("{{x}} {x}", x=1) == "{x} 1"


def test_missing_keyword_names_the_key() -> None:
    with pytest.raises(ConfigurationError, match=r"\{name\}.*name=") as exc_info:
        format_soql("WHERE LastName = {name}", nmae="x")
    assert not isinstance(exc_info.value, KeyError)


def test_missing_positional_names_the_index() -> None:
    with pytest.raises(ConfigurationError, match=r"\{1\}.*1 positional argument\b"):
        format_soql("{} {}", "only one")
    with pytest.raises(ConfigurationError, match=r"\{0\}"):
        format_soql("{0}")


@pytest.mark.parametrize(
    "template", ["{c.Missing}", "{ids[5]}", "{m[nokey]}", "{n[0]}"], ids=["attr", "idx", "key", "n"]
)
def test_unresolvable_field_paths(template: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot resolve placeholder"):
        format_soql(template, c=object(), ids=[], m={}, n=5)


@pytest.mark.parametrize("conversion", ["r", "s", "a"])
def test_conversions_are_refused(conversion: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"!{conversion} on placeholder \{{v\}}"):
        format_soql(f"{{v!{conversion}}}", v="x' OR '1'='1")


@pytest.mark.parametrize("template", ["{", "}", "{v", "{} {0}", "{0} {}"])
def test_malformed_templates_raise_configuration_error(template: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid SOQL template"):
        format_soql(template, "a", v=1)


def test_nested_format_spec_placeholder_cannot_inject_a_spec() -> None:
    # a nested "{spec}" is itself rendered as a literal ('like'), which is no valid spec
    with pytest.raises(ConfigurationError, match="unsupported format spec"):
        format_soql("{v:{spec}}", v="x", spec="like")


def test_non_str_template_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="template must be a str"):
        format_soql(b"SELECT Id FROM Account")  # type: ignore[arg-type]


def test_doctests() -> None:
    result = doctest.testmod(_soql, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
