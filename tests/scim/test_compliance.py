"""A SCIM compliance checker's whole run against /scim/v2/ (scim2-tester, RFC 7643/7644).

scim2-tester reads ServiceProviderConfig, ResourceTypes and Schemas, then creates, reads,
queries, replaces, patches (every attribute, with add, replace and remove) and deletes Users and
Groups with random values, and probes unknown endpoints. It runs in-process through Porchlight's
WSGI application (the malformed-request guard and every middleware included), with a real token.

Some of its checks expect what Porchlight chooses not to do, and docs/scim.md says so: it keeps
one e-mail, phone number and address and not their ``type``, builds ``name.formatted``, refuses
a password after creation and values longer than its columns. Those are refusals with an RFC 7644
§3.12 body or values read back differently; none may be a 500 or an answer that is not SCIM's.
"""

import re
from collections.abc import Iterator

import pytest
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from scim.tokens import provisioning_client_create

SERVER_ERROR = re.compile(r"\b(?:answered|status(?: code)?:?) 5\d\d\b", re.IGNORECASE)

# What the checker must find working, for Users and Groups alike: discovery, creation, reading,
# listing, deletion and the answers to unknown resources and endpoints.
MUST_PASS = {
    "service_provider_config_endpoint",
    "service_provider_config_endpoint_methods",
    "query_all_resource_types",
    "query_resource_type_by_id",
    "resource_types_endpoint_methods",
    "resource_types_schema_validation",
    "query_all_schemas",
    "access_schema_by_id",
    "schemas_endpoint_methods",
    "access_invalid_resource_type",
    "access_invalid_schema",
    "object_creation",
    "object_query",
    "object_query_without_id",
    "object_deletion",
    "random_url",
}


@pytest.fixture
def application() -> Iterator[object]:
    # As Django's test client does: these would close the test database's connection mid-test.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_scim_compliance_checker_finds_no_server_error(db, application):
    # Imported here, not with the module: scim2-models' pydantic classes read their own source
    # for field docs when imported, about 4 s of CPU that every test process would pay collecting.
    from scim2_client.engines.wsgi import WSGISCIMClient
    from scim2_tester import Status, check_server

    _client, token = provisioning_client_create(name="scim2-tester")
    scim = WSGISCIMClient(
        application, base_url="http://127.0.0.1:8000/scim/v2", headers={"Authorization": f"Bearer {token}"}
    )
    scim.discover()
    results = check_server(scim)
    assert len(results) > 50  # the checker really ran
    for result in results:
        reason = str(result.reason or "")
        # scim2-client's words for an answer that is not a SCIM response (a 500 among them).
        assert "without a SCIM error" not in reason, (result.title, reason[:500])
        assert not SERVER_ERROR.search(reason), (result.title, reason[:500])
    passed = {result.title for result in results if result.status == Status.SUCCESS}
    failed = {result.title for result in results if result.status != Status.SUCCESS}
    assert passed >= MUST_PASS, sorted(MUST_PASS - passed)
    assert MUST_PASS.isdisjoint(failed), sorted(MUST_PASS & failed)
