"""What a client or a person sees when a request is refused: RFC 6749 §5.2 JSON, or a page."""

# A value far longer than any token, code or parameter Porchlight issues.
LONG = "a" * 100_000


def assert_json_error(response, status: int = 400, error: str = "invalid_request") -> dict:
    """Assert ``response`` is an RFC 6749 §5.2 error ``error`` with ``status``; return its body."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == error
    return body


def assert_page(response, status: int = 400) -> None:
    """Assert ``response`` is a page with ``status`` that sends the browser nowhere."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    assert "Location" not in response
