"""The image's HEALTHCHECK: GET /healthz on the port `manage.py serve` listens on.

/healthz touches no database (docs/deployment.md, "Probes, metrics and logs"); readiness is
/readyz, for the orchestrator. Exits 0 when it answers 200, 1 otherwise. Meant for the `serve`
role: a task-worker container has no server and should run with its health check off.
"""

import http.client
import os
import sys
from urllib.parse import urlsplit


def target() -> tuple[str, int]:
    bind = os.environ.get("PORCHLIGHT_BIND", "127.0.0.1:8000")
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    # A wildcard bind answers on loopback too.
    if host in ("", "0.0.0.0"):  # noqa: S104 - the bind address, not a listener
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return host, int(port)


def main() -> int:
    host, port = target()
    issuer = os.environ.get("PORCHLIGHT_ISSUER", "")
    connection = http.client.HTTPConnection(host, port, timeout=4)
    try:
        # The issuer's host is always allowed (ALLOWED_HOSTS); /healthz is exempt from the
        # https redirect.
        headers = {"Host": urlsplit(issuer).netloc} if issuer else {}
        connection.request("GET", "/healthz", headers=headers)
        status = connection.getresponse().status
    except OSError as exc:
        print(f"healthcheck: {host}:{port}: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
