"""Re-score stored mentions of a topic with the current scorer (after a lexicon or config
change) and recompute the affected timeline buckets exactly from the mention rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from monitor.scoring import Scorer
from monitor.storage import queries


@dataclass(frozen=True, slots=True)
class RescoreResult:
    """What a rescore changed."""

    topic: str
    mentions: int
    changed: int  # mentions whose label or method changed
    buckets: int


def rescore_topic(
    session: Session, scorer: Scorer, topic: str, *, since: datetime | None = None
) -> RescoreResult:
    """Re-score a topic's mentions published since `since` (all if None) in the caller's
    transaction; mention counts stay as they are, sentiment counters are recomputed."""
    topic_id = queries.get_topic_id(session, topic)
    text_scorer = scorer.for_topic(topic)
    rows = queries.mentions_for_rescore(session, topic_id, since=since)
    labels_before = queries.mention_labels(session, [mention_id for mention_id, *_ in rows])
    scores = []
    changed = 0
    for mention_id, text, lang, _bucket in rows:
        # The post's stored language decides; posts stored without one are detected now.
        scored = text_scorer.score(text, lang=lang)
        scores.append((mention_id, scored))
        changed += labels_before.get(mention_id) != (scored.label, scored.method)
    queries.update_mention_scores(session, scores)
    buckets = queries.recompute_bucket_sentiment(session, topic_id, {row[3] for row in rows})
    return RescoreResult(topic=topic, mentions=len(rows), changed=changed, buckets=buckets)
