"""Generic webhook: a JSON POST, signed with HMAC-SHA256 so receivers can verify it.

Headers: `X-Monitor-Event` (open, resolve or digest), `X-Monitor-Delivery` (delivery ids,
comma-separated; the same on a retry), `X-Monitor-Timestamp` (Unix seconds) and, when the
sink has a secret, `X-Monitor-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from monitor.config import WebhookNotifierConfig
from monitor.errors import NotifyError
from monitor.notifiers.base import AlertNotice, plain_text, subject_line

USER_AGENT = "fan-reaction-monitor/0.1 (notifications)"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def webhook_payload(notices: Sequence[AlertNotice], *, digest: bool) -> dict[str, Any]:
    """Return the JSON document a webhook receives."""
    return {
        "event": "digest" if digest else notices[0].event,
        "digest": digest,
        "subject": subject_line(notices),
        "text": plain_text(notices),
        "alerts": [{"event": n.event, **n.alert} for n in notices],
    }


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    headers: Mapping[str, str],
    timeout_seconds: float,
    what: str,
    sign_with: Callable[[str, bytes], str] | None = None,
) -> None:
    """POST `payload` as JSON; raise NotifyError (without the URL, which may be a secret) on
    a network error or a non-2xx status."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    all_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Monitor-Timestamp": timestamp,
        **headers,
    }
    if sign_with is not None:
        all_headers["X-Monitor-Signature"] = sign_with(timestamp, body)
    try:
        with httpx.Client(timeout=timeout_seconds, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=all_headers)
    except Exception as exc:
        # Only the class: httpx messages (InvalidURL, redirects) can quote the URL, a secret
        # for Slack-style webhooks.
        raise NotifyError(f"{what}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise NotifyError(f"{what}: HTTP {response.status_code}")


class WebhookNotifier:
    """POSTs the alerts as JSON to `url`; options: url, secret_env (names the variable that
    holds the HMAC secret), plus the routing options every sink has."""

    kind: ClassVar[str] = "webhook"

    def __init__(self, config: WebhookNotifierConfig, environ: Mapping[str, str]) -> None:
        self.name = config.name
        self.config = config
        self._secret = environ.get(config.secret_env, "") if config.secret_env else ""
        if config.secret_env and not self._secret:
            raise NotifyError(
                f"notifier {config.name}: environment variable {config.secret_env} is not set"
            )

    def send(self, notices: Sequence[AlertNotice], *, delivery_ids: Sequence[int]) -> None:
        """Deliver one POST holding `notices`; raise NotifyError on failure."""
        secret = self._secret
        post_json(
            self.config.url,
            webhook_payload(notices, digest=self.config.digest),
            headers={
                "X-Monitor-Event": "digest" if self.config.digest else notices[0].event,
                "X-Monitor-Delivery": ",".join(str(i) for i in delivery_ids),
            },
            timeout_seconds=self.config.timeout_seconds,
            what=f"webhook {self.name}",
            sign_with=(lambda ts, body: sign(secret, ts, body)) if secret else None,
        )
