"""The claims request parameter (OIDC Core 1.0 §5.5): parsed once, checked, reduced to what it asks of us.

The parameter is a JSON object whose ``id_token`` and ``userinfo`` members name claims to return
there; each claim's request is null or an object with ``essential``, ``value`` or ``values``
(§5.5.1). What Porchlight does with it:

- A malformed parameter (not JSON, not an object, a member or claim request of the wrong type,
  longer than ``MAX_LENGTH``) is ``invalid_request``, sent to the client (§3.1.2.6).
- Members and claims it does not understand are ignored (§5.5: "Any members used that are not
  understood MUST be ignored"), as are claims the client may not have (a scope not available
  to it, such as ``groups`` without ``release_groups``).
- Each user claim asked for by name, beyond what the granted scopes release, is shown on the
  consent page and remembered with the consent; then it is released where it was asked for,
  even without its scope. A claim with no value is left out, essential or not (§5.5.1).
- ``value`` and ``values`` of user claims do not filter: the real value is returned (or none),
  never the one the RP hoped for.
- ``acr`` with ``value``/``values`` is a request for those classes, honoured through the same
  path as ``acr_values`` (mfa_policy.py). Essential (§5.5.1.1), it must be met: when none of its
  values is one Porchlight issues, the request fails (``unmet_authentication_requirements``).
- ``sub`` with a ``value`` in the ID token (§5.5.1): tokens are issued only for that subject;
  anyone else signed in is asked to sign in again (``login_required`` with ``prompt=none``).
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .claims import scope_claims
from .mfa_policy import ACR_LEVELS

# The parameter travels in a URL; a request for every claim there is with every option fits
# in far less.
MAX_LENGTH = 8192
TARGETS = ("id_token", "userinfo")
# Claims the request may name that are no user data: handled as the protocol says, never consented.
PROTOCOL_REQUESTS = ("sub", "acr", "amr", "auth_time")


class ClaimsRequestError(ValueError):
    """The claims parameter is malformed (``invalid_request``) or cannot be met; told to the client."""

    def __init__(self, description: str, error: str = "invalid_request") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class ClaimsRequest:
    """A parsed claims parameter: for each target, each claim's request (None or its object)."""

    id_token: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    userinfo: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)

    def members(self, target: str) -> Mapping[str, Mapping[str, Any] | None]:
        return self.id_token if target == "id_token" else self.userinfo

    def acr_request(self) -> tuple[list[str], bool]:
        """Return the acr values asked for (value or values, in order) and whether they are essential."""
        spec = self.id_token.get("acr") or self.userinfo.get("acr") or {}
        listed = spec.get("values")
        values: list[Any] = list(listed) if isinstance(listed, list) else []
        if "value" in spec:
            values.insert(0, spec["value"])
        return [value for value in values if isinstance(value, str)], bool(spec.get("essential"))

    def required_subject(self) -> str | None:
        """Return the sub the ID token must have (§5.5.1), if the request names one."""
        spec = self.id_token.get("sub") or {}
        value = spec.get("value")
        return value if isinstance(value, str) else None

    def names(self, target: str, available_scopes: Iterable[str]) -> list[str]:
        """Return the user claims asked for in ``target`` that a scope in ``available_scopes`` releases."""
        available = set(available_scopes)
        known = {claim for scope, claims in scope_claims().items() if scope in available for claim in claims}
        return [name for name in self.members(target) if name in known and name not in PROTOCOL_REQUESTS]


def claims_request_parse(raw: str | None) -> ClaimsRequest:
    """Parse the claims parameter ``raw`` (absent or empty: no request); raise ClaimsRequestError."""
    if not raw:
        return ClaimsRequest()
    if len(raw) > MAX_LENGTH:
        raise ClaimsRequestError(f"The claims parameter is longer than {MAX_LENGTH} characters.")
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        # RecursionError: nesting deeper than the parser's stack.
        raise ClaimsRequestError("The claims parameter is not JSON.") from None
    if not isinstance(parsed, dict):
        raise ClaimsRequestError("The claims parameter must be a JSON object.")
    targets: dict[str, dict[str, Mapping[str, Any] | None]] = {}
    for target in TARGETS:
        members = parsed.get(target, {})
        if members is None:
            members = {}
        if not isinstance(members, dict):
            raise ClaimsRequestError(f"The claims parameter's {target} member must be a JSON object.")
        for name, spec in members.items():
            _claim_request_check(target, name, spec)
        targets[target] = members
    return ClaimsRequest(id_token=targets["id_token"], userinfo=targets["userinfo"])


def _claim_request_check(target: str, name: str, spec: Any) -> None:
    # OIDC Core 1.0 §5.5.1: null, or an object whose essential is a boolean and values an array.
    if spec is None:
        return
    if not isinstance(spec, dict):
        raise ClaimsRequestError(f"The request for {target} claim {name!r} must be null or a JSON object.")
    if "essential" in spec and not isinstance(spec["essential"], bool):
        raise ClaimsRequestError(f"essential of {target} claim {name!r} must be true or false.")
    if "values" in spec and not isinstance(spec["values"], list):
        raise ClaimsRequestError(f"values of {target} claim {name!r} must be a JSON array.")


def claims_request_check(request: ClaimsRequest) -> None:
    """Refuse an essential acr request none of whose values Porchlight issues (§5.5.1.1)."""
    values, essential = request.acr_request()
    if essential and values and not any(value in ACR_LEVELS for value in values):
        # OIDC Core 1.0 §5.5.1.1: "MUST treat that outcome as a failed authentication attempt";
        # the error code is the one OpenID Connect Core Unmet Authentication Requirements 1.0 defines.
        raise ClaimsRequestError(
            "None of the requested acr values can be met.", error="unmet_authentication_requirements"
        )


def acr_values_for(request: ClaimsRequest, acr_values: str | None) -> str | None:
    """Return the acr values the sign-in must meet: the claims request's, else the acr_values parameter's."""
    values, _essential = request.acr_request()
    return " ".join(values) if values else acr_values


def claims_stored(request: ClaimsRequest, available_scopes: Iterable[str]) -> dict[str, list[str]]:
    """Return what the grant and tokens keep of the request: the claim names per target, the acr values.

    Only user claims the client may have are kept, and acr values Porchlight issues, only when
    essential: the one case where the ID token must report one of them (claims.auth_context_claims).
    Nothing else the client sent is stored.
    """
    available = list(available_scopes)
    stored = {target: request.names(target, available) for target in TARGETS}
    values, essential = request.acr_request()
    stored["acr"] = [value for value in values if value in ACR_LEVELS] if essential else []
    return stored


def claims_loaded(value: Any) -> dict[str, list[str]]:
    """Return a stored claims request (a grant's JSON text or a token's JSON) in its stored shape."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else {}
        except (ValueError, RecursionError):
            value = {}
    if not isinstance(value, dict):
        value = {}
    loaded: dict[str, list[str]] = {}
    for key in (*TARGETS, "acr"):
        names = value.get(key)
        loaded[key] = [name for name in names if isinstance(name, str)] if isinstance(names, list) else []
    return loaded


def claims_to_consent(stored: Mapping[str, list[str]], scopes: Iterable[str]) -> list[str]:
    """Return the claims asked for by name that ``scopes`` do not release: each needs the user's consent."""
    granted = set(scopes)
    releases = {claim for scope, claims in scope_claims().items() if scope in granted for claim in claims}
    names = [name for target in TARGETS for name in stored.get(target, [])]
    return [name for name in dict.fromkeys(names) if name not in releases]
