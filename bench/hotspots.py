# Django must be set up before the project's models can be imported.
# ruff: noqa: E402
"""Print where one endpoint's time goes: ``make bench PROFILE=token`` (or discovery, jwks, ...).

Run by bench.py against a throwaway SQLite database (PORCHLIGHT_VAR_DIR), or PostgreSQL cluster
with ``BENCH_DATABASES=PostgreSQL``. Seeds it as the load run does (bench/seed.py), then calls the
WSGI application the servers serve (porchlight.wsgi) in process, under cProfile timing this
process's CPU (not the time spent waiting for the database), and prints CPU milliseconds per
request and the functions that take them: by cumulative time (which layer) and by own time
(which leaf).
"""

import cProfile
import io
import itertools
import os
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlencode, urlsplit

import seed  # bench/seed.py: sets Django up

from porchlight.wsgi import application

WARM_UP = 50
SECONDS = 5
MAX_REQUESTS = 5000
FORM = "application/x-www-form-urlencoded"
# Codes and refresh tokens are single use: these profiles use at most the pool seed.py makes.
POOLED = {"token_code": "codes", "token_refresh": "refresh_tokens"}
ENDPOINTS = (
    "discovery",
    "jwks",
    "token",
    "token_opaque",
    "token_es256",
    "introspection",
    "userinfo",
    *POOLED,
)


def pooled_requests(credentials: dict, endpoint: str) -> Iterator[tuple[str, str, str, dict[str, str]]]:
    """Yield one token request per pooled code or refresh token, as bench.py sends them."""
    headers = {"HTTP_AUTHORIZATION": credentials["relying_party_auth"], "CONTENT_TYPE": FORM}
    for value in credentials[POOLED[endpoint]]:
        if endpoint == "token_code":
            body = {
                "grant_type": "authorization_code",
                "code": value,
                "redirect_uri": credentials["redirect_uri"],
                "code_verifier": credentials["code_verifier"],
            }
        else:
            body = {"grant_type": "refresh_token", "refresh_token": value}
        yield "POST", "/o/token/", urlencode(body), headers


def requests_for(credentials: dict) -> dict[str, tuple[str, str, str, dict[str, str]]]:
    """Return (method, path, body, headers) per endpoint, as bench.py loads them."""
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {credentials['access_token']}"}
    return {
        "discovery": ("GET", "/.well-known/openid-configuration", "", {}),
        "jwks": ("GET", "/o/jwks/", "", {}),
        "token": (
            "POST",
            "/o/token/",
            urlencode({"grant_type": "client_credentials"}),
            {"HTTP_AUTHORIZATION": credentials["machine_auth"], "CONTENT_TYPE": FORM},
        ),
        "introspection": (
            "POST",
            "/o/introspect/",
            urlencode({"token": credentials["access_token"]}),
            {"HTTP_AUTHORIZATION": credentials["relying_party_auth"], "CONTENT_TYPE": FORM},
        ),
        "userinfo": ("GET", "/o/userinfo/", "", bearer),
        "token_opaque": (
            "POST",
            "/o/token/",
            urlencode({"grant_type": "client_credentials"}),
            {"HTTP_AUTHORIZATION": credentials["opaque_auth"], "CONTENT_TYPE": FORM},
        ),
        "token_es256": (
            "POST",
            "/o/token/",
            urlencode({"grant_type": "client_credentials"}),
            {"HTTP_AUTHORIZATION": credentials["es256_auth"], "CONTENT_TYPE": FORM},
        ),
    }


def call(method: str, path: str, body: str, headers: dict[str, str]) -> str:
    """Send one request through the WSGI application; return its status line."""
    issuer = urlsplit(os.environ["PORCHLIGHT_ISSUER"])
    payload = body.encode()
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": issuer.hostname,
        "SERVER_PORT": str(issuer.port or 80),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": issuer.netloc,
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(payload)),
        "wsgi.input": io.BytesIO(payload),
        "wsgi.url_scheme": issuer.scheme,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        **headers,
    }
    status: list[str] = []

    def start_response(
        line: str, _headers: list[tuple[str, str]], _exc: object = None
    ) -> Callable[[bytes], object]:
        status.append(line)
        # PEP 3333's write callable; Django never calls it.
        return lambda _data: None

    result = application(environ, start_response)
    for _ in result:
        pass
    if hasattr(result, "close"):
        result.close()
    return status[0]


def main() -> None:
    endpoint = sys.argv[1]
    if endpoint not in ENDPOINTS:
        raise SystemExit(f"PROFILE must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
    credentials = seed.seed()
    if endpoint in POOLED:
        requests = pooled_requests(credentials, endpoint)
        limit = (len(credentials[POOLED[endpoint]]) - WARM_UP) // 2
    else:
        requests = itertools.repeat(requests_for(credentials)[endpoint])
        limit = MAX_REQUESTS
    for _ in range(WARM_UP):
        status = call(*next(requests))
        if not status.startswith("200"):
            raise SystemExit(f"{endpoint} answered {status}")
    # CPU time, this process's: time spent waiting for the database is not the server's cost.
    profiler = cProfile.Profile(time.process_time)
    count, cpu_started, deadline = 0, time.process_time(), time.monotonic() + SECONDS
    profiler.enable()
    while time.monotonic() < deadline and count < limit:
        call(*next(requests))
        count += 1
    profiler.disable()
    cpu_ms = (time.process_time() - cpu_started) * 1000 / count
    # Without the profiler's own overhead: the same loop, unprofiled.
    count_plain, plain_started, deadline = 0, time.process_time(), time.monotonic() + SECONDS
    while time.monotonic() < deadline and count_plain < limit:
        call(*next(requests))
        count_plain += 1
    plain_ms = (time.process_time() - plain_started) * 1000 / count_plain
    print(f"{endpoint}: {plain_ms:.3f} CPU ms per request in process ({count_plain} requests, no HTTP)")
    print(f"under cProfile: {cpu_ms:.3f} ms per request; the times below are for {count} requests\n")
    for order, limit in (("cumulative", 45), ("tottime", 25)):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(limit)
        print(f"--- by {order} ---")
        print(out.getvalue().split("\n", 6)[-1].rstrip() + "\n")


if __name__ == "__main__":
    main()
