"""SOSL for the local org: ``FIND {term} [IN ... FIELDS] [RETURNING ...] [LIMIT n]``.

``run_search(sosl, store, api_version=...)`` returns the REST search resource's
``searchRecords`` list. Only the FIND/IN/RETURNING/LIMIT frame is parsed here; each
RETURNING object's field list, ``WHERE``, ``ORDER BY``, ``LIMIT`` and ``OFFSET`` become one
SOQL statement run by the SOQL engine, restricted to the records the search term matched
(``Id IN (...)``), so there is a single WHERE evaluator in the org.

Matching is token based, like Salesforce's search index: a field's text is split into words
and a search word matches a whole word, case-insensitively; ``*`` (any characters) and ``?``
(one character) are wildcards; a quoted phrase matches consecutive words; words are joined by
``AND`` (the default), ``OR``, ``AND NOT`` and parentheses. There is no stemming, synonyms,
relevance ranking or search-index delay.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sobjects.emulator._errors import ApiError
from sobjects.emulator._schema import SObjectDef
from sobjects.emulator.soql import RecordSource, run_query
from sobjects.emulator.soql._like import LikePattern

__all__ = ["MAX_SEARCH_RECORDS", "Returning", "Search", "run_parsed", "run_search"]

MAX_SEARCH_RECORDS = 2000  # Salesforce's cap on a SOSL statement's rows

# Field types each search group looks in ("ALL" also covers the other groups).
_TEXT_TYPES = {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist",
               "combobox"}  # fmt: skip
_GROUP_TYPES = {"EMAIL": {"email"}, "PHONE": {"phone"}, "ALL": _TEXT_TYPES}
_SOQL_CLAUSE = re.compile(r"\b(WHERE|ORDER\s+BY|LIMIT|OFFSET)\b", re.IGNORECASE)
_FRAME_TOKEN = re.compile(r"'(?:\\.|[^'\\])*'|\(|\)|,|[^\s(),']+|\S", re.DOTALL)
_WORD = re.compile(r"\w+")
_TERM_WORD = re.compile(r"[\w*?]+")


def malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_SEARCH", message)


# -- the search term ---------------------------------------------------------------------------

Matcher = Callable[[list[list[str]]], bool]  # the words of each searched field -> matched?


def _word_pattern(word: str) -> LikePattern:
    # SOQL's LIKE matcher (no backtracking, so ``a*a*a*...b`` cannot stall the org): ``*`` is
    # ``%`` and ``?`` is ``_``; a token holds only word characters, so ``%`` stays in the word.
    return LikePattern([[None if c == "?" else c for c in part] for part in word.split("*")])


def _phrase(text: str) -> Matcher:
    """Words that must appear consecutively in one field (a plain word is a 1-word phrase)."""
    words = _TERM_WORD.findall(text)
    if not words or sum(len(w.strip("*?")) for w in words) < 2:
        raise malformed(f"search term must be longer than one character: {text}")
    patterns = [_word_pattern(w) for w in words]
    n = len(patterns)

    def match(fields: list[list[str]]) -> bool:
        for tokens in fields:
            for start in range(len(tokens) - n + 1):
                if all(p.matches(tokens[start + i]) for i, p in enumerate(patterns)):
                    return True
        return False

    return match


def _term_tokens(term: str) -> Iterator[tuple[str, str]]:
    """(kind, text): kind is ``(``, ``)``, ``op`` or ``text``; backslash escapes a character."""
    i, word = 0, ""
    while i < len(term):
        c = term[i]
        if c == "\\" and i + 1 < len(term):
            # Escaped: literal text, never an operator; an escaped wildcard is punctuation,
            # which the word index drops, so it only separates words.
            word += " " if term[i + 1] in "*?" else term[i + 1]
            i += 2
            continue
        if c == '"':
            end = term.find('"', i + 1)
            if end < 0:
                raise malformed(f"unterminated quoted phrase in search term: {term}")
            if word:
                yield "text", word
                word = ""
            yield "text", term[i + 1 : end]
            i = end + 1
            continue
        if c.isspace() or c in "()":
            if word:
                yield (
                    ("op", word.upper())
                    if word.upper() in ("AND", "OR", "NOT")
                    else (
                        "text",
                        word,
                    )
                )
                word = ""
            if c in "()":
                yield c, c
            i += 1
            continue
        word += c
        i += 1
    if word:
        yield ("op", word.upper()) if word.upper() in ("AND", "OR", "NOT") else ("text", word)


def parse_term(term: str) -> Matcher:
    tokens = list(_term_tokens(term))
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise malformed(f"incomplete search term: {term}")
        pos += 1
        return tokens[pos - 1]

    def either() -> Matcher:
        parts = [both()]
        while peek() == ("op", "OR"):
            take()
            parts.append(both())
        return parts[0] if len(parts) == 1 else lambda f: any(p(f) for p in parts)

    def both() -> Matcher:
        parts, negated = [one()], [False]
        while (nxt := peek()) is not None and nxt[0] != ")" and nxt != ("op", "OR"):
            negate = False
            if nxt == ("op", "AND"):
                take()
                if peek() == ("op", "NOT"):
                    take()
                    negate = True
            parts.append(one())
            negated.append(negate)
        if len(parts) == 1:
            return parts[0]
        return lambda f: all(p(f) != neg for p, neg in zip(parts, negated, strict=True))

    def one() -> Matcher:
        kind, text = take()
        if kind == "(":
            inner = either()
            if take()[0] != ")":
                raise malformed(f"unbalanced parentheses in search term: {term}")
            return inner
        if kind != "text":
            raise malformed(f"unexpected '{text}' in search term: {term}")
        return _phrase(text)

    if not tokens:
        raise malformed("search term must be longer than one character: ")
    matcher = either()
    if pos != len(tokens):
        raise malformed(f"unexpected '{tokens[pos][1]}' in search term: {term}")
    return matcher


# -- the statement -----------------------------------------------------------------------------


@dataclass
class Returning:
    sobject: str
    fields: str = "Id"  # what SOSL returns when no field list is given
    where: str | None = None
    rest: str = ""  # ORDER BY / LIMIT / OFFSET, as SOQL text
    limit: int | None = None  # parameterized search's per-object limit, until put in ``rest``


@dataclass
class Search:
    term: str
    group: str = "ALL"
    returning: list[Returning] = field(default_factory=list)
    limit: int = MAX_SEARCH_RECORDS


def _read_braces(text: str) -> tuple[str, str]:
    """The term inside ``{...}`` (escapes kept for the term parser) and what follows."""
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "}":
            return text[1:i], text[i + 1 :]
        i += 1
    raise malformed("Missing '}' at end of search term")


def parse_search(sosl: str) -> Search:
    match = re.match(r"\s*FIND\s*", sosl, re.IGNORECASE)
    if not match:
        raise malformed("SOSL statements must begin with FIND")
    rest = sosl[match.end() :]
    if not rest.startswith("{"):
        raise malformed("No search term found. The search term must be enclosed in braces.")
    term, rest = _read_braces(rest)
    search = Search(term)
    tokens = _FRAME_TOKEN.findall(rest)
    i = 0

    def word(n: int) -> str:
        return tokens[n].upper() if n < len(tokens) else ""

    if word(i) == "IN":
        group = word(i + 1)
        if group not in ("ALL", "NAME", "EMAIL", "PHONE", "SIDEBAR") or word(i + 2) != "FIELDS":
            raise malformed(f"unexpected search group: IN {' '.join(tokens[i + 1 : i + 3])}")
        search.group = "ALL" if group == "SIDEBAR" else group
        i += 3
    if word(i) == "RETURNING":
        i += 1
        while True:
            if i >= len(tokens) or not re.fullmatch(r"\w+", tokens[i]):
                raise malformed("RETURNING needs an object name")
            spec = Returning(tokens[i])
            i += 1
            if word(i) == "(":
                depth, start = 0, i + 1
                while i < len(tokens):
                    depth += {"(": 1, ")": -1}.get(tokens[i], 0)
                    if depth == 0:
                        break
                    i += 1
                if i >= len(tokens):
                    raise malformed(f"unbalanced parentheses after RETURNING {spec.sobject}")
                _split_clauses(spec, " ".join(tokens[start:i]))
                i += 1
            search.returning.append(spec)
            if word(i) != ",":
                break
            i += 1
    if word(i) == "LIMIT":
        if i + 1 >= len(tokens) or not tokens[i + 1].isdigit():
            raise malformed("LIMIT needs a number")
        search.limit = min(int(tokens[i + 1]), MAX_SEARCH_RECORDS)
        i += 2
    if i < len(tokens):
        raise malformed(f"unexpected token: '{tokens[i]}'")
    return search


def _split_clauses(spec: Returning, inside: str) -> None:
    # Only keywords outside quoted literals count; the literals are blanked before matching.
    blanked = re.sub(r"'(?:\\.|[^'\\])*'", lambda m: "_" * len(m.group()), inside)
    found = list(_SOQL_CLAUSE.finditer(blanked))
    head = inside[: found[0].start()] if found else inside
    if not head.strip():
        raise malformed(f"RETURNING {spec.sobject}(...) needs a field list")
    spec.fields = head.strip()
    if not found:
        return
    tail_start = found[0].start()
    if found[0].group(1).upper() == "WHERE":
        end = found[1].start() if len(found) > 1 else len(inside)
        spec.where = inside[found[0].end() : end].strip()
        if not spec.where:
            raise malformed(f"RETURNING {spec.sobject}(...) has an empty WHERE clause")
        tail_start = end
    spec.rest = inside[tail_start:].strip()


# -- running it --------------------------------------------------------------------------------


def _searched_fields(sobject: SObjectDef, group: str) -> list[str]:
    if group == "NAME":
        name = sobject.name_field
        return [name.name] if name is not None else []
    types = _GROUP_TYPES[group]
    return [fd.name for fd in sobject.fields.values() if fd.type in types]


def run_search(
    sosl: str, source: RecordSource, *, api_version: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The ``searchRecords`` of a SOSL statement: matches per RETURNING object, in order."""
    return run_parsed(parse_search(sosl), source, api_version=api_version, now=now)


