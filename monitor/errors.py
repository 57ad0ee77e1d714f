"""The exception tree of the monitor.

MonitorError
├── ConfigError            a config file or environment value is wrong (names file and field)
├── StorageError
│   └── SchemaNotReadyError    the database has not been migrated (`monitor db upgrade`)
├── UnknownTopicError      a topic name that neither the config nor the database knows
├── NotifyError            a notification sink refused or could not be reached; retried
│   └── UnknownNotifierError   a notifier kind that is not in monitor.notifiers.NOTIFIERS
└── SourceError            a feed could not be polled; recorded on the feed, never fatal
    ├── ParseError             the body is not a feed of the expected kind
    ├── CredentialsError       a feed's secret is not in the environment, or was refused
    └── FetchError
        ├── FetchTimeoutError      connect/read timeout or total deadline exceeded
        ├── ResponseTooLargeError  the (decoded) body exceeds the size cap
        ├── HTTPStatusError        an unexpected HTTP status
        │   └── RateLimitedError   429 (or a network's throttling status), with retry_after
        └── BlockedAddressError    the URL resolves to an address the config does not allow
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class of every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    """A configuration file or environment value is invalid."""


class StorageError(MonitorError):
    """The database cannot be used as is."""


class SchemaNotReadyError(StorageError):
    """The database schema is missing or behind: run `monitor db upgrade`."""


class UnknownTopicError(MonitorError):
    """A topic name that is not tracked."""


class NotifyError(MonitorError):
    """A notification could not be delivered (the message never contains a secret)."""


class UnknownNotifierError(NotifyError):
    """A notifier kind that no module implements."""


class SourceError(MonitorError):
    """A feed could not be polled."""


class ParseError(SourceError):
    """A response body is not a feed of the expected kind."""


class FetchError(SourceError):
    """The HTTP exchange with a feed failed."""


class FetchTimeoutError(FetchError):
    """A connect or read timeout, or the total deadline, ran out."""


class ResponseTooLargeError(FetchError):
    """The body, after decompression, is larger than the configured cap."""


class HTTPStatusError(FetchError):
    """The server answered with a status the source cannot use."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class RateLimitedError(HTTPStatusError):
    """The server asked us to slow down; retry_after_seconds says for how long, if it said."""

    def __init__(
        self, message: str, *, status_code: int = 429, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after_seconds = retry_after_seconds


class BlockedAddressError(FetchError):
    """The URL points at an address (private, loopback, link-local...) that is not allowed."""


class CredentialsError(SourceError):
    """A feed's credentials are missing from the environment or were refused."""
