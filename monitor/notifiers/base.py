"""The Notifier protocol and the notice every sink formats: one alert state change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """One alert state change to announce: `event` is "open", "escalate", "surge" or
    "resolve"; `alert` is the alert's documented JSON record (monitor.reports.alert_record),
    as stored when the notice is sent."""

    alert_id: int
    event: str
    alert: dict[str, Any]

    @property
    def delivery_key(self) -> str:
        """Return what a sink is sent at most once per alert: the event, and for a re-alert
        the severity or count it raised the alert to (an episode escalates to major and
        later to critical, and may surge several times)."""
        if self.event == "escalate":
            return f"escalate:{self.alert['severity']}"
        if self.event == "surge":
            return f"surge:{self.alert['raised_count']}"
        return self.event

    @property
    def topic(self) -> str:
        return str(self.alert["topic"])

    @property
    def kind(self) -> str:
        return str(self.alert["kind"])


class Notifier(Protocol):
    """One sink. `send` delivers one message holding every notice given (one notice, or a
    whole detection run's in digest mode) and raises NotifyError when it could not."""

    kind: ClassVar[str]
    name: str

    def send(self, notices: Sequence[AlertNotice], *, delivery_ids: Sequence[int]) -> None: ...


def summary_line(notice: AlertNotice) -> str:
    """Return one plain-text line saying what happened to the alert."""
    alert = notice.alert
    what = "Spike" if notice.kind == "spike" else f"{notice.kind.capitalize()} alert"
    if notice.event == "resolve":
        return (
            f"Resolved: {what.lower()} on {notice.topic} (alert {notice.alert_id}, opened "
            f"{alert['opened_bucket']}, peak {alert['peak_count']} mentions)"
        )
    if notice.event == "escalate":
        what = f"Now {alert['severity']}: {what.lower()}"
    elif notice.event == "surge":
        what = f"Surging: {what.lower()}"
    return (
        f"{what} on {notice.topic}: {alert['observed']} mentions in the bucket at "
        f"{alert['peak_bucket']}, expected {float(alert['expected']):.1f} "
        f"(alert {notice.alert_id}, p={float(alert['score']):.1e})"
    )


def why_lines(notice: AlertNotice) -> list[str]:
    """Return the lines that say why, from the explanation detection stored with the alert
    (none for a resolve, a source alert or an alert without one): the expected event it
    opened during, the rising terms, where it came from, the first post, the mood."""
    explanation = notice.alert.get("explanation")
    if notice.event == "resolve" or not isinstance(explanation, dict):
        return []
    lines = [
        f"During the expected event {event.get('name')}"
        for event in explanation.get("expected_events") or []
    ]
    terms = [str(item.get("term")) for item in explanation.get("rising_terms") or []][:5]
    if terms:
        lines.append("Rising terms: " + ", ".join(terms))
    sources, languages = explanation.get("sources") or {}, explanation.get("languages") or {}
    if sources or languages:
        lines.append(f"Sources: {_shares(sources)}; languages: {_shares(languages)}")
    first = explanation.get("first_post")
    if isinstance(first, dict):
        text = " ".join(str(first.get("text") or "").split())[:200]
        where = first.get("source") or first.get("network") or "?"
        lines.append(f"First post ({first.get('published_at')}, {where}): {text}")
    mood = explanation.get("sentiment") or {}
    during, before = mood.get("during") or {}, mood.get("before") or {}
    if during.get("mean_compound") is not None:
        lines.append(
            f"Sentiment {_signed(during.get('mean_compound'))} during vs "
            f"{_signed(before.get('mean_compound'))} before (negative "
            f"{_share(during.get('negative_share'))} vs {_share(before.get('negative_share'))})"
        )
    return lines


def _shares(shares: dict[str, Any], top: int = 3) -> str:
    return ", ".join(f"{name} {_share(value)}" for name, value in list(shares.items())[:top]) or "—"


def _share(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "—"


def _signed(value: object) -> str:
    return f"{value:+.2f}" if isinstance(value, int | float) else "—"


VERBS = {"open": "opened", "escalate": "escalated", "surge": "surging", "resolve": "resolved"}


def subject_line(notices: Sequence[AlertNotice]) -> str:
    """Return a short title for a message holding `notices`."""
    if len(notices) == 1:
        notice = notices[0]
        verb = VERBS.get(notice.event, notice.event)
        return f"[monitor] {notice.kind} alert {verb}: {notice.topic}"
    return f"[monitor] {len(notices)} alert changes"


def plain_text(notices: Sequence[AlertNotice], *, samples: int = 3) -> str:
    """Return the plain-text body of a message: a summary line and a few sample posts each."""
    lines: list[str] = []
    for notice in notices:
        lines.append(summary_line(notice))
        lines.extend(f"  {line}" for line in why_lines(notice))
        if notice.event == "open":
            for sample in (notice.alert.get("samples") or [])[:samples]:
                text = " ".join(str(sample.get("text", "")).split())[:200]
                lines.append(f"  - {text}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
