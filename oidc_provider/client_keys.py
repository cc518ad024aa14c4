"""A client's public keys: its registered ``jwks``, or the JWK Set at its ``jwks_uri``.

OIDC Registration 1.0 §2: a client registers ``jwks`` (the set itself) or ``jwks_uri`` (where it
publishes it), never both. The provider verifies the client's assertions (OIDC Core 1.0 §9,
``client_auth.py``) and request objects (OIDC Core 1.0 §6, ``request_objects.py``) with them.

A ``jwks_uri`` is fetched through the guarded outbound client (``ground/outbound.py``: public
addresses only, no redirects, short timeout, size cap) and the set kept in the database
(``ClientKeySet``), shared by every node, for ``CACHE_SECONDS``. A signature whose ``kid`` the
kept set does not know may mean the client rotated its keys (OIDC Core 1.0 §10.1.1), so the set
is fetched again at once, but at most once per ``REFETCH_SECONDS`` per client: anyone can send an
assertion with an unknown kid, and must not be able to make Porchlight hammer the client's server.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.db import transaction
from django.utils import timezone
from jwcrypto import jwk

from ground import outbound

from .jwk_sets import JwkSetError, jwk_set_parse, key_fits
from .models import Client, ClientKeySet

logger = logging.getLogger(__name__)

CACHE_SECONDS = 3600
REFETCH_SECONDS = 60
FETCH_TIMEOUT = 5.0
MAX_BYTES = 64 * 1024


class ClientKeysUnavailable(Exception):
    """The client has no usable key set now (none registered, or its jwks_uri failed)."""


@dataclass(frozen=True)
class KeySet:
    keys: list[jwk.JWK]
    # Fetched just now: asking again for an unknown kid would fetch nothing new.
    fresh: bool


def _fetch(uri: str) -> dict[str, object]:
    """Fetch and check the JWK Set at ``uri``; raise ClientKeysUnavailable on any failure."""
    if not uri.startswith("https://"):
        # Client.clean() refuses it; a client stored before then is refused here.
        raise ClientKeysUnavailable("jwks_uri must be an https URL (OIDC Registration 1.0 §2).")
    try:
        # outbound.request refuses a non-public address itself, before sending anything.
        response = outbound.request(
            "GET", uri, timeout=FETCH_TIMEOUT, max_bytes=MAX_BYTES, headers={"Accept": "application/json"}
        )
    except outbound.OutboundRefused as refused:
        raise ClientKeysUnavailable(refused.reason) from refused
    except httpx.HTTPError as error:
        raise ClientKeysUnavailable(f"jwks_uri could not be fetched ({type(error).__name__})") from error
    if response.status_code != 200:
        raise ClientKeysUnavailable(f"jwks_uri answered {response.status_code}")
    if response.truncated:
        raise ClientKeysUnavailable(f"jwks_uri sent more than {MAX_BYTES} bytes")
    try:
        data = json.loads(response.content.decode("utf-8"))
        jwk_set_parse(data)
    except (ValueError, JwkSetError) as error:
        raise ClientKeysUnavailable(f"jwks_uri did not send an acceptable JWK Set: {error}") from error
    parsed: dict[str, object] = data
    return parsed


def _usable(kept: ClientKeySet, uri: str, now: datetime) -> bool:
    return (
        kept.uri == uri and kept.fetched is not None and now - kept.fetched < timedelta(seconds=CACHE_SECONDS)
    )


def _may_fetch(kept: ClientKeySet | None, uri: str, now: datetime) -> bool:
    return kept is None or kept.uri != uri or now - kept.tried >= timedelta(seconds=REFETCH_SECONDS)


def _fetched_set(client: Client, *, refetch: bool) -> KeySet:
    uri = client.jwks_uri.strip()
    now = timezone.now()
    kept = ClientKeySet.objects.filter(client=client).first()
    if kept is not None and _usable(kept, uri, now) and not (refetch and _may_fetch(kept, uri, now)):
        return KeySet(keys=jwk_set_parse(kept.keys), fresh=not _may_fetch(kept, uri, now))
    failure: ClientKeysUnavailable | None = None
    with transaction.atomic():
        kept, _ = ClientKeySet.objects.get_or_create(
            client=client, defaults={"uri": uri, "tried": now - timedelta(days=1)}
        )
        # One fetch at a time per client, on every node: the others wait for it, then use its result.
        kept = ClientKeySet.objects.select_for_update().get(pk=kept.pk)
        if _may_fetch(kept, uri, now):
            if kept.uri != uri:
                kept.uri, kept.keys, kept.fetched = uri, {}, None
            kept.tried = now
            try:
                kept.keys, kept.fetched = _fetch(uri), now
            except ClientKeysUnavailable as error:
                logger.warning("Client %s: its jwks_uri could not be used: %s", client.client_id, error)
                failure = error
            kept.save()
    if _usable(kept, uri, now):
        return KeySet(keys=jwk_set_parse(kept.keys), fresh=True)
    raise failure or ClientKeysUnavailable(
        "The client's jwks_uri failed recently; it is tried again shortly."
    )


def client_key_set(client: Client, *, refetch: bool = False) -> KeySet:
    """Return ``client``'s public keys; with ``refetch``, fetch its jwks_uri again if allowed now."""
    if client.jwks:
        try:
            return KeySet(keys=jwk_set_parse(client.jwks), fresh=True)
        except JwkSetError as error:
            raise ClientKeysUnavailable(str(error)) from error
    if client.jwks_uri.strip():
        return _fetched_set(client, refetch=refetch)
    raise ClientKeysUnavailable("The client has registered no public keys (jwks or jwks_uri).")


def _matching(keys: list[jwk.JWK], *, kid: str | None, alg: str) -> list[jwk.JWK]:
    return [key for key in keys if key_fits(key, alg) and (kid is None or key.get("kid") == kid)]


def client_verification_keys(client: Client, *, kid: str | None, alg: str) -> list[jwk.JWK]:
    """Return the keys of ``client`` that may verify a signature with ``alg`` and ``kid``.

    A kid the kept set lacks triggers one fetch of the jwks_uri (rate-limited, see above).
    Raises ClientKeysUnavailable when the client has no usable key set.
    """
    key_set = client_key_set(client)
    found = _matching(key_set.keys, kid=kid, alg=alg)
    if not found and not key_set.fresh and client.jwks_uri.strip() and not client.jwks:
        found = _matching(client_key_set(client, refetch=True).keys, kid=kid, alg=alg)
    return found
