"""Filling in the admin's client and user forms and reading the hand-over panel, as staff do in a browser."""

import html
import json
import re

REDIRECT = "https://admin-made.example.com/cb"

# What each kind of app's form posts when staff accept its defaults.
KIND_DEFAULTS: dict[str, dict[str, str | list[str]]] = {
    "web": {"grant_types": ["authorization_code", "refresh_token"], "require_pkce": "on"},
    "native": {"grant_types": ["authorization_code", "refresh_token"]},
    "machine": {"grant_types": ["client_credentials"]},
}


def add_client_in_admin(staff, kind: str = "web", **fields):
    """Post the add form for a ``kind`` of app with its defaults, overridden by ``fields``."""
    data = {
        "kind": kind,
        "name": "Admin-made app",
        "redirect_uris": "" if kind == "machine" else REDIRECT,
        "post_logout_redirect_uris": "",
        "allowed_origins": "",
        "algorithm": "RS256",
        "access_token_format": "jwt",
        "access_token_algorithm": "RS256",
        "new_client_secret": "",
        # The select's initial choice, which a browser posts.
        "token_endpoint_auth_method": "client_secret_basic",
        "user": "",
        **KIND_DEFAULTS[kind],
        **fields,
    }
    return staff.post(f"/admin/oidc_provider/client/add/?kind={kind}", data, follow=True)


def change_client_in_admin(staff, client, **fields):
    """Post the change form of ``client`` with its current settings, overridden by ``fields``."""
    data = {
        "kind": "native" if client.client_type == "public" else "web",
        "name": client.name,
        "grant_types": client.grant_types,
        "response_types": client.response_types,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "allowed_origins": client.allowed_origins,
        "algorithm": client.algorithm,
        "access_token_format": client.access_token_format,
        "access_token_algorithm": client.access_token_algorithm,
        "new_client_secret": "",
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "token_endpoint_auth_signing_alg": client.token_endpoint_auth_signing_alg,
        "jwks": json.dumps(client.jwks) if client.jwks else "",
        "jwks_uri": client.jwks_uri,
        "request_object_signing_alg": client.request_object_signing_alg,
        "request_uris": client.request_uris,
        **({"require_signed_request_object": "on"} if client.require_signed_request_object else {}),
        "user": "",
        "allowed_scopes": [str(pk) for pk in client.allowed_scopes.values_list("pk", flat=True)],
        "token_exchange_apis": [str(pk) for pk in client.token_exchange_apis.values_list("pk", flat=True)],
        **({"require_pkce": "on"} if client.require_pkce else {}),
        **fields,
    }
    return staff.post(f"/admin/oidc_provider/client/{client.pk}/change/", data)


def handover(response) -> dict[str, str]:
    """Return the hand-over panel's copyable values by label ("Client ID", "Client secret", ...)."""
    page = response.content.decode()
    row = r'<dt id="([\w-]+)-label">([^<]+)</dt><dd class="value"><code id="\1">([^<]*)</code>'
    rows = re.findall(row, page)
    values: dict[str, str] = {}
    for _id, label, value in rows:
        values.setdefault(html.unescape(label), html.unescape(value))
    return values


def change_user_in_admin(staff, user, **fields):
    """Post the change form of ``user`` with what it shows now, overridden by ``fields``."""
    page = staff.get(f"/admin/accounts/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in ((name, form[name].value()) for name in form.fields)
        if name not in ("groups", "user_permissions", "password")
    }
    data = {name: value for name, value in data.items() if value is not False}
    data["date_joined_0"], data["date_joined_1"] = user.date_joined.strftime("%Y-%m-%d %H:%M:%S").split()
    return staff.post(f"/admin/accounts/user/{user.pk}/change/", {**data, **fields})
