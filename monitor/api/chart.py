"""Server-side SVG timeline: mention volume as bars, mean sentiment as a line, alert
episodes shaded. Pure: data in, markup out; every text is escaped here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 48, 16, 36


@dataclass(frozen=True, slots=True)
class ChartBucket:
    start: datetime
    count: int
    mean_compound: float | None


@dataclass(frozen=True, slots=True)
class ChartEpisode:
    alert_id: int
    start: datetime
    end: datetime  # exclusive
    label: str


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def timeline_svg(
    buckets: Sequence[ChartBucket],
    episodes: Sequence[ChartEpisode],
    *,
    width: timedelta,
    title: str,
) -> str:
    """Return an <svg> element: bars of volume (left axis), a polyline of mean compound
    (right axis, -1..1), shaded alert episodes, and time labels in UTC."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="timeline-chart" class="chart" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" '
        'fill="#fbfbfd" stroke="#d0d0da"/>',
    ]
    if not buckets:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#666">'
            "no mentions in this window</text></svg>"
        )
        return "".join(parts)
    start, end = buckets[0].start, buckets[-1].start + width
    span = (end - start).total_seconds() or 1.0

    def x_of(moment: datetime) -> float:
        offset = (moment - start).total_seconds() / span
        return LEFT + max(0.0, min(1.0, offset)) * plot_w

    peak = max(b.count for b in buckets) or 1
    bar_w = max(1.0, plot_w / len(buckets) - 1)

    def y_count(count: float) -> float:
        return TOP + plot_h - count / peak * plot_h

    def y_sentiment(value: float) -> float:
        return TOP + (1 - (value + 1) / 2) * plot_h

    for episode in episodes:
        x0, x1 = x_of(episode.start), x_of(episode.end)
        parts.append(
            f'<rect class="alert-episode" data-alert-id="{episode.alert_id}" x="{_fmt(x0)}" '
            f'y="{TOP}" width="{_fmt(max(6.0, x1 - x0))}" height="{plot_h}" '
            f'fill="#f4b4b4" fill-opacity="0.45"><title>{escape(episode.label)}</title></rect>'
        )
    # zero line of the sentiment axis
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{_fmt(y_sentiment(0))}" '
        f'y2="{_fmt(y_sentiment(0))}" stroke="#c9c9d6" stroke-dasharray="4 3"/>'
    )
    for bucket in buckets:
        if not bucket.count:
            continue
        y = y_count(bucket.count)
        parts.append(
            f'<rect class="volume-bar" x="{_fmt(x_of(bucket.start))}" y="{_fmt(y)}" '
            f'width="{_fmt(bar_w)}" height="{_fmt(TOP + plot_h - y)}" fill="#5b7bd5">'
            f"<title>{escape(bucket.start.strftime('%Y-%m-%d %H:%M'))} UTC: "
            f"{bucket.count} mentions</title></rect>"
        )
    segments: list[list[str]] = [[]]
    for bucket in buckets:
        if bucket.mean_compound is None:
            if segments[-1]:
                segments.append([])
            continue
        x = x_of(bucket.start) + bar_w / 2
        segments[-1].append(f"{_fmt(x)},{_fmt(y_sentiment(bucket.mean_compound))}")
    for points in segments:
        if len(points) == 1:
            cx, cy = points[0].split(",")
            parts.append(
                f'<circle class="sentiment-point" cx="{cx}" cy="{cy}" r="2.5" fill="#d5792b"/>'
            )
        elif points:
            parts.append(
                f'<polyline class="sentiment-line" points="{" ".join(points)}" fill="none" '
                'stroke="#d5792b" stroke-width="2"/>'
            )
    # axes: volume on the left, sentiment on the right, a few time labels below
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h - fraction * plot_h
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{_fmt(y + 4)}" text-anchor="end">'
            f"{round(peak * fraction)}</text>"
        )
    for value in (-1.0, 0.0, 1.0):
        parts.append(
            f'<text class="axis" x="{LEFT + plot_w + 6}" y="{_fmt(y_sentiment(value) + 4)}">'
            f"{'0' if value == 0 else f'{value:+.0f}'}</text>"
        )
    ticks = 6
    for index in range(ticks + 1):
        moment = start + (end - start) * index / ticks
        label = moment.strftime("%m-%d %H:%M")
        parts.append(
            f'<text class="axis" x="{_fmt(x_of(moment))}" y="{HEIGHT - 12}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