def run_parsed(
    search: Search, source: RecordSource, *, api_version: str, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Run a search already taken apart (from SOSL, or from parameterized search's
    parameters): one SOQL statement per object, restricted to the matched records."""
    matcher = parse_term(search.term)
    schema = source.schema
    if search.returning:
        targets = search.returning
    else:  # FIND alone searches every searchable object and returns Ids
        targets = [Returning(o.name) for o in schema if o.describe.get("searchable")]
    out: list[dict[str, Any]] = []
    for spec in targets:
        sobject = schema.get(spec.sobject)
        if sobject is None:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"sObject type '{spec.sobject}' is not supported. If you are attempting to use "
                "a custom object, be sure to append the '__c' after the entity name.",
            )
        names = _searched_fields(sobject, search.group)
        ids = [
            str(rec["Id"])
            for rec in source.records(sobject.name, include_deleted=False)
            if matcher([_WORD.findall(str(rec[n])) for n in names if rec.get(n) is not None])
        ]
        if not ids:
            # Still check the field list and clauses so a typo is reported without matches.
            ids = ["000000000000000AAA"]
        quoted = ",".join(f"'{i}'" for i in ids)
        where = f"Id IN ({quoted})" + (f" AND ({spec.where})" if spec.where else "")
        soql = f"SELECT {spec.fields} FROM {sobject.name} WHERE {where} {spec.rest}"
        try:
            rows = run_query(soql, source, api_version=api_version, now=now).records
        except ApiError as exc:
            # The engine quotes the SOQL it was given, which the caller never wrote: keep
            # only the explanation, and report syntax errors as search errors.
            message = str(exc.errors[0]["message"]).strip().splitlines()[-1]
            code = "MALFORMED_SEARCH" if exc.code == "MALFORMED_QUERY" else exc.code
            raise ApiError(exc.status, code, message) from exc
        out.extend(rows)
    return out[: search.limit]
