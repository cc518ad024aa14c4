"""Keep secrets that travel in URL paths out of the logs, gunicorn's (gunicorn.conf.py) and Django's.

A password-reset link carries its token in the path (``/accounts/password/reset/<uidb64>/<token>/``):
whoever reads a log line with it can set the user's password. Query strings are never logged
(gunicorn.conf.py logs the path only), so paths are what needs redacting.
"""

import logging
import re

# Everything after /accounts/password/reset/ that has two segments: the emailed link, and the
# set-password step it redirects to (which names the account). "sent/" and "done/" are not touched.
# Likewise the e-mail verification link (/accounts/email/verify/<uidb64>/<token>/); "send/" is not.
SECRET_PATH = re.compile(r"(/accounts/(?:password/reset|email/verify)/)[^/\s?#\"']+/[^/\s?#\"']+/?")
REDACTED = r"\1[redacted]/"


def redact_secret_paths(text: str) -> str:
    """Return ``text`` with the secret parts of any secret-carrying path replaced."""
    if "/password/reset/" not in text and "/email/verify/" not in text:
        return text
    return SECRET_PATH.sub(REDACTED, text)


class SecretPathFilter(logging.Filter):
    """Rewrite a log record's message with secret-carrying paths redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the handler's to report
            return True
        # Formatted once here; handlers then print the message as it is.
        record.msg, record.args = redact_secret_paths(message), None
        return True
