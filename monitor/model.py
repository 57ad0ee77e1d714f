"""Plain records passed between the core modules; no I/O, no ORM."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Post:
    """One post as a source saw it, normalised; `external_id` is the dedupe key within `network`."""

    network: str
    external_id: str
    text: str
    published_at: datetime
    url: str | None = None
    author: str | None = None
    lang: str | None = None
    flags: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    # The canonical id of the post this one boosts, reposts, crossposts or retweets.
    repost_of: str | None = None


def post_to_message(post: Post) -> dict[str, Any]:
    """Return `post` as a JSON-safe dict (a task message between worker processes)."""
    return {
        "network": post.network,
        "external_id": post.external_id,
        "text": post.text,
        "published_at": post.published_at.isoformat(),
        "url": post.url,
        "author": post.author,
        "lang": post.lang,
        "flags": list(post.flags),
        "raw": post.raw,
        "likes": post.likes,
        "reposts": post.reposts,
        "replies": post.replies,
        "repost_of": post.repost_of,
    }


def post_from_message(message: dict[str, Any]) -> Post:
    """Return the post `post_to_message` wrote."""
    return Post(
        network=message["network"],
        external_id=message["external_id"],
        text=message["text"],
        published_at=datetime.fromisoformat(message["published_at"]),
        url=message.get("url"),
        author=message.get("author"),
        lang=message.get("lang"),
        flags=tuple(message.get("flags") or ()),
        raw=message.get("raw") or {},
        likes=message.get("likes"),
        reposts=message.get("reposts"),
        replies=message.get("replies"),
        repost_of=message.get("repost_of"),
    )


@dataclass(frozen=True, slots=True)
class Sentiment:
    """VADER's four scores for one text, with the label from the usual ±0.05 thresholds."""

    compound: float
    pos: float
    neu: float
    neg: float

    @property
    def label(self) -> str:
        if self.compound >= 0.05:
            return "positive"
        if self.compound <= -0.05:
            return "negative"
        return "neutral"


@dataclass(frozen=True, slots=True)
class BucketCount:
    """Mentions of one topic in one time bucket (zero-filled where nothing was stored)."""

    start: datetime
    count: int
    sentiment_sum: float = 0.0
    scored: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    scored_vader: int = 0  # `scored` split by method (monitor/scoring.py)
    scored_fandom: int = 0
    scored_emoji: int = 0

    @property
    def unscored(self) -> int:
        """Return how many mentions have no sentiment (languages VADER cannot read)."""
        return self.count - self.scored

    @property
    def mean_compound(self) -> float | None:
        return self.sentiment_sum / self.scored if self.scored else None


@dataclass(frozen=True, slots=True)
class Verdict:
    """A detector's judgement of one bucket against its baseline."""

    bucket_start: datetime
    observed: int
    expected: float
    score: float  # tail probability of seeing `observed` or more under the baseline
    anomalous: bool
    complete: bool  # False when the bucket is still filling (an early alert)
    surprise: float | None = None  # -log10 of the tail, finite where `score` underflows to 0

    @property
    def log_surprise(self) -> float:
        """Return -log10 of the tail probability (`surprise` when the detector gave one)."""
        if self.surprise is not None:
            return self.surprise
        return min(300.0, -math.log10(max(self.score, 1e-300)))
