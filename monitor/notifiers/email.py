"""Email over SMTP, with STARTTLS and login when configured."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import ClassVar

from monitor.config import EmailNotifierConfig
from monitor.errors import NotifyError
from monitor.notifiers.base import AlertNotice, plain_text, subject_line


def email_message(
    notices: Sequence[AlertNotice], *, from_addr: str, to_addrs: Sequence[str]
) -> EmailMessage:
    """Return the plain-text email announcing `notices`."""
    message = EmailMessage()
    message["Subject"] = subject_line(notices)
    message["From"] = from_addr
    message["To"] = ", ".join(to_addrs)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=from_addr.rpartition("@")[2] or None)
    message.set_content(plain_text(notices, samples=5))
    return message


class EmailNotifier:
    """Sends one email per message; options: smtp_host, smtp_port, starttls, username,
    password_env (names the variable holding the password), from_addr, to_addrs."""

    kind: ClassVar[str] = "email"

    def __init__(self, config: EmailNotifierConfig, environ: Mapping[str, str]) -> None:
        self.name = config.name
        self.config = config
        self._password = environ.get(config.password_env, "") if config.password_env else ""
        if config.password_env and not self._password:
            raise NotifyError(
                f"notifier {config.name}: environment variable {config.password_env} is not set"
            )

    def send(self, notices: Sequence[AlertNotice], *, delivery_ids: Sequence[int]) -> None:
        """Deliver one email holding `notices`; raise NotifyError on failure."""
        config = self.config
        message = email_message(notices, from_addr=config.from_addr, to_addrs=config.to_addrs)
        message["X-Monitor-Delivery"] = ",".join(str(i) for i in delivery_ids)
        try:
            with smtplib.SMTP(
                config.smtp_host, config.smtp_port, timeout=config.timeout_seconds
            ) as smtp:
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if config.username:
                    smtp.login(config.username, self._password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            # SMTP replies may echo the login; keep only the error class and code.
            code = getattr(exc, "smtp_code", None)
            raise NotifyError(
                f"email {self.name}: {type(exc).__name__}" + (f" {code}" if code else "")
            ) from None
