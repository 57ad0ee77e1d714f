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


def test_a_stored_explanation_renders_as_sentences_and_stays_text() -> None:
    hostile = '<img src=x onerror=alert(1)> "first"'
    explanation = {
        "observed": 58,
        "expected": 1.0,
        "tail_probability": 2.3e-15,
        "rising_terms": [
            {"term": "sings", "during": 8, "before": 0, "z": 3.34},
            {"term": "clip", "during": 6, "before": 1, "z": 2.89},
        ],
        "first_post": {
            "text": hostile,
            "url": "javascript:alert(1)",
            "author": "a",
            "network": "rss",
            "source": "sim-news",
            "lang": "en",
            "published_at": "2026-12-07T23:23:06+00:00",
        },
        "most_engaged_posts": [
            {
                "text": "V sang it live",
                "url": "https://fans.example/p/9",
                "author": "b",
                "network": "mastodon",
                "source": "fans",
                "lang": "en",
                "published_at": "2026-12-07T23:24:00+00:00",
                "engagement": 412,
            }
        ],
        "engagement_reported": True,
        "sources": {"sim-fan-forum": 0.4655, "sim-news": 0.0517},
        "languages": {"en": 0.569, "ko": 0.2414},
        "posts_examined": {"during": 58, "before": 397},
        "sentiment": {
            "during": {
                "mentions": 58,
                "scored": 45,
                "mean_compound": 0.4208,
                "positive_share": 0.7556,
                "neutral_share": 0.0889,
                "negative_share": 0.1556,
            },
            "before": {
                "mentions": 397,
                "scored": 293,
                "mean_compound": 0.5544,
                "positive_share": 0.8874,
                "neutral_share": 0.1058,
                "negative_share": None,
            },
        },
        "expected_events": [
            {"name": "LWA live", "start": "2026-12-07T23:00:00+00:00", "end": "2026-12-08"}
        ],
    }
    quiet = {"mentions": 0, "net_sentiment": None, "mean_compound": None}
    alert = {
        "id": 7,
        "kind": "spike",
        "topic": "love-letter",
        "status": "open",
        "opened_bucket": "2026-12-07T23:20:00Z",
        "last_bucket": "2026-12-07T23:25:00Z",
        "resolved_at": None,
        "acked_at": None,
        "peak_count": 58,
        "excess_mentions": 57.0,
        "samples": [],
        "explanation": explanation,
        "evidence": {
            "observed": 58,
            "expected": 1.0,
            "ratio": 58.0,
            "score": 2.3e-15,
            "top_terms": [],
            "sentiment_during": quiet,
            "sentiment_before": quiet,
        },
    }
    page = (
        make_templates()
        .get_template("dashboard.html")
        .render(
            topics=[],
            selected="love-letter",
            now="2026-12-07T23:30:00Z",
            feeds=[],
            alerts=[alert],
            mentions=[],
            chart="",
            audience=None,
            bucket=timedelta(minutes=5),
        )
    )
    why = page[page.index('<div class="why">') : page.index("</div>", page.index('class="why"'))]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", why))
    assert "During the expected event LWA live" in text
    assert "sings (8 posts during, 0 before)" in text
    assert "clip (6 posts during, 1 before)" in text
    assert "First post, 2026-12-07T23:23:06+00:00 on sim-news" in text
    assert "412 V sang it live" in text
    assert "sim-fan-forum 47%" in text and "en 57%, ko 24%" in text
    assert "before 397 293 +0.55 89% 11% —" in text
    assert "during 58 45 +0.42 76% 9% 16%" in text
    # The post is text, not markup, and its javascript: link is dropped.
    assert "&lt;img src=x onerror=alert(1)&gt; &#34;first&#34;" in why
    assert "<img" not in why and "javascript:" not in why
    assert 'href="https://fans.example/p/9"' in why
    assert "{'" not in page  # no Python reprs of the stored dicts
