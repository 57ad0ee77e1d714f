"""Detectors by kind, sensitivity presets, and the detectors and episode policy of a topic."""

from __future__ import annotations

from typing import Any

from monitor.config import DetectionConfig, DetectorOptions, TopicConfig
from monitor.detectors.base import Detector
from monitor.detectors.baselines import PeakDetector, RobustZDetector
from monitor.detectors.poisson import PoissonDetector
from monitor.detectors.seasonal import SeasonalDetector
from monitor.detectors.sour import NegativeShareDetector
from monitor.episodes import EpisodePolicy

DETECTORS: dict[str, type[Any]] = {
    SeasonalDetector.kind: SeasonalDetector,
    PoissonDetector.kind: PoissonDetector,
    PeakDetector.kind: PeakDetector,
    RobustZDetector.kind: RobustZDetector,
    NegativeShareDetector.kind: NegativeShareDetector,
}

# Sensitivity presets of the seasonal detector; explicit parameters override them.
# "balanced" is the detector's own defaults (see the README on how they were chosen).
PRESETS: dict[str, dict[str, Any]] = {
    "sensitive": {"max_p_value": 1e-4, "min_excess": 3.0, "min_ratio": 1.3, "calibration_rank": 3},
    "balanced": {},
    "strict": {"max_p_value": 1e-8, "min_excess": 10.0, "min_ratio": 2.0, "calibration_rank": 1},
}
_SEASONAL_OPTIONS = ("max_p_value", "min_excess", "min_ratio", "days", "calibration_days")


def detector_from_preset(preset: str = "balanced", **options: Any) -> SeasonalDetector:
    """Return the seasonal detector with the preset's parameters, then `options` on top."""
    return SeasonalDetector(**{**PRESETS[preset], **options})


def _explicit(options: DetectionConfig | DetectorOptions | None) -> dict[str, Any]:
    if options is None:
        return {}
    return {
        name: getattr(options, name)
        for name in _SEASONAL_OPTIONS
        if getattr(options, name) is not None
    }


# A slow climb is judged over three hours: long enough that no single bucket jumps.
CLIMB_MINUTES = 180
# A raised level is judged over two hours: longer than the ordinary bursts of a topic
# (which decay within about an hour), short enough to name a level of a few hours early.
SHIFT_MINUTES = 120


def make_detector(
    settings: DetectionConfig,
    topic: DetectorOptions | None = None,
    *,
    direction: str = "up",
    climb: bool = False,
    shift: bool = False,
) -> Any:
    """Return the configured detector with its parameters (a topic's options on top of the
    global ones; `direction` "down" looks for drops)."""
    if settings.detector == PoissonDetector.kind:
        poisson: dict[str, Any] = {}
        if settings.max_p_value is not None:
            poisson["max_p_value"] = settings.max_p_value
        if settings.min_ratio is not None:
            poisson["min_ratio"] = settings.min_ratio
        return PoissonDetector(
            min_count=settings.min_count, baseline_buckets=settings.baseline_buckets, **poisson
        )
    if settings.detector == PeakDetector.kind:
        return PeakDetector()
    if settings.detector == RobustZDetector.kind:
        return RobustZDetector()
    preset = (topic.preset if topic and topic.preset else None) or settings.preset
    options = {**_explicit(settings), **_explicit(topic), "direction": direction}
    if climb:
        options["climb_minutes"] = CLIMB_MINUTES
    if shift:
        options["shift_minutes"] = SHIFT_MINUTES
    return detector_from_preset(preset, **options)


def topic_detectors(settings: DetectionConfig, topic: TopicConfig) -> dict[str, Any]:
    """Return {alert kind: detector} for the kinds switched on for `topic`."""
    kinds = (topic.detection.alerts if topic.detection else None) or settings.alerts
    detectors = {}
    for kind in kinds:
        if kind == "sour":
            detectors[kind] = NegativeShareDetector()
            continue
        if kind != "spike" and settings.detector != SeasonalDetector.kind:
            continue  # only the seasonal detector models levels, drops and climbs
        detectors[kind] = make_detector(
            settings,
            topic.detection,
            direction="down" if kind == "drop" else "up",
            climb=kind == "climb",
            shift=kind == "level",
        )
    return detectors


def topic_policy(settings: DetectionConfig, topic: TopicConfig, detector: Any) -> EpisodePolicy:
    """Return the episode rules of `topic` (its cooldown, else the global one)."""
    cooldown = settings.cooldown_minutes
    if topic.detection and topic.detection.cooldown_minutes is not None:
        cooldown = topic.detection.cooldown_minutes
    return EpisodePolicy(
        resolve_after_buckets=settings.resolve_after_buckets,
        cooldown_minutes=cooldown,
        surge_ratio=settings.surge_ratio,
        max_p_value=getattr(detector, "max_p_value", 1e-6),
        single_bucket=getattr(detector, "kind", "") in (PeakDetector.kind, RobustZDetector.kind),
    )


__all__ = [
    "DETECTORS",
    "PRESETS",
    "Detector",
    "SeasonalDetector",
    "detector_from_preset",
    "make_detector",
    "topic_detectors",
    "topic_policy",
]
