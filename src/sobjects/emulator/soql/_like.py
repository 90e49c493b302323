"""SOQL ``LIKE`` matching without regular expressions or backtracking.

A pattern is split on ``%`` into segments of fixed length (characters and ``_``, which is
exactly one character). A value matches when the first segment starts it, the last one ends
it and the others occur in between, in order, without overlapping. Taking each middle segment
at its leftmost place is always right: segments have fixed lengths, so a later place would
only leave less room for the rest. There is no backtracking, so a hostile pattern such as
``'%a%a%a%a%a%a%a%b'`` costs one left-to-right pass instead of exponential time (a regular
expression ``.*a.*a...b`` blocked the whole org for half a minute on a 60-character value).
Segments without ``_`` are found by ``str.find``; one with ``_`` by shift-and (bitap): one
step per character of the value, on an integer with a bit per character of the segment, so a
pattern such as ``'%a_a_a_…b%'`` costs a single pass too (trying each place instead took
seconds on a 32,000-character value, with the org's lock held).

Comparison is case-insensitive, one character at a time (a character whose lower case is
longer than one character, such as ``İ``, is compared as it is), so ``_`` still stands for
exactly one character of the value.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["LikePattern", "fold"]


class _FoldTable(dict[int, str]):
    """``str.translate`` table: each character's one-character case fold, computed once."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = char.casefold()
        if len(folded) != 1:
            folded = char.lower()
        if len(folded) != 1:
            folded = char  # no one-character fold: compare as is
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """``text`` case-folded character by character (same length as ``text``).

    >>> fold("ÆGIR Straße"), len(fold("İ")) == len("İ")
    ('ægir straße', True)
    """
    return text.lower() if text.isascii() else text.translate(_FOLD)


class _Segment:
    """One ``%``-free piece of a pattern: literal chunks at fixed offsets, ``_`` between."""

    __slots__ = ("chunks", "length", "masks", "plain", "wild")

    def __init__(self, atoms: Sequence[str | None]) -> None:
        self.length = len(atoms)
        chunks: list[tuple[int, str]] = []
        start = 0
        for index, atom in enumerate([*atoms, None]):
            if atom is None:
                if index > start:
                    text = "".join(a for a in atoms[start:index] if a is not None)
                    chunks.append((start, fold(text)))
                start = index + 1
        self.chunks = tuple(chunks)
        # Without `_` the segment is one chunk (or empty) and str methods do all the work.
        self.plain = None if None in atoms else "".join(chunk for _, chunk in chunks)
        # Shift-and masks for a `_`-bearing segment: bit i is set for the characters that
        # may stand at place i (any character where the pattern has `_`).
        self.wild = sum(1 << i for i, atom in enumerate(atoms) if atom is None)
        masks: dict[str, int] = {}
        for i, atom in enumerate(atoms):
            if atom is not None:
                char = fold(atom)
                masks[char] = masks.get(char, self.wild) | (1 << i)
        self.masks = masks

    def at(self, text: str, index: int) -> bool:
        """Whether the segment matches ``text`` at ``index`` (the caller checks the room)."""
        return all(text.startswith(chunk, index + offset) for offset, chunk in self.chunks)

    def find(self, text: str, start: int, stop: int) -> int:
        """The leftmost index in ``[start, stop - length]`` where the segment matches, or -1."""
        if stop - self.length < start:
            return -1
        if self.plain is not None:
            return text.find(self.plain, start, stop)
        if not self.masks:  # only `_`: any place with room will do
            return start
        masks, wild, done = self.masks, self.wild, 1 << (self.length - 1)
        state = 0
        for index in range(start, stop):
            state = ((state << 1) | 1) & masks.get(text[index], wild)
            if state & done:
                return index - self.length + 1
        return -1


class LikePattern:
    r"""A decoded ``LIKE`` pattern: ``segments`` are the ``%``-separated pieces, each a tuple
    of characters and ``None`` for ``_`` (escaped ``\%`` and ``\_`` are plain characters).

    >>> LikePattern([["a", None], ["c"]]).matches("AbXyC"), LikePattern([[]]).matches("")
    (True, True)
    """

    __slots__ = ("_segments", "segments")

    def __init__(self, segments: Sequence[Sequence[str | None]]) -> None:
        if not segments:
            raise ValueError("a LIKE pattern has at least one segment")
        self.segments = tuple(tuple(segment) for segment in segments)
        self._segments = tuple(_Segment(segment) for segment in self.segments)

    def __repr__(self) -> str:
        return f"LikePattern({self.segments!r})"

    def matches(self, value: str) -> bool:
        text = fold(value)
        size = len(text)
        first = self._segments[0]
        if len(self._segments) == 1:  # no `%`: the whole value, exactly
            return size == first.length and first.at(text, 0)
        last = self._segments[-1]
        end = size - last.length  # where the last segment must start
        if end < first.length or not first.at(text, 0) or not last.at(text, end):
            return False
        position = first.length
        for segment in self._segments[1:-1]:
            found = segment.find(text, position, end)
            if found < 0:
                return False
            position = found + segment.length
        return True
