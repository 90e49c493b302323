"""Interleaved best-of-N measurement and the summary table.

CPU is ``time.process_time()`` (user + system CPU of this process: an idle wait, such as a
sleeping mock, costs nothing); wall time (``time.perf_counter()``) only where waiting is the
point (the round-trip section). Each contender measures its own region, so setting up a
client or a canned transport is never counted.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Run = Callable[[], Awaitable[float]]


async def interleave(reps: int, runs: dict[str, Run]) -> dict[str, float]:
    """Best (lowest) of ``reps`` runs each, alternating contenders: A B C, then C B A, ...

    A full collection before every run, so that garbage left by one contender is not
    collected on the next one's clock.
    """
    best: dict[str, float] = {}
    names = list(runs)
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            gc.collect()
            took = await runs[name]()
            best[name] = min(took, best.get(name, took))
    return best


@dataclass
class Row:
    path: str
    sobjects: float | None
    anchor: float | None
    unit: str
    anchor_name: str
    target: str = "-"
    limit: float | None = None  # met when the checked value <= limit
    check_absolute: bool = False  # check sobjects' own number, not the ratio
    strict: bool = False  # met only when strictly below the limit
    show_ratio: bool = True

    @property
    def ratio(self) -> float | None:
        if self.sobjects is None or not self.anchor or not self.show_ratio:
            return None
        return self.sobjects / self.anchor

    @property
    def met(self) -> str:
        if self.limit is None:
            return "-"
        value = self.sobjects if self.check_absolute else self.ratio
        if value is None:
            return "?"
        ok = value < self.limit if self.strict else value <= self.limit
        return "yes" if ok else "NO"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def table(self) -> str:
        head = ("path", "sobjects", "anchor", "ratio", "target", "met?")
        lines = [head]
        for r in self.rows:
            lines.append(
                (
                    r.path,
                    _fmt(r.sobjects, r.unit),
                    f"{_fmt(r.anchor, r.unit)} {r.anchor_name}".strip(),
                    "-" if r.ratio is None else f"{r.ratio:.2f}x",
                    r.target,
                    r.met,
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        out = []
        for n, line in enumerate(lines):
            out.append(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
            if n == 0:
                out.append("-+-".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in out)


def k(n: int) -> str:
    """10000 -> '10k', 1200 -> '1.2k', 300 -> '300'."""
    return f"{n / 1000:g}k" if n >= 1000 else str(n)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}" if abs(value) < 10 else f"{value:.1f} {unit}"
