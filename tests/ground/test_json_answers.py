"""json_answer sends what JsonResponse sends: the same bytes, status and headers."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.http import JsonResponse

from ground.json_answers import json_answer

DOCUMENTS = [
    {"active": False},
    {"sub": "248289761001", "name": "Zoë Ünal", "email_verified": True, "updated_at": 1_765_000_000},
    {"address": {"locality": "Zürich", "country": "CH"}, "groups": ["staff", "ops"], "nothing": None},
    {"when": datetime(2026, 12, 7, 8, 0, tzinfo=UTC), "id": uuid.UUID(int=7), "amount": Decimal("1.50")},
    {"emoji": "\U0001f511", "escaped": '"\\</script>'},
]


def headers_of(response) -> list[tuple[str, str]]:
    return list(response.items())


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_answer_is_the_one_jsonresponse_gives(document):
    ours, djangos = json_answer(document), JsonResponse(document)
    assert ours.content == djangos.content
    assert ours.status_code == djangos.status_code == 200
    assert headers_of(ours) == headers_of(djangos) == [("Content-Type", "application/json")]
    assert ours.charset == djangos.charset


def test_status_and_headers_come_after_the_content_type_as_set_on_a_jsonresponse():
    djangos = JsonResponse({"error": "invalid_client"}, status=401)
    djangos["WWW-Authenticate"] = 'Basic realm="introspection"'
    ours = json_answer(
        {"error": "invalid_client"}, status=401, headers={"WWW-Authenticate": 'Basic realm="introspection"'}
    )
    assert (ours.status_code, ours.content, headers_of(ours)) == (401, djangos.content, headers_of(djangos))


def test_answers_do_not_share_their_headers():
    first = json_answer({"a": 1}, headers={"Cache-Control": "no-store"})
    first["X-Only-Here"] = "1"
    assert "X-Only-Here" not in json_answer({"a": 1})
    assert "Cache-Control" not in json_answer({"a": 1})


def test_what_json_cannot_hold_is_refused_as_jsonresponse_refuses_it():
    with pytest.raises(TypeError):
        JsonResponse({"set": {1}})
    with pytest.raises(TypeError):
        json_answer({"set": {1}})
