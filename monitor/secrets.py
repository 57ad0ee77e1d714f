"""Secrets of feeds: read from the environment variables the config names, never from the
file, and redacted from every error and log line that could carry them."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from monitor.config import FeedConfig
from monitor.errors import CredentialsError

# Feed options naming an environment variable, and the secret's name inside a source.
SECRET_OPTIONS = {
    "token_env": "token",
    "handle_env": "handle",
    "password_env": "password",
    "client_id_env": "client_id",
    "client_secret_env": "client_secret",
}
REDACTED = "[redacted]"
# Query parameters and headers that carry credentials whatever their value.
_CREDENTIAL_PARAMS = re.compile(
    r"(?i)\b(key|access_token|token|api_key|password|client_secret)=([^&\s\"']+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def resolve_secrets(feed: FeedConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """Return the feed's secrets by name (token, password...) read from `environ`; raise
    CredentialsError naming the variable that is missing."""
    secrets: dict[str, str] = {}
    for option, name in SECRET_OPTIONS.items():
        variable = getattr(feed, option)
        if variable is None:
            continue
        value = environ.get(variable, "")
        if not value.strip():
            raise CredentialsError(
                f"credentials needed: environment variable {variable} ({option} of feed "
                f"{feed.name!r}) is not set"
            )
        secrets[name] = value.strip()
    return secrets


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return `text` with every known secret value, credential query parameter and bearer
    token replaced by a marker."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(secret) >= 4:  # shorter values would redact ordinary words
            text = text.replace(secret, REDACTED)
    text = _CREDENTIAL_PARAMS.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts credential query parameters and bearer tokens (httpx
    logs every request URL at INFO, and an API key may be in it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = RedactingFilter()


def install_log_redaction(names: Iterable[str] = ("httpx", "httpcore", "monitor")) -> None:
    """Attach the redacting filter to the loggers that may see URLs or errors (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
