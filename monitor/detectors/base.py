"""The Detector protocol: a pure judgement of one bucket's count against its baseline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar, Protocol

from monitor.model import Verdict


class Detector(Protocol):
    """Judges `observed` against the counts of the buckets before it (oldest first)."""

    kind: ClassVar[str]

    def evaluate(
        self, baseline: Sequence[int], observed: int, *, bucket_start: datetime, complete: bool
    ) -> Verdict:
        """Return the verdict on one bucket; must use nothing but its arguments."""
        ...
