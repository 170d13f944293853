"""The one table the chaos run prints: scenario, measure, value, verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PASS, FAIL, INFO = "pass", "FAIL", "-"


@dataclass(frozen=True)
class Row:
    scenario: str
    measure: str
    value: str
    verdict: str = INFO


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, scenario: str, measure: str, value: object, ok: bool | None = None) -> None:
        verdict = INFO if ok is None else PASS if ok else FAIL
        self.rows.append(Row(scenario, measure, str(value), verdict))
        print(f"  [{scenario}] {measure}: {value} {'' if ok is None else verdict}", flush=True)

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == FAIL]

    def render(self, value_width: int = 60) -> str:
        heads = ("scenario", "measure", "value", "verdict")
        lines: list[tuple[str, str, str, str]] = []
        for row in self.rows:
            value = row.value
            chunks = [value[i : i + value_width] for i in range(0, len(value), value_width)] or [""]
            for n, chunk in enumerate(chunks):
                if n == 0:
                    lines.append((row.scenario, row.measure, chunk, row.verdict))
                else:
                    lines.append(("", "", chunk, ""))
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(heads)]
        out = [
            " | ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)),
            "-+-".join("-" * w for w in widths),
        ]
        for line in lines:
            out.append(" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
        return "\n".join(out)


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the value at rank ceil(p/100 * n) of the sorted values (nan if none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"
