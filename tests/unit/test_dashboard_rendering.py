"""Dashboard pieces without a server: URL filtering, template autoescaping, the SVG chart,
and the OpenAPI 3.0 copy for the docs page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.api.chart import ChartBucket, ChartEpisode, timeline_svg
from monitor.api.dashboard import make_templates, safe_url
from monitor.api.openapi30 import downgrade_schema

TEMPLATES = Path(__file__).resolve().parents[2] / "monitor" / "api" / "templates"


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://fans.example/p/1", True),
        ("http://fans.example/p/1?a=b", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>", False),
        ("//fans.example/p", False),
        ("/relative", False),
        ("https://", False),
        (None, False),
    ],
)
def test_only_absolute_http_links_are_kept(url: str | None, kept: bool) -> None:
    assert (safe_url(url) is not None) is kept


def test_every_template_autoescapes_and_none_marks_data_safe() -> None:
    env = make_templates()
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    template = env.from_string("{{ value }}")
    assert template.render(value=hostile) == (
        "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
    )
    names = sorted(path.name for path in TEMPLATES.iterdir())
    assert names == ["dashboard.html", "docs.html"]
    for name in names:
        source = (TEMPLATES / name).read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b(?!_url)", source), f"{name} uses |safe"
        assert "autoescape false" not in source
        assert "http://" not in source and "https://" not in source, f"{name} loads from a CDN"


def test_chart_draws_bars_line_and_episodes() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    width = timedelta(minutes=5)
    buckets = [
        ChartBucket(start + width * i, count, mean)
        for i, (count, mean) in enumerate([(1, 0.5), (0, None), (2, 0.1), (3, -0.2), (9, -0.8)])
    ]
    svg = timeline_svg(
        buckets,
        [ChartEpisode(7, start + width * 4, start + width * 5, "alert 7 <b>")],
        width=width,
        title='love-letter "<x>"',
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('class="volume-bar"') == 4  # the empty bucket draws no bar
    assert svg.count('class="sentiment-point"') == 1  # the gap splits the line
    assert svg.count('class="sentiment-line"') == 1
    assert 'data-alert-id="7"' in svg
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "&lt;x&gt;" in svg
    heights = [float(h) for h in re.findall(r'class="volume-bar"[^>]*height="([\d.]+)"', svg)]
    assert heights == sorted(heights) and heights[-1] > 8 * heights[0]


def test_chart_without_data_says_so() -> None:
    assert "no mentions" in timeline_svg([], [], width=timedelta(minutes=5), title="t")


def test_downgraded_schema_has_no_31_constructs() -> None:
    schema = {
        "openapi": "3.1.0",
        "components": {
            "schemas": {
                "A": {"anyOf": [{"type": "string", "maxLength": 64}, {"type": "null"}]},
                "B": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            }
        },
    }
    out = downgrade_schema(schema)
    assert out["openapi"] == "3.0.3"
    assert out["components"]["schemas"]["A"] == {
        "type": "string",
        "maxLength": 64,
        "nullable": True,
    }
    assert out["components"]["schemas"]["B"]["nullable"] is True
    assert {"type": "null"} not in out["components"]["schemas"]["B"]["anyOf"]
    assert schema["openapi"] == "3.1.0"  # the original is untouched
