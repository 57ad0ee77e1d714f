"""Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Zulip's Slack API)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from monitor.config import SlackNotifierConfig
from monitor.errors import NotifyError
from monitor.notifiers.base import AlertNotice, subject_line, summary_line, why_lines
from monitor.notifiers.webhook import post_json


def slack_escape(text: str) -> str:
    """Return `text` with Slack's control characters escaped, so a post cannot ping or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(notices: Sequence[AlertNotice], *, samples: int = 2) -> dict[str, Any]:
    """Return the incoming-webhook payload: `text` for notifications, blocks for the body."""
    blocks: list[dict[str, Any]] = []
    for notice in notices:
        lines = [f"*{slack_escape(summary_line(notice))}*"]
        lines.extend(slack_escape(line) for line in why_lines(notice))
        if notice.event == "open":
            for sample in (notice.alert.get("samples") or [])[:samples]:
                text = " ".join(str(sample.get("text", "")).split())[:200]
                lines.append(f"> {slack_escape(text)}")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    return {"text": slack_escape(subject_line(notices)), "blocks": blocks}


class SlackNotifier:
    """Posts to a Slack-compatible incoming webhook; option url_env names the variable that
    holds the webhook URL (the URL is the credential)."""

    kind: ClassVar[str] = "slack"

    def __init__(self, config: SlackNotifierConfig, environ: Mapping[str, str]) -> None:
        self.name = config.name
        self.config = config
        self._url = environ.get(config.url_env, "")
        if not self._url.startswith(("http://", "https://")):
            raise NotifyError(
                f"notifier {config.name}: environment variable {config.url_env} must hold "
                "the incoming-webhook URL (http:// or https://)"
            )

    def send(self, notices: Sequence[AlertNotice], *, delivery_ids: Sequence[int]) -> None:
        """Deliver one message holding `notices`; raise NotifyError on failure."""
        post_json(
            self._url,
            slack_payload(notices),
            headers={},
            timeout_seconds=self.config.timeout_seconds,
            what=f"slack {self.name}",
        )
