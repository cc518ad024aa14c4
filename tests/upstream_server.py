"""Small upstream identity providers on loopback ports, for what a real Porchlight upstream never does.

``FakeOIDC`` speaks OpenID Connect's code flow (discovery, authorize, token with PKCE S256 checked,
JWKS, UserInfo) and can be told to misbehave: sign the ID token with a key it does not publish,
name another audience, answer slowly or with an error, send back an earlier ID token (a replay),
or leave the address unverified. ``FakeGitHub`` speaks GitHub's documented OAuth web flow and the
two REST endpoints Porchlight reads (``GET /user``, ``GET /user/emails``); github.com cannot be
reached from the tests, so this stands in for it.
"""

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from jwcrypto import jwk, jwt

from tests.cluster import free_port


@dataclass
class Behaviour:
    """What the upstream does at the token endpoint; tests change it between sign-ins."""

    # "ok", "wrong_key", "wrong_audience", "expired", "error", "slow", "no_id_token", "replay"
    token: str = "ok"
    claims: dict[str, Any] = field(default_factory=dict)
    slow_seconds: float = 3.0


class _Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.codes: dict[str, dict[str, str]] = {}
        self.behaviour = Behaviour()
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(f"GET {self.path}")
                outer.handle(self, "GET", self.path, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                outer.requests.append(f"POST {self.path}")
                outer.handle(self, "POST", self.path, form)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def send(handler, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def authorize(self, handler, query: dict[str, str]) -> None:
        """Sign the (imaginary) person straight in and send them back with a code."""
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        self.send(handler, 302, headers={"Location": target})

    CLIENT_ID = ""
    CLIENT_SECRET = ""

    def client_authenticated(self, handler, form: dict[str, str]) -> bool:
        """RFC 6749 §2.3.1: the client's secret, by HTTP Basic or in the form."""
        basic = "Basic " + base64.b64encode(f"{self.CLIENT_ID}:{self.CLIENT_SECRET}".encode()).decode()
        return handler.headers.get("Authorization", "") == basic or (
            form.get("client_id") == self.CLIENT_ID and form.get("client_secret") == self.CLIENT_SECRET
        )

    def code_redeemable(self, form: dict[str, str]) -> dict[str, str] | None:
        request = self.codes.pop(form.get("code", ""), None)
        if request is None:
            return None
        # RFC 7636 §4.6: the verifier's S256 must be the challenge sent with the authorization request.
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).decode().rstrip("=") != request.get("code_challenge"):
            return None
        return request

    def handle(self, handler, method: str, path: str, form: dict[str, str]) -> None:
        raise NotImplementedError


class FakeOIDC(_Server):
    CLIENT_ID = "porchlight-downstream"
    CLIENT_SECRET = "upstream-secret-for-tests"

    def __init__(self) -> None:
        super().__init__()
        self.key = jwk.JWK.generate(kty="RSA", size=2048, kid="upstream-1", alg="RS256", use="sig")
        self.stray_key = jwk.JWK.generate(kty="RSA", size=2048, kid="upstream-1", alg="RS256", use="sig")
        self.last_id_token = ""

    @property
    def discovery_url(self) -> str:
        return self.url + "/.well-known/openid-configuration"

    def id_token(self, request: dict[str, str], *, key: jwk.JWK, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": "upstream-user-1",
            "aud": self.CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": request.get("nonce"),
            "email": "new.person@example.org",
            "email_verified": True,
            "given_name": "New",
            "family_name": "Person",
            **self.behaviour.claims,
            **overrides,
        }
        token = jwt.JWT(header={"alg": "RS256", "kid": key.key_id}, claims=claims)
        token.make_signed_token(key)
        return token.serialize()

    def handle(self, handler, method: str, path: str, form: dict[str, str]) -> None:
        route = urlsplit(path).path
        query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        if route == "/.well-known/openid-configuration":
            self.send(
                handler,
                200,
                {
                    "issuer": self.url,
                    "authorization_endpoint": self.url + "/authorize",
                    "token_endpoint": self.url + "/token",
                    "jwks_uri": self.url + "/jwks",
                    "userinfo_endpoint": self.url + "/userinfo",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                },
            )
        elif route == "/jwks":
            self.send(handler, 200, {"keys": [self.key.export_public(as_dict=True)]})
        elif route == "/authorize":
            self.authorize(handler, query)
        elif route == "/token" and method == "POST":
            self.token(handler, form)
        else:
            self.send(handler, 404, {"error": "not_found"})

    def token(self, handler, form: dict[str, str]) -> None:
        mode = self.behaviour.token
        if mode == "slow":
            time.sleep(self.behaviour.slow_seconds)
        if mode == "error":
            self.send(handler, 500, {"error": "server_error"})
            return
        if not self.client_authenticated(handler, form):
            self.send(handler, 401, {"error": "invalid_client"})
            return
        request = self.code_redeemable(form)
        if request is None:
            self.send(handler, 400, {"error": "invalid_grant"})
            return
        body: dict[str, Any] = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer"}
        if mode == "replay" and self.last_id_token:
            body["id_token"] = self.last_id_token
        elif mode != "no_id_token":
            overrides: dict[str, Any] = {}
            if mode == "wrong_audience":
                overrides["aud"] = "some-other-client"
            if mode == "expired":
                overrides["exp"] = int(time.time()) - 3600
                overrides["iat"] = int(time.time()) - 7200
            key = self.stray_key if mode == "wrong_key" else self.key
            body["id_token"] = self.id_token(request, key=key, **overrides)
            self.last_id_token = body["id_token"]
        self.send(handler, 200, body)

    def logout_token(self, **claims: Any) -> str:
        now = int(time.time())
        full = {
            "iss": self.url,
            "aud": self.CLIENT_ID,
            "iat": now,
            "exp": now + 120,
            "jti": secrets.token_urlsafe(8),
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
            **claims,
        }
        token = jwt.JWT(header={"alg": "RS256", "kid": self.key.key_id, "typ": "logout+jwt"}, claims=full)
        token.make_signed_token(self.key)
        return token.serialize()


class FakeGitHub(_Server):
    CLIENT_ID = "Iv1.github-client"
    CLIENT_SECRET = "github-secret-for-tests"

    def __init__(self) -> None:
        super().__init__()
        self.user: dict[str, Any] = {
            "id": 583231,
            "login": "octocat",
            "name": "Mona Octocat",
            "avatar_url": "https://avatars.githubusercontent.com/u/583231",
            "html_url": "https://github.com/octocat",
        }
        self.emails: list[dict[str, Any]] = [
            {"email": "octocat@example.net", "primary": True, "verified": True, "visibility": "public"},
            {"email": "mona@example.net", "primary": False, "verified": False, "visibility": None},
        ]
        self.tokens: set[str] = set()

    def handle(self, handler, method: str, path: str, form: dict[str, str]) -> None:
        route = urlsplit(path).path
        query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        if route == "/login/oauth/authorize":
            self.authorize(handler, query)
        elif route == "/login/oauth/access_token" and method == "POST":
            # GitHub answers in JSON when the request accepts it; a bad code is a 200 with an error.
            request = self.code_redeemable(form)
            if request is None or not self.client_authenticated(handler, form):
                self.send(handler, 200, {"error": "bad_verification_code"})
                return
            token = "gho_" + secrets.token_urlsafe(16)
            self.tokens.add(token)
            scope = "read:user,user:email"
            self.send(handler, 200, {"access_token": token, "token_type": "bearer", "scope": scope})
        elif route in ("/user", "/user/emails"):
            auth = handler.headers.get("Authorization", "")
            if auth.removeprefix("Bearer ").removeprefix("token ") not in self.tokens:
                self.send(handler, 401, {"message": "Requires authentication"})
            elif route == "/user":
                self.send(handler, 200, self.user)
            else:
                self.send(handler, 200, self.emails)
        else:
            self.send(handler, 404, {"message": "Not Found"})
