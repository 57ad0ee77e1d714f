"""Why an alert fired: what rose, who posted first, where from, and how the mood changed.

Pure: takes the episode's posts, a bounded sample of the posts before it and the sentiment
counters of both periods; returns the JSON-ready explanation stored with the alert.

Terms are ranked by the log-odds ratio with an informative Dirichlet prior (Monroe,
Colaresi and Quinn, "Fightin' Words", 2008): each term's z-score of "more frequent during
the episode than before", shrunk towards its pooled frequency, so a term seen twice in a
small episode does not outrank one that doubled across hundreds of posts. Each post counts
a term once, so one repeated post cannot carry a term.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from monitor.model import BucketCount

_WORD = re.compile(r"#?\w[\w'’-]*\w|#?\w", re.UNICODE)
_URL = re.compile(r"https?://\S+")
# Words too common to explain anything, in the languages fans mostly post in here.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "do",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "me",
        "my",
        "no",
        "not",
        "now",
        "of",
        "on",
        "or",
        "our",
        "out",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "too",
        "up",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "rt",
        "via",
        "amp",
        "de",
        "la",
        "le",
        "les",
        "et",
        "des",
        "du",
        "un",
        "une",
        "el",
        "los",
        "las",
        "en",
        "y",
        "que",
        "es",
        "il",
        "di",
        "che",
        "et",
        "je",
        "tu",
        "à",
    ]
)
PRIOR_STRENGTH = 500.0  # pseudo-posts in the Dirichlet prior
ENGAGEMENT_FIELDS = ("likes", "reposts", "replies")


def tokens(text: str) -> set[str]:
    """Return the distinct lowercase terms and #hashtags of a post (URLs and stopwords out)."""
    found = set()
    for match in _WORD.finditer(_URL.sub(" ", text.lower())):
        term = match.group(0)
        word = term.lstrip("#")
        if len(word) < 2 or word in STOPWORDS or word.isdigit():
            continue
        found.add(term)
    return found


def rising_terms(
    during: Iterable[str], before: Iterable[str], *, limit: int = 10, min_posts: int = 2
) -> list[dict[str, Any]]:
    """Return the terms (and hashtags) that rose most in `during` against `before`, best
    first: term, posts during, posts before, log-odds z-score."""
    episode_docs = [tokens(text) for text in during]
    baseline_docs = [tokens(text) for text in before]
    episode = Counter(term for doc in episode_docs for term in doc)
    baseline = Counter(term for doc in baseline_docs for term in doc)
    n_episode = sum(episode.values())
    n_baseline = sum(baseline.values())
    pooled_total = n_episode + n_baseline
    if not n_episode:
        return []
    ranked = []
    for term, y_i in episode.items():
        if y_i < min_posts:
            continue
        y_j = baseline.get(term, 0)
        alpha = PRIOR_STRENGTH * (y_i + y_j) / pooled_total
        delta = math.log((y_i + alpha) / (n_episode + PRIOR_STRENGTH - y_i - alpha)) - math.log(
            (y_j + alpha) / (n_baseline + PRIOR_STRENGTH - y_j - alpha)
        )
        z = delta / math.sqrt(1.0 / (y_i + alpha) + 1.0 / (y_j + alpha))
        if z > 0:
            ranked.append({"term": term, "during": y_i, "before": y_j, "z": round(z, 2)})
    ranked.sort(key=lambda item: (-item["z"], item["term"]))
    return ranked[:limit]


def sentiment_summary(buckets: Sequence[BucketCount]) -> dict[str, Any]:
    """Return mean compound, label shares and how many mentions were scored in `buckets`."""
    scored = sum(b.scored for b in buckets)
    total = sum(b.positive + b.neutral + b.negative for b in buckets)
    mean = sum(b.sentiment_sum for b in buckets) / scored if scored else None

    def share(count: int) -> float | None:
        return round(count / total, 4) if total else None

    return {
        "mentions": sum(b.count for b in buckets),
        "scored": scored,
        "mean_compound": None if mean is None else round(mean, 4),
        "positive_share": share(sum(b.positive for b in buckets)),
        "neutral_share": share(sum(b.neutral for b in buckets)),
        "negative_share": share(sum(b.negative for b in buckets)),
    }


def engagement(post: Mapping[str, Any]) -> int | None:
    """Return likes + reposts + replies of a post, or None when its source reports none."""
    values = [post.get(name) for name in ENGAGEMENT_FIELDS]
    known = [int(v) for v in values if isinstance(v, int | float)]
    return sum(known) if known else None


def mix(values: Iterable[str | None]) -> dict[str, float]:
    """Return each value's share (None as "unknown"), largest first."""
    counts = Counter(value or "unknown" for value in values)
    total = sum(counts.values())
    return {key: round(n / total, 4) for key, n in counts.most_common()}


def explain_episode(
    *,
    observed: int,
    expected: float,
    tail: float,
    episode_posts: Sequence[Mapping[str, Any]],
    baseline_posts: Sequence[Mapping[str, Any]],
    during: Sequence[BucketCount],
    before: Sequence[BucketCount],
    top_posts: int = 3,
) -> dict[str, Any]:
    """Return the explanation of one alert episode as a JSON-ready dict. Posts are dicts
    with text, url, author, network, source, lang, published_at and, where the source
    reports them, likes/reposts/replies; `episode_posts` earliest first."""
    engaged = [
        (engagement(post), index, post)
        for index, post in enumerate(episode_posts)
        if engagement(post) is not None
    ]
    engaged.sort(key=lambda item: (-(item[0] or 0), item[1]))
    return {
        "observed": observed,
        "expected": round(expected, 2),
        "tail_probability": tail,
        "rising_terms": rising_terms(
            [post["text"] for post in episode_posts], [post["text"] for post in baseline_posts]
        ),
        "first_post": _brief(episode_posts[0]) if episode_posts else None,
        "most_engaged_posts": [
            {**_brief(post), "engagement": score} for score, _, post in engaged[:top_posts]
        ],
        "engagement_reported": bool(engaged),
        "sources": mix(post.get("source") or post.get("network") for post in episode_posts),
        "languages": mix(post.get("lang") for post in episode_posts),
        "posts_examined": {"during": len(episode_posts), "before": len(baseline_posts)},
        "sentiment": {"during": sentiment_summary(during), "before": sentiment_summary(before)},
    }


def _brief(post: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: post.get(key)
        for key in ("text", "url", "author", "network", "source", "lang", "published_at")
    }
