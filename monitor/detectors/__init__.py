"""Detectors by kind, and the pure episode logic that turns verdicts into alert changes."""

from __future__ import annotations

from monitor.config import DetectionConfig
from monitor.detectors.base import Detector
from monitor.detectors.poisson import PoissonDetector

DETECTORS: dict[str, type[Detector]] = {PoissonDetector.kind: PoissonDetector}


def make_detector(settings: DetectionConfig) -> Detector:
    """Return the configured detector with its parameters."""
    if settings.detector == PoissonDetector.kind:
        return PoissonDetector(
            min_count=settings.min_count,
            max_p_value=settings.max_p_value,
            min_ratio=settings.min_ratio,
        )
    raise KeyError(f"unknown detector {settings.detector!r} (known: {', '.join(DETECTORS)})")


__all__ = ["DETECTORS", "Detector", "PoissonDetector", "make_detector"]
