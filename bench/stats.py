"""Repetitions interleaved across systems, their medians with min–max, and the targets.

Every timed cell runs each system once untimed (warm connections, warm upstream), then
`repetitions` rounds; each round runs every system once, the order rotated by one place per
round so that no system always runs first (after an idle pause) or last.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Run = Callable[[], Awaitable[float]]


@dataclass(frozen=True)
class Sample:
    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def show(self, unit: str = "s", scale: float = 1.0, digits: int = 3) -> str:
        """`median unit (min–max)`."""
        lo, mid, hi = (v * scale for v in (min(self.values), self.median, max(self.values)))
        return f"{mid:.{digits}f}{' ' if unit else ''}{unit} ({lo:.{digits}f}–{hi:.{digits}f})"

    def over(self, other: Sample) -> Sample:
        """Ratios of the same rounds: this system's time over the other's."""
        return Sample(tuple(a / b for a, b in zip(self.values, other.values, strict=True)))


async def interleaved(systems: dict[str, Run], repetitions: int,
                      warm: bool = True) -> dict[str, Sample]:
    names = list(systems)
    if warm:
        for name in names:
            await systems[name]()
    taken: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repetitions):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            taken[name].append(await systems[name]())
    return {name: Sample(tuple(values)) for name, values in taken.items()}


def line(label: str, value: str) -> None:
    print(f"  {label:<62} {value}")


@dataclass
class Targets:
    """The issue's targets as measured in this run, printed together at the end."""

    rows: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def check(self, name: str, ratio: Sample, limit: float, unit: str = "",
              below: bool = False) -> None:
        """Met when the median is at most `limit` (below it, with `below`)."""
        met = ratio.median < limit if below else ratio.median <= limit
        shown = ratio.show(unit, digits=2)
        target = f"{'<' if below else '≤'} {limit:g}{' ' if unit else ''}{unit}"
        self.rows.append((name, shown, target, met))
        line(name, f"{shown}  target {target}: {'met' if met else 'NOT MET'}")

    def fact(self, name: str, shown: str, target: str, met: bool) -> None:
        self.rows.append((name, shown, target, met))
        line(name, f"{shown}  target {target}: {'met' if met else 'NOT MET'}")

    def report(self) -> None:
        if not self.rows:
            return
        print("\nTargets (medians over the rounds, min–max in brackets)")
        width = max(len(name) for name, *_ in self.rows)
        for name, shown, target, met in self.rows:
            print(f"  {name:<{width}}  {shown:<24} {target:<10} {'met' if met else 'NOT MET'}")
        missed = sum(not met for *_, met in self.rows)
        print(f"  {len(self.rows) - missed} of {len(self.rows)} met")
