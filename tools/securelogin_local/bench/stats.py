"""Pure helpers of the bench: summaries of samples, targets and their verdicts, Markdown tables.

Nothing here measures or touches the machine, so all of it is unit tested
(tests/unit/test_bench_stats.py)."""
from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks
    (numpy's default), so that p50 is the median."""
    if not samples:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError("q: 0 to 100")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    p50: float
    p95: float
    max: float

    def p50_p95(self, digits: int = 1) -> str:
        return f"{self.p50:.{digits}f} / {self.p95:.{digits}f}"


def summarize(samples: Sequence[float]) -> Summary:
    return Summary(n=len(samples), mean=statistics.fmean(samples), p50=percentile(samples, 50),
                   p95=percentile(samples, 95), max=max(samples))


def count_calls(calls: Iterable[tuple[str, str]]) -> str:
    """AWS calls as ``dynamodb GetItem x2, sns Publish``, in the order first made."""
    counted = Counter(f"{service} {operation}" for service, operation in calls)
    return ", ".join(name if n == 1 else f"{name} x{n}" for name, n in counted.items()) or "none"


# ------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Target:
    """A number the service must keep: ``measured`` at most (or at least) ``limit``."""

    name: str
    measured: float | None  # None: not measured in this run
    limit: float
    unit: str = ""
    at_least: bool = False  # True: the measured value must reach the limit, not stay under it
    why: str = ""  # what the measurement shows about the gap (shown when short)
    missing: str = ""  # why there is no measurement (shown when measured is None)

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.limit if self.at_least else self.measured <= self.limit

    def shortfall(self) -> str:
        """How far from the limit: the factor to gain, as a percentage to cut or to add."""
        if self.measured is None or self.met:
            return ""
        if self.at_least:
            if self.measured <= 0:
                return "nothing measured"
            return f"needs {self.limit / self.measured:.2f}x more (+{100 * (self.limit / self.measured - 1):.0f}%)"
        return (f"{self.measured / self.limit:.2f}x over: cut {100 * (1 - self.limit / self.measured):.0f}%")

    def verdict(self) -> str:
        if self.met is None:
            return f"not measured: {self.missing}" if self.missing else "not measured"
        if self.met:
            return "met"
        return f"**short**: {self.shortfall()}" + (f". {self.why}" if self.why else "")


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:.{digits}f}{(' ' + unit) if unit else ''}"


def targets_table(targets: Sequence[Target]) -> str:
    rows = [["target", "limit", "measured", "verdict"]]
    for target in targets:
        bound = ("≥ " if target.at_least else "≤ ") + fmt(target.limit, target.unit)
        rows.append([target.name, bound, fmt(target.measured, target.unit), target.verdict()])
    return markdown_table(rows)


def markdown_table(rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; the first row is the header. Pipes in cells are escaped."""
    if not rows:
        return ""
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        raise ValueError("every row needs as many cells as the header")

    def line(row: Sequence[object]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in row) + " |"

    return "\n".join([line(rows[0]), "|" + "---|" * width, *(line(row) for row in rows[1:])])


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
