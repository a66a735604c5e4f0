"""Optional e-mail of password-reset links (``LIMS_MAIL_SERVER``); without it the administrator hands the link
over.

Settings: ``MAIL_SERVER``, ``MAIL_PORT`` (default 25), ``MAIL_STARTTLS`` (default false), ``MAIL_USERNAME``,
``MAIL_PASSWORD``, ``MAIL_FROM`` (default ``trialbank@<server>``).
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any


def enabled(config: Mapping[str, Any]) -> bool:
    """Tell whether a mail server is configured."""
    return bool(config.get("MAIL_SERVER"))


def send_reset_link(config: Mapping[str, Any], *, to: str, name: str, link: str, hours: int) -> None:
    """Send a password-reset link; raise OSError/SMTPException when the server refuses or cannot be
    reached."""
    message = EmailMessage()
    message["Subject"] = "Trialbank: set your password"
    message["From"] = config.get("MAIL_FROM") or f"trialbank@{config['MAIL_SERVER']}"
    message["To"] = to
    message.set_content(f"Hello {name},\n\nan administrator asked Trialbank to let you set a new password. "
                        f"Open this link within {hours} hour(s); it works once:\n\n{link}\n\nIf you did not "
                        "expect this, tell your Trialbank administrator.\n")
    with smtplib.SMTP(config["MAIL_SERVER"], int(config.get("MAIL_PORT", 25)), timeout=10) as smtp:
        if config.get("MAIL_STARTTLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD", ""))
        smtp.send_message(message)
