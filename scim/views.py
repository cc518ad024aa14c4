"""The SCIM endpoints (RFC 7644 §3): Users, Groups and the three discovery endpoints.

Every response is ``application/scim+json``; every refusal is an RFC 7644 §3.12 error body.
A request without a live provisioning client's bearer token gets 401 before anything else.
"""

import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from accounts.models import User

from . import services
from .discovery import MAX_RESULTS, resource_types, schemas, service_provider_config
from .errors import CONTENT_TYPE, ScimError, invalid_syntax, invalid_value, not_found
from .filters import filter_parse
from .models import ProvisioningClient
from .patch import patch_apply
from .queries import GROUP_COLUMNS, USER_COLUMNS, filter_condition, projected
from .resources import (
    LIST_SCHEMA,
    group_resource,
    group_write,
    provisionable_users,
    user_resource,
    user_write,
)
from .tokens import provisioning_client_authenticate


def scim_response(body: dict[str, Any], status: int = 200) -> HttpResponse:
    """Return ``body`` as ``application/scim+json`` (RFC 7644 §3.1), with its ETag when it has a version."""
    response = HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    version = body.get("meta", {}).get("version") if isinstance(body.get("meta"), dict) else None
    if version:
        response["ETag"] = version
    return response


def _has_nul(value: Any) -> bool:
    # PostgreSQL stores and compares no text with NUL in it (psycopg raises DataError): such a
    # value is refused before it reaches a query, on SQLite as well.
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def json_body(request: HttpRequest) -> Any:
    """Return the request's JSON document, or raise ``invalidSyntax`` (``invalidValue`` for a NUL)."""
    try:
        document = json.loads(request.body)
    except (ValueError, RecursionError) as error:
        # UnicodeDecodeError and JSONDecodeError are ValueErrors; so is a number too long to read.
        raise invalid_syntax("The body is not a JSON document.") from error
    if _has_nul(document):
        raise invalid_value("A value contains a NUL character.")
    return document


def _integer(request: HttpRequest, name: str, default: int) -> int:
    value = request.GET.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as error:
        raise invalid_value(f"{name} is a whole number.") from error


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class ScimView(View):
    """Authenticates the provisioning client and turns every refusal into a SCIM error."""

    client: ProvisioningClient

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            # RFC 7644 §2: an RFC 6750 bearer token.
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            value = value.strip() if scheme.lower() == "bearer" and "\x00" not in value else ""
            client = provisioning_client_authenticate(value) if value else None
            if client is None:
                raise ScimError(401, "A valid SCIM bearer token is required.")
            self.client = client
            if any(_has_nul(key) or _has_nul(values) for key, values in request.GET.lists()):
                raise invalid_value("The query string contains a NUL character.")
            handler = getattr(self, (request.method or "").lower(), None)
            if handler is None or (request.method or "").lower() not in self.http_method_names:
                raise ScimError(405, f"{request.method} is not supported here.")
            response: HttpResponseBase = handler(request, *args, **kwargs)
            return response
        except ScimError as error:
            return error.response()
        except RequestDataTooBig:
            return ScimError(413, "The request body is too large.").response()
        except ValidationError as error:
            return invalid_value(" ".join(error.messages)).response()


