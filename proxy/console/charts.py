"""Bar charts as geometry for inline SVG (rendered by the template: no script, no inline style)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    peak: float


def bar_chart(title: str, points: list[tuple[str, float]], *, width: int = 640, height: int = 160) -> Chart:
    """One bar per point, scaled to the largest value; labels stay with their bars."""
    peak = max((v for _, v in points), default=0.0)
    slot = width / max(1, len(points))
    gap = min(6.0, slot * 0.2)
    bars = []
    for i, (label, value) in enumerate(points):
        h = 0.0 if peak <= 0 else (height - 20) * value / peak
        bars.append(Bar(x=round(i * slot + gap / 2, 2), y=round(height - 20 - h, 2),
                        width=round(slot - gap, 2), height=round(h, 2), label=label, value=value))
    return Chart(title, width, height, bars, peak)
