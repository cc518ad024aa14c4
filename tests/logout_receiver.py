"""A relying party's back-channel logout endpoint, on a loopback port, and the checks an RP makes.

``LogoutReceiver`` records every logout token POSTed to it (OIDC Back-Channel Logout 1.0 §2.5);
``validate_logout_token()`` verifies one the way §2.6 tells an RP to, against the published JWKS.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from jwcrypto import jwk, jws, jwt

from tests.cluster import free_port

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class LogoutReceiver:
    """An HTTP server that answers POSTs with ``status`` and keeps the logout tokens it got."""

    def __init__(self, port: int | None = None, status: int = 200) -> None:
        self.port = port or free_port()
        self.status = status
        self.tokens: list[str] = []
        self.arrived = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/backchannel-logout"

    def start(self) -> "LogoutReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                # The answer is the status set when the token was recorded, so a test that changes
                # it under the lock knows which tokens got which answer.
                with receiver.arrived:
                    status = receiver.status
                    if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                        receiver.tokens.extend(form.get("logout_token", []))
                        receiver.arrived.notify_all()
                self.send_response(status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float) -> list[str]:
        """Wait until ``count`` tokens have arrived (or ``timeout`` seconds); return them all."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.tokens) >= count, timeout=timeout)
            return list(self.tokens)


def validate_logout_token(token: str, *, jwks: dict, audience: str, issuer: str) -> dict:
    """Validate a logout token as Back-Channel Logout 1.0 §2.6 says; return its claims."""
    parsed = jws.JWS()
    parsed.deserialize(token)
    header = parsed.jose_header
    assert header["typ"] == "logout+jwt", header  # §2.4: explicitly typed
    key = jwk.JWKSet.from_json(json.dumps(jwks)).get_key(header["kid"])
    assert key is not None, "the logout token's kid must be published in JWKS"
    claims = json.loads(jwt.JWT(jwt=token, key=key, algs=[header["alg"]], expected_type="JWS").claims)
    assert claims["iss"] == issuer
    assert claims["aud"] == audience or audience in claims["aud"]
    assert claims["exp"] > claims["iat"] and claims["jti"]
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert claims.get("sid") or claims.get("sub")
    assert "nonce" not in claims  # §2.4: a nonce is prohibited
    return claims
