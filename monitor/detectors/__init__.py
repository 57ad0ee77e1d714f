"""Detectors by kind, with sensitivity presets for the default one."""

from __future__ import annotations

from typing import Any

from monitor.detectors.base import Detector
from monitor.detectors.baselines import PeakDetector, RobustZDetector
from monitor.detectors.poisson import PoissonDetector
from monitor.detectors.seasonal import SeasonalDetector

DETECTORS: dict[str, type[Any]] = {
    SeasonalDetector.kind: SeasonalDetector,
    PoissonDetector.kind: PoissonDetector,
    PeakDetector.kind: PeakDetector,
    RobustZDetector.kind: RobustZDetector,
}

# Sensitivity presets of the default detector; explicit options override them.
PRESETS: dict[str, dict[str, Any]] = {
    "sensitive": {"max_p_value": 1e-4, "min_excess": 3.0, "min_ratio": 1.3},
    "balanced": {},
    "strict": {"max_p_value": 1e-8, "min_excess": 10.0, "min_ratio": 2.0},
}


def make_detector(settings: Any) -> Any:
    """Return the configured detector with its parameters."""
    if settings.detector == PoissonDetector.kind:
        return PoissonDetector(
            min_count=settings.min_count,
            max_p_value=settings.max_p_value,
            min_ratio=settings.min_ratio,
        )
    raise KeyError(f"unknown detector {settings.detector!r} (known: {', '.join(DETECTORS)})")


def detector_from_preset(preset: str = "balanced", **options: Any) -> SeasonalDetector:
    """Return the seasonal detector with the preset's parameters, then `options` on top."""
    return SeasonalDetector(**{**PRESETS[preset], **options})


__all__ = [
    "DETECTORS",
    "PRESETS",
    "Detector",
    "SeasonalDetector",
    "detector_from_preset",
    "make_detector",
]
