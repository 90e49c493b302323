"""A griffe extension for the API reference: the docstrings' reST idioms, shown as Markdown.

The docstrings in ``src/`` are written for ``help()`` and doctest: ``>>>`` sessions, ``::``
literal blocks and ``:class:`X``` roles. mkdocstrings renders docstrings as Markdown, where a
``>>>`` line is a triply nested blockquote. This extension rewrites each docstring (for the
site only; the source is untouched) so that:

- a doctest session becomes a fenced ``pycon`` block;
- a ``::`` literal block becomes a fenced block (the ``::`` becomes ``:`` or goes away);
- ``:role:`target``` becomes inline code (``~`` keeps the last dotted name only).

mkdocs.yml loads it through the Python handler's ``extensions`` option.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    shorten, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if shorten else target}`"


def to_markdown(text: str) -> str:
    """The docstring ``text`` with doctests and literal blocks fenced, and roles as code."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(">>>"):
            # A doctest session: prompts, continuations and output, up to a blank line.
            out.append("```pycon")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append("```")
            continue
        if line.rstrip().endswith("::") and not line.lstrip().startswith(">>>"):
            # A reST literal block: the indented lines after the "::" paragraph.
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            block: list[str] = []
            while j < len(lines) and (not lines[j].strip() or lines[j].startswith((" ", "\t"))):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                intro = line.rstrip()[:-2].rstrip()
                if intro:
                    out.extend([_ROLE.sub(_role, intro) + ":", ""])
                indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                language = "python" if _looks_like_python(block) else "text"
                out.append(f"```{language}")
                out.extend(b[indent:] for b in block)
                out.extend(["```", ""])
                i = j
                continue
        out.append(_ROLE.sub(_role, line))
        i += 1
    return "\n".join(out)


def _looks_like_python(block: list[str]) -> bool:
    first = next(b.strip() for b in block if b.strip())
    return first.startswith(("import ", "from ", "async ", "await ", "def ", "class ", "try:", "@"))


class MarkdownDocstrings(griffe.Extension):
    """Rewrites every docstring of a loaded package with :func:`to_markdown`."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._rewrite(pkg, seen=set())

    def _rewrite(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(member, seen)  # type: ignore[arg-type]