class ResourceView(ScimView):
    """What the Users and Groups endpoints share: listing, reading, writing, PATCH and ETags."""

    kind: str
    columns: dict[str, tuple[str, str, bool]]
    multi_valued: set[str]

    def queryset(self) -> QuerySet[Any]:
        raise NotImplementedError

    def resource(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def find(self, pk: str) -> Any:
        if not (pk.isascii() and pk.isdigit()) or len(pk) > 18:
            raise not_found(f"No {self.kind} has the id {pk[:40]!r}.")
        obj = self.queryset().filter(pk=int(pk)).first()
        if obj is None:
            raise not_found(f"No {self.kind} has the id {pk}.")
        return obj

    def respond(self, request: HttpRequest, obj: Model, status: int = 200) -> HttpResponse:
        resource = self.resource(obj)
        body = projected(
            resource,
            attributes=request.GET.get("attributes", ""),
            excluded=request.GET.get("excludedAttributes", ""),
        )
        response = scim_response({**body, "meta": resource["meta"]}, status)
        if status == 201:
            response["Location"] = resource["meta"]["location"]
        return response

    def check_version(self, request: HttpRequest, obj: Model) -> None:
        # RFC 7644 §3.14: a write with If-Match applies only to the version the client saw.
        wanted = request.headers.get("If-Match")
        if wanted and wanted.strip() != "*" and self.resource(obj)["meta"]["version"] not in wanted:
            raise ScimError(412, "The resource changed since that version.")

    def list(self, request: HttpRequest) -> HttpResponse:
        # RFC 7644 §3.4.2.4: startIndex is 1-based (less than 1 means 1); count is a page size.
        start = max(_integer(request, "startIndex", 1), 1)
        count = min(max(_integer(request, "count", MAX_RESULTS), 0), MAX_RESULTS)
        queryset = self.queryset()
        text = request.GET.get("filter")
        if text is not None:
            queryset = queryset.filter(filter_condition(filter_parse(text), self.columns)).distinct()
        total = queryset.count()
        page = list(queryset.order_by("pk")[start - 1 : start - 1 + count]) if count else []
        attributes = request.GET.get("attributes", "")
        excluded = request.GET.get("excludedAttributes", "")
        return scim_response(
            {
                "schemas": [LIST_SCHEMA],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": len(page),
                "Resources": [
                    projected(self.resource(obj), attributes=attributes, excluded=excluded) for obj in page
                ],
            }
        )

    def get(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is None:
            return self.list(request)
        obj = self.find(pk)
        version = self.resource(obj)["meta"]["version"]
        if request.headers.get("If-None-Match") == version:
            response = HttpResponse(status=304)
            response["ETag"] = version
            return response
        return self.respond(request, obj)

    def patch(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is None:
            raise ScimError(405, "PATCH names one resource.")
        obj = self.find(pk)
        self.check_version(request, obj)
        patched = patch_apply(self.resource(obj), json_body(request), multi_valued=self.multi_valued)
        return self.respond(request, self.replace(obj, patched))

    def put(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is None:
            raise ScimError(405, "PUT names one resource.")
        obj = self.find(pk)
        self.check_version(request, obj)
        return self.respond(request, self.replace(obj, json_body(request)))

    def delete(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is None:
            raise ScimError(405, "DELETE names one resource.")
        obj = self.find(pk)
        self.check_version(request, obj)
        self.remove(obj)
        return HttpResponse(status=204)

    def replace(self, obj: Any, body: Any) -> Model:
        raise NotImplementedError

    def remove(self, obj: Any) -> None:
        raise NotImplementedError


class UsersView(ResourceView):
    http_method_names = ["get", "post", "put", "patch", "delete"]
    kind = "User"
    columns = USER_COLUMNS
    multi_valued = {"emails", "phonenumbers", "addresses", "groups"}

    def queryset(self) -> QuerySet[User]:
        return provisionable_users().select_related("scim").prefetch_related("groups")

    def resource(self, obj: User) -> dict[str, Any]:
        return user_resource(obj)

    def post(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is not None:
            raise ScimError(405, "POST creates a User at /Users.")
        user = services.scim_user_create(client=self.client, write=user_write(json_body(request)))
        return self.respond(request, self.find(str(user.pk)), status=201)

    def replace(self, obj: User, body: Any) -> User:
        services.scim_user_replace(client=self.client, user=obj, write=user_write(body))
        # Read again: a deactivation or a group change happened beside the row.
        return self.queryset().get(pk=obj.pk)

    def remove(self, obj: User) -> None:
        services.scim_user_delete(client=self.client, user=obj)


class GroupsView(ResourceView):
    http_method_names = ["get", "post", "put", "patch", "delete"]
    kind = "Group"
    columns = GROUP_COLUMNS
    multi_valued = {"members"}

    def queryset(self) -> QuerySet[Group]:
        return Group.objects.select_related("scim")

    def resource(self, obj: Group) -> dict[str, Any]:
        return group_resource(obj)

    def post(self, request: HttpRequest, pk: str | None = None) -> HttpResponse:
        if pk is not None:
            raise ScimError(405, "POST creates a Group at /Groups.")
        group = services.scim_group_create(client=self.client, write=group_write(json_body(request)))
        return self.respond(request, self.find(str(group.pk)), status=201)

    def replace(self, obj: Group, body: Any) -> Group:
        write = group_write(body)
        if write.members is None:
            # RFC 7644 §3.5.1: what a PUT leaves out is cleared.
            write.members = []
        services.scim_group_replace(client=self.client, group=obj, write=write)
        return self.queryset().get(pk=obj.pk)

    def remove(self, obj: Group) -> None:
        services.scim_group_delete(client=self.client, group=obj)


class DiscoveryView(ScimView):
    """ServiceProviderConfig, ResourceTypes and Schemas (RFC 7644 §4), one resource or all of them."""

    http_method_names = ["get"]
    documents: Callable[[], dict[str, dict[str, Any]]]

    def get(self, request: HttpRequest, name: str | None = None) -> HttpResponse:
        found = self.documents()
        if name is not None:
            if name not in found:
                raise not_found(f"No {name[:80]!r} here.")
            return scim_response(found[name])
        resources = list(found.values())
        return scim_response(
            {
                "schemas": [LIST_SCHEMA],
                "totalResults": len(resources),
                "startIndex": 1,
                "itemsPerPage": len(resources),
                "Resources": resources,
            }
        )


class ServiceProviderConfigView(ScimView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return scim_response(service_provider_config())


class ElsewhereView(ScimView):
    """Any other path under /scim/v2/: 501 for what RFC 7644 defines and Porchlight does not do, else 404."""

    http_method_names = ["get", "post", "put", "patch", "delete"]
    # RFC 7644 §3.7 (bulk), §3.4.3 (search by POST), §3.11 (/Me).
    NOT_IMPLEMENTED = {"bulk", ".search", "users/.search", "groups/.search", "me"}

    def _answer(self, request: HttpRequest, rest: str) -> HttpResponse:
        if rest.strip("/").lower() in self.NOT_IMPLEMENTED or rest.lower().startswith("me/"):
            raise ScimError(
                501, "Porchlight does not support this SCIM operation (see ServiceProviderConfig)."
            )
        raise not_found("No SCIM endpoint here.")

    get = post = put = patch = delete = _answer


class ResourceTypesView(DiscoveryView):
    documents = staticmethod(resource_types)


class SchemasView(DiscoveryView):
    documents = staticmethod(schemas)
