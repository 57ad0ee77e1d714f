"""Notification sinks: NOTIFIERS maps each config `kind` to its class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.errors import UnknownNotifierError
from monitor.notifiers.base import AlertNotice, Notifier
from monitor.notifiers.email import EmailNotifier
from monitor.notifiers.slack import SlackNotifier
from monitor.notifiers.webhook import WebhookNotifier

NOTIFIERS: dict[str, Any] = {
    "webhook": WebhookNotifier,
    "slack": SlackNotifier,
    "email": EmailNotifier,
}


def make_notifier(config: Any, environ: Mapping[str, str]) -> Notifier:
    """Return the sink `config` describes, with its secrets read from `environ`."""
    try:
        cls = NOTIFIERS[config.kind]
    except KeyError:
        raise UnknownNotifierError(
            f"unknown notifier kind {config.kind!r} (known: {', '.join(sorted(NOTIFIERS))})"
        ) from None
    notifier: Notifier = cls(config, environ)
    return notifier


__all__ = ["NOTIFIERS", "AlertNotice", "Notifier", "make_notifier"]
