"""No log line carries a password-reset token: not gunicorn's access log, not Django's warnings.

The reset link puts the token in the path (``/accounts/password/reset/<uidb64>/<token>/``), and
the access log records paths; whoever reads the logs could otherwise reset the user's password.
"""

import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.http import urlsafe_base64_encode

from ops.log_redaction import redact_secret_paths
from tests.cluster import collected_static, gunicorn_node, manage, migrated_sqlite, node_environment

MAKE_RESET_LINK = """
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.http import urlsafe_base64_encode

user = get_user_model().objects.create_user("alice", "alice@example.com", "correct horse battery staple")
uid = urlsafe_base64_encode(str(user.pk).encode())
token = default_token_generator.make_token(user)
print(token, reverse("accounts:password-reset-confirm", kwargs={"uidb64": uid, "token": token}))
"""


@dataclass
class LoggedServer:
    base: str
    token: str
    link: str
    output: Path
    running: ExitStack

    def logs(self) -> str:
        """Stop the server and return everything it logged (access log, error log, Django)."""
        self.running.close()
        return self.output.read_text()


@pytest.fixture
def logged_server(tmp_path):
    """gunicorn with its access log on, and a user with a valid password-reset link."""
    env = node_environment(tmp_path, None, ACCESS_LOG="-")
    migrated_sqlite(tmp_path)
    collected_static(tmp_path)
    token, link = manage(env, "shell", "-v0", "-c", MAKE_RESET_LINK).split()
    output = tmp_path / "server.log"
    with ExitStack() as running:
        base = running.enter_context(gunicorn_node(env, output))
        yield LoggedServer(base, token, link, output, running)


def test_access_log_never_shows_a_password_reset_token(logged_server):
    server = logged_server
    # The link from the mail: it works (on to the set-password step) ...
    opened = requests.get(server.base + server.link, allow_redirects=False, timeout=5)
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/set-password/")
    # ... and requests Django answers with a warning that names the path: a 403 (CSRF) and a 404.
    assert requests.post(server.base + server.link, timeout=5).status_code == 403
    assert requests.get(server.base + server.link + "x/", timeout=5).status_code == 404
    logs = server.logs()
    assert server.token not in logs
    access = [line for line in logs.splitlines() if '"GET /accounts/password/reset/' in line]
    assert len(access) == 2 and all("/accounts/password/reset/[redacted]/" in line for line in access)
    assert "Forbidden (CSRF cookie not set.): /accounts/password/reset/[redacted]/" in logs
    assert "Not Found: /accounts/password/reset/[redacted]/" in logs


def test_django_request_log_never_shows_a_password_reset_token(client, user, caplog):
    token = default_token_generator.make_token(user)
    uid = urlsafe_base64_encode(str(user.pk).encode())
    link = reverse("accounts:password-reset-confirm", kwargs={"uidb64": uid, "token": token})
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(link + "unknown/").status_code == 404
    assert "Not Found: /accounts/password/reset/[redacted]/" in caplog.text
    assert token not in caplog.text


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/password/reset/",
        "/accounts/password/reset/sent/",
        "/accounts/password/reset/done/",
        "/accounts/email/verify/send/",
        "/o/authorize/",
    ],
)
def test_redaction_leaves_paths_without_secrets_alone(path):
    assert redact_secret_paths(f'127.0.0.1 "GET {path}" 200') == f'127.0.0.1 "GET {path}" 200'


def test_redaction_hides_the_email_verification_token():
    line = '127.0.0.1 "GET /accounts/email/verify/MQ/d2k3-0123abcdef/" 200'
    assert redact_secret_paths(line) == '127.0.0.1 "GET /accounts/email/verify/[redacted]/" 200'
