"""The floor for ``make bench``: a bare WSGI callable answering a constant JSON document.

Served by the same gunicorn configuration as the provider, so each endpoint's figures can be
read as a fraction of what the server stack allows on this machine at this moment.
"""

BODY = b'{"floor": true}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    """Answer every request with the constant document."""
    start_response("200 OK", HEADERS)
    return [BODY]
