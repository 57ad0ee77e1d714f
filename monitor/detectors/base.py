"""The Detector protocol: a pure judgement of one bucket's count against the buckets before it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import ClassVar, Protocol

from monitor.model import Verdict


class Detector(Protocol):
    """Judges `observed` against the counts of the buckets right before it (oldest first;
    None where the count is unknown: before the topic's first mention, or while a source was
    failing)."""

    kind: ClassVar[str]

    def history_buckets(self, width: timedelta) -> int:
        """Return how many buckets of history a verdict reads: the whole cost of one."""
        ...

    def evaluate(
        self,
        history: Sequence[int | None],
        observed: int,
        *,
        bucket_start: datetime,
        width: timedelta,
        complete: bool,
    ) -> Verdict:
        """Return the verdict on one bucket; must use nothing but its arguments."""
        ...
